//! What reviewers and requesters do: give a verdict on a task in review
//! and, with the verdict that settles the round, move the task (completed,
//! back to the queue for rework, or failed after the last round) in the
//! same commit; rate a completed task.
//!
//! The decision itself is pure (`crate::review::standing` and
//! `after_rejection`); this module reads the round, writes the verdict,
//! and makes the move the decision calls for.

use crate::error::{Error, Result};
use crate::layout::Pile;
use crate::lifecycle::Status;
use crate::model::{ReviewStatus, Task, clip, limits, now};
use crate::review::{
    AfterRejection, ReviewKind, Scores, Standing, Verdict, VerdictRecord, Weights, after_rejection,
    policy_of, rework::max_rounds, standing,
};
use crate::store::{Store, Versioned};
use serde::Serialize;

/// A verdict as a reviewer gives it.
#[derive(Debug, Clone)]
pub struct GivenVerdict {
    pub kind: ReviewKind,
    pub reviewer: String,
    pub verdict: Verdict,
    pub scores: Scores,
    pub comment: String,
}

/// What a verdict led to.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Reviewed {
    /// Recorded; these kinds of review are still to come.
    Pending { missing: Vec<String> },
    /// The round passed: the task completed with this quality score.
    Completed { quality_score: Option<f64> },
    /// Back to the queue for rework round `round`.
    Rework { round: i64, avoid: Option<String> },
    /// Rejected in the last round: the task failed.
    Failed { reason: String },
}

/// Records `given` on task `task_id`, which must be in review and whose
/// policy must need that kind; moves the task when the verdict settles
/// the round. Refusals (not in review, a kind the policy does not need, a
/// second verdict of the kind) are [`Error::Conflict`].
///
/// Read, judged and written again when the task changed in between (an
/// agent renewed its review lease, another verdict was tallied): a few
/// times, then the refusal is the caller's. Under the rules a write based
/// on a stale read is refused as a permission error before its
/// precondition is checked, so that is retried too.
pub async fn give(store: &Store, task_id: &str, given: GivenVerdict) -> Result<Reviewed> {
    let mut tries = 0;
    loop {
        let seen = store
            .find_task(task_id)
            .await?
            .ok_or_else(|| Error::NotFound(format!("no task {task_id}")))?;
        match give_on(store, &seen, given.clone()).await {
            Err(e @ (Error::Conflict(_) | Error::PermissionDenied(_))) if tries < 3 => {
                let changed = (store.find_task(task_id).await?)
                    .is_some_and(|now| now.update_time != seen.update_time);
                if !changed {
                    return Err(e);
                }
                tries += 1;
            }
            other => return other,
        }
    }
}

/// [`give`] on the version of the task the caller read: an agent's
/// reviewer passes the version its review claim wrote, so that a task
/// changed since (a person decided, another reviewer took over) refuses
/// the write instead of being judged on a newer state.
pub async fn give_on(
    store: &Store,
    seen: &Versioned<Task>,
    given: GivenVerdict,
) -> Result<Reviewed> {
    let reviewer = given.reviewer.clone();
    let reviewed = record(store, seen, given).await?;
    if matches!(
        reviewed,
        Reviewed::Completed { .. } | Reviewed::Failed { .. }
    ) {
        // The task ended: the tasks waiting for it may go on. A failure
        // here is the sweep's to mend; the verdict stands.
        let id = &seen.value.task_id;
        if let Err(e) = crate::deps::release_dependents(store, id, &reviewer).await {
            tracing::warn!(task = %id, error = %e, "could not settle the tasks waiting for it");
        }
    }
    Ok(reviewed)
}

async fn record(store: &Store, seen: &Versioned<Task>, given: GivenVerdict) -> Result<Reviewed> {
    let task_id = seen.value.task_id.as_str();
    let t = &seen.value;
    if t.status != Status::Reviewing {
        return Err(Error::Conflict(format!(
            "task {task_id} is not in review (it is {})",
            t.status
        )));
    }
    let policy = policy_of(t);
    if !policy.needs(given.kind) {
        return Err(Error::Conflict(format!(
            "task {task_id}'s review policy is {policy}: it needs no {} review",
            given.kind
        )));
    }
    let round = t.review.round;
    let mut verdicts = store.round_verdicts(task_id, round, policy).await?;
    if verdicts.iter().any(|v| v.kind == given.kind) {
        return Err(Error::Conflict(format!(
            "task {task_id} already has a {} verdict in round {round}; verdicts cannot be changed",
            given.kind
        )));
    }
    let record = VerdictRecord {
        task_id: task_id.to_string(),
        kind: given.kind,
        reviewer: given.reviewer.clone(),
        verdict: given.verdict,
        scores: given.scores,
        comment: clip(&given.comment, limits::ERROR_MAX),
        round,
        at: None,
    };
    let write = store.verdict_write(&record)?;
    verdicts.push(record);
    // Whatever the verdict leads to, any review lease ends with it: the
    // giver's own (an agent's), or one a person's decision overrides.
    let mut base = seen.clone();
    base.value.lease.owner = None;
    base.value.lease.expires_at = None;
    base.value.review.claim = None;
    let t = &base.value;
    let holds = seen.value.lease.owner.as_deref() == Some(given.reviewer.as_str());
    match standing(policy, round, &verdicts, &Weights::default()) {
        // An approval, more reviews to come: tallied on the task in the
        // same commit (firestore.rules `tallied`). An agent gives its
        // review back with it; a person leaves any agent's review alone.
        Standing::Pending { missing } => {
            let mut next = if holds {
                base.value.clone()
            } else {
                seen.value.clone()
            };
            next.review.approved.push(given.kind.to_string());
            store.replace_task(seen, &next, &[], vec![write]).await?;
            let missing = missing.iter().map(|k| k.to_string()).collect();
            Ok(Reviewed::Pending { missing })
        }
        Standing::Approved { score } => {
            let next = approve(t, &given.reviewer, score);
            store
                .replace_task(seen, &next, &[Status::Completed], vec![write])
                .await?;
            if let (Some(q), Some(executor)) = (score, &t.assignment.primary_agent) {
                fold_quality(store, executor, t, q).await;
            }
            Ok(Reviewed::Completed {
                quality_score: score,
            })
        }
        Standing::Rejected { comments, .. } => {
            reject(store, seen, t, &given.reviewer, &comments, write).await
        }
    }
}

