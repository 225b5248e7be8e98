//! Issue 16, handler sandboxing, through a real `vayu-agent` process:
//! - a handler's environment holds none of the agent's (its token, the
//!   emulator's address, a secret the operator did not name), only what
//!   `--handler-env` names, and its own directory as `HOME`;
//! - a handler over its memory limit fails that task, with the limit
//!   named in the task's error, and nothing else: the agent runs the next
//!   task;
//! - `--handler-env VAYU_TOKEN`, or a handler named by a relative path, is
//!   a bad configuration (exit 64), and the agent writes nothing.

mod common;

use common::fleet::{create_with_input, setup, wait_ended};
use common::procs::{AgentProc, AgentSpec, tail};
use std::time::Duration;
use vayu::lifecycle::Status;
use vayu::model::{Task, TaskType};
use vayu::store::Store;

const LIMIT: Duration = Duration::from_secs(60);

/// A task whose input tells the handler what to do.
async fn create(store: &Store, title: &str, input: &str) -> String {
    create_with_input(store, TaskType::UserRequest, title, input, 0).await
}

async fn ended(store: &Store, id: &str) -> Task {
    wait_ended(store, id, LIMIT).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_handler_gets_no_credentials_and_its_memory_limit_fails_only_its_task() {
    let (cfg, store) = setup("sandbox").await;
    let dir = tempfile::tempdir().expect("the system temp dir is writable");
    let (d, work) = (dir.path().display(), dir.path().join("work"));
    // The input picks: "hog" allocates 400 MiB; else the environment is
    // written where the test can read it.
    let handler = format!(
        "case \"$(cat)\" in *hog*) python3 -c 'x = bytearray(400 * 1024 * 1024)';; \
         *) env > {d}/env-$VAYU_TASK_ID; echo vayu:result ok;; esac"
    );
    let host = cfg.emulator_host.as_deref().expect("an emulator config");
    let mut spec = AgentSpec::new("sandboxed", &handler, host, &cfg.database_id, dir.path());
    spec.args = ["--limit-memory-mb", "200", "--handler-env", "NAMED_SECRET"]
        .map(String::from)
        .to_vec();
    spec.args
        .extend(["--work-dir".into(), work.display().to_string()]);
    spec.env = [
        ("VAYU_TOKEN", "owner"),
        ("UNNAMED_SECRET", "must-not-leak"),
        ("NAMED_SECRET", "passed"),
    ]
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .to_vec();
    let mut agent = AgentProc::spawn(&spec);

    let first = create(&store, "env", "show the environment").await;
    let t = ended(&store, &first).await;
    assert_eq!(t.status, Status::Completed, "{:?}", t.execution.last_error);
    let env = std::fs::read_to_string(dir.path().join(format!("env-{first}")))
        .expect("the handler wrote its environment");
    for leaked in [
        "VAYU_TOKEN",
        "UNNAMED_SECRET",
        "FIRESTORE_EMULATOR_HOST",
        "VAYU_DATABASE",
    ] {
        assert!(
            !env.lines().any(|l| l.starts_with(&format!("{leaked}="))),
            "{leaked} reached the handler:\n{env}"
        );
    }
    assert!(env.lines().any(|l| l == "NAMED_SECRET=passed"), "{env}");
    let home = format!("HOME={}", work.join(&first).join("e1").display());
    assert!(env.lines().any(|l| l == home), "{home} in\n{env}");
    // Tidied just after the run's end is recorded, so give it a moment.
    let gone_by = tokio::time::Instant::now() + Duration::from_secs(5);
    while work.join(&first).exists() && tokio::time::Instant::now() < gone_by {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        !work.join(&first).exists(),
        "a run with no artifact there leaves no directory behind"
    );

    let hog = create(&store, "hog", "hog").await;
    let after = create(&store, "after", "plain").await;
    let t = ended(&store, &hog).await;
    assert_eq!(t.status, Status::Failed);
    let error = t.execution.last_error.unwrap_or_default();
    assert!(
        error.contains("it ran out of memory under its limit of 200 MiB"),
        "the reason names the limit: {error}"
    );
    let t = ended(&store, &after).await;
    assert_eq!(
        t.status,
        Status::Completed,
        "the agent ran on after the hog"
    );
    agent.stop_cleanly(Duration::from_secs(20)).await;
    println!("hog's error: {error}");
}

/// Refused at start, with the fix in the message, before anything is
/// written: handing handlers the agent's token, and a relative handler
/// path (handlers run in their task's directory, where it would not
/// resolve; the test runs from the repository, where it does).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_for_handlers_or_a_relative_handler_path_is_a_bad_configuration() {
    let (cfg, store) = setup("sandbox-config").await;
    let dir = tempfile::tempdir().expect("the system temp dir is writable");
    let host = cfg.emulator_host.as_deref().expect("an emulator config");
    let cases = [
        (
            "token",
            "true",
            vec!["--handler-env", "PATH,VAYU_TOKEN"],
            "the agent's credentials never reach a handler".to_string(),
        ),
        (
            "relative",
            "python3 examples/handlers/generic.py",
            vec![],
            format!(
                "give it as {}/examples/handlers/generic.py",
                env!("CARGO_MANIFEST_DIR")
            ),
        ),
    ];
    for (id, handler, args, says) in cases {
        let mut spec = AgentSpec::new(id, handler, host, &cfg.database_id, dir.path());
        spec.args = args.into_iter().map(String::from).collect();
        let mut agent = AgentProc::spawn(&spec);
        let status = agent
            .wait_exit(Duration::from_secs(20))
            .await
            .expect("a bad configuration exits at once");
        let log = tail(&agent.log(), 5);
        assert_eq!(status.code(), Some(64), "{id}: {log}");
        assert!(log.contains(&says), "{id}: {log}");
        let doc = store.get_agent(id).await.expect("the emulator answers");
        assert!(
            doc.is_none(),
            "{id}: a refused configuration registers no agent"
        );
    }
}
