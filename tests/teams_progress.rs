//! Issue 15, progress broadcasts end to end under the rules: two members
//! of a peer team, on two real `vayu-agent` processes, each report
//! progress and then wait until `$VAYU_TEAM_PROGRESS` shows the other's.
//! Each can finish only by seeing its teammate's progress live, so the
//! merged result names both.

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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn members_see_each_others_progress_live() {
    let w = World::new("team-progress").await;
    let dir = tempfile::tempdir().expect("a temp dir");
    let path = dir.path().join("member.py");
    std::fs::write(&path, MEMBER).expect("the temp dir is writable");
    let handler = format!("python3 {}", path.display());
    let mut agents: Vec<AgentProc> = (1..=2)
        .map(|i| {
            let mut spec = AgentSpec::new(&format!("m-{i}"), &handler, &w.host, &w.db, dir.path());
            spec.env = vec![("VAYU_AGENT_IDENTITY".into(), "emulator".into())];
            (spec.heartbeat_secs, spec.lease_secs) = (0.5, 5.0);
            AgentProc::spawn(&spec)
        })
        .collect();
    common::fleet::wait_agents_online(&w.admin, &["m-1", "m-2"], LIMIT).await;

    let out = w.vayu_as(
        "alice",
        &[
            "task",
            "create",
            "compare notes",
            "--team",
            "2",
            "--pattern",
            "peer",
            "--json",
        ],
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let parent = v["task_id"].as_str().expect("an id").to_string();

    let deadline = tokio::time::Instant::now() + LIMIT;
    let done = loop {
        let t = w.read(&parent).await;
        if t.value.status.is_terminal() {
            break t;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the team never ended"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
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
