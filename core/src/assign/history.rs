//! Learning from history (the seed's "Phase 3: Intelligence"): for each
//! agent and task type, a few bounded numbers that say how that agent
//! does on that type. They feed phase 4 of the scoring
//! ([`super::score::specialisation`]) and the estimate `vayu task create`
//! fills in when the user gave none.
//!
//! Stored as `agents/{agent_id}/metrics/{task_type}` (the seed's
//! `agents.metrics`), one small document per type, written only by that
//! agent after each end of a run it recorded (`src/history.rs`); the
//! rules check its shape and these bounds (`isAgentMetrics`).
//!
//! Why EWMA and counts rather than a list of past runs: the document
//! stays the same size forever, an update needs only the document itself,
//! and recent runs weigh more than old ones (an agent's handler or machine
//! changes).

use crate::model::{TaskType, Time, limits, millis_between, time_add};
use serde::{Deserialize, Serialize};

/// How much one new sample moves an average: 0.2, so the last five or so
/// runs carry most of the weight.
pub const ALPHA: f64 = 0.2;

/// The counts' ceiling: a count saturates there (the rules' bound too).
pub const COUNT_MAX: i64 = 1_000_000_000;

/// One agent's statistics for one task type: the metrics document.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Stats {
    pub agent_id: String,
    pub task_type: TaskType,
    /// Runs whose handler succeeded (completed, or handed to review).
    pub completed: i64,
    /// Tasks that failed for good on this agent (their last attempt).
    pub failed: i64,
    /// Failed attempts that were queued again for a retry.
    pub retries: i64,
    /// EWMA of a successful run's duration, in minutes; absent before the
    /// first success.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duration_ewma: Option<f64>,
    /// EWMA of the review quality score (0–5), absent before the first.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quality_ewma: Option<f64>,
    /// How many quality scores went into `quality_ewma`.
    pub quality_n: i64,
    /// The task whose review score was folded in last
    /// ([`Stats::with_quality`]): the same task is not counted twice.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_quality_task: Option<String>,
}

/// How one run ended, as the agent that ran it saw it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Sample {
    /// The handler succeeded after `minutes`; `quality` when the end
    /// carried a review's score.
    Succeeded { minutes: f64, quality: Option<f64> },
    /// The attempt failed and the task was queued again.
    Retried,
    /// The attempt failed and the task failed for good.
    Failed,
}

fn ewma(old: Option<f64>, sample: f64) -> f64 {
    match old {
        Some(old) if old.is_finite() => old + ALPHA * (sample - old),
        _ => sample,
    }
}

fn bump(n: i64) -> i64 {
    n.saturating_add(1).clamp(0, COUNT_MAX)
}

impl Stats {
    /// Empty statistics for `agent_id` and `task_type`.
    pub fn new(agent_id: &str, task_type: TaskType) -> Stats {
        Stats {
            agent_id: agent_id.to_string(),
            task_type,
            ..Stats::default()
        }
    }

    /// The statistics after `sample`. Total: a duration or score out of
    /// range (a clock jump, a NaN) is clamped into the bounds the rules
    /// keep, or ignored when it is not a number.
    pub fn update(&self, sample: Sample) -> Stats {
        let mut next = self.clone();
        match sample {
            Sample::Succeeded { minutes, quality } => {
                next.completed = bump(self.completed);
                if minutes.is_finite() {
                    let m = minutes.clamp(0.0, limits::ACTUAL_MINUTES_MAX);
                    next.duration_ewma = Some(ewma(self.duration_ewma, m));
                }
                if let Some(q) = quality.filter(|q| q.is_finite()) {
                    let q = q.clamp(0.0, limits::QUALITY_MAX);
                    next.quality_ewma = Some(ewma(self.quality_ewma, q));
                    next.quality_n = bump(self.quality_n);
                }
            }
            Sample::Retried => next.retries = bump(self.retries),
            Sample::Failed => next.failed = bump(self.failed),
        }
        next
    }

