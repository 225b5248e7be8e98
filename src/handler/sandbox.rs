//! What a handler may touch (issue 16: "malicious tasks", "infinite
//! loops"). A handler is the operator's command, but it runs on a task
//! anyone with a create permission wrote, so it gets:
//! - a scrubbed environment: a short list of harmless variables, the ones
//!   the operator names with `--handler-env`, and vayu's own; never the
//!   agent's credentials, which the agent refuses to pass even when named;
//! - its own process group (`super::spawn`), so a timeout or a cancel
//!   kills everything it started;
//! - a directory of its own per task, as its working directory, `HOME`
//!   and `TMPDIR`; removed after the run unless an artifact points into it;
//! - rlimits on CPU time, address space, open files and file size, set by
//!   the shell (`ulimit`) before the command starts, since the crate
//!   forbids the `unsafe` a `pre_exec` would need; and a cap on what it
//!   prints, enforced by the reader;
//! - the task as data on stdin, never through a shell.
//!
//! The pure parts (the environment, the script, explaining an exit) are
//! here; [`super::spawn`] does the I/O.

use super::Exit;
use std::path::{Path, PathBuf};

/// Variables a handler gets from the agent's environment without asking:
/// enough to find programs and speak the locale, nothing that grants
/// access. `HOME` and `TMPDIR` are the task's directory instead.
pub const BASE_ENV: &[&str] = &[
    "PATH", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "USER", "LOGNAME",
];

/// The agent's own credentials and identity: never passed to a handler,
/// even when the operator names them in `--handler-env`.
pub const NEVER_PASSED: &[&str] = &[
    "VAYU_TOKEN",
    "VAYU_AGENT_IDENTITY",
    "GOOGLE_APPLICATION_CREDENTIALS",
    "GOOGLE_OAUTH_ACCESS_TOKEN",
    "CLOUDSDK_AUTH_ACCESS_TOKEN",
];

/// Resource limits for one handler run; `None` is unlimited.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// CPU seconds (SIGXCPU past it). Wall time is the task's timeout.
    pub cpu_secs: Option<u64>,
    /// Address space, in MiB: allocations past it fail.
    pub memory_mb: Option<u64>,
    pub open_files: Option<u64>,
    /// The largest file it may write, in MiB (SIGXFSZ past it).
    pub file_mb: Option<u64>,
    /// What it may print on stdout and stderr together, in MiB; past it
    /// the agent stops reading and kills it.
    pub output_mb: Option<u64>,
}

impl Default for Limits {
    /// Generous: they stop a runaway, not a real workload. (Address space
    /// is not resident memory: 4 GiB leaves room for Python and the shell
    /// tools; runtimes that reserve more, such as the JVM, need a higher
    /// `--limit-memory-mb` or 0.)
    fn default() -> Limits {
        Limits {
            cpu_secs: None,
            memory_mb: Some(4096),
            open_files: Some(1024),
            file_mb: Some(1024),
            output_mb: Some(64),
        }
    }
}

/// How every handler of an agent runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sandbox {
    /// Extra variables passed through by name (`--handler-env`).
    pub pass_env: Vec<String>,
    pub limits: Limits,
    /// Each task's directory is `work_root/<task id>`.
    pub work_root: PathBuf,
}

impl Sandbox {
    /// The default sandbox of agent `agent_id`, under the system's
    /// temporary directory.
    pub fn for_agent(agent_id: &str) -> Sandbox {
        Sandbox {
            pass_env: Vec::new(),
            limits: Limits::default(),
            work_root: std::env::temp_dir().join(format!("vayu-agent-{agent_id}")),
        }
    }

    /// Refuses a `--handler-env` that would hand out the agent's
    /// credentials, or that is not a variable name.
    pub fn validate(&self) -> Result<(), String> {
        for name in &self.pass_env {
            if NEVER_PASSED.contains(&name.as_str()) {
                return Err(format!(
                    "--handler-env {name}: the agent's credentials never reach a handler"
                ));
            }
            let valid = !name.is_empty()
                && !name.starts_with(|c: char| c.is_ascii_digit())
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            if !valid {
                return Err(format!("--handler-env {name:?} is not a variable name"));
            }
        }
        Ok(())
    }

