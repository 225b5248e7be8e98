//! Settling one blocked task: the write that records what ended, and the
//! move that queues, cancels or skips it; and the sweep that settles what
//! nobody settled.

use super::{DONE_PER_WRITE, on_failure, read_in};
use crate::condition::{Condition, Value, bindings, dependency_value};
use crate::error::{Error, Result};
use crate::graph::{Decision, DepState, OnDepFailure, decide};
use crate::layout::Pile;
use crate::lifecycle::Status;
use crate::model::{Task, limits, now};
use crate::store::Store;

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
    /// Its `--if` condition was not met.
    Skipped,
    /// Not a blocked task with dependencies (any more): nothing to do.
    NotBlocked,
}

impl Settled {
    /// Whether the task ended here, so that its own dependents are due.
    pub fn ended(&self) -> bool {
        matches!(self, Settled::Cancelled { .. } | Settled::Skipped)
    }
}

/// One dependency as a dependent sees it.
struct Dep {
    id: String,
    state: DepState,
    /// `{"status", "result"}` for a condition; read only when there is one.
    value: Value,
}

/// How each dependency of `t` stands, in its own order. Only the
/// completed pile is read (one read each): a dependency that is not there
/// has not ended, wherever it is, and counts as pending (so does one that
/// cannot be found: a person may restore it).
async fn read_deps(store: &Store, t: &Task) -> Result<Vec<Dep>> {
    let deps = &t.dependencies.blocked_by;
    let found = read_in(store, Pile::Completed, deps).await?;
    let with_values = t.dependencies.condition.is_some();
    Ok((deps.iter().zip(found))
        .map(|(id, seen)| {
            let task = seen.map(|s| s.value);
            let state = task
                .as_ref()
                .map_or(DepState::Pending, |d| DepState::from_status(d.status));
            let value = match (&task, with_values) {
                (Some(d), true) => dependency_value(d.status.as_str(), result_value(d)),
                _ => Value::Null,
            };
            let id = id.clone();
            Dep { id, state, value }
        })
        .collect())
}

/// A result as a condition reads it: JSON when it parses as JSON (so
/// `A.result.status` reaches into `{"status": "ok"}`), else the text.
fn result_value(t: &Task) -> Value {
    match &t.execution.result {
        None => Value::Null,
        Some(r) => serde_json::from_str(r).unwrap_or_else(|_| Value::String(r.clone())),
    }
}

/// Whether `t`'s condition holds over its dependencies; `None` when it
/// has none. A stored condition that no longer parses (typed into the
/// console) is unmet: skipping is the outcome that runs nothing.
fn condition_holds(t: &Task, deps: &[Dep]) -> Option<bool> {
    let source = t.dependencies.condition.as_deref()?;
    let Ok(condition) = Condition::parse(source) else {
        return Some(false);
    };
    let values = deps.iter().map(|d| (d.id.clone(), d.value.clone()));
    Some(condition.evaluate(&bindings(&t.task_id, values.collect())))
}

