//! One schedule's due ticks, committed: each tick's task in the one commit
//! that moves the schedule's cursor past it.
//!
//! Why this is safe with any number of agents and no leader: the commit
//! is conditioned on the schedule's update time, so of several agents
//! evaluating the same version only the first one's lands, and the others
//! learn of it from the refusal (they read the schedule again) or from
//! their listener. firestore.rules make the same promise for a buggy or
//! hostile agent: an agent's create of a tick's task is allowed only in a
//! commit that moves that schedule's cursor from before the tick to at or
//! after it (`isTickTask`), and a cursor only moves forward
//! (`isCursorMove`), so a tick whose task has been claimed and moved to
//! another pile cannot be created again by a late agent.
//!
//! Cost (tests/schedules_flow.rs measures it): one commit per created
//! tick, of three writes (the task, the quota window that pays for it,
//! the schedule), plus one commit of one write for a `skip` that passes
//! missed ticks over; a lost race is a refused commit and a one-document
//! read.

use super::{Seen, cursor_write, read};
use crate::error::{Error, Result};
use crate::model::Time;
use crate::schedule::{Step, due, steps};
use crate::store::{Store, quota};
use firestore::gcloud_sdk::google::firestore::v1 as pb;
use jiff::Timestamp;
use jiff::tz::TimeZone;

/// What evaluating a schedule did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Evaluated {
    /// The tasks created, oldest tick first.
    pub created: Vec<String>,
    /// Commits that moved the cursor (with a task or without).
    pub moves: usize,
    /// Commits refused because someone else moved the schedule first.
    pub lost: usize,
}

/// Evaluates `seen` at `now` (its expression already parsed, its zone
/// looked up): commits its due steps in order, at most `cap` ticks.
/// Returns what it did and the schedule as it now stands (`None`: deleted),
/// when that is known.
pub async fn evaluate_one(
    store: &Store,
    seen: &Seen,
    tz: &TimeZone,
    now: Timestamp,
    cap: usize,
) -> Result<(Evaluated, Option<Option<Seen>>)> {
    let s = &seen.schedule;
    let cron = s.parsed_cron()?;
    let due = due(s, &cron, tz, now, cap);
    let mut out = Evaluated::default();
    let mut current = seen.clone();
    for step in steps(s.catch_up, &due) {
        let next = cron.next_after(step.cursor, tz).map(Time);
        match commit_step(store, &current, step, next).await {
            Ok(update_time) => {
                out.moves += 1;
                out.created.extend(step.tick.map(|t| s.task_at(t).task_id));
                current.schedule.last_tick = Some(Time(step.cursor));
                current.schedule.next_tick = next;
                current.update_time = update_time;
            }
            Err(e @ (Error::Conflict(_) | Error::PermissionDenied(_))) => {
                let fresh = read(store, &s.schedule_id).await?;
                let moved = fresh
                    .as_ref()
                    .is_none_or(|f| f.update_time != current.update_time);
                if moved {
                    out.lost += 1;
                    return Ok((out, Some(fresh)));
                }
                if let Some(tick) = step.tick
                    && store.find_task(&s.task_at(tick).task_id).await?.is_some()
                {
                    // The task exists with the cursor before it: written
                    // past vayu (by an admin). Move the cursor alone.
                    let bare = Step { tick: None, ..step };
                    let update_time = commit_step(store, &current, bare, next).await?;
                    out.moves += 1;
                    current.schedule.last_tick = Some(Time(step.cursor));
                    current.schedule.next_tick = next;
                    current.update_time = update_time;
                    continue;
                }
                // Refused for another reason: a clock ahead of the
                // server's, or a template the rules refuse.
                return Err(e);
            }
            Err(e) => return Err(e),
        }
    }
    let changed = out.moves > 0;
    Ok((out, changed.then_some(Some(current))))
}

/// One step's commit: the tick's task (paid for) if any, and the cursor
/// move, conditioned on `seen`. The schedule's new update time.
async fn commit_step(
    store: &Store,
    seen: &Seen,
    step: Step,
    next: Option<Time>,
) -> Result<firestore::gcloud_sdk::prost_types::Timestamp> {
    let s = &seen.schedule;
    let task = step.tick.map(|tick| s.task_at(tick));
    let build = |minute: i64| -> Result<Vec<pb::Write>> {
        let mut writes = match &task {
            Some(t) => store.new_task_writes_at(t, minute)?,
            None => Vec::new(),
        };
        writes.push(cursor_write(
            store,
            &s.schedule_id,
            Time(step.cursor),
            next,
            seen.update_time,
        ));
        Ok(writes)
    };
    let resp = quota::commit_in_window(store, quota::clock, build).await?;
    // The cursor write is the last one.
    Ok(resp
        .write_results
        .last()
        .and_then(|r| r.update_time)
        .or(resp.commit_time)
        .unwrap_or_default())
}
