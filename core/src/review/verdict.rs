//! A verdict, the seed's four criteria, and where a task in review stands.
//!
//! Each required kind of review writes one verdict per round (the round is
//! the task's `review.round`, the rework rounds before it). A task passes review when
//! every kind its policy needs approved in this round; one rejection is
//! enough to send it back, so nobody waits on a verdict that cannot
//! change the outcome.

use super::policy::{ReviewKind, ReviewPolicy};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

/// The seed's review criteria (section 8).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Criterion {
    /// Does the output meet the requirements?
    Correctness,
    /// Were all subtasks done?
    Completeness,
    /// Code standards, documentation, testing.
    Quality,
    /// Execution time, resource use.
    Performance,
}

impl Criterion {
    pub const ALL: [Criterion; 4] = [
        Criterion::Correctness,
        Criterion::Completeness,
        Criterion::Quality,
        Criterion::Performance,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Criterion::Correctness => "correctness",
            Criterion::Completeness => "completeness",
            Criterion::Quality => "quality",
            Criterion::Performance => "performance",
        }
    }
}

impl fmt::Display for Criterion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The seed's scale: 0 (worst) to 5.
pub const SCORE_MAX: u8 = 5;

/// Scores per criterion, 0..=5 each; a reviewer may leave some out.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Scores(pub BTreeMap<Criterion, u8>);

impl FromStr for Scores {
    type Err = String;

    /// `correctness=4,completeness=5`, as `vayu task review --score`
    /// takes it. Each criterion once, each score an integer 0..=5.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut scores = BTreeMap::new();
        for pair in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (name, value) = pair
                .split_once('=')
                .ok_or_else(|| format!("'{pair}' is not criterion=score"))?;
            let criterion = Criterion::ALL
                .into_iter()
                .find(|c| c.as_str() == name.trim())
                .ok_or_else(|| {
                    format!(
                        "unknown criterion '{}' (valid: correctness, completeness, quality, performance)",
                        name.trim()
                    )
                })?;
            let score: u8 = (value.trim().parse().ok())
                .filter(|v| *v <= SCORE_MAX)
                .ok_or_else(|| format!("{criterion}: '{}' is not a score 0-5", value.trim()))?;
            if scores.insert(criterion, score).is_some() {
                return Err(format!("{criterion} is scored twice"));
            }
        }
        Ok(Scores(scores))
    }
}

/// How much each criterion counts in a task's quality score.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Weights {
    pub correctness: f64,
    pub completeness: f64,
    pub quality: f64,
    pub performance: f64,
}

impl Default for Weights {
    /// Correctness first: wrong output done fast and neatly is still
    /// wrong. Then completeness, then quality, then performance.
    fn default() -> Self {
        Weights {
            correctness: 0.4,
            completeness: 0.3,
            quality: 0.2,
            performance: 0.1,
        }
    }
}

impl Weights {
    fn of(&self, c: Criterion) -> f64 {
        let w = match c {
            Criterion::Correctness => self.correctness,
            Criterion::Completeness => self.completeness,
            Criterion::Quality => self.quality,
            Criterion::Performance => self.performance,
        };
        // A negative or NaN weight (a typo in a config) counts as zero
        // rather than turning the score negative or NaN.
        if w.is_finite() && w > 0.0 { w } else { 0.0 }
    }

    /// The weighted mean of `scores` over the criteria they cover (a
    /// reviewer who left performance out is not counted as scoring it 0),
    /// on the 0–5 scale, to two decimals. `None` with nothing to weigh.
    pub fn score(&self, scores: &Scores) -> Option<f64> {
        let (sum, weight) = (scores.0.iter()).fold((0.0, 0.0), |(s, w), (c, v)| {
            (s + self.of(*c) * f64::from(*v), w + self.of(*c))
        });
        (weight > 0.0).then(|| (sum / weight * 100.0).round() / 100.0)
    }
}

/// Approve or reject.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Approve,
    Reject,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Approve => "approve",
            Verdict::Reject => "reject",
        }
    }
}

/// One review's record: `reviews/{task_id}_{round}_{kind}`
/// ([`super::verdict_id`]), created once and never changed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VerdictRecord {
    pub task_id: String,
    pub kind: ReviewKind,
    /// The reviewer's uid (agent id or person).
    pub reviewer: String,
    pub verdict: Verdict,
    pub scores: Scores,
    pub comment: String,
    /// The task's `review.round` when the verdict was given.
    pub round: i64,
    /// The server's time of the verdict (None until written).
    pub at: Option<crate::time::Time>,
}

/// Where a task in review stands.
#[derive(Debug, Clone, PartialEq)]
pub enum Standing {
    /// These kinds have not given a verdict in this round yet.
    Pending { missing: Vec<ReviewKind> },
    /// Every required kind approved. `score`: the mean of the verdicts'
    /// quality scores, when any was scored.
    Approved { score: Option<f64> },
    /// At least one required kind rejected; the comments go to the rework.
    Rejected {
        by: Vec<ReviewKind>,
        comments: Vec<String>,
    },
}

