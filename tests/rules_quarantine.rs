//! `firestore.rules` on the real emulator: who may drop and restore
//! quarantine records (docs/security.md, "Quarantine"). Each denied case
//! sits beside the allowed operation of the same shape. See
//! `tests/rules.rs` for how cases are counted.

mod common;
mod rules_support;

use rules_support::*;
use serde_json::{Map, Value, json};
use vayu::layout::Pile;
use vayu::model::{Requester, RequesterType};
use vayu::quarantine::{self, Record};

/// A quarantined document (priority 7), read back as its record.
async fn quarantined(w: &World) -> Record {
    let id = w.quarantined(json!({"priority": 7})).await;
    quarantine::get(&w.admin, &id)
        .await
        .expect("the record exists")
}

fn person(uid: &str) -> Requester {
    Requester {
        kind: RequesterType::Human,
        id: uid.into(),
        context: String::new(),
    }
}

fn fixed() -> Map<String, Value> {
    json!({"title": "fixed", "priority": "high"})
        .as_object()
        .expect("an object")
        .clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_operators_drop_quarantine_records() {
    let w = World::new("rules-q-drop").await;
    let rec = quarantined(&w).await;
    let alice = w.roleless("alice").await;
    let vera = w.human_with_role("vera", "viewer").await;
    let agent = w.agent("agent-1").await;
    let agent_admin = w
        .user("agent-2", &{
            let mut c = vayu::identity::agent_claims();
            c.insert("role".into(), json!("admin"));
            c
        })
        .await;
    for (who, store) in [
        ("a person without a role", &alice),
        ("a viewer", &vera),
        ("an agent", &agent),
        ("an agent with an admin role", &agent_admin),
    ] {
        let case = format!("{who} drops a record");
        denied(&case, quarantine::drop_record(store, &rec)).await;
    }
    assert!(w.record_exists(&rec.task_id).await);
    for (uid, role) in [
        ("olga", "operator"),
        ("rita", "reviewer"),
        ("root", "admin"),
    ] {
        let r = quarantined(&w).await;
        let store = w.human_with_role(uid, role).await;
        allowed(
            &format!("an {role} drops a record"),
            quarantine::drop_record(&store, &r),
        )
        .await;
        assert!(!w.record_exists(&r.task_id).await, "{role}");
    }
    w.done("quarantine drop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_restores_a_record_as_a_new_task_of_their_own() {
    let w = World::new("rules-q-restore").await;
    let rec = quarantined(&w).await;
    let id = rec.task_id.clone();
    let fixed = fixed();
    let alice = w.roleless("alice").await;
    let vera = w.human_with_role("vera", "viewer").await;
    let olga = w.human_with_role("olga", "operator").await;
    denied(
        "a person without a role restores a record",
        quarantine::restore(&alice, &rec, Some(&fixed), person("alice")),
    )
    .await;
    denied(
        "a viewer restores a record",
        quarantine::restore(&vera, &rec, Some(&fixed), person("vera")),
    )
    .await;
    denied(
        "an operator restores a record as someone else's task",
        quarantine::restore(&olga, &rec, Some(&fixed), person("alice")),
    )
    .await;
    assert!(w.record_exists(&id).await && !w.exists_in(Pile::Queued, &id).await);
    let t = allowed(
        "an operator restores a record as their own task",
        quarantine::restore(&olga, &rec, Some(&fixed), person("olga")),
    )
    .await;
    assert_eq!(t.task_id, id);
    assert!(!w.record_exists(&id).await, "the record is gone");
    let v = w.read(&id).await;
    assert_eq!(v.pile, Pile::Queued);
    assert_eq!(v.value.requester.id, "olga");
    assert_eq!(v.value.title, "fixed");
    assert_eq!(v.value.requester.context, quarantine::RESTORED_NOTE);
    w.done("quarantine restore");
}
