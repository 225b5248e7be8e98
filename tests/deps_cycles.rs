//! Issue 13, "a cycle is rejected at creation, and a race-made cycle is
//! broken", under the rules, with real identities:
//! - `vayu task edit ID --after X` that would close a cycle exits 4,
//!   prints the cycle with its tasks' titles and writes nothing; bad input
//!   is exit 2 (an unknown or too many dependencies, the task itself), 3
//!   (no such task) or 4 (a task that ended, a dependency that would
//!   cancel it at once), with nothing written; a good edit blocks the task
//!   and registers it as a waiter;
//! - two edits that race (each written without the other, as two people
//!   checking at the same moment would) close cycles; the sweep cancels
//!   the youngest task of each, recording the cycle, and the other follows
//!   its `--on-dep-failure`: cancelled, or run once its other dependency
//!   completes.

mod common;
mod rules_support;

use common::fleet::{fast_agent, shell, wait_task};
use rules_support::*;
use std::time::Duration;
use vayu::graph::OnDepFailure;
use vayu::layout::Pile;
use vayu::lifecycle::Status;
use vayu::model::{Priority, Task, TaskType};
use vayu::store::{Store, Versioned};
use vayu::tasks::{self, NewTask};

const LIMIT: Duration = Duration::from_secs(90);

/// Alice's task waiting for `after`.
async fn create(store: &Store, title: &str, after: &[&str], policy: OnDepFailure) -> String {
    let mut new = NewTask::new(TaskType::Research, Priority::Normal, title);
    new.requester.id = "alice".into();
    new.after = after.iter().map(|s| s.to_string()).collect();
    new.on_dep_failure = policy;
    allowed(
        &format!("alice creates '{title}'"),
        tasks::create(store, new),
    )
    .await
    .task_id
}

/// Runs `args`, expects exit `code`, returns stdout and stderr together.
fn expect(w: &World, args: &[&str], code: i32) -> String {
    let out = w.vayu_as("alice", args);
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(code), "{args:?}: {text}");
    text
}

