//! A task's full log: `task_logs/{task_id}/lines/{epoch}-{seq}`, one
//! document per batch of lines, written by the lease holder in the same
//! commit as its task write (the rules' `isLogBatch`). The task itself
//! keeps only the last few lines; `vayu task logs` reads them all, and
//! follows them while the task runs.
//!
//! Retention: each batch carries `expire_at` (its time plus the agent's
//! `--log-retention-days`, 30 by default), and the TTL policy declared in
//! firestore.indexes.json deletes it after that, usually within a day, as
//! a billed delete that no client has to make (production only: the
//! emulator keeps everything). Deploy the rules before agents that write
//! `expire_at`: older rules refuse the field, and with it the log lines.
//!
//! Costs: one read per batch document (a batch holds up to 500 lines), and
//! while following, one query a second (an empty one is billed as one
//! read) plus one lookup of the task (three reads, one per pile) to know
//! when it has ended.

use crate::error::Result;
use crate::layout;
use crate::model::Time;
use crate::store::{self, Store};
use firestore::gcloud_sdk::google::firestore::v1 as pb;
use pb::structured_query::{self as sq, field_filter::Operator};
use serde::{Deserialize, Serialize};

/// One batch of a task's log lines.
#[derive(Serialize, Deserialize, Debug, Clone, Default)]
#[serde(default)]
pub struct LogDoc {
    pub task_id: String,
    pub epoch: i64,
    pub agent_id: String,
    pub at: Option<Time>,
    pub lines: Vec<String>,
    /// When Firestore's TTL policy on `lines.expire_at`
    /// (firestore.indexes.json) deletes the batch; `None` keeps it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expire_at: Option<Time>,
}

/// The batches of `task_id`'s log after the batch `after` (a document id,
/// `{epoch}-{seq}`), in order: the ids are zero-padded, so the order of
/// their names is the order they were written in. Returns each batch's id
/// beside it, so a follower can ask for what comes next.
pub async fn read_after(
    store: &Store,
    task_id: &str,
    after: Option<&str>,
) -> Result<Vec<(String, LogDoc)>> {
    let parent = format!("{}/{task_id}", layout::TASK_LOGS);
    let filter = after.map(|id| {
        let name = store.name(&format!("{parent}/{}/{id}", layout::LOG_LINES));
        store::field_op("__name__", Operator::GreaterThan, reference(name))
    });
    let order = vec![by_name()];
    let docs = (store.run_query(&parent, layout::LOG_LINES, filter, order, None)).await?;
    docs.iter()
        .map(|d| {
            let id = d.name.rsplit('/').next().unwrap_or_default().to_string();
            Ok((id, Store::decode::<LogDoc>(d)?))
        })
        .collect()
}

/// A document reference, as a `__name__` filter compares.
pub fn reference(full_name: String) -> pb::Value {
    pb::Value {
        value_type: Some(pb::value::ValueType::ReferenceValue(full_name)),
    }
}

/// Ordered by document name, ascending.
pub fn by_name() -> sq::Order {
    sq::Order {
        field: Some(sq::FieldReference {
            field_path: "__name__".into(),
        }),
        direction: sq::Direction::Ascending as i32,
    }
}
