//! Leases that survive crashes, on the real Firestore emulator: fencing,
//! failover to peers and to a restarted agent, and agent health. A run's
//! own ends (shutdown, retries, the dead letter, timeouts) are in
//! `attempts.rs`.
//!
//! Just over 600 lines: the lease's whole story (fencing, failover,
//! health) shares the hand-made claims and completions below.
//!
//! Every test has its own database in the binary's shared emulator; tests
//! that kill or stop agents use `vayu-agent` processes, the others run
//! agents in-process.

mod common;

use common::fleet::{
    describe, history, lines, read_task, research_task, setup, wait_completed, wait_file, wait_task,
};
use common::procs::{AgentProc, AgentSpec, Frozen, tail, vayu_cli};
use std::time::Duration;
use tokio::time::Instant;
use vayu::layout::Pile;
use vayu::lifecycle::Status;
use vayu::model::{AgentDoc, AgentState, Lease, Task, millis_between, now, time_add};
use vayu::store::{Store, Versioned};
use vayu::tasks;

/// What an agent's claim commit writes, done by hand: the library's
/// compare-and-set, as agent `who`.
async fn claim_as(
    store: &Store,
    seen: &Versioned<Task>,
    who: &str,
) -> vayu::Result<Versioned<Task>> {
    let t_now = now();
    let mut t = seen.value.clone();
    t.lease = Lease {
        owner: Some(who.to_string()),
        expires_at: Some(time_add(t_now, Duration::from_secs(1))),
        epoch: seen.value.lease.epoch + 1,
    };
    t.assignment.primary_agent = Some(who.to_string());
    t.execution.attempt = t.metadata.retry_count + 1;
    t.status = Status::Executing;
    t.record(Status::Assigned, t_now, Some(who), None);
    t.record(Status::Executing, t_now, Some(who), None);
    store
        .replace_task(seen, &t, &[Status::Assigned, Status::Executing], vec![])
        .await
}

