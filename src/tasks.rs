//! What people do to tasks: create, cancel, pause, resume, retry. The CLI,
//! the demo and the tests all go through these functions, so the tests
//! exercise the CLI's code path.

use crate::error::{Error, Result};
use crate::layout::Pile;
use crate::lifecycle::Status;
use crate::model::{
    ControlRequest, Lease, Priority, Requester, RequesterType, Task, TaskType, now,
};
use crate::store::{Store, Versioned};

/// What a person asks for when creating a task.
#[derive(Debug, Clone)]
pub struct NewTask {
    pub task_type: TaskType,
    pub priority: Priority,
    pub title: String,
    pub input: String,
    pub requires: Vec<String>,
    pub tags: Vec<String>,
    pub max_retries: Option<i64>,
    pub timeout_secs: Option<i64>,
    pub estimated_minutes: Option<f64>,
    pub complexity: Option<crate::model::Complexity>,
    pub requester: Requester,
    /// The reviews it needs before it completes; `None` or `none`: none.
    pub review: Option<crate::review::ReviewPolicy>,
    /// Who reworks a rejected round, and how many rework rounds it allows
    /// (kept only with a review policy).
    pub rework: Option<crate::model::Rework>,
    pub review_rounds: Option<i64>,
    /// Tasks it waits for (`--after`): it starts blocked, and is queued
    /// when they have ended (`crate::deps`).
    pub after: Vec<String>,
    /// What it does when one of them fails or is cancelled.
    pub on_dep_failure: crate::graph::OnDepFailure,
    /// `--if`: run only when this condition over the dependencies'
    /// results holds once they have ended; otherwise the task is skipped.
    pub condition: Option<String>,
    /// `--resource gpu:1`: permits taken while it runs.
    pub resource: Option<crate::resource::ResourceNeed>,
    /// No agent claims it before this time (`--at`, `--in`).
    pub not_before: Option<crate::model::Time>,
    /// `--agent ID`: only that agent may claim it until the time given
    /// (`crate::push`).
    pub push: Option<(String, crate::model::Time)>,
    /// `--assign`: with `push` or `hybrid` and no agent named, the scorer
    /// chooses one, for `push_for`.
    pub assign: crate::push::Strategy,
    pub push_for: std::time::Duration,
    /// The scorer's weights for that choice (the project's,
    /// `crate::push::defaults`, in the CLI).
    pub weights: crate::assign::score::Weights,
    /// Its id, when it must be this one (`crate::keys`); a fresh one
    /// otherwise.
    pub task_id: Option<String>,
    /// A team task's parent: its parts (`crate::teams`).
    pub team: Option<crate::team::Team>,
    /// A team task's part: its parent.
    pub part_of: Option<crate::team::PartOf>,
    /// Its queue lane, when not its id's (a team's parts, `crate::team`).
    pub lane: Option<i64>,
}

impl NewTask {
    pub fn new(task_type: TaskType, priority: Priority, title: impl Into<String>) -> Self {
        NewTask {
            task_type,
            priority,
            title: title.into(),
            input: String::new(),
            requires: Vec::new(),
            tags: Vec::new(),
            max_retries: None,
            timeout_secs: None,
            estimated_minutes: None,
            complexity: None,
            requester: Requester {
                kind: RequesterType::Human,
                id: whoami(),
                context: String::new(),
            },
            review: None,
            rework: None,
            review_rounds: None,
            after: Vec::new(),
            on_dep_failure: crate::graph::OnDepFailure::default(),
            condition: None,
            resource: None,
            not_before: None,
            push: None,
            assign: crate::push::Strategy::Pull,
            push_for: crate::assign::push::PUSH_FOR_DEFAULT,
            weights: crate::assign::score::Weights::default(),
            task_id: None,
            team: None,
            part_of: None,
            lane: None,
        }
    }

