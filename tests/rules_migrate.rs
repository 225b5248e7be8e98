//! `firestore.rules` for `vayu task migrate` (issue 16): the person's
//! request (`isControlRequest`, `isMigratePush`), the holder's hand-back
//! (`isHolderRequeue`) and a takeover's (`takeoverObeys`), one case per
//! permission, each denied case changing one thing.

mod common;
mod rules_support;

use rules_support::*;
use std::time::Duration;
use vayu::lifecycle::Status;
use vayu::model::{ControlRequest, Lease, Task, now, time_add};
use vayu::store::Versioned;

/// `t` with a migration to `to` requested, pushed for `hold`.
fn asked(t: &Task, to: &str, hold: Duration) -> Task {
    let mut n = t.clone();
    n.control = Some(ControlRequest::Migrate);
    n.assignment.pushed_to = Some(to.into());
    n.assignment.push_until = Some(time_add(now(), hold));
    n
}

/// The hand-back a holder (or a takeover, with `epoch`) writes: queued,
/// lease cleared, the push kept.
fn handed_back(t: &Task, by: &str, epoch: i64) -> Task {
    let mut n = t.clone();
    n.status = Status::Queued;
    n.control = None;
    n.lease = Lease {
        owner: None,
        expires_at: None,
        epoch,
    };
    n.assignment.primary_agent = None;
    n.record(
        Status::Queued,
        now(),
        Some(by),
        Some("migrate requested".into()),
    );
    n
}

