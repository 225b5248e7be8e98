//! The values a condition compares, and how each operator treats them.
//!
//! Why a type of our own rather than `serde_json::Value`: the core does
//! not depend on serde_json. The edge turns a dependency's JSON result
//! into a [`Value`] through serde alone (`serde_json::from_value`), since
//! `Value` deserializes untagged from any self-describing format.
//!
//! Every operator is total: any two values give `true` or `false`, never
//! an error, so a result of an unexpected shape makes a condition unmet
//! rather than stuck.

use super::CompareOp;
use serde::{Deserialize, Serialize};
use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::fmt;

/// A JSON-like value. Numbers are `f64`, so integers beyond 2^53 lose
/// precision (compare such ids as strings).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Value {
    #[default]
    Null,
    Bool(bool),
    Number(f64),
    String(String),
    List(Vec<Value>),
    Map(BTreeMap<String, Value>),
}

/// What a missing path reads as.
pub(crate) static NULL: Value = Value::Null;

impl Value {
    /// The value at `key`: a map's entry, or a list's element when `key`
    /// is a decimal index.
    pub fn get(&self, key: &str) -> Option<&Value> {
        match self {
            Value::Map(m) => m.get(key),
            Value::List(l) => key.parse::<usize>().ok().and_then(|i| l.get(i)),
            _ => None,
        }
    }

    /// Numbers by value, strings by Unicode code point; any other pair,
    /// including two of different types, has no order.
    fn order(&self, other: &Value) -> Option<Ordering> {
        match (self, other) {
            (Value::Number(a), Value::Number(b)) => a.partial_cmp(b),
            (Value::String(a), Value::String(b)) => Some(a.cmp(b)),
            _ => None,
        }
    }

    /// `self in other`: an element of a list, a substring of a string, or
    /// a key of a map; otherwise false.
    fn is_in(&self, other: &Value) -> bool {
        match (self, other) {
            (x, Value::List(l)) => l.contains(x),
            (Value::String(s), Value::String(t)) => t.contains(s.as_str()),
            (Value::String(s), Value::Map(m)) => m.contains_key(s),
            _ => false,
        }
    }
}

/// Applies `op`. Equality is structural and typed: `1 == "1"` is false,
/// `null == null` is true (so a missing path equals `null`), and `!=` is
/// exactly its negation. An ordering operator is true only when the two
/// values are ordered (numbers with numbers, strings with strings), so `null < 1` and `"a" < 1`
/// are both false, and so are their `>=` counterparts.
pub fn compare(left: &Value, op: CompareOp, right: &Value) -> bool {
    use Ordering::*;
    let ord = || left.order(right);
    match op {
        CompareOp::Eq => left == right,
        CompareOp::Ne => left != right,
        CompareOp::Lt => ord() == Some(Less),
        CompareOp::Le => matches!(ord(), Some(Less | Equal)),
        CompareOp::Gt => ord() == Some(Greater),
        CompareOp::Ge => matches!(ord(), Some(Greater | Equal)),
        CompareOp::In => left.is_in(right),
        CompareOp::NotIn => !left.is_in(right),
    }
}

impl fmt::Display for Value {
    /// As a condition literal would be written (maps, which have no
    /// literal, as `{"k": v}`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Null => f.write_str("null"),
            Value::Bool(b) => write!(f, "{b}"),
            Value::Number(n) => write!(f, "{n}"),
            Value::String(s) => write_string(f, s),
            Value::List(l) => {
                f.write_str("[")?;
                for (i, v) in l.iter().enumerate() {
                    let sep = if i > 0 { ", " } else { "" };
                    write!(f, "{sep}{v}")?;
                }
                f.write_str("]")
            }
            Value::Map(m) => {
                f.write_str("{")?;
                for (i, (k, v)) in m.iter().enumerate() {
                    f.write_str(if i > 0 { ", " } else { "" })?;
                    write_string(f, k)?;
                    write!(f, ": {v}")?;
                }
                f.write_str("}")
            }
        }
    }
}

/// A string literal with the escapes the lexer reads back.
pub(crate) fn write_string(f: &mut fmt::Formatter<'_>, s: &str) -> fmt::Result {
    f.write_str("\"")?;
    for c in s.chars() {
        match c {
            '"' => f.write_str("\\\"")?,
            '\\' => f.write_str("\\\\")?,
            '\n' => f.write_str("\\n")?,
            '\r' => f.write_str("\\r")?,
            '\t' => f.write_str("\\t")?,
            c if c.is_control() => write!(f, "\\u{{{:x}}}", c as u32)?,
            c => write!(f, "{c}")?,
        }
    }
    f.write_str("\"")
}

