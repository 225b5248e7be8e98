//! Issue 13, resources end to end under the rules:
//! - a resource of capacity 2 never has 3 holders while six tasks that
//!   need it run on four agent processes, one killed with SIGKILL while
//!   it holds a permit; every task completes and every permit comes back;
//! - bad `--resource` input is refused with its exit code and nothing
//!   written, and `vayu resource list` shows the resource.

mod common;
mod rules_support;

use common::fleet::wait_task;
use common::procs::{AgentProc, AgentSpec};
use rules_support::*;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;
use vayu::lifecycle::Status;
use vayu::model::{Priority, TaskType};
use vayu::resource::ResourceNeed;
use vayu::resources::{get, set};
use vayu::tasks::{self, NewTask};

const LIMIT: Duration = Duration::from_secs(120);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_capacity_of_two_never_has_three_holders_through_a_kill() {
    let w = World::new("res-kill").await;
    set(&w.admin, "gpu", 2).await.expect("the admin sets it");
    let dir = tempfile::tempdir().expect("a temp dir");
    let mut agents: Vec<AgentProc> = (1..=4)
        .map(|i| {
            let mut spec =
                AgentSpec::new(&format!("res-{i}"), "sleep 2", &w.host, &w.db, dir.path());
            spec.env = vec![("VAYU_AGENT_IDENTITY".into(), "emulator".into())];
            (spec.heartbeat_secs, spec.lease_secs) = (1.0, 5.0);
            AgentProc::spawn(&spec)
        })
        .collect();
    let ids = ["res-1", "res-2", "res-3", "res-4"];
    common::fleet::wait_agents_online(&w.admin, &ids, LIMIT).await;

    // Watch the resource document from the start: the most holders and
    // the most permits in use it ever shows.
    let (most_holders, most_used) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let stop = Arc::new(AtomicBool::new(false));
    let watcher = {
        let (store, h, u, stop) = (
            w.admin.clone(),
            most_holders.clone(),
            most_used.clone(),
            stop.clone(),
        );
        tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                if let Ok(Some(r)) = get(&store, "gpu").await {
                    h.fetch_max(r.holders.len(), Ordering::Relaxed);
                    u.fetch_max(r.used.max(0) as usize, Ordering::Relaxed);
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        })
    };
    let alice = w.human("alice").await;
    let mut tasks_ids = Vec::new();
    for i in 0..6 {
        let mut new = NewTask::new(TaskType::Research, Priority::Normal, format!("gpu job {i}"));
        new.requester.id = "alice".into();
        new.resource = Some(ResourceNeed {
            name: "gpu".into(),
            permits: 1,
        });
        tasks_ids.push(
            allowed("alice creates a gpu job", tasks::create(&alice, new))
                .await
                .task_id,
        );
    }

    // Kill the holder of the first job seen running, permit and all.
    let victim_task = loop {
        let mut found = None;
        for id in &tasks_ids {
            let v = w.read(id).await;
            if v.value.status == Status::Executing {
                found = Some(v);
                break;
            }
        }
        if let Some(v) = found {
            break v;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let holder = victim_task.value.lease.owner.clone().expect("a holder");
    let victim = agents
        .iter_mut()
        .find(|a| a.id() == holder)
        .expect("one of ours");
    victim.kill9().await;

    for id in &tasks_ids {
        wait_task(&w.admin, id, LIMIT, "completed", |v| {
            v.value.status == Status::Completed
        })
        .await;
    }
    // The last permits come back just after the last completion.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let last = loop {
        let r = get(&w.admin, "gpu")
            .await
            .expect("readable")
            .expect("there");
        if r.used == 0 || tokio::time::Instant::now() > deadline {
            break r;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    stop.store(true, Ordering::Relaxed);
    watcher.await.expect("the watcher ends");
    assert_eq!(
        (last.used, last.holders.len()),
        (0, 0),
        "every permit came back: {last:?}"
    );
    let (holders, used) = (
        most_holders.load(Ordering::Relaxed),
        most_used.load(Ordering::Relaxed),
    );
    assert!(
        holders <= 2 && used <= 2,
        "at most 2 holders at once, seen {holders} holders and {used} permits"
    );
    assert_eq!(holders, 2, "two jobs held the resource at once");
    let retaken = w.read(&victim_task.value.task_id).await.value;
    assert!(
        retaken.lease.epoch >= 2,
        "the killed agent's job was taken over (epoch {})",
        retaken.lease.epoch
    );
    for a in agents.iter_mut().filter(|a| a.id() != holder) {
        a.stop_cleanly(Duration::from_secs(20)).await;
    }
    w.done("a_capacity_of_two_never_has_three_holders_through_a_kill");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_resources_are_refused_with_nothing_written() {
    let w = World::new("res-cli").await;
    let out = w.vayu(&["resource", "set", "gpu", "2"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for (args, code, says) in [
        (vec!["--resource", "tpu:1"], 2, "no resource tpu"),
        (vec!["--resource", "gpu:3"], 4, "capacity of 2"),
        (vec!["--resource", "GPU"], 2, "not a resource name"),
        (vec!["--resource", "gpu:0"], 2, "give 1 to"),
    ] {
        let mut all = vec!["task", "create", "a job"];
        all.extend(args.iter().copied());
        let out = w.vayu(&all);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(code), "{args:?}: {err}");
        assert!(err.contains(says), "{args:?}: {err}");
    }
    let bad = w.vayu(&["resource", "set", "gpu", "-1"]);
    assert_eq!(
        bad.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&bad.stderr)
    );
    let listed = w.vayu(&["task", "list", "--json"]);
    let rows: serde_json::Value = serde_json::from_slice(&listed.stdout).expect("JSON");
    assert_eq!(rows["tasks"], serde_json::json!([]), "nothing was written");
    let res = w.vayu(&["resource", "list", "--json"]);
    let res: serde_json::Value = serde_json::from_slice(&res.stdout).expect("JSON");
    assert_eq!(res[0]["name"], "gpu");
    assert_eq!(res[0]["capacity"], 2);
    assert_eq!(res[0]["used"], 0);
    w.done("bad_resources_are_refused_with_nothing_written");
}
