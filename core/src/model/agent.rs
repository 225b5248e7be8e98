//! The agent document.

use super::*;

/// An agent's document in `agents/{agent_id}`: the seed's `agent_status`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct AgentDoc {
    pub agent_id: String,
    pub status: Option<AgentState>,
    pub capabilities: Vec<String>,
    /// Capabilities learned from runs (`vayu:skill`, the learning
    /// template's skill update), also listed in `capabilities`. Kept apart
    /// so that a restart carries them forward while the configured ones
    /// may change. At most [`limits::SKILLS_MAX`].
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub skills: Vec<String>,
    /// Task types this agent has a handler for.
    pub handles: Vec<String>,
    pub concurrency: i64,
    pub current_tasks: Vec<String>,
    /// Percent of the machine's CPU used by the agent and its handlers.
    pub cpu_usage: f64,
    /// Percent of the machine's memory in use.
    pub memory_usage: f64,
    /// The agent process's own resident memory.
    pub rss_mb: f64,
    pub last_heartbeat: Option<Time>,
    pub started_at: Option<Time>,
    /// A fresh uuid each time the process starts, so peers see restarts.
    pub incarnation: String,
    pub hostname: String,
    pub version: String,
    pub completed_count: i64,
    pub failed_count: i64,
    /// The agent's heartbeat interval in milliseconds (50..=3_600_000): a
    /// peer may mark it offline only after two of them passed silently.
    pub heartbeat_ms: i64,
    /// A person asked this agent to drain (`vayu agent drain`): stop
    /// claiming, finish or hand back its tasks, and exit. Written by the
    /// person alone; the agent's heartbeats leave it as it is, and its
    /// next start clears it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub drain: Option<DrainRequest>,
}

/// Who asked an agent to drain, and when.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct DrainRequest {
    pub by: String,
    pub at: Option<Time>,
}

/// An agent's presence in `presence/{agent_id}`: what changes at every
/// heartbeat, kept apart from its registration in `agents/{agent_id}`,
/// which changes only when the agent starts, stops, learns a skill or is
/// marked offline.
///
/// Why apart: every agent listens to the registrations (who is in the
/// fleet, and what each can run), and a registration rewritten at every
/// heartbeat made each agent read every peer's beat, N² reads per
/// interval. Presence is watched by two peers only, the agent's two
/// predecessors in the ring of registered agents (`crate::ring`), so a
/// beat costs 2 reads whatever the fleet's size.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct PresenceDoc {
    pub agent_id: String,
    /// The registration's incarnation: a beat of an earlier run under the
    /// same id is told apart.
    pub incarnation: String,
    /// The server's time of the beat (a transform): peers' clocks are not
    /// trusted, and the rules check it against `request.time`.
    pub beat_at: Option<Time>,
    /// The beat's interval, in milliseconds (50..=3_600_000): a watcher
    /// may mark the agent offline after two passed silently.
    pub heartbeat_ms: i64,
    /// Running at least one task.
    pub busy: bool,
    pub current_tasks: Vec<String>,
    /// Percent of the machine's CPU used by the agent and its handlers.
    pub cpu_usage: f64,
    /// Percent of the machine's memory in use.
    pub memory_usage: f64,
    /// The agent process's own resident memory.
    pub rss_mb: f64,
    pub completed_count: i64,
    pub failed_count: i64,
}
