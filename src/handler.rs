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
//!
//! Its stdout is read line by line with [`crate::protocol`]; its stderr
//! goes to the task's log.

use crate::model::Task;
use crate::protocol::{self, Report};
use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use std::process::Stdio;
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
}

/// Extra context for the handler's environment.
pub struct Context<'a> {
    pub agent_id: &'a str,
    pub attempt: i64,
    /// More variables: a review command gets `VAYU_REVIEW_KIND` and
    /// `VAYU_REVIEW_ROUND` (`crate::agent` reviewer).
    pub env: &'a [(&'static str, String)],
}

/// Starts `command` for `task`. The receiver yields its reports and stderr
/// lines, in arrival order per stream, and closes when both streams end.
pub fn spawn(
    command: &str,
    task: &Task,
    ctx: &Context<'_>,
) -> std::io::Result<(Running, mpsc::Receiver<HandlerEvent>)> {
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg(command)
        .env("VAYU_TASK_ID", &task.task_id)
        .env("VAYU_TASK_TYPE", task.task_type.as_str())
        .env("VAYU_ATTEMPT", ctx.attempt.to_string())
        .env("VAYU_EPOCH", task.lease.epoch.to_string())
        .env("VAYU_AGENT_ID", ctx.agent_id)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true);
    if let Some(cp) = task.last_checkpoint() {
        cmd.env("VAYU_CHECKPOINT", &cp.data);
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
    if let Some(out) = child.stdout.take() {
        let tx = tx.clone();
        tokio::spawn(async move {
            let mut lines = BufReader::new(out).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                if tx
                    .send(HandlerEvent::Report(protocol::parse_line(&line)))
                    .await
                    .is_err()
                {
                    break;
                }
            }
        });
    }
    if let Some(err) = child.stderr.take() {
        tokio::spawn(async move {
            let mut lines = BufReader::new(err).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                if tx.send(HandlerEvent::Stderr(line)).await.is_err() {
                    break;
                }
            }
        });
    }
    Ok((Running { child, pgid }, events))
}

impl Running {
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
mod tests {
    use super::*;
    use crate::model::{Priority, TaskType};

    fn ctx() -> Context<'static> {
        Context {
            agent_id: "a1",
            attempt: 1,
            env: &[],
        }
    }

    #[tokio::test]
    async fn reports_stdin_env_and_exit_code() {
        let task = Task::new(TaskType::Research, Priority::High, "t");
        let (mut r, mut events) = spawn(
            "echo \"vayu:progress 50 half\"; echo \"id=$VAYU_TASK_ID\"; grep -c research >&2; exit 3",
            &task,
            &ctx(),
        )
        .expect("sh exists");
        let exit = r.wait().await.expect("wait");
        assert_eq!(exit, Exit::Code(3));
        let mut got = Vec::new();
        while let Some(e) = events.recv().await {
            got.push(e);
        }
        assert!(got.contains(&HandlerEvent::Report(Report::Progress {
            percent: 50,
            step: Some("half".into())
        })));
        assert!(got.contains(&HandlerEvent::Report(Report::Log(format!(
            "id={}",
            task.task_id
        )))));
        assert!(got.contains(&HandlerEvent::Stderr("1".into())), "{got:?}");
    }

    #[tokio::test]
    async fn kill_takes_the_whole_process_group() {
        let task = Task::new(TaskType::Research, Priority::High, "t");
        let dir = tempfile::tempdir().expect("tempdir");
        let marker = dir.path().join("grandchild-ran");
        let cmd = format!("(sleep 1; touch {}) & sleep 30", marker.display());
        let (mut r, _events) = spawn(&cmd, &task, &ctx()).expect("sh exists");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        r.kill().await;
        let exit = r.wait().await.expect("wait");
        assert!(matches!(exit, Exit::Signal(9)), "{exit:?}");
        tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
        assert!(
            !marker.exists(),
            "the background grandchild survived the kill"
        );
    }
}