    pub fn into_task(self) -> Task {
        let mut t = Task::new(self.task_type, self.priority, self.title);
        if let Some(id) = self.task_id {
            t.lane = crate::spread::lane_for(&id);
            t.task_id = id;
        }
        t.input = self.input;
        t.requires = self.requires;
        t.metadata.tags = self.tags;
        if let Some(m) = self.max_retries {
            t.metadata.max_retries = m;
        }
        t.metadata.timeout_secs = self.timeout_secs;
        t.metadata.estimated_duration = self.estimated_minutes;
        if let Some(c) = self.complexity {
            t.metadata.complexity = c;
        }
        t.requester = self.requester;
        // Stored only when there is one: `none` is the absent policy, and
        // the rules want a new task's review map empty or just a policy.
        t.review.policy = self.review.filter(|p| !p.is_none()).map(|p| p.to_string());
        if t.review.policy.is_some() {
            t.review.rework = self.rework;
            t.review.max_rounds = self.review_rounds;
        }
        if !self.after.is_empty() {
            t.status = Status::Blocked;
            t.dependencies.blocked_by = self.after;
            // Stored only when not the default, as the policy is.
            t.dependencies.on_failure = (self.on_dep_failure == crate::graph::OnDepFailure::Run)
                .then(|| self.on_dep_failure.to_string());
        }
        t.dependencies.condition = self.condition;
        t.resource = self.resource;
        t.not_before = self.not_before;
        t.team = self.team;
        t.part_of = self.part_of;
        if let Some(lane) = self.lane {
            t.lane = lane;
        }
        if let Some((agent, until)) = self.push {
            t.assignment.pushed_to = Some(agent);
            t.assignment.push_until = Some(until);
        }
        // No history entry: `created_at` says when, and a new task's
        // history must be empty (the rules' create budget has no room to
        // type an entry; docs/security.md).
        t
    }
}

/// The local user, for `requester.id` when acting without a Firebase
/// identity (on the emulator as admin).
pub fn whoami() -> String {
    std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .unwrap_or_else(|_| "human".into())
}

/// Creates the task: queued, or blocked on its dependencies (`--after`,
/// checked first: each must exist; `--if`, parsed first), registered as
/// their waiter, and then settled at once, in case they have all ended
/// already. Returns it as it stands. Bad input writes nothing.
pub async fn create(store: &Store, mut new: NewTask) -> Result<Task> {
    if let Some(source) = &new.condition {
        // Parsed before anything is read; the names are checked below.
        crate::condition::Condition::parse(source).map_err(|e| {
            Error::InvalidTask(crate::model::InvalidTask(format!(
                "the --if condition does not parse:\n{}",
                e.render(source)
            )))
        })?;
    }
    if let Some(need) = &new.resource {
        crate::resources::check_need(store, need).await?;
    }
    let mut deps = Vec::new();
    if !new.after.is_empty() {
        deps = crate::deps::check_new(store, &new.after, new.on_dep_failure).await?;
        new.after = deps.iter().map(|d| d.value.task_id.clone()).collect();
    }
    let (assign, push_for, weights) = (new.assign, new.push_for, new.weights);
    let mut task = new.into_task();
    if let Some(source) = &task.dependencies.condition {
        crate::deps::check_condition(source, &task)?;
    }
    crate::push::plan(store, &mut task, assign, push_for, &weights).await?;
    crate::push::check(store, &task).await?;
    store.create_task(&task).await?;
    if task.status == Status::Blocked {
        crate::deps::register(store, &task, &deps).await?;
        let by = task.requester.id.clone();
        task.status = match crate::deps::settle(store, &task.task_id, &by).await? {
            crate::deps::Settled::Queued => Status::Queued,
            crate::deps::Settled::Cancelled { .. } => Status::Cancelled,
            crate::deps::Settled::Skipped => Status::Skipped,
            _ => task.status,
        };
    }
    Ok(task)
}

async fn find(store: &Store, task_id: &str) -> Result<Versioned<Task>> {
    // Not only uuids: a schedule tick's task is `{schedule}-{stamp}`, a
    // workflow step's `{run}-{step}`.
    if !crate::schema::is_task_id(task_id) {
        return Err(Error::NotFound(format!("'{task_id}' is not a task id")));
    }
    store
        .find_task(task_id)
        .await?
        .ok_or_else(|| Error::NotFound(format!("no task {task_id}")))
}

