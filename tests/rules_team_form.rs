//! `firestore.rules` for a team's formation deadline (issue 15:
//! `isTeamPart`'s `form`, `isUnformedDegrade`, `isUnformedCancel`), on
//! the real emulator. Each denied case changes one thing of an allowed
//! twin, so it is refused for that alone.

mod common;
mod rules_support;

use rules_support::*;
use vayu::layout::Pile;
use vayu::lifecycle::Status;
use vayu::model::Task;
use vayu::store::{Precondition, Store, Versioned};
use vayu::team::form::Unformed;
use vayu::team::{PartOf, Pattern, part_id};

/// Part 2 of a new team of alice's, with role `astronaut` and a deadline
/// `secs` from now (negative: past) after which it does `then`.
fn part(then: Unformed, secs: i64) -> Task {
    let mut t = new_task("alice");
    let parent = uuid::Uuid::new_v4().to_string();
    t.task_id = part_id(&parent, 2);
    t.requires = vec!["astronaut".into()];
    t.part_of = Some(PartOf {
        parent,
        pattern: Pattern::Peer,
        index: 2,
        of: 2,
        role: Some("astronaut".into()),
        form_by: Some(at(secs)),
        unformed: Some(then),
    });
    t
}

fn degraded(seen: &Versioned<Task>) -> Task {
    let mut t = seen.value.clone();
    t.requires.clear();
    t.record(
        Status::Queued,
        vayu::model::now(),
        Some("agent-1"),
        Some("formed without astronaut".into()),
    );
    t
}

fn cancelled(seen: &Versioned<Task>) -> Task {
    let mut t = seen.value.clone();
    t.status = Status::Cancelled;
    t.record(
        Status::Cancelled,
        vayu::model::now(),
        Some("agent-1"),
        Some("did not form".into()),
    );
    t
}

