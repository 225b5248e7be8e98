//! `vayu task list`: newest first, filtered, a page at a time
//! ([`crate::listing`]); quarantined documents beside the tasks on the
//! first page of an unfiltered list.

use super::*;
use crate::listing::{Cursor, Filter};

/// Which tasks: every filter given must hold (shared by `task list` and
/// the bulk `task cancel`).
#[derive(Args, Debug, Default)]
pub struct FilterArgs {
    #[arg(long, value_parser = parse_status)]
    pub status: Option<Status>,
    #[arg(long = "type", value_parser = parse_enum::<TaskType>)]
    pub task_type: Option<TaskType>,
    #[arg(long, value_parser = parse_enum::<Priority>)]
    pub priority: Option<Priority>,
    /// Tasks assigned to this agent.
    #[arg(long)]
    pub agent: Option<String>,
    /// Tasks this person or agent asked for.
    #[arg(long)]
    pub requester: Option<String>,
    #[arg(long)]
    pub tag: Option<String>,
    /// Created in the last DURATION (90s, 2h, 7d) or since a time
    /// (2026-12-06T03:00:00Z, or a local 2026-12-06 03:00).
    #[arg(long)]
    pub since: Option<String>,
}

impl FilterArgs {
    /// The filter; a bad `--since` is exit 2 before anything is read.
    pub fn filter(&self) -> Result<Filter, Error> {
        let bad = |m: String| Error::InvalidTask(crate::model::InvalidTask(m));
        let since = match self.since.as_deref() {
            None => None,
            Some(s) => Some(match crate::time::parse_delay(s) {
                Ok(d) => crate::model::time_sub(crate::model::now(), d),
                Err(_) => crate::time::parse_at(s, &jiff::tz::TimeZone::system()).map_err(|e| {
                    bad(format!("--since {s:?}: not a duration (2h) or a time: {e}"))
                })?,
            }),
        };
        Ok(Filter {
            status: self.status,
            task_type: self.task_type,
            priority: self.priority,
            agent: self.agent.clone(),
            requester: self.requester.clone(),
            tag: self.tag.clone(),
            since,
        })
    }
}

#[derive(Args, Debug)]
pub struct ListArgs {
    #[command(flatten)]
    pub which: FilterArgs,
    /// Rows per page (1-1000).
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(i32).range(1..=1000))]
    pub limit: i32,
    /// Where the previous page ended (it prints the cursor of the next).
    #[arg(long)]
    pub cursor: Option<String>,
    /// Only tasks waiting for a person's review (`vayu task review`).
    #[arg(long, conflicts_with = "status")]
    pub needs_review: bool,
}

pub(super) async fn run(store: &Store, a: ListArgs, json: bool) -> Result<String, Error> {
    if a.needs_review {
        return review::needs_review(store, a.limit, json).await;
    }
    let filter = a.which.filter()?;
    let cursor = a.cursor.as_deref().map(Cursor::decode).transpose()?;
    let page = crate::listing::page(store, &filter, a.limit as usize, cursor.as_ref()).await?;
    for b in &page.malformed {
        eprintln!("warning: {b}");
    }
    let tasks: Vec<&Task> = page.tasks.iter().map(|v| &v.value).collect();
    let waiting = waits::waits(store, &tasks).await;
    // A document an agent quarantined was a task someone meant: listed
    // beside the tasks, with the reason, on an unfiltered first page.
    let held = match filter == Filter::default() && cursor.is_none() {
        true => crate::quarantine::list(store, Some(a.limit)).await?,
        false => vec![],
    };
    let next = page.next.as_ref().map(Cursor::encode);
    Ok(if json {
        let rows: Vec<_> = (tasks.iter().zip(&waiting))
            .map(|(t, w)| waits::with_waiting(t, w.as_deref()))
            .chain(held.iter().map(quarantine::task_list_row))
            .collect();
        to_json(&serde_json::json!({"tasks": rows, "next_cursor": next}))
    } else {
        let mut out = render_task_table_waiting(&page.tasks, &waiting)
            + &quarantine::render_for_task_list(&held);
        if let Some(c) = next {
            let _ = writeln!(out, "more: --cursor {c}");
        }
        out
    })
}
