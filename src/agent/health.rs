//! Whether this agent's own heartbeats get through: a peer's silence
//! proves nothing while ours do not.

use super::*;

/// Whether this agent's own heartbeats reach Firestore, and since when.
///
/// Peers are judged dead only after a full window of our own heartbeats
/// succeeding, so this must not overstate our reach. A heartbeat that
/// hangs (Firestore frozen, a network partition) is no failure until its
/// deadline, yet while it hangs we see nothing: a heartbeat slower than
/// half the staleness window counts as a gap, and the window restarts
/// when it ends. (Half, not one heartbeat period: under load a heartbeat
/// often takes longer than a period, and a blind spot shorter than half
/// the window cannot make a peer that beats every period look silent for
/// a whole window.)
#[derive(Clone)]
pub(super) struct Health(Arc<std::sync::Mutex<HealthState>>);

impl Health {
    pub(super) fn new(slow: Duration) -> Health {
        Health(Arc::new(std::sync::Mutex::new(HealthState::new(slow))))
    }

    pub(super) fn lock(&self) -> std::sync::MutexGuard<'_, HealthState> {
        // Plain data: a panic elsewhere cannot leave it torn.
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Starts a heartbeat unless one is in flight.
    pub(super) fn begin(&self) -> bool {
        self.lock().begin(Instant::now())
    }

    pub(super) fn end(&self, ok: bool) {
        self.lock().end(ok, Instant::now());
    }

    /// How long heartbeats have been succeeding without a gap.
    pub(super) fn healthy_for(&self) -> Duration {
        self.lock().healthy_for(Instant::now())
    }

    /// Since the last heartbeat that got through; `None` before the first.
    pub(super) fn since_last_beat(&self) -> Option<Duration> {
        self.lock().last_ok.map(|t| t.elapsed())
    }
}

/// [`Health`] held against the staleness window: whether this agent has
/// seen Firestore long enough to call another agent's lease dead.
///
/// A lease that ran out while nobody could reach Firestore says nothing
/// about its holder: once Firestore is back, the holder renews or finishes
/// within a window. So every requeue of someone else's expired lease asks
/// first, and a pass that was blind halfway (a query that hung through a
/// freeze) stops rather than act on the moment the freeze ended.
#[derive(Clone)]
pub(super) struct Sight {
    health: Health,
    window: Duration,
}

impl Sight {
    pub(super) fn new(health: Health, window: Duration) -> Sight {
        Sight { health, window }
    }

    pub(super) fn clear(&self) -> bool {
        self.clear_at(Instant::now())
    }

    fn clear_at(&self, at: Instant) -> bool {
        self.health.lock().healthy_for(at) > self.window
    }

    /// Whether a read that took `took` saw Firestore as it is: one slower
    /// than a heartbeat may count (a freeze, a partition) may describe a
    /// moment before an outage whose end nobody has seen renewed yet.
    pub(super) fn quick(&self, took: Duration) -> bool {
        took <= self.health.lock().slow
    }
}

impl Agent {
    pub(super) fn sight(&self) -> Sight {
        Sight::new(self.health.clone(), self.stale_after)
    }
}

/// [`Health`]'s state, with the clock passed in so it can be unit-tested.
#[derive(Debug)]
pub(super) struct HealthState {
    /// A heartbeat that takes longer than this is a gap in our view.
    pub(super) slow: Duration,
    pub(super) ok_since: Option<Instant>,
    pub(super) inflight_since: Option<Instant>,
    /// When the last successful heartbeat ended.
    pub(super) last_ok: Option<Instant>,
}

impl HealthState {
    pub(super) fn new(slow: Duration) -> HealthState {
        HealthState {
            slow,
            ok_since: None,
            inflight_since: None,
            last_ok: None,
        }
    }

    pub(super) fn begin(&mut self, at: Instant) -> bool {
        if self.inflight_since.is_some() {
            return false;
        }
        self.inflight_since = Some(at);
        true
    }

