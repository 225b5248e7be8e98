//! `firestore.rules` for alerts (issue 16, src/notify): `events/{id}`,
//! created only by an agent in the commit of the change it reports, and
//! `notify/{hook_id}`, added and removed by admins, whose cursor agents
//! only move forward. One denied case per permission, each beside the
//! allowed operation of the same shape.

mod common;
mod rules_support;

use rules_support::*;
use serde_json::json;
use vayu::layout;
use vayu::lifecycle::Status;
use vayu::model::{Lease, Task, now};
use vayu::notify::hooks::{self, NewHook};
use vayu::notify::{Event, Kind};
use vayu::store::{Precondition, Store, Versioned};

/// `seen` (held by agent-1) ended as a failed attempt: the dead letter
/// when `dead`, else queued for a retry; and the path it takes.
fn failed(seen: &Task, dead: bool) -> (Task, Vec<Status>) {
    let mut t = seen.clone();
    t.execution.last_error = Some("boom".into());
    t.execution.finished_at = Some(now());
    t.metadata.retry_count += 1;
    t.lease = Lease {
        owner: None,
        expires_at: None,
        epoch: seen.lease.epoch,
    };
    t.record(Status::Failed, now(), Some("agent-1"), Some("boom".into()));
    if dead {
        t.status = Status::Failed;
        return (t, vec![Status::Failed]);
    }
    t.status = Status::Queued;
    t.assignment.primary_agent = None;
    t.record(Status::Queued, now(), Some("agent-1"), None);
    (t, vec![Status::Failed, Status::Queued])
}

async fn event_exists(w: &World, id: &str) -> bool {
    let doc = w.admin.get_doc(&layout::event_doc(id)).await;
    doc.expect("admin reads").is_some()
}

