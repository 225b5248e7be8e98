//! What a team task costs in Firestore operations, per pattern (for
//! docs/bench.md), counted at the client (`vayu::metrics`), under the
//! rules: the requester's create (the parts and the parent), and the
//! fleet's operations while four in-process agents run it (every
//! operation in that window, heartbeats included), from creation to the
//! parent's completion. Each team is checked to have completed with the
//! expected merge, and the counts are printed (`cargo test --test
//! teams_cost -- --nocapture`). Nothing is asserted about time.

mod common;
mod rules_support;

use common::fleet::{fast_agent, shell, wait_task};
use rules_support::*;
use std::time::Duration;
use vayu::agent;
use vayu::lifecycle::Status;
use vayu::metrics::OpSnapshot;
use vayu::model::{Priority, TaskType};
use vayu::store::Store;
use vayu::tasks::NewTask;
use vayu::team::{Pattern, TeamSpec};

/// The handler every member runs: a peer sets a key and meets the others
/// at a barrier; a leader hands out a subtask per follower; any other
/// part (and a follower) reports `r<part>`; a parent under a handler
/// merge reports how many parts it got.
const MEMBER: &str = r#"python3 -c '
import json, os, sys, time
t = json.load(sys.stdin)
env = os.environ
if "VAYU_PART" not in env:
    print("vayu:result " + str(len(json.loads(t["input"]))) + " parts")
    sys.exit(0)
k = env["VAYU_PART"]
pattern = t["part_of"]["pattern"]
if pattern == "peer":
    print("vayu:context k" + k + " v", flush=True)
    print("vayu:barrier met 60", flush=True)
    while not os.path.exists(os.path.join(env["VAYU_TASK_DIR"], "barrier-met")):
        time.sleep(0.1)
if pattern == "leader" and k == "1":
    for i in range(int(env["VAYU_PARTS"]) - 1):
        print("vayu:subtask s" + str(i + 2), flush=True)
print("vayu:result r" + k, flush=True)
'"#;

fn add(total: &mut OpSnapshot, s: &Store) {
    let c = s.counters().snapshot();
    total.polling_reads += c.polling_reads;
    total.listener_reads += c.listener_reads;
    total.commits += c.commits;
    total.writes += c.writes;
}

fn fleet_ops(stores: &[Store]) -> OpSnapshot {
    let mut total = OpSnapshot::default();
    for s in stores {
        add(&mut total, s);
    }
    total
}

fn minus(a: OpSnapshot, b: OpSnapshot) -> (u64, u64, u64, u64) {
    (
        a.polling_reads - b.polling_reads,
        a.listener_reads - b.listener_reads,
        a.commits - b.commits,
        a.writes - b.writes,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_a_team_task_of_each_pattern_costs() {
    common::fleet::trace_from_env();
    let w = World::new("teams-cost").await;
    let alice = w.human("alice").await;
    let (stop, rx) = tokio::sync::watch::channel(false);
    let mut agents = Vec::new();
    let mut stores = Vec::new();
    for i in 1..=4 {
        let id = format!("cost-{i}");
        let store = w.unregistered_agent(&id).await;
        stores.push(store.clone());
        let mut config = fast_agent(&id, shell(MEMBER));
        config.capabilities = vec!["lead".into()];
        config.concurrency = 1;
        let mut rx = rx.clone();
        agents.push(tokio::spawn(agent::run(store, config, async move {
            let _ = rx.wait_for(|s| *s).await;
        })));
    }
    println!("(polling reads, listener reads, commits, writes) for a team of 4");
    for (pattern, expected) in [
        (Pattern::Swarm, "r1\nr2\nr3\nr4"),
        (Pattern::Pipeline, "r4"),
        (Pattern::Peer, "r1\nr2\nr3\nr4"),
        (Pattern::Leader, "4 parts"),
    ] {
        let mut new = NewTask::new(
            TaskType::Research,
            Priority::Normal,
            format!("{pattern} team"),
        );
        new.requester.id = "alice".into();
        let spec = TeamSpec {
            size: 4,
            pattern,
            roles: match pattern {
                Pattern::Leader => ["lead", "lead", "lead", "lead"].map(String::from).to_vec(),
                _ => Vec::new(),
            },
            skills: Vec::new(),
            merge: None,
            form: None,
        };
        let before = (alice.counters().snapshot(), fleet_ops(&stores));
        let (parent, _) = allowed(
            "alice creates a team",
            vayu::teams::create(&alice, new, &spec),
        )
        .await;
        let made = minus(alice.counters().snapshot(), before.0);
        let done = wait_task(
            &w.admin,
            &parent.task_id,
            Duration::from_secs(120),
            "completed",
            |v| v.value.status == Status::Completed,
        )
        .await;
        let ran = minus(fleet_ops(&stores), before.1);
        assert_eq!(
            done.value.execution.result.as_deref(),
            Some(expected),
            "{pattern}"
        );
        // The members were named as the parent completed (a refused
        // naming once left the parent with no result).
        let named = &done.value.assignment.collaborators;
        assert!(
            !named.is_empty() && named.len() <= 4,
            "{pattern}: members named {named:?}"
        );
        println!("{pattern}: create {made:?}, run {ran:?}");
    }
    stop.send(true).expect("the agents listen");
    for a in agents {
        a.await.expect("no panic").expect("the agent stops cleanly");
    }
    w.done("what_a_team_task_of_each_pattern_costs");
}
