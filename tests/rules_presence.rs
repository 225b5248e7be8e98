//! `firestore.rules` for presence (issue 14): `presence/{id}`, an agent's
//! beat, written only by that agent in one closed shape; and a peer's
//! offline mark of `agents/{id}`, which now needs the presence beat to be
//! silent as well as the registration. One denied case per permission,
//! each beside the allowed operation of the same shape.

mod common;
mod rules_support;

use firestore::gcloud_sdk::google::firestore::v1 as pb;
use rules_support::*;
use serde_json::{Value, json};
use std::time::Duration;
use vayu::layout;
use vayu::model::{PresenceDoc, Time};
use vayu::store::{Precondition, Store};

/// A beat as `vayu-agent` writes it, every second, running nothing.
fn presence(id: &str) -> PresenceDoc {
    PresenceDoc {
        agent_id: id.into(),
        incarnation: uuid::Uuid::new_v4().to_string(),
        heartbeat_ms: 1000,
        cpu_usage: 1.0,
        memory_usage: 10.0,
        rss_mb: 20.0,
        ..PresenceDoc::default()
    }
}

/// The fields `Store::beat` writes (all but `beat_at`), as JSON to vary.
fn fields(id: &str) -> Value {
    let mut v = serde_json::to_value(presence(id)).expect("a presence serializes");
    v.as_object_mut()
        .expect("a struct serializes as an object")
        .remove("beat_at");
    v
}

/// `fields` written at `presence/{id}` as `store`, like `Store::beat`
/// (the server's time in `beat_at`), but past its types.
async fn raw_beat(store: &Store, id: &str, fields: &Value) -> vayu::Result<pb::CommitResponse> {
    let rel = layout::presence_doc(id);
    let w = raw_write(store, &rel, fields, &["beat_at"], Precondition::None);
    store.commit(vec![w]).await
}

/// `fields` with `beat_at` the client's `at` instead of the server's time.
async fn beat_at(
    store: &Store,
    id: &str,
    fields: &Value,
    at: Time,
) -> vayu::Result<pb::CommitResponse> {
    let rel = layout::presence_doc(id);
    let mut w = raw_write(store, &rel, fields, &[], Precondition::None);
    if let Some(pb::write::Operation::Update(d)) = &mut w.operation {
        let t = pb::value::ValueType::TimestampValue(vayu::store::pb_time(at));
        d.fields.insert(
            "beat_at".into(),
            pb::Value {
                value_type: Some(t),
            },
        );
    }
    store.commit(vec![w]).await
}

