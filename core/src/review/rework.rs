//! After a rejection: another round of work, or the end.
//!
//! A rejected task goes back to the queue with the reviewers' comments as
//! input to the next attempt. Rounds are bounded, so two agents that
//! disagree forever (an executor that cannot satisfy its reviewer) end in
//! a failed task a person can look at, not in a loop.

pub use crate::model::Rework;

/// The default bound on rework rounds: two more tries after the first.
pub const REWORK_ROUNDS_DEFAULT: u32 = 2;

/// The rounds a task allows: its own `review.max_rounds`, else the
/// default.
pub fn max_rounds(task: &crate::model::Task) -> u32 {
    (task.review.max_rounds)
        .and_then(|n| u32::try_from(n).ok())
        .unwrap_or(REWORK_ROUNDS_DEFAULT)
}

/// What a rejection leads to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AfterRejection {
    /// Back to the queue for round `round` (1 is the first rework), with
    /// these comments as input; `avoid` is the agent that must not claim
    /// it (`None` under [`Rework::Same`]).
    Rework {
        round: u32,
        comments: String,
        avoid: Option<String>,
    },
    /// The last round was rejected: the task fails with this reason.
    Fail { reason: String },
}

/// The next step after round `rounds_done` (0 for the first attempt) was
/// rejected with `comments`, by the executor `executor`.
pub fn after_rejection(
    rounds_done: u32,
    max_rounds: u32,
    rework: Rework,
    executor: &str,
    comments: &[String],
) -> AfterRejection {
    let comments = comments.join("\n");
    if rounds_done >= max_rounds {
        let reason = match comments.is_empty() {
            true => format!("rejected in review after {max_rounds} rework rounds"),
            false => format!("rejected in review after {max_rounds} rework rounds: {comments}"),
        };
        return AfterRejection::Fail { reason };
    }
    AfterRejection::Rework {
        round: rounds_done + 1,
        comments,
        avoid: (rework == Rework::Other).then(|| executor.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejections_lead_to_rework_by_another_agent_until_the_bound() {
        let c = vec!["peer review by r1: the tests do not pass".to_string()];
        assert_eq!(
            after_rejection(0, 2, Rework::Other, "a1", &c),
            AfterRejection::Rework {
                round: 1,
                comments: c[0].clone(),
                avoid: Some("a1".into())
            }
        );
        assert_eq!(
            after_rejection(1, 2, Rework::Same, "a1", &c),
            AfterRejection::Rework {
                round: 2,
                comments: c[0].clone(),
                avoid: None
            }
        );
        match after_rejection(2, 2, Rework::Other, "a1", &c) {
            AfterRejection::Fail { reason } => {
                assert!(reason.contains("after 2 rework rounds"), "{reason}");
                assert!(reason.contains("the tests do not pass"), "{reason}");
            }
            other => panic!("the last round must fail, got {other:?}"),
        }
        assert!(matches!(
            after_rejection(0, 0, Rework::Other, "a1", &[]),
            AfterRejection::Fail { .. }
        ));
    }

    #[test]
    fn rework_parses_and_prints() {
        assert_eq!("same".parse(), Ok(Rework::Same));
        assert_eq!(Rework::default().to_string(), "other");
        assert!(
            "nobody"
                .parse::<Rework>()
                .expect_err("unknown")
                .contains("valid: other, same")
        );
    }
}
