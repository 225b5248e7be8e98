//! Where an agent reads the time when it evaluates schedules.
//!
//! Why injectable: whether a tick is due is a question about the clock,
//! and a test of many ticks should not wait for many real minutes. The
//! agent takes its [`Clock`] from its config (the system clock unless told
//! otherwise), and a test drives a [`ManualClock`]. Everything else
//! (leases, heartbeats, the quota window) keeps the real time: those are
//! judged by the server's clock.

use jiff::{SignedDuration, Timestamp};
use std::sync::{Arc, Mutex};

/// A source of the current time.
#[derive(Clone)]
pub struct Clock(Arc<dyn Fn() -> Timestamp + Send + Sync>);

impl Clock {
    /// The machine's clock.
    pub fn system() -> Clock {
        Clock(Arc::new(Timestamp::now))
    }

    /// Any function of no arguments that says what time it is.
    pub fn from_fn(now: impl Fn() -> Timestamp + Send + Sync + 'static) -> Clock {
        Clock(Arc::new(now))
    }

    pub fn now(&self) -> Timestamp {
        (self.0)()
    }
}

impl Default for Clock {
    fn default() -> Self {
        Clock::system()
    }
}

impl std::fmt::Debug for Clock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Clock({})", self.now())
    }
}

/// A clock that moves only when told: tests share one between agents and
/// advance it a minute at a time.
#[derive(Clone, Debug)]
pub struct ManualClock(Arc<Mutex<Timestamp>>);

impl ManualClock {
    pub fn new(start: Timestamp) -> ManualClock {
        ManualClock(Arc::new(Mutex::new(start)))
    }

    pub fn now(&self) -> Timestamp {
        *self.lock()
    }

    pub fn set(&self, t: Timestamp) {
        *self.lock() = t;
    }

    /// Moves the clock by `d` (saturating at the ends of time).
    pub fn advance(&self, d: SignedDuration) {
        let mut t = self.lock();
        *t = t.saturating_add(d).unwrap_or(*t);
    }

    /// A [`Clock`] that reads this one.
    pub fn clock(&self) -> Clock {
        let me = self.clone();
        Clock::from_fn(move || me.now())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Timestamp> {
        // A poisoned lock means a panic while holding it, and the
        // timestamp inside is still a whole value: keep using it.
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_manual_clock_moves_only_when_told_and_its_clocks_follow() {
        let start: Timestamp = "2026-12-05T03:00:00Z".parse().expect("a valid time");
        let manual = ManualClock::new(start);
        let clock = manual.clock();
        assert_eq!(clock.now(), start);
        manual.advance(SignedDuration::from_mins(1));
        assert_eq!(clock.now().to_string(), "2026-12-05T03:01:00Z");
        manual.set(start);
        assert_eq!(clock.clone().now(), start);
        assert!(Clock::system().now() > Timestamp::UNIX_EPOCH);
    }
}
