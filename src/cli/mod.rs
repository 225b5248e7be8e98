//! The `vayu` command line: the seed's commands, and what they imply.
//!
//! Every command prints a readable table by default and JSON with
//! `--json`. Exit codes, which scripts may rely on:
//!
//! | code | meaning |
//! |---|---|
//! | 0 | success |
//! | 1 | any other failure |
//! | 2 | bad input: an unknown type, priority, status or role, a missing id (clap's usage errors); a quarantine restore that would not make a valid task; a malformed cron expression or unknown time zone; a workflow that cannot run (a missing step or input, a cycle, an unknown field); a webhook whose URL is not http(s) or whose `--on` names an unknown kind; a GitHub `--repo`/`--github` that is not owner/name, a `github sync --every` under 30s (nothing written) |
//! | 3 | no such task, agent, quarantine record, schedule, workflow run or webhook |
//! | 4 | refused: the state machine does not allow it, a conflict, or a dependency cycle (`task edit --after`) |
//! | 5 | permission denied by the security rules |
//! | 8 | `task watch` / `task create --wait`: the task failed for good |
//! | 9 | … the task was cancelled |
//! | 10 | … the task was skipped (its condition was not met) |
//! | 11 | GitHub refused a request, or was still rate limited past the wait cap (`vayu github`, `task create --github`) |
//! | 64 | bad configuration (no project, no GitHub token, a bad flag combination, a `--read-time` that is not RFC 3339) |
//! | 65 | `restore`: the backup file is unreadable, cut short (no trailer, or a count that differs), corrupt (a line that is not JSON, a bad path or value) or of an unknown format version (nothing written) |
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

mod agent;
mod backup;
mod bulk;
mod create;
mod edit;
mod github;
mod list;
mod logs;
mod notify;
mod quarantine;
mod resource;
mod retention;
mod review;
mod schedule;
mod stats;
mod task;
mod team;
mod user;
mod waits;
mod watch;
mod workflow;

