//! Issue 15, progress broadcasts end to end under the rules: two members
//! of a peer team, on two real `vayu-agent` processes, each report
//! progress and then wait until `$VAYU_TEAM_PROGRESS` shows the other's.
//! Each can finish only by seeing its teammate's progress live, so the
//! merged result names both. And a decision point's other two outcomes:
//! `timeout` for a peer whose teammate never arrives, `refused` in a
//! pipeline.

mod common;
mod rules_support;

use common::procs::{AgentProc, AgentSpec};
use rules_support::*;
use std::time::Duration;
use vayu::lifecycle::Status;

const LIMIT: Duration = Duration::from_secs(120);

/// Reports progress 50 with a step, then reads the team's progress file
/// until a teammate shows 50 or more (60 s at most), and records what it
/// saw. Then it reports 90 and lingers until the teammate has seen it too
/// (shows 90, or has left the running parts), so neither ends before the
/// other could see it.
const MEMBER: &str = r#"import json, os, sys, time
t = json.load(sys.stdin)
me = t["task_id"]
path = os.environ["VAYU_TEAM_PROGRESS"]

def others():
    try:
        running = json.load(open(path))["running"]
    except (OSError, ValueError):
        return None
    return [r for r in running if r["task_id"] != me]

def wait_for(ok, secs):
    end = time.time() + secs
    while time.time() < end:
        rows = others()
        if rows is not None and ok(rows):
            return rows
        time.sleep(0.2)
    return None

print("vayu:progress 50 halfway", flush=True)
seen = wait_for(lambda rows: any(r["progress"] >= 50 for r in rows), 60)
if seen:
    r = [r for r in seen if r["progress"] >= 50][0]
    print("vayu:result p%s saw p%d at %d" % (os.environ["VAYU_PART"], r["part"], r["progress"]), flush=True)
    print("vayu:progress 90 seen", flush=True)
    wait_for(lambda rows: not rows or all(r["progress"] >= 90 for r in rows), 30)
else:
    print("vayu:result p%s saw nobody" % os.environ["VAYU_PART"], flush=True)
"#;

/// Two agents `m-1`, `m-2` running `script`, online.
async fn pair(w: &World, dir: &std::path::Path, script: &str) -> Vec<AgentProc> {
    let path = dir.join("member.py");
    std::fs::write(&path, script).expect("the temp dir is writable");
    let handler = format!("python3 {}", path.display());
    let agents: Vec<AgentProc> = (1..=2)
        .map(|i| {
            let mut spec = AgentSpec::new(&format!("m-{i}"), &handler, &w.host, &w.db, dir);
            spec.env = vec![("VAYU_AGENT_IDENTITY".into(), "emulator".into())];
            (spec.heartbeat_secs, spec.lease_secs) = (0.5, 5.0);
            AgentProc::spawn(&spec)
        })
        .collect();
    common::fleet::wait_agents_online(&w.admin, &["m-1", "m-2"], LIMIT).await;
    agents
}

/// Creates a team of 2 of `pattern` as alice; its parent's id.
fn team_of_two(w: &World, title: &str, pattern: &str) -> String {
    let args = [
        "task",
        "create",
        title,
        "--team",
        "2",
        "--pattern",
        pattern,
        "--json",
    ];
    let out = w.vayu_as("alice", &args);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    v["task_id"].as_str().expect("an id").to_string()
}

/// The task `id` once it has ended.
async fn ended(w: &World, id: &str) -> vayu::store::Versioned<vayu::model::Task> {
    let deadline = tokio::time::Instant::now() + LIMIT;
    loop {
        let t = w.read(id).await;
        if t.value.status.is_terminal() {
            return t;
        }
        assert!(tokio::time::Instant::now() < deadline, "{id} never ended");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn members_see_each_others_progress_live() {
    let w = World::new("team-progress").await;
    let dir = tempfile::tempdir().expect("a temp dir");
    let mut agents = pair(&w, dir.path(), MEMBER).await;
    let parent = team_of_two(&w, "compare notes", "peer");
    let done = ended(&w, &parent).await;
    assert_eq!(
        done.value.status,
        Status::Completed,
        "{:?}",
        done.value.history
    );
    // A teammate seen at 50, or already at 90 (it had seen this one).
    let result = done.value.execution.result.clone().unwrap_or_default();
    let lines: Vec<&str> = result.lines().collect();
    assert_eq!(lines.len(), 2, "{result}");
    for (line, want) in lines.iter().zip(["p1 saw p2 at ", "p2 saw p1 at "]) {
        let seen = line.strip_prefix(want);
        assert!(
            matches!(seen, Some("50" | "90")),
            "each member saw the other's progress while both ran: {result}"
        );
    }
    for a in &mut agents {
        a.stop_cleanly(Duration::from_secs(20)).await;
    }
    w.done("members_see_each_others_progress_live");
}

/// A peer's part 2 never arrives (it works 6 s and ends); every other
/// part arrives at barrier `meet` for 3 s and reports what its file says.
const MEETER: &str = r#"import json, os, sys, time
t = json.load(sys.stdin)
env = os.environ
if t["part_of"]["pattern"] == "peer" and env["VAYU_PART"] == "2":
    time.sleep(6)
    print("vayu:result absent", flush=True)
    sys.exit(0)
print("vayu:barrier meet 3", flush=True)
done = os.path.join(env["VAYU_TASK_DIR"], "barrier-meet")
end = time.time() + 30
while not os.path.exists(done) and time.time() < end:
    time.sleep(0.1)
print("vayu:result " + (open(done).read() if os.path.exists(done) else "no file"), flush=True)
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_barrier_times_out_for_a_missing_peer_and_is_refused_in_a_pipeline() {
    let w = World::new("team-barrier").await;
    let dir = tempfile::tempdir().expect("a temp dir");
    let mut agents = pair(&w, dir.path(), MEETER).await;
    let peers = team_of_two(&w, "wait for me", "peer");
    let stages = team_of_two(&w, "in order", "pipeline");

    let done = ended(&w, &peers).await;
    assert_eq!(
        done.value.execution.result.as_deref(),
        Some("timeout\nabsent"),
        "part 1 gave up on part 2 after its 3 s: {:?}",
        done.value.history
    );
    let team = w.admin.team_doc(&peers).await.expect("the team's document");
    assert_eq!(team.barriers["meet"].len(), 1, "only part 1 arrived");
    let done = ended(&w, &stages).await;
    assert_eq!(
        done.value.execution.result.as_deref(),
        Some("refused"),
        "stages never meet: {:?}",
        done.value.history
    );
    assert!(
        w.admin
            .team_doc(&stages)
            .await
            .map_or(true, |d| d.barriers.is_empty()),
        "a refused barrier records no arrival"
    );
    for a in &mut agents {
        a.stop_cleanly(Duration::from_secs(20)).await;
    }
    w.done("a_barrier_times_out_for_a_missing_peer_and_is_refused_in_a_pipeline");
}
