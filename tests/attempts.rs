//! How one run of a task ends, on the real Firestore emulator: retries
//! with backoff and the dead letter, and timeouts that kill the handler's
//! whole process group. A shutdown's runs are in `shutdown.rs`; leases,
//! failover and health in `resilience.rs`.
//!
//! Every test has its own database in the binary's shared emulator, and
//! runs its agents in-process.

mod common;

use common::fleet::{
    Fleet, describe, fast_agent, history, lines, pids, read_task, research_task, setup, shell,
    wait_completed, wait_task,
};
use common::procs::{vayu_cli, wait_dead};
use std::time::Duration;
use vayu::layout::Pile;
use vayu::lifecycle::Status;
use vayu::model::millis_between;
use vayu::retry::Backoff;
use vayu::tasks;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retries_a_handler_that_fails_twice_completes_on_attempt_three() {
    let (cfg, store) = setup("retry-ok").await;
    let dir = tempfile::tempdir().expect("the system temp dir is writable");
    let backoff = Backoff {
        base: Duration::from_millis(400),
        cap: Duration::from_secs(5),
    };
    let d = dir.path().display();
    let handler = format!(
        "f={d}/$VAYU_TASK_ID.count; n=$(( $(cat $f 2>/dev/null || echo 0) + 1 )); echo $n > $f; \
         echo \"$VAYU_ATTEMPT $VAYU_AGENT_ID\" >> {d}/attempts; \
         if [ $n -lt 3 ]; then echo \"boom $n\" >&2; exit 7; fi; \
         echo \"vayu:result ok on attempt $VAYU_ATTEMPT\""
    );
    let configs = ["retry-1", "retry-2"]
        .iter()
        .map(|id| {
            let mut c = retry_agent(id, &handler);
            c.retry_backoff = backoff;
            c
        })
        .collect();
    let fleet = Fleet::start(&cfg, configs).await;
    let t = tasks::create(&store, research_task("third time lucky"))
        .await
        .expect("the emulator accepts a new task");
    let done = wait_task(
        &store,
        &t.task_id,
        Duration::from_secs(30),
        "completed",
        |v| v.value.status.is_terminal(),
    )
    .await;
    fleet.stop().await;
    println!("{}", describe(&done));
    let v = &done.value;
    assert_eq!(v.status, Status::Completed);
    assert_eq!(v.execution.attempt, 3, "completed on attempt 3");
    assert_eq!(v.metadata.retry_count, 2);
    assert_eq!(v.execution.result.as_deref(), Some("ok on attempt 3"));
    let attempts: Vec<String> = lines(&dir.path().join("attempts"))
        .iter()
        .map(|l| l.split(' ').next().unwrap_or_default().to_string())
        .collect();
    assert_eq!(attempts, ["1", "2", "3"], "VAYU_ATTEMPT counts up");

    // The backoff gaps, from the history: failed -> (queued) -> executing.
    let h = &v.history;
    let mut failures = 0u32;
    for (i, e) in h.iter().enumerate() {
        if e.status != Some(Status::Failed) {
            continue;
        }
        failures += 1;
        let failed_at = e.at.expect("history entries have times");
        let rest = &h[i + 1..];
        assert!(
            rest.first()
                .is_some_and(|n| n.status == Some(Status::Queued)),
            "a failed attempt with retries left goes back to queued:\n{}",
            history(v)
        );
        let next_run = rest
            .iter()
            .find(|n| n.status == Some(Status::Executing))
            .expect("each failure here is followed by another attempt");
        let gap = millis_between(failed_at, next_run.at.expect("history entries have times"));
        let floor = backoff.ceiling(failures).as_millis() as i64 / 2;
        println!(
            "failure {failures}: next attempt after {gap} ms (backoff floor {floor} ms, note {:?})",
            rest[0].note
        );
        assert!(
            gap >= floor - 5,
            "attempt {} started {gap} ms after failure {failures}, before the backoff floor of {floor} ms:\n{}",
            failures + 1,
            history(v)
        );
    }
    assert_eq!(failures, 2, "two failed attempts in the history");
    assert!(
        v.execution.logs.iter().any(|l| l.contains("boom")),
        "the failures' stderr is in the log: {:?}",
        v.execution.logs
    );
}

