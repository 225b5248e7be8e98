//! An agent's reviews: self-checks, peer reviews and test runs of tasks
//! in review (seed section 8).
//!
//! One review at a time, beside the agent's runs, in its own task: every
//! heartbeat it looks at the tasks in review, takes one it may give
//! ([`crate::review::agent::review_to_take`]) with a conditional write
//! that leases it like a run (`isReviewClaim` in firestore.rules), runs
//! the review command with the task on stdin while renewing the lease,
//! and writes the verdict ([`crate::reviews::give_on`]), which gives the
//! review back or decides the round in the same commit.
//!
//! It looks rather than listens: no listener event announces that a
//! reviewer's lease ran out, and a killed reviewer's review must be taken
//! over when it does. Reviews are a slow path; a heartbeat's delay is
//! small beside them.

use super::*;
use crate::handler::{self, Exit, HandlerEvent};
use crate::protocol::Report;
use crate::review::agent::{Reviews, Said, conclude, review_to_take};
use crate::review::{ReviewKind, policy_of};
use crate::reviews::{GivenVerdict, Reviewed, give_on};
use tokio::sync::watch;
use tokio::time::MissedTickBehavior;

/// The commands an agent gives reviews with; each is run under `sh -c`
/// like a handler, with the task (its output, artifacts and criteria) as
/// JSON on stdin (`crate::handler`, `crate::protocol`).
#[derive(Debug, Clone, Default)]
pub struct ReviewCommands {
    /// Run by an executor of the task on its own output.
    pub self_check: Option<String>,
    /// A peer's review; the agent needs the `review` capability.
    pub peer: Option<String>,
    /// The task's test run: exit status 0 passes.
    pub tests: Option<String>,
}

impl ReviewCommands {
    pub fn reviews(&self) -> Reviews {
        Reviews {
            self_check: self.self_check.is_some(),
            peer: self.peer.is_some(),
            tests: self.tests.is_some(),
        }
    }

    fn command(&self, kind: ReviewKind) -> Option<&str> {
        match kind {
            ReviewKind::SelfCheck => self.self_check.as_deref(),
            ReviewKind::Peer => self.peer.as_deref(),
            ReviewKind::Tests => self.tests.as_deref(),
            ReviewKind::User => None,
        }
    }
}

/// Runs the review loop until `stop` turns true; returns how many
/// verdicts it gave. A review in progress at the stop is given back, so a
/// peer takes it at once instead of after the lease.
pub(super) async fn run(
    store: Store,
    cfg: Arc<AgentConfig>,
    mut stop: watch::Receiver<bool>,
) -> u64 {
    let mut tick = tokio::time::interval(cfg.heartbeat);
    tick.set_missed_tick_behavior(MissedTickBehavior::Skip);
    let mut given = 0;
    loop {
        tokio::select! {
            _ = stop.changed() => break,
            _ = tick.tick() => {}
        }
        if *stop.borrow() {
            break;
        }
        let taken = match take_one(&store, &cfg).await {
            Ok(Some(taken)) => taken,
            Ok(None) => continue,
            Err(e) => {
                tracing::warn!(error = %e, "could not look for reviews");
                continue;
            }
        };
        let review = Review {
            store: &store,
            cfg: &cfg,
            current: taken.0,
            kind: taken.1,
        };
        if review.give(&mut stop).await {
            given += 1;
        }
    }
    given
}