    /// The statistics with the review score `q` of `task_id` folded into
    /// the quality EWMA, as the reviewer that passed the task writes them
    /// (`src/history.rs fold_quality`); `None` when that task was the last
    /// one folded, or `q` is not a number. The new average lies between
    /// the old one and `q`, which is what firestore.rules checks.
    pub fn with_quality(&self, task_id: &str, q: f64) -> Option<Stats> {
        if !q.is_finite() || self.last_quality_task.as_deref() == Some(task_id) {
            return None;
        }
        let q = q.clamp(0.0, limits::QUALITY_MAX);
        let mut next = self.clone();
        next.quality_ewma = Some(ewma(self.quality_ewma, q));
        next.quality_n = bump(self.quality_n);
        next.last_quality_task = Some(task_id.to_string());
        Some(next)
    }

    /// Runs recorded: successes, retried failures and final failures.
    pub fn attempts(&self) -> i64 {
        self.completed
            .saturating_add(self.retries)
            .saturating_add(self.failed)
    }

    /// The share of attempts that succeeded, with one imagined success and
    /// one imagined failure added (Laplace's rule), so that an agent with
    /// no history scores 0.5 and one lucky run does not score 1.
    pub fn success_rate(&self) -> f64 {
        (self.completed as f64 + 1.0) / (self.attempts() as f64 + 2.0)
    }
}

/// The estimate for a task of one type from the statistics of the agents
/// that could run it: the mean of their duration EWMAs, in minutes, capped
/// at the rules' bound for an estimate; `None` without any history.
pub fn estimate<'a>(stats: impl IntoIterator<Item = &'a Stats>) -> Option<f64> {
    let known: Vec<f64> = stats
        .into_iter()
        .filter_map(|s| s.duration_ewma)
        .filter(|m| m.is_finite() && *m >= 0.0)
        .collect();
    (!known.is_empty()).then(|| {
        let mean = known.iter().sum::<f64>() / known.len() as f64;
        mean.min(limits::ESTIMATE_MINUTES_MAX)
    })
}

/// The timeout, in seconds, to store beside an estimate taken from
/// history when the user gave none: twice the estimate (what
/// `Task::timeout` derives from an estimate), but never less than the
/// hour a task without an estimate gets. A history of quick runs must not
/// make the next, slower one time out after seconds.
pub fn timeout_for_estimate(minutes: f64) -> i64 {
    const HOUR: f64 = 3600.0;
    let secs = if minutes.is_finite() {
        (minutes * 120.0).ceil()
    } else {
        HOUR
    };
    (secs.max(HOUR) as i64).min(limits::TIMEOUT_SECS_MAX)
}

