//! Issue 15, team tasks end to end under the rules, with 4 real
//! `vayu-agent` processes:
//! - a swarm of 4 whose member is killed with SIGKILL mid-part: a peer
//!   takes the part over, and the merged result has every part once;
//! - a role-based pipeline of 3 whose implementer is killed mid-stage:
//!   each stage gets the previous stage's result, and the output has
//!   every stage once, in order;
//! - a team that cannot form says which role is missing (`task create`
//!   and `task status`), and the parent's pause, resume and cancel reach
//!   its parts; `task tree` shows them;
//! - a peer team of 3 whose member is killed before its barrier: the
//!   members share the context and pass the barrier together;
//! - a leader with two followers, one killed mid-subtask: each follower
//!   does the leader's subtask for it, and the parent aggregates.
//!
//! A completed parent names the agents that ran its parts
//! (`assignment.collaborators`, `members` in `task status`).

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

/// Generous: a loaded machine slows a takeover, which a peer at a barrier
/// waits for.
const LIMIT: Duration = Duration::from_secs(300);

/// Writes a Python handler `name` in `dir` that records `{task} {agent}`
/// for each run it starts in `dir/runs`, then runs `body` with the task
/// as `t` and the environment as `env`; returns its command.
fn script(dir: &Path, name: &str, body: &str) -> String {
    let path = dir.join(name);
    let runs = dir.join("runs");
    let head = format!(
        "import json, os, sys, time\nt = json.load(sys.stdin)\nenv = os.environ\nwith open({runs:?}, \"a\") as f:\n    f.write(t[\"task_id\"] + \" \" + env[\"VAYU_AGENT_ID\"] + \"\\n\")\n"
    );
    std::fs::write(&path, head + body).expect("the temp dir is writable");
    format!("python3 {}", path.display())
}

/// A handler that records `{task} {agent}` for each run it starts in
/// `dir/runs`, works for 4 s, and reports `input>role` in a pipeline or
/// `part-K` in a swarm. Part K first waits while `dir/hold-K` exists
/// ([`hold`]): the part a test kills is still running when the test
/// finds its holder, however slow the machine (CI once saw a part run
/// and complete before the test saw it executing).
fn handler(dir: &Path) -> String {
    script(dir, "member.py", MEMBER)
}

const MEMBER: &str = r#"if "VAYU_PART" not in env:
    print("vayu:result not a part")
    sys.exit(0)
hold = os.path.join(os.path.dirname(os.path.abspath(sys.argv[0])), "hold-" + env["VAYU_PART"])
deadline = time.time() + 120
while os.path.exists(hold) and time.time() < deadline:
    time.sleep(0.1)
time.sleep(4)
if env.get("VAYU_TEAM_ROLE"):
    print("vayu:result " + t["input"] + ">" + env["VAYU_TEAM_ROLE"], flush=True)
else:
    print("vayu:artifact note part-" + env["VAYU_PART"], flush=True)
    print("vayu:result part-" + env["VAYU_PART"], flush=True)
"#;

/// Four agents running `handler`, two tasks at a time each, with
/// `capabilities[i]`.
fn fleet(
    w: &World,
    dir: &Path,
    prefix: &str,
    handler: &str,
    capabilities: [&str; 4],
) -> Vec<AgentProc> {
    (0..4)
        .map(|i| {
            let id = format!("{prefix}-{}", i + 1);
            let mut spec = AgentSpec::new(&id, handler, &w.host, &w.db, dir);
            spec.env = vec![("VAYU_AGENT_IDENTITY".into(), "emulator".into())];
            // A spare slot: a member that dies while its peers wait at a
            // barrier is taken over by its lane's owner, which may be one
            // of them (README, Teams, "Limits").
            spec.concurrency = 2;
            (spec.heartbeat_secs, spec.lease_secs) = (1.0, 5.0);
            if !capabilities[i].is_empty() {
                spec.args = vec!["--capabilities".into(), capabilities[i].into()];
            }
            AgentProc::spawn(&spec)
        })
        .collect()
}

