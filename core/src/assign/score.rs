//! Phases 2 to 5 of the seed's assignment (section 3): availability, load,
//! specialisation and the decision, each a pure function of what the
//! caller read (the agents' documents, their running tasks' complexity,
//! their [`Stats`] for the task's type). Phase 1 is [`super::capability`].
//!
//! The score of an available, capable agent for a task:
//!
//! ```text
//! score = success × success_rate          (Stats::success_rate, 0..1)
//!       + speed   × fastest / its duration (1 for the fastest; 0.5 unknown)
//!       + quality × quality_ewma / 5       (0.5 unknown)
//!       − load    × Σ complexity weights of its running tasks / concurrency
//! ```
//!
//! The highest score wins; equal scores go to the agent the rendezvous
//! hash of (agent, task) ranks first, so every caller that sees the same
//! fleet reaches the same answer without talking to the others.

use super::capability::{Offer, waiting_reason};
use super::history::Stats;
use crate::model::{AgentState, Complexity, Task};
use crate::spread::affinity;
use serde::{Deserialize, Serialize};
use std::cmp::Ordering;

/// The scoring weights. A project may set any of them (JSON or TOML with
/// these names, missing ones take the defaults); they are documented in the
/// README, "Assignment".
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Weights {
    /// Running load, as a share of the agent's slots (default 1.0): an
    /// idle agent beats a half-busy one by half a point.
    pub load: f64,
    /// Success rate on the type (default 1.0).
    pub success: f64,
    /// Speed on the type relative to the fastest candidate (default 0.5).
    pub speed: f64,
    /// Review quality on the type (default 0.5).
    pub quality: f64,
    /// How much of a slot a running task of each complexity takes
    /// (defaults 1, 2, 4: the seed's "task complexity weighting").
    pub simple: f64,
    pub moderate: f64,
    pub complex: f64,
}

impl Default for Weights {
    fn default() -> Self {
        Weights {
            load: 1.0,
            success: 1.0,
            speed: 0.5,
            quality: 0.5,
            simple: 1.0,
            moderate: 2.0,
            complex: 4.0,
        }
    }
}

impl Weights {
    fn of(&self, c: Complexity) -> f64 {
        match c {
            Complexity::Simple => self.simple,
            Complexity::Moderate => self.moderate,
            Complexity::Complex => self.complex,
        }
    }
}

/// One agent as the scorer sees it.
#[derive(Debug, Clone)]
pub struct Candidate {
    pub offer: Offer,
    /// Its effective state (a silent agent is offline, see
    /// `src/render.rs effective_state`).
    pub state: AgentState,
    pub concurrency: i64,
    /// Shutting down: it finishes what it runs but takes nothing new.
    pub draining: bool,
    /// The complexity of each task it runs.
    pub running: Vec<Complexity>,
    /// Its history for the task's type, if any.
    pub stats: Option<Stats>,
}

/// Phase 2: online (or busy), a free slot, not draining.
pub fn available(c: &Candidate) -> bool {
    c.state != AgentState::Offline && !c.draining && (c.running.len() as i64) < c.concurrency
}

/// Phase 3: the running tasks' complexity weights over the agent's slots
/// (0 idle; 1 every slot busy with a simple task).
pub fn load(running: &[Complexity], concurrency: i64, w: &Weights) -> f64 {
    running.iter().map(|c| w.of(*c)).sum::<f64>() / concurrency.max(1) as f64
}

/// Phase 4: how well the agent does on the type, from its statistics;
/// `fastest` is the lowest duration EWMA among the candidates. Without
/// history each part is neutral (0.5), so a new agent is neither shunned
/// nor preferred.
pub fn specialisation(stats: Option<&Stats>, fastest: Option<f64>, w: &Weights) -> f64 {
    let success = stats.map_or(0.5, Stats::success_rate);
    let speed = match (stats.and_then(|s| s.duration_ewma), fastest) {
        (Some(d), Some(f)) if d > 0.0 => (f / d).clamp(0.0, 1.0),
        (Some(_), Some(_)) => 1.0,
        _ => 0.5,
    };
    let quality = stats.and_then(|s| s.quality_ewma).map_or(0.5, |q| {
        (q / crate::model::limits::QUALITY_MAX).clamp(0.0, 1.0)
    });
    w.success * success + w.speed * speed + w.quality * quality
}

