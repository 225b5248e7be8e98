//! When a failed attempt may run again: capped exponential backoff with
//! full jitter. Pure, so it is tested without a clock.
//!
//! The delay is written into the task as `not_before`, so any agent, not
//! only the one that saw the failure, honours it, and it survives restarts.

use std::time::Duration;

/// Backoff settings for failed attempts.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Backoff {
    pub base: Duration,
    pub cap: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            base: Duration::from_secs(1),
            cap: Duration::from_secs(300),
        }
    }
}

impl Backoff {
    /// The ceiling before jitter after `failures` failed attempts (1 for
    /// the first failure): base·2^(failures-1), capped.
    pub fn ceiling(&self, failures: u32) -> Duration {
        let exp = failures.saturating_sub(1).min(30);
        self.base.saturating_mul(1u32 << exp).min(self.cap)
    }

    /// The delay: uniformly in [ceiling/2, ceiling] given `unit` in [0, 1),
    /// so retries spread out but never come back at once.
    pub fn delay(&self, failures: u32, unit: f64) -> Duration {
        let c = self.ceiling(failures);
        c.mul_f64(0.5 + 0.5 * unit.clamp(0.0, 1.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_then_caps() {
        let b = Backoff {
            base: Duration::from_millis(100),
            cap: Duration::from_secs(1),
        };
        assert_eq!(b.ceiling(1), Duration::from_millis(100));
        assert_eq!(b.ceiling(2), Duration::from_millis(200));
        assert_eq!(b.ceiling(4), Duration::from_millis(800));
        assert_eq!(b.ceiling(5), Duration::from_secs(1));
        assert_eq!(b.ceiling(500), Duration::from_secs(1));
    }

    #[test]
    fn jitter_stays_within_half_to_full_ceiling() {
        let b = Backoff::default();
        assert_eq!(b.delay(3, 0.0), Duration::from_secs(2));
        assert_eq!(b.delay(3, 1.0), Duration::from_secs(4));
        for i in 0..100 {
            let d = b.delay(2, f64::from(i) / 100.0);
            assert!(
                d >= Duration::from_secs(1) && d <= Duration::from_secs(2),
                "{d:?}"
            );
        }
    }
}
