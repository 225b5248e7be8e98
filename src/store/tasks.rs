//! Task documents: decoding, the writes of a new task and of a move, and
//! reading tasks back. Every write is conditional on the version read.

use super::{Precondition, Store, Versioned, field_eq, quota, server_time, string_value};
use crate::error::{Error, Result};
use crate::layout::Pile;
use crate::lifecycle::Status;
use crate::model::Task;
use firestore::FirestoreDb;
use firestore::gcloud_sdk::google::firestore::v1 as pb;
use firestore::gcloud_sdk::prost_types::Timestamp;

impl Store {
    /// Decodes a task, or says why it is malformed.
    pub fn decode_task(doc: &pb::Document) -> Result<Task> {
        let task: Task = FirestoreDb::deserialize_doc_to(doc).map_err(|e| Error::Malformed {
            name: doc.name.clone(),
            reason: e.to_string(),
        })?;
        let id = doc.name.rsplit('/').next().unwrap_or_default();
        if task.task_id != id {
            return Err(Error::Malformed {
                name: doc.name.clone(),
                reason: format!(
                    "task_id '{}' differs from the document id '{id}'",
                    task.task_id
                ),
            });
        }
        if !(0..=100).contains(&task.execution.progress) {
            return Err(Error::Malformed {
                name: doc.name.clone(),
                reason: format!("progress {} is outside 0..=100", task.execution.progress),
            });
        }
        // What the rules would refuse is quarantined, not run (a document
        // typed into the console passes no rule).
        crate::schema::check_stored(&task).map_err(|reason| Error::Malformed {
            name: doc.name.clone(),
            reason,
        })?;
        Ok(task)
    }

    /// Decodes a document read with its update time in `pile`.
    pub fn decode_versioned(doc: &pb::Document, pile: Pile) -> Result<Versioned<Task>> {
        Ok(Versioned {
            value: Self::decode_task(doc)?,
            pile,
            update_time: doc.update_time.unwrap_or_default(),
        })
    }

    /// A full write of `task` into the pile its status says, with
    /// `updated_at` (and on create `created_at`) set by the server.
    pub fn task_write(
        &self,
        task: &Task,
        precondition: Precondition,
        creating: bool,
    ) -> Result<pb::Write> {
        let pile = Pile::of(task.status);
        let doc = self.encode(&pile.doc(&task.task_id), task)?;
        let mut transforms = vec![server_time("updated_at")];
        if creating {
            transforms.push(server_time("created_at"));
        }
        Ok(pb::Write {
            operation: Some(pb::write::Operation::Update(doc)),
            update_mask: None,
            update_transforms: transforms,
            current_document: precondition.into_pb(),
        })
    }

    /// A delete of `task_id` from `pile`, only if unchanged since `seen`.
    pub fn delete_write(&self, pile: Pile, task_id: &str, seen: Timestamp) -> pb::Write {
        pb::Write {
            operation: Some(pb::write::Operation::Delete(self.name(&pile.doc(task_id)))),
            current_document: Precondition::UpdatedAt(seen).into_pb(),
            ..Default::default()
        }
    }

    /// Creates a new task in the pile of its status. Fails with
    /// `Conflict` if that pile holds the id (fresh uuids never collide; the
    /// precondition is there for replays).
    ///
    /// A create that Firestore did not answer (a timeout, or a call the
    /// emulator drops under load with CANCELLED) may still have landed, and
    /// an agent may already have claimed it and moved it out of the queued
    /// pile. So before trying again, look for the task in every pile: found
    /// means it landed. Blindly repeating the create would make the task a
    /// second time once it has left the queue, since its precondition
    /// (nothing at this id) is per pile. A conflict with nothing there is
    /// the emulator's lock timeout (ABORTED), and is tried again too. A few
    /// tries over a few seconds.
    ///
    /// One window stays open, and Firestore offers no way to close it: a
    /// first attempt the server holds past a later one that created the
    /// task, and applies only after the task has left the queue.
    pub async fn create_task(&self, task: &Task) -> Result<()> {
        self.create_task_with(task, Vec::new()).await
    }

    /// The writes that create a new task (validated first), which the
    /// rules judge as a new task: every path that makes a task uses them,
    /// so whatever a new task must commit with is added here, once.
    pub fn new_task_writes(&self, task: &Task) -> Result<Vec<pb::Write>> {
        task.validate_new()?;
        self.new_task_writes_at(task, quota::minute(crate::model::now()))
    }

    /// [`Store::new_task_writes`] paying into the quota window of `minute`:
    /// a signed-in caller's new task commits with a write to its window
    /// (firestore.rules `withinQuota`); admins pay nothing. Public for
    /// [`quota::commit_in_window`], which picks the minute.
    pub fn new_task_writes_at(&self, task: &Task, minute: i64) -> Result<Vec<pb::Write>> {
        task.validate_new()?;
        let mut writes = vec![self.task_write(task, Precondition::Missing, true)?];
        if let Some(p) = self.payer() {
            writes.push(quota::write(self, &p, minute, &task.task_id)?);
        }
        Ok(writes)
    }