/// The holder's completion, done by hand.
fn completed_by(seen: &Versioned<Task>, who: &str, result: &str) -> Task {
    let mut t = seen.value.clone();
    t.status = Status::Completed;
    t.execution.progress = 100;
    t.execution.result = Some(result.to_string());
    t.execution.finished_at = Some(now());
    t.record(Status::Completed, now(), Some(who), None);
    t
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fencing_a_stale_holders_writes_are_refused_library() {
    let (_, store) = setup("fence-lib").await;
    let t = tasks::create(&store, research_task("fenced"))
        .await
        .expect("the emulator accepts a new task");
    let queued = read_task(&store, &t.task_id).await;

    // A claims (epoch 1) and renews once: its writes land while it holds
    // the lease.
    let a1 = claim_as(&store, &queued, "agent-a")
        .await
        .expect("A claims");
    assert_eq!(a1.value.lease.epoch, 1);
    let mut renewed = a1.value.clone();
    renewed.execution.progress = 40;
    let a2 = store
        .replace_task(&a1, &renewed, &[], vec![])
        .await
        .expect("A's progress write lands while A holds the lease");

    // A's lease runs out; B reclaims through the agents' own takeover path
    // (epoch + 1, retry_count + 1), then claims it again (epoch + 1).
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let expired = read_task(&store, &t.task_id).await;
    assert!(
        expired.value.lease.expires_at.is_some_and(|e| e < now()),
        "A's lease has expired: {}",
        describe(&expired)
    );
    assert!(
        vayu::agent::requeue(&store, &expired, "agent-b", "its lease expired")
            .await
            .expect("the reclaim commits"),
        "B reclaims the expired task"
    );
    // A second reclaimer working from the same stale read loses.
    assert!(
        !vayu::agent::requeue(&store, &expired, "agent-c", "its lease expired")
            .await
            .expect("a lost reclaim is not an error"),
        "exactly one agent reclaims a task"
    );
    let requeued = read_task(&store, &t.task_id).await;
    assert_eq!(requeued.pile, Pile::Queued, "{}", describe(&requeued));
    assert_eq!(
        requeued.value.lease.epoch, 2,
        "the reclaim raises the epoch"
    );
    assert_eq!(
        requeued.value.metadata.retry_count, 1,
        "and the retry count"
    );
    let b = claim_as(&store, &requeued, "agent-b")
        .await
        .expect("B claims");
    assert_eq!(b.value.lease.epoch, 3);

    // A wakes up and writes with what it last knew: every write is refused.
    let mut late_progress = a2.value.clone();
    late_progress.execution.progress = 90;
    let e = store
        .replace_task(&a2, &late_progress, &[], vec![])
        .await
        .expect_err("A's progress write after the takeover must be refused");
    assert!(e.is_conflict(), "refused as a conflict, not {e}");
    let e = store
        .replace_task(
            &a2,
            &completed_by(&a2, "agent-a", "A's result"),
            &[Status::Completed],
            vec![],
        )
        .await
        .expect_err("A's completion after the takeover must be refused");
    assert!(e.is_conflict(), "refused as a conflict, not {e}");

    // B completes; B's result stands.
    store
        .replace_task(
            &b,
            &completed_by(&b, "agent-b", "B's result"),
            &[Status::Completed],
            vec![],
        )
        .await
        .expect("B, the holder, completes");
    // A tries again, now against a completed task.
    let e = store
        .replace_task(
            &a2,
            &completed_by(&a2, "agent-a", "A's result"),
            &[Status::Completed],
            vec![],
        )
        .await
        .expect_err("A cannot overwrite B's completion");
    assert!(e.is_conflict(), "refused as a conflict, not {e}");
    let done = read_task(&store, &t.task_id).await;
    println!("{}", describe(&done));
    assert_eq!(done.pile, Pile::Completed);
    assert_eq!(done.value.status, Status::Completed);
    assert_eq!(done.value.execution.result.as_deref(), Some("B's result"));
    assert_eq!(done.value.lease.owner.as_deref(), Some("agent-b"));
    assert_eq!(done.value.lease.epoch, 3);
}

/// A's handler is done and A is about to report, but A is stopped (a GC
/// pause, a laptop lid) for longer than its lease. B takes over and
/// completes; when A continues, its result is discarded.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fencing_a_stopped_agent_cannot_complete_after_a_takeover() {
    let (cfg, store) = setup("fence-proc").await;
    let dir = tempfile::tempdir().expect("the system temp dir is writable");
    let runs = dir.path().join("runs");
    let handler = format!(
        "echo \"$VAYU_AGENT_ID $VAYU_EPOCH start\" >> {r}; sleep 3; \
         echo \"$VAYU_AGENT_ID $VAYU_EPOCH end\" >> {r}; \
         echo \"vayu:result done by $VAYU_AGENT_ID at epoch $VAYU_EPOCH\"",
        r = runs.display()
    );
    let mut a = AgentProc::spawn(&AgentSpec::on(&cfg, dir.path(), "fence-a", &handler));
    let t = tasks::create(&store, research_task("fenced"))
        .await
        .expect("the emulator accepts a new task");
    let claimed = wait_task(
        &store,
        &t.task_id,
        Duration::from_secs(20),
        "claimed by A",
        |v| {
            v.value.status == Status::Executing && v.value.lease.owner.as_deref() == Some("fence-a")
        },
    )
    .await;
    let a_epoch = claimed.value.lease.epoch;
    wait_file(&runs, Duration::from_secs(10)).await;

    let mut stopped = Frozen::stop(a.pid());
    let t_stop = now();
    let mut b = AgentProc::spawn(&AgentSpec::on(&cfg, dir.path(), "fence-b", &handler));
    let done = wait_task(
        &store,
        &t.task_id,
        Duration::from_secs(40),
        "completed by B",
        |v| v.value.status == Status::Completed,
    )
    .await;
    println!("{}", describe(&done));
    let reclaimed_at = done
        .value
        .history
        .iter()
        .find(|h| h.epoch > a_epoch)
        .and_then(|h| h.at)
        .expect("the history shows the takeover");
    println!(
        "A stopped -> task reclaimed by a peer: {} ms (lease 2 s, heartbeat 0.5 s)",
        millis_between(t_stop, reclaimed_at)
    );
    // A's handler (not stopped: it runs in its own process group) has
    // finished and waits to be reaped, with its result in the pipe.
    assert!(
        lines(&runs)
            .iter()
            .any(|l| l == &format!("fence-a {a_epoch} end")),
        "A's handler finished while A was stopped: {:?}",
        lines(&runs)
    );
    let before = read_task(&store, &t.task_id).await;

    let stopped_for = stopped.thaw();
    println!(
        "A continued after {:.1} s stopped",
        stopped_for.as_secs_f64()
    );
    let deadline = Instant::now() + Duration::from_secs(15);
    while !a.log().contains("discarded") && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let a_log = a.log();
    let after = read_task(&store, &t.task_id).await;
    assert!(
        a_log.contains("discarded"),
        "A's log says its result was discarded:\n{}",
        tail(&a_log, 30)
    );
    println!(
        "A's log: {}",
        a_log
            .lines()
            .filter(|l| l.contains("discarded"))
            .collect::<Vec<_>>()
            .join("\n")
    );
    assert_eq!(
        after.update_time,
        before.update_time,
        "A wrote nothing to the task after it continued:\n{}",
        describe(&after)
    );
    let b_epoch = after.value.lease.epoch;
    assert!(b_epoch > a_epoch, "the takeover raised the epoch");
    assert_eq!(after.pile, Pile::Completed);
    assert_eq!(after.value.status, Status::Completed);
    assert_eq!(after.value.lease.owner.as_deref(), Some("fence-b"));
    assert_eq!(
        after.value.execution.result.as_deref(),
        Some(format!("done by fence-b at epoch {b_epoch}").as_str()),
        "B's result stands"
    );
    let completions: Vec<_> = after
        .value
        .history
        .iter()
        .filter(|h| h.status == Some(Status::Completed))
        .collect();
    assert_eq!(
        completions.len(),
        1,
        "one completion:\n{}",
        history(&after.value)
    );
    assert_eq!(completions[0].agent.as_deref(), Some("fence-b"));

    for p in [&mut a, &mut b] {
        p.stop_cleanly(Duration::from_secs(20)).await;
    }
}

