//! What an agent is told at start, and what it reports when it stops.

use super::*;

/// How long log batches are kept by default: 30 days.
pub const LOG_RETENTION: Duration = Duration::from_secs(30 * 86_400);

/// How long a draining agent lets its tasks finish: long enough for most
/// handlers, short enough that a rolling update does not stall on one.
pub const DRAIN_GRACE: Duration = Duration::from_secs(300);

/// How often old ended tasks are archived: often enough that the
/// completed pile never holds much more than its retention, rarely enough
/// that the sweep's one query costs nothing worth counting.
pub const ARCHIVE_EVERY: Duration = Duration::from_secs(600);

/// Which command runs which task type.
#[derive(Debug, Clone, Default)]
pub struct Handlers {
    /// Runs every type without its own handler.
    pub default: Option<String>,
    pub by_type: HashMap<TaskType, String>,
}

impl Handlers {
    pub fn command_for(&self, t: TaskType) -> Option<&str> {
        self.by_type
            .get(&t)
            .or(self.default.as_ref())
            .map(String::as_str)
    }

    /// The types this agent can run; `None` when a default handles all.
    pub fn handled_types(&self) -> Option<HashSet<TaskType>> {
        if self.default.is_some() {
            None
        } else {
            Some(self.by_type.keys().copied().collect())
        }
    }

    pub fn is_empty(&self) -> bool {
        self.default.is_none() && self.by_type.is_empty()
    }
}

/// Everything an agent is told at start.
#[derive(Debug, Clone)]
pub struct AgentConfig {
    pub agent_id: String,
    pub capabilities: Vec<String>,
    pub concurrency: usize,
    pub handlers: Handlers,
    /// How long a claim is good for without renewal.
    pub lease: Duration,
    /// How often leases are renewed and the agent document refreshed.
    /// Also how fast a cancel or pause reaches a running handler.
    pub heartbeat: Duration,
    /// How long running handlers may finish after a shutdown signal.
    pub grace: Duration,
    /// How long running handlers may finish after a drain request
    /// (`vayu agent drain`) before their tasks go back to the queue.
    pub drain_grace: Duration,
    /// Delays between failed attempts of a task.
    pub retry_backoff: Backoff,
    /// How often the owner of lane 0 counts the queue for documents no
    /// lane listener sees (drafts typed in the console; `intake.rs`).
    pub sweep_every: Duration,
    /// The reviews this agent gives (`reviewer.rs`); none by default.
    pub reviews: ReviewCommands,
    /// The time schedules are evaluated at (`crate::schedules`): the
    /// system clock, or a test's manual one.
    pub clock: crate::schedules::Clock,
    /// What the agent learned from its runs (`skills.rs`); empty at
    /// first, seeded from the agent's document at start.
    pub skills: super::Skills,
    /// How long a queued task waits for each priority rank it climbs
    /// (`crate::assign::ageing`); a test shortens it to see the bound.
    pub age_step: Duration,
    /// What handlers may touch: environment, directory, limits.
    pub sandbox: crate::handler::sandbox::Sandbox,
    /// When to stop claiming a type whose handler keeps failing.
    pub breaker: crate::breaker::BreakerConfig,
    /// Where to serve Prometheus metrics (`exporter.rs`); none by default.
    pub metrics_addr: Option<std::net::SocketAddr>,
    /// How long a task's log batches are kept (their `expire_at`, for
    /// Firestore's TTL policy); `None` keeps them.
    pub log_retention: Option<Duration>,
    /// How often the owner of lane 0 moves old ended tasks to the archive
    /// (`crate::archive::sweep`, by `config/retention`'s age); `None`
    /// never.
    pub archive_every: Option<Duration>,
    /// The auto-scaling hook (`scaler.rs`); none by default.
    pub scaling: Option<super::ScaleHook>,
    /// How often this agent delivers alert events to webhooks
    /// (`crate::notify::deliver`), jittered, while it owns lane 0; `None`:
    /// it delivers none.
    pub notify_every: Option<Duration>,
}

