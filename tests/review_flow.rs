//! Issue 12, a person's review end to end under the rules: a task created
//! with `--review user` is run by an agent and waits in review, listed by
//! `task list --needs-review` and shown by `task status` as waiting for
//! a person; rejected, it goes back to the queue with
//! the comment, and another agent does the rework (the rules and the
//! agents' offers keep the first away); approved, it completes with a
//! quality score, and `task status` shows both rounds' verdicts; its
//! requester rates it, and `vayu stats` counts it.

mod common;
mod rules_support;

use common::fleet::{fast_agent, shell, wait_task};
use rules_support::*;
use std::time::Duration;
use vayu::agent;
use vayu::layout::Pile;
use vayu::lifecycle::Status;
use vayu::model::{Priority, ReviewStatus, TaskType};
use vayu::review::{ReviewKind, ReviewPolicy, Verdict};
use vayu::reviews::{GivenVerdict, Reviewed};
use vayu::tasks::{self, NewTask};

fn person_verdict(verdict: Verdict, scores: &str, comment: &str) -> GivenVerdict {
    GivenVerdict {
        kind: ReviewKind::User,
        reviewer: "rita".into(),
        verdict,
        scores: scores.parse().expect("valid scores"),
        comment: comment.into(),
    }
}

fn vayu(w: &World, args: &[&str]) -> std::process::Output {
    w.vayu(args)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rejected_work_is_reworked_by_another_agent_then_approved() {
    let w = World::new("review-flow").await;
    let dir = tempfile::tempdir().expect("a temp dir");
    let runs = dir.path().join("runs.txt");
    let handler = shell(&format!(
        "echo \"$VAYU_AGENT_ID\" >> {}; echo 'vayu:result draft'",
        runs.display()
    ));
    let (stop, rx) = tokio::sync::watch::channel(false);
    let mut agents = Vec::new();
    for id in ["rev-a", "rev-b"] {
        let store = w.unregistered_agent(id).await;
        let mut rx = rx.clone();
        agents.push(tokio::spawn(agent::run(
            store,
            fast_agent(id, handler.clone()),
            async move {
                let _ = rx.wait_for(|s| *s).await;
            },
        )));
    }

    let alice = w.human("alice").await;
    let mut new = NewTask::new(TaskType::Research, Priority::Normal, "write the summary");
    new.requester.id = "alice".into();
    new.review = Some("user".parse::<ReviewPolicy>().expect("a policy"));
    let id = allowed(
        "alice creates a task that needs her review",
        tasks::create(&alice, new),
    )
    .await
    .task_id;

    let limit = Duration::from_secs(60);
    let first = wait_task(&w.admin, &id, limit, "in review", |v| {
        v.value.status == Status::Reviewing
    })
    .await;
    assert_eq!(first.pile, Pile::Active);
    assert_eq!(
        first.value.lease.owner, None,
        "nobody holds a task in review"
    );
    let first_agent = first
        .value
        .assignment
        .primary_agent
        .clone()
        .expect("an executor");

    let listed = vayu(&w, &["task", "list", "--needs-review", "--json"]);
    assert!(
        listed.status.success(),
        "{}",
        String::from_utf8_lossy(&listed.stderr)
    );
    let rows: serde_json::Value = serde_json::from_slice(&listed.stdout).expect("JSON");
    let rows = &rows["tasks"];
    assert_eq!(rows.as_array().map(Vec::len), Some(1), "{rows}");
    assert_eq!(rows[0]["task_id"], id.as_str());
    let waiting = vayu(&w, &["task", "status", "--id", &id]);
    let text = String::from_utf8_lossy(&waiting.stdout);
    assert!(
        text.contains("waiting: a person's review (vayu task review)"),
        "{text}"
    );

    let rita = w.human_with_role("rita", "reviewer").await;
    let rejected = allowed(
        "rita rejects the first round",
        vayu::reviews::give(
            &rita,
            &id,
            person_verdict(Verdict::Reject, "correctness=2", "cite the sources"),
        ),
    )
    .await;
    assert_eq!(
        rejected,
        Reviewed::Rework {
            round: 1,
            avoid: Some(first_agent.clone())
        }
    );

    let second = wait_task(&w.admin, &id, limit, "in review again", |v| {
        v.value.status == Status::Reviewing && v.value.review.round == 1
    })
    .await;
    let second_agent = second
        .value
        .assignment
        .primary_agent
        .clone()
        .expect("an executor");
    assert_ne!(
        second_agent, first_agent,
        "the rework went to another agent"
    );
    assert_eq!(
        second.value.review.feedback.as_deref(),
        Some("user review by rita: cite the sources")
    );

    let approved = allowed(
        "rita approves the rework",
        vayu::reviews::give(
            &rita,
            &id,
            person_verdict(Verdict::Approve, "correctness=5,completeness=4", ""),
        ),
    )
    .await;
    // 0.4 * 5 + 0.3 * 4 over 0.7 = 4.57
    assert_eq!(
        approved,
        Reviewed::Completed {
            quality_score: Some(4.57)
        }
    );
    let done = w.read(&id).await;
    assert_eq!(
        (done.pile, done.value.status),
        (Pile::Completed, Status::Completed)
    );
    assert_eq!(done.value.review.status, Some(ReviewStatus::Passed));
    assert_eq!(done.value.review.quality_score, Some(4.57));

    let status = vayu(&w, &["task", "status", "--id", &id]);
    let text = String::from_utf8_lossy(&status.stdout);
    assert!(
        text.contains("review    user, round 1, passed, quality score 4.57"),
        "{text}"
    );
    assert!(
        text.contains("verdict   round 0 user by rita: reject (correctness=2) — cite the sources"),
        "{text}"
    );
    assert!(
        text.contains("verdict   round 1 user by rita: approve"),
        "{text}"
    );
    let again = vayu(&w, &["task", "review", &id, "--approve"]);
    assert_eq!(
        again.status.code(),
        Some(4),
        "a finished task is not in review: refused"
    );

    // The requester rates it, once; the reviewer may not.
    let refused = vayu::reviews::rate(&rita, &id, "rita", 2, "").await;
    assert!(
        matches!(refused, Err(vayu::Error::PermissionDenied(_))),
        "{refused:?}"
    );
    allowed(
        "alice rates her task",
        vayu::reviews::rate(&alice, &id, "alice", 5, "great"),
    )
    .await;
    let twice = vayu::reviews::rate(&alice, &id, "alice", 4, "").await;
    assert!(matches!(twice, Err(vayu::Error::Conflict(_))), "{twice:?}");
    let stats = vayu(&w, &["stats", "--json"]);
    assert!(
        stats.status.success(),
        "{}",
        String::from_utf8_lossy(&stats.stderr)
    );
    let stats: serde_json::Value = serde_json::from_slice(&stats.stdout).expect("JSON");
    assert_eq!(stats["reviewed"], 1, "{stats}");
    assert_eq!(stats["first_time_success"], 0.0, "{stats}");
    assert_eq!(stats["rework_rate"], 1.0, "{stats}");
    assert_eq!(
        stats["quality_by_agent"][&second_agent]["mean"], 4.57,
        "{stats}"
    );
    assert_eq!(stats["rating"]["mean"], 5.0, "{stats}");

    let ran = std::fs::read_to_string(&runs).expect("the handler ran");
    assert_eq!(
        ran.lines().collect::<Vec<_>>(),
        vec![first_agent.as_str(), second_agent.as_str()]
    );
    stop.send(true).expect("the agents listen");
    for a in agents {
        a.await.expect("no panic").expect("the agent ends cleanly");
    }
    w.done("rejected_work_is_reworked_by_another_agent_then_approved");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn review_flags_that_cannot_be_met_are_refused_with_nothing_written() {
    let w = World::new("review-flags").await;
    for (args, says) in [
        (&["--review", "peer+peer"][..], "'peer' appears twice"),
        (&["--rework", "same"][..], "need a review"),
        (&["--review", "user", "--review-rounds", "11"][..], "11"),
        (&["--review", "robot"][..], "unknown review kind 'robot'"),
    ] {
        let mut all = vec!["task", "create", "a task"];
        all.extend_from_slice(args);
        let out = vayu(&w, &all);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(says), "{args:?}: {err}");
    }
    let listed = vayu(&w, &["task", "list", "--json"]);
    let rows: serde_json::Value = serde_json::from_slice(&listed.stdout).expect("JSON");
    assert_eq!(rows["tasks"], serde_json::json!([]), "nothing was written");
    let ok = vayu(
        &w,
        &[
            "task",
            "create",
            "a task",
            "--review",
            "user+peer",
            "--rework",
            "same",
            "--review-rounds",
            "0",
            "--json",
        ],
    );
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    let id: serde_json::Value = serde_json::from_slice(&ok.stdout).expect("JSON");
    let t = w.read(id["task_id"].as_str().expect("an id")).await.value;
    assert_eq!(
        (
            t.review.policy.as_deref(),
            t.review.rework,
            t.review.max_rounds
        ),
        (Some("peer+user"), Some(vayu::model::Rework::Same), Some(0))
    );
    w.done("review_flags_that_cannot_be_met_are_refused_with_nothing_written");
}
