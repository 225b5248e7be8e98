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
