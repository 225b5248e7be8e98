//! One claimed task, from handler start to the commit that finishes it.
//!
//! Every write the runner makes is conditional on the task's update time,
//! so it lands only on the version this runner last wrote. When one is
//! refused, the runner reads the task again and finds out why:
//! - the lease is someone else's now (a takeover after it expired): the
//!   handler is killed and its result discarded, and the log says so;
//! - a person asked to cancel or pause: the handler is stopped and the
//!   task moves accordingly;
//! - anything else (a person edited a field): the runner keeps the edit
//!   and writes again.

use super::AgentConfig;
use crate::error::{Error, Result};
use crate::handler::{self, Exit, HandlerEvent};
use crate::layout;
use crate::lifecycle::Status;
use crate::model::{
    Artifact, Checkpoint, ControlRequest, Lease, Task, clip, limits, millis_between, now, time_add,
};
use crate::protocol::Report;
use crate::store::{Precondition, Store, Versioned};
use firestore::gcloud_sdk::google::firestore::v1 as pb;
use std::sync::Arc;
use tokio::sync::watch;
use tokio::time::{Instant, MissedTickBehavior};

/// How a run ended, for the agent's counts and the logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Completed,
    /// Failed this attempt; queued again after a backoff.
    Retrying,
    /// Failed its last attempt: dead-lettered as `failed`.
    Failed,
    Cancelled,
    Paused,
    /// Handed back to the queue on shutdown.
    Released,
    /// Another agent holds the task now; nothing this runner did counts.
    Fenced,
    /// Firestore could not be reached to record the end; the lease will
    /// expire and another agent (or this one) will take the task over.
    Unrecorded,
    /// The runner panicked; the task was failed with the panic's message
    /// (see `guard`).
    Panicked,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Completed => "completed",
            Outcome::Retrying => "retrying",
            Outcome::Failed => "failed",
            Outcome::Cancelled => "cancelled",
            Outcome::Paused => "paused",
            Outcome::Released => "released",
            Outcome::Fenced => "fenced",
            Outcome::Unrecorded => "unrecorded",
            Outcome::Panicked => "panicked",
        }
    }
}

pub(super) struct Runner {
    store: Store,
    cfg: Arc<AgentConfig>,
    current: Versioned<Task>,
    /// Log lines not yet written.
    pending_logs: Vec<String>,
    log_seq: u64,
    epoch: i64,
    /// Set when the agent shuts down past its grace period.
    release: watch::Receiver<bool>,
}

/// Why a write did not land.
enum Refused {
    Fenced,
    Control(ControlRequest),
    Unavailable(Error),
}

impl Runner {
    pub(super) fn new(
        store: Store,
        cfg: Arc<AgentConfig>,
        claimed: Versioned<Task>,
        release: watch::Receiver<bool>,
    ) -> Self {
        let epoch = claimed.value.lease.epoch;
        Runner {
            store,
            cfg,
            current: claimed,
            pending_logs: Vec::new(),
            log_seq: 0,
            epoch,
            release,
        }
    }

    fn id(&self) -> &str {
        &self.current.value.task_id
    }

