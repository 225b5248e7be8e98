//! Where documents live in Firestore.
//!
//! ```text
//! tasks/queued/queued_tasks/{task_id}         created, queued, blocked, paused, rejected
//! tasks/active/active_tasks/{task_id}         assigned, executing, reviewing
//! tasks/completed/completed_tasks/{task_id}   completed, failed (dead letter), cancelled
//! task_logs/{task_id}/lines/{epoch}-{seq}   full logs, one batch of lines each
//! agents/{agent_id}                 the seed's agent_status
//! quarantine/{task_id}              documents that did not parse, with the reason
//! reviews/{task_id}_{round}_{kind}  review verdicts, created once each
//! config/review                     the project's review defaults
//! ratings/{task_id}                 a requester's 1-5 rating of a completed task
//! schedules/{schedule_id}           cron schedules every agent evaluates
//! workflows/{run_id}                a workflow run: its inputs and steps' tasks
//! archive/{task_id}                 ended tasks moved out of the completed pile
//! config/retention                  how long ended tasks stay in the completed pile
//! scaling/{up,down}                 the auto-scaling hook's last step each way
//! events/{subject}-{kind}-{key}     alert events, written with the change they report
//! notify/{hook_id}                  webhooks: a URL, the kinds it wants, its cursor
//! ```
//!
//! Why three piles: a person in the Firebase console opens `tasks` and sees
//! the queue, the work in flight and the record, the seed's
//! `tasks: {active, queued, completed}`. Agents listen to the queued pile
//! only, so finding work never reads finished tasks. Firestore paths
//! alternate collection and document, so each pile is a document under
//! `tasks` with a subcollection of its tasks.
//!
//! Why a different collection id for each pile (`queued_tasks`, not
//! `items` three times): indexes and index exemptions are per collection
//! id, and only the queued pile needs the agents' priority index. And the
//! emulator evaluates a listener on every commit by scanning every
//! document with the listener's collection id, whatever its parent: with
//! one id for all three piles, the agents' queue listeners would scan the
//! whole ever-growing completed pile on every commit (measured: a create
//! went from 6 to 22 ms with 2,000 completed tasks and 8 listeners).
//!
//! A move between piles is one commit: a delete of the old document,
//! conditioned on its update time, and a create of the new one,
//! conditioned on its absence. The rules allow a delete only when the same
//! commit creates the task in another pile.

use crate::lifecycle::Status;
use std::fmt;

/// The collection of a task's pile.
pub const TASKS: &str = "tasks";
pub const AGENTS: &str = "agents";
/// Agents' heartbeats, apart from their registrations in [`AGENTS`]
/// (`crate::model::PresenceDoc`).
pub const PRESENCE: &str = "presence";
/// Review verdicts (`crate::review::verdict_id`).
pub const REVIEWS: &str = "reviews";
/// The project's review defaults per type and priority
/// (`crate::review::ReviewDefaults`).
pub const REVIEW_CONFIG: &str = "config/review";
/// The project's assignment defaults: strategy and scoring weights
/// (`src/push.rs ProjectDefaults`).
pub const ASSIGNMENT_CONFIG: &str = "config/assignment";
/// Requesters' ratings of completed tasks, one per task.
pub const RATINGS: &str = "ratings";
pub const TASK_LOGS: &str = "task_logs";
pub const LOG_LINES: &str = "lines";
pub const QUARANTINE: &str = "quarantine";
/// `waiters/{task_id}`: the blocked tasks that wait for a task, so that
/// whoever ends it finds them with one read instead of a query.
pub const WAITERS: &str = "waiters";
/// `resources/{name}`: a semaphore and its holders (`crate::resource`).
pub const RESOURCES: &str = "resources";
/// Cron schedules (`crate::schedule::Schedule`).
pub const SCHEDULES: &str = "schedules";
/// Workflow runs (`crate::workflow::WorkflowRun`), one per `vayu workflow
/// run`; their steps are ordinary tasks.
pub const WORKFLOWS: &str = "workflows";

/// Ended tasks moved out of the completed pile (`crate::retention`): the
/// task as it ended, plus `archived_at` and `archived_by`. A collection of
/// its own, so the completed pile stays small for the queries and
/// listeners that read it, and the record stays whole.
pub const ARCHIVE: &str = "archive";
/// `scaling/{up,down}`: the last auto-scaling step each way, which any
/// agent moves with a conditional commit (`crate::scaling`).
pub const SCALING: &str = "scaling";
/// The project's retention (`crate::retention::Retention`).
pub const RETENTION_CONFIG: &str = "config/retention";
/// Alert events (`crate::notify::Event`), an outbox each written in the
/// commit of the change it reports.
pub const EVENTS: &str = "events";
/// Webhooks (`crate::notify::Hook`).
pub const HOOKS: &str = "notify";

