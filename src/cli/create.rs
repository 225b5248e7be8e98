//! `vayu task create`: its flags, and turning them into a new task (start
//! time, push or auction, project defaults, review policy, dependencies,
//! an estimate from history), then printing its id or waiting for it.

use super::*;

#[derive(Args, Debug)]
pub struct CreateArgs {
    /// What the task is about.
    pub title: String,
    #[arg(long = "type", value_parser = parse_enum::<TaskType>, default_value_t = TaskType::UserRequest)]
    pub task_type: TaskType,
    #[arg(long, value_parser = parse_enum::<Priority>, default_value_t = Priority::Normal)]
    pub priority: Priority,
    /// Capabilities an agent needs to claim it.
    #[arg(long, value_delimiter = ',')]
    pub requires: Vec<String>,
    #[arg(long = "tag", value_delimiter = ',')]
    pub tags: Vec<String>,
    /// Input for the handler (text or JSON).
    #[arg(long, default_value = "")]
    pub input: String,
    #[arg(long)]
    pub max_retries: Option<i64>,
    /// Seconds one attempt may run.
    #[arg(long)]
    pub timeout: Option<i64>,
    /// Estimated minutes. Without it, the mean duration of the capable
    /// agents' history for the type, if they have any (README,
    /// "Assignment").
    #[arg(long)]
    pub estimate: Option<f64>,
    #[arg(long, value_parser = parse_enum::<Complexity>)]
    pub complexity: Option<Complexity>,
    /// Free text about the request.
    #[arg(long, default_value = "")]
    pub context: String,
    /// Reviews it needs before it completes: none, or self, peer, user,
    /// tests joined with + (peer+user). Default: the project's defaults
    /// for its type and priority (config/review), else none.
    #[arg(long, value_parser = parse_enum::<crate::review::ReviewPolicy>)]
    pub review: Option<crate::review::ReviewPolicy>,
    /// Who reworks rejected work: other (another agent, the default) or
    /// same.
    #[arg(long, value_parser = parse_enum::<crate::model::Rework>)]
    pub rework: Option<crate::model::Rework>,
    /// Rework rounds before a rejection fails the task (0-10, default 2).
    #[arg(long, value_parser = clap::value_parser!(i64).range(0..=10))]
    pub review_rounds: Option<i64>,
    /// Tasks this one waits for (ids, comma-separated, at most 50): it
    /// starts blocked and is queued when they have completed.
    #[arg(long, value_delimiter = ',')]
    pub after: Vec<String>,
    /// When a dependency fails or is cancelled: cancel this task (the
    /// default) or run it anyway once every dependency has ended.
    #[arg(long, value_parser = parse_enum::<crate::graph::OnDepFailure>, requires = "after")]
    pub on_dep_failure: Option<crate::graph::OnDepFailure>,
    /// Run only if this holds once the dependencies have ended, else end
    /// as skipped: `A.result.status == "ok"`, with ==, !=, <, <=, >, >=,
    /// in, exists, and, or, not (README, "Conditions"). A dependency is
    /// named by its id.
    #[arg(long = "if", value_name = "CONDITION", requires = "after")]
    pub condition: Option<String>,
    /// Permits of a resource to hold while running, NAME[:PERMITS] (1 by
    /// default): `--resource gpu:1`. The resource must exist (`vayu
    /// resource set gpu 2`); the task waits while its permits are taken.
    #[arg(long, value_parser = parse_enum::<crate::resource::ResourceNeed>)]
    pub resource: Option<crate::resource::ResourceNeed>,
    /// Push it to this agent: only it may claim the task for --push-for,
    /// then any agent may (pull). The agent must exist and be able to run it.
    #[arg(long)]
    pub agent: Option<String>,
    /// How long a push holds: 90s, 10m (default 1m, at most 55m).
    #[arg(long)]
    pub push_for: Option<String>,
    /// pull (agents claim), push (to --agent, or to the scorer's choice),
    /// hybrid (critical tasks pushed to the scorer's choice, the rest
    /// pulled), auction (capable agents bid; the best bid wins). Default:
    /// the project's (config/assignment), else pull.
    #[arg(long, value_enum)]
    pub assign: Option<crate::push::Strategy>,
    /// How long an auction takes bids: 2s (default), 30s, at most 9m.
    #[arg(long)]
    pub auction_for: Option<String>,
    /// Start no earlier than this time: 2026-12-06T03:00:00Z, or a local
    /// 2026-12-06 03:00.
    #[arg(long, conflicts_with = "in_")]
    pub at: Option<String>,
    /// Start no earlier than this long from now: 90s, 10m, 1h30m, 2d.
    #[arg(long = "in", id = "in_")]
    pub in_: Option<String>,
    /// Run the type's built-in workflow instead (`vayu workflow
    /// templates`), the title as its first input; prints the run id.
    #[arg(long, conflicts_with_all = ["after", "at", "in_", "review", "requires", "agent"])]
    pub workflow: bool,
    /// Wait for the task to end, showing its progress (`task watch`), and
    /// exit with its outcome: 0 completed, 8 failed, 9 cancelled, 10
    /// skipped. The id is printed first (not with `--json`, whose lines
    /// carry it).
    #[arg(long, conflicts_with = "workflow")]
    pub wait: bool,
    /// An idempotency key: a create with a key already used (by you)
    /// makes nothing and prints that task, wherever it is now; a retry of
    /// a script never makes a second task. The same key for a different
    /// title, type or input is refused (exit 4).
    #[arg(long, conflicts_with = "workflow")]
    pub key: Option<String>,
    #[command(flatten)]
    pub team: super::team::TeamArgs,
    /// Open an issue for it in this repository (owner/name), labelled
    /// `--github-label`, and give the task the issue's id so `vayu
    /// github sync` follows it (README, "GitHub"). The token comes from
    /// GITHUB_TOKEN.
    #[arg(
        long,
        value_name = "OWNER/NAME",
        value_parser = super::github::repo_arg,
        conflicts_with_all = ["workflow", "key", "team"]
    )]
    pub github: Option<String>,
    /// The label of `--github`'s issue: the one `vayu github sync --label` uses.
    #[arg(long, default_value = "vayu", requires = "github")]
    pub github_label: String,
}

