//! Issue 12, the agents' reviews end to end under the rules:
//! - a self-check and a test run, by the agent that did the work, pass a
//!   task; a failing test run rejects one, and its report is the comment;
//! - a peer (an agent with the `review` capability that ran none of it)
//!   rejects the first round, another agent does the rework, and the peer
//!   approves the second;
//! - a peer reviewer killed with SIGKILL mid-review is taken over by
//!   another reviewer once its lease runs out.

mod common;
mod rules_support;

use common::fleet::{fast_agent, shell, wait_task};
use common::procs::{AgentProc, AgentSpec};
use rules_support::*;
use std::time::Duration;
use vayu::agent::{self, AgentConfig, ReviewCommands};
use vayu::layout::Pile;
use vayu::lifecycle::Status;
use vayu::model::{Priority, ReviewStatus, Rework, TaskType};
use vayu::review::{ReviewKind, ReviewPolicy, Verdict, VerdictRecord};
use vayu::store::Versioned;
use vayu::tasks::{self, NewTask};

const LIMIT: Duration = Duration::from_secs(60);

/// Runs in-process agents under their own identities until the returned
/// sender says stop.
async fn start(
    w: &World,
    configs: Vec<AgentConfig>,
) -> (
    tokio::sync::watch::Sender<bool>,
    Vec<tokio::task::JoinHandle<vayu::Result<agent::AgentReport>>>,
) {
    let (stop, rx) = tokio::sync::watch::channel(false);
    let mut agents = Vec::new();
    for cfg in configs {
        let store = w.unregistered_agent(&cfg.agent_id).await;
        let mut rx = rx.clone();
        agents.push(tokio::spawn(agent::run(store, cfg, async move {
            let _ = rx.wait_for(|s| *s).await;
        })));
    }
    (stop, agents)
}

async fn stop_all(
    stop: tokio::sync::watch::Sender<bool>,
    agents: Vec<tokio::task::JoinHandle<vayu::Result<agent::AgentReport>>>,
) -> Vec<agent::AgentReport> {
    let _ = stop.send(true);
    let mut reports = Vec::new();
    for a in agents {
        let report = a.await.expect("the agent task joins");
        reports.push(report.expect("the agent stops cleanly"));
    }
    reports
}

async fn create(w: &World, title: &str, policy: &str, plan: Option<(Rework, i64)>) -> String {
    let alice = w.human("alice").await;
    let mut new = NewTask::new(TaskType::Research, Priority::Normal, title);
    new.requester.id = "alice".into();
    new.review = Some(policy.parse::<ReviewPolicy>().expect("a policy"));
    if let Some((rework, rounds)) = plan {
        (new.rework, new.review_rounds) = (Some(rework), Some(rounds));
    }
    allowed(
        "alice creates a task that agents review",
        tasks::create(&alice, new),
    )
    .await
    .task_id
}

