//! Lanes on the real emulator (src/lanes.rs): each queued task reaches one
//! agent's listener, a task its lane's owner cannot run is forwarded to a
//! peer that can, and the lanes of an agent that stops go to the others.

mod common;

use common::fleet::{
    Fleet, fast_agent, recording_handler, runs, setup, shell, wait_completed, wait_until_completed,
};
use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};
use vayu::agent::Handlers;
use vayu::layout::Pile;
use vayu::metrics::OpCounters;
use vayu::model::{Priority, TaskType};
use vayu::tasks::{self, NewTask};

/// Four agents split the 15 lanes; 120 tasks are each delivered to one
/// listener, not four, and nobody loses a claim race.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_task_reaches_one_agents_listener() {
    let (cfg, store) = setup("lanes-reads").await;
    let dir = tempfile::tempdir().expect("tempdir");
    let counters = Arc::new(OpCounters::default());
    let fleet = Fleet::start_counted(
        &cfg,
        (1..=4)
            .map(|i| fast_agent(&format!("agent-{i}"), recording_handler(dir.path())))
            .collect(),
        Some(counters.clone()),
    )
    .await;
    // Let every agent see the others and settle on its lanes.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let before = counters.snapshot();
    let m = 120;
    for i in 0..m {
        tasks::create(
            &store,
            NewTask::new(TaskType::Research, Priority::Normal, format!("task {i}")),
        )
        .await
        .expect("create");
    }
    assert_eq!(
        wait_until_completed(&store, m, Duration::from_secs(60)).await,
        m
    );
    let ops = counters.snapshot().since(&before);
    let reports = fleet.stop().await;
    let queue_reads = ops.listener_reads - ops.presence_reads;
    let lost: u64 = reports.iter().map(|r| r.claim_conflicts).sum();
    let claimed: Vec<u64> = reports.iter().map(|r| r.claimed).collect();
    println!(
        "{m} tasks: {queue_reads} queue listener reads ({:.2} per task), {lost} lost races, claims per agent {claimed:?}",
        queue_reads as f64 / m as f64
    );
    // Without lanes every task enters all four listeners: 4 reads a task.
    assert!(
        queue_reads <= (m as u64 * 3) / 2,
        "{queue_reads} queue reads for {m} tasks: tasks reach more than one listener"
    );
    assert_eq!(lost, 0, "agents raced for tasks in the same lane");
    assert!(
        claimed.iter().all(|&c| c > 0),
        "every agent owns lanes, so every agent ran tasks: {claimed:?}"
    );
    assert_eq!(runs(dir.path()).len(), m, "each task ran exactly once");
}

/// Agent A runs only research, agent B only learning. Tasks of each type
/// land in both agents' lanes; those in the wrong agent's lanes complete
/// only if that agent forwards them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_task_its_lane_owner_cannot_run_is_forwarded() {
    let (cfg, store) = setup("lanes-forward").await;
    let dir = tempfile::tempdir().expect("tempdir");
    let only = |t: TaskType| {
        let mut h = Handlers::default();
        h.by_type.insert(
            t,
            format!(
                "echo \"$VAYU_TASK_ID {}\" >> {}/runs.txt",
                t.as_str(),
                dir.path().display()
            ),
        );
        h
    };
    let fleet = Fleet::start(
        &cfg,
        vec![
            fast_agent("agent-a", only(TaskType::Research)),
            fast_agent("agent-b", only(TaskType::Learning)),
        ],
    )
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let mut ids = HashSet::new();
    for i in 0..30 {
        let ty = if i % 2 == 0 {
            TaskType::Research
        } else {
            TaskType::Learning
        };
        let t = tasks::create(&store, NewTask::new(ty, Priority::Normal, format!("t{i}")))
            .await
            .expect("create");
        ids.insert(t.task_id);
    }
    let done = wait_until_completed(&store, 30, Duration::from_secs(60)).await;
    fleet.stop().await;
    assert_eq!(
        done, 30,
        "tasks in the lanes of an agent that cannot run them were stranded"
    );
    let ran = runs(dir.path());
    assert_eq!(ran.len(), 30, "each task ran once: {ran:?}");
    let forwarded = store
        .list_pile(Pile::Completed, None, None)
        .await
        .expect("list")
        .into_iter()
        .filter_map(|r| r.ok())
        .filter(|v| v.value.lane != vayu::lanes::lane_for(&v.value.task_id))
        .count();
    println!("{forwarded} of 30 tasks were forwarded to another lane");
    assert!(
        forwarded > 0,
        "no task was forwarded, so the test proved nothing"
    );
}

