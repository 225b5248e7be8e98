//! Running one task's handler as a child process.
//!
//! The handler runs under `sh -c`, in its own process group, so a timeout,
//! a cancel or a pause kills everything it started, not just the shell.
//! It gets the task as JSON on stdin and these environment variables:
//!
//! | variable | value |
//! |---|---|
//! | `VAYU_TASK_ID` | the task's id |
//! | `VAYU_TASK_TYPE` | its type |
//! | `VAYU_ATTEMPT` | the attempt number, from 1 |
//! | `VAYU_EPOCH` | the lease's fencing number |
//! | `VAYU_AGENT_ID` | the agent running it |
//! | `VAYU_CHECKPOINT` | the last checkpoint's data, when resuming |
//! | `VAYU_REVIEW_KIND` | a review command's kind: self, peer or tests |
//! | `VAYU_REVIEW_ROUND` | the review round (0 before any rework) |
//! | `VAYU_TASK_DIR` | the run's own directory (also the working directory, `HOME` and `TMPDIR`) |
//! | `VAYU_TEAM` | a team part's parent task id (`crate::teams`) |
//! | `VAYU_PART`, `VAYU_PARTS` | which part this is (from 1), of how many |
//! | `VAYU_TEAM_ROLE` | the part's role, when the team named roles |
//!
//! Nothing else of the agent's environment reaches it unless the operator
//! names it, and never the agent's credentials ([`sandbox`]).
//!
//! Its stdout is read line by line with [`crate::protocol`]; its stderr
//! goes to the task's log.

pub mod bwrap;
pub mod sandbox;

use crate::model::Task;
use crate::protocol::{self, Report};
use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use sandbox::Sandbox;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::mpsc;

/// What the runner hears from a handler.
#[derive(Debug, Clone, PartialEq)]
pub enum HandlerEvent {
    Report(Report),
    Stderr(String),
}

/// How a handler ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Exit {
    Code(i32),
    Signal(i32),
}

impl Exit {
    pub fn success(&self) -> bool {
        *self == Exit::Code(0)
    }
}

impl std::fmt::Display for Exit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Exit::Code(c) => write!(f, "exit code {c}"),
            Exit::Signal(s) => write!(f, "killed by signal {s}"),
        }
    }
}

/// A running handler.
pub struct Running {
    child: Child,
    pgid: Option<Pid>,
    dir: PathBuf,
    /// Set when the agent killed it for printing past its output limit.
    over: Arc<AtomicBool>,
}

/// Extra context for the handler's environment.
pub struct Context<'a> {
    pub agent_id: &'a str,
    pub attempt: i64,
    /// More variables: a review command gets `VAYU_REVIEW_KIND` and
    /// `VAYU_REVIEW_ROUND` (`crate::agent` reviewer).
    pub env: &'a [(&'static str, String)],
    pub sandbox: &'a Sandbox,
    /// Names the run's directory under the task's: `e3` for a run at
    /// epoch 3, `review-peer-e3` for a review, so no two runs share one.
    pub run: &'a str,
}

/// The line the reader logs when it kills a handler for printing too
/// much; [`Sandbox::explain`] looks for it.
pub const OUTPUT_LIMIT_LINE: &str = "[vayu] the handler printed past its output limit; killed";

/// Starts `command` for `task`. The receiver yields its reports and stderr
/// lines, in arrival order per stream, and closes when both streams end.
pub fn spawn(
    command: &str,
    task: &Task,
    ctx: &Context<'_>,
) -> std::io::Result<(Running, mpsc::Receiver<HandlerEvent>)> {
    let sandbox = ctx.sandbox;
    let dir = sandbox.run_dir(&task.task_id, ctx.run)?;
    let home = std::env::var_os("HOME").map(std::path::PathBuf::from);
    let argv = bwrap::argv(
        sandbox.isolation,
        &dir,
        home.as_deref(),
        &sandbox.script(command),
    );
    let mut cmd = Command::new(&argv[0]);
    cmd.args(&argv[1..])
        .env_clear()
        .envs(sandbox.env(&dir, |n| std::env::var(n).ok()))
        .env("VAYU_TASK_DIR", &dir)
        .env("VAYU_TASK_ID", &task.task_id)
        .env("VAYU_TASK_TYPE", task.task_type.as_str())
        .env("VAYU_ATTEMPT", ctx.attempt.to_string())
        .env("VAYU_EPOCH", task.lease.epoch.to_string())
        .env("VAYU_AGENT_ID", ctx.agent_id)
        .current_dir(&dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true);
    if let Some(cp) = task.last_checkpoint() {
        cmd.env("VAYU_CHECKPOINT", &cp.data);
    }
    if let Some(part) = &task.part_of {
        cmd.env("VAYU_TEAM", &part.parent)
            .env("VAYU_PART", part.index.to_string())
            .env("VAYU_PARTS", part.of.to_string());
        if let Some(role) = &part.role {
            cmd.env("VAYU_TEAM_ROLE", role);
        }
    }
    cmd.envs(ctx.env.iter().map(|(k, v)| (k, v)));
    let mut child = cmd.spawn()?;
    let pgid = child.id().map(|id| Pid::from_raw(id as i32));
    // Bounded: a handler that floods stdout is slowed down (its pipe fills)
    // rather than growing the agent's memory.
    let (tx, events) = mpsc::channel(256);
    if let Some(mut stdin) = child.stdin.take() {
        let json = serde_json::to_vec(task).unwrap_or_default();
        tokio::spawn(async move {
            // A handler that never reads stdin closes it: not an error.
            let _ = stdin.write_all(&json).await;
            let _ = stdin.shutdown().await;
        });
    }
    let budget = OutputBudget::new(sandbox.limits.output_mb, pgid);
    if let Some(out) = child.stdout.take() {
        let report = |line: String| HandlerEvent::Report(protocol::parse_line(&line));
        tokio::spawn(read_lines(out, budget.clone(), tx.clone(), report));
    }
    if let Some(err) = child.stderr.take() {
        tokio::spawn(read_lines(err, budget.clone(), tx, HandlerEvent::Stderr));
    }
    let over = budget.tripped.clone();
    Ok((
        Running {
            child,
            pgid,
            dir,
            over,
        },
        events,
    ))
}

