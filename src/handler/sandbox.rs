//! What a handler may touch (issue 16: "malicious tasks", "infinite
//! loops"). A handler is the operator's command, but it runs on a task
//! anyone with a create permission wrote, so it gets:
//! - a scrubbed environment: a short list of harmless variables, the ones
//!   the operator names with `--handler-env`, and vayu's own; never the
//!   agent's credentials, which the agent refuses to pass even when named;
//! - its own process group (`super::spawn`), so a timeout or a cancel
//!   kills everything it started;
//! - a directory of its own per run (`work_root/<task>/<run>`, the root
//!   made 0700 and owned by the agent's user), as its working directory,
//!   `HOME` and `TMPDIR`; removed after the run however it ends, unless an
//!   artifact points into it;
//! - rlimits per process on CPU time, data (heap and private mappings),
//!   open files and file size, set by the shell (`ulimit`) before the
//!   command starts, since the crate forbids the `unsafe` a `pre_exec`
//!   would need; and a cap on what it prints, enforced by the reader;
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

/// The agent's own credentials and identity (`crate::store::env`,
/// `crate::identity::env`, Google's): never passed to a handler, even when
/// the operator names them in `--handler-env`. This stops a leak by
/// inheritance; it is no wall against a handler that means harm, which
/// runs as the agent's user and can read what that user can (README,
/// "Sandbox").
pub const NEVER_PASSED: &[&str] = &[
    crate::store::env::VAYU_TOKEN,
    crate::identity::env::VAYU_IDENTITY,
    crate::identity::env::VAYU_AGENT_IDENTITY,
    crate::identity::env::VAYU_REFRESH_TOKEN,
    crate::identity::env::VAYU_SERVICE_ACCOUNT,
    crate::identity::env::VAYU_API_KEY,
    crate::identity::env::GOOGLE_APPLICATION_CREDENTIALS,
    "GOOGLE_OAUTH_ACCESS_TOKEN",
    "CLOUDSDK_AUTH_ACCESS_TOKEN",
];

/// Seconds between the soft CPU limit (SIGXCPU) and the hard (SIGKILL).
pub const CPU_GRACE_SECS: u64 = 5;

/// Resource limits for one handler run; `None` is unlimited.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// CPU seconds per process (SIGXCPU past it, SIGKILL a few seconds
    /// later). Wall time is the task's timeout.
    pub cpu_secs: Option<u64>,
    /// Data per process (heap and private writable mappings, not address
    /// space: runtimes that reserve virtual memory, such as Node's and the
    /// JVM's, run), in MiB: allocations past it fail.
    pub memory_mb: Option<u64>,
    pub open_files: Option<u64>,
    /// The largest file it may write, in MiB (SIGXFSZ past it).
    pub file_mb: Option<u64>,
    /// What it may print on stdout and stderr together, in MiB; past it
    /// the agent stops reading and kills it.
    pub output_mb: Option<u64>,
}

impl Default for Limits {
    /// Generous: they stop a runaway, not a real workload.
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

/// See [`Sandbox::misplaced_paths`].
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Misplaced<'a> {
    pub home: Vec<&'a str>,
    pub relative: Vec<&'a str>,
}

/// How every handler of an agent runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sandbox {
    /// Extra variables passed through by name (`--handler-env`).
    pub pass_env: Vec<String>,
    pub limits: Limits,
    /// Each task's directory is `work_root/<task id>`.
    pub work_root: PathBuf,
    /// Bubblewrap around it all, or not (`--sandbox`).
    pub isolation: super::bwrap::Isolation,
}

