//! `vayu task edit ID`: a task nobody has claimed gets more dependencies
//! (`--after`, [`crate::deps::add`]), or another priority, tags or start
//! time ([`crate::edit`]).

use super::*;

#[derive(Args, Debug)]
#[command(group = clap::ArgGroup::new("change").required(true).multiple(true)
    .args(["after", "priority", "tags", "not_before"]))]
pub struct EditArgs {
    /// The queued or blocked task.
    pub id: String,
    /// Tasks it waits for too (ids, comma-separated; at most 50
    /// dependencies in all). It is blocked until they have completed.
    #[arg(long, value_delimiter = ',')]
    pub after: Vec<String>,
    #[arg(long, value_parser = parse_enum::<Priority>)]
    pub priority: Option<Priority>,
    /// Its tags, replacing the old ones (comma-separated; `--tags ''`
    /// clears them).
    #[arg(long, value_delimiter = ',', num_args = 0..)]
    pub tags: Option<Vec<String>>,
    /// No agent starts it before this time (2026-12-06T03:00:00Z, a local
    /// 2026-12-06 03:00) or this long from now (10m); `now` clears it.
    #[arg(long)]
    pub not_before: Option<String>,
}

impl EditArgs {
    fn edit(&self) -> Result<crate::edit::Edit, Error> {
        let bad = |m: String| Error::InvalidTask(crate::model::InvalidTask(m));
        let not_before = match self.not_before.as_deref() {
            None => None,
            Some("now") => Some(None),
            Some(s) => Some(Some(match crate::time::parse_delay(s) {
                Ok(d) => crate::model::time_add(now(), d),
                Err(_) => crate::time::parse_at(s, &jiff::tz::TimeZone::system())
                    .map_err(|e| bad(format!("--not-before {s:?}: {e}")))?,
            })),
        };
        let tags: Option<Vec<String>> =
            (self.tags.as_ref()).map(|t| t.iter().filter(|s| !s.is_empty()).cloned().collect());
        if let Some(t) = &tags
            && (t.len() > crate::model::limits::TAGS_MAX
                || !t.iter().all(|g| crate::schema::is_tag(g)))
        {
            return Err(bad(format!(
                "--tags: at most {} tags of 1-64 characters of A-Z a-z 0-9 space _ . : / + # @ -",
                crate::model::limits::TAGS_MAX
            )));
        }
        Ok(crate::edit::Edit {
            priority: self.priority,
            tags,
            not_before,
        })
    }
}

pub(super) async fn run(
    store: &Store,
    a: EditArgs,
    json: bool,
    requester: Option<String>,
) -> Result<String, Error> {
    if !crate::schema::is_task_id(&a.id) {
        return Err(Error::NotFound(format!("'{}' is not a task id", a.id)));
    }
    // Checked before anything is written.
    let edit = a.edit()?;
    let mut out = String::new();
    let mut report = serde_json::json!({"task_id": a.id});
    if !a.after.is_empty() {
        let by = requester.unwrap_or_else(tasks::whoami);
        let r = crate::deps::add(store, &a.id, &a.after, &by).await?;
        report["status"] = serde_json::json!(r.status);
        report["added"] = serde_json::json!(r.added);
        report["blocked_by"] = serde_json::json!(r.blocked_by);
        out += &if r.added.is_empty() {
            format!("{}: already waits for them; now {}\n", a.id, r.status)
        } else {
            format!(
                "{}: now {}, waiting for {}\n",
                a.id,
                r.status,
                r.blocked_by.join(", ")
            )
        };
    }
    if !edit.is_empty() {
        let v = crate::edit::edit(store, &a.id, &edit).await?;
        let t = &v.value;
        report["status"] = serde_json::json!(t.status);
        report["priority"] = serde_json::json!(t.priority);
        report["tags"] = serde_json::json!(t.metadata.tags);
        report["not_before"] = serde_json::json!(t.not_before);
        let start = t
            .not_before
            .map_or("at once".to_string(), |n| format!("not before {n}"));
        let _ = writeln!(
            out,
            "{}: {} priority {}, tags [{}], starts {start}",
            a.id,
            t.status,
            t.priority,
            t.metadata.tags.join(", ")
        );
    }
    Ok(if json { to_json(&report) } else { out })
}
