//! The sweeper's look for tasks left waiting: the owner of lane 0, when it
//! sweeps with a free slot and the queue is not empty, reads the best
//! claimable tasks of the whole queue, whichever lane, and claims those
//! that have waited there longer than [`STALE_AFTER`].
//!
//! Why: a task reaches only its lane's owner (`crate::lanes`). An owner
//! that is up but does not claim (its loop wedged while its heartbeat
//! still beats, or a view of the queue that missed the task) would leave
//! its lanes waiting for ever while other agents idle: `vayu bench` saw
//! 64 of 500 tasks left queued for a minute, the whole fleet idle
//! (docs/bench.md, "The dependency mark, again"). This bounds such a wait
//! by the sweep's gap plus [`STALE_AFTER`], whatever its cause. It is
//! also work stealing in the sense: the best waiting task goes to
//! an agent with a free slot, whichever lane it is in.
//!
//! Cost: one query of at most the free slots' documents per sweep, and
//! only when the sweep's count found queued documents: an idle fleet with
//! an empty queue reads nothing more.

use super::*;
use state::Candidate;

/// How long a claimable task may wait in the queue before the sweeper
/// claims it, whichever lane it is in: long enough that its lane's owner,
/// busy or paging through a backlog, has had its chance.
pub(super) const STALE_AFTER: Duration = Duration::from_secs(10);

/// The best claimable tasks of the whole queue (the fleet-wide priority
/// view, one query of at most `limit` documents) that have waited there
/// longer than [`STALE_AFTER`]. A failed read finds nothing: the next
/// sweep looks again.
pub(super) async fn left_waiting(store: &Store, limit: usize) -> Vec<Versioned<Task>> {
    let all: Vec<i64> = (0..lanes::LANES).collect();
    let parent = store.name(&Pile::Queued.parent());
    let limit = i32::try_from(limit).unwrap_or(i32::MAX);
    let spec = queue::queue_window(parent, QueueView::Priority, &all, limit);
    let docs = match store.run_spec(&spec).await {
        Ok(docs) => docs,
        Err(e) => {
            tracing::warn!(error = %e, "could not look for tasks left waiting");
            return Vec::new();
        }
    };
    // Measured from the document's last write (the server's clock) by
    // ours: a skew of a second or two only moves the bound.
    (docs.iter())
        .filter_map(|d| Store::decode_versioned(d, Pile::Queued).ok())
        .filter(|v| state::age(&v.update_time).is_some_and(|a| a > STALE_AFTER))
        .collect()
}

impl Agent {
    /// The sweep ended: what it found left waiting becomes this agent's
    /// to claim now, past any lane's grace.
    pub(super) fn on_swept(
        &mut self,
        joined: std::result::Result<Vec<Versioned<Task>>, tokio::task::JoinError>,
    ) {
        let Ok(found) = joined else { return };
        let now = Instant::now();
        for seen in found {
            let id = seen.value.task_id.clone();
            if self.running.contains_key(&id)
                || self.claiming_ids.contains(&id)
                || self.queue.parked.contains_key(&id)
            {
                continue;
            }
            tracing::info!(task = %id, lane = seen.value.lane, "a task left waiting in its lane: claiming it here");
            let cand = Candidate {
                seen,
                ours_from: Some(now),
            };
            self.queue.candidates.insert(id, cand);
        }
    }
}
