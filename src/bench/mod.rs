//! `vayu bench`: throughput, latency, scaling and Firestore operations per
//! task, for vayu and two references, measured side by side in one run on
//! the same emulator.
//!
//! Modes, each on a fresh database of the same emulator (queries slow down
//! on a database that saw many documents come and go, so no mode inherits
//! another's debris):
//! - **vayu**: N in-process agents ([`crate::agent::run`], the daemon's own
//!   loop, each with its own connection), fed by producers that create M
//!   tasks the way [`crate::tasks::create`] (the CLI's code path) does.
//!   Before the load, an idle fleet measures created → claimed latency one
//!   task at a time, and counts every read idle agents make in a quiet
//!   window.
//! - **textbook**: the claim loop a user would write: N workers, each
//!   querying the oldest queued task of the highest priority inside a
//!   read-write transaction, claiming it and committing, then completing it
//!   ([`textbook`]).
//! - **ceiling**: the emulator's raw rate for vayu's three commits per task
//!   (create, claim, complete: five document writes) with no queue logic
//!   ([`ceiling`]); and again with N idle listeners on the queued pile
//!   (ceiling+L), what the emulator allows any design whose agents listen.
//!
//! - **dag**: a DAG of dependent tasks (`--dag-levels × --dag-width`),
//!   created through the CLI's path and run by N agents ([`dag`]).
//! - **schedule**: a `* * * * *` schedule evaluated by N evaluators over
//!   `--ticks` ticks of a manual clock ([`schedule`]).
//! - **poll**: the simple polling worker, a second reference: a list of
//!   the highest-ranked tasks, claimed at random with update-time
//!   preconditions ([`poll`]).
//!
//! The references (textbook, poll, ceiling) never end the benchmark:
//! their contention is counted in their reports, and an error that stops
//! one is recorded in [`BenchReport::errors`]. Only the vayu modes' own
//! failures are the bench's.
//!
//! Agents run in this process so that every Firestore operation is counted
//! in one [`OpCounters`]; the RSS of an idle agent is measured on a real
//! `vayu-agent` process ([`rss`]).
//!
//! The bench never runs against production Firestore, whose every read
//! and write is billed: without `FIRESTORE_EMULATOR_HOST` it starts its
//! own emulator.

pub mod ceiling;
pub mod dag;
mod idle;
mod modes;
pub mod plain;
pub mod poll;
mod produce;
pub mod progress;
pub mod rank;
pub mod report;
pub mod rss;
pub mod schedule;
pub mod stats;
pub mod textbook;
pub mod vayu;

use crate::emulator::{Emulator, EmulatorOptions};
use crate::error::{Error, Result};
use crate::metrics::OpCounters;
use crate::store::{Store, StoreConfig};
use clap::Args;
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use produce::{ProduceReport, produce, produce_until_stopped};
pub use report::BenchReport;

/// One of the measured modes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, clap::ValueEnum)]
pub enum Mode {
    Vayu,
    Textbook,
    Ceiling,
    /// A DAG of dependent tasks, created and run by vayu.
    Dag,
    /// A schedule's ticks, evaluated by vayu's evaluators.
    Schedule,
    /// The simple polling worker reference.
    Poll,
}

