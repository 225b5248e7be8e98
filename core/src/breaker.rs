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
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// Claims go through; `failures` in a row so far.
    Closed { failures: u32 },
    /// No claims until `until`; opened `times` in a row.
    Open { until: Instant, times: u32 },
    /// The one probe claim is out; its outcome decides.
    HalfOpen { times: u32 },
}

impl State {
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
        (self.by_type.get(&t).copied()).unwrap_or(State::Closed { failures: 0 })
    }

    /// Whether a task of type `t` may be claimed now: closed, or open
    /// with its wait over and no probe out yet.
    pub fn allows(&self, t: TaskType, now: Instant) -> bool {
        match self.state(t) {
            State::Closed { .. } => true,
            State::Open { until, .. } => now >= until,
            State::HalfOpen { .. } => false,
        }
    }

    /// A claim of type `t` went out: past an open breaker's wait, it is
    /// the probe.
    pub fn on_claim(&mut self, t: TaskType, now: Instant) {
        if let State::Open { until, times } = self.state(t)
            && now >= until
        {
            self.by_type.insert(t, State::HalfOpen { times });
        }
    }

    /// A probe's claim was lost (another agent won it): the next claim
    /// may probe instead.
    pub fn on_claim_lost(&mut self, t: TaskType, now: Instant) {
        if let State::HalfOpen { times } = self.state(t) {
            self.by_type.insert(t, State::Open { until: now, times });
        }
    }

    /// A run of type `t` ended: `failed` when its handler failed (not when
    /// it was cancelled, released or fenced). `unit` in [0, 1) jitters the
    /// wait.
    pub fn on_outcome(
        &mut self,
        t: TaskType,
        failed: bool,
        now: Instant,
        unit: f64,
    ) -> Option<Change> {
        if self.cfg.threshold == 0 {
            return None;
        }
        let state = self.state(t);
        let (next, change) = match (state, failed) {
            (State::Closed { failures: 0 }, false) => return None,
            (State::Closed { .. }, false) => (State::Closed { failures: 0 }, None),
            (State::HalfOpen { .. } | State::Open { .. }, false) => {
                (State::Closed { failures: 0 }, Some(Change::Closed))
            }
            (State::Closed { failures }, true) if failures + 1 < self.cfg.threshold => (
                State::Closed {
                    failures: failures + 1,
                },
                None,
            ),
            (State::Closed { .. }, true) => self.open(now, 1, unit),
            (State::HalfOpen { times }, true) => self.open(now, times + 1, unit),
            // A run claimed before the breaker opened: already counted.
            (State::Open { .. }, true) => return None,
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

    /// The types whose breaker is not closed, for the agent's report.
    pub fn not_closed(&self) -> Vec<(TaskType, State)> {
        let mut v: Vec<(TaskType, State)> = (self.by_type.iter())
            .filter(|(_, s)| !matches!(s, State::Closed { .. }))
            .map(|(t, s)| (*t, *s))
            .collect();
        v.sort_by_key(|(t, _)| t.as_str());
        v
    }
}

#[cfg(test)]
#[path = "breaker_tests.rs"]
mod tests;
