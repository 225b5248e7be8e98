//! Issue 14, a push under the rules (`isPush`, `pushAllows` in
//! firestore.rules): a task pushed to one agent is that agent's to claim
//! until the push runs out, and then anyone's; a push is set at creation
//! only, names an agent id, and ends within the hour. Each bypass is
//! denied beside the allowed operation of the same shape.

mod common;
mod rules_support;

use jiff::SignedDuration;
use rules_support::*;
use std::time::Duration;
use vayu::model::{Task, Time, now, time_add};
use vayu::store::Versioned;

/// alice's new task pushed to `to` until `until`.
fn pushed(to: &str, until: Time) -> Task {
    let mut t = new_task("alice");
    t.assignment.pushed_to = Some(to.into());
    t.assignment.push_until = Some(until);
    t
}

fn from_now(secs: i64) -> Time {
    Time(now().0 + SignedDuration::from_secs(secs))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_push_is_set_at_creation_and_ends_within_the_hour() {
    let w = World::new("rules-push-create").await;
    let alice = w.human("alice").await;
    allowed(
        "a person pushes a new task to an agent for a minute",
        alice.create_task(&pushed("agent-1", from_now(60))),
    )
    .await;
    denied(
        "a push that ends in two hours",
        alice.create_task(&pushed("agent-1", from_now(7200))),
    )
    .await;
    denied(
        "a push that has already ended",
        alice.create_task(&pushed("agent-1", from_now(-5))),
    )
    .await;
    denied(
        "a push to something that is no agent id",
        alice.create_task(&pushed("agent one", from_now(60))),
    )
    .await;
    let mut no_end = pushed("agent-1", from_now(60));
    no_end.assignment.push_until = None;
    denied("a push without an end", alice.create_task(&no_end)).await;
    let mut primary = pushed("agent-1", from_now(60));
    primary.assignment.primary_agent = Some("agent-1".into());
    denied(
        "a new task that names its primary agent",
        alice.create_task(&primary),
    )
    .await;
    w.done("a_push_is_set_at_creation_and_ends_within_the_hour");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_pushed_agent_claims_until_the_push_runs_out() {
    let w = World::new("rules-push-claim").await;
    let alice = w.human("alice").await;
    let a1 = w.agent("agent-1").await;
    let a2 = w.agent("agent-2").await;

    let t = pushed("agent-1", from_now(60));
    allowed("alice pushes a task to agent-1", alice.create_task(&t)).await;
    let seen = w.read(&t.task_id).await;
    denied(
        "agent-2 claims a task pushed to agent-1",
        claim(&a2, &seen, "agent-2"),
    )
    .await;
    allowed("agent-1 claims it", claim(&a1, &seen, "agent-1")).await;

    // A short push, written as admin (a person's push ends in the
    // future, so this one is made to run out while the test waits).
    let short = pushed("agent-1", time_add(now(), Duration::from_secs(2)));
    let seen: Versioned<Task> = w.seed(&short).await;
    denied(
        "agent-2 claims while the push holds",
        claim(&a2, &seen, "agent-2"),
    )
    .await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    allowed(
        "agent-2 claims once the push has run out",
        claim(&a2, &seen, "agent-2"),
    )
    .await;
    w.done("only_the_pushed_agent_claims_until_the_push_runs_out");
}
