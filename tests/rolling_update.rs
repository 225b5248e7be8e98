//! A rolling update under load (issue 16): four `vayu-agent` processes run
//! a stream of tasks while each, one after another, is drained with
//! `vayu agent drain --wait` and replaced by a new process under the same
//! id. Nothing is lost and nothing runs twice.
//!
//! The handler records a task's id when its work is done (after its
//! sleep), so a run cut short and handed back would not count; the test
//! asserts each task was recorded exactly once and completed.

mod common;

use common::fleet::{count, lines, setup, wait_agents_online};
use common::procs::{AgentProc, AgentSpec, tail, vayu_cli};
use std::collections::HashMap;
use std::time::Duration;
use tokio::time::Instant;
use vayu::layout::Pile;
use vayu::lifecycle::Status;
use vayu::model::{Priority, TaskType};
use vayu::tasks::{self, NewTask};

const AGENTS: [&str; 4] = ["roll-1", "roll-2", "roll-3", "roll-4"];
/// Tasks created while the fleet is replaced.
const TASKS: usize = 160;

fn spec(host: &str, db: &str, dir: &std::path::Path, id: &str) -> AgentSpec {
    let runs = dir.join("runs.txt");
    let handler = format!("sleep 0.2; echo \"$VAYU_TASK_ID\" >> {}", runs.display());
    let mut s = AgentSpec::new(id, &handler, host, db, dir);
    s.concurrency = 3;
    s.args = vec!["--drain-grace-secs".into(), "30".into()];
    s
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_fleet_replaced_one_agent_at_a_time_under_load_loses_nothing_and_runs_nothing_twice() {
    let (cfg, store) = setup("rolling").await;
    let host = cfg
        .emulator_host
        .clone()
        .expect("tests run on the emulator");
    let db = cfg.database_id.clone();
    let dir = tempfile::tempdir().expect("the system temp dir is writable");
    let mut fleet: Vec<AgentProc> = (AGENTS.iter())
        .map(|id| AgentProc::spawn(&spec(&host, &db, dir.path(), id)))
        .collect();
    wait_agents_online(&store, &AGENTS, Duration::from_secs(30)).await;

    // The load: tasks arrive all through the update.
    let producer = {
        let store = store.clone();
        tokio::spawn(async move {
            let mut ids = Vec::new();
            for n in 0..TASKS {
                let t = NewTask::new(TaskType::Research, Priority::Normal, format!("job {n}"));
                let made = tasks::create(&store, t)
                    .await
                    .expect("the emulator accepts a task");
                ids.push(made.task_id);
                tokio::time::sleep(Duration::from_millis(60)).await;
            }
            ids
        })
    };

    let t0 = Instant::now();
    for (i, id) in AGENTS.iter().enumerate() {
        tokio::time::sleep(Duration::from_millis(700)).await;
        let (code, out, err) =
            vayu_cli(&host, &db, &["agent", "drain", "--id", id, "--wait"]).await;
        assert_eq!(code, 0, "drain {id}: {out}{err}");
        let status = fleet[i].wait_exit(Duration::from_secs(40)).await;
        assert!(
            status.is_some_and(|s| s.success()),
            "{id} exits 0 once drained, got {status:?}:\n{}",
            tail(&fleet[i].log(), 30)
        );
        assert!(
            fleet[i].log().contains("asked to drain"),
            "{id} says why it stopped"
        );
        // The new version: a new process under the same id.
        fleet[i] = AgentProc::spawn(&spec(&host, &db, dir.path(), id));
        wait_agents_online(&store, &[id], Duration::from_secs(30)).await;
        println!("{id} replaced at {} ms", t0.elapsed().as_millis());
    }
    let ids = producer.await.expect("the producer finishes");

    let deadline = Instant::now() + Duration::from_secs(90);
    while count(&store, Pile::Completed).await < TASKS {
        assert!(
            Instant::now() < deadline,
            "not every task completed:\n{}",
            tail(&fleet[0].log(), 20)
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let mut runs: HashMap<String, usize> = HashMap::new();
    for id in lines(&dir.path().join("runs.txt")) {
        *runs.entry(id).or_default() += 1;
    }
    let twice: Vec<_> = runs.iter().filter(|(_, n)| **n > 1).collect();
    assert!(
        twice.is_empty(),
        "tasks run to the end more than once: {twice:?}"
    );
    for id in &ids {
        let v = store
            .find_task(id)
            .await
            .expect("reads")
            .expect("the task exists");
        assert_eq!(v.value.status, Status::Completed, "{id}");
        assert_eq!(runs.get(id), Some(&1), "{id} ran once");
    }
    assert_eq!(
        runs.len(),
        TASKS,
        "every task's run was recorded, and no other"
    );
    assert_eq!(count(&store, Pile::Active).await, 0);
    assert_eq!(count(&store, Pile::Queued).await, 0);
    println!(
        "{TASKS} tasks, 4 agents replaced, in {} ms",
        t0.elapsed().as_millis()
    );
    for mut a in fleet {
        a.stop_cleanly(Duration::from_secs(20)).await;
    }
}
