//! Roles and the create quota (docs/security.md "Who is who", "Quota"):
//! each denied case beside the allowed one of the same shape.

mod common;
mod rules_support;

use rules_support::*;
use serde_json::json;
use vayu::Error;
use vayu::model::{Priority, TaskType, now};
use vayu::store::Precondition;
use vayu::tasks::{self, NewTask};

fn new_of(uid: &str) -> NewTask {
    let mut n = NewTask::new(TaskType::Research, Priority::Normal, "roles");
    n.requester.id = uid.into();
    n
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_members_read_and_only_operators_create_and_control() {
    let w = World::new("rules-roles").await;
    let alice = w.human("alice").await;
    let vera = w.viewer("vera").await;
    let rob = w.roleless("rob").await;
    let seen = w.queued("alice").await;
    let id = seen.value.task_id.clone();

    let read = allowed("a viewer reads a task", vera.find_task(&id)).await;
    assert!(read.is_some());
    denied(
        "a signed-in person without a role reads a task",
        rob.find_task(&id),
    )
    .await;
    denied(
        "a member reads a pile that is not one of the three",
        vera.run_query("tasks/archive", "archive_tasks", None, vec![], None),
    )
    .await;
    denied(
        "a viewer creates a task",
        tasks::create(&vera, new_of("vera")),
    )
    .await;
    denied(
        "a person without a role creates a task",
        tasks::create(&rob, new_of("rob")),
    )
    .await;
    allowed(
        "an operator creates a task",
        tasks::create(&alice, new_of("alice")),
    )
    .await;

    let veras = w.queued("vera").await;
    denied(
        "a viewer cancels a task requested in their name",
        tasks::cancel(&vera, &veras.value.task_id),
    )
    .await;
    allowed(
        "an operator cancels their own task",
        tasks::cancel(&alice, &id),
    )
    .await;
    w.done("roles");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_task_pays_into_the_callers_window_of_the_minute() {
    let w = World::new("rules-quota").await;
    let alice = w.human("alice").await;

    let t = new_task("alice");
    let unpaid = alice
        .task_write(&t, Precondition::Missing, true)
        .expect("encodes");
    denied(
        "a new task without its quota write",
        alice.commit(vec![unpaid]),
    )
    .await;
    let (t1, t2) = (new_task("alice"), new_task("alice"));
    let both = vec![
        alice
            .task_write(&t1, Precondition::Missing, true)
            .expect("encodes"),
        alice
            .task_write(&t2, Precondition::Missing, true)
            .expect("encodes"),
        pay(&alice, &t2.task_id),
    ];
    denied(
        "two new tasks paid for by one quota write",
        alice.commit(both),
    )
    .await;
    allowed("a new task with its quota write", alice.create_task(&t1)).await;

    let minute = vayu::quota::minute(now());
    let window = |m: i64| w.admin.name(&vayu::quota::doc("alice", m));
    let docs = w.admin.batch_get(vec![window(minute), window(minute + 1)]);
    let counted = docs.await.expect("admin reads");
    assert!(
        counted
            .iter()
            .flatten()
            .any(|d| d.fields.contains_key("count")),
        "the create was counted in alice's window"
    );

    // Alice cannot wind her own window back.
    let reset = raw_write(
        &alice,
        &vayu::quota::doc("alice", minute),
        &json!({"count": 0, "last_task": t1.task_id}),
        &[],
        Precondition::None,
    );
    denied(
        "a person resets their quota window",
        alice.commit(vec![reset]),
    )
    .await;

    // A full window (this minute and the next, in case the minute turns).
    for m in [minute, minute + 1] {
        let full = raw_write(
            &w.admin,
            &vayu::quota::doc("alice", m),
            &json!({"count": vayu::quota::PERSON_LIMIT, "last_task": "x"}),
            &[],
            Precondition::None,
        );
        w.admin.commit(vec![full]).await.expect("admin writes");
    }
    match alice.create_task(&new_task("alice")).await {
        Err(Error::QuotaExceeded(m)) => assert!(m.contains("300"), "{m}"),
        other => panic!("expected the quota to refuse the create, got {other:?}"),
    }
    let bob = w.human("bob").await;
    allowed(
        "another operator's create is not held up by alice's quota",
        bob.create_task(&new_task("bob")),
    )
    .await;
    w.done("quota");
}
