//! Dependencies at the edge (issue 13): checking a new task's `--after`,
//! and settling blocked tasks with conditional writes that any agent or
//! the CLI can make, and make twice without harm.
//!
//! What to do with a blocked task is decided by the pure
//! [`crate::graph::decide`]; here the dependencies' documents are read and
//! the decision is written:
//! - the dependencies that ended are recorded in `dependencies.done`, at
//!   most [`DONE_PER_WRITE`] per write (the rules read each one's document,
//!   and a write may read 10), and the write that records the last one
//!   queues the task (`isUnblock` in firestore.rules);
//! - a dependency that failed or was cancelled cancels the task under
//!   `--on-dep-failure cancel`, naming it (`isDepCancel`).
//!
//! Who settles: the creator, right after creating; whoever ends a task
//! (an agent's run, a review decision, a person's cancel), for its
//! dependents; and the lane-0 agent's periodic sweep, for what a race or a
//! crash left behind. A write made twice finds nothing left to record and
//! is not sent.

use crate::error::{Error, Result};
use crate::graph::{Decision, DepState, OnDepFailure, decide};
use crate::layout::Pile;
use crate::lifecycle::Status;
use crate::model::{InvalidTask, Task, limits, now};
use crate::store::{Store, Versioned, field_op, string_value};
use firestore::gcloud_sdk::google::firestore::v1::structured_query::field_filter::Operator;

/// Dependencies recorded per write: each costs the rules one read.
pub const DONE_PER_WRITE: usize = 4;

/// The task's `--on-dep-failure` (absent: cancel).
pub fn on_failure(t: &Task) -> OnDepFailure {
    (t.dependencies.on_failure.as_deref())
        .and_then(|s| s.parse().ok())
        .unwrap_or_default()
}

/// Checks `--after`: distinct ids (duplicates dropped, order kept), at most
/// [`limits::DEPENDENCIES_MAX`], each an existing task. Under `cancel`, a
/// dependency that already failed or was cancelled is refused: the new task
/// would be cancelled at once. Nothing is written.
pub async fn check_new(store: &Store, ids: &[String], policy: OnDepFailure) -> Result<Vec<String>> {
    let mut distinct: Vec<String> = Vec::with_capacity(ids.len());
    for id in ids.iter().map(|s| s.trim()).filter(|s| !s.is_empty()) {
        if !distinct.iter().any(|d| d == id) {
            distinct.push(id.to_string());
        }
    }
    let bad = |m: String| Err(Error::InvalidTask(InvalidTask(m)));
    if distinct.len() > limits::DEPENDENCIES_MAX {
        return bad(format!(
            "{} dependencies, more than the {} allowed; chain them through an intermediate task",
            distinct.len(),
            limits::DEPENDENCIES_MAX
        ));
    }
    let found = read_all(store, &distinct).await?;
    for (id, seen) in distinct.iter().zip(&found) {
        let Some(seen) = seen else {
            return bad(format!("unknown dependency {id}: no such task"));
        };
        let state = DepState::from_status(seen.value.status);
        if policy == OnDepFailure::Cancel && state.ended_badly() {
            return Err(Error::Conflict(format!(
                "dependency {id} is {}: the task would be cancelled at once \
                 (--on-dep-failure run runs it anyway)",
                seen.value.status
            )));
        }
    }
    Ok(distinct)
}

/// The tasks `ids`, wherever they are, in one batch get.
async fn read_all(store: &Store, ids: &[String]) -> Result<Vec<Option<Versioned<Task>>>> {
    let names: Vec<String> = (ids.iter())
        .flat_map(|id| Pile::ALL.iter().map(move |p| store.name(&p.doc(id))))
        .collect();
    if names.is_empty() {
        return Ok(vec![]);
    }
    let docs = store.batch_get(names).await?;
    let mut out = Vec::with_capacity(ids.len());
    for piles in docs.chunks(Pile::ALL.len()) {
        let found =
            (Pile::ALL.iter().zip(piles)).find_map(|(pile, doc)| doc.as_ref().map(|d| (*pile, d)));
        out.push(match found {
            Some((pile, doc)) => Some(Store::decode_versioned(doc, pile)?),
            None => None,
        });
    }
    Ok(out)
}

