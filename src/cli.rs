//! The `vayu` command line: the seed's commands, and what they imply.
//!
//! Every command prints a readable table by default and JSON with
//! `--json`. Exit codes, which scripts may rely on:
//!
//! | code | meaning |
//! |---|---|
//! | 0 | success |
//! | 1 | any other failure |
//! | 2 | bad input: an unknown type, priority, status or role, a missing id (clap's usage errors); a quarantine restore that would not make a valid task |
//! | 3 | no such task, agent or quarantine record |
//! | 4 | refused: the state machine does not allow it, or a conflict |
//! | 5 | permission denied by the security rules |
//! | 64 | bad configuration (no project, a bad flag combination) |
//! | 69 | Firestore unreachable |

pub use crate::demo::DemoArgs;
use crate::error::Error;
use crate::layout::Pile;
use crate::lifecycle::Status;
use crate::model::{AgentState, Complexity, Priority, Task, TaskType, now};
pub use crate::render::{
    age, effective_state, render_agent_table, render_task, render_task_table,
    render_task_table_waiting, table,
};
use crate::store::{Store, StoreConfig, Versioned};
use crate::tasks::{self, NewTask};
use clap::{Args, Parser, Subcommand};
use std::fmt::Write as _;

mod quarantine;
mod user;
mod waits;

#[derive(Parser, Debug)]
#[command(
    name = "vayu",
    version,
    about = "Create and watch tasks for a fleet of AI agents, straight in Firestore"
)]
pub struct Cli {
    /// Firebase / Google Cloud project (default demo-vayu on the emulator).
    #[arg(long, global = true, env = crate::store::env::VAYU_PROJECT)]
    pub project: Option<String>,
    /// Print JSON instead of a table.
    #[arg(long, global = true)]
    pub json: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Create, inspect and control tasks.
    #[command(subcommand)]
    Task(TaskCmd),
    /// See the agents.
    #[command(subcommand)]
    Agent(AgentCmd),
    /// Documents agents could not read: list, show, restore, drop.
    #[command(subcommand)]
    Quarantine(quarantine::QuarantineCmd),
    /// Give people a role.
    #[command(subcommand)]
    User(user::UserCmd),
    /// Start a local emulator, three agents and sample tasks, and watch them flow.
    Demo(DemoArgs),
    /// Measure throughput, latency and Firestore operations per task
    /// against the textbook claim loop and the emulator's ceiling.
    Bench(crate::bench::BenchArgs),
}

