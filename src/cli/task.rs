//! `vayu task …`: create, inspect and control tasks.

use super::bulk;
use super::*;

#[derive(Subcommand, Debug)]
pub enum TaskCmd {
    /// Create a task; prints its id.
    Create(Box<super::CreateArgs>),
    /// One task in full.
    Status {
        #[arg(long)]
        id: String,
    },
    /// What a task waits for, transitively: a text tree, or Graphviz DOT
    /// with `--dot` (`vayu task graph ID --dot | dot -Tsvg`).
    Graph {
        id: String,
        #[arg(long)]
        dot: bool,
    },
    /// A team task and its parts (their roles, states, agents and
    /// progress), from the parent or any part.
    Tree { id: String },
    /// Tasks, newest first: filters, pages (`--limit`, `--cursor`).
    List(super::list::ListArgs),
    /// Give a person's review verdict on a task in review (role reviewer
    /// or admin). The verdict that settles the round completes the task,
    /// sends it back for rework, or fails it after the last round.
    Review(review::ReviewArgs),
    /// Rate a completed task you asked for, 1 (poor) to 5 (excellent),
    /// once. `vayu stats` shows the mean.
    Rate {
        /// The completed task.
        id: String,
        /// 1 to 5.
        #[arg(value_parser = clap::value_parser!(i64).range(1..=5))]
        rating: i64,
        #[arg(long, default_value = "")]
        comment: String,
    },
    /// Cancel a task (a running one stops within one heartbeat), or
    /// every task that filters match (`--status queued --type research`;
    /// `--dry-run` lists them first).
    Cancel(super::bulk::BulkArgs),
    /// Move an ended task out of the completed pile into `archive/`
    /// (agents also do it once tasks pass `config/retention`'s age), or
    /// every ended task that filters match (`--dry-run` lists them first).
    Archive(super::bulk::BulkArgs),
    /// Delete an ended task for good, from the completed pile or the
    /// archive, or every ended task that filters match. Its log lines
    /// expire on their own (`--log-retention-days` of the agents).
    Delete(super::bulk::BulkArgs),
    /// Hand a running task to another agent: its agent stops the handler
    /// at its next heartbeat and the new agent resumes from the last
    /// checkpoint (only it may claim the task for 10 minutes). `--wait`
    /// follows it until the new agent runs it.
    Migrate {
        id: String,
        #[arg(long)]
        to: String,
        #[arg(long)]
        wait: bool,
    },
    /// Pause a task; it resumes from its last checkpoint.
    Pause {
        #[arg(long)]
        id: String,
    },
    /// Resume a paused task.
    Resume {
        #[arg(long)]
        id: String,
    },
    /// Re-queue a failed task with fresh retries.
    Retry {
        #[arg(long)]
        id: String,
    },
    /// Change a queued or blocked task: more tasks to wait for (refused
    /// when that would close a dependency cycle, which is printed), its
    /// priority, tags or start time.
    Edit(super::edit::EditArgs),
    /// Follow a task to its end: its progress on stderr, the task on
    /// stdout, and its outcome as the exit code (0 completed, 8 failed,
    /// 9 cancelled, 10 skipped).
    Watch { id: String },
    /// A task's whole log, every attempt; `--follow` prints new lines as
    /// they come until the task ends.
    Logs {
        id: String,
        #[arg(long, short)]
        follow: bool,
    },
}

