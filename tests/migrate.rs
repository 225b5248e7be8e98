//! `vayu task migrate` (issue 16) on the real emulator: a running task
//! moves to another agent and resumes there from its last checkpoint,
//! with no retry spent; what cannot migrate is refused with nothing
//! written. The rules' cases are in `tests/rules_migrate.rs`.

mod common;

use common::fleet::{
    Fleet, describe, fast_agent, lines, pids, read_task, setup, shell, wait_completed, wait_task,
};
use common::procs::{vayu_cli, wait_dead};
use std::time::Duration;
use vayu::lifecycle::Status;
use vayu::model::{Priority, TaskType};
use vayu::tasks::{self, NewTask};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_running_task_moves_to_the_named_agent_and_resumes_from_its_checkpoint() {
    let (cfg, store) = setup("migrate").await;
    let host = cfg
        .emulator_host
        .clone()
        .expect("setup() configures the emulator");
    let db = cfg.database_id.clone();
    let dir = tempfile::tempdir().expect("the system temp dir is writable");
    let d = dir.path().display();
    // As in the pause test: a fresh run checkpoints slowly forever; a
    // resumed one says where it resumed from and finishes.
    let handler = format!(
        "echo \"${{VAYU_CHECKPOINT:-none}}\" >> {d}/starts; echo $$ >> {d}/pids; \
         if [ -n \"$VAYU_CHECKPOINT\" ]; then \
           echo \"vayu:result resumed from $VAYU_CHECKPOINT\"; exit 0; \
         fi; \
         i=0; while [ $i -lt 600 ]; do i=$((i + 1)); echo \"vayu:checkpoint step-$i\"; sleep 0.2; done"
    );
    let first = Fleet::start(&cfg, vec![fast_agent("holder-a", shell(&handler))]).await;
    let t = tasks::create(
        &store,
        NewTask::new(TaskType::Research, Priority::Normal, "moving"),
    )
    .await
    .expect("the emulator accepts a new task");
    wait_task(
        &store,
        &t.task_id,
        Duration::from_secs(20),
        "checkpointed",
        |v| v.value.status == Status::Executing && v.value.execution.checkpoints.len() >= 3,
    )
    .await;
    let second = Fleet::start(&cfg, vec![fast_agent("target-b", shell(&handler))]).await;
    common::fleet::wait_agents_online(&store, &["target-b"], Duration::from_secs(20)).await;

    let (code, out, err) = vayu_cli(
        &host,
        &db,
        &["task", "migrate", &t.task_id, "--to", "holder-a"],
    )
    .await;
    assert_eq!(code, 2, "to the agent running it already: {out}{err}");
    let (code, out, err) = vayu_cli(
        &host,
        &db,
        &["task", "migrate", &t.task_id, "--to", "nobody"],
    )
    .await;
    assert_eq!(code, 3, "to an unknown agent: {out}{err}");
    let unchanged = read_task(&store, &t.task_id).await;
    assert_eq!(unchanged.value.control, None, "refusals wrote nothing");

    let first_pid = pids(&dir.path().join("pids"))[0];
    let (code, out, err) = vayu_cli(
        &host,
        &db,
        &[
            "--json", "task", "migrate", &t.task_id, "--to", "target-b", "--wait",
        ],
    )
    .await;
    assert_eq!(code, 0, "vayu task migrate: {out}{err}");
    assert!(out.contains("running_on"), "{out}");
    assert!(
        wait_dead(first_pid, Duration::from_secs(10))
            .await
            .is_some(),
        "the first run was stopped"
    );

    let done = wait_completed(&store, &t.task_id, Duration::from_secs(30)).await;
    println!("{}", describe(&done));
    let result = done.value.execution.result.clone().unwrap_or_default();
    let resumed_at: u32 = result
        .strip_prefix("resumed from step-")
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("the second run resumed from a checkpoint: {result:?}"));
    assert!(
        resumed_at >= 3,
        "from the last checkpoint the first run made: {resumed_at}"
    );
    assert_eq!(
        done.value.assignment.executors,
        vec!["holder-a".to_string(), "target-b".to_string()]
    );
    assert_eq!(
        done.value.metadata.retry_count, 0,
        "a migration is no failed attempt"
    );
    assert_eq!(
        lines(&dir.path().join("starts")).len(),
        2,
        "one run on each agent"
    );

    let (code, out, err) = vayu_cli(
        &host,
        &db,
        &["task", "migrate", &t.task_id, "--to", "holder-a"],
    )
    .await;
    assert_eq!(code, 4, "a completed task does not migrate: {out}{err}");
    let reports: Vec<_> = first
        .stop()
        .await
        .into_iter()
        .chain(second.stop().await)
        .collect();
    assert_eq!(
        reports[0].outcomes.get("migrated"),
        Some(&1),
        "holder-a handed it over"
    );
    assert_eq!(
        reports[1].outcomes.get("completed"),
        Some(&1),
        "target-b finished it"
    );
}
