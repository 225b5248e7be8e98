//! The task and agent documents, as they are stored in Firestore.
//!
//! Field names and enum values are the seed's (section 1), so a document
//! reads well in the Firebase console: enums are lowercase strings, times
//! are Firestore timestamps ([`Time`]), ids are uuid strings.
//!
//! Every field has a default, so a document that lacks a field still
//! parses; a field of the wrong type does not, and such a document is
//! quarantined rather than crashing the agent that reads it.
//!
//! What vayu adds to the seed's model:
//! - `title` and `input`, what the task is about and what the handler gets;
//! - `requires`, the capabilities an agent must have to claim it;
//! - `lease` {owner, expires_at, epoch}: who holds it, until when, and a
//!   fencing number that grows with every claim;
//! - `not_before`, when a retry may start (backoff);
//! - `control`, a person's request to cancel or pause a running task;
//! - `history`, the transitions with their times, bounded.
//!
//! Size: Firestore caps a document at 1 MiB. The task keeps only bounded
//! tails (logs, checkpoints, artifacts, history); the full log lives in
//! `task_logs/{task_id}/lines/{epoch}-{seq}`, one small document per
//! batch of lines (see [`crate::layout`]).

use crate::lifecycle::Status;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

pub use crate::time::Time;

/// The current time, at the microsecond precision Firestore keeps.
pub fn now() -> Time {
    Time::now()
}

/// `t` plus a std duration (saturating at the far future).
pub fn time_add(t: Time, d: std::time::Duration) -> Time {
    let span = jiff::SignedDuration::try_from(d).unwrap_or(jiff::SignedDuration::MAX);
    Time(t.0.saturating_add(span).unwrap_or(jiff::Timestamp::MAX))
        .truncated_to_firestore_precision()
}

/// Milliseconds from `a` to `b` (negative when `b` is earlier).
pub fn millis_between(a: Time, b: Time) -> i64 {
    b.0.as_millisecond() - a.0.as_millisecond()
}

/// Bounds that keep one task document far below Firestore's 1 MiB and that
/// `firestore.rules` enforces as well.
pub mod limits {
    pub const TITLE_MAX: usize = 500;
    pub const INPUT_MAX: usize = 64 * 1024;
    pub const CONTEXT_MAX: usize = 2_000;
    pub const TAGS_MAX: usize = 20;
    pub const TAG_MAX: usize = 64;
    pub const REQUIRES_MAX: usize = 20;
    pub const DEPENDENCIES_MAX: usize = 50;
    pub const LOG_TAIL: usize = 20;
    pub const LOG_LINE_MAX: usize = 1_000;
    pub const CHECKPOINTS_KEPT: usize = 10;
    pub const CHECKPOINT_MAX: usize = 16 * 1024;
    pub const ARTIFACTS_MAX: usize = 100;
    pub const ARTIFACT_NAME_MAX: usize = 200;
    pub const ARTIFACT_URI_MAX: usize = 2_000;
    pub const HISTORY_KEPT: usize = 50;
    /// A history entry's note, in bytes (then an ellipsis).
    pub const NOTE_MAX: usize = 500;
    pub const ERROR_MAX: usize = 4_000;
    pub const MAX_RETRIES_MAX: u32 = 20;
    /// `metadata.timeout_secs`: one attempt runs a week at most.
    pub const TIMEOUT_SECS_MAX: i64 = 604_800;
    /// `metadata.estimated_duration`, in minutes: a week.
    pub const ESTIMATE_MINUTES_MAX: f64 = 10_080.0;
    /// `metadata.actual_duration`, in minutes: a year.
    pub const ACTUAL_MINUTES_MAX: f64 = 525_600.0;
    /// `review.quality_score`: the seed's 0–5 scale.
    pub const QUALITY_MAX: f64 = 5.0;
    /// `assignment.executors`: agents that ever claimed a task.
    pub const EXECUTORS_MAX: usize = 64;
}

macro_rules! string_enum {
    ($(#[$meta:meta])* $name:ident { $($variant:ident => $text:literal),+ $(,)? } $(default $default:ident)?) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $($variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        $(impl Default for $name {
            fn default() -> Self {
                $name::$default
            }
        })?

        impl FromStr for $name {
            type Err = String;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                $name::ALL.iter().copied().find(|v| v.as_str() == s).ok_or_else(|| {
                    let valid: Vec<_> = $name::ALL.iter().map(|v| v.as_str()).collect();
                    format!("unknown {} '{s}' (valid: {})", stringify!($name).to_lowercase(), valid.join(", "))
                })
            }
        }
    };
}

