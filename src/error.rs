//! The library's errors. Binaries map them to exit codes (see
//! `src/bin/vayu.rs`); the library never exits.

use crate::lifecycle::TransitionError;
use crate::model::InvalidTask;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Firestore did not answer: down, frozen, or the network is cut.
    #[error("cannot reach Firestore at {endpoint}: {detail}")]
    Unavailable { endpoint: String, detail: String },
    /// A precondition failed: someone else changed the document first (a
    /// lost claim race, a lease taken over, a person's control request).
    #[error("conflict: {0}")]
    Conflict(String),
    /// The rules refused the write or read.
    #[error("permission denied: {0}")]
    PermissionDenied(String),
    /// The rules refused a new task because the caller's window of this
    /// minute is full (`quota/{uid}@{minute}`, docs/security.md "Quota").
    #[error("quota exceeded: {0}")]
    QuotaExceeded(String),
    #[error("not found: {0}")]
    NotFound(String),
    /// A dependency edit that would close a cycle; `path` runs from the
    /// edited task back to it, and the message names each task on it.
    #[error("dependency cycle: {message}")]
    Cycle { path: Vec<String>, message: String },
    #[error(transparent)]
    InvalidTask(#[from] InvalidTask),
    #[error(transparent)]
    Transition(#[from] TransitionError),
    /// A schedule refused before anything was written (a malformed cron
    /// expression, an unknown time zone): exit 2, like a bad task.
    #[error("invalid schedule: {0}")]
    InvalidSchedule(#[from] crate::schedule::InvalidSchedule),
    /// A webhook refused before anything was written (`vayu notify add`
    /// with a bad URL or an unknown event kind): exit 2, like a bad task.
    #[error("invalid webhook: {0}")]
    InvalidHook(String),
    /// A document that does not parse as what it should be.
    #[error("malformed document {name}: {reason}")]
    Malformed { name: String, reason: String },
    /// A task waited for (`task watch`, `task create --wait`) ended
    /// without completing: its status says how, and picks the exit code.
    #[error("task {task_id} ended {status}: {detail}")]
    Unsuccessful {
        task_id: String,
        status: crate::lifecycle::Status,
        detail: String,
    },
    /// A backup file `vayu restore` refuses (cut short, corrupt, of an
    /// unknown version), before it writes anything: exit 65.
    #[error("invalid backup: {0}")]
    InvalidBackup(String),
    /// GitHub refused a request (not a rate limit, or one still in force
    /// past the wait cap) or could not be reached (`crate::github`).
    #[error("GitHub: {0}")]
    GitHub(String),
    #[error("bad configuration: {0}")]
    Config(String),
    #[error("firestore: {0}")]
    Firestore(String),
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

impl Error {
    /// Whether trying the same call again later may succeed.
    pub fn is_transient(&self) -> bool {
        matches!(self, Error::Unavailable { .. })
    }

    pub fn is_conflict(&self) -> bool {
        matches!(self, Error::Conflict(_))
    }
}
