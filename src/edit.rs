//! `vayu task edit ID --priority P --tags A,B --not-before T`: changing a
//! task nobody has claimed. One conditional write in place (the task stays
//! queued or blocked, in the queued pile); firestore.rules `isPersonEdit`
//! lets only its controller make it, and only to these fields. A task an
//! agent claimed meanwhile is refused (exit 4) rather than edited under
//! its runner.

use crate::error::{Error, Result};
use crate::layout::Pile;
use crate::lifecycle::Status;
use crate::model::{InvalidTask, Priority, Task, Time};
use crate::store::{Store, Versioned};

/// What to change; `None` keeps it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Edit {
    pub priority: Option<Priority>,
    pub tags: Option<Vec<String>>,
    /// `Some(None)` clears the start time: it may start at once.
    pub not_before: Option<Option<Time>>,
}

impl Edit {
    pub fn is_empty(&self) -> bool {
        *self == Edit::default()
    }

    /// `t` with the edit applied (pure).
    pub fn apply(&self, t: &Task) -> Task {
        let mut next = t.clone();
        if let Some(p) = self.priority {
            next.priority = p;
            next.priority_rank = p.rank();
        }
        if let Some(tags) = &self.tags {
            next.metadata.tags = tags.clone();
        }
        if let Some(nb) = self.not_before {
            next.not_before = nb;
        }
        next
    }
}

/// Applies `edit` to task `id`; the task as written.
pub async fn edit(store: &Store, id: &str, edit: &Edit) -> Result<Versioned<Task>> {
    if !crate::schema::is_task_id(id) {
        return Err(Error::NotFound(format!("'{id}' is not a task id")));
    }
    let seen =
        (store.find_task(id).await?).ok_or_else(|| Error::NotFound(format!("no task {id}")))?;
    let status = seen.value.status;
    if seen.pile != Pile::Queued || !matches!(status, Status::Queued | Status::Blocked) {
        return Err(Error::Conflict(format!(
            "{id} is {status}: only a queued or blocked task can be edited"
        )));
    }
    let next = edit.apply(&seen.value);
    crate::schema::check_stored(&next).map_err(|e| Error::InvalidTask(InvalidTask(e)))?;
    if next == seen.value {
        return Ok(seen);
    }
    match store.replace_task(&seen, &next, &[], Vec::new()).await {
        // Claimed (moved out of the queue) or changed since it was read.
        Err(e)
            if matches!(e, Error::PermissionDenied(_) | Error::NotFound(_)) || e.is_conflict() =>
        {
            match store.find_task(id).await? {
                Some(now) if now.update_time != seen.update_time => Err(Error::Conflict(format!(
                    "{id} changed while it was being edited (it is {} now); try again",
                    now.value.status
                ))),
                _ => Err(e),
            }
        }
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::TaskType;

    #[test]
    fn an_edit_changes_only_what_it_names_and_keeps_the_rank_in_step() {
        let t = Task::new(TaskType::Research, Priority::Low, "t");
        let e = Edit {
            priority: Some(Priority::Critical),
            ..Edit::default()
        };
        let next = e.apply(&t);
        assert_eq!((next.priority, next.priority_rank), (Priority::Critical, 0));
        assert_eq!(next.metadata, t.metadata);
        assert_eq!(next.not_before, t.not_before);
        let clear = Edit {
            tags: Some(vec![]),
            not_before: Some(None),
            ..Edit::default()
        };
        assert_eq!(clear.apply(&next).priority, Priority::Critical);
        assert!(Edit::default().is_empty() && !clear.is_empty());
    }
}
