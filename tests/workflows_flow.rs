//! Issue 13, workflows end to end under the rules, with in-process agents:
//! - each of the seed's five templates runs to completion with the demo's
//!   handler, one of them started by `vayu task create --type research
//!   --workflow`; the user request's execution step passes a peer's
//!   review on the way, and the learner (pinned by `agent:ID`) practises
//!   and learns the skill, which its document then lists;
//! - a workflow file whose later step gets an earlier step's result in
//!   its input (filled in by the agent before the handler starts), and
//!   whose step with an unmet `if` is skipped;
//! - `vayu workflow status` and `vayu workflow cancel`: a running step is
//!   stopped, the waiting ones cancelled, and only the starter may.

mod common;
mod rules_support;

use common::fleet::{fast_agent, shell};
use rules_support::*;
use std::collections::BTreeMap;
use std::process::Output;
use std::time::Duration;
use vayu::agent::{self, AgentConfig, Handlers};
use vayu::lifecycle::Status;
use vayu::model::TaskType;
use vayu::workflows::{self, StepRow};

const LIMIT: Duration = Duration::from_secs(120);

/// `fast_agent` with a 5 s lease: this binary runs three fleets at once
/// on a 2-core machine, where a 2 s lease ran out between heartbeats; a
/// lone holder's cancel was then refused and the step stayed executing
/// (seen twice; the agent's cancel path, not workflows).
fn agent(id: &str, handlers: Handlers) -> AgentConfig {
    let mut a = fast_agent(id, handlers);
    a.lease = Duration::from_secs(5);
    a
}

type Agents = Vec<tokio::task::JoinHandle<vayu::Result<agent::AgentReport>>>;

