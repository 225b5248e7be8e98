//! `firestore.rules` on the real emulator: who may start, cancel and read
//! a workflow run (`workflows/{run_id}`, `isWorkflowRun`,
//! `isWorkflowCancel`), and the shape a run must have. Each denied case
//! sits beside the allowed operation of the same shape. See
//! `tests/rules.rs` for how cases are counted.

mod common;
mod rules_support;

use rules_support::*;
use serde_json::{Value, json};
use vayu::layout;
use vayu::store::{Precondition, Store};
use vayu::workflow::WorkflowRun;

const SPEC: &str = "name: ship\ninputs:\n  - name: what\nsteps:\n  - id: build\n    title: Build {{inputs.what}}\n    type: maintenance\n    input: build {{inputs.what}}\n  - id: check\n    title: Check it\n    type: maintenance\n    after: [build]\n    input: \"check {{steps.build.result}}\"\n";

/// A run of the two-step SPEC started by `by`, as `vayu workflow run`
/// makes it (not yet written).
fn new_run(by: &str) -> WorkflowRun {
    let spec = vayu::workflows::parse_spec(SPEC, "yaml").expect("a valid spec");
    let id = uuid::Uuid::new_v4().to_string();
    let given = [("what".to_string(), "the app".to_string())].into();
    vayu::workflow::prepare(&spec, &id, &given, by)
        .expect("it prepares")
        .0
}

/// A hand-made change to a run's document (given its id).
type Change = dyn Fn(&mut Value, &str);

/// The run as a raw document, for hand-made variants.
fn run_json(run: &WorkflowRun) -> Value {
    serde_json::to_value(run).expect("a run serializes")
}

/// Creates `doc` at `workflows/{id}` with a server `started_at`, paying
/// for it from the caller's quota when `pay` says so.
async fn create_raw(store: &Store, id: &str, doc: &Value, paying: bool) -> vayu::Result<()> {
    let rel = layout::workflow_doc(id);
    let w = raw_write(store, &rel, doc, &["started_at"], Precondition::Missing);
    if paying {
        commit_paying(store, id, vec![w]).await.map(|_| ())
    } else {
        store.commit(vec![w]).await.map(|_| ())
    }
}