async fn verdicts(w: &World, t: &Versioned<vayu::model::Task>) -> Vec<VerdictRecord> {
    let policy = vayu::review::policy_of(&t.value);
    let mut v = (w
        .admin
        .verdicts(&t.value.task_id, 0..=t.value.review.round, policy))
    .await
    .expect("the admin reads verdicts");
    v.sort_by_key(|r| (r.round, r.kind));
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_self_check_and_a_test_run_pass_or_reject_the_executors_work() {
    common::fleet::trace_from_env();
    let w = World::new("review-self-tests").await;
    let mut a = fast_agent("solo", shell("echo 'vayu:result 42'"));
    a.reviews = ReviewCommands {
        self_check: Some("echo 'vayu:score correctness=5,completeness=4'".into()),
        peer: None,
        // The test run reads the output from the task on stdin.
        tests: Some(
            "if grep -q '\"result\":\"42\"'; then echo '3 tests pass'; \
             else echo 'test_answer: expected 42'; echo '1 of 3 tests failed'; exit 1; fi"
                .into(),
        ),
    };
    let (stop, agents) = start(&w, vec![a]).await;

    let id = create(&w, "answer the question", "self+tests", None).await;
    let done = wait_task(&w.admin, &id, LIMIT, "completed", |v| {
        v.value.status == Status::Completed
    })
    .await;
    assert_eq!(done.value.review.status, Some(ReviewStatus::Passed));
    // 0.4 * 5 + 0.3 * 4 over 0.7 = 4.57 (the test run gave no scores).
    assert_eq!(done.value.review.quality_score, Some(4.57));
    // The reviewer that passed it folded the score into the executor's
    // history (right after the decision, so it may lag the task).
    let executor = done.value.assignment.primary_agent.clone().expect("ran");
    let mut stats = None;
    for _ in 0..50 {
        stats = vayu::history::get(&w.admin, &executor, done.value.task_type)
            .await
            .expect("reads");
        if stats.as_ref().is_some_and(|s| s.quality_n == 1) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let stats = stats.expect("the executor recorded its run");
    assert_eq!((stats.quality_ewma, stats.quality_n), (Some(4.57), 1));
    assert_eq!(
        stats.last_quality_task.as_deref(),
        Some(done.value.task_id.as_str())
    );
    assert_eq!(
        done.value.lease.owner, None,
        "no review lease is left behind"
    );
    let given = verdicts(&w, &done).await;
    let kinds: Vec<(ReviewKind, &str, Verdict)> = (given.iter())
        .map(|v| (v.kind, v.reviewer.as_str(), v.verdict))
        .collect();
    assert_eq!(
        kinds,
        vec![
            (ReviewKind::SelfCheck, "solo", Verdict::Approve),
            (ReviewKind::Tests, "solo", Verdict::Approve),
        ]
    );
    assert_eq!(given[1].comment, "3 tests pass", "the test run's report");

    // Output the tests reject: with no rework round allowed, it fails.
    let failing = "echo 'vayu:result 41'";
    stop_all(stop, agents).await;
    let mut a = fast_agent("solo", shell(failing));
    a.reviews.tests = Some(
        "if grep -q '\"result\":\"42\"'; then exit 0; \
         else echo 'test_answer: expected 42, got 41'; exit 1; fi"
            .into(),
    );
    let (stop, agents) = start(&w, vec![a]).await;
    let id = create(&w, "answer again", "tests", Some((Rework::Same, 0))).await;
    let failed = wait_task(&w.admin, &id, LIMIT, "failed", |v| {
        v.value.status == Status::Failed
    })
    .await;
    assert_eq!(failed.pile, Pile::Completed);
    let given = verdicts(&w, &failed).await;
    assert_eq!(given.len(), 1, "{given:?}");
    assert_eq!(given[0].verdict, Verdict::Reject);
    assert_eq!(given[0].comment, "test_answer: expected 42, got 41");
    let feedback = failed.value.review.feedback.unwrap_or_default();
    assert!(feedback.contains("expected 42, got 41"), "{feedback}");
    // A peer review nobody live can give: said, not waited on silently.
    let id = create(&w, "needs a peer", "peer", None).await;
    wait_task(&w.admin, &id, LIMIT, "in review", |v| {
        v.value.status == Status::Reviewing
    })
    .await;
    let status = w.vayu(&["task", "status", "--id", &id]);
    let text = String::from_utf8_lossy(&status.stdout);
    assert!(
        text.contains("waiting: no reviewer with review that did not run it is live"),
        "{text}"
    );
    let reports = stop_all(stop, agents).await;
    assert_eq!(reports[0].reviews_given, 1);
    w.done("a_self_check_and_a_test_run_pass_or_reject_the_executors_work");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_rejects_another_agent_reworks_and_the_peer_approves() {
    common::fleet::trace_from_env();
    let w = World::new("review-peer").await;
    let dir = tempfile::tempdir().expect("a temp dir");
    let runs = dir.path().join("runs.txt");
    let work = shell(&format!(
        "echo \"$VAYU_AGENT_ID\" >> {}; echo 'vayu:result draft'",
        runs.display()
    ));
    // The reviewer runs no research itself: its only handler is for
    // maintenance, so it never becomes an executor.
    let mut reviewer = fast_agent(
        "critic",
        vayu::agent::Handlers {
            by_type: [(TaskType::Maintenance, "true".to_string())].into(),
            ..Default::default()
        },
    );
    reviewer.capabilities = vec!["review".into()];
    reviewer.reviews.peer = Some(
        "if [ \"$VAYU_REVIEW_ROUND\" = 0 ]; then echo 'vayu:verdict reject'; \
         echo 'vayu:score correctness=2'; echo 'vayu:comment cite your sources'; \
         else echo 'vayu:score correctness=5,completeness=5,quality=4'; fi"
            .into(),
    );
    let configs = vec![
        fast_agent("worker-a", work.clone()),
        fast_agent("worker-b", work),
        reviewer,
    ];
    let (stop, agents) = start(&w, configs).await;

    let id = create(&w, "summarise the paper", "peer", None).await;
    let done = wait_task(&w.admin, &id, LIMIT, "completed", |v| {
        v.value.status == Status::Completed
    })
    .await;
    let reports = stop_all(stop, agents).await;

    let ran = std::fs::read_to_string(&runs).expect("the handler wrote its runs");
    let ran: Vec<&str> = ran.lines().collect();
    assert_eq!(ran.len(), 2, "one run per round: {ran:?}");
    assert_ne!(ran[0], ran[1], "the rework went to another agent");
    assert_eq!(done.value.review.round, 1);
    assert_eq!(done.value.review.reviewer.as_deref(), Some("critic"));
    // 0.4 * 5 + 0.3 * 5 + 0.2 * 4 over 0.9 = 4.78
    assert_eq!(done.value.review.quality_score, Some(4.78));
    let given = verdicts(&w, &done).await;
    let seen: Vec<(i64, &str, Verdict, &str)> = (given.iter())
        .map(|v| (v.round, v.reviewer.as_str(), v.verdict, v.comment.as_str()))
        .collect();
    assert_eq!(
        seen,
        vec![
            (0, "critic", Verdict::Reject, "cite your sources"),
            (1, "critic", Verdict::Approve, ""),
        ]
    );
    let rejected = (done.value.history.iter()).any(|h| h.status == Some(Status::Rejected));
    assert!(rejected, "the history shows the rejected round");
    assert_eq!(reports[2].reviews_given, 2, "the critic gave both verdicts");
    w.done("a_peer_rejects_another_agent_reworks_and_the_peer_approves");
}

/// A `vayu-agent` process under its own identity that reviews as a peer
/// and runs no research.
fn reviewer_proc(w: &World, dir: &std::path::Path, id: &str, review: &str) -> AgentProc {
    let mut spec = AgentSpec::new(id, "maintenance=true", &w.host, &w.db, dir);
    spec.args = vec!["--review-handler".into(), review.into()];
    // Signed in as itself (an agent claim, its id as uid), under the rules.
    spec.env = vec![("VAYU_AGENT_IDENTITY".into(), "emulator".into())];
    AgentProc::spawn(&spec)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_reviewer_killed_mid_review_is_taken_over() {
    let w = World::new("review-kill").await;
    let dir = tempfile::tempdir().expect("a temp dir");
    let reviews = dir.path().join("reviews.txt");
    // The first review hangs until the kill; the next approves at once.
    let review = format!(
        "echo \"$VAYU_AGENT_ID\" >> {r}; \
         if [ \"$(wc -l < {r})\" -lt 2 ]; then sleep 60; fi; echo 'vayu:score correctness=4'",
        r = reviews.display()
    );
    let (stop, agents) = start(
        &w,
        vec![fast_agent("worker", shell("echo 'vayu:result done'"))],
    )
    .await;
    // The worker runs the task alone, and the reviewers come up once it is
    // in review: what is under test is the review's takeover, not how a
    // fleet starting up splits its queue (see the session note on a task
    // left unclaimed then, under load).
    let id = create(&w, "check the numbers", "peer", None).await;
    wait_task(&w.admin, &id, LIMIT, "in review", |v| {
        v.value.status == Status::Reviewing
    })
    .await;
    let mut first = reviewer_proc(&w, dir.path(), "reviewer-1", &review);
    let mut second = reviewer_proc(&w, dir.path(), "reviewer-2", &review);
    let held = wait_task(&w.admin, &id, LIMIT, "a review held", |v| {
        v.value.review.claim.as_deref() == Some("peer") && v.value.lease.owner.is_some()
    })
    .await;
    let holder = held.value.lease.owner.clone().expect("held");
    let (victim, survivor) = match holder.as_str() {
        "reviewer-1" => (&mut first, &mut second),
        _ => (&mut second, &mut first),
    };
    // Killed mid-review: once its review command has started.
    let started = common::fleet::wait_file(&reviews, LIMIT).await;
    assert_eq!(started.trim(), holder, "the holder runs the review");
    let t_kill = vayu::model::now();
    victim.kill9().await;

    let done = wait_task(&w.admin, &id, LIMIT, "completed", |v| {
        v.value.status == Status::Completed
    })
    .await;
    let took_ms = vayu::model::millis_between(t_kill, vayu::model::now());
    println!(
        "kill -9 of a reviewer -> review taken over and given within {took_ms} ms (lease 2 s)"
    );
    let given = verdicts(&w, &done).await;
    assert_eq!(given.len(), 1, "{given:?}");
    assert_eq!(
        given[0].reviewer,
        survivor.id(),
        "the survivor gave the verdict"
    );
    assert_ne!(given[0].reviewer, holder);
    // Once more, or more than once on a loaded machine: a verdict whose
    // commit came after its own 2 s lease ran out is refused, and the
    // survivor takes the review again.
    assert!(
        done.value.lease.epoch > held.value.lease.epoch,
        "the takeover raised the epoch: {} after {}",
        done.value.lease.epoch,
        held.value.lease.epoch
    );
    let ran = std::fs::read_to_string(&reviews).expect("the reviews were recorded");
    let ran: Vec<&str> = ran.lines().collect();
    assert_eq!(ran[0], holder, "{ran:?}");
    assert!(
        ran.len() >= 2 && ran[1..].iter().all(|r| *r == survivor.id()),
        "after the kill only the survivor reviewed: {ran:?}"
    );
    survivor.stop_cleanly(Duration::from_secs(20)).await;
    stop_all(stop, agents).await;
    w.done("a_peer_reviewer_killed_mid_review_is_taken_over");
}
