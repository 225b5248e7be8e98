//! Issue 12, the agents' reviews under a lease (firestore.rules
//! `isReviewClaim`, `isReviewHold`, `holdsReview`). Each bypass is denied
//! beside the allowed operation of the same shape:
//! - only an agent that may give a kind claims it: a peer review by no
//!   executor of any epoch and with the `review` capability, a self-check
//!   by an executor, only kinds the policy needs, never a person's;
//! - a live review lease is not taken; an expired one is (a killed
//!   reviewer), and its old holder is then fenced out of the verdict;
//! - the holder renews or gives back, and changes nothing else (never the
//!   output it judges);
//! - an agent's verdict needs the review it holds.

mod common;
mod rules_support;

use rules_support::*;
use vayu::lifecycle::Status;
use vayu::model::{ReviewStatus, Task, now};
use vayu::review::{ReviewKind, Verdict, VerdictRecord};
use vayu::store::{Store, Versioned};

/// A task in review under `policy`, executed by agent-1 (epoch 1), held
/// by `holder` for `kind` until `expires` seconds from now (no holder:
/// free).
async fn reviewing(w: &World, policy: &str, holder: Option<(&str, &str, i64)>) -> Versioned<Task> {
    let mut t = claimed_by(&new_task("alice"), "agent-1", 1);
    t.status = Status::Reviewing;
    t.lease.owner = None;
    t.lease.expires_at = None;
    t.review.policy = Some(policy.into());
    t.review.status = Some(ReviewStatus::Pending);
    if let Some((uid, kind, expires)) = holder {
        t.lease.owner = Some(uid.into());
        t.lease.expires_at = Some(at(expires));
        t.lease.epoch = 2;
        t.review.claim = Some(kind.into());
    }
    w.seed(&t).await
}

/// What `vayu::agent`'s reviewer writes to take a review.
fn claim_review(seen: &Task, uid: &str, kind: &str) -> Task {
    let mut t = seen.clone();
    t.lease.owner = Some(uid.into());
    t.lease.expires_at = Some(at(30));
    t.lease.epoch += 1;
    t.review.claim = Some(kind.into());
    t
}

fn released(seen: &Task) -> Task {
    let mut t = seen.clone();
    t.lease.owner = None;
    t.lease.expires_at = None;
    t.review.claim = None;
    t
}

fn verdict(t: &Task, kind: ReviewKind, reviewer: &str, v: Verdict) -> VerdictRecord {
    VerdictRecord {
        task_id: t.task_id.clone(),
        kind,
        reviewer: reviewer.into(),
        verdict: v,
        scores: "correctness=5".parse().expect("valid scores"),
        comment: "checked".into(),
        round: t.review.round,
        at: None,
    }
}

async fn give(store: &Store, v: &VerdictRecord) -> vayu::Result<()> {
    let w = store.verdict_write(v)?;
    store.commit(vec![w]).await.map(|_| ())
}

struct Fleet {
    /// agent-1 executed the tasks; agent-2 has no `review` capability;
    /// agent-3 and agent-4 are reviewers.
    a1: Store,
    a2: Store,
    a3: Store,
    a4: Store,
}

