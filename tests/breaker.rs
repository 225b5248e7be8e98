//! Issue 16, the circuit breaker per task type: an always-failing handler
//! stops claiming its type after N failures in a row instead of draining
//! the queue into the dead letter; after a backoff one probe goes out; a
//! failed probe opens it again for longer; once the handler works, the
//! probe closes it and the rest of the queue runs.
//!
//! The checks are of what did *not* happen inside a window shorter than
//! the shortest backoff (a slow machine only claims less), never of how
//! fast something happened.

mod common;

use common::fleet::{Fleet, fast_agent, setup, shell};
use std::collections::HashMap;
use std::time::Duration;
use vayu::breaker::BreakerConfig;
use vayu::lifecycle::Status;
use vayu::model::{Priority, TaskType};
use vayu::retry::Backoff;
use vayu::store::Store;
use vayu::tasks::{self, NewTask};

const TASKS: usize = 8;
const THRESHOLD: u32 = 3;
/// The first open lasts 3..=6 s (jittered), the second 6..=12 s.
const BASE: Duration = Duration::from_secs(6);
/// Shorter than any open.
const QUIET: Duration = Duration::from_millis(1500);

/// The tasks `ids` as they stand.
async fn read_all(store: &Store, ids: &[String]) -> Vec<vayu::model::Task> {
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        let v = store
            .find_task(id)
            .await
            .expect("the emulator answers")
            .expect("the task exists");
        out.push(v.value);
    }
    out
}

async fn statuses(store: &Store, ids: &[String]) -> HashMap<&'static str, usize> {
    let mut out = HashMap::new();
    for t in read_all(store, ids).await {
        let key = match t.status {
            Status::Failed => "failed",
            Status::Completed => "completed",
            Status::Queued => "queued",
            _ => "other",
        };
        *out.entry(key).or_default() += 1;
    }
    out
}

async fn wait_for(store: &Store, ids: &[String], what: &'static str, n: usize, limit: Duration) {
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        let s = statuses(store, ids).await;
        if s.get(what).copied().unwrap_or(0) >= n {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "waited {limit:?} for {n} {what}; have {s:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The shortest first open: the base, less its jitter (half).
const SHORTEST_OPEN_MS: i64 = 3_000;

/// When each failed task failed, in order.
async fn failure_times(store: &Store, ids: &[String]) -> Vec<vayu::model::Time> {
    let mut out: Vec<_> = (read_all(store, ids).await.into_iter())
        .filter(|t| t.status == Status::Failed)
        .map(|t| t.execution.finished_at.expect("a failed task has ended"))
        .collect();
    out.sort();
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_always_failing_handler_stops_claiming_probes_and_recovers() {
    let (cfg, store) = setup("breaker").await;
    let dir = tempfile::tempdir().expect("the system temp dir is writable");
    let fixed = dir.path().join("fixed");
    let handler = format!(
        "if [ -e '{}' ]; then echo vayu:result ok; else echo 'broken handler' >&2; exit 1; fi",
        fixed.display()
    );
    let mut agent = fast_agent("breaker", shell(&handler));
    agent.concurrency = 1;
    agent.breaker = BreakerConfig {
        threshold: THRESHOLD,
        backoff: Backoff {
            base: BASE,
            cap: BASE * 4,
        },
    };
    let mut ids = Vec::new();
    for i in 0..TASKS {
        let mut new = NewTask::new(TaskType::Research, Priority::Normal, format!("t{i}"));
        new.max_retries = Some(0);
        ids.push(tasks::create(&store, new).await.expect("created").task_id);
    }
    let fleet = Fleet::start(&cfg, vec![agent]).await;
    // Open: three failures, then no claim for the shortest open (judged
    // by the failures' own times: a loaded machine may notice the third
    // failure late, and then see the probe's too).
    wait_for(
        &store,
        &ids,
        "failed",
        THRESHOLD as usize,
        Duration::from_secs(30),
    )
    .await;
    tokio::time::sleep(QUIET).await;
    let times = failure_times(&store, &ids).await;
    let third = times[THRESHOLD as usize - 1];
    if let Some(probe) = times.get(THRESHOLD as usize) {
        assert!(
            vayu::model::millis_between(third, *probe) >= SHORTEST_OPEN_MS,
            "a claim while the breaker was open: failures at {times:?}"
        );
    }

    // Half-open: one probe, which fails; open again, for longer (at
    // least the first open's base).
    wait_for(
        &store,
        &ids,
        "failed",
        THRESHOLD as usize + 1,
        Duration::from_secs(30),
    )
    .await;
    tokio::time::sleep(QUIET).await;
    let times = failure_times(&store, &ids).await;
    let probe = times[THRESHOLD as usize];
    if let Some(next) = times.get(THRESHOLD as usize + 1) {
        assert!(
            vayu::model::millis_between(probe, *next) >= BASE.as_millis() as i64,
            "exactly one probe per open: failures at {times:?}"
        );
    }

    // The handler is fixed: the next probe closes the breaker and the
    // rest of the queue runs.
    std::fs::write(&fixed, "").expect("the temp dir is writable");
    let failed = times.len();
    let rest = TASKS - failed;
    wait_for(&store, &ids, "completed", rest, Duration::from_secs(60)).await;
    let s = statuses(&store, &ids).await;
    assert_eq!(s.get("failed"), Some(&failed), "{s:?}");
    fleet.stop().await;
}
