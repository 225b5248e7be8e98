//! Issue 13, schedule ticks under the rules (`isTickTask`, `isCursorMove`
//! in firestore.rules). Each bypass is denied beside the allowed operation
//! of the same shape: an agent creates a tick's task only in the commit
//! that moves that schedule's cursor past the tick, only as the template
//! says, and only while the schedule runs; a cursor only moves forward,
//! and not past the server's time; nobody else creates a tick's id, and
//! a tick whose task moved on cannot be created again.

mod common;
mod rules_support;
mod schedules_support;

use jiff::Timestamp;
use rules_support::*;
use schedules_support::*;
use std::sync::atomic::{AtomicUsize, Ordering};
use vayu::schedules;
use vayu::store::quota;

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
/// the largest input and a review plan. Its create (reads: the active and
/// completed piles, the schedule before and after the commit, the quota
/// window; 4 documents) and the cursor move fit the 1,000 expressions of
/// one commit.
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

/// A tick sent in a minute's last moments pays into the window that has
/// just closed by the time it arrives, and the rules refuse it: they judge
/// the window by the server's minute. CI saw a schedule lose a tick this
/// way (tests/schedules_cost.rs, "tick 7: one task", 0 created).
/// `quota::commit_in_window` sends such a commit again in the new window;
/// a refusal with no minute crossed stands.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tick_that_crosses_a_minute_is_paid_in_the_new_window() {
    let w = World::new("rules-sched-straddle").await;
    let seen = alices(&w, "straddle").await;
    let tick = plus_min(seen.schedule.last_tick.expect("a cursor").0, 1);
    let task = seen.schedule.task_at(tick);
    let agent = w.agent("agent-1").await;
    let build = |minute| step_writes(&agent, &seen, Some(&task), tick, minute);

    // A clock that stays in the closed minute: the refusal stands.
    let stopped = || quota::clock() - 1;
    denied(
        "a tick paid into the window before the server's minute",
        quota::commit_in_window(&agent, stopped, build),
    )
    .await;
    let found = w.admin.find_task(&task.task_id).await.expect("reads");
    assert!(found.is_none(), "the refused tick wrote nothing");

    // The clock crosses the minute between the send and the refusal.
    let calls = AtomicUsize::new(0);
    let crossing = || quota::clock() - i64::from(calls.fetch_add(1, Ordering::SeqCst) == 0);
    allowed(
        "the same tick, sent again in the new window",
        quota::commit_in_window(&agent, crossing, build),
    )
    .await;
    assert_eq!(calls.load(Ordering::SeqCst), 2, "the clock was read twice");
    assert_eq!(w.read(&task.task_id).await.value.requester.id, "alice");
    w.done("a_tick_that_crosses_a_minute_is_paid_in_the_new_window");
}
