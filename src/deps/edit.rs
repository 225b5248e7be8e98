//! Adding dependencies to a task nobody has claimed yet (`vayu task edit
//! ID --after X,Y`), refused when it would close a cycle.
//!
//! Why an edit reads the graph and a create does not: a new task has no
//! dependents, so nothing it waits for can lead back to it. An existing
//! task may have dependents, and making it wait for one of them (or for
//! anything downstream of one) would make them wait for each other for
//! ever. So [`add`] reads what the new dependencies wait for,
//! transitively ([`GRAPH_MAX`] tasks at most), and asks
//! [`crate::graph::Graph::check_dependencies`]. Two edits at once can
//! each pass that check and together close a cycle: the sweep's breaker
//! ([`super::cycles`]) ends it. The rules cannot walk a graph, so they
//! hold an edit only to its shape (`isDepEdit` in firestore.rules).

use super::{GRAPH_MAX, check_new, on_failure, settle, waiters};
use crate::error::{Error, Result};
use crate::graph::{DependencyError, Graph};
use crate::lifecycle::Status;
use crate::model::{InvalidTask, Task, limits, now};
use crate::store::{Store, Versioned};
use std::collections::{BTreeMap, HashSet};

/// What an edit did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Added {
    /// The dependencies added, in the order given (those the task had
    /// already are left out).
    pub added: Vec<String>,
    /// The task's status after the edit and its settling: `blocked`, or
    /// `queued`/`cancelled`/`skipped` when the new dependencies had ended.
    pub status: Status,
    /// Every dependency it has now.
    pub blocked_by: Vec<String>,
}

/// Makes queued or blocked task `task_id` wait for `ids` too: checked
/// (each exists, at most [`limits::DEPENDENCIES_MAX`] in all, not the
/// task itself, no cycle closed), written as a conditional write that
/// leaves the task `blocked`, registered with each new dependency's
/// waiters, and settled at once in case they had ended. Bad input
/// writes nothing: [`Error::InvalidTask`] (exit 2), [`Error::NotFound`]
/// for the task (3), [`Error::Conflict`] for a task in another state and
/// [`Error::Cycle`] for a cycle (4).
pub async fn add(store: &Store, task_id: &str, ids: &[String], by: &str) -> Result<Added> {
    for _ in 0..5 {
        let seen = (store.find_task(task_id).await?)
            .ok_or_else(|| Error::NotFound(format!("no task {task_id}")))?;
        let new = new_ids(&seen.value, ids)?;
        if new.is_empty() {
            let t = seen.value;
            let blocked_by = t.dependencies.blocked_by;
            return Ok(Added {
                added: new,
                status: t.status,
                blocked_by,
            });
        }
        let found = check_new(store, &new, on_failure(&seen.value)).await?;
        let next = with_added(&seen.value, &new, by);
        check_acyclic(store, &next).await?;
        match store
            .replace_task(&seen, &next, &path(&seen.value), vec![])
            .await
        {
            Ok(_) => {}
            // Settled or cancelled in between: look again.
            Err(e) if e.is_conflict() || changed(store, &seen, &e).await => continue,
            Err(e) => return Err(e),
        }
        waiters::register_ids(store, task_id, &new, Some(&found)).await?;
        let status = match settle(store, task_id, by).await? {
            super::Settled::Queued => Status::Queued,
            super::Settled::Cancelled { .. } => Status::Cancelled,
            super::Settled::Skipped => Status::Skipped,
            _ => Status::Blocked,
        };
        let blocked_by = next.dependencies.blocked_by;
        return Ok(Added {
            added: new,
            status,
            blocked_by,
        });
    }
    Err(Error::Conflict(format!(
        "task {task_id} kept changing while its dependencies were edited; try again"
    )))
}

/// The edit's write alone, with no check at all: what [`add`] sends once
/// the checks passed. Public so that tests can make the race [`add`]
/// cannot prevent (two edits, each before the other landed).
pub async fn write_unchecked(
    store: &Store,
    seen: &Versioned<Task>,
    ids: &[String],
    by: &str,
) -> Result<Versioned<Task>> {
    let next = with_added(&seen.value, ids, by);
    store
        .replace_task(seen, &next, &path(&seen.value), vec![])
        .await
}

/// Whether a denial came from a task that changed since `seen` (rules
/// judge a stale write before its precondition).
async fn changed(store: &Store, seen: &Versioned<Task>, e: &Error) -> bool {
    if !matches!(e, Error::PermissionDenied(_)) {
        return false;
    }
    match store.find_task(&seen.value.task_id).await {
        Ok(Some(now)) => now.update_time != seen.update_time || now.pile != seen.pile,
        _ => false,
    }
}

