//! Ageing: a task's effective priority rises with the time it has waited,
//! so that a steady stream of higher-priority work cannot starve it (the
//! seed's risk "Resource starvation: priority inversion — implement
//! fairness").
//!
//! The rule, with `step` = [`AGE_STEP`] unless an agent is told otherwise:
//!
//! ```text
//! effective rank = max(0, priority rank − ⌊waited / step⌋)
//! ```
//!
//! where the rank is 0 for critical … 3 for low, and `waited` runs from
//! when the task could first be claimed: the later of its creation and its
//! `not_before` (a task scheduled for tonight has not been waiting all
//! day). Tasks are served by (effective rank, waiting since, id): equal
//! ranks are first come, first served.
//!
//! **The bound.** A `low` task ranks with `critical` after at most
//! 3 × `step`; from then on only tasks that have waited longer than it
//! rank ahead of it. An agent picks among the best few tasks by rendezvous
//! hash (see [`super::pick`]), which alone could pass a task over again
//! and again; so a task that has waited [`OVERDUE_STEPS`] × `step` is taken
//! in strict order, before the window is consulted. Hence, whatever
//! arrives meanwhile, a task of any priority is claimed at most
//! 4 × `step` after it became claimable plus the time the fleet takes to
//! claim the tasks that were waiting before it (a finite backlog, fixed
//! when it arrived). `tests::a_low_task_is_claimed_within_the_bound`
//! checks that over generated loads.
//!
//! What this does not reach: an agent orders what its listener shows. In
//! a backlog larger than its listener's window (64 tasks or more, see
//! `src/agent/queue.rs`) the listener shows the best tasks by stored
//! priority, so an old low task beyond the window is not seen until the
//! backlog shrinks.

use crate::model::{Task, Time, millis_between};
use std::time::Duration;

/// How long a task waits for each rank it climbs: a `low` task ranks with
/// `critical` after 15 minutes. Long enough that priorities still order
/// a busy fleet's work, short enough that nothing waits for hours.
pub const AGE_STEP: Duration = Duration::from_secs(300);

/// After this many steps a task is overdue: taken in strict order, ahead
/// of the rendezvous window (3 steps lift `low` to rank 0, one more lets
/// the window take it on its own first).
pub const OVERDUE_STEPS: i64 = 4;

/// When `task` became claimable: the later of its creation and its
/// `not_before`; `None` for a task without a creation time (a draft).
pub fn waiting_since(task: &Task) -> Option<Time> {
    match (task.created_at, task.not_before) {
        (Some(c), Some(nb)) => Some(c.max(nb)),
        (c, None) => c,
        (None, nb) => nb,
    }
}

/// How many whole `step`s `task` has waited at `now` (0 when it has not
/// started waiting, or `step` is zero).
pub fn steps_waited(task: &Task, now: Time, step: Duration) -> i64 {
    let step_ms = step.as_millis().min(i64::MAX as u128) as i64;
    match waiting_since(task) {
        Some(since) if step_ms > 0 => millis_between(since, now).max(0) / step_ms,
        _ => 0,
    }
}

/// The rank `task` is served at, at `now`: its priority's rank lowered by
/// one for every `step` it has waited, never below 0 (critical).
pub fn effective_rank(task: &Task, now: Time, step: Duration) -> i64 {
    (task.priority.rank() - steps_waited(task, now, step)).max(0)
}

/// Whether `task` has waited so long that it is taken in strict order.
pub fn overdue(task: &Task, now: Time, step: Duration) -> bool {
    steps_waited(task, now, step) >= OVERDUE_STEPS
}

/// The order tasks are served in at `now`: effective rank, then how long
/// they have waited (longest first), then id (so the order is total).
pub fn aged_key(task: &Task, now: Time, step: Duration) -> (i64, i64, &str) {
    (
        effective_rank(task, now, step),
        waiting_since(task)
            .map(|t| t.0.as_microsecond())
            .unwrap_or(i64::MAX),
        &task.task_id,
    )
}

