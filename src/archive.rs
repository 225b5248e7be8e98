//! Retention: moving ended tasks out of the completed pile into
//! `archive/{task_id}`, by a person (`vayu task archive`) or by any agent
//! once they are older than `config/retention` says
//! ([`crate::retention::Retention`]); and deleting ended tasks for good
//! (`vayu task delete`).
//!
//! An archive is a move like any other: one commit deletes the task from
//! the completed pile, conditioned on the version read, and creates the
//! archive record, conditioned on its absence. Two agents that sweep at
//! once both try; one commit lands and the other's preconditions fail, so
//! archiving twice is safe and needs no leader.

use crate::error::{Error, Result};
use crate::layout::{self, Pile};
use crate::model::{Task, Time, now};
use crate::retention::Retention;
use crate::store::{self, Precondition, Store, server_time};
use firestore::gcloud_sdk::google::firestore::v1 as pb;
use pb::structured_query::{self as sq, field_filter::Operator};

/// At most this many tasks per sweep, so one sweep stays short; the next
/// one goes on where it stopped.
pub const SWEEP_MAX: usize = 500;
/// Tasks read per query of a sweep.
const SWEEP_PAGE: i32 = 100;

/// An archived task: the task as it ended, and who archived it when.
#[derive(Debug, Clone)]
pub struct Archived {
    pub task: Task,
    pub archived_at: Option<Time>,
    pub archived_by: String,
}

/// The project's retention: `config/retention`, or the default when it
/// does not exist. A document that does not parse is refused (exit 64),
/// not read as the default: a typo must not archive a year early.
pub async fn retention(store: &Store) -> Result<Retention> {
    let Some(doc) = store.get_doc(layout::RETENTION_CONFIG).await? else {
        return Ok(Retention::default());
    };
    let r: Retention = Store::decode(&doc)
        .map_err(|e| Error::Config(format!("{} does not parse: {e}", layout::RETENTION_CONFIG)))?;
    r.validate().map_err(Error::Config)?;
    Ok(r)
}

/// Sets `config/retention` (an admin's; the rules refuse anyone else).
pub async fn set_retention(store: &Store, r: Retention) -> Result<()> {
    r.validate().map_err(Error::Config)?;
    let doc = store.encode(layout::RETENTION_CONFIG, &r)?;
    store
        .commit(vec![pb::Write {
            operation: Some(pb::write::Operation::Update(doc)),
            ..Default::default()
        }])
        .await?;
    Ok(())
}

/// The writes that move a task of the completed pile (`doc`, as read)
/// to the archive. The record is the stored document's own fields, not a
/// decode and encode of them, so nothing the task holds is lost or
/// changed on the way (the rules check that only the two new fields
/// differ).
pub fn archive_writes(store: &Store, doc: &pb::Document, by: &str) -> pb::Write {
    let id = doc.name.rsplit('/').next().unwrap_or_default();
    let mut fields = doc.fields.clone();
    fields.insert("archived_by".into(), store::string_value(by));
    pb::Write {
        operation: Some(pb::write::Operation::Update(pb::Document {
            name: store.name(&layout::archive_doc(id)),
            fields,
            ..Default::default()
        })),
        update_transforms: vec![server_time("archived_at")],
        current_document: Precondition::Missing.into_pb(),
        ..Default::default()
    }
}

/// The move: the delete from the completed pile, conditioned on the
/// version read, and the archive record's create.
fn archive_commit(store: &Store, doc: &pb::Document, by: &str) -> Vec<pb::Write> {
    vec![unpile(store, doc), archive_writes(store, doc, by)]
}

/// The completed pile's delete of `doc`, only if unchanged since read
/// (the same write every move's first half is).
fn unpile(store: &Store, doc: &pb::Document) -> pb::Write {
    let id = doc.name.rsplit('/').next().unwrap_or_default();
    store.delete_write(Pile::Completed, id, doc.update_time.unwrap_or_default())
}

fn time_value(t: Time) -> pb::Value {
    pb::Value {
        value_type: Some(pb::value::ValueType::TimestampValue(store::pb_time(t))),
    }
}

/// What archiving or deleting one task did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Done {
    Archived,
    Deleted,
    /// It was in the archive already (a retried archive is not an error).
    AlreadyArchived,
}

impl std::fmt::Display for Done {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Done::Archived => "archived",
            Done::Deleted => "deleted",
            Done::AlreadyArchived => "already archived",
        })
    }
}

/// Archives one ended task, whatever its age (a person's; the rules let
/// its requester or an admin).
pub async fn archive(store: &Store, task_id: &str, by: &str) -> Result<Done> {
    let doc = match ended(store, task_id).await? {
        Place::Pile(doc) => doc,
        Place::Archive => return Ok(Done::AlreadyArchived),
    };
    refuse_if_awaited(store, task_id).await?;
    store.commit(archive_commit(store, &doc, by)).await?;
    Ok(Done::Archived)
}

/// Deletes one ended task for good, from the completed pile or the
/// archive. Its log lines expire on their own (their TTL).
pub async fn delete(store: &Store, task_id: &str) -> Result<Done> {
    let place = ended(store, task_id).await?;
    if matches!(place, Place::Pile(_)) {
        refuse_if_awaited(store, task_id).await?;
    }
    let write = match place {
        Place::Pile(doc) => unpile(store, &doc),
        Place::Archive => pb::Write {
            operation: Some(pb::write::Operation::Delete(
                store.name(&layout::archive_doc(task_id)),
            )),
            current_document: Precondition::Exists.into_pb(),
            ..Default::default()
        },
    };
    store.commit(vec![write]).await?;
    Ok(Done::Deleted)
}