    /// [`Store::create_task`] with `extra` writes in the same commit, all
    /// or nothing (a restore deletes the quarantine record it replaces).
    /// The writes are made afresh for each try, so the quota window is the
    /// one of the minute the try is sent in.
    pub async fn create_task_with(&self, task: &Task, extra: Vec<pb::Write>) -> Result<()> {
        let writes = |minute: i64| -> Result<Vec<pb::Write>> {
            let mut w = self.new_task_writes_at(task, minute)?;
            w.extend_from_slice(&extra);
            Ok(w)
        };
        // Bad input fails here, before anything is sent.
        writes(0)?;
        let mut backoff = backon::BackoffBuilder::build(
            backon::ExponentialBuilder::default()
                .with_min_delay(std::time::Duration::from_millis(200))
                .with_max_delay(std::time::Duration::from_secs(2))
                .with_max_times(4)
                .with_jitter(),
        );
        let mut uncertain = false;
        loop {
            let minute = quota::minute(crate::model::now());
            let err = match self
                .create_once(task, &writes(minute)?, minute, uncertain)
                .await
            {
                Ok(()) => return Ok(()),
                Err(Attempt::Final(e)) => return Err(e),
                Err(Attempt::Retry {
                    error,
                    landed_maybe,
                }) => {
                    uncertain |= landed_maybe;
                    error
                }
            };
            match backoff.next() {
                Some(wait) => {
                    tracing::debug!(task = %task.task_id, error = %err, ?wait, "create failed; retrying");
                    tokio::time::sleep(wait).await;
                }
                None => return Err(err),
            }
        }
    }

    /// One try of [`Store::create_task`]; after an unanswered try
    /// (`uncertain`), it first looks for the task. A signed-in `payer`
    /// pays into its quota window of this minute in the same commit; a
    /// refusal that straddled a minute's end is tried again (the rules
    /// judge the window by the server's minute).
    async fn create_once(
        &self,
        task: &Task,
        writes: &[pb::Write],
        minute: i64,
        uncertain: bool,
    ) -> std::result::Result<(), Attempt> {
        let retry = |error: Error, landed_maybe: bool| Attempt::Retry {
            error,
            landed_maybe,
        };
        if uncertain {
            match self.find_task(&task.task_id).await {
                Ok(Some(_)) => return Ok(()),
                Ok(None) => {}
                Err(e) if e.is_transient() => return Err(retry(e, false)),
                Err(e) => return Err(Attempt::Final(e)),
            }
        }
        let payer = self.payer();
        match self.commit(writes.to_vec()).await {
            Ok(_) => Ok(()),
            Err(e @ Error::PermissionDenied(_)) => match payer {
                Some(_) if quota::minute(crate::model::now()) != minute => Err(retry(e, false)),
                Some(p) => Err(Attempt::Final(quota::explain(self, &p, minute, e).await)),
                None => Err(Attempt::Final(e)),
            },
            Err(e) if e.is_conflict() => match self.find_task(&task.task_id).await {
                // An unanswered try landed since we looked.
                Ok(Some(_)) if uncertain => Ok(()),
                // Someone else's task has this id.
                Ok(Some(_)) => Err(Attempt::Final(e)),
                Ok(None) => Err(retry(e, false)),
                Err(read) if read.is_transient() => Err(retry(read, false)),
                Err(read) => Err(Attempt::Final(read)),
            },
            Err(e) if e.is_transient() => Err(retry(e, true)),
            Err(e) => Err(Attempt::Final(e)),
        }
    }

    /// Writes `new` over `seen` in one commit: in place when the status
    /// keeps it in the same pile, else as a move (delete + create). Only if
    /// nobody wrote the task since `seen` was read. `extra` writes (log
    /// lines, say) commit with it, all or nothing. Returns the new version.
    ///
    /// `path` is the status steps the write takes (empty when the status
    /// stays); it is checked against the state machine and must end at
    /// `new.status`.
    pub async fn replace_task(
        &self,
        seen: &Versioned<Task>,
        new: &Task,
        path: &[Status],
        extra: Vec<pb::Write>,
    ) -> Result<Versioned<Task>> {
        crate::lifecycle::check_path(seen.value.status, path)?;
        let end = path.last().copied().unwrap_or(seen.value.status);
        if end != new.status {
            return Err(Error::Firestore(format!(
                "bug: the path ends at {end} but the task says {}",
                new.status
            )));
        }
        let to = Pile::of(new.status);
        let mut writes = Vec::with_capacity(2 + extra.len());
        let task_index;
        if to == seen.pile {
            task_index = 0;
            writes.push(self.task_write(new, Precondition::UpdatedAt(seen.update_time), false)?);
        } else {
            writes.push(self.delete_write(seen.pile, &new.task_id, seen.update_time));
            task_index = 1;
            writes.push(self.task_write(new, Precondition::Missing, false)?);
        }
        writes.extend(extra);
        let resp = self.commit(writes).await?;
        let update_time = resp
            .write_results
            .get(task_index)
            .and_then(|r| r.update_time)
            .or(resp.commit_time)
            .unwrap_or_default();
        let mut value = new.clone();
        // The server set updated_at to the commit's request time.
        value.updated_at = resp
            .commit_time
            .and_then(|t| Time::from_parts(t.seconds, t.nanos))
            .or(value.updated_at);
        Ok(Versioned {
            value,
            pile: to,
            update_time,
        })
    }

