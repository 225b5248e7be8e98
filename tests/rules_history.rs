//! Issue 10: history is append-only and bounded. The holder may append
//! (one or two entries per write) but not rewrite, reorder or drop what
//! is there; past 50 entries the oldest slide out, and the moves that
//! append at that size still fit the rules' expression budget. New tasks
//! carry no history, and a queued document whose last entry is malformed
//! can be quarantined. Each denied case stands beside
//! an allowed one of the same shape.

mod common;
mod rules_support;

use rules_support::*;
use std::time::Duration;
use vayu::lifecycle::Status;
use vayu::model::{HistoryEntry, Task, now, time_add};

fn entry(status: Status, note: &str) -> HistoryEntry {
    HistoryEntry {
        status: Some(status),
        at: Some(now()),
        agent: Some("agent-1".into()),
        epoch: 1,
        note: Some(note.into()),
    }
}

/// The holder's heartbeat of `seen`: lease renewed, nothing else.
fn beat(seen: &Task) -> Task {
    let mut t = seen.clone();
    t.lease.expires_at = Some(time_add(now(), Duration::from_secs(30)));
    t
}

/// A running task of alice's, held by agent-1, with `n` history entries.
async fn running_with(w: &World, n: usize) -> vayu::store::Versioned<Task> {
    let mut t = claimed_by(&new_task("alice"), "agent-1", 1);
    t.lease.expires_at = Some(at(30));
    t.history = (0..n)
        .map(|i| entry(Status::Executing, &format!("step {i}")))
        .collect();
    w.seed(&t).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_holder_appends_to_the_history_and_rewrites_nothing() {
    let w = World::new("rules-history").await;
    let a1 = w.agent("agent-1").await;

    let held = running_with(&w, 3).await;
    let mut t = beat(&held.value);
    t.history[0].note = Some("it never failed".into());
    denied(
        "a heartbeat that rewrites an old entry",
        raw_replace(&a1, &held, &t, vec![]),
    )
    .await;
    let mut t = beat(&held.value);
    t.history.remove(0);
    denied(
        "a heartbeat that drops an entry",
        raw_replace(&a1, &held, &t, vec![]),
    )
    .await;
    let mut t = beat(&held.value);
    t.history.swap(0, 1);
    denied(
        "a heartbeat that reorders entries",
        raw_replace(&a1, &held, &t, vec![]),
    )
    .await;
    let mut t = beat(&held.value);
    for i in 0..3 {
        t.history
            .push(entry(Status::Executing, &format!("more {i}")));
    }
    denied(
        "a heartbeat that appends three entries",
        raw_replace(&a1, &held, &t, vec![]),
    )
    .await;
    let mut t = beat(&held.value);
    t.history.push(entry(Status::Executing, "checkpointed"));
    t.history.push(entry(Status::Executing, "and again"));
    allowed(
        "a heartbeat that appends two entries",
        raw_replace(&a1, &held, &t, vec![]),
    )
    .await;

    // At 50 the oldest slide out, whatever the move.
    let full = running_with(&w, 50).await;
    let mut t = beat(&full.value);
    t.status = Status::Queued;
    t.lease.owner = None;
    t.lease.expires_at = None;
    t.assignment.primary_agent = None;
    t.metadata.retry_count = 1;
    t.history.push(entry(Status::Failed, "boom"));
    t.history.push(entry(Status::Queued, "requeued"));
    t.history.drain(..2);
    let mut forged = t.clone();
    forged.history[0].note = Some("forged".into());
    denied(
        "a slide that rewrites the oldest kept entry",
        raw_replace(&a1, &full, &forged, vec![]),
    )
    .await;
    let requeued = allowed(
        "a failed attempt's requeue at 50 entries (two appended, two slid out)",
        a1.replace_task(&full, &t, &[Status::Failed, Status::Queued], vec![]),
    )
    .await;
    allowed(
        "a claim at 50 entries (two appended, two slid out)",
        claim(&a1, &requeued, "agent-1"),
    )
    .await;
    w.done("history append-only");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_tasks_start_with_no_history_and_a_bad_last_entry_can_be_quarantined() {
    let w = World::new("rules-history-new").await;
    let olga = w.human("olga").await;
    let mut t = new_task("olga");
    t.history.push(entry(Status::Queued, "created"));
    denied("a new task with a history entry", create(&olga, &t)).await;
    let t = new_task("olga");
    allowed("a new task with no history", create(&olga, &t)).await;

    let id = w
        .quarantined(serde_json::json!({"history": [{"status": "queued"}, 5]}))
        .await;
    assert!(
        w.record_exists(&id).await,
        "a bad last entry makes it quarantinable"
    );
    w.done("history on create and quarantine");
}

/// A create as `vayu task create` makes it: the task and the quota
/// window, in one commit.
async fn create(
    store: &vayu::store::Store,
    t: &Task,
) -> vayu::Result<firestore::gcloud_sdk::google::firestore::v1::CommitResponse> {
    let w = store.task_write(t, vayu::store::Precondition::Missing, true)?;
    store.commit(vec![w, pay(store, &t.task_id)]).await
}