/// Creates `json` as alice, with no client-side check, expecting a denial.
async fn denied_json(alice: &Store, json: serde_json::Value, case: &str) {
    let id = json["task_id"].as_str().expect("an id").to_string();
    let times = ["created_at", "updated_at"];
    let write = raw_write(
        alice,
        &Pile::Queued.doc(&id),
        &json,
        &times,
        Precondition::Missing,
    );
    denied(case, commit_paying(alice, &id, vec![write])).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_part_carries_a_deadline_and_a_known_choice() {
    let w = World::new("rules-form-new").await;
    let alice = w.human("alice").await;
    for then in Unformed::ALL {
        allowed(
            &format!("a part that will {then}"),
            raw_create(&alice, &part(*then, 60)),
        )
        .await;
    }
    let json = || task_json(&part(Unformed::Cancel, 60));
    let mut bad = json();
    bad["part_of"]["unformed"] = "explode".into();
    denied_json(&alice, bad, "an unknown choice").await;
    let mut bad = json();
    bad["part_of"]["form_by"] = "tomorrow".into();
    denied_json(&alice, bad, "a deadline that is not a time").await;
    let mut bad = json();
    bad["part_of"]["quorum"] = 1.into();
    denied_json(&alice, bad, "an unknown key in part_of").await;
    w.done("a_part_carries_a_deadline_and_a_known_choice");
}

/// The cases a degrade and a cancel share, each denied for one reason:
/// `step` (as `agent`, or as bob) on a part before its deadline, on one
/// that chose otherwise, on one claimed once, on a task in no team, and
/// by a person who is not the requester; on a part claimed once, or a
/// stage that waited for another part. Returns an overdue part that
/// chose `choice`, not yet changed.
async fn denied_unless_due(
    w: &World,
    choice: Unformed,
    step: fn(&Versioned<Task>) -> Task,
) -> Versioned<Task> {
    let (agent, bob) = (w.agent("agent-1").await, w.human("bob").await);
    let early = w.seed(&part(choice, 600)).await;
    let case = |what: &str| format!("{choice}: {what}");
    denied(
        &case("before the deadline"),
        raw_replace(&agent, &early, &step(&early), vec![]),
    )
    .await;
    for other in Unformed::ALL.iter().filter(|u| **u != choice) {
        let v = w.seed(&part(*other, -5)).await;
        denied(
            &case(&format!("a part that chose {other}")),
            raw_replace(&agent, &v, &step(&v), vec![]),
        )
        .await;
    }
    // Requeued after a claim: the claim raised the epoch.
    let mut ran = part(choice, -5);
    ran.lease.epoch = 1;
    ran.execution.attempt = 1;
    let ran = w.seed(&ran).await;
    denied(
        &case("a part claimed once (formed)"),
        raw_replace(&agent, &ran, &step(&ran), vec![]),
    )
    .await;
    // A later stage, queued once the stage before it completed.
    let mut stage = part(choice, -5);
    let first = part_id(&stage.part_of.as_ref().expect("a part").parent, 1);
    stage.dependencies.blocked_by = vec![first.clone()];
    stage.dependencies.done = vec![first];
    let stage = w.seed(&stage).await;
    denied(
        &case("a stage that waited for another part"),
        raw_replace(&agent, &stage, &step(&stage), vec![]),
    )
    .await;
    let mut plain = new_task("alice");
    plain.requires = vec!["astronaut".into()];
    let plain = w.seed(&plain).await;
    denied(
        &case("a task in no team"),
        raw_replace(&agent, &plain, &step(&plain), vec![]),
    )
    .await;
    let due = w.seed(&part(choice, -5)).await;
    denied(
        &case("by a person who is not its requester"),
        raw_replace(&bob, &due, &step(&due), vec![]),
    )
    .await;
    due
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn any_agent_degrades_an_overdue_part_and_nothing_more() {
    let w = World::new("rules-form-degrade").await;
    let due = denied_unless_due(&w, Unformed::Degrade, degraded).await;
    let agent = w.agent("agent-1").await;
    let mut half = degraded(&due);
    half.requires = vec!["pilot".into()];
    denied(
        "requirements swapped, not dropped",
        raw_replace(&agent, &due, &half, vec![]),
    )
    .await;
    let mut more = degraded(&due);
    more.priority = vayu::model::Priority::Critical;
    more.priority_rank = 0;
    denied(
        "a degrade that also raises the priority",
        raw_replace(&agent, &due, &more, vec![]),
    )
    .await;
    allowed(
        "an agent degrades an overdue part",
        raw_replace(&agent, &due, &degraded(&due), vec![]),
    )
    .await;
    let after = w.read(&due.value.task_id).await;
    assert!(after.value.requires.is_empty(), "its requirements are gone");
    denied(
        "a second degrade, on the version the first read",
        raw_replace(&agent, &due, &degraded(&due), vec![]),
    )
    .await;
    w.done("any_agent_degrades_an_overdue_part_and_nothing_more");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn any_agent_cancels_an_overdue_part_and_nothing_more() {
    let w = World::new("rules-form-cancel").await;
    let due = denied_unless_due(&w, Unformed::Cancel, cancelled).await;
    let agent = w.agent("agent-1").await;
    let mut failed = cancelled(&due);
    failed.status = Status::Failed;
    denied(
        "an overdue part failed, a step the lifecycle lacks",
        raw_replace(&agent, &due, &failed, vec![]),
    )
    .await;
    let mut more = cancelled(&due);
    more.input = "something else".into();
    denied(
        "a cancel that also rewrites the input",
        raw_replace(&agent, &due, &more, vec![]),
    )
    .await;
    allowed(
        "an agent cancels an overdue part",
        raw_replace(&agent, &due, &cancelled(&due), vec![]),
    )
    .await;
    assert!(
        w.exists_in(Pile::Completed, &due.value.task_id).await,
        "in the completed pile"
    );
    denied(
        "a second cancel, on the version the first read",
        raw_replace(&agent, &due, &cancelled(&due), vec![]),
    )
    .await;
    w.done("any_agent_cancels_an_overdue_part_and_nothing_more");
}
