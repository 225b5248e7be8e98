//! `vayu github ci`: the handler of `ci` tasks. It fires the workflow's
//! `workflow_dispatch`, finds the run that made, waits for its
//! conclusion with growing polls, and reports on stdout in the handler
//! protocol (`vayu_core::protocol`): progress while it waits, the run's
//! page as the artifact `run`, the conclusion as the result, and exit 0
//! only for a successful conclusion (`vayu_core::github::run_outcome`).
//!
//! The dispatch answers with no run id, so the run is found by listing
//! the workflow's `workflow_dispatch` runs on the ref created since just
//! before the dispatch. With `--task-input`, the task id is also sent as
//! the input `vayu_task` and the run must show it in its title (the
//! workflow's `run-name`), so runs of two tasks at once are told apart.

use super::{Error, GitHub, Result};
use reqwest::Method;
use serde::Deserialize;
use serde_json::{Value, json};
use std::io::Write;
use std::time::Duration;

/// What to dispatch: the handler's flags, overridden field by field by a
/// task input that is a JSON object of the same names.
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct Spec {
    pub repo: String,
    /// The workflow's file name (`ci.yml`) or id.
    pub workflow: String,
    #[serde(rename = "ref")]
    pub git_ref: String,
    #[serde(default)]
    pub inputs: serde_json::Map<String, Value>,
}

impl Spec {
    /// `self` with the fields `input` sets, when it is a JSON object.
    pub fn with_input(mut self, input: &str) -> Result<Spec> {
        let Ok(Value::Object(o)) = serde_json::from_str::<Value>(input) else {
            return Ok(self);
        };
        let text = |k: &str| o.get(k).and_then(Value::as_str).map(str::to_string);
        self.repo = text("repo").unwrap_or(self.repo);
        self.workflow = text("workflow").unwrap_or(self.workflow);
        self.git_ref = text("ref").unwrap_or(self.git_ref);
        if let Some(Value::Object(i)) = o.get("inputs") {
            self.inputs = i.clone();
        }
        if self.repo.is_empty() || self.workflow.is_empty() || self.git_ref.is_empty() {
            return Err(Error::Config(
                "a ci task needs repo, workflow and ref (flags or input)".into(),
            ));
        }
        super::parse_repo(&self.repo).map_err(Error::Config)?;
        Ok(self)
    }
}

/// How often to look: the first poll's wait, growing by half to `max`.
#[derive(Debug, Clone, Copy)]
pub struct Polling {
    pub first: Duration,
    pub max: Duration,
    /// How long to look for the run before giving up.
    pub find_for: Duration,
}

/// Dispatches `spec` for task `task_id`, waits for the run, and reports
/// on `out`; the run's conclusion.
pub async fn run(
    gh: &GitHub,
    spec: &Spec,
    task_id: &str,
    task_input: bool,
    poll: Polling,
    out: &mut impl Write,
) -> Result<String> {
    let repo = &spec.repo;
    let wf = &spec.workflow;
    let mut inputs = spec.inputs.clone();
    if task_input {
        inputs.insert("vayu_task".into(), Value::String(task_id.into()));
    }
    // A little before now: GitHub's clock and ours differ, and `created`
    // has whole seconds.
    let since = jiff::Timestamp::now() - jiff::SignedDuration::from_secs(30);
    let body = json!({ "ref": spec.git_ref, "inputs": inputs });
    let path = format!("/repos/{repo}/actions/workflows/{wf}/dispatches");
    gh.send(Method::POST, &path, Some(&body)).await?;
    say(
        out,
        &format!("vayu:progress 5 dispatched {wf} on {}", spec.git_ref),
    );
    let run = find_run(gh, spec, since, task_input.then_some(task_id), poll).await?;
    let id = run.get("id").and_then(Value::as_u64).unwrap_or(0);
    if let Some(url) = run.get("html_url").and_then(Value::as_str) {
        say(out, &format!("vayu:artifact run {url}"));
    }
    let mut wait = poll.first;
    let mut last = String::new();
    loop {
        let r = gh
            .rest(
                Method::GET,
                &format!("/repos/{repo}/actions/runs/{id}"),
                None,
            )
            .await?;
        let status = r.get("status").and_then(Value::as_str).unwrap_or("");
        if status == "completed" {
            let c = r
                .get("conclusion")
                .and_then(Value::as_str)
                .unwrap_or("unknown");
            say(out, &format!("vayu:result {wf} run {id}: {c}"));
            return Ok(c.to_string());
        }
        if status != last {
            let pct = if status == "in_progress" { 50 } else { 20 };
            say(out, &format!("vayu:progress {pct} run {id} {status}"));
            last = status.to_string();
        }
        tokio::time::sleep(wait).await;
        wait = (wait * 3 / 2).min(poll.max);
    }
}

/// The run the dispatch made: the newest matching one, looked for until
/// `find_for` has passed.
async fn find_run(
    gh: &GitHub,
    spec: &Spec,
    since: jiff::Timestamp,
    title: Option<&str>,
    poll: Polling,
) -> Result<Value> {
    let path = format!(
        "/repos/{}/actions/workflows/{}/runs?event=workflow_dispatch&branch={}&created=%3E%3D{}&per_page=20",
        spec.repo,
        spec.workflow,
        spec.git_ref,
        since.strftime("%Y-%m-%dT%H:%M:%SZ")
    );
    let started = std::time::Instant::now();
    let mut wait = poll.first;
    loop {
        let page = gh.rest(Method::GET, &path, None).await?;
        let runs = page
            .get("workflow_runs")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let found = runs.into_iter().find(|r| {
            title.is_none_or(|t| {
                r.get("display_title")
                    .and_then(Value::as_str)
                    .is_some_and(|d| d.contains(t))
            })
        });
        if let Some(r) = found {
            return Ok(r);
        }
        if started.elapsed() + wait > poll.find_for {
            return Err(Error::GitHub(format!(
                "no run of {} appeared within {}s of its dispatch",
                spec.workflow,
                poll.find_for.as_secs()
            )));
        }
        tokio::time::sleep(wait).await;
        wait = (wait * 3 / 2).min(poll.max);
    }
}

/// One protocol line, flushed: the agent reads it as it comes.
fn say(out: &mut impl Write, line: &str) {
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> Spec {
        Spec {
            repo: "o/r".into(),
            workflow: "ci.yml".into(),
            git_ref: "main".into(),
            inputs: Default::default(),
        }
    }

    #[test]
    fn a_json_input_overrides_the_flags() {
        let s = spec()
            .with_input(r#"{"ref": "release", "inputs": {"suite": "full"}}"#)
            .expect("valid");
        assert_eq!(s.git_ref, "release");
        assert_eq!(s.workflow, "ci.yml", "kept");
        assert_eq!(s.inputs.get("suite"), Some(&json!("full")));
        assert_eq!(spec().with_input("run it").expect("text"), spec());
        assert!(spec().with_input(r#"{"repo": "nope"}"#).is_err());
    }
}
