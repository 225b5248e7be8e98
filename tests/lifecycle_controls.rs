//! People's controls over running work, on the real Firestore emulator:
//! cancel, pause and resume from the last checkpoint; and malformed
//! documents, which are quarantined instead of crashing or blocking agents.

mod common;

use common::fleet::{
    Fleet, describe, fast_agent, field_str, get_raw, int_value, lines, map_value, pids, put_raw,
    read_task, research_task, setup, shell, string_value, wait_completed, wait_file, wait_task,
};
use common::procs::{vayu_cli, wait_dead};
use std::collections::HashMap;
use std::time::Duration;
use tokio::time::Instant;
use vayu::layout::{self, Pile};
use vayu::lifecycle::Status;
use vayu::tasks::{self, ControlResult};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_stops_a_running_handler_within_about_a_heartbeat() {
    let (cfg, store) = setup("cancel").await;
    let dir = tempfile::tempdir().expect("the system temp dir is writable");
    let pid_file = dir.path().join("pid");
    let handler = format!("echo $$ > {}; sleep 60", pid_file.display());
    let agent = fast_agent("obedient", shell(&handler));
    let heartbeat = agent.heartbeat;
    let fleet = Fleet::start(&cfg, vec![agent]).await;
    let t = tasks::create(&store, research_task("to be cancelled"))
        .await
        .expect("the emulator accepts a new task");
    wait_file(&pid_file, Duration::from_secs(20)).await;
    let pid = pids(&pid_file)[0];
    wait_task(
        &store,
        &t.task_id,
        Duration::from_secs(10),
        "executing",
        |v| v.value.status == Status::Executing,
    )
    .await;

    let t0 = Instant::now();
    let r = tasks::cancel(&store, &t.task_id)
        .await
        .expect("cancelling a running task is accepted");
    assert_eq!(
        r,
        ControlResult::Requested(vayu::model::ControlRequest::Cancel),
        "a running task's cancel is a request to its agent"
    );
    let stopped = wait_dead(pid, Duration::from_secs(10)).await;
    println!(
        "cancel -> handler stopped: {:?} ms (heartbeat {} ms)",
        stopped.map(|_| t0.elapsed().as_millis()),
        heartbeat.as_millis()
    );
    assert!(
        stopped.is_some(),
        "the handler still runs 10 s after the cancel"
    );
    let done = wait_task(
        &store,
        &t.task_id,
        Duration::from_secs(10),
        "cancelled",
        |v| v.value.status.is_terminal(),
    )
    .await;
    println!("{}", describe(&done));
    assert!(fleet.all_running());
    fleet.stop().await;
    assert_eq!(done.value.status, Status::Cancelled);
    assert_eq!(done.pile, Pile::Completed);
    assert_eq!(
        done.value.control, None,
        "the request is cleared once obeyed"
    );
    assert_eq!(done.value.lease.owner, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pause_stops_the_handler_and_resume_restarts_from_the_last_checkpoint() {
    let (cfg, store) = setup("pause").await;
    let host = cfg
        .emulator_host
        .clone()
        .expect("setup() configures the emulator");
    let dir = tempfile::tempdir().expect("the system temp dir is writable");
    let d = dir.path().display();
    // A fresh run counts checkpoints up slowly; a resumed run records where
    // it resumed from, writes one more checkpoint and finishes.
    let handler = format!(
        "echo \"$VAYU_ATTEMPT ${{VAYU_CHECKPOINT:-none}}\" >> {d}/starts; echo $$ >> {d}/pids; \
         if [ -n \"$VAYU_CHECKPOINT\" ]; then \
           n=${{VAYU_CHECKPOINT#step-}}; echo \"vayu:checkpoint step-$((n + 1))\"; \
           echo \"vayu:result resumed from $VAYU_CHECKPOINT\"; exit 0; \
         fi; \
         i=0; while [ $i -lt 600 ]; do i=$((i + 1)); echo \"vayu:checkpoint step-$i\"; sleep 0.2; done"
    );
    let fleet = Fleet::start(&cfg, vec![fast_agent("pausable", shell(&handler))]).await;
    let t = tasks::create(&store, research_task("long and resumable"))
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

    let first_pid = pids(&dir.path().join("pids"))[0];
    let t0 = Instant::now();
    let (code, out, err) = vayu_cli(
        &host,
        &cfg.database_id,
        &["--json", "task", "pause", "--id", &t.task_id],
    )
    .await;
    let cli_ms = t0.elapsed().as_millis();
    assert_eq!(code, 0, "vayu task pause: {out}{err}");
    println!("pause: {out}");
    // The CLI returns once the agent obeyed, so a resume right after works.
    let right_after = read_task(&store, &t.task_id).await;
    assert_eq!(
        right_after.value.status,
        Status::Paused,
        "{}",
        describe(&right_after)
    );
    assert!(out.contains("\"status\": \"paused\""), "{out}");
    let stopped = wait_dead(first_pid, Duration::from_secs(10)).await;
    let stopped_ms = t0.elapsed().as_millis();
    let paused = wait_task(&store, &t.task_id, Duration::from_secs(10), "paused", |v| {
        v.value.status == Status::Paused
    })
    .await;
    println!(
        "vayu task pause (CLI process) took {cli_ms} ms; handler stopped {stopped_ms} ms and \
         task paused {} ms after the CLI started (heartbeat 500 ms)\n{}",
        t0.elapsed().as_millis(),
        describe(&paused)
    );
    assert!(stopped.is_some(), "the paused task's handler was stopped");
    assert_eq!(
        paused.pile,
        Pile::Queued,
        "a paused task waits in the queued pile"
    );
    assert_eq!(paused.value.lease.owner, None);
    let last = paused
        .value
        .last_checkpoint()
        .map(|c| c.data.clone())
        .expect("the paused task keeps its checkpoints");
    assert!(last.starts_with("step-"), "{last}");

    // Paused means paused: nobody claims it.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let still = read_task(&store, &t.task_id).await;
    assert_eq!(still.value.status, Status::Paused, "{}", describe(&still));
    assert_eq!(lines(&dir.path().join("starts")).len(), 1);

    let (code, out, err) = vayu_cli(
        &host,
        &cfg.database_id,
        &["--json", "task", "resume", "--id", &t.task_id],
    )
    .await;
    assert_eq!(code, 0, "vayu task resume: {out}{err}");
    let done = wait_task(
        &store,
        &t.task_id,
        Duration::from_secs(20),
        "completed",
        |v| v.value.status.is_terminal(),
    )
    .await;
    fleet.stop().await;
    println!("{}", describe(&done));
    let starts = lines(&dir.path().join("starts"));
    println!("handler starts (attempt, VAYU_CHECKPOINT): {starts:?}");
    assert_eq!(done.value.status, Status::Completed);
    assert_eq!(starts.len(), 2, "one run before the pause, one after");
    assert!(starts[0].ends_with(" none"), "the first run starts fresh");
    assert!(
        starts[1].ends_with(&format!(" {last}")),
        "the resumed run got the last checkpoint {last}: {starts:?}"
    );
    assert_eq!(
        done.value.execution.result,
        Some(format!("resumed from {last}"))
    );
    let n: u32 = last["step-".len()..]
        .parse()
        .expect("checkpoints are step-N by the handler above");
    assert_eq!(
        done.value.last_checkpoint().map(|c| c.data.as_str()),
        Some(format!("step-{}", n + 1).as_str())
    );
}

/// As if typed into the console: fields of the wrong type, or values out
/// of range. With `ordered`, the document also has the fields agents order
/// the queue by (`priority_rank`, `created_at`), as a document copied from
/// a real task and then mangled would. Always with a `lane` (src/lanes.rs):
/// agents listen to their lanes only, so a document without one is seen
/// by none (the README says to give one).
fn malformed_fields(
    id: &str,
    kind: &str,
    ordered: bool,
) -> HashMap<String, firestore::gcloud_sdk::google::firestore::v1::Value> {
    let mut f = HashMap::new();
    f.insert("task_id".to_string(), string_value(id));
    f.insert("title".to_string(), string_value("typed by hand"));
    f.insert("lane".to_string(), int_value(3));
    if ordered {
        f.insert("priority_rank".to_string(), int_value(2));
        f.insert(
            "created_at".to_string(),
            firestore::gcloud_sdk::google::firestore::v1::Value {
                value_type: Some(
                    firestore::gcloud_sdk::google::firestore::v1::value::ValueType::TimestampValue(
                        vayu::store::pb_time(vayu::model::now()),
                    ),
                ),
            },
        );
    }
    match kind {
        "wrong-types" => {
            f.insert("status".to_string(), string_value("queued"));
            f.insert("priority".to_string(), int_value(7));
            f.insert(
                "execution".to_string(),
                map_value([("progress".to_string(), string_value("lots"))].into()),
            );
        }
        "out-of-range" => {
            f.insert("status".to_string(), string_value("queued"));
            f.insert(
                "execution".to_string(),
                map_value([("progress".to_string(), int_value(250))].into()),
            );
        }
        "unknown-status" => {
            f.insert("status".to_string(), string_value("Queued"));
        }
        _ => unreachable!("a kind this file defines"),
    }
    f
}

async fn quarantine_case(prefix: &str, kinds: &[(&str, bool)]) {
    let (cfg, store) = setup(prefix).await;
    let dir = tempfile::tempdir().expect("the system temp dir is writable");
    let runs = dir.path().join("runs");
    let handler = format!("echo \"$VAYU_TASK_ID\" >> {}", runs.display());
    let fleet = Fleet::start(
        &cfg,
        vec![
            fast_agent("sturdy-1", shell(&handler)),
            fast_agent("sturdy-2", shell(&handler)),
        ],
    )
    .await;
    let mut bad = Vec::new();
    for (kind, ordered) in kinds {
        let id = uuid::Uuid::new_v4().to_string();
        put_raw(
            &store,
            &Pile::Queued.doc(&id),
            malformed_fields(&id, kind, *ordered),
        )
        .await;
        bad.push((kind, id));
    }
    let good = tasks::create(&store, research_task("after the bad ones"))
        .await
        .expect("the emulator accepts a new task");

    let deadline = Instant::now() + Duration::from_secs(20);
    for (kind, id) in &bad {
        let q = loop {
            if let Some(q) = get_raw(&store, &layout::quarantine_doc(id)).await {
                break q;
            }
            assert!(
                Instant::now() < deadline,
                "the {kind} document {id} was not quarantined within 20 s; \
                 still in the queued pile: {}",
                get_raw(&store, &Pile::Queued.doc(id)).await.is_some()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        let reason = field_str(&q, "reason").unwrap_or_default();
        println!("{kind}: quarantined with reason {reason:?}");
        assert!(!reason.is_empty(), "the quarantine says why");
        assert!(
            q.fields.contains_key("document"),
            "the original fields are kept: {:?}",
            q.fields.keys().collect::<Vec<_>>()
        );
        assert!(
            get_raw(&store, &Pile::Queued.doc(id)).await.is_none(),
            "the {kind} document left the queue"
        );
    }
    let done = wait_completed(&store, &good.task_id, Duration::from_secs(20)).await;
    assert_eq!(done.pile, Pile::Completed);
    assert!(
        fleet.all_running(),
        "no agent stopped over a malformed document"
    );
    fleet.stop().await;
    assert_eq!(
        lines(&runs),
        vec![good.task_id.clone()],
        "only the good task ran"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quarantine_malformed_documents_leave_the_queue_with_a_reason() {
    quarantine_case(
        "quarantine",
        &[("wrong-types", true), ("out-of-range", true)],
    )
    .await;
}

/// Typed from scratch in the console (with a lane), so without
/// `priority_rank` and `created_at`, and with a field of the wrong type: it
/// does not parse, so it must be quarantined, not left in the queued pile
/// unseen.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quarantine_a_hand_typed_document_without_ordering_fields_is_quarantined_too() {
    quarantine_case("quarantine-unordered", &[("wrong-types", false)]).await;
}

/// A status a person mistyped ("Queued") does not parse either; it must not
/// sit in the queued pile forever, unseen.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quarantine_a_document_with_an_unknown_status_is_quarantined_too() {
    quarantine_case("quarantine-status", &[("unknown-status", true)]).await;
}
