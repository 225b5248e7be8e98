//! The claim: one conditional commit that moves a queued task to the
//! active pile under this agent's lease, and what to do when its answer
//! is lost.

use super::*;
use crate::breaker::Change;
use state::{Candidate, ClaimAnswer};

/// The claim: one commit that deletes the queued document (only if it is
/// still the version we saw) and creates the active one (only if absent).
/// Exactly one of any number of racing agents succeeds; the others get a
/// precondition failure in one round trip.
///
/// Lanes make races rare (a lane has one owner), but they happen while
/// agents' views of the peer set differ, and past 15 agents. Public so that
/// `tests/contention.rs` can race it.
pub async fn claim(
    store: &Store,
    cfg: &AgentConfig,
    seen: &Versioned<Task>,
) -> Result<Versioned<Task>> {
    let t_now = now();
    let mut t = seen.value.clone();
    t.lease = Lease {
        owner: Some(cfg.agent_id.clone()),
        expires_at: Some(time_add(t_now, cfg.lease)),
        epoch: seen.value.lease.epoch + 1,
    };
    t.assignment.primary_agent = Some(cfg.agent_id.clone());
    t.assignment.add_executor(&cfg.agent_id);
    t.assignment.assigned_at = Some(t_now);
    t.assignment.assignment_method = Some(AssignmentMethod::Claimed);
    t.execution.started_at = Some(t_now);
    t.execution.finished_at = None;
    t.execution.attempt = seen.value.metadata.retry_count + 1;
    t.not_before = None;
    t.status = Status::Executing;
    let me = Some(cfg.agent_id.as_str());
    t.record(Status::Assigned, t_now, me, None);
    t.record(Status::Executing, t_now, me, None);
    // The permits are taken in the claim's commit: the rules refuse the
    // claim of a task that needs a resource without them, and refuse
    // them beyond capacity.
    let permits = match &t.resource {
        Some(need) => vec![crate::resources::acquire_write(
            store,
            need,
            &t.task_id,
            &cfg.agent_id,
            t.lease.epoch,
        )?],
        None => vec![],
    };
    store
        .replace_task(seen, &t, &[Status::Assigned, Status::Executing], permits)
        .await
}

/// Capped, jittered backoff for the writes an agent must make to start:
/// about a minute in all before it gives up.
pub(super) fn startup_backoff() -> backon::ExponentialBuilder {
    backon::ExponentialBuilder::default()
        .with_min_delay(Duration::from_millis(100))
        .with_max_delay(Duration::from_secs(5))
        .with_max_times(12)
        .with_jitter()
}

/// After a claim whose outcome is unknown: if it did land, requeue the
/// task (this agent is not running it). Retries until Firestore answers,
/// bounded so a long outage ends in the lease expiring instead.
async fn settle_unknown_claim(store: Store, me: String, task_id: String, epoch: i64) {
    for attempt in 0..20u32 {
        match store.find_task(&task_id).await {
            Ok(Some(v))
                if v.pile == Pile::Active
                    && v.value.lease.epoch == epoch
                    && v.value.lease.owner.as_deref() == Some(me.as_str()) =>
            {
                match recovery::requeue(&store, &v, &me, "its claim's answer was lost").await {
                    Ok(_) => return,
                    Err(e) => {
                        tracing::warn!(task = %task_id, error = %e, "could not requeue after an unknown claim")
                    }
                }
            }
            Ok(_) => return,
            Err(e) => {
                tracing::debug!(task = %task_id, error = %e, attempt, "checking an unknown claim")
            }
        }
        tokio::time::sleep(Duration::from_millis(250) * (attempt + 1).min(8)).await;
    }
}

/// The circuit breaker for claims: after Firestore fails to answer, wait
/// (capped, jittered) before trying again instead of spinning.
pub(super) struct Breaker {
    backoff: Backoff,
    failures: u32,
    pub(super) paused_until: Option<Instant>,
}

impl Breaker {
    pub(super) fn new() -> Breaker {
        Breaker {
            backoff: Backoff {
                base: Duration::from_millis(200),
                cap: Duration::from_secs(10),
            },
            failures: 0,
            paused_until: None,
        }
    }

    fn is_open(&self) -> bool {
        self.paused_until.is_some_and(|t| Instant::now() < t)
    }

    fn trip(&mut self) -> Duration {
        self.failures += 1;
        let wait = self.backoff.delay(self.failures, rand::random());
        self.paused_until = Some(Instant::now() + wait);
        wait
    }