/// Whether a leased task's lease has run out (its agent is gone).
fn lease_expired(t: &Task) -> bool {
    t.lease.expires_at.is_none_or(|e| e <= now())
}

/// What a control command did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ControlResult {
    /// The task changed status at once.
    Moved(Status),
    /// The lease holder was asked; it obeys at its next heartbeat.
    Requested(ControlRequest),
    /// A team's parent: the request went to each of its open parts.
    Parts(ControlRequest),
}

impl std::fmt::Display for ControlResult {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ControlResult::Moved(s) => write!(f, "now {s}"),
            ControlResult::Requested(c) => write!(
                f,
                "{c} requested; the agent running it obeys within one heartbeat"
            ),
            ControlResult::Parts(c) => write!(f, "{c} sent to each of the team's open parts"),
        }
    }
}

/// Cancels a task: at once when nobody runs it, else by asking the holder.
///
/// A team's parent takes its open parts with it (`crate::teams`), also
/// when it ended already (a part's failure cancelled it).
pub async fn cancel(store: &Store, task_id: &str) -> Result<ControlResult> {
    match control(store, task_id, ControlRequest::Cancel).await {
        Ok((done, parent)) => {
            if let Some(parent) = parent {
                crate::teams::cascade(store, &parent, ControlRequest::Cancel).await?;
            }
            Ok(done)
        }
        Err(e) => to_parts(store, task_id, ControlRequest::Cancel, e).await,
    }
}

/// Pauses a task: a queued one at once; a running one's handler is
/// stopped by its agent, and the task waits, paused, with its checkpoints.
///
/// A team's parent waits, blocked, for its parts: pausing it pauses them.
pub async fn pause(store: &Store, task_id: &str) -> Result<ControlResult> {
    match control(store, task_id, ControlRequest::Pause).await {
        Ok((done, _)) => Ok(done),
        Err(e) => to_parts(store, task_id, ControlRequest::Pause, e).await,
    }
}

/// A control the lifecycle refused (`e`) on a team's parent, blocked or
/// ended, goes to its parts instead; any other refusal stands.
async fn to_parts(
    store: &Store,
    task_id: &str,
    req: ControlRequest,
    e: Error,
) -> Result<ControlResult> {
    if !matches!(e, Error::Transition(_)) {
        return Err(e);
    }
    match crate::teams::parent(store, task_id).await? {
        Some(parent) => {
            crate::teams::cascade(store, &parent, req).await?;
            Ok(ControlResult::Parts(req))
        }
        None => Err(e),
    }
}

/// One task's cancel, never its parts' (a team's parts are not parents).
pub(crate) async fn cancel_one(store: &Store, task_id: &str) -> Result<ControlResult> {
    Ok(control(store, task_id, ControlRequest::Cancel).await?.0)
}

/// One task's pause, never its parts'.
pub(crate) async fn pause_one(store: &Store, task_id: &str) -> Result<ControlResult> {
    Ok(control(store, task_id, ControlRequest::Pause).await?.0)
}

/// One task's resume, never its parts'.
pub(crate) async fn resume_one(store: &Store, task_id: &str) -> Result<Status> {
    requeue(store, task_id, Status::Paused, "resumed", false).await
}

