//! Issue 13, resources under the rules (`/resources/`, `isAcquire`,
//! `isPermitRelease`, `permitTaken` in firestore.rules). Each bypass is
//! denied beside the allowed operation of the same shape:
//! - only an admin sets a capacity;
//! - a claim of a task that needs a resource must take its permits in the
//!   same commit, and is refused beyond capacity;
//! - permits are taken only for a task the caller has just claimed, with
//!   the task's own count, and `used` moves only with the holders;
//! - permits are given back only once their task is no longer held under
//!   the epoch that took them, and then by any agent.

mod common;
mod rules_support;

use rules_support::*;
use vayu::lifecycle::Status;
use vayu::model::Task;
use vayu::resource::ResourceNeed;
use vayu::resources::{acquire_write, get, release, set};
use vayu::store::{Precondition, Store, Versioned};

fn gpu(permits: i64) -> ResourceNeed {
    ResourceNeed {
        name: "gpu".into(),
        permits,
    }
}

/// A queued task of alice's that needs `need`.
async fn needing(w: &World, need: ResourceNeed) -> Versioned<Task> {
    let mut t = new_task("alice");
    t.resource = Some(need);
    w.seed(&t).await
}

/// `agent`'s claim of `seen`, with the permit write when `with_permit`.
async fn claim_with(
    store: &Store,
    seen: &Versioned<Task>,
    agent: &str,
    with_permit: bool,
) -> vayu::Result<Versioned<Task>> {
    let epoch = seen.value.lease.epoch + 1;
    let t = claimed_by(&seen.value, agent, epoch);
    let need = seen
        .value
        .resource
        .clone()
        .expect("a task that needs a resource");
    let extra = if with_permit {
        vec![acquire_write(store, &need, &t.task_id, agent, epoch)?]
    } else {
        vec![]
    };
    store
        .replace_task(seen, &t, &[Status::Assigned, Status::Executing], extra)
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_an_admin_sets_a_capacity() {
    let w = World::new("rules-res-set").await;
    let alice = w.human("alice").await;
    let agent = w.agent("agent-1").await;
    denied("an operator creates a resource", set(&alice, "gpu", 2)).await;
    denied("an agent creates a resource", set(&agent, "gpu", 2)).await;
    let admin = w.human_with_role("ada", "admin").await;
    allowed("an admin creates a resource", set(&admin, "gpu", 2)).await;
    denied("an operator raises its capacity", set(&alice, "gpu", 9)).await;
    allowed("an admin raises its capacity", set(&admin, "gpu", 3)).await;
    let r = get(&w.admin, "gpu")
        .await
        .expect("readable")
        .expect("there");
    assert_eq!((r.capacity, r.used), (3, 0));
    w.done("only_an_admin_sets_a_capacity");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_claim_takes_its_permits_within_capacity() {
    let w = World::new("rules-res-claim").await;
    set(&w.admin, "gpu", 2).await.expect("the admin sets it");
    let a1 = w.agent("agent-1").await;
    let a2 = w.agent("agent-2").await;
    let big = needing(&w, gpu(2)).await;
    let small = needing(&w, gpu(1)).await;
    denied(
        "an agent claims a task that needs a resource without its permits",
        claim_with(&a1, &big, "agent-1", false),
    )
    .await;
    let stranger = needing(&w, gpu(1)).await;
    let foreign =
        acquire_write(&a1, &gpu(1), &stranger.value.task_id, "agent-1", 1).expect("encodes");
    denied(
        "an agent takes permits for a task it has not claimed",
        a1.commit(vec![foreign]),
    )
    .await;
    let cheap = acquire_write(&a1, &gpu(1), &big.value.task_id, "agent-1", 1).expect("encodes");
    denied(
        "an agent claims a 2-permit task taking 1 permit",
        a1.replace_task(
            &big,
            &claimed_by(&big.value, "agent-1", 1),
            &[Status::Assigned, Status::Executing],
            vec![cheap],
        ),
    )
    .await;
    allowed(
        "an agent claims a 2-permit task within capacity",
        claim_with(&a1, &big, "agent-1", true),
    )
    .await;
    denied(
        "a second agent claims beyond capacity",
        claim_with(&a2, &small, "agent-2", true),
    )
    .await;
    let r = get(&w.admin, "gpu")
        .await
        .expect("readable")
        .expect("there");
    assert_eq!(r.used, 2);
    assert_eq!(
        r.holders.keys().collect::<Vec<_>>(),
        vec![&big.value.task_id]
    );
    w.done("a_claim_takes_its_permits_within_capacity");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn permits_come_back_only_once_their_task_is_not_held() {
    let w = World::new("rules-res-release").await;
    set(&w.admin, "gpu", 1).await.expect("the admin sets it");
    let a1 = w.agent("agent-1").await;
    let a2 = w.agent("agent-2").await;
    let viewer = w.viewer("victor").await;
    let seen = needing(&w, gpu(1)).await;
    let id = seen.value.task_id.clone();
    let running = claim_with(&a1, &seen, "agent-1", true)
        .await
        .expect("the claim lands");
    assert!(
        !release(&a2, "gpu", &id)
            .await
            .expect("a refusal is Ok(false)"),
        "another agent gives back the permit of a task still running"
    );
    assert!(
        !release(&a1, "gpu", &id)
            .await
            .expect("a refusal is Ok(false)"),
        "the holder gives back its permit while still running"
    );
    // The task completes (moves to the completed pile) without giving it back.
    let mut done = running.value.clone();
    done.status = Status::Completed;
    done.lease.owner = None;
    done.lease.expires_at = None;
    done.record(Status::Completed, vayu::model::now(), Some("agent-1"), None);
    raw_replace(&a1, &running, &done, vec![])
        .await
        .expect("the holder completes it");
    denied("a viewer gives back the permit", async {
        let w = raw_write(
            &viewer,
            "resources/gpu",
            &serde_json::json!({"capacity": 1, "used": 0, "holders": {}, "last": id}),
            &["updated_at"],
            Precondition::Exists,
        );
        viewer.commit(vec![w]).await
    })
    .await;
    assert!(
        release(&a2, "gpu", &id).await.expect("allowed"),
        "any agent gives back the permit of a task that ended"
    );
    let r = get(&w.admin, "gpu")
        .await
        .expect("readable")
        .expect("there");
    assert_eq!((r.used, r.holders.len()), (0, 0));
    w.done("permits_come_back_only_once_their_task_is_not_held");
}