/// The last history entry's note.
fn last_note(t: &Task) -> String {
    (t.history.last())
        .and_then(|h| h.note.clone())
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_edit_that_would_close_a_cycle_is_refused_with_the_cycle() {
    let w = World::new("deps-cycles-cli").await;
    let alice = w.human("alice").await;
    let cancel = OnDepFailure::Cancel;
    let a = create(&alice, "fetch data", &[], cancel).await;
    let b = create(&alice, "clean data", &[&a], cancel).await;
    let c = create(&alice, "train model", &[&b], cancel).await;
    let free = create(&alice, "unrelated", &[], cancel).await;
    let gone = create(&alice, "given up", &[], cancel).await;
    expect(&w, &["task", "cancel", "--id", &gone], 0);
    let before = w.read(&a).await;

    let err = expect(&w, &["task", "edit", &a, "--after", &c], 4);
    assert!(
        err.contains(&format!("{a} → {c} → {b} → {a}")),
        "the cycle is printed: {err}"
    );
    assert!(
        err.contains("train model") && err.contains("fetch data"),
        "{err}"
    );
    let many: Vec<String> = (0..50)
        .map(|i| format!("5b1c7e9a-0000-4000-8000-{i:012}"))
        .collect();
    let many = many.join(",");
    for (args, code, says) in [
        (vec![b.as_str(), "--after", &c], 4, "dependency cycle"),
        (vec![&a, "--after", &a], 2, "itself"),
        (
            vec![&a, "--after", "5b1c7e9a-0000-4000-8000-000000000000"],
            2,
            "unknown dependency",
        ),
        (vec![&b, "--after", &many], 2, "more than the 50 allowed"),
        (
            vec!["5b1c7e9a-0000-4000-8000-000000000001", "--after", &a],
            3,
            "no task",
        ),
        (
            vec![&gone, "--after", &a],
            4,
            "only a queued or blocked task",
        ),
        (vec![&a, "--after", &gone], 4, "would be cancelled at once"),
    ] {
        let mut all = vec!["task", "edit"];
        all.extend(args.iter().copied());
        let text = expect(&w, &all, code);
        assert!(text.contains(says), "{args:?}: {text}");
    }
    let after = w.read(&a).await;
    assert_eq!(after.update_time, before.update_time, "nothing written");
    assert_eq!(
        w.read(&b).await.value.dependencies.blocked_by,
        vec![a.clone()]
    );
    assert!(
        (vayu::deps::waiters::waiting_for(&w.admin, &c).await)
            .expect("readable")
            .is_empty()
    );

    // A good edit: the queued task is blocked and registered as a waiter.
    let out = expect(&w, &["task", "edit", &a, "--after", &free, "--json"], 0);
    let v: serde_json::Value = serde_json::from_str(&out).expect("JSON");
    assert_eq!(v["status"], "blocked", "{v}");
    let t = w.read(&a).await;
    assert_eq!(
        (
            t.pile,
            t.value.status,
            t.value.dependencies.blocked_by.clone()
        ),
        (Pile::Queued, Status::Blocked, vec![free.clone()])
    );
    assert_eq!(
        vayu::deps::waiters::waiting_for(&w.admin, &free)
            .await
            .expect("readable"),
        vec![a.clone()]
    );
    let again = expect(&w, &["task", "edit", &a, "--after", &free], 0);
    assert!(again.contains("already waits"), "{again}");
    w.done("an_edit_that_would_close_a_cycle_is_refused_with_the_cycle");
}

/// Makes `task` wait for `dep` as alice, with no cycle check: one half of
/// two edits that race.
async fn raced_edit(w: &World, alice: &Store, task: &str, dep: &str) -> Versioned<Task> {
    let seen = w.read(task).await;
    allowed(
        &format!("alice's unchecked edit of {task}"),
        vayu::deps::edit::write_unchecked(alice, &seen, &[dep.to_string()], "alice"),
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_race_made_cycle_is_broken_at_its_youngest_task() {
    let w = World::new("deps-cycles-race").await;
    let alice = w.human("alice").await;
    let (cancel, run) = (OnDepFailure::Cancel, OnDepFailure::Run);
    let root = create(&alice, "root", &[], cancel).await;
    // Each pair: the older first. The older of the first pair runs
    // whatever its dependencies did; the older of the second cancels.
    let old_run = create(&alice, "older, runs anyway", &[&root], run).await;
    let young_1 = create(&alice, "younger 1", &[&root], cancel).await;
    let old_cancel = create(&alice, "older, cancels", &[&root], cancel).await;
    let young_2 = create(&alice, "younger 2", &[&root], cancel).await;
    for (x, y) in [(&old_run, &young_1), (&old_cancel, &young_2)] {
        raced_edit(&w, &alice, x, y).await;
        raced_edit(&w, &alice, y, x).await;
    }

    let sweeper = w.agent("sweeper").await;
    let moved = allowed(
        "the sweep, as an agent",
        vayu::deps::sweep(&sweeper, "sweeper"),
    )
    .await;
    assert_eq!(moved, 3, "two breakers and one dependent cancelled");
    for (young, old) in [(&young_1, &old_run), (&young_2, &old_cancel)] {
        let t = w.read(young).await;
        assert_eq!(
            (t.pile, t.value.status),
            (Pile::Completed, Status::Cancelled)
        );
        assert_eq!(
            t.value.dependencies.cycle,
            vec![young.clone(), old.clone(), young.clone()]
        );
        assert_eq!(
            last_note(&t.value),
            format!("dependency cycle: {young} → {old} → {young} (broken at its youngest task)")
        );
    }
    let t = w.read(&old_cancel).await.value;
    assert_eq!(t.status, Status::Cancelled);
    assert_eq!(last_note(&t), format!("dependency {young_2} was cancelled"));
    let t = w.read(&old_run).await.value;
    assert_eq!(t.status, Status::Blocked, "it still waits for the root");
    assert_eq!(t.dependencies.done, vec![young_1.clone()]);
    assert_eq!(
        allowed("a second sweep", vayu::deps::sweep(&sweeper, "sweeper")).await,
        0,
        "nothing is left to break"
    );

    // An agent runs the root; the task that runs anyway follows.
    let (stop, mut rx) = tokio::sync::watch::channel(false);
    let store = w.unregistered_agent("runner").await;
    let agent = tokio::spawn(vayu::agent::run(
        store,
        fast_agent("runner", shell("echo 'vayu:result ok'")),
        async move {
            let _ = rx.wait_for(|s| *s).await;
        },
    ));
    let ran = wait_task(&w.admin, &old_run, LIMIT, "completed", |v| {
        v.value.status == Status::Completed
    })
    .await;
    assert_eq!(ran.value.dependencies.done.len(), 2);
    stop.send(true).expect("the agent listens");
    agent
        .await
        .expect("no panic")
        .expect("the agent stops cleanly");
    w.done("a_race_made_cycle_is_broken_at_its_youngest_task");
}
