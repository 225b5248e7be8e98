//! Agent documents (`agents/{id}`): an agent's own heartbeat write, a
//! peer marking it offline, and reading them.

use super::{Precondition, Store, server_time, string_value};
use crate::error::Result;
use crate::layout;
use crate::metrics::OpCounters;
use crate::model::AgentDoc;
use firestore::gcloud_sdk::google::firestore::v1 as pb;

impl Store {
    /// Creates or replaces `agents/{id}`.
    pub async fn put_agent(&self, agent: &AgentDoc) -> Result<()> {
        let doc = self.encode(&layout::agent_doc(&agent.agent_id), agent)?;
        let write = pb::Write {
            operation: Some(pb::write::Operation::Update(doc)),
            update_transforms: vec![server_time("last_heartbeat")],
            ..Default::default()
        };
        self.commit(vec![write]).await?;
        OpCounters::add(&self.counters.presence_writes, 1);
        Ok(())
    }

    /// Marks a peer's document offline, only if it is still the version
    /// `seen` (so of the agents that notice a death, one writes). Touches
    /// nothing but `status`. The `agent_offline` event commits with it,
    /// keyed by the heartbeat every racing agent saw.
    pub async fn mark_agent_offline(&self, seen: &pb::Document) -> Result<()> {
        let mut fields = std::collections::HashMap::new();
        fields.insert("status".to_string(), string_value("offline"));
        let write = pb::Write {
            operation: Some(pb::write::Operation::Update(pb::Document {
                name: seen.name.clone(),
                fields,
                ..Default::default()
            })),
            update_mask: Some(pb::DocumentMask {
                field_paths: vec!["status".into()],
            }),
            current_document: seen
                .update_time
                .map(Precondition::UpdatedAt)
                .and_then(Precondition::into_pb),
            ..Default::default()
        };
        let event = heartbeat_of(seen).map(|hb| {
            let id = seen.name.rsplit('/').next().unwrap_or_default();
            crate::notify::Event::agent_offline(id, hb)
        });
        self.commit_noting(vec![write], event.as_ref()).await?;
        OpCounters::add(&self.counters.presence_writes, 1);
        Ok(())
    }

    pub async fn list_agents(&self) -> Result<Vec<AgentDoc>> {
        let docs = self
            .run_query("", layout::AGENTS, None, vec![], None)
            .await?;
        docs.iter().map(Store::decode).collect()
    }

    pub async fn get_agent(&self, agent_id: &str) -> Result<Option<AgentDoc>> {
        let docs = self
            .batch_get(vec![self.name(&layout::agent_doc(agent_id))])
            .await?;
        docs.into_iter()
            .next()
            .flatten()
            .as_ref()
            .map(Store::decode)
            .transpose()
    }
}

/// The `last_heartbeat` of an agent document; `None` for one without (no
/// heartbeat, no silence to report).
fn heartbeat_of(doc: &pb::Document) -> Option<crate::model::Time> {
    match doc.fields.get("last_heartbeat")?.value_type.as_ref()? {
        pb::value::ValueType::TimestampValue(t) => {
            crate::model::Time::from_parts(t.seconds, t.nanos)
        }
        _ => None,
    }
}