/// `teams/{parent_id}`: a team task's shared context and decision points
/// (`crate::team::TeamDoc`), written by its members.
pub const TEAMS: &str = "teams";

/// `agents/{agent_id}/metrics/{task_type}`: an agent's history on one
/// task type (`crate::assign::history::Stats`).
pub const METRICS: &str = "metrics";

/// One of the three task collections.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Pile {
    Queued,
    Active,
    Completed,
}

impl Pile {
    pub const ALL: [Pile; 3] = [Pile::Queued, Pile::Active, Pile::Completed];

    /// The pile a task in `status` lives in.
    pub fn of(status: Status) -> Pile {
        use Status::*;
        match status {
            Created | Queued | Blocked | Paused | Rejected => Pile::Queued,
            Assigned | Executing | Reviewing => Pile::Active,
            Completed | Failed | Cancelled | Skipped => Pile::Completed,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Pile::Queued => "queued",
            Pile::Active => "active",
            Pile::Completed => "completed",
        }
    }

    /// `tasks/{pile}`, relative to the documents root.
    pub fn parent(self) -> String {
        format!("{TASKS}/{}", self.as_str())
    }

    /// The id of the subcollection that holds the pile's tasks:
    /// `{pile}_tasks`.
    pub fn collection_id(self) -> &'static str {
        match self {
            Pile::Queued => "queued_tasks",
            Pile::Active => "active_tasks",
            Pile::Completed => "completed_tasks",
        }
    }

    /// The pile whose tasks live in collection id `id`.
    pub fn of_collection_id(id: &str) -> Option<Pile> {
        Pile::ALL.into_iter().find(|p| p.collection_id() == id)
    }

    /// `tasks/{pile}/{pile}_tasks/{task_id}`, relative to the documents root.
    pub fn doc(self, task_id: &str) -> String {
        format!(
            "{TASKS}/{}/{}/{task_id}",
            self.as_str(),
            self.collection_id()
        )
    }
}

impl fmt::Display for Pile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `agents/{agent_id}`.
pub fn agent_doc(agent_id: &str) -> String {
    format!("{AGENTS}/{agent_id}")
}

/// `presence/{agent_id}`.
pub fn presence_doc(agent_id: &str) -> String {
    format!("{PRESENCE}/{agent_id}")
}

/// `agents/{agent_id}/metrics/{task_type}`.
pub fn agent_metrics_doc(agent_id: &str, task_type: crate::model::TaskType) -> String {
    format!("{AGENTS}/{agent_id}/{METRICS}/{task_type}")
}

/// `task_logs/{task_id}/lines/{epoch}-{seq}`: zero-padded so the console
/// and a query ordered by id list them in order.
pub fn log_doc(task_id: &str, epoch: i64, seq: u64) -> String {
    format!("{TASK_LOGS}/{task_id}/{LOG_LINES}/{epoch:06}-{seq:08}")
}

/// `schedules/{schedule_id}`.
pub fn schedule_doc(schedule_id: &str) -> String {
    format!("{SCHEDULES}/{schedule_id}")
}

/// `quarantine/{task_id}`.
pub fn quarantine_doc(task_id: &str) -> String {
    format!("{QUARANTINE}/{task_id}")
}

/// `teams/{parent_id}`.
pub fn team_doc(parent_id: &str) -> String {
    format!("{TEAMS}/{parent_id}")
}

/// `archive/{task_id}`.
pub fn archive_doc(task_id: &str) -> String {
    format!("{ARCHIVE}/{task_id}")
}

/// `workflows/{run_id}`.
pub fn workflow_doc(run_id: &str) -> String {
    format!("{WORKFLOWS}/{run_id}")
}

/// `events/{event_id}`.
pub fn event_doc(event_id: &str) -> String {
    format!("{EVENTS}/{event_id}")
}

/// `notify/{hook_id}`.
pub fn hook_doc(hook_id: &str) -> String {
    format!("{HOOKS}/{hook_id}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_status_has_one_pile_and_leased_ones_are_active() {
        for s in Status::ALL {
            assert_eq!(Pile::of(s) == Pile::Active, s.is_leased(), "{s}");
            if s.is_claimable() {
                assert_eq!(Pile::of(s), Pile::Queued, "{s}");
            }
            if s.is_terminal() {
                assert_eq!(Pile::of(s), Pile::Completed, "{s}");
            }
        }
    }

    #[test]
    fn paths_alternate_collection_and_document() {
        assert_eq!(Pile::Queued.doc("t1"), "tasks/queued/queued_tasks/t1");
        assert_eq!(Pile::Active.parent(), "tasks/active");
        assert_eq!(log_doc("t", 2, 7), "task_logs/t/lines/000002-00000007");
        for p in [Pile::Completed.doc("x"), agent_doc("a"), log_doc("t", 1, 1)] {
            assert_eq!(p.split('/').count() % 2, 0, "{p} names a document");
        }
    }
}
