//! GitHub integration, the pure part: which task an issue becomes, what
//! the one comment a task keeps on its issue says, which Projects Status a
//! task's state sets, and what a workflow run's conclusion means.
//!
//! Everything here is a function of its arguments, so a second sync pass
//! computes the very same task, comment and status as the first, and
//! writes nothing (`vayu::github::sync`).
//!
//! The label mapping (README, "GitHub"):
//!
//! | issue | task |
//! |---|---|
//! | title | title (cut to 500 characters) |
//! | body | input (cut to 64 KiB) |
//! | label `type:research` (any task type) | type (default `user_request`) |
//! | label `priority:high` (critical, high, normal, low) | priority (default `normal`) |
//! | the sync label itself | nothing |
//! | any other label `bug` | tag `gh:bug` |
//! | milestone `v1.2` | tag `milestone:v1.2` |
//! | its URL | `requester.context` |

use crate::lifecycle::Status;
use crate::model::{Priority, Task, TaskType};

/// The hidden first line of the one comment a task keeps on its issue:
/// how a sync finds that comment again (and the issue's task) with no
/// state of its own.
pub fn marker(task_id: &str) -> String {
    format!("<!-- vayu:task={task_id} -->")
}

/// The task id a marked comment names, if `body` is such a comment.
pub fn marked_task(body: &str) -> Option<&str> {
    let rest = body.trim_start().strip_prefix("<!-- vayu:task=")?;
    let (id, _) = rest.split_once(" -->")?;
    crate::schema::is_task_id(id).then_some(id)
}

/// `owner/name`, checked: GitHub's own character set for both parts.
pub fn parse_repo(s: &str) -> Result<(String, String), String> {
    let ok = |p: &str| {
        !p.is_empty()
            && p.len() <= 100
            && p.chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
    };
    match s.split_once('/') {
        Some((o, n)) if ok(o) && ok(n) => Ok((o.to_string(), n.to_string())),
        _ => Err(format!("--repo must be owner/name, not {s:?}")),
    }
}

/// The idempotency key of an issue's task (`vayu::keys::task_id` of the
/// requester [`KEY_SCOPE`]): the same on every machine and for every
/// caller, so two syncs anywhere name one task.
pub fn issue_key(repo: &str, number: u64) -> String {
    format!("github:{repo}#{number}")
}

/// The requester scope of [`issue_key`]: fixed, not the caller's uid, so
/// that a person's sync, an agent's and `task create --github` agree.
pub const KEY_SCOPE: &str = "github";

/// What a sync reads of an issue.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Issue {
    pub number: u64,
    pub title: String,
    pub body: String,
    pub labels: Vec<String>,
    pub milestone: Option<String>,
    pub html_url: String,
}

/// What an issue's task is to be.
#[derive(Debug, Clone, PartialEq)]
pub struct Mapped {
    pub task_type: TaskType,
    pub priority: Priority,
    pub title: String,
    pub input: String,
    pub tags: Vec<String>,
    pub context: String,
}

/// The issue's task, by the mapping above. Tags that would not be valid
/// tags are dropped (characters outside the tag set become `-`), and at
/// most 20 are kept, the rules' limit.
pub fn map_issue(issue: &Issue, sync_label: &str) -> Mapped {
    let mut task_type = TaskType::UserRequest;
    let mut priority = Priority::Normal;
    let mut tags = Vec::new();
    for l in &issue.labels {
        if let Some(t) = l.strip_prefix("type:").and_then(|t| t.parse().ok()) {
            task_type = t;
        } else if let Some(p) = l.strip_prefix("priority:").and_then(|p| p.parse().ok()) {
            priority = p;
        } else if l != sync_label {
            tags.push(tag(&format!("gh:{l}")));
        }
    }
    if let Some(m) = &issue.milestone {
        tags.push(tag(&format!("milestone:{m}")));
    }
    tags.retain(|t| crate::schema::is_tag(t));
    tags.dedup();
    tags.truncate(20);
    let title = if issue.title.trim().is_empty() {
        format!("issue #{}", issue.number)
    } else {
        cut(&issue.title, 500)
    };
    Mapped {
        task_type,
        priority,
        title,
        input: cut(&issue.body, 65536),
        tags,
        context: issue.html_url.clone(),
    }
}

/// A tag made of `s`: outside characters become `-`, cut to 64.
fn tag(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || " _.:/+#@-".contains(c) {
                c
            } else {
                '-'
            }
        })
        .take(64)
        .collect()
}

