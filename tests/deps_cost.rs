//! What dependencies cost in Firestore operations (for docs/bench.md),
//! counted at the client (`vayu::metrics`), under the rules:
//! - a task end with no dependents (nothing: no dependent marked it, so
//!   its `waiters` document is not read), and an unblock (the release
//!   that queues a waiting task, which marked it);
//! - a 100-task DAG (10 levels of 10, each task after two of the level
//!   before), created and then run by two in-process agents.
//!
//! Each test checks what it measured happened (the dependent was queued,
//! every task completed after its dependencies), and prints the counts
//! (`cargo test --test deps_cost -- --nocapture`). Nothing is asserted
//! about time.

mod common;
mod rules_support;

use common::fleet::{fast_agent, shell, wait_task};
use rules_support::*;
use std::time::{Duration, Instant};
use vayu::agent;
use vayu::lifecycle::Status;
use vayu::metrics::OpSnapshot;
use vayu::model::{Priority, TaskType};
use vayu::store::Store;
use vayu::tasks::{self, NewTask};

fn diff(after: OpSnapshot, before: OpSnapshot) -> (u64, u64, u64, u64) {
    (
        after.polling_reads - before.polling_reads,
        after.listener_reads - before.listener_reads,
        after.commits - before.commits,
        after.writes - before.writes,
    )
}

async fn create(store: &Store, title: &str, after: Vec<String>) -> String {
    let mut new = NewTask::new(TaskType::Research, Priority::Normal, title);
    new.requester.id = "alice".into();
    new.after = after;
    allowed("alice creates a task", tasks::create(store, new))
        .await
        .task_id
}

/// Completes `id` as an agent's finish would leave it (as admin).
async fn complete(w: &World, id: &str) {
    let seen = w.read(id).await;
    let mut done = seen.value.clone();
    done.status = Status::Completed;
    done.execution.result = Some("ok".into());
    raw_replace(&w.admin, &seen, &done, vec![])
        .await
        .expect("admin completes it");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_an_unblock_costs() {
    let w = World::new("deps-cost-unblock").await;
    let alice = w.human("alice").await;
    let agent = w.agent("agent-1").await;
    let a = create(&alice, "a", vec![]).await;
    let before = alice.counters().snapshot();
    let b = create(&alice, "b after a", vec![a.clone()]).await;
    let made = diff(alice.counters().snapshot(), before);
    // The dependent marked its dependency; a task nobody waits for is
    // unmarked, and its end reads nothing (the agent skips the release).
    let marked = w.read(&a).await.value.dependencies.blocking;
    assert_eq!(marked, vec![b.clone()], "b marked a");
    assert!(w.read(&b).await.value.dependencies.blocking.is_empty());
    complete(&w, &a).await;

    let before = agent.counters().snapshot();
    let moved = vayu::deps::release_dependents(&agent, &a, "agent-1").await;
    let unblock = diff(agent.counters().snapshot(), before);
    assert_eq!(moved.expect("released"), 1, "b was queued");
    assert_eq!(w.read(&b).await.value.status, Status::Queued);
    println!("(polling reads, listener reads, commits, writes)");
    println!("create with one dependency: {made:?}");
    println!("end of a task without dependents: (0, 0, 0, 0), no mark");
    println!("end of a task with one dependent, which it queues: {unblock:?}");
    w.done("what_an_unblock_costs");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_a_100_task_dag_costs() {
    common::fleet::trace_from_env();
    let w = World::new("deps-cost-dag").await;
    let alice = w.human("alice").await;
    let started = Instant::now();
    let before = alice.counters().snapshot();
    let mut levels: Vec<Vec<String>> = Vec::new();
    for level in 0..10 {
        let mut ids = Vec::new();
        for i in 0..10 {
            let after = match levels.last() {
                Some(prev) => vec![prev[i].clone(), prev[(i + 1) % 10].clone()],
                None => vec![],
            };
            ids.push(create(&alice, &format!("l{level} t{i}"), after).await);
        }
        levels.push(ids);
    }
    let creating = started.elapsed();
    let made = diff(alice.counters().snapshot(), before);

    let (stop, rx) = tokio::sync::watch::channel(false);
    let mut agents = Vec::new();
    let mut stores = Vec::new();
    let running = Instant::now();
    for id in ["dag-a", "dag-b"] {
        let store = w.unregistered_agent(id).await;
        stores.push(store.clone());
        let mut config = fast_agent(id, shell("echo 'vayu:result ok'"));
        // Slow, so the waiters documents do the releasing; not off, as it
        // also requeues a lease a loaded emulator left stranded.
        config.sweep_every = Duration::from_secs(10);
        let mut rx = rx.clone();
        agents.push(tokio::spawn(agent::run(store, config, async move {
            let _ = rx.wait_for(|s| *s).await;
        })));
    }
    for id in levels.iter().flatten() {
        wait_task(&w.admin, id, Duration::from_secs(300), "completed", |v| {
            v.value.status == Status::Completed
        })
        .await;
    }
    let run_for = running.elapsed();
    let mut total = OpSnapshot::default();
    for s in &stores {
        let c = s.counters().snapshot();
        total.polling_reads += c.polling_reads;
        total.listener_reads += c.listener_reads;
        total.commits += c.commits;
        total.writes += c.writes;
    }
    let ran = diff(total, OpSnapshot::default());
    stop.send(true).expect("the agents listen");
    for a in agents {
        a.await.expect("no panic").expect("the agent stops cleanly");
    }
    // Every task started after both of its dependencies completed.
    for pair in levels.windows(2) {
        for id in &pair[1] {
            let t = w.read(id).await.value;
            let started = (t.history.iter()).find(|h| h.status == Some(Status::Assigned));
            for dep in &t.dependencies.blocked_by {
                let d = w.read(dep).await.value;
                let done = (d.history.iter()).rfind(|h| h.status == Some(Status::Completed));
                assert!(
                    started.and_then(|h| h.at) >= done.and_then(|h| h.at),
                    "{id} started before {dep} completed"
                );
            }
        }
    }
    println!("(polling reads, listener reads, commits, writes)");
    println!("creating 100 tasks, 180 edges: {made:?} in {creating:?}");
    println!("running them on 2 agents: {ran:?} in {run_for:?}");
    w.done("what_a_100_task_dag_costs");
}
