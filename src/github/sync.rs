//! `vayu github sync --repo owner/name`: one pass that makes GitHub and
//! the tasks agree.
//!
//! For every issue with the label (open or closed; pull requests are
//! not issues here):
//! 1. an open issue with no task gets one, with the id derived from the
//!    issue (`crate::keys::create_at`): two passes at once, on two
//!    machines, make one task;
//! 2. the task's one comment is made, or edited when its text differs,
//!    and extra marked comments (two passes posting at once) are deleted,
//!    the oldest kept;
//! 3. with `--project N`, the issue's item in project N gets the Status
//!    of the task's state;
//! 4. with `--discussions CATEGORY`, a completed research task's report
//!    is posted there once (`super::discussions`);
//! 5. with `--close-on-complete`, a completed task's open issue is closed.
//!
//! Each step writes only when something differs, so a second pass writes
//! nothing, and any agent or person may run it with no leader.

use super::{GitHub, Issue, Result};
use crate::keys::Keyed;
use crate::model::Task;
use crate::store::Store;
use crate::tasks::NewTask;
use reqwest::Method;
use serde::Serialize;
use serde_json::{Value, json};

/// The shortest period between passes (`vayu github sync --every`,
/// `vayu-agent --github-sync-every-secs`): a pass reads every labelled
/// issue and its comments, and more often would spend GitHub's rate
/// limit for nothing.
pub const MIN_EVERY: std::time::Duration = std::time::Duration::from_secs(30);

/// What a pass is asked to do.
#[derive(Debug, Clone)]
pub struct Options {
    pub repo: String,
    pub label: String,
    pub close_on_complete: bool,
    /// A Projects (v2) number of the repository's owner.
    pub project: Option<u64>,
    /// A discussion category completed research tasks' reports go to.
    pub discussions: Option<String>,
    /// Read and report, write nothing anywhere.
    pub dry_run: bool,
    /// The caller's uid when signed in (the rules want it as requester).
    pub requester: Option<String>,
    /// The caller is an agent (`vayu-agent --github-sync`): its tasks'
    /// requester type is `agent`, as the rules want of an agent.
    pub as_agent: bool,
}

/// What a pass did (or, dry, would do).
#[derive(Debug, Default, Serialize, PartialEq)]
pub struct Report {
    pub issues: usize,
    /// `(issue, task id)` of each task made.
    pub created: Vec<(u64, String)>,
    pub comments_posted: usize,
    pub comments_edited: usize,
    pub comments_deleted: usize,
    pub statuses_set: usize,
    pub closed: Vec<u64>,
    /// The issues whose research report was posted as a discussion.
    pub discussions: Vec<u64>,
    pub dry_run: bool,
}

/// One pass over `opts.repo`.
pub async fn run(gh: &GitHub, store: &Store, opts: &Options) -> Result<Report> {
    super::parse_repo(&opts.repo).map_err(crate::error::Error::Config)?;
    let mut report = Report {
        dry_run: opts.dry_run,
        ..Report::default()
    };
    let path = format!(
        "/repos/{}/issues?labels={}&state=all&per_page=100",
        opts.repo,
        encode(&opts.label)
    );
    for raw in gh.list(&path).await? {
        if raw.get("pull_request").is_some() {
            continue;
        }
        report.issues += 1;
        let (issue, open) = parse_issue(&raw);
        let id = super::issue_task_id(&opts.repo, issue.number);
        let task = match crate::keys::find(store, &id).await? {
            Some(v) => v.value,
            None if !open => continue,
            None if opts.dry_run => {
                report.created.push((issue.number, id));
                continue;
            }
            None => match crate::keys::create_at(store, new_task(&issue, opts), &id).await? {
                Keyed::Created(t) => {
                    report.created.push((issue.number, id));
                    t
                }
                Keyed::Existing(v) => v.value,
            },
        };
        reconcile(gh, opts, &issue, open, &task, &mut report).await?;
    }
    Ok(report)
}

/// The task an issue becomes (`vayu_core::github::map_issue`).
pub fn new_task(issue: &Issue, opts: &Options) -> NewTask {
    let m = super::map_issue(issue, &opts.label);
    let mut new = NewTask::new(m.task_type, m.priority, m.title);
    new.input = m.input;
    new.tags = m.tags;
    new.requester.context = m.context;
    if let Some(uid) = &opts.requester {
        new.requester.id = uid.clone();
    }
    if opts.as_agent {
        new.requester.kind = crate::model::RequesterType::Agent;
    }
    new
}

