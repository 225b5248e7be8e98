//! Taking over the work of agents that died, with no leader.
//!
//! Every agent watches the beats of the next two agents in the ring of
//! registered agents (`presence.rs`). A watched peer that has not beaten
//! for longer than a lease plus a heartbeat has stopped: it was killed,
//! its machine died, or it is cut off. Its watchers (either, or both):
//! 1. mark the peer's registration `offline`, conditional on the version
//!    they saw ([`confirm_offline`]), which the rules allow only when its
//!    last beat is old: a peer that beat since is alive after all (our
//!    listener lagged), and keeps its tasks;
//! 2. finds the peer's tasks in the active pile and moves each one whose
//!    lease has expired back to the queue, raising the epoch (which fences
//!    the old holder) and `retry_count` (a task that kills its agents over
//!    and over ends in the dead letter like any failing task), with the
//!    `failed` or `dead` alert event in the same commit (`crate::notify`).
//!
//! The move is a compare-and-set like a claim, so when several agents
//! notice the same death, exactly one moves each task.
//!
//! At startup an agent also requeues tasks the active pile still lists
//! under its own id (left by its previous incarnation: a fresh process
//! holds nothing), and once it has seen Firestore clearly for a window
//! ([`Sight`]), any task whose lease has already expired (in case every
//! agent was down at once).

use super::health::Sight;
use crate::error::{Error, Result};
use crate::layout::Pile;
use crate::lifecycle::Status;
use crate::model::{ControlRequest, Lease, Task, millis_between, now};
use crate::store::{self, Store, Versioned};
use firestore::gcloud_sdk::google::firestore::v1::structured_query::field_filter::Operator;

/// Gives back a task this agent claimed but never started (its claim was
/// answered too late to trust the lease): back to the queue under the same
/// epoch, as the holder's release, so the retries it has left are not
/// spent on a slow answer. `Ok(false)` when the task changed since.
pub async fn release_unrun(
    store: &Store,
    seen: &Versioned<Task>,
    by: &str,
    reason: &str,
) -> Result<bool> {
    let t = &seen.value;
    if seen.pile != Pile::Active || t.lease.owner.as_deref() != Some(by) {
        return Ok(false);
    }
    let mut next = t.clone();
    next.status = Status::Queued;
    next.lease = Lease {
        owner: None,
        expires_at: None,
        epoch: t.lease.epoch,
    };
    next.assignment.primary_agent = None;
    next.not_before = None;
    next.record(
        Status::Queued,
        now(),
        Some(by),
        Some(format!("{reason}; released unrun")),
    );
    requeued(store, seen, &next, &[Status::Queued], reason).await
}

/// Moves one leased task back to the queue (or to the dead letter when its
/// retries are spent). `Ok(false)` when someone else got there first or the
/// task changed.
pub async fn requeue(
    store: &Store,
    seen: &Versioned<Task>,
    by: &str,
    reason: &str,
) -> Result<bool> {
    let t = &seen.value;
    if seen.pile != Pile::Active || !matches!(t.status, Status::Assigned | Status::Executing) {
        return Ok(false);
    }
    let t_now = now();
    let mut next = t.clone();
    next.lease = Lease {
        owner: None,
        expires_at: None,
        epoch: t.lease.epoch + 1,
    };
    next.metadata.retry_count += 1;
    next.assignment.primary_agent = None;
    next.control = None;
    // A pending cancel, pause or migrate survives the takeover
    // (firestore.rules `takeoverObeys`): the task ends cancelled, paused,
    // or queued for the migration's agent, and the lost attempt is no
    // failure.
    if let Some(c) = t.control {
        let to = match c {
            ControlRequest::Cancel => Status::Cancelled,
            ControlRequest::Pause => Status::Paused,
            // Queued for the agent the request pushed it to.
            ControlRequest::Migrate => Status::Queued,
        };
        // Not a failed attempt: the retries stay as they were.
        next.metadata.retry_count = t.metadata.retry_count;
        next.status = to;
        next.not_before = None;
        if to == Status::Cancelled {
            next.execution.finished_at = Some(t_now);
        }
        next.record(
            to,
            t_now,
            Some(by),
            Some(format!("{reason}; {c:?} obeyed by {by}")),
        );
        return requeued(store, seen, &next, &[to], reason).await;
    }
    let error = format!(
        "{reason} (held by {}, epoch {})",
        t.lease.owner.as_deref().unwrap_or("nobody"),
        t.lease.epoch
    );
    next.execution.last_error = Some(error.clone());
    next.record(Status::Failed, t_now, Some(by), Some(error));
    let path: &[Status] = if next.metadata.retry_count <= next.metadata.max_retries {
        next.status = Status::Queued;
        next.not_before = None;
        next.record(
            Status::Queued,
            t_now,
            Some(by),
            Some(format!("requeued by {by}")),
        );
        &[Status::Queued]
    } else {
        next.status = Status::Failed;
        next.execution.finished_at = Some(t_now);
        &[Status::Failed]
    };
    let kind = match next.status {
        Status::Failed => crate::notify::Kind::Dead,
        _ => crate::notify::Kind::Failed,
    };
    let event = Some(crate::notify::Event::of_task(kind, &next));
    requeued_noting(store, seen, &next, path, reason, event).await
}