/// `queued → blocked`, or an in-place write of a blocked task.
fn path(t: &Task) -> Vec<Status> {
    match t.status {
        Status::Blocked => vec![],
        _ => vec![Status::Blocked],
    }
}

/// The ids `t` does not wait for yet (trimmed, distinct, in order), after
/// the checks that need no read: the task is queued or blocked in the
/// queued pile, not among them, and the total is within bounds.
fn new_ids(t: &Task, ids: &[String]) -> Result<Vec<String>> {
    let bad = |m: String| Err(Error::InvalidTask(InvalidTask(m)));
    if !matches!(t.status, Status::Queued | Status::Blocked) {
        return Err(Error::Conflict(format!(
            "task {} is {}: only a queued or blocked task's dependencies can be edited",
            t.task_id, t.status
        )));
    }
    let mut new: Vec<String> = Vec::new();
    for id in ids.iter().map(|s| s.trim()).filter(|s| !s.is_empty()) {
        if id == t.task_id {
            return bad(format!("task {id} cannot depend on itself"));
        }
        let known = t.dependencies.blocked_by.iter().any(|d| d == id);
        if !known && !new.iter().any(|d| d == id) {
            new.push(id.to_string());
        }
    }
    let total = t.dependencies.blocked_by.len() + new.len();
    if total > limits::DEPENDENCIES_MAX {
        return bad(format!(
            "{total} dependencies in all, more than the {} allowed; \
             chain them through an intermediate task",
            limits::DEPENDENCIES_MAX
        ));
    }
    Ok(new)
}

/// `t` blocked, waiting for `new` too, with the edit in its history.
fn with_added(t: &Task, new: &[String], by: &str) -> Task {
    let mut next = t.clone();
    next.status = Status::Blocked;
    (next.dependencies.blocked_by).extend(new.iter().cloned());
    let note = format!("now waits for {} too", new.join(", "));
    next.record(Status::Blocked, now(), Some(by), Some(note));
    next
}

/// Refuses `next` when what it waits for leads back to it: reads the
/// tasks upstream of its dependencies that still wait (blocked ones),
/// breadth-first, and asks the graph. The error prints the cycle with
/// the titles of the tasks on it.
async fn check_acyclic(store: &Store, next: &Task) -> Result<()> {
    let pending = waits_for(next);
    let mut graph = Graph::new();
    let mut titles: BTreeMap<String, String> = BTreeMap::new();
    titles.insert(next.task_id.clone(), next.title.clone());
    let mut seen: HashSet<String> = [next.task_id.clone()].into();
    let mut frontier = pending.clone();
    let mut read = 0;
    while !frontier.is_empty() && read < GRAPH_MAX {
        frontier.retain(|id| seen.insert(id.clone()));
        frontier.truncate(GRAPH_MAX - read);
        read += frontier.len();
        let found = store.find_tasks(&frontier).await?;
        frontier = Vec::new();
        for t in found.into_iter().flatten().map(|v| v.value) {
            titles.insert(t.task_id.clone(), t.title.clone());
            let deps = waits_for(&t);
            frontier.extend(deps.iter().cloned());
            graph.insert(t.task_id, t.created_at.unwrap_or_else(now), deps);
        }
    }
    match graph.check_dependencies(&next.task_id, &pending) {
        Ok(()) => Ok(()),
        Err(DependencyError::Cycle(c)) => {
            let mut message = c.to_string();
            for id in &c.path[..c.path.len() - 1] {
                let title = titles.get(id).map_or("", String::as_str);
                message.push_str(&format!("\n  {id}  {title}"));
            }
            Err(Error::Cycle {
                path: c.path,
                message,
            })
        }
        Err(e) => Err(Error::InvalidTask(InvalidTask(e.to_string()))),
    }
}

/// What a task waits for now: nothing unless it is blocked (a queued or
/// running task's dependencies have ended), else its dependencies not
/// yet recorded as ended. Only these edges can hold a task up for ever.
pub(super) fn waits_for(t: &Task) -> Vec<String> {
    if t.status != Status::Blocked {
        return vec![];
    }
    let done = &t.dependencies.done;
    (t.dependencies.blocked_by.iter())
        .filter(|d| !done.contains(d))
        .cloned()
        .collect()
}