/// The passed task's score into its executor's history. Best effort: the
/// review is decided; a lost score only leaves an average a little older.
async fn fold_quality(store: &Store, executor: &str, t: &Task, q: f64) {
    match crate::history::fold_quality(store, executor, t.task_type, &t.task_id, q).await {
        Ok(folded) => {
            tracing::debug!(task = %t.task_id, executor, folded, "review score into history")
        }
        Err(e) => {
            tracing::warn!(task = %t.task_id, executor, error = %e, "could not fold the review score into the executor's history")
        }
    }
}

fn approve(t: &Task, reviewer: &str, score: Option<f64>) -> Task {
    let mut next = t.clone();
    next.status = Status::Completed;
    next.review.status = Some(ReviewStatus::Passed);
    next.review.reviewer = Some(reviewer.to_string());
    next.review.quality_score = score;
    next.record(
        Status::Completed,
        now(),
        Some(reviewer),
        Some("review passed".into()),
    );
    next
}

/// The rejection's move: rework by another agent (the default) or the
/// same one (`--rework same`), or the end after the task's last round
/// (`--review-rounds`, 2 by default).
async fn reject(
    store: &Store,
    seen: &Versioned<Task>,
    t: &Task,
    reviewer: &str,
    comments: &[String],
    write: firestore::gcloud_sdk::google::firestore::v1::Write,
) -> Result<Reviewed> {
    let executor = t.assignment.primary_agent.clone().unwrap_or_default();
    let rounds_done = u32::try_from(t.review.round).unwrap_or(u32::MAX);
    let rework = t.review.rework.unwrap_or_default();
    let decision = after_rejection(rounds_done, max_rounds(t), rework, &executor, comments);
    let mut next = t.clone();
    next.review.status = Some(ReviewStatus::Failed);
    next.review.reviewer = Some(reviewer.to_string());
    next.review.round = t.review.round + 1;
    next.review.approved.clear();
    let t_now = now();
    next.record(
        Status::Rejected,
        t_now,
        Some(reviewer),
        Some(comments.join("\n")),
    );
    match decision {
        AfterRejection::Rework {
            round,
            comments,
            avoid,
        } => {
            next.status = Status::Rejected;
            next.review.feedback = Some(clip(&comments, limits::ERROR_MAX));
            next.review.avoid = avoid.clone().filter(|a| !a.is_empty());
            store
                .replace_task(seen, &next, &[Status::Rejected], vec![write])
                .await?;
            debug_assert_eq!(Pile::of(next.status), Pile::Queued);
            Ok(Reviewed::Rework {
                round: i64::from(round),
                avoid: next.review.avoid,
            })
        }
        AfterRejection::Fail { reason } => {
            next.status = Status::Failed;
            next.review.feedback = Some(clip(&reason, limits::ERROR_MAX));
            next.record(Status::Failed, t_now, Some(reviewer), None);
            let path = [Status::Rejected, Status::Failed];
            store.replace_task(seen, &next, &path, vec![write]).await?;
            Ok(Reviewed::Failed { reason })
        }
    }
}

/// Records `by`'s rating (1–5) of completed task `task_id`, once. The
/// rules let only its requester (or an admin) rate it; here the refusals a
/// client can see first: not completed, out of range, already rated.
pub async fn rate(
    store: &Store,
    task_id: &str,
    by: &str,
    rating: i64,
    comment: &str,
) -> Result<()> {
    use crate::review::stats::{RATING_COMMENT_MAX, RATING_MAX, RATING_MIN, Rating};
    if !(RATING_MIN..=RATING_MAX).contains(&rating) {
        return Err(Error::InvalidTask(crate::model::InvalidTask(format!(
            "a rating is {RATING_MIN} to {RATING_MAX}, not {rating}"
        ))));
    }
    let seen = store
        .find_task(task_id)
        .await?
        .ok_or_else(|| Error::NotFound(format!("no task {task_id}")))?;
    if seen.value.status != Status::Completed {
        return Err(Error::Conflict(format!(
            "only a completed task can be rated; {task_id} is {}",
            seen.value.status
        )));
    }
    let r = Rating {
        task_id: task_id.to_string(),
        rating,
        comment: clip(comment, RATING_COMMENT_MAX - 1),
        by: by.to_string(),
        at: None,
    };
    // Looked for first: under the rules a second create is judged as an
    // update and refused as a permission error, which would not say why.
    if store.is_rated(task_id).await? {
        return Err(Error::Conflict(format!(
            "task {task_id} is rated already; a rating is given once"
        )));
    }
    match store.commit(vec![store.rating_write(&r)?]).await {
        Err(Error::Conflict(_)) => Err(Error::Conflict(format!(
            "task {task_id} is rated already; a rating is given once"
        ))),
        other => other.map(|_| ()),
    }
}