/// An agent's whole score for a task (phases 3 and 4).
pub fn score(c: &Candidate, fastest: Option<f64>, w: &Weights) -> f64 {
    specialisation(c.stats.as_ref(), fastest, w) - w.load * load(&c.running, c.concurrency, w)
}

/// Who runs a task: the primary agent, and the team in order (the primary
/// first; just the primary when one agent was asked for).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub primary: String,
    pub team: Vec<String>,
}

/// Phase 5: the best `team_size` (at least 1) distinct capable, available
/// agents for `task`, best first. Fewer when fewer are available (the
/// caller decides whether a short team will do). `Err` says why nobody
/// is: phase 1's reason ("no live agent offers gpu") when no live agent
/// could ever run it, else that every capable one is busy or draining.
pub fn decide(
    task: &Task,
    candidates: &[Candidate],
    team_size: usize,
    w: &Weights,
) -> Result<Decision, String> {
    let live: Vec<Offer> = (candidates.iter())
        .filter(|c| c.state != AgentState::Offline)
        .map(|c| c.offer.clone())
        .collect();
    if let Some(why) = waiting_reason(task, &live) {
        return Err(why);
    }
    let mut pool: Vec<&Candidate> = (candidates.iter())
        .filter(|c| c.offer.could_claim(task) && available(c))
        .collect();
    if pool.is_empty() {
        return Err("every capable agent is busy or draining".into());
    }
    let fastest = (pool.iter())
        .filter_map(|c| c.stats.as_ref()?.duration_ewma)
        .min_by(f64::total_cmp);
    let key = |c: &Candidate| {
        (
            score(c, fastest, w),
            affinity(&c.offer.agent_id, &task.task_id),
        )
    };
    pool.sort_by(|a, b| {
        let (ka, kb) = (key(a), key(b));
        (kb.0.total_cmp(&ka.0))
            .then(kb.1.cmp(&ka.1))
            .then(Ordering::Equal)
    });
    let mut team: Vec<String> = Vec::new();
    for c in pool {
        if team.len() == team_size.max(1) {
            break;
        }
        if !team.contains(&c.offer.agent_id) {
            team.push(c.offer.agent_id.clone());
        }
    }
    Ok(Decision {
        // The pool is not empty (checked above) and the loop takes its
        // first agent before any limit, so the team has one.
        primary: team[0].clone(),
        team,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::assign::history::Sample;
    use crate::model::{Priority, TaskType};

    fn cand(id: &str, caps: &[&str]) -> Candidate {
        Candidate {
            offer: Offer {
                agent_id: id.into(),
                capabilities: caps.iter().map(|s| s.to_string()).collect(),
                handles: None,
            },
            state: AgentState::Online,
            concurrency: 4,
            draining: false,
            running: vec![],
            stats: None,
        }
    }

    fn research() -> Task {
        Task::new(TaskType::Research, Priority::Normal, "t")
    }

    fn history(id: &str, minutes: f64, ok: usize, failed: usize) -> Stats {
        let mut s = Stats::new(id, TaskType::Research);
        for _ in 0..ok {
            s = s.update(Sample::Succeeded {
                minutes,
                quality: None,
            });
        }
        for _ in 0..failed {
            s = s.update(Sample::Retried);
        }
        s
    }

    #[test]
    fn availability_wants_online_a_free_slot_and_no_draining() {
        let mut c = cand("a", &[]);
        assert!(available(&c));
        c.state = AgentState::Busy;
        assert!(available(&c), "busy with a free slot is available");
        c.running = vec![Complexity::Simple; 4];
        assert!(!available(&c), "no free slot");
        c.running.clear();
        c.draining = true;
        assert!(!available(&c));
        c.draining = false;
        c.state = AgentState::Offline;
        assert!(!available(&c));
    }

    #[test]
    fn load_weighs_complexity_per_slot() {
        let w = Weights::default();
        assert_eq!(load(&[], 4, &w), 0.0);
        assert_eq!(
            load(&[Complexity::Simple, Complexity::Complex], 4, &w),
            1.25
        );
        assert_eq!(
            load(&[Complexity::Moderate], 0, &w),
            2.0,
            "no slots counts as one"
        );
    }

    #[test]
    fn specialisation_prefers_success_speed_and_quality_and_is_neutral_without_history() {
        let w = Weights::default();
        let neutral = specialisation(None, None, &w);
        assert_eq!(neutral, 0.5 + 0.25 + 0.25);
        let good = history("a", 2.0, 8, 0);
        let slow = history("b", 8.0, 8, 0);
        let flaky = history("c", 2.0, 2, 6);
        let s = |st: &Stats| specialisation(Some(st), Some(2.0), &w);
        assert!(
            s(&good) > s(&slow) && s(&slow) > s(&flaky),
            "speed, then success"
        );
        assert!(s(&good) > neutral);
        let mut rated = good.clone();
        rated.quality_ewma = Some(5.0);
        assert!(s(&rated) > s(&good));
    }

    #[test]
    fn the_decision_takes_the_best_score_and_explains_an_empty_field() {
        let w = Weights::default();
        let mut t = research();
        t.requires = vec!["gpu".into()];
        let mut busy = cand("busy", &["gpu"]);
        busy.running = vec![Complexity::Complex];
        let idle = cand("idle", &["gpu"]);
        let plain = cand("plain", &[]);
        let d = decide(&t, &[busy.clone(), idle.clone(), plain.clone()], 1, &w).expect("one fits");
        assert_eq!(
            d,
            Decision {
                primary: "idle".into(),
                team: vec!["idle".into()]
            }
        );
        assert_eq!(
            decide(&t, std::slice::from_ref(&plain), 1, &w),
            Err("no live agent offers gpu".into()),
            "phase 1's reason, the same words as task status"
        );
        let mut off = idle.clone();
        off.state = AgentState::Offline;
        assert_eq!(
            decide(&t, &[off, plain], 1, &w),
            Err("no live agent offers gpu".into())
        );
        busy.running = vec![Complexity::Simple; 4];
        assert_eq!(
            decide(&t, &[busy], 1, &w),
            Err("every capable agent is busy or draining".into())
        );
    }

    #[test]
    fn history_outweighs_a_little_load() {
        let w = Weights::default();
        let mut expert = cand("expert", &[]);
        expert.stats = Some(history("expert", 1.0, 20, 0));
        expert.running = vec![Complexity::Simple];
        let mut novice = cand("novice", &[]);
        novice.stats = Some(history("novice", 10.0, 2, 5));
        let d = decide(&research(), &[novice, expert], 1, &w).expect("both fit");
        assert_eq!(d.primary, "expert");
    }

    #[test]
    fn a_team_is_distinct_agents_best_first_and_ties_are_deterministic() {
        let w = Weights::default();
        let t = research();
        let fleet: Vec<Candidate> = (0..5).map(|i| cand(&format!("a{i}"), &[])).collect();
        let d = decide(&t, &fleet, 3, &w).expect("five fit");
        assert_eq!(d.team.len(), 3);
        assert_eq!(d.team[0], d.primary);
        let mut reversed = fleet.clone();
        reversed.reverse();
        assert_eq!(
            decide(&t, &reversed, 3, &w),
            Ok(d),
            "the input order does not matter"
        );
        let twice = [fleet[0].clone(), fleet[0].clone()];
        assert_eq!(decide(&t, &twice, 2, &w).expect("fits").team, ["a0"]);
        assert_eq!(decide(&t, &fleet, 0, &w).expect("fits").team.len(), 1);
    }

    #[test]
    fn weights_read_from_a_project_config_with_defaults() {
        let w: Weights = serde_json::from_str(r#"{"load": 2.5}"#).expect("valid");
        assert_eq!(
            w,
            Weights {
                load: 2.5,
                ..Weights::default()
            }
        );
        assert!(
            serde_json::from_str::<Weights>(r#"{"lode": 1}"#).is_err(),
            "a typo is an error"
        );
    }
}
