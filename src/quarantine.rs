//! `quarantine/{task_id}`: queued documents an agent could not read, kept
//! verbatim with why, when and by whom (see `Store::quarantine`), and what
//! operators do with them: list, show, restore as a task, drop.
//!
//! A restore is one commit: the record's delete (only if it is still the
//! version read) and the new task's create, made by the same writes as
//! every new task (`Store::new_task_writes`), so the rules judge it as a
//! new task of the restorer's.

mod restore;

pub use restore::{RESTORED_NOTE, is_task_id, restored_task};

use crate::error::{Error, Result};
use crate::layout;
use crate::model::{Requester, Task, Time};
use crate::store::{Precondition, Store};
use firestore::gcloud_sdk::google::firestore::v1 as pb;
use firestore::gcloud_sdk::prost_types::Timestamp;
use pb::value::ValueType;
use serde::Serialize;
use serde_json::{Map, Value};

/// One quarantine record as read.
#[derive(Debug, Clone, Serialize)]
pub struct Record {
    /// The document id: the original task id.
    pub task_id: String,
    pub reason: String,
    pub quarantined_by: String,
    /// The part found broken (core/src/schema `Part`).
    pub defect: String,
    pub quarantined_at: Option<Time>,
    pub original_path: String,
    /// The original document's fields as JSON; timestamps as RFC 3339.
    pub document: Value,
    /// The version read, so that a restore or drop acts on what was shown.
    #[serde(skip)]
    pub update_time: Timestamp,
}

impl Record {
    /// Reads a record leniently: a missing field is empty, as a record
    /// written past the rules may lack one, and it must still be shown.
    pub fn from_doc(doc: &pb::Document) -> Record {
        let text = |k: &str| match doc.fields.get(k).and_then(|v| v.value_type.as_ref()) {
            Some(ValueType::StringValue(s)) => s.clone(),
            _ => String::new(),
        };
        let quarantined_at = match doc
            .fields
            .get("quarantined_at")
            .and_then(|v| v.value_type.as_ref())
        {
            Some(ValueType::TimestampValue(t)) => Time::from_parts(t.seconds, t.nanos),
            _ => None,
        };
        Record {
            task_id: doc.name.rsplit('/').next().unwrap_or_default().to_string(),
            reason: text("reason"),
            quarantined_by: text("quarantined_by"),
            defect: text("defect"),
            quarantined_at,
            original_path: text("original_path"),
            document: doc
                .fields
                .get("document")
                .map(to_json)
                .unwrap_or(Value::Null),
            update_time: doc.update_time.unwrap_or_default(),
        }
    }
}

/// A Firestore value as JSON: integers stay integers, timestamps become
/// RFC 3339 strings, bytes base64, references their path.
pub fn to_json(v: &pb::Value) -> Value {
    match &v.value_type {
        None | Some(ValueType::NullValue(_)) => Value::Null,
        Some(ValueType::BooleanValue(b)) => Value::Bool(*b),
        Some(ValueType::IntegerValue(i)) => Value::from(*i),
        Some(ValueType::DoubleValue(d)) => serde_json::Number::from_f64(*d)
            .map(Value::Number)
            .unwrap_or_else(|| Value::String(d.to_string())),
        Some(ValueType::TimestampValue(t)) => Time::from_parts(t.seconds, t.nanos)
            .map(|t| Value::String(t.to_string()))
            .unwrap_or(Value::Null),
        Some(ValueType::StringValue(s)) | Some(ValueType::ReferenceValue(s)) => {
            Value::String(s.clone())
        }
        Some(ValueType::BytesValue(b)) => {
            use base64::Engine as _;
            Value::String(base64::engine::general_purpose::STANDARD.encode(b))
        }
        Some(ValueType::GeoPointValue(g)) => {
            serde_json::json!({"latitude": g.latitude, "longitude": g.longitude})
        }
        Some(ValueType::ArrayValue(a)) => Value::Array(a.values.iter().map(to_json).collect()),
        Some(ValueType::MapValue(m)) => Value::Object(
            m.fields
                .iter()
                .map(|(k, v)| (k.clone(), to_json(v)))
                .collect(),
        ),
        // Pipeline expressions (field references, functions, ...) are
        // query syntax, never stored in a document.
        Some(_) => Value::Null,
    }
}

