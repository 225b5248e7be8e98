//! Dependencies at the edge (issue 13): checking a new task's `--after`
//! and `--if`, and settling blocked tasks with conditional writes that any
//! agent or the CLI can make, and make twice without harm.
//!
//! What to do with a blocked task is decided by the pure
//! [`crate::graph::decide`] and [`crate::condition`]; here the
//! dependencies' documents are read and the decision is written
//! ([`settle`]):
//! - the dependencies that ended are recorded in `dependencies.done`, at
//!   most [`DONE_PER_WRITE`] per write (the rules read each one's document,
//!   and a write may read 10), and the write that records the last one
//!   queues the task (`isUnblock` in firestore.rules);
//! - a dependency that failed, was cancelled or skipped cancels the task
//!   under `--on-dep-failure cancel`, naming it (`isDepCancel`);
//! - with every dependency ended, an unmet `--if` condition ends the task
//!   as `skipped` (`isConditionSkip`).
//!
//! A queued or blocked task may be made to wait for more tasks ([`edit`],
//! `vayu task edit --after`), refused when that would close a cycle; the
//! cycles that racing edits close anyway are broken by the sweep
//! ([`break_cycles`]).
//!
//! Who settles: the creator, right after creating; whoever ends a task
//! (an agent's run, a review decision, a person's cancel), for the
//! dependents registered in its `waiters` document ([`waiters`]); and the
//! lane-0 agent's periodic [`sweep`], for what a race or a crash left
//! behind. A write made twice finds nothing left to record and is not
//! sent.

mod cycles;
pub mod edit;
mod settle;
pub mod waiters;

pub use cycles::break_cycles;
pub use edit::{Added, add};
pub use settle::{Settled, settle, sweep};
pub use waiters::{register, register_premarked, release_dependents, waiting_for};

use crate::condition::Condition;
use crate::error::{Error, Result};
use crate::graph::{DepState, OnDepFailure};
use crate::layout::Pile;
use crate::model::{InvalidTask, Task, limits};
use crate::store::{Store, Versioned};

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
/// would be cancelled at once. Nothing is written. Returns the dependencies
/// as read, distinct and in order: registering marks them from these
/// versions without reading them again (`waiters::mark`).
pub async fn check_new(
    store: &Store,
    ids: &[String],
    policy: OnDepFailure,
) -> Result<Vec<Versioned<Task>>> {
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
    let found = store.find_tasks(&distinct).await?;
    let mut out = Vec::with_capacity(found.len());
    for (id, seen) in distinct.iter().zip(found) {
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
        out.push(seen);
    }
    Ok(out)
}

/// Parses `--if` and checks that it reads only dependencies of `task`
/// (by id, or by step name in a workflow). The error shows the condition
/// with a caret under the fault. Nothing is read or written.
pub fn check_condition(source: &str, task: &Task) -> Result<Condition> {
    let bad = |m: String| Error::InvalidTask(InvalidTask(m));
    let deps = &task.dependencies.blocked_by;
    if deps.is_empty() {
        return Err(bad(
            "--if reads the results of dependencies: give them with --after".into(),
        ));
    }
    let condition = Condition::parse(source).map_err(|e| {
        bad(format!(
            "the --if condition does not parse:\n{}",
            e.render(source)
        ))
    })?;
    crate::condition::check_names(&condition, &task.task_id, deps).map_err(bad)?;
    Ok(condition)
}

/// The tasks `ids` as they stand in `pile` (absent: not there), in one
/// batch get: one read each where `Store::find_tasks` takes three.
async fn read_in(
    store: &Store,
    pile: Pile,
    ids: &[String],
) -> Result<Vec<Option<Versioned<Task>>>> {
    if ids.is_empty() {
        return Ok(vec![]);
    }
    let names = ids.iter().map(|id| store.name(&pile.doc(id))).collect();
    let docs = store.batch_get(names).await?;
    (docs.iter())
        .map(|d| {
            d.as_ref()
                .map(|d| Store::decode_versioned(d, pile))
                .transpose()
        })
        .collect()
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
        let found = store.find_tasks(&frontier).await?;
        frontier = Vec::new();
        for t in found.into_iter().flatten() {
            frontier.extend(t.value.dependencies.blocked_by.iter().cloned());
            out.push(t.value);
        }
    }
    Ok(out)
}
