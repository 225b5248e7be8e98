//! The claim: one conditional commit that moves a queued task to the
//! active pile under this agent's lease, and what to do when its answer
//! is lost.

use super::*;

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
    store
        .replace_task(seen, &t, &[Status::Assigned, Status::Executing], vec![])
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
pub(super) async fn settle_unknown_claim(store: Store, me: String, task_id: String, epoch: i64) {
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
