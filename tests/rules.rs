//! `firestore.rules` on the real emulator, part 1: who may read at all,
//! creating tasks, deletes, and everything that is not vayu's.
//!
//! Each case is an `allowed(..)` or `denied(..)` call (denied means the
//! rules refused it: PERMISSION_DENIED, not some other error). Parts 2 and
//! 3 are `tests/rules_leases.rs` and `tests/rules_people.rs`; the tables
//! are compared with the Rust code in `tests/rules_table.rs`.

mod common;
mod rules_support;

use rules_support::*;
use serde_json::json;
use vayu::layout::Pile;
use vayu::lifecycle::Status;
use vayu::model::{Priority, TaskType, limits};
use vayu::store::Precondition;
use vayu::tasks::{self, NewTask};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nobody_without_a_real_sign_in_reads_or_writes() {
    let w = World::new("rules-anon").await;
    let seeded = w.queued("alice").await;
    let id = seeded.value.task_id.clone();

    let alice = w.human("alice").await;
    allowed(
        "a signed-in person lists the queue",
        alice.list_pile(Pile::Queued, None, None),
    )
    .await;
    allowed("a signed-in person reads a task", alice.find_task(&id)).await;
    let agent = w.agent("agent-1").await;
    allowed(
        "an agent lists the queue",
        agent.list_pile(Pile::Queued, None, None),
    )
    .await;
    allowed("an agent lists the agents", agent.list_agents()).await;

    let out = w.signed_out().await;
    denied(
        "no token lists the queue",
        out.list_pile(Pile::Queued, None, None),
    )
    .await;
    denied("no token reads a task", out.find_task(&id)).await;
    denied("no token lists the agents", out.list_agents()).await;
    let mut n = NewTask::new(TaskType::Research, Priority::Low, "x");
    n.requester.id = "nobody".into();
    denied("no token creates a task", tasks::create(&out, n)).await;
    denied("no token cancels a task", tasks::cancel(&out, &id)).await;

    let garbage = w.with_token("not-a-jwt").await;
    rejected(
        "a garbage token lists the queue",
        garbage.list_pile(Pile::Queued, None, None),
    )
    .await;
    rejected("a garbage token reads a task", garbage.find_task(&id)).await;
    let mut n = NewTask::new(TaskType::Research, Priority::Low, "x");
    n.requester.id = "nobody".into();
    rejected("a garbage token creates a task", tasks::create(&garbage, n)).await;

    let anon = w.anonymous().await;
    denied(
        "an anonymous sign-in lists the queue",
        anon.list_pile(Pile::Queued, None, None),
    )
    .await;
    denied("an anonymous sign-in lists the agents", anon.list_agents()).await;
    let mut n = NewTask::new(TaskType::Research, Priority::Low, "x");
    n.requester.id = "anon-1".into();
    denied(
        "an anonymous sign-in creates a task",
        tasks::create(&anon, n),
    )
    .await;
    denied(
        "an anonymous sign-in cancels a task",
        tasks::cancel(&anon, &id),
    )
    .await;
    w.done("anonymous");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn people_create_tasks_only_as_themselves_and_only_well_formed() {
    let w = World::new("rules-create").await;
    let alice = w.human("alice").await;

    // The CLI's code path, with requester.id set to the caller's uid.
    let mut n = NewTask::new(TaskType::Research, Priority::High, "Analyze bottlenecks");
    n.requester.id = "alice".into();
    let t = allowed(
        "a person creates a queued task as themselves",
        tasks::create(&alice, n),
    )
    .await;
    assert!(w.exists_in(Pile::Queued, &t.task_id).await);

    let mut n = NewTask::new(TaskType::Research, Priority::High, "forged");
    n.requester.id = "bob".into();
    denied("a person forges requester.id", tasks::create(&alice, n)).await;

    let agent = w.agent("agent-1").await;
    let mut n = NewTask::new(TaskType::Maintenance, Priority::Low, "sub-task");
    n.requester.id = "agent-1".into();
    n.requester.kind = vayu::model::RequesterType::Agent;
    allowed(
        "an agent creates a task as requester type agent",
        tasks::create(&agent, n),
    )
    .await;
    let mut n = NewTask::new(TaskType::Maintenance, Priority::Low, "claims to be human");
    n.requester.id = "agent-1".into();
    denied(
        "an agent creates a task as requester type human",
        tasks::create(&agent, n),
    )
    .await;

    let mut blocked = new_task("alice");
    blocked.status = Status::Blocked;
    allowed(
        "a person creates a blocked task",
        alice.create_task(&blocked),
    )
    .await;

    // Hand-made documents past the client's own validation.
    let create = |t: &vayu::model::Task| {
        let w = alice
            .task_write(t, Precondition::Missing, true)
            .expect("a task encodes");
        // Paid for, so that each case is refused for its own reason.
        alice.commit(vec![w, pay(&alice, &t.task_id)])
    };
    let mut t = new_task("alice");
    t.status = Status::Executing;
    denied(
        "a task created straight into executing (active pile)",
        create(&t),
    )
    .await;
    let mut t = new_task("alice");
    t.status = Status::Completed;
    denied("a task created already completed", create(&t)).await;
    let mut t = new_task("alice");
    t.title = "x".repeat(limits::TITLE_MAX + 1);
    denied("an oversized title", create(&t)).await;
    let mut t = new_task("alice");
    t.metadata.tags = (0..=limits::TAGS_MAX).map(|i| format!("t{i}")).collect();
    denied("too many tags", create(&t)).await;
    let mut t = new_task("alice");
    t.execution.progress = 101;
    denied("progress above 100", create(&t)).await;
    let mut t = new_task("alice");
    t.lease.owner = Some("alice".into());
    denied("a new task with a lease owner", create(&t)).await;
    let mut t = new_task("alice");
    t.task_id = "bad.id".into();
    denied("a task id outside the id pattern", create(&t)).await;
    let mut t = new_task("alice");
    t.metadata.max_retries = 99;
    denied("max_retries out of bounds", create(&t)).await;
    let mut t = new_task("alice");
    t.priority_rank = 0;
    denied("priority_rank not matching priority", create(&t)).await;

    // Raw JSON variants of a valid task.
    let good = new_task("alice");
    let raw = |fields: serde_json::Value, times: &[&str]| {
        let w = raw_write(
            &alice,
            &Pile::Queued.doc(&good.task_id),
            &fields,
            times,
            Precondition::Missing,
        );
        alice.commit(vec![w, pay(&alice, &good.task_id)])
    };
    let mut v = task_json(&good);
    v["priority"] = json!(7);
    denied(
        "a wrong type (priority is a number)",
        raw(v, &["created_at", "updated_at"]),
    )
    .await;
    let mut v = task_json(&good);
    v["execution"]["progress"] = json!("half");
    denied(
        "a wrong type (progress is a string)",
        raw(v, &["created_at", "updated_at"]),
    )
    .await;
    let mut v = task_json(&good);
    v["status"] = json!("running");
    denied("an unknown status", raw(v, &["created_at", "updated_at"])).await;
    let mut v = task_json(&good);
    v["owner_notes"] = json!("extra");
    denied("an unknown field", raw(v, &["created_at", "updated_at"])).await;
    let mut v = task_json(&good);
    v["created_at"] = json!(null);
    denied(
        "timestamps from the client, not the server",
        raw(v, &["updated_at"]),
    )
    .await;
    let v = task_json(&good);
    allowed(
        "the same document, well formed",
        raw(v, &["created_at", "updated_at"]),
    )
    .await;

    // The same id in another pile: a second copy of a task.
    let existing = w.running("alice", "agent-1", 30).await;
    let mut dup = existing.value.clone();
    dup.status = Status::Queued;
    dup.lease = Default::default();
    dup.assignment = Default::default();
    dup.execution = Default::default();
    denied(
        "a create that duplicates a task living in another pile",
        create(&dup),
    )
    .await;
    w.done("create");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_a_move_or_an_ended_tasks_controller_deletes_a_task() {
    let w = World::new("rules-delete").await;
    let alice = w.human("alice").await;
    let agent = w.agent("agent-1").await;
    let queued = w.queued("alice").await;
    let running = w.running("alice", "agent-1", 30).await;

    denied(
        "the requester deletes their queued task",
        delete_alone(&alice, &queued),
    )
    .await;
    denied(
        "the holder deletes its active task",
        delete_alone(&agent, &running),
    )
    .await;
    // An ended task is its requester's to delete (`vayu task delete`,
    // tests/rules_archive.rs), nobody else's.
    let mut done = new_task("alice");
    done.status = Status::Completed;
    let done = w.seed(&done).await;
    let bob = w.human("bob").await;
    denied(
        "another person deletes someone's completed task",
        delete_alone(&bob, &done),
    )
    .await;
    denied(
        "an agent deletes a completed task",
        delete_alone(&agent, &done),
    )
    .await;
    // A "move" whose create half goes nowhere (quarantine of a valid task).
    let fake_move = {
        let w1 = agent.delete_write(queued.pile, &queued.value.task_id, queued.update_time);
        let w2 = raw_write(
            &agent,
            &format!("quarantine/{}", queued.value.task_id),
            &json!({"task_id": queued.value.task_id}),
            &[],
            Precondition::Missing,
        );
        agent.commit(vec![w1, w2])
    };
    denied("a delete disguised as a move to quarantine", fake_move).await;

    allowed("an admin deletes a task", delete_alone(&w.admin, &queued)).await;
    assert!(!w.exists_in(Pile::Queued, &queued.value.task_id).await);

    // A legitimate move deletes: the claim.
    let q2 = w.queued("alice").await;
    allowed(
        "a claim deletes the queued document",
        claim(&agent, &q2, "agent-1"),
    )
    .await;
    assert!(!w.exists_in(Pile::Queued, &q2.value.task_id).await);
    assert!(w.exists_in(Pile::Active, &q2.value.task_id).await);
    w.done("delete");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn everything_that_is_not_vayus_is_denied() {
    let w = World::new("rules-else").await;
    let alice = w.human("alice").await;
    let agent = w.agent("agent-1").await;
    denied(
        "a person writes an unknown collection",
        scribble(&alice, "notes/n1"),
    )
    .await;
    denied(
        "an agent writes an unknown collection",
        scribble(&agent, "notes/n1"),
    )
    .await;
    denied(
        "a person writes the pile document itself",
        scribble(&alice, "tasks/queued"),
    )
    .await;
    denied(
        "an agent writes an unknown pile",
        scribble(&agent, "tasks/archive/archive_tasks/x"),
    )
    .await;
    {
        // A well-formed new task, in the queued pile's document but the
        // wrong subcollection: the create rule would pass it anywhere else.
        let t = new_task("alice");
        let w_ok = raw_write(
            &alice,
            &Pile::Queued.doc(&t.task_id),
            &task_json(&t),
            &["created_at", "updated_at"],
            Precondition::Missing,
        );
        allowed(
            "a person creates a task in tasks/queued/queued_tasks",
            commit_paying(&alice, &t.task_id, vec![w_ok]),
        )
        .await;
        let t = new_task("alice");
        let w_bad = raw_write(
            &alice,
            &format!("tasks/queued/items/{}", t.task_id),
            &task_json(&t),
            &["created_at", "updated_at"],
            Precondition::Missing,
        );
        denied(
            "a person creates the same task in tasks/queued/items",
            alice.commit(vec![w_bad, pay(&alice, &t.task_id)]),
        )
        .await;
    }
    allowed("an admin writes anything", scribble(&w.admin, "notes/n1")).await;
    denied(
        "a person reads an unknown collection",
        alice.run_query("", "notes", None, vec![], None),
    )
    .await;
    allowed(
        "a person reads the agents collection",
        alice.run_query("", "agents", None, vec![], None),
    )
    .await;
    w.done("else");
}

/// Lanes (src/lanes.rs): a new task names a lane in range, and only an
/// agent moves a waiting task to another lane, changing nothing else.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_agents_forward_waiting_tasks_between_lanes() {
    let w = World::new("rules-lanes").await;
    let alice = w.human("alice").await;
    let agent = w.agent("agent-1").await;

    for (case, lane) in [
        ("a new task in lane 15 (there are 15: 0..14)", json!(15)),
        ("a new task in lane -1", json!(-1)),
        ("a new task whose lane is a string", json!("3")),
        ("a new task without a lane", serde_json::Value::Null),
    ] {
        let t = new_task("alice");
        let mut doc = task_json(&t);
        match lane {
            serde_json::Value::Null => {
                doc.as_object_mut().expect("a task is a map").remove("lane");
            }
            v => doc["lane"] = v,
        }
        let write = raw_write(
            &alice,
            &Pile::Queued.doc(&t.task_id),
            &doc,
            &["created_at", "updated_at"],
            Precondition::Missing,
        );
        denied(case, alice.commit(vec![write, pay(&alice, &t.task_id)])).await;
    }

    // Forwarding is for a task its lane's owner cannot run: this one needs
    // a gpu, which agent-1 lacks and agent-2 offers.
    let mut needs_gpu = new_task("alice");
    needs_gpu.requires = vec!["gpu".into()];
    let seen = w.seed(&needs_gpu).await;
    w.register("agent-2", &["gpu"], &["*"]).await;
    let capable = w.unregistered_agent("agent-2").await;
    let mut moved = seen.value.clone();
    moved.lane = (seen.value.lane + 1) % vayu::lanes::LANES;
    denied(
        "a person moves a task to another lane",
        raw_replace(&alice, &seen, &moved, vec![]),
    )
    .await;
    let mut more = moved.clone();
    more.priority = Priority::Critical;
    more.priority_rank = Priority::Critical.rank();
    denied(
        "an agent forwards a task and raises its priority",
        raw_replace(&agent, &seen, &more, vec![]),
    )
    .await;
    let mut out_of_range = seen.value.clone();
    out_of_range.lane = vayu::lanes::LANES;
    denied(
        "an agent forwards a task to a lane that does not exist",
        raw_replace(&agent, &seen, &out_of_range, vec![]),
    )
    .await;
    denied(
        "an agent that can run a task forwards it",
        raw_replace(&capable, &seen, &moved, vec![]),
    )
    .await;
    allowed(
        "an agent that cannot run a task forwards it to another lane",
        raw_replace(&agent, &seen, &moved, vec![]),
    )
    .await;

    let running = w.running("alice", "agent-1", 30).await;
    let mut t = running.value.clone();
    t.lane = (t.lane + 1) % vayu::lanes::LANES;
    denied(
        "the holder moves a running task to another lane",
        raw_replace(&agent, &running, &t, vec![]),
    )
    .await;
    w.done("only_agents_forward_waiting_tasks_between_lanes");
}
