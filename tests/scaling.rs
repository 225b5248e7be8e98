//! The auto-scaling hook (issue 16): with no leader, one agent per window
//! runs the scale-up command when the queue is deep, and the scale-down
//! command when the fleet is idle; `firestore.rules` `isScaleStep` keeps
//! every agent to one step per window; a bad flag combination is exit 64.

mod common;
mod rules_support;

use rules_support::*;
use std::time::Duration;
use tokio::time::Instant;
use vayu::agent::{AgentConfig, Handlers, ScaleHook};
use vayu::scale::{claim_step, last_step};
use vayu::scaling::{Direction, Policy};

/// An agent whose hook looks at the queue every 200 ms.
fn scaling_agent(id: &str, up: Option<String>, down: Option<String>) -> AgentConfig {
    let mut cfg = AgentConfig::new(
        id,
        Handlers {
            default: Some("true".into()),
            ..Default::default()
        },
    );
    cfg.heartbeat = Duration::from_millis(200);
    cfg.scaling = Some(ScaleHook {
        policy: Policy {
            up_depth: up.as_ref().map(|_| 5),
            up_wait: None,
            down_idle: down.as_ref().map(|_| Duration::from_secs(1)),
            window: Duration::from_secs(60),
        },
        up_cmd: up,
        down_cmd: down,
        every: Duration::from_millis(200),
    });
    cfg
}

/// Waits until `path` has a line, then `settle` longer, and returns its
/// lines.
async fn lines_after(path: &std::path::Path, settle: Duration) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(30);
    while common::fleet::lines(path).is_empty() {
        assert!(Instant::now() < deadline, "the command never ran");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(settle).await;
    common::fleet::lines(path)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_deep_queue_makes_one_agent_of_three_run_the_scale_up_command_once_per_window() {
    let w = World::new("scale-up").await;
    let dir = tempfile::tempdir().expect("the system temp dir is writable");
    let up = dir.path().join("up.txt");
    // Eight tasks nobody here can run: the queue stays deep.
    for _ in 0..8 {
        let mut t = new_task("alice");
        t.requires = vec!["a-skill-nobody-has".into()];
        w.seed(&t).await;
    }
    let cmd = format!(
        "echo \"$VAYU_SCALE_DIRECTION $VAYU_QUEUE_DEPTH\" >> {}",
        up.display()
    );
    let (stop_tx, stop) = tokio::sync::watch::channel(false);
    let mut agents = Vec::new();
    for n in 1..=3 {
        let cfg = scaling_agent(&format!("scaler-{n}"), Some(cmd.clone()), None);
        agents.push(start_agent(&w, cfg, &stop).await);
    }
    let ran = lines_after(&up, Duration::from_secs(3)).await;
    assert_eq!(ran, vec!["up 8".to_string()], "one step in the window");
    let step = vayu::scale::last_step(&w.admin, Direction::Up)
        .await
        .expect("reads");
    assert!(step.at.is_some(), "scaling/up records the step");
    let _ = stop_tx.send(true);
    for a in agents {
        a.await.expect("joins").expect("the agent stops cleanly");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_idle_fleet_runs_the_scale_down_command_once() {
    let w = World::new("scale-down").await;
    let dir = tempfile::tempdir().expect("the system temp dir is writable");
    let down = dir.path().join("down.txt");
    let cmd = format!("echo \"$VAYU_SCALE_DIRECTION\" >> {}", down.display());
    let (stop_tx, stop) = tokio::sync::watch::channel(false);
    let mut agents = Vec::new();
    for n in 1..=2 {
        let cfg = scaling_agent(&format!("idler-{n}"), None, Some(cmd.clone()));
        agents.push(start_agent(&w, cfg, &stop).await);
    }
    let ran = lines_after(&down, Duration::from_secs(2)).await;
    assert_eq!(ran, vec!["down".to_string()]);
    let _ = stop_tx.send(true);
    for a in agents {
        a.await.expect("joins").expect("the agent stops cleanly");
    }
}

/// A step as `claim_step` writes it, with no precondition, so only the
/// rules can refuse it.
async fn step_as(
    store: &vayu::store::Store,
    dir: &str,
    fields: serde_json::Value,
) -> vayu::Result<firestore::gcloud_sdk::google::firestore::v1::CommitResponse> {
    let rel = format!("scaling/{dir}");
    let write = raw_write(
        store,
        &rel,
        &fields,
        &["at"],
        vayu::store::Precondition::None,
    );
    store.commit(vec![write]).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_rules_allow_one_step_per_window_by_an_agent_naming_itself() {
    let w = World::new("rules-scale").await;
    let a1 = w.agent("agent-1").await;
    let a2 = w.agent("agent-2").await;
    let alice = w.human("alice").await;
    let root = w.human_with_role("root", "admin").await;
    let step = |by: &str, reason: &str, window: i64| serde_json::json!({"by": by, "reason": reason, "window_secs": window});
    denied(
        "a person takes a step",
        step_as(&alice, "up", step("alice", "deep", 60)),
    )
    .await;
    denied(
        "an admin takes a step",
        step_as(&root, "up", step("root", "deep", 60)),
    )
    .await;
    denied(
        "a step naming another agent",
        step_as(&a1, "up", step("agent-2", "deep", 60)),
    )
    .await;
    denied(
        "a window under a minute",
        step_as(&a1, "up", step("agent-1", "deep", 30)),
    )
    .await;
    denied(
        "a window over a day",
        step_as(&a1, "up", step("agent-1", "deep", 86_401)),
    )
    .await;
    denied(
        "a step without a reason",
        step_as(&a1, "up", step("agent-1", "", 60)),
    )
    .await;
    denied(
        "a direction that is neither up nor down",
        step_as(&a1, "sideways", step("agent-1", "x", 60)),
    )
    .await;
    let mut extra = step("agent-1", "deep", 60);
    extra["x"] = serde_json::json!(1);
    denied("a step with another field", step_as(&a1, "up", extra)).await;
    allowed(
        "the first step",
        step_as(&a1, "up", step("agent-1", "deep", 60)),
    )
    .await;
    denied(
        "a second step within the window",
        step_as(&a2, "up", step("agent-2", "deeper", 60)),
    )
    .await;
    allowed(
        "the other direction has its own window",
        step_as(&a2, "down", step("agent-2", "idle", 60)),
    )
    .await;
    // And the library's answer to a refused step is "not ours".
    let last = last_step(&a2, Direction::Up).await.expect("reads");
    let again = claim_step(
        &a2,
        Direction::Up,
        &last,
        "agent-2",
        "deeper",
        Duration::from_secs(60),
    );
    assert!(
        !again.await.expect("answers"),
        "a second step within the window is not taken"
    );
    w.done("scaling");
}

#[test]
fn a_scale_command_without_a_threshold_is_a_bad_configuration() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_vayu-agent"))
        .args([
            "--id",
            "a",
            "--handler",
            "true",
            "--scale-up-cmd",
            "make-vm",
        ])
        .env("FIRESTORE_EMULATOR_HOST", "127.0.0.1:1")
        .output()
        .expect("the agent binary runs");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(64), "{err}");
    assert!(err.contains("--scale-up-queue"), "{err}");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_vayu-agent"))
        .args([
            "--id",
            "a",
            "--handler",
            "true",
            "--scale-down-cmd",
            "x",
            "--scale-window-secs",
            "5",
        ])
        .env("FIRESTORE_EMULATOR_HOST", "127.0.0.1:1")
        .output()
        .expect("the agent binary runs");
    assert_eq!(
        out.status.code(),
        Some(64),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
