//! Issue 13, editing dependencies and breaking cycles under the rules
//! (`isDepEdit`, `isCycleBreak` in firestore.rules). Each bypass is denied
//! beside the allowed operation of the same shape:
//! - a task's controller adds dependencies to a queued or blocked task,
//!   which is blocked after; nothing else changes, none is removed or
//!   repeated, the task is not its own; nobody else may, and a running or
//!   paused task cannot be edited;
//! - a blocked task is cancelled to break a cycle only when the cycle it
//!   names is one: it starts and ends at the task, its first hop is one of
//!   the task's dependencies and every further hop a blocked task that
//!   waits for the next; at most 8 tasks;
//! - both fit the rules' budget at their bounds (50 dependencies, a full
//!   history, the longest cycle), and so does recording an ended
//!   dependency, whose dispatch now passes the edit's test first.

mod common;
mod rules_support;

use rules_support::*;
use vayu::layout::Pile;
use vayu::lifecycle::Status;
use vayu::model::{Task, now};
use vayu::store::{Precondition, Store, Versioned};

/// A task of alice's in `status`, waiting for `deps` (not seeded).
fn task(status: Status, deps: &[&str]) -> Task {
    let mut t = new_task("alice");
    t.status = status;
    t.dependencies.blocked_by = deps.iter().map(|s| s.to_string()).collect();
    t
}

/// Seeds every task in one admin commit, then reads them back.
async fn seed_all(w: &World, tasks: &[Task]) -> Vec<Versioned<Task>> {
    for chunk in tasks.chunks(100) {
        let writes = (chunk.iter())
            .map(|t| w.admin.task_write(t, Precondition::None, true))
            .collect::<vayu::Result<Vec<_>>>()
            .expect("tasks encode");
        w.admin.commit(writes).await.expect("admin writes");
    }
    let mut out = Vec::new();
    for t in tasks {
        out.push(w.read(&t.task_id).await);
    }
    out
}

/// What `vayu::deps::add` writes: blocked, `ids` appended.
fn edited(seen: &Task, ids: &[&str]) -> Task {
    let mut t = seen.clone();
    t.status = Status::Blocked;
    (t.dependencies.blocked_by).extend(ids.iter().map(|s| s.to_string()));
    t.record(
        Status::Blocked,
        now(),
        Some("alice"),
        Some("now waits for more".into()),
    );
    t
}

/// What the breaker writes: cancelled, naming `cycle`.
fn broken(seen: &Task, cycle: &[&str]) -> Task {
    let mut t = seen.clone();
    t.status = Status::Cancelled;
    t.dependencies.cycle = cycle.iter().map(|s| s.to_string()).collect();
    t.record(
        Status::Cancelled,
        now(),
        Some("agent-1"),
        Some("dependency cycle".into()),
    );
    t
}

async fn write(store: &Store, seen: &Versioned<Task>, t: &Task) -> vayu::Result<()> {
    raw_replace(store, seen, t, vec![]).await.map(|_| ())
}

