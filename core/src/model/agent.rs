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

impl AgentDoc {
    /// The agent as people see it: its registration, with what its latest
    /// beat says (load, current tasks, busy, and the beat's time as
    /// `last_heartbeat`). A beat of another incarnation is an earlier
    /// run's, and says nothing about this one; an older agent that beats
    /// in its registration alone has no presence to add.
    pub fn with_presence(mut self, beat: Option<&PresenceDoc>) -> AgentDoc {
        let Some(p) = beat.filter(|p| p.incarnation == self.incarnation) else {
            return self;
        };
        if p.beat_at > self.last_heartbeat {
            self.last_heartbeat = p.beat_at;
        }
        self.heartbeat_ms = p.heartbeat_ms;
        self.current_tasks = p.current_tasks.clone();
        (self.cpu_usage, self.memory_usage, self.rss_mb) = (p.cpu_usage, p.memory_usage, p.rss_mb);
        (self.completed_count, self.failed_count) = (p.completed_count, p.failed_count);
        if p.busy && self.status == Some(AgentState::Online) {
            self.status = Some(AgentState::Busy);
        }
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: i64) -> Option<Time> {
        Time::from_parts(s, 0)
    }

    fn registered() -> AgentDoc {
        AgentDoc {
            agent_id: "a".into(),
            status: Some(AgentState::Online),
            incarnation: "run-2".into(),
            last_heartbeat: at(1_000),
            heartbeat_ms: 5_000,
            ..AgentDoc::default()
        }
    }

    fn beat(incarnation: &str, busy: bool) -> PresenceDoc {
        PresenceDoc {
            agent_id: "a".into(),
            incarnation: incarnation.into(),
            beat_at: at(2_000),
            heartbeat_ms: 1_000,
            busy,
            current_tasks: vec!["t1".into()],
            cpu_usage: 12.5,
            completed_count: 7,
            ..PresenceDoc::default()
        }
    }

    #[test]
    fn a_beat_brings_the_registration_up_to_date() {
        let seen = registered().with_presence(Some(&beat("run-2", true)));
        assert_eq!(seen.last_heartbeat, at(2_000));
        assert_eq!(seen.status, Some(AgentState::Busy));
        assert_eq!(seen.current_tasks, ["t1"]);
        assert_eq!(
            (seen.cpu_usage, seen.completed_count, seen.heartbeat_ms),
            (12.5, 7, 1_000)
        );
    }

    #[test]
    fn an_offline_agent_stays_offline_and_an_idle_one_online() {
        let mut off = registered();
        off.status = Some(AgentState::Offline);
        let seen = off.with_presence(Some(&beat("run-2", true)));
        assert_eq!(seen.status, Some(AgentState::Offline));
        let idle = registered().with_presence(Some(&beat("run-2", false)));
        assert_eq!(idle.status, Some(AgentState::Online));
    }

    #[test]
    fn an_earlier_runs_beat_or_none_changes_nothing() {
        assert_eq!(
            registered().with_presence(Some(&beat("run-1", true))),
            registered()
        );
        assert_eq!(registered().with_presence(None), registered());
    }

    #[test]
    fn an_older_beat_keeps_the_newer_registration_time() {
        let mut old = beat("run-2", false);
        old.beat_at = at(500);
        assert_eq!(
            registered().with_presence(Some(&old)).last_heartbeat,
            at(1_000)
        );
    }
}