/// `vayu bench` flags.
#[derive(Args, Debug, Clone)]
pub struct BenchArgs {
    /// Agents (vayu) and worker loops (textbook). A list (`1,2,4,8,16`)
    /// runs the whole benchmark once per value, each on an emulator of its
    /// own when the bench starts them, and ends with a scaling table.
    #[arg(long = "agents", value_delimiter = ',', default_value = "8")]
    pub agent_counts: Vec<usize>,
    /// The agent count of the run in progress (one of `agent_counts`).
    #[arg(skip)]
    pub agents: usize,
    /// Tasks per mode (vayu, textbook, poll, ceiling).
    #[arg(long, default_value_t = 2000)]
    pub tasks: usize,
    /// The dag mode's levels: level 0 is queued, every task of a later
    /// level waits for two of the level before.
    #[arg(long, default_value_t = 10)]
    pub dag_levels: usize,
    /// The dag mode's tasks per level.
    #[arg(long, default_value_t = 10)]
    pub dag_width: usize,
    /// The schedule mode's ticks (minutes of its manual clock).
    #[arg(long, default_value_t = 30)]
    pub ticks: usize,
    /// Which modes to run, comma-separated.
    #[arg(
        long,
        value_enum,
        value_delimiter = ',',
        default_value = "vayu,textbook,ceiling"
    )]
    pub modes: Vec<Mode>,
    /// The tasks' priorities: `mixed` (10 % critical, 20 % high, 60 %
    /// normal, 10 % low) or `normal` (every task normal).
    #[arg(long, value_enum, default_value = "mixed")]
    pub mix: rank::Mix,
    /// Handler command for every task. The default appends the task id to
    /// a file, which costs the same fork as `true` and counts executions
    /// exactly (duplicates).
    #[arg(long)]
    pub handler: Option<String>,
    /// Task slots per agent (`vayu-agent --concurrency`).
    #[arg(long, default_value_t = 4)]
    pub concurrency: usize,
    /// Concurrent task creators feeding the queue.
    #[arg(long, default_value_t = 8)]
    pub producers: usize,
    /// Stop the vayu mode's load phase after this many seconds and report
    /// its rate so far.
    #[arg(long, default_value_t = 300)]
    pub limit_secs: u64,
    /// Stop the textbook and poll modes after this many seconds and
    /// report their rate so far (they can take minutes under contention).
    #[arg(long, default_value_t = 120)]
    pub textbook_limit_secs: u64,
    /// Tasks created one at a time while agents are idle, for the idle
    /// created → claimed latency.
    #[arg(long, default_value_t = 20)]
    pub idle_samples: usize,
    /// Seconds of the quiet window in which idle agents' reads are counted.
    #[arg(long, default_value_t = 10)]
    pub idle_window_secs: u64,
    /// Tasks per mode in an unreported warm-up of the emulator's JVM
    /// (0 skips it; cold commits are about five times slower).
    #[arg(long, default_value_t = 300)]
    pub warmup_tasks: usize,
    /// Skip measuring a real `vayu-agent` process's RSS.
    #[arg(long)]
    pub no_rss: bool,
    /// No progress bar.
    #[arg(long)]
    pub quiet: bool,
}

impl Default for BenchArgs {
    fn default() -> Self {
        BenchArgs {
            agent_counts: vec![8],
            agents: 8,
            tasks: 2000,
            dag_levels: 10,
            dag_width: 10,
            ticks: 30,
            modes: vec![Mode::Vayu, Mode::Textbook, Mode::Ceiling],
            mix: rank::Mix::Mixed,
            handler: None,
            concurrency: 4,
            producers: 8,
            limit_secs: 300,
            textbook_limit_secs: 120,
            idle_samples: 20,
            idle_window_secs: 10,
            warmup_tasks: 300,
            no_rss: false,
            quiet: false,
        }
    }
}

impl BenchArgs {
    fn validate(&self) -> Result<()> {
        let bad = |m: &str| Err(Error::Config(m.into()));
        if self.agent_counts.is_empty() || self.agent_counts.iter().any(|n| !(1..=256).contains(n))
        {
            return bad("--agents must be 1..=256 (or a list of such, like 1,2,4,8,16)");
        }
        if self.tasks == 0 {
            return bad("--tasks must be at least 1");
        }
        if self.modes.is_empty() {
            return bad(
                "--modes needs at least one of vayu, textbook, ceiling, dag, schedule, poll",
            );
        }
        if !(1..=100).contains(&self.dag_levels) || !(1..=100).contains(&self.dag_width) {
            return bad("--dag-levels and --dag-width must be 1..=100");
        }
        if !(1..=1000).contains(&self.ticks) {
            return bad("--ticks must be 1..=1000");
        }
        if !(1..=256).contains(&self.concurrency) {
            return bad("--concurrency must be 1..=256");
        }
        if self.producers == 0 {
            return bad("--producers must be at least 1");
        }
        if self.handler.as_deref().is_some_and(|h| h.trim().is_empty()) {
            return bad("--handler must not be empty");
        }
        Ok(())
    }
}

