//! Tasks a person types into the Firebase console. Pure, no I/O.
//!
//! Why: the console is one of the three ways people reach vayu, and a
//! person typing a document by hand writes what they know (a title,
//! perhaps a type and a priority), not the twenty fields a task carries.
//! Such a *draft* is not a task, so no agent may run it as one; instead any
//! agent turns it into a task in place, in one write conditional on the
//! version it read ([`normalise`], `firestore.rules` `isNormalise`): the
//! document id becomes the task id, the draft's fields are kept, the rest
//! are the defaults `vayu task create` would use, and the lane is chosen
//! from the id so that exactly one agent's listener sees it next.
//!
//! A document is a draft when it has no `task_id` (every task written by
//! vayu has one). A draft with anything else (an unknown key, an unknown
//! type, an empty title) cannot be fixed without guessing, so it goes to
//! the quarantine with the reason, where `vayu quarantine list` and `vayu
//! task list` show it.

use crate::model::{Priority, Requester, RequesterType, Task, TaskType};
use serde::Deserialize;

/// The fields a person may type, as the rules' `isDraft` lists them.
/// Anything else makes the document unfixable ([`check_keys`]).
pub const DRAFT_KEYS: [&str; 5] = ["title", "type", "priority", "input", "requires"];

/// What a person may type.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct Draft {
    pub title: String,
    #[serde(rename = "type")]
    pub task_type: Option<String>,
    pub priority: Option<String>,
    pub input: Option<String>,
    pub requires: Option<Vec<String>>,
}

/// The requester a normalised task names: no person signed in to type it,
/// so the system made it on the console's behalf (`isNormalise` checks
/// this value).
pub fn console_requester() -> Requester {
    Requester {
        kind: RequesterType::System,
        id: "console".into(),
        context: "typed in the Firebase console".into(),
    }
}

/// Whether a stored document is a draft rather than a (perhaps broken)
/// task, judged by its field names.
pub fn is_draft<'a>(mut keys: impl Iterator<Item = &'a String>) -> bool {
    !keys.any(|k| k == "task_id")
}

/// Whether a draft's fields are only [`DRAFT_KEYS`]; else which are not.
/// (Checked by name rather than by serde's `deny_unknown_fields`: the
/// Firestore decoder adds fields of its own, such as the document id.)
pub fn check_keys<'a>(keys: impl Iterator<Item = &'a String>) -> Result<(), String> {
    let mut unknown: Vec<&str> = keys
        .map(String::as_str)
        .filter(|k| !DRAFT_KEYS.contains(k))
        .collect();
    if unknown.is_empty() {
        return Ok(());
    }
    unknown.sort_unstable();
    Err(format!(
        "unknown field(s) {}; a draft has only {}",
        unknown.join(", "),
        DRAFT_KEYS.join(", ")
    ))
}

/// The task a draft stored at `id` becomes, or why it cannot become one.
pub fn normalise(id: &str, draft: Draft) -> Result<Task, String> {
    let task_type = match draft.task_type.as_deref() {
        None => TaskType::default(),
        Some(t) => t.parse()?,
    };
    let priority = match draft.priority.as_deref() {
        None => Priority::default(),
        Some(p) => p.parse()?,
    };
    let mut task = Task::new(task_type, priority, draft.title);
    task.task_id = id.to_string();
    task.lane = crate::spread::lane_for(id);
    task.input = draft.input.unwrap_or_default();
    task.requires = draft.requires.unwrap_or_default();
    task.requester = console_requester();
    task.validate_new().map_err(|e| e.to_string())?;
    Ok(task)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lifecycle::Status;

    fn draft(title: &str) -> Draft {
        Draft {
            title: title.into(),
            ..Draft::default()
        }
    }

    #[test]
    fn a_title_alone_becomes_a_queued_task_with_the_defaults() {
        let t = normalise("typed-1", draft("write the report")).expect("a title is enough");
        assert_eq!(t.task_id, "typed-1");
        assert_eq!(t.status, Status::Queued);
        assert_eq!(t.task_type, TaskType::UserRequest);
        assert_eq!(t.priority, Priority::Normal);
        assert_eq!(t.priority_rank, Priority::Normal.rank());
        assert_eq!(t.lane, crate::spread::lane_for("typed-1"));
        assert_eq!(t.requester, console_requester());
    }

    #[test]
    fn typed_fields_are_kept() {
        let d = Draft {
            task_type: Some("research".into()),
            priority: Some("critical".into()),
            input: Some("look it up".into()),
            requires: Some(vec!["web".into()]),
            ..draft("find it")
        };
        let t = normalise("typed-2", d).expect("every field is valid");
        assert_eq!(t.task_type, TaskType::Research);
        assert_eq!(t.priority_rank, 0);
        assert_eq!(t.input, "look it up");
        assert_eq!(t.requires, vec!["web".to_string()]);
    }

    #[test]
    fn what_cannot_be_fixed_says_why() {
        let bad_type = Draft {
            task_type: Some("chores".into()),
            ..draft("x")
        };
        assert!(normalise("a", bad_type).unwrap_err().contains("chores"));
        assert!(normalise("a", draft("  ")).unwrap_err().contains("title"));
        let bad_cap = Draft {
            requires: Some(vec!["no spaces allowed".into()]),
            ..draft("x")
        };
        assert!(normalise("a", bad_cap).is_err());
        // A document id the rules would not accept as a task id.
        assert!(normalise("-lead", draft("x")).is_err());
    }

    #[test]
    fn a_draft_has_only_the_keys_a_person_may_type() {
        let keys = ["title".to_string(), "priority".to_string()];
        assert_eq!(check_keys(keys.iter()), Ok(()));
        let keys = [
            "title".to_string(),
            "lane".to_string(),
            "colour".to_string(),
        ];
        let err = check_keys(keys.iter()).unwrap_err();
        assert!(err.contains("colour, lane"), "{err}");
    }

    #[test]
    fn only_documents_without_a_task_id_are_drafts() {
        let keys = ["title".to_string(), "type".to_string()];
        assert!(is_draft(keys.iter()));
        let keys = ["title".to_string(), "task_id".to_string()];
        assert!(!is_draft(keys.iter()));
    }
}