/// Expects exit `code`; returns stdout.
fn expect(out: &Output, code: i32, what: &str) -> String {
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(code), "{what}: {err}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The parent's id and its parts' ids, from `task create --json`.
fn created(stdout: &str) -> (String, Vec<String>) {
    let v: serde_json::Value = serde_json::from_str(stdout).expect("JSON");
    let parts = (v["team"]["parts"].as_array().expect("the parts"))
        .iter()
        .map(|p| p.as_str().expect("an id").to_string())
        .collect();
    (v["task_id"].as_str().expect("an id").to_string(), parts)
}

async fn reaches(w: &World, id: &str, status: Status) -> Versioned<Task> {
    common::fleet::wait_status(&w.admin, id, status, LIMIT).await
}

/// Waits for every part, then for the parent: a team that stalls names
/// the part it stalled on (CI once saw only a parent still blocked).
async fn completes(w: &World, parent: &str, parts: &[String]) -> Versioned<Task> {
    for part in parts {
        reaches(w, part, Status::Completed).await;
    }
    reaches(w, parent, Status::Completed).await
}

/// Kills the agent running `part` once it runs it; returns that agent's id.
/// Holds part `k` (1-based) of the next team in [`handler`] until
/// [`kill_holder`] has killed its holder.
fn hold(dir: &Path, k: usize) {
    std::fs::write(dir.join(format!("hold-{k}")), "").expect("the temp dir is writable");
}

async fn kill_holder(w: &World, dir: &Path, agents: &mut [AgentProc], part: &str) -> String {
    let v = reaches(w, part, Status::Executing).await;
    let holder = v
        .value
        .lease
        .owner
        .clone()
        .expect("a running part has a holder");
    let proc = (agents.iter_mut())
        .find(|a| a.id() == holder)
        .expect("the holder is one of the fleet");
    proc.kill9().await;
    for entry in std::fs::read_dir(dir).expect("the temp dir is readable") {
        let path = entry.expect("a directory entry").path();
        if path
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with("hold-"))
        {
            std::fs::remove_file(path).expect("the temp dir is writable");
        }
    }
    holder
}

/// The completed `parent` names the agents that completed `parts`, each
/// once, in part order, and `task status` shows them.
async fn assert_members(w: &World, parent: &Task, parts: &[String]) {
    let mut want: Vec<String> = Vec::new();
    for p in parts {
        let by = (w.read(p).await.value.assignment.primary_agent).expect("a part's agent");
        if !want.contains(&by) {
            want.push(by);
        }
    }
    assert_eq!(parent.assignment.collaborators, want);
    let status = expect(
        &w.vayu_as("alice", &["task", "status", "--id", &parent.task_id]),
        0,
        "status",
    );
    assert!(
        status.contains(&format!("members   {}", want.join(", "))),
        "{status}"
    );
}