/// One agent alone: the task it just failed comes back to the queue (after
/// the backoff), and the same agent must pick it up again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retries_a_lone_agent_retries_the_task_it_just_failed() {
    let (cfg, store) = setup("retry-alone").await;
    let dir = tempfile::tempdir().expect("the system temp dir is writable");
    let d = dir.path().display();
    let handler =
        format!("echo $VAYU_ATTEMPT >> {d}/attempts; if [ $VAYU_ATTEMPT -lt 2 ]; then exit 3; fi");
    let fleet = Fleet::start(&cfg, vec![retry_agent("alone", &handler)]).await;
    let t = tasks::create(&store, research_task("second time lucky"))
        .await
        .expect("the emulator accepts a new task");
    let done = wait_task(
        &store,
        &t.task_id,
        Duration::from_secs(20),
        "completed",
        |v| v.value.status.is_terminal(),
    )
    .await;
    fleet.stop().await;
    println!("{}", describe(&done));
    assert_eq!(done.value.status, Status::Completed);
    assert_eq!(lines(&dir.path().join("attempts")), ["1", "2"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retries_a_handler_that_always_fails_ends_in_the_dead_letter() {
    let (cfg, store) = setup("retry-dead").await;
    let dir = tempfile::tempdir().expect("the system temp dir is writable");
    let d = dir.path().display();
    let handler = format!(
        "echo $VAYU_ATTEMPT >> {d}/attempts; \
         if [ -f {d}/fixed ]; then echo \"vayu:result fixed by hand\"; exit 0; fi; \
         echo \"fatal: disk on fire (attempt $VAYU_ATTEMPT)\" >&2; exit 42"
    );
    let fleet = Fleet::start(&cfg, vec![retry_agent("doomed", &handler)]).await;
    let mut new = research_task("never works");
    new.max_retries = Some(2);
    let t = tasks::create(&store, new)
        .await
        .expect("the emulator accepts a new task");
    let dead = wait_task(
        &store,
        &t.task_id,
        Duration::from_secs(30),
        "dead-lettered",
        |v| v.value.status.is_terminal(),
    )
    .await;
    println!("{}", describe(&dead));
    assert_eq!(dead.value.status, Status::Failed);
    assert_eq!(
        dead.pile,
        Pile::Completed,
        "the dead letter is in the completed pile"
    );
    let err = dead.value.execution.last_error.clone().unwrap_or_default();
    assert!(err.contains("42"), "the exit code is kept: {err:?}");
    assert!(
        err.contains("disk on fire"),
        "the handler's stderr is kept: {err:?}"
    );
    // 1 attempt + max_retries retries, and no more.
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(
        lines(&dir.path().join("attempts")),
        ["1", "2", "3"],
        "three attempts (max_retries 2), then no more"
    );
    assert_eq!(
        read_task(&store, &t.task_id).await.value.status,
        Status::Failed
    );

    // `vayu task retry` re-queues it with fresh retries.
    std::fs::write(dir.path().join("fixed"), "").expect("the test's temp dir is writable");
    let host = cfg
        .emulator_host
        .as_deref()
        .expect("setup() configures the emulator");
    let (code, out, err) = vayu_cli(
        host,
        &cfg.database_id,
        &["--json", "task", "retry", "--id", &t.task_id],
    )
    .await;
    assert_eq!(code, 0, "vayu task retry: {out}{err}");
    let again = wait_completed(&store, &t.task_id, Duration::from_secs(30)).await;
    fleet.stop().await;
    assert_eq!(
        again.value.execution.result.as_deref(),
        Some("fixed by hand")
    );
    assert_eq!(
        again.value.metadata.retry_count, 0,
        "a retried task starts with fresh retries"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timeout_kills_the_handlers_whole_process_group_and_fails_the_attempt() {
    let (cfg, store) = setup("timeout").await;
    let dir = tempfile::tempdir().expect("the system temp dir is writable");
    let d = dir.path().display();
    let handler = format!("echo $$ >> {d}/pids; sleep 30 & echo $! >> {d}/grandchildren; sleep 30");
    let fleet = Fleet::start(&cfg, vec![fast_agent("watchful", shell(&handler))]).await;
    let mut new = research_task("runs forever");
    new.timeout_secs = Some(1);
    new.max_retries = Some(1);
    let t = tasks::create(&store, new)
        .await
        .expect("the emulator accepts a new task");
    let dead = wait_task(&store, &t.task_id, Duration::from_secs(30), "failed", |v| {
        v.value.status.is_terminal()
    })
    .await;
    fleet.stop().await;
    println!("{}", describe(&dead));
    assert_eq!(dead.value.status, Status::Failed);
    let err = dead.value.execution.last_error.clone().unwrap_or_default();
    assert!(
        err.contains("timed out"),
        "the error says timed out: {err:?}"
    );
    let timeouts: Vec<_> = dead
        .value
        .history
        .iter()
        .filter(|h| {
            h.status == Some(Status::Failed)
                && h.note.as_deref().is_some_and(|n| n.contains("timed out"))
        })
        .collect();
    assert_eq!(
        timeouts.len(),
        2,
        "both attempts timed out:\n{}",
        history(&dead.value)
    );
    let mut runs = Vec::new();
    for (i, e) in dead.value.history.iter().enumerate() {
        if e.status == Some(Status::Executing)
            && let Some(end) = dead.value.history[i + 1..]
                .iter()
                .find(|n| n.status == Some(Status::Failed))
        {
            runs.push(millis_between(
                e.at.expect("history entries have times"),
                end.at.expect("history entries have times"),
            ));
        }
    }
    println!("attempt durations with timeout_secs 1: {runs:?} ms");

    let shells = pids(&dir.path().join("pids"));
    let grandchildren = pids(&dir.path().join("grandchildren"));
    assert_eq!(shells.len(), 2, "two attempts started");
    assert_eq!(grandchildren.len(), 2, "each started a background sleep");
    for pid in shells.iter().chain(&grandchildren) {
        assert!(
            wait_dead(*pid, Duration::from_secs(3)).await.is_some(),
            "process {pid} of a timed-out handler is still alive (shells {shells:?}, \
             grandchildren {grandchildren:?})"
        );
    }
}

/// A fast agent whose lease outlasts twice the emulator's 2 s lock wait.
/// A claim answered after half its lease is given back (never run on a
/// lease a peer may take), and on the emulator a retried task's claim
/// sometimes waits out that lock: with the 2 s lease of `fast_agent` these
/// tests then count one more attempt than the retries they are about.
fn retry_agent(id: &str, handler: &str) -> vayu::agent::AgentConfig {
    let mut c = fast_agent(id, shell(handler));
    c.lease = Duration::from_secs(5);
    c
}
