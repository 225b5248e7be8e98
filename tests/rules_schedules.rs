//! Issue 13, schedules under the rules (`match /schedules`, `isTickTask`,
//! `isCursorMove`, `isPauseOrResume` in firestore.rules). Each bypass is
//! denied beside the allowed operation of the same shape:
//! - operators create their own schedules, with the commit's cursor and
//!   a template that makes a valid task; viewers and agents do not;
//! - the creator or an admin person pauses, resumes and deletes it;
//! - an agent creates a tick's task only in the commit that moves that
//!   schedule's cursor past the tick, only as the template says, and only
//!   while the schedule runs; a cursor only moves forward, and not past
//!   the server's time; nobody else creates a tick's id.

mod common;
mod rules_support;

use firestore::gcloud_sdk::google::firestore::v1 as pb;
use jiff::{SignedDuration, Timestamp};
use rules_support::*;
use vayu::cron::CatchUp;
use vayu::model::{Priority, Task, TaskType, Time};
use vayu::schedules::{self, NewSchedule, Seen};
use vayu::store::{Precondition, Store, pb_time};
use vayu::tasks::NewTask;

/// The start of the minute `n` minutes before now.
fn minutes_ago(n: i64) -> Timestamp {
    let now = Timestamp::now().as_second();
    Timestamp::from_second(now - now.rem_euclid(60) - n * 60).expect("a recent time")
}

fn new_schedule(owner: &str, id: &str, cron: &str) -> NewSchedule {
    let mut task = NewTask::new(TaskType::Maintenance, Priority::High, "nightly check");
    task.requester.id = owner.into();
    task.requires = vec!["gpu".into()];
    NewSchedule {
        id: Some(id.into()),
        cron: cron.into(),
        tz: "Europe/Berlin".into(),
        catch_up: CatchUp::One,
        task,
    }
}

/// Sets the schedule's cursor as admin, as if it had been made at `t`.
async fn rewind(w: &World, id: &str, t: Timestamp) {
    let mut fields = std::collections::HashMap::new();
    fields.insert(
        "last_tick".to_string(),
        pb::Value {
            value_type: Some(pb::value::ValueType::TimestampValue(pb_time(Time(t)))),
        },
    );
    let doc = pb::Document {
        name: w.admin.name(&vayu::layout::schedule_doc(id)),
        fields,
        ..Default::default()
    };
    let write = pb::Write {
        operation: Some(pb::write::Operation::Update(doc)),
        update_mask: Some(pb::DocumentMask {
            field_paths: vec!["last_tick".into()],
        }),
        ..Default::default()
    };
    w.admin.commit(vec![write]).await.expect("admin writes");
}

/// Alice's every-minute schedule `id`, its cursor five minutes back.
async fn alices(w: &World, id: &str) -> Seen {
    let alice = w.human("alice").await;
    allowed(
        "an operator creates her schedule",
        schedules::create(&alice, new_schedule("alice", id, "* * * * *")),
    )
    .await;
    rewind(w, id, minutes_ago(5)).await;
    schedules::find(&w.admin, id).await.expect("it exists")
}

/// One evaluation step as `who` sends it: `task` (paid for) if any, and
/// the cursor moved to `cursor`, conditioned on `seen`.
async fn step(
    who: &Store,
    seen: &Seen,
    task: Option<&Task>,
    cursor: Timestamp,
) -> vayu::Result<()> {
    let mut writes = match task {
        Some(t) => who.new_task_writes(t)?,
        None => Vec::new(),
    };
    let id = &seen.schedule.schedule_id;
    writes.push(schedules::cursor_write(
        who,
        id,
        Time(cursor),
        None,
        seen.update_time,
    ));
    who.commit(writes).await.map(|_| ())
}

