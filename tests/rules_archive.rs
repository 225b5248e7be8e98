//! `firestore.rules` for retention (issue 16): `isArchive`, `isPersonDelete`,
//! `isRetention`, on the real emulator, one case per permission; the
//! agents' archive sweep end to end; and `vayu task archive`, `task
//! delete` and `vayu retention` through the CLI.

mod common;
mod rules_support;

use firestore::gcloud_sdk::google::firestore::v1 as pb;
use rules_support::*;
use vayu::archive::{self, Done, archive_writes};
use vayu::layout::{self, Pile};
use vayu::lifecycle::Status;
use vayu::retention::{DEFAULT_ARCHIVE_AFTER_DAYS, Retention};
use vayu::store::{Precondition, Store, string_value};

/// An ended (completed) task of `requester`'s, seeded as admin.
async fn ended(w: &World, requester: &str) -> String {
    let mut t = new_task(requester);
    t.status = Status::Completed;
    w.seed(&t).await.value.task_id
}

/// The completed pile's document of `id`, as stored.
async fn stored(w: &World, id: &str) -> pb::Document {
    (w.admin.get_doc(&Pile::Completed.doc(id)).await)
        .expect("admin reads")
        .expect("the task is in the completed pile")
}

/// The archive move as `vayu::archive` commits it, with the record
/// changed by `edit` first (a buggy or hostile client).
async fn move_with(
    store: &Store,
    doc: &pb::Document,
    by: &str,
    edit: impl FnOnce(&mut pb::Document),
) -> vayu::Result<pb::CommitResponse> {
    let mut record = archive_writes(store, doc, by);
    if let Some(pb::write::Operation::Update(d)) = record.operation.as_mut() {
        edit(d);
    }
    let unpile = pb::Write {
        operation: Some(pb::write::Operation::Delete(doc.name.clone())),
        current_document: Precondition::UpdatedAt(doc.update_time.unwrap_or_default()).into_pb(),
        ..Default::default()
    };
    store.commit(vec![unpile, record]).await
}

