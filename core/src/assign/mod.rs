//! Assignment, the seed's section 3, without I/O: which agents could run a
//! task, which of them should, and which queued task an agent claims.
//!
//! The seed's five phases, one file each, each a small pure function:
//! 1. [`capability`]: `requires` ⊆ the agent's capabilities (and its
//!    type, and not rework of its own rejected work); when no live agent
//!    qualifies, why not ([`waiting_reason`]);
//! 2. [`score::available`]: online, a free slot, not draining;
//! 3. [`score::load`]: the running tasks, weighted by complexity;
//! 4. [`score::specialisation`]: success rate, duration and quality for
//!    the agent and the task's type, from its [`history`];
//! 5. [`score::decide`]: the primary agent, or a team of distinct agents.
//!
//! The strategies beside pull: [`push`] (one agent named, until a
//! timeout) and [`auction`] (bids, and a winner every closer agrees on).
//!
//! The weights are [`score::Weights`]. [`ageing`] raises a waiting task's
//! effective priority so that nothing starves, and [`history`] is the
//! per-agent, per-type statistics that phase 4 reads.
//!
//! In pull mode every agent sees the same queue through its listener. If
//! all of them went for the oldest task, they would collide on it and all
//! but one would lose. So an agent takes the best few tasks by (aged)
//! priority and age, and among those prefers the one its rendezvous hash
//! ranks first: different agents prefer different tasks, priority order
//! is kept within a small window, and collisions become rare.

pub mod ageing;
pub mod auction;
pub mod capability;
pub mod history;
pub mod push;
pub mod score;

pub use capability::{Offer, capable, waiting_reason};

use crate::model::{Task, Time};
use std::time::Duration;

/// How many of the best tasks an agent chooses among.
pub const WINDOW: usize = 8;

/// The order tasks are served in without ageing: priority, then age, then
/// id. (The agent serves by [`ageing::aged_key`], which is this order at
/// the moment a task arrives.)
pub fn queue_key(task: &Task) -> (i64, i64, &str) {
    (
        task.priority.rank(),
        task.created_at
            .map(|t| t.0.as_microsecond())
            .unwrap_or(i64::MAX),
        &task.task_id,
    )
}

pub use crate::spread::affinity;

/// Picks the task to claim among `tasks` (those this agent can claim) at
/// `now`, ageing them by `age_step` ([`ageing`]), or `None`.
///
/// An overdue task (waited [`ageing::OVERDUE_STEPS`] steps) is taken
/// first, in strict order: that is what bounds every task's wait.
/// Otherwise only tasks of the best effective rank present are
/// considered, so a critical task is never passed over for a normal one,
/// and among the [`WINDOW`] oldest of them the agent's rendezvous hash
/// chooses.
pub fn pick<'a>(
    agent_id: &str,
    tasks: impl IntoIterator<Item = &'a Task>,
    now: Time,
    age_step: Duration,
) -> Option<&'a Task> {
    let all = ageing::order(tasks, now, age_step);
    let first = *all.first()?;
    if ageing::overdue(first, now, age_step) {
        return Some(first);
    }
    let best = ageing::effective_rank(first, now, age_step);
    all.into_iter()
        .take_while(|t| ageing::effective_rank(t, now, age_step) == best)
        .take(WINDOW)
        .min_by_key(|t| affinity(agent_id, &t.task_id))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Priority, TaskType, now};
    use std::collections::HashSet;

    #[test]
    fn higher_priority_always_wins() {
        let mut tasks: Vec<Task> = (0..20)
            .map(|i| Task::new(TaskType::Research, Priority::Low, format!("{i}")))
            .collect();
        tasks.push(Task::new(TaskType::Research, Priority::Critical, "urgent"));
        for agent in ["a", "b", "c", "d"] {
            assert_eq!(
                pick(agent, &tasks, now(), ageing::AGE_STEP)
                    .expect("non-empty")
                    .title,
                "urgent"
            );
        }
    }

    #[test]
    fn different_agents_spread_over_the_window() {
        let tasks: Vec<Task> = (0..WINDOW)
            .map(|i| Task::new(TaskType::Research, Priority::Normal, format!("{i}")))
            .collect();
        let picks: HashSet<String> = (0..16)
            .map(|a| {
                pick(&format!("agent-{a}"), &tasks, now(), ageing::AGE_STEP)
                    .expect("non-empty")
                    .task_id
                    .clone()
            })
            .collect();
        assert!(
            picks.len() >= 3,
            "16 agents picked only {} distinct tasks",
            picks.len()
        );
    }

    #[test]
    fn an_overdue_task_is_taken_before_the_window() {
        let t0 = now();
        let later = crate::model::time_add(t0, ageing::AGE_STEP * 4);
        let mut old = Task::new(TaskType::Research, Priority::Low, "old");
        old.created_at = Some(t0);
        let fresh: Vec<Task> = (0..20)
            .map(|i| {
                let mut t = Task::new(TaskType::Research, Priority::Critical, format!("{i}"));
                t.created_at = Some(later);
                t
            })
            .collect();
        let all: Vec<&Task> = fresh.iter().chain([&old]).collect();
        for agent in ["a", "b", "c", "d"] {
            let picked = pick(agent, all.iter().copied(), later, ageing::AGE_STEP);
            assert_eq!(picked.expect("non-empty").title, "old");
        }
    }
}
