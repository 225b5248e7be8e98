//! `vayu-agent`'s handler sandbox flags.

use super::env;
use vayu::handler::bwrap;
use vayu::handler::sandbox::{Limits, Sandbox};

/// What handlers may touch (`vayu::handler::sandbox`). A limit of 0 is
/// no limit.
#[derive(clap::Args, Debug)]
#[command(next_help_heading = "Handler sandbox")]
pub struct SandboxArgs {
    /// A variable of the agent's environment handlers get too (they get
    /// only PATH, the locale and vayu's own otherwise), comma-separated or
    /// repeated. The agent's credentials are refused.
    #[arg(long, env = env::HANDLER_ENV, value_delimiter = ',')]
    handler_env: Vec<String>,
    /// Where each task gets a directory of its own (default: the system's
    /// temporary directory, `vayu-agent-<id>`).
    #[arg(long, env = env::WORK_DIR)]
    work_dir: Option<std::path::PathBuf>,
    /// CPU seconds per run (the task's timeout bounds wall time).
    #[arg(long, env = env::LIMIT_CPU_SECS, default_value_t = 0)]
    limit_cpu_secs: u64,
    /// Address space per run, in MiB.
    #[arg(long, env = env::LIMIT_MEMORY_MB, default_value_t = 4096)]
    limit_memory_mb: u64,
    #[arg(long, env = env::LIMIT_OPEN_FILES, default_value_t = 1024)]
    limit_open_files: u64,
    /// The largest file a run may write, in MiB.
    #[arg(long, env = env::LIMIT_FILE_MB, default_value_t = 1024)]
    limit_file_mb: u64,
    /// What a run may print (stdout and stderr), in MiB.
    #[arg(long, env = env::LIMIT_OUTPUT_MB, default_value_t = 64)]
    limit_output_mb: u64,
    /// `bwrap`: also run each handler inside bubblewrap (read-only
    /// filesystem but its own directory, the agent's home hidden, its own
    /// pid namespace); the agent checks at start that bwrap works here.
    #[arg(long, env = env::SANDBOX, value_enum, default_value_t = Isolation::Process)]
    sandbox: Isolation,
}

/// `--sandbox`, as clap spells it.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Isolation {
    Process,
    Bwrap,
}

impl SandboxArgs {
    pub fn apply(&self, s: &mut Sandbox) {
        let limit = |v: u64| (v > 0).then_some(v);
        s.pass_env = self
            .handler_env
            .iter()
            .map(|n| n.trim().to_string())
            .collect();
        if let Some(dir) = &self.work_dir {
            // Absolute: a handler's HOME and TMPDIR are under it, and it
            // runs elsewhere.
            s.work_root = std::path::absolute(dir).unwrap_or_else(|_| dir.clone());
        }
        s.limits = Limits {
            cpu_secs: limit(self.limit_cpu_secs),
            memory_mb: limit(self.limit_memory_mb),
            open_files: limit(self.limit_open_files),
            file_mb: limit(self.limit_file_mb),
            output_mb: limit(self.limit_output_mb),
        };
        s.isolation = match self.sandbox {
            Isolation::Process => bwrap::Isolation::Process,
            Isolation::Bwrap => bwrap::Isolation::Bwrap,
        };
    }
}
