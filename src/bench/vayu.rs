//! The vayu mode: the daemon's own loop ([`crate::agent::run`]) in N
//! in-process agents, each with its own connection, all counting into one
//! [`OpCounters`].
//!
//! Two phases, each on its own fresh database and fleet:
//! - [`idle`]: agents sit idle; every operation in a quiet window is
//!   counted (there must be no polling reads), then tasks are created one
//!   at a time, spaced out, for the created → claimed latency of an idle
//!   fleet;
//! - [`load`]: a producer creates M tasks through [`crate::tasks::create`]
//!   (the CLI's code path: [`crate::tasks::NewTask::into_task`], then
//!   [`Store::create_task`]) while the agents claim, run and complete them.

use super::rank::RankError;
use super::stats::{CpuMeter, CpuUse, Percentiles};
use super::{Ctx, ProduceReport, count_runs, produce, runs_so_far};
use crate::agent::{self, AgentConfig, AgentReport, Handlers};
use crate::error::{Error, Result};
use crate::layout::Pile;
use crate::lifecycle::Status;
use crate::metrics::{OpCounters, OpSnapshot};
use crate::model::{Priority, Task, TaskType, Time};
use crate::store::Store;
use crate::tasks::NewTask;
use serde::Serialize;
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub use super::idle::{IdleReport, idle};
pub use super::rank::mixed_task;
pub use super::stats::PerTask;

/// N agents running [`agent::run`] in this process, stopped together.
pub struct Fleet {
    stop: watch::Sender<bool>,
    agents: Vec<JoinHandle<Result<AgentReport>>>,
}

