//! Issue 13, dependencies end to end under the rules:
//! - a 3-level DAG with fan-out and fan-in runs in dependency order on 4
//!   agent processes, one of them killed with SIGKILL mid-run;
//! - a dependency's failure cancels its dependents, down the chain, and a
//!   dependent that says `--on-dep-failure run` runs anyway;
//! - an unmet `--if` condition skips its task, whose dependents follow
//!   their policy (cancelled, or run anyway), and a met one runs; with the
//!   sweep slowed to an hour, so the waiters documents do the releasing;
//! - bad `--after`, `--if`, `--in` and `--at` are refused with exit 2 and
//!   nothing written; `--in` delays the start.

mod common;
mod rules_support;

use common::fleet::{fast_agent, shell, wait_task};
use common::procs::{AgentProc, AgentSpec};
use rules_support::*;
use std::time::Duration;
use vayu::agent;
use vayu::graph::OnDepFailure;
use vayu::layout::Pile;
use vayu::lifecycle::Status;
use vayu::model::{Priority, Task, TaskType};
use vayu::store::{Store, Versioned};
use vayu::tasks::{self, NewTask};

const LIMIT: Duration = Duration::from_secs(90);

/// Alice's task waiting for `after`; "doomed" ones fail for good at their
/// first failure, others keep the default retries (a killed agent's task
/// is retried by a peer).
async fn create(store: &Store, title: &str, after: &[&str], policy: OnDepFailure) -> String {
    create_if(store, title, after, policy, None).await
}

/// [`create`], with an `--if` condition.
async fn create_if(
    store: &Store,
    title: &str,
    after: &[&str],
    policy: OnDepFailure,
    condition: Option<String>,
) -> String {
    let mut new = NewTask::new(TaskType::Research, Priority::Normal, title);
    new.requester.id = "alice".into();
    new.after = after.iter().map(|s| s.to_string()).collect();
    new.on_dep_failure = policy;
    new.condition = condition;
    if title.contains("doomed") {
        new.max_retries = Some(0);
    }
    allowed(
        &format!("alice creates '{title}'"),
        tasks::create(store, new),
    )
    .await
    .task_id
}

/// When the task's history says it reached `status` first (an agent's
/// clock; all agents here share the machine's).
fn first(t: &Task, status: Status) -> jiff::Timestamp {
    (t.history.iter())
        .find(|h| h.status == Some(status))
        .and_then(|h| h.at)
        .unwrap_or_else(|| panic!("{} never reached {status}", t.task_id))
        .0
}

