//! The cycle breaker: part of the sweep, it finds the dependency cycles
//! that races made among the blocked tasks it read, and cancels the
//! youngest task of each.
//!
//! Why cancel and not fail (the issue says "failing the youngest task"):
//! a failed task may be retried by a person (`failed → queued`), and a
//! retry would queue a task whose dependencies never ended, to run
//! without them; a cancelled task stays ended. A dependent of the
//! cancelled task then follows its `--on-dep-failure` as for any other
//! cancelled dependency: under `cancel` (the default) it is cancelled
//! too, naming it; under `run` it runs once its other dependencies end.
//!
//! Why the youngest: every agent that looks at the same tasks picks the
//! same one ([`crate::graph::Graph::cycles`]), so two sweeps at once make
//! the same conditional write and the second is refused; and the youngest
//! is the one most likely to have been the edit that closed the cycle.
//!
//! The rules check the cycle written into `dependencies.cycle` hop by hop,
//! one read per hop (`isCycleBreak`), so the breaker names a cycle of at
//! most [`limits::CYCLE_MAX`] tasks. A longer one is logged and left for a
//! person to cancel one of its tasks; none can form through `vayu task
//! edit` alone, only through several edits racing.

use super::edit::waits_for;
use super::release_dependents;
use crate::error::Result;
use crate::graph::{Cycle, Graph};
use crate::lifecycle::Status;
use crate::model::{Task, limits, now};
use crate::store::{Store, Versioned};

/// Cancels the youngest task of every cycle among `blocked` (the blocked
/// tasks one sweep read) and settles the tasks waiting for it. Returns how
/// many tasks it cancelled. A write refused because the task changed since
/// it was read is left for the next sweep.
pub async fn break_cycles(store: &Store, blocked: &[Versioned<Task>], by: &str) -> usize {
    let mut graph = Graph::new();
    for v in blocked {
        let t = &v.value;
        graph.insert(
            t.task_id.clone(),
            t.created_at.unwrap_or_else(now),
            waits_for(t),
        );
    }
    let mut broken = 0;
    for cycle in graph.cycles() {
        if cycle.path.len() > limits::CYCLE_MAX + 1 {
            tracing::warn!(cycle = %cycle.reason(), "a dependency cycle longer than the breaker may name: cancel one of its tasks");
            continue;
        }
        // The graph holds only tasks of `blocked`.
        let Some(seen) = blocked.iter().find(|v| v.value.task_id == cycle.breaker) else {
            continue;
        };
        match break_at(store, seen, &cycle, by).await {
            Ok(()) => broken += 1,
            Err(e) => {
                tracing::warn!(task = %cycle.breaker, error = %e, "could not break a dependency cycle; the next sweep tries again")
            }
        }
    }
    broken
}

/// The write that cancels `seen`, the breaker of `cycle`, recording the
/// cycle; then its dependents follow their policy.
async fn break_at(store: &Store, seen: &Versioned<Task>, cycle: &Cycle, by: &str) -> Result<()> {
    let mut next = seen.value.clone();
    next.status = Status::Cancelled;
    next.dependencies.cycle = cycle.path.clone();
    next.record(Status::Cancelled, now(), Some(by), Some(cycle.reason()));
    store
        .replace_task(seen, &next, &[Status::Cancelled], vec![])
        .await?;
    tracing::info!(task = %cycle.breaker, cycle = %cycle.reason(), "broke a dependency cycle");
    release_dependents(store, &cycle.breaker, by).await?;
    Ok(())
}