fn id(v: &Versioned<Task>) -> &str {
    &v.value.task_id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_controller_adds_dependencies_and_nothing_else() {
    let w = World::new("rules-cycles-edit").await;
    let alice = w.human("alice").await;
    let bob = w.human("bob").await;
    let viewer = w.viewer("victor").await;
    let agent = w.agent("agent-1").await;
    let seeded = seed_all(
        &w,
        &[
            task(Status::Queued, &[]),
            task(Status::Queued, &[]),
            task(Status::Completed, &[]),
        ],
    )
    .await;
    let (d1, d2, ended) = (id(&seeded[0]), id(&seeded[1]), id(&seeded[2]));
    let mut b = task(Status::Blocked, &[d1, ended]);
    b.dependencies.done = vec![ended.to_string()];
    let more: Vec<Task> = vec![
        task(Status::Queued, &[]),
        b,
        task(Status::Paused, &[]),
        task(Status::Queued, &[]),
    ];
    let seeded = seed_all(&w, &more).await;
    let (queued, blocked, paused) = (&seeded[0], &seeded[1], &seeded[2]);
    let q = &queued.value;

    denied(
        "another operator edits alice's task",
        write(&bob, queued, &edited(q, &[d1])),
    )
    .await;
    denied(
        "an agent edits alice's task",
        write(&agent, queued, &edited(q, &[d1])),
    )
    .await;
    denied(
        "a viewer edits alice's task",
        write(&viewer, queued, &edited(q, &[d1])),
    )
    .await;
    let mut retitled = edited(q, &[d1]);
    retitled.title = "something else".into();
    denied(
        "an edit that changes the title too",
        write(&alice, queued, &retitled),
    )
    .await;
    let mut lenient = edited(q, &[d1]);
    lenient.dependencies.on_failure = Some("run".into());
    denied(
        "an edit that changes the failure policy too",
        write(&alice, queued, &lenient),
    )
    .await;
    let mut conditioned = edited(q, &[d1]);
    conditioned.dependencies.condition = Some(format!("{d1}.result == 1"));
    denied(
        "an edit that adds a condition too",
        write(&alice, queued, &conditioned),
    )
    .await;
    let mut still_queued = edited(q, &[d1]);
    still_queued.status = Status::Queued;
    denied(
        "an edit that leaves the task queued",
        write(&alice, queued, &still_queued),
    )
    .await;
    denied(
        "an edit that makes the task wait for itself",
        write(&alice, queued, &edited(q, &[&q.task_id])),
    )
    .await;
    denied(
        "an edit that lists a dependency twice",
        write(&alice, queued, &edited(q, &[d1, d1])),
    )
    .await;
    let fifty: Vec<String> = (0..51).map(|i| format!("dep-{i}")).collect();
    let refs: Vec<&str> = fifty.iter().map(String::as_str).collect();
    denied(
        "an edit to 51 dependencies",
        write(&alice, queued, &edited(q, &refs)),
    )
    .await;
    allowed(
        "alice adds a dependency to her queued task",
        write(&alice, queued, &edited(q, &[d1])),
    )
    .await;
    let now_blocked = w.read(&q.task_id).await;
    assert_eq!(now_blocked.value.status, Status::Blocked);

    let bv = &blocked.value;
    let mut removed = edited(bv, &[d2]);
    removed.dependencies.blocked_by.remove(0);
    removed.dependencies.blocked_by.push("dep-x".into());
    denied(
        "an edit that replaces a dependency with two others",
        write(&alice, blocked, &removed),
    )
    .await;
    let mut forgotten = edited(bv, &[d2]);
    forgotten.dependencies.done.clear();
    denied(
        "an edit that forgets a dependency recorded as ended",
        write(&alice, blocked, &forgotten),
    )
    .await;
    let mut recorded = edited(bv, &[d2]);
    recorded.dependencies.done.push(d2.to_string());
    denied(
        "an edit that records its new dependency as ended",
        write(&alice, blocked, &recorded),
    )
    .await;
    allowed(
        "alice adds a dependency to her blocked task",
        write(&alice, blocked, &edited(bv, &[d2])),
    )
    .await;

    denied(
        "an edit of a paused task",
        write(&alice, paused, &edited(&paused.value, &[d1])),
    )
    .await;
    let running = claim(&agent, &seeded[3], "agent-1").await.expect("claims");
    let mut in_place = running.value.clone();
    in_place.dependencies.blocked_by = vec![d1.to_string()];
    denied(
        "an edit of a running task, in place",
        write(&alice, &running, &in_place),
    )
    .await;
    denied(
        "an edit of a running task, moved back to the queued pile",
        write(&alice, &running, &edited(&running.value, &[d1])),
    )
    .await;
    denied(
        "the agent running it edits it",
        write(&agent, &running, &in_place),
    )
    .await;
    w.done("only_the_controller_adds_dependencies_and_nothing_else");
}

/// A ring of `n` blocked tasks, each waiting for the next (and for
/// `extra` other ids), in order: ring[i] waits for ring[i + 1].
async fn ring(w: &World, n: usize, extra: &[String]) -> Vec<Versioned<Task>> {
    let mut tasks: Vec<Task> = (0..n).map(|_| task(Status::Blocked, &[])).collect();
    let ids: Vec<String> = tasks.iter().map(|t| t.task_id.clone()).collect();
    for (i, t) in tasks.iter_mut().enumerate() {
        t.dependencies.blocked_by = extra.to_vec();
        t.dependencies.blocked_by.push(ids[(i + 1) % n].clone());
    }
    seed_all(w, &tasks).await
}

/// The path from ring[0] around the ring back to it.
fn around(r: &[Versioned<Task>]) -> Vec<&str> {
    r.iter().map(id).chain([id(&r[0])]).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cycle_break_must_name_a_cycle() {
    let w = World::new("rules-cycles-break").await;
    let agent = w.agent("agent-1").await;
    let viewer = w.viewer("victor").await;
    let pair = ring(&w, 2, &[]).await;
    let (a, b) = (&pair[0], &pair[1]);
    let chain = seed_all(&w, &[task(Status::Queued, &[])]).await;
    let free = &chain[0];
    let x = seed_all(&w, &[task(Status::Blocked, &[id(free)])]).await;
    let x = &x[0];
    let y = seed_all(&w, &[task(Status::Blocked, &[id(x)])]).await;
    let y = &y[0];

    denied(
        "an agent cancels a task naming a path whose next hop does not wait for it",
        write(&agent, y, &broken(&y.value, &[id(y), id(x), id(y)])),
    )
    .await;
    denied(
        "an agent names a first hop that is not a dependency",
        write(&agent, a, &broken(&a.value, &[id(a), id(y), id(a)])),
    )
    .await;
    denied(
        "an agent names a path that does not return to the task",
        write(&agent, a, &broken(&a.value, &[id(a), id(b), id(b)])),
    )
    .await;
    denied(
        "an agent names a path that starts elsewhere",
        write(&agent, a, &broken(&a.value, &[id(b), id(a), id(b)])),
    )
    .await;
    // A queued task that lists the blocked one (its dependencies ended,
    // as far as it knows): no cycle holds anything up.
    let mut loose = task(Status::Queued, &[]);
    let mut tight = task(Status::Blocked, &[&loose.task_id]);
    loose.dependencies.blocked_by = vec![tight.task_id.clone()];
    tight.dependencies.blocked_by = vec![loose.task_id.clone()];
    let lt = seed_all(&w, &[loose, tight]).await;
    let (loose, tight) = (&lt[0], &lt[1]);
    denied(
        "an agent names a cycle through a task that is not blocked",
        write(
            &agent,
            tight,
            &broken(&tight.value, &[id(tight), id(loose), id(tight)]),
        ),
    )
    .await;
    let long: Vec<&str> = (0..11)
        .map(|i| if i % 2 == 0 { id(a) } else { id(b) })
        .collect();
    denied(
        "an agent names a walk round the cycle of 11 entries",
        write(&agent, a, &broken(&a.value, &long)),
    )
    .await;
    let mut retitled = broken(&a.value, &[id(a), id(b), id(a)]);
    retitled.title = "something else".into();
    denied(
        "a break that changes the title too",
        write(&agent, a, &retitled),
    )
    .await;
    let mut recorded = broken(&a.value, &[id(a), id(b), id(a)]);
    recorded.dependencies.done = vec![id(b).to_string()];
    denied(
        "a break that records a dependency as ended too",
        write(&agent, a, &recorded),
    )
    .await;
    denied(
        "a viewer breaks a cycle",
        write(&viewer, a, &broken(&a.value, &[id(a), id(b), id(a)])),
    )
    .await;
    allowed(
        "an agent breaks a cycle of two",
        write(&agent, a, &broken(&a.value, &[id(a), id(b), id(a)])),
    )
    .await;
    let after = w.read(id(a)).await;
    assert_eq!(
        (after.pile, after.value.status),
        (Pile::Completed, Status::Cancelled)
    );
    assert_eq!(after.value.dependencies.cycle.len(), 3);

    let nine = ring(&w, 9, &[]).await;
    denied(
        "an agent names a real cycle of 9 tasks (more than the rules read)",
        write(&agent, &nine[0], &broken(&nine[0].value, &around(&nine))),
    )
    .await;
    w.done("a_cycle_break_must_name_a_cycle");
}

/// A history of `n` entries, as a long-lived task has.
fn aged(mut t: Task, n: usize) -> Task {
    for i in 0..n {
        t.record(Status::Queued, now(), Some("alice"), Some(format!("{i}")));
    }
    t
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn edits_breaks_and_records_fit_the_budget_at_their_bounds() {
    let w = World::new("rules-cycles-budget").await;
    let alice = w.human("alice").await;
    let agent = w.agent("agent-1").await;
    let others: Vec<String> = (0..49).map(|i| format!("dep-{i}")).collect();

    // The longest cycle the rules accept, every task on it with 50
    // dependencies and a full history.
    let eight = ring(&w, 8, &others).await;
    let full = aged(eight[0].value.clone(), 50);
    let seen = w.seed(&full).await;
    allowed(
        "an agent breaks a cycle of 8 tasks of 50 dependencies each",
        write(&agent, &seen, &broken(&seen.value, &around(&eight))),
    )
    .await;

    // An edit to the 50th dependency of a conditional blocked task with a
    // full history.
    let mut t = task(Status::Blocked, &[]);
    t.dependencies.blocked_by = others[..48].to_vec();
    t.dependencies.done = others[..20].to_vec();
    t.dependencies.condition = Some(format!("dep-0.result == \"{}\"", "x".repeat(980)));
    t.dependencies.on_failure = Some("run".into());
    let seen = w.seed(&aged(t, 50)).await;
    allowed(
        "alice adds the 49th and 50th dependencies to a full task",
        write(&alice, &seen, &edited(&seen.value, &["dep-48", "last"])),
    )
    .await;

    // Recording the last four ended dependencies of 50 (staying blocked
    // with one more pending, then queued), with a full history.
    let ended: Vec<Task> = (0..4).map(|_| task(Status::Completed, &[])).collect();
    let ended = seed_all(&w, &ended).await;
    let ended: Vec<String> = ended.iter().map(|v| id(v).to_string()).collect();
    let pending = seed_all(&w, &[task(Status::Queued, &[])]).await;
    let mut t = task(Status::Blocked, &[]);
    t.dependencies.blocked_by = others[..45].to_vec();
    t.dependencies.blocked_by.extend(ended.iter().cloned());
    t.dependencies.blocked_by.push(id(&pending[0]).to_string());
    t.dependencies.done = others[..45].to_vec();
    let seen = w.seed(&aged(t, 50)).await;
    let mut rec = seen.value.clone();
    rec.dependencies.done.extend(ended.iter().cloned());
    allowed(
        "an agent records four ended dependencies of 50",
        write(&agent, &seen, &rec),
    )
    .await;
    w.done("edits_breaks_and_records_fit_the_budget_at_their_bounds");
}
