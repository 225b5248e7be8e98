//! `vayu task watch ID` and `vayu task create --wait`: follow one task to
//! its end, showing its progress, and exit with its outcome, so a script
//! can wait for a result the way it waits for a command.
//!
//! Progress goes to stderr: on a terminal one line redrawn in place (a
//! bar, the current step, the agent, the ETA), otherwise a line per
//! change; stdout gets only the end (the task, as `task status` shows it),
//! or with `--json` one JSON object a line per change, the last line being
//! the whole task. Exit codes: 0 completed, 8 failed, 9 cancelled, 10 skipped
//! (`cli/mod.rs`).
//!
//! Cost: one lookup of the task a second (three reads, one per pile).

use super::*;
use std::io::{IsTerminal as _, Write as _};
use std::time::Duration;

const EVERY: Duration = Duration::from_secs(1);

/// The exit code of a task that ended without completing.
pub(super) fn exit_code(status: Status) -> i32 {
    match status {
        Status::Cancelled => 9,
        Status::Skipped => 10,
        _ => 8,
    }
}

/// Waits for task `id` to end; `Ok` with what to print when it completed,
/// [`Error::Unsuccessful`] when it did not.
pub(super) async fn run(store: &Store, id: &str, json: bool) -> Result<String, Error> {
    let tty = !json && std::io::stderr().is_terminal();
    let mut last: Option<String> = None;
    loop {
        let Some(v) = store.find_task(id).await? else {
            return Err(Error::NotFound(format!("task {id}")));
        };
        let t = &v.value;
        let line = progress_line(t, now());
        if last.as_deref() != Some(line.as_str()) {
            show(&line, t, json, tty);
            last = Some(line);
        }
        if t.status.is_terminal() {
            if tty {
                eprintln!();
            }
            return finish(v, json);
        }
        tokio::time::sleep(EVERY).await;
    }
}

fn show(line: &str, t: &Task, json: bool, tty: bool) {
    if json {
        let v = serde_json::json!({
            "task_id": t.task_id,
            "status": t.status.as_str(),
            "progress": t.execution.progress,
            "step": t.execution.current_step,
            "agent": t.assignment.primary_agent,
            "estimated_completion": t.execution.estimated_completion,
        });
        println!("{v}");
        let _ = std::io::stdout().flush();
    } else if tty {
        // Redrawn in place; the padding wipes a longer previous line.
        eprint!("\r{line:<100}");
        let _ = std::io::stderr().flush();
    } else {
        eprintln!("{line}");
    }
}

fn finish(v: Versioned<Task>, json: bool) -> Result<String, Error> {
    let t = &v.value;
    // With --json, the task on one line too: every stdout line is then
    // one JSON object.
    let whole = || serde_json::to_string(t).map(|j| format!("{j}\n"));
    if t.status == Status::Completed {
        return Ok(match json {
            true => whole().map_err(|e| Error::Firestore(e.to_string()))?,
            false => render_task(&v),
        });
    }
    if json && let Ok(line) = whole() {
        print!("{line}");
    }
    let detail = (t.execution.last_error.clone())
        .or_else(|| t.history.last().and_then(|h| h.note.clone()))
        .unwrap_or_else(|| "no reason recorded".into());
    Err(Error::Unsuccessful {
        task_id: t.task_id.clone(),
        status: t.status,
        detail,
    })
}

/// `[########------------]  40 % executing · analyzing data · agent-a ·
/// ETA 12 s`: what changed since the last line is what is shown.
pub(super) fn progress_line(t: &Task, t_now: crate::model::Time) -> String {
    const WIDTH: i64 = 20;
    let pct = t.execution.progress.clamp(0, 100);
    let filled = (pct * WIDTH / 100) as usize;
    let mut s = format!(
        "[{}{}] {pct:>3} % {}",
        "#".repeat(filled),
        "-".repeat(WIDTH as usize - filled),
        t.status.as_str()
    );
    if let Some(step) = &t.execution.current_step {
        let _ = write!(s, " · {step}");
    }
    if let Some(agent) = &t.assignment.primary_agent {
        let _ = write!(s, " · {agent}");
    }
    if let Some(eta) = t.execution.estimated_completion
        && !t.status.is_terminal()
    {
        let secs = (crate::model::millis_between(t_now, eta) / 1000).max(0);
        let _ = write!(s, " · ETA {secs} s");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_line_shows_the_bar_step_agent_and_eta() {
        let mut t = Task::new(TaskType::Research, Priority::Normal, "t");
        t.status = Status::Executing;
        t.execution.progress = 40;
        t.execution.current_step = Some("analyzing data".into());
        t.assignment.primary_agent = Some("agent-a".into());
        let t_now = now();
        t.execution.estimated_completion =
            Some(crate::model::time_add(t_now, Duration::from_secs(12)));
        assert_eq!(
            progress_line(&t, t_now),
            "[########------------]  40 % executing · analyzing data · agent-a · ETA 12 s"
        );
        t.status = Status::Completed;
        t.execution.progress = 100;
        assert!(
            !progress_line(&t, t_now).contains("ETA"),
            "no ETA once ended"
        );
    }

    #[test]
    fn each_unsuccessful_end_has_its_exit_code() {
        assert_eq!(exit_code(Status::Failed), 8);
        assert_eq!(exit_code(Status::Cancelled), 9);
        assert_eq!(exit_code(Status::Skipped), 10);
    }
}
