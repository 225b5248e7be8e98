//! Issue 13, dependencies under the rules (`isUnblock`, `isDepCancel`,
//! `depsDone` in firestore.rules). Each bypass is denied beside the
//! allowed operation of the same shape:
//! - a blocked task is queued only when every dependency is recorded as
//!   ended, by a person as much as by an agent;
//! - a dependency is recorded only when its document says it ended (and
//!   failed or cancelled ones only under `--on-dep-failure run`), only if
//!   it is one of the task's, and only once;
//! - a blocked task is cancelled for a dependency only when that one
//!   failed or was cancelled and the policy is `cancel`;
//! - a new task with dependencies starts blocked, with distinct ones and
//!   nothing recorded, and a condition needs dependencies;
//! - a conditional task is skipped only with every dependency recorded,
//!   and nothing else changes (`isConditionSkip`);
//! - a waiters entry names a blocked task that waits for that task, is
//!   added one at a time, and is never removed (`/waiters/`);
//! - a dependency's `blocking` mark names one blocked task that waits for
//!   it, once, in the queued or active pile, and changes nothing else; its
//!   holder keeps it (`isBlockingMark`).

mod common;
mod rules_support;

use rules_support::*;
use vayu::lifecycle::Status;
use vayu::model::{Task, now};
use vayu::store::{Precondition, Store, Versioned};

/// A task of alice's in `status` (seeded in its pile).
async fn task_in(w: &World, status: Status) -> Versioned<Task> {
    let mut t = new_task("alice");
    t.status = status;
    w.seed(&t).await
}

/// A blocked task of alice's waiting for `deps`, under `policy`.
async fn blocked_on(w: &World, deps: &[&Versioned<Task>], policy: Option<&str>) -> Versioned<Task> {
    let mut t = new_task("alice");
    t.status = Status::Blocked;
    t.dependencies.blocked_by = deps.iter().map(|d| d.value.task_id.clone()).collect();
    t.dependencies.on_failure = policy.map(str::to_string);
    w.seed(&t).await
}

/// What `vayu::deps::settle` writes: `ids` recorded, queued when `queue`.
fn record(seen: &Task, ids: &[&Versioned<Task>], queue: bool) -> Task {
    let mut t = seen.clone();
    (t.dependencies.done).extend(ids.iter().map(|d| d.value.task_id.clone()));
    if queue {
        t.status = Status::Queued;
        t.record(
            Status::Queued,
            now(),
            Some("agent-1"),
            Some("every dependency ended".into()),
        );
    }
    t
}

fn cancel_for(seen: &Task, dep: &Versioned<Task>) -> Task {
    let mut t = seen.clone();
    t.status = Status::Cancelled;
    t.dependencies.failed = Some(dep.value.task_id.clone());
    t.record(
        Status::Cancelled,
        now(),
        Some("agent-1"),
        Some("dependency failed".into()),
    );
    t
}