    pub(super) async fn run(mut self) -> Outcome {
        let mut release = self.release.clone();
        let task = self.current.value.clone();
        let Some(command) = self
            .cfg
            .handlers
            .command_for(task.task_type)
            .map(str::to_string)
        else {
            // The agent never claims a type it has no handler for; if the
            // type changed under us, give the task back.
            return self.finish_release("no handler for this type").await;
        };
        let ctx = handler::Context {
            agent_id: &self.cfg.agent_id,
            attempt: task.execution.attempt,
        };
        let (mut child, mut events) = match handler::spawn(&command, &task, &ctx) {
            Ok(c) => c,
            Err(e) => {
                return self
                    .finish_failure(format!("could not start the handler: {e}"))
                    .await;
            }
        };
        // Saturated: `timeout()` is at most a week, but a deadline must
        // never be the thing that panics.
        let deadline = Instant::now()
            .checked_add(task.timeout())
            .unwrap_or_else(|| Instant::now() + std::time::Duration::from_secs(86_400));
        let mut tick =
            tokio::time::interval_at(Instant::now() + self.cfg.heartbeat, self.cfg.heartbeat);
        tick.set_missed_tick_behavior(MissedTickBehavior::Skip);
        let mut events_open = true;

        let exit = loop {
            tokio::select! {
                ev = events.recv(), if events_open => match ev {
                    Some(ev) => self.apply(ev),
                    None => events_open = false,
                },
                exit = child.wait() => {
                    break match exit {
                        Ok(e) => e,
                        Err(e) => {
                            self.log(format!("[vayu] waiting for the handler failed: {e}"));
                            Exit::Code(-1)
                        }
                    };
                }
                _ = tick.tick() => {
                    match self.renew().await {
                        Ok(()) => {}
                        Err(Refused::Fenced) => {
                            child.kill().await;
                            return self.fenced("the lease was taken over while the handler ran");
                        }
                        Err(Refused::Control(c)) => {
                            child.kill().await;
                            return self.obey(c).await;
                        }
                        Err(Refused::Unavailable(e)) => {
                            // Keep the handler running through an outage;
                            // the next tick tries again.
                            tracing::warn!(task = %self.id(), error = %e, "lease renewal failed; handler keeps running");
                        }
                    }
                }
                () = tokio::time::sleep_until(deadline) => {
                    child.kill().await;
                    let secs = task.timeout().as_secs();
                    return self.finish_failure(format!("timed out after {secs} s; the handler's process group was killed")).await;
                }
                changed = release.changed() => {
                    if changed.is_ok() && *release.borrow() {
                        child.kill().await;
                        return self.finish_release("the agent shut down before the handler finished").await;
                    }
                }
            }
        };
        // Take what the handler printed last; a background process that
        // keeps its stdout open does not hold the task up for long.
        let drain_until = Instant::now() + std::time::Duration::from_millis(500);
        while events_open {
            match tokio::time::timeout_at(drain_until, events.recv()).await {
                Ok(Some(ev)) => self.apply(ev),
                _ => events_open = false,
            }
        }
        drop(child);
        if exit.success() {
            self.finish_success().await
        } else {
            let tail = self
                .current
                .value
                .execution
                .logs
                .last()
                .cloned()
                .unwrap_or_default();
            self.finish_failure(format!("handler {exit}; last output: {tail}"))
                .await
        }
    }

    /// Applies one handler event to the in-memory task.
    fn apply(&mut self, ev: HandlerEvent) {
        let ex = &mut self.current.value.execution;
        match ev {
            HandlerEvent::Report(Report::Progress { percent, step }) => {
                ex.progress = percent;
                if step.is_some() {
                    ex.current_step = step.map(|s| clip(&s, 200));
                }
            }
            HandlerEvent::Report(Report::Checkpoint(data)) => {
                ex.checkpoints.push(Checkpoint {
                    at: Some(now()),
                    epoch: self.epoch,
                    data: clip(&data, limits::CHECKPOINT_MAX),
                });
                let excess = ex
                    .checkpoints
                    .len()
                    .saturating_sub(limits::CHECKPOINTS_KEPT);
                ex.checkpoints.drain(..excess);
            }
            HandlerEvent::Report(Report::Artifact { name, uri }) => {
                if ex.artifacts.len() < limits::ARTIFACTS_MAX {
                    ex.artifacts.push(Artifact {
                        name: clip(&name, limits::ARTIFACT_NAME_MAX),
                        uri: clip(&uri, limits::ARTIFACT_URI_MAX),
                        at: Some(now()),
                    });
                } else {
                    self.log(format!(
                        "artifact {name} dropped: at most {} per task",
                        limits::ARTIFACTS_MAX
                    ));
                }
            }
            HandlerEvent::Report(Report::Result(r)) => {
                ex.result = Some(clip(&r, limits::ERROR_MAX))
            }
            HandlerEvent::Report(Report::Log(line)) => self.log(line),
            HandlerEvent::Report(Report::Invalid { line, reason }) => {
                self.log(format!("[vayu] ignored report ({reason}): {line}"))
            }
            HandlerEvent::Stderr(line) => self.log(line),
        }
    }