/// [`replace_or_lost`], then the permits the task held are given back:
/// it is no longer held under the epoch that took them.
async fn requeued(
    store: &Store,
    seen: &Versioned<Task>,
    next: &Task,
    path: &[Status],
    reason: &str,
) -> Result<bool> {
    requeued_noting(store, seen, next, path, reason, None).await
}

/// [`requeued`] with a failure's alert event in the same commit.
async fn requeued_noting(
    store: &Store,
    seen: &Versioned<Task>,
    next: &Task,
    path: &[Status],
    reason: &str,
    event: Option<crate::notify::Event>,
) -> Result<bool> {
    let moved = replace_or_lost(store, seen, next, path, reason, event).await?;
    if moved {
        crate::resources::release_for(store, &seen.value).await;
    }
    Ok(moved)
}

/// Writes a takeover; `Ok(false)` when another agent got there first.
async fn replace_or_lost(
    store: &Store,
    seen: &Versioned<Task>,
    next: &Task,
    path: &[Status],
    reason: &str,
    event: Option<crate::notify::Event>,
) -> Result<bool> {
    let t = &seen.value;
    match (store.replace_task_noting(seen, next, path, vec![], event.as_ref())).await {
        Ok(_) => {
            tracing::info!(task = %t.task_id, from = ?t.lease.owner, epoch = next.lease.epoch, status = %next.status, "took over a task: {reason}");
            Ok(true)
        }
        // Under firestore.rules a lost race is refused before its
        // precondition is checked, as PermissionDenied.
        Err(e)
            if e.is_conflict()
                || matches!(
                    e,
                    crate::Error::NotFound(_) | crate::Error::PermissionDenied(_)
                ) =>
        {
            Ok(false)
        }
        Err(e) => Err(e),
    }
}

/// Active tasks held by `owner`.
pub async fn held_by(store: &Store, owner: &str) -> Result<Vec<Versioned<Task>>> {
    let filter = store::field_eq("lease.owner", store::string_value(owner));
    let docs = store
        .run_query(
            &Pile::Active.parent(),
            Pile::Active.collection_id(),
            Some(filter),
            vec![],
            None,
        )
        .await?;
    Ok(docs
        .iter()
        .filter_map(|d| Store::decode_versioned(d, Pile::Active).ok())
        .collect())
}

/// Active tasks whose lease expired before now.
pub async fn expired(store: &Store) -> Result<Vec<Versioned<Task>>> {
    let filter = store::field_op(
        "lease.expires_at",
        Operator::LessThan,
        timestamp_value(now()),
    );
    let docs = store
        .run_query(
            &Pile::Active.parent(),
            Pile::Active.collection_id(),
            Some(filter),
            vec![],
            Some(500),
        )
        .await?;
    Ok(docs
        .iter()
        .filter_map(|d| Store::decode_versioned(d, Pile::Active).ok())
        .collect())
}

fn timestamp_value(t: crate::model::Time) -> firestore::gcloud_sdk::google::firestore::v1::Value {
    use firestore::gcloud_sdk::google::firestore::v1 as pb;
    pb::Value {
        value_type: Some(pb::value::ValueType::TimestampValue(crate::store::pb_time(
            t,
        ))),
    }
}

/// The lane-0 sweep's safety net for leases: requeues every task whose
/// lease ran out. A dead holder's tasks are taken over when its peers see
/// it go quiet ([`take_over`]); this finds the rest: a live agent's claim
/// that it could not give back (its answer came late and the give-back was
/// aborted), a holder that lost its last write. Nobody else looks at
/// those while their agent lives.
///
/// Also run once at startup, as soon as this agent sees clearly, in case
/// every agent was down at once.
pub(super) async fn sweep_expired(
    store: &Store,
    me: &str,
    sight: &Sight,
    reason: &str,
) -> Result<Pass> {
    let mut n = 0;
    let asked = std::time::Instant::now();
    let found = expired(store).await?;
    if !sight.quick(asked.elapsed()) {
        return Ok(Pass::Blinded(0));
    }
    for v in found {
        if !sight.clear() {
            return Ok(Pass::Blinded(n));
        }
        n += requeue(store, &v, me, reason).await? as usize;
    }
    Ok(Pass::Done(n))
}

