//! The agents' reviews (self, peer, tests): which one an agent may take,
//! and what its review command said. Pure; `vayu::reviewer` reads the
//! tasks in review, claims one, runs the command and writes the verdict.

use super::{ReviewKind, Scores, Verdict, policy_of};
use crate::lifecycle::Status;
use crate::model::Task;
use crate::time::Time;

/// Which agent reviews this agent can give: the commands it was started
/// with (`vayu-agent --self-check`, `--review-handler`, `--tests-command`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Reviews {
    pub self_check: bool,
    pub peer: bool,
    pub tests: bool,
}

impl Reviews {
    pub fn any(self) -> bool {
        self.self_check || self.peer || self.tests
    }

    pub fn gives(self, kind: ReviewKind) -> bool {
        match kind {
            ReviewKind::SelfCheck => self.self_check,
            ReviewKind::Peer => self.peer,
            ReviewKind::Tests => self.tests,
            ReviewKind::User => false,
        }
    }
}

/// The capability an agent's document shows for each review it gives.
/// `review` is the one firestore.rules checks for a peer verdict; the
/// others only tell people (and [`no_reviewer`]) who can give what.
pub const REVIEW_CAPABILITIES: [(ReviewKind, &str); 3] = [
    (ReviewKind::Peer, "review"),
    (ReviewKind::SelfCheck, "review:self"),
    (ReviewKind::Tests, "review:tests"),
];

/// Why a task in review waits for ever as the fleet stands: a kind of
/// agent review the policy needs, not yet approved this round, that no
/// live agent can give (`live`: the offers of the agents not offline). A
/// peer must not have run the task; a self-check must be by one that
/// did. `None` when every needed kind has someone.
pub fn no_reviewer(task: &Task, live: &[crate::assign::Offer]) -> Option<String> {
    if task.status != Status::Reviewing {
        return None;
    }
    let policy = policy_of(task);
    let executed = |id: &str| {
        task.assignment.executors.iter().any(|a| a == id)
            || task.assignment.primary_agent.as_deref() == Some(id)
    };
    REVIEW_CAPABILITIES.into_iter().find_map(|(kind, cap)| {
        let needed = policy.needs(kind) && !task.review.approved.iter().any(|k| k == kind.as_str());
        let someone = (live.iter()).any(|o| {
            o.capabilities.contains(cap)
                && match kind {
                    ReviewKind::Peer => !executed(&o.agent_id),
                    ReviewKind::SelfCheck => executed(&o.agent_id),
                    _ => true,
                }
        });
        let who = match kind {
            ReviewKind::Peer => " that did not run it",
            ReviewKind::SelfCheck => " that ran it",
            _ => "",
        };
        (needed && !someone).then(|| format!("no reviewer with {cap}{who} is live"))
    })
}

/// Whether nobody holds the task's lease now: never claimed for review,
/// given back, or its reviewer's lease ran out (a killed reviewer).
fn free(task: &Task, now: Time) -> bool {
    task.lease.owner.is_none() || task.lease.expires_at.is_none_or(|at| at <= now)
}

/// The review `me` should take on `task`, if any: the task is in review,
/// free, not being cancelled; its policy needs the kind; `me` may give it
/// (a peer never executed the task, a self-check is by an executor: the
/// rules' `mayGiveVerdict`); and this round has no verdict of that kind
/// yet (`given`). Self-checks first: the executor knows its own output
/// best and is often the one free; then tests, then the peer's judgement,
/// which is the slowest.
pub fn review_to_take(
    task: &Task,
    me: &str,
    can: Reviews,
    given: &[ReviewKind],
    now: Time,
) -> Option<ReviewKind> {
    if task.status != Status::Reviewing || task.control.is_some() || !free(task, now) {
        return None;
    }
    let executed = task.assignment.executors.iter().any(|a| a == me)
        || task.assignment.primary_agent.as_deref() == Some(me);
    let policy = policy_of(task);
    [ReviewKind::SelfCheck, ReviewKind::Tests, ReviewKind::Peer]
        .into_iter()
        .filter(|k| policy.needs(*k) && can.gives(*k) && !given.contains(k))
        .find(|k| match k {
            ReviewKind::SelfCheck => executed,
            ReviewKind::Peer => !executed,
            _ => true,
        })
}

/// What a review command reported on stdout (`crate::protocol`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Said {
    pub verdict: Option<Verdict>,
    pub scores: Scores,
    pub comments: Vec<String>,
}

/// How many trailing output lines a command that said nothing about its
/// verdict leaves as the comment: a failing test run's last lines are
/// usually the report a reworking agent needs.
pub const TAIL_LINES: usize = 20;

