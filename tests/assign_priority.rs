//! Issue 14, one priority order across the fleet: a critical task created
//! while every agent is busy is claimed at the first free slot, on
//! whichever agent that is, not only by the owner of the lane it landed in
//! (src/agent/queue.rs: every agent also sees the critical tasks of its
//! peers' lanes).

mod common;

use common::fleet::{Fleet, fast_agent, read_task, setup, shell, wait_task};
use std::time::Duration;
use vayu::lifecycle::Status;
use vayu::model::{Priority, TaskType, Time};
use vayu::store::Store;
use vayu::tasks::{self, NewTask};

/// When `t`'s history first says `status`.
fn first(t: &vayu::model::Task, status: Status) -> Option<Time> {
    (t.history.iter())
        .find(|h| h.status == Some(status))
        .and_then(|h| h.at)
}

async fn create(store: &Store, title: &str, priority: Priority) -> String {
    let new = NewTask::new(TaskType::Research, priority, title);
    tasks::create(store, new)
        .await
        .unwrap_or_else(|e| panic!("creating {title}: {e}"))
        .task_id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_critical_task_takes_the_first_free_slot_on_any_agent() {
    let (cfg, store) = setup("assign-priority").await;
    // One slot each; every run holds its slot for 3 s.
    let configs = (1..=3)
        .map(|i| {
            let mut a = fast_agent(&format!("agent-{i}"), shell("sleep 3"));
            a.concurrency = 1;
            a
        })
        .collect();
    let fleet = Fleet::start(&cfg, configs).await;
    // Let the agents see each other and split the lanes.
    tokio::time::sleep(Duration::from_secs(2)).await;
    // A backlog of normal work: at least four tasks in each agent's lanes
    // (a normal task in a peer's lane is that peer's, so an agent whose
    // lanes got none would sit idle and "every agent busy" never hold).
    let live: Vec<String> = (1..=3).map(|i| format!("agent-{i}")).collect();
    let lanes: Vec<Vec<i64>> = (live.iter())
        .map(|a| vayu::lanes::owned(a, &live))
        .collect();
    let mut normal = Vec::new();
    let mut per_agent = [0usize; 3];
    while per_agent.iter().any(|n| *n < 4) {
        assert!(normal.len() < 200, "the lanes never covered: {per_agent:?}");
        let id = create(
            &store,
            &format!("normal {}", normal.len()),
            Priority::Normal,
        )
        .await;
        let lane = vayu::lanes::lane_for(&id);
        for (i, own) in lanes.iter().enumerate() {
            per_agent[i] += usize::from(own.contains(&lane));
        }
        normal.push(id);
    }
    // Every agent busy.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let mut executing = 0;
        for id in &normal {
            executing += usize::from(read_task(&store, id).await.value.status == Status::Executing);
        }
        if executing == 3 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "three runs never started"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let urgent = create(&store, "urgent", Priority::Critical).await;
    let created = read_task(&store, &urgent)
        .await
        .value
        .created_at
        .expect("set");

    let claimed = wait_task(&store, &urgent, Duration::from_secs(60), "claimed", |v| {
        first(&v.value, Status::Assigned).is_some()
    })
    .await;
    let at = first(&claimed.value, Status::Assigned).expect("waited for it");
    // No normal task was claimed after the critical one was created and
    // before it: the first slot to come free took it.
    for id in &normal {
        let t = read_task(&store, id).await.value;
        if let Some(start) = (t.history.iter())
            .filter(|h| h.status == Some(Status::Assigned))
            .filter_map(|h| h.at)
            .find(|s| *s > created)
        {
            assert!(
                start >= at,
                "{} was claimed at {start:?}, before the critical task ({at:?}), by {:?}",
                t.title,
                t.assignment.primary_agent
            );
        }
    }
    fleet.stop().await;
}