/// A cancel of `id` that writes `fields` (masked to their names) and a
/// server `cancelled_at`, as `Store::cancel_workflow` does for the state
/// and the canceller.
async fn update_raw(store: &Store, id: &str, fields: Value) -> vayu::Result<()> {
    let rel = layout::workflow_doc(id);
    let mut w = raw_write(
        store,
        &rel,
        &fields,
        &["cancelled_at"],
        Precondition::Exists,
    );
    let names = fields.as_object().expect("an object").keys().cloned();
    w.update_mask = Some(firestore::gcloud_sdk::google::firestore::v1::DocumentMask {
        field_paths: names.collect(),
    });
    store.commit(vec![w]).await.map(|_| ())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operators_and_agents_start_runs_others_do_not() {
    let w = World::new("rules-wf-create").await;
    let olga = w.human("olga").await;
    let agent = w.agent("agent-1").await;
    allowed(
        "an operator starts a run",
        olga.create_workflow(&new_run("olga")),
    )
    .await;
    allowed(
        "an agent starts a run",
        agent.create_workflow(&new_run("agent-1")),
    )
    .await;
    let vera = w.viewer("vera").await;
    let nobody = w.roleless("nobody").await;
    let out = w.signed_out().await;
    for (who, store, uid) in [
        ("a viewer", &vera, "vera"),
        ("a person without a role", &nobody, "nobody"),
    ] {
        let case = format!("{who} starts a run");
        denied(&case, store.create_workflow(&new_run(uid))).await;
    }
    let run = new_run("nobody");
    denied(
        "a client that is not signed in starts a run",
        create_raw(&out, &run.run_id, &run_json(&run), false),
    )
    .await;
    let run = new_run("olga");
    denied(
        "an operator starts a run without paying for it",
        create_raw(&olga, &run.run_id, &run_json(&run), false),
    )
    .await;
    denied(
        "an operator starts a run in someone else's name",
        olga.create_workflow(&new_run("alice")),
    )
    .await;
    w.done("workflow create");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_has_the_shape_and_bounds_of_the_model() {
    let w = World::new("rules-wf-shape").await;
    let olga = w.human("olga").await;
    let run = new_run("olga");
    allowed(
        "a run made by hand as the CLI makes it",
        create_raw(&olga, &run.run_id, &run_json(&run), true),
    )
    .await;
    // The bounds themselves pass: 100 steps, 64 KiB of input values.
    let run = new_run("olga");
    let mut doc = run_json(&run);
    let hundred: Vec<String> = (0..100).map(|i| format!("s{i}")).collect();
    let ids: Vec<String> = (hundred.iter())
        .map(|s| format!("{}-{s}", run.run_id))
        .collect();
    (doc["steps"], doc["task_ids"]) = (json!(hundred), json!(ids));
    doc["inputs"] = json!({"a": "x".repeat(40_000), "b": "y".repeat(25_536)});
    allowed(
        "a run of 100 steps with 64 KiB of inputs",
        create_raw(&olga, &run.run_id, &doc, true),
    )
    .await;
    let many: Vec<String> = (0..101).map(|i| format!("s{i}")).collect();
    let cases: Vec<(&str, Box<Change>)> = vec![
        ("an unknown field", Box::new(|d, _| d["extra"] = json!(1))),
        (
            "state cancelled at the start",
            Box::new(|d, _| d["state"] = json!("cancelled")),
        ),
        (
            "a run_id other than the document id",
            Box::new(|d, _| d["run_id"] = json!("other")),
        ),
        (
            "a name with a space",
            Box::new(|d, _| d["name"] = json!("a b")),
        ),
        (
            "a 2,001-byte description",
            Box::new(|d, _| d["description"] = json!("d".repeat(2001))),
        ),
        (
            "no steps",
            Box::new(|d, _| {
                d["steps"] = json!([]);
                d["task_ids"] = json!([]);
            }),
        ),
        (
            "101 steps",
            Box::new(move |d, id| {
                d["steps"] = json!(many);
                let ids: Vec<String> = many.iter().map(|s| format!("{id}-{s}")).collect();
                d["task_ids"] = json!(ids);
            }),
        ),
        (
            "a step id with a '-'",
            Box::new(|d, id| {
                d["steps"] = json!(["a-b"]);
                d["task_ids"] = json!([format!("{id}-a-b")]);
            }),
        ),
        (
            "a step twice",
            Box::new(|d, id| {
                d["steps"] = json!(["a", "a"]);
                d["task_ids"] = json!([format!("{id}-a"), format!("{id}-a")]);
            }),
        ),
        (
            "a task id that is not the run's step",
            Box::new(|d, _| {
                d["task_ids"] = json!(["x-build", "x-check"]);
            }),
        ),
        (
            "task ids in another order",
            Box::new(|d, id| {
                d["task_ids"] = json!([format!("{id}-check"), format!("{id}-build")]);
            }),
        ),
        (
            "an input name with a '-'",
            Box::new(|d, _| d["inputs"] = json!({"a-b": "x"})),
        ),
        (
            "33 inputs",
            Box::new(|d, _| {
                let m: serde_json::Map<String, Value> =
                    (0..33).map(|i| (format!("i{i}"), json!("x"))).collect();
                d["inputs"] = Value::Object(m);
            }),
        ),
        (
            "inputs over 64 KiB together",
            Box::new(|d, _| {
                d["inputs"] = json!({"a": "x".repeat(40_000), "b": "y".repeat(30_000)});
            }),
        ),
        (
            "a list as an input value",
            Box::new(|d, _| d["inputs"] = json!({"a": ["x"]})),
        ),
    ];
    for (what, change) in cases {
        let run = new_run("olga");
        let mut doc = run_json(&run);
        change(&mut doc, &run.run_id);
        let case = format!("a run with {what}");
        denied(&case, create_raw(&olga, &run.run_id, &doc, true)).await;
    }
    // `started_at` as the client's time, not the server's.
    let run = new_run("olga");
    let mut doc = run_json(&run);
    doc["started_at"] = json!("2026-01-01T00:00:00Z");
    let rel = layout::workflow_doc(&run.run_id);
    let write = raw_write(&olga, &rel, &doc, &[], Precondition::Missing);
    denied(
        "a run whose start time is the client's",
        commit_paying(&olga, &run.run_id, vec![write]),
    )
    .await;
    w.done("workflow shape");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_starter_or_an_admin_cancels_and_nothing_else_changes() {
    let w = World::new("rules-wf-cancel").await;
    let olga = w.human("olga").await;
    let other = w.human("oscar").await;
    let root = w.human_with_role("root", "admin").await;
    let agent = w.agent("agent-1").await;
    let vera = w.viewer("vera").await;
    let start = |store: &Store, by: &str| {
        let run = new_run(by);
        let store = store.clone();
        async move {
            store
                .create_workflow(&run)
                .await
                .expect("the starter starts it");
            let seen = store.workflow(&run.run_id).await.expect("a read");
            seen.expect("it exists")
        }
    };
    let seen = start(&olga, "olga").await;
    for (who, store, uid) in [
        ("another operator", &other, "oscar"),
        ("an agent", &agent, "agent-1"),
        ("a viewer", &vera, "vera"),
    ] {
        let case = format!("{who} cancels olga's run");
        denied(&case, store.cancel_workflow(&seen, uid)).await;
    }
    denied(
        "olga cancels in someone else's name",
        olga.cancel_workflow(&seen, "oscar"),
    )
    .await;
    let id = seen.run.run_id.clone();
    for (what, fields) in [
        (
            "changes the inputs",
            json!({"state": "cancelled", "cancelled_by": "olga", "inputs": {}}),
        ),
        (
            "changes the steps",
            json!({"state": "cancelled", "cancelled_by": "olga", "steps": ["build"]}),
        ),
        (
            "sets another state",
            json!({"state": "done", "cancelled_by": "olga"}),
        ),
        ("changes the name only", json!({"name": "renamed"})),
    ] {
        let case = format!("olga's cancel {what}");
        denied(&case, update_raw(&olga, &id, fields)).await;
    }
    allowed("olga cancels her run", olga.cancel_workflow(&seen, "olga")).await;
    let again = (olga.workflow(&id).await).expect("a read").expect("exists");
    assert_eq!(again.run.cancelled_by.as_deref(), Some("olga"));
    assert!(again.run.cancelled_at.is_some());
    denied(
        "olga runs her cancelled run again",
        update_raw(
            &olga,
            &id,
            json!({"state": "running", "cancelled_by": "olga"}),
        ),
    )
    .await;
    denied(
        "olga cancels her run twice",
        olga.cancel_workflow(&again, "olga"),
    )
    .await;
    let agents_run = start(&agent, "agent-1").await;
    allowed(
        "an agent cancels its own run",
        agent.cancel_workflow(&agents_run, "agent-1"),
    )
    .await;
    let oscars = start(&other, "oscar").await;
    allowed(
        "an admin cancels anyone's run",
        root.cancel_workflow(&oscars, "root"),
    )
    .await;
    // vayu never deletes a run; a raw delete:
    let gone = firestore::gcloud_sdk::google::firestore::v1::Write {
        operation: Some(
            firestore::gcloud_sdk::google::firestore::v1::write::Operation::Delete(
                olga.name(&layout::workflow_doc(&id)),
            ),
        ),
        ..Default::default()
    };
    denied("olga deletes her run", olga.commit(vec![gone])).await;
    w.done("workflow cancel");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn members_read_runs_and_others_do_not() {
    let w = World::new("rules-wf-read").await;
    let olga = w.human("olga").await;
    let run = new_run("olga");
    olga.create_workflow(&run).await.expect("olga starts it");
    for (who, store) in [
        ("a viewer", w.viewer("vera").await),
        ("an agent", w.agent("agent-1").await),
        ("another operator", w.human("oscar").await),
    ] {
        let case = format!("{who} reads a run");
        let found = allowed(&case, store.workflow(&run.run_id)).await;
        assert!(found.is_some(), "{who}");
    }
    for (who, store) in [
        ("a person without a role", w.roleless("nobody").await),
        ("a client that is not signed in", w.signed_out().await),
    ] {
        let case = format!("{who} reads a run");
        denied(&case, store.workflow(&run.run_id)).await;
        denied(&format!("{who} lists runs"), store.list_workflows(10)).await;
    }
    w.done("workflow read");
}
