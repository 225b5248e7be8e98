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

mod broadcast;
mod finish;
mod team;
mod write;

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
    /// Done, and handed to review (its policy is not none): the verdicts
    /// decide whether it completes.
    Reviewing,
    /// Failed this attempt; queued again after a backoff.
    Retrying,
    /// Failed its last attempt: dead-lettered as `failed`.
    Failed,
    Cancelled,
    Paused,
    /// Handed back to the queue for the agent a person named
    /// (`vayu task migrate`).
    Migrated,
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
    /// The task reached an end its dependents wait for.
    pub fn ended(self) -> bool {
        matches!(
            self,
            Outcome::Completed | Outcome::Failed | Outcome::Cancelled
        )
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Completed => "completed",
            Outcome::Reviewing => "reviewing",
            Outcome::Retrying => "retrying",
            Outcome::Failed => "failed",
            Outcome::Cancelled => "cancelled",
            Outcome::Paused => "paused",
            Outcome::Migrated => "migrated",
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
    /// The execution as Firestore holds it: the handler's reports build up
    /// in `current` between writes, and a move must know which tails it
    /// would carry (see `write`).
    stored: crate::model::Execution,
    /// Skills the handler reported (`vayu:skill`), kept if the run
    /// completes.
    learned: Vec<String>,
    /// Log lines not yet written.
    pending_logs: Vec<String>,
    /// This run's last few lines (the task's tail may hold an earlier
    /// attempt's), for naming a limit that ended it.
    run_tail: std::collections::VecDeque<String>,
    log_seq: u64,
    epoch: i64,
    /// Set when the agent shuts down past its grace period.
    release: watch::Receiver<bool>,
    /// The agent's history, told of each end this runner records.
    learner: crate::history::Learner,
    /// A team member's reports and barrier waits.
    team: team::Member,
}

