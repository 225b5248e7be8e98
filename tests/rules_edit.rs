//! `firestore.rules` `isPersonEdit` on the real emulator (issue 16, `vayu
//! task edit --priority --tags --not-before`): a task's controller edits
//! those fields of a queued or blocked task, and nothing else may; one
//! case per permission, each denied case changing one thing. And the CLI
//! end to end: a priority edit is seen in `task status`, an executing task
//! is refused with exit 4, an edit with nothing to change is exit 2.

mod common;
mod rules_support;

use rules_support::*;
use vayu::edit::{Edit, edit};
use vayu::lifecycle::Status;
use vayu::model::{Priority, Task, now, time_add};

/// `t` with its priority (and rank) set to `p`.
fn prioritised(t: &Task, p: Priority) -> Task {
    Edit {
        priority: Some(p),
        ..Edit::default()
    }
    .apply(t)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_controller_edits_priority_tags_and_start_of_an_unclaimed_task() {
    let w = World::new("rules-edit").await;
    let alice = w.human("alice").await;
    let bob = w.human("bob").await;
    let viewer = w.viewer("vera").await;
    let root = w.human_with_role("root", "admin").await;
    let agent = w.agent("agent-1").await;

    let q = w.queued("alice").await;
    let id = q.value.task_id.clone();
    let urgent = prioritised(&q.value, Priority::Critical);
    denied(
        "another person edits someone's task",
        raw_replace(&bob, &q, &urgent, vec![]),
    )
    .await;
    denied(
        "a viewer edits a task",
        raw_replace(&viewer, &q, &urgent, vec![]),
    )
    .await;
    denied(
        "an agent edits a task it did not ask for",
        raw_replace(&agent, &q, &urgent, vec![]),
    )
    .await;
    let mut off_rank = urgent.clone();
    off_rank.priority_rank = 3;
    denied(
        "a priority whose rank does not match",
        raw_replace(&alice, &q, &off_rank, vec![]),
    )
    .await;
    let mut retitled = urgent.clone();
    retitled.title = "something else".into();
    denied(
        "an edit that changes the title too",
        raw_replace(&alice, &q, &retitled, vec![]),
    )
    .await;
    let mut moved_lane = urgent.clone();
    moved_lane.lane = (q.value.lane + 1) % 15;
    denied(
        "an edit that moves the lane",
        raw_replace(&alice, &q, &moved_lane, vec![]),
    )
    .await;
    let mut retried = urgent.clone();
    retried.metadata.max_retries += 1;
    denied(
        "an edit of another metadata field",
        raw_replace(&alice, &q, &retried, vec![]),
    )
    .await;
    let mut bad_tag = q.value.clone();
    bad_tag.metadata.tags = vec!["no|pipes".into()];
    denied(
        "a tag the schema refuses",
        raw_replace(&alice, &q, &bad_tag, vec![]),
    )
    .await;
    let mut paused = urgent.clone();
    paused.status = Status::Paused;
    denied(
        "an edit that changes the status too",
        raw_replace(&alice, &q, &paused, vec![]),
    )
    .await;

    let v = allowed(
        "the requester raises the priority of a queued task",
        edit(
            &alice,
            &id,
            &Edit {
                priority: Some(Priority::Critical),
                ..Edit::default()
            },
        ),
    )
    .await;
    assert_eq!(
        (v.value.priority, v.value.priority_rank),
        (Priority::Critical, 0)
    );
    let later = Edit {
        tags: Some(vec!["nightly".into(), "ops".into()]),
        not_before: Some(Some(time_add(now(), std::time::Duration::from_secs(600)))),
        ..Edit::default()
    };
    let v = allowed(
        "the requester sets tags and a start time",
        edit(&alice, &id, &later),
    )
    .await;
    assert_eq!(v.value.metadata.tags, ["nightly", "ops"]);
    assert!(v.value.not_before.is_some());
    allowed(
        "an admin lowers it and clears the start time",
        edit(
            &root,
            &id,
            &Edit {
                priority: Some(Priority::Low),
                not_before: Some(None),
                ..Edit::default()
            },
        ),
    )
    .await;

    let running = w.running("alice", "agent-1", 60).await;
    let err = refused(
        "the requester edits a task an agent runs",
        raw_replace(
            &alice,
            &running,
            &prioritised(&running.value, Priority::High),
            vec![],
        ),
    )
    .await;
    println!("an executing task's edit: {err}");
    let out = w.vayu_as(
        "alice",
        &["task", "edit", &running.value.task_id, "--priority", "high"],
    );
    assert_eq!(
        out.status.code(),
        Some(4),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = w.vayu_as("alice", &["task", "edit", &id]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "nothing to change is a usage error"
    );
    let out = w.vayu_as(
        "alice",
        &[
            "--json",
            "task",
            "edit",
            &id,
            "--priority",
            "high",
            "--tags",
            "a,b",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let said: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(
        (said["priority"].as_str(), said["tags"].clone()),
        (Some("high"), serde_json::json!(["a", "b"]))
    );
    assert_eq!(w.read(&id).await.value.priority, Priority::High);
    w.done("only_the_controller_edits_priority_tags_and_start_of_an_unclaimed_task");
}