async fn write(store: &Store, seen: &Versioned<Task>, t: &Task) -> vayu::Result<()> {
    raw_replace(store, seen, t, vec![]).await.map(|_| ())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_blocked_task_is_queued_only_when_every_dependency_ended() {
    let w = World::new("rules-deps-queue").await;
    let alice = w.human("alice").await;
    let agent = w.agent("agent-1").await;
    let done = task_in(&w, Status::Completed).await;
    let running = task_in(&w, Status::Queued).await;
    let failed = task_in(&w, Status::Failed).await;
    let stranger = task_in(&w, Status::Completed).await;

    let seen = blocked_on(&w, &[&done, &running], None).await;
    let t = &seen.value;
    denied(
        "the requester queues a task whose dependency has not ended",
        write(&alice, &seen, &record(t, &[], true)),
    )
    .await;
    denied(
        "an agent records a dependency that has not ended",
        write(&agent, &seen, &record(t, &[&running], false)),
    )
    .await;
    denied(
        "an agent records a task that is not a dependency",
        write(&agent, &seen, &record(t, &[&stranger], false)),
    )
    .await;
    denied(
        "an agent records a dependency and queues the task with another pending",
        write(&agent, &seen, &record(t, &[&done], true)),
    )
    .await;
    allowed(
        "an agent records the dependency that completed",
        write(&agent, &seen, &record(t, &[&done], false)),
    )
    .await;
    let seen = w.read(&t.task_id).await;
    denied(
        "an agent records the same dependency twice",
        write(&agent, &seen, &record(&seen.value, &[&done], false)),
    )
    .await;

    // Every dependency ended: the requester may queue it herself.
    let ready = blocked_on(&w, &[&done], None).await;
    allowed(
        "the requester records the last dependency and queues the task",
        write(&alice, &ready, &record(&ready.value, &[&done], true)),
    )
    .await;
    assert_eq!(
        w.read(&ready.value.task_id).await.value.status,
        Status::Queued
    );

    // A failed dependency counts as ended only under `run`.
    let strict = blocked_on(&w, &[&failed], None).await;
    denied(
        "an agent records a failed dependency of a task that cancels on failure",
        write(&agent, &strict, &record(&strict.value, &[&failed], true)),
    )
    .await;
    let lenient = blocked_on(&w, &[&failed], Some("run")).await;
    allowed(
        "an agent records a failed dependency of a task that runs anyway",
        write(&agent, &lenient, &record(&lenient.value, &[&failed], true)),
    )
    .await;
    w.done("a_blocked_task_is_queued_only_when_every_dependency_ended");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_blocked_task_is_cancelled_only_for_a_dependency_that_failed() {
    let w = World::new("rules-deps-cancel").await;
    let agent = w.agent("agent-1").await;
    let done = task_in(&w, Status::Completed).await;
    let failed = task_in(&w, Status::Failed).await;
    let cancelled = task_in(&w, Status::Cancelled).await;

    let seen = blocked_on(&w, &[&done, &failed], None).await;
    denied(
        "an agent cancels a task naming a dependency that completed",
        write(&agent, &seen, &cancel_for(&seen.value, &done)),
    )
    .await;
    allowed(
        "an agent cancels a task whose dependency failed",
        write(&agent, &seen, &cancel_for(&seen.value, &failed)),
    )
    .await;
    assert_eq!(
        w.read(&seen.value.task_id).await.value.status,
        Status::Cancelled
    );

    let runs = blocked_on(&w, &[&cancelled], Some("run")).await;
    denied(
        "an agent cancels a task that runs whatever its dependencies did",
        write(&agent, &runs, &cancel_for(&runs.value, &cancelled)),
    )
    .await;
    w.done("a_blocked_task_is_cancelled_only_for_a_dependency_that_failed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_task_with_dependencies_starts_blocked() {
    let w = World::new("rules-deps-new").await;
    let alice = w.human("alice").await;
    let dep = task_in(&w, Status::Completed).await;
    let id = dep.value.task_id.clone();
    let create = |t: &Task| {
        let v = task_json(t);
        let rel = vayu::layout::Pile::Queued.doc(&t.task_id);
        let put = raw_write(
            &alice,
            &rel,
            &v,
            &["created_at", "updated_at"],
            Precondition::Missing,
        );
        let (alice, tid) = (alice.clone(), t.task_id.clone());
        async move { commit_paying(&alice, &tid, vec![put]).await }
    };
    let mut queued = new_task("alice");
    queued.dependencies.blocked_by = vec![id.clone()];
    denied("a new task with a dependency, queued", create(&queued)).await;
    let mut twice = new_task("alice");
    twice.status = Status::Blocked;
    twice.dependencies.blocked_by = vec![id.clone(), id.clone()];
    denied("a new task with a dependency listed twice", create(&twice)).await;
    let mut recorded = new_task("alice");
    recorded.status = Status::Blocked;
    recorded.dependencies.blocked_by = vec![id.clone()];
    recorded.dependencies.done = vec![id.clone()];
    denied(
        "a new task with its dependency already recorded",
        create(&recorded),
    )
    .await;
    let mut unfounded = new_task("alice");
    unfounded.dependencies.condition = Some("A.result == 1".into());
    denied(
        "a new task with a condition and no dependency",
        create(&unfounded),
    )
    .await;
    // A workflow's step that later steps wait for is created marked with
    // its first dependent (src/workflows/mod.rs `premark`): one id.
    let mut marked_twice = new_task("alice");
    marked_twice.dependencies.blocking = vec!["s2".into(), "s3".into()];
    denied("a new task marked by two dependents", create(&marked_twice)).await;
    let mut marked_odd = task_json(&new_task("alice"));
    marked_odd["dependencies"]["blocking"] = serde_json::json!([7]);
    let odd_id = marked_odd["task_id"]
        .as_str()
        .expect("a task id")
        .to_string();
    let put = raw_write(
        &alice,
        &vayu::layout::Pile::Queued.doc(&odd_id),
        &marked_odd,
        &["created_at", "updated_at"],
        Precondition::Missing,
    );
    denied(
        "a new task marked with a number",
        commit_paying(&alice, &odd_id, vec![put]),
    )
    .await;
    let mut premarked = new_task("alice");
    premarked.dependencies.blocking = vec!["s2".into()];
    allowed(
        "a new task marked by its first dependent",
        create(&premarked),
    )
    .await;
    let mut ok = new_task("alice");
    ok.status = Status::Blocked;
    ok.dependencies.condition = Some(format!("{id}.result == 1"));
    ok.dependencies.blocked_by = vec![id];
    ok.dependencies.on_failure = Some("run".into());
    allowed("a new blocked task with a dependency", create(&ok)).await;
    w.done("a_new_task_with_dependencies_starts_blocked");
}

/// What `vayu::deps::settle` writes for an unmet condition.
fn skip(seen: &Task) -> Task {
    let mut t = seen.clone();
    t.status = Status::Skipped;
    t.record(
        Status::Skipped,
        now(),
        Some("agent-1"),
        Some("condition not met".into()),
    );
    t
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_conditional_task_is_skipped_only_once_its_dependencies_ended() {
    let w = World::new("rules-deps-skip").await;
    let agent = w.agent("agent-1").await;
    let viewer = w.viewer("victor").await;
    let done = task_in(&w, Status::Completed).await;
    let conditional = |recorded: bool| {
        let mut t = new_task("alice");
        t.status = Status::Blocked;
        t.dependencies.blocked_by = vec![done.value.task_id.clone()];
        t.dependencies.condition = Some(format!("{}.result == 1", done.value.task_id));
        if recorded {
            t.dependencies.done = t.dependencies.blocked_by.clone();
        }
        t
    };
    let early = w.seed(&conditional(false)).await;
    denied(
        "an agent skips a conditional task before its dependency is recorded",
        write(&agent, &early, &skip(&early.value)),
    )
    .await;
    let mut plain = conditional(true);
    plain.dependencies.condition = None;
    let plain = w.seed(&plain).await;
    denied(
        "an agent skips a task that has no condition",
        write(&agent, &plain, &skip(&plain.value)),
    )
    .await;
    let ready = w.seed(&conditional(true)).await;
    let mut rewritten = skip(&ready.value);
    rewritten.title = "something else".into();
    denied(
        "an agent skips a task and changes its title",
        write(&agent, &ready, &rewritten),
    )
    .await;
    denied(
        "a viewer skips a conditional task",
        write(&viewer, &ready, &skip(&ready.value)),
    )
    .await;
    allowed(
        "an agent skips a conditional task whose dependencies are recorded",
        write(&agent, &ready, &skip(&ready.value)),
    )
    .await;
    let after = w.read(&ready.value.task_id).await;
    assert_eq!(
        (after.pile, after.value.status),
        (vayu::layout::Pile::Completed, Status::Skipped)
    );
    w.done("a_conditional_task_is_skipped_only_once_its_dependencies_ended");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_waiter_entry_names_a_task_that_waits() {
    use vayu::deps::waiters::register_write;
    let w = World::new("rules-deps-waiters").await;
    let agent = w.agent("agent-1").await;
    let alice = w.human("alice").await;
    let viewer = w.viewer("victor").await;
    let dep = task_in(&w, Status::Queued).await;
    let other = task_in(&w, Status::Queued).await;
    let waiting = blocked_on(&w, &[&dep], None).await;
    let waiting_too = blocked_on(&w, &[&dep], None).await;
    let stranger = task_in(&w, Status::Queued).await;
    let (d, id) = (&dep.value.task_id, |v: &Versioned<Task>| {
        v.value.task_id.clone()
    });
    denied(
        "a viewer registers a waiter",
        viewer.commit(vec![register_write(&viewer, d, &id(&waiting))]),
    )
    .await;
    denied(
        "an agent registers a task that does not wait for it",
        agent.commit(vec![register_write(&agent, d, &id(&stranger))]),
    )
    .await;
    denied(
        "an agent registers a waiter under another task",
        agent.commit(vec![register_write(
            &agent,
            &other.value.task_id,
            &id(&waiting),
        )]),
    )
    .await;
    allowed(
        "the requester registers her blocked task",
        alice.commit(vec![register_write(&alice, d, &id(&waiting))]),
    )
    .await;
    allowed(
        "an agent registers another blocked task",
        agent.commit(vec![register_write(&agent, d, &id(&waiting_too))]),
    )
    .await;
    let rel = format!("{}/{d}", vayu::layout::WAITERS);
    let emptied = raw_write(
        &agent,
        &rel,
        &serde_json::json!({"dependents": []}),
        &[],
        Precondition::None,
    );
    denied(
        "an agent empties a waiters list",
        agent.commit(vec![emptied]),
    )
    .await;
    let listed = vayu::deps::waiters::waiting_for(&w.admin, d)
        .await
        .expect("readable");
    assert_eq!(listed, vec![id(&waiting), id(&waiting_too)]);
    w.done("a_waiter_entry_names_a_task_that_waits");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dependent_marks_its_dependency_once_and_the_holder_keeps_it() {
    use vayu::deps::waiters::mark_write;
    let w = World::new("rules-deps-mark").await;
    let agent = w.agent("agent-2").await;
    let holder = w.agent("agent-1").await;
    let viewer = w.viewer("victor").await;
    let dep = task_in(&w, Status::Queued).await;
    let running = w.running("alice", "agent-1", 60).await;
    let mut ended = new_task("alice");
    ended.status = Status::Completed;
    let ended = w.seed(&ended).await;
    let waiting = blocked_on(&w, &[&dep, &running, &ended], None).await;
    let waiting_too = blocked_on(&w, &[&dep], None).await;
    let stranger = task_in(&w, Status::Queued).await;
    let id = |v: &Versioned<Task>| v.value.task_id.clone();

    denied(
        "a viewer marks a dependency",
        viewer.commit(vec![mark_write(&viewer, &dep, &id(&waiting))]),
    )
    .await;
    denied(
        "a mark naming a task that does not wait for it",
        agent.commit(vec![mark_write(&agent, &dep, &id(&stranger))]),
    )
    .await;
    let mut more = dep.value.clone();
    more.dependencies.blocking = vec![id(&waiting)];
    more.priority = vayu::model::Priority::Critical;
    denied(
        "a mark that also raises the priority",
        write(&agent, &dep, &more),
    )
    .await;
    denied(
        "a mark on an ended task",
        agent.commit(vec![mark_write(&agent, &ended, &id(&waiting))]),
    )
    .await;
    allowed(
        "a dependent marks its queued dependency",
        agent.commit(vec![mark_write(&agent, &dep, &id(&waiting))]),
    )
    .await;
    let marked = w.read(&dep.value.task_id).await;
    assert_eq!(marked.value.dependencies.blocking, vec![id(&waiting)]);
    denied(
        "a second dependent marks it again",
        agent.commit(vec![mark_write(&agent, &marked, &id(&waiting_too))]),
    )
    .await;

    allowed(
        "a dependent marks a running dependency another agent holds",
        agent.commit(vec![mark_write(&agent, &running, &id(&waiting))]),
    )
    .await;
    let fresh = w.read(&running.value.task_id).await;
    let mut dropped = fresh.value.clone();
    dropped.lease.expires_at = Some(at(60));
    dropped.dependencies.blocking = vec![];
    denied(
        "the holder's heartbeat drops the mark",
        write(&holder, &fresh, &dropped),
    )
    .await;
    let mut kept = fresh.value.clone();
    kept.lease.expires_at = Some(at(60));
    allowed(
        "the holder's heartbeat keeps the mark",
        write(&holder, &fresh, &kept),
    )
    .await;
    w.done("a_dependent_marks_its_dependency_once_and_the_holder_keeps_it");
}
