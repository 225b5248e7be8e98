//! Issue 10, class 5: documents typed past the rules (as admin, as in the
//! console) with extreme or oversized values. The agent survives every one:
//! what it cannot bound is quarantined, what it can is run with saturated
//! limits, no slot leaks, and it completes the next task.

mod common;

use common::fleet::{Fleet, fast_agent, get_raw, setup, shell, wait_completed};
use serde_json::json;
use std::time::{Duration, Instant};
use vayu::layout::{self, Pile};
use vayu::model::{Priority, Task, TaskType};
use vayu::store::{Precondition, Store};

/// Writes `t` as admin into the queued pile, past every check.
async fn put(store: &Store, t: &Task) {
    let w = store
        .task_write(t, Precondition::None, true)
        .expect("a task encodes");
    store.commit(vec![w]).await.expect("admin writes");
}

fn task(title: &str) -> Task {
    Task::new(TaskType::Research, Priority::Normal, title)
}

/// Waits until `quarantine/{id}` exists.
async fn wait_quarantined(store: &Store, id: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while get_raw(store, &layout::quarantine_doc(id)).await.is_none() {
        assert!(Instant::now() < deadline, "task {id} was never quarantined");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn extreme_values_neither_crash_an_agent_nor_leak_its_slot() {
    let (cfg, store) = setup("hardening-agent").await;
    let mut one = fast_agent("lone", shell("true"));
    // One slot: a runner that panicked or hung would starve every task after it.
    one.concurrency = 1;
    let fleet = Fleet::start(&cfg, vec![one]).await;

    let mut bad = Vec::new();
    let mut t = task("timeout i64::MAX");
    t.metadata.timeout_secs = Some(i64::MAX);
    bad.push(t);
    let mut t = task("estimate 1e300");
    t.metadata.estimated_duration = Some(1e300);
    bad.push(t);
    let mut t = task("twenty tags of 50,000 characters");
    t.metadata.tags = vec!["x".repeat(50_000); 20];
    bad.push(t);
    for t in &bad {
        put(&store, t).await;
    }
    // A wrong element type, which serde itself refuses.
    let typed = task("requires a number");
    let mut doc = serde_json::to_value(&typed).expect("a task serializes");
    doc["requires"] = json!([5]);
    let w = store
        .encode(&Pile::Queued.doc(&typed.task_id), &doc)
        .expect("encodes");
    let raw = firestore::gcloud_sdk::google::firestore::v1::Write {
        operation: Some(firestore::gcloud_sdk::google::firestore::v1::write::Operation::Update(w)),
        ..Default::default()
    };
    store.commit(vec![raw]).await.expect("admin writes");

    for t in bad.iter().chain([&typed]) {
        wait_quarantined(&store, &t.task_id).await;
    }
    // The largest bounded values run, with the timeout saturated at a week.
    let mut longest = task("the longest allowed timeout");
    longest.metadata.timeout_secs = Some(vayu::model::limits::TIMEOUT_SECS_MAX);
    put(&store, &longest).await;
    wait_completed(&store, &longest.task_id, Duration::from_secs(30)).await;
    let next = task("the next task");
    put(&store, &next).await;
    wait_completed(&store, &next.task_id, Duration::from_secs(30)).await;

    assert!(fleet.all_running(), "the agent is still running");
    let reports = fleet.stop().await;
    assert_eq!(
        reports[0].outcomes.get("panicked"),
        None,
        "no runner panicked"
    );
    assert_eq!(reports[0].outcomes.get("completed"), Some(&2));
}
