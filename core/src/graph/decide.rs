//! What a blocked task should do, given where its dependencies are.
//!
//! Why one pure function: the move out of `blocked` is made by whoever
//! completes the last dependency, in the same commit, or by any agent
//! later; all of them must reach the same answer from the same documents,
//! or two agents would write different outcomes. The rules check the
//! `blocked → queued` half (every dependency completed) independently.

use crate::lifecycle::Status;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// How far a dependency got, as far as its dependents care: its own enum
/// rather than [`Status`], because every state a task passes through on
/// its way to an end is the same `Pending` to a dependent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DepState {
    /// Not ended yet (including failed attempts that will be retried:
    /// those are back in `queued` within the same commit).
    Pending,
    Completed,
    /// Failed for good: a `failed` task stays failed unless a person
    /// retries it.
    Failed,
    Cancelled,
    /// Its condition was not met.
    Skipped,
}

impl DepState {
    /// `failed` counts as failed for good: a failure that will be retried
    /// never rests in `failed` (it goes `executing → failed → queued` in
    /// one commit).
    pub fn from_status(status: Status) -> DepState {
        match status {
            Status::Completed => DepState::Completed,
            Status::Failed => DepState::Failed,
            Status::Cancelled => DepState::Cancelled,
            Status::Skipped => DepState::Skipped,
            _ => DepState::Pending,
        }
    }

    /// Ended without a result its dependents can count on.
    pub fn ended_badly(self) -> bool {
        matches!(
            self,
            DepState::Failed | DepState::Cancelled | DepState::Skipped
        )
    }

    /// How the cancel reason says it: "dependency X failed".
    fn verb(self) -> &'static str {
        match self {
            DepState::Failed => "failed",
            DepState::Cancelled => "was cancelled",
            DepState::Skipped => "was skipped",
            DepState::Pending => "is pending",
            DepState::Completed => "completed",
        }
    }
}

/// `--on-dep-failure`: what a task does when a dependency ends badly.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OnDepFailure {
    /// Cancel the task with the reason (the default: work built on a
    /// failed result is rarely wanted).
    #[default]
    Cancel,
    /// Run it anyway once every dependency has ended (a cleanup or a
    /// report that should run whatever happened).
    Run,
}

impl OnDepFailure {
    pub fn as_str(self) -> &'static str {
        match self {
            OnDepFailure::Cancel => "cancel",
            OnDepFailure::Run => "run",
        }
    }
}

impl fmt::Display for OnDepFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for OnDepFailure {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "cancel" => Ok(OnDepFailure::Cancel),
            "run" => Ok(OnDepFailure::Run),
            _ => Err(format!("unknown on-dep-failure '{s}' (valid: cancel, run)")),
        }
    }
}

/// What to do with a blocked task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Stay blocked: `pending` dependencies have not ended.
    Wait { pending: usize },
    /// Move to `queued` (then check its condition, if it has one).
    Ready,
    /// Cancel it: `dependency` ended badly and the policy is `cancel`.
    Cancel { dependency: String, reason: String },
}

/// The decision for one blocked task, given each dependency's id and state
/// in the task's own order (`--after A,B`), and its policy. Under
/// `cancel`, the first dependency that ended badly, in that order, is the
/// one named, so that every agent writes the same reason; the task is
/// cancelled at once, without waiting for the others. No dependencies at
/// all means ready.
pub fn decide(deps: &[(&str, DepState)], policy: OnDepFailure) -> Decision {
    if policy == OnDepFailure::Cancel
        && let Some((id, state)) = deps.iter().find(|(_, s)| s.ended_badly())
    {
        return Decision::Cancel {
            dependency: id.to_string(),
            reason: format!("dependency {id} {}", state.verb()),
        };
    }
    let pending = deps.iter().filter(|(_, s)| *s == DepState::Pending).count();
    if pending == 0 {
        Decision::Ready
    } else {
        Decision::Wait { pending }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use DepState::*;

    #[test]
    fn statuses_map_to_the_states_dependents_care_about() {
        assert_eq!(DepState::from_status(Status::Completed), Completed);
        assert_eq!(DepState::from_status(Status::Failed), Failed);
        assert_eq!(DepState::from_status(Status::Cancelled), Cancelled);
        for s in Status::ALL {
            if !s.is_terminal() {
                assert_eq!(DepState::from_status(s), Pending, "{s}");
            }
        }
    }

    #[test]
    fn waits_while_any_is_pending_and_counts_them() {
        let deps = [("A", Completed), ("B", Pending), ("C", Pending)];
        assert_eq!(
            decide(&deps, OnDepFailure::Cancel),
            Decision::Wait { pending: 2 }
        );
        assert_eq!(
            decide(&deps, OnDepFailure::Run),
            Decision::Wait { pending: 2 }
        );
    }

    #[test]
    fn ready_when_all_completed_or_when_there_are_none() {
        let deps = [("A", Completed), ("B", Completed)];
        assert_eq!(decide(&deps, OnDepFailure::Cancel), Decision::Ready);
        assert_eq!(decide(&[], OnDepFailure::Cancel), Decision::Ready);
    }

    #[test]
    fn cancel_names_the_first_bad_dependency_in_the_tasks_order() {
        let deps = [("A", Pending), ("B", Skipped), ("C", Failed)];
        let Decision::Cancel { dependency, reason } = decide(&deps, OnDepFailure::Cancel) else {
            panic!("a skipped dependency cancels under the cancel policy");
        };
        assert_eq!(dependency, "B");
        assert_eq!(reason, "dependency B was skipped");
        let d = decide(&[("X", Failed)], OnDepFailure::Cancel);
        assert!(
            matches!(d, Decision::Cancel { ref reason, .. } if reason == "dependency X failed")
        );
        let d = decide(&[("Y", Cancelled)], OnDepFailure::Cancel);
        assert!(
            matches!(d, Decision::Cancel { ref reason, .. } if reason == "dependency Y was cancelled")
        );
    }

    #[test]
    fn run_waits_for_every_end_then_runs_anyway() {
        let deps = [("A", Failed), ("B", Pending)];
        assert_eq!(
            decide(&deps, OnDepFailure::Run),
            Decision::Wait { pending: 1 }
        );
        let deps = [
            ("A", Failed),
            ("B", Cancelled),
            ("C", Skipped),
            ("D", Completed),
        ];
        assert_eq!(decide(&deps, OnDepFailure::Run), Decision::Ready);
    }

    #[test]
    fn a_fan_in_of_50_is_ready_only_when_the_last_completes() {
        let ids: Vec<String> = (0..50).map(|i| format!("d{i}")).collect();
        let mut deps: Vec<(&str, DepState)> = ids.iter().map(|i| (i.as_str(), Pending)).collect();
        for i in 0..50 {
            assert_eq!(
                decide(&deps, OnDepFailure::Cancel),
                Decision::Wait { pending: 50 - i }
            );
            deps[i].1 = Completed;
        }
        assert_eq!(decide(&deps, OnDepFailure::Cancel), Decision::Ready);
    }

    #[test]
    fn the_policy_parses_and_serializes_as_the_flag_is_spelled() {
        for p in [OnDepFailure::Cancel, OnDepFailure::Run] {
            assert_eq!(p.as_str().parse::<OnDepFailure>(), Ok(p));
            assert_eq!(
                serde_json::to_value(p).expect("a unit enum serializes"),
                serde_json::Value::String(p.to_string())
            );
        }
        assert_eq!(OnDepFailure::default(), OnDepFailure::Cancel);
        let err = "fail".parse::<OnDepFailure>().expect_err("not a policy");
        assert!(err.contains("cancel, run"), "{err}");
    }
}
