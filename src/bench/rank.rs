//! Rank error: how far a claim strayed from strict priority order.
//!
//! For each claim, the number of tasks that ranked higher (a lower
//! `priority_rank`, or the same rank and created earlier) and were
//! claimable at that moment (created, not yet claimed). A strict queue
//! scores 0 on every claim; a worker that picks at random from a stale
//! list scores more. Computed after the run from what the documents
//! recorded (create and claim times, rank), so the modes pay nothing for
//! it while they run.
//!
//! The producers create a fixed mix of priorities so that rank means
//! something: with every task `normal`, rank order would be creation
//! order only.

use super::stats::Percentiles;
use crate::model::{Priority, Task, Time};
use serde::Serialize;

/// The priority of the `i`-th benchmark task: 10 % critical, 20 % high,
/// 60 % normal, 10 % low, by index so every run and mode gets the same
/// tasks. Spread over each block of ten so any prefix has the same mix.
pub fn mixed_priority(i: usize) -> Priority {
    match i % 10 {
        3 => Priority::Critical,
        1 | 6 => Priority::High,
        9 => Priority::Low,
        _ => Priority::Normal,
    }
}

/// The priorities the producers give their tasks (`vayu bench --mix`).
#[derive(clap::ValueEnum, Serialize, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Mix {
    /// [`mixed_priority`]: rank order means something.
    Mixed,
    /// Every task normal: what a task costs without the critical ones,
    /// which every agent sees whatever its lanes, so that one waiting in
    /// a busy peer's lane is claimed at the first free slot anywhere.
    Normal,
}

impl Mix {
    pub fn as_str(self) -> &'static str {
        match self {
            Mix::Mixed => "mixed",
            Mix::Normal => "normal",
        }
    }

    pub fn priority(self, i: usize) -> Priority {
        match self {
            Mix::Mixed => mixed_priority(i),
            Mix::Normal => Priority::Normal,
        }
    }
}

/// The `i`-th benchmark task of `phase` with `mix`'s priority, like a
/// plain `vayu task create --priority …`.
pub fn mixed_task(i: usize, phase: &str, mix: Mix) -> crate::tasks::NewTask {
    let mut t = super::vayu::bench_task(i, phase);
    t.priority = mix.priority(i);
    t
}

/// What the rank error needs of one task, in microseconds since the
/// epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sample {
    pub rank: i64,
    pub created: i64,
    /// `None`: never claimed (still waiting at the end).
    pub claimed: Option<i64>,
}

impl Sample {
    /// From a task document: its rank, `created_at` and the claim's
    /// `assignment.assigned_at`. `None` without a creation time.
    pub fn of(task: &Task) -> Option<Sample> {
        let us = |t: Time| t.0.as_microsecond();
        Some(Sample {
            rank: task.priority_rank,
            created: us(task.created_at?),
            claimed: task.assignment.assigned_at.map(us),
        })
    }

    fn key(&self) -> (i64, i64) {
        (self.rank, self.created)
    }
}

/// For each claimed sample (in input order), how many higher-ranked
/// samples were waiting at its claim: created at or before it, and
/// claimed after it or never. Quadratic: a few thousand tasks take a few
/// million comparisons, once, after the run.
pub fn rank_errors(samples: &[Sample]) -> Vec<u64> {
    samples
        .iter()
        .filter_map(|c| {
            let at = c.claimed?;
            let waiting = samples
                .iter()
                .filter(|t| t.key() < c.key() && t.created <= at)
                .filter(|t| t.claimed.is_none_or(|tc| tc > at))
                .count();
            Some(waiting as u64)
        })
        .collect()
}

