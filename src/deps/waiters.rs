//! Who waits for a task: `waiters/{task_id}`, the ids of the blocked
//! tasks created `--after` it.
//!
//! Why a document of its own: whoever ends a task must find its
//! dependents. A query (`blocked_by array-contains`) would cost every task
//! end in every fleet a scan of the queued pile, dependencies or not; one
//! point read of a document that is usually absent costs one read. A
//! dependent cannot write into its dependency's task document instead:
//! that document belongs to the agent running it, whose next write would
//! then fail its precondition.
//!
//! A dependent registers right after it is created, with an `arrayUnion`
//! (concurrent registrations never lose one another), and settles itself
//! after registering, so a dependency that ended in between is seen by
//! that settle.
//!
//! The first dependent also names itself in the dependency's
//! `dependencies.blocking` ([`mark`]; firestore.rules `isBlockingMark`),
//! and whoever ends a task reads its waiters document only when that list
//! is not empty: a task nobody waits for, nearly every task, ends without
//! the read (issue 14: at most 6 operations a task). The mark is the one
//! write a dependent makes into its dependency's document. While the
//! dependency runs, its holder's next write finds the version changed and
//! re-reads, keeping the mark (`runner/write.rs`); whatever the order, the
//! holder's end either carries the mark or lands first, and then the
//! dependent's own settle, after the mark, sees the dependency ended. A creator that dies between the create and the
//! registration leaves the task to the sweep. The rules let an entry be
//! added only by naming a blocked task that waits for this one
//! (firestore.rules `/waiters/`).

use super::{Settled, settle};
use crate::error::{Error, Result};
use crate::layout::{self, Pile};
use crate::model::Task;
use crate::store::{Precondition, Store, Versioned};
use firestore::gcloud_sdk::google::firestore::v1 as pb;
use pb::document_transform::field_transform::TransformType;
use serde::{Deserialize, Serialize};

/// The most dependents one task's waiters document lists (the rules hold
/// it to this). More still work: the sweep settles the ones not listed.
pub const WAITERS_MAX: usize = 500;

/// Registrations per commit: each costs the rules one read, and a commit
/// may read 20.
const PER_COMMIT: usize = 10;

/// The document, as stored.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Waiters {
    pub dependents: Vec<String>,
}

fn rel(task_id: &str) -> String {
    format!("{}/{task_id}", layout::WAITERS)
}

/// The write that adds `dependent` to `dep`'s waiters (creating it).
pub fn register_write(store: &Store, dep: &str, dependent: &str) -> pb::Write {
    let element = crate::store::string_value(dependent);
    pb::Write {
        operation: Some(pb::write::Operation::Update(pb::Document {
            name: store.name(&rel(dep)),
            ..Default::default()
        })),
        // Only the transform: the rest of the document is left alone.
        update_mask: Some(pb::DocumentMask {
            field_paths: vec![],
        }),
        update_transforms: vec![pb::document_transform::FieldTransform {
            field_path: "dependents".into(),
            transform_type: Some(TransformType::AppendMissingElements(pb::ArrayValue {
                values: vec![element],
            })),
        }],
        ..Default::default()
    }
}

/// Registers blocked task `t` with each of its dependencies, `seen` as
/// the creator last read them (any it did not are read here), and marks
/// them ([`mark`]). A refusal (a dependency with [`WAITERS_MAX`]
/// dependents already) is logged: the sweep settles the task instead.
pub async fn register(store: &Store, t: &Task, seen: &[Versioned<Task>]) -> Result<()> {
    register_ids(store, &t.task_id, &t.dependencies.blocked_by, Some(seen)).await
}

/// [`register`] for a task whose dependencies were created marked (a
/// workflow's steps: the plan knows every step's dependents, so marking
/// them afterwards would cost a commit per dependency for nothing).
pub async fn register_premarked(store: &Store, t: &Task) -> Result<()> {
    register_ids(store, &t.task_id, &t.dependencies.blocked_by, None).await
}

/// Registers `task_id` with the dependencies `deps` only (an edit's new
/// ones: an entry already there cannot be added again), and, unless they
/// were created marked (`seen` is `None`), marks each that no dependent
/// has marked yet ([`mark`]).
pub async fn register_ids(
    store: &Store,
    task_id: &str,
    deps: &[String],
    seen: Option<&[Versioned<Task>]>,
) -> Result<()> {
    use backon::Retryable;
    for chunk in deps.chunks(PER_COMMIT) {
        let writes: Vec<_> = (chunk.iter())
            .map(|dep| register_write(store, dep, task_id))
            .collect();
        // An append is the same write made twice: a commit the emulator
        // aborted on a lock (a conflict) is simply made again.
        let registering = (|| store.commit(writes.clone()))
            .retry(again())
            .when(|e: &Error| e.is_transient() || e.is_conflict());
        if let Err(e) = registering.await {
            if e.is_transient() {
                return Err(e);
            }
            tracing::warn!(task = %task_id, error = %e, "could not register as a waiter; the sweep settles it");
        }
    }
    let Some(seen) = seen else { return Ok(()) };
    for dep in deps {
        let last = seen.iter().find(|v| &v.value.task_id == dep).cloned();
        let marking = || mark(store, dep, task_id, last.clone());
        marking.retry(again()).when(Error::is_transient).await?;
    }
    Ok(())
}

