//! Contention: many agents race for one task. In a test binary of its own,
//! so that no other test loads the machine while the race is timed.

mod common;

use common::fleet::{Fleet, busy_agent, recording_handler, runs, setup, wait_until_completed};
use std::time::Duration;
use vayu::model::{Priority, TaskType};
use vayu::tasks::{self, NewTask};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eight_agents_race_for_one_task_and_exactly_one_wins() {
    // The emulator is a JVM: its first commits run ~5x slower than warm
    // ones. Warm it up in another database so the race measures the
    // steady state, not the JIT.
    let (_, scratch) = setup("warmup").await;
    for i in 0..100 {
        tasks::create(
            &scratch,
            NewTask::new(TaskType::Research, Priority::Low, format!("warm {i}")),
        )
        .await
        .expect("create");
    }
    // Three rounds, each a fresh database, a fresh task and eight fresh
    // agents, so the median is over ~20 lost claims rather than 7.
    let mut reports = Vec::new();
    for round in 0..3 {
        let (cfg, store) = setup(&format!("contention-{round}")).await;
        let dir = tempfile::tempdir().expect("tempdir");
        let t = tasks::create(
            &store,
            NewTask::new(TaskType::Research, Priority::High, "only one"),
        )
        .await
        .expect("create");
        // All eight see the task in their listener's first snapshot and go
        // for it at once.
        let fleet = Fleet::start(
            &cfg,
            (1..=8)
                .map(|i| busy_agent(&format!("racer-{i}"), recording_handler(dir.path())))
                .collect(),
        )
        .await;
        let done = wait_until_completed(&store, 1, Duration::from_secs(30)).await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        let round_reports = fleet.stop().await;

        assert_eq!(done, 1);
        let winners: Vec<_> = round_reports.iter().filter(|r| r.claimed > 0).collect();
        assert_eq!(
            winners.len(),
            1,
            "round {round}: exactly one agent claims the task"
        );
        assert_eq!(winners[0].claimed, 1);
        assert_eq!(
            runs(dir.path()),
            vec![t.task_id.clone()],
            "round {round}: the handler ran once"
        );
        reports.extend(round_reports);
    }
    let mut losers: Vec<f64> = reports
        .iter()
        .flat_map(|r| r.conflict_ms.iter().copied())
        .collect();
    losers.sort_by(|a, b| a.total_cmp(b));
    println!("losers' time to give up (ms): {losers:.1?}");
    assert!(!losers.is_empty(), "at least one agent lost a race");
    let median = losers[losers.len() / 2];
    println!(
        "median time to give up: {median:.1} ms over {} lost claims",
        losers.len()
    );
    assert!(
        median < 100.0,
        "losers took {median:.1} ms (median) to give up"
    );
}
