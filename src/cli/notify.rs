//! `vayu notify …`: alert webhooks (`crate::notify`). Adding and removing
//! one is an admin's (a hook sends the fleet's events to a URL of its
//! choosing; firestore.rules `isNewHook`).

use super::*;
use crate::notify::hooks::{self, NewHook, SeenHook};

#[derive(Subcommand, Debug)]
pub enum NotifyCmd {
    /// Register a webhook: every agent POSTs it each event of the kinds
    /// named, at least once, as JSON with a stable `id`. Prints its id.
    Add {
        /// Where to POST: an http:// or https:// URL.
        #[arg(long)]
        url: String,
        /// Which events: failed, dead, quarantined, agent_offline
        /// (comma-separated).
        #[arg(long)]
        on: String,
    },
    /// Every webhook, with its cursor and its last failure.
    List,
    /// Remove a webhook.
    Remove { id: String },
}

pub(super) async fn run(
    store: &Store,
    cmd: NotifyCmd,
    json: bool,
    requester: Option<String>,
) -> Result<String, Error> {
    Ok(match cmd {
        NotifyCmd::Add { url, on } => {
            let new = NewHook {
                url,
                on,
                created_by: requester.unwrap_or_else(|| "admin".into()),
            };
            let hook = hooks::add(store, &new).await?;
            if json {
                to_json(&hook)
            } else {
                format!("{}\n", hook.hook_id)
            }
        }
        NotifyCmd::List => {
            let all = hooks::list(store).await?;
            if json {
                let rows: Vec<serde_json::Value> = (all.iter())
                    .map(|r| match r {
                        Ok(s) => serde_json::to_value(&s.hook).unwrap_or_default(),
                        Err(e) => serde_json::json!({"error": e.to_string()}),
                    })
                    .collect();
                to_json(&rows)
            } else {
                list_table(&all)
            }
        }
        NotifyCmd::Remove { id } => {
            let hook = hooks::remove(store, &id).await?;
            if json {
                to_json(&serde_json::json!({"hook_id": hook.hook_id, "removed": true}))
            } else {
                format!("removed {id}\n")
            }
        }
    })
}

fn list_table(all: &[crate::Result<SeenHook>]) -> String {
    let mut rows = Vec::new();
    for r in all {
        match r {
            Ok(s) => {
                let h = &s.hook;
                let cursor = match (&h.cursor_at, h.cursor_id.as_str()) {
                    (Some(at), "") => at.to_string(),
                    (Some(at), id) => format!("{at} {id}"),
                    (None, _) => "-".into(),
                };
                rows.push(vec![
                    h.hook_id.clone(),
                    h.url.clone(),
                    hooks::kinds_text(&h.on),
                    cursor,
                    h.failures.to_string(),
                    h.last_error.clone().unwrap_or_default(),
                ]);
            }
            Err(e) => rows.push(vec!["?".into(), e.to_string()]),
        }
    }
    table(
        &[
            "ID",
            "URL",
            "ON",
            "DELIVERED UP TO",
            "FAILURES",
            "LAST ERROR",
        ],
        &rows,
    )
}
