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
    #[arg(long, value_parser = repo_arg)]
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
    /// Repeat the pass this often (90s, 5m; at least 30s, as
    /// `vayu-agent --github-sync-every-secs`), until stopped.
    #[arg(long, value_parser = every_arg)]
    pub every: Option<Duration>,
}

/// `--repo owner/name`: a bad one is a usage error (exit 2), refused
/// before anything is read or written.
pub(super) fn repo_arg(s: &str) -> Result<String, String> {
    github::parse_repo(s).map(|_| s.to_string())
}

/// `--every`: a pass more often than [`sync::MIN_EVERY`] would spend
/// GitHub's rate limit for nothing; refused as a usage error (exit 2).
fn every_arg(s: &str) -> Result<Duration, String> {
    let d = crate::time::parse_delay(s)?;
    if d < sync::MIN_EVERY {
        return Err(format!(
            "--every is at least {}s, not {s}",
            sync::MIN_EVERY.as_secs()
        ));
    }
    Ok(d)
}

/// A `vayu github sync` whose configuration has been read: the client
/// (its token) and the pass, before Firestore is reached.
pub(super) struct Prepared {
    gh: GitHub,
    opts: sync::Options,
    every: Option<Duration>,
}

/// Reads the GitHub credentials and builds the pass. Called before the
/// store connects, so missing credentials are exit 64 (bad
/// configuration) with no network, not 69 when Firestore is down too.
pub(super) fn prepare(a: &SyncArgs) -> Result<Prepared, Error> {
    let opts = sync::Options {
        repo: a.repo.clone(),
        label: a.label.clone(),
        close_on_complete: a.close_on_complete,
        project: a.project,
        discussions: a.discussions.clone(),
        dry_run: a.dry_run,
        requester: None,
        as_agent: false,
    };
    Ok(Prepared {
        gh: GitHub::from_env()?,
        opts,
        every: a.every,
    })
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

/// `vayu github sync`, prepared ([`prepare`]) before the store connected.
pub(super) async fn run(
    store: &Store,
    p: Prepared,
    json: bool,
    requester: Option<String>,
) -> Result<String, Error> {
    let Prepared {
        gh,
        mut opts,
        every,
    } = p;
    opts.requester = requester;
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
