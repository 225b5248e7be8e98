//! Workflow runs (`workflows/{run_id}`): the create that starts one,
//! paid from the caller's create quota like a task; the cancel; reading
//! them back. A run's steps are ordinary tasks (`src/store/tasks.rs`).

use super::{Precondition, Store, quota, server_time, string_value};
use crate::error::{Error, Result};
use crate::layout;
use crate::workflow::WorkflowRun;
use firestore::gcloud_sdk::google::firestore::v1 as pb;
use firestore::gcloud_sdk::prost_types::Timestamp;

/// A run as read, with the update time a cancel is conditioned on.
#[derive(Debug, Clone)]
pub struct SeenRun {
    pub run: WorkflowRun,
    pub update_time: Timestamp,
}

impl Store {
    /// The writes that create `run`: the document (only if absent, its
    /// `started_at` the server's time) and, for a signed-in caller, the
    /// quota write that pays for it (firestore.rules `withinQuota`: the
    /// window of `minute` names the run id as its last create).
    fn workflow_writes(&self, run: &WorkflowRun, minute: i64) -> Result<Vec<pb::Write>> {
        let mut unstamped = run.clone();
        unstamped.started_at = None;
        let doc = self.encode(&layout::workflow_doc(&run.run_id), &unstamped)?;
        let mut writes = vec![pb::Write {
            operation: Some(pb::write::Operation::Update(doc)),
            update_transforms: vec![server_time("started_at")],
            current_document: Precondition::Missing.into_pb(),
            ..Default::default()
        }];
        if let Some(p) = self.payer() {
            writes.push(quota::write(self, &p, minute, &run.run_id)?);
        }
        Ok(writes)
    }

    /// Creates `run`'s document, paid for in the caller's window of this
    /// minute ([`quota::commit_in_window`]: a refusal that straddled a
    /// minute's end is sent again in the new one). A create Firestore did
    /// not answer is looked for before it is tried again, so it is never
    /// made twice.
    pub async fn create_workflow(&self, run: &WorkflowRun) -> Result<()> {
        // The window the last try paid into, for `explain`.
        let paid = std::cell::Cell::new(0);
        let clock = || {
            paid.set(quota::clock());
            paid.get()
        };
        let mut tries = 0;
        loop {
            tries += 1;
            let sent = quota::commit_in_window(self, clock, |m| self.workflow_writes(run, m)).await;
            match (sent, self.payer()) {
                (Ok(_), _) => return Ok(()),
                (Err(e @ Error::PermissionDenied(_)), Some(p)) => {
                    return Err(quota::explain(self, &p, paid.get(), e).await);
                }
                (Err(e), _) if e.is_transient() && tries < 3 => {
                    if self.workflow(&run.run_id).await?.is_some() {
                        return Ok(());
                    }
                }
                (Err(e), _) => return Err(e),
            }
        }
    }

    /// `workflows/{run_id}`, if it exists.
    pub async fn workflow(&self, run_id: &str) -> Result<Option<SeenRun>> {
        let name = self.name(&layout::workflow_doc(run_id));
        match self
            .batch_get(vec![name])
            .await?
            .into_iter()
            .flatten()
            .next()
        {
            None => Ok(None),
            Some(doc) => Ok(Some(SeenRun {
                run: Store::decode(&doc)?,
                update_time: doc.update_time.unwrap_or_default(),
            })),
        }
    }

    /// Marks the run cancelled by `by`, at the server's time, only if it
    /// is still the version `seen` (firestore.rules `isWorkflowCancel`:
    /// nothing else may change).
    pub async fn cancel_workflow(&self, seen: &SeenRun, by: &str) -> Result<()> {
        let mut doc = pb::Document {
            name: self.name(&layout::workflow_doc(&seen.run.run_id)),
            ..Default::default()
        };
        let cancelled = crate::workflow::RunState::Cancelled.to_string();
        doc.fields.insert("state".into(), string_value(&cancelled));
        doc.fields.insert("cancelled_by".into(), string_value(by));
        let write = pb::Write {
            operation: Some(pb::write::Operation::Update(doc)),
            update_mask: Some(pb::DocumentMask {
                field_paths: vec!["state".into(), "cancelled_by".into()],
            }),
            update_transforms: vec![server_time("cancelled_at")],
            current_document: Precondition::UpdatedAt(seen.update_time).into_pb(),
        };
        self.commit(vec![write]).await.map(|_| ())
    }

    /// The newest `limit` runs, newest first (one field's order: the
    /// automatic single-field index serves it).
    pub async fn list_workflows(&self, limit: i32) -> Result<Vec<WorkflowRun>> {
        let docs = self
            .run_query("", layout::WORKFLOWS, None, newest_first(), Some(limit))
            .await?;
        docs.iter().map(Store::decode).collect()
    }
}

/// `order by started_at desc`: the order of `vayu workflow list`.
pub fn newest_first() -> Vec<pb::structured_query::Order> {
    use pb::structured_query as sq;
    vec![sq::Order {
        field: Some(sq::FieldReference {
            field_path: "started_at".into(),
        }),
        direction: sq::Direction::Descending as i32,
    }]
}
