//! `firestore.rules` on the real emulator, part 2: claims, the lease
//! holder's writes, log lines, and takeovers after a lease runs out.
//! See `tests/rules.rs` for how cases are counted.
//!
//! Over 600 lines because each lease rule has its allowed case and a
//! denied twin per condition; the cases are one concept, the lease.

mod common;
mod rules_support;

use firestore::gcloud_sdk::google::firestore::v1 as pb;
use rules_support::*;
use std::time::Duration;
use vayu::layout::Pile;
use vayu::lifecycle::Status;
use vayu::model::{ControlRequest, Lease, now, time_add};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_an_agent_claims_for_itself_with_a_bounded_lease_and_the_next_epoch() {
    let w = World::new("rules-claim").await;
    let a1 = w.agent("agent-1").await;

    let seen = w.queued("alice").await;
    let claimed = allowed(
        "an agent claims a queued task",
        claim(&a1, &seen, "agent-1"),
    )
    .await;
    assert_eq!(claimed.value.lease.epoch, 1);
    assert!(w.exists_in(Pile::Active, &seen.value.task_id).await);

    let seen = w.queued("alice").await;
    let person = w.human("mallory").await;
    denied(
        "a signed-in user without the agent claim claims",
        claim(&person, &seen, "mallory"),
    )
    .await;
    let admin_person = w.human_with_role("root", "admin").await;
    denied(
        "an admin person (no agent claim) claims",
        claim(&admin_person, &seen, "root"),
    )
    .await;
    denied(
        "an agent claims with a forged owner (another agent's id)",
        claim(&a1, &seen, "agent-2"),
    )
    .await;

    let claim_with = |f: &dyn Fn(&mut vayu::model::Task)| {
        let mut t = claimed_by(&seen.value, "agent-1", 1);
        f(&mut t);
        t
    };
    let t = claim_with(&|t| t.lease.epoch = 0);
    denied(
        "a claim that keeps the epoch",
        raw_replace(&a1, &seen, &t, vec![]),
    )
    .await;
    let t = claim_with(&|t| t.lease.epoch = 5);
    denied(
        "a claim that jumps the epoch",
        raw_replace(&a1, &seen, &t, vec![]),
    )
    .await;
    let t = claim_with(&|t| t.lease.expires_at = Some(time_add(now(), Duration::from_secs(3600))));
    denied(
        "a claim with an hour-long lease",
        raw_replace(&a1, &seen, &t, vec![]),
    )
    .await;
    let t = claim_with(&|t| t.lease.expires_at = Some(at(-5)));
    denied(
        "a claim with a lease already over",
        raw_replace(&a1, &seen, &t, vec![]),
    )
    .await;
    let t = claim_with(&|t| t.title = "renamed by the agent".into());
    denied(
        "a claim that changes the title",
        raw_replace(&a1, &seen, &t, vec![]),
    )
    .await;
    let t = claim_with(&|t| t.assignment.primary_agent = Some("agent-2".into()));
    denied(
        "a claim naming another primary agent",
        raw_replace(&a1, &seen, &t, vec![]),
    )
    .await;
    let t = claim_with(&|t| {
        t.status = Status::Completed;
        t.lease.expires_at = None;
    });
    denied(
        "a skipped state: queued straight to completed",
        raw_replace(&a1, &seen, &t, vec![]),
    )
    .await;
    // The create half alone: the queued copy stays.
    let t = claim_with(&|_| {});
    let create_only = a1
        .task_write(&t, vayu::store::Precondition::Missing, false)
        .expect("a task encodes");
    denied(
        "a claim that does not delete the queued document",
        a1.commit(vec![create_only]),
    )
    .await;

    let mut paused = new_task("alice");
    paused.status = Status::Paused;
    let paused = w.seed(&paused).await;
    denied(
        "a claim of a paused task",
        raw_replace(
            &a1,
            &paused,
            &claimed_by(&paused.value, "agent-1", 1),
            vec![],
        ),
    )
    .await;

    // A second claim of a held task: another agent takes it over in place.
    let held = w.running("alice", "agent-1", 30).await;
    let a2 = w.agent("agent-2").await;
    let mut t = claimed_by(&held.value, "agent-2", held.value.lease.epoch + 1);
    t.history = held.value.history.clone();
    denied(
        "another agent claims a task whose lease is live",
        raw_replace(&a2, &held, &t, vec![]),
    )
    .await;
    w.done("claim");
}