    pub(super) fn reopen_if_due(&mut self) {
        if self.paused_until.is_some_and(|t| Instant::now() >= t) {
            self.paused_until = None;
        }
    }
}

impl Agent {
    /// The run of `id` (type `ty`) ended: the type's breaker counts its
    /// handler's failures (not a cancel, a release or a lost lease).
    pub(super) fn breaker_hears(&mut self, ty: TaskType, id: &str, outcome: Outcome) {
        use crate::breaker::Verdict;
        let verdict = match outcome {
            Outcome::Retrying | Outcome::Failed | Outcome::Panicked => Verdict::Failed,
            Outcome::Completed | Outcome::Reviewing => Verdict::Succeeded,
            _ => Verdict::Neither,
        };
        let at = std::time::Instant::now();
        match (self.breakers).on_outcome(ty, id, verdict, at, rand::random()) {
            Some(Change::Opened { for_ }) => tracing::warn!(
                task_type = %ty, wait = ?for_,
                "the handler keeps failing: stopped claiming this type (circuit breaker open)"
            ),
            Some(Change::Closed) => {
                tracing::info!(task_type = %ty, "the handler works again: claiming this type (circuit breaker closed)")
            }
            None => {}
        }
    }

    /// Claims while there are free slots and claimable work. Claims run
    /// side by side (one per free slot), not one after another: each is a
    /// round trip, and a queue backlog should fill every slot at once.
    pub(super) fn claim_free_slots(&mut self) {
        if self.claims.is_open() || self.queue.page_stale() {
            return;
        }
        let t_now = now();
        while self.free_slots() > 0 {
            let eligible = self.eligible(t_now);
            let picked = assign::pick(&self.cfg.agent_id, eligible, t_now, self.cfg.age_step);
            let Some(id) = picked.map(|t| t.task_id.clone()) else {
                break;
            };
            let cand =
                (self.queue.candidates.remove(&id)).expect("picked from the candidates just now");
            let at = std::time::Instant::now();
            (self.breakers).on_claim(cand.seen.value.task_type, &id, at);
            crate::metrics::OpCounters::add(&self.store.counters().claim_attempts, 1);
            self.claiming_ids.insert(id.clone());
            let (store, cfg) = (self.store.clone(), self.cfg.clone());
            let claiming = async move {
                let sent = Instant::now();
                let result = claim(&store, &cfg, &cand.seen).await;
                (id, cand, sent, result)
            };
            self.claiming
                .spawn(tracing::Instrument::in_current_span(claiming));
        }
    }

    pub(super) fn free_slots(&self) -> usize {
        (self.cfg.concurrency).saturating_sub(self.running.len() + self.claiming_ids.len())
    }

    /// The candidates this agent may claim at `t_now`: ours (or a peer's
    /// critical task past its grace), due, not reserved for another agent,
    /// and not already running or being claimed here.
    pub(super) fn eligible(&self, t_now: crate::model::Time) -> impl Iterator<Item = &Task> {
        let at = Instant::now();
        (self.queue.candidates.values())
            .filter(|c| c.ours_now())
            .map(|c| &c.seen.value)
            .filter(move |t| {
                self.offer.can_claim(t, t_now)
                    && !assign::push::reserved_for_other(t, &self.cfg.agent_id, t_now)
                    && !self.running.contains_key(&t.task_id)
                    && !self.claiming_ids.contains(&t.task_id)
                    && self.breakers.allows(t.task_type, at.into_std())
            })
    }

    /// A claim was answered: run the task, or learn why not.
    pub(super) fn on_claim_answer(
        &mut self,
        joined: std::result::Result<ClaimAnswer, tokio::task::JoinError>,
    ) {
        let Ok((id, cand, sent, result)) = joined else {
            tracing::error!("a claim panicked");
            return;
        };
        self.claiming_ids.remove(&id);
        let took = sent.elapsed();
        let ty = cand.seen.value.task_type;
        self.answer_claim(id.clone(), cand, took, result);
        if !self.running.contains_key(&id) {
            // Not run: a half-open breaker's probe was not spent.
            (self.breakers).on_claim_lost(ty, &id, std::time::Instant::now());
        }
    }

