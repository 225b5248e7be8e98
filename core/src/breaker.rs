//! A circuit breaker per task type, for one agent (issue 16).
//!
//! Retries and the dead letter judge a *task*; an always-failing *handler*
//! fails every task of its type, and without a breaker the agent would
//! claim them one after another and drain the queue into the dead letter.
//! After `threshold` failures of a type in a row, the agent stops claiming
//! it (open), waits a capped, jittered backoff that doubles each time it
//! opens again, then lets exactly one claim through (half-open): its
//! success closes the breaker, its failure opens it again.
//!
//! Pure: the caller passes the time and the jitter.

use crate::model::TaskType;
use crate::retry::Backoff;
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// The breaker's settings; a `threshold` of 0 turns it off.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BreakerConfig {
    pub threshold: u32,
    /// The first open's length (before jitter); doubled per reopening.
    pub backoff: Backoff,
}

impl Default for BreakerConfig {
    fn default() -> BreakerConfig {
        BreakerConfig {
            threshold: 5,
            backoff: Backoff {
                base: Duration::from_secs(30),
                cap: Duration::from_secs(600),
            },
        }
    }
}

/// One type's breaker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum State {
    /// Claims go through; the distinct tasks that failed in a row so far
    /// (one task failing again and again is that task's problem, and its
    /// retries must not stall its whole type).
    Closed { failed: Vec<String> },
    /// No claims until `until`; opened `times` in a row.
    Open { until: Instant, times: u32 },
    /// The one probe claim, of task `probe`, is out; its outcome decides.
    HalfOpen { times: u32, probe: String },
}

impl State {
    const CLOSED: State = State::Closed { failed: Vec::new() };

    pub fn label(&self) -> &'static str {
        match self {
            State::Closed { .. } => "closed",
            State::Open { .. } => "open",
            State::HalfOpen { .. } => "half-open",
        }
    }
}

/// What an outcome changed, for the agent's log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    Opened { for_: Duration },
    Closed,
}

/// How a run ended, as far as its handler goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Succeeded,
    Failed,
    /// Cancelled, paused, released, taken over, not recorded: says
    /// nothing about the handler.
    Neither,
}

/// Every type's breaker; a type never seen is closed.
#[derive(Debug, Clone, Default)]
pub struct Breakers {
    cfg: BreakerConfig,
    by_type: HashMap<TaskType, State>,
}

impl Breakers {
    pub fn new(cfg: BreakerConfig) -> Breakers {
        Breakers {
            cfg,
            by_type: HashMap::new(),
        }
    }

    pub fn state(&self, t: TaskType) -> State {
        self.by_type.get(&t).cloned().unwrap_or(State::CLOSED)
    }

    /// Whether a task of type `t` may be claimed now: closed, or open
    /// with its wait over and no probe out yet.
    pub fn allows(&self, t: TaskType, now: Instant) -> bool {
        match self.by_type.get(&t) {
            None | Some(State::Closed { .. }) => true,
            Some(State::Open { until, .. }) => now >= *until,
            Some(State::HalfOpen { .. }) => false,
        }
    }

    /// The claim of `task` (type `t`) went out: past an open breaker's
    /// wait, it is the probe.
    pub fn on_claim(&mut self, t: TaskType, task: &str, now: Instant) {
        if let Some(State::Open { until, times }) = self.by_type.get(&t)
            && now >= *until
        {
            let times = *times;
            let probe = task.to_string();
            self.by_type.insert(t, State::HalfOpen { times, probe });
        }
    }

    /// The claim of `task` was not run (lost, refused, given back): if it
    /// was the probe, the next claim may probe instead.
    pub fn on_claim_lost(&mut self, t: TaskType, task: &str, now: Instant) {
        self.unprobe(t, task, now);
    }

    fn unprobe(&mut self, t: TaskType, task: &str, now: Instant) {
        if let Some(State::HalfOpen { times, probe }) = self.by_type.get(&t)
            && probe == task
        {
            let times = *times;
            self.by_type.insert(t, State::Open { until: now, times });
        }
    }

    /// The run of `task` (type `t`) ended. `unit` in [0, 1) jitters the
    /// wait. Only the probe's failure reopens a half-open breaker (a run
    /// claimed before it opened may end meanwhile); any success closes
    /// one, since the handler works.
    pub fn on_outcome(
        &mut self,
        t: TaskType,
        task: &str,
        verdict: Verdict,
        now: Instant,
        unit: f64,
    ) -> Option<Change> {
        if self.cfg.threshold == 0 {
            return None;
        }
        let (next, change) = match (self.state(t), verdict) {
            (_, Verdict::Neither) => {
                self.unprobe(t, task, now);
                return None;
            }
            (State::Closed { failed }, Verdict::Succeeded) if failed.is_empty() => return None,
            (State::Closed { .. }, Verdict::Succeeded) => (State::CLOSED, None),
            (State::HalfOpen { .. } | State::Open { .. }, Verdict::Succeeded) => {
                (State::CLOSED, Some(Change::Closed))
            }
            (State::Closed { mut failed }, Verdict::Failed) => {
                if !failed.iter().any(|f| f == task) {
                    failed.push(task.to_string());
                }
                if failed.len() < self.cfg.threshold as usize {
                    (State::Closed { failed }, None)
                } else {
                    self.open(now, 1, unit)
                }
            }
            (State::HalfOpen { times, probe }, Verdict::Failed) if probe == task => {
                self.open(now, times + 1, unit)
            }
            // Not the probe, or a run claimed before the breaker opened:
            // already counted.
            (State::HalfOpen { .. } | State::Open { .. }, Verdict::Failed) => return None,
        };
        self.by_type.insert(t, next);
        change
    }

    fn open(&self, now: Instant, times: u32, unit: f64) -> (State, Option<Change>) {
        let wait = self.cfg.backoff.delay(times, unit);
        let until = now + wait;
        (
            State::Open { until, times },
            Some(Change::Opened { for_: wait }),
        )
    }

    /// When the soonest open breaker lets a probe out, after `now`, for
    /// the agent's wake-up.
    pub fn next_probe(&self, now: Instant) -> Option<Instant> {
        (self.by_type.values())
            .filter_map(|s| match s {
                State::Open { until, .. } if *until > now => Some(*until),
                _ => None,
            })
            .min()
    }
}

#[cfg(test)]
#[path = "breaker_tests.rs"]
mod tests;
