//! The dag mode: what a DAG of dependent tasks costs vayu (issue 13).
//!
//! On a fresh database, one person creates `levels × width` tasks through
//! [`crate::tasks::create`] (the CLI's path, `--after`): level 0 queued,
//! every later task after two of the level before (task i after tasks i
//! and i + 1, wrapping), the shape of `tests/deps_cost.rs`. Then N
//! in-process agents run it to the end. Both phases' operations are
//! counted apart, and the run's are divided by the unblocks (tasks that
//! went blocked → queued), the unit the dependency machinery works in.
//!
//! Order is checked from the tasks' histories, not trusted: every task
//! must have been claimed after each of its dependencies completed. A
//! violation is counted and reported, never a panic: the bench reports.

use super::Ctx;
use super::vayu::{Fleet, bench_task, completed_tasks, micros, wait_completed};
use super::{count_runs, progress::Progress, runs_so_far};
use crate::error::Result;
use crate::lifecycle::Status;
use crate::metrics::{OpCounters, OpSnapshot};
use crate::model::{Task, Time};
use crate::store::Store;
use serde::Serialize;
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::{Duration, Instant};

/// The indices, in the level before, of what task `i` of a level `width`
/// wide waits for: `i` and `i + 1` (wrapping), once each (a level one
/// wide has one dependency).
pub fn dag_deps(i: usize, width: usize) -> Vec<usize> {
    let mut deps = vec![i, (i + 1) % width];
    deps.dedup();
    deps
}

/// The edges of a DAG of `levels × width` tasks.
pub fn dag_edges(levels: usize, width: usize) -> usize {
    levels.saturating_sub(1) * (0..width).map(|i| dag_deps(i, width).len()).sum::<usize>()
}

/// When a task was claimed (its first `assigned` history entry) and when
/// it completed (its last `completed` entry).
fn started(t: &Task) -> Option<Time> {
    (t.history.iter())
        .find(|h| h.status == Some(Status::Assigned))
        .and_then(|h| h.at)
}

fn completed_at(t: &Task) -> Option<Time> {
    (t.history.iter())
        .rfind(|h| h.status == Some(Status::Completed))
        .and_then(|h| h.at)
}

/// Checks every dependency edge of `tasks` (by id): (violations,
/// unchecked). A violation is a task claimed before a dependency
/// completed; an edge whose times are missing from the histories (a task
/// not found, never claimed, never completed) is unchecked.
pub fn order_violations(tasks: &HashMap<String, Task>) -> (u64, u64) {
    let (mut violations, mut unchecked) = (0, 0);
    for t in tasks.values() {
        for dep in &t.dependencies.blocked_by {
            match (started(t), tasks.get(dep).and_then(completed_at)) {
                (Some(s), Some(d)) if s < d => violations += 1,
                (Some(_), Some(_)) => {}
                _ => unchecked += 1,
            }
        }
    }
    (violations, unchecked)
}

/// Operations of one phase, with its wall time.
#[derive(Debug, Clone, Serialize)]
pub struct Phase {
    pub wall_s: f64,
    pub ops: OpSnapshot,
    /// Polling plus listener reads.
    pub reads: u64,
}