pub(super) async fn run(
    store: &Store,
    cmd: TaskCmd,
    json: bool,
    requester: Option<String>,
) -> Result<String, Error> {
    Ok(match cmd {
        TaskCmd::Logs { id, follow } => super::logs::run(store, &id, follow, json).await?,
        TaskCmd::Watch { id } => super::watch::run(store, &id, json).await?,
        TaskCmd::Create(a) if a.workflow => {
            super::workflow::from_task_create(store, *a, json, requester).await?
        }
        TaskCmd::Create(a) => super::create::run(store, *a, json, requester).await?,
        TaskCmd::Status { id } => {
            let v = match store_find(store, &id).await {
                Err(Error::NotFound(m)) => match crate::archive::find_archived(store, &id).await? {
                    Some(a) => return Ok(archived_out(&a, json)),
                    None => return Err(Error::NotFound(m)),
                },
                found => found?,
            };
            let waiting = waits::waits(store, &[&v.value]).await.pop().flatten();
            let policy = crate::review::policy_of(&v.value);
            let verdicts = store
                .verdicts(&id, 0..=v.value.review.round, policy)
                .await?;
            let team = super::team::status_section(store, &v.value).await?;
            if json {
                let mut out =
                    serde_json::to_value(waits::with_waiting(&v.value, waiting.as_deref()))
                        .unwrap_or_default();
                out["verdicts"] = serde_json::to_value(&verdicts).unwrap_or_default();
                if let Some((_, members)) = team {
                    out["team_status"] = members;
                }
                to_json(&out)
            } else {
                let text = render_task(&v) + &crate::render::render_reviews(&v.value, &verdicts);
                let text = text + &team.map(|(text, _)| text).unwrap_or_default();
                waits::with_waiting_line(text, waiting.as_deref())
            }
        }
        TaskCmd::Graph { id, dot } => graph(store, &id, dot, json).await?,
        TaskCmd::Tree { id } => super::team::tree(store, &id, json).await?,
        TaskCmd::List(a) => super::list::run(store, a, json).await?,
        TaskCmd::Review(a) => review::run(store, a, requester, json).await?,
        TaskCmd::Rate {
            id,
            rating,
            comment,
        } => review::rate(store, &id, rating, &comment, requester, json).await?,
        TaskCmd::Cancel(a) => bulk::run(store, bulk::Action::Cancel, a, json, requester).await?,
        TaskCmd::Archive(a) => bulk::run(store, bulk::Action::Archive, a, json, requester).await?,
        TaskCmd::Delete(a) => bulk::run(store, bulk::Action::Delete, a, json, requester).await?,
        TaskCmd::Migrate { id, to, wait } => {
            crate::migrate::migrate(store, &id, &to).await?;
            if wait {
                follow_migration(store, &id, &to, json).await?;
            }
            let state = if wait { "running on" } else { "migrating to" };
            if json {
                to_json(
                    &serde_json::json!({"task_id": id, "to": to, "state": state.replace(' ', "_")}),
                )
            } else {
                format!("{id}: {state} {to}\n")
            }
        }
        TaskCmd::Pause { id } => {
            let r = tasks::pause(store, &id).await?;
            let r = settle(store, &id, r, json).await?;
            control_out(r, &id, json)
        }
        TaskCmd::Resume { id } => control_out(
            tasks::ControlResult::Moved(tasks::resume(store, &id).await?),
            &id,
            json,
        ),
        TaskCmd::Edit(a) => super::edit::run(store, a, json, requester).await?,
        TaskCmd::Retry { id } => control_out(
            tasks::ControlResult::Moved(tasks::retry(store, &id).await?),
            &id,
            json,
        ),
    })
}

/// An archived task: the task as it ended, and when and by whom it was
/// archived.
fn archived_out(a: &crate::archive::Archived, json: bool) -> String {
    if json {
        let mut out = serde_json::to_value(&a.task).unwrap_or_default();
        out["archived"] = serde_json::json!({"at": a.archived_at, "by": a.archived_by});
        return to_json(&out);
    }
    let v = Versioned {
        value: a.task.clone(),
        pile: Pile::Completed,
        update_time: Default::default(),
    };
    let id = &a.task.task_id;
    let at = a.archived_at.map(|t| t.to_string()).unwrap_or_default();
    // The task is no longer in the completed pile: say where it is.
    render_task(&v).replacen(&Pile::Completed.doc(id), &crate::layout::archive_doc(id), 1)
        + &format!("archived  {at} by {}\n", a.archived_by)
}

pub(super) fn control_out(r: tasks::ControlResult, id: &str, json: bool) -> String {
    if json {
        let (status, requested) = match &r {
            tasks::ControlResult::Moved(s) => (Some(s.as_str()), None),
            tasks::ControlResult::Requested(c) | tasks::ControlResult::Parts(c) => {
                (None, Some(c.as_str()))
            }
        };
        to_json(&serde_json::json!({"task_id": id, "status": status, "requested": requested}))
    } else {
        format!("{id}: {r}\n")
    }
}

