//! `firestore.rules` for `vayu agent drain` (issue 16): `isDrainRequest`
//! and `drainKept`, one case per permission; and the CLI's answers.

mod common;
mod rules_support;

use firestore::gcloud_sdk::google::firestore::v1 as pb;
use rules_support::*;
use vayu::layout;
use vayu::model::{AgentDoc, AgentState, DrainRequest, now};
use vayu::store::{Precondition, Store, server_time, string_value};

fn doc_of(id: &str, incarnation: &str) -> AgentDoc {
    AgentDoc {
        agent_id: id.into(),
        status: Some(AgentState::Online),
        handles: vec!["*".into()],
        concurrency: 4,
        started_at: Some(now()),
        incarnation: incarnation.into(),
        hostname: "test".into(),
        version: "0.1.0".into(),
        heartbeat_ms: 1000,
        ..AgentDoc::default()
    }
}

/// A drain request as `Store::request_drain` writes it, with `by` and an
/// optional extra field `extra` in the map, and `also` more top-level
/// fields changed.
async fn drain_as(
    store: &Store,
    agent: &str,
    by: &str,
    extra: Option<(&str, pb::Value)>,
    also: &[(&str, pb::Value)],
) -> vayu::Result<pb::CommitResponse> {
    let mut map = std::collections::HashMap::from([("by".to_string(), string_value(by))]);
    if let Some((k, v)) = extra {
        map.insert(k.into(), v);
    }
    let mut fields = std::collections::HashMap::from([(
        "drain".to_string(),
        pb::Value {
            value_type: Some(pb::value::ValueType::MapValue(pb::MapValue { fields: map })),
        },
    )]);
    let mut paths = vec!["drain".to_string()];
    for (k, v) in also {
        fields.insert(k.to_string(), v.clone());
        paths.push(k.to_string());
    }
    store
        .commit(vec![pb::Write {
            operation: Some(pb::write::Operation::Update(pb::Document {
                name: store.name(&layout::agent_doc(agent)),
                fields,
                ..Default::default()
            })),
            update_mask: Some(pb::DocumentMask { field_paths: paths }),
            update_transforms: vec![server_time("drain.at")],
            current_document: Precondition::Exists.into_pb(),
        }])
        .await
}