#[derive(Subcommand, Debug)]
pub enum TaskCmd {
    /// Create a task; prints its id.
    Create(CreateArgs),
    /// One task in full.
    Status {
        #[arg(long)]
        id: String,
    },
    /// Tasks, optionally of one status.
    List {
        #[arg(long, value_parser = parse_status)]
        status: Option<Status>,
        #[arg(long, default_value_t = 100)]
        limit: i32,
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
    /// Estimated minutes.
    #[arg(long)]
    pub estimate: Option<f64>,
    #[arg(long, value_parser = parse_enum::<Complexity>)]
    pub complexity: Option<Complexity>,
    /// Free text about the request.
    #[arg(long, default_value = "")]
    pub context: String,
}

#[derive(Subcommand, Debug)]
pub enum AgentCmd {
    /// Every agent with its health.
    List {
        /// Only agents that are online with a free slot.
        #[arg(long)]
        available: bool,
    },
    /// One agent's current tasks and history.
    Workload {
        #[arg(long)]
        id: String,
    },
    /// Print what a new agent needs to sign in as itself (an admin action:
    /// signs a custom token with a service account key; see
    /// docs/production.md). Writes nothing to Firestore.
    Enroll {
        #[arg(long)]
        id: String,
        /// Capabilities the agent will offer, comma-separated.
        #[arg(long, value_delimiter = ',')]
        capabilities: Vec<String>,
    },
}

fn parse_status(s: &str) -> Result<Status, String> {
    s.parse()
}

/// The core's enums parse themselves (their errors list the valid values);
/// the core does not depend on clap.
fn parse_enum<T: std::str::FromStr<Err = String>>(s: &str) -> Result<T, String> {
    s.parse()
}

/// An error with the exit code the table above gives it.
#[derive(Debug)]
pub struct Failure {
    pub code: i32,
    pub message: String,
}

impl From<Error> for Failure {
    fn from(e: Error) -> Self {
        let code = match &e {
            Error::NotFound(_) => 3,
            Error::Conflict(_) | Error::Transition(_) => 4,
            Error::PermissionDenied(_) => 5,
            Error::QuotaExceeded(_) => 6,
            Error::Config(_) => 64,
            Error::Unavailable { .. } => 69,
            Error::InvalidTask(_) => 2,
            _ => 1,
        };
        Failure {
            code,
            message: e.to_string(),
        }
    }
}

/// Runs a parsed command, printing to stdout. The demo is run by the
/// binary itself (it starts processes); everything else is here.
pub async fn run(cli: Cli) -> Result<(), Failure> {
    let json = cli.json;
    if let Command::Demo(args) = &cli.command {
        return crate::demo::run(args.clone(), cli.project.clone())
            .await
            .map_err(Failure::from);
    }
    if let Command::Bench(args) = &cli.command {
        // One run per agent count; in text, each report is printed as soon
        // as its run ends (a long table should not show nothing for half
        // an hour), then the scaling table.
        let mut reports = Vec::new();
        for one in crate::bench::per_agent_count(args) {
            let r = crate::bench::run(one, cli.project.clone()).await?;
            if !json {
                print!("{}", r.render());
                use std::io::Write as _;
                let _ = std::io::stdout().flush();
            }
            reports.push(r);
        }
        match (json, reports.as_slice()) {
            (true, [one]) => print!("{}", to_json(one)),
            (true, many) => print!("{}", to_json(&many)),
            (false, many) if many.len() > 1 => {
                print!("\n{}", crate::bench::report::scaling_table(many))
            }
            (false, _) => {}
        }
        return Ok(());
    }
    if let Command::Agent(AgentCmd::Enroll { id, capabilities }) = &cli.command {
        let out =
            crate::identity::enroll_command(cli.project.clone(), id, capabilities.clone(), json)
                .await?;
        print!("{out}");
        return Ok(());
    }
    if let Command::User(cmd) = &cli.command {
        print!("{}", user::run(cli.project.clone(), cmd, json).await?);
        return Ok(());
    }
    let mut cfg = StoreConfig::from_env(cli.project.clone())?;
    // VAYU_IDENTITY=emulator|refresh-token|token: act as that user (the
    // rules judge); otherwise VAYU_TOKEN's user, or admin when there is no
    // token.
    let identity = crate::identity::person_from_env(&cfg.project_id).await?;
    if let Some(i) = &identity {
        cfg.token = Some(i.token.clone());
    }
    let requester = cfg.token.as_ref().and_then(|t| t.uid());
    let store = Store::connect(&cfg).await?;
    let out = match cli.command {
        Command::Task(cmd) => task_cmd(&store, cmd, json, requester).await?,
        Command::Agent(cmd) => agent_cmd(&store, cmd, json).await?,
        Command::Quarantine(cmd) => quarantine::run(&store, cmd, json, requester).await?,
        Command::Demo(_) | Command::Bench(_) | Command::User(_) => unreachable!("handled above"),
    };
    print!("{out}");
    Ok(())
}

fn to_json<T: serde::Serialize>(v: &T) -> String {
    // Serializing plain data structs to JSON cannot fail.
    serde_json::to_string_pretty(v).expect("plain data serializes") + "\n"
}

async fn task_cmd(
    store: &Store,
    cmd: TaskCmd,
    json: bool,
    requester: Option<String>,
) -> Result<String, Error> {
    Ok(match cmd {
        TaskCmd::Create(a) => {
            let mut new = NewTask::new(a.task_type, a.priority, a.title);
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
            let t = tasks::create(store, new).await?;
            if json {
                to_json(
                    &serde_json::json!({"task_id": t.task_id, "status": t.status, "pile": Pile::of(t.status).as_str()}),
                )
            } else {
                format!("{}\n", t.task_id)
            }
        }
        TaskCmd::Status { id } => {
            let v = store_find(store, &id).await?;
            let waiting = waits::waits(store, &[&v.value]).await.pop().flatten();
            if json {
                to_json(&waits::with_waiting(&v.value, waiting.as_deref()))
            } else {
                waits::with_waiting_line(render_task(&v), waiting.as_deref())
            }
        }
        TaskCmd::List { status, limit } => {
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

async fn agent_cmd(store: &Store, cmd: AgentCmd, json: bool) -> Result<String, Error> {
    Ok(match cmd {
        // `run` answers enroll before connecting: it needs no Firestore.
        AgentCmd::Enroll { .. } => unreachable!("enroll is handled in run"),
        AgentCmd::List { available } => {
            let mut agents = store.list_agents().await?;
            let t_now = now();
            for a in &mut agents {
                a.status = Some(effective_state(a, t_now));
            }
            if available {
                agents.retain(|a| {
                    a.status != Some(AgentState::Offline)
                        && (a.current_tasks.len() as i64) < a.concurrency
                });
            }
            agents.sort_by(|a, b| a.agent_id.cmp(&b.agent_id));
            if json {
                to_json(&agents)
            } else {
                render_agent_table(&agents, t_now)
            }
        }
        AgentCmd::Workload { id } => {
            let agent = store
                .get_agent(&id)
                .await?
                .ok_or_else(|| Error::NotFound(format!("no agent {id}")))?;
            let active: Vec<Versioned<Task>> = store
                .list_pile(Pile::Active, None, None)
                .await?
                .into_iter()
                .filter_map(Result::ok)
                .filter(|v| v.value.lease.owner.as_deref() == Some(&id))
                .collect();
            if json {
                to_json(&serde_json::json!({
                    "agent": agent,
                    "tasks": active.iter().map(|v| &v.value).collect::<Vec<_>>(),
                }))
            } else {
                let t_now = now();
                let mut s = render_agent_table(std::slice::from_ref(&agent), t_now);
                let _ = writeln!(
                    s,
                    "\ncompleted {}  failed attempts {}  running {}",
                    agent.completed_count,
                    agent.failed_count,
                    active.len()
                );
                if !active.is_empty() {
                    s.push('\n');
                    s.push_str(&render_task_table(&active));
                }
                s
            }
        }
    })
}
