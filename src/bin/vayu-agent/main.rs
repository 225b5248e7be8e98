//! `vayu-agent`: the daemon every machine runs. Thin: tracing, then config
//! from flags and environment, then `vayu::agent::run` until SIGTERM or
//! SIGINT. Exit codes: 0 after a clean shutdown, 64 on a bad
//! configuration, 69 when Firestore cannot be reached at start, 1 else.

use anyhow::Context as _;
use clap::Parser;
use std::collections::HashMap;
use std::time::Duration;
use vayu::agent::{AgentConfig, Handlers, ReviewCommands};
use vayu::handler::sandbox::Sandbox;
use vayu::model::TaskType;
use vayu::store::{Store, StoreConfig};

mod github_args;
mod sandbox_args;
mod scale_args;

use sandbox_args::SandboxArgs;
use scale_args::ScaleArgs;

/// Environment variables, beside `FIRESTORE_EMULATOR_HOST`, `VAYU_PROJECT`,
/// `VAYU_DATABASE` and `VAYU_TOKEN` (see `vayu::store::env`).
mod env {
    pub const AGENT_ID: &str = "VAYU_AGENT_ID";
    pub const CAPABILITIES: &str = "VAYU_CAPABILITIES";
    pub const CONCURRENCY: &str = "VAYU_CONCURRENCY";
    pub const HANDLER: &str = "VAYU_HANDLER";
    pub const LEASE_SECS: &str = "VAYU_LEASE_SECS";
    pub const HEARTBEAT_SECS: &str = "VAYU_HEARTBEAT_SECS";
    pub const GRACE_SECS: &str = "VAYU_GRACE_SECS";
    pub const DRAIN_GRACE_SECS: &str = "VAYU_DRAIN_GRACE_SECS";
    pub const LOG: &str = "VAYU_LOG";
    pub const SELF_CHECK: &str = "VAYU_SELF_CHECK";
    pub const REVIEW_HANDLER: &str = "VAYU_REVIEW_HANDLER";
    pub const TESTS_COMMAND: &str = "VAYU_TESTS_COMMAND";
    pub const HANDLER_ENV: &str = "VAYU_HANDLER_ENV";
    pub const WORK_DIR: &str = "VAYU_WORK_DIR";
    pub const LIMIT_CPU_SECS: &str = "VAYU_LIMIT_CPU_SECS";
    pub const LIMIT_MEMORY_MB: &str = "VAYU_LIMIT_MEMORY_MB";
    pub const LIMIT_OPEN_FILES: &str = "VAYU_LIMIT_OPEN_FILES";
    pub const LIMIT_FILE_MB: &str = "VAYU_LIMIT_FILE_MB";
    pub const LIMIT_OUTPUT_MB: &str = "VAYU_LIMIT_OUTPUT_MB";
    pub const BREAKER_FAILURES: &str = "VAYU_BREAKER_FAILURES";
    pub const BREAKER_BACKOFF_SECS: &str = "VAYU_BREAKER_BACKOFF_SECS";
    pub const METRICS_ADDR: &str = "VAYU_METRICS_ADDR";
    pub const LOG_FORMAT: &str = "VAYU_LOG_FORMAT";
    pub const LOG_RETENTION_DAYS: &str = "VAYU_LOG_RETENTION_DAYS";
    pub const ARCHIVE_EVERY_SECS: &str = "VAYU_ARCHIVE_EVERY_SECS";
    pub const SANDBOX: &str = "VAYU_SANDBOX";
    pub const SCALE_UP_CMD: &str = "VAYU_SCALE_UP_CMD";
    pub const SCALE_DOWN_CMD: &str = "VAYU_SCALE_DOWN_CMD";
    pub const SCALE_UP_QUEUE: &str = "VAYU_SCALE_UP_QUEUE";
    pub const SCALE_UP_WAIT_SECS: &str = "VAYU_SCALE_UP_WAIT_SECS";
    pub const SCALE_DOWN_IDLE_SECS: &str = "VAYU_SCALE_DOWN_IDLE_SECS";
    pub const SCALE_WINDOW_SECS: &str = "VAYU_SCALE_WINDOW_SECS";
    pub const SCALE_EVERY_SECS: &str = "VAYU_SCALE_EVERY_SECS";
    pub const NOTIFY_EVERY: &str = "VAYU_NOTIFY_EVERY";
}

