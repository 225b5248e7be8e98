//! Issue 16, `vayu stats`: the seed's success metrics over the tasks that
//! ended in the window (throughput, completion and error rates, time to
//! assignment and to resolution, load per agent) and the queue's depth,
//! after a known workload: 3 completed, 1 failed, 1 waiting for its start
//! time; as JSON and as text.

mod common;

use common::fleet::{Fleet, create_with_input, fast_agent, setup, shell, wait_ended};
use common::procs::vayu_cli;
use serde_json::Value;
use std::time::Duration;
use vayu::model::{Priority, TaskType, now, time_add};
use vayu::tasks::{self, NewTask};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stats_shows_the_success_metrics_of_a_known_workload() {
    let (cfg, store) = setup("stats").await;
    let host = cfg.emulator_host.clone().expect("an emulator config");
    let handler = "case \"$(cat)\" in *doomed*) exit 3;; *) echo vayu:result ok;; esac";
    let agents = ["stats-a", "stats-b"].map(|id| fast_agent(id, shell(handler)));
    let fleet = Fleet::start(&cfg, agents.to_vec()).await;
    let mut ids = Vec::new();
    for input in ["a", "b", "c", "doomed"] {
        ids.push(create_with_input(&store, TaskType::Research, input, input, 0).await);
    }
    let mut later = NewTask::new(TaskType::Research, Priority::Low, "later");
    later.not_before = Some(time_add(now(), Duration::from_secs(3600)));
    tasks::create(&store, later).await.expect("created");
    for id in &ids {
        wait_ended(&store, id, Duration::from_secs(60)).await;
    }
    fleet.stop().await;

    let (code, out, err) = vayu_cli(
        &host,
        &cfg.database_id,
        &["--json", "stats", "--hours", "1"],
    )
    .await;
    assert_eq!(code, 0, "{err}");
    let v: Value = serde_json::from_str(&out).expect("JSON");
    let s = &v["success"];
    assert_eq!(
        (s["completed"].as_u64(), s["failed"].as_u64()),
        (Some(3), Some(1)),
        "{v}"
    );
    assert_eq!(
        (s["completion_rate"].as_f64(), s["error_rate"].as_f64()),
        (Some(0.75), Some(0.25))
    );
    assert_eq!(s["to_assignment"]["n"], 4);
    assert_eq!(s["to_resolution"]["n"], 4);
    assert!(s["to_resolution"]["p50"].as_f64().is_some_and(|x| x >= 0.0));
    let per_agent: u64 = (s["by_agent"].as_object().expect("a map").values())
        .filter_map(Value::as_u64)
        .sum();
    assert_eq!(per_agent, 4, "every ended task has its agent: {s}");
    assert_eq!(
        (v["queue"]["queued"].as_i64(), v["queue"]["active"].as_i64()),
        (Some(1), Some(0))
    );
    assert!(
        v.get("reviewed").is_some(),
        "the review metrics stay at the top level"
    );

    let (code, text, _) = vayu_cli(&host, &cfg.database_id, &["stats"]).await;
    assert_eq!(code, 0);
    assert!(text.contains("4 ended: 3 completed, 1 failed"), "{text}");
    assert!(
        text.contains("rates       completion 75%, errors 25%"),
        "{text}"
    );
    assert!(text.contains("queue       1 waiting, 0 running"), "{text}");
    let (code, _, _) = vayu_cli(&host, &cfg.database_id, &["stats", "--hours", "0"]).await;
    assert_eq!(code, 2, "a window of 0 hours is bad input");
}
