//! The alert outbox (`events/{id}`, `crate::notify`): an event's create,
//! made in the commit of the change it reports, and that commit.

use super::{Precondition, Store, Versioned, server_time};
use crate::error::{Error, Result};
use crate::layout;
use crate::lifecycle::Status;
use crate::model::{Task, now, time_add};
use crate::notify::{EVENT_RETENTION_DAYS, Event};
use firestore::gcloud_sdk::google::firestore::v1 as pb;
use std::time::Duration;

impl Store {
    /// The create of `event`, if absent; `at` is the commit's time.
    pub fn event_write(&self, event: &Event) -> Result<pb::Write> {
        let mut stored = event.clone();
        stored.at = None;
        let keep = Duration::from_secs(EVENT_RETENTION_DAYS * 86_400);
        stored.expire_at = Some(time_add(now(), keep));
        let doc = self.encode(&layout::event_doc(&event.id()), &stored)?;
        Ok(pb::Write {
            operation: Some(pb::write::Operation::Update(doc)),
            update_transforms: vec![server_time("at")],
            current_document: Precondition::Missing.into_pb(),
            ..Default::default()
        })
    }

    /// Commits `writes` with `event`'s create. Refused, they are tried
    /// once more without it, so the event never changes how the change
    /// ends: a commit made again (its first answer lost) or by a racing
    /// agent finds the event there, which is the event recorded; and were
    /// the rules to refuse an event, the change it reports still lands
    /// (and the log says the event is missing). A lost race costs one
    /// more refused commit. An event whose id would not fit (a console
    /// document's absurd id) is left out, with a warning.
    pub async fn commit_noting(
        &self,
        writes: Vec<pb::Write>,
        event: Option<&Event>,
    ) -> Result<pb::CommitResponse> {
        let Some(event) = event.filter(|e| self.event_fits(e)) else {
            return self.commit(writes).await;
        };
        let mut with = writes.clone();
        with.push(self.event_write(event)?);
        match self.commit(with).await {
            Err(e) if refused(&e) => {
                let done = self.commit(writes).await?;
                self.check_recorded(event, &e).await;
                Ok(done)
            }
            other => other,
        }
    }

    /// [`Store::replace_task`] with `event` in the same commit, as
    /// [`Store::commit_noting`] commits it.
    pub async fn replace_task_noting(
        &self,
        seen: &Versioned<Task>,
        new: &Task,
        path: &[Status],
        extra: Vec<pb::Write>,
        event: Option<&Event>,
    ) -> Result<Versioned<Task>> {
        let Some(event) = event.filter(|e| self.event_fits(e)) else {
            return self.replace_task(seen, new, path, extra).await;
        };
        let mut with = extra.clone();
        with.push(self.event_write(event)?);
        match self.replace_task(seen, new, path, with).await {
            Err(e) if refused(&e) => {
                let done = self.replace_task(seen, new, path, extra).await?;
                self.check_recorded(event, &e).await;
                Ok(done)
            }
            other => other,
        }
    }

    fn event_fits(&self, event: &Event) -> bool {
        let fits = event.fits();
        if !fits {
            tracing::warn!(subject_bytes = event.subject.len(), kind = %event.kind, "an event's subject is too long for a document id; it is not recorded");
        }
        fits
    }

    /// After a change landed without its event: there already (a commit
    /// made again), or refused (the log says so).
    async fn check_recorded(&self, event: &Event, first: &Error) {
        match self.get_doc(&layout::event_doc(&event.id())).await {
            Ok(Some(_)) => {}
            Ok(None) => {
                tracing::warn!(event = %event.id(), error = %first, "the change landed but its event was refused; no alert will be sent for it")
            }
            Err(e) => tracing::debug!(event = %event.id(), error = %e, "could not check the event"),
        }
    }
}

/// A refusal that an event already there (or refused) could explain.
fn refused(e: &Error) -> bool {
    e.is_conflict() || matches!(e, Error::PermissionDenied(_))
}