impl Sandbox {
    /// The default sandbox of agent `agent_id`, under the system's
    /// temporary directory.
    pub fn for_agent(agent_id: &str) -> Sandbox {
        Sandbox {
            pass_env: Vec::new(),
            limits: Limits::default(),
            work_root: std::env::temp_dir().join(format!("vayu-agent-{agent_id}")),
            isolation: super::bwrap::Isolation::Process,
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

    /// What in `command` would not resolve where a handler runs (its
    /// run's own directory, which is also its `HOME`): words that start at
    /// `~`, `$HOME` or `$PWD` (always wrong), and words that look like a
    /// relative path (`./run.sh`, `examples/x.py`, `handler.py`,
    /// `--config=conf/a.toml`), which the caller refuses if they exist from
    /// where the agent starts.
    pub fn misplaced_paths(command: &str) -> Misplaced<'_> {
        const SCRIPTS: &[&str] = &[
            ".py", ".sh", ".bash", ".js", ".mjs", ".ts", ".rb", ".pl", ".php",
        ];
        let mut out = Misplaced::default();
        for word in command.split_whitespace() {
            let word = word.trim_matches(|c| c == '\'' || c == '"');
            let word = word.rsplit_once('=').map_or(word, |(_, v)| v);
            if ["~", "$HOME", "${HOME}", "$PWD", "${PWD}"]
                .iter()
                .any(|p| word.starts_with(p))
            {
                out.home.push(word);
            } else if !word.starts_with(['/', '$', '-']) && !word.contains("://") {
                let pathy = word.contains('/') || SCRIPTS.iter().any(|e| word.ends_with(e));
                if pathy && !word.is_empty() {
                    out.relative.push(word);
                }
            }
        }
        out
    }

    /// Creates the run's directory, `work_root/<task_id>/<run>`, the root
    /// first as 0700 (task inputs and artifacts are nobody else's) and
    /// refused if it is not a directory of this user's (a link, or one
    /// another user made first in a shared /tmp).
    pub fn run_dir(&self, task_id: &str, run: &str) -> std::io::Result<PathBuf> {
        use std::os::unix::fs::{DirBuilderExt, MetadataExt};
        let mut root = std::fs::DirBuilder::new();
        root.recursive(true).mode(0o700);
        root.create(&self.work_root)?;
        let meta = std::fs::symlink_metadata(&self.work_root)?;
        if !meta.is_dir() || meta.uid() != nix::unistd::getuid().as_raw() {
            return Err(std::io::Error::other(format!(
                "{} is not a directory of this user's",
                self.work_root.display()
            )));
        }
        let dir = self.work_root.join(task_id).join(run);
        root.create(&dir)?;
        Ok(dir)
    }

    /// Removes a run's directory (and its task's, once empty), unless an
    /// artifact lives in it.
    pub fn tidy(&self, dir: &Path, artifact_uris: &[&str]) -> std::io::Result<()> {
        if self.keeps(dir, artifact_uris) {
            return Ok(());
        }
        std::fs::remove_dir_all(dir)?;
        if let Some(task) = dir.parent() {
            // Fails while another run's directory is there: fine.
            let _ = std::fs::remove_dir(task);
        }
        Ok(())
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
        // The hard CPU limit a little above the soft one: past the soft the
        // process gets SIGXCPU (which names the limit); at the hard, SIGKILL.
        set("St", l.cpu_secs);
        set("Ht", l.cpu_secs.map(|s| s.saturating_add(CPU_GRACE_SECS)));
        set("d", l.memory_mb.map(|m| m.saturating_mul(1024)));
        set("n", l.open_files);
        // In 512-byte blocks, as POSIX has it.
        set("f", l.file_mb.map(|m| m.saturating_mul(2048)));
        s.push_str(command);
        s
    }

    /// Why a failed run failed, when a limit explains it: the reason is
    /// the first thing an operator reads, and "exit code 1" is not one.
    /// `output` is this run's last lines; `printed_too_much` whether the
    /// agent killed it for its output.
    pub fn explain(&self, exit: &Exit, output: &str, printed_too_much: bool) -> Option<String> {
        use nix::sys::signal::Signal::{SIGXCPU, SIGXFSZ};
        let l = &self.limits;
        if printed_too_much {
            return (l.output_mb).map(|m| format!("it printed past its output limit of {m} MiB"));
        }
        let said = |words: &[&str]| words.iter().any(|w| output.contains(w));
        let cpu = |how: &str| (l.cpu_secs).map(|s| format!("{how} its CPU-time limit of {s} s"));
        let file =
            || (l.file_mb).map(|m| format!("it wrote a file past its size limit of {m} MiB"));
        match exit {
            Exit::Signal(s) if *s == SIGXCPU as i32 => cpu("it used up"),
            Exit::Signal(s) if *s == SIGXFSZ as i32 => file(),
            Exit::Code(125) if output.contains("ulimit") => {
                Some("the sandbox's limits could not be set (see the log)".into())
            }
            // Python ignores SIGXFSZ and reports the write's error.
            _ if said(&["File too large"]) => file(),
            // Past the soft CPU limit, a process that ignores SIGXCPU is
            // killed at the hard one.
            Exit::Signal(9) => cpu("it was killed, most likely past"),
            _ if said(&[
                "MemoryError",
                "Cannot allocate memory",
                "out of memory",
                "bad_alloc",
            ]) =>
            {
                (l.memory_mb).map(|m| format!("it ran out of memory under its limit of {m} MiB"))
            }
            _ => None,
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