async fn fleet(w: &World) -> Fleet {
    for (uid, caps) in [
        ("agent-1", &["review"][..]),
        ("agent-2", &[][..]),
        ("agent-3", &["review"][..]),
        ("agent-4", &["review"][..]),
    ] {
        w.register(uid, caps, &["*"]).await;
    }
    Fleet {
        a1: w.unregistered_agent("agent-1").await,
        a2: w.unregistered_agent("agent-2").await,
        a3: w.unregistered_agent("agent-3").await,
        a4: w.unregistered_agent("agent-4").await,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_an_agent_that_may_give_a_review_claims_it() {
    let w = World::new("rules-review-claim").await;
    let f = fleet(&w).await;
    let seen = reviewing(&w, "peer", None).await;
    let t = &seen.value;
    let cases: [(&Store, &str, &str, &str); 4] = [
        (
            &f.a1,
            "agent-1",
            "peer",
            "the executor claims the peer review of its work",
        ),
        (
            &f.a2,
            "agent-2",
            "peer",
            "an agent without the review capability claims a peer review",
        ),
        (
            &f.a3,
            "agent-3",
            "tests",
            "a reviewer claims a kind the policy does not need",
        ),
        (
            &f.a3,
            "agent-3",
            "user",
            "an agent claims a person's review",
        ),
    ];
    for (store, uid, kind, what) in cases {
        denied(
            what,
            raw_replace(store, &seen, &claim_review(t, uid, kind), vec![]),
        )
        .await;
    }
    let mut same_epoch = claim_review(t, "agent-3", "peer");
    same_epoch.lease.epoch = t.lease.epoch;
    denied(
        "a review claim that does not raise the epoch",
        raw_replace(&f.a3, &seen, &same_epoch, vec![]),
    )
    .await;
    let mut meddles = claim_review(t, "agent-3", "peer");
    meddles.execution.result = Some("a better answer".into());
    denied(
        "a review claim that rewrites the output",
        raw_replace(&f.a3, &seen, &meddles, vec![]),
    )
    .await;
    allowed(
        "a reviewer that never ran it claims the peer review",
        raw_replace(&f.a3, &seen, &claim_review(t, "agent-3", "peer"), vec![]),
    )
    .await;

    let checked = reviewing(&w, "self+tests", None).await;
    let c = &checked.value;
    denied(
        "an agent that never ran it claims the self-check",
        raw_replace(&f.a3, &checked, &claim_review(c, "agent-3", "self"), vec![]),
    )
    .await;
    allowed(
        "the executor claims its self-check",
        raw_replace(&f.a1, &checked, &claim_review(c, "agent-1", "self"), vec![]),
    )
    .await;
    let tested = reviewing(&w, "tests", None).await;
    allowed(
        "any agent claims the test run",
        raw_replace(
            &f.a2,
            &tested,
            &claim_review(&tested.value, "agent-2", "tests"),
            vec![],
        ),
    )
    .await;
    w.done("only_an_agent_that_may_give_a_review_claims_it");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_review_lease_is_held_renewed_and_taken_over_like_a_run() {
    let w = World::new("rules-review-hold").await;
    let f = fleet(&w).await;

    let held = reviewing(&w, "peer+user", Some(("agent-3", "peer", 30))).await;
    let t = &held.value;
    denied(
        "a reviewer takes a review another holds with a live lease",
        raw_replace(&f.a4, &held, &claim_review(t, "agent-4", "peer"), vec![]),
    )
    .await;
    denied(
        "a reviewer gives a verdict on a review another holds",
        give(
            &f.a4,
            &verdict(t, ReviewKind::Peer, "agent-4", Verdict::Approve),
        ),
    )
    .await;
    let mut renewed = t.clone();
    renewed.lease.expires_at = Some(at(40));
    denied(
        "another agent renews the review's lease",
        raw_replace(&f.a4, &held, &renewed, vec![]),
    )
    .await;
    let mut meddles = renewed.clone();
    meddles.execution.result = Some("a better answer".into());
    denied(
        "the review's holder rewrites the output it judges",
        raw_replace(&f.a3, &held, &meddles, vec![]),
    )
    .await;
    let mut passes = renewed.clone();
    passes.review.status = Some(ReviewStatus::Passed);
    denied(
        "the review's holder marks the review passed",
        raw_replace(&f.a3, &held, &passes, vec![]),
    )
    .await;
    allowed(
        "the review's holder renews its lease",
        raw_replace(&f.a3, &held, &renewed, vec![]),
    )
    .await;
    let held = w.read(&t.task_id).await;
    let v = verdict(&held.value, ReviewKind::Peer, "agent-3", Verdict::Approve);
    let mut tallied = released(&held.value);
    tallied.review.approved = vec!["peer".into()];
    denied(
        "the holder tallies an approval without giving its verdict",
        raw_replace(&f.a3, &held, &tallied, vec![]),
    )
    .await;
    let mut inflated = tallied.clone();
    inflated.review.approved = vec!["peer".into(), "user".into()];
    denied(
        "the holder tallies a person's approval with its own",
        raw_replace(
            &f.a3,
            &held,
            &inflated,
            vec![f.a3.verdict_write(&v).expect("encodes")],
        ),
    )
    .await;
    allowed(
        "the holder records its verdict, tallies it and gives the review back",
        raw_replace(
            &f.a3,
            &held,
            &tallied,
            vec![f.a3.verdict_write(&v).expect("encodes")],
        ),
    )
    .await;
    let after = w.read(&t.task_id).await;
    assert_eq!(
        after.value.status,
        Status::Reviewing,
        "the person's review is still to come"
    );
    assert_eq!(after.value.lease.owner, None);
    assert_eq!(after.value.review.approved, vec!["peer".to_string()]);

    // A reviewer killed mid-review: its lease ran out.
    let lapsed = reviewing(&w, "peer", Some(("agent-3", "peer", -5))).await;
    let l = &lapsed.value;
    allowed(
        "another reviewer takes over a review whose lease ran out",
        raw_replace(&f.a4, &lapsed, &claim_review(l, "agent-4", "peer"), vec![]),
    )
    .await;
    denied(
        "the reviewer taken over gives its verdict late",
        give(
            &f.a3,
            &verdict(l, ReviewKind::Peer, "agent-3", Verdict::Approve),
        ),
    )
    .await;
    let now_held = w.read(&l.task_id).await;
    let v = verdict(
        &now_held.value,
        ReviewKind::Peer,
        "agent-4",
        Verdict::Approve,
    );
    let mut done = released(&now_held.value);
    done.status = Status::Completed;
    done.review.status = Some(ReviewStatus::Passed);
    done.review.reviewer = Some("agent-4".into());
    done.record(Status::Completed, now(), Some("agent-4"), None);
    let mut keeps_claim = done.clone();
    keeps_claim.review.claim = Some("peer".into());
    denied(
        "a decision that leaves the review claimed",
        raw_replace(
            &f.a4,
            &now_held,
            &keeps_claim,
            vec![f.a4.verdict_write(&v).expect("encodes")],
        ),
    )
    .await;
    allowed(
        "the reviewer that took over approves, completing the task",
        raw_replace(
            &f.a4,
            &now_held,
            &done,
            vec![f.a4.verdict_write(&v).expect("encodes")],
        ),
    )
    .await;
    assert_eq!(w.read(&l.task_id).await.value.status, Status::Completed);
    w.done("a_review_lease_is_held_renewed_and_taken_over_like_a_run");
}

/// A task in review at its heaviest for the rules: every kind of review,
/// its last rework round but one, a full history, and every other kind's
/// approval given already (seeded); `holder` holds the peer review.
async fn fullest(w: &World, holder: Option<&str>, given: &[ReviewKind]) -> Versioned<Task> {
    let mut t = claimed_by(&new_task("alice"), "agent-1", 1);
    for i in 0..48 {
        let status = if i % 2 == 0 {
            Status::Executing
        } else {
            Status::Assigned
        };
        t.record(status, now(), Some("agent-1"), Some(format!("entry {i}")));
    }
    t.status = Status::Reviewing;
    t.lease.owner = None;
    t.lease.expires_at = None;
    t.review.policy = Some("self+peer+user+tests".into());
    t.review.status = Some(ReviewStatus::Pending);
    t.review.round = 9;
    t.review.max_rounds = Some(10);
    t.review.feedback = Some("x".repeat(3000));
    if let Some(uid) = holder {
        t.lease.owner = Some(uid.into());
        t.lease.expires_at = Some(at(30));
        t.lease.epoch = 2;
        t.review.claim = Some("peer".into());
    }
    t.review.approved = given.iter().map(|k| k.to_string()).collect();
    let seen = w.seed(&t).await;
    for kind in given {
        let reviewer = match kind {
            ReviewKind::User => "rita",
            ReviewKind::Peer => "agent-4",
            _ => "agent-1",
        };
        let v = verdict(&seen.value, *kind, reviewer, Verdict::Approve);
        let write = w.admin.verdict_write(&v).expect("encodes");
        w.admin.commit(vec![write]).await.expect("admin writes");
    }
    seen
}

fn passed(seen: &Task, by: &str) -> Task {
    let mut t = released(seen);
    t.status = Status::Completed;
    t.review.status = Some(ReviewStatus::Passed);
    t.review.reviewer = Some(by.into());
    t.review.quality_score = Some(5.0);
    t.record(
        Status::Completed,
        now(),
        Some(by),
        Some("review passed".into()),
    );
    t
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_fullest_review_decision_fits_the_rules_budget() {
    use ReviewKind::*;
    let w = World::new("rules-review-budget").await;
    let f = fleet(&w).await;
    let rita = w.human_with_role("rita", "reviewer").await;

    let seen = fullest(&w, None, &[SelfCheck, Peer, Tests]).await;
    let v = verdict(&seen.value, User, "rita", Verdict::Approve);
    allowed(
        "a person's approval completes a task that needs all four reviews",
        raw_replace(
            &rita,
            &seen,
            &passed(&seen.value, "rita"),
            vec![rita.verdict_write(&v).expect("encodes")],
        ),
    )
    .await;

    let seen = fullest(&w, Some("agent-3"), &[SelfCheck, User, Tests]).await;
    let v = verdict(&seen.value, Peer, "agent-3", Verdict::Approve);
    allowed(
        "a peer's approval completes a task that needs all four reviews",
        raw_replace(
            &f.a3,
            &seen,
            &passed(&seen.value, "agent-3"),
            vec![f.a3.verdict_write(&v).expect("encodes")],
        ),
    )
    .await;

    let seen = fullest(&w, Some("agent-3"), &[SelfCheck, User]).await;
    let v = verdict(&seen.value, Peer, "agent-3", Verdict::Reject);
    let mut back = released(&seen.value);
    back.status = Status::Rejected;
    back.review.status = Some(ReviewStatus::Failed);
    back.review.reviewer = Some("agent-3".into());
    back.review.round = 10;
    back.review.avoid = Some("agent-1".into());
    back.review.feedback = Some("peer review by agent-3: checked".into());
    back.review.approved = vec![];
    let mut carried = back.clone();
    carried.review.approved = vec!["self".into(), "user".into()];
    denied(
        "a rejection that carries this round's approvals into the next",
        raw_replace(
            &f.a3,
            &seen,
            &carried,
            vec![f.a3.verdict_write(&v).expect("encodes")],
        ),
    )
    .await;
    back.record(Status::Rejected, now(), Some("agent-3"), None);
    allowed(
        "a peer's rejection in the last round but one sends the fullest task back",
        raw_replace(
            &f.a3,
            &seen,
            &back,
            vec![f.a3.verdict_write(&v).expect("encodes")],
        ),
    )
    .await;
    let _ = &f.a1;
    w.done("the_fullest_review_decision_fits_the_rules_budget");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_persons_approval_is_tallied_beside_an_agents_review() {
    let w = World::new("rules-review-tally").await;
    let _f = fleet(&w).await;
    let rita = w.human_with_role("rita", "reviewer").await;
    let olga = w.human("olga").await;
    // agent-3 holds the peer review while rita approves.
    let held = reviewing(&w, "peer+user", Some(("agent-3", "peer", 30))).await;
    let v = verdict(&held.value, ReviewKind::User, "rita", Verdict::Approve);
    let mut tallied = held.value.clone();
    tallied.review.approved = vec!["user".into()];
    let mut as_peer = held.value.clone();
    as_peer.review.approved = vec!["peer".into()];
    denied(
        "a person tallies a peer's approval",
        raw_replace(
            &rita,
            &held,
            &as_peer,
            vec![rita.verdict_write(&v).expect("encodes")],
        ),
    )
    .await;
    let mut frees = tallied.clone();
    frees.lease.owner = None;
    frees.lease.expires_at = None;
    frees.review.claim = None;
    denied(
        "a person's tally that takes the agent's review away",
        raw_replace(
            &rita,
            &held,
            &frees,
            vec![rita.verdict_write(&v).expect("encodes")],
        ),
    )
    .await;
    let by_olga = verdict(&held.value, ReviewKind::User, "olga", Verdict::Approve);
    denied(
        "an operator (not a reviewer) tallies an approval",
        raw_replace(
            &olga,
            &held,
            &tallied,
            vec![olga.verdict_write(&by_olga).expect("encodes")],
        ),
    )
    .await;
    allowed(
        "a reviewer's approval is tallied, the agent's review left alone",
        raw_replace(
            &rita,
            &held,
            &tallied,
            vec![rita.verdict_write(&v).expect("encodes")],
        ),
    )
    .await;
    let after = w.read(&held.value.task_id).await;
    assert_eq!(after.value.review.approved, vec!["user".to_string()]);
    assert_eq!(after.value.lease.owner.as_deref(), Some("agent-3"));
    w.done("a_persons_approval_is_tallied_beside_an_agents_review");
}
