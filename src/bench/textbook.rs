//! The textbook mode: the claim loop a user would write first.
//!
//! One collection ([`plain::COLLECTION`]), with a `status` field. N
//! worker loops each:
//! 1. in a read-write transaction, query the oldest queued task of the
//!    highest priority (`where status == "queued" order by priority_rank,
//!    created_at limit 1`), mark it executing, and commit;
//! 2. run the same handler vayu runs;
//! 3. mark it completed (a plain update).
//!
//! Raw RPCs, the way current client SDKs send them: the query opens the
//! transaction (`new_transaction`), the commit closes it, and an aborted
//! transaction is retried at once. An empty queue is polled every 20 ms.
//! The same producer as in the vayu mode feeds it. On the emulator a
//! query inside a transaction locks the whole collection, so workers (and
//! the producer's creates) wait for each other; the mode stops after a
//! time limit and reports its rate so far.
//!
//! Contention is the mode's result, never the benchmark's end: lock
//! timeouts and aborted transactions are counted and retried until the
//! limit, and a task the limit caught half done is counted as given up.

use super::plain::{self, COLLECTION};
use super::rank::RankError;
use super::stats::{CpuMeter, CpuUse, Percentiles};
use super::vayu::{PerTask, micros, mixed_task};
use super::{Ctx, ProduceReport, count_runs, produce_until_stopped, progress::Progress};
use crate::error::{Error, Result};
use crate::metrics::{OpCounters, OpSnapshot};
use crate::model::Task;
use crate::store::{Precondition, Store};
use firestore::gcloud_sdk::google::firestore::v1 as pb;
use serde::Serialize;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Serialize)]
pub struct TextbookReport {
    pub workers: usize,
    pub tasks: usize,
    pub completed: u64,
    /// Stopped at the time limit before every task completed.
    pub stopped_at_limit: bool,
    pub limit_s: f64,
    pub wall_s: f64,
    /// Completed tasks per second, over `wall_s` (up to the limit).
    pub throughput: f64,
    pub produce: ProduceReport,
    pub duplicates: u64,
    /// Tasks not completed; only meaningful when not stopped at the limit.
    pub lost: u64,
    /// Created → claim committed (server times).
    pub claim_ms: Option<Percentiles>,
    /// Claim committed → completion committed (server times).
    pub run_ms: Option<Percentiles>,
    /// Claim transactions that failed (aborted, timed out) and were retried.
    pub aborted_claims: u64,
    /// Queries that found the queue empty.
    pub empty_polls: u64,
    /// Poll workers: queries of the list of highest-ranked queued tasks.
    pub list_queries: u64,
    /// Poll workers: claims refused because another worker had claimed
    /// the task since the list was read (the update-time precondition).
    pub lost_races: u64,
    /// Completion commits retried after contention (lock timeouts).
    pub complete_retries: u64,
    /// Claimed tasks whose completion the time limit cut off (from the
    /// documents at the end).
    pub gave_up: u64,
    /// An error other than contention that stopped a worker or the
    /// producer early; the numbers are those up to it.
    pub error: Option<String>,
    /// Higher-ranked queued tasks passed over by each claim.
    pub rank_error: Option<RankError>,
    pub ops: OpSnapshot,
    pub per_task: PerTask,
    pub cpu: CpuUse,
}

/// Counts of one run, shared by the workers.
#[derive(Default)]
pub(super) struct Tally {
    pub completed: AtomicU64,
    pub aborted: AtomicU64,
    pub empty: AtomicU64,
    pub complete_retries: AtomicU64,
    pub gave_up: AtomicU64,
    pub list_queries: AtomicU64,
    pub lost_races: AtomicU64,
}

impl Tally {
    /// Counts a completion that [`plain::complete`] reported; `false`
    /// when it gave up (the worker's time is up).
    pub fn completion(&self, done: plain::Completion) -> bool {
        self.complete_retries
            .fetch_add(done.retries, Ordering::Relaxed);
        if done.gave_up {
            self.gave_up.fetch_add(1, Ordering::Relaxed);
        } else {
            self.completed.fetch_add(1, Ordering::Relaxed);
        }
        !done.gave_up
    }
}