/// How many times [`mark`] looks for a dependency before it leaves the
/// dependent to the sweep: each miss is a move between piles that got in
/// between (a claim, a takeover), rarely more than one.
const MARK_TRIES: usize = 4;

/// Names `dependent` in `dep`'s `dependencies.blocking`, unless `dep`
/// ended or another dependent did so first: the end of `dep` then reads
/// its waiters. `last` is `dep` as last read, if it was; it names the
/// pile, and a refusal (the task moved, or was marked) is read again.
pub async fn mark(
    store: &Store,
    dep: &str,
    dependent: &str,
    mut last: Option<Versioned<Task>>,
) -> Result<()> {
    for _ in 0..MARK_TRIES {
        let seen = match last.take() {
            Some(v) => v,
            None => match store.find_task(dep).await? {
                Some(v) => v,
                None => return Ok(()),
            },
        };
        // A team's part needs no mark: its end always reads its waiters
        // (`part_of` names its parent, which waits for it).
        if seen.pile == Pile::Completed
            || seen.value.part_of.is_some()
            || !seen.value.dependencies.blocking.is_empty()
        {
            return Ok(());
        }
        match store
            .commit(vec![mark_write(store, &seen, dependent)])
            .await
        {
            Ok(_) => return Ok(()),
            // Moved to another pile (under the rules a write to a
            // document that is gone is refused, not found), or marked by
            // another dependent: read it again.
            Err(e)
                if e.is_conflict()
                    || matches!(e, Error::NotFound(_) | Error::PermissionDenied(_)) => {}
            Err(e) => return Err(e),
        }
    }
    tracing::warn!(task = %dependent, dependency = %dep, "could not mark the dependency; the sweep settles the task");
    Ok(())
}

/// The in-place write of the mark, in `seen`'s pile: an append and the
/// time, judged on the document as it stands when the commit lands, not
/// on the version read. A holder renewing its lease every second would
/// otherwise win every race under load (a dependency running long is the
/// usual case), and the mark would be left to the sweep. Appended to a
/// list a dependent marked meanwhile, it is refused (the list holds one).
pub fn mark_write(store: &Store, seen: &Versioned<Task>, dependent: &str) -> pb::Write {
    let append = pb::document_transform::FieldTransform {
        field_path: "dependencies.blocking".into(),
        transform_type: Some(TransformType::AppendMissingElements(pb::ArrayValue {
            values: vec![crate::store::string_value(dependent)],
        })),
    };
    pb::Write {
        operation: Some(pb::write::Operation::Update(pb::Document {
            name: store.name(&seen.pile.doc(&seen.value.task_id)),
            ..Default::default()
        })),
        update_mask: Some(pb::DocumentMask {
            field_paths: vec![],
        }),
        update_transforms: vec![append, crate::store::server_time("updated_at")],
        current_document: Precondition::Exists.into_pb(),
    }
}

/// The tasks registered as waiting for `task_id` (one read).
pub async fn waiting_for(store: &Store, task_id: &str) -> Result<Vec<String>> {
    let doc = store.batch_get(vec![store.name(&rel(task_id))]).await?;
    match doc.into_iter().next().flatten() {
        Some(d) => Ok(Store::decode::<Waiters>(&d)?.dependents),
        None => Ok(vec![]),
    }
}

/// The most tasks one release settles, cascades included: a bound on the
/// work one task's end may cause; the sweep does the rest.
const RELEASE_MAX: usize = 1_000;

/// Settles every task waiting for `task_id`, which just ended, and, when
/// one of them ends too (cancelled or skipped), the tasks waiting for it;
/// returns how many moved. A failure on one is logged and the others are
/// still settled: the sweep comes back for it.
///
/// An unanswered read or write is tried again a few times first
/// ([`again`]): the end of a task is the moment its dependents are due,
/// and the sweep may be minutes away.
pub async fn release_dependents(store: &Store, task_id: &str, by: &str) -> Result<usize> {
    use backon::Retryable;
    let mut ended = vec![task_id.to_string()];
    let (mut moved, mut settled) = (0, 0);
    while let Some(id) = ended.pop() {
        let dependents = (|| waiting_for(store, &id))
            .retry(again())
            .when(Error::is_transient)
            .await?;
        for dependent in dependents {
            if settled >= RELEASE_MAX {
                return Ok(moved);
            }
            settled += 1;
            let settling = (|| settle(store, &dependent, by))
                .retry(again())
                .when(Error::is_transient);
            match settling.await {
                Ok(Settled::Waiting { .. } | Settled::NotBlocked) => {}
                Ok(s) => {
                    moved += 1;
                    if s.ended() {
                        ended.push(dependent);
                    }
                }
                Err(e) => {
                    tracing::warn!(task = %dependent, error = %e, "could not settle a dependent; the sweep will")
                }
            }
        }
    }
    Ok(moved)
}

/// A release's retries of an unanswered call: five, jittered, from 200 ms
/// up to 2 s, about five seconds in all.
fn again() -> backon::ExponentialBuilder {
    backon::ExponentialBuilder::default()
        .with_min_delay(std::time::Duration::from_millis(200))
        .with_max_delay(std::time::Duration::from_secs(2))
        .with_max_times(5)
        .with_jitter()
}
