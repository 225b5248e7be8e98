//! Spreading ids: the rendezvous hash that ranks tasks per agent and the
//! lane a new task starts in. A leaf, depending on nothing, so that the
//! model (which gives a new task its lane), assignment and lanes can all
//! use it without depending on each other in a circle.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};

/// Rendezvous hash of (agent, task): each agent ranks tasks differently.
pub fn affinity(agent_id: &str, task_id: &str) -> u64 {
    let mut h = DefaultHasher::new();
    agent_id.hash(&mut h);
    task_id.hash(&mut h);
    h.finish()
}

/// How many lanes the queue is split into.
///
/// 15 because an agent's priority view filters on `status in [queued,
/// rejected]` and `lane in [its lanes]`, and Firestore allows at most 30
/// disjunctions per query (2 × 15; an agent alone drops the lane filter,
/// and beside a peer it owns at most 8, so `tests/indexes.rs` sees at most
/// 16). Each `in` value also costs the emulator a scan of its own. With
/// more than 15 live agents lanes are shared, by at most ⌈N/15⌉ agents
/// each.
pub const LANES: i64 = 15;

/// The lane a new task starts in: spread evenly by its (random) id.
pub fn lane_for(task_id: &str) -> i64 {
    (affinity("lane", task_id) % LANES as u64) as i64
}
