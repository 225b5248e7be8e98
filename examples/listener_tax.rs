//! What a listener costs a commit on the Firestore emulator.
//!
//! ```text
//! emulator/start.sh 8080 &    # or any running emulator
//! FIRESTORE_EMULATOR_HOST=127.0.0.1:8080 cargo run --release --example listener_tax
//! ```
//!
//! Creates tasks one at a time (each a commit) and prints the mean time per
//! create: with no listener; with 8 listeners on the queued pile split into
//! lanes, as 8 agents listen; after 2,000 documents are written under
//! *another* parent with the same collection id (which is why each pile
//! has its own collection id: see `src/layout.rs`); and after 1,000 more
//! queued tasks. The emulator re-evaluates every listener on every commit
//! by scanning every document with the listener's collection id; these
//! numbers are the reason `vayu bench` reports a ceiling with listeners
//! (`ceiling+L`) beside the raw one.

use std::sync::Arc;
use std::time::{Duration, Instant};
use vayu::agent::{QueueView, queue_window};
use vayu::lanes;
use vayu::layout::Pile;
use vayu::lifecycle::Status;
use vayu::listen::Listener;
use vayu::metrics::OpCounters;
use vayu::model::{Priority, Task, TaskType};
use vayu::store::{Precondition, Store, StoreConfig};

const CREATES: usize = 100;

/// Mean milliseconds per create, over `CREATES` sequential creates.
async fn ms_per_create(store: &Store) -> f64 {
    let started = Instant::now();
    for i in 0..CREATES {
        let task = Task::new(TaskType::Research, Priority::Normal, format!("probe {i}"));
        store
            .create_task(&task)
            .await
            .expect("the emulator accepts a new task");
    }
    started.elapsed().as_secs_f64() * 1000.0 / CREATES as f64
}

/// Writes `n` tasks in `status` to `tasks/{parent}/{collection}/`, 250 a
/// commit (cheap: one listener evaluation per commit).
async fn fill(store: &Store, parent: &str, collection: &str, status: Status, n: usize) {
    for _ in 0..n / 250 {
        let mut writes = Vec::new();
        for i in 0..250 {
            let mut t = Task::new(TaskType::Research, Priority::Normal, format!("fill {i}"));
            t.status = status;
            let mut w = store
                .task_write(&t, Precondition::None, true)
                .expect("a task encodes");
            if let Some(firestore::gcloud_sdk::google::firestore::v1::write::Operation::Update(d)) =
                &mut w.operation
            {
                d.name = store.name(&format!("tasks/{parent}/{collection}/{}", t.task_id));
            }
            writes.push(w);
        }
        store
            .commit(writes)
            .await
            .expect("the emulator takes a batch");
    }
}

#[tokio::main]
async fn main() {
    let host = std::env::var("FIRESTORE_EMULATOR_HOST")
        .expect("set FIRESTORE_EMULATOR_HOST to a running emulator");
    // The JVM's first commits are several times slower: warm it up on a
    // scratch database first.
    let scratch = Store::connect(&StoreConfig::emulator(
        host.clone(),
        format!("listener-tax-warmup-{}", uuid::Uuid::new_v4().simple()),
    ))
    .await
    .expect("the emulator answers");
    for _ in 0..5 {
        ms_per_create(&scratch).await;
    }
    let db = format!("listener-tax-{}", uuid::Uuid::new_v4().simple());
    let store = Store::connect(&StoreConfig::emulator(host, db))
        .await
        .expect("the emulator answers");
    println!(
        "no listener:                          {:6.2} ms/create",
        ms_per_create(&store).await
    );

    let ids: Vec<String> = (0..8).map(|i| format!("agent-{i}")).collect();
    let counters = Arc::new(OpCounters::default());
    let mut listening = Vec::new();
    for id in &ids {
        let spec = queue_window(
            store.name(&Pile::Queued.parent()),
            QueueView::All,
            &lanes::owned(id, &ids),
            64,
        );
        let (listener, mut events) =
            Listener::spawn(store.db().clone(), spec, counters.clone(), 1024);
        let drain = tokio::spawn(async move { while events.recv().await.is_some() {} });
        listening.push((listener, drain));
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    println!(
        "8 listeners (lanes):                  {:6.2} ms/create",
        ms_per_create(&store).await
    );

    fill(
        &store,
        "elsewhere",
        Pile::Queued.collection_id(),
        Status::Completed,
        2000,
    )
    .await;
    println!(
        "+2,000 docs, same collection id,\n  another parent:                     {:6.2} ms/create",
        ms_per_create(&store).await
    );
    fill(
        &store,
        "queued",
        Pile::Queued.collection_id(),
        Status::Queued,
        1000,
    )
    .await;
    println!(
        "+1,000 queued tasks:                  {:6.2} ms/create",
        ms_per_create(&store).await
    );
    for (listener, drain) in listening {
        listener.shutdown().await;
        drain.abort();
    }
}
