//! Progress broadcasts (issue 15): a member of a swarm or a peer team sees
//! its teammates' progress live, in the JSON file `$VAYU_TEAM_PROGRESS`,
//! which its agent rewrites whenever a running part of the team changes.
//!
//! One listener per running member, on its team's parts in the active
//! pile (`part_of.parent == parent`, at most 16). Production Firestore
//! bills a listener only for the changes it delivers, so a member reads
//! each teammate's heartbeats and nothing else. A part that leaves the
//! active pile (it ended, or went back to the queue) leaves the file.
//! Stages and a leader's parts never run side by side: they get none.
//!
//! The file is replaced whole (written beside it, then renamed), so a
//! handler never reads half of it.

use crate::layout::Pile;
use crate::listen::{ListenEvent, Listener, QuerySpec};
use crate::model::Task;
use crate::store::{self, Store};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// A running part as its teammates see it.
#[derive(serde::Serialize)]
struct Row {
    task_id: String,
    part: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    role: Option<String>,
    agent: Option<String>,
    status: String,
    progress: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    step: Option<String>,
}

impl Row {
    fn of(t: &Task) -> Row {
        let part = t.part_of.as_ref();
        Row {
            task_id: t.task_id.clone(),
            part: part.map_or(0, |p| p.index),
            role: part.and_then(|p| p.role.clone()),
            agent: t.lease.owner.clone(),
            status: t.status.to_string(),
            progress: t.execution.progress,
            step: t.execution.current_step.clone(),
        }
    }
}

/// The team's running parts for the run's lifetime; dropping it stops the
/// listener and the task that writes the file.
pub(super) struct Broadcast {
    _listener: Listener,
    feed: tokio::task::JoinHandle<()>,
}

impl Drop for Broadcast {
    fn drop(&mut self) {
        self.feed.abort();
    }
}

/// Whether `t` is part of the team `parent` of `of` parts: a task anyone
/// made with a `part_of` naming the team, under another number of parts,
/// is no member (as in firestore.rules `isTeamWrite`). Ids are unique, so
/// `{parent}-p1` to `-p{of}` are the team's own.
fn member(t: &Task, parent: &str, of: i64) -> bool {
    t.part_of.as_ref().is_some_and(|p| {
        p.parent == parent
            && p.of == of
            && (1..=of).contains(&p.index)
            && t.task_id == crate::team::part_id(parent, p.index as usize)
    })
}

/// Starts following the running parts of team `parent` (of `of` parts)
/// into `path`, which lists none until the first snapshot.
pub(super) fn follow(store: &Store, parent: &str, of: i64, path: PathBuf) -> Broadcast {
    if let Err(e) = write(&path, &BTreeMap::new()) {
        tracing::debug!(error = %e, "the team's progress file could not be written");
    }
    let team = parent.to_string();
    let spec = QuerySpec {
        parent: store.name(&Pile::Active.parent()),
        collection_id: Pile::Active.collection_id().into(),
        filter: Some(store::field_eq(
            "part_of.parent",
            store::string_value(parent),
        )),
        order_by: vec![],
        limit: Some(crate::team::TEAM_MAX as i32),
    };
    let (listener, mut events) =
        Listener::spawn(store.db().clone(), spec, store.counters().clone(), 32);
    // Ends when the listener does (its sender is dropped with it).
    let feed = tokio::spawn(async move {
        let mut running: BTreeMap<String, Row> = BTreeMap::new();
        let mut current = false;
        while let Some(e) = events.recv().await {
            match e {
                ListenEvent::Reset => {
                    running.clear();
                    current = false;
                }
                ListenEvent::Upsert(doc) => match Store::decode_task(&doc) {
                    Ok(t) if member(&t, &team, of) => {
                        running.insert(t.task_id.clone(), Row::of(&t));
                    }
                    _ => {}
                },
                ListenEvent::Removed(name) => {
                    let id = name.rsplit('/').next().unwrap_or_default();
                    running.remove(id);
                }
                ListenEvent::Current => current = true,
            }
            // One write per burst of events, once the view is whole.
            if current
                && events.is_empty()
                && let Err(e) = write(&path, &running)
            {
                tracing::debug!(error = %e, "the team's progress file could not be written");
            }
        }
    });
    Broadcast {
        _listener: listener,
        feed,
    }
}

fn write(path: &Path, running: &BTreeMap<String, Row>) -> std::io::Result<()> {
    let mut rows: Vec<&Row> = running.values().collect();
    rows.sort_by_key(|r| r.part);
    let json = serde_json::to_string(&serde_json::json!({ "running": rows }))
        .unwrap_or_else(|_| "{\"running\":[]}".into());
    let tmp = path.with_extension("json.tmp");
    std::fs::write(&tmp, json)?;
    std::fs::rename(&tmp, path)
}