    fn log(&mut self, line: String) {
        // One line each: the rules check the tail joined by newlines.
        let line = clip(&line.replace(['\n', '\r'], " "), limits::LOG_LINE_MAX);
        let ex = &mut self.current.value.execution;
        ex.logs.push(line.clone());
        let excess = ex.logs.len().saturating_sub(limits::LOG_TAIL);
        ex.logs.drain(..excess);
        ex.log_lines += 1;
        self.pending_logs.push(line);
    }

    /// The log documents for the pending lines, at most 500 lines or about
    /// 256 KiB each.
    fn log_writes(&mut self) -> Result<Vec<pb::Write>> {
        let mut writes = Vec::new();
        let mut batch: Vec<String> = Vec::new();
        let mut bytes = 0;
        let lines = std::mem::take(&mut self.pending_logs);
        let n = lines.len();
        for (i, line) in lines.into_iter().enumerate() {
            bytes += line.len();
            batch.push(line);
            if batch.len() >= 500 || bytes >= 256 * 1024 || i + 1 == n {
                self.log_seq += 1;
                let rel = layout::log_doc(self.id(), self.epoch, self.log_seq);
                let doc = LogDoc {
                    task_id: self.id().to_string(),
                    epoch: self.epoch,
                    agent_id: self.cfg.agent_id.clone(),
                    at: Some(now()),
                    lines: std::mem::take(&mut batch),
                };
                let doc = self.store.encode(&rel, &doc)?;
                writes.push(pb::Write {
                    operation: Some(pb::write::Operation::Update(doc)),
                    current_document: Precondition::Missing.into_pb(),
                    ..Default::default()
                });
                bytes = 0;
            }
        }
        Ok(writes)
    }

    /// Renews the lease and writes progress and logs.
    async fn renew(&mut self) -> std::result::Result<(), Refused> {
        let mut next = self.current.value.clone();
        next.lease.expires_at = Some(time_add(now(), self.cfg.lease));
        self.write(next, &[]).await
    }