#[derive(Parser, Debug)]
#[command(
    name = "vayu-agent",
    version,
    about = "Claims and runs vayu tasks from Firestore"
)]
struct Args {
    /// This agent's id (its document is agents/{id}).
    #[arg(long, env = env::AGENT_ID)]
    id: String,
    /// Capabilities this agent offers, comma-separated.
    #[arg(long, env = env::CAPABILITIES, value_delimiter = ',')]
    capabilities: Vec<String>,
    /// Tasks run at once.
    #[arg(long, env = env::CONCURRENCY, default_value_t = 4)]
    concurrency: usize,
    /// `'CMD'` runs every task type; `TYPE='CMD'` runs one type. Repeatable.
    #[arg(long = "handler", env = env::HANDLER)]
    handlers: Vec<String>,
    /// Firebase / Google Cloud project (default demo-vayu on the emulator).
    #[arg(long, env = vayu::store::env::VAYU_PROJECT)]
    project: Option<String>,
    /// Seconds a claim is good for without renewal.
    #[arg(long, env = env::LEASE_SECS, default_value_t = 30.0)]
    lease_secs: f64,
    /// Seconds between heartbeats (lease renewals, control checks).
    #[arg(long, env = env::HEARTBEAT_SECS, default_value_t = 5.0)]
    heartbeat_secs: f64,
    /// Seconds running handlers get to finish after SIGTERM.
    #[arg(long, env = env::GRACE_SECS, default_value_t = 10.0)]
    grace_secs: f64,
    /// After `vayu agent drain`: how long running tasks may finish before
    /// they go back to the queue for other agents; then the agent exits 0.
    #[arg(long, env = env::DRAIN_GRACE_SECS, default_value_t = 300.0)]
    drain_grace_secs: f64,
    /// The self-check run on this agent's own output when a task's review
    /// policy has `self`: the task on stdin, exit 0 approves (or print
    /// `vayu:verdict`, `vayu:score`, `vayu:comment`).
    #[arg(long, env = env::SELF_CHECK)]
    self_check: Option<String>,
    /// Peer-reviews other agents' work (policy `peer`), as the self-check
    /// does. Each review command adds a capability to the agent's
    /// document: `review` (peer), `review:self`, `review:tests`.
    #[arg(long, env = env::REVIEW_HANDLER)]
    review_handler: Option<String>,
    /// Runs a task's tests against its output (policy `tests`): exit 0
    /// passes; the output's last lines are the report.
    #[arg(long, env = env::TESTS_COMMAND)]
    tests_command: Option<String>,
    /// Stop claiming a task type after this many of its runs failed in a
    /// row, then probe with one claim after a backoff (0: never stop).
    #[arg(long, env = env::BREAKER_FAILURES, default_value_t = 5)]
    breaker_failures: u32,
    /// The breaker's first wait, doubled (to 20 times this) each time a
    /// probe fails.
    #[arg(long, env = env::BREAKER_BACKOFF_SECS, default_value_t = 30.0)]
    breaker_backoff_secs: f64,
    /// Serve Prometheus metrics at http://ADDR/metrics (e.g.
    /// 127.0.0.1:9464).
    #[arg(long, env = env::METRICS_ADDR)]
    metrics_addr: Option<std::net::SocketAddr>,
    /// `text` for people, `json` (one object per line) for log pipelines.
    #[arg(long, env = env::LOG_FORMAT, value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
    /// Days a task's log lines are kept before Firestore's TTL policy
    /// deletes them (1-3650; 0 keeps them).
    #[arg(long, env = env::LOG_RETENTION_DAYS, default_value_t = 30,
          value_parser = clap::value_parser!(u64).range(0..=3650))]
    log_retention_days: u64,
    /// How often (seconds) to move ended tasks older than
    /// `config/retention`'s age (default 30 days) to `archive/`; only the
    /// agent that owns lane 0 does it. 0: never.
    #[arg(long, env = env::ARCHIVE_EVERY_SECS, default_value_t = 600.0)]
    archive_every_secs: f64,
    /// Seconds between this agent's webhook deliveries (`vayu notify`),
    /// jittered, while it owns lane 0; 0: this agent delivers none (set it
    /// alike on every agent).
    #[arg(long, env = env::NOTIFY_EVERY, default_value_t = 10.0)]
    notify_every: f64,
    #[command(flatten)]
    sandbox: SandboxArgs,
    #[command(flatten)]
    scale: ScaleArgs,
    #[command(flatten)]
    github: github_args::GithubArgs,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum LogFormat {
    Text,
    Json,
}