/// `tasks` sorted in the order they are served at `now`.
pub fn order<'a>(
    tasks: impl IntoIterator<Item = &'a Task>,
    now: Time,
    step: Duration,
) -> Vec<&'a Task> {
    let mut all: Vec<&Task> = tasks.into_iter().collect();
    all.sort_by(|a, b| aged_key(a, now, step).cmp(&aged_key(b, now, step)));
    all
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::assign::pick;
    use crate::model::{Priority, TaskType, time_add};

    const STEP: Duration = Duration::from_secs(10);

    fn at(secs: u64) -> Time {
        let origin = Time(jiff::Timestamp::from_second(1_800_000_000).expect("a valid time"));
        time_add(origin, Duration::from_secs(secs))
    }

    fn task(p: Priority, created: u64, id: &str) -> Task {
        let mut t = Task::new(TaskType::Research, p, id);
        t.task_id = id.into();
        t.created_at = Some(at(created));
        t
    }

    #[test]
    fn the_rank_falls_one_per_step_and_stops_at_critical() {
        let t = task(Priority::Low, 0, "l");
        let ranks: Vec<i64> = [0, 9, 10, 25, 30, 1000]
            .iter()
            .map(|s| effective_rank(&t, at(*s), STEP))
            .collect();
        assert_eq!(ranks, [3, 3, 2, 1, 0, 0]);
        assert!(!overdue(&t, at(39), STEP));
        assert!(overdue(&t, at(40), STEP));
    }

    #[test]
    fn waiting_starts_at_not_before() {
        let mut t = task(Priority::Low, 0, "l");
        t.not_before = Some(at(100));
        assert_eq!(effective_rank(&t, at(100), STEP), 3);
        assert_eq!(effective_rank(&t, at(130), STEP), 0);
        let draft = Task::new(TaskType::Research, Priority::Low, "d");
        assert_eq!(
            effective_rank(&draft, at(1000), STEP),
            3,
            "a draft has not waited"
        );
        assert_eq!(
            effective_rank(&t, at(1000), Duration::ZERO),
            3,
            "no step, no ageing"
        );
    }

    #[test]
    fn an_aged_task_ranks_with_critical_and_then_by_age() {
        let low = task(Priority::Low, 0, "low");
        let crit = task(Priority::Critical, 29, "crit");
        let ids = |now| -> Vec<&str> {
            order([&crit, &low], at(now), STEP)
                .iter()
                .map(|t| t.task_id.as_str())
                .collect()
        };
        assert_eq!(ids(29), ["crit", "low"], "still rank 1");
        assert_eq!(ids(30), ["low", "crit"], "rank 0 and older");
    }

    /// A tiny deterministic generator (the core has no `rand`).
    struct Gen(u64);
    impl Gen {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
    }

    /// One agent claims one task per second. Each second brings 1–2
    /// critical or high tasks (more than it can claim: there is always
    /// higher-priority work waiting), and one `low` task arrives at second
    /// `t0`. Returns when it was claimed and the backlog it arrived to.
    fn simulate(seed: u64, t0: u64, step: Duration, horizon: u64) -> (Option<u64>, usize) {
        let mut g = Gen(seed | 1);
        let mut queue: Vec<Task> = Vec::new();
        let mut backlog_at_t0 = 0;
        for s in 0..horizon {
            for k in 0..(1 + g.next() % 2) {
                let p = if g.next().is_multiple_of(2) {
                    Priority::Critical
                } else {
                    Priority::High
                };
                queue.push(task(p, s, &format!("t{s}-{k}")));
            }
            if s == t0 {
                backlog_at_t0 = queue.len();
                queue.push(task(Priority::Low, s, "low"));
            }
            let Some(id) = pick("agent", &queue, at(s), step).map(|t| t.task_id.clone()) else {
                continue;
            };
            if id == "low" {
                return (Some(s), backlog_at_t0);
            }
            queue.retain(|t| t.task_id != id);
        }
        (None, backlog_at_t0)
    }

    #[test]
    fn a_low_task_is_claimed_within_the_bound() {
        let bound_steps = OVERDUE_STEPS as u64 * STEP.as_secs();
        for seed in 1..200u64 {
            let t0 = 20 + seed % 50;
            let (claimed, backlog) = simulate(seed, t0, STEP, 5_000);
            let claimed = claimed.unwrap_or_else(|| panic!("seed {seed}: never claimed"));
            assert!(
                claimed - t0 <= bound_steps + backlog as u64,
                "seed {seed}: waited {} s, bound {bound_steps} s + backlog {backlog}",
                claimed - t0
            );
        }
    }

    #[test]
    fn without_ageing_the_same_load_starves_it() {
        let starved = (1..20u64)
            .filter(|seed| simulate(*seed, 20, Duration::ZERO, 400).0.is_none())
            .count();
        assert_eq!(starved, 19, "the load starves every low task");
    }
}
