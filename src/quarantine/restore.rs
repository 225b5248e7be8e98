//! A quarantined document, or a person's fixed version of it, made into a
//! new task again. Pure: no I/O.
//!
//! Only what a person asks for is read (title, type, priority, input,
//! requires, tags and the limits); what vayu manages (status, history,
//! lease, execution, ...) starts afresh, so a full task document can be
//! given too, e.g. the `document` of `vayu quarantine show --json` edited.
//! A key vayu does not know is refused rather than dropped unseen, and
//! every refusal names its field.

use crate::model::{InvalidTask, Requester, Task};
use crate::tasks::NewTask;
use serde_json::{Map, Value};
use std::str::FromStr;

/// Keys a restore reads, at the top level.
const ASKED: &[&str] = &[
    "title",
    "type",
    "priority",
    "input",
    "requires",
    "tags",
    "context",
    "max_retries",
    "timeout_secs",
    "estimated_duration",
    "complexity",
    "metadata",
    "requester",
];
/// Keys of a stored task that a restore sets afresh.
const MANAGED: &[&str] = &[
    "task_id",
    "status",
    "created_at",
    "updated_at",
    "priority_rank",
    "lane",
    "assignment",
    "dependencies",
    "execution",
    "review",
    "lease",
    "not_before",
    "control",
    "history",
];
/// `metadata` keys a restore reads; `retry_count` and `actual_duration`
/// start afresh.
const METADATA: &[&str] = &[
    "tags",
    "max_retries",
    "timeout_secs",
    "estimated_duration",
    "complexity",
    "retry_count",
    "actual_duration",
];

/// The requester context of a restored task that had none (a new task has
/// no history entry to say it in).
pub const RESTORED_NOTE: &str = "restored from quarantine";

pub use crate::schema::is_task_id;

/// The new task restored as `id` from `fields` (the quarantined document
/// or its fixed version), requested by `requester`, queued, saying it was
/// restored (in an empty requester context); validated as any new task is.
pub fn restored_task(
    id: &str,
    fields: &Map<String, Value>,
    requester: Requester,
) -> Result<Task, InvalidTask> {
    if !is_task_id(id) {
        return Err(InvalidTask(format!(
            "'{id}' is not a task id (1-64 of A-Z, a-z, 0-9, '_', '-', starting with a letter or digit)"
        )));
    }
    let f = Fields::new(fields)?;
    let title = f
        .string("title")?
        .ok_or_else(|| invalid("title", "is missing"))?;
    let mut new = NewTask::new(
        f.parsed("type")?.unwrap_or_default(),
        f.parsed("priority")?.unwrap_or_default(),
        title,
    );
    new.requester = requester;
    new.requester.context = f.string("context")?.unwrap_or_default();
    new.input = f.input()?;
    new.requires = f.strings("requires")?.unwrap_or_default();
    new.tags = f.strings("tags")?.unwrap_or_default();
    new.max_retries = f.int("max_retries")?;
    new.timeout_secs = f.int("timeout_secs")?;
    new.estimated_minutes = f.number("estimated_duration")?;
    new.complexity = f.parsed("complexity")?;
    let mut task = new.into_task();
    task.task_id = id.into();
    task.lane = crate::lanes::lane_for(id);
    task.history.clear();
    if task.requester.context.is_empty() {
        task.requester.context = RESTORED_NOTE.into();
    }
    task.validate_new()?;
    Ok(task)
}

fn invalid(field: &str, what: &str) -> InvalidTask {
    InvalidTask(format!("`{field}` {what}"))
}

/// The keys of a document, with `metadata`'s and `requester`'s beside the
/// top level ones (a console draft has `tags` on top, a task in metadata).
struct Fields<'a> {
    top: &'a Map<String, Value>,
    metadata: Option<&'a Map<String, Value>>,
    requester: Option<&'a Map<String, Value>>,
}

