//! `vayu task migrate ID --to AGENT`: a running task handed to another
//! agent with its checkpoints (the seed's "task migration" for
//! maintenance windows).
//!
//! A person cannot move a task out from under the agent running it, so
//! the request is made like a cancel or a pause: one write in place asks
//! the holder (`control: migrate`) and pushes the task to the new agent
//! (`assignment.pushed_to`, until [`MIGRATE_HOLD`] from now). At its next
//! heartbeat the holder stops the handler and moves the task back to the
//! queue, checkpoints and push kept (firestore.rules `isHolderRequeue`);
//! the new agent's push listener sees it and claims it, and the handler
//! starts from the last checkpoint. If the holder dies first, whoever takes
//! the task over obeys the request the same way (`takeoverObeys`). If the
//! new agent does not claim it within the hold, any agent may.

use crate::assign::Offer;
use crate::error::{Error, Result};
use crate::layout::Pile;
use crate::lifecycle::Status;
use crate::model::{AgentState, ControlRequest, now, time_add};
use crate::store::Store;
use std::time::Duration;

/// How long only the new agent may claim a migrated task.
pub const MIGRATE_HOLD: Duration = Duration::from_secs(600);

/// Asks the holder of `task_id` to hand it to agent `to`. Refused, with
/// nothing written, when the task is not running, the agent is unknown,
/// offline, already the holder, or could not run it.
pub async fn migrate(store: &Store, task_id: &str, to: &str) -> Result<()> {
    if !crate::schema::is_task_id(task_id) {
        return Err(Error::NotFound(format!("'{task_id}' is not a task id")));
    }
    let seen = (store.find_task(task_id).await?)
        .ok_or_else(|| Error::NotFound(format!("no task {task_id}")))?;
    let t = &seen.value;
    let running =
        seen.pile == Pile::Active && matches!(t.status, Status::Assigned | Status::Executing);
    if !running || t.lease.expires_at.is_none_or(|e| e <= now()) {
        return Err(Error::Conflict(format!(
            "task {task_id} is {}{}: only a running task migrates (a queued one goes to whichever agent claims it)",
            t.status,
            if running {
                " with an expired lease"
            } else {
                ""
            }
        )));
    }
    if t.lease.owner.as_deref() == Some(to) {
        return Err(bad(format!("agent {to} runs task {task_id} already")));
    }
    if t.control.is_some() {
        return Err(Error::Conflict(format!(
            "task {task_id} has a pending request already ({})",
            t.control.map(|c| c.to_string()).unwrap_or_default()
        )));
    }
    let agent =
        (store.get_agent(to).await?).ok_or_else(|| Error::NotFound(format!("no agent {to}")))?;
    if crate::render::effective_state(&agent, now()) == AgentState::Offline {
        return Err(Error::Conflict(format!("agent {to} is offline")));
    }
    if !Offer::of_agent(&agent).could_claim(t) {
        return Err(bad(format!(
            "agent {to} cannot run task {task_id} (type {}, requires [{}])",
            t.task_type,
            t.requires.join(", ")
        )));
    }
    let mut next = t.clone();
    next.control = Some(ControlRequest::Migrate);
    next.assignment.pushed_to = Some(to.to_string());
    next.assignment.push_until = Some(time_add(now(), MIGRATE_HOLD));
    store.replace_task(&seen, &next, &[], vec![]).await?;
    Ok(())
}

fn bad(why: String) -> Error {
    Error::InvalidTask(crate::model::InvalidTask(why))
}
