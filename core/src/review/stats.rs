//! Review metrics for `vayu stats` (the seed's "first-time success" and
//! "user satisfaction"), computed from finished tasks and ratings.

use super::policy_of;
use crate::lifecycle::Status;
use crate::model::{ReviewStatus, Task};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A requester's 1–5 rating of a completed task: `ratings/{task_id}`,
/// given once (`vayu task rate`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rating {
    pub task_id: String,
    pub rating: i64,
    pub comment: String,
    /// The rater's uid.
    pub by: String,
    /// The server's time (None until written).
    pub at: Option<crate::time::Time>,
}

/// The bounds of a rating, as the rules have them.
pub const RATING_MIN: i64 = 1;
pub const RATING_MAX: i64 = 5;
pub const RATING_COMMENT_MAX: usize = 2_000;

/// A mean and how many values it is of.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Mean {
    pub mean: f64,
    pub n: usize,
}

impl Mean {
    fn of(values: &[f64]) -> Option<Mean> {
        (!values.is_empty()).then(|| Mean {
            mean: round2(values.iter().sum::<f64>() / values.len() as f64),
            n: values.len(),
        })
    }
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReviewStats {
    /// Finished tasks whose review decided them (passed, or failed after
    /// the last round).
    pub reviewed: usize,
    /// Of those, the share that passed their first review.
    pub first_time_success: Option<f64>,
    /// Of those, the share that went through at least one rework round.
    pub rework_rate: Option<f64>,
    /// Mean quality score of passed tasks, per task type.
    pub quality_by_type: BTreeMap<String, Mean>,
    /// Mean quality score of passed tasks, per agent that did the passing
    /// round's work.
    pub quality_by_agent: BTreeMap<String, Mean>,
    /// Mean requester rating.
    pub rating: Option<Mean>,
}

/// The metrics over `tasks` (any piles; only finished, reviewed ones
/// count) and `ratings`.
pub fn summarize(tasks: &[Task], ratings: &[Rating]) -> ReviewStats {
    let decided: Vec<&Task> = (tasks.iter())
        .filter(|t| matches!(t.status, Status::Completed | Status::Failed))
        .filter(|t| !policy_of(t).is_none())
        .filter(|t| {
            matches!(
                t.review.status,
                Some(ReviewStatus::Passed | ReviewStatus::Failed)
            )
        })
        .collect();
    let share = |pred: &dyn Fn(&Task) -> bool| {
        (!decided.is_empty()).then(|| {
            round2(decided.iter().filter(|t| pred(t)).count() as f64 / decided.len() as f64)
        })
    };
    let mut by_type: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    let mut by_agent: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    for t in decided.iter().filter(|t| t.status == Status::Completed) {
        let Some(q) = t.review.quality_score else {
            continue;
        };
        by_type.entry(t.task_type.to_string()).or_default().push(q);
        if let Some(agent) = &t.assignment.primary_agent {
            by_agent.entry(agent.clone()).or_default().push(q);
        }
    }
    let means = |m: BTreeMap<String, Vec<f64>>| {
        (m.into_iter())
            .filter_map(|(k, v)| Mean::of(&v).map(|m| (k, m)))
            .collect()
    };
    let rated: Vec<f64> = ratings.iter().map(|r| r.rating as f64).collect();
    ReviewStats {
        reviewed: decided.len(),
        first_time_success: share(&|t| t.status == Status::Completed && t.review.round == 0),
        rework_rate: share(&|t| t.review.round > 0),
        quality_by_type: means(by_type),
        quality_by_agent: means(by_agent),
        rating: Mean::of(&rated),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Priority, TaskType};

    fn reviewed(ty: TaskType, agent: &str, round: i64, passed: bool, q: Option<f64>) -> Task {
        let mut t = Task::new(ty, Priority::Normal, "t");
        t.status = if passed {
            Status::Completed
        } else {
            Status::Failed
        };
        t.review.policy = Some("user".into());
        t.review.round = round;
        t.review.status = Some(if passed {
            ReviewStatus::Passed
        } else {
            ReviewStatus::Failed
        });
        t.review.quality_score = q;
        t.assignment.primary_agent = Some(agent.into());
        t
    }

    fn rating(n: i64) -> Rating {
        Rating {
            task_id: "t".into(),
            rating: n,
            comment: String::new(),
            by: "p".into(),
            at: None,
        }
    }

    #[test]
    fn the_metrics_count_only_tasks_their_review_decided() {
        let mut unreviewed = Task::new(TaskType::Research, Priority::Normal, "t");
        unreviewed.status = Status::Completed;
        let mut waiting = reviewed(TaskType::Research, "a", 0, true, None);
        waiting.status = Status::Reviewing;
        let tasks = vec![
            reviewed(TaskType::Research, "a", 0, true, Some(4.0)),
            reviewed(TaskType::Research, "b", 1, true, Some(3.0)),
            reviewed(TaskType::Maintenance, "a", 0, true, Some(5.0)),
            reviewed(TaskType::Maintenance, "b", 2, false, None),
            unreviewed,
            waiting,
        ];
        let s = summarize(&tasks, &[rating(5), rating(4)]);
        assert_eq!(s.reviewed, 4);
        assert_eq!(s.first_time_success, Some(0.5));
        assert_eq!(s.rework_rate, Some(0.5));
        assert_eq!(s.quality_by_type["research"], Mean { mean: 3.5, n: 2 });
        assert_eq!(s.quality_by_type["maintenance"], Mean { mean: 5.0, n: 1 });
        assert_eq!(s.quality_by_agent["a"], Mean { mean: 4.5, n: 2 });
        assert_eq!(s.quality_by_agent["b"], Mean { mean: 3.0, n: 1 });
        assert_eq!(s.rating, Some(Mean { mean: 4.5, n: 2 }));
    }

    #[test]
    fn with_nothing_reviewed_the_rates_are_unknown_not_zero() {
        let s = summarize(&[], &[]);
        assert_eq!(
            (s.reviewed, s.first_time_success, s.rework_rate),
            (0, None, None)
        );
        assert!(s.quality_by_type.is_empty() && s.rating.is_none());
    }
}
