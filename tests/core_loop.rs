//! The core loop on the real Firestore emulator: tasks created through the
//! CLI's code path are claimed, run and completed by a fleet of agents.

mod common;

use common::fleet::{
    Fleet, busy_agent, count, recording_handler, runs, setup, wait_until_completed,
};
use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};
use vayu::layout::Pile;
use vayu::lifecycle::Status;
use vayu::model::{Priority, TaskType};
use vayu::tasks::{self, NewTask};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_agents_complete_two_hundred_tasks_exactly_once() {
    let (cfg, store) = setup("e2e").await;
    let dir = tempfile::tempdir().expect("tempdir");
    let fleet = Fleet::start(
        &cfg,
        (1..=3)
            .map(|i| busy_agent(&format!("agent-{i}"), recording_handler(dir.path())))
            .collect(),
    )
    .await;

    let started = Instant::now();
    let mut ids = HashSet::new();
    for i in 0..200 {
        let pr = [
            Priority::Critical,
            Priority::High,
            Priority::Normal,
            Priority::Low,
        ][i % 4];
        let t = tasks::create(
            &store,
            NewTask::new(TaskType::Research, pr, format!("task {i}")),
        )
        .await
        .expect("create");
        ids.insert(t.task_id);
    }
    let done = wait_until_completed(&store, 200, Duration::from_secs(120)).await;
    println!(
        "200 tasks, 3 agents: all completed in {:.2} s",
        started.elapsed().as_secs_f64()
    );
    if done < 200 {
        for pile in [Pile::Queued, Pile::Active] {
            for v in store
                .list_pile(pile, None, None)
                .await
                .expect("query")
                .iter()
                .flatten()
            {
                eprintln!("left in {pile}: {}", common::fleet::describe(v));
            }
        }
    }
    let reports = fleet.stop().await;

    assert_eq!(done, 200, "every task ends in the completed collection");
    let completed = store
        .list_pile(Pile::Completed, None, None)
        .await
        .expect("query");
    for r in &completed {
        let v = r.as_ref().expect("completed tasks parse");
        assert_eq!(v.value.status, Status::Completed, "{}", v.value.task_id);
        assert_eq!(v.value.execution.progress, 100);
        assert!(ids.contains(&v.value.task_id));
    }
    let mut claim_ms = Vec::new();
    let mut run_ms = Vec::new();
    for r in &completed {
        let t = &r.as_ref().expect("parsed above").value;
        if let (Some(c), Some(s), Some(f)) = (
            t.created_at,
            t.execution.started_at,
            t.execution.finished_at,
        ) {
            claim_ms.push(vayu::model::millis_between(c, s));
            run_ms.push(vayu::model::millis_between(s, f));
        }
    }
    claim_ms.sort();
    run_ms.sort();
    println!(
        "created->claimed ms p50 {} p99 {}; claimed->finished ms p50 {} p99 {}",
        claim_ms[claim_ms.len() / 2],
        claim_ms[claim_ms.len() * 99 / 100],
        run_ms[run_ms.len() / 2],
        run_ms[run_ms.len() * 99 / 100]
    );
    let runs = runs(dir.path());
    let mut per_task: HashMap<&str, usize> = HashMap::new();
    for r in &runs {
        *per_task.entry(r.as_str()).or_default() += 1;
    }
    assert_eq!(per_task.len(), 200, "every task's handler ran");
    assert!(
        per_task.values().all(|n| *n == 1),
        "a handler ran twice: {:?}",
        per_task.iter().filter(|(_, n)| **n > 1).collect::<Vec<_>>()
    );
    assert_eq!(
        count(&store, Pile::Queued).await,
        0,
        "the queued collection ends empty"
    );
    assert_eq!(
        count(&store, Pile::Active).await,
        0,
        "the active collection ends empty"
    );
    let claimed: u64 = reports.iter().map(|r| r.claimed).sum();
    assert_eq!(claimed, 200);
    println!(
        "claims per agent: {:?}",
        reports.iter().map(|r| r.claimed).collect::<Vec<_>>()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_task_created_while_agents_idle_is_claimed_through_the_listener() {
    let (cfg, store) = setup("listener").await;
    let dir = tempfile::tempdir().expect("tempdir");
    let fleet = Fleet::start(
        &cfg,
        vec![
            busy_agent("idle-1", recording_handler(dir.path())),
            busy_agent("idle-2", recording_handler(dir.path())),
        ],
    )
    .await;
    // Let the agents settle into idleness.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let reads_before = store.counters().snapshot();
    let mut ids = Vec::new();
    for i in 0..5 {
        let t = tasks::create(
            &store,
            NewTask::new(TaskType::Learning, Priority::Normal, format!("wake {i}")),
        )
        .await
        .expect("create");
        ids.push(t.task_id);
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    assert_eq!(
        wait_until_completed(&store, 5, Duration::from_secs(30)).await,
        5
    );
    let reports = fleet.stop().await;
    let mut lat: Vec<i64> = reports
        .iter()
        .flat_map(|r| r.claim_latencies_ms.iter().copied())
        .collect();
    lat.sort();
    println!("created -> claimed latency with idle agents (ms, server clock): {lat:?}");
    assert_eq!(lat.len(), 5, "each task was claimed once");
    let _ = reads_before;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_document_in_the_queue_crashes_no_agent() {
    use firestore::gcloud_sdk::google::firestore::v1 as pb;
    let (cfg, store) = setup("malformed").await;
    let dir = tempfile::tempdir().expect("tempdir");
    let fleet = Fleet::start(
        &cfg,
        vec![
            busy_agent("sturdy-1", recording_handler(dir.path())),
            busy_agent("sturdy-2", recording_handler(dir.path())),
        ],
    )
    .await;
    // As if typed into the console: priority is a number, progress a string.
    let bad_id = uuid::Uuid::new_v4().to_string();
    let mut fields = HashMap::new();
    let s = |v: &str| pb::Value {
        value_type: Some(pb::value::ValueType::StringValue(v.into())),
    };
    fields.insert("task_id".to_string(), s(&bad_id));
    fields.insert("status".to_string(), s("queued"));
    fields.insert(
        "priority".to_string(),
        pb::Value {
            value_type: Some(pb::value::ValueType::IntegerValue(7)),
        },
    );
    fields.insert(
        "execution".to_string(),
        pb::Value {
            value_type: Some(pb::value::ValueType::MapValue(pb::MapValue {
                fields: [("progress".to_string(), s("lots"))].into_iter().collect(),
            })),
        },
    );
    common::fleet::put_raw(&store, &Pile::Queued.doc(&bad_id), fields).await;

    let good = tasks::create(
        &store,
        NewTask::new(TaskType::Research, Priority::Normal, "after the bad one"),
    )
    .await
    .expect("create");
    assert_eq!(
        wait_until_completed(&store, 1, Duration::from_secs(30)).await,
        1
    );
    assert!(
        fleet.all_running(),
        "an agent stopped after reading the malformed document"
    );
    let reports = fleet.stop().await;
    assert_eq!(reports.iter().map(|r| r.claimed).sum::<u64>(), 1);
    assert_eq!(runs(dir.path()), vec![good.task_id]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_looks_past_a_window_full_of_tasks_it_cannot_run() {
    let (cfg, store) = setup("window").await;
    let dir = tempfile::tempdir().expect("tempdir");
    // More tasks than an agent's first window (64), all needing a GPU.
    for i in 0..80 {
        let mut t = NewTask::new(TaskType::Research, Priority::High, format!("gpu {i}"));
        t.requires = vec!["gpu".into()];
        tasks::create(&store, t).await.expect("create");
    }
    let plain = tasks::create(
        &store,
        NewTask::new(TaskType::Research, Priority::Normal, "no gpu needed"),
    )
    .await
    .expect("create");
    let fleet = Fleet::start(
        &cfg,
        vec![busy_agent("cpu-only", recording_handler(dir.path()))],
    )
    .await;
    assert_eq!(
        wait_until_completed(&store, 1, Duration::from_secs(30)).await,
        1
    );
    fleet.stop().await;
    assert_eq!(
        runs(dir.path()),
        vec![plain.task_id],
        "the agent found the one task it can run"
    );
    assert_eq!(
        count(&store, Pile::Queued).await,
        80,
        "the GPU tasks wait for a GPU agent"
    );
}

/// A create that landed while its answer was lost, and that an agent then
/// claimed out of the queued pile before the create tried again. The
/// retry must find the task in the active pile and report success: a
/// blind repeat would make it a second time, since nothing is at its id
/// in the queued pile any more. (CI saw a handler run twice this way when
/// the emulator dropped a create's answer under load.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_create_whose_answer_was_lost_is_not_made_twice() {
    let (mut cfg, store) = setup("lost-answer").await;
    let proxy = common::proxy::Proxy::start(
        cfg.emulator_host
            .as_deref()
            .expect("the tests run on the emulator"),
    )
    .await;
    cfg.emulator_host = Some(proxy.host.clone());
    let creator = vayu::store::Store::connect(&cfg)
        .await
        .expect("the proxy forwards to the emulator");
    common::fleet::warm_up(&creator).await;

    let task = NewTask::new(TaskType::Research, Priority::High, "answer lost").into_task();
    proxy.mute();
    let creating = tokio::spawn({
        let (creator, task) = (creator.clone(), task.clone());
        async move { creator.create_task(&task).await }
    });
    let agent = busy_agent("quick", recording_handler(std::path::Path::new("/")));
    let deadline = Instant::now() + Duration::from_secs(5);
    let claimed = loop {
        if let Ok(Some(v)) = store.find_task(&task.task_id).await {
            break vayu::agent::claim(&store, &agent, &v)
                .await
                .expect("nobody else claims it");
        }
        assert!(
            Instant::now() < deadline,
            "the create never reached the server"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    };
    assert!(!creating.is_finished(), "the create heard nothing yet");
    proxy.cut();
    let created = tokio::time::timeout(Duration::from_secs(30), creating)
        .await
        .expect("the create gives up within its retries")
        .expect("the create does not panic");
    assert!(created.is_ok(), "the create landed: {created:?}");
    let queued = store
        .list_pile(Pile::Queued, None, None)
        .await
        .expect("a query");
    assert!(
        queued.is_empty(),
        "the task was made again in the queued pile: {} documents",
        queued.len()
    );
    let found = store
        .find_task(&task.task_id)
        .await
        .expect("a read")
        .expect("the task is there");
    assert_eq!(found.pile, Pile::Active);
    assert_eq!(found.value.lease.epoch, claimed.value.lease.epoch);
}

/// An agent's end of a run that landed while its answer was lost: the
/// retry is refused (the task is no longer in the active pile) and the
/// re-read shows the very move made. It counts as done, so the task's
/// dependents are released at once, not fenced and left for the sweep
/// (slowed to an hour here). CI once saw a team's parent stay blocked
/// 300 s after its parts ended.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_end_whose_answer_was_lost_still_releases_its_dependents() {
    let (cfg, store) = setup("lost-end").await;
    let dir = tempfile::tempdir().expect("tempdir");
    let proxy = common::proxy::Proxy::start(
        cfg.emulator_host
            .as_deref()
            .expect("the tests run on the emulator"),
    )
    .await;
    let mut through = cfg.clone();
    through.emulator_host = Some(proxy.host.clone());
    // The first task says when it is about to end, then ends a second
    // later: the proxy is muted in between.
    let ending = dir.path().join("ending");
    let handler = common::fleet::shell(&format!(
        "echo \"$VAYU_TASK_ID\" >> {runs}; \
         if [ ! -e {ending} ]; then touch {ending}; sleep 1; fi",
        runs = dir.path().join("runs.txt").display(),
        ending = ending.display(),
    ));
    let mut agent = common::fleet::fast_agent("ender", handler);
    // No lease renewal and no sweep inside the test's window: only the
    // end write and the release can move the dependent.
    (agent.heartbeat, agent.lease) = (Duration::from_secs(5), Duration::from_secs(30));
    agent.sweep_every = Duration::from_secs(3600);

    let first = NewTask::new(TaskType::Research, Priority::High, "first");
    let first = tasks::create(&store, first).await.expect("create");
    let mut then = NewTask::new(TaskType::Research, Priority::High, "then");
    then.after = vec![first.task_id.clone()];
    let then = tasks::create(&store, then).await.expect("create");
    let fleet = Fleet::start(&through, vec![agent]).await;

    let deadline = Instant::now() + Duration::from_secs(30);
    while !ending.exists() {
        assert!(Instant::now() < deadline, "the first task never ran");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    proxy.mute();
    common::fleet::wait_status(
        &store,
        &first.task_id,
        Status::Completed,
        Duration::from_secs(30),
    )
    .await;
    // The end landed unanswered; the agent hears a cut connection.
    proxy.cut();
    let done = common::fleet::wait_status(
        &store,
        &then.task_id,
        Status::Completed,
        Duration::from_secs(30),
    )
    .await;
    let reports = fleet.stop().await;
    assert_eq!(
        runs(dir.path()),
        vec![first.task_id.clone(), then.task_id.clone()],
        "each ran once"
    );
    assert_eq!(
        reports[0].outcomes.get("completed"),
        Some(&2),
        "the lost answer's end counts as a completion: {:?}",
        reports[0].outcomes
    );
    assert!(
        done.value
            .history
            .iter()
            .any(|h| h.note.as_deref() == Some("every dependency ended")),
        "released by its dependency's end"
    );
}
