//! The maps inside a task document, one struct per map.

use super::*;

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
    /// A push (`vayu task create --agent ID`): only this agent may claim
    /// the task until `push_until`; then any may (it falls back to pull).
    /// Set at creation ([`crate::assign::push`]), or by a person's
    /// migration of a running task (`vayu task migrate`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pushed_to: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub push_until: Option<Time>,
    /// An auction (`--assign auction`, [`crate::assign::auction`]): open
    /// for bids until `auction_until`; closing it pushes the task to the
    /// winner. Set at creation only; the bids by the bidders.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub auction: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auction_until: Option<Time>,
    #[serde(skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub bids: std::collections::BTreeMap<String, Bid>,
}

/// One agent's bid in an auction: how well it expects to do (its score,
/// [`crate::assign::score::score`]) and how long it expects to take.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Bid {
    pub score: f64,
    pub estimate_ms: i64,
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
    /// The mark: the first task that registered as waiting for this one
    /// (at most one id; the rest are in `waiters/{id}`). Whoever ends the
    /// task reads its waiters only when this is not empty, so the end of
    /// a task nobody waits for costs no read (`deps::waiters::mark` in
    /// the vayu crate; firestore.rules `isBlockingMark`).
    pub blocking: Vec<String>,
    /// Tasks this one waits for (`--after`), distinct, at most
    /// [`limits::DEPENDENCIES_MAX`].
    pub blocked_by: Vec<String>,
    /// The dependencies recorded as ended, in the order they were seen:
    /// completed ones, or any end under `on_failure: run`. The rules let a
    /// blocked task be queued only when this holds every one of
    /// `blocked_by`, and check each id's document as it is added.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub done: Vec<String>,
    /// What the task does when a dependency fails or is cancelled:
    /// `cancel` (absent) or `run` (`crate::graph::OnDepFailure`). Text,
    /// as the review policy is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub on_failure: Option<String>,
    /// The dependency whose failure cancelled this task.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failed: Option<String>,
    /// `--if`: a [`crate::condition::Condition`] over the dependencies'
    /// results, checked when the last of them ends: met, the task is
    /// queued; not met, it is `skipped`. Kept as its source text, so the
    /// console shows what was asked; absent means run unconditionally.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub condition: Option<String>,
    /// The dependency cycle this task was cancelled to break, from the
    /// task back to itself (`[A, B, A]`: A waited for B, which waited for
    /// A), at most [`limits::CYCLE_MAX`] tasks; set only by the breaker
    /// (`crate::graph::Cycle`), which the rules check hop by hop.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub cycle: Vec<String>,
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
    /// When the run should end, from its progress and the time so far
    /// (`crate::assign::history::eta`); absent before the first estimate.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub estimated_completion: Option<Time>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Review {
    /// Who decided the last round.
    pub reviewer: Option<String>,
    pub status: Option<ReviewStatus>,
    /// The rejecting reviewers' comments, for the next round's executor.
    pub feedback: Option<String>,
    pub quality_score: Option<f64>,
    /// The reviews the task needs before it completes, as text
    /// (`crate::review::ReviewPolicy`, canonical: `peer+user`); absent is
    /// `none`. Text, so that the model does not depend on the review
    /// module and the console shows what the policy says.
    pub policy: Option<String>,
    /// Rework rounds so far: 0 until a first rejection. It names the
    /// round's verdicts (`reviews/{task_id}_{round}_{kind}`), so a verdict
    /// of an earlier round never counts for a later one.
    #[serde(skip_serializing_if = "is_zero")]
    pub round: i64,
    /// The agent that must not do the rework (`--rework other`, the
    /// default): the executor of the rejected round.
    pub avoid: Option<String>,
    /// Who reworks a rejected round; absent is another agent.
    pub rework: Option<Rework>,
    /// Rework rounds allowed before a rejection fails the task
    /// (0..=`limits::REVIEW_ROUNDS_MAX`); absent is 2.
    pub max_rounds: Option<i64>,
    /// The kind of review (`self`, `peer`, `tests`) the agent holding the
    /// task's lease is giving; absent while no agent reviews it. Text, as
    /// `policy` is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub claim: Option<String>,
    /// The kinds approved so far in this round, each added with its
    /// verdict's commit; a decision needs them plus its own (the rules
    /// read one verdict, not one per kind). Empty again after a rejection.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub approved: Vec<String>,
}

fn is_zero(n: &i64) -> bool {
    *n == 0
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