async fn drain_of(w: &World, id: &str) -> Option<DrainRequest> {
    let doc = w.admin.get_agent(id).await.expect("admin reads");
    doc.expect("the agent has a document").drain
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_an_admin_asks_a_live_agent_to_drain_and_the_agent_keeps_the_request() {
    let w = World::new("rules-drain").await;
    let alice = w.human("alice").await;
    let vera = w.viewer("vera").await;
    let root = w.human_with_role("root", "admin").await;
    let a1 = w.agent("agent-1").await;
    let a2 = w.agent("agent-2").await;
    allowed(
        "an agent registers",
        a1.put_agent(&doc_of("agent-1", "i-1")),
    )
    .await;

    denied(
        "an operator drains an agent",
        drain_as(&alice, "agent-1", "alice", None, &[]),
    )
    .await;
    denied(
        "a viewer drains an agent",
        drain_as(&vera, "agent-1", "vera", None, &[]),
    )
    .await;
    denied(
        "another agent drains it",
        drain_as(&a2, "agent-1", "agent-2", None, &[]),
    )
    .await;
    denied(
        "an agent drains itself by the person's path",
        drain_as(&a1, "agent-1", "agent-1", None, &[]),
    )
    .await;
    denied(
        "a request naming someone else",
        drain_as(&root, "agent-1", "alice", None, &[]),
    )
    .await;
    denied(
        "a request with another field in it",
        drain_as(
            &root,
            "agent-1",
            "root",
            Some(("note", string_value("x"))),
            &[],
        ),
    )
    .await;
    denied(
        "a request that also changes the agent's status",
        drain_as(
            &root,
            "agent-1",
            "root",
            None,
            &[("status", string_value("offline"))],
        ),
    )
    .await;
    let mut forged = doc_of("agent-1", "i-1");
    forged.drain = Some(DrainRequest {
        by: "root".into(),
        at: Some(now()),
    });
    denied(
        "an agent writes a drain request of its own",
        a1.put_agent(&forged),
    )
    .await;
    assert!(drain_of(&w, "agent-1").await.is_none());

    allowed(
        "an admin drains a live agent",
        drain_as(&root, "agent-1", "root", None, &[]),
    )
    .await;
    let asked = drain_of(&w, "agent-1")
        .await
        .expect("the request is stored");
    assert_eq!(asked.by, "root");
    assert!(asked.at.is_some(), "the server's time");

    allowed(
        "the agent's heartbeat leaves the request as it is",
        a1.heartbeat_agent(&doc_of("agent-1", "i-1")),
    )
    .await;
    assert_eq!(drain_of(&w, "agent-1").await, Some(asked.clone()), "kept");
    let mut changed = doc_of("agent-1", "i-1");
    changed.drain = Some(DrainRequest {
        by: "agent-1".into(),
        ..asked.clone()
    });
    denied("the agent rewrites the request", a1.put_agent(&changed)).await;
    allowed(
        "a whole write drops it (an agent from before drain, or a new start)",
        a1.put_agent(&doc_of("agent-1", "i-2")),
    )
    .await;
    assert!(drain_of(&w, "agent-1").await.is_none());

    let mut gone = doc_of("agent-1", "i-2");
    gone.status = Some(AgentState::Offline);
    allowed("the agent goes offline", a1.heartbeat_agent(&gone)).await;
    denied(
        "a drain of an offline agent",
        drain_as(&root, "agent-1", "root", None, &[]),
    )
    .await;
    w.done("rules_drain");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_refuses_what_cannot_be_drained_and_writes_nothing() {
    let w = World::new("drain-cli").await;
    let out = w.vayu(&["agent", "drain", "--id", "nobody"]);
    assert_eq!(out.status.code(), Some(3), "an unknown agent is exit 3");
    let a1 = w.agent("agent-1").await;
    let mut offline = doc_of("agent-1", "i-1");
    offline.status = Some(AgentState::Offline);
    a1.put_agent(&offline)
        .await
        .expect("the agent writes its document");
    let out = w.vayu(&["agent", "drain", "--id", "agent-1"]);
    assert_eq!(out.status.code(), Some(4), "an offline agent is exit 4");
    assert!(
        drain_of(&w, "agent-1").await.is_none(),
        "nothing was written"
    );
    a1.put_agent(&doc_of("agent-1", "i-2"))
        .await
        .expect("the agent is back");
    let out = w.vayu_as("alice", &["agent", "drain", "--id", "agent-1"]);
    assert_eq!(
        out.status.code(),
        Some(5),
        "an operator is refused by the rules"
    );
    let out = w.vayu(&["--json", "agent", "drain", "--id", "agent-1"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(v["state"], "draining");
    assert!(drain_of(&w, "agent-1").await.is_some());

    // An agent from before drain writes its whole document and drops the
    // request: `--wait` says so instead of waiting for ever.
    let waiting = std::process::Command::new(env!("CARGO_BIN_EXE_vayu"))
        .args(["agent", "drain", "--id", "agent-1", "--wait"])
        .env("FIRESTORE_EMULATOR_HOST", &w.host)
        .env("VAYU_DATABASE", &w.db)
        .env("VAYU_PROJECT", PROJECT)
        .env_remove("VAYU_TOKEN")
        .env_remove("VAYU_IDENTITY")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("the vayu binary runs");
    tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    a1.put_agent(&doc_of("agent-1", "i-2"))
        .await
        .expect("an old agent's heartbeat lands");
    let out = tokio::task::spawn_blocking(move || waiting.wait_with_output())
        .await
        .expect("joins")
        .expect("the CLI ends");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(4), "{err}");
    assert!(err.contains("dropped the drain request"), "{err}");
}
