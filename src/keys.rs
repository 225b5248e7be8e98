//! `vayu task create --key K`: a create that a retry never repeats.
//!
//! The task's id is derived from the requester and the key (a name-based
//! UUID), so a second create with the same key names the same document.
//! Before creating, every pile is looked in: the first create's task may
//! have been claimed, run and completed since, and it is returned as it is
//! now. A create refused because the id exists (two creates with one key
//! at once) is answered the same way. A key reused for a different task (a
//! title, type or input that differs) is refused rather than answered with
//! a task that is not what was asked for.
//!
//! Two creates with one key at once: the second's write is refused (the
//! id exists, or the rules see it in another pile by then) and it answers
//! with the first's task. Admins bypass the rules, so for them a claim
//! landing between the second's look and its write is not caught.

use crate::error::{Error, Result};
use crate::model::{InvalidTask, Task};
use crate::store::{Store, Versioned};
use crate::tasks::NewTask;

/// Namespace of the name-based ids: fixed forever, or every key would
/// name a new id after an upgrade.
const NAMESPACE: uuid::Uuid = uuid::Uuid::from_u128(0x5f1e_a6d2_83c4_4b7e_9a61_0d2f_7c3b_e915);

/// The longest key; a key is printable text, without control characters.
pub const KEY_MAX: usize = 200;

/// What a keyed create did.
#[derive(Debug)]
pub enum Keyed {
    Created(Task),
    /// The key's task existed: as it is now.
    Existing(Versioned<Task>),
}

/// The id a create with `key` by `requester` gets.
pub fn task_id(requester: &str, key: &str) -> String {
    let name = format!("{requester}\n{key}");
    uuid::Uuid::new_v5(&NAMESPACE, name.as_bytes()).to_string()
}

/// Checks `key` before anything is read or written (exit 2 when bad).
pub fn check(key: &str) -> Result<()> {
    if key.is_empty() || key.chars().count() > KEY_MAX || key.chars().any(char::is_control) {
        return Err(Error::InvalidTask(InvalidTask(format!(
            "--key must be 1-{KEY_MAX} characters of printable text"
        ))));
    }
    Ok(())
}

/// What a key's task must be for a create to be its retry.
struct Asked {
    requester: String,
    title: String,
    task_type: crate::model::TaskType,
    input: String,
}

/// Creates `new` once for `key`.
pub async fn create(store: &Store, new: NewTask, key: &str) -> Result<Keyed> {
    check(key)?;
    let id = task_id(&new.requester.id, key);
    let asked = Asked {
        requester: new.requester.id.clone(),
        title: new.title.clone(),
        task_type: new.task_type,
        input: new.input.clone(),
    };
    match create_at(store, new, &id).await? {
        Keyed::Existing(v) => same(v, &asked, key).map(Keyed::Existing),
        created => Ok(created),
    }
}

/// The task `id` names, in a pile or archived since (its pile then
/// reads as completed, with no update time).
pub async fn find(store: &Store, id: &str) -> Result<Option<Versioned<Task>>> {
    if let Some(v) = store.find_task(id).await? {
        return Ok(Some(v));
    }
    // Archived since: still the key's task, not a reason to make another.
    Ok(crate::archive::find_archived(store, id)
        .await?
        .map(|a| Versioned {
            value: a.task,
            pile: crate::layout::Pile::Completed,
            update_time: Default::default(),
        }))
}

/// Creates `new` as task `id` unless a task `id` exists anywhere; the
/// caller judges whether an existing one is what it asked for
/// (`crate::github` derives `id` from an issue, not from a requester).
pub async fn create_at(store: &Store, mut new: NewTask, id: &str) -> Result<Keyed> {
    if let Some(v) = find(store, id).await? {
        return Ok(Keyed::Existing(v));
    }
    new.task_id = Some(id.to_string());
    match crate::tasks::create(store, new).await {
        Ok(t) => Ok(Keyed::Created(t)),
        // Taken meanwhile: refused as a conflict, or by the rules when the
        // id is in another pile by now (claimed since our look).
        Err(e) if e.is_conflict() || matches!(e, Error::PermissionDenied(_)) => {
            match store.find_task(id).await? {
                Some(v) => Ok(Keyed::Existing(v)),
                None => Err(e),
            }
        }
        Err(e) => Err(e),
    }
}

/// The key's task, if it is the task asked for.
fn same(v: Versioned<Task>, asked: &Asked, key: &str) -> Result<Versioned<Task>> {
    let t = &v.value;
    // The id can be worked out by anyone who knows the requester and
    // guesses the key: someone else's task under it is not ours.
    if t.requester.id != asked.requester {
        return Err(Error::Conflict(format!(
            "the id of the key {key:?} is held by a task of another requester ({}); use another key",
            t.task_id
        )));
    }
    let differs = [
        ("title", t.title != asked.title),
        ("type", t.task_type != asked.task_type),
        ("input", t.input != asked.input),
    ];
    match differs.iter().find(|(_, d)| *d) {
        None => Ok(v),
        Some((what, _)) => Err(Error::Conflict(format!(
            "the key {key:?} already made task {} ({:?}), whose {what} differs; use another key",
            t.task_id, t.title
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_names_one_id_per_requester() {
        let a = task_id("olga", "nightly-2026-12-06");
        assert_eq!(a, task_id("olga", "nightly-2026-12-06"), "stable");
        assert_ne!(
            a,
            task_id("ivan", "nightly-2026-12-06"),
            "scoped by requester"
        );
        assert_ne!(a, task_id("olga", "nightly-2026-12-07"));
        assert!(crate::schema::is_task_id(&a), "{a} is a task id");
        // Pinned: an id that changes across versions would let a retry
        // after an upgrade create the task again.
        // (The value is Python's uuid.uuid5 of the same namespace and name.)
        assert_eq!(task_id("olga", "k"), "8c28b9d2-4e86-5378-aac3-156366a344bf");
    }

    #[test]
    fn keys_are_bounded_printable_text() {
        assert!(check("deploy #42 / main").is_ok());
        assert!(check("").is_err());
        assert!(check("a\nb").is_err());
        assert!(check(&"k".repeat(KEY_MAX + 1)).is_err());
        assert!(check(&"é".repeat(KEY_MAX)).is_ok(), "counted in characters");
    }
}