/// How long `vayu task pause` waits for the agent running the task to
/// stop it: a few heartbeats of the default 5 s.
const SETTLE_WAIT: std::time::Duration = std::time::Duration::from_secs(15);

/// After a pause was requested of a running task: waits until the agent
/// obeyed, so that a `resume` right after works. Shows "pausing…" on a
/// terminal meanwhile. Still running after [`SETTLE_WAIT`]: the request
/// stands, and the answer says so (exit 0).
async fn settle(
    store: &Store,
    id: &str,
    r: tasks::ControlResult,
    json: bool,
) -> Result<tasks::ControlResult, Error> {
    use std::io::IsTerminal as _;
    let tasks::ControlResult::Requested(c) = r else {
        return Ok(r);
    };
    let show = !json && std::io::stderr().is_terminal();
    if show {
        eprint!("pausing…");
    }
    let deadline = tokio::time::Instant::now() + SETTLE_WAIT;
    let outcome = loop {
        let seen = store_find(store, id).await?;
        if seen.pile != crate::layout::Pile::Active {
            break tasks::ControlResult::Moved(seen.value.status);
        }
        if tokio::time::Instant::now() >= deadline {
            break tasks::ControlResult::Requested(c);
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    if show {
        eprint!("\r");
    }
    Ok(outcome)
}

async fn store_find(store: &Store, id: &str) -> Result<Versioned<Task>, Error> {
    if !crate::schema::is_task_id(id) {
        return Err(Error::NotFound(format!("'{id}' is not a task id")));
    }
    store
        .find_task(id)
        .await?
        .ok_or_else(|| Error::NotFound(format!("no task {id}")))
}

/// Waits until agent `to` has claimed the migrated task (an error if the
/// task ended first), saying where it is on a terminal meanwhile.
async fn follow_migration(store: &Store, id: &str, to: &str, json: bool) -> Result<(), Error> {
    use std::io::IsTerminal as _;
    let show = !json && std::io::stderr().is_terminal();
    // `to` may have run an earlier attempt: only a claim after now counts.
    let before = store_find(store, id)
        .await?
        .value
        .assignment
        .executors
        .len();
    loop {
        let v = store_find(store, id).await?;
        let t = &v.value;
        // Claimed by `to` since: it runs there, or ran there and ended.
        // (The list names an agent once, so a repeat shows as the holder.)
        if t.assignment.executors.iter().skip(before).any(|e| e == to)
            || (t.lease.owner.as_deref() == Some(to) && v.pile == Pile::Active)
        {
            break;
        }
        if t.status.is_terminal() {
            return Err(Error::Conflict(format!(
                "task {id} ended {} before {to} ran it",
                t.status
            )));
        }
        if show {
            let at = t.lease.owner.as_deref().unwrap_or("the queue");
            eprint!("\rmigrating {id}: {} at {at}…   ", t.status);
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    if show {
        eprintln!();
    }
    Ok(())
}

/// `vayu task graph`: the task and what it waits for, read breadth-first
/// (at most [`crate::deps::GRAPH_MAX`] tasks).
async fn graph(store: &Store, id: &str, dot: bool, json: bool) -> Result<String, Error> {
    let tasks = crate::deps::upstream(store, id).await?;
    if json {
        let nodes: Vec<serde_json::Value> = (tasks.iter())
            .map(|t| {
                serde_json::json!({"task_id": t.task_id, "title": t.title, "status": t.status,
                    "blocked_by": t.dependencies.blocked_by, "done": t.dependencies.done})
            })
            .collect();
        return Ok(to_json(&nodes));
    }
    let mut g = crate::graph::Graph::new();
    for t in &tasks {
        let created = t.created_at.unwrap_or_else(crate::model::now);
        g.insert(
            t.task_id.clone(),
            created,
            t.dependencies.blocked_by.iter().cloned(),
        );
    }
    let label = |id: &str| match tasks.iter().find(|t| t.task_id == id) {
        Some(t) => format!("{} · {}", t.status, t.title),
        None => "(not read)".to_string(),
    };
    Ok(if dot {
        g.render_dot(Some(id), label)
    } else {
        g.render_tree(id, label)
    })
}
