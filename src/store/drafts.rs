//! Reading and fixing drafts typed into the console (see
//! [`crate::console`] for what a draft is and why it is fixed in place).

use super::{Precondition, Store};
use crate::console::Draft;
use crate::error::Result;
use crate::model::Task;
use firestore::FirestoreDb;
use firestore::gcloud_sdk::google::firestore::v1 as pb;

impl Store {
    /// The draft a queued document holds, or why it is not one a person
    /// could have meant (an unknown key, a number where text goes).
    pub fn decode_draft(doc: &pb::Document) -> std::result::Result<Draft, String> {
        crate::console::check_keys(doc.fields.keys())?;
        FirestoreDb::deserialize_doc_to::<Draft>(doc).map_err(|e| e.to_string())
    }

    /// Writes `task` over the draft `doc` it was made from, only if the
    /// draft is unchanged since it was read (a person still typing, or a
    /// peer that fixed it first, wins). The server sets both times.
    pub async fn normalise(&self, doc: &pb::Document, task: &Task) -> Result<()> {
        let seen = doc.update_time.unwrap_or_default();
        let write = self.task_write(task, Precondition::UpdatedAt(seen), true)?;
        self.commit(vec![write]).await?;
        Ok(())
    }
}
