//! Contention: many agents claim one task at the same moment. In a test
//! binary of its own, so that no other test loads the machine while the
//! race is timed.
//!
//! Lanes (src/lanes.rs) give each queued task one listening agent, so in a
//! steady fleet nobody races. Races still happen while agents' views of
//! the peer set differ (an agent joining or dying) and when more than 15
//! agents share lanes, so the claim itself must let exactly one win and
//! the others give up fast. The race here uses the agent's own claim
//! ([`vayu::agent::claim`]), each racer on its own connection.

mod common;

use common::fleet::{busy_agent, read_task, recording_handler, setup};
use std::time::Instant;
use vayu::Error;
use vayu::layout::Pile;
use vayu::model::{Priority, TaskType};
use vayu::store::Store;
use vayu::tasks::{self, NewTask};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eight_agents_claim_one_task_at_once_and_exactly_one_wins() {
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
    let dir = tempfile::tempdir().expect("tempdir");
    // Three rounds, each a fresh database and task, so the median is over
    // 21 lost claims rather than 7.
    let mut losers: Vec<f64> = Vec::new();
    for round in 0..3 {
        let (cfg, store) = setup(&format!("contention-{round}")).await;
        let t = tasks::create(
            &store,
            NewTask::new(TaskType::Research, Priority::High, "only one"),
        )
        .await
        .expect("create");
        let seen = read_task(&store, &t.task_id).await;
        let mut racers = Vec::new();
        for i in 1..=8 {
            let store = Store::connect(&cfg).await.expect("connect");
            // One warm request per connection, so the race is not a race
            // of connection set-ups.
            store
                .list_pile(Pile::Active, None, Some(1))
                .await
                .expect("the database answers");
            racers.push((
                store,
                busy_agent(&format!("racer-{i}"), recording_handler(dir.path())),
            ));
        }
        let go = std::sync::Arc::new(tokio::sync::Barrier::new(racers.len()));
        let mut set = tokio::task::JoinSet::new();
        for (store, cfg) in racers {
            let (go, seen) = (go.clone(), seen.clone());
            set.spawn(async move {
                go.wait().await;
                let started = Instant::now();
                let r = vayu::agent::claim(&store, &cfg, &seen).await;
                (cfg.agent_id, r, started.elapsed())
            });
        }
        let mut winners = Vec::new();
        while let Some(j) = set.join_next().await {
            let (id, r, took) = j.expect("a racer panicked");
            match r {
                Ok(v) => winners.push((id, v)),
                // Refused as a lost race: a failed precondition, or (under
                // the rules) a denial.
                Err(Error::Conflict(_) | Error::PermissionDenied(_) | Error::NotFound(_)) => {
                    losers.push(took.as_secs_f64() * 1000.0)
                }
                Err(e) => panic!("round {round}: {id} failed for another reason: {e}"),
            }
        }
        assert_eq!(
            winners.len(),
            1,
            "round {round}: exactly one racer claims the task"
        );
        let (winner, claimed) = &winners[0];
        assert_eq!(claimed.value.lease.epoch, 1);
        let now = read_task(&store, &t.task_id).await;
        assert_eq!(now.pile, Pile::Active, "round {round}: the task moved once");
        assert_eq!(
            now.value.lease.owner.as_deref(),
            Some(winner.as_str()),
            "round {round}: the stored lease names the winner"
        );
    }
    losers.sort_by(|a, b| a.total_cmp(b));
    println!("losers' time to give up (ms): {losers:.1?}");
    assert_eq!(losers.len(), 21, "seven losers a round");
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