string_enum!(
    /// The seed's task types; each has its own workflow (section 4).
    TaskType {
        UserRequest => "user_request",
        Maintenance => "maintenance",
        Scheduled => "scheduled",
        Research => "research",
        Learning => "learning",
    }
    default UserRequest
);

string_enum!(
    /// Critical tasks are claimed first, then high, normal, low.
    Priority {
        Critical => "critical",
        High => "high",
        Normal => "normal",
        Low => "low",
    }
    default Normal
);

impl Priority {
    /// 0 for critical .. 3 for low: stored as `priority_rank` so a query can
    /// order by it (strings would sort alphabetically).
    pub fn rank(self) -> i64 {
        match self {
            Priority::Critical => 0,
            Priority::High => 1,
            Priority::Normal => 2,
            Priority::Low => 3,
        }
    }
}

string_enum!(
    /// Who asked for the task.
    RequesterType {
        Human => "human",
        Agent => "agent",
        System => "system",
    }
    default Human
);

string_enum!(
    /// How the primary agent got the task.
    AssignmentMethod {
        Claimed => "claimed",
        Assigned => "assigned",
        Volunteered => "volunteered",
    }
);

string_enum!(
    /// A review's verdict.
    ReviewStatus {
        Pending => "pending",
        Passed => "passed",
        Failed => "failed",
    }
);

string_enum!(
    /// Weights load balancing (section 3).
    Complexity {
        Simple => "simple",
        Moderate => "moderate",
        Complex => "complex",
    }
    default Simple
);

string_enum!(
    /// What a person asked a running task to do; the lease holder obeys
    /// at its next heartbeat.
    ControlRequest {
        Cancel => "cancel",
        Pause => "pause",
    }
);

