//! How long an ended task stays in the completed pile before any agent
//! moves it to the archive (`config/retention`, `archive/{task_id}`).
//!
//! Why archive rather than delete: the completed pile is what agents and
//! `vayu stats` query, and the emulator (and Firestore's costs) grow with
//! it; the archive keeps the record whole, out of their way. Why the age
//! lives in a document, not a flag: the rules check it too
//! (`isArchive` in `firestore.rules`), so an agent with a wrong flag cannot
//! archive a task early, and every agent sweeps by the same age.

use crate::time::Time;
use serde::{Deserialize, Serialize};

/// The age when `config/retention` does not exist. `firestore.rules` has
/// the same number (`archiveAfterDays`); `tests/rules_archive.rs` checks
/// that they agree.
pub const DEFAULT_ARCHIVE_AFTER_DAYS: i64 = 30;
/// Ten years: beyond it, a typo.
pub const MAX_ARCHIVE_AFTER_DAYS: i64 = 3650;

/// `config/retention`, as stored.
///
/// Unknown fields are not refused here (the Firestore decoder adds its
/// own); the rules keep anyone but an admin from writing them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Retention {
    /// Days after its last change (its end, for an ended task) before a
    /// task may be archived by an agent. 0 archives at the next sweep.
    pub archive_after_days: i64,
}

impl Default for Retention {
    fn default() -> Self {
        Retention {
            archive_after_days: DEFAULT_ARCHIVE_AFTER_DAYS,
        }
    }
}

impl Retention {
    /// Refuses what the rules would refuse, with a reason a person can act on.
    pub fn validate(&self) -> Result<(), String> {
        if (0..=MAX_ARCHIVE_AFTER_DAYS).contains(&self.archive_after_days) {
            Ok(())
        } else {
            Err(format!(
                "archive_after_days must be 0 to {MAX_ARCHIVE_AFTER_DAYS}, not {}",
                self.archive_after_days
            ))
        }
    }

    /// Tasks last changed before this may be archived at `now`.
    pub fn cutoff(&self, now: Time) -> Time {
        let age = jiff::SignedDuration::from_hours(24 * self.archive_after_days);
        Time(now.0.saturating_sub(age).unwrap_or(jiff::Timestamp::MIN))
    }

    /// Whether a task last changed at `changed` may be archived at `now`.
    pub fn is_due(&self, changed: Time, now: Time) -> bool {
        changed < self.cutoff(now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> Time {
        Time(s.parse().expect("a test timestamp"))
    }

    #[test]
    fn a_task_is_due_only_once_older_than_the_age() {
        let r = Retention {
            archive_after_days: 2,
        };
        let now = at("2026-12-06T12:00:00Z");
        assert!(
            !r.is_due(at("2026-12-04T12:00:00Z"), now),
            "exactly the age"
        );
        assert!(r.is_due(at("2026-12-04T11:59:59Z"), now));
        assert!(!r.is_due(at("2026-12-05T00:00:00Z"), now));
    }

    #[test]
    fn zero_days_archives_anything_already_ended() {
        let r = Retention {
            archive_after_days: 0,
        };
        let now = at("2026-12-06T12:00:00Z");
        assert!(r.is_due(at("2026-12-06T11:59:59Z"), now));
    }

    #[test]
    fn out_of_range_ages_are_refused() {
        for days in [-1, MAX_ARCHIVE_AFTER_DAYS + 1] {
            let r = Retention {
                archive_after_days: days,
            };
            assert!(r.validate().unwrap_err().contains("0 to 3650"), "{days}");
        }
        assert!(Retention::default().validate().is_ok());
    }
}
