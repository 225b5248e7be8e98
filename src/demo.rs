//! `vayu demo`: the whole system on one machine in a minute. Starts the
//! local emulator (unless `FIRESTORE_EMULATOR_HOST` points at one), a few
//! agents in this process, and sample tasks, then shows them flowing from
//! queued through active to completed.

use crate::agent::{self, AgentConfig, Handlers};
use crate::emulator::{Emulator, EmulatorOptions};
use crate::error::{Error, Result};
use crate::layout::Pile;
use crate::model::{Priority, TaskType, now};
use crate::render::{render_agent_table, render_task, render_task_table};
use crate::store::{Store, StoreConfig};
use crate::tasks::{self, NewTask};
use std::time::{Duration, Instant};

/// `vayu demo`'s options.
#[derive(clap::Args, Debug, Clone)]
pub struct DemoArgs {
    #[arg(long, default_value_t = 3)]
    pub agents: usize,
    #[arg(long, default_value_t = 12)]
    pub tasks: usize,
    /// Keep the emulator, the agents and the dashboard running after the
    /// tasks are done, until Ctrl-C (to explore the dashboard).
    #[arg(long)]
    pub stay: bool,
    /// Port for the web dashboard (0: any free port).
    #[arg(long, default_value_t = 5000)]
    pub dashboard_port: u16,
}

/// The demo agents' peer review: approves, with scores and a comment.
pub const DEMO_REVIEW: &str = "echo 'vayu:score correctness=5,completeness=4,quality=4'; echo 'vayu:comment the numbers check out'";

/// The demo's handler: reports progress, leaves an artifact, fails the
/// first attempt of any task whose title says "flaky", to show a retry,
/// and, as a model would, prints the `vayu:skill` line a task's input asks
/// for (the learning template's skill update).
pub const DEMO_HANDLER: &str = r#"input=$(cat)
case "$input" in *flaky*) if [ "$VAYU_ATTEMPT" = 1 ]; then echo "flaky: failing attempt 1 on purpose" >&2; exit 1; fi;; esac
for p in 20 40 60 80; do echo "vayu:progress $p step $p"; sleep 0.2; done
printf '%s' "$input" | grep -o 'vayu:skill [A-Za-z0-9_.:/+-]*' | head -n 1
echo "vayu:artifact summary inline:ok-$VAYU_TASK_ID"
echo "vayu:result done by $VAYU_AGENT_ID on attempt $VAYU_ATTEMPT""#;

const SAMPLES: &[(TaskType, Priority, &str)] = &[
    (
        TaskType::Research,
        Priority::High,
        "Analyze performance bottlenecks",
    ),
    (
        TaskType::UserRequest,
        Priority::Critical,
        "Summarize the incident report",
    ),
    (
        TaskType::Maintenance,
        Priority::Low,
        "Rotate stale log files",
    ),
    (
        TaskType::Scheduled,
        Priority::Normal,
        "Nightly house report",
    ),
    (TaskType::Learning, Priority::Normal, "Practice the new API"),
    (
        TaskType::Research,
        Priority::Normal,
        "Compare three queue designs (flaky)",
    ),
];

