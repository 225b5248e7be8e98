//! How a run ends: success, failure (retry or dead letter), release, or
//! a person's control request obeyed.

use super::*;

impl Runner {
    /// Ends the run with one final write; maps refusals to outcomes.
    ///
    /// Through an outage it keeps trying (capped, jittered backoff): this
    /// runner still holds the epoch, so once Firestore answers, either the
    /// write lands or it is refused because another agent took over. Giving
    /// up early would leave the task in the active pile under a live agent
    /// that nobody would take it from. Only a shutdown stops the retries;
    /// then the expired lease hands the task to a peer or to this agent's
    /// next start.
    pub(super) async fn finish(
        &mut self,
        next: Task,
        path: &[Status],
        outcome: Outcome,
    ) -> Outcome {
        let backoff = crate::retry::Backoff {
            base: std::time::Duration::from_millis(200),
            cap: std::time::Duration::from_secs(5),
        };
        let mut failures = 0u32;
        loop {
            match self.write(next.clone(), path).await {
                Ok(()) => {
                    self.learn(&next, outcome);
                    return outcome;
                }
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

    /// Tells the agent's history how the run whose end was just recorded
    /// went (`crate::history`): a success with its duration, a retried or
    /// a final failure. Best effort and not awaited: the end is what
    /// matters, and a lost sample only makes an average a little older.
    /// Releases, cancels and pauses say nothing about the agent's skill.
    fn learn(&self, ended: &Task, outcome: Outcome) {
        use crate::assign::history::Sample;
        let sample = match outcome {
            Outcome::Completed | Outcome::Reviewing => Sample::Succeeded {
                minutes: ended.metadata.actual_duration.unwrap_or(f64::NAN),
                // Review scores reach the history from the reviewer that
                // passes the task (`crate::history::fold_quality`); a score
                // on the task at this point is a rejected round's.
                quality: None,
            },
            Outcome::Retrying => Sample::Retried,
            Outcome::Failed => Sample::Failed,
            _ => return,
        };
        self.learner.learn_later(ended.task_type, sample);
    }

    pub(super) async fn finish_success(&mut self) -> Outcome {
        match self.name_members().await {
            Ok(()) => {}
            Err(Refused::Fenced) => return self.fenced("the lease was taken over"),
            Err(Refused::Control(c)) => return Box::pin(self.obey(c)).await,
            Err(Refused::Unavailable(e)) => {
                self.log(format!("[vayu] the team's members were not named: {e}"));
            }
        }
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
        // A policy that asks for review: the task waits in review, held by
        // nobody (a person may take days), and the verdicts decide.
        if !crate::review::policy_of(&next).is_none() {
            next.status = Status::Reviewing;
            next.lease.owner = None;
            next.review.status = Some(crate::model::ReviewStatus::Pending);
            next.record(Status::Reviewing, t_now, Some(&self.cfg.agent_id), None);
            return self
                .finish(next, &[Status::Reviewing], Outcome::Reviewing)
                .await;
        }
        next.record(Status::Completed, t_now, Some(&self.cfg.agent_id), None);
        self.finish(next, &[Status::Completed], Outcome::Completed)
            .await
    }

    pub(super) async fn finish_failure(&mut self, error: String) -> Outcome {
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

    pub(super) async fn finish_release(&mut self, why: &str) -> Outcome {
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

    /// Carries out a person's cancel, pause or migrate.
    pub(super) async fn obey(&mut self, control: ControlRequest) -> Outcome {
        // Pick up the person's version (with the control field) first.
        if let Ok(Some(fresh)) = self.store.find_task(&self.current.value.task_id).await {
            let execution = self.current.value.execution.clone();
            self.set_current(fresh);
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
            // The push to the new agent is on the task already (the
            // person's request set it); the checkpoints go with it.
            ControlRequest::Migrate => {
                next.assignment.primary_agent = None;
                (Status::Queued, Outcome::Migrated)
            }
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
