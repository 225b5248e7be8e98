//! `vayu github`: sync issues and tasks, and the `ci` tasks' handler.

use super::*;
use crate::github::{self, GitHub, dispatch, sync};
use std::time::Duration;

#[derive(Subcommand, Debug)]
pub enum GithubCmd {
    /// One pass making issues and tasks agree: labelled issues become
    /// tasks, each task's one comment shows its state, Projects Status
    /// follows it, completion closes the issue. Safe to run twice and on
    /// many machines at once; `--every` repeats it.
    Sync(SyncArgs),
    /// The handler of `ci` tasks (`vayu-agent --handler "vayu github ci
    /// ..."`): dispatch a workflow, wait for its run, exit 0 only when it
    /// succeeded. Reads the task as JSON on stdin.
    Ci(CiArgs),
}

#[derive(Args, Debug)]
pub struct SyncArgs {
    /// The repository: owner/name.
    #[arg(long)]
    pub repo: String,
    /// Issues with this label become tasks.
    #[arg(long, default_value = "vayu")]
    pub label: String,
    /// Close an issue when its task completes.
    #[arg(long)]
    pub close_on_complete: bool,
    /// A Projects (v2) number whose Status follows each task's state.
    #[arg(long)]
    pub project: Option<u64>,
    /// A discussion category completed research tasks' reports go to.
    #[arg(long)]
    pub discussions: Option<String>,
    /// Read and say what would change; write nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Repeat the pass this often (90s, 5m), until stopped.
    #[arg(long)]
    pub every: Option<String>,
}

#[derive(Args, Debug)]
pub struct CiArgs {
    /// owner/name; a JSON task input's `repo` wins.
    #[arg(long, default_value = "")]
    pub repo: String,
    /// The workflow file (ci.yml) or id; the input's `workflow` wins.
    #[arg(long, default_value = "")]
    pub workflow: String,
    /// The branch or tag; the input's `ref` wins.
    #[arg(long = "ref", default_value = "main")]
    pub git_ref: String,
    /// Send the task id as the input `vayu_task`, and find the run by it
    /// in its title (the workflow's `run-name`).
    #[arg(long)]
    pub task_input: bool,
    /// Seconds before the first poll; later polls wait half as long
    /// again, up to a minute.
    #[arg(long, default_value_t = 10.0)]
    pub poll_secs: f64,
    /// Seconds to look for the dispatched run before failing.
    #[arg(long, default_value_t = 300.0)]
    pub find_for_secs: f64,
}

/// `vayu github ci`: needs no Firestore (the agent reports for it).
pub(super) async fn ci(a: CiArgs) -> Result<String, Error> {
    let mut stdin = String::new();
    std::io::Read::read_to_string(&mut std::io::stdin(), &mut stdin)?;
    let task: serde_json::Value = serde_json::from_str(&stdin).unwrap_or_default();
    let field = |k: &str| {
        task.get(k)
            .and_then(|v| v.as_str())
            .unwrap_or("")
            .to_string()
    };
    let task_id = std::env::var("VAYU_TASK_ID").unwrap_or_else(|_| field("task_id"));
    let spec = dispatch::Spec {
        repo: a.repo,
        workflow: a.workflow,
        git_ref: a.git_ref,
        inputs: Default::default(),
    }
    .with_input(&field("input"))?;
    let secs = |s: f64| Duration::from_secs_f64(s.clamp(0.01, 3600.0));
    let poll = dispatch::Polling {
        first: secs(a.poll_secs),
        max: secs(a.poll_secs.max(60.0)),
        find_for: secs(a.find_for_secs),
    };
    let gh = GitHub::from_env()?;
    let mut out = std::io::stdout();
    let c = dispatch::run(&gh, &spec, &task_id, a.task_input, poll, &mut out).await?;
    github::run_outcome(&c).map_err(Error::GitHub)?;
    Ok(String::new())
}

pub(super) async fn run(
    store: &Store,
    cmd: GithubCmd,
    json: bool,
    requester: Option<String>,
) -> Result<String, Error> {
    let GithubCmd::Sync(a) = cmd else {
        unreachable!("`github ci` runs before a store is connected")
    };
    let every = match &a.every {
        Some(e) => Some(crate::time::parse_delay(e).map_err(Error::Config)?),
        None => None,
    };
    let opts = sync::Options {
        repo: a.repo,
        label: a.label,
        close_on_complete: a.close_on_complete,
        project: a.project,
        discussions: a.discussions,
        dry_run: a.dry_run,
        requester,
        as_agent: false,
    };
    let gh = GitHub::from_env()?;
    let Some(every) = every else {
        return Ok(render(&sync::run(&gh, store, &opts).await?, json));
    };
    sync::repeat(&gh, store, &opts, every, |r| match r {
        Ok(r) => print!("{}", render(&r, json)),
        Err(e) => eprintln!("sync of {} failed: {e}", opts.repo),
    })
    .await;
    unreachable!("`repeat` runs until the process ends")
}

fn render(r: &sync::Report, json: bool) -> String {
    if json {
        return to_json(r);
    }
    let would = if r.dry_run {
        " (dry run: nothing written)"
    } else {
        ""
    };
    let mut s = format!(
        "{} issues: {} tasks created, {} comments posted, {} edited, {} deleted, {} statuses set, {} closed, {} discussions{would}\n",
        r.issues,
        r.created.len(),
        r.comments_posted,
        r.comments_edited,
        r.comments_deleted,
        r.statuses_set,
        r.closed.len(),
        r.discussions.len()
    );
    for (n, id) in &r.created {
        let _ = writeln!(s, "  #{n} -> {id}");
    }
    s
}
