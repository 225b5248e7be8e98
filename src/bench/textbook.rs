//! The textbook mode: the claim loop a user would write first.
//!
//! (One file of a little over 400 lines on purpose: it is the baseline
//! vayu is measured against, written to be read whole.)
//!
//! One collection, `textbook_tasks`, with a `status` field. N worker loops
//! each:
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

use super::stats::{CpuMeter, CpuUse, Percentiles};
use super::vayu::{PerTask, bench_task, micros};
use super::{Ctx, ProduceReport, count_runs, produce, progress::Progress};
use crate::error::{Error, Result};
use crate::handler;
use crate::metrics::{OpCounters, OpSnapshot};
use crate::model::Task;
use crate::store::{self, Precondition, Store};
use firestore::gcloud_sdk::google::firestore::v1 as pb;
use pb::structured_query as sq;
use serde::Serialize;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// The textbook's one task collection, at the root.
pub const COLLECTION: &str = "textbook_tasks";

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
    pub ops: OpSnapshot,
    pub per_task: PerTask,
    pub cpu: CpuUse,
}

/// Counts of one run, shared by the workers.
#[derive(Default)]
struct Tally {
    completed: AtomicU64,
    aborted: AtomicU64,
    empty: AtomicU64,
}

pub async fn run(ctx: &Ctx, limit: Duration) -> Result<TextbookReport> {
    let m = ctx.args.tasks;
    let n = ctx.args.agents;
    let db = ctx.fresh_db("textbook");
    let counters = Arc::new(OpCounters::default());
    let observer = Store::connect(&ctx.store_config(&db)).await?;
    let (command, runs_file) = ctx.handler("textbook");
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
            format!("textbook N={n}"),
            m as u64,
            move || tally.completed.load(Ordering::Relaxed),
            ctx.show_progress,
        )
    };
    let cpu = CpuMeter::start(ctx.jvm_pid);
    let started = Instant::now();
    let producer = tokio::spawn(produce(m, ctx.args.producers, stop.clone(), {
        move |i| {
            let creator = creator.clone();
            async move { create(&creator, &bench_task(i, "textbook").into_task()).await }
        }
    }));
    let mut workers = tokio::task::JoinSet::new();
    for (w, store) in stores.into_iter().enumerate() {
        let (tally, stop, command) = (tally.clone(), stop.clone(), command.clone());
        workers.spawn(async move {
            worker(store, format!("worker-{w}"), command, m as u64, tally, stop).await
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
                Some(Err(e)) => { first_error.get_or_insert(Error::Firestore(format!("a textbook worker panicked: {e}"))); }
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
        .map_err(|e| Error::Firestore(format!("the producer panicked: {e}")))??;
    if let Some(e) = first_error {
        return Err(e);
    }
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
        run_handler(&command, &task, &me).await;
        let mut failures = 0;
        loop {
            match set_status(&store, &task.task_id, "completed", None, None).await {
                Ok(()) => break,
                Err(e) if failures < 20 && (e.is_conflict() || e.is_transient()) => {
                    failures += 1;
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
                Err(e) => return Err(e),
            }
        }
        tally.completed.fetch_add(1, Ordering::Relaxed);
    }
    Ok(())
}

/// Creates a queued task document in the textbook collection.
async fn create(store: &Store, task: &Task) -> Result<()> {
    let doc = store.encode(&format!("{COLLECTION}/{}", task.task_id), task)?;
    store
        .commit(vec![pb::Write {
            operation: Some(pb::write::Operation::Update(doc)),
            update_transforms: vec![
                store::server_time("created_at"),
                store::server_time("updated_at"),
            ],
            current_document: Precondition::Missing.into_pb(),
            ..Default::default()
        }])
        .await?;
    Ok(())
}

/// The claim transaction: query inside it, update, commit. `None` when
/// the queue is empty.
async fn claim(store: &Store, me: &str) -> Result<Option<Task>> {
    use futures::StreamExt;
    use pb::transaction_options::{Mode, ReadWrite};
    let order = |field: &str| sq::Order {
        field: Some(sq::FieldReference {
            field_path: field.into(),
        }),
        direction: sq::Direction::Ascending as i32,
    };
    let request = pb::RunQueryRequest {
        parent: store.db().get_documents_path().clone(),
        query_type: Some(pb::run_query_request::QueryType::StructuredQuery(
            pb::StructuredQuery {
                from: vec![sq::CollectionSelector {
                    collection_id: COLLECTION.into(),
                    all_descendants: false,
                }],
                r#where: Some(store::field_eq("status", store::string_value("queued"))),
                order_by: vec![order("priority_rank"), order("created_at")],
                limit: Some(1),
                ..Default::default()
            },
        )),
        consistency_selector: Some(pb::run_query_request::ConsistencySelector::NewTransaction(
            pb::TransactionOptions {
                mode: Some(Mode::ReadWrite(ReadWrite::default())),
            },
        )),
        ..Default::default()
    };
    let query = async {
        let mut stream = store
            .db()
            .client()
            .get()
            .run_query(request)
            .await
            .map_err(|s| store.map_status(s))?
            .into_inner();
        let (mut txn, mut doc) = (Vec::new(), None);
        while let Some(item) = stream.next().await {
            let item = item.map_err(|s| store.map_status(s))?;
            if !item.transaction.is_empty() {
                txn = item.transaction;
            }
            if item.document.is_some() {
                doc = item.document;
            }
        }
        Ok::<_, Error>((txn, doc))
    };
    let (txn, doc) = tokio::time::timeout(Duration::from_secs(30), query)
        .await
        .map_err(|_| Error::Unavailable {
            endpoint: store.endpoint().into(),
            detail: "claim query timed out".into(),
        })??;
    // Firestore bills an empty result as one read.
    OpCounters::add(&store.counters().polling_reads, 1);
    let Some(doc) = doc else {
        if !txn.is_empty() {
            let _ = store
                .db()
                .client()
                .get()
                .rollback(pb::RollbackRequest {
                    database: store.database().into(),
                    transaction: txn,
                    ..Default::default()
                })
                .await;
        }
        return Ok(None);
    };
    let task = Store::decode_task(&doc)?;
    set_status(store, &task.task_id, "executing", Some(me), Some(txn)).await?;
    Ok(Some(task))
}

/// Sets `status` (and on a claim the assignee and assignment time), in
/// `txn` when given.
async fn set_status(
    store: &Store,
    task_id: &str,
    status: &str,
    assignee: Option<&str>,
    txn: Option<Vec<u8>>,
) -> Result<()> {
    let mut fields = std::collections::HashMap::new();
    fields.insert("status".to_string(), store::string_value(status));
    let mut mask = vec!["status".to_string()];
    let mut transforms = vec![store::server_time("updated_at")];
    if let Some(a) = assignee {
        let mut assignment = std::collections::HashMap::new();
        assignment.insert("primary_agent".to_string(), store::string_value(a));
        fields.insert(
            "assignment".to_string(),
            pb::Value {
                value_type: Some(pb::value::ValueType::MapValue(pb::MapValue {
                    fields: assignment,
                })),
            },
        );
        mask.push("assignment.primary_agent".into());
        transforms.push(store::server_time("assignment.assigned_at"));
    }
    let write = pb::Write {
        operation: Some(pb::write::Operation::Update(pb::Document {
            name: store.name(&format!("{COLLECTION}/{task_id}")),
            fields,
            ..Default::default()
        })),
        update_mask: Some(pb::DocumentMask { field_paths: mask }),
        update_transforms: transforms,
        current_document: Precondition::Exists.into_pb(),
    };
    let request = pb::CommitRequest {
        database: store.database().to_string(),
        writes: vec![write],
        transaction: txn.unwrap_or_default(),
        ..Default::default()
    };
    OpCounters::add(&store.counters().commits, 1);
    let result = tokio::time::timeout(
        Duration::from_secs(30),
        store.db().client().get().commit(request),
    )
    .await
    .map_err(|_| Error::Unavailable {
        endpoint: store.endpoint().into(),
        detail: "commit timed out".into(),
    })?;
    match result {
        Ok(_) => {
            OpCounters::add(&store.counters().writes, 1);
            Ok(())
        }
        Err(s) => Err(store.map_status(s)),
    }
}

/// Runs the handler to its end, as the vayu runner does, ignoring its
/// reports (the textbook loop has nowhere to put them).
async fn run_handler(command: &str, task: &Task, me: &str) {
    let ctx = handler::Context {
        agent_id: me,
        attempt: 1,
        env: &[],
    };
    match handler::spawn(command, task, &ctx) {
        Ok((mut child, mut events)) => {
            let _ = child.wait().await;
            while events.recv().await.is_some() {}
        }
        Err(e) => tracing::warn!(error = %e, "could not start the handler"),
    }
}
