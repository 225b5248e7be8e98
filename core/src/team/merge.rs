//! Combining the parts' results into the parent's.
//!
//! Every part is present exactly once, in part order: the merge takes the
//! parts as the parent's `team.parts` lists them, never as they were
//! found, so a part run twice (a takeover) still counts once.

use super::Merge;
use crate::model::limits;
use serde_json::{Map, Value};

/// One completed part, as the merge sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartResult {
    pub task_id: String,
    pub role: Option<String>,
    /// The agent that completed it.
    pub agent: Option<String>,
    /// What its handler reported (`vayu:result`); "" when nothing.
    pub result: String,
}

/// The agents that completed the parts, each once, in part order: the
/// parent's `assignment.collaborators` (firestore.rules
/// `isTeamCollaborators` lets its holder write at most one per part).
pub fn collaborators(parts: &[PartResult]) -> Vec<String> {
    let mut out: Vec<String> = Vec::with_capacity(parts.len());
    for agent in parts.iter().filter_map(|p| p.agent.as_ref()) {
        if !out.contains(agent) {
            out.push(agent.clone());
        }
    }
    out
}

/// Why the parts' results do not merge: the parent's attempt fails, and
/// the reason names the part.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MergeError {
    #[error("part {part}'s result is not JSON: {why}")]
    NotJson { part: String, why: String },
    #[error("parts' JSON results mix objects and arrays (part {part} differs from the first)")]
    Mixed { part: String },
    #[error("part {part}'s result is JSON but neither an object nor an array")]
    Scalar { part: String },
    #[error("key '{key}' has different values in parts {first} and {second}")]
    Conflict {
        key: String,
        first: String,
        second: String,
    },
    #[error(
        "the merged result is {len} bytes, over a result's {}: merge with a handler (--merge handler) that writes a shorter one",
        limits::ERROR_MAX
    )]
    TooLong { len: usize },
    #[error("a team with no parts has nothing to merge")]
    Empty,
}

/// The parent's result from its parts' (in part order). For
/// [`Merge::Handler`] it is the handler's input: a JSON array of
/// `{task_id, role, agent, result}`.
pub fn merge(how: Merge, parts: &[PartResult]) -> Result<String, MergeError> {
    let merged = match how {
        Merge::Concat => parts
            .iter()
            .map(|p| p.result.as_str())
            .collect::<Vec<_>>()
            .join("\n"),
        Merge::Last => parts.last().ok_or(MergeError::Empty)?.result.clone(),
        Merge::Json => json(parts)?,
        Merge::Handler => return Ok(handler_input(parts)),
    };
    if merged.len() > limits::ERROR_MAX {
        return Err(MergeError::TooLong { len: merged.len() });
    }
    Ok(merged)
}

fn json(parts: &[PartResult]) -> Result<String, MergeError> {
    let first = parts.first().ok_or(MergeError::Empty)?;
    let mut objects: Map<String, Value> = Map::new();
    let mut owner: std::collections::BTreeMap<String, &str> = Default::default();
    let mut arrays: Vec<Value> = Vec::new();
    let first_is_object = parse(first)?.is_object();
    for p in parts {
        match (parse(p)?, first_is_object) {
            (Value::Object(o), true) => {
                for (key, value) in o {
                    if let Some(seen) = objects.get(&key)
                        && *seen != value
                    {
                        return Err(MergeError::Conflict {
                            first: owner[&key].to_string(),
                            second: p.task_id.clone(),
                            key,
                        });
                    }
                    owner.entry(key.clone()).or_insert(&p.task_id);
                    objects.insert(key, value);
                }
            }
            (Value::Array(a), false) => arrays.extend(a),
            _ => {
                return Err(MergeError::Mixed {
                    part: p.task_id.clone(),
                });
            }
        }
    }
    let merged = if first_is_object {
        Value::Object(objects)
    } else {
        Value::Array(arrays)
    };
    Ok(merged.to_string())
}

fn parse(p: &PartResult) -> Result<Value, MergeError> {
    let v: Value = serde_json::from_str(&p.result).map_err(|e| MergeError::NotJson {
        part: p.task_id.clone(),
        why: e.to_string(),
    })?;
    if v.is_object() || v.is_array() {
        Ok(v)
    } else {
        Err(MergeError::Scalar {
            part: p.task_id.clone(),
        })
    }
}

fn handler_input(parts: &[PartResult]) -> String {
    let rows: Vec<Value> = parts
        .iter()
        .map(|p| {
            serde_json::json!({
                "task_id": p.task_id,
                "role": p.role,
                "agent": p.agent,
                "result": p.result,
            })
        })
        .collect();
    Value::Array(rows).to_string()
}