/// The verdict a review command gave: its own `vayu:verdict` when it said
/// one, else its exit status (0 approves). The comment is its
/// `vayu:comment` lines, or else the tail of its output, so a rejection
/// always says why.
pub fn conclude(said: Said, success: bool, tail: &[String]) -> (Verdict, Scores, String) {
    let verdict = said.verdict.unwrap_or(match success {
        true => Verdict::Approve,
        false => Verdict::Reject,
    });
    let comment = match said.comments.is_empty() {
        false => said.comments.join("\n"),
        true => {
            let from = tail.len().saturating_sub(TAIL_LINES);
            tail[from..].join("\n")
        }
    };
    (verdict, said.scores, comment)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Task, TaskType};

    fn in_review(policy: &str, executors: &[&str]) -> Task {
        let mut t = Task::new(TaskType::Research, crate::model::Priority::Normal, "x");
        t.task_id = "t1".into();
        t.status = Status::Reviewing;
        t.review.policy = Some(policy.into());
        t.assignment.executors = executors.iter().map(|s| s.to_string()).collect();
        t.assignment.primary_agent = executors.last().map(|s| s.to_string());
        t
    }

    fn at(s: i64) -> Time {
        Time::from_parts(1_700_000_000 + s, 0).expect("a valid time")
    }

    const ALL: Reviews = Reviews {
        self_check: true,
        peer: true,
        tests: true,
    };

    #[test]
    fn an_executor_checks_itself_and_runs_tests_but_never_peer_reviews() {
        let t = in_review("self+peer+tests", &["a", "b"]);
        assert_eq!(
            review_to_take(&t, "a", ALL, &[], at(0)),
            Some(ReviewKind::SelfCheck)
        );
        let done = [ReviewKind::SelfCheck];
        assert_eq!(
            review_to_take(&t, "a", ALL, &done, at(0)),
            Some(ReviewKind::Tests)
        );
        let done = [ReviewKind::SelfCheck, ReviewKind::Tests];
        assert_eq!(review_to_take(&t, "b", ALL, &done, at(0)), None);
        assert_eq!(
            review_to_take(&t, "c", ALL, &done, at(0)),
            Some(ReviewKind::Peer)
        );
    }

    #[test]
    fn only_reviews_the_agent_has_a_command_for_and_the_policy_needs() {
        let t = in_review("peer+user", &["a"]);
        let peer_only = Reviews {
            peer: true,
            ..Reviews::default()
        };
        let tests_only = Reviews {
            tests: true,
            ..Reviews::default()
        };
        assert_eq!(
            review_to_take(&t, "c", peer_only, &[], at(0)),
            Some(ReviewKind::Peer)
        );
        assert_eq!(review_to_take(&t, "c", tests_only, &[], at(0)), None);
        assert!(!Reviews::default().any() && peer_only.any());
        let user_only = in_review("user", &["a"]);
        assert_eq!(review_to_take(&user_only, "c", ALL, &[], at(0)), None);
    }

    #[test]
    fn a_held_review_waits_until_its_lease_runs_out() {
        let mut t = in_review("peer", &["a"]);
        t.lease.owner = Some("r1".into());
        t.lease.expires_at = Some(at(10));
        assert_eq!(review_to_take(&t, "r2", ALL, &[], at(9)), None);
        assert_eq!(
            review_to_take(&t, "r2", ALL, &[], at(10)),
            Some(ReviewKind::Peer)
        );
        t.control = Some(crate::model::ControlRequest::Cancel);
        assert_eq!(review_to_take(&t, "r2", ALL, &[], at(10)), None);
        t.control = None;
        t.status = Status::Completed;
        assert_eq!(review_to_take(&t, "r2", ALL, &[], at(10)), None);
    }

    #[test]
    fn waiting_names_what_the_round_lacks_and_who_is_on_it() {
        let mut t = in_review("self+peer+user", &["a"]);
        t.review.approved = vec!["self".into()];
        t.review.claim = Some("peer".into());
        t.lease.owner = Some("r1".into());
        assert_eq!(
            crate::review::waiting_for(&t).as_deref(),
            Some("a peer agent's review (r1 is on it) and a person's review (vayu task review)")
        );
    }

    #[test]
    fn a_review_nobody_live_can_give_is_named() {
        let offer = |id: &str, caps: &[&str]| crate::assign::Offer {
            agent_id: id.into(),
            capabilities: caps.iter().map(|c| c.to_string()).collect(),
            handles: None,
        };
        let t = in_review("self+peer+tests", &["a"]);
        assert_eq!(
            no_reviewer(&t, &[offer("a", &["review"])]).as_deref(),
            Some("no reviewer with review that did not run it is live")
        );
        let fleet = [
            offer("a", &["review:self"]),
            offer("b", &["review", "review:tests"]),
        ];
        assert_eq!(no_reviewer(&t, &fleet), None);
        assert_eq!(
            no_reviewer(&t, &fleet[1..]).as_deref(),
            Some("no reviewer with review:self that ran it is live")
        );
        let mut tallied = t.clone();
        tallied.review.approved = vec!["self".into()];
        assert_eq!(
            no_reviewer(&tallied, &fleet[1..]),
            None,
            "the self-check is in"
        );
        assert_eq!(
            no_reviewer(&in_review("user", &["a"]), &[]),
            None,
            "a person's review is not an agent's to give"
        );
    }

    #[test]
    fn the_verdict_is_the_commands_word_else_its_exit_status() {
        let tail: Vec<String> = (0..30).map(|i| format!("line {i}")).collect();
        let (v, _, comment) = conclude(Said::default(), false, &tail);
        assert_eq!(v, Verdict::Reject);
        assert!(comment.starts_with("line 10\n") && comment.ends_with("line 29"));
        let said = Said {
            verdict: Some(Verdict::Reject),
            scores: "correctness=2".parse().expect("valid"),
            comments: vec!["wrong answer".into(), "see line 3".into()],
        };
        let (v, scores, comment) = conclude(said, true, &tail);
        assert_eq!(v, Verdict::Reject);
        assert_eq!(scores.0.len(), 1);
        assert_eq!(comment, "wrong answer\nsee line 3");
        assert_eq!(conclude(Said::default(), true, &[]).0, Verdict::Approve);
    }
}