const HOLD: Duration = Duration::from_secs(600);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_controller_asks_and_only_the_push_it_asked_for_is_kept() {
    let w = World::new("rules-migrate").await;
    let alice = w.human("alice").await;
    let bob = w.human("bob").await;
    let vera = w.viewer("vera").await;
    let a1 = w.agent("agent-1").await;
    let a2 = w.agent("agent-2").await;

    let run = w.running("alice", "agent-1", 30).await;
    let to_b = asked(&run.value, "agent-2", HOLD);
    denied(
        "another person migrates it",
        raw_replace(&bob, &run, &to_b, vec![]),
    )
    .await;
    denied(
        "a viewer migrates it",
        raw_replace(&vera, &run, &to_b, vec![]),
    )
    .await;
    denied(
        "the target agent migrates it to itself",
        raw_replace(&a2, &run, &to_b, vec![]),
    )
    .await;
    denied(
        "a migration to the agent running it",
        raw_replace(&alice, &run, &asked(&run.value, "agent-1", HOLD), vec![]),
    )
    .await;
    denied(
        "a push held past an hour",
        raw_replace(
            &alice,
            &run,
            &asked(&run.value, "agent-2", Duration::from_secs(7200)),
            vec![],
        ),
    )
    .await;
    let mut odd_id = asked(&run.value, "agent-2", HOLD);
    odd_id.assignment.pushed_to = Some("agent 2/../x".into());
    denied(
        "a push to a malformed agent id",
        raw_replace(&alice, &run, &odd_id, vec![]),
    )
    .await;
    let mut also_primary = to_b.clone();
    also_primary.assignment.primary_agent = Some("agent-2".into());
    denied(
        "a migration that also rewrites the primary agent",
        raw_replace(&alice, &run, &also_primary, vec![]),
    )
    .await;
    let mut also_title = to_b.clone();
    also_title.title = "renamed".into();
    denied(
        "a migration that also renames",
        raw_replace(&alice, &run, &also_title, vec![]),
    )
    .await;
    let mut pause = run.value.clone();
    pause.control = Some(ControlRequest::Pause);
    let paused: Versioned<Task> = {
        raw_replace(&alice, &run, &pause, vec![])
            .await
            .expect("a pause request is allowed");
        w.read(&run.value.task_id).await
    };
    denied(
        "a migration over a pending pause",
        raw_replace(
            &alice,
            &paused,
            &asked(&paused.value, "agent-2", HOLD),
            vec![],
        ),
    )
    .await;

    // In review nobody holds it, and nothing could carry a migration out.
    let mut t = new_task("alice");
    t.status = Status::Reviewing;
    let in_review = w.seed(&t).await;
    denied(
        "a migration of a task in review",
        raw_replace(
            &alice,
            &in_review,
            &asked(&in_review.value, "agent-2", HOLD),
            vec![],
        ),
    )
    .await;

    let run = w.running("alice", "agent-1", 30).await;
    let to_b = asked(&run.value, "agent-2", HOLD);
    allowed(
        "the requester migrates her running task",
        raw_replace(&alice, &run, &to_b, vec![]),
    )
    .await;
    let requested = w.read(&run.value.task_id).await;

    let mut elsewhere = handed_back(&requested.value, "agent-1", 1);
    elsewhere.assignment.pushed_to = Some("agent-3".into());
    denied(
        "the holder hands it to another agent than asked",
        raw_replace(&a1, &requested, &elsewhere, vec![]),
    )
    .await;
    let mut longer = handed_back(&requested.value, "agent-1", 1);
    longer.assignment.push_until = Some(time_add(now(), Duration::from_secs(3000)));
    denied(
        "the holder stretches the push",
        raw_replace(&a1, &requested, &longer, vec![]),
    )
    .await;
    let mut spent = handed_back(&requested.value, "agent-1", 1);
    spent.metadata.retry_count += 1;
    denied(
        "the holder counts the migration as a failed attempt",
        raw_replace(&a1, &requested, &spent, vec![]),
    )
    .await;
    let mut paused_instead = handed_back(&requested.value, "agent-1", 1);
    paused_instead.status = Status::Paused;
    denied(
        "the holder pauses instead",
        raw_replace(&a1, &requested, &paused_instead, vec![]),
    )
    .await;
    allowed(
        "the holder hands it back, pushed to the new agent",
        raw_replace(
            &a1,
            &requested,
            &handed_back(&requested.value, "agent-1", 1),
            vec![],
        ),
    )
    .await;
    let queued = w.read(&run.value.task_id).await;
    assert_eq!(
        queued.value.assignment.pushed_to.as_deref(),
        Some("agent-2")
    );
    assert_eq!(queued.value.control, None);
    w.done("rules_migrate request and hand-back");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_takeover_of_a_migrating_task_queues_it_for_the_new_agent() {
    let w = World::new("rules-migrate-takeover").await;
    let alice = w.human("alice").await;
    let a3 = w.agent("agent-3").await;
    w.register("agent-3", &[], &["*"]).await;

    // Asked while the lease was live; the holder died before obeying.
    let run = w.running("alice", "agent-1", 2).await;
    allowed(
        "the request",
        raw_replace(&alice, &run, &asked(&run.value, "agent-2", HOLD), vec![]),
    )
    .await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let expired = w.read(&run.value.task_id).await;
    let epoch = expired.value.lease.epoch + 1;
    let mut paused = handed_back(&expired.value, "agent-3", epoch);
    paused.status = Status::Paused;
    denied(
        "a takeover that pauses it",
        raw_replace(&a3, &expired, &paused, vec![]),
    )
    .await;
    let mut dropped = handed_back(&expired.value, "agent-3", epoch);
    dropped.assignment.pushed_to = None;
    dropped.assignment.push_until = None;
    denied(
        "a takeover that drops the push",
        raw_replace(&a3, &expired, &dropped, vec![]),
    )
    .await;
    allowed(
        "a takeover that queues it for the new agent",
        raw_replace(
            &a3,
            &expired,
            &handed_back(&expired.value, "agent-3", epoch),
            vec![],
        ),
    )
    .await;
    let queued = w.read(&run.value.task_id).await;
    assert_eq!(queued.value.status, Status::Queued);
    assert_eq!(
        queued.value.assignment.pushed_to.as_deref(),
        Some("agent-2")
    );
    w.done("rules_migrate takeover");
}