    /// Writes `next` (after `path` steps), reconciling once if a person's
    /// edit got in between.
    async fn write(&mut self, mut next: Task, path: &[Status]) -> std::result::Result<(), Refused> {
        let saved_logs = self.pending_logs.clone();
        let saved_seq = self.log_seq;
        for _ in 0..3 {
            let extra = self.log_writes().map_err(Refused::Unavailable)?;
            match self
                .store
                .replace_task(&self.current, &next, path, extra)
                .await
            {
                Ok(v) => {
                    self.current = v;
                    return Ok(());
                }
                // Under firestore.rules a fenced write is refused before its
                // precondition is checked: PermissionDenied means "re-read" too.
                Err(e)
                    if e.is_conflict()
                        || matches!(e, Error::NotFound(_) | Error::PermissionDenied(_)) =>
                {
                    self.pending_logs = saved_logs.clone();
                    self.log_seq = saved_seq;
                    let fresh = match self.store.find_task(&next.task_id).await {
                        Ok(Some(f)) => f,
                        Ok(None) => return Err(Refused::Fenced),
                        Err(e) => return Err(Refused::Unavailable(e)),
                    };
                    if fresh.pile != layout::Pile::Active
                        || fresh.value.lease.epoch != self.epoch
                        || fresh.value.lease.owner.as_deref() != Some(&self.cfg.agent_id)
                    {
                        return Err(Refused::Fenced);
                    }
                    // A control request that arrives as the handler
                    // finishes is too late: the work is done.
                    if let Some(c) = fresh.value.control
                        && !matches!(path.last(), Some(Status::Completed))
                    {
                        return Err(Refused::Control(c));
                    }
                    // Our lease ran out (an outage outlasted it) but nobody
                    // took the task over: take it over from ourselves, with
                    // the next epoch, the way a peer would, and carry on. The
                    // rules refuse a holder's writes on an expired lease.
                    let mut fresh = fresh;
                    if fresh.value.lease.expires_at.is_none_or(|e| e <= now()) {
                        let mut renewed = fresh.value.clone();
                        renewed.lease.epoch += 1;
                        renewed.lease.expires_at = Some(time_add(now(), self.cfg.lease));
                        renewed.record(
                            renewed.status,
                            now(),
                            Some(&self.cfg.agent_id),
                            Some("the lease had expired with nobody taking over; renewed by its holder".into()),
                        );
                        match self.store.replace_task(&fresh, &renewed, &[], vec![]).await {
                            Ok(v) => {
                                self.epoch = v.value.lease.epoch;
                                tracing::info!(task = %self.id(), epoch = self.epoch, "lease expired during an outage; taken back");
                                next.lease = v.value.lease.clone();
                                // Our pending write's own history entries
                                // come after the renewal's.
                                if let Some(entry) = v.value.history.last() {
                                    let at = fresh.value.history.len().min(next.history.len());
                                    next.history.insert(at, entry.clone());
                                }
                                fresh = v;
                            }
                            Err(e)
                                if e.is_conflict()
                                    || matches!(
                                        e,
                                        Error::NotFound(_) | Error::PermissionDenied(_)
                                    ) =>
                            {
                                continue;
                            }
                            Err(e) => return Err(Refused::Unavailable(e)),
                        }
                    }
                    // A person's edit: keep their fields, re-apply ours.
                    let mut merged = fresh.value.clone();
                    merged.status = next.status;
                    merged.execution = next.execution.clone();
                    merged.lease = next.lease.clone();
                    merged.history = next.history.clone();
                    merged.not_before = next.not_before;
                    merged.metadata.retry_count = next.metadata.retry_count;
                    merged.metadata.actual_duration = next.metadata.actual_duration;
                    merged.assignment = next.assignment.clone();
                    if matches!(path.last(), Some(Status::Completed)) {
                        merged.control = None;
                    }
                    next = merged;
                    self.current = fresh;
                }
                Err(e) => {
                    self.pending_logs = saved_logs;
                    self.log_seq = saved_seq;
                    return Err(Refused::Unavailable(e));
                }
            }
        }
        Err(Refused::Unavailable(Error::Conflict(
            "the task kept changing under the agent".into(),
        )))
    }

    fn fenced(&self, why: &str) -> Outcome {
        tracing::warn!(task = %self.id(), epoch = self.epoch, "{why}; this agent's result is discarded");
        Outcome::Fenced
    }

    /// Ends the run with one final write; maps refusals to outcomes.
    ///
    /// Through an outage it keeps trying (capped, jittered backoff): this
    /// runner still holds the epoch, so once Firestore answers, either the
    /// write lands or it is refused because another agent took over. Giving
    /// up early would leave the task in the active pile under a live agent
    /// that nobody would take it from. Only a shutdown stops the retries;
    /// then the expired lease hands the task to a peer or to this agent's
    /// next start.
    async fn finish(&mut self, next: Task, path: &[Status], outcome: Outcome) -> Outcome {
        let backoff = crate::retry::Backoff {
            base: std::time::Duration::from_millis(200),
            cap: std::time::Duration::from_secs(5),
        };
        let mut failures = 0u32;
        loop {
            match self.write(next.clone(), path).await {
                Ok(()) => return outcome,
                Err(Refused::Fenced) => {
                    return self.fenced("the lease was taken over before the end was recorded");
                }
                Err(Refused::Control(c)) => return Box::pin(self.obey(c)).await,
                Err(Refused::Unavailable(e)) => {
                    failures += 1;
                    tracing::warn!(task = %self.id(), error = %e, failures, "could not record the end; retrying");
                    if *self.release.borrow() {
                        tracing::warn!(task = %self.id(), "shutting down with the end unrecorded; the lease will expire and the task be taken over");
                        return Outcome::Unrecorded;
                    }
                    tokio::time::sleep(backoff.delay(failures, rand::random())).await;
                }
            }
        }
    }

