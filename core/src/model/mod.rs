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
pub use agent::{AgentDoc, DrainRequest, PresenceDoc};
pub(crate) use kinds::string_enum;
pub use kinds::*;
pub use parts::*;

mod agent;
mod kinds;
pub mod limits;
mod parts;

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

/// `t` minus a std duration (saturating at the far past).
pub fn time_sub(t: Time, d: std::time::Duration) -> Time {
    let span = jiff::SignedDuration::try_from(d).unwrap_or(jiff::SignedDuration::MAX);
    Time(t.0.saturating_sub(span).unwrap_or(jiff::Timestamp::MIN))
        .truncated_to_firestore_precision()
}

/// Milliseconds from `a` to `b` (negative when `b` is earlier).
pub fn millis_between(a: Time, b: Time) -> i64 {
    b.0.as_millisecond() - a.0.as_millisecond()
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
    /// `--resource gpu:1`: permits of a named semaphore the claim takes
    /// and the end gives back (`crate::resource`); set at creation only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource: Option<crate::resource::ResourceNeed>,
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
    /// A team task's parts and how they merge ([`crate::team`]); set at
    /// creation only, on the parent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub team: Option<crate::team::Team>,
    /// On a part of a team task: which team, which part, which role; set
    /// at creation only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub part_of: Option<crate::team::PartOf>,
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
            resource: None,
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
            team: None,
            part_of: None,
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