impl Fleet {
    /// Starts `n` agents on `database`, each with its own connection, and
    /// returns once every agent has registered.
    pub async fn start(
        ctx: &Ctx,
        database: &str,
        counters: &Arc<OpCounters>,
        handler: &str,
        observer: &Store,
    ) -> Result<Fleet> {
        let n = ctx.args.agents;
        let (stop, rx) = watch::channel(false);
        let mut agents = Vec::with_capacity(n);
        for i in 0..n {
            let mut cfg = AgentConfig::new(
                format!("bench-agent-{:02}", i + 1),
                Handlers {
                    default: Some(handler.to_string()),
                    ..Handlers::default()
                },
            );
            cfg.concurrency = ctx.args.concurrency;
            let store = ctx.connect(database, counters).await?;
            let mut rx = rx.clone();
            agents.push(tokio::spawn(agent::run(store, cfg, async move {
                // A dropped sender also means stop.
                let _ = rx.wait_for(|s| *s).await;
            })));
        }
        let fleet = Fleet { stop, agents };
        // Registered agents have their listeners opening; the settle time
        // lets them deliver their (empty) initial snapshots.
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if observer.list_agents().await?.len() >= n {
                break;
            }
            if let Some(a) = fleet.agents.iter().find(|a| a.is_finished()) {
                let _ = a;
                return Err(Error::Firestore(
                    "an agent stopped while starting (see the log)".into(),
                ));
            }
            if Instant::now() > deadline {
                return Err(Error::Firestore(format!(
                    "{n} agents did not all register within 60 s"
                )));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
        Ok(fleet)
    }

    /// Stops every agent gracefully and returns their reports.
    pub async fn stop(self) -> Result<Vec<AgentReport>> {
        let _ = self.stop.send(true);
        let mut out = Vec::with_capacity(self.agents.len());
        for a in self.agents {
            out.push(
                a.await
                    .map_err(|e| Error::Firestore(format!("an agent panicked: {e}")))??,
            );
        }
        Ok(out)
    }
}

/// The vayu mode under load.
#[derive(Debug, Clone, Serialize)]
pub struct VayuReport {
    pub agents: usize,
    pub concurrency: usize,
    pub tasks: usize,
    /// From the first task's creation to the last completion (server times).
    pub wall_s: f64,
    /// Completed tasks per second of `wall_s`.
    pub throughput: f64,
    /// Stopped at the time limit before every task completed; the
    /// throughput is the rate so far.
    pub stopped_at_limit: bool,
    pub limit_s: f64,
    pub produce: ProduceReport,
    pub completed: u64,
    pub lost: u64,
    /// Handler executions beyond one per task.
    pub duplicates: u64,
    pub handler_runs: u64,
    /// Tasks left in the queued / active piles at the end.
    pub left_queued: u64,
    pub left_active: u64,
    /// Created → claim committed (server times, whole ms), agents' reports.
    pub claim_ms: Option<Percentiles>,
    /// Claim sent → completion committed, from the task documents.
    pub run_ms: Option<Percentiles>,
    pub ops: OpSnapshot,
    pub per_task: PerTask,
    pub lost_races: u64,
    /// Higher-ranked queued tasks passed over by each claim.
    pub rank_error: Option<RankError>,
    pub outcomes: HashMap<&'static str, u64>,
    pub cpu: CpuUse,
}

/// Runs the load phase: a fresh fleet, M tasks, until all are completed
/// (or nothing has moved for a minute).
pub async fn load(ctx: &Ctx) -> Result<VayuReport> {
    let m = ctx.args.tasks;
    let db = ctx.fresh_db("vayu");
    let counters = Arc::new(OpCounters::default());
    let observer = Store::connect(&ctx.store_config(&db)).await?;
    let (handler, runs_file) = ctx.handler("vayu");
    if let Some(f) = &runs_file {
        let _ = std::fs::remove_file(f);
    }
    let fleet = Fleet::start(ctx, &db, &counters, &handler, &observer).await?;
    let creator = ctx.connect(&db, &counters).await?;

    let before = counters.snapshot();
    let cpu = CpuMeter::start(ctx.jvm_pid);
    let started = Instant::now();
    let stop = Arc::new(AtomicBool::new(false));
    // Each task is made once, so that a create retried after an answer
    // that never came (a timeout) cannot make a second task: the retry
    // finds its own task there (a conflict) and counts it created.
    let to_create: Arc<Vec<Task>> = Arc::new(
        (0..m)
            .map(|i| mixed_task(i, "load", ctx.args.mix).into_task())
            .collect(),
    );
    let producer = tokio::spawn(produce(m, ctx.args.producers, stop.clone(), {
        move |i| {
            let (creator, to_create) = (creator.clone(), to_create.clone());
            async move {
                match creator.create_task(&to_create[i]).await {
                    Err(e) if e.is_conflict() => Ok(()),
                    r => r,
                }
            }
        }
    }));

    let counted = Arc::new(AtomicU64::new(0));
    let progress = {
        let (file, counted) = (runs_file.clone(), counted.clone());
        super::progress::Progress::start(
            format!("vayu N={}", ctx.args.agents),
            m as u64,
            move || match &file {
                Some(f) => runs_so_far(f),
                None => counted.load(Ordering::Relaxed),
            },
            ctx.show_progress,
        )
    };
    let limit = Duration::from_secs(ctx.args.limit_secs);
    let done = wait_completed(
        &observer,
        m as u64,
        runs_file.as_deref(),
        &counted,
        started + limit,
    )
    .await;
    let detected = started.elapsed().as_secs_f64();
    let ops = counters.snapshot().since(&before);
    let cpu = cpu.stop();
    progress.finish().await;
    stop.store(true, Ordering::Relaxed);
    let produced = producer
        .await
        .map_err(|e| Error::Firestore(format!("the producer panicked: {e}")))??;
    let reports = fleet.stop().await?;
    done?;

    let docs = completed_tasks(&observer).await?;
    let completed = docs
        .iter()
        .filter(|t| t.status == Status::Completed)
        .count() as u64;
    let first_created = docs.iter().filter_map(|t| t.created_at).min();
    let last_done = docs.iter().filter_map(|t| t.updated_at).max();
    let stopped_at_limit = completed < m as u64 && detected >= limit.as_secs_f64();
    let wall_s = match (first_created, last_done) {
        (Some(a), Some(b)) if completed == m as u64 => micros(a, b) / 1e6,
        _ => detected,
    };
    let lost = produced.created.saturating_sub(completed);
    let left_queued = count(&observer, Pile::Queued).await?;
    let lost = lost.saturating_sub(left_queued);
    let left_active = count(&observer, Pile::Active).await?;
    // Tasks still waiting at the end were passed over by every claim
    // after their creation: they count too.
    let mut ranked = docs.clone();
    for pile in [Pile::Queued, Pile::Active] {
        let more = observer.list_pile(pile, None, None).await?;
        ranked.extend(more.into_iter().filter_map(|r| r.ok().map(|v| v.value)));
    }
    let run_ms: Vec<f64> = docs
        .iter()
        .filter_map(|t| Some(micros(t.assignment.assigned_at?, t.updated_at?) / 1000.0))
        .collect();
    let claim_ms: Vec<f64> = reports
        .iter()
        .flat_map(|r| r.claim_latencies_ms.iter().map(|&ms| ms as f64))
        .collect();
    let claimed: u64 = reports.iter().map(|r| r.claimed).sum();
    let (handler_runs, distinct) = match &runs_file {
        Some(f) => count_runs(f),
        None => (claimed, completed.min(claimed)),
    };
    let mut outcomes = HashMap::new();
    for r in &reports {
        for (k, v) in &r.outcomes {
            *outcomes.entry(*k).or_insert(0) += v;
        }
    }
    Ok(VayuReport {
        agents: ctx.args.agents,
        concurrency: ctx.args.concurrency,
        tasks: m,
        wall_s,
        throughput: completed as f64 / wall_s.max(1e-9),
        stopped_at_limit,
        limit_s: limit.as_secs_f64(),
        produce: produced,
        completed,
        // Tasks never created (stopped early) or still queued were not
        // lost; anything else not completed was.
        lost,
        duplicates: handler_runs.saturating_sub(distinct),
        handler_runs,
        left_queued,
        left_active,
        claim_ms: Percentiles::of(&claim_ms),
        run_ms: Percentiles::of(&run_ms),
        ops,
        per_task: PerTask::of(&ops, completed),
        lost_races: reports.iter().map(|r| r.claim_conflicts).sum(),
        rank_error: RankError::of_tasks(&ranked),
        outcomes,
        cpu,
    })
}

/// A benchmark task: normal priority, no requirements, like a plain
/// `vayu task create`.
pub fn bench_task(i: usize, phase: &str) -> NewTask {
    NewTask::new(
        TaskType::UserRequest,
        Priority::Normal,
        format!("bench {phase} task {i}"),
    )
}

/// Microseconds from `a` to `b`.
pub fn micros(a: Time, b: Time) -> f64 {
    (b.0.as_microsecond() - a.0.as_microsecond()) as f64
}

/// Waits until `m` tasks are in the completed pile. Counting scans the
/// whole pile on the emulator, so when the handler logs its runs the wait
/// counts only once the log says all ran. Gives up when nothing has moved
/// for a minute (a lost task), returning how many it saw.
pub(super) async fn wait_completed(
    observer: &Store,
    m: u64,
    runs_file: Option<&std::path::Path>,
    counted: &AtomicU64,
    deadline: Instant,
) -> Result<u64> {
    let mut last_seen = (0, 0);
    let mut last_change = Instant::now();
    let mut last_count = Instant::now() - Duration::from_secs(10);
    loop {
        tokio::time::sleep(Duration::from_millis(50)).await;
        if Instant::now() >= deadline {
            let n = count(observer, Pile::Completed).await?;
            counted.store(n, Ordering::Relaxed);
            return Ok(n);
        }
        let runs = runs_file.map(runs_so_far);
        let should_count = match runs {
            Some(r) => r >= m || last_count.elapsed() > Duration::from_secs(5),
            None => last_count.elapsed() > Duration::from_secs(1),
        };
        let mut n = counted.load(Ordering::Relaxed);
        if should_count {
            n = count(observer, Pile::Completed).await?;
            counted.store(n, Ordering::Relaxed);
            last_count = Instant::now();
            if n >= m {
                return Ok(n);
            }
        }
        let seen = (runs.unwrap_or(0), n);
        if seen != last_seen {
            last_seen = seen;
            last_change = Instant::now();
        } else if last_change.elapsed() > Duration::from_secs(60) {
            tracing::warn!(completed = n, of = m, "no progress for 60 s; giving up");
            return Ok(n);
        }
    }
}

/// Documents in `pile`, counted by the server (an aggregation query).
pub async fn count(store: &Store, pile: Pile) -> Result<u64> {
    let n = store
        .count(&pile.parent(), pile.collection_id(), None, None)
        .await?;
    Ok(n.max(0) as u64)
}

/// Every task in the completed pile, parsed.
pub(super) async fn completed_tasks(observer: &Store) -> Result<Vec<Task>> {
    Ok(observer
        .list_pile(Pile::Completed, None, None)
        .await?
        .into_iter()
        .filter_map(|r| r.ok().map(|v| v.value))
        .collect())
}
