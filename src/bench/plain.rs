//! The plain task documents of the two reference modes (textbook and
//! poll): one collection, [`COLLECTION`], vayu's task document with a
//! `status` field that moves in place (no piles, no lanes, no leases).
//!
//! Shared so that the two references differ only in how they choose and
//! claim a task (a transaction around a `limit 1` query, or a list read
//! once and claimed with update-time preconditions), not in what they
//! write: the difference in their numbers is then the claim strategy's.

use crate::error::{Error, Result};
use crate::handler;
use crate::metrics::OpCounters;
use crate::model::Task;
use crate::store::{self, Precondition, Store};
use firestore::gcloud_sdk::google::firestore::v1 as pb;
use pb::structured_query as sq;
use std::time::Duration;

/// The references' one task collection, at the root (each mode has a
/// database of its own).
pub const COLLECTION: &str = "textbook_tasks";

/// Creates a queued task document in [`COLLECTION`], server-timed.
pub async fn create(store: &Store, task: &Task) -> Result<()> {
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

/// Whether a create failed because its document is there already (a
/// retry of a create whose answer was lost), as opposed to contention:
/// the two are both `Conflict` (ALREADY_EXISTS, ABORTED), told apart by
/// the message.
pub fn already_exists(e: &Error) -> bool {
    e.is_conflict() && e.to_string().to_lowercase().contains("already exists")
}

/// `where status == "queued" order by priority_rank, created_at limit
/// {limit}`: the highest-ranked queued tasks, oldest first within a rank.
pub fn queued_query(limit: i32) -> pb::StructuredQuery {
    let order = |field: &str| sq::Order {
        field: Some(sq::FieldReference {
            field_path: field.into(),
        }),
        direction: sq::Direction::Ascending as i32,
    };
    pb::StructuredQuery {
        from: vec![sq::CollectionSelector {
            collection_id: COLLECTION.into(),
            all_descendants: false,
        }],
        r#where: Some(store::field_eq("status", store::string_value("queued"))),
        order_by: vec![order("priority_rank"), order("created_at")],
        limit: Some(limit),
        ..Default::default()
    }
}

/// Runs [`queued_query`] with `consistency` (a new read-write transaction
/// for the textbook, none for the poll worker) and returns the
/// transaction it opened (empty without one) and the documents. Counts
/// its reads as Firestore bills them (an empty result is one read).
pub async fn query_queued(
    store: &Store,
    limit: i32,
    consistency: Option<pb::run_query_request::ConsistencySelector>,
) -> Result<(Vec<u8>, Vec<pb::Document>)> {
    use futures::StreamExt;
    let request = pb::RunQueryRequest {
        parent: store.db().get_documents_path().clone(),
        query_type: Some(pb::run_query_request::QueryType::StructuredQuery(
            queued_query(limit),
        )),
        consistency_selector: consistency,
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
        let (mut txn, mut docs) = (Vec::new(), Vec::new());
        while let Some(item) = stream.next().await {
            let item = item.map_err(|s| store.map_status(s))?;
            if !item.transaction.is_empty() {
                txn = item.transaction;
            }
            docs.extend(item.document);
        }
        Ok::<_, Error>((txn, docs))
    };
    let (txn, docs) = tokio::time::timeout(Duration::from_secs(30), query)
        .await
        .map_err(|_| Error::Unavailable {
            endpoint: store.endpoint().into(),
            detail: "queued-task query timed out".into(),
        })??;
    OpCounters::add(&store.counters().polling_reads, docs.len().max(1) as u64);
    Ok((txn, docs))
}

/// Abandons a read-write transaction (its query found nothing to claim).
pub async fn rollback(store: &Store, txn: Vec<u8>) {
    if txn.is_empty() {
        return;
    }
    // Nothing to undo: a failed rollback only leaves the lock to time out.
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

/// Sets `status` (and on a claim the assignee and the assignment time)
/// under `precondition`, in `txn` when given.
pub async fn set_status(
    store: &Store,
    task_id: &str,
    status: &str,
    assignee: Option<&str>,
    precondition: Precondition,
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
        current_document: precondition.into_pb(),
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

/// What completing a claimed task took: retries after contention, and
/// whether it gave up (the mode's time limit came first).
#[derive(Debug, Clone, Copy, Default)]
pub struct Completion {
    pub retries: u64,
    pub gave_up: bool,
}

/// Marks `task_id` completed, retrying contention (lock timeouts,
/// aborted commits, outages) with a short backoff until it lands or
/// `stop()` says the mode's time is up. Contention is the reference's
/// result, not the benchmark's failure; any other error is returned.
pub async fn complete(store: &Store, task_id: &str, stop: impl Fn() -> bool) -> Result<Completion> {
    let mut done = Completion::default();
    loop {
        match set_status(
            store,
            task_id,
            "completed",
            None,
            Precondition::Exists,
            None,
        )
        .await
        {
            Ok(()) => return Ok(done),
            Err(e) if e.is_conflict() || e.is_transient() => {
                if stop() {
                    done.gave_up = true;
                    return Ok(done);
                }
                done.retries += 1;
                let wait = 10 * done.retries.min(20);
                tokio::time::sleep(Duration::from_millis(wait)).await;
            }
            Err(e) => return Err(e),
        }
    }
}

/// Runs the handler to its end, as the vayu runner does, ignoring its
/// reports (the references have nowhere to put them).
/// In the same sandbox as vayu's, so both pay for it alike.
pub async fn run_handler(command: &str, task: &Task, me: &str) {
    let sandbox = handler::sandbox::Sandbox::for_agent(me);
    let ctx = handler::Context {
        agent_id: me,
        attempt: 1,
        env: &[],
        sandbox: &sandbox,
        run: "e1",
    };
    match handler::spawn(command, task, &ctx) {
        Ok((mut child, mut events)) => {
            let _ = child.wait().await;
            while events.recv().await.is_some() {}
            let _ = sandbox.tidy(child.dir(), &[]);
        }
        Err(e) => tracing::warn!(error = %e, "could not start the handler"),
    }
}