/// What every mode needs: where the emulator is, and a scratch directory.
pub struct Ctx {
    pub args: BenchArgs,
    pub host: String,
    pub project: String,
    /// The emulator JVM's pid when this process started it (for CPU use).
    pub jvm_pid: Option<u32>,
    /// Scratch files (handler execution logs); removed at the end.
    pub workdir: PathBuf,
    /// Show progress bars (off during warm-up and with `--quiet`).
    pub show_progress: bool,
}

impl Ctx {
    /// A database id no earlier run used: `bench-{mode}-{16 hex digits}`.
    pub fn fresh_db(&self, mode: &str) -> String {
        let id = uuid::Uuid::new_v4().simple().to_string();
        format!("bench-{mode}-{}", &id[..16])
    }

    pub fn store_config(&self, database: &str) -> StoreConfig {
        let mut cfg = StoreConfig::emulator(&self.host, database);
        cfg.project_id = self.project.clone();
        cfg
    }

    /// Connects with counters shared with other stores.
    pub async fn connect(&self, database: &str, counters: &Arc<OpCounters>) -> Result<Store> {
        Store::connect_with_counters(&self.store_config(database), counters.clone()).await
    }

    /// The handler command for `mode`, and the file the default one
    /// appends each executed task id to.
    pub fn handler(&self, mode: &str) -> (String, Option<PathBuf>) {
        match &self.args.handler {
            Some(h) => (h.clone(), None),
            None => {
                let file = self.workdir.join(format!("runs-{mode}.txt"));
                (
                    format!("echo \"$VAYU_TASK_ID\" >> '{}'", file.display()),
                    Some(file),
                )
            }
        }
    }

    fn log(&self, msg: impl AsRef<str>) {
        if self.show_progress {
            eprintln!("{}", msg.as_ref());
        }
    }
}

/// Handler executions recorded in a runs file: (lines, distinct task ids).
pub fn count_runs(file: &Path) -> (u64, u64) {
    let text = std::fs::read_to_string(file).unwrap_or_default();
    let mut ids = std::collections::HashSet::new();
    let mut lines = 0;
    for l in text.lines().filter(|l| !l.is_empty()) {
        lines += 1;
        ids.insert(l);
    }
    (lines, ids.len() as u64)
}

/// Handler executions so far, cheaply: a runs file holds one 36-character
/// uuid and a newline per execution.
pub fn runs_so_far(file: &Path) -> u64 {
    std::fs::metadata(file).map(|m| m.len() / 37).unwrap_or(0)
}

/// The runs `args` asks for: one per agent count of `--agents`.
pub fn per_agent_count(args: &BenchArgs) -> Vec<BenchArgs> {
    args.agent_counts
        .iter()
        .map(|&n| {
            let mut one = args.clone();
            one.agents = n;
            one.agent_counts = vec![n];
            one
        })
        .collect()
}

/// Runs the benchmark for `args.agents` agents (the first of
/// `agent_counts` when unset) and returns its report; prints nothing to
/// stdout.
pub async fn run(mut args: BenchArgs, project: Option<String>) -> Result<BenchReport> {
    args.validate()?;
    if args.agents == 0 {
        args.agents = args.agent_counts[0];
    }
    let mut _emulator = None;
    let (host, jvm_pid, started_emulator) =
        match std::env::var(crate::store::env::FIRESTORE_EMULATOR_HOST)
            .ok()
            .filter(|h| !h.is_empty())
        {
            Some(h) => (h, None, false),
            None => {
                if !args.quiet {
                    eprintln!("starting a Firestore emulator for the benchmark…");
                }
                let emu = Emulator::start(EmulatorOptions::default())
                    .await
                    .map_err(|e| Error::Config(e.to_string()))?;
                let out = (emu.host().to_string(), emu.java_pid(), true);
                _emulator = Some(emu);
                out
            }
        };
    let workdir =
        std::env::temp_dir().join(format!("vayu-bench-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&workdir)
        .map_err(|e| Error::Config(format!("creating {}: {e}", workdir.display())))?;
    let mut ctx = Ctx {
        args: args.clone(),
        host,
        project: project.unwrap_or_else(|| crate::store::DEFAULT_EMULATOR_PROJECT.into()),
        jvm_pid,
        workdir: workdir.clone(),
        show_progress: !args.quiet,
    };
    let result = modes::run_modes(&mut ctx, started_emulator).await;
    let _ = std::fs::remove_dir_all(&workdir);
    result
}
