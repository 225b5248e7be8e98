//! How tasks and agents are shown to people: the tables and the detail
//! views of `vayu task` and `vayu agent`, shared by the CLI and `vayu
//! demo` (which is a client of the library, not of the CLI).

use crate::model::{AgentDoc, AgentState, Task, Time, millis_between, now};
use crate::store::Versioned;
use std::fmt::Write as _;

/// An agent whose last beat is older than 30 s, or than two of its own
/// intervals when it beats more slowly (the rules' `isMarkOffline`), is
/// offline, whatever its document last said: a killed agent cannot say so.
pub fn effective_state(a: &AgentDoc, t_now: Time) -> AgentState {
    let patience = (2 * a.heartbeat_ms).max(30_000);
    match a.last_heartbeat {
        Some(hb) if millis_between(hb, t_now) <= patience => {
            a.status.unwrap_or(AgentState::Offline)
        }
        _ => AgentState::Offline,
    }
}

pub fn age(t: Option<Time>, t_now: Time) -> String {
    match t {
        None => "-".into(),
        Some(t) => {
            let s = millis_between(t, t_now) / 1000;
            match s {
                s if s < 0 => "0s".into(),
                s if s < 120 => format!("{s}s"),
                s if s < 7200 => format!("{}m", s / 60),
                s => format!("{}h", s / 3600),
            }
        }
    }
}

/// A plain text table: columns as wide as their widest cell.
pub fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            widths[i] = widths[i].max(c.chars().count());
        }
    }
    let mut out = String::new();
    let line = |cells: Vec<String>, out: &mut String| {
        let n = cells.len();
        for (i, c) in cells.into_iter().enumerate() {
            if i + 1 == n {
                out.push_str(&c);
            } else {
                let pad = widths[i] - c.chars().count();
                out.push_str(&c);
                out.push_str(&" ".repeat(pad + 2));
            }
        }
        out.push('\n');
    };
    line(header.iter().map(|s| s.to_string()).collect(), &mut out);
    for r in rows {
        line(r.clone(), &mut out);
    }
    out
}

pub fn render_task_table(tasks: &[Versioned<Task>]) -> String {
    render_task_table_waiting(tasks, &[])
}

/// The task table, each title followed by why the task waits, if it does
/// (`waiting[i]` for `tasks[i]`).
pub fn render_task_table_waiting(tasks: &[Versioned<Task>], waiting: &[Option<String>]) -> String {
    if tasks.is_empty() {
        return "no tasks\n".into();
    }
    let t_now = now();
    let rows: Vec<Vec<String>> = tasks
        .iter()
        .enumerate()
        .map(|(i, v)| {
            let t = &v.value;
            let title = match waiting.get(i).and_then(Option::as_deref) {
                Some(w) => format!("{}  [waiting: {w}]", truncate_title(&t.title)),
                None => truncate_title(&t.title),
            };
            vec![
                t.task_id.clone(),
                t.status.to_string(),
                t.priority.to_string(),
                t.task_type.to_string(),
                format!("{}%", t.execution.progress),
                t.lease
                    .owner
                    .clone()
                    .or(t.assignment.primary_agent.clone())
                    .unwrap_or_else(|| "-".into()),
                age(t.created_at, t_now),
                title,
            ]
        })
        .collect();
    table(
        &[
            "ID", "STATUS", "PRIORITY", "TYPE", "PROGRESS", "AGENT", "AGE", "TITLE",
        ],
        &rows,
    )
}

fn truncate_title(s: &str) -> String {
    if s.chars().count() > 50 {
        format!("{}…", s.chars().take(49).collect::<String>())
    } else {
        s.to_string()
    }
}

pub fn render_agent_table(agents: &[AgentDoc], t_now: Time) -> String {
    if agents.is_empty() {
        return "no agents\n".into();
    }
    let rows: Vec<Vec<String>> = agents
        .iter()
        .map(|a| {
            vec![
                a.agent_id.clone(),
                match (effective_state(a, t_now), &a.drain) {
                    (AgentState::Offline, _) => AgentState::Offline.to_string(),
                    (state, Some(_)) => format!("{state}, draining"),
                    (state, None) => state.to_string(),
                },
                format!("{}/{}", a.current_tasks.len(), a.concurrency),
                format!("{:.1}%", a.cpu_usage),
                format!("{:.1}%", a.memory_usage),
                format!("{:.1}", a.rss_mb),
                age(a.last_heartbeat, t_now),
                if a.capabilities.is_empty() {
                    "-".into()
                } else {
                    a.capabilities.join(",")
                },
                a.handles.join(","),
            ]
        })
        .collect();
    table(
        &[
            "AGENT",
            "STATUS",
            "TASKS",
            "CPU",
            "MEM",
            "RSS_MB",
            "HEARTBEAT",
            "CAPABILITIES",
            "HANDLES",
        ],
        &rows,
    )
}

