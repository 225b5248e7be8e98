//! Alert events and webhooks (issue 16, "Observability"), with no I/O.
//!
//! An event is written in the same commit as the change it reports (an
//! outbox: `events/{id}`), so no crash loses one; a hook (`notify/{id}`)
//! names a URL, the kinds it wants and a cursor, the (at, id) of the last
//! event it was given. Any agent delivers and moves the cursor forward.
//!
//! Why the id is deterministic (`{subject}-{kind}-{key}`): a commit made
//! twice, or by two racing agents, describes the same fact, so it must
//! name the same document; its create-if-absent then lands once, and a
//! receiver deduplicates on the id. The key is what makes the fact unique:
//! - `failed` / `dead`: `e{epoch}`, the lease epoch the task is stored
//!   with after the commit. Every hold of a task has its own epoch and
//!   ends at most once (its end is a compare-and-set), and a take-over
//!   stores the next epoch, which no holder ever holds (a claim raises it
//!   again), so no two ends store the same epoch.
//! - `quarantined`: the quarantined document's update time in
//!   microseconds (every racing agent saw that version; the move is
//!   conditioned on it). A document quarantined, restored, and broken
//!   again makes a new event.
//! - `agent_offline`: the peer's `last_heartbeat` in milliseconds: one
//!   event per silence, whichever agent marks it.

use crate::lifecycle::Status;
use crate::model::{Task, clip};
use crate::time::Time;
use serde::{Deserialize, Serialize};
use std::fmt;

/// Bounds the rules put on an event and a hook (firestore.rules
/// `isEvent`, `isNewHook`).
pub const DETAIL_MAX: usize = 500;
pub const SUBJECT_MAX: usize = 1024;
pub const URL_MAX: usize = 2048;
pub const LAST_ERROR_MAX: usize = 500;
/// How long events are kept (their `expire_at`, for the TTL policy).
pub const EVENT_RETENTION_DAYS: u64 = 30;

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// An attempt failed and the task was queued for a retry.
    Failed,
    /// A task's retries were spent: the dead letter (status `failed`).
    Dead,
    /// A queued document did not parse and was moved to quarantine.
    Quarantined,
    /// A peer stopped heartbeating and was marked offline.
    AgentOffline,
}

impl Kind {
    pub const ALL: [Kind; 4] = [
        Kind::Failed,
        Kind::Dead,
        Kind::Quarantined,
        Kind::AgentOffline,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Failed => "failed",
            Kind::Dead => "dead",
            Kind::Quarantined => "quarantined",
            Kind::AgentOffline => "agent_offline",
        }
    }

    pub fn parse(s: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An event as stored in `events/{id}`. `at` is the commit's time (a
/// server transform; `None` when written), `expire_at` the TTL field.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    pub kind: Kind,
    pub subject: String,
    pub key: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at: Option<Time>,
    pub detail: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expire_at: Option<Time>,
}

impl Event {
    fn new(kind: Kind, subject: &str, key: String, detail: &str) -> Event {
        Event {
            kind,
            subject: subject.to_string(),
            key,
            at: None,
            detail: clip(detail, DETAIL_MAX - 4),
            expire_at: None,
        }
    }

    /// `{subject}-{kind}-{key}`: the document id, and the id a receiver
    /// deduplicates on.
    pub fn id(&self) -> String {
        event_id(&self.subject, self.kind, &self.key)
    }

    /// The event of a task's end, `ended` being the task as the commit
    /// stores it: a retry queued (`failed`) or the dead letter (`dead`).
    pub fn of_task(kind: Kind, ended: &Task) -> Event {
        let detail = ended.execution.last_error.as_deref().unwrap_or("");
        Event::new(
            kind,
            &ended.task_id,
            format!("e{}", ended.lease.epoch),
            detail,
        )
    }

    /// The event of a task's end that took the status steps `path`: a
    /// failed attempt queued again (`failed`, then `queued`), or one
    /// ending in the dead letter (`failed` alone). Other ends report none.
    pub fn of_end(path: &[Status], ended: &Task) -> Option<Event> {
        let kind = match path {
            [Status::Failed, Status::Queued] => Kind::Failed,
            [Status::Failed] => Kind::Dead,
            _ => return None,
        };
        Some(Event::of_task(kind, ended))
    }

