//! A run's status (every step's task, in plan order), its cancel, and the
//! list of runs.

use crate::error::{Error, Result};
use crate::lifecycle::Status;
use crate::store::{SeenRun, Store};
use crate::tasks::{self, ControlResult};
use crate::workflow::{RunState, WorkflowRun};
use serde::Serialize;

/// One step of a run as it stands.
#[derive(Debug, Clone, Serialize)]
pub struct StepRow {
    pub step: String,
    pub task_id: String,
    /// `None`: its task does not exist (the start was cut short).
    pub status: Option<Status>,
    pub progress: i64,
    /// Who runs it now, or who ran it last.
    pub agent: Option<String>,
    pub title: String,
    pub result: Option<String>,
}

async fn find(store: &Store, run_id: &str) -> Result<SeenRun> {
    if !crate::workflow::is_run_id(run_id) {
        return Err(Error::NotFound(format!("'{run_id}' is not a run id")));
    }
    (store.workflow(run_id).await?)
        .ok_or_else(|| Error::NotFound(format!("no workflow run {run_id}")))
}

/// Run `run_id` and its steps in plan order.
pub async fn status(store: &Store, run_id: &str) -> Result<(WorkflowRun, Vec<StepRow>)> {
    let seen = find(store, run_id).await?;
    let run = seen.run;
    let found = store.find_tasks(&run.task_ids).await?;
    let rows = (run.steps.iter().zip(&run.task_ids).zip(found))
        .map(|((step, task_id), v)| {
            let t = v.map(|v| v.value);
            StepRow {
                step: step.clone(),
                task_id: task_id.clone(),
                status: t.as_ref().map(|t| t.status),
                progress: t.as_ref().map_or(0, |t| t.execution.progress),
                agent: t.as_ref().and_then(|t| {
                    (t.lease.owner.clone()).or_else(|| t.assignment.primary_agent.clone())
                }),
                title: t.as_ref().map(|t| t.title.clone()).unwrap_or_default(),
                result: t.and_then(|t| t.execution.result),
            }
        })
        .collect();
    Ok((run, rows))
}

/// What a cancel did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct CancelReport {
    /// Steps moved to cancelled at once.
    pub cancelled: Vec<String>,
    /// Running steps whose agents were asked to stop (within a heartbeat).
    pub requested: Vec<String>,
    /// Steps that had ended already (or were cancelled by a dependency's
    /// cancel meanwhile), left as they are.
    pub ended: Vec<String>,
}

/// Cancels run `run_id`: marks it cancelled (the starter or an admin
/// only: the rules refuse anyone else, and then nothing is changed), then
/// cancels every unfinished step with `tasks::cancel`. Made again, it
/// cancels what is left.
pub async fn cancel(store: &Store, run_id: &str, by: &str) -> Result<CancelReport> {
    let seen = find(store, run_id).await?;
    if seen.run.state == RunState::Running {
        store.cancel_workflow(&seen, by).await?;
    }
    cancel_steps(store, &seen.run).await
}

/// Cancels every unfinished step of `run`, the last in plan order first
/// (a cancelled step cancels its dependents too, so from the end each
/// cancel finds its dependents done already).
pub(super) async fn cancel_steps(store: &Store, run: &WorkflowRun) -> Result<CancelReport> {
    let found = store.find_tasks(&run.task_ids).await?;
    let mut report = CancelReport::default();
    for (step, v) in run.steps.iter().zip(found).rev() {
        let Some(v) = v else { continue };
        if v.value.status.is_terminal() {
            report.ended.push(step.clone());
            continue;
        }
        match tasks::cancel(store, &v.value.task_id).await {
            Ok(ControlResult::Requested(_) | ControlResult::Parts(_)) => {
                report.requested.push(step.clone())
            }
            Ok(ControlResult::Moved(_)) => report.cancelled.push(step.clone()),
            // It ended (or a dependency's cancel reached it) since the read.
            Err(Error::Transition(_)) => report.ended.push(step.clone()),
            Err(e) => return Err(e),
        }
    }
    Ok(report)
}

/// The newest `limit` runs.
pub async fn list(store: &Store, limit: i32) -> Result<Vec<WorkflowRun>> {
    store.list_workflows(limit).await
}
