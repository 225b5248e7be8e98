//! Issue 14, learning from history end to end, under the rules: an agent
//! signed in as itself runs a few tasks and its
//! `agents/{id}/metrics/{type}` documents count them (successes, retries,
//! a final failure, a duration average); `vayu task create` without an
//! estimate takes one from that history; `vayu agent workload --json`
//! prints it, and an unknown agent is exit 3. No timing is asserted: the
//! waits poll until the documents say what they should.

mod common;
mod rules_support;

use rules_support::*;
use serde_json::Value;
use std::collections::HashMap;
use std::time::{Duration, Instant};
use vayu::agent::{AgentConfig, Handlers};
use vayu::assign::history::Stats;
use vayu::history;
use vayu::model::{Priority, TaskType};
use vayu::retry::Backoff;
use vayu::tasks::{self, NewTask};

/// Research succeeds, learning always fails; quick retries.
fn agent_cfg(id: &str) -> AgentConfig {
    let mut by_type = HashMap::new();
    by_type.insert(TaskType::Research, "echo done".to_string());
    by_type.insert(TaskType::Learning, "echo no >&2; exit 1".to_string());
    let mut c = AgentConfig::new(
        id,
        Handlers {
            default: None,
            by_type,
        },
    );
    c.heartbeat = Duration::from_millis(500);
    c.lease = Duration::from_secs(5);
    c.retry_backoff = Backoff {
        base: Duration::from_millis(100),
        cap: Duration::from_millis(500),
    };
    c
}