/// Splits `--handler` values into a default and per-type commands.
fn parse_handlers(specs: &[String]) -> Result<Handlers, String> {
    let mut h = Handlers {
        default: None,
        by_type: HashMap::new(),
    };
    for spec in specs {
        let typed = spec
            .split_once('=')
            .and_then(|(ty, cmd)| ty.parse::<TaskType>().ok().map(|t| (t, cmd)));
        match typed {
            Some((t, cmd)) if !cmd.trim().is_empty() => {
                if h.by_type.insert(t, cmd.to_string()).is_some() {
                    return Err(format!("two handlers for type {t}"));
                }
            }
            Some((t, _)) => return Err(format!("the handler for {t} is empty")),
            None if spec.trim().is_empty() => return Err("an empty --handler".into()),
            None => {
                if h.default.replace(spec.clone()).is_some() {
                    return Err("two default handlers; give the others a TYPE= prefix".into());
                }
            }
        }
    }
    Ok(h)
}

/// A configuration error's reason, without the "bad configuration: "
/// its Display adds (the caller prints that once).
fn config_reason(e: vayu::Error) -> String {
    match e {
        vayu::Error::Config(m) => m,
        other => other.to_string(),
    }
}

fn secs(s: f64, name: &str) -> Result<Duration, String> {
    Duration::try_from_secs_f64(s)
        .map_err(|_| format!("{name} must be a positive number of seconds"))
}

/// Handlers run in a directory of their own per task, so a relative path
/// that works from here would not: refused, with the fix.
fn check_paths<'a>(commands: impl Iterator<Item = &'a String>) -> Result<(), String> {
    let here = std::env::current_dir().map_err(|e| e.to_string())?;
    for command in commands {
        let found = Sandbox::misplaced_paths(command);
        if let Some(w) = found.home.first() {
            return Err(format!(
                "the command {command:?} uses {w}, but a handler's HOME and working directory \
                 are its run's own directory: give the path absolute"
            ));
        }
        if let Some(p) = found
            .relative
            .iter()
            .find(|p| std::path::Path::new(p).exists())
        {
            return Err(format!(
                "the command {command:?} names {p} relative to this directory, but handlers run \
                 in a directory of their own per task: give it as {}",
                here.join(p).display()
            ));
        }
    }
    Ok(())
}

fn config(args: &Args) -> Result<(AgentConfig, StoreConfig), String> {
    let handlers = parse_handlers(&args.handlers)?;
    let reviews = [&args.self_check, &args.review_handler, &args.tests_command];
    check_paths(
        (handlers.default.iter().chain(handlers.by_type.values()))
            .chain(reviews.into_iter().flatten()),
    )?;
    let mut cfg = AgentConfig::new(args.id.clone(), handlers);
    cfg.capabilities = args
        .capabilities
        .iter()
        .map(|c| c.trim().to_string())
        .filter(|c| !c.is_empty())
        .collect();
    let command = |c: &Option<String>, flag: &str| match c.as_deref().map(str::trim) {
        Some("") => Err(format!("{flag} is empty")),
        other => Ok(other.map(str::to_string)),
    };
    cfg.reviews = ReviewCommands {
        self_check: command(&args.self_check, "--self-check")?,
        peer: command(&args.review_handler, "--review-handler")?,
        tests: command(&args.tests_command, "--tests-command")?,
    };
    cfg.concurrency = args.concurrency;
    cfg.lease = secs(args.lease_secs, "--lease-secs")?;
    cfg.heartbeat = secs(args.heartbeat_secs, "--heartbeat-secs")?;
    cfg.grace = secs(args.grace_secs, "--grace-secs")?;
    cfg.drain_grace = secs(args.drain_grace_secs, "--drain-grace-secs")?;
    args.sandbox.apply(&mut cfg.sandbox);
    if cfg.sandbox.isolation == vayu::handler::bwrap::Isolation::Bwrap {
        vayu::handler::bwrap::probe()?;
    }
    cfg.scaling = args.scale.hook()?;
    cfg.metrics_addr = args.metrics_addr;
    cfg.log_retention = (args.log_retention_days > 0)
        .then(|| Duration::from_secs(args.log_retention_days * 86_400));
    cfg.archive_every = match args.archive_every_secs {
        0.0 => None,
        s => Some(secs(s, "--archive-every-secs")?),
    };
    let every = secs(args.notify_every, "--notify-every")?;
    cfg.notify_every = (!every.is_zero()).then_some(every);
    let base = secs(args.breaker_backoff_secs, "--breaker-backoff-secs")?;
    cfg.breaker = vayu::breaker::BreakerConfig {
        threshold: args.breaker_failures,
        backoff: vayu::retry::Backoff {
            base,
            cap: base.saturating_mul(20),
        },
    };
    cfg.validate().map_err(config_reason)?;
    let store = StoreConfig::from_env(args.project.clone()).map_err(config_reason)?;
    Ok((cfg, store))
}

