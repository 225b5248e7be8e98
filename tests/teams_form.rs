//! Issue 15, a team's formation deadline end to end under the rules, with
//! two real `vayu-agent` processes that both offer `planner` and neither
//! `astronaut`: a team of planner and astronaut cannot form.
//! - `--unformed cancel`: at the deadline an agent cancels the astronaut's
//!   part, saying which role is missing, and the parent is cancelled
//!   naming it; a team that chose to wait is reported overdue instead;
//! - `--unformed degrade`: the astronaut's part loses its role, a planner
//!   takes it, and the team completes with every part merged once;
//! - bad input writes nothing;
//! - a pipeline stage that fails for good (`--max-retries 1`) is retried,
//!   then cancels the later stage and the parent, naming it;
//! - `--skills` deals the skills over the parts' `requires`, and a swarm
//!   merged by `--merge json` has every part's keys once; pushed
//!   (`--assign push`), its parts go to distinct agents.

mod common;
mod rules_support;

use common::procs::{AgentProc, AgentSpec};
use rules_support::*;
use std::path::Path;
use std::process::Output;
use std::time::Duration;
use vayu::lifecycle::Status;
use vayu::model::Task;
use vayu::store::Versioned;

const LIMIT: Duration = Duration::from_secs(120);

/// Reports the part's place (`p1`), or `{"p1": "input"}` for a task
/// titled `json…`; the first stage of a task titled `doomed…` always
/// fails.
const HANDLER: &str = r#"import json, sys
t = json.load(sys.stdin)
me = t["task_id"][-2:]
if t["title"].startswith("doomed") and me == "p1":
    sys.exit(1)
if t["title"].startswith("json"):
    print("vayu:result " + json.dumps({me: t["input"]}), flush=True)
else:
    print("vayu:result " + me, flush=True)
"#;

/// Two planners, online.
async fn planners(w: &World, dir: &Path) -> Vec<AgentProc> {
    let path = dir.join("member.py");
    std::fs::write(&path, HANDLER).expect("the temp dir is writable");
    let handler = format!("python3 {}", path.display());
    let agents: Vec<AgentProc> = (1..=2)
        .map(|i| {
            let id = format!("planner-{i}");
            let mut spec = AgentSpec::new(&id, &handler, &w.host, &w.db, dir);
            spec.env = vec![("VAYU_AGENT_IDENTITY".into(), "emulator".into())];
            (spec.heartbeat_secs, spec.lease_secs) = (1.0, 5.0);
            spec.args = vec!["--capabilities".into(), "planner".into()];
            AgentProc::spawn(&spec)
        })
        .collect();
    common::fleet::wait_agents_online(&w.admin, &["planner-1", "planner-2"], LIMIT).await;
    agents
}

async fn stop(agents: &mut [AgentProc]) {
    for a in agents {
        a.stop_cleanly(Duration::from_secs(20)).await;
    }
}