/// How a pass over other agents' expired leases ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Pass {
    /// Every expired lease it found was requeued (this many by us).
    Done(usize),
    /// This agent lost sight of Firestore partway (see [`Sight`]) and
    /// stopped after requeuing this many; the rest wait for a clear look.
    Blinded(usize),
}

/// Startup: requeue what this agent's previous incarnation left. (A fresh
/// process holds nothing, so these need no clear sight; other agents'
/// expired leases do, and wait for [`sweep_expired`].)
pub async fn at_startup(store: &Store, me: &str) -> Result<usize> {
    let mut n = 0;
    for v in held_by(store, me).await? {
        n += requeue(store, &v, me, "its agent restarted").await? as usize;
    }
    Ok(n)
}

/// Marks a quiet peer offline, conditional on the document we last saw,
/// and says whether it is offline now. A peer that wrote since (our
/// listener lagged, or it came back from an outage first) is not: its
/// leases are its own to renew, and taking its tasks would run them twice.
/// Marked by another agent first counts as offline.
pub async fn confirm_offline(
    store: &Store,
    peer_id: &str,
    seen: &firestore::gcloud_sdk::google::firestore::v1::Document,
    beat: Option<crate::model::Time>,
) -> Result<bool> {
    match store.mark_agent_offline(seen, beat).await {
        Ok(()) => {
            tracing::info!(peer = %peer_id, "a peer stopped heartbeating; marked it offline");
            Ok(true)
        }
        Err(e) if e.is_conflict() => Ok(store
            .get_agent(peer_id)
            .await?
            .is_some_and(|a| a.status == Some(crate::model::AgentState::Offline))),
        // The rules judge the silence by the peer's presence, which may
        // show a beat this agent has not seen (it watched the peer only
        // since a moment ago): alive after all.
        Err(Error::PermissionDenied(why)) => match store.get_presence(peer_id).await? {
            Some(p) if p.beat_at > beat => Ok(false),
            _ => Err(Error::PermissionDenied(why)),
        },
        Err(e) => Err(e),
    }
}

/// A peer stopped heartbeating: requeue its tasks as their leases expire.
/// Waits for unexpired leases (bounded by `max_wait`), since the peer may
/// only be slow and still renewing.
///
/// Every requeue asks [`Sight`] first, and a pass whose query was slow
/// stops (it may describe the moment before a freeze). The wait may outlast the peer's
/// death: a peer restarted under the same id holds new tasks by the same
/// name, and if Firestore freezes meanwhile their leases run out with
/// nobody to blame. (The chaos run caught exactly this: a query sent
/// before a freeze came back after it, and the restarted peer's finished
/// task was requeued and run again.)
pub(super) async fn take_over(
    store: &Store,
    me: &str,
    peer: &str,
    max_wait: std::time::Duration,
    sight: &Sight,
) -> Result<Pass> {
    let deadline = tokio::time::Instant::now() + max_wait;
    let mut n = 0;
    loop {
        let asked = std::time::Instant::now();
        let held = held_by(store, peer).await?;
        if held.is_empty() {
            return Ok(Pass::Done(n));
        }
        if !sight.quick(asked.elapsed()) {
            return Ok(Pass::Blinded(n));
        }
        let t_now = now();
        let mut next_expiry: Option<i64> = None;
        for v in &held {
            let left = v
                .value
                .lease
                .expires_at
                .map(|e| millis_between(t_now, e))
                .unwrap_or(0);
            if left <= 0 {
                if !sight.clear() {
                    return Ok(Pass::Blinded(n));
                }
                n += requeue(
                    store,
                    v,
                    me,
                    &format!("its agent {peer} stopped heartbeating and the lease expired"),
                )
                .await? as usize;
            } else {
                next_expiry = Some(next_expiry.map_or(left, |m: i64| m.min(left)));
            }
        }
        match next_expiry {
            Some(ms)
                if tokio::time::Instant::now() + std::time::Duration::from_millis(ms as u64)
                    < deadline =>
            {
                tokio::time::sleep(std::time::Duration::from_millis(ms as u64 + 50)).await;
            }
            _ => return Ok(Pass::Done(n)),
        }
    }
}
