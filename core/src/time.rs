//! The one time type of vayu: a `jiff::Timestamp` at the microsecond
//! precision Firestore keeps.
//!
//! Why a type of our own: the core may not depend on the Firestore crate
//! (it does no I/O, and the compiler checks that it cannot). `firestore`
//! stores a value as a native timestamp when it is serialized as the
//! newtype struct named `FirestoreTimestamp` (its own `FirestoreTimestamp`
//! does exactly that), so [`Time`] serializes the same way; serde_json and
//! every other format see through a newtype and print RFC 3339.
//! `tests/core_boundary.rs` in the main crate checks that a `Time` still lands
//! as a timestamp value.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

/// The name `firestore`'s serializer recognises for a timestamp.
const FIRESTORE_TIMESTAMP: &str = "FirestoreTimestamp";

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Time(pub jiff::Timestamp);

impl Time {
    /// Now, truncated to microseconds.
    pub fn now() -> Time {
        Time(jiff::Timestamp::now()).truncated_to_firestore_precision()
    }

    /// Firestore keeps microseconds and drops the rest on write, so a value
    /// with nanoseconds would never compare equal to what it reads back.
    pub fn truncated_to_firestore_precision(self) -> Time {
        let nanos = self.0.subsec_nanosecond() % 1_000;
        Time(
            self.0
                .checked_sub(jiff::SignedDuration::from_nanos(nanos as i64))
                .unwrap_or(self.0),
        )
    }

    /// From seconds and nanoseconds since the epoch (a protobuf timestamp's
    /// parts); `None` out of jiff's range.
    pub fn from_parts(seconds: i64, nanos: i32) -> Option<Time> {
        jiff::Timestamp::new(seconds, nanos)
            .ok()
            .map(|t| Time(t).truncated_to_firestore_precision())
    }
}

impl fmt::Display for Time {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl Serialize for Time {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_newtype_struct(FIRESTORE_TIMESTAMP, &self.0)
    }
}

impl<'de> Deserialize<'de> for Time {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        jiff::Timestamp::deserialize(d).map(|t| Time(t).truncated_to_firestore_precision())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn microseconds_are_kept_and_display_is_rfc_3339() {
        let t = Time::from_parts(1_700_000_000, 123_456_789).expect("in range");
        assert_eq!(t.0.subsec_nanosecond(), 123_456_000);
        assert_eq!(t.to_string(), "2023-11-14T22:13:20.123456Z");
        assert_eq!(Time::from_parts(i64::MAX, 0), None);
        let json = serde_json::to_string(&t).expect("a time serializes");
        assert_eq!(json, "\"2023-11-14T22:13:20.123456Z\"");
        assert_eq!(serde_json::from_str::<Time>(&json).expect("reads back"), t);
    }
}

/// Longest delay `--in` takes: a year (a task parked longer is a schedule).
pub const DELAY_MAX_SECS: u64 = 366 * 86_400;

/// A delay as `vayu task create --in` takes it: whole numbers with a unit
/// each, `s`, `m`, `h` or `d`, written together (`90s`, `10m`, `1h30m`,
/// `2d`). Errors say what was expected.
pub fn parse_delay(text: &str) -> Result<std::time::Duration, String> {
    let s = text.trim();
    if s.is_empty() {
        return Err("an empty delay (write it like 10m, 1h30m or 2d)".into());
    }
    let mut secs: u64 = 0;
    let mut digits = String::new();
    for c in s.chars() {
        if c.is_ascii_digit() {
            digits.push(c);
            continue;
        }
        let unit = match c {
            's' => 1,
            'm' => 60,
            'h' => 3_600,
            'd' => 86_400,
            _ => return Err(format!("'{c}' in '{s}' is not a unit (s, m, h, d)")),
        };
        let n: u64 = (digits.parse().ok())
            .ok_or_else(|| format!("'{s}': a unit '{c}' without a number before it"))?;
        secs = n
            .checked_mul(unit)
            .and_then(|v| secs.checked_add(v))
            .filter(|v| *v <= DELAY_MAX_SECS)
            .ok_or_else(|| format!("'{s}' is longer than a year"))?;
        digits.clear();
    }
    if !digits.is_empty() {
        return Err(format!("'{s}' ends without a unit (s, m, h, d)"));
    }
    Ok(std::time::Duration::from_secs(secs))
}

/// A start time as `vayu task create --at` takes it: RFC 3339 with an
/// offset (`2026-12-06T03:00:00Z`), or a local date and time in the zone
/// `tz` (`2026-12-06 03:00`, `2026-12-06T03:00:00`).
pub fn parse_at(text: &str, tz: &jiff::tz::TimeZone) -> Result<Time, String> {
    let s = text.trim();
    if let Ok(ts) = s.parse::<jiff::Timestamp>() {
        return Ok(Time(ts));
    }
    let civil: jiff::civil::DateTime = s.parse().map_err(|_| {
        format!(
            "'{s}' is not a time (write 2026-12-06T03:00:00Z, or 2026-12-06 03:00 in local time)"
        )
    })?;
    civil
        .to_zoned(tz.clone())
        .map(|z| Time(z.timestamp()))
        .map_err(|e| format!("'{s}' in the local time zone: {e}"))
}

#[cfg(test)]
mod delay_tests {
    use super::*;

    #[test]
    fn delays_are_numbers_with_units() {
        let d = |s: &str| parse_delay(s).map(|d| d.as_secs());
        assert_eq!(d("90s"), Ok(90));
        assert_eq!(d("10m"), Ok(600));
        assert_eq!(d("1h30m"), Ok(5_400));
        assert_eq!(d(" 2d "), Ok(172_800));
        assert!(d("").unwrap_err().contains("empty"));
        assert!(d("10").unwrap_err().contains("without a unit"));
        assert!(d("m").unwrap_err().contains("without a number"));
        assert!(d("5w").unwrap_err().contains("not a unit"));
        assert!(d("400d").unwrap_err().contains("longer than a year"));
    }

    #[test]
    fn start_times_are_rfc3339_or_local() {
        let utc = jiff::tz::TimeZone::UTC;
        let at = parse_at("2026-12-06T03:00:00Z", &utc).expect("RFC 3339");
        assert_eq!(at.0.as_second(), 1_796_526_000);
        let berlin = jiff::tz::TimeZone::fixed(jiff::tz::offset(1));
        let local = parse_at("2026-12-06 04:00", &berlin).expect("a local time");
        assert_eq!(local, at, "04:00 at +01:00 is 03:00Z");
        assert!(
            parse_at("tomorrow", &utc)
                .unwrap_err()
                .contains("is not a time")
        );
    }
}