/// How many of a run's last lines [`Runner::run_tail`] keeps.
const RUN_TAIL: usize = 5;

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
        learner: crate::history::Learner,
    ) -> Self {
        let epoch = claimed.value.lease.epoch;
        Runner {
            store,
            cfg,
            stored: claimed.value.execution.clone(),
            current: claimed,
            pending_logs: Vec::new(),
            run_tail: std::collections::VecDeque::new(),
            learned: Vec::new(),
            log_seq: 0,
            epoch,
            release,
            learner,
            team: team::Member::default(),
        }
    }

    fn id(&self) -> &str {
        &self.current.value.task_id
    }

    /// Runs the task's handler to an outcome, then removes the run's
    /// directory however it ended (unless an artifact lives there). Also
    /// says whether anything waits for the task: a dependent marked it,
    /// as its last version written shows (`crate::deps::waiters::mark`),
    /// or it is a team's part, whose parent waits for it (parts are not
    /// marked: `part_of` already names their dependent).
    pub(super) async fn run(mut self) -> (Outcome, bool) {
        let run = format!("e{}", self.epoch);
        let outcome = self.run_handler(&run).await;
        let dir = self.cfg.sandbox.work_root.join(self.id()).join(&run);
        let ex = &self.current.value.execution;
        let uris: Vec<&str> = ex.artifacts.iter().map(|a| a.uri.as_str()).collect();
        if let Err(e) = self.cfg.sandbox.tidy(&dir, &uris)
            && e.kind() != std::io::ErrorKind::NotFound
        {
            tracing::debug!(task = %self.id(), error = %e, "could not remove the run's directory");
        }
        let t = &self.current.value;
        let waited_on = !t.dependencies.blocking.is_empty() || t.part_of.is_some();
        (outcome, waited_on)
    }

    async fn run_handler(&mut self, run: &str) -> Outcome {
        let mut release = self.release.clone();
        let task = self.current.value.clone();
        if task.team.as_ref().is_some_and(|t| t.merge.is_builtin()) {
            return self.merge_team(&task).await;
        }
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
        // A workflow step's input gets its earlier steps' results, which
        // exist only now (src/workflows/results.rs); other tasks are as is.
        let filled = match crate::workflows::fill_results(&self.store, &task).await {
            Ok(filled) => crate::teams::fill(&self.store, &filled).await,
            Err(e) => Err(e),
        };
        let task = match filled {
            // A parent lists its parts' artifacts as its own, and names
            // their agents when it completes.
            Ok(filled) if filled.team.is_some() => {
                self.current.value.execution.artifacts = filled.execution.artifacts.clone();
                self.team.collaborators = filled.assignment.collaborators.clone();
                filled
            }
            Ok(filled) => filled,
            Err(e) => {
                let why = format!("could not fill in the step's input: {e}");
                return self.finish_failure(why).await;
            }
        };
        let env = self.team_env(run).await;
        let ctx = handler::Context {
            agent_id: &self.cfg.agent_id,
            attempt: task.execution.attempt,
            env: &env,
            sandbox: &self.cfg.sandbox,
            run,
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
                    Some(ev) => {
                        self.apply(ev);
                        self.team_flush(run).await;
                    }
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
        self.team_flush(run).await;
        let printed_too_much = child.printed_too_much();
        drop(child);
        if exit.success() {
            let outcome = self.finish_success().await;
            if outcome == Outcome::Completed {
                self.keep_skills();
            }
            outcome
        } else {
            let tail = self.run_tail.back().cloned().unwrap_or_default();
            let recent = Vec::from(self.run_tail.clone()).join("\n");
            let why = match self.cfg.sandbox.explain(&exit, &recent, printed_too_much) {
                Some(limit) => format!("handler {exit}: {limit}; last output: {tail}"),
                None => format!("handler {exit}; last output: {tail}"),
            };
            self.finish_failure(why).await
        }
    }

    /// The version a write (or a re-read) returned.
    fn set_current(&mut self, v: Versioned<Task>) {
        self.stored = v.value.execution.clone();
        self.current = v;
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
                let estimate = self.current.value.metadata.estimated_duration;
                if let Some(started) = ex.started_at {
                    ex.estimated_completion =
                        crate::assign::history::eta(started, now(), percent, estimate);
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
                if name.starts_with("subtask-") && self.current.value.part_of.is_some() {
                    // A team's subtasks come from `vayu:subtask` only.
                    return self.log(format!("[vayu] artifact {name} refused: reserved"));
                }
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
            HandlerEvent::Report(Report::Skill(skill)) => {
                if !self.learned.contains(&skill) {
                    self.learned.push(skill);
                }
            }
            HandlerEvent::Report(
                team @ (Report::Context { .. } | Report::Barrier { .. } | Report::Subtask(_)),
            ) => self.team.push(team),
            HandlerEvent::Report(Report::Invalid { line, reason }) => {
                self.log(format!("[vayu] ignored report ({reason}): {line}"))
            }
            HandlerEvent::Report(
                review @ (Report::Verdict(_) | Report::Scores(_) | Report::Comment(_)),
            ) => self.log(format!(
                "[vayu] ignored a review report in a task's run: {review:?}"
            )),
            HandlerEvent::Stderr(line) => self.log(line),
        }
    }

    /// A completed run's skills join the agent's (its next document
    /// lists them). A handed-in run waits for its review: not kept.
    fn keep_skills(&mut self) {
        for skill in std::mem::take(&mut self.learned) {
            match self.cfg.skills.learn(&skill) {
                super::Learned::New => tracing::info!(task = %self.id(), %skill, "learned a skill"),
                super::Learned::Known => {}
                super::Learned::Full => {
                    tracing::warn!(task = %self.id(), %skill, "skill dropped: the agent keeps at most {}", limits::SKILLS_MAX)
                }
            }
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
        if self.run_tail.len() >= RUN_TAIL {
            self.run_tail.pop_front();
        }
        self.run_tail.push_back(line.clone());
        self.pending_logs.push(line);
    }
}