/// A running task with `max_retries`, held by agent-1 at epoch 1.
async fn running(w: &World, max_retries: i64) -> Versioned<Task> {
    let mut t = claimed_by(&new_task("alice"), "agent-1", 1);
    t.metadata.max_retries = max_retries;
    t.lease.expires_at = Some(at(30));
    w.seed(&t).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_commit_of_a_failure_creates_its_event() {
    let w = World::new("rules-events").await;
    let a1 = w.agent("agent-1").await;
    let alice = w.human("alice").await;

    // A retried failure: its event rides with the move.
    let held = running(&w, 3).await;
    let (next, path) = failed(&held.value, false);
    let ev = Event::of_task(Kind::Failed, &next);
    let mut wrong = ev.clone();
    wrong.key = "e9".into();
    denied(
        "a failure's event keyed by another epoch",
        a1.replace_task(
            &held,
            &next,
            &path,
            vec![a1.event_write(&wrong).expect("encodes")],
        ),
    )
    .await;
    let mut wrong = ev.clone();
    wrong.kind = Kind::Dead;
    denied(
        "a retried failure reported as a dead letter",
        a1.replace_task(
            &held,
            &next,
            &path,
            vec![a1.event_write(&wrong).expect("encodes")],
        ),
    )
    .await;
    allowed(
        "the retried failure with its event",
        a1.replace_task(
            &held,
            &next,
            &path,
            vec![a1.event_write(&ev).expect("encodes")],
        ),
    )
    .await;
    assert!(event_exists(&w, "{}-failed-e1".replace("{}", &next.task_id).as_str()).await);

    // A dead letter: likewise.
    let held = running(&w, 0).await;
    let (next, path) = failed(&held.value, true);
    let ev = Event::of_task(Kind::Dead, &next);
    allowed(
        "a dead letter with its event",
        a1.replace_task(
            &held,
            &next,
            &path,
            vec![a1.event_write(&ev).expect("encodes")],
        ),
    )
    .await;
    assert!(event_exists(&w, &ev.id()).await, "{} was written", ev.id());

    // Made again (a commit whose answer was lost): the event is there.
    refused(
        "the same event created again",
        a1.commit(vec![a1.event_write(&ev).expect("encodes")]),
    )
    .await;
    // Evidence: the change must be in the same commit.
    admin_delete_event(&w, &ev.id()).await;
    denied(
        "an agent's dead-letter event without the dead letter in its commit",
        a1.commit(vec![a1.event_write(&ev).expect("encodes")]),
    )
    .await;
    denied(
        "a person creates an event",
        alice.commit(vec![alice.event_write(&ev).expect("encodes")]),
    )
    .await;
    let q = running(&w, 3).await;
    let mut bogus = Event::of_task(Kind::Dead, &q.value);
    bogus.subject = q.value.task_id.clone();
    denied(
        "an agent reports a dead letter of a running task",
        a1.commit(vec![a1.event_write(&bogus).expect("encodes")]),
    )
    .await;
    w.done("only_the_commit_of_a_failure_creates_its_event");
}

async fn admin_delete_event(w: &World, id: &str) {
    (delete_event(&w.admin, &layout::event_doc(id)).await).expect("admin deletes");
}

async fn delete_event(
    s: &Store,
    rel: &str,
) -> vayu::Result<firestore::gcloud_sdk::google::firestore::v1::CommitResponse> {
    use firestore::gcloud_sdk::google::firestore::v1 as pb;
    let write = pb::Write {
        operation: Some(pb::write::Operation::Delete(s.name(rel))),
        ..Default::default()
    };
    s.commit(vec![write]).await
}

/// A raw event document at `id` with `fields`, `at` the commit's time.
fn raw_event(
    store: &Store,
    id: &str,
    fields: serde_json::Value,
) -> Vec<firestore::gcloud_sdk::google::firestore::v1::Write> {
    vec![raw_write(
        store,
        &layout::event_doc(id),
        &fields,
        &["at"],
        Precondition::Missing,
    )]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_have_one_shape_and_are_never_changed() {
    let w = World::new("rules-events-shape").await;
    let a1 = w.agent("agent-1").await;
    let vera = w.viewer("vera").await;
    let nobody = w.roleless("nobody").await;
    let root = w.human_with_role("root", "admin").await;
    let alice = w.human("alice").await;

    // A quarantine move carries its event (src/store/quarantining.rs).
    let qid = w.quarantined(json!({"priority": 7})).await;
    let events = w
        .admin
        .run_query("", layout::EVENTS, None, vec![], None)
        .await
        .expect("admin reads");
    let name = events
        .iter()
        .map(|d| d.name.rsplit('/').next().unwrap_or_default().to_string())
        .find(|n| n.starts_with(&format!("{qid}-quarantined-")))
        .expect("the quarantine move wrote its event");

    let shape =
        |kind: &str, key: &str| json!({"kind": kind, "subject": qid, "key": key, "detail": "d"});
    denied(
        "an event of an unknown kind",
        a1.commit(raw_event(
            &a1,
            &format!("{qid}-exploded-1"),
            shape("exploded", "1"),
        )),
    )
    .await;
    denied(
        "an event whose id is not subject-kind-key",
        a1.commit(raw_event(&a1, "some-other-id", shape("quarantined", "2"))),
    )
    .await;
    let mut extra = shape("quarantined", "3");
    extra["note"] = json!("x");
    denied(
        "an event with a field of its own",
        a1.commit(raw_event(&a1, &format!("{qid}-quarantined-3"), extra)),
    )
    .await;
    denied(
        "a quarantine event with no quarantine move in its commit",
        a1.commit(raw_event(
            &a1,
            &format!("{qid}-quarantined-4"),
            shape("quarantined", "4"),
        )),
    )
    .await;
    let rel = layout::event_doc(&name);
    allowed("a viewer reads an event", vera.get_doc(&rel)).await;
    denied(
        "a person without a role reads an event",
        nobody.get_doc(&rel),
    )
    .await;
    denied("an agent changes an event", scribble(&a1, &rel)).await;
    denied("an operator deletes an event", delete_event(&alice, &rel)).await;
    denied("an agent deletes an event", delete_event(&a1, &rel)).await;
    allowed(
        "an admin person deletes an event",
        delete_event(&root, &rel),
    )
    .await;
    w.done("events_have_one_shape_and_are_never_changed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_marked_offline_makes_one_event() {
    let w = World::new("rules-events-offline").await;
    let a2 = w.agent("agent-2").await;
    w.register("agent-1", &[], &["*"]).await;
    let name = w.admin.name(&layout::agent_doc("agent-1"));
    let early = w
        .admin
        .batch_get(vec![name.clone()])
        .await
        .expect("admin reads");
    let early = early.into_iter().flatten().next().expect("registered");
    let hb = vayu::model::Time::from_parts(
        early.update_time.expect("stored").seconds,
        early.update_time.expect("stored").nanos,
    );
    let fake = Event::agent_offline("agent-1", hb.expect("in range"));
    denied(
        "an agent reports a live peer offline",
        a2.commit(vec![a2.event_write(&fake).expect("encodes")]),
    )
    .await;
    // Two of its declared heartbeats (1 s) missed.
    tokio::time::sleep(std::time::Duration::from_millis(2_500)).await;
    allowed(
        "a silent peer marked offline",
        a2.mark_agent_offline(&early, None),
    )
    .await;
    let events = w
        .admin
        .run_query("", layout::EVENTS, None, vec![], None)
        .await
        .expect("admin reads");
    let ids: Vec<&str> = events
        .iter()
        .map(|d| d.name.rsplit('/').next().unwrap_or_default())
        .collect();
    assert_eq!(ids.len(), 1, "one event: {ids:?}");
    assert!(ids[0].starts_with("agent-1-agent_offline-"), "{ids:?}");
    // Offline already (a clean shutdown, a drain, or the mark above): no
    // commit of this one makes it so, so no event, however well formed.
    let gone = (w.admin.batch_get(vec![name]).await).expect("admin reads");
    let gone = gone.into_iter().flatten().next().expect("still there");
    let at = gone
        .fields
        .get("last_heartbeat")
        .and_then(|v| match &v.value_type {
            Some(
                firestore::gcloud_sdk::google::firestore::v1::value::ValueType::TimestampValue(t),
            ) => vayu::model::Time::from_parts(t.seconds, t.nanos),
            _ => None,
        });
    let again = Event::agent_offline("agent-1", at.expect("a heartbeat time"));
    // The same id as the first event: delete that one, so that only the
    // evidence can refuse this.
    let first = firestore::gcloud_sdk::google::firestore::v1::Write {
        operation: Some(
            firestore::gcloud_sdk::google::firestore::v1::write::Operation::Delete(
                events[0].name.clone(),
            ),
        ),
        ..Default::default()
    };
    w.admin.commit(vec![first]).await.expect("admin deletes");
    denied(
        "an agent reports an agent that is offline already",
        a2.commit(vec![a2.event_write(&again).expect("encodes")]),
    )
    .await;
    w.done("a_peer_marked_offline_makes_one_event");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admins_add_hooks_and_agents_only_move_their_cursor_forward() {
    let w = World::new("rules-hooks").await;
    let root = w.human_with_role("root", "admin").await;
    let alice = w.human("alice").await;
    let a1 = w.agent("agent-1").await;
    let vera = w.viewer("vera").await;
    let new = |by: &str| NewHook {
        url: "http://127.0.0.1:9/hook".into(),
        on: "dead,failed".into(),
        created_by: by.into(),
    };
    denied(
        "an operator adds a webhook",
        hooks::add(&alice, &new("alice")),
    )
    .await;
    denied("an agent adds a webhook", hooks::add(&a1, &new("agent-1"))).await;
    denied(
        "an admin adds a webhook in another's name",
        hooks::add(&root, &new("alice")),
    )
    .await;
    let bad_url = |url: &str| {
        let doc = json!({"hook_id": "h1", "url": url, "on": ["dead"], "created_by": "root",
                         "cursor_id": "", "failures": 0});
        raw_write(
            &root,
            &layout::hook_doc("h1"),
            &doc,
            &["created_at", "cursor_at"],
            Precondition::Missing,
        )
    };
    for url in ["ftp://example.com/x", "http:///x", "http://exa mple.com"] {
        denied(
            &format!("a webhook to {url:?}"),
            root.commit(vec![bad_url(url)]),
        )
        .await;
    }
    let hook = allowed("an admin adds a webhook", hooks::add(&root, &new("root"))).await;
    let rel = layout::hook_doc(&hook.hook_id);
    denied(
        "a viewer reads a webhook (its URL may hold a secret)",
        vera.get_doc(&rel),
    )
    .await;
    let seen = allowed("an agent reads a webhook", hooks::get(&a1, &hook.hook_id))
        .await
        .expect("the hook exists");

    // An event after the cursor, as a dead letter writes it.
    let held = running(&w, 0).await;
    let (next, path) = failed(&held.value, true);
    let ev = Event::of_task(Kind::Dead, &next);
    a1.replace_task(
        &held,
        &next,
        &path,
        vec![a1.event_write(&ev).expect("encodes")],
    )
    .await
    .expect("a dead letter with its event");
    let stored = w
        .admin
        .get_doc(&layout::event_doc(&ev.id()))
        .await
        .expect("reads");
    let stored: Event = Store::decode(&stored.expect("written")).expect("an event");
    let at = stored.at.expect("the commit's time");

    denied(
        "an agent moves the cursor to an event that does not exist",
        hooks::advance(&a1, &seen, at, "no-such-event"),
    )
    .await;
    let before = seen.hook.cursor_at.expect("set at create");
    denied(
        "an agent moves the cursor back",
        hooks::advance(
            &a1,
            &seen,
            vayu::model::Time(before.0 - jiff::SignedDuration::from_secs(60)),
            &ev.id(),
        ),
    )
    .await;
    denied(
        "a person moves the cursor",
        hooks::advance(&root, &seen, at, &ev.id()),
    )
    .await;
    allowed(
        "an agent notes a failed delivery",
        hooks::note_failure(&a1, &seen, "HTTP 500"),
    )
    .await;
    let seen = hooks::get(&a1, &hook.hook_id)
        .await
        .expect("reads")
        .expect("exists");
    assert_eq!(seen.hook.failures, 1);
    let mut skipped = seen.clone();
    skipped.hook.failures += 1;
    denied(
        "an agent counts two failures as one",
        hooks::note_failure(&a1, &skipped, "x"),
    )
    .await;
    allowed(
        "an agent moves the cursor to the event it delivered",
        hooks::advance(&a1, &seen, at, &ev.id()),
    )
    .await;
    let seen = hooks::get(&a1, &hook.hook_id)
        .await
        .expect("reads")
        .expect("exists");
    assert_eq!(
        (seen.hook.cursor_id.as_str(), seen.hook.failures),
        (ev.id().as_str(), 0)
    );
    assert_eq!(seen.hook.last_error, None);
    denied(
        "an agent moves the cursor to where it is",
        hooks::advance(&a1, &seen, at, &ev.id()),
    )
    .await;
    denied(
        "an agent changes a webhook's URL",
        a1.commit(vec![raw_write(
            &a1,
            &rel,
            &json!({"url": "http://evil/"}),
            &[],
            Precondition::Exists,
        )]),
    )
    .await;
    denied(
        "an operator removes a webhook",
        hooks::remove(&alice, &hook.hook_id),
    )
    .await;
    denied(
        "an agent removes a webhook",
        hooks::remove(&a1, &hook.hook_id),
    )
    .await;
    allowed(
        "an admin removes a webhook",
        hooks::remove(&root, &hook.hook_id),
    )
    .await;
    w.done("admins_add_hooks_and_agents_only_move_their_cursor_forward");
}
