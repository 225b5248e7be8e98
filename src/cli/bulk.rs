//! `vayu task cancel`, `archive` and `delete`: one task by `--id`, or
//! every task a filter matches (`--status queued --type research`), with
//! `--dry-run` to see which first. Each is the one-task action
//! ([`tasks::cancel`], [`crate::archive`]), so the rules judge every one
//! as they would alone; one refused does not stop the rest, and the exit
//! code says some were.

use super::list::FilterArgs;
use super::*;

#[derive(Args, Debug)]
pub struct BulkArgs {
    /// The task; or give filters to act on every task they match.
    #[arg(long, conflicts_with_all = ["status", "task_type", "priority", "agent", "requester", "tag", "since"])]
    pub id: Option<String>,
    #[command(flatten)]
    pub which: FilterArgs,
    /// List what would change, and change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// At most this many tasks (1-10000).
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub limit: u32,
}

/// What a bulk command does to each task.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Tasks that have not ended.
    Cancel,
    /// Ended tasks, to the archive.
    Archive,
    /// Ended tasks, for good.
    Delete,
}

impl Action {
    fn done(self) -> &'static str {
        match self {
            Action::Cancel => "cancelled or asked to stop",
            Action::Archive => "archived",
            Action::Delete => "deleted",
        }
    }

    fn verb(self) -> &'static str {
        match self {
            Action::Cancel => "cancel",
            Action::Archive => "archive",
            Action::Delete => "delete",
        }
    }

    /// Whether the action applies to a task in this status.
    fn applies(self, status: crate::lifecycle::Status) -> bool {
        (self == Action::Cancel) != status.is_terminal()
    }

    async fn one(self, store: &Store, id: &str, by: &str) -> Result<String, Error> {
        Ok(match self {
            Action::Cancel => tasks::cancel(store, id).await?.to_string(),
            Action::Archive => crate::archive::archive(store, id, by).await?.to_string(),
            Action::Delete => crate::archive::delete(store, id).await?.to_string(),
        })
    }
}

pub(super) async fn run(
    store: &Store,
    action: Action,
    a: BulkArgs,
    json: bool,
    requester: Option<String>,
) -> Result<String, Error> {
    let by = requester.unwrap_or_else(tasks::whoami);
    if let Some(id) = &a.id {
        if action == Action::Cancel {
            return Ok(super::task::control_out(
                tasks::cancel(store, id).await?,
                id,
                json,
            ));
        }
        let said = action.one(store, id, &by).await?;
        return Ok(if json {
            to_json(&serde_json::json!({"task_id": id, "result": said}))
        } else {
            format!("{id}: {said}\n")
        });
    }
    let filter = a.which.filter()?;
    if filter == crate::listing::Filter::default() {
        return Err(Error::InvalidTask(crate::model::InvalidTask(format!(
            "give --id, or at least one filter (--status, --type, --priority, --agent, \
             --requester, --tag, --since): to {} every task takes one on purpose",
            action.verb()
        ))));
    }
    if let Some(s) = filter.status
        && !action.applies(s)
    {
        return Err(Error::InvalidTask(crate::model::InvalidTask(format!(
            "--status {s}: no {s} task can be {}",
            action.done()
        ))));
    }
    let matched = matching(store, &filter, action, a.limit as usize).await?;
    if a.dry_run {
        return Ok(if json {
            let ids: Vec<&str> = matched.iter().map(|v| v.value.task_id.as_str()).collect();
            to_json(&serde_json::json!({"dry_run": true, "matched": ids.len(), "task_ids": ids}))
        } else {
            render_task_table(&matched)
                + &format!("{} would be {} (dry run)\n", matched.len(), action.done())
        });
    }
    let mut rows = Vec::new();
    let mut failed = 0;
    for v in &matched {
        let id = &v.value.task_id;
        let said = match action.one(store, id, &by).await {
            Ok(r) => r,
            Err(e) => {
                failed += 1;
                format!("not {}: {e}", action.done())
            }
        };
        rows.push((id.clone(), said));
    }
    let out = if json {
        let results: Vec<_> = (rows.iter())
            .map(|(id, said)| serde_json::json!({"task_id": id, "result": said}))
            .collect();
        to_json(
            &serde_json::json!({"dry_run": false, "matched": matched.len(), "failed": failed, "results": results}),
        )
    } else {
        let mut out: String = rows
            .iter()
            .map(|(id, said)| format!("{id}: {said}\n"))
            .collect();
        let _ = writeln!(
            out,
            "{} of {} {}",
            rows.len() - failed,
            rows.len(),
            action.done()
        );
        out
    };
    if failed > 0 {
        // What was done is printed before the refusal's exit code.
        print!("{out}");
        return Err(Error::Conflict(format!(
            "{failed} of {} tasks could not be {}",
            rows.len(),
            action.done()
        )));
    }
    Ok(out)
}

/// Every task the filter matches that the action applies to, newest
/// first, at most `limit`.
async fn matching(
    store: &Store,
    filter: &crate::listing::Filter,
    action: Action,
    limit: usize,
) -> Result<Vec<Versioned<Task>>, Error> {
    let mut out = Vec::new();
    let mut cursor = None;
    loop {
        let page = crate::listing::page(store, filter, 500, cursor.as_ref()).await?;
        let open = (page.tasks.into_iter()).filter(|v| action.applies(v.value.status));
        out.extend(open);
        match page.next {
            Some(next) if out.len() < limit => cursor = Some(next),
            _ => break,
        }
    }
    out.truncate(limit);
    Ok(out)
}