/// How a reference worker chooses and claims its next task.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strategy {
    /// The textbook: a `limit 1` query inside a read-write transaction.
    Transaction,
    /// The simple polling worker ([`super::poll`]): a list of the highest
    /// ranked, claimed at random with update-time preconditions.
    Poll,
}

impl Strategy {
    fn name(self) -> &'static str {
        match self {
            Strategy::Transaction => "textbook",
            Strategy::Poll => "poll",
        }
    }
}

/// The textbook mode.
pub async fn run(ctx: &Ctx, limit: Duration) -> Result<TextbookReport> {
    run_reference(ctx, limit, Strategy::Transaction).await
}

/// A reference mode: N workers of `strategy` on the plain documents, fed
/// by the producers, until every task is completed or `limit`.
pub async fn run_reference(
    ctx: &Ctx,
    limit: Duration,
    strategy: Strategy,
) -> Result<TextbookReport> {
    let m = ctx.args.tasks;
    let n = ctx.args.agents;
    let name = strategy.name();
    let db = ctx.fresh_db(name);
    let counters = Arc::new(OpCounters::default());
    let observer = Store::connect(&ctx.store_config(&db)).await?;
    let (command, runs_file) = ctx.handler(name);
    if let Some(f) = &runs_file {
        let _ = std::fs::remove_file(f);
    }
    let creator = ctx.connect(&db, &counters).await?;
    let mut stores = Vec::new();
    for _ in 0..n {
        stores.push(ctx.connect(&db, &counters).await?);
    }
    let tally = Arc::new(Tally::default());
    let stop = Arc::new(AtomicBool::new(false));
    let progress = {
        let tally = tally.clone();
        Progress::start(
            format!("{name} N={n}"),
            m as u64,
            move || tally.completed.load(Ordering::Relaxed),
            ctx.show_progress,
        )
    };
    let cpu = CpuMeter::start(ctx.jvm_pid);
    let started = Instant::now();
    // Made once each, so that a create retried after a lost answer
    // finds its task (a conflict) instead of making another.
    let to_create: Arc<Vec<Task>> = Arc::new(
        (0..m)
            .map(|i| mixed_task(i, name, ctx.args.mix).into_task())
            .collect(),
    );
    let producer = tokio::spawn(produce_until_stopped(
        m,
        ctx.args.producers,
        stop.clone(),
        {
            move |i| {
                let (creator, to_create) = (creator.clone(), to_create.clone());
                async move {
                    match plain::create(&creator, &to_create[i]).await {
                        Err(e) if plain::already_exists(&e) => Ok(()),
                        r => r,
                    }
                }
            }
        },
    ));
    let mut workers = tokio::task::JoinSet::new();
    for (w, store) in stores.into_iter().enumerate() {
        let (tally, stop, command) = (tally.clone(), stop.clone(), command.clone());
        let me = format!("{name}-worker-{w}");
        workers.spawn(async move {
            match strategy {
                Strategy::Transaction => worker(store, me, command, m as u64, tally, stop).await,
                Strategy::Poll => {
                    super::poll::worker(store, me, command, m as u64, tally, stop).await
                }
            }
        });
    }
    // Wait for all tasks, or the limit.
    let deadline = tokio::time::Instant::now() + limit;
    let mut first_error = None;
    loop {
        tokio::select! {
            joined = workers.join_next() => match joined {
                None => break,
                Some(Ok(Ok(()))) => {}
                Some(Ok(Err(e))) => { first_error.get_or_insert(e); }
                Some(Err(e)) => { first_error.get_or_insert(Error::Firestore(format!("a {name} worker panicked: {e}"))); }
            },
            () = tokio::time::sleep_until(deadline) => break,
        }
    }
    let wall_s = started.elapsed().as_secs_f64();
    let completed = tally.completed.load(Ordering::Relaxed);
    let cpu = cpu.stop();
    let ops = counters.snapshot();
    stop.store(true, Ordering::Relaxed);
    progress.finish().await;
    // In-flight transactions are abandoned; the database is thrown away.
    workers.abort_all();
    while workers.join_next().await.is_some() {}
    let produced = producer
        .await
        .map_err(|e| Error::Firestore(format!("the producer panicked: {e}")))?;
    let produced = match produced {
        Ok(p) => p,
        Err(e) => {
            first_error.get_or_insert(e);
            ProduceReport::default()
        }
    };
    let stopped_at_limit = completed < m as u64;

    let docs: Vec<Task> = observer
        .run_query("", COLLECTION, None, vec![], None)
        .await?
        .iter()
        .filter_map(|d| Store::decode_task(d).ok())
        .collect();
    let claim_ms: Vec<f64> = docs
        .iter()
        .filter_map(|t| Some(micros(t.created_at?, t.assignment.assigned_at?) / 1000.0))
        .collect();
    let run_ms: Vec<f64> = docs
        .iter()
        .filter(|t| t.status == crate::lifecycle::Status::Completed)
        .filter_map(|t| Some(micros(t.assignment.assigned_at?, t.updated_at?) / 1000.0))
        .collect();
    let done_docs = docs
        .iter()
        .filter(|t| t.status == crate::lifecycle::Status::Completed)
        .count() as u64;
    let duplicates = match &runs_file {
        Some(f) => {
            let (lines, distinct) = count_runs(f);
            lines - distinct
        }
        None => 0,
    };
    Ok(TextbookReport {
        workers: n,
        tasks: m,
        completed,
        stopped_at_limit,
        limit_s: limit.as_secs_f64(),
        wall_s,
        throughput: completed as f64 / wall_s.max(1e-9),
        produce: produced,
        duplicates,
        lost: if stopped_at_limit {
            0
        } else {
            (m as u64).saturating_sub(done_docs)
        },
        claim_ms: Percentiles::of(&claim_ms),
        run_ms: Percentiles::of(&run_ms),
        aborted_claims: tally.aborted.load(Ordering::Relaxed),
        empty_polls: tally.empty.load(Ordering::Relaxed),
        list_queries: tally.list_queries.load(Ordering::Relaxed),
        lost_races: tally.lost_races.load(Ordering::Relaxed),
        complete_retries: tally.complete_retries.load(Ordering::Relaxed),
        // Claimed and never completed: the limit came first (workers it
        // caught mid-commit were aborted, so the documents tell, not the
        // workers' tally).
        gave_up: docs
            .iter()
            .filter(|t| t.assignment.assigned_at.is_some())
            .filter(|t| t.status != crate::lifecycle::Status::Completed)
            .count() as u64,
        error: first_error.map(|e| e.to_string()),
        rank_error: RankError::of_tasks(&docs),
        ops,
        per_task: PerTask::of(&ops, completed),
        cpu,
    })
}

