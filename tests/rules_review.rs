//! Issue 12: review cannot be skipped, and only the right reviewer gives
//! a verdict. Each bypass is denied beside the allowed operation of the
//! same shape:
//! - the holder completing a task whose policy needs review, or taking it
//!   out of review itself;
//! - the executor approving its own work, now or after a takeover (an
//!   executor of an earlier epoch);
//! - an agent without the `review` capability, or a person without the
//!   reviewer role, giving a verdict;
//! - a verdict edited or deleted after the fact;
//! - a decision without every verdict the policy needs;
//! - rework claimed by the agent whose work was rejected.

mod common;
mod rules_support;

use firestore::gcloud_sdk::google::firestore::v1 as pb;
use rules_support::*;
use vayu::lifecycle::Status;
use vayu::model::{ReviewStatus, Task, now};
use vayu::review::{ReviewKind, Scores, Verdict, VerdictRecord, verdict_id};
use vayu::store::{Precondition, Store, Versioned};

/// A task of alice's that agent-1 is running under `policy`.
async fn running_under(w: &World, policy: &str) -> Versioned<Task> {
    let mut t = claimed_by(&new_task("alice"), "agent-1", 1);
    t.lease.expires_at = Some(at(30));
    t.review.policy = Some(policy.into());
    w.seed(&t).await
}

/// What the holder writes when its work is done and needs review.
fn into_review(seen: &Task) -> Task {
    let mut t = seen.clone();
    t.status = Status::Reviewing;
    t.lease.owner = None;
    t.lease.expires_at = None;
    t.execution.progress = 100;
    t.execution.finished_at = Some(now());
    t.metadata.actual_duration = Some(0.5);
    t.review.status = Some(ReviewStatus::Pending);
    t.record(Status::Reviewing, now(), Some("agent-1"), None);
    t
}

/// A task in review under `policy`, executed by agent-0 (epoch 1, taken
/// over) and then agent-1 (epoch 2).
async fn in_review(w: &World, policy: &str) -> Versioned<Task> {
    let mut t = claimed_by(&new_task("alice"), "agent-0", 1);
    t = claimed_by(&t, "agent-1", 2);
    t.review.policy = Some(policy.into());
    w.seed(&into_review(&t)).await
}

/// A task in review under `policy` (as [`in_review`]) whose `kind` review
/// `holder` holds with a live lease (seeded by the admin, so that a
/// verdict's denial is the verdict rule's, not the claim's).
async fn held_review(w: &World, policy: &str, holder: &str, kind: &str) -> Versioned<Task> {
    let mut t = claimed_by(&new_task("alice"), "agent-0", 1);
    t = into_review(&claimed_by(&t, "agent-1", 2));
    t.review.policy = Some(policy.into());
    t.lease.owner = Some(holder.into());
    t.lease.expires_at = Some(at(30));
    t.lease.epoch = 3;
    t.review.claim = Some(kind.into());
    w.seed(&t).await
}

fn verdict(task: &Task, kind: ReviewKind, reviewer: &str, verdict: Verdict) -> VerdictRecord {
    VerdictRecord {
        task_id: task.task_id.clone(),
        kind,
        reviewer: reviewer.into(),
        verdict,
        scores: "correctness=4,quality=5"
            .parse::<Scores>()
            .expect("valid scores"),
        comment: "looked at it".into(),
        round: task.review.round,
        at: None,
    }
}

async fn give(store: &Store, v: &VerdictRecord) -> vayu::Result<()> {
    let w = store.verdict_write(v)?;
    store.commit(vec![w]).await.map(|_| ())
}