impl From<&str> for Value {
    fn from(s: &str) -> Value {
        Value::String(s.into())
    }
}

impl From<f64> for Value {
    fn from(n: f64) -> Value {
        Value::Number(n)
    }
}

impl From<bool> for Value {
    fn from(b: bool) -> Value {
        Value::Bool(b)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use CompareOp::*;

    fn json(s: &str) -> Value {
        serde_json::from_str(s).expect("valid JSON")
    }

    #[test]
    fn json_deserializes_through_serde_alone() {
        let v = json(r#"{"status": "ok", "n": 3, "x": 1.5, "t": [true, null], "m": {}}"#);
        assert_eq!(v.get("status"), Some(&Value::from("ok")));
        assert_eq!(v.get("n"), Some(&Value::Number(3.0)));
        assert_eq!(v.get("t").and_then(|t| t.get("1")), Some(&Value::Null));
        assert_eq!(v.get("t").and_then(|t| t.get("2")), None);
        assert_eq!(v.get("m"), Some(&Value::Map(BTreeMap::new())));
        assert_eq!(Value::from("s").get("0"), None);
        let back = serde_json::to_value(&v).expect("serializes");
        assert_eq!(back["x"], serde_json::json!(1.5));
    }

    #[test]
    fn equality_is_typed_and_structural() {
        assert!(compare(&json("1"), Eq, &json("1.0")));
        assert!(!compare(&json("1"), Eq, &json(r#""1""#)));
        assert!(!compare(&json("0"), Eq, &json("false")));
        assert!(!compare(&json("null"), Eq, &json("false")));
        assert!(compare(&Value::Null, Eq, &Value::Null));
        assert!(compare(&json("[1, [2]]"), Eq, &json("[1.0, [2]]")));
        assert!(compare(&json(r#"{"a": 1}"#), Ne, &json(r#"{"a": 2}"#)));
        assert!(compare(&json("1"), Ne, &json(r#""1""#)));
    }

    #[test]
    fn only_numbers_with_numbers_and_strings_with_strings_are_ordered() {
        assert!(compare(&json("2"), Gt, &json("1.5")));
        assert!(compare(&json("-1"), Lt, &json("0")));
        assert!(compare(&json("3"), Le, &json("3")));
        assert!(compare(&json(r#""apple""#), Lt, &json(r#""banana""#)));
        assert!(compare(&json(r#""é""#), Gt, &json(r#""z""#)));
        for (a, b) in [
            ("null", "1"),
            (r#""2""#, "1"),
            ("true", "false"),
            ("[1]", "[2]"),
        ] {
            for op in [Lt, Le, Gt, Ge] {
                assert!(!compare(&json(a), op, &json(b)), "{a} {op:?} {b}");
            }
        }
        let nan = Value::Number(f64::NAN);
        assert!(!compare(&nan, Ge, &nan) && !compare(&nan, Eq, &nan));
    }

    #[test]
    fn in_is_membership_substring_or_key() {
        assert!(compare(&json(r#""b""#), In, &json(r#"["a", "b"]"#)));
        assert!(compare(&json("2"), In, &json("[1, 2.0]")));
        assert!(compare(&json("null"), In, &json("[null]")));
        assert!(compare(&json(r#""ell""#), In, &json(r#""hello""#)));
        assert!(compare(&json(r#""""#), In, &json(r#""""#)));
        assert!(compare(&json(r#""k""#), In, &json(r#"{"k": 0}"#)));
        assert!(!compare(&json("1"), In, &json(r#""1""#)));
        assert!(!compare(&json(r#""x""#), In, &json("null")));
        assert!(compare(&json(r#""x""#), NotIn, &json("null")));
        assert!(!compare(&json(r#""a""#), NotIn, &json(r#"["a"]"#)));
    }

    #[test]
    fn display_writes_literals_that_read_back() {
        let v = json(r#"[null, true, -1.5, "q\"\\\n\u0001", {"k": []}]"#);
        assert_eq!(
            v.to_string(),
            r#"[null, true, -1.5, "q\"\\\n\u{1}", {"k": []}]"#
        );
    }
}
