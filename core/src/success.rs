//! The seed's success metrics (`vayu stats`), from tasks that ended in a
//! window: throughput, how long a task waits to be assigned and to be
//! resolved, completion and error rates, and how evenly the agents carried
//! the load. Pure: the caller reads the tasks and the queue's depth.

use crate::lifecycle::Status;
use crate::model::{Task, Time, millis_between};
use serde::Serialize;
use std::collections::BTreeMap;

/// The metrics over one window.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Success {
    pub window_hours: f64,
    /// Tasks that ended in the window, by how.
    pub ended: usize,
    pub completed: usize,
    pub failed: usize,
    pub cancelled: usize,
    pub skipped: usize,
    pub completed_per_hour: f64,
    /// Completed (or failed) over those that ran to an end, cancelled and
    /// skipped left out: a person's choice is not the fleet's failure.
    pub completion_rate: Option<f64>,
    pub error_rate: Option<f64>,
    /// From creation to the first assignment, in seconds.
    pub to_assignment: Option<Spread>,
    /// From creation to the end, in seconds.
    pub to_resolution: Option<Spread>,
    /// Tasks each agent ended, and how unevenly: the coefficient of
    /// variation (0 is perfectly even).
    pub by_agent: BTreeMap<String, usize>,
    pub load_spread: Option<f64>,
}

/// A distribution's middle and tail.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Spread {
    pub p50: f64,
    pub p90: f64,
    pub max: f64,
    pub n: usize,
}

impl Spread {
    pub fn of(mut xs: Vec<f64>) -> Option<Spread> {
        if xs.is_empty() {
            return None;
        }
        xs.sort_by(f64::total_cmp);
        let at = |q: f64| xs[((xs.len() - 1) as f64 * q).round() as usize];
        Some(Spread {
            p50: at(0.5),
            p90: at(0.9),
            max: xs[xs.len() - 1],
            n: xs.len(),
        })
    }
}

/// The metrics of `tasks` that ended after `since`, up to `now`.
pub fn measure(tasks: &[Task], since: Time, now: Time) -> Success {
    let ended: Vec<&Task> = (tasks.iter())
        .filter(|t| t.status.is_terminal())
        .filter(|t| ended_at(t).is_some_and(|e| e >= since && e <= now))
        .collect();
    let count = |s: Status| ended.iter().filter(|t| t.status == s).count();
    let (completed, failed) = (count(Status::Completed), count(Status::Failed));
    let hours = (millis_between(since, now).max(1) as f64) / 3_600_000.0;
    let ran = completed + failed;
    let rate = |n: usize| (ran > 0).then(|| n as f64 / ran as f64);
    let secs = |a: Option<Time>, b: Option<Time>| match (a, b) {
        (Some(a), Some(b)) => Some(millis_between(a, b).max(0) as f64 / 1000.0),
        _ => None,
    };
    let to_assignment = (ended.iter())
        .filter_map(|t| secs(t.created_at, t.assignment.assigned_at))
        .collect();
    let to_resolution = (ended.iter())
        .filter_map(|t| secs(t.created_at, ended_at(t)))
        .collect();
    let mut by_agent: BTreeMap<String, usize> = BTreeMap::new();
    for t in &ended {
        if let Some(a) = &t.assignment.primary_agent {
            *by_agent.entry(a.clone()).or_default() += 1;
        }
    }
    Success {
        window_hours: hours,
        ended: ended.len(),
        completed,
        failed,
        cancelled: count(Status::Cancelled),
        skipped: count(Status::Skipped),
        completed_per_hour: completed as f64 / hours,
        completion_rate: rate(completed),
        error_rate: rate(failed),
        to_assignment: Spread::of(to_assignment),
        to_resolution: Spread::of(to_resolution),
        load_spread: variation(by_agent.values().map(|n| *n as f64).collect()),
        by_agent,
    }
}

/// When a task ended: its run's end, else its last recorded change.
fn ended_at(t: &Task) -> Option<Time> {
    t.execution.finished_at.or(t.updated_at)
}

/// The coefficient of variation (standard deviation over mean); `None`
/// for fewer than two agents.
fn variation(xs: Vec<f64>) -> Option<f64> {
    if xs.len() < 2 {
        return None;
    }
    let mean = xs.iter().sum::<f64>() / xs.len() as f64;
    let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / xs.len() as f64;
    (mean > 0.0).then(|| var.sqrt() / mean)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Priority, TaskType};

    fn at(secs: i64) -> Time {
        Time(jiff::Timestamp::from_second(1_800_000_000 + secs).unwrap_or_default())
    }

    fn ended(status: Status, created: i64, assigned: i64, end: i64, agent: &str) -> Task {
        let mut t = Task::new(TaskType::Research, Priority::Normal, "t");
        t.status = status;
        t.created_at = Some(at(created));
        t.assignment.assigned_at = Some(at(assigned));
        t.assignment.primary_agent = Some(agent.into());
        t.execution.finished_at = Some(at(end));
        t
    }

    #[test]
    fn rates_throughput_latency_and_load_over_the_window() {
        let tasks = vec![
            ended(Status::Completed, 0, 2, 10, "a"),
            ended(Status::Completed, 0, 4, 20, "a"),
            ended(Status::Completed, 0, 6, 30, "b"),
            ended(Status::Failed, 0, 8, 40, "b"),
            ended(Status::Cancelled, 0, 0, 50, "c"),
            // Before the window: left out.
            ended(Status::Completed, -9_000, -8_000, -7_200, "a"),
            // Not ended: left out.
            Task::new(TaskType::Research, Priority::Normal, "open"),
        ];
        let s = measure(&tasks, at(0), at(3_600));
        assert_eq!((s.ended, s.completed, s.failed, s.cancelled), (5, 3, 1, 1));
        assert_eq!(s.completed_per_hour, 3.0);
        assert_eq!(
            s.completion_rate,
            Some(0.75),
            "cancelled is not counted as run"
        );
        assert_eq!(s.error_rate, Some(0.25));
        let assign = s.to_assignment.expect("assignments");
        assert_eq!((assign.p50, assign.max, assign.n), (4.0, 8.0, 5));
        assert_eq!(s.to_resolution.map(|r| r.p90), Some(50.0));
        assert_eq!(s.by_agent.get("a"), Some(&2));
        // 2, 2, 1: mean 5/3, cv = 0.2828…
        let cv = s.load_spread.expect("three agents");
        assert!((cv - 0.2828).abs() < 1e-3, "{cv}");
    }

    #[test]
    fn an_empty_window_has_no_rates() {
        let s = measure(&[], at(0), at(3_600));
        assert_eq!(
            (s.ended, s.completion_rate, s.to_assignment),
            (0, None, None)
        );
        assert_eq!(s.load_spread, None);
    }
}