async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    // Installing a handler only fails if the runtime has no signal driver,
    // which tokio::main always provides.
    let mut term = signal(SignalKind::terminate()).expect("tokio installs SIGTERM handlers");
    let mut int = signal(SignalKind::interrupt()).expect("tokio installs SIGINT handlers");
    tokio::select! {
        _ = term.recv() => tracing::info!("SIGTERM: shutting down"),
        _ = int.recv() => tracing::info!("SIGINT: shutting down"),
    }
}

/// Logs to stderr, filtered by `VAYU_LOG`, as text or JSON lines; in
/// colour only on a terminal, so that a log file or journald gets no
/// escape codes.
fn init_tracing(format: LogFormat) {
    use std::io::IsTerminal as _;
    let filter =
        tracing_subscriber::EnvFilter::try_from_env(env::LOG).unwrap_or_else(|_| "info".into());
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => logs.init(),
        LogFormat::Json => logs.json().flatten_event(true).init(),
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    init_tracing(args.log_format);
    // Not dumpable: /proc/<pid>/environ and the agent's memory, where its
    // credentials live, become unreadable to the processes of the same
    // user, its handlers included.
    if let Err(e) = nix::sys::prctl::set_dumpable(false) {
        tracing::warn!(error = %e, "could not make the agent undumpable");
    }
    let (cfg, mut store_cfg) = match config(&args) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("vayu-agent: bad configuration: {e}");
            std::process::exit(64);
        }
    };
    let github = match args.github.duty(&cfg.agent_id) {
        Ok(g) => g,
        Err(e) => {
            eprintln!("vayu-agent: bad configuration: {e}");
            std::process::exit(64);
        }
    };
    // VAYU_AGENT_IDENTITY: sign in as the Firebase user whose uid is the
    // agent id (see vayu::identity). Kept alive for the whole run: it
    // refreshes the token in the background.
    let identity = match vayu::identity::agent_from_env(&cfg.agent_id, &store_cfg.project_id).await
    {
        Ok(i) => i,
        Err(vayu::Error::Config(e)) => {
            eprintln!("vayu-agent: bad configuration: {e}");
            std::process::exit(64);
        }
        Err(e) => {
            eprintln!("vayu-agent: cannot sign in: {e}");
            std::process::exit(69);
        }
    };
    if let Some(i) = &identity {
        store_cfg.token = Some(i.token.clone());
    }
    let store = match Store::connect(&store_cfg).await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("vayu-agent: {e}");
            std::process::exit(69);
        }
    };
    // In the background for the agent's life; a pass cut short by the
    // shutdown is harmless, the next one (anywhere) finishes its work.
    if let Some((gh, opts, every)) = github {
        let store = store.clone();
        tokio::spawn(async move {
            vayu::github::sync::repeat(&gh, &store, &opts, every, |r| match r {
                Ok(r) => tracing::info!(repo = %opts.repo, created = r.created.len(), closed = r.closed.len(), "github sync"),
                Err(e) => tracing::warn!(repo = %opts.repo, error = %e, "github sync failed"),
            })
            .await
        });
    }
    let report = match vayu::agent::run(store, cfg, shutdown_signal()).await {
        Ok(r) => r,
        Err(vayu::Error::Config(e)) => {
            eprintln!("vayu-agent: bad configuration: {e}");
            std::process::exit(64);
        }
        Err(e) => return Err(e).context("the agent failed"),
    };
    tracing::info!(claimed = report.claimed, outcomes = ?report.outcomes, drained = report.drained, "bye");
    drop(identity);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handler_specs_split_into_default_and_typed() {
        let h = parse_handlers(&["research=python r.py".into(), "FOO=1 ./run.sh".into()])
            .expect("valid");
        assert_eq!(
            h.by_type.get(&TaskType::Research).map(String::as_str),
            Some("python r.py")
        );
        assert_eq!(h.default.as_deref(), Some("FOO=1 ./run.sh"));
        assert!(parse_handlers(&["a".into(), "b".into()]).is_err());
        assert!(parse_handlers(&["learning=".into()]).is_err());
    }
}