/// The standing of a task under `policy` in round `round`, from every
/// verdict recorded for it. Verdicts of earlier rounds (before a rework)
/// and of kinds the policy does not need are left out; of two verdicts of
/// one kind in a round, the first stands (verdicts are append-only, and
/// the rules refuse a second).
pub fn standing(
    policy: ReviewPolicy,
    round: i64,
    verdicts: &[VerdictRecord],
    weights: &Weights,
) -> Standing {
    let mut first: BTreeMap<ReviewKind, &VerdictRecord> = BTreeMap::new();
    for v in verdicts
        .iter()
        .filter(|v| v.round == round && policy.needs(v.kind))
    {
        first.entry(v.kind).or_insert(v);
    }
    let rejected: Vec<&VerdictRecord> = (first.values().copied())
        .filter(|v| v.verdict == Verdict::Reject)
        .collect();
    if !rejected.is_empty() {
        return Standing::Rejected {
            by: rejected.iter().map(|v| v.kind).collect(),
            comments: (rejected.iter().filter(|v| !v.comment.is_empty()))
                .map(|v| format!("{} review by {}: {}", v.kind, v.reviewer, v.comment))
                .collect(),
        };
    }
    let missing: Vec<ReviewKind> = policy.kinds().filter(|k| !first.contains_key(k)).collect();
    if !missing.is_empty() {
        return Standing::Pending { missing };
    }
    let scored: Vec<f64> = first
        .values()
        .filter_map(|v| weights.score(&v.scores))
        .collect();
    let score = (!scored.is_empty())
        .then(|| (scored.iter().sum::<f64>() / scored.len() as f64 * 100.0).round() / 100.0);
    Standing::Approved { score }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ReviewKind::*;

    fn verdict(kind: ReviewKind, verdict: Verdict, scores: &str, round: i64) -> VerdictRecord {
        VerdictRecord {
            task_id: "t1".into(),
            kind,
            reviewer: format!("{kind}-reviewer"),
            verdict,
            scores: scores.parse().expect("valid scores"),
            comment: format!("{kind} says {verdict:?}"),
            round,
            at: None,
        }
    }

    #[test]
    fn scores_parse_as_the_cli_takes_them() {
        let s: Scores = "correctness=4, completeness=5".parse().expect("valid");
        assert_eq!(s.0.get(&Criterion::Correctness), Some(&4));
        assert_eq!(s.0.len(), 2);
        assert_eq!("".parse::<Scores>(), Ok(Scores::default()));
        let err = |t: &str| t.parse::<Scores>().expect_err(t);
        assert!(err("correctness=6").contains("not a score 0-5"));
        assert!(err("correctness=-1").contains("not a score"));
        assert!(err("correctness=4.5").contains("not a score"));
        assert!(err("speed=3").contains("unknown criterion 'speed'"));
        assert!(err("quality=3,quality=4").contains("twice"));
        assert!(err("quality").contains("criterion=score"));
    }

    #[test]
    fn the_quality_score_weighs_only_what_was_scored() {
        let w = Weights::default();
        let all5: Scores = "correctness=5,completeness=5,quality=5,performance=5"
            .parse()
            .expect("valid scores");
        assert_eq!(w.score(&all5), Some(5.0));
        // 0.4*5 + 0.1*0 over 0.5 = 4.0
        let two: Scores = "correctness=5,performance=0".parse().expect("valid scores");
        assert_eq!(w.score(&two), Some(4.0));
        assert_eq!(w.score(&Scores::default()), None);
        let broken = Weights {
            correctness: f64::NAN,
            completeness: -1.0,
            quality: 0.0,
            performance: 0.0,
        };
        assert_eq!(
            broken.score(&all5),
            None,
            "no usable weight: no score, not NaN"
        );
    }

    #[test]
    fn a_task_passes_when_every_required_kind_approved_in_this_round() {
        let policy = ReviewPolicy::of(&[Peer, User]);
        let w = Weights::default();
        let peer_ok = verdict(Peer, Verdict::Approve, "correctness=4", 3);
        assert_eq!(
            standing(policy, 3, std::slice::from_ref(&peer_ok), &w),
            Standing::Pending {
                missing: vec![User]
            }
        );
        let user_ok = verdict(User, Verdict::Approve, "correctness=2", 3);
        assert_eq!(
            standing(policy, 3, &[peer_ok.clone(), user_ok], &w),
            Standing::Approved { score: Some(3.0) }
        );
        let stale_user = verdict(User, Verdict::Approve, "", 2);
        assert_eq!(
            standing(policy, 3, &[peer_ok, stale_user], &w),
            Standing::Pending {
                missing: vec![User]
            },
            "a verdict of an earlier round does not count"
        );
    }

    #[test]
    fn one_rejection_is_enough_and_its_comment_goes_to_the_rework() {
        let policy = ReviewPolicy::of(&[Peer, User, Tests]);
        let got = standing(
            policy,
            1,
            &[
                verdict(Tests, Verdict::Reject, "", 1),
                verdict(SelfCheck, Verdict::Reject, "", 1),
            ],
            &Weights::default(),
        );
        assert_eq!(
            got,
            Standing::Rejected {
                by: vec![Tests],
                comments: vec!["tests review by tests-reviewer: tests says Reject".into()]
            }
        );
    }

    #[test]
    fn the_first_verdict_of_a_kind_stands_and_unrequired_kinds_are_ignored() {
        let policy = ReviewPolicy::of(&[Peer]);
        let w = Weights::default();
        let got = standing(
            policy,
            1,
            &[
                verdict(Peer, Verdict::Approve, "quality=5", 1),
                verdict(Peer, Verdict::Reject, "", 1),
                verdict(User, Verdict::Reject, "", 1),
            ],
            &w,
        );
        assert_eq!(got, Standing::Approved { score: Some(5.0) });
        assert_eq!(
            standing(ReviewPolicy::NONE, 1, &[], &w),
            Standing::Approved { score: None }
        );
    }
}
