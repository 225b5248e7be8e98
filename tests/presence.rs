//! Issue 14, constant presence: an agent beats in `presence/{id}` and is
//! watched by the two agents before it in the ring of registered agents,
//! so each beat costs 2 reads whatever the fleet's size (it cost N − 1
//! while every agent listened to every registration rewritten at each
//! beat). On the emulator, with in-process agents:
//! - the reads per beat, counted, in fleets of 3 and 8;
//! - a live agent marked offline (as typed into the console) registers
//!   again;
//! - an agent stopped dead (its loop aborted, no goodbye) is marked
//!   offline by its watchers, and its task is taken over by a peer.

mod common;

use common::fleet::{Fleet, setup, shell};
use std::sync::Arc;
use std::time::{Duration, Instant};
use vayu::agent::{self, AgentConfig};
use vayu::lifecycle::Status;
use vayu::metrics::OpCounters;
use vayu::model::{AgentState, Priority, TaskType};
use vayu::store::Store;
use vayu::tasks::{self, NewTask};

/// An idle agent that beats every 300 ms.
fn idle_agent(id: &str) -> AgentConfig {
    let mut c = common::fleet::fast_agent(id, shell("true"));
    c.heartbeat = Duration::from_millis(300);
    c.lease = Duration::from_secs(3);
    c.sweep_every = Duration::from_secs(3600);
    c
}

/// Polls `pred` on agent `id`'s merged document every 100 ms for `limit`.
async fn wait_agent(
    store: &Store,
    id: &str,
    limit: Duration,
    what: &str,
    pred: impl Fn(&vayu::model::AgentDoc) -> bool,
) {
    let deadline = Instant::now() + limit;
    loop {
        let seen = store.get_agent(id).await;
        if seen.as_ref().is_ok_and(|a| a.as_ref().is_some_and(&pred)) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "agent {id} was not {what} within {limit:?}: {seen:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Presence reads per presence write while `n` agents idle, after their
/// start-up (which reads every registration once).
async fn reads_per_beat(n: usize) -> f64 {
    let (cfg, _store) = setup(&format!("beats-{n}")).await;
    let counters = Arc::new(OpCounters::default());
    let configs = (0..n)
        .map(|i| idle_agent(&format!("beat-{i:02}")))
        .collect();
    let fleet = Fleet::start_counted(&cfg, configs, Some(counters.clone())).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let before = counters.snapshot();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let ops = counters.snapshot().since(&before);
    assert!(fleet.all_running(), "no agent stopped");
    fleet.stop().await;
    assert!(
        ops.presence_writes >= n as u64 * 5,
        "{n} agents beat in 3 s every 300 ms: {ops:?}"
    );
    ops.presence_reads as f64 / ops.presence_writes as f64
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_beat_is_read_by_two_watchers_whatever_the_fleet_size() {
    let three = reads_per_beat(3).await;
    let eight = reads_per_beat(8).await;
    println!("presence reads per beat: {three:.2} with 3 agents, {eight:.2} with 8");
    // Every agent watched by exactly two: 2 reads a beat, with a little
    // room for a beat delivered twice across a listener's restart. Every
    // registration read by every peer would be 2 and 7.
    assert!((1.8..=2.3).contains(&three), "3 agents: {three:.2}");
    assert!((1.8..=2.3).contains(&eight), "8 agents: {eight:.2}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_live_agent_marked_offline_registers_again() {
    let (cfg, store) = setup("reregister").await;
    let fleet = Fleet::start(&cfg, vec![idle_agent("alive")]).await;
    wait_agent(&store, "alive", Duration::from_secs(10), "beating", |a| {
        a.status == Some(AgentState::Online) && a.cpu_usage >= 0.0
    })
    .await;
    let name = store.name(&vayu::layout::agent_doc("alive"));
    let seen = (store.batch_get(vec![name]).await.expect("a read"))
        .pop()
        .flatten()
        .expect("registered");
    // As typed into the console: admin writes bypass the rules.
    store
        .mark_agent_offline(&seen, None)
        .await
        .expect("an admin write");
    wait_agent(
        &store,
        "alive",
        Duration::from_secs(10),
        "online again",
        |a| a.status == Some(AgentState::Online),
    )
    .await;
    assert!(fleet.all_running());
    fleet.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_agents_watchers_mark_it_offline_and_its_task_is_taken_over() {
    let (cfg, store) = setup("watched-death").await;
    let dir = tempfile::tempdir().expect("a temp dir");
    let started = dir.path().join("started");
    // The first run says so, then outlives the test; a retry ends at once.
    let handler = shell(&format!(
        "if [ -e {s} ]; then exit 0; fi; touch {s}; echo $VAYU_AGENT_ID > {s}; sleep 600",
        s = started.display()
    ));
    let mk = |id: &str| {
        let mut c = idle_agent(id);
        c.handlers = handler.clone();
        c
    };
    // The doomed agent starts alone, so the task is its own; it runs in a
    // task of its own, to be aborted: no shutdown, no offline
    // registration, no more beats.
    let doomed_store = Store::connect(&cfg).await.expect("connects");
    let (_never, rx) = tokio::sync::watch::channel(false);
    let doomed = tokio::spawn(agent::run(doomed_store, mk("w-0"), async move {
        let mut rx = rx;
        let _ = rx.wait_for(|s| *s).await;
    }));
    let task = NewTask::new(TaskType::Research, Priority::High, "long");
    let task = tasks::create(&store, task).await.expect("create").task_id;
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::fs::read_to_string(&started).unwrap_or_default().trim() != "w-0" {
        assert!(Instant::now() < deadline, "w-0 never started the task");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Its watchers in the ring w-0 < w-1 < w-2 < w-3: w-2 and w-3.
    let peers = Fleet::start(&cfg, vec![mk("w-1"), mk("w-2"), mk("w-3")]).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    doomed.abort();
    let t0 = Instant::now();
    wait_agent(&store, "w-0", Duration::from_secs(20), "offline", |a| {
        a.status == Some(AgentState::Offline)
    })
    .await;
    let offline_after = t0.elapsed();
    let done =
        common::fleet::wait_status(&store, &task, Status::Completed, Duration::from_secs(30)).await;
    println!(
        "w-0 offline {:.1} s after its death, its task completed {:.1} s after",
        offline_after.as_secs_f64(),
        t0.elapsed().as_secs_f64()
    );
    assert_ne!(done.value.assignment.primary_agent.as_deref(), Some("w-0"));
    assert!(peers.all_running());
    peers.stop().await;
}
