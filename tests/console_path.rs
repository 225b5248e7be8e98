//! Issue 10, the console path: a person types a minimal document (a title,
//! perhaps a type) into `tasks/queued/queued_tasks` in the Firebase
//! console. With several agents, each listening to its own lanes only, one
//! of them must still find it, make a task of it and run it; a draft that
//! cannot be fixed must be quarantined and shown, not ignored. And the
//! rules for that fix (`isNormalise`), each beside a denied case of the
//! same shape.

mod common;
mod rules_support;

use common::fleet::{fast_agent, get_raw, put_raw, shell, string_value, wait_completed};
use rules_support::*;
use serde_json::Value;
use std::collections::HashMap;
use std::process::Command;
use std::time::{Duration, Instant};
use vayu::agent::{self, AgentReport};
use vayu::console::{self, Draft};
use vayu::layout::{self, Pile};
use vayu::model::{RequesterType, TaskType};
use vayu::store::Store;

type Fields = HashMap<String, firestore::gcloud_sdk::google::firestore::v1::Value>;

fn draft_fields(pairs: &[(&str, &str)]) -> Fields {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), string_value(v)))
        .collect()
}

/// Runs three agents under the rules, each signed in as itself, until
/// `stop` is sent.
async fn three_agents(
    w: &World,
) -> (
    tokio::sync::watch::Sender<bool>,
    Vec<tokio::task::JoinHandle<vayu::Result<AgentReport>>>,
) {
    common::fleet::trace_from_env();
    let (stop, rx) = tokio::sync::watch::channel(false);
    let mut handles = Vec::new();
    for id in ["console-a", "console-b", "console-c"] {
        let store = w.unregistered_agent(id).await;
        let mut rx = rx.clone();
        handles.push(tokio::spawn(agent::run(
            store,
            fast_agent(id, shell("true")),
            async move {
                let _ = rx.wait_for(|s| *s).await;
            },
        )));
    }
    (stop, handles)
}