/// How each dependency of `t` stands, in its own order: a dependency
/// that cannot be found counts as pending (a person may restore it).
async fn states(store: &Store, t: &Task) -> Result<Vec<(String, DepState)>> {
    let deps = &t.dependencies.blocked_by;
    let found = read_all(store, deps).await?;
    Ok((deps.iter().zip(found))
        .map(|(id, seen)| {
            let state = seen.map_or(DepState::Pending, |s| DepState::from_status(s.value.status));
            (id.clone(), state)
        })
        .collect())
}

/// What settling a task did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Settled {
    /// Still blocked: this many dependencies have not ended.
    Waiting {
        pending: usize,
    },
    Queued,
    Cancelled {
        reason: String,
    },
    /// Not a blocked task with dependencies (any more): nothing to do.
    NotBlocked,
}

/// Settles blocked task `task_id`: records the dependencies that ended,
/// and queues or cancels it when its dependencies say so. Re-reads and
/// tries again when another writer got in between, which is how two
/// agents settling the same task at once both end well.
pub async fn settle(store: &Store, task_id: &str, by: &str) -> Result<Settled> {
    for _ in 0..(limits::DEPENDENCIES_MAX / DONE_PER_WRITE + 8) {
        let Some(seen) = store.find_task(task_id).await? else {
            return Ok(Settled::NotBlocked);
        };
        let t = &seen.value;
        if t.status != Status::Blocked || t.dependencies.blocked_by.is_empty() {
            return Ok(Settled::NotBlocked);
        }
        let states = states(store, t).await?;
        let pairs: Vec<(&str, DepState)> = states.iter().map(|(id, s)| (id.as_str(), *s)).collect();
        let (next, path, result) = match decide(&pairs, on_failure(t)) {
            Decision::Cancel { dependency, reason } => cancelled(t, &dependency, &reason, by),
            decision => match recorded(t, &states, by) {
                Some((next, path)) if next.status == Status::Queued => {
                    (next, path, Settled::Queued)
                }
                Some((next, path)) => (next, path, Settled::Waiting { pending: 0 }),
                None => {
                    let pending = match decision {
                        Decision::Wait { pending } => pending,
                        _ => 0,
                    };
                    return Ok(Settled::Waiting { pending });
                }
            },
        };
        match store.replace_task(&seen, &next, &path, vec![]).await {
            Ok(_) if matches!(result, Settled::Waiting { .. }) => continue,
            Ok(_) => return Ok(result),
            // Someone else wrote it first (or settled it): look again.
            Err(e) if e.is_conflict() || matches!(e, Error::PermissionDenied(_)) => continue,
            Err(e) => return Err(e),
        }
    }
    Err(Error::Conflict(format!(
        "task {task_id} kept changing while its dependencies were recorded; try again"
    )))
}

/// The next write that records ended dependencies (at most
/// [`DONE_PER_WRITE`]), queuing the task when it records the last; `None`
/// when there is nothing to record and the task cannot be queued yet.
fn recorded(t: &Task, states: &[(String, DepState)], by: &str) -> Option<(Task, Vec<Status>)> {
    let run = on_failure(t) == OnDepFailure::Run;
    let ended = |s: DepState| s == DepState::Completed || (run && s.ended_badly());
    let new: Vec<&String> = (states.iter())
        .filter(|(id, s)| ended(*s) && !t.dependencies.done.contains(id))
        .map(|(id, _)| id)
        .take(DONE_PER_WRITE)
        .collect();
    let mut next = t.clone();
    next.dependencies
        .done
        .extend(new.iter().map(|id| id.to_string()));
    if next.dependencies.done.len() == next.dependencies.blocked_by.len() {
        next.status = Status::Queued;
        next.record(
            Status::Queued,
            now(),
            Some(by),
            Some("every dependency ended".into()),
        );
        return Some((next, vec![Status::Queued]));
    }
    (!new.is_empty()).then_some((next, vec![]))
}

