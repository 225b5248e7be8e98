//! `vayu task cancel`: one task by `--id`, or every task a filter matches
//! (`--status queued --type research`), with `--dry-run` to see which
//! first. Each is the one-task cancel ([`tasks::cancel`]), so the rules
//! judge every one as they would alone; one refused does not stop the
//! rest, and the exit code says some were.

use super::list::FilterArgs;
use super::*;

#[derive(Args, Debug)]
pub struct CancelArgs {
    /// The task; or give filters to cancel every task they match.
    #[arg(long, conflicts_with_all = ["status", "task_type", "priority", "agent", "requester", "tag", "since"])]
    pub id: Option<String>,
    #[command(flatten)]
    pub which: FilterArgs,
    /// List what would be cancelled, and change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// At most this many tasks (1-10000).
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub limit: u32,
}

pub(super) async fn cancel(store: &Store, a: CancelArgs, json: bool) -> Result<String, Error> {
    if let Some(id) = &a.id {
        return Ok(super::task::control_out(
            tasks::cancel(store, id).await?,
            id,
            json,
        ));
    }
    let filter = a.which.filter()?;
    if filter == crate::listing::Filter::default() {
        return Err(Error::InvalidTask(crate::model::InvalidTask(
            "give --id, or at least one filter (--status, --type, --priority, --agent, \
             --requester, --tag, --since): cancelling every task takes one on purpose"
                .into(),
        )));
    }
    let matched = matching(store, &filter, a.limit as usize).await?;
    if a.dry_run {
        return Ok(if json {
            let ids: Vec<&str> = matched.iter().map(|v| v.value.task_id.as_str()).collect();
            to_json(&serde_json::json!({"dry_run": true, "matched": ids.len(), "task_ids": ids}))
        } else {
            render_task_table(&matched)
                + &format!("{} would be cancelled (dry run)\n", matched.len())
        });
    }
    let mut rows = Vec::new();
    let mut failed = 0;
    for v in &matched {
        let id = &v.value.task_id;
        let said = match tasks::cancel(store, id).await {
            Ok(r) => r.to_string(),
            Err(e) => {
                failed += 1;
                format!("not cancelled: {e}")
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
            "{} of {} cancelled or asked to stop",
            rows.len() - failed,
            rows.len()
        );
        out
    };
    if failed > 0 {
        // What was done is printed before the refusal's exit code.
        print!("{out}");
        return Err(Error::Conflict(format!(
            "{failed} of {} tasks could not be cancelled",
            rows.len()
        )));
    }
    Ok(out)
}

/// Every task the filter matches that has not ended, newest first, at
/// most `limit`.
async fn matching(
    store: &Store,
    filter: &crate::listing::Filter,
    limit: usize,
) -> Result<Vec<Versioned<Task>>, Error> {
    let mut out = Vec::new();
    let mut cursor = None;
    loop {
        let page = crate::listing::page(store, filter, 500, cursor.as_ref()).await?;
        let open = page
            .tasks
            .into_iter()
            .filter(|v| !v.value.status.is_terminal());
        out.extend(open);
        match page.next {
            Some(next) if out.len() < limit => cursor = Some(next),
            _ => break,
        }
    }
    out.truncate(limit);
    Ok(out)
}
