//! `teams/{parent}` (`crate::team::TeamDoc`): a team member's context
//! write and barrier arrival, each one masked write judged by
//! firestore.rules `isTeamWrite`, and reading the document.

use super::{Store, server_time};
use crate::error::Result;
use crate::layout;
use crate::team::{ContextEntry, LastWrite, PartOf, TeamDoc};
use firestore::gcloud_sdk::google::firestore::v1 as pb;

/// A field path segment for a map key: quoted, so `.` and `-` in a key
/// stay part of it (keys are `crate::protocol::is_context_key`).
fn quoted(key: &str) -> String {
    format!("`{key}`")
}

impl Store {
    /// The team's document, or an empty one before any member wrote.
    pub async fn team_doc(&self, parent: &str) -> Result<TeamDoc> {
        match self.get_doc(&layout::team_doc(parent)).await? {
            Some(doc) => Store::decode(&doc),
            None => Ok(TeamDoc::default()),
        }
    }

    /// Sets context `key` to `value`, as `agent` holding part `part`.
    pub async fn team_context_set(
        &self,
        part: &PartOf,
        part_id: &str,
        agent: &str,
        key: &str,
        value: &str,
    ) -> Result<()> {
        let mut doc = TeamDoc::default();
        doc.context.insert(
            key.to_string(),
            ContextEntry {
                value: value.to_string(),
                agent: agent.to_string(),
                part: part_id.to_string(),
                at: None,
            },
        );
        doc.last = Some(last(agent, part_id, Some(key), None));
        let entry = format!("context.{}", quoted(key));
        // Leaf paths: the server's time goes to `at`, which no path may
        // also name.
        let paths = ["value", "agent", "part"].map(|f| format!("{entry}.{f}"));
        let stamp = server_time(&format!("{entry}.at"));
        let write = self.team_write(part, &doc, paths.to_vec(), vec![stamp])?;
        self.commit(vec![write]).await.map(|_| ())
    }

    /// Adds part `part_id` to barrier `name`'s arrivals, as `agent`.
    pub async fn team_arrive(
        &self,
        part: &PartOf,
        part_id: &str,
        agent: &str,
        name: &str,
    ) -> Result<()> {
        let doc = TeamDoc {
            last: Some(last(agent, part_id, None, Some(name))),
            ..TeamDoc::default()
        };
        let union = pb::document_transform::FieldTransform {
            field_path: format!("barriers.{}", quoted(name)),
            transform_type: Some(
                pb::document_transform::field_transform::TransformType::AppendMissingElements(
                    pb::ArrayValue {
                        values: vec![super::string_value(part_id)],
                    },
                ),
            ),
        };
        let write = self.team_write(part, &doc, Vec::new(), vec![union])?;
        self.commit(vec![write]).await.map(|_| ())
    }

    /// A masked write of `doc`'s `paths` and `last` (stamped by the
    /// server), with `transforms`; a missing document is created.
    fn team_write(
        &self,
        part: &PartOf,
        doc: &TeamDoc,
        mut paths: Vec<String>,
        mut transforms: Vec<pb::document_transform::FieldTransform>,
    ) -> Result<pb::Write> {
        let encoded = self.encode(&layout::team_doc(&part.parent), doc)?;
        paths.extend(["last.agent", "last.part", "last.key", "last.barrier"].map(String::from));
        transforms.push(server_time("last.at"));
        Ok(pb::Write {
            operation: Some(pb::write::Operation::Update(encoded)),
            update_mask: Some(pb::DocumentMask { field_paths: paths }),
            update_transforms: transforms,
            current_document: None,
        })
    }
}

fn last(agent: &str, part: &str, key: Option<&str>, barrier: Option<&str>) -> LastWrite {
    LastWrite {
        agent: agent.to_string(),
        part: part.to_string(),
        key: key.map(str::to_string),
        barrier: barrier.map(str::to_string),
        at: None,
    }
}
