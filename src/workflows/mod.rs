//! Workflows at the edge (issue 13): starting a run of a
//! [`WorkflowSpec`] (a file, or a built-in template), its status, its
//! cancel, and filling a step's input with earlier results when it runs.
//!
//! A run is a `workflows/{run_id}` document and one ordinary task per
//! step, `{run_id}-{step}` (the run id a uuid). A step that runs
//! after others is created `blocked` on their tasks, so the dependency
//! machinery (`crate::deps`) queues it when they complete and cancels it
//! when one fails; nothing here runs while the workflow does.
//!
//! Starting writes, in this order, each only after everything was
//! checked (bad input writes nothing):
//! 1. the run's document, so the console and `vayu workflow status` see
//!    the run, paid from the caller's create quota like a task;
//! 2. each step's task, wave by wave of the plan (every dependency exists
//!    before its dependent; a wave's steps side by side), one commit each:
//!    a new task's commit pays for exactly one task (firestore.rules
//!    `withinQuota`);
//! 3. one batch get of the awaited steps in the completed pile, to settle
//!    the steps whose dependencies already ended before they existed (an agent may finish a first step
//!    while later ones are still being created; the task that ended found
//!    no dependent to settle then).
//!
//! If a create fails half way, the steps made so far are cancelled and
//! the run is marked cancelled, so nothing is left running that nobody
//! asked for in full.

mod file;
mod results;
mod status;

pub use file::{load_file, parse_spec};
pub use results::fill_results;
pub use status::{CancelReport, StepRow, cancel, list, status};

use crate::error::{Error, Result};
use crate::model::{InvalidTask, Task, now};
use crate::store::{Store, quota};
use crate::tasks::NewTask;
use crate::workflow::{self, StepPlan, WorkflowRun, WorkflowSpec};
use std::collections::BTreeMap;

/// Bad input: exit 2, nothing written.
pub(crate) fn invalid(message: impl std::fmt::Display) -> Error {
    Error::InvalidTask(InvalidTask(message.to_string()))
}

/// Starts a run of `spec` with the `given` inputs, as `by` (the caller's
/// uid; it is the requester of every step). Returns the run as written.
pub async fn start(
    store: &Store,
    spec: &WorkflowSpec,
    given: &BTreeMap<String, String>,
    by: &str,
) -> Result<WorkflowRun> {
    let run_id = uuid::Uuid::new_v4().to_string();
    let (run, steps) = workflow::prepare(spec, &run_id, given, by).map_err(invalid)?;
    let mut tasks: Vec<Task> = steps.iter().map(|s| step_task(&run, s)).collect();
    premark(&mut tasks);
    for (s, t) in steps.iter().zip(&tasks) {
        t.validate_new()?;
        if let Some(source) = &t.dependencies.condition {
            let step = &s.step.id;
            crate::deps::check_condition(source, t).map_err(|e| match e {
                Error::InvalidTask(InvalidTask(m)) => invalid(format!("step '{step}': {m}")),
                e => e,
            })?;
        }
    }
    check_quota(store, tasks.len() + 1).await?;
    store.create_workflow(&run).await?;
    if let Err(e) = create_steps(store, &steps, &tasks).await {
        abandon(store, &run, by).await;
        return Err(e);
    }
    if let Err(e) = settle_early(store, &steps, by).await {
        // The agents' sweep settles them within 30 s anyway.
        tracing::warn!(run = %run.run_id, error = %e, "could not settle the steps after the start");
    }
    Ok(run)
}

/// Steps created side by side, within one wave of the plan.
pub const CREATE_AT_ONCE: usize = 8;

/// Creates the steps' `tasks` wave by wave: every dependency exists
/// before its dependent is created, and the steps of a wave, which do not
/// depend on each other, are created up to [`CREATE_AT_ONCE`] at a time
/// (each is its own commit; concurrent quota increments do not conflict).
async fn create_steps(store: &Store, steps: &[StepPlan], tasks: &[Task]) -> Result<()> {
    use futures::{StreamExt, TryStreamExt};
    let mut rest: Vec<(&StepPlan, &Task)> = steps.iter().zip(tasks).collect();
    while let Some(wave) = rest.first().map(|(s, _)| s.wave) {
        let split = rest.iter().position(|(s, _)| s.wave != wave);
        let now: Vec<_> = rest.drain(..split.unwrap_or(rest.len())).collect();
        futures::stream::iter(now.into_iter().map(|(_, t)| create_step(store, t)))
            .buffer_unordered(CREATE_AT_ONCE)
            .try_collect::<Vec<()>>()
            .await?;
    }
    Ok(())
}

/// Creates one step's task and, when it waits for others, registers it in
/// their `waiters` documents, so that whoever ends one settles it
/// (`crate::deps::waiters`), as `tasks::create` does.
async fn create_step(store: &Store, t: &Task) -> Result<()> {
    store.create_task(t).await?;
    if t.status == crate::lifecycle::Status::Blocked {
        crate::deps::register_premarked(store, t).await?;
    }
    Ok(())
}