    async fn finish_success(&mut self) -> Outcome {
        let t_now = now();
        let mut next = self.current.value.clone();
        next.status = Status::Completed;
        next.execution.progress = 100;
        next.execution.finished_at = Some(t_now);
        next.lease.expires_at = None;
        if let Some(started) = next.execution.started_at {
            next.metadata.actual_duration = Some(
                (millis_between(started, t_now) as f64 / 60_000.0)
                    .clamp(0.0, limits::ACTUAL_MINUTES_MAX),
            );
        }
        next.record(Status::Completed, t_now, Some(&self.cfg.agent_id), None);
        self.finish(next, &[Status::Completed], Outcome::Completed)
            .await
    }

    async fn finish_failure(&mut self, error: String) -> Outcome {
        let t_now = now();
        let me = self.cfg.agent_id.clone();
        let mut next = self.current.value.clone();
        let error = clip(&error, limits::ERROR_MAX);
        self.log(format!(
            "[vayu] attempt {} failed: {error}",
            next.execution.attempt
        ));
        next.execution = self.current.value.execution.clone();
        next.execution.last_error = Some(error.clone());
        next.execution.finished_at = Some(t_now);
        next.metadata.retry_count += 1;
        next.lease = Lease {
            owner: None,
            expires_at: None,
            epoch: self.epoch,
        };
        next.record(Status::Failed, t_now, Some(&me), Some(error));
        if next.metadata.retry_count <= next.metadata.max_retries {
            let delay = self
                .cfg
                .retry_backoff
                .delay(next.metadata.retry_count as u32, rand::random());
            let at = time_add(t_now, delay);
            next.status = Status::Queued;
            next.not_before = Some(at);
            next.assignment.primary_agent = None;
            next.record(
                Status::Queued,
                t_now,
                Some(&me),
                Some(format!(
                    "retry {} after {} ms",
                    next.metadata.retry_count,
                    delay.as_millis()
                )),
            );
            self.finish(next, &[Status::Failed, Status::Queued], Outcome::Retrying)
                .await
        } else {
            next.status = Status::Failed;
            self.finish(next, &[Status::Failed], Outcome::Failed).await
        }
    }

    async fn finish_release(&mut self, why: &str) -> Outcome {
        let t_now = now();
        let mut next = self.current.value.clone();
        next.status = Status::Queued;
        next.lease = Lease {
            owner: None,
            expires_at: None,
            epoch: self.epoch,
        };
        next.assignment.primary_agent = None;
        next.record(
            Status::Queued,
            t_now,
            Some(&self.cfg.agent_id),
            Some(why.to_string()),
        );
        self.finish(next, &[Status::Queued], Outcome::Released)
            .await
    }

    /// Carries out a person's cancel or pause.
    async fn obey(&mut self, control: ControlRequest) -> Outcome {
        // Pick up the person's version (with the control field) first.
        if let Ok(Some(fresh)) = self.store.find_task(&self.current.value.task_id).await {
            let execution = self.current.value.execution.clone();
            self.current = fresh;
            self.current.value.execution = execution;
        }
        let t_now = now();
        let mut next = self.current.value.clone();
        next.control = None;
        next.lease = Lease {
            owner: None,
            expires_at: None,
            epoch: self.epoch,
        };
        let (status, outcome) = match control {
            ControlRequest::Cancel => (Status::Cancelled, Outcome::Cancelled),
            ControlRequest::Pause => (Status::Paused, Outcome::Paused),
        };
        next.status = status;
        next.execution.finished_at = Some(t_now);
        next.record(
            status,
            t_now,
            Some(&self.cfg.agent_id),
            Some(format!("{control} requested")),
        );
        match self.write(next, &[status]).await {
            Ok(()) => outcome,
            Err(Refused::Fenced) => self.fenced("the lease was taken over"),
            Err(_) => Outcome::Unrecorded,
        }
    }
}

/// One batch of a task's log lines: `task_logs/{task_id}/lines/{epoch}-{seq}`.
#[derive(serde::Serialize, serde::Deserialize, Debug, Clone, Default)]
#[serde(default)]
pub struct LogDoc {
    pub task_id: String,
    pub epoch: i64,
    pub agent_id: String,
    pub at: Option<crate::model::Time>,
    pub lines: Vec<String>,
}
