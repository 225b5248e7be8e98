//! Agents' beats (`presence/{id}`): an agent's own write at every
//! heartbeat, and reading them (the watchers listen instead:
//! `agent/presence.rs`).

use super::{Store, server_time};
use crate::error::Result;
use crate::layout;
use crate::metrics::OpCounters;
use crate::model::PresenceDoc;
use firestore::gcloud_sdk::google::firestore::v1 as pb;

impl Store {
    /// An agent's beat: its whole presence document, stamped with the
    /// server's time.
    pub async fn beat(&self, presence: &PresenceDoc) -> Result<()> {
        let mut doc = self.encode(&layout::presence_doc(&presence.agent_id), presence)?;
        // Set by the transform; a field may not be in both.
        doc.fields.remove("beat_at");
        let write = pb::Write {
            operation: Some(pb::write::Operation::Update(doc)),
            update_transforms: vec![server_time("beat_at")],
            ..Default::default()
        };
        self.commit(vec![write]).await?;
        OpCounters::add(&self.counters.presence_writes, 1);
        Ok(())
    }

    pub async fn get_presence(&self, agent_id: &str) -> Result<Option<PresenceDoc>> {
        let docs = self
            .batch_get(vec![self.name(&layout::presence_doc(agent_id))])
            .await?;
        docs.into_iter()
            .next()
            .flatten()
            .as_ref()
            .map(Store::decode)
            .transpose()
    }

    pub async fn list_presence(&self) -> Result<Vec<PresenceDoc>> {
        let docs = self
            .run_query("", layout::PRESENCE, None, vec![], None)
            .await?;
        docs.iter().map(Store::decode).collect()
    }
}