/// Polls `agent`'s statistics for `t` until `done` holds (a minute at
/// most, then the last seen value is returned for the assertion).
async fn stats_when(
    w: &World,
    agent: &str,
    t: TaskType,
    done: impl Fn(&Stats) -> bool,
) -> Option<Stats> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let seen = history::get(&w.admin, agent, t).await.expect("admin reads");
        if seen.as_ref().is_some_and(&done) || Instant::now() > deadline {
            return seen;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn json_of(out: &std::process::Output) -> Value {
    assert!(
        out.status.success(),
        "vayu failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("--json prints JSON")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_learns_from_its_runs_and_new_tasks_are_estimated_from_it() {
    let w = World::new("assign-history").await;
    let alice = w.human("alice").await;
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let runner = start_agent(&w, agent_cfg("agent-h"), &stop_rx).await;

    for i in 0..3 {
        let mut new = NewTask::new(TaskType::Research, Priority::Normal, format!("r{i}"));
        new.requester.id = "alice".into();
        tasks::create(&alice, new).await.expect("alice creates");
    }
    let mut failing = NewTask::new(TaskType::Learning, Priority::Normal, "fails");
    failing.max_retries = Some(1);
    failing.requester.id = "alice".into();
    tasks::create(&alice, failing).await.expect("alice creates");

    let research = stats_when(&w, "agent-h", TaskType::Research, |s| s.completed >= 3)
        .await
        .expect("the research history is written");
    assert_eq!(
        (research.completed, research.retries, research.failed),
        (3, 0, 0)
    );
    let minutes = research.duration_ewma.expect("a success has a duration");
    assert!(minutes >= 0.0);
    let learning = stats_when(&w, "agent-h", TaskType::Learning, |s| s.failed >= 1)
        .await
        .expect("the learning history is written");
    assert_eq!(
        (learning.completed, learning.retries, learning.failed),
        (0, 1, 1)
    );
    assert_eq!(learning.duration_ewma, None, "failures have no duration");

    // An estimate from history, where the user gave none.
    let made = json_of(&w.vayu(&["task", "create", "--type", "research", "guess", "--json"]));
    let estimate = made["estimated_duration"]
        .as_f64()
        .expect("estimated from history");
    assert!((estimate - minutes).abs() < 1e-9, "{estimate} vs {minutes}");
    let stored = w.read(made["task_id"].as_str().expect("an id")).await;
    assert!(
        stored.value.metadata.timeout_secs.expect("set beside it") >= 3600,
        "a history of quick runs does not shorten the timeout"
    );
    // The user's own estimate stands; no capable agent, no estimate.
    let given = json_of(&w.vayu(&[
        "task",
        "create",
        "--type",
        "research",
        "given",
        "--estimate",
        "7",
        "--json",
    ]));
    assert_eq!(given["estimated_duration"], 7.0);
    let none = json_of(&w.vayu(&[
        "task",
        "create",
        "--type",
        "research",
        "gpu",
        "--requires",
        "gpu",
        "--json",
    ]));
    assert!(none["estimated_duration"].is_null(), "{none}");

    // The history in `agent workload`.
    let load = json_of(&w.vayu(&["agent", "workload", "--id", "agent-h", "--json"]));
    let by_type: HashMap<&str, &Value> = (load["history"].as_array().expect("a list").iter())
        .map(|s| (s["task_type"].as_str().expect("a type"), s))
        .collect();
    assert!(by_type["research"]["completed"].as_i64() >= Some(3));
    assert_eq!(by_type["learning"]["failed"], 1);
    assert!(
        by_type["learning"]["success_rate"]
            .as_f64()
            .expect("a rate")
            < 0.5
    );
    let text = w.vayu(&["agent", "workload", "--id", "agent-h"]);
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(
        text.contains("research") && text.contains("SUCCESS"),
        "{text}"
    );

    let unknown = w.vayu(&["agent", "workload", "--id", "nobody", "--json"]);
    assert_eq!(unknown.status.code(), Some(3), "not found is exit 3");
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("nobody"));

    stop_tx.send(true).expect("the agent listens");
    runner
        .await
        .expect("the agent task does not panic")
        .expect("the agent stops cleanly");
}

/// Ageing on the emulator: a `low` task that has waited past its bound
/// (here 4 steps of 1 s, set on the agent) is claimed before critical
/// tasks that came after it, by an agent that starts only then and runs
/// one task at a time. Without ageing the criticals would all go first
/// (checked by hand with `age_step` zero: the low task did not run first).
/// The sleep only makes sure the bound has passed; nothing is timed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_overdue_low_task_is_claimed_before_newer_critical_ones() {
    let w = World::new("assign-ageing").await;
    let alice = w.human("alice").await;
    let dir = tempfile::tempdir().expect("a temp dir");
    let create = |p: Priority, title: &str| {
        let mut new = NewTask::new(TaskType::Research, p, title);
        new.requester.id = "alice".into();
        tasks::create(&alice, new)
    };
    let low = create(Priority::Low, "low").await.expect("alice creates");
    for i in 0..5 {
        create(Priority::Critical, &format!("c{i}"))
            .await
            .expect("alice creates");
    }
    let step = Duration::from_secs(1);
    tokio::time::sleep(step * 5).await;

    let mut cfg = agent_cfg("agent-age");
    cfg.concurrency = 1;
    cfg.age_step = step;
    let log = dir.path().join("runs.txt");
    cfg.handlers.by_type.insert(
        TaskType::Research,
        format!("echo \"$VAYU_TASK_ID\" >> {}", log.display()),
    );
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let runner = start_agent(&w, cfg, &stop_rx).await;
    let deadline = Instant::now() + Duration::from_secs(60);
    let order = loop {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        let order: Vec<String> = text.lines().map(str::to_string).collect();
        if order.len() >= 6 || Instant::now() > deadline {
            break order;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    stop_tx.send(true).expect("the agent listens");
    runner
        .await
        .expect("the agent task does not panic")
        .expect("the agent stops cleanly");
    assert_eq!(order.len(), 6, "every task ran: {order:?}");
    assert_eq!(
        order[0], low.task_id,
        "the overdue low task first: {order:?}"
    );
}

/// A busy agent ends many runs a second; production Firestore sustains
/// about one write a second per document. The runs are added in memory and
/// written at most once a second per type, and none is lost: the stored
/// counts reach all of them, and `flush` writes what is left.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_busy_agent_writes_its_history_at_most_once_a_second() {
    use vayu::assign::history::Sample;
    let w = World::new("assign-history-burst").await;
    let learner = history::Learner::new(w.admin.clone(), "agent-burst");
    let before = w.admin.counters().snapshot();
    let started = Instant::now();
    for _ in 0..20 {
        let run = Sample::Succeeded {
            minutes: 0.01,
            quality: None,
        };
        learner
            .learn(TaskType::Research, run)
            .await
            .expect("learns");
    }
    let elapsed = started.elapsed();
    let commits = w.admin.counters().snapshot().commits - before.commits;
    // One write now, then one a second at most (`WRITE_GAP`); without the
    // gap, each of the 20 runs would be a commit.
    let bound = 1 + elapsed.as_secs() + 1;
    assert!(
        commits <= bound,
        "{commits} commits for 20 runs in {elapsed:?} (at most {bound})"
    );
    learner.flush().await;
    let stored = stats_when(&w, "agent-burst", TaskType::Research, |s| s.completed == 20)
        .await
        .expect("written");
    assert_eq!(stored.completed, 20, "every run is counted: {stored:?}");
    w.done("a_busy_agent_writes_its_history_at_most_once_a_second");
}
