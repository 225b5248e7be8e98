//! Issue 14, auction (`vayu task create --assign auction`): three capable
//! agents bid; whoever closes the auction, and however many close it at
//! once, the winner is the one `vayu::assign::auction::winner` names, and
//! it runs the task. Under the rules, as agents and a person.

mod common;
mod rules_support;

use common::fleet::{fast_agent, shell, wait_completed, wait_task};
use rules_support::*;
use std::time::Duration;
use vayu::agent;
use vayu::assign::auction::{self, HOLD, bid};
use vayu::model::{Priority, Task, TaskType, now, time_add};
use vayu::push::Strategy;
use vayu::store::{Store, Versioned};
use vayu::tasks::{self, NewTask};

const LIMIT: Duration = Duration::from_secs(60);

/// alice's new task (the rules insist the requester is the caller).
fn alices(title: &str) -> NewTask {
    let mut new = NewTask::new(TaskType::Research, Priority::Normal, title);
    new.requester.id = "alice".into();
    new
}

/// alice opens an auction of three seconds.
async fn open_auction(alice: &Store) -> Task {
    let mut new = alices("auctioned");
    new.assign = Strategy::Auction;
    new.push_for = Duration::from_secs(3);
    tasks::create(alice, new)
        .await
        .expect("alice opens an auction")
}

/// `agent`'s bid added to the task as it is now, retried while another
/// bid lands first.
async fn place(w: &World, store: &Store, id: &str, agent: &str, score: f64) {
    for _ in 0..20 {
        let seen = w.read(id).await;
        let mut t = seen.value.clone();
        t.assignment.bids.insert(agent.into(), bid(score, 1000));
        if store.replace_task(&seen, &t, &[], vec![]).await.is_ok() {
            return;
        }
    }
    panic!("{agent} could not bid in 20 tries");
}

/// What one closer does: reads the bids, names their winner, writes it.
async fn close(store: &Store, seen: &Versioned<Task>) -> (String, vayu::Result<Versioned<Task>>) {
    let winner = auction::winner(&seen.value.assignment.bids)
        .expect("there are bids")
        .to_string();
    let mut t = seen.value.clone();
    t.assignment.pushed_to = Some(winner.clone());
    t.assignment.push_until = Some(time_add(now(), HOLD));
    (winner, store.replace_task(seen, &t, &[], vec![]).await)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_bidders_and_two_concurrent_closers_agree_on_the_winner() {
    let w = World::new("auction-close").await;
    let alice = w.human("alice").await;
    let agents = [
        ("agent-a", w.agent("agent-a").await, 0.4),
        ("agent-b", w.agent("agent-b").await, 0.8),
        ("agent-c", w.agent("agent-c").await, 0.6),
    ];
    let t = open_auction(&alice).await;
    for (id, store, score) in &agents {
        place(&w, store, &t.task_id, id, *score).await;
    }
    let seen = w.read(&t.task_id).await;
    assert_eq!(seen.value.assignment.bids.len(), 3);
    let until = seen
        .value
        .assignment
        .auction_until
        .expect("an auction has an end");
    let wait = vayu::model::millis_between(now(), until).max(0) as u64 + 200;
    tokio::time::sleep(Duration::from_millis(wait)).await;

    // Two closers at once, each from the same stored version.
    let (one, two) = tokio::join!(close(&agents[0].1, &seen), close(&agents[2].1, &seen));
    assert_eq!(one.0, "agent-b", "the best score");
    assert_eq!(one.0, two.0, "both closers name the same winner");
    let landed = [&one.1, &two.1].iter().filter(|r| r.is_ok()).count();
    assert_eq!(
        landed, 1,
        "one close lands, the other loses the race: {one:?} {two:?}"
    );
    let closed = w.read(&t.task_id).await;
    assert_eq!(
        closed.value.assignment.pushed_to.as_deref(),
        Some("agent-b")
    );

    denied("a loser claims", claim(&agents[0].1, &closed, "agent-a")).await;
    allowed("the winner claims", claim(&agents[1].1, &closed, "agent-b")).await;

    // The CLI: an auction that cannot work is exit 2, nothing written.
    let count = || async {
        w.admin
            .list_tasks(None, Some(100))
            .await
            .expect("lists")
            .len()
    };
    let before = count().await;
    for bad in [
        vec!["--assign", "auction", "--agent", "agent-a"],
        vec!["--assign", "auction", "--auction-for", "1h"],
        vec!["--assign", "auction", "--in", "5m"],
        vec!["--auction-for", "5s"],
    ] {
        let args: Vec<&str> = ["task", "create"]
            .into_iter()
            .chain(bad.clone())
            .chain(["x"])
            .collect();
        let out = w.vayu(&args);
        assert_eq!(
            out.status.code(),
            Some(2),
            "{bad:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    assert_eq!(count().await, before, "nothing was written");
    let out = w.vayu(&[
        "task",
        "create",
        "--assign",
        "auction",
        "--auction-for",
        "30s",
        "--json",
        "x",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(count().await, before + 1);
    w.done("three_bidders_and_two_concurrent_closers_agree_on_the_winner");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn running_agents_bid_close_and_the_winner_runs_the_task() {
    let w = World::new("auction-fleet").await;
    // "slow" keeps an agent busy, which lowers its bid (phase 3, load).
    let handler =
        shell("input=$(cat); case \"$input\" in *slow*) sleep 8;; esac; echo 'vayu:result ok'");
    let (stop, rx) = tokio::sync::watch::channel(false);
    let mut running = Vec::new();
    for id in ["bid-a", "bid-b", "bid-c"] {
        let store = w.unregistered_agent(id).await;
        let mut cfg = fast_agent(id, handler.clone());
        cfg.concurrency = 2;
        let mut rx = rx.clone();
        running.push(tokio::spawn(agent::run(store, cfg, async move {
            let _ = rx.wait_for(|s| *s).await;
        })));
    }
    let alice = w.human("alice").await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let slow = alices("slow");
    let slow = tasks::create(&alice, slow).await.expect("created");
    let busy = wait_task(&w.admin, &slow.task_id, LIMIT, "running", |v| {
        v.value.status == vayu::lifecycle::Status::Executing
    })
    .await;
    let busy = busy.value.assignment.primary_agent.expect("claimed");

    let t = open_auction(&alice).await;
    let done = wait_completed(&w.admin, &t.task_id, LIMIT).await;
    let a = &done.value.assignment;
    assert_eq!(a.bids.len(), 3, "every agent bid: {:?}", a.bids);
    let winner = auction::winner(&a.bids).expect("bids").to_string();
    assert_eq!(
        a.pushed_to.as_deref(),
        Some(winner.as_str()),
        "closed for the winner"
    );
    assert_eq!(
        a.primary_agent.as_deref(),
        Some(winner.as_str()),
        "the winner ran it"
    );
    assert_eq!(a.executors, vec![winner.clone()], "nobody else claimed it");
    let slow_now = w.read(&slow.task_id).await;
    assert_ne!(
        winner, busy,
        "the busy agent bid lower: {:?}; the slow task: {:?} {:?}",
        a.bids, slow_now.value.status, slow_now.value.history
    );
    assert!(
        a.bids[&busy].score < a.bids[&winner].score,
        "load lowers a bid: {:?}",
        a.bids
    );
    stop.send(true).expect("the agents listen");
    for r in running {
        r.await.expect("no panic").expect("the agent stops cleanly");
    }
    w.done("running_agents_bid_close_and_the_winner_runs_the_task");
}