/// Waits until every agent's document says it is online, so that the
/// lanes are split three ways and no agent sees the whole queue.
async fn wait_for_peers(admin: &Store, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while admin.list_agents().await.map(|a| a.len()).unwrap_or(0) < n {
        assert!(Instant::now() < deadline, "{n} agents never came online");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Two heartbeats: every agent has seen the others and re-listened.
    tokio::time::sleep(Duration::from_secs(1)).await;
}

async fn wait_quarantined(admin: &Store, id: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while get_raw(admin, &layout::quarantine_doc(id)).await.is_none() {
        assert!(Instant::now() < deadline, "{id} was never quarantined");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn vayu(w: &World, args: &[&str]) -> Value {
    let out = Command::new(env!("CARGO_BIN_EXE_vayu"))
        .args(args)
        .env("FIRESTORE_EMULATOR_HOST", &w.host)
        .env("VAYU_DATABASE", &w.db)
        .env_remove("FIREBASE_AUTH_EMULATOR_HOST")
        .env_remove("VAYU_PROJECT")
        .env_remove("VAYU_TOKEN")
        .env_remove("VAYU_IDENTITY")
        .output()
        .expect("the vayu binary runs");
    assert!(
        out.status.success(),
        "vayu {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("--json prints JSON")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_minimal_console_document_runs_with_three_agents() {
    let w = World::new("console-path").await;
    let (stop, agents) = three_agents(&w).await;
    wait_for_peers(&w.admin, 3).await;

    // What a person types: a title and a type; then one with a title only.
    let typed = "typed-by-hand";
    put_raw(
        &w.admin,
        &Pile::Queued.doc(typed),
        draft_fields(&[("title", "summarise the meeting"), ("type", "research")]),
    )
    .await;
    let bare = "title-only";
    put_raw(
        &w.admin,
        &Pile::Queued.doc(bare),
        draft_fields(&[("title", "just a title")]),
    )
    .await;
    // And one nobody can fix without guessing: an unknown type.
    let unfixable = "unknown-type";
    put_raw(
        &w.admin,
        &Pile::Queued.doc(unfixable),
        draft_fields(&[("title", "tidy up"), ("type", "chores")]),
    )
    .await;

    let done = wait_completed(&w.admin, typed, Duration::from_secs(60)).await;
    assert_eq!(done.value.title, "summarise the meeting");
    assert_eq!(done.value.task_type, TaskType::Research);
    assert_eq!(done.value.requester.kind, RequesterType::System);
    assert_eq!(done.value.requester.id, "console");
    assert!(done.value.created_at.is_some(), "the server set created_at");
    let done = wait_completed(&w.admin, bare, Duration::from_secs(60)).await;
    assert_eq!(
        done.value.task_type,
        TaskType::UserRequest,
        "the default type"
    );

    wait_quarantined(&w.admin, unfixable).await;
    let listed = vayu(&w, &["--json", "quarantine", "list"]);
    let row = listed
        .as_array()
        .and_then(|rows| rows.iter().find(|r| r["task_id"] == unfixable))
        .unwrap_or_else(|| panic!("quarantine list shows {unfixable}: {listed}"));
    let reason = row["reason"].as_str().unwrap_or_default();
    assert!(
        reason.contains("chores"),
        "the reason names the bad type: {reason}"
    );
    // `task list` shows it too, with the reason, instead of dropping it.
    let tasks = vayu(&w, &["--json", "task", "list"]);
    let shown = tasks["tasks"]
        .as_array()
        .and_then(|rows| rows.iter().find(|r| r["task_id"] == unfixable))
        .unwrap_or_else(|| panic!("task list shows {unfixable}: {tasks}"));
    assert_eq!(shown["status"], "quarantined");
    assert_eq!(shown["reason"], row["reason"]);

    let _ = stop.send(true);
    for a in agents {
        a.await
            .expect("the agent task ends")
            .expect("the agent stops cleanly");
    }
}

/// The draft at `id` as an agent reads it, and the task it becomes.
async fn seeded_draft(
    w: &World,
    id: &str,
    fields: Fields,
) -> (
    firestore::gcloud_sdk::google::firestore::v1::Document,
    vayu::model::Task,
) {
    put_raw(&w.admin, &Pile::Queued.doc(id), fields).await;
    let doc = get_raw(&w.admin, &Pile::Queued.doc(id))
        .await
        .expect("just written");
    let draft: Draft = Store::decode_draft(&doc).expect("a draft");
    let task = console::normalise(id, draft).expect("a fixable draft");
    (doc, task)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_rules_let_only_an_agent_make_a_task_of_a_draft_as_typed() {
    let w = World::new("console-rules").await;
    let agent = w.agent("fixer").await;
    let olga = w.human("olga").await;
    let fields = || draft_fields(&[("title", "as typed"), ("priority", "high")]);

    let (doc, task) = seeded_draft(&w, "by-a-person", fields()).await;
    denied(
        "an operator normalises a draft",
        olga.normalise(&doc, &task),
    )
    .await;

    let (doc, mut task) = seeded_draft(&w, "retitled", fields()).await;
    task.title = "not what was typed".into();
    denied("the fix changes the title", agent.normalise(&doc, &task)).await;

    let (doc, mut task) = seeded_draft(&w, "reprioritised", fields()).await;
    task.priority = vayu::model::Priority::Low;
    task.priority_rank = 3;
    denied("the fix changes the priority", agent.normalise(&doc, &task)).await;

    let (doc, mut task) = seeded_draft(&w, "claimed-in-passing", fields()).await;
    task.requester.id = "fixer".into();
    denied(
        "the fix names another requester",
        agent.normalise(&doc, &task),
    )
    .await;

    let mut extra = fields();
    extra.insert("lane".into(), common::fleet::int_value(3));
    put_raw(&w.admin, &Pile::Queued.doc("not-a-draft"), extra).await;
    let doc = get_raw(&w.admin, &Pile::Queued.doc("not-a-draft"))
        .await
        .expect("just written");
    let (_, task) = seeded_draft(&w, "shape-donor", fields()).await;
    let mut task = task;
    task.task_id = "not-a-draft".into();
    denied(
        "a document with keys beyond a draft",
        agent.normalise(&doc, &task),
    )
    .await;
    // ...which an agent may quarantine instead (nothing stays stuck).
    allowed(
        "an agent quarantines what is not a draft",
        agent.quarantine(&doc, "keys beyond a draft", "fixer"),
    )
    .await;

    let (doc, task) = seeded_draft(&w, "as-typed", fields()).await;
    allowed(
        "an agent makes a task of the draft as typed",
        agent.normalise(&doc, &task),
    )
    .await;
    let fixed = w.read("as-typed").await;
    assert_eq!(fixed.value.title, "as typed");
    assert_eq!(fixed.value.priority_rank, 1);
    denied(
        "a second fix of the same draft",
        agent.normalise(&doc, &task),
    )
    .await;

    // A bare draft (none of a task's keys) can be quarantined: the rule
    // names its defect (`draft`) rather than erroring on missing keys.
    put_raw(
        &w.admin,
        &Pile::Queued.doc("bare"),
        draft_fields(&[("title", "")]),
    )
    .await;
    let doc = get_raw(&w.admin, &Pile::Queued.doc("bare"))
        .await
        .expect("just written");
    allowed(
        "an agent quarantines an empty draft",
        agent.quarantine(&doc, "the title is empty", "fixer"),
    )
    .await;
    w.done("console rules");
}
