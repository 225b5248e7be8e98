//! `firestore.rules` on the real emulator, part 3: what people may do to
//! tasks (cancel, pause, resume, retry, control requests, reviews), the
//! agents collection, and quarantine. See `tests/rules.rs` for how cases
//! are counted.

mod common;
mod rules_support;

use firestore::gcloud_sdk::google::firestore::v1 as pb;
use rules_support::*;
use vayu::layout::{self, Pile};
use vayu::lifecycle::Status;
use vayu::model::{AgentDoc, AgentState, Lease, ReviewStatus, now};
use vayu::store::Precondition;
use vayu::tasks::{self, ControlResult};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_requester_or_an_admin_person_controls_a_task_and_nobody_else() {
    let w = World::new("rules-control").await;
    let alice = w.human("alice").await;
    let bob = w.human("bob").await;
    let root = w.human_with_role("root", "admin").await;
    let agent = w.agent("agent-1").await;

    let q = w.queued("alice").await;
    let id = q.value.task_id.clone();
    denied(
        "another person cancels someone's task",
        tasks::cancel(&bob, &id),
    )
    .await;
    denied(
        "an agent that did not request it cancels a task",
        tasks::cancel(&agent, &id),
    )
    .await;
    denied(
        "another person pauses someone's task",
        tasks::pause(&bob, &id),
    )
    .await;
    let r = allowed(
        "the requester pauses their queued task",
        tasks::pause(&alice, &id),
    )
    .await;
    assert_eq!(r, ControlResult::Moved(Status::Paused));
    denied(
        "another person resumes someone's task",
        tasks::resume(&bob, &id),
    )
    .await;
    allowed(
        "the requester resumes their paused task",
        tasks::resume(&alice, &id),
    )
    .await;
    let r = allowed(
        "the requester cancels their own task",
        tasks::cancel(&alice, &id),
    )
    .await;
    assert_eq!(r, ControlResult::Moved(Status::Cancelled));
    assert!(w.exists_in(Pile::Completed, &id).await);

    let q = w.queued("alice").await;
    allowed(
        "an admin person cancels anyone's task",
        tasks::cancel(&root, &q.value.task_id),
    )
    .await;

    // A running task: the person asks; the holder obeys.
    let run = w.running("alice", "agent-1", 30).await;
    let rid = run.value.task_id.clone();
    denied(
        "another person asks a running task to cancel",
        tasks::cancel(&bob, &rid),
    )
    .await;
    let r = allowed(
        "the requester asks a running task to cancel",
        tasks::cancel(&alice, &rid),
    )
    .await;
    assert_eq!(
        r,
        ControlResult::Requested(vayu::model::ControlRequest::Cancel)
    );
    let asked = w.read(&rid).await;
    let mut sneaky = asked.value.clone();
    sneaky.control = Some(vayu::model::ControlRequest::Pause);
    sneaky.priority = vayu::model::Priority::Critical;
    sneaky.priority_rank = 0;
    denied(
        "a control request that also changes the priority",
        alice.replace_task(&asked, &sneaky, &[], vec![]),
    )
    .await;
    let mut direct = asked.value.clone();
    direct.status = Status::Cancelled;
    direct.control = None;
    direct.lease = Lease {
        owner: None,
        expires_at: None,
        epoch: 1,
    };
    denied(
        "the requester moves a task whose lease is live",
        alice.replace_task(&asked, &direct, &[Status::Cancelled], vec![]),
    )
    .await;
    let mut done = asked.value.clone();
    done.status = Status::Completed;
    done.lease.expires_at = None;
    denied(
        "a person completes a running task",
        alice.replace_task(&asked, &done, &[Status::Completed], vec![]),
    )
    .await;

    // A dead agent's task: the person moves it at once.
    let dead = w.running("alice", "agent-1", -5).await;
    let r = allowed(
        "the requester cancels a task whose lease expired",
        tasks::cancel(&alice, &dead.value.task_id),
    )
    .await;
    assert_eq!(r, ControlResult::Moved(Status::Cancelled));

    // Retry a dead letter.
    let mut failed = new_task("alice");
    failed.status = Status::Failed;
    failed.metadata.retry_count = 4;
    let failed = w.seed(&failed).await;
    denied(
        "another person retries someone's failed task",
        tasks::retry(&bob, &failed.value.task_id),
    )
    .await;
    allowed(
        "the requester retries their failed task",
        tasks::retry(&alice, &failed.value.task_id),
    )
    .await;
    assert_eq!(
        w.read(&failed.value.task_id)
            .await
            .value
            .metadata
            .retry_count,
        0
    );
    let mut c = new_task("alice");
    c.status = Status::Cancelled;
    let c = w.seed(&c).await;
    let mut back = c.value.clone();
    back.status = Status::Queued;
    denied(
        "a skipped state: a cancelled task back to queued",
        raw_replace(&alice, &c, &back, vec![]),
    )
    .await;
    w.done("control");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn review_decisions_are_made_by_a_reviewer_who_did_not_do_the_work() {
    use vayu::model::Task;
    use vayu::review::{ReviewKind, Verdict, VerdictRecord};
    let w = World::new("rules-review").await;
    // Done by agent-1, waiting for a person's review, held by nobody.
    let in_review = |t: &mut Task| {
        t.status = Status::Reviewing;
        t.lease.owner = None;
        t.lease.expires_at = None;
        t.review.policy = Some("user".into());
        t.review.status = Some(ReviewStatus::Pending);
    };
    let mut t = claimed_by(&new_task("alice"), "agent-1", 1);
    in_review(&mut t);
    let seen = w.seed(&t).await;

    let decide = |passed: bool, by: &str| {
        let mut d = seen.value.clone();
        d.status = if passed {
            Status::Completed
        } else {
            Status::Rejected
        };
        d.review.reviewer = Some(by.into());
        d.review.status = Some(if passed {
            ReviewStatus::Passed
        } else {
            ReviewStatus::Failed
        });
        d.review.feedback = Some("looks right".into());
        d.review.quality_score = Some(0.9);
        if !passed {
            // The next round, for another agent than agent-1.
            d.review.round = 1;
            d.review.avoid = Some("agent-1".into());
        }
        d.record(d.status, now(), None, Some(format!("review by {by}")));
        d
    };
    let verdict = |store: &vayu::store::Store, task: &Task, by: &str, passed: bool| {
        let v = VerdictRecord {
            task_id: task.task_id.clone(),
            kind: ReviewKind::User,
            reviewer: by.into(),
            verdict: if passed {
                Verdict::Approve
            } else {
                Verdict::Reject
            },
            scores: Default::default(),
            comment: String::new(),
            round: 0,
            at: None,
        };
        vec![store.verdict_write(&v).expect("a verdict encodes")]
    };
    let alice = w.human("alice").await;
    denied(
        "a person without the reviewer role passes a review",
        alice.replace_task(
            &seen,
            &decide(true, "alice"),
            &[Status::Completed],
            verdict(&alice, &seen.value, "alice", true),
        ),
    )
    .await;
    let worker = w
        .user("agent-1", &{
            let mut c = vayu::identity::agent_claims();
            c.insert("role".into(), "reviewer".into());
            c
        })
        .await;
    denied(
        "the agent that did the work reviews it",
        worker.replace_task(
            &seen,
            &decide(true, "agent-1"),
            &[Status::Completed],
            verdict(&worker, &seen.value, "agent-1", true),
        ),
    )
    .await;
    let rita = w.human_with_role("rita", "reviewer").await;
    denied(
        "a reviewer signs the review as someone else",
        rita.replace_task(
            &seen,
            &decide(true, "bob"),
            &[Status::Completed],
            verdict(&rita, &seen.value, "bob", true),
        ),
    )
    .await;
    let mut wrong = decide(true, "rita");
    wrong.review.status = Some(ReviewStatus::Failed);
    denied(
        "a review that passes the task but says failed",
        rita.replace_task(
            &seen,
            &wrong,
            &[Status::Completed],
            verdict(&rita, &seen.value, "rita", true),
        ),
    )
    .await;
    denied(
        "a reviewer passes the task with a rejecting verdict",
        rita.replace_task(
            &seen,
            &decide(true, "rita"),
            &[Status::Completed],
            verdict(&rita, &seen.value, "rita", false),
        ),
    )
    .await;
    allowed(
        "a reviewer rejects the work (back to the queue)",
        rita.replace_task(
            &seen,
            &decide(false, "rita"),
            &[Status::Rejected],
            verdict(&rita, &seen.value, "rita", false),
        ),
    )
    .await;
    assert!(w.exists_in(Pile::Queued, &seen.value.task_id).await);
    let mut t2 = claimed_by(&new_task("alice"), "agent-1", 1);
    in_review(&mut t2);
    let seen2 = w.seed(&t2).await;
    let mut pass = seen2.value.clone();
    pass.status = Status::Completed;
    pass.review.reviewer = Some("root".into());
    pass.review.status = Some(ReviewStatus::Passed);
    let root = w.human_with_role("root", "admin").await;
    allowed(
        "an admin person passes a review",
        root.replace_task(
            &seen2,
            &pass,
            &[Status::Completed],
            verdict(&root, &seen2.value, "root", true),
        ),
    )
    .await;
    w.done("review");
}

fn agent_doc(id: &str) -> AgentDoc {
    AgentDoc {
        agent_id: id.into(),
        status: Some(AgentState::Online),
        capabilities: vec!["gpu".into()],
        handles: vec!["*".into()],
        concurrency: 4,
        started_at: Some(now()),
        incarnation: uuid::Uuid::new_v4().to_string(),
        hostname: "test".into(),
        version: "0.1.0".into(),
        heartbeat_ms: 1000,
        ..AgentDoc::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_writes_only_its_own_document_and_marks_only_silent_peers_offline() {
    let w = World::new("rules-agents").await;
    let a1 = w.agent("agent-1").await;
    let a2 = w.agent("agent-2").await;
    let alice = w.human("alice").await;

    allowed(
        "an agent registers itself",
        a1.put_agent(&agent_doc("agent-1")),
    )
    .await;
    allowed(
        "an agent heartbeats its document",
        a1.put_agent(&agent_doc("agent-1")),
    )
    .await;
    denied(
        "an agent writes another agent's document",
        a1.put_agent(&agent_doc("agent-2")),
    )
    .await;
    denied(
        "a person writes an agent document",
        alice.put_agent(&agent_doc("alice")),
    )
    .await;
    let mut doc = agent_doc("agent-1");
    doc.concurrency = 100_000;
    denied(
        "an agent document with an out-of-range concurrency",
        a1.put_agent(&doc),
    )
    .await;
    let mut doc = agent_doc("agent-1");
    doc.current_tasks = (0..300).map(|i| format!("t{i}")).collect();
    denied(
        "an agent document with too many current tasks",
        a1.put_agent(&doc),
    )
    .await;
    // Learned skills (src/agent/skills.rs): capability names, at most 20,
    // each also among the agent's capabilities.
    let with_skills = |skills: Vec<String>, also_capabilities: bool| {
        let mut doc = agent_doc("agent-1");
        if also_capabilities {
            doc.capabilities.extend(skills.iter().cloned());
        }
        doc.skills = skills;
        doc
    };
    allowed(
        "an agent lists a skill it learned",
        a1.put_agent(&with_skills(vec!["rust".into()], true)),
    )
    .await;
    denied(
        "a skill the agent does not advertise",
        a1.put_agent(&with_skills(vec!["rust".into()], false)),
    )
    .await;
    denied(
        "a skill that is no capability name",
        a1.put_agent(&with_skills(vec!["rust,go".into()], true)),
    )
    .await;
    denied(
        "21 skills",
        a1.put_agent(&with_skills(
            (0..21).map(|i| format!("s{i}")).collect(),
            true,
        )),
    )
    .await;
    let no_clock = {
        let d = a1
            .encode(&layout::agent_doc("agent-1"), &agent_doc("agent-1"))
            .expect("an agent document encodes");
        a1.commit(vec![pb::Write {
            operation: Some(pb::write::Operation::Update(d)),
            ..Default::default()
        }])
    };
    denied("a heartbeat without the server's time", no_clock).await;

    // Marking a silent peer offline.
    let peer_doc = || async {
        w.admin
            .batch_get(vec![w.admin.name(&layout::agent_doc("agent-1"))])
            .await
            .expect("admin reads")
            .into_iter()
            .next()
            .flatten()
            .expect("the peer's document exists")
    };
    a1.put_agent(&agent_doc("agent-1"))
        .await
        .expect("the agent heartbeats");
    let fresh = peer_doc().await;
    denied(
        "a peer marks an agent offline right after its heartbeat",
        a2.mark_agent_offline(&fresh, None),
    )
    .await;
    tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
    let silent = peer_doc().await;
    denied(
        "a person marks an agent offline",
        alice.mark_agent_offline(&silent, None),
    )
    .await;
    let mut more = silent.clone();
    more.fields
        .insert("capabilities".into(), vayu::store::string_value("none"));
    let sneaky = a2.commit(vec![pb::Write {
        operation: Some(pb::write::Operation::Update(more)),
        update_mask: Some(pb::DocumentMask {
            field_paths: vec!["status".into(), "capabilities".into()],
        }),
        ..Default::default()
    }]);
    denied("a peer changes more than the status", sneaky).await;
    allowed(
        "a peer marks a silent agent offline",
        a2.mark_agent_offline(&silent, None),
    )
    .await;
    w.done("agents");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_malformed_documents_are_quarantined_and_kept_whole() {
    let w = World::new("rules-quarantine").await;
    let a1 = w.agent("agent-1").await;
    let alice = w.human("alice").await;

    // A document written past the rules (the console): priority 7.
    let id = uuid::Uuid::new_v4().to_string();
    let mut bad = task_json(&new_task("alice"));
    bad["task_id"] = serde_json::json!(id);
    bad["priority"] = serde_json::json!(7);
    let write = raw_write(
        &w.admin,
        &Pile::Queued.doc(&id),
        &bad,
        &["created_at", "updated_at"],
        Precondition::None,
    );
    w.admin
        .commit(vec![write])
        .await
        .expect("admin writes anything");
    let doc = w
        .admin
        .batch_get(vec![w.admin.name(&Pile::Queued.doc(&id))])
        .await
        .expect("admin reads")
        .into_iter()
        .next()
        .flatten()
        .expect("the bad document exists");

    denied(
        "a person quarantines a document",
        alice.quarantine(&doc, "wrong type", "alice"),
    )
    .await;
    let mut altered = doc.clone();
    altered
        .fields
        .insert("title".into(), vayu::store::string_value("rewritten"));
    let altered_write = a1.commit(quarantine_writes(
        &a1,
        &doc.name,
        &id,
        &altered.fields,
        "core",
    ));
    denied("an agent quarantines an altered copy", altered_write).await;
    allowed(
        "an agent quarantines a malformed document",
        a1.quarantine(&doc, "priority: invalid type", "agent-1"),
    )
    .await;
    assert!(!w.exists_in(Pile::Queued, &id).await);

    let good = w.queued("alice").await;
    let good_doc = w
        .admin
        .batch_get(vec![w.admin.name(&Pile::Queued.doc(&good.value.task_id))])
        .await
        .expect("admin reads")
        .into_iter()
        .next()
        .flatten()
        .expect("the task exists");
    // The agent's client refuses, since no part is broken; the rules
    // refuse whichever part a record names.
    assert!(
        a1.quarantine(&good_doc, "I do not like it", "agent-1")
            .await
            .is_err()
    );
    for part in vayu::schema::Part::ALL {
        let writes = quarantine_writes(
            &a1,
            &good_doc.name,
            &good.value.task_id,
            &good_doc.fields,
            part.as_str(),
        );
        denied(
            &format!(
                "an agent quarantines a valid task, naming {}",
                part.as_str()
            ),
            a1.commit(writes),
        )
        .await;
    }
    w.done("quarantine");
}

/// A quarantine of `name` as `Store::quarantine` writes it, but keeping
/// `fields` and naming `defect` as given.
fn quarantine_writes(
    a1: &vayu::store::Store,
    name: &str,
    id: &str,
    fields: &std::collections::HashMap<String, pb::Value>,
    defect: &str,
) -> Vec<pb::Write> {
    let s = vayu::store::string_value;
    let mut record = std::collections::HashMap::new();
    record.insert("task_id".to_string(), s(id));
    record.insert("reason".to_string(), s("x"));
    record.insert("quarantined_by".to_string(), s("agent-1"));
    record.insert("original_path".to_string(), s(&Pile::Queued.doc(id)));
    record.insert("defect".to_string(), s(defect));
    record.insert(
        "document".to_string(),
        pb::Value {
            value_type: Some(pb::value::ValueType::MapValue(pb::MapValue {
                fields: fields.clone(),
            })),
        },
    );
    let create = pb::Write {
        operation: Some(pb::write::Operation::Update(pb::Document {
            name: a1.name(&layout::quarantine_doc(id)),
            fields: record,
            ..Default::default()
        })),
        update_transforms: vec![vayu::store::server_time("quarantined_at")],
        current_document: Precondition::Missing.into_pb(),
        update_mask: None,
    };
    let delete = pb::Write {
        operation: Some(pb::write::Operation::Delete(name.to_string())),
        ..Default::default()
    };
    vec![delete, create]
}
