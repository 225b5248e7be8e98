//! Moving a queued document that is not a task to `quarantine/{id}`, in
//! one commit with its delete and its `quarantined` event (see
//! [`super::defect`] for the part named).

use super::{Precondition, Store, defect, pile_of_name, server_time, string_value};
use crate::error::{Error, Result};
use crate::layout::{self, Pile};
use firestore::gcloud_sdk::google::firestore::v1 as pb;

impl Store {
    /// Moves a queued document that does not parse to `quarantine/{id}`,
    /// keeping its fields as they were and saying why. Conditional on the
    /// version seen: a fixed document is not quarantined.
    pub async fn quarantine(&self, doc: &pb::Document, reason: &str, by: &str) -> Result<()> {
        let id = doc.name.rsplit('/').next().unwrap_or_default().to_string();
        // The rules judge only the part named broken (a whole task does
        // not fit one request's expression budget).
        let Some(part) = defect(doc) else {
            return Err(Error::Malformed {
                name: doc.name.clone(),
                reason: format!(
                    "{reason}; but no part the rules judge is broken, so it cannot be quarantined"
                ),
            });
        };
        let pile = pile_of_name(&doc.name).unwrap_or(Pile::Queued);
        let s = |v: &str| string_value(v);
        let mut fields = std::collections::HashMap::new();
        fields.insert("task_id".to_string(), s(&id));
        fields.insert(
            "reason".to_string(),
            s(&reason.chars().take(2_000).collect::<String>()),
        );
        fields.insert("quarantined_by".to_string(), s(by));
        fields.insert("defect".to_string(), s(part.as_str()));
        fields.insert("original_path".to_string(), s(&pile.doc(&id)));
        fields.insert(
            "document".to_string(),
            pb::Value {
                value_type: Some(pb::value::ValueType::MapValue(pb::MapValue {
                    fields: doc.fields.clone(),
                })),
            },
        );
        let create = pb::Write {
            operation: Some(pb::write::Operation::Update(pb::Document {
                name: self.name(&layout::quarantine_doc(&id)),
                fields,
                ..Default::default()
            })),
            update_transforms: vec![server_time("quarantined_at")],
            current_document: Precondition::Missing.into_pb(),
            ..Default::default()
        };
        let delete = pb::Write {
            operation: Some(pb::write::Operation::Delete(doc.name.clone())),
            current_document: doc
                .update_time
                .map(Precondition::UpdatedAt)
                .and_then(Precondition::into_pb),
            ..Default::default()
        };
        // The alert (`crate::notify`), keyed by the version moved, which
        // every agent racing to move it saw.
        let version = doc.update_time.unwrap_or_default();
        let micros = version.seconds * 1_000_000 + i64::from(version.nanos / 1_000);
        let event = crate::notify::Event::quarantined(&id, micros, reason);
        self.commit_noting(vec![delete, create], Some(&event))
            .await?;
        Ok(())
    }
}