/// A heartbeat of `seen` as the runner writes it: lease renewed, progress.
fn heartbeat(seen: &vayu::model::Task, progress: i64) -> vayu::model::Task {
    let mut t = seen.clone();
    t.lease.expires_at = Some(time_add(now(), Duration::from_secs(30)));
    t.execution.progress = progress;
    t.execution.current_step = Some("analyzing".into());
    t.execution.logs.push("working".into());
    t.execution.log_lines += 1;
    t
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_live_lease_holder_with_its_epoch_writes_progress_logs_and_the_end() {
    let w = World::new("rules-holder").await;
    let a1 = w.agent("agent-1").await;
    let a2 = w.agent("agent-2").await;
    let alice = w.human("alice").await;

    let held = w.running("alice", "agent-1", 30).await;
    let id = held.value.task_id.clone();
    let log = |store: &vayu::store::Store, epoch: i64, seq: u64, who: &str| {
        vec![log_write(store, &id, epoch, seq, who)]
    };
    let held = allowed(
        "the holder heartbeats with progress and a log line",
        a1.replace_task(
            &held,
            &heartbeat(&held.value, 40),
            &[],
            log(&a1, 1, 1, "agent-1"),
        ),
    )
    .await;
    denied(
        "another agent heartbeats on the holder's lease",
        a2.replace_task(&held, &heartbeat(&held.value, 50), &[], vec![]),
    )
    .await;
    denied(
        "a person writes progress",
        alice.replace_task(&held, &heartbeat(&held.value, 50), &[], vec![]),
    )
    .await;
    let mut t = heartbeat(&held.value, 50);
    t.lease.epoch = 0;
    denied(
        "the holder writes with a stale epoch",
        a1.replace_task(&held, &t, &[], vec![]),
    )
    .await;
    let mut t = heartbeat(&held.value, 50);
    t.lease.epoch = 3;
    denied(
        "the holder jumps its epoch (+2) in a heartbeat",
        a1.replace_task(&held, &t, &[], vec![]),
    )
    .await;
    let t = heartbeat(&held.value, 101);
    denied("progress above 100", raw_replace(&a1, &held, &t, vec![])).await;
    let mut t = heartbeat(&held.value, 50);
    t.execution.current_step = Some("x".repeat(300));
    denied(
        "an oversized current step",
        a1.replace_task(&held, &t, &[], vec![]),
    )
    .await;
    let mut t = heartbeat(&held.value, 50);
    t.priority = vayu::model::Priority::Critical;
    t.priority_rank = 0;
    denied(
        "a heartbeat that also raises the priority",
        a1.replace_task(&held, &t, &[], vec![]),
    )
    .await;
    let mut t = heartbeat(&held.value, 50);
    t.lease.owner = Some("agent-2".into());
    denied(
        "the holder hands its lease to another agent",
        a1.replace_task(&held, &t, &[], vec![]),
    )
    .await;

    // Log lines: only the holder, only its epoch, only with the lease.
    denied(
        "another agent adds a log line",
        a2.commit(log(&a2, 1, 9, "agent-2")),
    )
    .await;
    denied(
        "the holder adds a log line under a wrong epoch",
        a1.commit(log(&a1, 2, 9, "agent-1")),
    )
    .await;
    denied(
        "the holder signs a log line as another agent",
        a1.commit(log(&a1, 1, 10, "agent-2")),
    )
    .await;
    allowed(
        "the holder adds a log line",
        a1.commit(log(&a1, 1, 11, "agent-1")),
    )
    .await;
    // The TTL field (issue 16, retention): a timestamp an hour to ten
    // years ahead, or absent.
    let expiring = |seq: u64, v: pb::Value| {
        let mut wr = log_write(&a1, &id, 1, seq, "agent-1");
        if let Some(pb::write::Operation::Update(d)) = &mut wr.operation {
            d.fields.insert("expire_at".into(), v);
        }
        vec![wr]
    };
    let ts = |secs: i64| pb::Value {
        value_type: Some(pb::value::ValueType::TimestampValue(vayu::store::pb_time(
            at(secs),
        ))),
    };
    allowed(
        "the holder's log batch expires in 30 days",
        a1.commit(expiring(12, ts(30 * 86_400))),
    )
    .await;
    denied(
        "a log batch that would expire within the hour",
        a1.commit(expiring(13, ts(600))),
    )
    .await;
    denied(
        "a log batch whose expire_at is not a time",
        a1.commit(expiring(14, vayu::store::string_value("never"))),
    )
    .await;
    denied(
        "a log line overwritten",
        a1.commit(vec![{
            let mut wr = log_write(&a1, &id, 1, 11, "agent-1");
            wr.current_document = None;
            wr
        }]),
    )
    .await;

    // The end.
    let mut done = held.value.clone();
    done.status = Status::Completed;
    done.execution.progress = 100;
    done.execution.finished_at = Some(now());
    done.lease.expires_at = None;
    done.metadata.actual_duration = Some(0.5);
    done.record(Status::Completed, now(), Some("agent-1"), None);
    denied(
        "another agent completes the holder's task",
        a2.replace_task(&held, &done, &[Status::Completed], vec![]),
    )
    .await;
    let mut early = done.clone();
    early.metadata.retry_count = 7;
    denied(
        "a completion that rewrites the retry count",
        a1.replace_task(&held, &early, &[Status::Completed], vec![]),
    )
    .await;
    allowed(
        "the holder completes its task, with a log line",
        a1.replace_task(
            &held,
            &done,
            &[Status::Completed],
            log(&a1, 1, 2, "agent-1"),
        ),
    )
    .await;
    assert!(w.exists_in(Pile::Completed, &id).await);

    // An expired lease: the holder may not write any more.
    let stale = w.running("alice", "agent-1", -5).await;
    denied(
        "the holder heartbeats after its lease expired",
        a1.replace_task(&stale, &heartbeat(&stale.value, 10), &[], vec![]),
    )
    .await;
    let mut done = stale.value.clone();
    done.status = Status::Completed;
    done.lease.expires_at = None;
    denied(
        "the holder completes after its lease expired",
        a1.replace_task(&stale, &done, &[Status::Completed], vec![]),
    )
    .await;
    denied(
        "the holder adds a log line after its lease expired",
        a1.commit(vec![log_write(&a1, &stale.value.task_id, 1, 1, "agent-1")]),
    )
    .await;
    w.done("holder");
}

/// The runner's failed attempt: back to queued with a backoff, or failed.
fn failed_attempt(seen: &vayu::model::Task, dead: bool) -> (vayu::model::Task, Vec<Status>) {
    let mut t = seen.clone();
    t.execution.last_error = Some("handler exit 1".into());
    t.execution.finished_at = Some(now());
    t.metadata.retry_count += 1;
    t.lease = Lease {
        owner: None,
        expires_at: None,
        epoch: seen.lease.epoch,
    };
    t.record(Status::Failed, now(), Some("agent-1"), None);
    if dead {
        t.status = Status::Failed;
        (t, vec![Status::Failed])
    } else {
        t.status = Status::Queued;
        t.not_before = Some(time_add(now(), Duration::from_millis(500)));
        t.assignment.primary_agent = None;
        t.record(Status::Queued, now(), Some("agent-1"), None);
        (t, vec![Status::Failed, Status::Queued])
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_holder_retries_dead_letters_releases_and_obeys_only_as_the_table_says() {
    let w = World::new("rules-fail").await;
    let a1 = w.agent("agent-1").await;

    let held = w.running("alice", "agent-1", 30).await;
    let (t, path) = failed_attempt(&held.value, false);
    allowed(
        "the holder requeues a failed attempt with a backoff",
        a1.replace_task(&held, &t, &path, vec![]),
    )
    .await;

    let held = w.running("alice", "agent-1", 30).await;
    let (t, path) = failed_attempt(&held.value, true);
    denied(
        "the holder dead-letters a task with retries left",
        a1.replace_task(&held, &t, &path, vec![]),
    )
    .await;
    let mut spent = new_task("alice");
    spent.metadata.retry_count = 3;
    let spent = w.seed(&claimed_by(&spent, "agent-1", 4)).await;
    let (t, path) = failed_attempt(&spent.value, true);
    allowed(
        "the holder dead-letters a task whose retries are spent",
        a1.replace_task(&spent, &t, &path, vec![]),
    )
    .await;
    let mut twice = new_task("alice");
    twice.metadata.retry_count = 2;
    let twice = w.seed(&claimed_by(&twice, "agent-1", 3)).await;
    let (mut t, path) = failed_attempt(&twice.value, false);
    t.metadata.retry_count = 0;
    denied(
        "a failed attempt that resets the retry count",
        a1.replace_task(&twice, &t, &path, vec![]),
    )
    .await;

    // Release on shutdown.
    let mut t = held.value.clone();
    t.status = Status::Queued;
    t.lease = Lease {
        owner: None,
        expires_at: None,
        epoch: 1,
    };
    t.assignment.primary_agent = None;
    let mut kept = t.clone();
    kept.lease.owner = Some("agent-1".into());
    denied(
        "a release that keeps the lease owner",
        a1.replace_task(&held, &kept, &[Status::Queued], vec![]),
    )
    .await;
    allowed(
        "the holder releases its task on shutdown",
        a1.replace_task(&held, &t, &[Status::Queued], vec![]),
    )
    .await;

    // Cancel and pause only when a person asked.
    let held = w.running("alice", "agent-1", 30).await;
    let mut cancelled = held.value.clone();
    cancelled.status = Status::Cancelled;
    cancelled.lease = Lease {
        owner: None,
        expires_at: None,
        epoch: 1,
    };
    denied(
        "the holder cancels a task nobody asked to cancel",
        a1.replace_task(&held, &cancelled, &[Status::Cancelled], vec![]),
    )
    .await;
    let mut asked = held.value.clone();
    asked.control = Some(ControlRequest::Cancel);
    let asked = w.seed(&asked).await;
    let mut cancelled = asked.value.clone();
    cancelled.status = Status::Cancelled;
    cancelled.control = None;
    cancelled.lease = Lease {
        owner: None,
        expires_at: None,
        epoch: 1,
    };
    allowed(
        "the holder cancels a task a person asked to cancel",
        a1.replace_task(&asked, &cancelled, &[Status::Cancelled], vec![]),
    )
    .await;

    // A task that needs a person's review: its holder hands it to review
    // with the lease released (tests/rules_review.rs has the rest).
    let mut needs = w.running("alice", "agent-1", 30).await.value;
    needs.review.policy = Some("user".into());
    let held = w.seed(&needs).await;
    let mut reviewing = held.value.clone();
    reviewing.status = Status::Reviewing;
    reviewing.lease.owner = None;
    reviewing.lease.expires_at = None;
    reviewing.review.status = Some(vayu::model::ReviewStatus::Pending);
    let reviewing_v = allowed(
        "the holder sends its work to review (executing → reviewing)",
        a1.replace_task(&held, &reviewing, &[Status::Reviewing], vec![]),
    )
    .await;
    let mut back = reviewing_v.value.clone();
    back.status = Status::Executing;
    back.lease.expires_at = Some(time_add(now(), Duration::from_secs(30)));
    denied(
        "a skipped state: reviewing back to executing",
        raw_replace(&a1, &reviewing_v, &back, vec![]),
    )
    .await;
    w.done("fail");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_task_is_taken_over_only_after_its_lease_expired_and_the_old_holder_is_fenced() {
    let w = World::new("rules-takeover").await;
    let a1 = w.agent("agent-1").await;
    let a2 = w.agent("agent-2").await;

    // Requeue through the real recovery code.
    let live = w.running("alice", "agent-1", 30).await;
    let mut requeued = live.value.clone();
    requeued.status = Status::Queued;
    requeued.lease = Lease {
        owner: None,
        expires_at: None,
        epoch: 2,
    };
    requeued.metadata.retry_count += 1;
    requeued.assignment.primary_agent = None;
    requeued.record(Status::Failed, now(), Some("agent-2"), None);
    requeued.record(Status::Queued, now(), Some("agent-2"), None);
    denied(
        "a peer requeues a task whose lease is live",
        a2.replace_task(&live, &requeued, &[Status::Queued], vec![]),
    )
    .await;
    // The recovery code reads that refusal as "someone else got there".
    let moved = vayu::agent::requeue(&a2, &live, "agent-2", "test")
        .await
        .expect("a refused requeue is not an error for recovery");
    assert!(!moved, "nothing was requeued");
    assert_eq!(
        w.read(&live.value.task_id)
            .await
            .value
            .lease
            .owner
            .as_deref(),
        Some("agent-1"),
        "the holder still holds it"
    );
    let dead = w.running("alice", "agent-1", -5).await;
    let moved = allowed(
        "a peer requeues a task whose lease expired",
        vayu::agent::requeue(&a2, &dead, "agent-2", "lease expired"),
    )
    .await;
    assert!(moved, "the requeue happened");
    let after = w.read(&dead.value.task_id).await;
    assert_eq!(after.value.lease.epoch, 2, "the epoch went up");
    assert_eq!(after.value.metadata.retry_count, 1);
    allowed(
        "an agent requeues what its previous incarnation held (lease live)",
        vayu::agent::requeue(&a1, &live, "agent-1", "restarted"),
    )
    .await;

    // Reclaim in place (a takeover that keeps the task active).
    let reclaim = |seen: &vayu::model::Task, who: &str, epoch: i64| {
        let mut t = seen.clone();
        t.lease = Lease {
            owner: Some(who.into()),
            expires_at: Some(time_add(now(), Duration::from_secs(30))),
            epoch,
        };
        t.assignment.primary_agent = Some(who.into());
        t.assignment.add_executor(who);
        t.metadata.retry_count += 1;
        t.execution.attempt += 1;
        t.record(
            Status::Executing,
            now(),
            Some(who),
            Some("reclaimed".into()),
        );
        t
    };
    let live = w.running("alice", "agent-1", 30).await;
    denied(
        "a peer reclaims a live lease in place",
        a2.replace_task(&live, &reclaim(&live.value, "agent-2", 2), &[], vec![]),
    )
    .await;
    let dead = w.running("alice", "agent-1", -5).await;
    denied(
        "a reclaim that keeps the epoch",
        a2.replace_task(&dead, &reclaim(&dead.value, "agent-2", 1), &[], vec![]),
    )
    .await;
    denied(
        "a reclaim for a forged owner",
        a2.replace_task(&dead, &reclaim(&dead.value, "agent-3", 2), &[], vec![]),
    )
    .await;
    let person = w.human("mallory").await;
    denied(
        "a person reclaims an expired lease",
        person.replace_task(&dead, &reclaim(&dead.value, "mallory", 2), &[], vec![]),
    )
    .await;
    let taken = allowed(
        "a peer reclaims an expired lease in place",
        a2.replace_task(&dead, &reclaim(&dead.value, "agent-2", 2), &[], vec![]),
    )
    .await;

    // The old holder is fenced: it wrote epoch 1 on the version it knew.
    let mut late = dead.value.clone();
    late.status = Status::Completed;
    late.lease.expires_at = None;
    let why = refused(
        "the old holder completes after the takeover (its version)",
        a1.replace_task(&dead, &late, &[Status::Completed], vec![]),
    )
    .await;
    // Which check Firestore reports first matters to the runner: a fenced
    // writer must treat both as "re-read and find out".
    println!("a fenced write on a stale version is refused with: {why}");
    // Even on the current version, its epoch and owner are wrong now.
    let mut late = taken.value.clone();
    late.status = Status::Completed;
    late.lease = Lease {
        owner: Some("agent-1".into()),
        expires_at: None,
        epoch: 1,
    };
    denied(
        "the old holder completes on the new version with its stale epoch",
        a1.replace_task(&taken, &late, &[Status::Completed], vec![]),
    )
    .await;
    denied(
        "the old holder adds a log line under its old epoch",
        a1.commit(vec![log_write(&a1, &taken.value.task_id, 1, 50, "agent-1")]),
    )
    .await;
    let mut done = taken.value.clone();
    done.status = Status::Completed;
    done.lease.expires_at = None;
    allowed(
        "the new holder completes",
        a2.replace_task(&taken, &done, &[Status::Completed], vec![]),
    )
    .await;
    w.done("takeover");
}