pub fn render_task(v: &Versioned<Task>) -> String {
    let t = &v.value;
    let t_now = now();
    let mut s = String::new();
    let _ = writeln!(s, "task      {}", t.task_id);
    let _ = writeln!(s, "title     {}", t.title);
    let _ = writeln!(s, "status    {} (in {})", t.status, v.pile.doc(&t.task_id));
    let _ = writeln!(
        s,
        "type      {}   priority {}   complexity {}",
        t.task_type, t.priority, t.metadata.complexity
    );
    let _ = writeln!(s, "requester {} {}", t.requester.kind, t.requester.id);
    let _ = writeln!(s, "created   {} ago", age(t.created_at, t_now));
    if let Some(owner) = &t.lease.owner {
        let _ = writeln!(
            s,
            "agent     {} (epoch {}, lease {})",
            owner,
            t.lease.epoch,
            t.lease
                .expires_at
                .map(|e| format!("until {e}"))
                .unwrap_or_else(|| "released".into())
        );
    }
    let _ = writeln!(
        s,
        "progress  {}%{}",
        t.execution.progress,
        t.execution
            .current_step
            .as_ref()
            .map(|c| format!(" — {c}"))
            .unwrap_or_default()
    );
    // Only while it runs: a finished task's estimate is history.
    if let Some(eta) = t
        .execution
        .estimated_completion
        .filter(|_| t.status.is_leased())
    {
        let _ = writeln!(s, "eta       {eta}");
    }
    let a = &t.assignment;
    if a.auction {
        let until = a.auction_until.map(|u| u.to_string()).unwrap_or_default();
        let bids = (a.bids.iter())
            .map(|(id, b)| format!("{id} {:.2}", b.score))
            .collect::<Vec<_>>()
            .join(", ");
        let won = a
            .pushed_to
            .as_deref()
            .filter(|w| *w != crate::assign::auction::NOBODY)
            .map(|w| format!("; won by {w}"))
            .unwrap_or_default();
        let _ = writeln!(
            s,
            "auction   until {until}; bids: {}{won}",
            if bids.is_empty() { "none" } else { &bids }
        );
    }
    let _ = writeln!(
        s,
        "attempt   {} (retries {}/{})",
        t.execution.attempt, t.metadata.retry_count, t.metadata.max_retries
    );
    if !t.requires.is_empty() {
        let _ = writeln!(s, "requires  {}", t.requires.join(", "));
    }
    if let Some(r) = &t.execution.result {
        let _ = writeln!(s, "result    {r}");
    }
    if let Some(e) = &t.execution.last_error {
        let _ = writeln!(s, "error     {e}");
    }
    if let Some(c) = &t.control {
        let _ = writeln!(s, "requested {c}");
    }
    for a in &t.execution.artifacts {
        let _ = writeln!(s, "artifact  {} {}", a.name, a.uri);
    }
    if let Some(c) = t.last_checkpoint() {
        let _ = writeln!(s, "checkpoint {}", c.data);
    }
    if !t.history.is_empty() {
        let _ = writeln!(s, "history");
        for h in &t.history {
            let _ = writeln!(
                s,
                "  {}  {:<10} {}{}",
                h.at.map(|a| a.to_string()).unwrap_or_default(),
                h.status.map(|s| s.to_string()).unwrap_or_default(),
                h.agent.clone().unwrap_or_default(),
                h.note
                    .as_ref()
                    .map(|n| format!("  {n}"))
                    .unwrap_or_default()
            );
        }
    }
    if !t.execution.logs.is_empty() {
        let _ = writeln!(
            s,
            "log (last {} of {} lines)",
            t.execution.logs.len(),
            t.execution.log_lines
        );
        for l in &t.execution.logs {
            let _ = writeln!(s, "  {l}");
        }
    }
    s
}

/// The review part of `vayu task status`: the policy, the round, what was
/// decided, and every verdict of every round with its scores.
pub fn render_reviews(t: &Task, verdicts: &[crate::review::VerdictRecord]) -> String {
    let policy = crate::review::policy_of(t);
    if policy.is_none() && t.review == Default::default() {
        return String::new();
    }
    let r = &t.review;
    let mut s = String::new();
    let _ = write!(s, "review    {policy}, round {}", r.round);
    if let Some(st) = r.status {
        let _ = write!(s, ", {st}");
    }
    if let Some(q) = r.quality_score {
        let _ = write!(s, ", quality score {q:.2}");
    }
    s.push('\n');
    if let Some(f) = r.feedback.as_deref().filter(|f| !f.is_empty()) {
        let _ = writeln!(s, "feedback  {f}");
    }
    for v in verdicts {
        let scores: Vec<String> = (v.scores.0.iter())
            .map(|(c, n)| format!("{c}={n}"))
            .collect();
        let _ = writeln!(
            s,
            "verdict   round {} {} by {}: {}{}{}",
            v.round,
            v.kind,
            v.reviewer,
            v.verdict.as_str(),
            if scores.is_empty() {
                String::new()
            } else {
                format!(" ({})", scores.join(", "))
            },
            if v.comment.is_empty() {
                String::new()
            } else {
                format!(" — {}", v.comment)
            },
        );
    }
    s
}