    fn answer_claim(
        &mut self,
        id: String,
        cand: Candidate,
        took: Duration,
        result: Result<Versioned<Task>>,
    ) {
        match result {
            // The lease was set to run from when the claim was sent. An
            // answer that comes this late (a stalled server) leaves too
            // little of it: a peer may take the task over while the
            // handler runs, and it would run twice. Give it back instead.
            Ok(claimed) if took >= self.cfg.lease / 2 => {
                self.report.claimed += 1;
                tracing::warn!(task = %id, ?took, "the claim's answer came too late to trust its lease; giving the task back");
                let (store, me) = (self.store.clone(), self.cfg.agent_id.clone());
                self.background.spawn(async move {
                    let why = "its claim's answer came too late to trust the lease";
                    if let Err(e) = recovery::release_unrun(&store, &claimed, &me, why).await {
                        tracing::warn!(task = %claimed.value.task_id, error = %e, "could not give back a late claim; its lease will expire");
                    }
                });
            }
            Ok(claimed) => {
                (self.queue.taken).insert(id.clone(), cand.seen.update_time);
                self.start_running(id, claimed)
            }
            // A task that needs a resource is refused while its permits
            // are taken; a claim the emulator aborted (a lock held by
            // another commit) changed nothing, so no listener event will
            // bring the task back. Both are tried again a heartbeat later,
            // unless the listener shows the task gone or changed by then
            // (a lost race: see `Queue::park`).
            Err(e)
                if e.is_conflict()
                    || (matches!(e, Error::PermissionDenied(_))
                        && cand.seen.value.resource.is_some()) =>
            {
                tracing::debug!(task = %id, error = %e, "claim lost, aborted or refused; looking again a heartbeat later");
                self.count_conflict(took);
                self.queue.park(id, cand, self.cfg.heartbeat, false);
            }
            // Under firestore.rules the loser of a race is refused before
            // its precondition is checked: PermissionDenied. Then the
            // listener shows the task gone or changed, which settles it.
            // A refusal it never explains is tried again later, less and
            // less often.
            Err(e) if matches!(e, Error::NotFound(_) | Error::PermissionDenied(_)) => {
                tracing::debug!(task = %id, error = %e, "claim lost or refused");
                self.count_conflict(took);
                self.queue.park(id, cand, Duration::ZERO, true);
            }
            Err(e) if e.is_transient() => {
                let wait = self.claims.trip();
                tracing::warn!(error = %e, ?wait, "Firestore unreachable; pausing claims");
                // The commit may have landed though we heard no answer.
                // Then the task sits in the active pile under our id, with
                // nobody running it, and no peer takes it from a live
                // agent. Find out, and give it back to the queue if so.
                let (store, me) = (self.store.clone(), self.cfg.agent_id.clone());
                let (epoch, task_id) = (cand.seen.value.lease.epoch + 1, id.clone());
                self.background
                    .spawn(settle_unknown_claim(store, me, task_id, epoch));
                self.queue.candidates.insert(id, cand);
            }
            Err(e) => {
                tracing::warn!(task = %id, error = %e, "claim refused; trying the task again later");
                self.queue.park(id, cand, Duration::ZERO, true);
            }
        }
    }

    fn count_conflict(&mut self, took: Duration) {
        self.report.claim_conflicts += 1;
        self.report.conflict_ms.push(took.as_secs_f64() * 1000.0);
    }

    fn start_running(&mut self, id: String, claimed: Versioned<Task>) {
        // A page fetched while the claim was in flight showed the task
        // still queued: that candidate is stale (`Queue::taken`).
        self.queue.candidates.remove(&id);
        self.claims.failures = 0;
        self.report.claimed += 1;
        if let (Some(c), Some(a)) = (claimed.value.created_at, claimed.value.updated_at) {
            let latency = crate::model::millis_between(c, a);
            self.report.claim_latencies_ms.push(latency);
            self.claim_latency.observe(latency.max(0) as f64 / 1000.0);
        }
        tracing::debug!(task = %id, epoch = claimed.value.lease.epoch, "claimed");
        self.running.insert(id.clone(), claimed.value.task_type);
        if claimed.value.resource.is_some() {
            self.holding.insert(id.clone(), claimed.value.clone());
        }
        let (store, cfg) = (self.store.clone(), self.cfg.clone());
        let release = self.release.subscribe();
        let r = runner::Runner::new(store.clone(), cfg, claimed, release, self.learner.clone());
        let me = self.cfg.agent_id.clone();
        self.runners.spawn(guard::run(store, me, id, r));
    }
}