/// The longest line kept; the rest of a longer one is dropped (and paid
/// for), so a handler that never prints a newline cannot grow the agent.
pub const LINE_MAX: usize = 64 * 1024;
/// What a line costs at least: a flood of empty lines is as costly to
/// keep (a log entry each) as a few full ones.
pub const LINE_COST_MIN: u64 = 256;

/// Reads `stream` line by line (bytes that are not UTF-8 replaced, not
/// fatal), paying for what it reads, and sends each line as `event(line)`
/// until the stream ends, the budget runs out, or nobody listens.
async fn read_lines<R: tokio::io::AsyncRead + Unpin>(
    stream: R,
    budget: OutputBudget,
    tx: mpsc::Sender<HandlerEvent>,
    event: impl Fn(String) -> HandlerEvent,
) {
    let mut r = BufReader::new(stream);
    let mut line: Vec<u8> = Vec::new();
    loop {
        let chunk = match r.fill_buf().await {
            Ok(c) => c,
            Err(_) => return,
        };
        if chunk.is_empty() {
            if !line.is_empty() {
                let _ = tx
                    .send(event(String::from_utf8_lossy(&line).into_owned()))
                    .await;
            }
            return;
        }
        let (take, ended) = match chunk.iter().position(|b| *b == b'\n') {
            Some(i) => (i + 1, true),
            None => (chunk.len(), false),
        };
        let room = LINE_MAX.saturating_sub(line.len());
        line.extend_from_slice(&chunk[..take.min(room)]);
        r.consume(take);
        let cost = if ended {
            (take as u64).max(LINE_COST_MIN)
        } else {
            take as u64
        };
        if !budget.spend(cost, &tx).await {
            return;
        }
        if ended {
            while line.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
                line.pop();
            }
            let text = String::from_utf8_lossy(&line).into_owned();
            line.clear();
            if tx.send(event(text)).await.is_err() {
                return;
            }
        }
    }
}

/// What a handler may still print, shared by its stdout and stderr
/// readers. The first reader to overspend kills the process group and
/// says so in the log; both stop reading.
#[derive(Clone)]
struct OutputBudget {
    left: Option<Arc<AtomicU64>>,
    tripped: Arc<AtomicBool>,
    pgid: Option<Pid>,
}

impl OutputBudget {
    fn new(limit_mb: Option<u64>, pgid: Option<Pid>) -> OutputBudget {
        OutputBudget {
            left: limit_mb.map(|m| Arc::new(AtomicU64::new(m.saturating_mul(1 << 20)))),
            tripped: Arc::new(AtomicBool::new(false)),
            pgid,
        }
    }

    /// Pays `cost` bytes; false (after killing the handler) when it is
    /// over the limit.
    async fn spend(&self, cost: u64, tx: &mpsc::Sender<HandlerEvent>) -> bool {
        if self.tripped.load(Ordering::Relaxed) {
            return false;
        }
        let Some(left) = &self.left else {
            return true;
        };
        if left
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |l| {
                l.checked_sub(cost)
            })
            .is_ok()
        {
            return true;
        }
        if !self.tripped.swap(true, Ordering::Relaxed) {
            if let Some(pgid) = self.pgid {
                let _ = killpg(pgid, Signal::SIGKILL);
            }
            let _ = tx
                .send(HandlerEvent::Stderr(OUTPUT_LIMIT_LINE.into()))
                .await;
        }
        false
    }
}

impl Running {
    /// The task's directory it runs in.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Whether the agent killed it for printing past its output limit.
    pub fn printed_too_much(&self) -> bool {
        self.over.load(Ordering::Relaxed)
    }

    /// Waits for the handler to exit.
    pub async fn wait(&mut self) -> std::io::Result<Exit> {
        use std::os::unix::process::ExitStatusExt;
        let status = self.child.wait().await?;
        Ok(match (status.code(), status.signal()) {
            (Some(c), _) => Exit::Code(c),
            (None, Some(s)) => Exit::Signal(s),
            (None, None) => Exit::Code(-1),
        })
    }

    /// Kills the handler's whole process group, then reaps the shell.
    pub async fn kill(&mut self) {
        if let Some(pgid) = self.pgid {
            // ESRCH (already gone) is fine.
            let _ = killpg(pgid, Signal::SIGKILL);
        }
        let _ = self.child.kill().await;
    }

    /// Asks the handler's process group to stop (SIGTERM).
    pub fn terminate(&self) {
        if let Some(pgid) = self.pgid {
            let _ = killpg(pgid, Signal::SIGTERM);
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        // Never leave a handler's children behind when the runner goes.
        if let Some(pgid) = self.pgid {
            let _ = killpg(pgid, Signal::SIGKILL);
        }
    }
}

#[cfg(test)]
#[path = "tests.rs"]
mod tests;
