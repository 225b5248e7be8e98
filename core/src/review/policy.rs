//! Which reviews a task needs before it may complete.
//!
//! A policy is a set of kinds, written `none` or joined with `+`
//! (`peer+user`). The built-in default is `none`, so that a fleet with no
//! reviewers still finishes its work; a project raises it per type and
//! per priority ([`ReviewDefaults`]), and a task may name its own.

use crate::model::{Priority, TaskType};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

/// One kind of review, in the seed's order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum ReviewKind {
    /// The executing agent runs a configured self-check on its output.
    #[serde(rename = "self")]
    SelfCheck,
    /// An agent other than every executor, with the `review` capability.
    #[serde(rename = "peer")]
    Peer,
    /// A member human, with `vayu task review`.
    #[serde(rename = "user")]
    User,
    /// An agent runs the task's test command against the output.
    #[serde(rename = "tests")]
    Tests,
}

impl ReviewKind {
    pub const ALL: [ReviewKind; 4] = [
        ReviewKind::SelfCheck,
        ReviewKind::Peer,
        ReviewKind::User,
        ReviewKind::Tests,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ReviewKind::SelfCheck => "self",
            ReviewKind::Peer => "peer",
            ReviewKind::User => "user",
            ReviewKind::Tests => "tests",
        }
    }

    /// A bit of [`ReviewPolicy`]'s set, in the seed's order.
    fn bit(self) -> u8 {
        1 << (self as u8)
    }
}

impl fmt::Display for ReviewKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ReviewKind {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ReviewKind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| format!("unknown review kind '{s}' (valid: self, peer, user, tests)"))
    }
}

/// The set of reviews a task needs. Stored as its text (`peer+user`), so
/// that the console shows what a person typed and the rules can match it
/// with one pattern.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct ReviewPolicy(u8);

impl ReviewPolicy {
    pub const NONE: ReviewPolicy = ReviewPolicy(0);

    pub fn of(kinds: &[ReviewKind]) -> ReviewPolicy {
        ReviewPolicy(kinds.iter().fold(0, |acc, k| acc | k.bit()))
    }

    pub fn needs(self, kind: ReviewKind) -> bool {
        self.0 & kind.bit() != 0
    }

    pub fn is_none(self) -> bool {
        self.0 == 0
    }

    /// The kinds, in the seed's order.
    pub fn kinds(self) -> impl Iterator<Item = ReviewKind> {
        ReviewKind::ALL.into_iter().filter(move |k| self.needs(*k))
    }

    /// Every review either policy needs.
    pub fn union(self, other: ReviewPolicy) -> ReviewPolicy {
        ReviewPolicy(self.0 | other.0)
    }
}

impl fmt::Display for ReviewPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_none() {
            return f.write_str("none");
        }
        let kinds: Vec<&str> = self.kinds().map(ReviewKind::as_str).collect();
        f.write_str(&kinds.join("+"))
    }
}

impl FromStr for ReviewPolicy {
    type Err = String;

    /// `none`, or kinds joined with `+`, each once. Whitespace around a
    /// kind is forgiven (`peer + user`); anything else is an error that
    /// says what was expected.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        if s == "none" {
            return Ok(ReviewPolicy::NONE);
        }
        if s.is_empty() {
            return Err("an empty review policy (write 'none' for no review)".into());
        }
        let mut policy = ReviewPolicy::NONE;
        for part in s.split('+').map(str::trim) {
            if part == "none" {
                return Err(format!(
                    "'none' cannot be combined with other reviews in '{s}'"
                ));
            }
            let kind: ReviewKind = part.parse()?;
            if policy.needs(kind) {
                return Err(format!("'{kind}' appears twice in '{s}'"));
            }
            policy = policy.union(ReviewPolicy::of(&[kind]));
        }
        Ok(policy)
    }
}

