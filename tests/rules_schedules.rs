//! Issue 13, who may do what to a schedule under the rules (`match
//! /schedules`, `isNewSchedule`, `isPauseOrResume` in firestore.rules).
//! Each bypass is denied beside the allowed operation of the same shape:
//! - operators create their own schedules, with the commit's cursor and
//!   a template that makes a valid task; viewers, people without a role
//!   and agents do not;
//! - the creator or an admin person pauses, resumes and deletes it; a
//!   resume moves the cursor to now, never back, and changes nothing else.
//!
//! The ticks are `rules_schedule_ticks.rs`.

mod common;
mod rules_support;
mod schedules_support;

use firestore::gcloud_sdk::google::firestore::v1 as pb;
use jiff::Timestamp;
use rules_support::*;
use schedules_support::*;
use vayu::model::Time;
use vayu::schedules;
use vayu::store::{Precondition, pb_time};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operators_create_their_own_schedules_and_nobody_else_does() {
    let w = World::new("rules-sched-create").await;
    let new = |id: &str| new_schedule("alice", id, "0 3 * * *");
    let viewer = w.viewer("vera").await;
    denied(
        "a viewer creates a schedule",
        schedules::create(&viewer, new_schedule("vera", "v", "@daily")),
    )
    .await;
    let agent = w.agent("agent-1").await;
    denied(
        "an agent creates a schedule",
        schedules::create(&agent, new_schedule("agent-1", "a", "@daily")),
    )
    .await;
    let roleless = w.roleless("rolf").await;
    denied(
        "a person without a role creates a schedule",
        schedules::create(&roleless, new_schedule("rolf", "r", "@daily")),
    )
    .await;
    let alice = w.human("alice").await;
    denied(
        "an operator creates a schedule in another's name",
        schedules::create(&alice, new_schedule("bob", "b", "@daily")),
    )
    .await;
    let created = allowed(
        "an operator creates her schedule",
        schedules::create(&alice, new("ok")),
    )
    .await;
    let stored = schedules::find(&w.admin, "ok")
        .await
        .expect("stored")
        .schedule;
    assert_eq!(stored.template, created.template);
    assert!(stored.last_tick.is_some() && stored.next_tick.is_some());

    // Raw documents: the same one with one field wrong.
    let good = serde_json::to_value(&created).expect("serializes");
    let raw_with = |id: &str, times: &[&str], f: &dyn Fn(&mut serde_json::Value)| {
        let mut v = good.clone();
        v["schedule_id"] = serde_json::json!(id);
        for k in ["created_at", "updated_at", "last_tick", "next_tick"] {
            v.as_object_mut().expect("a map").remove(k);
        }
        f(&mut v);
        let rel = vayu::layout::schedule_doc(id);
        let mut wr = raw_write(&alice, &rel, &v, times, Precondition::Missing);
        if !times.contains(&"last_tick")
            && let Some(pb::write::Operation::Update(d)) = &mut wr.operation
        {
            let t = pb_time(Time(minutes_ago(60)));
            let value = pb::value::ValueType::TimestampValue(t);
            d.fields.insert(
                "last_tick".into(),
                pb::Value {
                    value_type: Some(value),
                },
            );
        }
        let alice = alice.clone();
        async move { alice.commit(vec![wr]).await.map(|_| ()) }
    };
    let times = ["created_at", "updated_at", "last_tick"];
    let raw = |id: &str, f: &dyn Fn(&mut serde_json::Value)| raw_with(id, &times, f);
    allowed("a raw create as vayu writes it", raw("raw", &|_| {})).await;
    denied(
        "a cron expression over 512 bytes",
        raw("c", &|v| v["cron"] = serde_json::json!("*".repeat(513))),
    )
    .await;
    denied(
        "a time zone name over 64 bytes",
        raw("z", &|v| v["tz"] = serde_json::json!("x".repeat(65))),
    )
    .await;
    denied(
        "an unknown catch-up policy",
        raw("p", &|v| v["catch_up"] = serde_json::json!("most")),
    )
    .await;
    allowed(
        "a template of type ci",
        raw("ci", &|v| v["template"]["type"] = serde_json::json!("ci")),
    )
    .await;
    denied(
        "a template of an unknown type",
        raw("t", &|v| {
            v["template"]["type"] = serde_json::json!("chores")
        }),
    )
    .await;
    denied(
        "a template with retries spent",
        raw("r", &|v| {
            v["template"]["metadata"]["retry_count"] = serde_json::json!(1)
        }),
    )
    .await;
    denied(
        "a template with a key a task has not",
        raw("k", &|v| {
            v["template"]["status"] = serde_json::json!("queued")
        }),
    )
    .await;
    denied(
        "an unknown key",
        raw("u", &|v| v["owner"] = serde_json::json!("alice")),
    )
    .await;
    denied(
        "a schedule id longer than 47",
        raw(&"l".repeat(48), &|_| {}),
    )
    .await;
    // A cursor of the client's choosing (not the commit's time): an hour
    // back would have its ticks created at once.
    let back = raw_with("back", &["created_at", "updated_at"], &|_| {});
    denied("a cursor an hour before the commit", back).await;
    w.done("operators_create_their_own_schedules_and_nobody_else_does");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_creator_or_an_admin_pauses_resumes_and_deletes() {
    let w = World::new("rules-sched-control").await;
    alices(&w, "mine").await;
    let bob = w.human("bob").await;
    let viewer = w.viewer("vera").await;
    let agent = w.agent("agent-1").await;
    let alice = w.human("alice").await;
    let admin = w.human_with_role("root", "admin").await;
    denied("another operator pauses it", schedules::pause(&bob, "mine")).await;
    denied("a viewer pauses it", schedules::pause(&viewer, "mine")).await;
    denied("an agent pauses it", schedules::pause(&agent, "mine")).await;
    allowed("its creator pauses it", schedules::pause(&alice, "mine")).await;
    denied(
        "another operator resumes it",
        schedules::resume(&bob, "mine"),
    )
    .await;
    let before = schedules::find(&w.admin, "mine").await.expect("exists");
    allowed(
        "an admin person resumes it",
        schedules::resume(&admin, "mine"),
    )
    .await;
    let after = schedules::find(&w.admin, "mine").await.expect("exists");
    let (b, a) = (
        before.schedule.last_tick.expect("a cursor"),
        after.schedule.last_tick.expect("a cursor"),
    );
    assert!(a > b, "resuming moved the cursor to now: {b} -> {a}");

    // A resume that moves the cursor back, or edits the template.
    allowed(
        "its creator pauses it again",
        schedules::pause(&alice, "mine"),
    )
    .await;
    let seen = schedules::find(&w.admin, "mine").await.expect("exists");
    let resume_to = |t: Timestamp| {
        let value = |t| pb::Value {
            value_type: Some(pb::value::ValueType::TimestampValue(pb_time(Time(t)))),
        };
        let doc = pb::Document {
            name: alice.name(&vayu::layout::schedule_doc("mine")),
            fields: [
                (
                    "paused".to_string(),
                    pb::Value {
                        value_type: Some(pb::value::ValueType::BooleanValue(false)),
                    },
                ),
                ("last_tick".to_string(), value(t)),
            ]
            .into_iter()
            .collect(),
            ..Default::default()
        };
        let write = pb::Write {
            operation: Some(pb::write::Operation::Update(doc)),
            update_mask: Some(pb::DocumentMask {
                field_paths: vec!["paused".into(), "last_tick".into()],
            }),
            update_transforms: vec![vayu::store::server_time("updated_at")],
            current_document: Precondition::UpdatedAt(seen.update_time).into_pb(),
        };
        let alice = alice.clone();
        async move { alice.commit(vec![write]).await.map(|_| ()) }
    };
    denied(
        "a resume that moves the cursor back",
        resume_to(minutes_ago(60)),
    )
    .await;
    let retitle = raw_write(
        &alice,
        &vayu::layout::schedule_doc("mine"),
        &serde_json::json!({"paused": false, "template": {"title": "other"}}),
        &["updated_at", "last_tick"],
        Precondition::UpdatedAt(seen.update_time),
    );
    let mut retitle = retitle;
    retitle.update_mask = Some(pb::DocumentMask {
        field_paths: vec!["paused".into(), "template.title".into(), "last_tick".into()],
    });
    denied("a resume that changes the template", async {
        alice.commit(vec![retitle]).await.map(|_| ())
    })
    .await;

    denied(
        "another operator deletes it",
        schedules::delete(&bob, "mine"),
    )
    .await;
    denied("an agent deletes it", schedules::delete(&agent, "mine")).await;
    allowed("its creator deletes it", schedules::delete(&alice, "mine")).await;
    w.done("the_creator_or_an_admin_pauses_resumes_and_deletes");
}