/// The project's assignment defaults, read (one read) only when they can
/// matter: no `--assign`, or one that asks the scorer.
async fn project_defaults(
    store: &Store,
    asked: Option<crate::push::Strategy>,
) -> Result<crate::push::ProjectDefaults, Error> {
    use crate::push::Strategy::{Auction, Pull};
    match asked {
        Some(Pull | Auction) => Ok(crate::push::ProjectDefaults::default()),
        _ => crate::push::defaults(store).await,
    }
}

/// `--at` or `--in` as a time; bad input is exit 2 with nothing written.
fn start_time(a: &CreateArgs) -> Result<Option<crate::model::Time>, Error> {
    let bad = |m: String| Error::InvalidTask(crate::model::InvalidTask(m));
    if let Some(at) = &a.at {
        let tz = jiff::tz::TimeZone::system();
        return crate::time::parse_at(at, &tz).map(Some).map_err(bad);
    }
    match &a.in_ {
        Some(d) => {
            let delay = crate::time::parse_delay(d).map_err(bad)?;
            Ok(Some(crate::model::time_add(crate::model::now(), delay)))
        }
        None => Ok(None),
    }
}

pub(super) async fn run(
    store: &Store,
    a: CreateArgs,
    json: bool,
    requester: Option<String>,
) -> Result<String, Error> {
    let not_before = start_time(&a)?;
    let team = a.team.spec()?;
    if let Some(k) = &a.key {
        crate::keys::check(k)?;
    }
    let push = crate::push::from_args(a.agent, a.push_for.as_deref())?;
    let mut new = NewTask::new(a.task_type, a.priority, a.title);
    new.not_before = not_before;
    let project = project_defaults(store, a.assign).await?;
    let assign = a.assign.unwrap_or(project.strategy);
    let waits = !a.after.is_empty() || not_before.is_some();
    let auction_for = a.auction_for.as_deref();
    let window = crate::push::auction_window(assign, auction_for, push.is_some(), waits)?;
    new.push = push;
    new.assign = assign;
    new.weights = project.weights;
    new.push_for = crate::push::span(a.push_for.as_deref())?;
    // An auction's span is its window (`crate::push::plan`).
    if assign == crate::push::Strategy::Auction {
        new.push_for = window;
    }
    // As a signed-in user, the rules insist requester.id is its uid.
    if let Some(uid) = requester {
        new.requester.id = uid;
    }
    new.requires = a.requires;
    new.tags = a.tags;
    new.input = a.input;
    new.max_retries = a.max_retries;
    new.timeout_secs = a.timeout;
    new.estimated_minutes = a.estimate;
    new.complexity = a.complexity;
    new.requester.context = a.context;
    new.review = Some(match a.review {
        Some(p) => p,
        None => (store.review_defaults().await?).policy_for(None, a.task_type, a.priority),
    });
    let reviewed = new.review.is_some_and(|p| !p.is_none());
    if !reviewed && (a.rework.is_some() || a.review_rounds.is_some()) {
        return Err(Error::InvalidTask(crate::model::InvalidTask(
            "--rework and --review-rounds need a review (--review user)".into(),
        )));
    }
    (new.rework, new.review_rounds) = (a.rework, a.review_rounds);
    new.after = a.after;
    new.on_dep_failure = a.on_dep_failure.unwrap_or_default();
    new.condition = a.condition;
    new.resource = a.resource;
    // From history (README, "Assignment"); the task is worth
    // creating without an estimate when history cannot be read.
    if new.estimated_minutes.is_none()
        && let Err(e) = crate::history::fill_estimate(store, &mut new).await
    {
        eprintln!("warning: no estimate from history: {e}");
    }
    if let Some(spec) = &team {
        return super::team::create(store, new, spec, json).await;
    }
    if let Some(repo) = &a.github {
        let gh = crate::github::GitHub::from_env()?;
        let body = format!("{}\n\n{}", new.requester.context, new.input);
        let issue =
            crate::github::issues::open(&gh, repo, &a.github_label, &new.title, body.trim())
                .await?;
        new.task_id = Some(crate::github::issue_task_id(repo, issue.number));
        if new.requester.context.is_empty() {
            new.requester.context = issue.html_url;
        }
    }
    let (t, created) = match &a.key {
        None => (tasks::create(store, new).await?, true),
        Some(key) => match crate::keys::create(store, new, key).await? {
            crate::keys::Keyed::Created(t) => (t, true),
            crate::keys::Keyed::Existing(v) => {
                if !json {
                    eprintln!(
                        "task {} exists for this key; nothing created",
                        v.value.task_id
                    );
                }
                (v.value, false)
            }
        },
    };
    if a.wait {
        if !json {
            println!("{}", t.task_id);
        }
        return super::watch::run(store, &t.task_id, json).await;
    }
    Ok(if json {
        to_json(&serde_json::json!({
            "task_id": t.task_id,
            "created": created,
            "status": t.status,
            "pile": Pile::of(t.status).as_str(),
            "estimated_duration": t.metadata.estimated_duration,
            "pushed_to": t.assignment.pushed_to,
            "push_until": t.assignment.push_until,
        }))
    } else {
        format!("{}\n", t.task_id)
    })
}