/// The records, oldest first, at most `limit`.
pub async fn list(store: &Store, limit: Option<i32>) -> Result<Vec<Record>> {
    let docs = store
        .run_query("", layout::QUARANTINE, None, vec![], limit)
        .await?;
    let mut records: Vec<Record> = docs.iter().map(Record::from_doc).collect();
    records.sort_by(|a, b| {
        (a.quarantined_at.map(|t| t.0), &a.task_id)
            .cmp(&(b.quarantined_at.map(|t| t.0), &b.task_id))
    });
    Ok(records)
}

/// The record of `id`; `NotFound` (exit 3) when there is none.
pub async fn get(store: &Store, id: &str) -> Result<Record> {
    if id.is_empty() || id.contains('/') {
        return Err(Error::NotFound(format!(
            "'{id}' cannot be a quarantine record"
        )));
    }
    let name = store.name(&layout::quarantine_doc(id));
    match store
        .batch_get(vec![name])
        .await?
        .into_iter()
        .next()
        .flatten()
    {
        Some(doc) => Ok(Record::from_doc(&doc)),
        None => Err(Error::NotFound(format!("no quarantine record {id}"))),
    }
}

/// The delete of `record`, only if it is still the version read.
fn delete_write(store: &Store, record: &Record) -> pb::Write {
    pb::Write {
        operation: Some(pb::write::Operation::Delete(
            store.name(&layout::quarantine_doc(&record.task_id)),
        )),
        current_document: Precondition::UpdatedAt(record.update_time).into_pb(),
        ..Default::default()
    }
}

/// Restores `record` as a queued task requested by `requester`, from
/// `fixed` when given, else from the quarantined document itself. Bad
/// input is `InvalidTask` (exit 2) and nothing is written; otherwise one
/// commit deletes the record and creates the task.
pub async fn restore(
    store: &Store,
    record: &Record,
    fixed: Option<&Map<String, Value>>,
    requester: Requester,
) -> Result<Task> {
    let fields = match (fixed, &record.document) {
        (Some(f), _) => f,
        (None, Value::Object(doc)) => doc,
        (None, _) => {
            return Err(crate::model::InvalidTask(
                "the quarantined document is not a map; give a fixed one with --file".into(),
            )
            .into());
        }
    };
    let task = restored_task(&record.task_id, fields, requester).map_err(|e| {
        let hint = if fixed.is_none() {
            " (fix it with --file FIXED.json)"
        } else {
            ""
        };
        crate::model::InvalidTask(format!("{}{hint}", e.0))
    })?;
    // The create's precondition covers the queued pile only, and an admin
    // is not stopped by the rules: a task of this id elsewhere is a
    // conflict.
    if let Some(there) = store.find_task(&task.task_id).await? {
        return Err(Error::Conflict(format!(
            "a task {} exists already, in the {} pile",
            task.task_id, there.pile
        )));
    }
    store
        .create_task_with(&task, vec![delete_write(store, record)])
        .await?;
    Ok(task)
}

/// Deletes `record`, only if it is still the version read.
pub async fn drop_record(store: &Store, record: &Record) -> Result<()> {
    store.commit(vec![delete_write(store, record)]).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(t: ValueType) -> pb::Value {
        pb::Value {
            value_type: Some(t),
        }
    }

    #[test]
    fn firestore_values_become_json_of_the_same_shape() {
        let map = pb::MapValue {
            fields: [
                ("n".to_string(), v(ValueType::IntegerValue(5))),
                ("d".to_string(), v(ValueType::DoubleValue(1.5))),
                (
                    "l".to_string(),
                    v(ValueType::ArrayValue(pb::ArrayValue {
                        values: vec![
                            v(ValueType::StringValue("x".into())),
                            v(ValueType::BooleanValue(true)),
                        ],
                    })),
                ),
                (
                    "t".to_string(),
                    v(ValueType::TimestampValue(Timestamp {
                        seconds: 0,
                        nanos: 0,
                    })),
                ),
            ]
            .into_iter()
            .collect(),
        };
        let j = to_json(&v(ValueType::MapValue(map)));
        assert_eq!(j["n"], 5);
        assert!(j["n"].is_i64(), "an integer stays an integer");
        assert_eq!(j["d"], 1.5);
        assert_eq!(j["l"], serde_json::json!(["x", true]));
        assert_eq!(j["t"], "1970-01-01T00:00:00Z");
    }
}
