//! Firestore outages: each test starts an emulator of its own and freezes
//! its JVM with SIGSTOP (the shared emulator must never be disturbed).
//! Agents must back off without crashing or busy-looping, keep their
//! running handlers, and reconcile when Firestore comes back, without
//! taking each other's work.

mod common;

use common::fleet::{
    Fleet, describe, fast_agent, history, lines, pids, shell, wait_completed, wait_file, wait_task,
};
use common::procs::{AgentProc, AgentSpec, Frozen, pid_alive, tail};
use std::time::Duration;
use tokio::time::Instant;
use vayu::lifecycle::Status;
use vayu::model::{Priority, TaskType, now, time_add};
use vayu::store::{Store, StoreConfig};
use vayu::tasks::{self, NewTask};
use vayu_emulator::{Emulator, EmulatorOptions};

/// The tests here run one at a time: each runs a JVM of its own and
/// freezes it, and three at once on a 2-core machine would measure the
/// machine's load rather than the agents.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

async fn dedicated(prefix: &str) -> (Emulator, StoreConfig, Store) {
    let emu = Emulator::start(EmulatorOptions::default())
        .await
        .unwrap_or_else(|e| panic!("cannot start a dedicated Firestore emulator: {e}"));
    let cfg = StoreConfig::emulator(emu.host(), common::unique_db_id(prefix));
    let store = Store::connect(&cfg)
        .await
        .unwrap_or_else(|e| panic!("the emulator is up, so connecting works: {e}"));
    common::fleet::warm_up(&store).await;
    (emu, cfg, store)
}