fn plus_min(t: Timestamp, n: i64) -> Timestamp {
    t.checked_add(SignedDuration::from_mins(n))
        .expect("in range")
}

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ticks_task_comes_only_with_its_cursor_move() {
    let w = World::new("rules-sched-tick").await;
    let seen = alices(&w, "tick").await;
    let s = &seen.schedule;
    let cursor = s.last_tick.expect("a cursor").0;
    let tick = plus_min(cursor, 1);
    let task = s.task_at(tick);
    let agent = w.agent("agent-1").await;
    // The template requires gpu: the claim below checks the claimer's.
    w.register("agent-1", &["gpu"], &["*"]).await;
    let alice = w.human("alice").await;

    // The task alone, or with a cursor that does not pass the tick.
    let alone = async {
        let writes = agent.new_task_writes(&task)?;
        agent.commit(writes).await.map(|_| ())
    };
    denied(
        "an agent creates a tick's task without moving the cursor",
        alone,
    )
    .await;
    denied(
        "an agent creates a tick's task moving the cursor short of it",
        step(&agent, &seen, Some(&task), plus_min(cursor, 0)),
    )
    .await;
    denied(
        "an agent moves the cursor past the server's time",
        step(&agent, &seen, None, plus_min(Timestamp::now(), 2)),
    )
    .await;
    let mut retitled = task.clone();
    retitled.title = "something else".into();
    denied(
        "an agent creates a tick's task that is not the template",
        step(&agent, &seen, Some(&retitled), tick),
    )
    .await;
    let mut mine = task.clone();
    mine.requester.id = "agent-1".into();
    denied(
        "an agent creates a tick's task in its own name",
        step(&agent, &seen, Some(&mine), tick),
    )
    .await;
    let theirs = async {
        let mut t = task.clone();
        t.requester.id = "alice".into();
        let writes = alice.new_task_writes(&t)?;
        alice.commit(writes).await.map(|_| ())
    };
    denied("a person creates a task under a tick's id", theirs).await;
    denied("a person moves the cursor", step(&alice, &seen, None, tick)).await;

    allowed(
        "an agent creates the tick's task moving the cursor to it",
        step(&agent, &seen, Some(&task), tick),
    )
    .await;
    let created = w.read(&task.task_id).await;
    assert_eq!(created.value.requester.id, "alice");

    // Claimed and moved on: the same commit from the old version is
    // refused by its precondition, and from the new one by the rules
    // (the cursor would not move forward).
    claim(&agent, &created, "agent-1")
        .await
        .expect("the agent claims it");
    refused(
        "a late agent creates the tick again from its old read",
        step(&agent, &seen, Some(&task), tick),
    )
    .await;
    let now = schedules::find(&w.admin, "tick").await.expect("exists");
    denied(
        "a late agent creates the tick again from the new version",
        step(&agent, &now, Some(&task), tick),
    )
    .await;
    denied(
        "an agent moves the cursor back",
        step(&agent, &now, None, cursor),
    )
    .await;
    allowed(
        "an agent passes a tick over (skip)",
        step(&agent, &now, None, plus_min(tick, 1)),
    )
    .await;

    // Paused: no tick, no cursor move.
    allowed("alice pauses it", schedules::pause(&alice, "tick")).await;
    let paused = schedules::find(&w.admin, "tick").await.expect("exists");
    let next = plus_min(tick, 2);
    denied(
        "an agent ticks a paused schedule",
        step(&agent, &paused, Some(&s.task_at(next)), next),
    )
    .await;
    denied(
        "an agent moves a paused schedule's cursor",
        step(&agent, &paused, None, next),
    )
    .await;
    w.done("a_ticks_task_comes_only_with_its_cursor_move");
}

/// The costliest tick the rules judge: a template with every list full,
/// the largest input and a review plan. Its create (the three piles, the
/// schedule before and after, the quota window: 6 reads) and the cursor
/// move fit the 1,000 expressions of one commit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_fullest_tick_fits_the_rules_budget() {
    let w = World::new("rules-sched-full").await;
    let alice = w.human("alice").await;
    let mut new = new_schedule("alice", "full", "* * * * *");
    new.task.requires = (0..20).map(|i| format!("cap-{i}")).collect();
    new.task.tags = (0..20).map(|i| format!("tag-{i}")).collect();
    new.task.input = "i".repeat(65_536);
    new.task.max_retries = Some(20);
    new.task.timeout_secs = Some(604_800);
    new.task.estimated_minutes = Some(10_080.0);
    new.task.review = Some("self+peer+user+tests".parse().expect("a policy"));
    new.task.rework = Some(vayu::model::Rework::Same);
    new.task.review_rounds = Some(10);
    new.task.title = "t".repeat(500);
    allowed("the fullest schedule", schedules::create(&alice, new)).await;
    rewind(&w, "full", minutes_ago(3)).await;
    let seen = schedules::find(&w.admin, "full").await.expect("exists");
    let tick = plus_min(seen.schedule.last_tick.expect("a cursor").0, 1);
    let agent = w.agent("agent-1").await;
    let task = seen.schedule.task_at(tick);
    allowed("the fullest tick", step(&agent, &seen, Some(&task), tick)).await;
    assert_eq!(w.read(&task.task_id).await.value.requires.len(), 20);
    w.done("the_fullest_tick_fits_the_rules_budget");
}