fn expect(out: &Output, code: i32, what: &str) -> String {
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(code), "{what}: {err}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Creates a team of a planner and an astronaut with `flags`; returns
/// the parent's id.
fn moonshot(w: &World, flags: &[&str]) -> String {
    let mut args = vec![
        "task",
        "create",
        "moonshot",
        "--roles",
        "planner,astronaut",
        "--json",
    ];
    args.extend_from_slice(flags);
    let out = expect(
        &w.vayu_as("alice", &args),
        0,
        "a team with a role nobody has",
    );
    let v: serde_json::Value = serde_json::from_str(&out).expect("JSON");
    v["task_id"].as_str().expect("an id").to_string()
}

async fn reaches(w: &World, id: &str, status: Status) -> Versioned<Task> {
    common::fleet::wait_status(&w.admin, id, status, LIMIT).await
}

fn last_note(t: &Task) -> String {
    (t.history.iter().rev())
        .find_map(|h| h.note.clone())
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unformed_team_is_cancelled_at_its_deadline_naming_the_missing_role() {
    let w = World::new("team-unformed-cancel").await;
    let dir = tempfile::tempdir().expect("a temp dir");
    let mut agents = planners(&w, dir.path()).await;
    let cancels = moonshot(&w, &["--form-within", "20s", "--unformed", "cancel"]);
    let waits = moonshot(&w, &["--form-within", "20s"]);

    let part = reaches(&w, &format!("{cancels}-p2"), Status::Cancelled).await;
    let note = last_note(&part.value);
    assert!(note.contains("did not form by its deadline"), "{note}");
    assert!(note.contains("no live agent offers astronaut"), "{note}");
    assert!(
        part.value.history.iter().any(|h| h
            .agent
            .as_deref()
            .is_some_and(|a| a.starts_with("planner-"))),
        "an agent cancelled it"
    );
    let parent = reaches(&w, &cancels, Status::Cancelled).await;
    assert_eq!(
        parent.value.dependencies.failed.as_deref(),
        Some(format!("{cancels}-p2").as_str()),
        "the parent names the part"
    );
    reaches(&w, &format!("{cancels}-p1"), Status::Completed).await;

    // The team that chose to wait (created a moment later) still waits
    // past its own deadline, reported overdue.
    let open = w.read(&format!("{waits}-p2")).await;
    let by = (open.value.part_of.as_ref())
        .and_then(|p| p.form_by)
        .expect("a deadline");
    let left = vayu::model::millis_between(vayu::model::now(), by).max(0) as u64;
    tokio::time::sleep(Duration::from_millis(left + 1000)).await;
    let open = w.read(&format!("{waits}-p2")).await;
    assert_eq!(
        open.value.status,
        Status::Queued,
        "a waiting team is left alone"
    );
    assert_eq!(open.value.requires, vec!["astronaut".to_string()]);
    let status = expect(
        &w.vayu_as("alice", &["task", "status", "--id", &waits]),
        0,
        "status",
    );
    assert!(status.contains("did not form by its deadline"), "{status}");
    assert!(
        status.contains("no live agent offers astronaut"),
        "{status}"
    );
    stop(&mut agents).await;
    w.done("an_unformed_team_is_cancelled_at_its_deadline_naming_the_missing_role");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unformed_team_degrades_and_completes_without_the_role() {
    let w = World::new("team-unformed-degrade").await;
    let dir = tempfile::tempdir().expect("a temp dir");
    let mut agents = planners(&w, dir.path()).await;
    let parent = moonshot(&w, &["--form-within", "20s", "--unformed", "degrade"]);

    let done = reaches(&w, &parent, Status::Completed).await;
    assert_eq!(
        done.value.execution.result.as_deref(),
        Some("p1\np2"),
        "every part merged once, in order"
    );
    let part = w.read(&format!("{parent}-p2")).await;
    assert!(part.value.requires.is_empty(), "the role was dropped");
    let note = (part.value.history.iter())
        .find_map(|h| h.note.clone().filter(|n| n.contains("formed without")))
        .unwrap_or_default();
    assert!(
        note.contains("formed without astronaut"),
        "{:?}",
        part.value.history
    );
    let by = part
        .value
        .assignment
        .primary_agent
        .clone()
        .unwrap_or_default();
    assert!(by.starts_with("planner-"), "a planner ran it: {by}");
    let status = expect(
        &w.vayu_as("alice", &["task", "status", "--id", &parent]),
        0,
        "status",
    );
    assert!(status.contains("formed without astronaut"), "{status}");
    stop(&mut agents).await;
    w.done("an_unformed_team_degrades_and_completes_without_the_role");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_formation_deadline_writes_nothing() {
    let w = World::new("team-unformed-bad").await;
    for (flags, what) in [
        (
            vec!["--roles", "a,b", "--unformed", "cancel"],
            "--unformed without --form-within",
        ),
        (
            vec!["--roles", "a,b", "--form-within", "2s"],
            "a deadline under 5 s",
        ),
        (
            vec!["--roles", "a,b", "--form-within", "8d"],
            "a deadline over 7 days",
        ),
        (
            vec!["--roles", "a,b", "--form-within", "soon"],
            "a deadline that is no delay",
        ),
        (vec!["--form-within", "10m"], "a deadline without a team"),
        (
            vec![
                "--roles",
                "a,b",
                "--form-within",
                "1m",
                "--unformed",
                "panic",
            ],
            "an unknown choice",
        ),
    ] {
        let mut args = vec!["task", "create", "moonshot"];
        args.extend(flags);
        let out = w.vayu_as("alice", &args);
        assert_eq!(
            out.status.code(),
            Some(2),
            "{what}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let listed = expect(&w.vayu_as("alice", &["task", "list", "--json"]), 0, "list");
    let v: serde_json::Value = serde_json::from_str(&listed).expect("JSON");
    assert_eq!(
        v["tasks"].as_array().map(Vec::len),
        Some(0),
        "nothing was written: {listed}"
    );
    w.done("a_bad_formation_deadline_writes_nothing");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stage_failing_for_good_cancels_the_rest_and_skills_and_json_merges_come_through() {
    let w = World::new("team-stage-fails").await;
    let dir = tempfile::tempdir().expect("a temp dir");
    let mut agents = planners(&w, dir.path()).await;
    let create = |args: &[&str]| {
        let mut all = vec!["task", "create"];
        all.extend_from_slice(args);
        all.push("--json");
        let out = w.vayu_as("alice", &all);
        let v: serde_json::Value = serde_json::from_str(&expect(&out, 0, "a team")).expect("JSON");
        (v["task_id"].as_str().expect("an id").to_string(), v)
    };
    let (doomed, _) = create(&[
        "doomed",
        "--team",
        "2",
        "--pattern",
        "pipeline",
        "--max-retries",
        "1",
    ]);
    let (merged, _) = create(&[
        "json survey",
        "--team",
        "2",
        "--merge",
        "json",
        "--input",
        "x",
        "--assign",
        "push",
    ]);
    let (skilled, warned) = create(&["port it", "--team", "2", "--skills", "rust,docs,sql"]);

    // Skills are dealt round-robin: part 1 rust and sql, part 2 docs; the
    // planners offer none, and the create says so for each part.
    for (k, want) in [(1, vec!["rust", "sql"]), (2, vec!["docs"])] {
        let part = w.read(&format!("{skilled}-p{k}")).await.value;
        assert_eq!(part.requires, want, "part {k}");
        let waiting = warned["parts"][k - 1]["waiting"]
            .as_str()
            .unwrap_or_default();
        assert!(
            waiting.contains("no live agent offers") && waiting.contains(want[0]),
            "{warned}"
        );
    }

    // Pushed, the team spreads over both planners (the scorer's team).
    let mut pushed = Vec::new();
    for k in 1..=2 {
        let part = w.read(&format!("{merged}-p{k}")).await.value;
        pushed.extend(part.assignment.pushed_to);
    }
    pushed.sort();
    assert_eq!(pushed, ["planner-1", "planner-2"], "one part each");
    let done = reaches(&w, &merged, Status::Completed).await;
    let result: serde_json::Value =
        serde_json::from_str(done.value.execution.result.as_deref().unwrap_or_default())
            .expect("a JSON merge");
    assert_eq!(result, serde_json::json!({"p1": "x", "p2": "x"}));

    // Stage 1 ran twice (max_retries 1), then failed for good; stage 2
    // and the parent were cancelled, naming it.
    let stage1 = format!("{doomed}-p1");
    let failed = reaches(&w, &stage1, Status::Failed).await;
    assert_eq!(
        failed.value.metadata.retry_count, 2,
        "{:?}",
        failed.value.history
    );
    let attempts = (failed.value.history.iter())
        .filter(|h| h.status == Some(Status::Executing))
        .count();
    assert_eq!(attempts, 2, "retried once: {:?}", failed.value.history);
    let stage2 = reaches(&w, &format!("{doomed}-p2"), Status::Cancelled).await;
    assert_eq!(
        stage2.value.dependencies.failed.as_deref(),
        Some(stage1.as_str())
    );
    assert!(
        stage2.value.execution.started_at.is_none(),
        "stage 2 never ran"
    );
    let parent = reaches(&w, &doomed, Status::Cancelled).await;
    assert_eq!(
        parent.value.dependencies.failed.as_deref(),
        Some(stage1.as_str())
    );
    stop(&mut agents).await;
    w.done("a_stage_failing_for_good_cancels_the_rest_and_skills_and_json_merges_come_through");
}