/// The first `max` bytes of `s`, on a character boundary.
fn cut(s: &str, max: usize) -> String {
    let mut end = s.len().min(max);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].to_string()
}

/// The body of a task's one comment on its issue. Only the task's state
/// is in it (no times, no counters), so an unchanged task renders the
/// same text and a sync does not edit the comment.
pub fn comment_body(t: &Task) -> String {
    let mut s = marker(&t.task_id);
    s.push_str(&format!(
        "\n**vayu** task `{}` is **{}**",
        t.task_id, t.status
    ));
    let e = &t.execution;
    if !t.status.is_terminal() && e.progress > 0 {
        s.push_str(&format!(" ({}%", e.progress));
        if let Some(step) = &e.current_step {
            s.push_str(&format!(": {}", one_line(step)));
        }
        s.push(')');
    }
    s.push('\n');
    if let Some(r) = &e.result {
        s.push_str(&format!("\n**Result:** {}\n", one_line(r)));
    }
    if t.status == Status::Failed
        && let Some(err) = &e.last_error
    {
        s.push_str(&format!("\n**Error:** {}\n", one_line(err)));
    }
    if !e.artifacts.is_empty() {
        s.push_str("\n**Artifacts:**\n");
        for a in &e.artifacts {
            s.push_str(&format!("- {}: {}\n", one_line(&a.name), one_line(&a.uri)));
        }
    }
    s
}

/// `s` on one line and short, so a handler's text cannot forge another
/// comment's marker or grow the comment without bound.
fn one_line(s: &str) -> String {
    let flat: String = s
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    cut(&flat.replace("<!--", "<!- -"), 1000)
}

/// The Projects (v2) Status option a task's state sets: the names of a new
/// project's default Status field.
pub fn project_status(s: Status) -> &'static str {
    match s {
        Status::Created | Status::Queued | Status::Blocked | Status::Paused => "Todo",
        Status::Assigned | Status::Executing | Status::Reviewing | Status::Rejected => {
            "In Progress"
        }
        Status::Completed | Status::Failed | Status::Cancelled | Status::Skipped => "Done",
    }
}

/// Whether an ended task closes its issue (with `--close-on-complete`):
/// only a completed one; a failed task's issue stays open for a person.
pub fn closes_issue(s: Status) -> bool {
    s == Status::Completed
}

/// What a finished workflow run's conclusion means for its `ci` task:
/// `Ok` completes it, `Err` fails it with the reason.
pub fn run_outcome(conclusion: &str) -> Result<(), String> {
    match conclusion {
        "success" | "neutral" | "skipped" => Ok(()),
        other => Err(format!("the workflow run's conclusion is {other}")),
    }
}

#[cfg(test)]
#[path = "github_tests.rs"]
mod tests;

/// What a refused request asks of its caller, from GitHub's documented
/// rate-limit answers (REST "Rate limits", "Exceeding the rate limit").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wait {
    /// Not a limit: the refusal is the answer.
    No,
    /// Wait this many seconds (`retry-after`, or until
    /// `x-ratelimit-reset` when `x-ratelimit-remaining` is 0).
    Secs(u64),
    /// A limit that says not how long (a secondary limit without
    /// `retry-after`, or a 502-504): back off, jittered and growing.
    Backoff,
}

/// How long to wait before sending a refused request again. `status` is
/// the HTTP status, the headers are as received, `now` is Unix seconds,
/// and `limited_text` says the body mentions a rate limit (GitHub answers
/// a secondary limit with 403 and such a message).
pub fn rate_limit_wait(
    status: u16,
    retry_after: Option<&str>,
    remaining: Option<&str>,
    reset: Option<&str>,
    now: i64,
    limited_text: bool,
) -> Wait {
    if matches!(status, 502..=504) {
        return Wait::Backoff;
    }
    if !matches!(status, 403 | 429) {
        return Wait::No;
    }
    if let Some(s) = retry_after.and_then(|v| v.trim().parse::<u64>().ok()) {
        return Wait::Secs(s);
    }
    if remaining.map(str::trim) == Some("0")
        && let Some(r) = reset.and_then(|v| v.trim().parse::<i64>().ok())
    {
        // At least a second: the reset time is rounded down.
        return Wait::Secs(r.saturating_sub(now).max(1) as u64);
    }
    if status == 429 || limited_text {
        Wait::Backoff
    } else {
        Wait::No
    }
}