/// The runs recorded for `task`, as the agents that started them.
fn runs_of(dir: &Path, task: &str) -> Vec<String> {
    let all = std::fs::read_to_string(dir.join("runs")).unwrap_or_default();
    (all.lines())
        .filter_map(|l| l.split_once(' '))
        .filter(|(t, _)| *t == task)
        .map(|(_, a)| a.to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_swarm_merges_every_part_once_through_a_members_kill() {
    let w = World::new("team-swarm").await;
    let dir = tempfile::tempdir().expect("a temp dir");
    let mut agents = fleet(
        &w,
        dir.path(),
        "swarm",
        &handler(dir.path()),
        ["", "", "", ""],
    );
    online(&w, &agents).await;
    hold(dir.path(), 2);

    let out = w.vayu_as(
        "alice",
        &[
            "--json",
            "task",
            "create",
            "survey",
            "--team",
            "4",
            "--input",
            "[1,2,3,4,5,6,7,8]",
        ],
    );
    let (parent, parts) = created(&expect(&out, 0, "a swarm of 4"));
    assert_eq!(parts.len(), 4);
    let killed = kill_holder(&w, dir.path(), &mut agents, &parts[1]).await;

    let done = completes(&w, &parent, &parts).await;
    assert_eq!(
        done.value.execution.result.as_deref(),
        Some("part-1\npart-2\npart-3\npart-4"),
        "every part's result once, in part order"
    );
    // The parent lists its parts' artifacts, each named after its part.
    let names: Vec<&str> = (done.value.execution.artifacts.iter())
        .map(|a| a.name.as_str())
        .collect();
    assert_eq!(names, ["p1/note", "p2/note", "p3/note", "p4/note"]);
    // Each part got its slice of the input.
    let second = w.read(&parts[1]).await.value;
    assert_eq!(second.input, "[3,4]");
    // The killed member's part ran again on a peer, and completed there.
    let runners = runs_of(dir.path(), &parts[1]);
    assert!(
        runners.len() >= 2 && runners[0] == killed,
        "part 2 ran on {runners:?}"
    );
    assert_ne!(
        second.assignment.primary_agent.as_deref(),
        Some(killed.as_str())
    );
    // The parent ran no handler: the agent merged.
    assert!(runs_of(dir.path(), &parent).is_empty());
    assert_members(&w, &done.value, &parts).await;
    stop(&mut agents).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pipeline_hands_each_stage_the_last_result_through_a_kill() {
    let w = World::new("team-pipeline").await;
    let dir = tempfile::tempdir().expect("a temp dir");
    let caps = ["planner", "implementer", "reviewer", "implementer,reviewer"];
    let mut agents = fleet(&w, dir.path(), "pipe", &handler(dir.path()), caps);
    online(&w, &agents).await;
    hold(dir.path(), 2);

    let out = w.vayu_as(
        "alice",
        &[
            "--json",
            "task",
            "create",
            "ship it",
            "--pattern",
            "pipeline",
            "--roles",
            "planner,implementer,reviewer",
            "--input",
            "seed",
        ],
    );
    let (parent, parts) = created(&expect(&out, 0, "a pipeline of 3 roles"));
    let killed = kill_holder(&w, dir.path(), &mut agents, &parts[1]).await;
    assert!(
        killed == "pipe-2" || killed == "pipe-4",
        "only an implementer runs stage 2"
    );

    let done = completes(&w, &parent, &parts).await;
    assert_eq!(
        done.value.execution.result.as_deref(),
        Some("seed>planner>implementer>reviewer"),
        "each stage once, in order, on the last one's output"
    );
    let stage2 = w.read(&parts[1]).await.value;
    let runner = stage2.assignment.primary_agent.expect("stage 2 ran");
    assert!(
        runner != killed && (runner == "pipe-2" || runner == "pipe-4"),
        "{runner}"
    );
    let stage3 = w.read(&parts[2]).await.value;
    let started = |t: &Task| t.execution.started_at.expect("started").0;
    assert!(started(&stage3) > stage2.execution.finished_at.expect("finished").0);
    stop(&mut agents).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_team_that_cannot_form_says_why_and_its_parent_controls_its_parts() {
    let w = World::new("team-form").await;
    w.register("only-planner", &["planner"], &["*"]).await;
    let out = w.vayu_as(
        "alice",
        &["task", "create", "moonshot", "--roles", "planner,astronaut"],
    );
    let text = expect(&out, 0, "a team with a role nobody has");
    let parent = text.lines().next().expect("the parent's id").to_string();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("cannot form yet: no live agent offers astronaut"),
        "{err}"
    );
    assert!(
        !err.contains("-p1 cannot form"),
        "the planner's part can form: {err}"
    );
    let status = expect(
        &w.vayu_as("alice", &["task", "status", "--id", &parent]),
        0,
        "status",
    );
    assert!(
        status.contains("team      swarm of 2, merged by concat"),
        "{status}"
    );
    assert!(
        status.contains("no live agent offers astronaut"),
        "{status}"
    );
    let tree = expect(
        &w.vayu_as("alice", &["task", "tree", &format!("{parent}-p2")]),
        0,
        "tree",
    );
    assert!(
        tree.starts_with(&parent) && tree.contains("(astronaut) queued"),
        "{tree}"
    );

    // Pause, resume and cancel the parent: its parts follow.
    let parts = [format!("{parent}-p1"), format!("{parent}-p2")];
    expect(
        &w.vayu_as("alice", &["task", "pause", "--id", &parent]),
        0,
        "pause",
    );
    for p in &parts {
        assert_eq!(w.read(p).await.value.status, Status::Paused, "{p} paused");
    }
    assert_eq!(w.read(&parent).await.value.status, Status::Blocked);
    expect(
        &w.vayu_as("alice", &["task", "resume", "--id", &parent]),
        0,
        "resume",
    );
    for p in &parts {
        assert_eq!(w.read(p).await.value.status, Status::Queued, "{p} resumed");
    }
    expect(
        &w.vayu_as("alice", &["task", "cancel", "--id", &parent]),
        0,
        "cancel",
    );
    assert_eq!(w.read(&parent).await.value.status, Status::Cancelled);
    for p in &parts {
        assert_eq!(
            w.read(p).await.value.status,
            Status::Cancelled,
            "{p} cancelled"
        );
    }

    // Bad team flags write nothing.
    let before = w.admin.list_tasks(None, None).await.map(|t| t.len()).ok();
    for (args, why) in [
        (vec!["--team", "1"], "a team of one"),
        (vec!["--team", "3", "--roles", "a,b"], "two roles for three"),
        (vec!["--pattern", "pipeline"], "a pattern with no team"),
        (
            vec!["--team", "2", "--pattern", "pipeline", "--merge", "concat"],
            "a pipeline merged by concat",
        ),
    ] {
        let mut all = vec!["task", "create", "bad"];
        all.extend(args);
        expect(&w.vayu_as("alice", &all), 2, why);
    }
    let out = w.vayu_as(
        "alice",
        &["task", "create", "x", "--team", "2", "--pattern", "hive"],
    );
    assert_eq!(out.status.code(), Some(2), "an unknown pattern");
    assert_eq!(
        w.admin.list_tasks(None, None).await.map(|t| t.len()).ok(),
        before
    );
}

/// A handler for peers and leaders: a peer sets its key in the team's
/// context, waits at barrier `agreed`, and reports the keys it then sees;
/// a leader hands out two subtasks; a follower does its subtask; the
/// parent (no `VAYU_PART`) joins the followers' results. Each run is
/// recorded, and a member works 3 s first (to be killed mid-run).
fn collaborator(dir: &Path) -> String {
    script(dir, "collab.py", COLLAB)
}

const COLLAB: &str = r#"if "VAYU_PART" not in env:
    parts = json.loads(t["input"])
    print("vayu:result " + "+".join(p["result"] for p in parts[1:]), flush=True)
    sys.exit(0)
time.sleep(3)
pattern = t["part_of"]["pattern"]
if pattern == "peer":
    print("vayu:context k" + env["VAYU_PART"] + " from-" + env["VAYU_AGENT_ID"], flush=True)
    print("vayu:barrier agreed 600", flush=True)
    done = os.path.join(env["VAYU_TASK_DIR"], "barrier-agreed")
    while not os.path.exists(done):
        time.sleep(0.2)
    with open(done) as f:
        outcome = f.read()
    with open(env["VAYU_CONTEXT"]) as f:
        seen = sorted(json.load(f))
    print("vayu:result " + outcome + ":" + ",".join(seen), flush=True)
elif env["VAYU_PART"] == "1":
    print("vayu:subtask task-A", flush=True)
    print("vayu:subtask task-B", flush=True)
    print("vayu:result planned", flush=True)
else:
    print("vayu:result done:" + t["input"], flush=True)
"#;

async fn online(w: &World, agents: &[AgentProc]) {
    let ids: Vec<String> = agents.iter().map(|a| a.id().to_string()).collect();
    let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
    common::fleet::wait_agents_online(&w.admin, &refs, LIMIT).await;
}

async fn stop(agents: &mut [AgentProc]) {
    for a in agents {
        if a.try_exit().is_none() {
            a.stop_cleanly(Duration::from_secs(20)).await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn peers_share_a_context_and_meet_at_a_decision_point_through_a_kill() {
    let w = World::new("team-peer").await;
    let dir = tempfile::tempdir().expect("a temp dir");
    let mut agents = fleet(
        &w,
        dir.path(),
        "peer",
        &collaborator(dir.path()),
        ["", "", "", ""],
    );
    online(&w, &agents).await;
    let out = w.vayu_as(
        "alice",
        &[
            "--json",
            "task",
            "create",
            "debate",
            "--team",
            "3",
            "--pattern",
            "peer",
        ],
    );
    let (parent, parts) = created(&expect(&out, 0, "3 peers"));
    let killed = kill_holder(&w, dir.path(), &mut agents, &parts[0]).await;

    let done = completes(&w, &parent, &parts).await;
    // Every peer went past the barrier only once all three had arrived,
    // and then saw every peer's key, the killed one's set by its successor.
    let line = "passed:k1,k2,k3";
    assert_eq!(
        done.value.execution.result.as_deref(),
        Some([line, line, line].join("\n").as_str())
    );
    let runners = runs_of(dir.path(), &parts[0]);
    assert!(
        runners.len() >= 2 && runners[0] == killed,
        "part 1 ran on {runners:?}"
    );
    let team = w
        .admin
        .team_doc(&parent)
        .await
        .expect("the team's document");
    assert_eq!(team.barriers["agreed"].len(), 3, "each part arrived once");
    assert_ne!(
        team.context["k1"].agent, killed,
        "the successor wrote k1 last"
    );
    stop(&mut agents).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_leader_hands_out_work_and_aggregates_it_through_a_followers_kill() {
    let w = World::new("team-leader").await;
    let dir = tempfile::tempdir().expect("a temp dir");
    let caps = ["lead", "dev", "dev", "dev"];
    let mut agents = fleet(&w, dir.path(), "led", &collaborator(dir.path()), caps);
    online(&w, &agents).await;
    let out = w.vayu_as(
        "alice",
        &[
            "--json",
            "task",
            "create",
            "build",
            "--pattern",
            "leader",
            "--roles",
            "lead,dev,dev",
        ],
    );
    let (parent, parts) = created(&expect(&out, 0, "a leader and two followers"));
    let killed = kill_holder(&w, dir.path(), &mut agents, &parts[2]).await;
    assert_ne!(killed, "led-1", "only developers follow");

    let done = completes(&w, &parent, &parts).await;
    assert_eq!(
        done.value.execution.result.as_deref(),
        Some("done:task-A+done:task-B"),
        "each follower did the leader's subtask for it, once"
    );
    assert_eq!(
        done.value.assignment.primary_agent.as_deref(),
        Some("led-1"),
        "the leader aggregates"
    );
    let follower = w.read(&parts[2]).await.value;
    assert_ne!(
        follower.assignment.primary_agent.as_deref(),
        Some(killed.as_str())
    );
    assert_eq!(
        runs_of(dir.path(), &parts[0]).len(),
        1,
        "the leader planned once"
    );
    assert_members(&w, &done.value, &parts).await;
    stop(&mut agents).await;
}
