//! The core loop end to end with nobody acting as admin: three agents, each
//! signed in as its own Firebase user with the `agent` claim, and a person
//! creating 200 tasks, all judged by `firestore.rules`. This proves the
//! rules allow everything the real agents do (claims, heartbeats, logs,
//! completions, the agents collection), and that a user without the agent
//! claim cannot take part as an agent.

mod common;
use common::fleet::{get_raw, runs, trace_from_env, wait_task};
mod rules_support;

use firestore::gcloud_sdk::google::firestore::v1 as pb;
use rules_support::*;
use std::collections::HashMap;
use std::path::Path;
use std::time::{Duration, Instant};
use vayu::agent::{self, AgentConfig, Handlers};
use vayu::auth::SharedToken;
use vayu::layout::Pile;
use vayu::lifecycle::Status;
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
    trace_from_env();
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

/// A claim the rules refuse for a reason the task does not show is tried
/// again, and the task runs once the reason passes. Here the agent's own
/// document, edited as in the console, stops offering the task's type for
/// a while. (Such a refusal was once held against the task's version for
/// good: the listener never shows an unchanged task again, and CI saw a
/// task wait 300 s beside an idle agent.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_claim_refused_for_a_reason_the_task_does_not_show_is_tried_again() {
    let w = World::new("e2e-refused-claim").await;
    let dir = tempfile::tempdir().expect("a temp dir");
    let alice = w.human("alice").await;
    let store = w.unregistered_agent("solo").await;
    let mut cfg = agent_cfg("solo", dir.path());
    // No heartbeat within the test: it would rewrite the edited document.
    (cfg.heartbeat, cfg.lease) = (Duration::from_secs(120), Duration::from_secs(300));
    let (stop, mut rx) = tokio::sync::watch::channel(false);
    let agent = tokio::spawn(agent::run(store.clone(), cfg, async move {
        let _ = rx.wait_for(|s| *s).await;
    }));
    let rel = vayu::layout::agent_doc("solo");
    let deadline = Instant::now() + Duration::from_secs(30);
    let offered = loop {
        if let Some(doc) = get_raw(&w.admin, &rel).await {
            break doc.fields["handles"].clone();
        }
        assert!(Instant::now() < deadline, "the agent never registered");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let none = pb::Value {
        value_type: Some(pb::value::ValueType::ArrayValue(pb::ArrayValue::default())),
    };
    set_field(&w, &rel, "handles", none).await;
    let mut n = NewTask::new(TaskType::Research, Priority::Normal, "refused, then run");
    n.requester.id = "alice".into();
    let id = tasks::create(&alice, n)
        .await
        .expect("alice creates")
        .task_id;

    // A third claim is sent only once the second was answered: the first
    // two were both refused, and the task is untouched.
    let deadline = Instant::now() + Duration::from_secs(30);
    while store.counters().snapshot().claim_attempts < 3 {
        assert!(
            Instant::now() < deadline,
            "the refused claim was never tried again"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let seen = w.read(&id).await.value;
    assert_eq!((seen.status, seen.lease.epoch), (Status::Queued, 0));

    set_field(&w, &rel, "handles", offered).await;
    let done = wait_task(&w.admin, &id, Duration::from_secs(30), "completed", |v| {
        v.value.status == Status::Completed
    })
    .await;
    assert_eq!(
        done.value.lease.epoch, 1,
        "claimed once, by the retry that landed"
    );
    stop.send(true).expect("the agent listens");
    let report = agent
        .await
        .expect("no panic")
        .expect("the agent stops cleanly");
    assert!(report.claim_conflicts >= 2, "{report:?}");
}

/// Sets one field of document `rel` as admin (as in the console).
async fn set_field(w: &World, rel: &str, field: &str, value: pb::Value) {
    let doc = pb::Document {
        name: w.admin.name(rel),
        fields: [(field.to_string(), value)].into(),
        ..Default::default()
    };
    let write = pb::Write {
        operation: Some(pb::write::Operation::Update(doc)),
        update_mask: Some(pb::DocumentMask {
            field_paths: vec![field.into()],
        }),
        ..Default::default()
    };
    w.admin.commit(vec![write]).await.expect("admin writes");
}