fn java_pid(emu: &Emulator) -> u32 {
    emu.java_pid()
        .expect("the emulator reports its JVM's pid once it is ready")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outage_agents_survive_a_frozen_firestore_and_finish_their_work() {
    let _serial = ONE_AT_A_TIME.lock().await;
    let (emu, cfg, store) = dedicated("outage").await;
    let dir = tempfile::tempdir().expect("the system temp dir is writable");
    let d = dir.path().display();
    let long = format!(
        "research=echo $$ >> {d}/pids; echo \"$VAYU_AGENT_ID $VAYU_EPOCH\" >> {d}/runs; sleep 8; \
         echo \"vayu:result survived\""
    );
    let short = format!("learning=echo \"$VAYU_TASK_ID\" >> {d}/after");
    let mut agents: Vec<AgentProc> = ["steady-1", "steady-2"]
        .iter()
        .map(|id| {
            let mut s = AgentSpec::new(id, &long, emu.host(), &cfg.database_id, dir.path());
            s.handlers.push(short.clone());
            AgentProc::spawn(&s)
        })
        .collect();
    let t = tasks::create(
        &store,
        NewTask::new(TaskType::Research, Priority::High, "outlasts the outage"),
    )
    .await
    .expect("the emulator accepts a new task");
    let claimed = wait_task(
        &store,
        &t.task_id,
        Duration::from_secs(20),
        "claimed",
        |v| v.value.status == Status::Executing,
    )
    .await;
    wait_file(&dir.path().join("pids"), Duration::from_secs(10)).await;
    let handler_pid = pids(&dir.path().join("pids"))[0];
    let cpu_before: Vec<_> = agents.iter().map(AgentProc::cpu_time).collect();

    let mut frozen = Frozen::stop(java_pid(&emu));
    let freeze = Duration::from_secs(5);
    while frozen.at.elapsed() < freeze {
        for a in agents.iter_mut() {
            assert!(
                a.try_exit().is_none(),
                "{} exited during the outage:\n{}",
                a.id(),
                tail(&a.log(), 30)
            );
        }
        assert!(
            pid_alive(handler_pid),
            "the handler keeps running during the outage"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let cpu_during: Vec<_> = agents
        .iter()
        .zip(&cpu_before)
        .map(|(a, b)| {
            a.cpu_time()
                .zip(*b)
                .map(|(x, y)| x.saturating_sub(y).as_millis())
        })
        .collect();
    let was = frozen.thaw();
    println!(
        "emulator frozen for {:.1} s; agents' CPU time meanwhile: {cpu_during:?} ms",
        was.as_secs_f64()
    );
    for ms in cpu_during.iter().flatten() {
        assert!(
            *ms < 2_500,
            "an agent used {ms} ms of CPU in a 5 s outage: a busy loop"
        );
    }

    let done = wait_task(
        &store,
        &t.task_id,
        Duration::from_secs(30),
        "completed",
        |v| v.value.status.is_terminal(),
    )
    .await;
    println!("{}", describe(&done));
    assert_eq!(done.value.status, Status::Completed);
    assert_eq!(done.value.execution.result.as_deref(), Some("survived"));
    assert_eq!(
        done.value.lease.epoch, claimed.value.lease.epoch,
        "the agent that ran it through the outage completed it; nobody took it over"
    );
    assert_eq!(lines(&dir.path().join("runs")).len(), 1, "it ran once");

    // Work created after the outage flows as before.
    let mut ids = Vec::new();
    for i in 0..5 {
        let t = tasks::create(
            &store,
            NewTask::new(TaskType::Learning, Priority::Normal, format!("after {i}")),
        )
        .await
        .expect("the emulator accepts new tasks after the outage");
        ids.push(t.task_id);
    }
    for id in &ids {
        wait_completed(&store, id, Duration::from_secs(30)).await;
    }
    for a in agents.iter_mut() {
        let log = a.log();
        assert!(
            !log.contains("panicked"),
            "{} panicked:\n{}",
            a.id(),
            tail(&log, 40)
        );
        a.stop_cleanly(Duration::from_secs(20)).await;
    }
}

/// An agent that starts (or restarts) while Firestore is frozen connects
/// once it is back, and looks for orphaned work at startup. The running
/// agent's lease ran out during the outage only because nobody could
/// renew anything: its task is not orphaned and must not be taken from it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outage_an_agent_starting_during_an_outage_does_not_take_live_work() {
    let _serial = ONE_AT_A_TIME.lock().await;
    let (emu, cfg, store) = dedicated("outage-start").await;
    let dir = tempfile::tempdir().expect("the system temp dir is writable");
    let d = dir.path().display();
    let handler = format!(
        "echo \"$VAYU_AGENT_ID $VAYU_EPOCH\" >> {d}/runs; sleep 7; echo \"vayu:result by $VAYU_AGENT_ID\""
    );
    let mut holder = AgentProc::spawn(&AgentSpec::new(
        "holder",
        &handler,
        emu.host(),
        &cfg.database_id,
        dir.path(),
    ));
    let t = tasks::create(
        &store,
        NewTask::new(TaskType::Research, Priority::High, "mine"),
    )
    .await
    .expect("the emulator accepts a new task");
    let claimed = wait_task(
        &store,
        &t.task_id,
        Duration::from_secs(20),
        "claimed",
        |v| v.value.status == Status::Executing,
    )
    .await;
    wait_file(&dir.path().join("runs"), Duration::from_secs(10)).await;

    let mut frozen = Frozen::stop(java_pid(&emu));
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let mut newcomer = AgentProc::spawn(&AgentSpec::new(
        "newcomer",
        &handler,
        emu.host(),
        &cfg.database_id,
        dir.path(),
    ));
    tokio::time::sleep(Duration::from_millis(3500)).await;
    frozen.thaw();

    let done = wait_task(
        &store,
        &t.task_id,
        Duration::from_secs(30),
        "completed",
        |v| v.value.status.is_terminal(),
    )
    .await;
    println!("{}", describe(&done));
    println!("runs: {:?}", lines(&dir.path().join("runs")));
    assert_eq!(done.value.status, Status::Completed);
    assert_eq!(
        done.value.lease.epoch,
        claimed.value.lease.epoch,
        "the live holder's task was taken over after the outage:\n{}\nnewcomer's log:\n{}",
        history(&done.value),
        tail(&newcomer.log(), 20)
    );
    assert_eq!(done.value.execution.result.as_deref(), Some("by holder"));
    assert_eq!(lines(&dir.path().join("runs")).len(), 1, "it ran once");
    for a in [&mut holder, &mut newcomer] {
        a.stop_cleanly(Duration::from_secs(20)).await;
    }
}

/// A claim commit sent while Firestore is frozen times out on the agent's
/// side, but the frozen server may still apply it when it wakes. Either
/// way the task must not end up in the active pile with nobody running it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outage_a_claim_that_times_out_is_not_left_stuck_in_active() {
    let _serial = ONE_AT_A_TIME.lock().await;
    let (emu, mut cfg, store) = dedicated("outage-claim").await;
    // Short enough that claims sent into the outage time out during it.
    cfg.request_timeout = Duration::from_secs(2);
    let dir = tempfile::tempdir().expect("the system temp dir is writable");
    let runs = dir.path().join("runs");
    let handler = format!("echo \"$VAYU_AGENT_ID $VAYU_EPOCH\" >> {}", runs.display());
    let fleet = Fleet::start(&cfg, vec![fast_agent("hasty", shell(&handler))]).await;
    let deadline = Instant::now() + Duration::from_secs(20);
    while store.get_agent("hasty").await.ok().flatten().is_none() {
        assert!(fleet.all_running(), "the agent stopped at start");
        assert!(Instant::now() < deadline, "the agent did not register");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    // Claimable 2.5 s from now: the agent learns of it through its
    // listener now, and sends its claim into the outage.
    let mut task =
        NewTask::new(TaskType::Research, Priority::High, "claimed in the dark").into_task();
    task.not_before = Some(time_add(now(), Duration::from_millis(2500)));
    store
        .create_task(&task)
        .await
        .expect("the emulator accepts a new task");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let mut frozen = Frozen::stop(java_pid(&emu));
    tokio::time::sleep(Duration::from_secs(7)).await;
    frozen.thaw();
    let t0 = Instant::now();
    let deadline = t0 + Duration::from_secs(30);
    let done = loop {
        let v = store.find_task(&task.task_id).await;
        if let Ok(Some(v)) = &v
            && v.value.status.is_terminal()
        {
            break v.clone();
        }
        assert!(
            Instant::now() < deadline,
            "the task was not completed within 30 s of the outage's end (agent running: {}); \
             last seen: {}",
            fleet.all_running(),
            match &v {
                Ok(Some(v)) => describe(v),
                other => format!("{other:?}"),
            }
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    println!(
        "completed {} ms after the outage\n{}",
        t0.elapsed().as_millis(),
        describe(&done)
    );
    let landed_in_the_dark = done
        .value
        .history
        .iter()
        .any(|h| h.status == Some(Status::Failed));
    println!(
        "a claim sent during the outage {} applied by the server afterwards",
        if landed_in_the_dark { "was" } else { "was not" }
    );
    assert!(fleet.all_running());
    fleet.stop().await;
    assert_eq!(done.value.status, Status::Completed);
    assert_eq!(lines(&runs).len(), 1, "it ran once: {:?}", lines(&runs));
}