    /// A queued document moved to quarantine; `version_micros` is the
    /// update time of the version moved.
    pub fn quarantined(doc_id: &str, version_micros: i64, reason: &str) -> Event {
        Event::new(
            Kind::Quarantined,
            doc_id,
            version_micros.max(0).to_string(),
            reason,
        )
    }

    /// A peer marked offline; `last_heartbeat` as its document says.
    pub fn agent_offline(agent_id: &str, last_heartbeat: Time) -> Event {
        let millis = last_heartbeat.0.as_millisecond().max(0);
        Event::new(
            Kind::AgentOffline,
            agent_id,
            millis.to_string(),
            &format!("no heartbeat since {last_heartbeat}"),
        )
    }

    /// Whether the id fits a document id with room to spare (a document
    /// typed into the console may have a very long id).
    pub fn fits(&self) -> bool {
        !self.subject.is_empty() && self.subject.len() <= SUBJECT_MAX
    }

    /// The JSON a webhook receives.
    pub fn payload(&self, id: &str) -> Payload {
        Payload {
            id: id.to_string(),
            kind: self.kind,
            subject: self.subject.clone(),
            at: self.at,
            detail: self.detail.clone(),
        }
    }
}

pub fn event_id(subject: &str, kind: Kind, key: &str) -> String {
    format!("{subject}-{kind}-{key}")
}

/// The body of a webhook's POST; `X-Vayu-Event-Id` carries `id` too.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Payload {
    pub id: String,
    pub kind: Kind,
    pub subject: String,
    pub at: Option<Time>,
    pub detail: String,
}

/// A webhook, `notify/{hook_id}`. The cursor is the (at, id) of the last
/// event it was given (or skipped, not being of its kinds): events are
/// read in that order, after it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Hook {
    pub hook_id: String,
    pub url: String,
    pub on: Vec<Kind>,
    pub created_by: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<Time>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor_at: Option<Time>,
    #[serde(default)]
    pub cursor_id: String,
    #[serde(default)]
    pub failures: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
}

impl Hook {
    pub fn wants(&self, kind: Kind) -> bool {
        self.on.contains(&kind)
    }

    /// Whether the event at (`at`, `id`) comes after the cursor.
    pub fn is_after_cursor(&self, at: Time, id: &str) -> bool {
        match self.cursor_at {
            None => true,
            Some(c) => (at, id) > (c, self.cursor_id.as_str()),
        }
    }
}

/// A hook id: what `vayu notify add` makes (and the rules accept).
pub fn is_hook_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id.starts_with(|c: char| c.is_ascii_alphanumeric())
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// Checks a webhook URL: http or https, a host, no whitespace or control
/// characters, at most [`URL_MAX`] bytes. The rules check the same shape.
pub fn check_url(url: &str) -> Result<(), String> {
    if url.len() > URL_MAX {
        return Err(format!("the URL is longer than {URL_MAX} bytes"));
    }
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .ok_or_else(|| format!("'{url}' is not an http:// or https:// URL"))?;
    if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("the URL holds whitespace or control characters".into());
    }
    let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host = host.rsplit('@').next().unwrap_or_default();
    if host.is_empty() || host.starts_with(':') {
        return Err(format!("'{url}' names no host"));
    }
    Ok(())
}

/// Parses `--on failed,dead,…`: at least one kind, each known, no repeats.
pub fn parse_kinds(list: &str) -> Result<Vec<Kind>, String> {
    let mut out = Vec::new();
    for part in list.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let kind = Kind::parse(part).ok_or_else(|| {
            let known: Vec<&str> = Kind::ALL.iter().map(|k| k.as_str()).collect();
            format!("unknown event kind '{part}' (known: {})", known.join(", "))
        })?;
        if !out.contains(&kind) {
            out.push(kind);
        }
    }
    if out.is_empty() {
        return Err("--on names no event kind".into());
    }
    Ok(out)
}

#[cfg(test)]
#[path = "notify_tests.rs"]
mod tests;