/// `fields(id)` with `key` set to `value` (`Value::Null`: removed).
fn with(id: &str, key: &str, value: Value) -> Value {
    let mut v = fields(id);
    let m = v.as_object_mut().expect("fields are an object");
    match value {
        Value::Null => m.remove(key),
        value => m.insert(key.into(), value),
    };
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_alone_writes_its_presence_in_one_shape() {
    let w = World::new("rules-presence").await;
    let a1 = w.agent("agent-1").await;
    let a2 = w.agent("agent-2").await;

    allowed("an agent's first beat", a1.beat(&presence("agent-1"))).await;
    allowed("an agent's next beat", a1.beat(&presence("agent-1"))).await;
    denied(
        "an agent beats in another agent's presence",
        a2.beat(&presence("agent-1")),
    )
    .await;
    for role in ["viewer", "operator", "reviewer", "admin"] {
        let person = w.human_with_role(role, role).await;
        denied(
            &format!("a person with role {role} writes a presence of their own uid"),
            person.beat(&presence(role)),
        )
        .await;
        denied(
            &format!("a person with role {role} writes an agent's presence"),
            person.beat(&presence("agent-1")),
        )
        .await;
    }
    let viewer = w.viewer("vera").await;
    let got = allowed("a member reads a presence", viewer.get_presence("agent-1")).await;
    assert_eq!(got.map(|p| p.agent_id).as_deref(), Some("agent-1"));
    denied(
        "a person without a role reads a presence",
        w.roleless("rolf").await.get_presence("agent-1"),
    )
    .await;
    let gone = w.admin.name(&layout::presence_doc("agent-1"));
    let delete = pb::Write {
        operation: Some(pb::write::Operation::Delete(gone)),
        ..Default::default()
    };
    denied("an agent deletes its presence", a1.commit(vec![delete])).await;

    // The shape, through raw writes; first the baseline they vary.
    allowed(
        "a raw beat as Store::beat writes it",
        raw_beat(&a1, "agent-1", &fields("agent-1")),
    )
    .await;
    let tasks = |n: usize| json!((0..n).map(|i| format!("task-{i}")).collect::<Vec<_>>());
    allowed(
        "a beat running 256 tasks",
        raw_beat(
            &a1,
            "agent-1",
            &with("agent-1", "current_tasks", tasks(256)),
        ),
    )
    .await;
    let bad = [
        ("an extra key", with("agent-1", "hostname", json!("h"))),
        ("a missing key", with("agent-1", "busy", Value::Null)),
        (
            "another agent's id",
            with("agent-1", "agent_id", json!("agent-2")),
        ),
        (
            "an interval under 50 ms",
            with("agent-1", "heartbeat_ms", json!(49)),
        ),
        (
            "an interval over an hour",
            with("agent-1", "heartbeat_ms", json!(3_600_001)),
        ),
        (
            "257 current tasks",
            with("agent-1", "current_tasks", tasks(257)),
        ),
        (
            "a current task that is no id",
            with("agent-1", "current_tasks", json!([5])),
        ),
        ("busy not a bool", with("agent-1", "busy", json!("yes"))),
        (
            "a 65-character incarnation",
            with("agent-1", "incarnation", json!("i".repeat(65))),
        ),
        (
            "a negative count",
            with("agent-1", "failed_count", json!(-1)),
        ),
        (
            "a cpu usage not a number",
            with("agent-1", "cpu_usage", json!("1")),
        ),
    ];
    for (case, doc) in bad {
        denied(
            &format!("a beat with {case}"),
            raw_beat(&a1, "agent-1", &doc),
        )
        .await;
    }
    denied(
        "a beat at the client's time, not the server's",
        beat_at(&a1, "agent-1", &fields("agent-1"), at(-10)),
    )
    .await;
    w.done("an_agent_alone_writes_its_presence_in_one_shape");
}

/// `agents/{id}` as stored, read by admin.
async fn registration(w: &World, id: &str) -> pb::Document {
    let name = w.admin.name(&layout::agent_doc(id));
    let docs = w.admin.batch_get(vec![name]).await.expect("admin reads");
    docs.into_iter()
        .flatten()
        .next()
        .expect("the agent is registered")
}

/// The stored beat of `presence/{id}`.
async fn beat_of(w: &World, id: &str) -> Time {
    let p = w.admin.get_presence(id).await.expect("admin reads");
    p.and_then(|p| p.beat_at).expect("the agent beat")
}

/// The ids of the events stored.
async fn event_ids(w: &World) -> Vec<String> {
    let docs = w.admin.run_query("", layout::EVENTS, None, vec![], None);
    let docs = docs.await.expect("admin reads");
    let id = |d: &pb::Document| d.name.rsplit('/').next().unwrap_or_default().to_string();
    docs.iter().map(id).collect()
}

fn offline_event_id(agent: &str, beat: Time) -> String {
    format!("{agent}-agent_offline-{}", beat.0.as_millisecond())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_watcher_marks_offline_only_an_agent_silent_in_both_documents() {
    let w = World::new("rules-presence-offline").await;
    let watcher = w.agent("watcher").await;
    let ids = [
        "live",
        "gone",
        "gone-2",
        "slow-beat",
        "old-version",
        "fresh",
        "rolled-back",
        "typed",
    ];
    for id in ids {
        w.register(id, &[], &["*"]).await;
    }
    for id in ["live", "gone", "gone-2", "slow-beat", "rolled-back"] {
        let mut p = presence(id);
        if id == "slow-beat" {
            p.heartbeat_ms = 10_000;
        }
        let agent = w.unregistered_agent(id).await;
        agent
            .beat(&p)
            .await
            .expect("an agent beats in its presence");
    }
    // A presence typed into the console, past the rules: no beat in it.
    let typed = with("typed", "beat_at", json!("yesterday"));
    let rel = layout::presence_doc("typed");
    let write = raw_write(&w.admin, &rel, &typed, &[], Precondition::None);
    w.admin
        .commit(vec![write])
        .await
        .expect("admin writes anything");
    // Two of the registrations' (and most presences') 1 s beats missed.
    tokio::time::sleep(Duration::from_millis(2_500)).await;

    let live = w.unregistered_agent("live").await;
    live.beat(&presence("live")).await.expect("the agent beats");
    denied(
        "a watcher marks offline an agent whose registration is old but whose beat is fresh",
        watcher.mark_agent_offline(&registration(&w, "live").await, None),
    )
    .await;
    denied(
        "a watcher marks offline an agent silent for two of its registration's intervals \
         but not two of its presence's",
        watcher.mark_agent_offline(&registration(&w, "slow-beat").await, None),
    )
    .await;
    w.register("fresh", &[], &["*"]).await;
    denied(
        "a watcher marks offline an agent with no presence and a fresh registration",
        watcher.mark_agent_offline(&registration(&w, "fresh").await, None),
    )
    .await;
    w.register("rolled-back", &[], &["*"]).await;
    denied(
        "a watcher marks offline an agent whose presence is stale but whose registration \
         is fresh (rolled back to a version that beats there)",
        watcher.mark_agent_offline(&registration(&w, "rolled-back").await, None),
    )
    .await;
    let root = w.human_with_role("root", "admin").await;
    denied(
        "an admin person marks a silent agent offline",
        root.mark_agent_offline(&registration(&w, "gone").await, None),
    )
    .await;

    let beat = beat_of(&w, "gone").await;
    allowed(
        "a watcher marks offline an agent silent in its registration and its presence",
        watcher.mark_agent_offline(&registration(&w, "gone").await, Some(beat)),
    )
    .await;
    let old = registration(&w, "old-version").await;
    allowed(
        "a watcher marks offline an agent of an older version: no presence, an old registration",
        watcher.mark_agent_offline(&old, None),
    )
    .await;
    let typed = registration(&w, "typed").await;
    allowed(
        "a watcher marks offline an agent whose presence has no beat and whose registration is old",
        watcher.mark_agent_offline(&typed, None),
    )
    .await;
    // A key naming no beat of the agent: the rules refuse the event, and
    // `commit_noting` commits the mark alone (no event for gone-2 below).
    let seen = registration(&w, "gone-2").await;
    let beat2 = beat_of(&w, "gone-2").await;
    let wrong = vayu::model::time_add(beat2, Duration::from_millis(1));
    allowed(
        "an offline mark whose event is keyed by no beat of the agent lands alone",
        watcher.mark_agent_offline(&seen, Some(wrong)),
    )
    .await;

    // Each mark's event, keyed by the beat it names, made in its commit.
    let registered = |d: &pb::Document| {
        let t = d.fields["last_heartbeat"].value_type.clone();
        match t {
            Some(pb::value::ValueType::TimestampValue(t)) => {
                Time::from_parts(t.seconds, t.nanos).expect("a stored time is in range")
            }
            other => panic!("a registration's heartbeat is a time: {other:?}"),
        }
    };
    let mut got = event_ids(&w).await;
    got.sort();
    let mut want = vec![
        offline_event_id("gone", beat),
        offline_event_id("old-version", registered(&old)),
        offline_event_id("typed", registered(&typed)),
    ];
    want.sort();
    assert_eq!(
        got, want,
        "one event per mark, keyed by a beat of the agent"
    );
    for id in ["gone", "gone-2", "old-version", "typed"] {
        let status = registration(&w, id).await.fields["status"].clone();
        assert_eq!(status, vayu::store::string_value("offline"), "{id}");
    }
    for id in ["live", "slow-beat", "fresh", "rolled-back"] {
        let status = registration(&w, id).await.fields["status"].clone();
        assert_eq!(status, vayu::store::string_value("online"), "{id}");
    }
    w.done("a_watcher_marks_offline_only_an_agent_silent_in_both_documents");
}