/// Two agents; one stops (and says so). Tasks created afterwards in its
/// lanes are run by the survivor, promptly.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_lanes_of_an_agent_that_stops_go_to_the_others() {
    let (cfg, store) = setup("lanes-handover").await;
    let dir = tempfile::tempdir().expect("tempdir");
    let survivor = Fleet::start(
        &cfg,
        vec![fast_agent("agent-1", recording_handler(dir.path()))],
    )
    .await;
    let leaver = Fleet::start(&cfg, vec![fast_agent("agent-2", shell("true"))]).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    leaver.stop().await;
    let started = Instant::now();
    for i in 0..30 {
        tasks::create(
            &store,
            NewTask::new(TaskType::Research, Priority::Normal, format!("t{i}")),
        )
        .await
        .expect("create");
    }
    // Well under the 2.5 s a silent peer takes to be judged dead: the
    // leaver marked itself offline, so its lanes move at once.
    let done = wait_until_completed(&store, 30, Duration::from_secs(20)).await;
    let took = started.elapsed();
    survivor.stop().await;
    println!("30 tasks completed by the survivor in {took:?}");
    assert_eq!(done, 30, "tasks in the leaver's lanes were stranded");
    assert_eq!(runs(dir.path()).len(), 30, "the survivor ran them all");
}

/// A peer that looks alive (its registration online, its presence beating)
/// but never claims leaves its lanes' tasks waiting. The owner of lane 0
/// claims them once they have waited past `STALE_AFTER` (10 s, at its next
/// sweep; src/agent/stale.rs), while the peer is never judged dead: its
/// lanes stay its own, so only the sweeper's net can have claimed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sweeper_claims_what_a_wedged_peers_lane_left_waiting() {
    use vayu::model::{AgentDoc, AgentState, PresenceDoc};
    let (cfg, store) = setup("lanes-stale").await;
    // Sorted first, the real agent owns lane 0 and the even lanes; the
    // ghost owns the odd ones.
    let (real, ghost) = ("a-real", "z-ghost");
    let registration = AgentDoc {
        agent_id: ghost.into(),
        status: Some(AgentState::Online),
        handles: vec!["*".into()],
        concurrency: 4,
        heartbeat_ms: 500,
        incarnation: "ghost-run".into(),
        ..AgentDoc::default()
    };
    store.put_agent(&registration).await.expect("admin writes");
    let beat = PresenceDoc {
        agent_id: ghost.into(),
        incarnation: "ghost-run".into(),
        heartbeat_ms: 500,
        ..PresenceDoc::default()
    };
    let beating = {
        let store = store.clone();
        tokio::spawn(async move {
            loop {
                let _ = store.beat(&beat).await;
                tokio::time::sleep(Duration::from_millis(300)).await;
            }
        })
    };
    let fleet = Fleet::start(&cfg, vec![fast_agent(real, shell("true"))]).await;
    tokio::time::sleep(Duration::from_secs(2)).await;

    let key = (0..)
        .map(|i| format!("left-{i}"))
        .find(|k| vayu::spread::lane_for(k) % 2 == 1)
        .expect("some key falls in an odd lane");
    let mut new = NewTask::new(TaskType::Research, Priority::Normal, "in the ghost's lane");
    new.task_id = Some(key.clone());
    let t = tasks::create(&store, new).await.expect("created");
    let done = wait_completed(&store, &t.task_id, Duration::from_secs(60)).await;
    let waited = vayu::model::millis_between(
        done.value.created_at.expect("a stored task has a time"),
        done.value.assignment.assigned_at.expect("claimed"),
    );
    assert_eq!(done.value.assignment.primary_agent.as_deref(), Some(real));
    assert!(
        waited >= 10_000,
        "claimed after {waited} ms, before it was left waiting 10 s"
    );
    let still = store
        .get_agent(ghost)
        .await
        .expect("reads")
        .expect("registered");
    assert_eq!(
        still.status,
        Some(AgentState::Online),
        "the ghost was never judged dead, so its lanes stayed its own"
    );
    beating.abort();
    fleet.stop().await;
}