/// The tasks still blocked on `task_id` that have not recorded its end.
/// Unblocking reads a dependency in the completed pile only, so moving
/// it out first would leave them blocked for good; they settle within
/// seconds of its end (or at the next sweep), so this is rarely anything.
/// One read when nobody waits.
pub async fn awaited_by(store: &Store, task_id: &str) -> Result<Vec<String>> {
    let ids = crate::deps::waiting_for(store, task_id).await?;
    let found = store.find_tasks(&ids).await?;
    Ok((ids.into_iter().zip(found))
        .filter_map(|(id, seen)| {
            let t = seen?.value;
            let waits = t.status == crate::lifecycle::Status::Blocked
                && t.dependencies.blocked_by.iter().any(|d| d == task_id)
                && !t.dependencies.done.iter().any(|d| d == task_id);
            waits.then_some(id)
        })
        .collect())
}

async fn refuse_if_awaited(store: &Store, task_id: &str) -> Result<()> {
    let waiting = awaited_by(store, task_id).await?;
    if waiting.is_empty() {
        return Ok(());
    }
    Err(Error::Conflict(format!(
        "task {task_id} has not yet released the tasks blocked on it ({}); they settle \
         within seconds of its end, or at the agents' next sweep: try again then",
        waiting.join(", ")
    )))
}

enum Place {
    /// In the completed pile, as read.
    Pile(pb::Document),
    Archive,
}

/// Where an ended task is; an error for one that has not ended (cancel
/// it first) or does not exist.
async fn ended(store: &Store, task_id: &str) -> Result<Place> {
    if !crate::schema::is_task_id(task_id) {
        return Err(Error::NotFound(format!("'{task_id}' is not a task id")));
    }
    if let Some(doc) = store.get_doc(&Pile::Completed.doc(task_id)).await? {
        return Ok(Place::Pile(doc));
    }
    if store
        .get_doc(&layout::archive_doc(task_id))
        .await?
        .is_some()
    {
        return Ok(Place::Archive);
    }
    match store.find_task(task_id).await? {
        Some(seen) => Err(Error::InvalidTask(crate::model::InvalidTask(format!(
            "task {task_id} is {}: only an ended task (completed, failed, cancelled, \
             skipped) leaves the piles; cancel it first",
            seen.value.status
        )))),
        None => Err(Error::NotFound(format!("no task {task_id}"))),
    }
}

/// The archived task `task_id`, if it is archived.
pub async fn find_archived(store: &Store, task_id: &str) -> Result<Option<Archived>> {
    let Some(doc) = store.get_doc(&layout::archive_doc(task_id)).await? else {
        return Ok(None);
    };
    let task = Store::decode_task(&doc)?;
    let field = |k: &str| doc.fields.get(k).and_then(|v| v.value_type.as_ref());
    let archived_at = match field("archived_at") {
        Some(pb::value::ValueType::TimestampValue(t)) => Time::from_parts(t.seconds, t.nanos),
        _ => None,
    };
    let archived_by = match field("archived_by") {
        Some(pb::value::ValueType::StringValue(s)) => s.clone(),
        _ => String::new(),
    };
    Ok(Some(Archived {
        task,
        archived_at,
        archived_by,
    }))
}

/// An agent's sweep: archives tasks of the completed pile last changed
/// before the retention's cutoff, oldest first, at most [`SWEEP_MAX`].
/// A task another agent archived (or a person touched) first is skipped.
/// Returns how many this sweep archived.
pub async fn sweep(store: &Store, by: &str) -> Result<usize> {
    let cutoff = retention(store).await?.cutoff(now());
    let mut archived = 0;
    let mut seen_total = 0;
    loop {
        let pile = Pile::Completed;
        let docs = store
            .run_query(
                &pile.parent(),
                pile.collection_id(),
                Some(due_filter(cutoff)),
                oldest_first(),
                Some(SWEEP_PAGE),
            )
            .await?;
        let page = docs.len();
        let mut progressed = false;
        for doc in &docs {
            seen_total += 1;
            let id = doc.name.rsplit('/').next().unwrap_or_default();
            // Not yet: its dependents have not recorded its end.
            if !awaited_by(store, id).await?.is_empty() {
                continue;
            }
            match store.commit(archive_commit(store, doc, by)).await {
                Ok(_) => {
                    archived += 1;
                    progressed = true;
                }
                Err(Error::Conflict(_) | Error::PermissionDenied(_) | Error::NotFound(_)) => {}
                Err(e) => return Err(e),
            }
        }
        // A page with nothing archived would be read again as it is.
        if page < SWEEP_PAGE as usize || !progressed || seen_total >= SWEEP_MAX {
            return Ok(archived);
        }
    }
}

/// `updated_at < cutoff`.
pub fn due_filter(cutoff: Time) -> sq::Filter {
    store::field_op("updated_at", Operator::LessThan, time_value(cutoff))
}

/// Oldest change first.
pub fn oldest_first() -> Vec<sq::Order> {
    vec![sq::Order {
        field: Some(sq::FieldReference {
            field_path: "updated_at".into(),
        }),
        direction: sq::Direction::Ascending as i32,
    }]
}
