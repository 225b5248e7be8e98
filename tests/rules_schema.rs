//! One schema (issue 10, classes 4–6): documents the agent could not
//! decode, numbers that would crash it and sizes that grow without limit
//! are refused by the rules; the same document in bounds is allowed.

mod common;
mod rules_support;

use rules_support::*;
use serde_json::{Value, json};
use vayu::layout::Pile;
use vayu::store::{Precondition, Store};

/// A create of `fields` (a whole task document) by `who`, paid for.
async fn create(who: &Store, id: &str, fields: &Value) -> vayu::Result<()> {
    let w = raw_write(
        who,
        &Pile::Queued.doc(id),
        fields,
        &["created_at", "updated_at"],
        Precondition::Missing,
    );
    commit_paying(who, id, vec![w]).await.map(|_| ())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_the_agent_cannot_decode_or_bound_is_refused() {
    let w = World::new("rules-schema").await;
    let alice = w.human("alice").await;
    let cases: Vec<(&str, &str, Value, Value)> = vec![
        (
            "requires holds a number",
            "/requires",
            json!([5]),
            json!(["gpu"]),
        ),
        (
            "tags hold a number",
            "/metadata/tags",
            json!([7]),
            json!(["nightly"]),
        ),
        (
            "blocked_by holds a map",
            "/dependencies/blocked_by",
            json!([{}]),
            json!([]),
        ),
        (
            "a double priority_rank",
            "/priority_rank",
            json!(2.0),
            json!(2),
        ),
        (
            "timeout_secs = i64::MAX",
            "/metadata/timeout_secs",
            json!(i64::MAX),
            json!(604_800),
        ),
        (
            "estimated_duration = 1e300",
            "/metadata/estimated_duration",
            json!(1e300),
            json!(30.0),
        ),
        (
            "a tag of 50,000 characters",
            "/metadata/tags",
            json!(["x".repeat(50_000)]),
            json!(["x".repeat(64)]),
        ),
        (
            "21 tags",
            "/metadata/tags",
            json!(vec!["t"; 21]),
            json!(vec!["t"; 20]),
        ),
        (
            // Dependents are found through waiters/; this list is only the
            // mark, at most one id at the create (a workflow's step, marked
            // by its first dependent), and the rules' create budget counts
            // on it.
            "blocking names two dependents",
            "/dependencies/blocking",
            json!(["someone-else", "another"]),
            json!([]),
        ),
        (
            "a capability with a comma",
            "/requires",
            json!(["gpu,tpu"]),
            json!(["gpu", "tpu"]),
        ),
    ];
    for (what, path, bad, good) in cases {
        let t = new_task("alice");
        let mut doc = task_json(&t);
        *doc.pointer_mut(path)
            .unwrap_or_else(|| panic!("{path} is in a task")) = bad;
        denied(
            &format!("a task whose {what}"),
            create(&alice, &t.task_id, &doc),
        )
        .await;
        *doc.pointer_mut(path).expect("checked above") = good;
        allowed(
            &format!("the same task in bounds ({what})"),
            create(&alice, &t.task_id, &doc),
        )
        .await;
        let stored = w.read(&t.task_id).await;
        assert_eq!(
            stored.pile,
            Pile::Queued,
            "what the rules accept decodes ({what})"
        );
    }
    w.done("schema");
}

/// The costliest create the rules must still judge: every list a new task
/// may fill, at its maximum.
/// It fits the 1,000 expressions a request may evaluate
/// (docs/security.md, "Expression budget"), and it decodes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_fullest_new_task_fits_the_rules_budget() {
    let w = World::new("rules-schema-full").await;
    let alice = w.human("alice").await;
    let t = new_task("alice");
    let mut doc = task_json(&t);
    let ids = |p: &str, n: usize| -> Vec<String> { (0..n).map(|i| format!("{p}-{i}")).collect() };
    doc["requires"] = json!(ids("cap", 20));
    doc["metadata"]["tags"] = json!(ids("tag", 20));
    doc["dependencies"]["blocked_by"] = json!(ids("dep", 50));
    doc["dependencies"]["on_failure"] = json!("run");
    // Marked by its first dependent, as a workflow's step may be.
    doc["dependencies"]["blocking"] = json!(["dep-51"]);
    doc["resource"] = json!({"name": "x".repeat(64), "permits": 1000});
    doc["dependencies"]["condition"] = json!(format!("dep-0.result == \"{}\"", "x".repeat(980)));
    // A task with dependencies starts blocked.
    doc["status"] = json!("blocked");
    doc["review"] = json!({"policy": "self+peer+user+tests", "rework": "same", "max_rounds": 10});
    allowed(
        "a new task with every list full",
        create(&alice, &t.task_id, &doc),
    )
    .await;
    assert_eq!(w.read(&t.task_id).await.value.requires.len(), 20);
    // The same, pushed to an agent (`--agent`), through the typed path
    // (the push's end is a timestamp).
    let mut full: vayu::model::Task = serde_json::from_value(doc).expect("a task");
    full.task_id = uuid::Uuid::new_v4().to_string();
    // Never marked at its create: only a workflow's steps are, and they
    // are never pushed.
    full.dependencies.blocking.clear();
    full.lane = vayu::spread::lane_for(&full.task_id);
    full.assignment.pushed_to = Some("a".repeat(128));
    full.assignment.push_until = Some(vayu::model::time_add(
        vayu::model::now(),
        std::time::Duration::from_secs(600),
    ));
    if std::env::var("NO_PUSH").is_ok() {
        full.assignment.pushed_to = None;
        full.assignment.push_until = None;
    }
    allowed(
        "the fullest new task, pushed to an agent",
        alice.create_task(&full),
    )
    .await;
    w.done("schema at its fullest");
}