/// For each claimed sample, how many samples of a strictly better
/// priority were waiting at its claim: the part of the rank error that is
/// a priority inversion, not a loosened creation order within one
/// priority (vayu's agents choose among the 8 oldest of the best priority
/// on purpose, to spread agents over tasks: `assign::WINDOW`).
pub fn priority_inversions(samples: &[Sample]) -> Vec<u64> {
    samples
        .iter()
        .filter_map(|c| {
            let at = c.claimed?;
            let waiting = samples
                .iter()
                .filter(|t| t.rank < c.rank && t.created <= at)
                .filter(|t| t.claimed.is_none_or(|tc| tc > at))
                .count();
            Some(waiting as u64)
        })
        .collect()
}

/// The rank error's distribution over the claims of one mode.
#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq)]
pub struct RankError {
    pub claims: usize,
    pub p50: f64,
    pub p99: f64,
    pub max: f64,
    pub mean: f64,
    /// Claims that took a task while a higher-ranked one waited.
    pub out_of_order: usize,
    /// Claims that took a task while one of a strictly better priority
    /// waited, and the most such tasks at one claim.
    pub priority_inversions: usize,
    pub priority_inversion_max: u64,
}

impl RankError {
    /// `None` when nothing was claimed.
    pub fn of(samples: &[Sample]) -> Option<RankError> {
        let errors = rank_errors(samples);
        let inversions = priority_inversions(samples);
        let as_f64: Vec<f64> = errors.iter().map(|&e| e as f64).collect();
        let p = Percentiles::of(&as_f64)?;
        Some(RankError {
            claims: p.n,
            p50: p.p50,
            p99: p.p99,
            max: p.max,
            mean: (p.mean * 100.0).round() / 100.0,
            out_of_order: errors.iter().filter(|&&e| e > 0).count(),
            priority_inversions: inversions.iter().filter(|&&e| e > 0).count(),
            priority_inversion_max: inversions.iter().copied().max().unwrap_or(0),
        })
    }

    /// Of task documents (those without a creation time are left out).
    pub fn of_tasks<'a>(tasks: impl IntoIterator<Item = &'a Task>) -> Option<RankError> {
        let samples: Vec<Sample> = tasks.into_iter().filter_map(Sample::of).collect();
        RankError::of(&samples)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(rank: i64, created: i64, claimed: Option<i64>) -> Sample {
        Sample {
            rank,
            created,
            claimed,
        }
    }

    #[test]
    fn the_mix_is_ten_twenty_sixty_ten() {
        let mut n = [0; 4];
        for i in 0..100 {
            n[mixed_priority(i).rank() as usize] += 1;
        }
        assert_eq!(n, [10, 20, 60, 10]);
    }

    #[test]
    fn strict_order_scores_zero() {
        // Claimed in rank order, each after the previous.
        let v = [s(0, 10, Some(100)), s(1, 5, Some(110)), s(2, 1, Some(120))];
        assert_eq!(rank_errors(&v), vec![0, 0, 0]);
    }

    #[test]
    fn counts_higher_ranked_tasks_waiting_at_the_claim() {
        let v = [
            // Claimed first, while the two critical ones waited.
            s(2, 1, Some(100)),
            s(0, 5, Some(110)),
            s(0, 6, Some(120)),
            // Created after the first claim: it was not waiting then.
            s(0, 150, None),
            // Same rank, older: ranks higher than the second critical.
            s(3, 2, None),
        ];
        assert_eq!(rank_errors(&v), vec![2, 0, 0]);
        let e = RankError::of(&v).expect("three claims");
        assert_eq!((e.claims, e.max, e.out_of_order), (3, 2.0, 1));
        assert_eq!((e.priority_inversions, e.priority_inversion_max), (1, 2));
    }

    #[test]
    fn the_same_rank_orders_by_creation() {
        // The younger of two normal tasks taken first: one error.
        let v = [s(2, 1, Some(200)), s(2, 2, Some(100))];
        assert_eq!(rank_errors(&v), vec![0, 1]);
        assert_eq!(priority_inversions(&v), vec![0, 0], "not an inversion");
    }

    #[test]
    fn nothing_claimed_is_no_distribution() {
        assert!(RankError::of(&[s(0, 1, None)]).is_none());
        assert!(RankError::of(&[]).is_none());
    }
}