pub use agent::AgentCmd;
pub use create::CreateArgs;
pub use task::TaskCmd;

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
    /// Cron schedules every agent ticks: create, list, pause, resume, delete.
    #[command(subcommand)]
    Schedule(schedule::ScheduleCmd),
    /// Workflows: run a DAG of steps from a file or a built-in template,
    /// see a run's steps, cancel it.
    #[command(subcommand)]
    Workflow(workflow::WorkflowCmd),
    /// Alert webhooks: add (admins), list, remove.
    #[command(subcommand)]
    Notify(notify::NotifyCmd),
    /// GitHub: sync issues and tasks (`sync`), the `ci` tasks' handler
    /// (`ci`).
    #[command(subcommand)]
    Github(github::GithubCmd),
    /// Give people a role.
    #[command(subcommand)]
    User(user::UserCmd),
    /// Named semaphores tasks take permits of (`--resource gpu:1`).
    #[command(subcommand)]
    Resource(resource::ResourceCmd),
    /// Write every document, as of one read time, to a JSON Lines file.
    Backup(backup::BackupArgs),
    /// Write a `vayu backup` file's documents back, at the same paths;
    /// checks the whole file first, and is safe to run twice.
    Restore(backup::RestoreArgs),
    /// Start a local emulator, three agents and sample tasks, and watch them flow.
    Demo(DemoArgs),
    /// Serve the web dashboard locally against the project (or the
    /// emulators named by FIRESTORE_EMULATOR_HOST and --auth-emulator).
    Dashboard(crate::dashboard::DashboardArgs),
    /// Review metrics: first-time success, rework rate, quality per type
    /// and agent, the requesters' mean rating.
    Stats(stats::StatsArgs),
    /// How long ended tasks stay in the completed pile before agents move
    /// them to the archive: show it, or set it (`--archive-after-days`).
    Retention(retention::RetentionArgs),
    /// Measure throughput, latency and Firestore operations per task
    /// against the textbook claim loop and the emulator's ceiling.
    Bench(crate::bench::BenchArgs),
    /// Print a completion script for a shell:
    /// `source <(vayu completions bash)`.
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
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
            Error::Conflict(_) | Error::Transition(_) | Error::Cycle { .. } => 4,
            Error::PermissionDenied(_) => 5,
            Error::QuotaExceeded(_) => 6,
            Error::Config(_) => 64,
            Error::Unavailable { .. } => 69,
            Error::InvalidTask(_) | Error::InvalidSchedule(_) | Error::InvalidHook(_) => 2,
            Error::InvalidBackup(_) => 65,
            Error::GitHub(_) => 11,
            Error::Unsuccessful { status, .. } => watch::exit_code(*status),
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
    if let Command::Completions { shell } = cli.command {
        // Generated from the same definitions clap parses with, so the
        // completions cannot drift from the commands.
        use clap::CommandFactory as _;
        clap_complete::generate(shell, &mut Cli::command(), "vayu", &mut std::io::stdout());
        return Ok(());
    }
    if let Command::Demo(args) = &cli.command {
        return crate::demo::run(args.clone(), cli.project.clone())
            .await
            .map_err(Failure::from);
    }
    if let Command::Dashboard(args) = &cli.command {
        return crate::dashboard::run(args.clone(), cli.project.clone(), json)
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
    // As the admin, whatever the environment's identity (src/cli/backup.rs).
    match cli.command {
        Command::Backup(args) => {
            return backup::run_backup(cli.project, args, json)
                .await
                .map(|o| print!("{o}"));
        }
        Command::Restore(args) => {
            return backup::run_restore(cli.project, args, json)
                .await
                .map(|o| print!("{o}"));
        }
        _ => {}
    }
    if let Command::Github(github::GithubCmd::Ci(a)) = cli.command {
        return github::ci(a)
            .await
            .map(|o| print!("{o}"))
            .map_err(Failure::from);
    }
    if let Command::User(cmd) = &cli.command {
        print!("{}", user::run(cli.project.clone(), cmd, json).await?);
        return Ok(());
    }
    // GitHub's configuration first: no token is exit 64 with no network.
    let github_sync = match &cli.command {
        Command::Github(github::GithubCmd::Sync(a)) => Some(github::prepare(a)?),
        Command::Task(TaskCmd::Create(a)) if a.github.is_some() => {
            crate::github::GitHub::from_env()?;
            None
        }
        _ => None,
    };
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
        Command::Task(cmd) => task::run(&store, cmd, json, requester).await?,
        Command::Agent(cmd) => agent::run(&store, cmd, json, requester).await?,
        Command::Quarantine(cmd) => quarantine::run(&store, cmd, json, requester).await?,
        Command::Stats(a) => stats::run(&store, a, json).await?,
        Command::Retention(a) => retention::run(&store, a, json).await?,
        Command::Resource(cmd) => resource::run(&store, cmd, json).await?,
        Command::Schedule(cmd) => schedule::run(&store, cmd, json, requester).await?,
        Command::Notify(cmd) => notify::run(&store, cmd, json, requester).await?,
        Command::Workflow(cmd) => workflow::run(&store, cmd, json, requester).await?,
        Command::Github(_) => {
            let p = github_sync.expect("prepared above: `github ci` returned before");
            github::run(&store, p, json, requester).await?
        }
        Command::Demo(_)
        | Command::Dashboard(_)
        | Command::Bench(_)
        | Command::User(_)
        | Command::Backup(_)
        | Command::Restore(_)
        | Command::Completions { .. } => {
            unreachable!("handled above")
        }
    };
    print!("{out}");
    Ok(())
}

fn to_json<T: serde::Serialize>(v: &T) -> String {
    // Serializing plain data structs to JSON cannot fail.
    serde_json::to_string_pretty(v).expect("plain data serializes") + "\n"
}
