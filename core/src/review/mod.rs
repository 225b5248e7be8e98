//! Review (seed section 8): which reviews a task needs, what a verdict
//! says, and what happens after one. Pure: the agent, the CLI and the
//! rules act on these decisions; nothing here reads or writes.
//!
//! - [`agent`]: which review an agent may take, and what its review
//!   command said.
//! - [`policy`]: the kinds of review a task demands (`--review peer+user`),
//!   and a project's defaults per type and priority.
//! - [`verdict`]: the seed's four criteria, scores, the quality score, and
//!   where a task in review stands given the verdicts so far.
//! - [`rework`]: after a rejection, another round or the end.
//! - [`stats`]: ratings, and the review metrics of `vayu stats`.

pub mod agent;
pub mod policy;
pub mod rework;
pub mod stats;
pub mod verdict;

pub use policy::{ReviewDefaults, ReviewKind, ReviewPolicy};
pub use rework::{AfterRejection, Rework, after_rejection};
pub use stats::{Rating, ReviewStats, summarize};
pub use verdict::{Criterion, Scores, Standing, Verdict, VerdictRecord, Weights, standing};

use crate::model::Task;

/// The task's policy; `none` when it has none, or a stored text the
/// decoder would have refused (it never reaches here: the schema checks
/// it).
pub fn policy_of(task: &Task) -> ReviewPolicy {
    (task.review.policy.as_deref())
        .and_then(|p| p.parse().ok())
        .unwrap_or_default()
}

/// The id of the verdict of `kind` in round `round` of a task. One id per
/// kind and round, so that creating it is the append-only check: a second
/// verdict of the same kind in the same round is a create that fails.
pub fn verdict_id(task_id: &str, round: i64, kind: ReviewKind) -> String {
    format!("{task_id}_{round}_{kind}")
}

/// What a task in review waits for, for `task status` and `task list`
/// ("waiting: …"); `None` when it is not in review. It names every kind
/// the policy needs that this round's tally (`review.approved`) lacks,
/// and the agent giving one now: a verdict that settles the round moves
/// the task out of review at once, so a task still in review lacks at
/// least one of them.
pub fn waiting_for(task: &Task) -> Option<String> {
    if task.status != crate::lifecycle::Status::Reviewing {
        return None;
    }
    let policy = policy_of(task);
    let held = |k: ReviewKind| match (&task.review.claim, &task.lease.owner) {
        (Some(c), Some(who)) if c == k.as_str() => format!(" ({who} is on it)"),
        _ => String::new(),
    };
    let kinds: Vec<String> = (policy.kinds())
        .filter(|k| !task.review.approved.iter().any(|a| a == k.as_str()))
        .map(|k| match k {
            ReviewKind::User => "a person's review (vayu task review)".to_string(),
            ReviewKind::Peer => format!("a peer agent's review{}", held(k)),
            ReviewKind::SelfCheck => format!("its executor's self-check{}", held(k)),
            ReviewKind::Tests => format!("its tests{}", held(k)),
        })
        .collect();
    Some(match kinds.as_slice() {
        [] => "a review decision".to_string(),
        [one] => one.to_string(),
        many => many.join(" and "),
    })
}