pub async fn run(args: DemoArgs, project: Option<String>) -> Result<()> {
    let mut _emulator = None;
    let mut cfg = match StoreConfig::from_env(project.clone()) {
        Ok(cfg) if cfg.emulator_host.is_some() => cfg,
        _ => {
            println!("starting the Firestore emulator…");
            let rules = std::path::Path::new("firestore.rules");
            let emu = Emulator::start(EmulatorOptions {
                rules: rules.is_file().then(|| rules.to_path_buf()),
                ..EmulatorOptions::default()
            })
            .await
            .map_err(|e| Error::Config(e.to_string()))?;
            println!(
                "emulator up at {} (export FIRESTORE_EMULATOR_HOST={} to use the CLI against it)",
                emu.host(),
                emu.host()
            );
            let cfg = StoreConfig::emulator(emu.host(), crate::store::DEFAULT_DATABASE);
            _emulator = Some(emu);
            cfg
        }
    };
    if let Some(p) = project {
        cfg.project_id = p;
    }
    let store = Store::connect(&cfg).await?;
    let _dashboard = demo_dashboard(&cfg, args.dashboard_port).await?;

    let (stop_tx, _) = tokio::sync::broadcast::channel::<()>(1);
    let mut agents = Vec::new();
    for i in 0..args.agents.max(1) {
        let mut a = AgentConfig::new(
            format!("demo-agent-{}", i + 1),
            Handlers {
                default: Some(DEMO_HANDLER.into()),
                ..Handlers::default()
            },
        );
        a.concurrency = 2;
        a.reviews.peer = Some(DEMO_REVIEW.into());
        a.heartbeat = Duration::from_secs(1);
        a.lease = Duration::from_secs(10);
        a.retry_backoff = crate::retry::Backoff {
            base: Duration::from_millis(500),
            cap: Duration::from_secs(5),
        };
        let mut rx = stop_tx.subscribe();
        let store = Store::connect(&cfg).await?;
        agents.push(tokio::spawn(agent::run(store, a, async move {
            let _ = rx.recv().await;
        })));
    }
    println!(
        "started {} agents; creating {} tasks",
        args.agents.max(1),
        args.tasks
    );
    let start = Instant::now();
    let mut ids = Vec::new();
    for i in 0..args.tasks {
        let (ty, pr, title) = SAMPLES[i % SAMPLES.len()];
        let mut new = NewTask::new(ty, pr, format!("{title} #{}", i + 1));
        // The first task needs a peer agent's review (when there is a
        // second agent to give it) and a person's: the demo plays the
        // person once it is done.
        if i == 0 {
            use crate::review::ReviewKind::{Peer, User};
            let kinds: &[_] = if args.agents > 1 {
                &[Peer, User]
            } else {
                &[User]
            };
            new.review = Some(crate::review::ReviewPolicy::of(kinds));
        }
        let t = tasks::create(&store, new).await?;
        ids.push(t.task_id);
    }
    let deadline = start + Duration::from_secs(120);
    loop {
        tokio::time::sleep(Duration::from_millis(700)).await;
        let mut counts = Vec::new();
        for pile in Pile::ALL {
            let n = store.list_pile(pile, None, None).await?.len();
            counts.push((pile, n));
        }
        review_what_waits(&store).await?;
        let line: Vec<String> = counts.iter().map(|(p, n)| format!("{p} {n:>3}")).collect();
        println!(
            "[{:>5.1}s] {}",
            start.elapsed().as_secs_f64(),
            line.join("   ")
        );
        let done = counts
            .iter()
            .find(|(p, _)| *p == Pile::Completed)
            .map(|c| c.1)
            .unwrap_or(0);
        if done >= args.tasks || Instant::now() > deadline {
            break;
        }
    }
    let completed: Vec<_> = store
        .list_pile(Pile::Completed, None, None)
        .await?
        .into_iter()
        .filter_map(|r| r.ok())
        .collect();
    println!(
        "\ntasks/completed/completed_tasks:\n{}",
        render_task_table(&completed)
    );
    println!(
        "agents:\n{}",
        render_agent_table(&store.list_agents().await?, now())
    );
    if let Some(flaky) = completed.iter().find(|v| v.value.title.contains("flaky")) {
        println!(
            "the flaky task's history (note the failed attempt and the retry):\n{}",
            render_task(flaky)
        );
    }
    if let Some(reviewed) = completed.iter().find(|v| v.value.review.policy.is_some()) {
        let t = &reviewed.value;
        let verdicts =
            (store.verdicts(&t.task_id, 0..=t.review.round, crate::review::policy_of(t))).await?;
        println!(
            "the reviewed task (it waited in review for its verdicts):\n{}{}",
            render_task(reviewed),
            crate::render::render_reviews(t, &verdicts)
        );
    }
    if args.stay {
        println!("still running (the dashboard above works); Ctrl-C to stop");
        let _ = tokio::signal::ctrl_c().await;
    }
    let _ = stop_tx.send(());
    for a in agents {
        let _ = a.await;
    }
    let all_done = completed.len() >= args.tasks;
    println!(
        "{} of {} tasks completed in {:.1}s",
        completed.len(),
        args.tasks,
        start.elapsed().as_secs_f64()
    );
    if all_done {
        Ok(())
    } else {
        Err(Error::Conflict(
            "not every task completed within two minutes".into(),
        ))
    }
}

/// Serves the web dashboard against the demo's emulator, and says where.
/// A port in use is no reason to stop the demo: any free one will do.
async fn demo_dashboard(cfg: &StoreConfig, port: u16) -> Result<Option<crate::dashboard::Server>> {
    let Some(host) = cfg.emulator_host.as_deref() else {
        return Ok(None);
    };
    let args = crate::dashboard::DashboardArgs {
        host: "127.0.0.1".into(),
        port,
        api_key: None,
        auth_domain: None,
        auth_emulator: None,
        print_config: false,
    };
    let config =
        crate::dashboard::PageConfig::new(&args, &cfg.project_id, &cfg.database_id, Some(host))?;
    let server = match crate::dashboard::serve(&args.host, port, config.clone()).await {
        Ok(s) => s,
        Err(_) => crate::dashboard::serve(&args.host, 0, config).await?,
    };
    println!(
        "dashboard: {} (sign in as any user id with a role; the emulator accepts it)",
        server.url()
    );
    Ok(Some(server))
}

/// The demo's person: approves every task waiting for a person's review,
/// as `vayu task review --approve` would.
async fn review_what_waits(store: &Store) -> Result<()> {
    use crate::review::{ReviewKind, Verdict};
    let waiting = store.list_pile(
        Pile::Active,
        Some(crate::lifecycle::Status::Reviewing),
        None,
    );
    let waiting = (waiting.await?.into_iter().filter_map(|r| r.ok()))
        .filter(|v| !v.value.review.approved.iter().any(|k| k == "user"));
    for v in waiting {
        let given = crate::reviews::GivenVerdict {
            kind: ReviewKind::User,
            reviewer: "demo-reviewer".into(),
            verdict: Verdict::Approve,
            scores: "correctness=5,completeness=4,quality=4,performance=5"
                .parse()
                .map_err(|e: String| Error::Config(e))?,
            comment: "reads well".into(),
        };
        let outcome = crate::reviews::give(store, &v.value.task_id, given).await?;
        println!("reviewed {} as demo-reviewer: {outcome:?}", v.value.task_id);
    }
    Ok(())
}