fn cancelled(t: &Task, dependency: &str, reason: &str, by: &str) -> (Task, Vec<Status>, Settled) {
    let mut next = t.clone();
    next.status = Status::Cancelled;
    next.dependencies.failed = Some(dependency.to_string());
    next.record(Status::Cancelled, now(), Some(by), Some(reason.to_string()));
    let reason = reason.to_string();
    (next, vec![Status::Cancelled], Settled::Cancelled { reason })
}

/// The blocked tasks that wait for `task_id`.
pub async fn dependents(store: &Store, task_id: &str) -> Result<Vec<String>> {
    let filter = field_op(
        "dependencies.blocked_by",
        Operator::ArrayContains,
        string_value(task_id),
    );
    let pile = Pile::Queued;
    let docs = (store.run_query(
        &pile.parent(),
        pile.collection_id(),
        Some(filter),
        vec![],
        None,
    ))
    .await?;
    Ok((docs.iter())
        .filter_map(|d| Store::decode_task(d).ok())
        .filter(|t| t.status == Status::Blocked)
        .map(|t| t.task_id)
        .collect())
}

/// The most tasks `vayu task graph` reads.
pub const GRAPH_MAX: usize = 500;

/// The task and everything it waits for, transitively, breadth-first, at
/// most [`GRAPH_MAX`] tasks, for `vayu task graph`. A dependency that
/// cannot be found is left out (the tree shows it unread).
pub async fn upstream(store: &Store, task_id: &str) -> Result<Vec<Task>> {
    let root = (store.find_task(task_id).await?)
        .ok_or_else(|| Error::NotFound(format!("no task {task_id}")))?;
    let mut seen: std::collections::HashSet<String> = [task_id.to_string()].into();
    let mut frontier = root.value.dependencies.blocked_by.clone();
    let mut out = vec![root.value];
    while !frontier.is_empty() && out.len() < GRAPH_MAX {
        frontier.retain(|id| seen.insert(id.clone()));
        frontier.truncate(GRAPH_MAX - out.len());
        let found = read_all(store, &frontier).await?;
        frontier = Vec::new();
        for t in found.into_iter().flatten() {
            frontier.extend(t.value.dependencies.blocked_by.iter().cloned());
            out.push(t.value);
        }
    }
    Ok(out)
}

/// How many blocked tasks one sweep looks at.
pub const SWEEP_MAX: i32 = 200;

/// The safety net: settles blocked tasks whose dependencies ended without
/// their dependents being settled (a dependent created while its
/// dependency was ending, an agent killed between its end and the
/// settling). Returns how many were queued or cancelled.
pub async fn sweep(store: &Store, by: &str) -> Result<usize> {
    let blocked = store
        .list_pile(Pile::Queued, Some(Status::Blocked), Some(SWEEP_MAX))
        .await?;
    let mut moved = 0;
    for t in blocked.into_iter().flatten() {
        if t.value.dependencies.blocked_by.is_empty() {
            continue;
        }
        match settle(store, &t.value.task_id, by).await {
            Ok(Settled::Queued | Settled::Cancelled { .. }) => moved += 1,
            Ok(_) => {}
            Err(e) => {
                tracing::warn!(task = %t.value.task_id, error = %e, "could not settle a blocked task")
            }
        }
    }
    Ok(moved)
}

/// Settles every task waiting for `task_id`, which just ended; returns
/// how many were queued or cancelled. A failure on one is logged and the
/// others are still settled: the sweep comes back for it.
pub async fn release_dependents(store: &Store, task_id: &str, by: &str) -> Result<usize> {
    let mut moved = 0;
    for id in dependents(store, task_id).await? {
        match settle(store, &id, by).await {
            Ok(Settled::Queued | Settled::Cancelled { .. }) => moved += 1,
            Ok(_) => {}
            Err(e) => {
                tracing::warn!(task = %id, error = %e, "could not settle a dependent; the sweep will")
            }
        }
    }
    Ok(moved)
}