/// When a run that started at `started` should end, seen at `now` with
/// `progress` percent done: the time so far stretched to the whole
/// (linear), once the handler has reported enough (5 %) for that to mean
/// something; before that the task's estimate (`estimate_minutes`, from
/// history or its creator); `None` when neither is known. Never before
/// `now`: a run past its estimate is due now, not in the past.
pub fn eta(started: Time, now: Time, progress: i64, estimate_minutes: Option<f64>) -> Option<Time> {
    let elapsed = millis_between(started, now).max(0) as f64;
    let total_ms = match progress.clamp(0, 100) {
        100 => elapsed,
        p if p >= 5 => elapsed * 100.0 / p as f64,
        _ => estimate_minutes.filter(|m| m.is_finite() && *m >= 0.0)? * 60_000.0,
    };
    let total = std::time::Duration::from_millis(total_ms.min(1e15) as u64);
    Some(time_add(started, total).max(now))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(minutes: f64) -> Sample {
        Sample::Succeeded {
            minutes,
            quality: None,
        }
    }

    #[test]
    fn the_first_sample_sets_the_average_and_later_ones_move_it_by_alpha() {
        let s = Stats::new("a", TaskType::Research).update(ok(10.0));
        assert_eq!(s.duration_ewma, Some(10.0));
        let s = s.update(ok(20.0));
        assert!((s.duration_ewma.expect("set") - 12.0).abs() < 1e-9);
        assert_eq!((s.completed, s.failed, s.retries), (2, 0, 0));
    }

    #[test]
    fn failures_and_retries_are_counted_apart_and_leave_the_averages() {
        let s = Stats::new("a", TaskType::Research)
            .update(ok(1.0))
            .update(Sample::Retried)
            .update(Sample::Retried)
            .update(Sample::Failed);
        assert_eq!((s.completed, s.retries, s.failed), (1, 2, 1));
        assert_eq!(s.duration_ewma, Some(1.0));
        assert_eq!(s.attempts(), 4);
        assert!((s.success_rate() - 2.0 / 6.0).abs() < 1e-9);
        assert_eq!(Stats::new("b", TaskType::Research).success_rate(), 0.5);
    }

    #[test]
    fn quality_is_averaged_only_when_a_score_comes() {
        let s = Stats::new("a", TaskType::Research)
            .update(Sample::Succeeded {
                minutes: 1.0,
                quality: Some(4.0),
            })
            .update(ok(1.0))
            .update(Sample::Succeeded {
                minutes: 1.0,
                quality: Some(9.0),
            });
        assert_eq!(s.quality_n, 2);
        assert!(
            (s.quality_ewma.expect("set") - 4.2).abs() < 1e-9,
            "9 is clamped to 5"
        );
    }

    #[test]
    fn bad_numbers_are_clamped_or_ignored_and_counts_saturate() {
        let s = Stats::new("a", TaskType::Research)
            .update(ok(f64::NAN))
            .update(ok(-3.0));
        assert_eq!(s.duration_ewma, Some(0.0));
        let s = s.update(ok(1e300));
        assert!(s.duration_ewma.expect("set") <= limits::ACTUAL_MINUTES_MAX);
        let mut full = Stats::new("a", TaskType::Research);
        full.failed = COUNT_MAX;
        assert_eq!(full.update(Sample::Failed).failed, COUNT_MAX);
    }

    #[test]
    fn the_estimate_is_the_mean_of_what_is_known() {
        let a = Stats::new("a", TaskType::Research).update(ok(2.0));
        let b = Stats::new("b", TaskType::Research).update(ok(4.0));
        let none = Stats::new("c", TaskType::Research).update(Sample::Failed);
        assert_eq!(estimate([&a, &b, &none]), Some(3.0));
        assert_eq!(estimate([&none]), None);
        assert_eq!(estimate([]), None);
    }

    #[test]
    fn a_timeout_beside_an_estimate_is_never_shorter_than_the_default() {
        assert_eq!(timeout_for_estimate(0.01), 3600);
        assert_eq!(timeout_for_estimate(45.0), 5400);
        assert_eq!(timeout_for_estimate(1e9), limits::TIMEOUT_SECS_MAX);
        assert_eq!(timeout_for_estimate(f64::NAN), 3600);
    }

    #[test]
    fn the_document_omits_what_is_unknown() {
        let v = serde_json::to_value(Stats::new("a", TaskType::Research)).expect("serializes");
        assert_eq!(v["task_type"], "research");
        assert!(v.get("duration_ewma").is_none() && v.get("quality_ewma").is_none());
    }

    #[test]
    fn the_eta_stretches_the_time_so_far_or_falls_back_to_the_estimate() {
        use std::time::Duration;
        let t0 = crate::model::now();
        let at = |secs: u64| time_add(t0, Duration::from_secs(secs));
        assert_eq!(
            eta(t0, at(30), 50, None),
            Some(at(60)),
            "half done after 30 s"
        );
        assert_eq!(
            eta(t0, at(10), 25, Some(1.0)),
            Some(at(40)),
            "progress wins"
        );
        assert_eq!(
            eta(t0, at(10), 2, Some(2.0)),
            Some(at(120)),
            "too little: the estimate"
        );
        assert_eq!(eta(t0, at(10), 0, None), None, "nothing known");
        assert_eq!(
            eta(t0, at(200), 0, Some(1.0)),
            Some(at(200)),
            "overdue is now"
        );
        assert_eq!(eta(t0, at(7), 100, None), Some(at(7)));
    }

    #[test]
    fn a_review_score_is_folded_once_per_task() {
        let s = Stats::new("a", TaskType::Research);
        let one = s.with_quality("t1", 4.0).expect("a first score");
        assert_eq!((one.quality_ewma, one.quality_n), (Some(4.0), 1));
        assert_eq!(one.with_quality("t1", 1.0), None, "the same task twice");
        let two = one.with_quality("t2", 2.0).expect("another task");
        let q = two.quality_ewma.expect("set");
        assert!((q - 3.6).abs() < 1e-9 && (2.0..=4.0).contains(&q), "{q}");
        assert_eq!(two.quality_n, 2);
        assert_eq!(s.with_quality("t3", f64::NAN), None);
        let capped = s.with_quality("t4", 9.0).expect("clamped");
        assert_eq!(capped.quality_ewma, Some(limits::QUALITY_MAX));
    }
}