/// Runs in-process agents under their own identities until the returned
/// sender says stop.
async fn start(w: &World, configs: Vec<AgentConfig>) -> (tokio::sync::watch::Sender<bool>, Agents) {
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

async fn stop_all(stop: tokio::sync::watch::Sender<bool>, agents: Agents) {
    let _ = stop.send(true);
    for a in agents {
        let report = a.await.expect("the agent task joins");
        report.expect("the agent stops cleanly");
    }
}

/// Expects exit `code`; returns stdout.
fn expect(out: &Output, code: i32, what: &str) -> String {
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(code), "{what}: {err}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The run id that `--json` printed.
fn run_id(stdout: &str) -> String {
    let v: serde_json::Value = serde_json::from_str(stdout).expect("JSON");
    v["run_id"].as_str().expect("a run id").to_string()
}

/// Polls run `id` until its outcome is no longer `running`; returns it
/// with the steps.
async fn settled(w: &World, id: &str) -> (String, Vec<StepRow>) {
    let deadline = tokio::time::Instant::now() + LIMIT;
    loop {
        let (run, rows) = workflows::status(&w.admin, id)
            .await
            .expect("the run reads");
        let statuses: Vec<_> = rows.iter().map(|r| r.status).collect();
        let outcome = run.outcome(&statuses);
        let busy = rows
            .iter()
            .any(|r| r.status.is_some_and(|s| !s.is_terminal()));
        if outcome != "running" && !busy {
            return (outcome.to_string(), rows);
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "run {id} still {outcome}: {rows:?}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// When task `id`'s history first says `status`.
async fn first(w: &World, id: &str, status: Status) -> jiff::Timestamp {
    let t = w.read(id).await.value;
    (t.history.iter())
        .find(|h| h.status == Some(status))
        .and_then(|h| h.at)
        .unwrap_or_else(|| panic!("{id} never reached {status}"))
        .0
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_of_the_five_templates_runs_end_to_end_with_the_demo_handler() {
    common::fleet::trace_from_env();
    let w = World::new("wf-templates").await;
    // Every agent may review as a peer: the user request's execution step
    // needs a peer's review, from an agent that did not run it.
    let configs = (1..=3)
        .map(|i| {
            let mut a = agent(&format!("wf-{i}"), shell(vayu::demo::DEMO_HANDLER));
            a.capabilities = vec!["review".into()];
            a.reviews.peer = Some(vayu::demo::DEMO_REVIEW.into());
            a
        })
        .collect();
    let (stop, agents) = start(&w, configs).await;
    let alice = w.human("alice").await;
    let inputs: [(&str, &[(&str, &str)]); 4] = [
        ("user_request", &[("request", "summarise the incident")]),
        ("maintenance", &[]),
        ("scheduled", &[]),
        ("learning", &[("agent", "wf-1"), ("skill", "rust")]),
    ];
    let mut runs = Vec::new();
    for (name, given) in inputs {
        let spec = vayu::workflow::template(name).expect("a built-in template");
        let given: BTreeMap<String, String> = (given.iter())
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let case = format!("alice starts the {name} template");
        let run = allowed(&case, workflows::start(&alice, &spec, &given, "alice")).await;
        runs.push((name.to_string(), run.run_id));
    }
    let out = w.vayu_as(
        "alice",
        &[
            "task",
            "create",
            "--type",
            "research",
            "--workflow",
            "why do tides lag?",
            "--json",
        ],
    );
    let research = run_id(&expect(&out, 0, "task create --workflow"));
    runs.push(("research".into(), research.clone()));

    for (name, id) in &runs {
        let (outcome, rows) = settled(&w, id).await;
        if outcome != "completed" {
            let mut why = Vec::new();
            for row in rows.iter().filter(|r| r.status != Some(Status::Completed)) {
                let t = w.read(&row.task_id).await.value;
                why.push(format!(
                    "{}: {:?} {:?}",
                    row.step, t.execution.last_error, t.history
                ));
            }
            panic!("{name} ended {outcome}: {why:#?}");
        }
        let spec = vayu::workflow::template(name).expect("built in");
        assert_eq!(rows.len(), spec.steps.len(), "{name}");
        for row in &rows {
            let step = spec.step(&row.step).expect("a step of the template");
            for dep in &step.after {
                let dep_id = vayu::workflow::step_task_id(id, dep);
                let dep_done = first(&w, &dep_id, Status::Completed).await;
                let started = first(&w, &row.task_id, Status::Assigned).await;
                assert!(started >= dep_done, "{name}: {} before {dep}", row.step);
            }
        }
    }
    // The learner practised and updated its own skills, and lists the
    // skill among its capabilities, which assignment matches against.
    let learning = &runs.iter().find(|(n, _)| n == "learning").expect("ran").1;
    let (_, rows) = workflows::status(&w.admin, learning).await.expect("reads");
    for row in rows
        .iter()
        .filter(|r| ["practice", "skill_update"].contains(&r.step.as_str()))
    {
        assert_eq!(row.agent.as_deref(), Some("wf-1"), "{row:?}");
    }
    // Its next heartbeat writes them.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    let wf1 = loop {
        let doc = (w.admin.get_agent("wf-1").await)
            .expect("reads")
            .expect("wf-1 is registered");
        if !doc.skills.is_empty() || tokio::time::Instant::now() > deadline {
            break doc;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(wf1.skills, vec!["rust".to_string()]);
    assert!(wf1.capabilities.contains(&"rust".to_string()), "{wf1:?}");
    assert!(
        wf1.capabilities.contains(&"agent:wf-1".to_string()),
        "{wf1:?}"
    );
    let (run, _) = workflows::status(&w.admin, &research).await.expect("reads");
    assert_eq!(run.inputs["question"], "why do tides lag?");
    assert_eq!(run.started_by, "alice");
    // A step's review policy reaches its task as `task create --review`
    // puts it.
    let spec = vayu::workflow::template("user_request").expect("built in");
    let given = [("request".to_string(), "check the policy".to_string())].into();
    let run = workflows::start(&w.admin, &spec, &given, "root")
        .await
        .expect("starts");
    let execution = vayu::workflow::step_task_id(&run.run_id, "execution");
    let t = w.read(&execution).await.value;
    assert_eq!(t.review.policy.as_deref(), Some("peer"));
    assert_eq!(t.status, Status::Blocked);
    workflows::cancel(&w.admin, &run.run_id, "root")
        .await
        .expect("cancels");
    let status = w.vayu_as("alice", &["workflow", "status", &research]);
    let text = expect(&status, 0, "workflow status");
    assert!(text.contains("workflow research · completed"), "{text}");
    let order: Vec<usize> = ["problem_definition", "literature_review", "report"]
        .iter()
        .map(|s| text.find(s).unwrap_or_else(|| panic!("{s} in {text}")))
        .collect();
    assert!(order.is_sorted(), "plan order: {text}");
    let listed = expect(
        &w.vayu_as("alice", &["workflow", "list", "--json"]),
        0,
        "list",
    );
    let listed: Vec<serde_json::Value> = serde_json::from_str(&listed).expect("JSON");
    assert_eq!(listed.len(), 6);
    stop_all(stop, agents).await;
    w.done("each_of_the_five_templates_runs_end_to_end_with_the_demo_handler");
}

const RESULTS_FLOW: &str = r#"name: relay
inputs:
  - name: who
steps:
  - id: fetch
    title: Fetch the number
    type: maintenance
  - id: other
    title: Fetch another
    type: maintenance
  - id: use
    title: Use the numbers
    type: research
    after: [fetch, other]
    input: "got {{steps.fetch.result}} and {{ steps.other.result }} for {{inputs.who}}"
  - id: never
    title: Only if fetch found nothing
    type: maintenance
    after: [fetch]
    if: 'fetch.result == "nothing"'
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_later_step_gets_earlier_results_in_its_input() {
    let w = World::new("wf-results").await;
    let dir = tempfile::tempdir().expect("a temp dir");
    let file = dir.path().join("relay.yaml");
    std::fs::write(&file, RESULTS_FLOW).expect("write the file");
    // The research handler reports the input it was given.
    let handlers = Handlers {
        default: None,
        by_type: [
            (
                TaskType::Maintenance,
                "echo \"vayu:result n-$VAYU_TASK_ID\"".to_string(),
            ),
            (
                TaskType::Research,
                "input=$(cat); case \"$input\" in *'{{'*) exit 3;; esac; \
                 echo \"$input\" | grep -o 'got n-[^\"]* for world' | sed 's/^/vayu:result /'"
                    .to_string(),
            ),
        ]
        .into(),
    };
    let (stop, agents) = start(&w, vec![agent("relay-1", handlers)]).await;
    let out = w.vayu_as(
        "alice",
        &[
            "workflow",
            "run",
            file.to_str().expect("utf-8"),
            "--input",
            "who=world",
            "--json",
        ],
    );
    let id = run_id(&expect(&out, 0, "workflow run FILE"));
    let (outcome, rows) = settled(&w, &id).await;
    assert_eq!(outcome, "completed", "{rows:?}");
    let fetch = vayu::workflow::step_task_id(&id, "fetch");
    let other = vayu::workflow::step_task_id(&id, "other");
    let used = rows
        .iter()
        .find(|r| r.step == "use")
        .expect("the last step");
    assert_eq!(
        used.result.as_deref(),
        Some(format!("got n-{fetch} and n-{other} for world").as_str())
    );
    let never = rows.iter().find(|r| r.step == "never").expect("a step");
    assert_eq!(never.status, Some(Status::Skipped), "its `if` did not hold");
    // The stored input keeps the template for the results; the inputs
    // were filled in when the run started.
    let stored = w.read(&used.task_id).await.value.input;
    assert_eq!(
        stored,
        "got {{steps.fetch.result}} and {{steps.other.result}} for world"
    );
    stop_all(stop, agents).await;
    w.done("a_later_step_gets_earlier_results_in_its_input");
}

const CHAIN: &str = "name = \"chain\"\n[[steps]]\nid = \"slow\"\ntitle = \"Takes long\"\ntype = \"maintenance\"\n[[steps]]\nid = \"next\"\ntitle = \"Waits\"\ntype = \"maintenance\"\nafter = [\"slow\"]\n[[steps]]\nid = \"last\"\ntitle = \"Waits more\"\ntype = \"maintenance\"\nafter = [\"next\"]\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_stops_the_running_step_and_cancels_the_waiting_ones() {
    let w = World::new("wf-cancel").await;
    let dir = tempfile::tempdir().expect("a temp dir");
    let file = dir.path().join("chain.toml");
    std::fs::write(&file, CHAIN).expect("write the file");
    let (stop, agents) = start(&w, vec![agent("slow-1", shell("sleep 60"))]).await;
    let out = w.vayu_as(
        "alice",
        &["workflow", "run", file.to_str().expect("utf-8"), "--json"],
    );
    let id = run_id(&expect(&out, 0, "workflow run FILE"));
    let slow = vayu::workflow::step_task_id(&id, "slow");
    common::fleet::wait_task(&w.admin, &slow, LIMIT, "executing", |v| {
        v.value.status == Status::Executing
    })
    .await;
    let status = expect(
        &w.vayu_as("alice", &["workflow", "status", &id]),
        0,
        "status",
    );
    assert!(status.contains("· running ·"), "{status}");
    assert!(status.contains("slow-1"), "the agent is shown: {status}");

    let refused = w.vayu_as("oscar", &["workflow", "cancel", &id]);
    expect(&refused, 5, "another operator cancels alice's run");
    let (run, _) = workflows::status(&w.admin, &id).await.expect("reads");
    assert_eq!(
        run.state,
        vayu::workflow::RunState::Running,
        "nothing changed"
    );

    let out = expect(
        &w.vayu_as("alice", &["workflow", "cancel", &id]),
        0,
        "cancel",
    );
    // The running step is asked to stop, or cancelled at once when its
    // lease looked expired to the CLI (a loaded machine's late renewal).
    let stopped = [
        "2 steps cancelled, 1 asked to stop",
        "3 steps cancelled, 0 asked",
    ];
    assert!(stopped.iter().any(|s| out.contains(s)), "{out}");
    let (outcome, rows) = settled(&w, &id).await;
    assert_eq!(outcome, "cancelled");
    for r in &rows {
        assert_eq!(r.status, Some(Status::Cancelled), "{r:?}");
    }
    let (run, _) = workflows::status(&w.admin, &id).await.expect("reads");
    assert_eq!(run.cancelled_by.as_deref(), Some("alice"));
    let again = expect(
        &w.vayu_as("alice", &["workflow", "cancel", &id]),
        0,
        "again",
    );
    assert!(
        again.contains("0 steps cancelled, 0 asked to stop, 3 had ended"),
        "{again}"
    );
    stop_all(stop, agents).await;
    w.done("cancel_stops_the_running_step_and_cancels_the_waiting_ones");
}