/// The decision that completes the round, with the deciding verdict.
async fn decide_completed(
    store: &Store,
    seen: &Versioned<Task>,
    v: &VerdictRecord,
) -> vayu::Result<()> {
    let mut t = seen.value.clone();
    t.status = Status::Completed;
    // Any review lease ends with the decision.
    t.lease.owner = None;
    t.lease.expires_at = None;
    t.review.claim = None;
    t.review.status = Some(ReviewStatus::Passed);
    t.review.reviewer = Some(v.reviewer.clone());
    t.review.quality_score = Some(4.4);
    t.record(Status::Completed, now(), Some(&v.reviewer), None);
    let w = store.verdict_write(v)?;
    raw_replace(store, seen, &t, vec![w]).await.map(|_| ())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_holder_cannot_skip_review() {
    let w = World::new("rules-review-skip").await;
    let a1 = w.agent("agent-1").await;

    let held = running_under(&w, "peer").await;
    let mut done = held.value.clone();
    done.status = Status::Completed;
    done.lease.expires_at = None;
    done.record(Status::Completed, now(), Some("agent-1"), None);
    denied(
        "the holder completes a task whose policy needs a peer review",
        raw_replace(&a1, &held, &done, vec![]),
    )
    .await;
    let mut kept = into_review(&held.value);
    kept.lease = held.value.lease.clone();
    denied(
        "the holder moves into review but keeps its lease",
        raw_replace(&a1, &held, &kept, vec![]),
    )
    .await;
    let mut passed = into_review(&held.value);
    passed.review.status = Some(ReviewStatus::Passed);
    denied(
        "the holder moves into review already passed",
        raw_replace(&a1, &held, &passed, vec![]),
    )
    .await;
    allowed(
        "the holder moves into review, releasing the lease",
        raw_replace(&a1, &held, &into_review(&held.value), vec![]),
    )
    .await;

    let reviewing = w.read(&held.value.task_id).await;
    assert_eq!(reviewing.value.status, Status::Reviewing);
    let mut own = reviewing.value.clone();
    own.status = Status::Completed;
    own.review.status = Some(ReviewStatus::Passed);
    own.review.reviewer = Some("agent-1".into());
    denied(
        "the executor completes its task in review without a verdict",
        raw_replace(&a1, &reviewing, &own, vec![]),
    )
    .await;

    let none = running_under(&w, "none").await;
    denied(
        "the holder moves into review a task that needs none",
        raw_replace(&a1, &none, &into_review(&none.value), vec![]),
    )
    .await;
    w.done("the_holder_cannot_skip_review");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_a_reviewer_other_than_every_executor_gives_a_peer_verdict() {
    let w = World::new("rules-review-peer").await;
    for (uid, caps) in [
        ("agent-0", &["review"][..]),
        ("agent-1", &["review"][..]),
        ("agent-2", &[][..]),
        ("agent-3", &["review"][..]),
    ] {
        w.register(uid, caps, &["*"]).await;
    }
    let agent = |uid: &'static str| w.unregistered_agent(uid);
    let (a0, a1, a2, a3) = (
        agent("agent-0").await,
        agent("agent-1").await,
        agent("agent-2").await,
        agent("agent-3").await,
    );
    // Each caller holds the peer review's lease (seeded): the verdict rule
    // alone refuses it.
    for (store, uid, what) in [
        (&a1, "agent-1", "the executor approves its own work"),
        (
            &a0,
            "agent-0",
            "an executor of an earlier epoch (taken over) approves",
        ),
        (
            &a2,
            "agent-2",
            "an agent without the review capability approves",
        ),
    ] {
        let held = held_review(&w, "peer", uid, "peer").await;
        let v = verdict(&held.value, ReviewKind::Peer, uid, Verdict::Approve);
        denied(what, give(store, &v)).await;
    }
    let seen = held_review(&w, "peer", "agent-3", "peer").await;
    let t = &seen.value;
    let other = in_review(&w, "peer").await;
    denied(
        "a reviewer approves a task whose review it does not hold",
        give(
            &a3,
            &verdict(&other.value, ReviewKind::Peer, "agent-3", Verdict::Approve),
        ),
    )
    .await;
    denied(
        "a reviewer signs a verdict with another's name",
        give(
            &a3,
            &verdict(t, ReviewKind::Peer, "agent-0", Verdict::Approve),
        ),
    )
    .await;
    let mut later = verdict(t, ReviewKind::Peer, "agent-3", Verdict::Approve);
    later.round = 1;
    denied(
        "a verdict for a round that has not begun",
        give(&a3, &later),
    )
    .await;
    denied(
        "an agent gives a person's verdict",
        give(
            &a3,
            &verdict(t, ReviewKind::User, "agent-3", Verdict::Approve),
        ),
    )
    .await;

    let v = verdict(t, ReviewKind::Peer, "agent-3", Verdict::Approve);
    allowed(
        "a reviewer that never ran it approves, and completes the task",
        decide_completed(&a3, &seen, &v),
    )
    .await;
    let done = w.read(&t.task_id).await;
    assert_eq!(done.value.status, Status::Completed);
    assert_eq!(done.value.review.status, Some(ReviewStatus::Passed));

    let rel = format!("reviews/{}", verdict_id(&t.task_id, 0, ReviewKind::Peer));
    let mut edited = serde_json::to_value(&v).expect("a verdict serializes");
    edited["verdict"] = "reject".into();
    denied(
        "the reviewer edits its verdict after the fact",
        a3.commit(vec![raw_write(
            &a3,
            &rel,
            &edited,
            &["at"],
            Precondition::Exists,
        )]),
    )
    .await;
    let delete = pb::Write {
        operation: Some(pb::write::Operation::Delete(a3.name(&rel))),
        ..Default::default()
    };
    denied("the reviewer deletes its verdict", a3.commit(vec![delete])).await;
    w.done("only_a_reviewer_other_than_every_executor_gives_a_peer_verdict");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_reviews_and_rejected_work_goes_to_another_agent() {
    let w = World::new("rules-review-user").await;
    let operator = w.human("olga").await;
    let reviewer = w.human_with_role("rita", "reviewer").await;
    w.register("agent-1", &[], &["*"]).await;
    w.register("agent-2", &[], &["*"]).await;
    let a1 = w.unregistered_agent("agent-1").await;
    let a2 = w.unregistered_agent("agent-2").await;

    // Both a peer and a person: the person's approval alone decides nothing.
    let both = in_review(&w, "peer+user").await;
    let v = verdict(&both.value, ReviewKind::User, "rita", Verdict::Approve);
    denied(
        "a person completes a task whose peer review is missing",
        decide_completed(&reviewer, &both, &v),
    )
    .await;
    allowed("a reviewer records a verdict alone", give(&reviewer, &v)).await;

    let seen = in_review(&w, "user").await;
    let t = &seen.value;
    denied(
        "an operator (not a reviewer) approves",
        give(
            &operator,
            &verdict(t, ReviewKind::User, "olga", Verdict::Approve),
        ),
    )
    .await;

    // Rejected: back to the queue for round 1, not for agent-1.
    let v = verdict(t, ReviewKind::User, "rita", Verdict::Reject);
    let mut back = t.clone();
    back.status = Status::Rejected;
    back.review.status = Some(ReviewStatus::Failed);
    back.review.reviewer = Some("rita".into());
    back.review.feedback = Some("user review by rita: looked at it".into());
    back.review.avoid = Some("agent-1".into());
    back.record(Status::Rejected, now(), Some("rita"), None);
    let mut same_round = back.clone();
    same_round.review.round = 0;
    back.review.round = 1;
    denied(
        "a rejection that does not start a new round",
        raw_replace(
            &reviewer,
            &seen,
            &same_round,
            vec![reviewer.verdict_write(&v).expect("encodes")],
        ),
    )
    .await;
    allowed(
        "a reviewer rejects, sending the task back for rework",
        raw_replace(
            &reviewer,
            &seen,
            &back,
            vec![reviewer.verdict_write(&v).expect("encodes")],
        ),
    )
    .await;
    let queued = w.read(&t.task_id).await;
    assert_eq!(
        (queued.pile, queued.value.status),
        (vayu::layout::Pile::Queued, Status::Rejected)
    );
    denied(
        "the agent whose work was rejected claims the rework",
        claim(&a1, &queued, "agent-1"),
    )
    .await;
    allowed(
        "another agent claims the rework",
        claim(&a2, &queued, "agent-2"),
    )
    .await;
    w.done("a_person_reviews_and_rejected_work_goes_to_another_agent");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_task_asks_for_a_well_formed_review() {
    let w = World::new("rules-review-new").await;
    let alice = w.human("alice").await;
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
        let (alice, id) = (alice.clone(), t.task_id.clone());
        async move { commit_paying(&alice, &id, vec![put]).await }
    };
    for policy in ["peer", "user+tests", "self"] {
        let mut t = new_task("alice");
        t.review.policy = Some(policy.into());
        allowed(&format!("a new task that asks for '{policy}'"), create(&t)).await;
    }
    for policy in ["user+peer", "peer+robot", "peer+peer"] {
        let mut t = new_task("alice");
        t.review.policy = Some(policy.into());
        denied(
            &format!("a new task whose policy is '{policy}'"),
            create(&t),
        )
        .await;
    }
    let mut t = new_task("alice");
    t.review.policy = Some("peer".into());
    t.review.claim = Some("peer".into());
    denied("a new task with a review already claimed", create(&t)).await;
    let mut t = new_task("alice");
    t.review.policy = Some("none".into());
    denied(
        "a new task that stores 'none' instead of no policy",
        create(&t),
    )
    .await;
    let mut t = new_task("alice");
    t.review.round = 1;
    t.review.policy = Some("user".into());
    denied("a new task already in its second round", create(&t)).await;
    let mut t = new_task("alice");
    t.review.policy = Some("user".into());
    t.review.max_rounds = Some(11);
    denied("a new task that allows 11 rework rounds", create(&t)).await;
    let mut t = new_task("alice");
    t.review.rework = Some(vayu::model::Rework::Same);
    denied("a rework plan without a review", create(&t)).await;
    let mut t = new_task("alice");
    t.review.policy = Some("user".into());
    t.review.rework = Some(vayu::model::Rework::Same);
    t.review.max_rounds = Some(10);
    allowed("a new task that asks for a person's review", create(&t)).await;
    w.done("a_new_task_asks_for_a_well_formed_review");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_requester_rates_a_completed_task_once() {
    use vayu::review::Rating;
    let w = World::new("rules-review-rate").await;
    let alice = w.human("alice").await;
    let bob = w.human("bob").await;
    let agent = w.agent("agent-1").await;
    let mut done = claimed_by(&new_task("alice"), "agent-1", 1);
    done.status = Status::Completed;
    done.lease.expires_at = None;
    let done = w.seed(&done).await;
    let running = w.running("alice", "agent-1", 30).await;
    let rating = |task: &Task, by: &str, n: i64| Rating {
        task_id: task.task_id.clone(),
        rating: n,
        comment: "fine".into(),
        by: by.into(),
        at: None,
    };
    let put = |s: &Store, r: Rating| {
        let (s, w) = (s.clone(), s.rating_write(&r).expect("a rating encodes"));
        async move { s.commit(vec![w]).await }
    };
    denied(
        "someone else rates alice's task",
        put(&bob, rating(&done.value, "bob", 5)),
    )
    .await;
    denied(
        "an agent rates a task",
        put(&agent, rating(&done.value, "agent-1", 5)),
    )
    .await;
    denied(
        "a rating of 6",
        put(&alice, rating(&done.value, "alice", 6)),
    )
    .await;
    denied(
        "a rating of 0",
        put(&alice, rating(&done.value, "alice", 0)),
    )
    .await;
    denied(
        "a rating signed as another",
        put(&alice, rating(&done.value, "bob", 4)),
    )
    .await;
    denied(
        "a rating of a running task",
        put(&alice, rating(&running.value, "alice", 4)),
    )
    .await;
    allowed(
        "alice rates her completed task",
        put(&alice, rating(&done.value, "alice", 4)),
    )
    .await;
    // The create's precondition may answer before the rules do.
    refused(
        "alice rates it again",
        put(&alice, rating(&done.value, "alice", 5)),
    )
    .await;
    let mut again = serde_json::to_value(rating(&done.value, "alice", 5)).expect("serializes");
    again["at"] = serde_json::Value::Null;
    let rel = format!("ratings/{}", done.value.task_id);
    let overwrite = raw_write(&alice, &rel, &again, &["at"], Precondition::Exists);
    denied("alice overwrites her rating", alice.commit(vec![overwrite])).await;
    w.done("only_the_requester_rates_a_completed_task_once");
}

/// `rita`'s rejection of `seen` as the decision writes it: round + 1,
/// status `to`, and `avoid`.
fn rejection(seen: &Task, to: Status, avoid: Option<&str>) -> Task {
    let mut t = seen.clone();
    t.status = to;
    t.review.status = Some(ReviewStatus::Failed);
    t.review.reviewer = Some("rita".into());
    t.review.round = seen.review.round + 1;
    t.review.avoid = avoid.map(str::to_string);
    t.record(Status::Rejected, now(), Some("rita"), None);
    if to == Status::Failed {
        t.record(Status::Failed, now(), Some("rita"), None);
    }
    t
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rework_goes_where_the_task_says_and_the_last_round_fails() {
    use vayu::model::Rework;
    let w = World::new("rules-review-rework").await;
    let rita = w.human_with_role("rita", "reviewer").await;
    let reject = |seen: &Versioned<Task>| {
        let v = verdict(&seen.value, ReviewKind::User, "rita", Verdict::Reject);
        vec![rita.verdict_write(&v).expect("a verdict encodes")]
    };

    let default = in_review(&w, "user").await;
    denied(
        "a rejection that lets the rejected agent rework it",
        raw_replace(
            &rita,
            &default,
            &rejection(&default.value, Status::Rejected, None),
            reject(&default),
        ),
    )
    .await;

    let mut same = claimed_by(&new_task("alice"), "agent-1", 1);
    same.review.policy = Some("user".into());
    same.review.rework = Some(Rework::Same);
    let same = w.seed(&into_review(&same)).await;
    denied(
        "a rejection that keeps the agent away from rework it asked to keep",
        raw_replace(
            &rita,
            &same,
            &rejection(&same.value, Status::Rejected, Some("agent-1")),
            reject(&same),
        ),
    )
    .await;
    allowed(
        "a rejection back to the same agent, as the task says",
        raw_replace(
            &rita,
            &same,
            &rejection(&same.value, Status::Rejected, None),
            reject(&same),
        ),
    )
    .await;

    let mut last = claimed_by(&new_task("alice"), "agent-1", 1);
    last.review.policy = Some("user".into());
    last.review.max_rounds = Some(0);
    let last = w.seed(&into_review(&last)).await;
    denied(
        "a rejection in the last round that sends the task back anyway",
        raw_replace(
            &rita,
            &last,
            &rejection(&last.value, Status::Rejected, Some("agent-1")),
            reject(&last),
        ),
    )
    .await;
    allowed(
        "a rejection in the last round fails the task",
        raw_replace(
            &rita,
            &last,
            &rejection(&last.value, Status::Failed, Some("agent-1")),
            reject(&last),
        ),
    )
    .await;
    let failed = w.read(&last.value.task_id).await;
    assert_eq!(
        (failed.pile, failed.value.status),
        (vayu::layout::Pile::Completed, Status::Failed)
    );
    w.done("rework_goes_where_the_task_says_and_the_last_round_fails");
}