    /// The words of `command` that name a relative path (`./run.sh`,
    /// `examples/handlers/generic.py`): a handler runs in its task's own
    /// directory, where they would not resolve. The caller checks which
    /// exist from where the agent starts, and refuses those.
    pub fn relative_paths(command: &str) -> Vec<&str> {
        command
            .split_whitespace()
            .map(|w| w.trim_matches(|c| c == '\'' || c == '"'))
            .filter(|w| w.contains('/') && !w.contains('='))
            .filter(|w| !w.starts_with(['/', '$', '~', '-']) && !w.contains("://"))
            .collect()
    }

    pub fn task_dir(&self, task_id: &str) -> PathBuf {
        self.work_root.join(task_id)
    }

    /// The handler's environment, from `lookup` (the agent's own): the
    /// base and named variables that are set, then `HOME` and `TMPDIR`.
    pub fn env(
        &self,
        dir: &Path,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Vec<(String, String)> {
        let names = BASE_ENV
            .iter()
            .copied()
            .chain(self.pass_env.iter().map(String::as_str));
        let mut out: Vec<(String, String)> = names
            .filter(|n| !NEVER_PASSED.contains(n))
            .filter_map(|n| lookup(n).map(|v| (n.to_string(), v)))
            .collect();
        let dir = dir.display().to_string();
        out.push(("HOME".into(), dir.clone()));
        out.push(("TMPDIR".into(), dir));
        out
    }

    /// The shell script that sets the limits, then runs `command`. The
    /// soft and hard limits both, so the handler cannot raise them.
    pub fn script(&self, command: &str) -> String {
        let l = &self.limits;
        let mut s = String::new();
        let mut set = |flag: &str, v: Option<u64>| {
            if let Some(v) = v {
                s.push_str(&format!("ulimit -{flag} {v} || exit 125\n"));
            }
        };
        set("t", l.cpu_secs);
        set("v", l.memory_mb.map(|m| m.saturating_mul(1024)));
        set("n", l.open_files);
        // In 512-byte blocks, as POSIX has it.
        set("f", l.file_mb.map(|m| m.saturating_mul(2048)));
        s.push_str(command);
        s
    }

    /// Why a failed run failed, when a limit explains it: the reason is
    /// the first thing an operator reads, and "exit code 1" is not one.
    /// `output` is the run's last lines.
    pub fn explain(&self, exit: &Exit, output: &str) -> Option<String> {
        const SIGXCPU: i32 = 24;
        const SIGXFSZ: i32 = 25;
        let l = &self.limits;
        match exit {
            Exit::Signal(SIGXCPU) => l
                .cpu_secs
                .map(|s| format!("it used up its CPU-time limit of {s} s")),
            Exit::Signal(SIGXFSZ) => l
                .file_mb
                .map(|m| format!("it wrote a file past its size limit of {m} MiB")),
            Exit::Code(125) if output.contains("ulimit") => {
                Some("the sandbox's limits could not be set (see the log)".into())
            }
            Exit::Signal(9) if output.contains(super::OUTPUT_LIMIT_LINE) => l
                .output_mb
                .map(|m| format!("it printed past its output limit of {m} MiB")),
            _ => {
                let m = l.memory_mb?;
                let out_of_memory = [
                    "MemoryError",
                    "Cannot allocate memory",
                    "out of memory",
                    "bad_alloc",
                ];
                out_of_memory
                    .iter()
                    .any(|p| output.contains(p))
                    .then(|| format!("it ran out of memory under its limit of {m} MiB"))
            }
        }
    }

    /// Whether the task's directory must stay after the run: an artifact
    /// the run reported lives in it.
    pub fn keeps(&self, dir: &Path, artifact_uris: &[&str]) -> bool {
        let dir = format!("file://{}", dir.display());
        artifact_uris.iter().any(|u| {
            u.strip_prefix(&dir)
                .is_some_and(|rest| rest.starts_with('/'))
        })
    }
}

#[cfg(test)]
#[path = "sandbox_tests.rs"]
mod tests;
