//! The task lifecycle state machine: one pure table, no I/O.
//!
//! This is the seed's diagram (`CREATED → QUEUED → ASSIGNED → EXECUTING →
//! REVIEWING → COMPLETED`, with the `FAILED → RETRY`, `PAUSED → RESUMED` and
//! `REJECTED → REASSIGNED` side arcs) plus two states the seed implies:
//! `blocked` (waiting on dependencies, section 5), `cancelled`, and
//! `skipped` (a blocked task whose `--if` condition was not met once its
//! dependencies ended; terminal, like `completed`).
//!
//! The same table is written out in `firestore.rules`
//! (`function next`), so the database refuses what this module
//! refuses; `tests/rules_table.rs` checks the two agree.
//!
//! Why these arcs:
//! - `retry` is not a state of its own: a failed attempt with retries left
//!   goes `executing → failed → queued` in one commit, and the task's
//!   history records both steps. So `executing → queued` is allowed, and it
//!   also covers a graceful release on shutdown.
//! - `resumed` sends a paused task back to `queued` (it is claimed again and
//!   restarts from its last checkpoint), or straight to `executing` when the
//!   agent that paused it still holds it.
//! - `reassigned` is `rejected → assigned` (a new claim of reworked work) or
//!   `rejected → queued`; `rejected → failed` ends a task whose last rework
//!   round was rejected too (`reviewing → rejected → failed` in one commit).
//! - A pull claim is `queued → assigned → executing` in a single commit: the
//!   agent starts the handler at once, and the history records both steps.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// Where a task is in its life. Stored as the seed's lowercase strings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Created,
    Queued,
    Blocked,
    Assigned,
    Executing,
    Reviewing,
    Paused,
    Rejected,
    Failed,
    Completed,
    Cancelled,
    Skipped,
}

impl Status {
    /// Every state, in lifecycle order. Tests iterate over it.
    pub const ALL: [Status; 12] = [
        Status::Created,
        Status::Queued,
        Status::Blocked,
        Status::Assigned,
        Status::Executing,
        Status::Reviewing,
        Status::Paused,
        Status::Rejected,
        Status::Failed,
        Status::Completed,
        Status::Cancelled,
        Status::Skipped,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Created => "created",
            Status::Queued => "queued",
            Status::Blocked => "blocked",
            Status::Assigned => "assigned",
            Status::Executing => "executing",
            Status::Reviewing => "reviewing",
            Status::Paused => "paused",
            Status::Rejected => "rejected",
            Status::Failed => "failed",
            Status::Completed => "completed",
            Status::Cancelled => "cancelled",
            Status::Skipped => "skipped",
        }
    }

    /// States a task may be created in. `created` is for tasks whose
    /// validation is still pending; the CLI validates first, so it creates
    /// tasks `queued` (or `blocked` when they wait on dependencies).
    pub fn is_initial(self) -> bool {
        matches!(self, Status::Created | Status::Queued | Status::Blocked)
    }

    /// No arc leaves these states, except a human's explicit retry of a
    /// failed task (`failed → queued`).
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            Status::Completed | Status::Failed | Status::Cancelled | Status::Skipped
        )
    }

    /// States in which an agent holds a lease on the task.
    pub fn is_leased(self) -> bool {
        matches!(
            self,
            Status::Assigned | Status::Executing | Status::Reviewing
        )
    }

    /// States an agent may claim from.
    pub fn is_claimable(self) -> bool {
        matches!(self, Status::Queued | Status::Rejected)
    }

    /// The states `self` may move to, in lifecycle order.
    pub fn next_states(self) -> Vec<Status> {
        Status::ALL
            .into_iter()
            .filter(|to| can_transition(self, *to))
            .collect()
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Status {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Status::ALL
            .into_iter()
            .find(|st| st.as_str() == s)
            .ok_or_else(|| {
                let valid: Vec<_> = Status::ALL.iter().map(|s| s.as_str()).collect();
                format!("unknown status '{s}' (valid: {})", valid.join(", "))
            })
    }
}

/// Whether a task may go from `from` to `to` in one step.
///
/// A write that leaves the status unchanged is not a transition and is not
/// judged here (progress, heartbeats and reclaims keep the status).
pub fn can_transition(from: Status, to: Status) -> bool {
    use Status::*;
    matches!(
        (from, to),
        (Created, Queued | Blocked | Cancelled)
            | (Blocked, Queued | Cancelled | Skipped)
            | (Queued, Assigned | Blocked | Paused | Cancelled)
            | (Assigned, Executing | Queued | Paused | Failed | Cancelled)
            | (
                Executing,
                Reviewing | Completed | Failed | Paused | Queued | Cancelled
            )
            | (Reviewing, Completed | Rejected | Cancelled)
            | (Rejected, Assigned | Queued | Failed | Cancelled)
            | (Paused, Queued | Executing | Cancelled)
            | (Failed, Queued)
    )
}