/// One textbook worker: claim in a transaction, run, complete; repeat
/// until `m` tasks are completed or `stop`.
async fn worker(
    store: Store,
    me: String,
    command: String,
    m: u64,
    tally: Arc<Tally>,
    stop: Arc<AtomicBool>,
) -> Result<()> {
    while !stop.load(Ordering::Relaxed) && tally.completed.load(Ordering::Relaxed) < m {
        OpCounters::add(&store.counters().claim_attempts, 1);
        let task = match claim(&store, &me).await {
            Ok(Some(t)) => t,
            Ok(None) => {
                tally.empty.fetch_add(1, Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(20)).await;
                continue;
            }
            Err(e) if e.is_conflict() || e.is_transient() => {
                tally.aborted.fetch_add(1, Ordering::Relaxed);
                continue;
            }
            Err(e) => return Err(e),
        };
        plain::run_handler(&command, &task, &me).await;
        let done = plain::complete(&store, &task.task_id, || stop.load(Ordering::Relaxed)).await?;
        if !tally.completion(done) {
            return Ok(());
        }
    }
    Ok(())
}

/// The claim transaction: query inside it, update, commit. `None` when
/// the queue is empty.
async fn claim(store: &Store, me: &str) -> Result<Option<Task>> {
    use pb::transaction_options::{Mode, ReadWrite};
    let new_transaction =
        pb::run_query_request::ConsistencySelector::NewTransaction(pb::TransactionOptions {
            mode: Some(Mode::ReadWrite(ReadWrite::default())),
        });
    let (txn, docs) = plain::query_queued(store, 1, Some(new_transaction)).await?;
    let Some(doc) = docs.first() else {
        plain::rollback(store, txn).await;
        return Ok(None);
    };
    let task = Store::decode_task(doc)?;
    plain::set_status(
        store,
        &task.task_id,
        "executing",
        Some(me),
        Precondition::Exists,
        Some(txn),
    )
    .await?;
    Ok(Some(task))
}