impl Phase {
    fn of(wall_s: f64, ops: OpSnapshot) -> Phase {
        Phase {
            wall_s,
            ops,
            reads: ops.polling_reads + ops.listener_reads,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct DagReport {
    pub agents: usize,
    pub levels: usize,
    pub width: usize,
    pub tasks: usize,
    pub edges: usize,
    pub create: Phase,
    pub run: Phase,
    pub completed: u64,
    /// Tasks that went blocked → queued (a `queued` entry in the history
    /// of a task with dependencies).
    pub unblocked: u64,
    /// The run's commits and reads (the agents' start and heartbeats
    /// included) divided by `unblocked`: everything it took to move the DAG along, per unblock.
    pub commits_per_unblock: f64,
    pub reads_per_unblock: f64,
    /// Tasks claimed before one of their dependencies completed (must be 0).
    pub order_violations: u64,
    /// Dependency edges whose times the histories did not have.
    pub unchecked_edges: u64,
    pub duplicates: u64,
    /// Stopped at `--limit-secs` before every task completed.
    pub stopped_at_limit: bool,
}

pub async fn run(ctx: &Ctx) -> Result<DagReport> {
    let (levels, width) = (ctx.args.dag_levels, ctx.args.dag_width);
    let m = levels * width;
    let db = ctx.fresh_db("dag");
    let observer = Store::connect(&ctx.store_config(&db)).await?;
    let (handler, runs_file) = ctx.handler("dag");
    if let Some(f) = &runs_file {
        let _ = std::fs::remove_file(f);
    }

    // Create, level by level: a task's dependencies must exist first.
    let creating = Arc::new(OpCounters::default());
    let creator = ctx.connect(&db, &creating).await?;
    let made = Arc::new(AtomicU64::new(0));
    let progress = {
        let made = made.clone();
        Progress::start(
            format!("dag create {levels}×{width}"),
            m as u64,
            move || made.load(std::sync::atomic::Ordering::Relaxed),
            ctx.show_progress,
        )
    };
    let started_at = Instant::now();
    let mut prev: Vec<String> = Vec::new();
    for level in 0..levels {
        let mut ids = Vec::with_capacity(width);
        for i in 0..width {
            let mut new = bench_task(level * width + i, "dag");
            if level > 0 {
                new.after = dag_deps(i, width)
                    .iter()
                    .map(|&d| prev[d].clone())
                    .collect();
            }
            ids.push(crate::tasks::create(&creator, new).await?.task_id);
            made.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
        prev = ids;
    }
    let create = Phase::of(started_at.elapsed().as_secs_f64(), creating.snapshot());
    progress.finish().await;

    // Run it. Counted from the agents' start (registration, first
    // snapshots), as tests/deps_cost.rs counts: level 0 is queued, so the
    // agents claim it while they start.
    let running = Arc::new(OpCounters::default());
    let started_at = Instant::now();
    let fleet = Fleet::start(ctx, &db, &running, &handler, &observer).await?;
    let counted = Arc::new(AtomicU64::new(0));
    let progress = {
        let (file, counted) = (runs_file.clone(), counted.clone());
        Progress::start(
            format!("dag N={}", ctx.args.agents),
            m as u64,
            move || match &file {
                Some(f) => runs_so_far(f),
                None => counted.load(std::sync::atomic::Ordering::Relaxed),
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
        started_at + limit,
    )
    .await;
    let run_s = started_at.elapsed().as_secs_f64();
    let ops = running.snapshot();
    progress.finish().await;
    fleet.stop().await?;
    let done = done?;

    let docs = completed_tasks(&observer).await?;
    let by_id: HashMap<String, Task> = docs.into_iter().map(|t| (t.task_id.clone(), t)).collect();
    let completed = by_id
        .values()
        .filter(|t| t.status == Status::Completed)
        .count() as u64;
    let unblocked = by_id
        .values()
        .filter(|t| !t.dependencies.blocked_by.is_empty())
        .filter(|t| t.history.iter().any(|h| h.status == Some(Status::Queued)))
        .count() as u64;
    let (order_violations, unchecked_edges) = order_violations(&by_id);
    // Wall time from the first claim to the last completion when all
    // completed (server times), else as the bench saw it.
    let first = by_id.values().filter_map(started).min();
    let last = by_id.values().filter_map(completed_at).max();
    let run_s = match (first, last) {
        (Some(a), Some(b)) if completed == m as u64 => micros(a, b) / 1e6,
        _ => run_s,
    };
    let duplicates = match &runs_file {
        Some(f) => {
            let (lines, distinct) = count_runs(f);
            lines - distinct
        }
        None => 0,
    };
    let per = |n: u64| (n as f64 / unblocked.max(1) as f64 * 100.0).round() / 100.0;
    let run = Phase::of(run_s, ops);
    Ok(DagReport {
        agents: ctx.args.agents,
        levels,
        width,
        tasks: m,
        edges: dag_edges(levels, width),
        commits_per_unblock: per(ops.commits),
        reads_per_unblock: per(run.reads),
        create,
        run,
        completed,
        unblocked,
        order_violations,
        unchecked_edges,
        duplicates,
        stopped_at_limit: done < m as u64,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_issue_dag_has_180_edges() {
        assert_eq!(dag_edges(10, 10), 180);
        assert_eq!(dag_deps(9, 10), vec![9, 0]);
        assert_eq!(dag_deps(0, 1), vec![0]);
        assert_eq!(dag_edges(3, 1), 2);
        assert_eq!(dag_edges(1, 10), 0);
        assert_eq!(dag_deps(1, 2), vec![1, 0]);
    }

    fn task(id: &str, deps: &[&str], started: Option<i64>, done: Option<i64>) -> Task {
        let t = |s: i64| Time(jiff::Timestamp::from_second(s).expect("in range"));
        let mut task = Task::new(
            crate::model::TaskType::Research,
            crate::model::Priority::Normal,
            id,
        );
        task.task_id = id.into();
        task.dependencies.blocked_by = deps.iter().map(|d| d.to_string()).collect();
        if let Some(s) = started {
            task.record(Status::Assigned, t(s), None, None);
        }
        if let Some(d) = done {
            task.record(Status::Completed, t(d), None, None);
        }
        task
    }

    #[test]
    fn order_is_checked_per_edge() {
        let tasks: HashMap<String, Task> = [
            task("a", &[], Some(1), Some(2)),
            task("b", &[], Some(1), Some(5)),
            // After a (fine), before b completed (a violation).
            task("c", &["a", "b"], Some(3), Some(6)),
            // Never claimed: unchecked.
            task("d", &["a"], None, None),
        ]
        .into_iter()
        .map(|t| (t.task_id.clone(), t))
        .collect();
        assert_eq!(order_violations(&tasks), (1, 1));
    }
}