/// Kill -9 an agent that holds a task and do not restart it: a peer
/// notices the silence, marks it offline and takes the task over.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failover_a_killed_agents_task_is_taken_over_by_a_peer() {
    let (cfg, store) = setup("failover-peer").await;
    let dir = tempfile::tempdir().expect("the system temp dir is writable");
    let runs = dir.path().join("runs");
    // The victim's run hangs until the kill; the peer's finishes at once.
    // (It used to sleep 1 s, which a loaded machine could finish before
    // the kill landed: the victim completed the task and nothing failed
    // over.)
    let handler = format!(
        "echo \"$VAYU_AGENT_ID $VAYU_EPOCH\" >> {r}; \
         if [ \"$(wc -l < {r})\" -lt 2 ]; then sleep 60; fi",
        r = runs.display()
    );
    let mut victim = AgentProc::spawn(&AgentSpec::on(&cfg, dir.path(), "victim", &handler));
    let t = tasks::create(&store, research_task("survives its agent"))
        .await
        .expect("the emulator accepts a new task");
    let claimed = wait_task(
        &store,
        &t.task_id,
        Duration::from_secs(20),
        "claimed",
        |v| v.value.status == Status::Executing,
    )
    .await;
    let mut peer = AgentProc::spawn(&AgentSpec::on(&cfg, dir.path(), "peer", &handler));
    // Let the peer see the victim alive first.
    tokio::time::sleep(Duration::from_millis(800)).await;
    let t_kill = now();
    victim.kill9().await;
    let done = wait_completed(&store, &t.task_id, Duration::from_secs(30)).await;
    println!("{}", describe(&done));
    let reclaim = done
        .value
        .history
        .iter()
        .find(|h| h.epoch > claimed.value.lease.epoch)
        .expect("the history shows the reclaim");
    let reclaim_ms = millis_between(t_kill, reclaim.at.expect("history entries have times"));
    println!("kill -9 -> reclaimed by a peer: {reclaim_ms} ms (lease 2 s, heartbeat 0.5 s)");
    assert_eq!(
        reclaim.agent.as_deref(),
        Some("peer"),
        "the peer reclaimed it"
    );
    assert_eq!(done.value.lease.owner.as_deref(), Some("peer"));
    assert!(done.value.lease.epoch >= claimed.value.lease.epoch + 2);
    assert_eq!(
        done.value.metadata.retry_count, 1,
        "the reclaim counts as a retry"
    );

    let deadline = Instant::now() + Duration::from_secs(20);
    let victim_doc = loop {
        let d = store
            .get_agent("victim")
            .await
            .expect("the emulator answers a read of the agent doc")
            .expect("the victim registered");
        if d.status == Some(AgentState::Offline) || Instant::now() > deadline {
            break d;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(
        victim_doc.status,
        Some(AgentState::Offline),
        "a peer marks the dead agent offline: {victim_doc:?}"
    );
    peer.stop_cleanly(Duration::from_secs(20)).await;
}

/// Kill -9 the only agent while it holds a task, and restart it with the
/// same id: the new incarnation requeues what the old one held.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failover_a_restarted_agent_requeues_its_own_leftovers() {
    let (cfg, store) = setup("failover-self").await;
    let dir = tempfile::tempdir().expect("the system temp dir is writable");
    let runs = dir.path().join("runs");
    // The first run hangs; later ones finish at once.
    let handler = format!(
        "echo \"$VAYU_AGENT_ID $VAYU_EPOCH\" >> {r}; \
         if [ \"$(wc -l < {r})\" -lt 2 ]; then sleep 60; fi",
        r = runs.display()
    );
    let s = AgentSpec::on(&cfg, dir.path(), "phoenix", &handler);
    let mut first = AgentProc::spawn(&s);
    let t = tasks::create(&store, research_task("outlives an incarnation"))
        .await
        .expect("the emulator accepts a new task");
    let claimed = wait_task(
        &store,
        &t.task_id,
        Duration::from_secs(20),
        "claimed",
        |v| v.value.status == Status::Executing,
    )
    .await;
    wait_file(&runs, Duration::from_secs(10)).await;
    let t_kill = now();
    first.kill9().await;
    let mut second = AgentProc::spawn(&s);
    let done = wait_completed(&store, &t.task_id, Duration::from_secs(30)).await;
    println!("{}", describe(&done));
    let reclaim = done
        .value
        .history
        .iter()
        .find(|h| h.epoch > claimed.value.lease.epoch)
        .expect("the history shows the reclaim");
    println!(
        "kill -9 + restart -> requeued by the new incarnation: {} ms",
        millis_between(t_kill, reclaim.at.expect("history entries have times"))
    );
    assert_eq!(reclaim.agent.as_deref(), Some("phoenix"));
    assert!(done.value.lease.epoch > claimed.value.lease.epoch + 1);
    assert_eq!(lines(&runs).len(), 2, "ran twice: {:?}", lines(&runs));
    second.stop_cleanly(Duration::from_secs(20)).await;
}