impl AgentConfig {
    pub fn new(agent_id: impl Into<String>, handlers: Handlers) -> Self {
        let agent_id = agent_id.into();
        AgentConfig {
            sandbox: crate::handler::sandbox::Sandbox::for_agent(&agent_id),
            breaker: crate::breaker::BreakerConfig::default(),
            metrics_addr: None,
            log_retention: Some(LOG_RETENTION),
            archive_every: Some(ARCHIVE_EVERY),
            scaling: None,
            notify_every: Some(crate::notify::deliver::EVERY),
            agent_id,
            capabilities: Vec::new(),
            concurrency: 4,
            handlers,
            lease: Duration::from_secs(30),
            heartbeat: Duration::from_secs(5),
            grace: Duration::from_secs(10),
            drain_grace: DRAIN_GRACE,
            retry_backoff: Backoff::default(),
            sweep_every: intake::SWEEP_EVERY,
            reviews: ReviewCommands::default(),
            clock: crate::schedules::Clock::system(),
            skills: super::Skills::default(),
            age_step: crate::assign::ageing::AGE_STEP,
        }
    }

    pub fn validate(&self) -> Result<()> {
        let bad = |m: &str| Err(Error::Config(m.into()));
        if self.agent_id.is_empty()
            || self.agent_id.len() > 128
            || !self
                .agent_id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        {
            return bad("the agent id must be 1-128 characters of a-z, A-Z, 0-9, '-', '_', '.'");
        }
        if self.capabilities.len() > crate::model::limits::AGENT_CAPABILITIES_MAX {
            return bad(&format!(
                "at most {} capabilities: the agent's document also lists its learned skills and reviews",
                crate::model::limits::AGENT_CAPABILITIES_MAX
            ));
        }
        if self.concurrency == 0 || self.concurrency > 256 {
            return bad("concurrency must be 1..=256");
        }
        if self.handlers.is_empty() {
            return bad("no handler: pass --handler 'CMD' or --handler TYPE='CMD'");
        }
        // The bounds firestore.rules puts on `heartbeat_ms` in agents/{id}.
        if self.heartbeat < Duration::from_millis(50) || self.heartbeat > Duration::from_secs(3600)
        {
            return bad("the heartbeat interval must be 50 ms..=1 h");
        }
        if self.heartbeat.is_zero() || self.lease < self.heartbeat * 2 {
            return bad("the lease must be at least twice the heartbeat interval");
        }
        self.sandbox.validate().map_err(Error::Config)
    }

    /// The capabilities in the agent's document: its own, one per
    /// review it gives (`crate::review::agent::REVIEW_CAPABILITIES`), so
    /// that the rules see a peer reviewer's `review` and people see who
    /// reviews what ("waiting: no reviewer with review:tests"), the
    /// skills it learned, and `agent:ID`, which only this agent has: a
    /// task or workflow step that requires it is this agent's alone (an
    /// id too long for a capability, over 58 characters, has none).
    pub fn advertised(&self) -> Vec<String> {
        let mut caps = self.capabilities.clone();
        let me = format!("agent:{}", self.agent_id);
        if crate::schema::is_capability(&me) && !caps.contains(&me) {
            caps.push(me);
        }
        for skill in self.skills.list() {
            if !caps.contains(&skill) {
                caps.push(skill);
            }
        }
        for (kind, cap) in crate::review::agent::REVIEW_CAPABILITIES {
            if self.reviews.reviews().gives(kind) && !caps.iter().any(|c| c == cap) {
                caps.push(cap.to_string());
            }
        }
        caps
    }

    pub(super) fn offer(&self) -> Offer {
        Offer {
            agent_id: self.agent_id.clone(),
            capabilities: self.advertised().into_iter().collect(),
            handles: self.handlers.handled_types(),
        }
    }
}

/// What an agent did, returned when it stops (tests and the benchmark read
/// it).
#[derive(Debug, Default, Clone)]
pub struct AgentReport {
    pub claimed: u64,
    pub claim_conflicts: u64,
    pub outcomes: HashMap<&'static str, u64>,
    /// Created → claimed latency of every claim, in milliseconds (from the
    /// server's `created_at` to the claim commit's time).
    pub claim_latencies_ms: Vec<i64>,
    /// How long each lost claim race took, from sending the claim to
    /// hearing it was refused, in milliseconds.
    pub conflict_ms: Vec<f64>,
    /// Verdicts this agent gave (self-checks, peer reviews, test runs).
    pub reviews_given: u64,
    /// It stopped because a person asked it to drain.
    pub drained: bool,
}
