//! `vayu quarantine list | show ID | restore ID [--file FIXED.json] | drop
//! ID [--yes]`: what operators do with documents agents could not read
//! (see `crate::quarantine`).
//!
//! Exit codes as for every command (README): a missing record 3, a record
//! changed or a task of that id existing 4, denied by the rules 5, bad
//! input (an unreadable `--file`, a field that does not make a valid task)
//! 2 with nothing written.

use super::{Failure, age, table, to_json};
use crate::model::{Requester, RequesterType, now};
use crate::quarantine::{self, Record};
use crate::store::Store;
use clap::Subcommand;
use serde_json::{Map, Value};
use std::path::{Path, PathBuf};

#[derive(Subcommand, Debug)]
pub enum QuarantineCmd {
    /// The records: id, when, by whom, why.
    List {
        #[arg(long, default_value_t = 100)]
        limit: i32,
    },
    /// One record in full, with the original document as it was.
    Show {
        /// The quarantined task id.
        id: String,
    },
    /// Puts the document back as a new queued task of yours, with the same
    /// id, and deletes the record, in one commit.
    Restore {
        /// The quarantined task id, which the task keeps.
        id: String,
        /// A fixed document (a JSON object of task fields: title, type,
        /// priority, input, requires, tags, ...) to restore instead.
        #[arg(long)]
        file: Option<PathBuf>,
    },
    /// Deletes the record. Without --yes, only says what would be dropped.
    Drop {
        /// The quarantined task id.
        id: String,
        /// Really drop it.
        #[arg(long)]
        yes: bool,
    },
}

/// Runs one quarantine command as `requester` (the signed-in uid, if any).
pub async fn run(
    store: &Store,
    cmd: QuarantineCmd,
    json: bool,
    requester: Option<String>,
) -> Result<String, Failure> {
    Ok(match cmd {
        QuarantineCmd::List { limit } => {
            let records = quarantine::list(store, Some(limit)).await?;
            if json {
                let rows: Vec<Value> = records.iter().map(summary).collect();
                to_json(&rows)
            } else {
                render_list(&records)
            }
        }
        QuarantineCmd::Show { id } => {
            let r = quarantine::get(store, &id).await?;
            if json { to_json(&r) } else { render_record(&r) }
        }
        QuarantineCmd::Restore { id, file } => {
            // Read the file first: bad input is refused before any I/O.
            let fixed = file.as_deref().map(read_fixed).transpose()?;
            let record = quarantine::get(store, &id).await?;
            let t =
                quarantine::restore(store, &record, fixed.as_ref(), restorer(requester)).await?;
            if json {
                to_json(&serde_json::json!({
                    "task_id": t.task_id, "status": t.status, "pile": "queued",
                    "restored_from": crate::layout::quarantine_doc(&t.task_id),
                }))
            } else {
                format!("{}\n", t.task_id)
            }
        }
        QuarantineCmd::Drop { id, yes } => {
            let record = quarantine::get(store, &id).await?;
            if yes {
                quarantine::drop_record(store, &record).await?;
            }
            match (json, yes) {
                (true, _) => to_json(&serde_json::json!({"task_id": id, "dropped": yes})),
                (false, true) => format!("dropped {id}\n"),
                (false, false) => format!(
                    "would drop {id} ({}); pass --yes to drop it\n",
                    record.reason
                ),
            }
        }
    })
}

/// The person restoring, who becomes the task's requester (the rules
/// insist on the signed-in uid; as admin, the local user).
fn restorer(uid: Option<String>) -> Requester {
    Requester {
        kind: RequesterType::Human,
        id: uid.unwrap_or_else(crate::tasks::whoami),
        context: String::new(),
    }
}

/// A `--file`: a JSON object, or exit 2 saying why not.
fn read_fixed(path: &Path) -> Result<Map<String, Value>, Failure> {
    let bad = |why: String| Failure {
        code: 2,
        message: format!("--file {}: {why}", path.display()),
    };
    let text = std::fs::read_to_string(path).map_err(|e| bad(e.to_string()))?;
    match serde_json::from_str::<Value>(&text) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err(bad("not a JSON object of task fields".into())),
        Err(e) => Err(bad(format!("not JSON: {e}"))),
    }
}

/// A record without its document, for `list --json`.
fn summary(r: &Record) -> Value {
    serde_json::json!({
        "task_id": r.task_id,
        "quarantined_at": r.quarantined_at,
        "quarantined_by": r.quarantined_by,
        "reason": r.reason,
        "defect": r.defect,
        "original_path": r.original_path,
    })
}

/// A record as a row of `vayu task list --json`: status `quarantined`.
pub(super) fn task_list_row(r: &Record) -> Value {
    serde_json::json!({
        "task_id": r.task_id,
        "status": "quarantined",
        "title": r.document.get("title").and_then(Value::as_str),
        "reason": r.reason,
    })
}

/// The records under `vayu task list`'s table; nothing when none.
pub(super) fn render_for_task_list(records: &[Record]) -> String {
    if records.is_empty() {
        return String::new();
    }
    let rows: Vec<Vec<String>> = records
        .iter()
        .map(|r| {
            let title = r.document.get("title").and_then(Value::as_str);
            vec![
                r.task_id.clone(),
                title.unwrap_or("").chars().take(40).collect(),
                r.reason.clone(),
            ]
        })
        .collect();
    format!(
        "\nquarantined: not run until fixed (`vayu quarantine show ID`, `restore ID`)\n{}",
        table(&["ID", "TITLE", "REASON"], &rows)
    )
}

fn render_list(records: &[Record]) -> String {
    if records.is_empty() {
        return "no quarantined documents\n".into();
    }
    let t_now = now();
    let rows: Vec<Vec<String>> = records
        .iter()
        .map(|r| {
            vec![
                r.task_id.clone(),
                age(r.quarantined_at, t_now),
                r.quarantined_by.clone(),
                r.reason.clone(),
            ]
        })
        .collect();
    table(&["ID", "AGE", "BY", "REASON"], &rows)
}

fn render_record(r: &Record) -> String {
    let at = r.quarantined_at.map(|t| t.to_string()).unwrap_or_default();
    let document = serde_json::to_string_pretty(&r.document).unwrap_or_default();
    format!(
        "id        {}\nfrom      {}\nwhen      {at}\nby        {}\nreason    {}\ndocument\n{document}\n",
        r.task_id, r.original_path, r.quarantined_by, r.reason
    )
}
