//! `teams/{parent}`: what a team's members share beyond their tasks.
//!
//! - **Context**: small key-value entries, the team's working memory. A
//!   member sets one key per write, with an update mask of that key, so
//!   writers of different keys never lose each other's change; a key is
//!   the last writer's.
//! - **Barriers** (decision points): each names the parts that arrived,
//!   added by a server-side array union, so arrivals never overwrite each
//!   other. A barrier passes when every part has arrived.
//!
//! Both are bounded (firestore.rules `isTeamWrite`): at most
//! [`CONTEXT_KEYS_MAX`] keys of [`CONTEXT_VALUE_MAX`] bytes, and
//! [`BARRIERS_MAX`] barriers, so the document stays far below 1 MiB.

use crate::model::Time;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

pub const CONTEXT_KEYS_MAX: usize = 64;
pub const CONTEXT_VALUE_MAX: usize = 4096;
pub const BARRIERS_MAX: usize = 16;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct TeamDoc {
    pub context: BTreeMap<String, ContextEntry>,
    /// Barrier name → the parts (task ids) that arrived.
    pub barriers: BTreeMap<String, Vec<String>>,
    /// Who wrote last, and what: the rules judge a write by it.
    pub last: Option<LastWrite>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ContextEntry {
    pub value: String,
    pub agent: String,
    pub part: String,
    /// Set by the server; absent in a write.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub at: Option<Time>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct LastWrite {
    pub agent: String,
    /// The writer's part, which it must hold.
    pub part: String,
    /// The context key or the barrier this write is about.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub barrier: Option<String>,
    /// Set by the server; absent in a write.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub at: Option<Time>,
}

impl TeamDoc {
    /// Whether every one of `parts` has arrived at barrier `name`.
    pub fn passed(&self, name: &str, parts: usize) -> bool {
        self.barriers.get(name).is_some_and(|arrived| {
            let distinct: std::collections::BTreeSet<&String> = arrived.iter().collect();
            distinct.len() >= parts
        })
    }

    /// The context as a handler reads it: key → value.
    pub fn values(&self) -> BTreeMap<&str, &str> {
        (self.context.iter())
            .map(|(k, e)| (k.as_str(), e.value.as_str()))
            .collect()
    }
}
