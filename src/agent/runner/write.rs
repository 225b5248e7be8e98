//! The runner's writes: every one conditional on the version it last
//! wrote, with the pending log lines in the same commit, and a failure's
//! alert event (`crate::notify`) in the commit that records it.

use super::*;
use crate::logs::LogDoc;

impl Runner {
    /// The log documents for the pending lines, at most 500 lines or about
    /// 256 KiB each.
    pub(super) fn log_writes(&mut self) -> Result<Vec<pb::Write>> {
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
                    expire_at: self.cfg.log_retention.map(|keep| time_add(now(), keep)),
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
    pub(super) async fn renew(&mut self) -> std::result::Result<(), Refused> {
        let mut next = self.current.value.clone();
        next.lease.expires_at = Some(time_add(now(), self.cfg.lease));
        self.write(next, &[]).await
    }

    /// The in-place write ahead of a move (see [`Self::write`]): the
    /// execution's new tails and the pending log lines, the lease renewed.
    /// Best effort: refused (a person's edit got in between, the lease ran
    /// out in an outage), the move carries them and goes through its own
    /// reconciling, as it did before.
    async fn flush_tails(&mut self, execution: &crate::model::Execution) {
        let (saved, seq) = (self.pending_logs.clone(), self.log_seq);
        let mut flush = self.current.value.clone();
        flush.execution = execution.clone();
        flush.lease.expires_at = Some(time_add(now(), self.cfg.lease));
        let logs = match self.log_writes() {
            Ok(w) => w,
            Err(_) => return,
        };
        match self
            .store
            .replace_task(&self.current, &flush, &[], logs)
            .await
        {
            Ok(v) => self.set_current(v),
            Err(e) => {
                tracing::debug!(task = %self.id(), error = %e, "the tails ahead of the end were refused; the end carries them");
                (self.pending_logs, self.log_seq) = (saved, seq);
            }
        }
    }

    /// Writes `next` (after `path` steps), reconciling once if a person's
    /// edit got in between.
    pub(super) async fn write(
        &mut self,
        mut next: Task,
        path: &[Status],
    ) -> std::result::Result<(), Refused> {
        // A move (any change of status: out of the active pile, or into
        // review within it) changes none of the execution's tails: what
        // the handler reported since the last heartbeat (log lines,
        // checkpoints, artifacts) is written in place first, as a
        // heartbeat. With the checks of those tails and of the log lines, a
        // move went over the 1,000 expressions a commit may evaluate: a
        // dead letter, or a completion whose handler printed its lines at
        // the end, was refused for ever (tests/rules_budget.rs), and so was
        // the hand-in for review (tests/workflows_flow.rs). A handler that
        // reported nothing since costs no extra write.
        let moving = next.status != self.current.value.status;
        let was = &self.stored;
        let tails_changed = next.execution.logs != was.logs
            || next.execution.checkpoints != was.checkpoints
            || next.execution.artifacts != was.artifacts
            || !self.pending_logs.is_empty();
        if moving && tails_changed {
            self.flush_tails(&next.execution).await;
        }
        let saved_logs = self.pending_logs.clone();
        let saved_seq = self.log_seq;
        for _ in 0..3 {
            let extra = match moving {
                true => Vec::new(),
                false => self.log_writes().map_err(Refused::Unavailable)?,
            };
            // A failure's alert commits with it (`crate::notify`), made
            // from `next` as this try writes it: a lease taken back below
            // changes its epoch.
            let event = match moving {
                true => crate::notify::Event::of_end(path, &next),
                false => None,
            };
            match self
                .store
                .replace_task_noting(&self.current, &next, path, extra, event.as_ref())
                .await
            {
                Ok(v) => {
                    self.set_current(v);
                    return Ok(());
                }
                // Under firestore.rules a fenced write is refused before its
                // precondition is checked: PermissionDenied means "re-read" too.
                Err(e)
                    if e.is_conflict()
                        || matches!(e, Error::NotFound(_) | Error::PermissionDenied(_)) =>
                {
                    tracing::debug!(task = %next.task_id, error = %e, "a write was refused; re-reading");
                    self.pending_logs = saved_logs.clone();
                    self.log_seq = saved_seq;
                    let fresh = match self.store.find_task(&next.task_id).await {
                        Ok(Some(f)) => f,
                        Ok(None) => return Err(Refused::Fenced),
                        Err(e) => return Err(Refused::Unavailable(e)),
                    };
                    // Our move landed but its answer was lost (a timeout, a
                    // cut connection), so this try was refused: it is done.
                    // Called fenced, the end would release no dependents
                    // and teach the history nothing (CI: a team's parent
                    // stayed blocked after its last part completed).
                    if moving && landed(&fresh, &next) {
                        tracing::info!(task = %next.task_id, status = %next.status, "the end was recorded, though its answer was lost");
                        self.set_current(fresh);
                        return Ok(());
                    }
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
                    // The hand-in for review sets the review pending; a
                    // reconciled hand-in without it is refused (isToReview).
                    if matches!(path.last(), Some(Status::Reviewing)) {
                        merged.review = next.review.clone();
                    }
                    if matches!(path.last(), Some(Status::Completed)) {
                        merged.control = None;
                    }
                    next = merged;
                    self.set_current(fresh);
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

    pub(super) fn fenced(&self, why: &str) -> Outcome {
        tracing::warn!(task = %self.id(), epoch = self.epoch, "{why}; this agent's result is discarded");
        Outcome::Fenced
    }
}

/// Whether `fresh` is the very move `next` whose answer was lost: in the
/// pile of its status, under the same lease epoch, and ending with its
/// history entry, stamped when this agent made it, which no other writer
/// makes.
fn landed(fresh: &crate::store::Versioned<Task>, next: &Task) -> bool {
    fresh.pile == layout::Pile::of(next.status)
        && fresh.value.status == next.status
        && fresh.value.lease.epoch == next.lease.epoch
        && fresh.value.history.last().is_some()
        && fresh.value.history.last() == next.history.last()
}
