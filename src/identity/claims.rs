//! The custom claims `firestore.rules` reads to tell an agent from a
//! person and one role from another. Built here only, so that a token
//! minted anywhere in vayu carries the same names the rules check.

use serde_json::{Map, Value};

/// The custom claim that makes a user an agent.
pub const AGENT_CLAIM: &str = "agent";
/// The custom claim that gives a person or agent a role.
pub const ROLE_CLAIM: &str = "role";

/// `{"agent": true}`: the claims of an agent identity.
pub fn agent_claims() -> Map<String, Value> {
    let mut m = Map::new();
    m.insert(AGENT_CLAIM.into(), Value::Bool(true));
    m
}

/// The claims of a person, with an optional role.
pub fn person_claims(role: Option<&str>) -> Map<String, Value> {
    let mut m = Map::new();
    if let Some(r) = role {
        m.insert(ROLE_CLAIM.into(), Value::String(r.into()));
    }
    m
}