string_enum!(
    /// An agent's health as others see it.
    AgentState {
        Online => "online",
        Busy => "busy",
        Offline => "offline",
    }
);

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Requester {
    #[serde(rename = "type")]
    pub kind: RequesterType,
    pub id: String,
    pub context: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Assignment {
    pub primary_agent: Option<String>,
    pub collaborators: Vec<String>,
    pub assigned_at: Option<Time>,
    pub assignment_method: Option<AssignmentMethod>,
    /// Every agent that ever claimed or reclaimed the task, append-only,
    /// at most [`limits::EXECUTORS_MAX`]: a reviewer must not be one of
    /// them (firestore.rules `executorsWithCaller`, `isReviewDecision`).
    /// Omitted while empty, so a new task's assignment is unchanged.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub executors: Vec<String>,
}

impl Assignment {
    /// Records `agent` as an executor (a claim or reclaim): appended once.
    pub fn add_executor(&mut self, agent: &str) {
        if !self.executors.iter().any(|a| a == agent) {
            self.executors.push(agent.to_string());
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Dependencies {
    /// Tasks this one blocks (they wait for it).
    pub blocking: Vec<String>,
    /// Tasks this one waits for.
    pub blocked_by: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Checkpoint {
    pub at: Option<Time>,
    pub epoch: i64,
    /// Opaque to vayu: the handler's own resume state.
    pub data: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Artifact {
    pub name: String,
    /// A URI (gs://, https://, file://) or a short inline value.
    pub uri: String,
    pub at: Option<Time>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Execution {
    pub started_at: Option<Time>,
    pub finished_at: Option<Time>,
    /// 0..=100.
    pub progress: i64,
    pub current_step: Option<String>,
    /// The newest checkpoints, oldest first; a resumed task gets the last.
    pub checkpoints: Vec<Checkpoint>,
    pub artifacts: Vec<Artifact>,
    /// The last few log lines; the whole log is in `task_logs`.
    pub logs: Vec<String>,
    /// How many log lines were written, in all attempts.
    pub log_lines: i64,
    /// What the handler reported as its result (`vayu:result ...`).
    pub result: Option<String>,
    /// Why the last attempt failed, kept when the task is dead-lettered.
    pub last_error: Option<String>,
    /// Which attempt this is, from 1.
    pub attempt: i64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Review {
    pub reviewer: Option<String>,
    pub status: Option<ReviewStatus>,
    pub feedback: Option<String>,
    pub quality_score: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Metadata {
    /// Minutes.
    pub estimated_duration: Option<f64>,
    /// Minutes, set on completion.
    pub actual_duration: Option<f64>,
    pub complexity: Complexity,
    pub tags: Vec<String>,
    /// Failed attempts so far (reclaims after a lost lease count too).
    pub retry_count: i64,
    pub max_retries: i64,
    /// Seconds one attempt may run; derived from `estimated_duration` when
    /// absent (see [`Task::timeout`]).
    pub timeout_secs: Option<i64>,
}

impl Default for Metadata {
    fn default() -> Self {
        Metadata {
            estimated_duration: None,
            actual_duration: None,
            complexity: Complexity::Simple,
            tags: Vec::new(),
            retry_count: 0,
            max_retries: 3,
            timeout_secs: None,
        }
    }
}

/// Who holds a task and until when. `epoch` fences: every claim raises it,
/// and every write by a holder is conditional on it, so an agent whose
/// lease was taken over can change nothing.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Lease {
    pub owner: Option<String>,
    pub expires_at: Option<Time>,
    pub epoch: i64,
}

/// One step of the task's life, for people reading the console or
/// `vayu task status`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct HistoryEntry {
    pub status: Option<Status>,
    pub at: Option<Time>,
    pub agent: Option<String>,
    pub epoch: i64,
    pub note: Option<String>,
}

/// A task document. See the module docs for what lives where.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Task {
    pub task_id: String,
    #[serde(rename = "type")]
    pub task_type: TaskType,
    pub status: Status,
    /// Set by the server on create (a request-time transform).
    pub created_at: Option<Time>,
    /// Set by the server on every write.
    pub updated_at: Option<Time>,
    pub priority: Priority,
    /// `priority.rank()`, stored for ordering queries.
    pub priority_rank: i64,
    /// Which agent's listener sees this task while it is queued (see
    /// [`crate::lanes`]): set from the id at creation, changed only when
    /// an agent forwards the task to a peer that can run it.
    pub lane: i64,
    pub title: String,
    /// What the handler works on; free text or JSON.
    pub input: String,
    pub requires: Vec<String>,
    pub requester: Requester,
    pub assignment: Assignment,
    pub dependencies: Dependencies,
    pub execution: Execution,
    pub review: Review,
    pub metadata: Metadata,
    pub lease: Lease,
    pub not_before: Option<Time>,
    pub control: Option<ControlRequest>,
    pub history: Vec<HistoryEntry>,
}

impl Default for Task {
    fn default() -> Self {
        Task {
            task_id: String::new(),
            task_type: TaskType::UserRequest,
            status: Status::Queued,
            created_at: None,
            updated_at: None,
            priority: Priority::Normal,
            priority_rank: Priority::Normal.rank(),
            lane: 0,
            title: String::new(),
            input: String::new(),
            requires: Vec::new(),
            requester: Requester::default(),
            assignment: Assignment::default(),
            dependencies: Dependencies::default(),
            execution: Execution::default(),
            review: Review::default(),
            metadata: Metadata::default(),
            lease: Lease::default(),
            not_before: None,
            control: None,
            history: Vec::new(),
        }
    }
}

/// Why a new task was refused before it reached Firestore.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid task: {0}")]
pub struct InvalidTask(pub String);

impl Task {
    /// A new task with a fresh uuid, queued, with the seed's defaults.
    pub fn new(task_type: TaskType, priority: Priority, title: impl Into<String>) -> Task {
        let task_id = uuid::Uuid::new_v4().to_string();
        Task {
            lane: crate::spread::lane_for(&task_id),
            task_id,
            task_type,
            priority,
            priority_rank: priority.rank(),
            title: title.into(),
            ..Task::default()
        }
    }

    /// How long one attempt may run: the explicit timeout, else twice the
    /// estimate (people underestimate), else one hour.
    ///
    /// Saturating: whatever a document says (i64::MAX, 1e300, NaN), the
    /// answer is at most [`limits::TIMEOUT_SECS_MAX`] and never panics.
    pub fn timeout(&self) -> std::time::Duration {
        use std::time::Duration;
        const DEFAULT: Duration = Duration::from_secs(3600);
        let max = Duration::from_secs(limits::TIMEOUT_SECS_MAX as u64);
        if let Some(secs) = self.metadata.timeout_secs.filter(|s| *s > 0) {
            return Duration::from_secs(secs.min(limits::TIMEOUT_SECS_MAX) as u64);
        }
        match self.metadata.estimated_duration {
            Some(minutes) if minutes.is_finite() && minutes > 0.0 => {
                Duration::try_from_secs_f64((minutes * 60.0 * 2.0).max(1.0))
                    .map_or(max, |d| d.min(max))
            }
            _ => DEFAULT,
        }
    }

    /// The checkpoint a new attempt resumes from.
    pub fn last_checkpoint(&self) -> Option<&Checkpoint> {
        self.execution.checkpoints.last()
    }

    /// Appends to the history, keeping only the newest entries.
    pub fn record(&mut self, status: Status, at: Time, agent: Option<&str>, note: Option<String>) {
        self.history.push(HistoryEntry {
            status: Some(status),
            at: Some(at),
            agent: agent.map(str::to_string),
            epoch: self.lease.epoch,
            note: note.map(|n| clip(&n, limits::NOTE_MAX)),
        });
        let excess = self.history.len().saturating_sub(limits::HISTORY_KEPT);
        self.history.drain(..excess);
    }
}

/// `s` cut to at most `max` bytes (on a character boundary) and an
/// ellipsis, or `s` itself when it fits: the rules bound strings.
pub fn clip(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

/// An agent's document in `agents/{agent_id}`: the seed's `agent_status`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct AgentDoc {
    pub agent_id: String,
    pub status: Option<AgentState>,
    pub capabilities: Vec<String>,
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
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enums_are_the_seeds_lowercase_strings() {
        let t = Task::new(TaskType::UserRequest, Priority::High, "x");
        let v = serde_json::to_value(&t).expect("a task serializes");
        assert_eq!(v["type"], "user_request");
        assert_eq!(v["priority"], "high");
        assert_eq!(v["status"], "queued");
        assert_eq!(v["requester"]["type"], "human");
        assert_eq!(v["metadata"]["complexity"], "simple");
        assert_eq!(v["metadata"]["max_retries"], 3);
        assert_eq!(v["priority_rank"], 1);
    }

    #[test]
    fn unknown_priority_names_the_valid_ones() {
        let e = "urgent".parse::<Priority>().expect_err("not a priority");
        assert!(e.contains("critical, high, normal, low"), "{e}");
    }

    #[test]
    fn a_missing_field_defaults_but_a_wrong_type_is_an_error() {
        let t: Task =
            serde_json::from_str(r#"{"task_id":"a","title":"t"}"#).expect("missing fields default");
        assert_eq!(t.metadata.max_retries, 3);
        assert!(serde_json::from_str::<Task>(r#"{"priority": 7}"#).is_err());
    }

    #[test]
    fn validation_refuses_what_the_rules_refuse() {
        let ok = Task::new(TaskType::Research, Priority::Low, "fine");
        ok.validate_new().expect("a fresh task is valid");
        let mut t = ok.clone();
        t.title = "x".repeat(limits::TITLE_MAX + 1);
        assert!(t.validate_new().is_err());
        let mut t = ok.clone();
        t.status = Status::Executing;
        assert!(t.validate_new().is_err());
        let mut t = ok.clone();
        t.task_id = "not a task id!".into();
        assert!(t.validate_new().is_err());
        let mut t = ok;
        t.metadata.max_retries = 99;
        assert!(t.validate_new().is_err());
    }

    #[test]
    fn timeout_is_explicit_or_twice_the_estimate() {
        let mut t = Task::new(TaskType::Research, Priority::Low, "t");
        assert_eq!(t.timeout().as_secs(), 3600);
        t.metadata.estimated_duration = Some(1.5);
        assert_eq!(t.timeout().as_secs(), 180);
        t.metadata.timeout_secs = Some(7);
        assert_eq!(t.timeout().as_secs(), 7);
    }

    #[test]
    fn timeout_saturates_whatever_the_document_says() {
        let week = limits::TIMEOUT_SECS_MAX as u64;
        let mut t = Task::new(TaskType::Research, Priority::Low, "t");
        t.metadata.timeout_secs = Some(i64::MAX);
        assert_eq!(t.timeout().as_secs(), week);
        t.metadata.timeout_secs = Some(-5);
        assert_eq!(
            t.timeout().as_secs(),
            3600,
            "a non-positive timeout is ignored"
        );
        t.metadata.timeout_secs = None;
        for (minutes, secs) in [
            (1e300, week),
            (f64::INFINITY, 3600),
            (f64::NAN, 3600),
            (-1.0, 3600),
        ] {
            t.metadata.estimated_duration = Some(minutes);
            assert_eq!(t.timeout().as_secs(), secs, "estimate {minutes}");
        }
    }

    #[test]
    fn history_is_bounded() {
        let mut t = Task::new(TaskType::Research, Priority::Low, "t");
        for _ in 0..(limits::HISTORY_KEPT + 10) {
            t.record(Status::Queued, now(), None, None);
        }
        assert_eq!(t.history.len(), limits::HISTORY_KEPT);
    }
}
