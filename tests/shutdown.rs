//! Stopping an agent, on the real Firestore emulator: a short handler
//! finishes within the grace period, a long one is handed back to the
//! queue, and a task that completes during the grace releases the tasks
//! waiting for it before the agent exits.
//!
//! Every test has its own database in the binary's shared emulator. The
//! SIGTERM tests run `vayu-agent` processes; the rest run in-process.

mod common;

use common::fleet::{
    Fleet, count, describe, fast_agent, pids, read_task, research_task, setup, shell,
    wait_completed, wait_file,
};
use common::procs::{AgentProc, AgentSpec, pid_alive, tail};
use std::time::Duration;
use tokio::time::Instant;
use vayu::layout::Pile;
use vayu::lifecycle::Status;
use vayu::model::AgentState;
use vayu::tasks;

/// Sends SIGTERM and expects exit 0 within 30 s; prints how long it took.
async fn sigterm_exits_0(agent: &mut AgentProc) {
    let t0 = Instant::now();
    let status = agent.terminate(Duration::from_secs(30)).await;
    println!(
        "SIGTERM -> exit: {} ms, {status:?}",
        t0.elapsed().as_millis()
    );
    assert!(
        status.is_some_and(|s| s.success()),
        "exit 0 after SIGTERM, got {status:?}:\n{}",
        tail(&agent.log(), 30)
    );
}

/// SIGTERM while a short handler runs: it finishes within the grace period
/// and the task completes; the agent exits 0 and says it is offline.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_a_short_handler_finishes_within_the_grace_period() {
    let (cfg, store) = setup("shutdown-short").await;
    let dir = tempfile::tempdir().expect("the system temp dir is writable");
    let pid = dir.path().join("pid");
    let handler = format!(
        "echo $$ > {}; sleep 1; echo \"vayu:result finished\"",
        pid.display()
    );
    let mut s = AgentSpec::on(&cfg, dir.path(), "stopping", &handler);
    s.grace_secs = 10.0;
    let mut agent = AgentProc::spawn(&s);
    let t = tasks::create(&store, research_task("finish me"))
        .await
        .expect("the emulator accepts a new task");
    wait_file(&pid, Duration::from_secs(20)).await;
    sigterm_exits_0(&mut agent).await;
    let v = read_task(&store, &t.task_id).await;
    assert_eq!(v.value.status, Status::Completed, "{}", describe(&v));
    assert_eq!(v.pile, Pile::Completed);
    assert_eq!(v.value.execution.result.as_deref(), Some("finished"));
    assert_eq!(
        count(&store, Pile::Active).await,
        0,
        "nothing left in active"
    );
    let doc = store
        .get_agent("stopping")
        .await
        .expect("the emulator answers a read of the agent doc")
        .expect("the agent registered");
    assert_eq!(doc.status, Some(AgentState::Offline), "{doc:?}");
}

/// SIGTERM while a long handler runs: after the grace period the handler is
/// killed and the task goes back to the queue, where another agent picks it
/// up. Never stuck in active.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_a_long_handler_is_released_back_to_the_queue() {
    let (cfg, store) = setup("shutdown-long").await;
    let dir = tempfile::tempdir().expect("the system temp dir is writable");
    let pid = dir.path().join("pid");
    let handler = format!("echo $$ > {}; sleep 60", pid.display());
    let mut s = AgentSpec::on(&cfg, dir.path(), "impatient", &handler);
    s.grace_secs = 1.0;
    let mut agent = AgentProc::spawn(&s);
    let t = tasks::create(&store, research_task("too long"))
        .await
        .expect("the emulator accepts a new task");
    wait_file(&pid, Duration::from_secs(20)).await;
    let handler_pid = pids(&pid)[0];
    sigterm_exits_0(&mut agent).await;
    let v = read_task(&store, &t.task_id).await;
    println!("{}", describe(&v));
    assert_eq!(v.pile, Pile::Queued, "released to the queue");
    assert_eq!(v.value.status, Status::Queued);
    assert_eq!(v.value.lease.owner, None, "no owner left on the lease");
    assert_eq!(
        count(&store, Pile::Active).await,
        0,
        "nothing left in active"
    );
    assert!(
        !pid_alive(handler_pid),
        "the handler was killed, not left running"
    );

    // And it is not stuck: the next agent runs it.
    let mut next = AgentProc::spawn(&AgentSpec::on(
        &cfg,
        dir.path(),
        "successor",
        "echo \"vayu:result second try\"",
    ));
    let done = wait_completed(&store, &t.task_id, Duration::from_secs(20)).await;
    assert_eq!(done.value.execution.result.as_deref(), Some("second try"));
    next.stop_cleanly(Duration::from_secs(20)).await;
}

/// A task that completes during the grace period has a dependent: the
/// stopping agent releases it before it exits, so it is queued with no
/// other agent running (before, it waited blocked for a peer's sweep).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_a_task_done_in_the_grace_releases_its_dependents() {
    let (cfg, store) = setup("shutdown-deps").await;
    let dir = tempfile::tempdir().expect("the system temp dir is writable");
    let started = dir.path().join("started");
    let handler = format!("echo $VAYU_TASK_ID >> {}; sleep 1", started.display());
    let mut agent = fast_agent("stopping", shell(&handler));
    agent.grace = Duration::from_secs(10);
    let fleet = Fleet::start(&cfg, vec![agent]).await;
    let first = tasks::create(&store, research_task("first"))
        .await
        .expect("the emulator accepts a new task");
    let mut next = research_task("next");
    next.after = vec![first.task_id.clone()];
    let next = tasks::create(&store, next)
        .await
        .expect("the emulator accepts a dependent task");
    assert_eq!(
        read_task(&store, &next.task_id).await.value.status,
        Status::Blocked
    );
    wait_file(&started, Duration::from_secs(20)).await;
    let reports = fleet.stop().await;
    assert_eq!(reports[0].claimed, 1, "the agent ran only the first task");
    let first = read_task(&store, &first.task_id).await;
    assert_eq!(
        first.value.status,
        Status::Completed,
        "{}",
        describe(&first)
    );
    let next = read_task(&store, &next.task_id).await;
    assert_eq!(
        (next.pile, next.value.status),
        (Pile::Queued, Status::Queued),
        "released by the stopping agent: {}",
        describe(&next)
    );
}
