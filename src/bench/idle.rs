//! The idle fleet: what agents cost while there is nothing to do, and how
//! fast an idle fleet notices a new task.

use super::Ctx;
use super::stats::Percentiles;
use super::vayu::{Fleet, bench_task, completed_tasks, micros, wait_completed};
use crate::error::Result;
use crate::metrics::{OpCounters, OpSnapshot};
use crate::store::Store;
use crate::tasks;
use serde::Serialize;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::{Duration, Instant};

/// Reads while agents are idle, and created → claimed with an idle fleet.
#[derive(Debug, Clone, Serialize)]
pub struct IdleReport {
    pub agents: usize,
    pub window_s: f64,
    /// Every operation the idle agents made during the window.
    pub window: OpSnapshot,
    pub samples: usize,
    pub completed: usize,
    /// Created (server time) → claim committed (server time), from the
    /// agents' reports. Whole milliseconds.
    pub claim_ms: Option<Percentiles>,
    /// Created (server time) → the winning agent sent its claim, from the
    /// task documents; microsecond precision, excludes the claim commit.
    pub noticed_ms: Option<Percentiles>,
    /// Claim races lost by the other agents, and how long losing took.
    pub lost_races: u64,
    pub lost_race_ms: Option<Percentiles>,
}

/// Returns once `counters` have shown no polling read for 2 s, or after
/// 30 s.
async fn settle(counters: &OpCounters) {
    let give_up = Instant::now() + Duration::from_secs(30);
    let mut last = counters.snapshot().polling_reads;
    let mut quiet_since = Instant::now();
    while quiet_since.elapsed() < Duration::from_secs(2) && Instant::now() < give_up {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let now = counters.snapshot().polling_reads;
        if now != last {
            (last, quiet_since) = (now, Instant::now());
        }
    }
}

/// Starts an idle fleet, counts its operations over a quiet window, then
/// creates tasks one at a time and measures how fast they are claimed.
pub async fn idle(ctx: &Ctx) -> Result<IdleReport> {
    let db = ctx.fresh_db("idle");
    let counters = Arc::new(OpCounters::default());
    let observer = Store::connect(&ctx.store_config(&db)).await?;
    let (handler, _) = ctx.handler("idle");
    let fleet = Fleet::start(ctx, &db, &counters, &handler, &observer).await?;
    // Startup reads (each agent's recovery query, initial snapshots) are
    // over: an agent counts as registered before it makes them, and with
    // 8 or more agents starting on 2 cores the last ones fell into the
    // window. Wait until no polling read has come for 2 s (at most 30 s).
    settle(&counters).await;
    let before = counters.snapshot();
    let window = Duration::from_secs(ctx.args.idle_window_secs);
    let started = Instant::now();
    tokio::time::sleep(window).await;
    let window_ops = counters.snapshot().since(&before);
    let window_s = started.elapsed().as_secs_f64();

    // One task at a time, spaced well beyond how long one takes, so every
    // task meets a fleet that is idle again.
    let creator = Store::connect(&ctx.store_config(&db)).await?;
    let mut ids = Vec::new();
    for i in 0..ctx.args.idle_samples {
        let t = tasks::create(&creator, bench_task(i, "idle")).await?;
        ids.push(t.task_id);
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let done = wait_completed(
        &observer,
        ids.len() as u64,
        None,
        &AtomicU64::new(0),
        Instant::now() + Duration::from_secs(120),
    )
    .await?;
    let reports = fleet.stop().await?;
    let docs = completed_tasks(&observer).await?;
    let noticed: Vec<f64> = docs
        .iter()
        .filter_map(|t| Some(micros(t.created_at?, t.assignment.assigned_at?) / 1000.0))
        .collect();
    let claim: Vec<f64> = reports
        .iter()
        .flat_map(|r| r.claim_latencies_ms.iter().map(|&ms| ms as f64))
        .collect();
    let lost: Vec<f64> = reports.iter().flat_map(|r| r.conflict_ms.clone()).collect();
    Ok(IdleReport {
        agents: ctx.args.agents,
        window_s,
        window: window_ops,
        samples: ids.len(),
        completed: done as usize,
        claim_ms: Percentiles::of(&claim),
        noticed_ms: Percentiles::of(&noticed),
        lost_races: reports.iter().map(|r| r.claim_conflicts).sum(),
        lost_race_ms: Percentiles::of(&lost),
    })
}
