//! The task id of a tick: what makes a tick created by several agents at
//! once one task, not several. Firestore's `create` fails when the
//! document exists, so the first agent to create `tasks/{tick_task_id}`
//! wins and the others' creates fail harmlessly.

use crate::schema::is_task_id;
use jiff::Timestamp;

/// The length of a tick's stamp: `20261205T030000Z`.
const STAMP_LEN: usize = 16;

/// The longest schedule id: a task id is 64 characters at most, and a
/// tick's id adds a `-` and the 16-character stamp.
pub const SCHEDULE_ID_MAX: usize = 64 - 1 - STAMP_LEN;

/// A schedule id: `^[A-Za-z0-9][A-Za-z0-9_-]{0,46}$`, the task id pattern
/// shortened so that every tick's id is a task id.
pub fn is_schedule_id(s: &str) -> bool {
    s.len() <= SCHEDULE_ID_MAX && is_task_id(s)
}

/// The task id of the tick at `tick` of schedule `schedule_id`:
/// `{schedule_id}-{UTC stamp}`, e.g. `nightly-20261205T020000Z`. For a
/// schedule id that passes [`is_schedule_id`] it is always a task id.
///
/// The stamp is UTC to the second (a tick is a whole second; a fraction is
/// dropped) and always 16 characters, so two different (schedule, tick)
/// pairs never share an id even though a schedule id may contain `-`: the
/// stamp is the last 16 characters. It cannot collide with an ordinary
/// task either, whose id is a uuid (hex digits only, no `T` or `Z`). Years
/// before 1 CE, which no schedule reaches, swap the `T` for `B` to keep
/// the stamp one width and unique.
pub fn tick_task_id(schedule_id: &str, tick: Timestamp) -> String {
    let utc = tick.to_zoned(jiff::tz::TimeZone::UTC).datetime();
    let era = if utc.year() < 0 { 'B' } else { 'T' };
    format!(
        "{schedule_id}-{:04}{:02}{:02}{era}{:02}{:02}{:02}Z",
        utc.year().unsigned_abs(),
        utc.month(),
        utc.day(),
        utc.hour(),
        utc.minute(),
        utc.second(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: &str) -> Timestamp {
        s.parse().expect("a valid RFC 3339 timestamp in the test")
    }

    #[test]
    fn the_id_is_readable_and_drops_fractions() {
        let t = ts("2026-12-05T02:00:00.999Z");
        assert_eq!(tick_task_id("nightly", t), "nightly-20261205T020000Z");
        let berlin = ts("2026-12-05T03:00:00+01:00");
        assert_eq!(tick_task_id("n", berlin), "n-20261205T020000Z");
    }

    #[test]
    fn every_valid_schedule_id_and_tick_make_a_task_id() {
        let longest = format!("a{}", "Z9_-".repeat(20))[..SCHEDULE_ID_MAX].to_string();
        let ids = ["a", "0", "nightly-check", "A_b-C", longest.as_str()];
        let ticks = [
            Timestamp::MIN,
            ts("-000001-06-01T00:00:00Z"),
            ts("0000-01-01T00:00:00Z"),
            Timestamp::UNIX_EPOCH,
            ts("2026-03-29T01:00:00Z"),
            Timestamp::MAX,
        ];
        for id in ids {
            assert!(is_schedule_id(id), "{id}");
            for tick in ticks {
                let task = tick_task_id(id, tick);
                assert!(is_task_id(&task), "{task}");
                assert_eq!(task.len(), id.len() + 1 + STAMP_LEN, "{task}");
            }
        }
        assert_eq!(tick_task_id(&longest, Timestamp::MAX).len(), 64);
    }

    #[test]
    fn schedule_ids_past_the_bound_or_shape_are_refused() {
        assert!(is_schedule_id(&"a".repeat(SCHEDULE_ID_MAX)));
        assert!(!is_schedule_id(&"a".repeat(SCHEDULE_ID_MAX + 1)));
        for bad in ["", "-a", "_a", "a/b", "a.b", "a b", "é"] {
            assert!(!is_schedule_id(bad), "{bad:?}");
        }
    }

    #[test]
    fn different_pairs_never_share_an_id() {
        // A schedule id that looks like another's id plus a stamp prefix.
        let a = tick_task_id("x-2026", ts("2026-01-01T00:00:00Z"));
        let b = tick_task_id("x", ts("2026-01-01T00:00:00Z"));
        assert_ne!(a, b);
        let mut seen = std::collections::HashSet::new();
        for sid in ["x", "x-1", "x-20260101T000000Z"] {
            for secs in [0i64, 1, 60, 3600, 86_400, -86_400 * 800_000] {
                let tick = Timestamp::from_second(secs).expect("in range");
                assert!(seen.insert(tick_task_id(sid, tick)), "{sid} {tick}");
            }
        }
        // Year 1 CE and 1 BCE differ by the era letter.
        let ce = tick_task_id("s", ts("0001-01-01T00:00:00Z"));
        let bce = tick_task_id("s", ts("-000001-01-01T00:00:00Z"));
        assert_ne!(ce, bce);
        assert_eq!(bce, "s-00010101B000000Z");
    }
}