/// Each step that a later step waits for is created marked with its
/// first dependent (`dependencies.blocking`; `crate::deps::waiters::mark`),
/// so that its end reads its waiters. Marked afterwards, as a task made
/// with `--after` is, a 100-step run took 351 commits instead of 191.
fn premark(tasks: &mut [Task]) {
    let mut first: BTreeMap<String, String> = BTreeMap::new();
    for t in tasks.iter() {
        for dep in &t.dependencies.blocked_by {
            first
                .entry(dep.clone())
                .or_insert_with(|| t.task_id.clone());
        }
    }
    for t in tasks.iter_mut() {
        if let Some(dependent) = first.remove(&t.task_id) {
            t.dependencies.blocking = vec![dependent];
        }
    }
}

/// The task step `s` of `run` becomes: its own id (and the lane of that
/// id), blocked on the steps it runs after, the starter as requester (the
/// run in its context), and the step's type, requirements, priority,
/// review and `if` condition.
fn step_task(run: &WorkflowRun, s: &StepPlan) -> Task {
    let step = &s.step;
    let mut new = NewTask::new(step.task_type, step.priority, step.title.clone());
    new.requester.id = run.started_by.clone();
    new.requester.context = format!(
        "step {} of workflow {} (run {})",
        step.id, run.name, run.run_id
    );
    new.input = s.input.clone();
    new.requires = step.requires.clone();
    // Checked by `validate` against the policies a step may name.
    new.review = step.review.parse().ok();
    new.after = s.after.clone();
    // Its `if`, over the steps it runs after (by step name or task id).
    new.condition = step.condition.clone();
    let mut t = new.into_task();
    t.task_id = s.task_id.clone();
    t.lane = crate::spread::lane_for(&t.task_id);
    t
}

/// Refuses a start the caller's quota window of this minute cannot pay
/// for in full (exit 6), before anything is written: a run cut short by
/// the quota half way would be cancelled again.
pub(crate) async fn check_quota(store: &Store, creates: usize) -> Result<()> {
    let Some(payer) = store.payer() else {
        return Ok(());
    };
    let minute = quota::minute(now());
    let name = store.name(&quota::doc(&payer.uid, minute));
    let used = match store
        .batch_get(vec![name])
        .await?
        .into_iter()
        .flatten()
        .next()
    {
        Some(doc) => match doc.fields.get("count").and_then(|v| v.value_type.as_ref()) {
            Some(firestore::gcloud_sdk::google::firestore::v1::value::ValueType::IntegerValue(
                n,
            )) => *n,
            _ => 0,
        },
        None => 0,
    };
    let left = (payer.limit() - used).max(0);
    // `creates` is at most 101 (`workflow::STEPS_MAX` and the run).
    if i64::try_from(creates).unwrap_or(i64::MAX) > left {
        let secs = 60 - now().0.as_second().rem_euclid(60);
        return Err(Error::QuotaExceeded(format!(
            "starting this workflow creates {creates} documents and {left} of your {} creates \
             this minute are left; try again in {secs} s (nothing was written)",
            payer.limit()
        )));
    }
    Ok(())
}

/// After a failed create: cancels the steps created so far and marks the
/// run cancelled. Best effort: a failure is logged, and the caller
/// reports the create's error.
async fn abandon(store: &Store, run: &WorkflowRun, by: &str) {
    tracing::warn!(run = %run.run_id, "a step could not be created; cancelling the run");
    if let Err(e) = status::cancel_steps(store, run).await {
        tracing::warn!(run = %run.run_id, error = %e, "could not cancel the steps made");
    }
    match store.workflow(&run.run_id).await {
        Ok(Some(seen)) => {
            if let Err(e) = store.cancel_workflow(&seen, by).await {
                tracing::warn!(run = %run.run_id, error = %e, "could not mark the run cancelled");
            }
        }
        Ok(None) => {}
        Err(e) => tracing::warn!(run = %run.run_id, error = %e, "could not read the run"),
    }
}

/// Settles each step one of whose dependencies has ended already (it
/// ended before the step existed, so nobody settled the step): one batch
/// get of the completed pile for the steps others wait for, then
/// `deps::settle` for their dependents, which does nothing to a step
/// that is no longer blocked.
async fn settle_early(store: &Store, steps: &[StepPlan], by: &str) -> Result<()> {
    let mut awaited: Vec<&str> = steps
        .iter()
        .flat_map(|s| &s.after)
        .map(String::as_str)
        .collect();
    awaited.sort_unstable();
    awaited.dedup();
    if awaited.is_empty() {
        return Ok(());
    }
    let names = (awaited.iter())
        .map(|id| store.name(&crate::layout::Pile::Completed.doc(id)))
        .collect();
    let found = store.batch_get(names).await?;
    let ended: Vec<&str> = (awaited.iter().zip(&found))
        .filter_map(|(id, doc)| doc.as_ref().map(|_| *id))
        .collect();
    for s in steps
        .iter()
        .filter(|s| s.after.iter().any(|a| ended.contains(&a.as_str())))
    {
        crate::deps::settle(store, &s.task_id, by).await?;
    }
    Ok(())
}