async fn archived(w: &World, id: &str) -> bool {
    archive::find_archived(&w.admin, id)
        .await
        .expect("admin reads")
        .is_some()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requesters_and_admins_archive_and_delete_ended_tasks_and_nobody_else() {
    let w = World::new("rules-archive").await;
    let alice = w.human("alice").await;
    let bob = w.human("bob").await;
    let vera = w.viewer("vera").await;
    let root = w.human_with_role("root", "admin").await;
    let agent = w.agent("agent-1").await;

    let id = ended(&w, "alice").await;
    let doc = stored(&w, &id).await;
    denied(
        "another person archives someone's task",
        move_with(&bob, &doc, "bob", |_| {}),
    )
    .await;
    denied(
        "a viewer archives a task",
        move_with(&vera, &doc, "vera", |_| {}),
    )
    .await;
    denied(
        "an agent archives a task younger than the default 30 days",
        move_with(&agent, &doc, "agent-1", |_| {}),
    )
    .await;
    denied(
        "the record names someone else as the archiver",
        move_with(&alice, &doc, "bob", |_| {}),
    )
    .await;
    denied(
        "the record changes the task's title on the way",
        move_with(&alice, &doc, "alice", |d| {
            d.fields.insert("title".into(), string_value("rewritten"));
        }),
    )
    .await;
    denied(
        "the record carries a field of its own",
        move_with(&alice, &doc, "alice", |d| {
            d.fields.insert("note".into(), string_value("x"));
        }),
    )
    .await;
    let alone = archive_writes(&alice, &doc, "alice");
    denied(
        "a record created while the task stays in the completed pile",
        alice.commit(vec![alone]),
    )
    .await;
    denied(
        "an agent deletes an ended task",
        delete_alone(&agent, &w.read(&id).await),
    )
    .await;
    denied(
        "another person deletes someone's ended task",
        delete_alone(&bob, &w.read(&id).await),
    )
    .await;
    let running = w.running("alice", "agent-1", 30).await;
    denied(
        "a requester deletes a task that has not ended",
        delete_alone(&alice, &running),
    )
    .await;

    let said = allowed(
        "the requester archives her ended task",
        archive::archive(&alice, &id, "alice"),
    )
    .await;
    assert_eq!(said, Done::Archived);
    assert!(
        !w.exists_in(Pile::Completed, &id).await,
        "the pile no longer holds it"
    );
    let record = archive::find_archived(&w.admin, &id).await.expect("reads");
    let record = record.expect("the archive holds it");
    assert_eq!(record.archived_by, "alice");
    assert!(record.archived_at.is_some(), "the server set archived_at");
    assert_eq!(record.task.status, Status::Completed);
    let again = allowed("archiving it again", archive::archive(&alice, &id, "alice")).await;
    assert_eq!(again, Done::AlreadyArchived, "a retry is not an error");

    let rec = layout::archive_doc(&id);
    denied("anyone rewrites an archive record", scribble(&alice, &rec)).await;
    let delete_record = |s: &Store| pb::Write {
        operation: Some(pb::write::Operation::Delete(s.name(&rec))),
        ..Default::default()
    };
    let by_bob = bob.commit(vec![delete_record(&bob)]);
    denied("another person deletes an archive record", by_bob).await;
    let by_agent = agent.commit(vec![delete_record(&agent)]);
    denied("an agent deletes an archive record", by_agent).await;
    allowed(
        "the requester deletes her archived task",
        archive::delete(&alice, &id),
    )
    .await;
    assert!(!archived(&w, &id).await);

    let bobs = ended(&w, "bob").await;
    allowed(
        "an admin archives anyone's task",
        archive::archive(&root, &bobs, "root"),
    )
    .await;
    let bobs2 = ended(&w, "bob").await;
    allowed(
        "the requester deletes his ended task",
        archive::delete(&bob, &bobs2),
    )
    .await;
    assert!(!w.exists_in(Pile::Completed, &bobs2).await);
    w.done("rules_archive people");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agents_archive_only_past_the_configured_age_and_only_admins_set_it() {
    let w = World::new("rules-retention").await;
    let alice = w.human("alice").await;
    let root = w.human_with_role("root", "admin").await;
    let agent = w.agent("agent-1").await;
    let r = |days| Retention {
        archive_after_days: days,
    };

    denied(
        "an operator sets the retention",
        archive::set_retention(&alice, r(1)),
    )
    .await;
    denied(
        "an agent sets the retention",
        archive::set_retention(&agent, r(0)),
    )
    .await;
    let bad = |v: serde_json::Value| {
        let write = raw_write(&root, layout::RETENTION_CONFIG, &v, &[], Precondition::None);
        root.commit(vec![write])
    };
    denied(
        "a negative age",
        bad(serde_json::json!({"archive_after_days": -1})),
    )
    .await;
    denied(
        "an age past ten years",
        bad(serde_json::json!({"archive_after_days": 3651})),
    )
    .await;
    denied(
        "an age that is not a whole number",
        bad(serde_json::json!({"archive_after_days": 1.5})),
    )
    .await;
    denied(
        "another key",
        bad(serde_json::json!({"archive_after_days": 1, "x": 1})),
    )
    .await;

    allowed("an admin sets one day", archive::set_retention(&root, r(1))).await;
    let id = ended(&w, "alice").await;
    let doc = stored(&w, &id).await;
    denied(
        "an agent archives a task younger than the configured day",
        move_with(&agent, &doc, "agent-1", |_| {}),
    )
    .await;
    allowed(
        "an admin sets zero days",
        archive::set_retention(&root, r(0)),
    )
    .await;
    denied(
        "an agent's record names another agent",
        move_with(&agent, &doc, "agent-2", |_| {}),
    )
    .await;
    allowed(
        "an agent archives a task past the age",
        move_with(&agent, &doc, "agent-1", |_| {}),
    )
    .await;
    assert!(archived(&w, &id).await);

    // The failed task's retry (back to the queue) and its archive, in one
    // commit, would leave it in two places.
    let mut t = new_task("alice");
    t.status = Status::Failed;
    let failed = w.seed(&t).await;
    let doc = stored(&w, &failed.value.task_id).await;
    let mut retried = failed.value.clone();
    retried.status = Status::Queued;
    retried.metadata.retry_count = 0;
    retried.record(
        Status::Queued,
        vayu::model::now(),
        None,
        Some("retried".into()),
    );
    denied(
        "a retry and an archive of the same task in one commit",
        raw_replace(
            &alice,
            &failed,
            &retried,
            vec![archive_writes(&alice, &doc, "alice")],
        ),
    )
    .await;
    w.done("rules_archive agents");
}

/// The rules' fallback age is the core's.
#[test]
fn the_rules_default_age_is_the_cores() {
    let rules = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/firestore.rules"))
        .expect("firestore.rules reads");
    let expected = format!("get(path).data.archive_after_days : {DEFAULT_ARCHIVE_AFTER_DAYS};");
    assert!(
        rules.contains(&expected),
        "archiveAfterDays() falls back to {DEFAULT_ARCHIVE_AFTER_DAYS}"
    );
}

/// The agents' sweep, with no leader: two agents, a zero-day retention,
/// and every ended task ends up archived once, whatever the race.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn agents_archive_ended_tasks_past_the_age_and_leave_the_rest() {
    let w = World::new("archive-sweep").await;
    let root = w.human_with_role("root", "admin").await;
    let mut old = Vec::new();
    for _ in 0..12 {
        old.push(ended(&w, "alice").await);
    }
    // A queued task no agent here can run: it stays queued.
    let mut t = new_task("alice");
    t.requires = vec!["a-skill-nobody-has".into()];
    let queued = w.seed(&t).await.value.task_id;
    archive::set_retention(
        &root,
        Retention {
            archive_after_days: 0,
        },
    )
    .await
    .expect("an admin sets the retention");
    let (stop_tx, stop) = tokio::sync::watch::channel(false);
    let mut agents = Vec::new();
    for n in 1..=2 {
        let mut cfg = vayu::agent::AgentConfig::new(
            format!("sweeper-{n}"),
            vayu::agent::Handlers {
                default: Some("cat >/dev/null".into()),
                ..Default::default()
            },
        );
        cfg.heartbeat = std::time::Duration::from_millis(200);
        cfg.archive_every = Some(std::time::Duration::from_millis(300));
        agents.push(start_agent(&w, cfg, &stop).await);
    }
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let mut left = 0;
        for id in &old {
            if !archived(&w, id).await {
                left += 1;
            }
        }
        if left == 0 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{left} of 12 never archived"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    for id in &old {
        assert!(
            !w.exists_in(Pile::Completed, id).await,
            "{id} is in one place"
        );
    }
    assert!(
        w.exists_in(Pile::Queued, &queued).await,
        "a queued task is never archived"
    );
    let _ = stop_tx.send(true);
    for a in agents {
        a.await
            .expect("the agent task joins")
            .expect("the agent stops cleanly");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_archives_deletes_and_sets_the_retention() {
    let w = World::new("archive-cli").await;
    let a = ended(&w, "alice").await;
    let b = ended(&w, "alice").await;
    let queued = w.queued("alice").await.value.task_id;

    let out = w.vayu_as("alice", &["task", "archive", "--id", &a]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = w.vayu(&["--json", "task", "status", "--id", &a]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(v["archived"]["by"], "alice", "{v}");
    let out = w.vayu(&["task", "status", "--id", &a]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains(&format!("archive/{a}")), "{text}");

    let out = w.vayu_as("bob", &["task", "delete", "--id", &b]);
    assert_eq!(
        out.status.code(),
        Some(5),
        "another person's delete is refused"
    );
    let out = w.vayu_as("alice", &["task", "delete", "--id", &queued]);
    assert_eq!(out.status.code(), Some(2), "a queued task is not deleted");
    assert!(
        w.exists_in(Pile::Queued, &queued).await,
        "nothing was written"
    );
    let out = w.vayu(&["task", "archive", "--status", "queued"]);
    assert_eq!(out.status.code(), Some(2), "no queued task can be archived");

    let out = w.vayu(&[
        "--json",
        "task",
        "delete",
        "--requester",
        "alice",
        "--dry-run",
    ]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(
        v["task_ids"],
        serde_json::json!([b]),
        "only the ended task in a pile: {v}"
    );
    assert!(
        w.exists_in(Pile::Completed, &b).await,
        "a dry run deletes nothing"
    );
    let out = w.vayu(&["task", "delete", "--requester", "alice"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!w.exists_in(Pile::Completed, &b).await);
    let out = w.vayu(&["task", "delete", "--id", &a]);
    assert!(out.status.success(), "an archived task is deleted too");
    assert!(!archived(&w, &a).await);

    // A create's key still names its task once the task is archived.
    let create = || {
        w.vayu_as(
            "alice",
            &["--json", "task", "create", "--key", "k-1", "keyed"],
        )
    };
    let made: serde_json::Value = serde_json::from_slice(&create().stdout).expect("JSON");
    let keyed = made["task_id"].as_str().expect("an id").to_string();
    assert!(
        w.vayu_as("alice", &["task", "cancel", "--id", &keyed])
            .status
            .success()
    );
    assert!(
        w.vayu_as("alice", &["task", "archive", "--id", &keyed])
            .status
            .success()
    );
    let again = create();
    assert!(
        again.status.success(),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );
    let again: serde_json::Value = serde_json::from_slice(&again.stdout).expect("JSON");
    assert_eq!(
        again["task_id"],
        keyed.as_str(),
        "the same task, not a new one"
    );
    assert!(
        !w.exists_in(Pile::Queued, &keyed).await,
        "nothing was created"
    );

    // A task still blocked on an ended one (its end not yet recorded)
    // would wait for ever if the ended one left the pile.
    let dep = ended(&w, "alice").await;
    let mut blocked = new_task("bob");
    blocked.status = Status::Blocked;
    blocked.dependencies.blocked_by = vec![dep.clone()];
    let blocked = w.seed(&blocked).await.value.task_id;
    let waiters = serde_json::json!({"dependents": [blocked]});
    let write = raw_write(
        &w.admin,
        &format!("waiters/{dep}"),
        &waiters,
        &[],
        Precondition::None,
    );
    w.admin.commit(vec![write]).await.expect("admin writes");
    for verb in ["archive", "delete"] {
        let out = w.vayu_as("alice", &["task", verb, "--id", &dep]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(4), "{verb}: {err}");
        assert!(
            err.contains(&blocked),
            "{verb} names the waiting task: {err}"
        );
    }
    assert!(w.exists_in(Pile::Completed, &dep).await, "nothing moved");

    let out = w.vayu(&["--json", "retention"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(v["archive_after_days"], DEFAULT_ARCHIVE_AFTER_DAYS);
    let out = w.vayu(&["retention", "--archive-after-days", "7"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = w.vayu(&["--json", "retention"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(v["archive_after_days"], 7);
    let out = w.vayu(&["retention", "--archive-after-days", "-3"]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "clap refuses an age out of range"
    );
    let out = w.vayu_as("alice", &["retention", "--archive-after-days", "1"]);
    assert_eq!(out.status.code(), Some(5), "an operator may not set it");
}