/// Why a transition was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a task cannot go from {from} to {to} (from {from} it may go to: {allowed})")]
pub struct TransitionError {
    pub from: Status,
    pub to: Status,
    pub allowed: String,
}

/// Checks a whole path of steps, as one commit may take several
/// (`queued → assigned → executing` for a pull claim,
/// `executing → failed → queued` for a retry).
pub fn check_path(from: Status, path: &[Status]) -> Result<(), TransitionError> {
    let mut at = from;
    for &to in path {
        if !can_transition(at, to) {
            let allowed: Vec<_> = at.next_states().iter().map(|s| s.as_str()).collect();
            return Err(TransitionError {
                from: at,
                to,
                allowed: if allowed.is_empty() {
                    "nothing: it is final".into()
                } else {
                    allowed.join(", ")
                },
            });
        }
        at = to;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use Status::*;

    /// The whole table, written out a second time by hand: every (from, to)
    /// pair that is allowed. Any pair not listed must be denied.
    const ALLOWED: &[(Status, Status)] = &[
        (Created, Queued),
        (Created, Blocked),
        (Created, Cancelled),
        (Blocked, Queued),
        (Blocked, Cancelled),
        (Blocked, Skipped),
        (Queued, Assigned),
        (Queued, Blocked),
        (Queued, Paused),
        (Queued, Cancelled),
        (Assigned, Executing),
        (Assigned, Queued),
        (Assigned, Paused),
        (Assigned, Failed),
        (Assigned, Cancelled),
        (Executing, Reviewing),
        (Executing, Completed),
        (Executing, Failed),
        (Executing, Paused),
        (Executing, Queued),
        (Executing, Cancelled),
        (Reviewing, Completed),
        (Reviewing, Rejected),
        (Reviewing, Cancelled),
        (Rejected, Assigned),
        (Rejected, Queued),
        (Rejected, Failed),
        (Rejected, Cancelled),
        (Paused, Queued),
        (Paused, Executing),
        (Paused, Cancelled),
        (Failed, Queued),
    ];

    #[test]
    fn every_pair_is_allowed_or_denied_as_the_table_says() {
        let mut checked = 0;
        for from in Status::ALL {
            for to in Status::ALL {
                let expected = ALLOWED.contains(&(from, to));
                assert_eq!(
                    can_transition(from, to),
                    expected,
                    "{from} -> {to} should be {}",
                    if expected { "allowed" } else { "denied" }
                );
                checked += 1;
            }
        }
        assert_eq!(checked, 144);
    }

    #[test]
    fn no_state_moves_to_itself() {
        for s in Status::ALL {
            assert!(!can_transition(s, s), "{s} -> {s}");
        }
    }

    #[test]
    fn completed_cancelled_and_skipped_are_final() {
        assert!(Completed.next_states().is_empty());
        assert!(Cancelled.next_states().is_empty());
        assert!(Skipped.next_states().is_empty() && Skipped.is_terminal());
        assert_eq!(Failed.next_states(), vec![Queued]);
    }

    #[test]
    fn the_seed_happy_path_is_a_valid_path() {
        check_path(
            Created,
            &[Queued, Assigned, Executing, Reviewing, Completed],
        )
        .expect("the seed's main line");
    }

    #[test]
    fn side_arcs_of_the_seed_are_valid_paths() {
        check_path(Executing, &[Failed, Queued]).expect("failed -> retry");
        check_path(Executing, &[Paused, Executing]).expect("paused -> resumed");
        check_path(Reviewing, &[Rejected, Assigned]).expect("rejected -> reassigned");
    }

    #[test]
    fn a_skipped_state_is_refused_with_the_allowed_ones_named() {
        let err = check_path(Queued, &[Completed]).expect_err("queued cannot complete");
        assert_eq!((err.from, err.to), (Queued, Completed));
        assert!(err.to_string().contains("assigned"), "{err}");
        let err = check_path(Completed, &[Queued]).expect_err("completed is final");
        assert!(err.to_string().contains("final"), "{err}");
    }

    #[test]
    fn status_strings_round_trip_and_unknown_ones_name_the_valid_ones() {
        for s in Status::ALL {
            assert_eq!(s.as_str().parse::<Status>(), Ok(s));
            assert_eq!(
                serde_json::to_value(s).expect("a unit enum serializes"),
                serde_json::Value::String(s.as_str().into())
            );
        }
        let err = "running".parse::<Status>().expect_err("not a status");
        assert!(err.contains("executing"), "{err}");
    }
}