/// The first of `ids` seen executing (polled every 50 ms).
async fn running_one(w: &World, ids: &[String]) -> Versioned<Task> {
    let deadline = tokio::time::Instant::now() + LIMIT;
    loop {
        for id in ids {
            let v = w.read(id).await;
            if v.value.status == Status::Executing {
                return v;
            }
        }
        assert!(tokio::time::Instant::now() < deadline, "no middle task ran");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn done(w: &World, id: &str) -> Versioned<Task> {
    wait_task(&w.admin, id, LIMIT, "completed", |v| {
        v.value.status == Status::Completed
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dag_with_fan_out_and_fan_in_runs_in_order_through_a_kill() {
    let w = World::new("deps-dag").await;
    let dir = tempfile::tempdir().expect("a temp dir");
    let handler = "sleep 3; echo 'vayu:result ok'";
    let mut agents: Vec<AgentProc> = (1..=4)
        .map(|i| {
            let mut spec = AgentSpec::new(&format!("dag-{i}"), handler, &w.host, &w.db, dir.path());
            spec.env = vec![("VAYU_AGENT_IDENTITY".into(), "emulator".into())];
            // Longer than the resilience tests' 0.5 s / 2 s: this binary
            // runs three tests at once, and on a loaded machine peers that
            // look stale to each other keep re-splitting the lanes.
            (spec.heartbeat_secs, spec.lease_secs) = (1.0, 5.0);
            AgentProc::spawn(&spec)
        })
        .collect();
    let ids = ["dag-1", "dag-2", "dag-3", "dag-4"];
    common::fleet::wait_agents_online(&w.admin, &ids, LIMIT).await;
    let alice = w.human("alice").await;
    let cancel = OnDepFailure::Cancel;
    let root = create(&alice, "root", &[], cancel).await;
    let mut mids = Vec::new();
    for i in 1..=3 {
        mids.push(create(&alice, &format!("mid {i}"), &[&root], cancel).await);
    }
    let mid_refs: Vec<&str> = mids.iter().map(String::as_str).collect();
    let join = create(&alice, "join", &mid_refs, cancel).await;
    let last = create(&alice, "report", &[&join], cancel).await;

    // Kill the agent running a middle task, the first seen running (they
    // run 3 s each, side by side).
    let running = running_one(&w, &mids).await;
    let holder = running.value.lease.owner.clone().expect("a holder");
    let victim = agents
        .iter_mut()
        .find(|a| a.id() == holder)
        .expect("one of ours");
    victim.kill9().await;

    let report = done(&w, &last).await;
    let mut all = vec![done(&w, &root).await];
    for m in &mids {
        all.push(done(&w, m).await);
    }
    all.push(done(&w, &join).await);
    let by_id = |id: &str| all.iter().find(|v| v.value.task_id == id).expect("read");
    for v in all.iter().chain([&report]) {
        for dep in &v.value.dependencies.blocked_by {
            let dep_done = first(&by_id(dep).value, Status::Completed);
            let started = first(&v.value, Status::Assigned);
            assert!(
                started >= dep_done,
                "{} started at {started} before its dependency {dep} completed at {dep_done}",
                v.value.title
            );
        }
    }
    assert_eq!(by_id(&join).value.dependencies.done.len(), 3);
    let tree = w.vayu(&["task", "graph", &last]);
    let tree = String::from_utf8_lossy(&tree.stdout);
    assert!(tree.starts_with(&last), "{tree}");
    for title in ["join", "mid 1", "mid 2", "mid 3", "root"] {
        assert!(
            tree.contains(&format!("completed · {title}")),
            "{title}: {tree}"
        );
    }
    let dot = w.vayu(&["task", "graph", &last, "--dot"]);
    let dot = String::from_utf8_lossy(&dot.stdout);
    assert!(dot.starts_with("digraph"), "{dot}");
    let taken_over = by_id(&running.value.task_id).value.lease.epoch;
    assert!(
        taken_over >= 2,
        "the killed agent's task was taken over (epoch {taken_over})"
    );
    for a in agents.iter_mut().filter(|a| a.id() != holder) {
        a.stop_cleanly(Duration::from_secs(20)).await;
    }
    w.done("a_dag_with_fan_out_and_fan_in_runs_in_order_through_a_kill");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failure_cancels_its_dependents_and_run_anyway_runs() {
    common::fleet::trace_from_env();
    let w = World::new("deps-fail").await;
    let handler =
        shell("input=$(cat); case \"$input\" in *doomed*) exit 1;; esac; echo 'vayu:result ok'");
    let alice = w.human("alice").await;
    let doomed = create(&alice, "doomed step", &[], OnDepFailure::Cancel).await;
    let after = create(&alice, "builds on it", &[&doomed], OnDepFailure::Cancel).await;
    let chained = create(&alice, "builds on that", &[&after], OnDepFailure::Cancel).await;
    let cleanup = create(&alice, "cleans up anyway", &[&doomed], OnDepFailure::Run).await;
    // The agents start once every task exists: a dependency that already
    // failed refuses a create with the cancel policy (deps_cycles shows it).
    let (stop, rx) = tokio::sync::watch::channel(false);
    let mut agents = Vec::new();
    for id in ["dep-a", "dep-b"] {
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

    let ended = |status: Status| move |v: &Versioned<Task>| v.value.status == status;
    wait_task(&w.admin, &doomed, LIMIT, "failed", ended(Status::Failed)).await;
    let b = wait_task(
        &w.admin,
        &after,
        LIMIT,
        "cancelled",
        ended(Status::Cancelled),
    )
    .await;
    assert_eq!(b.pile, Pile::Completed);
    assert_eq!(
        b.value.dependencies.failed.as_deref(),
        Some(doomed.as_str())
    );
    let note = b
        .value
        .history
        .last()
        .and_then(|h| h.note.clone())
        .unwrap_or_default();
    assert_eq!(note, format!("dependency {doomed} failed"));
    let c = wait_task(
        &w.admin,
        &chained,
        LIMIT,
        "cancelled",
        ended(Status::Cancelled),
    )
    .await;
    let note = c
        .value
        .history
        .last()
        .and_then(|h| h.note.clone())
        .unwrap_or_default();
    assert_eq!(note, format!("dependency {after} was cancelled"));
    let d = done(&w, &cleanup).await;
    assert_eq!(d.value.dependencies.done, vec![doomed.clone()]);
    stop.send(true).expect("the agents listen");
    for a in agents {
        a.await.expect("no panic").expect("the agent stops cleanly");
    }
    w.done("a_failure_cancels_its_dependents_and_run_anyway_runs");
}

/// The note of the task's last history entry.
fn last_note(v: &Versioned<Task>) -> String {
    (v.value.history.last())
        .and_then(|h| h.note.clone())
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_condition_skips_a_branch_and_its_dependents_follow_their_policy() {
    let w = World::new("deps-if").await;
    let handler = shell(
        "input=$(cat); case \"$input\" in *probe*) echo 'vayu:result {\"status\": \"ok\", \"n\": 3}';; \
         *) echo 'vayu:result done';; esac",
    );
    let alice = w.human("alice").await;
    let (cancel, run) = (OnDepFailure::Cancel, OnDepFailure::Run);
    let probe = create(&alice, "probe", &[], cancel).await;
    let when = |c: &str| Some(format!("{probe}.result.{c}"));
    let on_ok = create_if(
        &alice,
        "on ok",
        &[&probe],
        cancel,
        Some(format!(
            "{probe}.result.status == \"ok\" and {probe}.result.n in [3, 4]"
        )),
    )
    .await;
    let on_fail = create_if(
        &alice,
        "on fail",
        &[&probe],
        cancel,
        when("status == \"fail\""),
    )
    .await;
    let after_skip = create(&alice, "needs on fail", &[&on_fail], cancel).await;
    let report = create(&alice, "report", &[&on_ok, &on_fail], run).await;

    // The agents start once every task exists: a dependency that ended
    // first would refuse its dependent's create.
    let (stop, rx) = tokio::sync::watch::channel(false);
    let mut agents = Vec::new();
    for id in ["if-a", "if-b"] {
        let store = w.unregistered_agent(id).await;
        let mut config = fast_agent(id, handler.clone());
        // Only the waiters documents release dependents here.
        config.sweep_every = Duration::from_secs(3600);
        let mut rx = rx.clone();
        agents.push(tokio::spawn(agent::run(store, config, async move {
            let _ = rx.wait_for(|s| *s).await;
        })));
    }
    let ended = |status: Status| move |v: &Versioned<Task>| v.value.status == status;
    let skipped = wait_task(&w.admin, &on_fail, LIMIT, "skipped", ended(Status::Skipped)).await;
    assert_eq!(skipped.pile, Pile::Completed);
    assert_eq!(
        last_note(&skipped),
        format!(
            "condition not met: {}",
            when("status == \"fail\"").expect("set")
        )
    );
    assert_eq!(
        done(&w, &on_ok).await.value.execution.result.as_deref(),
        Some("done")
    );
    let cancelled = wait_task(
        &w.admin,
        &after_skip,
        LIMIT,
        "cancelled",
        ended(Status::Cancelled),
    )
    .await;
    assert_eq!(
        last_note(&cancelled),
        format!("dependency {on_fail} was skipped")
    );
    let report = done(&w, &report).await;
    assert_eq!(report.value.dependencies.done.len(), 2);
    let listed = w.vayu(&["task", "list", "--status", "skipped", "--json"]);
    let rows: serde_json::Value = serde_json::from_slice(&listed.stdout).expect("JSON");
    assert_eq!(rows["tasks"].as_array().map(Vec::len), Some(1), "{rows}");
    stop.send(true).expect("the agents listen");
    for a in agents {
        a.await.expect("no panic").expect("the agent stops cleanly");
    }
    w.done("a_condition_skips_a_branch_and_its_dependents_follow_their_policy");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_dependencies_and_start_times_are_refused_with_nothing_written() {
    let w = World::new("deps-cli").await;
    let missing = "5b1c7e9a-0000-4000-8000-000000000000";
    let many: Vec<String> = (0..51)
        .map(|i| format!("5b1c7e9a-0000-4000-8000-{i:012}"))
        .collect();
    let many = many.join(",");
    let alice = w.human("alice").await;
    let dep = create(&alice, "a dependency", &[], OnDepFailure::Cancel).await;
    let bad_if = format!("{dep}.result ==");
    let unknown_if = "B.result == 1".to_string();
    for (args, says) in [
        (vec!["--after", dep.as_str(), "--if", bad_if.as_str()], "^"),
        (
            vec!["--after", dep.as_str(), "--if", unknown_if.as_str()],
            "'B', which is not a dependency",
        ),
        (vec!["--if", unknown_if.as_str()], "--after"),
        (vec!["--after", missing], "unknown dependency"),
        (vec!["--after", many.as_str()], "more than the 50 allowed"),
        (vec!["--in", "10x"], "not a unit"),
        (vec!["--at", "tomorrow"], "is not a time"),
        (vec!["--on-dep-failure", "run"], "--after"),
    ] {
        let mut all = vec!["task", "create", "a task"];
        all.extend(args.iter().copied());
        let out = w.vayu(&all);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(says), "{args:?}: {err}");
    }
    let listed = w.vayu(&["task", "list", "--json"]);
    let rows: serde_json::Value = serde_json::from_slice(&listed.stdout).expect("JSON");
    let ids: Vec<&str> = (rows["tasks"].as_array().expect("a list").iter())
        .filter_map(|r| r["task_id"].as_str())
        .collect();
    assert_eq!(
        ids,
        vec![dep.as_str()],
        "nothing but the dependency was written"
    );

    let out = w.vayu(&["task", "create", "later", "--in", "10m", "--json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let id: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let t = w.read(id["task_id"].as_str().expect("an id")).await.value;
    let wait = t.not_before.expect("--in sets not_before").0 - t.created_at.expect("created").0;
    let secs = wait.get_seconds();
    assert!(
        (595..=605).contains(&secs),
        "not_before {secs} s after creation"
    );
    w.done("bad_dependencies_and_start_times_are_refused_with_nothing_written");
}