    /// Finds a task in whichever pile holds it: one batch get of the three
    /// possible documents.
    pub async fn find_task(&self, task_id: &str) -> Result<Option<Versioned<Task>>> {
        let found = self.find_tasks(&[task_id.to_string()]).await?;
        Ok(found.into_iter().next().flatten())
    }

    /// Finds each of `ids` in whichever pile holds it, in order (`None`
    /// for one that does not exist): one batch get of three names a task.
    ///
    /// A batch get does not read its documents at one instant, so a task
    /// that moves between piles while it is read (the source read after
    /// the move, the destination before) seems to exist nowhere; one seen
    /// nowhere is read once more (observed: a workflow's last step read as
    /// missing the moment it completed). A task that really is missing
    /// costs that second read.
    pub async fn find_tasks(&self, ids: &[String]) -> Result<Vec<Option<Versioned<Task>>>> {
        let mut out = self.find_tasks_once(ids).await?;
        let missing: Vec<usize> = (0..out.len()).filter(|&i| out[i].is_none()).collect();
        if missing.is_empty() {
            return Ok(out);
        }
        let again: Vec<String> = missing.iter().map(|&i| ids[i].clone()).collect();
        for (i, found) in missing.into_iter().zip(self.find_tasks_once(&again).await?) {
            out[i] = found;
        }
        Ok(out)
    }

    async fn find_tasks_once(&self, ids: &[String]) -> Result<Vec<Option<Versioned<Task>>>> {
        if ids.is_empty() {
            return Ok(vec![]);
        }
        let names: Vec<String> = (ids.iter())
            .flat_map(|id| Pile::ALL.iter().map(move |p| self.name(&p.doc(id))))
            .collect();
        let docs = self.batch_get(names).await?;
        let mut out = Vec::with_capacity(ids.len());
        for piles in docs.chunks(Pile::ALL.len()) {
            let found = (Pile::ALL.iter().zip(piles))
                .find_map(|(pile, doc)| doc.as_ref().map(|d| (*pile, d)));
            out.push(match found {
                Some((pile, doc)) => Some(Self::decode_versioned(doc, pile)?),
                None => None,
            });
        }
        Ok(out)
    }

    /// Tasks in `pile`, optionally of one status, oldest first, parsed;
    /// malformed ones are returned as errors beside the good ones.
    pub async fn list_pile(
        &self,
        pile: Pile,
        status: Option<Status>,
        limit: Option<i32>,
    ) -> Result<Vec<Result<Versioned<Task>>>> {
        let filter = status.map(|s| field_eq("status", string_value(s.as_str())));
        let docs = self
            .run_query(&pile.parent(), pile.collection_id(), filter, vec![], limit)
            .await?;
        let mut out: Vec<_> = docs
            .iter()
            .map(|d| Self::decode_versioned(d, pile))
            .collect();
        out.sort_by_key(|r| match r {
            Ok(v) => (
                v.value
                    .created_at
                    .map(|t| t.0.as_microsecond())
                    .unwrap_or(i64::MAX),
                v.value.task_id.clone(),
            ),
            Err(_) => (i64::MAX, String::new()),
        });
        Ok(out)
    }

    /// Tasks of `status` wherever they live.
    pub async fn list_tasks(
        &self,
        status: Option<Status>,
        limit: Option<i32>,
    ) -> Result<Vec<Result<Versioned<Task>>>> {
        let piles: Vec<Pile> = match status {
            Some(s) => vec![Pile::of(s)],
            None => Pile::ALL.to_vec(),
        };
        let mut out = Vec::new();
        for pile in piles {
            out.extend(self.list_pile(pile, status, limit).await?);
        }
        Ok(out)
    }
}

use crate::model::Time;

/// How one try of a create ended, when it did not create the task.
enum Attempt {
    /// Try again; `landed_maybe` if Firestore did not answer, so the try
    /// may have created the task.
    Retry {
        error: Error,
        landed_maybe: bool,
    },
    Final(Error),
}