/// `vayu agent list --json` shows each agent's health; a killed agent's
/// document is turned offline by a peer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_agent_list_shows_health_and_a_dead_agent_goes_offline() {
    let (cfg, store) = setup("health").await;
    let dir = tempfile::tempdir().expect("the system temp dir is writable");
    let host = cfg
        .emulator_host
        .clone()
        .expect("setup() configures the emulator");
    let handler = "sleep 5";
    let mut agents: Vec<AgentProc> = ["health-1", "health-2", "health-3"]
        .iter()
        .map(|id| AgentProc::spawn(&AgentSpec::on(&cfg, dir.path(), id, handler)))
        .collect();
    let t = tasks::create(&store, research_task("keeps one busy"))
        .await
        .expect("the emulator accepts a new task");
    wait_task(
        &store,
        &t.task_id,
        Duration::from_secs(20),
        "claimed",
        |v| v.value.status == Status::Executing,
    )
    .await;

    // The agent running it reports the task at its next heartbeat. Which
    // agent that is is read from the list, not from the first claim: on a
    // loaded machine a claim answered after half its lease is given back
    // unrun (agent/claim.rs), and a peer runs the task instead.
    let deadline = Instant::now() + Duration::from_secs(10);
    let (list, busy_id) = loop {
        let (code, out, err) =
            vayu_cli(&host, &cfg.database_id, &["--json", "agent", "list"]).await;
        assert_eq!(code, 0, "vayu agent list: {out}{err}");
        let list: Vec<serde_json::Value> = serde_json::from_str(&out)
            .unwrap_or_else(|e| panic!("agent list --json is a JSON array ({e}): {out}"));
        let busy = list.iter().find(|a| {
            a["status"] == "busy"
                && a["current_tasks"]
                    .as_array()
                    .is_some_and(|c| c.iter().any(|x| x == t.task_id.as_str()))
        });
        if let Some(b) = busy {
            let id = b["agent_id"].as_str().unwrap_or_default().to_string();
            break (list, id);
        }
        if Instant::now() > deadline {
            panic!(
                "no agent showed itself busy with {} within 10 s: {list:?}",
                t.task_id
            );
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let claimed = read_task(&store, &t.task_id).await;
    assert_eq!(
        claimed.value.lease.owner.as_deref(),
        Some(busy_id.as_str()),
        "the busy agent holds the task"
    );
    println!(
        "{}",
        serde_json::to_string_pretty(&list).expect("JSON values print")
    );
    assert_eq!(list.len(), 3, "three agents listed");
    for a in &list {
        let id = a["agent_id"].as_str().unwrap_or_default();
        let want = if id == busy_id { "busy" } else { "online" };
        assert_eq!(a["status"], want, "{id}'s status: {a}");
        let cpu = a["cpu_usage"].as_f64();
        assert!(cpu.is_some_and(|c| c >= 0.0), "{id} has cpu_usage: {a}");
        let mem = a["memory_usage"].as_f64();
        assert!(
            mem.is_some_and(|m| m > 0.0 && m <= 100.0),
            "{id} has memory_usage in percent: {a}"
        );
        assert!(
            !a["last_heartbeat"].is_null(),
            "{id} has last_heartbeat: {a}"
        );
        let current = a["current_tasks"].as_array().map(Vec::len);
        assert_eq!(
            current,
            Some(usize::from(id == busy_id)),
            "{id}'s current_tasks: {a}"
        );
    }

    // Kill an idle agent; a peer marks it offline.
    let victim_ix = agents
        .iter()
        .position(|a| a.id() != busy_id)
        .expect("two of three agents are idle");
    let victim_id = agents[victim_ix].id().to_string();
    let t_kill = Instant::now();
    agents[victim_ix].kill9().await;
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let doc = store
            .get_agent(&victim_id)
            .await
            .expect("the emulator answers a read of the agent doc")
            .expect("the victim registered");
        if doc.status == Some(AgentState::Offline) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{victim_id} still {:?} {:?} after kill -9 (lease 2 s); logs:\n{}",
            doc.status,
            t_kill.elapsed(),
            agents
                .iter()
                .map(|a| tail(&a.log(), 10))
                .collect::<Vec<_>>()
                .join("\n")
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    println!(
        "kill -9 -> marked offline by a peer: {} ms (lease 2 s, heartbeat 0.5 s)",
        t_kill.elapsed().as_millis()
    );
    let (code, out, _) = vayu_cli(&host, &cfg.database_id, &["--json", "agent", "list"]).await;
    assert_eq!(code, 0);
    let list: Vec<serde_json::Value> =
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("a JSON array ({e}): {out}"));
    let shown = list
        .iter()
        .find(|a| a["agent_id"] == victim_id.as_str())
        .expect("the dead agent is still listed");
    assert_eq!(shown["status"], "offline", "{shown}");
    for a in agents.iter_mut() {
        if a.id() != victim_id {
            a.stop_cleanly(Duration::from_secs(20)).await;
        }
    }
}

