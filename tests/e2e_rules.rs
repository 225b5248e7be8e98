//! The core loop end to end with nobody acting as admin: three agents, each
//! signed in as its own Firebase user with the `agent` claim, and a person
//! creating 200 tasks, all judged by `firestore.rules`. This proves the
//! rules allow everything the real agents do (claims, heartbeats, logs,
//! completions, the agents collection), and that a user without the agent
//! claim cannot take part as an agent.

mod common;
use common::fleet::runs;
mod rules_support;

use rules_support::*;
use std::collections::HashMap;
use std::path::Path;
use std::time::{Duration, Instant};
use vayu::agent::{self, AgentConfig, Handlers};
use vayu::auth::SharedToken;
use vayu::layout::Pile;
use vayu::model::{Priority, TaskType};
use vayu::tasks::{self, NewTask};

fn agent_cfg(id: &str, dir: &Path) -> AgentConfig {
    let mut c = AgentConfig::new(
        id,
        Handlers {
            default: Some(format!(
                "echo \"$VAYU_TASK_ID\" >> {}/runs.txt; echo progress >&2",
                dir.display()
            )),
            ..Handlers::default()
        },
    );
    c.concurrency = 8;
    c.heartbeat = Duration::from_secs(1);
    c.lease = Duration::from_secs(10);
    c
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_agents_complete_two_hundred_tasks_under_the_rules() {
    let w = World::new("e2e-rules").await;
    let dir = tempfile::tempdir().expect("a temp dir");
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let mut agents = Vec::new();
    for i in 1..=3 {
        agents.push(start_agent(&w, agent_cfg(&format!("agent-{i}"), dir.path()), &stop_rx).await);
    }

    let person = w.human("alice").await;
    let uid = SharedToken::new(vayu::identity::emulator_token(
        PROJECT,
        "alice",
        &Default::default(),
    ))
    .uid()
    .expect("an emulator token names its user");
    let started = Instant::now();
    for i in 0..200 {
        let mut n = NewTask::new(TaskType::Research, Priority::Normal, format!("task {i}"));
        // The requester is the signed-in user: the rules insist.
        n.requester.id = uid.clone();
        tasks::create(&person, n)
            .await
            .unwrap_or_else(|e| panic!("the person creates task {i}: {e}"));
    }

    // Read as the person, not as admin.
    let deadline = Instant::now() + Duration::from_secs(240);
    let mut done = 0;
    while Instant::now() < deadline {
        done = person
            .list_pile(Pile::Completed, None, None)
            .await
            .expect("a person lists the completed pile")
            .len();
        if done >= 200 || agents.iter().any(|a| a.is_finished()) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let elapsed = started.elapsed();
    let _ = stop_tx.send(true);
    let mut reports = Vec::new();
    for a in agents {
        reports.push(
            a.await
                .expect("the agent task did not panic")
                .expect("the agent ran under the rules"),
        );
    }
    println!(
        "under the rules: {done}/200 completed in {:.1} s; outcomes {:?}",
        elapsed.as_secs_f64(),
        reports.iter().map(|r| &r.outcomes).collect::<Vec<_>>()
    );
    assert_eq!(done, 200, "every task ends in the completed collection");

    let runs = runs(dir.path());
    let mut per_task: HashMap<&str, usize> = HashMap::new();
    for r in &runs {
        *per_task.entry(r.as_str()).or_default() += 1;
    }
    assert_eq!(per_task.len(), 200, "every task's handler ran");
    assert!(
        per_task.values().all(|n| *n == 1),
        "a handler ran twice: {:?}",
        per_task.iter().filter(|(_, n)| **n > 1).collect::<Vec<_>>()
    );
    for pile in [Pile::Queued, Pile::Active] {
        let left = person
            .list_pile(pile, None, None)
            .await
            .expect("a person lists");
        assert!(
            left.is_empty(),
            "the {pile} collection ends empty: {}",
            left.len()
        );
    }
    let completed = w
        .admin
        .list_pile(Pile::Completed, None, None)
        .await
        .expect("admin lists");
    for t in completed.iter().flatten() {
        assert_eq!(t.value.status, vayu::lifecycle::Status::Completed);
        assert_eq!(t.value.requester.id, "alice");
        assert!(t.value.lease.epoch >= 1);
    }
    let claimed: u64 = reports.iter().map(|r| r.claimed).sum();
    assert_eq!(claimed, 200, "each task was claimed once");
    // The agents wrote their own documents, as themselves.
    let docs = person
        .list_agents()
        .await
        .expect("a person lists the agents");
    assert_eq!(docs.len(), 3, "each agent registered itself");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_without_the_agent_claim_cannot_run_as_an_agent() {
    let w = World::new("e2e-noclaim").await;
    let dir = tempfile::tempdir().expect("a temp dir");
    let person = w.human("alice").await;
    let mut n = NewTask::new(TaskType::Research, Priority::Normal, "nobody may take this");
    n.requester.id = "alice".into();
    let t = tasks::create(&person, n)
        .await
        .expect("the person creates a task");

    // "mallory" signs in for real but without the agent claim.
    let mallory = w.human("mallory").await;
    let run = agent::run(mallory, agent_cfg("mallory", dir.path()), async {
        tokio::time::sleep(Duration::from_secs(3)).await;
    })
    .await;
    assert!(
        matches!(run, Err(vayu::Error::PermissionDenied(_))),
        "registering in agents/ is refused, so the agent does not start: {run:?}"
    );
    let seen = w.read(&t.task_id).await;
    denied(
        "a user without the agent claim claims",
        claim(&w.human("mallory").await, &seen, "mallory"),
    )
    .await;
    assert!(
        w.exists_in(Pile::Queued, &t.task_id).await,
        "the task is still queued"
    );
    assert!(runs(dir.path()).is_empty(), "no handler ran");
}
