//! `vayu task …`: create, inspect and control tasks.

use super::*;

#[derive(Subcommand, Debug)]
pub enum TaskCmd {
    /// Create a task; prints its id.
    Create(Box<CreateArgs>),
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
    /// Tasks, optionally of one status.
    List {
        #[arg(long, value_parser = parse_status, conflicts_with = "needs_review")]
        status: Option<Status>,
        #[arg(long, default_value_t = 100)]
        limit: i32,
        /// Only tasks waiting for a person's review (`vayu task review`).
        #[arg(long)]
        needs_review: bool,
    },
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
    /// Cancel a task (a running one stops within one heartbeat).
    Cancel {
        #[arg(long)]
        id: String,
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
    /// Make a queued or blocked task wait for more tasks (refused when
    /// that would close a dependency cycle, which is printed).
    Edit(super::edit::EditArgs),
}

#[derive(Args, Debug)]
pub struct CreateArgs {
    /// What the task is about.
    pub title: String,
    #[arg(long = "type", value_parser = parse_enum::<TaskType>, default_value_t = TaskType::UserRequest)]
    pub task_type: TaskType,
    #[arg(long, value_parser = parse_enum::<Priority>, default_value_t = Priority::Normal)]
    pub priority: Priority,
    /// Capabilities an agent needs to claim it.
    #[arg(long, value_delimiter = ',')]
    pub requires: Vec<String>,
    #[arg(long = "tag", value_delimiter = ',')]
    pub tags: Vec<String>,
    /// Input for the handler (text or JSON).
    #[arg(long, default_value = "")]
    pub input: String,
    #[arg(long)]
    pub max_retries: Option<i64>,
    /// Seconds one attempt may run.
    #[arg(long)]
    pub timeout: Option<i64>,
    /// Estimated minutes. Without it, the mean duration of the capable
    /// agents' history for the type, if they have any (README,
    /// "Assignment").
    #[arg(long)]
    pub estimate: Option<f64>,
    #[arg(long, value_parser = parse_enum::<Complexity>)]
    pub complexity: Option<Complexity>,
    /// Free text about the request.
    #[arg(long, default_value = "")]
    pub context: String,
    /// Reviews it needs before it completes: none, or self, peer, user,
    /// tests joined with + (peer+user). Default: the project's defaults
    /// for its type and priority (config/review), else none.
    #[arg(long, value_parser = parse_enum::<crate::review::ReviewPolicy>)]
    pub review: Option<crate::review::ReviewPolicy>,
    /// Who reworks rejected work: other (another agent, the default) or
    /// same.
    #[arg(long, value_parser = parse_enum::<crate::model::Rework>)]
    pub rework: Option<crate::model::Rework>,
    /// Rework rounds before a rejection fails the task (0-10, default 2).
    #[arg(long, value_parser = clap::value_parser!(i64).range(0..=10))]
    pub review_rounds: Option<i64>,
    /// Tasks this one waits for (ids, comma-separated, at most 50): it
    /// starts blocked and is queued when they have completed.
    #[arg(long, value_delimiter = ',')]
    pub after: Vec<String>,
    /// When a dependency fails or is cancelled: cancel this task (the
    /// default) or run it anyway once every dependency has ended.
    #[arg(long, value_parser = parse_enum::<crate::graph::OnDepFailure>, requires = "after")]
    pub on_dep_failure: Option<crate::graph::OnDepFailure>,
    /// Run only if this holds once the dependencies have ended, else end
    /// as skipped: `A.result.status == "ok"`, with ==, !=, <, <=, >, >=,
    /// in, exists, and, or, not (README, "Conditions"). A dependency is
    /// named by its id.
    #[arg(long = "if", value_name = "CONDITION", requires = "after")]
    pub condition: Option<String>,
    /// Permits of a resource to hold while running, NAME[:PERMITS] (1 by
    /// default): `--resource gpu:1`. The resource must exist (`vayu
    /// resource set gpu 2`); the task waits while its permits are taken.
    #[arg(long, value_parser = parse_enum::<crate::resource::ResourceNeed>)]
    pub resource: Option<crate::resource::ResourceNeed>,
    /// Push it to this agent: only it may claim the task for --push-for,
    /// then any agent may (pull). The agent must exist and be able to run it.
    #[arg(long)]
    pub agent: Option<String>,
    /// How long a push holds: 90s, 10m (default 1m, at most 55m).
    #[arg(long)]
    pub push_for: Option<String>,
    /// pull (agents claim), push (to --agent, or to the scorer's choice),
    /// hybrid (critical tasks pushed to the scorer's choice, the rest
    /// pulled), auction (capable agents bid; the best bid wins). Default:
    /// the project's (config/assignment), else pull.
    #[arg(long, value_enum)]
    pub assign: Option<crate::push::Strategy>,
    /// How long an auction takes bids: 2s (default), 30s, at most 9m.
    #[arg(long)]
    pub auction_for: Option<String>,
    /// Start no earlier than this time: 2026-12-06T03:00:00Z, or a local
    /// 2026-12-06 03:00.
    #[arg(long, conflicts_with = "in_")]
    pub at: Option<String>,
    /// Start no earlier than this long from now: 90s, 10m, 1h30m, 2d.
    #[arg(long = "in", id = "in_")]
    pub in_: Option<String>,
    /// Run the type's built-in workflow instead (`vayu workflow
    /// templates`), the title as its first input; prints the run id.
    #[arg(long, conflicts_with_all = ["after", "at", "in_", "review", "requires", "agent"])]
    pub workflow: bool,
}

/// The project's assignment defaults, read (one read) only when they can
/// matter: no `--assign`, or one that asks the scorer.
async fn project_defaults(
    store: &Store,
    asked: Option<crate::push::Strategy>,
) -> Result<crate::push::ProjectDefaults, Error> {
    use crate::push::Strategy::{Auction, Pull};
    match asked {
        Some(Pull | Auction) => Ok(crate::push::ProjectDefaults::default()),
        _ => crate::push::defaults(store).await,
    }
}

/// `--at` or `--in` as a time; bad input is exit 2 with nothing written.
fn start_time(a: &CreateArgs) -> Result<Option<crate::model::Time>, Error> {
    let bad = |m: String| Error::InvalidTask(crate::model::InvalidTask(m));
    if let Some(at) = &a.at {
        let tz = jiff::tz::TimeZone::system();
        return crate::time::parse_at(at, &tz).map(Some).map_err(bad);
    }
    match &a.in_ {
        Some(d) => {
            let delay = crate::time::parse_delay(d).map_err(bad)?;
            Ok(Some(crate::model::time_add(crate::model::now(), delay)))
        }
        None => Ok(None),
    }
}

pub(super) async fn run(
    store: &Store,
    cmd: TaskCmd,
    json: bool,
    requester: Option<String>,
) -> Result<String, Error> {
    Ok(match cmd {
        TaskCmd::Create(a) if a.workflow => {
            super::workflow::from_task_create(store, *a, json, requester).await?
        }
        TaskCmd::Create(a) => {
            let not_before = start_time(&a)?;
            let push = crate::push::from_args(a.agent, a.push_for.as_deref())?;
            let mut new = NewTask::new(a.task_type, a.priority, a.title);
            new.not_before = not_before;
            let project = project_defaults(store, a.assign).await?;
            let assign = a.assign.unwrap_or(project.strategy);
            let waits = !a.after.is_empty() || not_before.is_some();
            let auction_for = a.auction_for.as_deref();
            let window = crate::push::auction_window(assign, auction_for, push.is_some(), waits)?;
            new.push = push;
            new.assign = assign;
            new.weights = project.weights;
            new.push_for = crate::push::span(a.push_for.as_deref())?;
            // An auction's span is its window (`crate::push::plan`).
            if assign == crate::push::Strategy::Auction {
                new.push_for = window;
            }
            // As a signed-in user, the rules insist requester.id is its uid.
            if let Some(uid) = requester {
                new.requester.id = uid;
            }
            new.requires = a.requires;
            new.tags = a.tags;
            new.input = a.input;
            new.max_retries = a.max_retries;
            new.timeout_secs = a.timeout;
            new.estimated_minutes = a.estimate;
            new.complexity = a.complexity;
            new.requester.context = a.context;
            new.review = Some(match a.review {
                Some(p) => p,
                None => (store.review_defaults().await?).policy_for(None, a.task_type, a.priority),
            });
            let reviewed = new.review.is_some_and(|p| !p.is_none());
            if !reviewed && (a.rework.is_some() || a.review_rounds.is_some()) {
                return Err(Error::InvalidTask(crate::model::InvalidTask(
                    "--rework and --review-rounds need a review (--review user)".into(),
                )));
            }
            (new.rework, new.review_rounds) = (a.rework, a.review_rounds);
            new.after = a.after;
            new.on_dep_failure = a.on_dep_failure.unwrap_or_default();
            new.condition = a.condition;
            new.resource = a.resource;
            // From history (README, "Assignment"); the task is worth
            // creating without an estimate when history cannot be read.
            if new.estimated_minutes.is_none()
                && let Err(e) = crate::history::fill_estimate(store, &mut new).await
            {
                eprintln!("warning: no estimate from history: {e}");
            }
            let t = tasks::create(store, new).await?;
            if json {
                to_json(&serde_json::json!({
                    "task_id": t.task_id,
                    "status": t.status,
                    "pile": Pile::of(t.status).as_str(),
                    "estimated_duration": t.metadata.estimated_duration,
                    "pushed_to": t.assignment.pushed_to,
                    "push_until": t.assignment.push_until,
                }))
            } else {
                format!("{}\n", t.task_id)
            }
        }
        TaskCmd::Status { id } => {
            let v = store_find(store, &id).await?;
            let waiting = waits::waits(store, &[&v.value]).await.pop().flatten();
            let policy = crate::review::policy_of(&v.value);
            let verdicts = store
                .verdicts(&id, 0..=v.value.review.round, policy)
                .await?;
            if json {
                let mut out =
                    serde_json::to_value(waits::with_waiting(&v.value, waiting.as_deref()))
                        .unwrap_or_default();
                out["verdicts"] = serde_json::to_value(&verdicts).unwrap_or_default();
                to_json(&out)
            } else {
                let text = render_task(&v) + &crate::render::render_reviews(&v.value, &verdicts);
                waits::with_waiting_line(text, waiting.as_deref())
            }
        }
        TaskCmd::Graph { id, dot } => graph(store, &id, dot, json).await?,
        TaskCmd::List {
            needs_review: true,
            limit,
            ..
        } => review::needs_review(store, limit, json).await?,
        TaskCmd::Review(a) => review::run(store, a, requester, json).await?,
        TaskCmd::Rate {
            id,
            rating,
            comment,
        } => review::rate(store, &id, rating, &comment, requester, json).await?,
        TaskCmd::List { status, limit, .. } => {
            let rows = store.list_tasks(status, Some(limit)).await?;
            let (good, bad): (Vec<_>, Vec<_>) = rows.into_iter().partition(|r| r.is_ok());
            let good: Vec<Versioned<Task>> = good.into_iter().filter_map(Result::ok).collect();
            for b in bad.into_iter().filter_map(Result::err) {
                eprintln!("warning: {b}");
            }
            let tasks: Vec<&Task> = good.iter().map(|v| &v.value).collect();
            let waiting = waits::waits(store, &tasks).await;
            // A document an agent quarantined was a task someone meant:
            // listed beside the tasks, with the reason, unless a status
            // was asked for.
            let held = match status {
                None => crate::quarantine::list(store, Some(limit)).await?,
                Some(_) => vec![],
            };
            if json {
                let rows: Vec<_> = (tasks.iter().zip(&waiting))
                    .map(|(t, w)| waits::with_waiting(t, w.as_deref()))
                    .chain(held.iter().map(quarantine::task_list_row))
                    .collect();
                to_json(&rows)
            } else {
                render_task_table_waiting(&good, &waiting)
                    + &quarantine::render_for_task_list(&held)
            }
        }
        TaskCmd::Cancel { id } => control_out(tasks::cancel(store, &id).await?, &id, json),
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

fn control_out(r: tasks::ControlResult, id: &str, json: bool) -> String {
    if json {
        let (status, requested) = match &r {
            tasks::ControlResult::Moved(s) => (Some(s.as_str()), None),
            tasks::ControlResult::Requested(c) => (None, Some(c.as_str())),
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
