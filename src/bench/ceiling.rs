//! The ceiling mode: the emulator's raw rate for vayu's commits per task,
//! with no queue logic.
//!
//! Each task is the three commits of vayu's lifecycle with the same
//! document and the same preconditions: create in the queued pile (1
//! write), move to the active pile (delete + create, 2 writes), move to
//! the completed pile (2 writes). No listener, no choice of task, no
//! handler: `N × concurrency` workers (vayu's task slots) each take the
//! next task number and commit its three steps back to back. Nothing a
//! queue on this emulator does per task can be cheaper.
//!
//! A second run, [`run_listened`], makes the same commits while N idle
//! listeners watch the queued pile, split into lanes as N agents would
//! split it. It measures what the emulator charges a commit for every
//! listener on the collection (it re-evaluates each listener's query,
//! scanning every document with the collection id, on every commit): the
//! ceiling of any design in which agents learn of work by listening.

use super::stats::{CpuMeter, CpuUse};
use super::vayu::{PerTask, bench_task};
use super::{Ctx, progress::Progress};
use crate::error::{Error, Result};
use crate::lifecycle::Status;
use crate::metrics::{OpCounters, OpSnapshot};
use crate::model::now;
use crate::store::{Precondition, Store, Versioned};
use serde::Serialize;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Instant;

#[derive(Debug, Clone, Serialize)]
pub struct CeilingReport {
    pub workers: usize,
    /// Idle listeners on the queued pile during the run.
    pub listeners: usize,
    pub tasks: usize,
    pub completed: u64,
    pub wall_s: f64,
    pub throughput: f64,
    /// Commits per second (three per task).
    pub commits_per_s: f64,
    pub ops: OpSnapshot,
    pub per_task: PerTask,
    pub cpu: CpuUse,
}

pub async fn run(ctx: &Ctx) -> Result<CeilingReport> {
    run_with(ctx, 0).await
}

/// The same commits while `ctx.args.agents` listeners watch the queued
/// pile, each on the lanes one of N agents would own, with an agent's
/// initial window. Their documents are received and dropped.
pub async fn run_listened(ctx: &Ctx) -> Result<CeilingReport> {
    run_with(ctx, ctx.args.agents).await
}

async fn run_with(ctx: &Ctx, listeners: usize) -> Result<CeilingReport> {
    let m = ctx.args.tasks;
    let workers = (ctx.args.agents * ctx.args.concurrency).min(m);
    let db = ctx.fresh_db("ceiling");
    let counters = Arc::new(OpCounters::default());
    // One connection per agent, as in the vayu mode.
    let mut stores = Vec::new();
    for _ in 0..ctx.args.agents {
        stores.push(ctx.connect(&db, &counters).await?);
    }
    let ids: Vec<String> = (0..listeners).map(|i| format!("listener-{i:02}")).collect();
    let mut watching = Vec::new();
    for (i, id) in ids.iter().enumerate() {
        let store = &stores[i % stores.len()];
        let spec = crate::agent::queue_window(
            store.name(&crate::layout::Pile::Queued.parent()),
            crate::agent::QueueView::All,
            &crate::lanes::owned(id, &ids),
            (4 * ctx.args.concurrency as i32).max(64),
        );
        let (listener, mut events) =
            crate::listen::Listener::spawn(store.db().clone(), spec, counters.clone(), 1024);
        let drain = tokio::spawn(async move { while events.recv().await.is_some() {} });
        watching.push((listener, drain));
    }
    // Let the listeners open before the clock starts.
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let next = Arc::new(AtomicUsize::new(0));
    let done = Arc::new(AtomicU64::new(0));
    let progress = {
        let done = done.clone();
        Progress::start(
            format!("ceiling W={workers} L={listeners}"),
            m as u64,
            move || done.load(Ordering::Relaxed),
            ctx.show_progress,
        )
    };
    let cpu = CpuMeter::start(ctx.jvm_pid);
    let started = Instant::now();
    let mut set = tokio::task::JoinSet::new();
    for w in 0..workers {
        let (store, next, done) = (stores[w % stores.len()].clone(), next.clone(), done.clone());
        set.spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= m {
                    return Ok::<(), Error>(());
                }
                lifecycle(&store, i).await?;
                done.fetch_add(1, Ordering::Relaxed);
            }
        });
    }
    let mut result = Ok(());
    while let Some(j) = set.join_next().await {
        let r = j
            .map_err(|e| Error::Firestore(format!("a ceiling worker panicked: {e}")))
            .and_then(|r| r);
        if r.is_err() && result.is_ok() {
            result = r;
        }
    }
    let wall_s = started.elapsed().as_secs_f64();
    let cpu = cpu.stop();
    for (listener, drain) in watching {
        listener.shutdown().await;
        drain.abort();
    }
    progress.finish().await;
    result?;
    let completed = done.load(Ordering::Relaxed);
    let ops = counters.snapshot();
    Ok(CeilingReport {
        workers,
        listeners,
        tasks: m,
        completed,
        wall_s,
        throughput: completed as f64 / wall_s,
        commits_per_s: ops.commits as f64 / wall_s,
        ops,
        per_task: PerTask::of(&ops, completed),
        cpu,
    })
}

/// vayu's three commits for one task, unconditionally in a row.
async fn lifecycle(store: &Store, i: usize) -> Result<()> {
    let task = bench_task(i, "ceiling").into_task();
    let create = store.task_write(&task, Precondition::Missing, true)?;
    let resp = store.commit(vec![create]).await?;
    let seen = Versioned {
        pile: crate::layout::Pile::Queued,
        update_time: resp
            .write_results
            .first()
            .and_then(|r| r.update_time)
            .or(resp.commit_time)
            .unwrap_or_default(),
        value: task,
    };
    let mut claimed = seen.value.clone();
    claimed.status = Status::Executing;
    claimed.assignment.assigned_at = Some(now());
    let active = store
        .replace_task(
            &seen,
            &claimed,
            &[Status::Assigned, Status::Executing],
            vec![],
        )
        .await?;
    let mut finished = active.value.clone();
    finished.status = Status::Completed;
    finished.execution.finished_at = Some(now());
    store
        .replace_task(&active, &finished, &[Status::Completed], vec![])
        .await?;
    Ok(())
}
