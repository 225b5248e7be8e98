//! Issue 10's attack classes against the real rules: each denied case
//! beside the legitimate operation of the same shape, which stays allowed.
//! (Roles and the quota are in `tests/rules_roles.rs`.)

mod common;
mod rules_support;

use rules_support::*;
use serde_json::json;
use std::time::Duration;
use vayu::layout::{self, Pile};
use vayu::lifecycle::Status;
use vayu::model::{ControlRequest, Lease, ReviewStatus, Task, now, time_add};
use vayu::store::{Precondition, Versioned};

/// The holder's end of a run: completed, the lease let go.
fn completed(seen: &Task, by: &str) -> Task {
    let mut t = seen.clone();
    t.status = Status::Completed;
    t.lease = Lease {
        owner: None,
        expires_at: None,
        epoch: seen.lease.epoch,
    };
    t.execution.finished_at = Some(now());
    t.record(Status::Completed, now(), Some(by), None);
    t
}

/// A failed attempt handed back to the queue by its holder.
fn requeued(seen: &Task, by: &str) -> Task {
    let mut t = seen.clone();
    t.status = Status::Queued;
    t.metadata.retry_count += 1;
    t.assignment.primary_agent = None;
    t.lease = Lease {
        owner: None,
        expires_at: None,
        epoch: seen.lease.epoch,
    };
    t.not_before = Some(time_add(now(), Duration::from_millis(500)));
    t.record(Status::Failed, now(), Some(by), None);
    t.record(Status::Queued, now(), Some(by), None);
    t
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_commit_forks_a_task_into_two_piles() {
    let w = World::new("rules-fork").await;
    let a1 = w.agent("agent-1").await;
    let held = w.running("alice", "agent-1", 30).await;
    let id = held.value.task_id.clone();
    let fork = vec![
        a1.delete_write(Pile::Active, &id, held.update_time),
        a1.task_write(
            &requeued(&held.value, "agent-1"),
            Precondition::Missing,
            false,
        )
        .expect("encodes"),
        a1.task_write(
            &completed(&held.value, "agent-1"),
            Precondition::Missing,
            false,
        )
        .expect("encodes"),
    ];
    denied(
        "one commit moves a running task into the queued and the completed pile",
        a1.commit(fork),
    )
    .await;
    assert!(w.exists_in(Pile::Active, &id).await);
    allowed(
        "the holder moves it into the completed pile alone",
        raw_replace(&a1, &held, &completed(&held.value, "agent-1"), vec![]),
    )
    .await;
    assert!(!w.exists_in(Pile::Queued, &id).await);

    // A fork written past the rules (an admin, the console) is no key for
    // anyone else to delete one copy: a delete must be half of a move.
    let q = w.queued("alice").await;
    let mut copy = q.value.clone();
    copy.status = Status::Cancelled;
    w.seed(&copy).await;
    let alice = w.human("alice").await;
    denied(
        "the requester deletes one copy of a forked task",
        delete_alone(&alice, &q),
    )
    .await;
    denied(
        "an agent deletes one copy of a forked task",
        delete_alone(&a1, &q),
    )
    .await;
    w.done("forks");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_quarantine_record_is_no_delete_key() {
    let w = World::new("rules-qkey").await;
    let agent = w.agent("agent-1").await;
    let live = w.queued("alice").await;
    let id = live.value.task_id.clone();
    let record = raw_write(
        &w.admin,
        &layout::quarantine_doc(&id),
        &json!({"task_id": id, "reason": "an old record"}),
        &[],
        Precondition::None,
    );
    w.admin.commit(vec![record]).await.expect("admin writes");
    denied(
        "an agent deletes a live task next to an old quarantine record",
        delete_alone(&agent, &live),
    )
    .await;
    assert!(w.exists_in(Pile::Queued, &id).await);
    // The legitimate shape: a malformed document moved into a new record.
    let rec = w.quarantined(json!({"priority": 7})).await;
    assert!(w.record_exists(&rec).await && !w.exists_in(Pile::Queued, &rec).await);
    w.done("quarantine key");
}

/// A task in review that needs a person's verdict: done by `executor`
/// (and `executors` before it, in earlier epochs), held by nobody.
async fn in_review(w: &World, executor: &str, epoch: i64, executors: &[&str]) -> Versioned<Task> {
    let mut t = claimed_by(&new_task("alice"), executor, epoch);
    for e in executors {
        t.assignment.add_executor(e);
    }
    t.status = Status::Reviewing;
    t.lease.owner = None;
    t.lease.expires_at = None;
    t.review.policy = Some("user".into());
    t.review.status = Some(ReviewStatus::Pending);
    w.seed(&t).await
}

/// A passing decision by `by` on `seen`.
fn approved(seen: &Task, by: &str) -> Task {
    let mut d = completed(seen, by);
    // A decision changes the status, the review, the lease and the history.
    d.execution.finished_at = seen.execution.finished_at;
    d.review.reviewer = Some(by.into());
    d.review.status = Some(ReviewStatus::Passed);
    d
}

/// `by`'s approving person's verdict on `seen`, for the decision's commit.
fn verdict(
    store: &vayu::store::Store,
    seen: &Task,
    by: &str,
) -> firestore::gcloud_sdk::google::firestore::v1::Write {
    let v = vayu::review::VerdictRecord {
        task_id: seen.task_id.clone(),
        kind: vayu::review::ReviewKind::User,
        reviewer: by.into(),
        verdict: vayu::review::Verdict::Approve,
        scores: Default::default(),
        comment: String::new(),
        round: seen.review.round,
        at: None,
    };
    store.verdict_write(&v).expect("a verdict encodes")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn review_cannot_be_skipped() {
    let w = World::new("rules-skip").await;
    let a1 = w.agent("agent-1").await;
    let r = in_review(&w, "agent-1", 1, &[]).await;
    denied(
        "the executor completes a task in review without a verdict",
        raw_replace(&a1, &r, &completed(&r.value, "agent-1"), vec![]),
    )
    .await;
    let running = w.running("alice", "agent-1", 30).await;
    allowed(
        "the holder completes an executing task (no review asked)",
        raw_replace(&a1, &running, &completed(&running.value, "agent-1"), vec![]),
    )
    .await;

    // After a takeover the first executor is neither holder nor primary
    // agent, but it did the work: it may not approve it, even with the
    // reviewer role.
    let taken = in_review(&w, "agent-2", 2, &["agent-1", "agent-2"]).await;
    let first = w
        .user("agent-1", &{
            let mut c = vayu::identity::agent_claims();
            c.insert("role".into(), "reviewer".into());
            c
        })
        .await;
    denied(
        "an executor of an earlier epoch approves the work",
        raw_replace(
            &first,
            &taken,
            &approved(&taken.value, "agent-1"),
            vec![verdict(&first, &taken.value, "agent-1")],
        ),
    )
    .await;
    let rita = w.human_with_role("rita", "reviewer").await;
    denied(
        "a reviewer approves without recording a verdict",
        raw_replace(&rita, &taken, &approved(&taken.value, "rita"), vec![]),
    )
    .await;
    allowed(
        "a reviewer who never ran it approves it, with her verdict",
        raw_replace(
            &rita,
            &taken,
            &approved(&taken.value, "rita"),
            vec![verdict(&rita, &taken.value, "rita")],
        ),
    )
    .await;

    // Nobody holds a task in review: an agent cannot take it as if its
    // lease had lapsed, and block the reviewers.
    let waiting = in_review(&w, "agent-1", 1, &[]).await;
    let a3 = w.agent("agent-3").await;
    let mut mine = waiting.value.clone();
    mine.lease = Lease {
        owner: Some("agent-3".into()),
        expires_at: Some(at(30)),
        epoch: 2,
    };
    mine.assignment.primary_agent = Some("agent-3".into());
    mine.assignment.add_executor("agent-3");
    denied(
        "an agent takes a task in review in place",
        raw_replace(&a3, &waiting, &mine, vec![]),
    )
    .await;
    w.done("review bypass");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_claim_checks_the_claimers_offer_and_not_before() {
    let w = World::new("rules-offer").await;
    let mut t = new_task("alice");
    t.requires = vec!["gpu".into()];
    let seen = w.seed(&t).await;
    let plain = w.agent("agent-1").await;
    denied(
        "an agent without the required capability claims",
        claim(&plain, &seen, "agent-1"),
    )
    .await;
    w.register("agent-2", &["gpu"], &["maintenance"]).await;
    let wrong_type = w.unregistered_agent("agent-2").await;
    denied(
        "an agent without a handler for the task's type claims",
        claim(&wrong_type, &seen, "agent-2"),
    )
    .await;
    let ghost = w.unregistered_agent("ghost").await;
    denied(
        "an agent that never registered claims",
        claim(&ghost, &w.queued("alice").await, "ghost"),
    )
    .await;
    w.register("agent-3", &["gpu"], &["research"]).await;
    let capable = w.unregistered_agent("agent-3").await;
    allowed(
        "an agent offering the capability and the type claims",
        claim(&capable, &seen, "agent-3"),
    )
    .await;

    let mut later = new_task("alice");
    later.not_before = Some(at(60));
    let later = w.seed(&later).await;
    denied(
        "a claim before the task's not_before",
        claim(&plain, &later, "agent-1"),
    )
    .await;
    let mut due = new_task("alice");
    due.not_before = Some(at(-1));
    let due = w.seed(&due).await;
    let got = allowed("a claim after not_before", claim(&plain, &due, "agent-1")).await;
    assert_eq!(got.value.assignment.executors, vec!["agent-1".to_string()]);
    w.done("claims");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pending_control_survives_takeovers_and_releases_are_capped() {
    let w = World::new("rules-control").await;
    let a2 = w.agent("agent-2").await;
    let mut t = claimed_by(&new_task("alice"), "agent-1", 1);
    t.lease.expires_at = Some(at(-5));
    t.control = Some(ControlRequest::Cancel);
    let seen = w.seed(&t).await;

    let mut reclaim = seen.value.clone();
    reclaim.lease = Lease {
        owner: Some("agent-2".into()),
        expires_at: Some(at(30)),
        epoch: 2,
    };
    reclaim.assignment.primary_agent = Some("agent-2".into());
    reclaim.assignment.add_executor("agent-2");
    reclaim.control = None;
    denied(
        "a reclaim erases a pending cancel",
        raw_replace(&a2, &seen, &reclaim, vec![]),
    )
    .await;
    let cleared = Lease {
        owner: None,
        expires_at: None,
        epoch: 2,
    };
    let mut back = seen.value.clone();
    back.lease = cleared.clone();
    back.assignment.primary_agent = None;
    back.metadata.retry_count += 1;
    back.control = None;
    back.status = Status::Queued;
    back.record(Status::Failed, now(), Some("agent-2"), None);
    back.record(Status::Queued, now(), Some("agent-2"), None);
    denied(
        "a takeover requeues a task whose cancel is pending",
        raw_replace(&a2, &seen, &back, vec![]),
    )
    .await;
    let mut obeyed = seen.value.clone();
    obeyed.lease = cleared;
    obeyed.assignment.primary_agent = None;
    obeyed.control = None;
    obeyed.status = Status::Cancelled;
    obeyed.execution.finished_at = Some(now());
    obeyed.record(Status::Cancelled, now(), Some("agent-2"), None);
    allowed(
        "a takeover obeys the pending cancel",
        raw_replace(&a2, &seen, &obeyed, vec![]),
    )
    .await;

    // A holder's release may delay the retry, by an hour at most.
    let a1 = w.agent("agent-1").await;
    let held = w.running("alice", "agent-1", 30).await;
    let mut parked = requeued(&held.value, "agent-1");
    parked.not_before = Some(time_add(now(), Duration::from_secs(100 * 365 * 86_400)));
    denied(
        "a release parks the task for a century",
        raw_replace(&a1, &held, &parked, vec![]),
    )
    .await;
    allowed(
        "a release with a short backoff",
        raw_replace(&a1, &held, &requeued(&held.value, "agent-1"), vec![]),
    )
    .await;
    w.done("control");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offline_needs_two_of_the_agents_own_beats() {
    let w = World::new("rules-beats").await;
    let peer = w.agent("peer").await;
    let mut slow = agent_doc("slow", &[], &["*"]);
    slow["heartbeat_ms"] = json!(10_000);
    let fast = agent_doc("fast", &[], &["*"]);
    for (id, doc) in [("slow", &slow), ("fast", &fast)] {
        let write = raw_write(
            &w.admin,
            &layout::agent_doc(id),
            doc,
            &["last_heartbeat"],
            Precondition::None,
        );
        w.admin.commit(vec![write]).await.expect("admin writes");
    }
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    let doc = |id: &str| {
        let name = w.admin.name(&layout::agent_doc(id));
        let admin = w.admin.clone();
        async move {
            admin.batch_get(vec![name]).await.expect("admin reads")[0]
                .clone()
                .expect("the agent document exists")
        }
    };
    denied(
        "a peer marks offline an agent that beats every 10 s, 2.5 s after its beat",
        peer.mark_agent_offline(&doc("slow").await, None),
    )
    .await;
    allowed(
        "a peer marks offline an agent that beats every second, 2.5 s after its beat",
        peer.mark_agent_offline(&doc("fast").await, None),
    )
    .await;
    w.done("offline");
}