/// Finds a review this agent may give and claims it: the task in review
/// as the claim left it, and the kind.
async fn take_one(
    store: &Store,
    cfg: &AgentConfig,
) -> Result<Option<(Versioned<Task>, ReviewKind)>> {
    let me = cfg.agent_id.as_str();
    let can = cfg.reviews.reviews();
    let tasks = store
        .list_pile(Pile::Active, Some(Status::Reviewing), Some(100))
        .await?;
    for seen in tasks.into_iter().flatten() {
        let t = &seen.value;
        if review_to_take(t, me, can, &[], now()).is_none() {
            continue;
        }
        let verdicts = store
            .round_verdicts(&t.task_id, t.review.round, policy_of(t))
            .await?;
        let done: Vec<ReviewKind> = verdicts.iter().map(|v| v.kind).collect();
        let Some(kind) = review_to_take(t, me, can, &done, now()) else {
            continue;
        };
        let mut next = t.clone();
        next.lease = Lease {
            owner: Some(me.to_string()),
            expires_at: Some(time_add(now(), cfg.lease)),
            epoch: t.lease.epoch + 1,
        };
        next.review.claim = Some(kind.to_string());
        match store.replace_task(&seen, &next, &[], vec![]).await {
            Ok(claimed) => {
                tracing::info!(task = %t.task_id, %kind, epoch = next.lease.epoch, "took a review");
                return Ok(Some((claimed, kind)));
            }
            // Another reviewer got there first, or the task moved on.
            Err(e) if e.is_conflict() || matches!(e, Error::PermissionDenied(_)) => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(None)
}

/// One review in progress.
struct Review<'a> {
    store: &'a Store,
    cfg: &'a AgentConfig,
    current: Versioned<Task>,
    kind: ReviewKind,
}

/// How a review command ended.
enum Ended {
    Exited(Exit, Said, Vec<String>),
    /// The lease was lost (taken over, or a person decided): drop it.
    Lost,
    /// The agent is stopping: give the review back.
    Stopping,
}

impl Review<'_> {
    fn id(&self) -> &str {
        &self.current.value.task_id
    }

    /// Runs the review command and writes its verdict; true when the
    /// verdict landed.
    async fn give(mut self, stop: &mut watch::Receiver<bool>) -> bool {
        let cfg = self.cfg;
        let ended = match cfg.reviews.command(self.kind) {
            Some(command) => self.run_command(command, stop).await,
            None => Ended::Stopping,
        };
        let (exit, said, tail) = match ended {
            Ended::Exited(exit, said, tail) => (exit, said, tail),
            Ended::Lost => {
                tracing::info!(task = %self.id(), kind = %self.kind, "lost the review; dropping it");
                return false;
            }
            Ended::Stopping => {
                self.give_back().await;
                return false;
            }
        };
        let (verdict, scores, comment) = conclude(said, exit.success(), &tail);
        let given = GivenVerdict {
            kind: self.kind,
            reviewer: self.cfg.agent_id.clone(),
            verdict,
            scores,
            comment,
        };
        let mut result = give_on(self.store, &self.current, given.clone()).await;
        if result.as_ref().is_err_and(stale) && self.refresh().await {
            result = give_on(self.store, &self.current, given).await;
        }
        match result {
            Ok(outcome) => {
                let outcome = describe(&outcome);
                tracing::info!(task = %self.id(), kind = %self.kind, verdict = verdict.as_str(), %exit, "{outcome}");
                true
            }
            Err(e) => {
                tracing::warn!(task = %self.id(), kind = %self.kind, error = %e, "could not record the verdict; the review lease will expire and it is taken again");
                false
            }
        }
    }

    /// Runs the command with the task on stdin, renewing the lease every
    /// heartbeat, bounded by the task's own timeout.
    /// [`Self::run_in`] in a directory of its own, removed after.
    async fn run_command(&mut self, command: &str, stop: &mut watch::Receiver<bool>) -> Ended {
        let epoch = self.current.value.lease.epoch;
        let run = format!("review-{}-e{epoch}", self.kind);
        let ended = self.run_in(command, stop, &run).await;
        let dir = self.cfg.sandbox.work_root.join(self.id()).join(&run);
        let _ = self.cfg.sandbox.tidy(&dir, &[]);
        ended
    }

    async fn run_in(
        &mut self,
        command: &str,
        stop: &mut watch::Receiver<bool>,
        run: &str,
    ) -> Ended {
        let task = self.current.value.clone();
        let env = [
            ("VAYU_REVIEW_KIND", self.kind.to_string()),
            ("VAYU_REVIEW_ROUND", task.review.round.to_string()),
        ];
        let ctx = handler::Context {
            agent_id: &self.cfg.agent_id,
            attempt: task.execution.attempt,
            env: &env,
            sandbox: &self.cfg.sandbox,
            run,
        };
        let (mut child, mut events) = match handler::spawn(command, &task, &ctx) {
            Ok(c) => c,
            Err(e) => {
                let said = Said {
                    comments: vec![format!("could not start the review command: {e}")],
                    ..Said::default()
                };
                return Ended::Exited(Exit::Code(-1), said, vec![]);
            }
        };
        let deadline = Instant::now()
            .checked_add(task.timeout())
            .unwrap_or_else(|| Instant::now() + Duration::from_secs(86_400));
        let mut tick =
            tokio::time::interval_at(Instant::now() + self.cfg.heartbeat, self.cfg.heartbeat);
        tick.set_missed_tick_behavior(MissedTickBehavior::Skip);
        let (mut said, mut tail) = (Said::default(), Vec::new());
        let mut open = true;
        loop {
            tokio::select! {
                ev = events.recv(), if open => match ev {
                    Some(ev) => hear(ev, &mut said, &mut tail),
                    None => open = false,
                },
                exit = child.wait() => {
                    // The rest of its output, which may hold its verdict.
                    while let Some(ev) = events.recv().await {
                        hear(ev, &mut said, &mut tail);
                    }
                    return Ended::Exited(exit.unwrap_or(Exit::Code(-1)), said, tail);
                }
                _ = tick.tick() => {
                    if !self.renew().await {
                        child.kill().await;
                        return Ended::Lost;
                    }
                }
                () = tokio::time::sleep_until(deadline) => {
                    child.kill().await;
                    said.comments.push(format!("the review command ran past the task's timeout ({} s)", task.timeout().as_secs()));
                    said.verdict = Some(crate::review::Verdict::Reject);
                    return Ended::Exited(Exit::Code(-1), said, tail);
                }
                _ = stop.changed() => {
                    child.kill().await;
                    return Ended::Stopping;
                }
            }
        }
    }

    /// Renews the review's lease; false when it is lost. An outage keeps
    /// the review going: the next tick tries again, and if the lease runs
    /// out meanwhile the verdict's write is refused.
    async fn renew(&mut self) -> bool {
        let mut result = self.renew_once().await;
        if result.as_ref().is_err_and(stale) && self.refresh().await {
            result = self.renew_once().await;
        }
        match result {
            Ok(v) => {
                self.current = v;
                true
            }
            Err(e) if e.is_transient() => {
                tracing::warn!(task = %self.id(), error = %e, "review lease renewal failed; retrying at the next heartbeat");
                true
            }
            Err(_) => false,
        }
    }

    async fn renew_once(&self) -> Result<Versioned<Task>> {
        let mut next = self.current.value.clone();
        next.lease.expires_at = Some(time_add(now(), self.cfg.lease));
        self.store
            .replace_task(&self.current, &next, &[], vec![])
            .await
    }

    /// Re-reads the task after a write was refused as stale: true when this
    /// agent still holds the same review (a person's approval was tallied
    /// meanwhile), and the fresh version is the one to write over.
    async fn refresh(&mut self) -> bool {
        let held = &self.current.value;
        match self.store.find_task(&held.task_id).await {
            Ok(Some(fresh))
                if fresh.value.status == Status::Reviewing
                    && fresh.value.lease.owner == held.lease.owner
                    && fresh.value.lease.epoch == held.lease.epoch
                    && fresh.value.review.claim == held.review.claim =>
            {
                self.current = fresh;
                true
            }
            _ => false,
        }
    }

    /// Gives the review back unfinished (the agent is stopping).
    async fn give_back(&self) {
        let mut next = self.current.value.clone();
        next.lease.owner = None;
        next.lease.expires_at = None;
        next.review.claim = None;
        match self
            .store
            .replace_task(&self.current, &next, &[], vec![])
            .await
        {
            Ok(_) => tracing::info!(task = %self.id(), kind = %self.kind, "gave a review back"),
            Err(e) => {
                tracing::warn!(task = %self.id(), error = %e, "could not give a review back; its lease will expire")
            }
        }
    }
}