/// Settles blocked task `task_id`: records the dependencies that ended,
/// and queues, cancels or skips it when its dependencies say so. Re-reads
/// and tries again when another writer got in between, which is how two
/// agents settling the same task at once both end well.
pub async fn settle(store: &Store, task_id: &str, by: &str) -> Result<Settled> {
    for _ in 0..(limits::DEPENDENCIES_MAX / DONE_PER_WRITE + 8) {
        // A blocked task is in the queued pile: one read, not three.
        let found = read_in(store, Pile::Queued, &[task_id.to_string()]).await?;
        let Some(seen) = found.into_iter().next().flatten() else {
            return Ok(Settled::NotBlocked);
        };
        let t = &seen.value;
        if t.status != Status::Blocked || t.dependencies.blocked_by.is_empty() {
            return Ok(Settled::NotBlocked);
        }
        let deps = read_deps(store, t).await?;
        let pairs: Vec<(&str, DepState)> = deps.iter().map(|d| (d.id.as_str(), d.state)).collect();
        let (next, path, result) = match decide(&pairs, on_failure(t)) {
            Decision::Cancel { dependency, reason } => cancelled(t, &dependency, &reason, by),
            Decision::Wait { pending } => match recorded(t, &deps, None, by) {
                Some((next, path)) => (next, path, Settled::Waiting { pending }),
                None => return Ok(Settled::Waiting { pending }),
            },
            Decision::Ready => match recorded(t, &deps, condition_holds(t, &deps), by) {
                Some((next, path)) => {
                    let result = match next.status {
                        Status::Queued => Settled::Queued,
                        Status::Skipped => Settled::Skipped,
                        _ => Settled::Waiting { pending: 0 },
                    };
                    (next, path, result)
                }
                None => return Ok(Settled::Waiting { pending: 0 }),
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

/// The next write: record ended dependencies (at most
/// [`DONE_PER_WRITE`]); with every one recorded, queue the task, or skip
/// it when `holds` says its condition is unmet (skipping is a write of its
/// own, after the last record: the rules check a skip against a complete
/// record). `None` when there is nothing to write.
fn recorded(t: &Task, deps: &[Dep], holds: Option<bool>, by: &str) -> Option<(Task, Vec<Status>)> {
    let run = on_failure(t) == OnDepFailure::Run;
    let ended = |s: DepState| s == DepState::Completed || (run && s.ended_badly());
    let new: Vec<&String> = (deps.iter())
        .filter(|d| ended(d.state) && !t.dependencies.done.contains(&d.id))
        .map(|d| &d.id)
        .take(DONE_PER_WRITE)
        .collect();
    let mut next = t.clone();
    next.dependencies
        .done
        .extend(new.iter().map(|id| id.to_string()));
    let complete = next.dependencies.done.len() == next.dependencies.blocked_by.len();
    let (to, note) = match holds {
        _ if !complete => return (!new.is_empty()).then_some((next, vec![])),
        Some(false) if !new.is_empty() => return Some((next, vec![])),
        Some(false) => {
            let source = t.dependencies.condition.as_deref().unwrap_or_default();
            (Status::Skipped, format!("condition not met: {source}"))
        }
        _ => (Status::Queued, "every dependency ended".to_string()),
    };
    next.status = to;
    next.record(to, now(), Some(by), Some(note));
    Some((next, vec![to]))
}

fn cancelled(t: &Task, dependency: &str, reason: &str, by: &str) -> (Task, Vec<Status>, Settled) {
    let mut next = t.clone();
    next.status = Status::Cancelled;
    next.dependencies.failed = Some(dependency.to_string());
    next.record(Status::Cancelled, now(), Some(by), Some(reason.to_string()));
    let reason = reason.to_string();
    (next, vec![Status::Cancelled], Settled::Cancelled { reason })
}

/// How many blocked tasks one sweep looks at.
pub const SWEEP_MAX: i32 = 200;

/// The safety net: breaks the dependency cycles races made among the
/// blocked tasks ([`super::break_cycles`]), then settles blocked tasks
/// whose dependencies ended without their dependents being settled (a
/// dependent whose creator died before it registered as a waiter, an
/// agent killed between its end and the settling). Returns how many were
/// queued, cancelled or skipped.
pub async fn sweep(store: &Store, by: &str) -> Result<usize> {
    let blocked: Vec<_> = (store.list_pile(Pile::Queued, Some(Status::Blocked), Some(SWEEP_MAX)))
        .await?
        .into_iter()
        .flatten()
        .collect();
    let mut moved = super::break_cycles(store, &blocked, by).await;
    for t in blocked {
        if t.value.dependencies.blocked_by.is_empty() {
            continue;
        }
        match settle(store, &t.value.task_id, by).await {
            Ok(Settled::Waiting { .. } | Settled::NotBlocked) => {}
            Ok(_) => moved += 1,
            Err(e) => {
                tracing::warn!(task = %t.value.task_id, error = %e, "could not settle a blocked task")
            }
        }
    }
    Ok(moved)
}
