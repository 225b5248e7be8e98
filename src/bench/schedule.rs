//! The schedule mode: what a schedule's tick costs (issue 13, "operations
//! per tick").
//!
//! One schedule, `* * * * *`, evaluated by N evaluators, each with its own
//! connection and its own listener view ([`Ticker`]), as N agents run
//! them: each owns the lanes [`crate::lanes::owned`] gives it, so the
//! owner of the schedule's lane evaluates at the clock's time and the
//! others [`crate::schedules::DEFER`] behind. The clock is a
//! [`ManualClock`] moved a minute per tick, so K ticks take seconds, not K
//! minutes; the schedule's cursor starts K + 1 minutes in the past so that
//! every tick is one the server has already lived through.
//!
//! Each tick must create exactly one task (`{schedule}-{stamp}`): the
//! tasks are counted at the end, by id and in all, and any beyond one a
//! tick reported as duplicates. No agent runs them.

use super::Ctx;
use super::progress::Progress;
use super::vayu::{bench_task, count};
use crate::cron::{CatchUp, tick_task_id};
use crate::error::{Error, Result};
use crate::layout::Pile;
use crate::metrics::{OpCounters, OpSnapshot};
use crate::model::Time;
use crate::schedules::{self, ManualClock, NewSchedule, Ticker};
use crate::store::Store;
use jiff::{SignedDuration, Timestamp};
use serde::Serialize;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// The schedule's id.
const SCHEDULE: &str = "bench-every-minute";

#[derive(Debug, Clone, Serialize)]
pub struct ScheduleReport {
    pub evaluators: usize,
    pub ticks: usize,
    /// Tasks in the database at the end (every pile).
    pub tasks_created: u64,
    /// Ticks whose task exists.
    pub ticks_with_task: u64,
    /// Tasks beyond one per tick.
    pub duplicates: u64,
    /// Ticks whose cursor move the evaluators' views did not show within
    /// 30 s (the bench moved on).
    pub stalled_ticks: u64,
    pub wall_s: f64,
    pub ops: OpSnapshot,
    /// Per tick, over all evaluators.
    pub reads_per_tick: f64,
    pub commits_per_tick: f64,
    pub writes_per_tick: f64,
    /// Commits refused (another evaluator moved the cursor first).
    pub refused_per_tick: f64,
}

/// `t + d`, or a configuration error at the ends of time (which a run
/// started this century does not reach).
fn shift(t: Timestamp, d: SignedDuration) -> Result<Timestamp> {
    t.checked_add(d)
        .map_err(|e| Error::Config(format!("a tick out of range: {e}")))
}

/// Waits until every view shows the schedule's cursor at `at`; `false`
/// after 30 s.
async fn views_at(tickers: &[Ticker], at: Timestamp) -> bool {
    let deadline = Instant::now() + Duration::from_secs(30);
    for t in tickers {
        loop {
            let cursor = (t.view().schedules().iter())
                .find(|s| s.schedule.schedule_id == SCHEDULE)
                .and_then(|s| s.schedule.last_tick);
            if cursor.is_some_and(|c| c.0 >= at) {
                break;
            }
            if Instant::now() > deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    true
}

pub async fn run(ctx: &Ctx) -> Result<ScheduleReport> {
    let (n, k) = (ctx.args.agents, ctx.args.ticks);
    let db = ctx.fresh_db("schedule");
    let admin = Store::connect(&ctx.store_config(&db)).await?;
    let new = NewSchedule {
        id: Some(SCHEDULE.into()),
        cron: "* * * * *".into(),
        tz: "UTC".into(),
        catch_up: CatchUp::One,
        task: bench_task(0, "schedule"),
    };
    schedules::create(&admin, new).await?;
    let now = Timestamp::now().as_second();
    let minute = |m: i64| {
        Timestamp::from_second(now - now.rem_euclid(60) + 60 * m)
            .map_err(|e| Error::Config(format!("a tick out of range: {e}")))
    };
    let start = minute(-(k as i64) - 1)?;
    let seen = schedules::find(&admin, SCHEDULE).await?;
    let rewind = schedules::cursor_write(&admin, SCHEDULE, Time(start), None, seen.update_time);
    admin.commit(vec![rewind]).await?;

    let counters = Arc::new(OpCounters::default());
    let ids: Vec<String> = (0..n).map(|i| format!("bench-eval-{:02}", i + 1)).collect();
    let mut stores = Vec::with_capacity(n);
    let mut tickers = Vec::with_capacity(n);
    for _ in 0..n {
        let store = ctx.connect(&db, &counters).await?;
        tickers.push(Ticker::start(&store));
        stores.push(store);
    }
    if !views_at(&tickers, start).await {
        return Err(Error::Firestore(
            "the evaluators' views never showed the schedule".into(),
        ));
    }
    let lanes: Vec<Vec<i64>> = ids.iter().map(|id| crate::lanes::owned(id, &ids)).collect();
    let clock = ManualClock::new(shift(start, SignedDuration::from_secs(10))?);
    let done = Arc::new(AtomicU64::new(0));
    let progress = {
        let done = done.clone();
        Progress::start(
            format!("schedule N={n}"),
            k as u64,
            move || done.load(Ordering::Relaxed),
            ctx.show_progress,
        )
    };
    let before = counters.snapshot();
    let started = Instant::now();
    let mut stalled = 0;
    for _ in 0..k {
        clock.advance(SignedDuration::from_mins(1));
        let now = clock.now();
        let evaluations = (stores.iter().zip(&tickers).zip(&lanes)).map(|((s, t), l)| {
            let (store, view) = (s.clone(), t.view().clone());
            async move { schedules::evaluate(&store, &view, now, l).await }
        });
        futures::future::join_all(evaluations).await;
        let tick = shift(now, SignedDuration::from_secs(-10))?;
        if !views_at(&tickers, tick).await {
            stalled += 1;
        }
        done.fetch_add(1, Ordering::Relaxed);
    }
    let wall_s = started.elapsed().as_secs_f64();
    let ops = counters.snapshot().since(&before);
    progress.finish().await;
    drop(tickers);

    let tick_ids: Vec<String> = (1..=k as i64)
        .map(|i| minute(-(k as i64) - 1 + i).map(|t| tick_task_id(SCHEDULE, t)))
        .collect::<Result<_>>()?;
    let found = admin.find_tasks(&tick_ids).await?;
    let ticks_with_task = found.iter().filter(|f| f.is_some()).count() as u64;
    let mut tasks_created = 0;
    for pile in [Pile::Queued, Pile::Active, Pile::Completed] {
        tasks_created += count(&admin, pile).await?;
    }
    let per = |x: u64| (x as f64 / k.max(1) as f64 * 100.0).round() / 100.0;
    Ok(ScheduleReport {
        evaluators: n,
        ticks: k,
        tasks_created,
        ticks_with_task,
        duplicates: tasks_created.saturating_sub(ticks_with_task),
        stalled_ticks: stalled,
        wall_s,
        reads_per_tick: per(ops.polling_reads + ops.listener_reads),
        commits_per_tick: per(ops.commits),
        writes_per_tick: per(ops.writes),
        refused_per_tick: per(ops.precondition_failures),
        ops,
    })
}