impl<'a> Fields<'a> {
    fn new(top: &'a Map<String, Value>) -> Result<Self, InvalidTask> {
        if let Some(k) = top
            .keys()
            .find(|k| !ASKED.contains(&k.as_str()) && !MANAGED.contains(&k.as_str()))
        {
            return Err(invalid(k, "is not a task field"));
        }
        let object = |key: &str| match top.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Object(m)) => Ok(Some(m)),
            Some(_) => Err(invalid(key, "must be a map")),
        };
        let metadata = object("metadata")?;
        if let Some(k) = metadata
            .into_iter()
            .flat_map(|m| m.keys())
            .find(|k| !METADATA.contains(&k.as_str()))
        {
            return Err(invalid(&format!("metadata.{k}"), "is not a metadata field"));
        }
        Ok(Fields {
            top,
            metadata,
            requester: object("requester")?,
        })
    }

    /// `key` on top, else in metadata (or requester, for `context`), with
    /// the name to blame; `None` when absent or null.
    fn get(&self, key: &str) -> Option<(String, &'a Value)> {
        let nested = match key {
            "context" => self.requester.map(|m| ("requester", m)),
            _ => self.metadata.map(|m| ("metadata", m)),
        };
        let top = self.top.get(key).map(|v| (key.to_string(), v));
        top.or_else(|| nested.and_then(|(n, m)| m.get(key).map(|v| (format!("{n}.{key}"), v))))
            .filter(|(_, v)| !v.is_null())
    }

    /// `key` converted by `read`, or an error saying it `must be` so.
    fn typed<T>(
        &self,
        key: &str,
        must_be: &str,
        read: impl Fn(&Value) -> Option<T>,
    ) -> Result<Option<T>, InvalidTask> {
        match self.get(key) {
            None => Ok(None),
            Some((name, v)) => read(v)
                .map(Some)
                .ok_or_else(|| invalid(&name, &format!("must be {must_be}"))),
        }
    }

    fn string(&self, key: &str) -> Result<Option<String>, InvalidTask> {
        self.typed(key, "a string", |v| v.as_str().map(str::to_string))
    }

    /// `input` is text; JSON typed as a map or list is kept as its text.
    fn input(&self) -> Result<String, InvalidTask> {
        match self.get("input") {
            None => Ok(String::new()),
            Some((_, Value::String(s))) => Ok(s.clone()),
            Some((_, v @ (Value::Object(_) | Value::Array(_)))) => Ok(v.to_string()),
            Some((name, _)) => Err(invalid(&name, "must be text or JSON")),
        }
    }

    fn strings(&self, key: &str) -> Result<Option<Vec<String>>, InvalidTask> {
        self.typed(key, "a list of strings", |v| {
            v.as_array()?
                .iter()
                .map(|i| i.as_str().map(str::to_string))
                .collect()
        })
    }

    fn int(&self, key: &str) -> Result<Option<i64>, InvalidTask> {
        self.typed(key, "an integer", Value::as_i64)
    }

    fn number(&self, key: &str) -> Result<Option<f64>, InvalidTask> {
        self.typed(key, "a number", Value::as_f64)
    }

    /// A string naming one of an enum's values (type, priority, ...).
    fn parsed<T: FromStr<Err = String>>(&self, key: &str) -> Result<Option<T>, InvalidTask> {
        match self.get(key) {
            None => Ok(None),
            Some((name, Value::String(s))) => s
                .parse()
                .map(Some)
                .map_err(|e| invalid(&name, &format!("is wrong: {e}"))),
            Some((name, _)) => Err(invalid(&name, "must be a string")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lifecycle::Status;
    use crate::model::{Priority, RequesterType, TaskType};
    use serde_json::json;

    const ID: &str = "0f8fad5b-d9cb-469f-a165-70867728950e";

    fn restore(v: Value) -> Result<Task, InvalidTask> {
        let requester = Requester {
            kind: RequesterType::Human,
            id: "olga".into(),
            context: String::new(),
        };
        restored_task(ID, v.as_object().expect("an object"), requester)
    }

    fn refusal(v: Value) -> String {
        restore(v).expect_err("refused").0
    }

    #[test]
    fn a_draft_becomes_a_queued_task_of_the_restorer_with_a_note() {
        let t = restore(
            json!({"title": "fix it", "type": "research", "priority": "high",
            "requires": ["gpu"], "tags": ["x"], "input": {"a": 1}}),
        )
        .expect("restores");
        assert_eq!(t.task_id, ID);
        assert_eq!(t.status, Status::Queued);
        assert_eq!(
            (t.task_type, t.priority),
            (TaskType::Research, Priority::High)
        );
        assert_eq!(t.priority_rank, Priority::High.rank());
        assert_eq!(t.lane, crate::lanes::lane_for(ID));
        assert_eq!(t.requires, ["gpu"]);
        assert_eq!(t.metadata.tags, ["x"]);
        assert_eq!(t.input, r#"{"a":1}"#);
        assert_eq!(t.requester.id, "olga");
        assert!(t.history.is_empty());
        assert_eq!(t.requester.context, RESTORED_NOTE);
    }

    #[test]
    fn a_full_task_document_keeps_what_was_asked_and_nothing_managed() {
        let t = restore(
            json!({"task_id": "other", "title": "t", "status": "executing",
            "lease": {"epoch": 9}, "history": [5], "requester": {"type": "agent", "id": "x",
            "context": "why"}, "metadata": {"tags": ["m"], "max_retries": 2, "retry_count": 3}}),
        )
        .expect("restores");
        assert_eq!(t.status, Status::Queued);
        assert_eq!(t.lease.epoch, 0);
        assert_eq!(t.metadata.tags, ["m"]);
        assert_eq!(t.metadata.max_retries, 2);
        assert_eq!(t.metadata.retry_count, 0);
        assert_eq!(
            (t.requester.id.as_str(), t.requester.context.as_str()),
            ("olga", "why")
        );
    }

    #[test]
    fn each_refusal_names_its_field() {
        assert!(refusal(json!({"type": "research"})).contains("`title` is missing"));
        assert!(
            refusal(json!({"title": "t", "requires": [5]}))
                .contains("`requires` must be a list of strings")
        );
        assert!(
            refusal(json!({"title": "t", "metadata": {"tags": [7]}})).contains("`metadata.tags`")
        );
        assert!(
            refusal(json!({"title": "t", "priority": "urgent"})).contains("`priority` is wrong")
        );
        assert!(
            refusal(json!({"title": "t", "max_retries": 1.5}))
                .contains("`max_retries` must be an integer")
        );
        assert!(
            refusal(json!({"title": "t", "titel": "x"})).contains("`titel` is not a task field")
        );
        assert!(refusal(json!({"title": "t", "metadata": {"x": 1}})).contains("`metadata.x`"));
        assert!(refusal(json!({"title": "t", "max_retries": 99})).contains("max_retries"));
        assert!(refusal(json!({"title": " "})).contains("title"));
    }

    #[test]
    fn only_task_ids_are_restored() {
        assert!(is_task_id("a"));
        assert!(is_task_id(&"a".repeat(64)));
        assert!(is_task_id("A-b_9"));
        for bad in ["", "-a", "_a", "a b", "a/b", "ü", &"a".repeat(65)] {
            assert!(!is_task_id(bad), "{bad:?}");
        }
        let r = restored_task("a/b", &Map::new(), Requester::default());
        assert!(r.expect_err("refused").0.contains("not a task id"));
    }
}