impl Serialize for ReviewPolicy {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for ReviewPolicy {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// A project's defaults, from its config document: a policy per type and
/// per priority (for example user_request → peer, critical → peer+user,
/// maintenance → tests).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ReviewDefaults {
    pub by_type: BTreeMap<TaskType, ReviewPolicy>,
    pub by_priority: BTreeMap<Priority, ReviewPolicy>,
}

impl ReviewDefaults {
    /// The policy a new task gets: its own when it names one; otherwise
    /// every review its type's default and its priority's default ask
    /// for. The union, because both are floors a project set: a critical
    /// maintenance task should get its tests and its human.
    pub fn policy_for(
        &self,
        explicit: Option<ReviewPolicy>,
        task_type: TaskType,
        priority: Priority,
    ) -> ReviewPolicy {
        explicit.unwrap_or_else(|| {
            let by_type = self.by_type.get(&task_type).copied().unwrap_or_default();
            let by_priority = self.by_priority.get(&priority).copied().unwrap_or_default();
            by_type.union(by_priority)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policies_parse_and_print_in_the_seeds_order() {
        for (text, printed) in [
            ("none", "none"),
            ("peer", "peer"),
            ("user+peer", "peer+user"),
            (" tests + self ", "self+tests"),
            ("self+peer+user+tests", "self+peer+user+tests"),
        ] {
            let p: ReviewPolicy = text.parse().expect(text);
            assert_eq!(p.to_string(), printed, "{text}");
            assert_eq!(
                printed.parse::<ReviewPolicy>(),
                Ok(p),
                "round trip of {printed}"
            );
        }
    }

    #[test]
    fn bad_policies_say_what_is_wrong() {
        let err = |s: &str| s.parse::<ReviewPolicy>().expect_err(s);
        assert!(err("").contains("empty"));
        assert!(err("peer+peer").contains("twice"));
        assert!(err("none+user").contains("cannot be combined"));
        assert!(err("peer+robot").contains("unknown review kind 'robot'"));
        assert!(err("peer+").contains("unknown review kind ''"));
        assert!(err("PEER").contains("valid: self, peer, user, tests"));
    }

    #[test]
    fn a_policy_is_stored_as_its_text() {
        let p: ReviewPolicy = "peer+user".parse().expect("valid");
        assert_eq!(
            serde_json::to_string(&p).expect("serializes"),
            "\"peer+user\""
        );
        let back: ReviewPolicy = serde_json::from_str("\"user+peer\"").expect("parses");
        assert_eq!(back, p);
        assert!(serde_json::from_str::<ReviewPolicy>("\"peer+x\"").is_err());
    }

    #[test]
    fn defaults_combine_type_and_priority_unless_the_task_names_its_own() {
        let d: ReviewDefaults = serde_json::from_str(
            r#"{"by_type": {"user_request": "peer", "maintenance": "tests"},
                "by_priority": {"critical": "peer+user"}}"#,
        )
        .expect("a valid config");
        let p = |s: &str| s.parse::<ReviewPolicy>().expect(s);
        use Priority::*;
        use TaskType::*;
        assert_eq!(d.policy_for(None, UserRequest, Normal), p("peer"));
        assert_eq!(
            d.policy_for(None, Maintenance, Critical),
            p("peer+user+tests")
        );
        assert_eq!(d.policy_for(None, Research, Low), ReviewPolicy::NONE);
        assert_eq!(
            d.policy_for(Some(p("none")), UserRequest, Critical),
            p("none")
        );
    }

    #[test]
    fn a_config_with_an_unknown_key_or_policy_is_refused() {
        assert!(serde_json::from_str::<ReviewDefaults>(r#"{"by_kind": {}}"#).is_err());
        let bad = r#"{"by_type": {"research": "peer+nobody"}}"#;
        assert!(serde_json::from_str::<ReviewDefaults>(bad).is_err());
        let bad_type = r#"{"by_type": {"gardening": "peer"}}"#;
        assert!(serde_json::from_str::<ReviewDefaults>(bad_type).is_err());
    }
}