/// A peer is taken over only if it stayed quiet: the offline mark is
/// conditional on the peer's document as last seen. A peer that
/// heartbeated since (the listener lagged, or it came back from an
/// outage first) is alive and keeps its tasks; one that another agent
/// already marked counts as offline.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failover_a_peer_that_heartbeated_since_is_not_taken_over() {
    let (_cfg, store) = setup("confirm-offline").await;
    let name = store.name(&vayu::layout::agent_doc("peer"));
    let read = || async {
        store
            .batch_get(vec![name.clone()])
            .await
            .expect("a read")
            .remove(0)
            .expect("the peer is registered")
    };
    let doc = AgentDoc {
        agent_id: "peer".into(),
        status: Some(AgentState::Online),
        last_heartbeat: Some(now()),
        ..AgentDoc::default()
    };
    store.put_agent(&doc).await.expect("registered");
    let seen = read().await;
    tokio::time::sleep(Duration::from_millis(20)).await;
    store
        .put_agent(&AgentDoc {
            last_heartbeat: Some(now()),
            ..doc.clone()
        })
        .await
        .expect("a heartbeat");

    let confirmed = vayu::agent::confirm_offline(&store, "peer", &seen, None)
        .await
        .expect("Firestore answers");
    assert!(!confirmed, "it heartbeated after we looked: alive");
    let now_doc = store
        .get_agent("peer")
        .await
        .expect("a read")
        .expect("there");
    assert_eq!(now_doc.status, Some(AgentState::Online), "not marked");

    let fresh = read().await;
    let confirmed = vayu::agent::confirm_offline(&store, "peer", &fresh, None)
        .await
        .expect("Firestore answers");
    assert!(confirmed, "quiet since the version seen: marked");
    let now_doc = store
        .get_agent("peer")
        .await
        .expect("a read")
        .expect("there");
    assert_eq!(now_doc.status, Some(AgentState::Offline));

    let confirmed = vayu::agent::confirm_offline(&store, "peer", &seen, None)
        .await
        .expect("Firestore answers");
    assert!(
        confirmed,
        "marked by another agent first: offline all the same"
    );
}