/// A refusal that may only mean the task changed since it was read.
fn stale(e: &Error) -> bool {
    e.is_conflict() || matches!(e, Error::PermissionDenied(_))
}

/// Takes in one line of a review command's output.
fn hear(ev: HandlerEvent, said: &mut Said, tail: &mut Vec<String>) {
    let line = match ev {
        HandlerEvent::Report(Report::Verdict(v)) => return said.verdict = Some(v),
        HandlerEvent::Report(Report::Scores(s)) => return said.scores = s,
        HandlerEvent::Report(Report::Comment(c)) => return said.comments.push(c),
        HandlerEvent::Report(Report::Log(l)) | HandlerEvent::Stderr(l) => l,
        HandlerEvent::Report(Report::Invalid { line, reason }) => format!("{line} ({reason})"),
        // Progress and results mean nothing in a review; kept as output.
        HandlerEvent::Report(other) => format!("{other:?}"),
    };
    // Only the tail is ever used (`conclude`); keep it bounded.
    if tail.len() >= 4 * crate::review::agent::TAIL_LINES {
        tail.drain(..2 * crate::review::agent::TAIL_LINES);
    }
    tail.push(line);
}

fn describe(r: &Reviewed) -> String {
    match r {
        Reviewed::Pending { missing } => {
            format!("verdict recorded; waiting for {}", missing.join(", "))
        }
        Reviewed::Completed { quality_score } => {
            format!("review passed (quality {quality_score:?})")
        }
        Reviewed::Rework { round, .. } => format!("rejected: back to the queue for round {round}"),
        Reviewed::Failed { reason } => format!("rejected in the last round: {reason}"),
    }
}
