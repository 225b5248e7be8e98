//! Agent registrations (`agents/{id}`): an agent's own, a peer marking it
//! offline, a person asking it to drain, and reading them, each brought up
//! to date by its latest beat (`presence.rs`).

use super::{Precondition, Store, server_time, string_value};
use crate::error::Result;
use crate::layout;
use crate::metrics::OpCounters;
use crate::model::{AgentDoc, PresenceDoc};
use firestore::gcloud_sdk::google::firestore::v1 as pb;

impl Store {
    /// An agent's heartbeat: every field of its document but `drain`,
    /// which is a person's to write (`request_drain`); a whole-document
    /// write could erase a drain request made a moment before.
    pub async fn heartbeat_agent(&self, agent: &AgentDoc) -> Result<()> {
        let mut doc = self.encode(&layout::agent_doc(&agent.agent_id), agent)?;
        // Set by the transform; a field may not be in both.
        doc.fields.remove("last_heartbeat");
        doc.fields.remove("drain");
        let mut paths: Vec<String> = doc.fields.keys().cloned().collect();
        // Omitted while empty, and then cleared.
        if !paths.iter().any(|p| p == "skills") {
            paths.push("skills".into());
        }
        let write = pb::Write {
            operation: Some(pb::write::Operation::Update(doc)),
            update_mask: Some(pb::DocumentMask { field_paths: paths }),
            update_transforms: vec![server_time("last_heartbeat")],
            ..Default::default()
        };
        self.commit(vec![write]).await?;
        OpCounters::add(&self.counters.presence_writes, 1);
        Ok(())
    }

    /// Asks agent `agent_id` to drain: sets `drain` to who asks and the
    /// server's time, touching nothing else. An agent with no document is
    /// NotFound (the precondition), one already offline is refused by the
    /// caller first.
    pub async fn request_drain(&self, agent_id: &str, by: &str) -> Result<()> {
        let mut drain = std::collections::HashMap::new();
        drain.insert("by".to_string(), string_value(by));
        let mut fields = std::collections::HashMap::new();
        fields.insert(
            "drain".to_string(),
            pb::Value {
                value_type: Some(pb::value::ValueType::MapValue(pb::MapValue {
                    fields: drain,
                })),
            },
        );
        let write = pb::Write {
            operation: Some(pb::write::Operation::Update(pb::Document {
                name: self.name(&layout::agent_doc(agent_id)),
                fields,
                ..Default::default()
            })),
            update_mask: Some(pb::DocumentMask {
                field_paths: vec!["drain".into()],
            }),
            update_transforms: vec![server_time("drain.at")],
            current_document: Precondition::Exists.into_pb(),
        };
        self.commit(vec![write]).await?;
        Ok(())
    }

    /// Creates or replaces `agents/{id}` (at an agent's start: a new
    /// incarnation, with no drain request).
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
    /// keyed by `last_beat`, the peer's last beat every racing watcher saw
    /// (its presence's, or its registration's `last_heartbeat` for an
    /// agent that never beat in `presence`).
    pub async fn mark_agent_offline(
        &self,
        seen: &pb::Document,
        last_beat: Option<crate::model::Time>,
    ) -> Result<()> {
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
        let event = last_beat.or_else(|| heartbeat_of(seen)).map(|hb| {
            let id = seen.name.rsplit('/').next().unwrap_or_default();
            crate::notify::Event::agent_offline(id, hb)
        });
        self.commit_noting(vec![write], event.as_ref()).await?;
        OpCounters::add(&self.counters.presence_writes, 1);
        Ok(())
    }

    /// Every agent as people see it: its registration, brought up to date
    /// by its latest beat ([`AgentDoc::with_presence`]). Two queries.
    pub async fn list_agents(&self) -> Result<Vec<AgentDoc>> {
        let docs = self
            .run_query("", layout::AGENTS, None, vec![], None)
            .await?;
        let mut beats: std::collections::HashMap<String, PresenceDoc> = (self.list_presence())
            .await?
            .into_iter()
            .map(|p| (p.agent_id.clone(), p))
            .collect();
        (docs.iter())
            .map(|d| {
                let a: AgentDoc = Store::decode(d)?;
                let beat = beats.remove(&a.agent_id);
                Ok(a.with_presence(beat.as_ref()))
            })
            .collect()
    }

    /// One agent as people see it ([`Store::list_agents`]): one read of
    /// two documents.
    pub async fn get_agent(&self, agent_id: &str) -> Result<Option<AgentDoc>> {
        let names = vec![
            self.name(&layout::agent_doc(agent_id)),
            self.name(&layout::presence_doc(agent_id)),
        ];
        let mut docs = self.batch_get(names).await?.into_iter();
        let (registration, beat) = (docs.next().flatten(), docs.next().flatten());
        let Some(registration) = registration else {
            return Ok(None);
        };
        let beat: Option<PresenceDoc> = beat.as_ref().map(Store::decode).transpose()?;
        let a: AgentDoc = Store::decode(&registration)?;
        Ok(Some(a.with_presence(beat.as_ref())))
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