/// A pass every `every` (give or take a tenth, so agents started together
/// drift apart), until the caller drops the future; each pass's outcome
/// goes to `on_pass`. A failed pass is only reported: the next one tries
/// again.
pub async fn repeat(
    gh: &GitHub,
    store: &Store,
    opts: &Options,
    every: std::time::Duration,
    mut on_pass: impl FnMut(Result<Report>),
) {
    loop {
        on_pass(run(gh, store, opts).await);
        let jitter = rand::random_range(0.9..1.1);
        tokio::time::sleep(every.mul_f64(jitter)).await;
    }
}

/// The fields a sync reads of a REST issue, and whether it is open.
pub fn parse_issue(v: &Value) -> (Issue, bool) {
    let s = |k: &str| v.get(k).and_then(Value::as_str).unwrap_or("").to_string();
    let labels = v
        .get("labels")
        .and_then(Value::as_array)
        .map(|ls| {
            ls.iter()
                .filter_map(|l| l.get("name").and_then(Value::as_str).map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    let issue = Issue {
        number: v.get("number").and_then(Value::as_u64).unwrap_or(0),
        title: s("title"),
        body: s("body"),
        labels,
        milestone: v
            .pointer("/milestone/title")
            .and_then(Value::as_str)
            .map(str::to_string),
        html_url: s("html_url"),
    };
    (issue, s("state") == "open")
}

/// Steps 2-5 for one issue and its task.
async fn reconcile(
    gh: &GitHub,
    opts: &Options,
    issue: &Issue,
    open: bool,
    task: &Task,
    report: &mut Report,
) -> Result<()> {
    let repo = &opts.repo;
    let n = issue.number;
    let comments = gh
        .list(&format!("/repos/{repo}/issues/{n}/comments?per_page=100"))
        .await?;
    let mut ours: Vec<(u64, String)> = comments
        .iter()
        .filter_map(|c| {
            let body = c.get("body").and_then(Value::as_str)?;
            let cid = c.get("id").and_then(Value::as_u64)?;
            (super::marked_task(body) == Some(task.task_id.as_str())).then(|| (cid, body.into()))
        })
        .collect();
    ours.sort();
    let want = super::comment_body(task);
    let write = !opts.dry_run;
    match ours.first() {
        None => {
            report.comments_posted += 1;
            if write {
                let path = format!("/repos/{repo}/issues/{n}/comments");
                gh.rest(Method::POST, &path, Some(&json!({ "body": want })))
                    .await?;
            }
        }
        Some((cid, body)) if *body != want => {
            report.comments_edited += 1;
            if write {
                let path = format!("/repos/{repo}/issues/comments/{cid}");
                gh.rest(Method::PATCH, &path, Some(&json!({ "body": want })))
                    .await?;
            }
        }
        Some(_) => {}
    }
    for (cid, _) in ours.iter().skip(1) {
        report.comments_deleted += 1;
        if write {
            let path = format!("/repos/{repo}/issues/comments/{cid}");
            gh.send(Method::DELETE, &path, None).await?;
        }
    }
    if let Some(number) = opts.project {
        let status = super::project_status(task.status);
        if super::projects::set_status(gh, repo, n, number, status, opts.dry_run).await? {
            report.statuses_set += 1;
        }
    }
    if let Some(c) = &opts.discussions
        && super::discussions::post_report(gh, repo, c, task, opts.dry_run)
            .await?
            .is_some()
    {
        report.discussions.push(n);
    }
    if opts.close_on_complete && open && super::closes_issue(task.status) {
        report.closed.push(n);
        if write {
            let body = json!({ "state": "closed", "state_reason": "completed" });
            let path = format!("/repos/{repo}/issues/{n}");
            gh.rest(Method::PATCH, &path, Some(&body)).await?;
        }
    }
    Ok(())
}

/// A label as a query parameter value (labels may hold spaces, `:`, `&`).
fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn labels_are_encoded_for_the_query() {
        assert_eq!(super::encode("vayu"), "vayu");
        assert_eq!(
            super::encode("good first:issue&x"),
            "good%20first%3Aissue%26x"
        );
    }
}
