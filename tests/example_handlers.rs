//! Issue 16, example handlers: each of `examples/handlers/` (shell and
//! Python) runs through a real agent and
//! - completes a task, reporting progress to 100, checkpoints, a file
//!   artifact that exists and holds the task, and a result;
//! - fails a task on purpose when its input asks, with the reason in the
//!   task's error;
//! - fails a first attempt after a checkpoint when asked, and the retry
//!   resumes from that checkpoint instead of starting over.
//!
//! And `vayu task logs` on what they wrote: every attempt's lines, in
//! order, as text or JSON; `--follow` on a running task prints lines as
//! they come and exits when the task ends; an unknown id is exit 3. And
//! `vayu task create --wait` / `task watch`: progress on stderr, the
//! outcome as the exit code (0 completed, 8 failed, 9 cancelled), JSON
//! lines with `--json`.

mod common;

use common::fleet::{Fleet, create_with_input, fast_agent, setup, shell, wait_ended, wait_task};
use common::procs::vayu_cli;
use std::time::Duration;
use vayu::lifecycle::Status;
use vayu::model::{Task, TaskType};
use vayu::store::Store;

const LIMIT: Duration = Duration::from_secs(60);

/// The command that runs `file`, from the repository, wherever the test
/// runs from.
fn command(file: &str) -> String {
    let path = format!("{}/examples/handlers/{file}", env!("CARGO_MANIFEST_DIR"));
    match file.ends_with(".py") {
        true => format!("python3 '{path}'"),
        false => format!("sh '{path}'"),
    }
}

async fn create(store: &Store, task_type: TaskType, title: &str, input: &str) -> String {
    create_with_input(store, task_type, title, input, 1).await
}

async fn ended(store: &Store, id: &str) -> Task {
    wait_ended(store, id, LIMIT).await
}