    pub(super) fn end(&mut self, ok: bool, at: Instant) {
        if ok {
            self.last_ok = Some(at);
        }
        let slow = self
            .inflight_since
            .take()
            .is_some_and(|began| at.saturating_duration_since(began) > self.slow);
        self.ok_since = match (ok, slow, self.ok_since) {
            (false, _, _) => None,
            (true, true, _) | (true, false, None) => Some(at),
            (true, false, Some(since)) => Some(since),
        };
    }

    pub(super) fn healthy_for(&self, at: Instant) -> Duration {
        if self
            .inflight_since
            .is_some_and(|began| at.saturating_duration_since(began) > self.slow)
        {
            return Duration::ZERO;
        }
        self.ok_since
            .map(|t| at.saturating_duration_since(t))
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SLOW: Duration = Duration::from_millis(500);

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn health_grows_while_heartbeats_are_quick() {
        let t0 = Instant::now();
        let mut h = HealthState::new(SLOW);
        assert_eq!(h.healthy_for(t0), Duration::ZERO, "no heartbeat yet");
        assert!(h.begin(t0));
        assert!(!h.begin(t0 + ms(10)), "one heartbeat at a time");
        h.end(true, t0 + ms(20));
        for i in 1..10u64 {
            assert!(h.begin(t0 + ms(500 * i)));
            h.end(true, t0 + ms(500 * i + 20));
        }
        assert_eq!(h.healthy_for(t0 + ms(5_000)), ms(4_980));
    }

    #[test]
    fn a_failed_heartbeat_restarts_the_window() {
        let t0 = Instant::now();
        let mut h = HealthState::new(SLOW);
        h.begin(t0);
        h.end(true, t0 + ms(10));
        h.begin(t0 + ms(500));
        h.end(false, t0 + ms(510));
        assert_eq!(h.healthy_for(t0 + ms(900)), Duration::ZERO);
        h.begin(t0 + ms(1_000));
        h.end(true, t0 + ms(1_010));
        assert_eq!(h.healthy_for(t0 + ms(2_010)), ms(1_000));
    }

    /// Sight is what take-overs and the expired-lease sweep ask before each
    /// requeue: clear only after a window of quick heartbeats, dark while
    /// one hangs, and a window again after the hang ends.
    #[test]
    fn sight_clears_only_after_a_window_of_quick_heartbeats() {
        let health = Health::new(ms(5));
        let sight = Sight::new(health.clone(), ms(50));
        let t0 = Instant::now();
        assert!(!sight.clear_at(t0), "no heartbeat yet");
        health.lock().begin(t0);
        health.lock().end(true, t0 + ms(1));
        assert!(!sight.clear_at(t0 + ms(2)), "one heartbeat is not a window");
        assert!(sight.clear_at(t0 + ms(60)), "a window of quick heartbeats");
        health.lock().begin(t0 + ms(60));
        assert!(
            !sight.clear_at(t0 + ms(70)),
            "a heartbeat hanging past `slow` blinds it"
        );
        health.lock().end(true, t0 + ms(70));
        assert!(
            !sight.clear_at(t0 + ms(71)),
            "the window starts again after the hang"
        );
        assert!(sight.clear_at(t0 + ms(130)));
        assert!(
            sight.quick(ms(5)) && !sight.quick(ms(6)),
            "a read slower than `slow`"
        );
    }

    /// The chaos run's freeze: a heartbeat hangs 10 s and then succeeds.
    /// Until it ends we are blind, and afterwards the window starts again:
    /// a peer silent through the freeze is not judged on our old record.
    #[test]
    fn a_hanging_heartbeat_is_a_gap_even_if_it_succeeds() {
        let t0 = Instant::now();
        let mut h = HealthState::new(SLOW);
        h.begin(t0);
        h.end(true, t0 + ms(10));
        h.begin(t0 + ms(500));
        assert_eq!(
            h.healthy_for(t0 + ms(900)),
            ms(890),
            "in flight, not yet late"
        );
        assert_eq!(h.healthy_for(t0 + ms(5_000)), Duration::ZERO, "late");
        h.end(true, t0 + ms(10_500));
        assert_eq!(h.healthy_for(t0 + ms(11_000)), ms(500));
    }
}