/// Returns what was done, and the task as it was seen when it is a
/// team's parent.
async fn control(
    store: &Store,
    task_id: &str,
    req: ControlRequest,
) -> Result<(ControlResult, Option<Task>)> {
    for _ in 0..5 {
        let seen = find(store, task_id).await?;
        let team = seen.value.team.is_some().then(|| seen.value.clone());
        let target = match req {
            ControlRequest::Cancel => Status::Cancelled,
            ControlRequest::Pause => Status::Paused,
            ControlRequest::Migrate => {
                return Err(Error::Config(
                    "bug: a migration is crate::migrate's, not a control".into(),
                ));
            }
        };
        let t = &seen.value;
        let result = if seen.pile == Pile::Active && !lease_expired(t) {
            if t.control == Some(req) {
                return Ok((ControlResult::Requested(req), team));
            }
            let mut next = t.clone();
            next.control = Some(req);
            store
                .replace_task(&seen, &next, &[], vec![])
                .await
                .map(|_| ControlResult::Requested(req))
        } else {
            crate::lifecycle::check_path(t.status, &[target])?;
            let mut next = t.clone();
            next.status = target;
            next.control = None;
            next.lease = Lease {
                owner: None,
                expires_at: None,
                epoch: t.lease.epoch,
            };
            next.record(target, now(), None, Some(format!("{req} by {}", whoami())));
            store
                .replace_task(&seen, &next, &[target], vec![])
                .await
                .map(|_| ControlResult::Moved(target))
        };
        match result {
            Err(e) if lost_race(store, &seen, &e).await => continue,
            Ok(ControlResult::Moved(Status::Cancelled)) => {
                // Its dependents follow their --on-dep-failure.
                if let Err(e) = crate::deps::release_dependents(store, task_id, &whoami()).await {
                    tracing::warn!(task = %task_id, error = %e, "could not settle the tasks waiting for it");
                }
                return Ok((ControlResult::Moved(Status::Cancelled), team));
            }
            other => return other.map(|done| (done, team)),
        }
    }
    Err(Error::Conflict("the task kept changing; try again".into()))
}

/// Whether a refused write lost a race (so reading again and retrying is
/// right). Under `firestore.rules` a write based on a stale version may be
/// refused as PERMISSION_DENIED before its precondition is checked, so a
/// denial counts as a lost race when the task changed since `seen`.
async fn lost_race(store: &Store, seen: &Versioned<Task>, e: &Error) -> bool {
    match e {
        Error::Conflict(_) => true,
        Error::PermissionDenied(_) => match store.find_task(&seen.value.task_id).await {
            Ok(Some(now)) => now.update_time != seen.update_time || now.pile != seen.pile,
            _ => false,
        },
        _ => false,
    }
}

/// Resumes a paused task: back to the queue, to restart from its last
/// checkpoint.
///
/// A team's parent resumes its paused parts (it stays blocked on them).
pub async fn resume(store: &Store, task_id: &str) -> Result<Status> {
    match resume_one(store, task_id).await {
        Err(e @ Error::Transition(_)) => match crate::teams::parent(store, task_id).await? {
            Some(parent) => crate::teams::resume_parts(store, &parent).await,
            None => Err(e),
        },
        other => other,
    }
}

/// Re-queues a failed (dead-lettered) task with a fresh set of retries.
pub async fn retry(store: &Store, task_id: &str) -> Result<Status> {
    requeue(store, task_id, Status::Failed, "retried by hand", true).await
}

async fn requeue(
    store: &Store,
    task_id: &str,
    from: Status,
    note: &str,
    reset_retries: bool,
) -> Result<Status> {
    for _ in 0..5 {
        let seen = find(store, task_id).await?;
        if seen.value.status != from {
            return Err(Error::Transition(crate::lifecycle::TransitionError {
                from: seen.value.status,
                to: Status::Queued,
                allowed: format!("only a {from} task can be {note}"),
            }));
        }
        let mut next = seen.value.clone();
        next.status = Status::Queued;
        next.control = None;
        next.not_before = None;
        if reset_retries {
            next.metadata.retry_count = 0;
        }
        next.record(
            Status::Queued,
            now(),
            None,
            Some(format!("{note} by {}", whoami())),
        );
        match store
            .replace_task(&seen, &next, &[Status::Queued], vec![])
            .await
        {
            Err(e) if lost_race(store, &seen, &e).await => continue,
            Err(e) => return Err(e),
            Ok(_) => return Ok(Status::Queued),
        }
    }
    Err(Error::Conflict("the task kept changing; try again".into()))
}
