//! The heaviest ends of a run fit the rules' budget of 1,000 evaluated
//! expressions per commit, in the shape the runner writes them
//! (`src/agent/runner/write.rs`): the handler's last reports (a full log
//! tail, checkpoints, artifacts) in place first, as a heartbeat, then the
//! move out of the active pile with the rest of the end (a long result or
//! error, the progress, the finish time) but no tail change. Written in one commit, a dead letter or a completion with its
//! tails went over the budget and was refused for ever (found by
//! tests/deps_flow.rs: its agent retried until a peer took the task over).

mod common;
mod rules_support;

use rules_support::*;
use vayu::lifecycle::Status;
use vayu::model::{Artifact, Checkpoint, Lease, Task, now, time_add};

/// A task agent-1 runs, with a history near its bound.
async fn running(w: &World, max_retries: i64) -> vayu::store::Versioned<Task> {
    let mut t = new_task("alice");
    t.metadata.max_retries = max_retries;
    let mut t = claimed_by(&t, "agent-1", 1);
    t.lease.expires_at = Some(at(30));
    for i in 0..45 {
        t.record(
            Status::Executing,
            now(),
            Some("agent-1"),
            Some(format!("step {i}")),
        );
    }
    w.seed(&t).await
}

/// The handler's last reports at their bounds, in place, the lease renewed.
fn full_tails(seen: &Task) -> Task {
    let mut t = seen.clone();
    for i in 0..20 {
        t.execution
            .logs
            .push(format!("line {i} {}", "x".repeat(900)));
    }
    t.execution.log_lines += 20;
    for i in 0..10 {
        let data = format!("{i}");
        t.execution.checkpoints.push(Checkpoint {
            at: Some(now()),
            epoch: 1,
            data,
        });
    }
    for i in 0..100 {
        let (name, uri) = (format!("a{i}"), "gs://bucket/out".to_string());
        t.execution.artifacts.push(Artifact {
            name,
            uri,
            at: Some(now()),
        });
    }
    t.lease.expires_at = Some(time_add(now(), std::time::Duration::from_secs(30)));
    t
}

fn ended(seen: &Task, status: Status) -> Task {
    let mut t = seen.clone();
    // The rest of the end rides with the move: no tail check is needed.
    t.execution.result = Some("r".repeat(3000));
    t.execution.last_error = Some("e".repeat(3000));
    t.execution.progress = 100;
    t.execution.finished_at = Some(now());
    t.lease = Lease {
        owner: None,
        expires_at: None,
        epoch: seen.lease.epoch,
    };
    if status == Status::Failed {
        t.metadata.retry_count += 1;
    } else {
        t.metadata.actual_duration = Some(0.5);
    }
    t.record(status, now(), Some("agent-1"), None);
    t.status = status;
    t
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_heaviest_ends_of_a_run_fit_in_two_writes() {
    let w = World::new("rules-budget").await;
    let a1 = w.agent("agent-1").await;
    for (status, retries) in [(Status::Completed, 3), (Status::Failed, 0)] {
        let held = running(&w, retries).await;
        let tails = full_tails(&held.value);
        let flushed = allowed(
            &format!("the last reports at their bounds, in place, before {status}"),
            a1.replace_task(&held, &tails, &[], vec![]),
        )
        .await;
        // A dead letter carries its alert event (src/notify) in the move.
        let end = ended(&flushed.value, status);
        let event = (status == Status::Failed)
            .then(|| {
                a1.event_write(&vayu::notify::Event::of_task(
                    vayu::notify::Kind::Dead,
                    &end,
                ))
            })
            .transpose()
            .expect("an event encodes");
        allowed(
            &format!("then the move to {status}, with no execution change"),
            a1.replace_task(&flushed, &end, &[status], event.into_iter().collect()),
        )
        .await;
        assert_eq!(w.read(&held.value.task_id).await.value.status, status);
    }
    w.done("the_heaviest_ends_of_a_run_fit_in_two_writes");
}