/// The artifact's file exists and holds the task's title.
fn check_artifact(file: &str, t: &Task) {
    let artifact = (t.execution.artifacts.first())
        .unwrap_or_else(|| panic!("{file}: an artifact is reported"));
    let path = (artifact.uri.strip_prefix("file://"))
        .unwrap_or_else(|| panic!("{file}: a file artifact, not {}", artifact.uri));
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{file}: the artifact {path} exists: {e}"));
    assert!(text.contains(&t.title), "{file}: {path} holds the task");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_example_handler_completes_fails_when_asked_and_resumes() {
    let (cfg, store) = setup("example-handlers").await;
    for (file, task_type) in [
        ("generic.sh", TaskType::UserRequest),
        ("generic.py", TaskType::UserRequest),
        ("research.py", TaskType::Research),
    ] {
        let agent = fast_agent(
            &format!("ex-{}", file.replace('.', "-")),
            shell(&command(file)),
        );
        let fleet = Fleet::start(&cfg, vec![agent]).await;
        let ok = create(&store, task_type, &format!("{file} runs"), "").await;
        let doomed = create(&store, task_type, "doomed", "fail-on-purpose").await;
        let resumed = create(&store, task_type, "resumed", "fail-after-checkpoint").await;

        let t = ended(&store, &ok).await;
        assert_eq!(t.status, Status::Completed, "{file}: {:?}", t.execution);
        assert_eq!(t.execution.progress, 100, "{file}: progress reaches 100");
        assert!(
            !t.execution.checkpoints.is_empty(),
            "{file}: checkpoints are recorded"
        );
        check_artifact(file, &t);
        let result = t.execution.result.clone().unwrap_or_default();
        assert!(!result.is_empty(), "{file}: a result is reported");
        if file == "research.py" {
            let summary: serde_json::Value =
                serde_json::from_str(&result).expect("research.py's result is JSON");
            assert_eq!(summary["status"], "ok", "{result}");
        }

        let t = ended(&store, &doomed).await;
        assert_eq!(t.status, Status::Failed, "{file}: fails when asked");
        let error = t.execution.last_error.clone().unwrap_or_default();
        assert!(error.contains("on purpose"), "{file}: the reason: {error}");

        let t = ended(&store, &resumed).await;
        assert_eq!(t.status, Status::Completed, "{file}: {:?}", t.execution);
        assert_eq!(t.execution.attempt, 2, "{file}: the second attempt");
        assert!(
            (t.execution.logs.iter()).any(|l| l.contains("resuming after step 2")),
            "{file}: the retry resumed from the checkpoint: {:?}",
            t.execution.logs
        );
        if file == "generic.sh" {
            check_logs(&cfg, &resumed).await;
            check_follow(&cfg, &store, task_type).await;
            check_wait(&cfg).await;
        }
        fleet.stop().await;
    }
}

/// `vayu task logs` shows both attempts of the resumed task, in order.
async fn check_logs(cfg: &vayu::store::StoreConfig, id: &str) {
    let host = cfg.emulator_host.clone().expect("the emulator");
    let db = &cfg.database_id;
    let (code, out, err) = vayu_cli(&host, db, &["task", "logs", id]).await;
    assert_eq!(code, 0, "{err}");
    let failed = (out.find("failing attempt 1 after step 2")).expect("attempt 1's stderr");
    let resumed = (out.find("resuming after step 2")).expect("attempt 2's line");
    assert!(failed < resumed, "in the order written:\n{out}");
    assert_eq!(
        out.matches("── lease epoch").count(),
        2,
        "one header per attempt:\n{out}"
    );

    let (code, out, err) = vayu_cli(&host, db, &["task", "logs", id, "--json"]).await;
    assert_eq!(code, 0, "{err}");
    let lines: Vec<serde_json::Value> = serde_json::from_str(&out).expect("a JSON array");
    let epochs: Vec<i64> = lines.iter().filter_map(|l| l["epoch"].as_i64()).collect();
    assert!(
        epochs.windows(2).all(|w| w[0] <= w[1]),
        "ordered: {epochs:?}"
    );
    assert_eq!(epochs.first(), Some(&1), "{epochs:?}");
    assert_eq!(epochs.last(), Some(&2), "{epochs:?}");

    let (code, _, err) = vayu_cli(&host, db, &["task", "logs", "no-such-task"]).await;
    assert_eq!(code, 3, "an unknown task is exit 3: {err}");
}

/// `--follow` on a task that is still running: the CLI prints its lines
/// and exits once the task has ended, with the last line in its output.
async fn check_follow(cfg: &vayu::store::StoreConfig, store: &Store, task_type: TaskType) {
    let host = cfg.emulator_host.clone().expect("the emulator");
    let id = create(store, task_type, "followed", "slow").await;
    wait_task(store, &id, LIMIT, "running", |v| {
        v.value.status == Status::Executing
    })
    .await;
    let args = ["task", "logs", &id, "--follow"];
    let follow = vayu_cli(&host, &cfg.database_id, &args);
    let (code, out, err) = tokio::time::timeout(LIMIT, follow)
        .await
        .expect("--follow exits when the task ends");
    assert_eq!(code, 0, "{err}");
    // Read once, not waited for: the follower exits only after the end.
    let t = store.find_task(&id).await.expect("reads").expect("exists");
    assert_eq!(
        t.value.status,
        Status::Completed,
        "--follow outlived the task"
    );
    assert!(
        out.contains("── lease epoch 1"),
        "the attempt's lines were printed:\n{out}"
    );
}

/// `task create --wait` and `task watch` exit with the outcome.
async fn check_wait(cfg: &vayu::store::StoreConfig) {
    let host = cfg.emulator_host.clone().expect("the emulator");
    let db = &cfg.database_id;
    let create = ["task", "create", "--wait", "--input", "slow", "waited for"];
    let (code, out, err) = vayu_cli(&host, db, &create).await;
    assert_eq!(code, 0, "completed is exit 0: {err}");
    let id = out.lines().next().expect("the id comes first").to_string();
    assert!(out.contains("completed"), "then the task:\n{out}");
    assert!(
        err.lines().any(|l| l.contains("% executing")),
        "progress lines on stderr:\n{err}"
    );

    let (code, out, err) = vayu_cli(&host, db, &["task", "watch", &id, "--json"]).await;
    assert_eq!(code, 0, "{err}");
    for line in out.lines() {
        let v: serde_json::Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("each line is JSON ({e}): {line}"));
        assert_eq!(v["task_id"], id.as_str(), "{line}");
    }

    let doomed = [
        "task",
        "create",
        "--wait",
        "--input",
        "fail-on-purpose",
        "--max-retries",
        "0",
        "doomed",
    ];
    let (code, _, err) = vayu_cli(&host, db, &doomed).await;
    assert_eq!(code, 8, "failed is exit 8: {err}");
    assert!(err.contains("on purpose"), "the reason: {err}");

    let later = ["task", "create", "--in", "1h", "later"];
    let (code, out, err) = vayu_cli(&host, db, &later).await;
    assert_eq!(code, 0, "{err}");
    let later = out.trim().to_string();
    let (code, _, err) = vayu_cli(&host, db, &["task", "cancel", "--id", &later]).await;
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = vayu_cli(&host, db, &["task", "watch", &later]).await;
    assert_eq!(code, 9, "cancelled is exit 9: {err}");

    let (code, _, err) = vayu_cli(&host, db, &["task", "watch", "no-such-task"]).await;
    assert_eq!(code, 3, "an unknown task is exit 3: {err}");
}
