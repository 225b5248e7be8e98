//! What a schedule tick costs in Firestore operations (for docs/bench.md),
//! counted at the client (`vayu::metrics`), with three evaluators signed
//! in as agents, each with its own listener view of the schedules, as
//! `vayu-agent` runs them:
//! - owner first, as agents do: the owner of the schedule's lane commits
//!   the tick, the others evaluate `DEFER` behind and find nothing due;
//! - a race: all three evaluate the same tick at once (what happens when
//!   the owner is slow and its peers' deferral has run out).
//!
//! Both create exactly one task per tick. The rules' own reads are not
//! seen by the client: a tick's create reads the active and completed
//! piles (is the id free?), the schedule (before and after the commit)
//! and the quota window (firestore.rules `isTickTask`: 4 documents, 5
//! calls), billed by Firestore.

mod common;
mod rules_support;

use jiff::{SignedDuration, Timestamp};
use rules_support::*;
use std::sync::Arc;
use std::time::Duration;
use vayu::auth::SharedToken;
use vayu::cron::{CatchUp, tick_task_id};
use vayu::identity::{agent_claims, emulator_token};
use vayu::lanes::LANES;
use vayu::metrics::{OpCounters, OpSnapshot};
use vayu::model::{Priority, TaskType};
use vayu::schedules::{self, NewSchedule, Ticker};
use vayu::store::Store;
use vayu::tasks::NewTask;

const TICKS: i64 = 10;

struct Evaluator {
    store: Store,
    ticker: Ticker,
    counters: Arc<OpCounters>,
}

async fn evaluator(w: &World, id: &str) -> Evaluator {
    w.register(id, &[], &["*"]).await;
    let counters = Arc::new(OpCounters::default());
    let token = SharedToken::new(emulator_token(PROJECT, id, &agent_claims()));
    // The count is of the protocol, not of a loaded machine: a commit cut
    // off by the 10 s default would be counted and fail the tick.
    let mut cfg = w.config(Some(token));
    cfg.request_timeout = Duration::from_secs(60);
    let store = Store::connect_with_counters(&cfg, counters.clone())
        .await
        .expect("the emulator is up");
    let ticker = Ticker::start(&store);
    Evaluator {
        store,
        ticker,
        counters,
    }
}

fn total(es: &[Evaluator]) -> OpSnapshot {
    let mut t = OpSnapshot::default();
    for e in es {
        let s = e.counters.snapshot();
        t.commits += s.commits;
        t.writes += s.writes;
        t.polling_reads += s.polling_reads;
        t.listener_reads += s.listener_reads;
        t.precondition_failures += s.precondition_failures;
    }
    t
}

/// Waits until every evaluator's view shows the schedule `sid` with its
/// cursor at `at`.
async fn views_at(es: &[Evaluator], sid: &str, at: Timestamp) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    for e in es {
        loop {
            let seen = e.ticker.view().schedules();
            let cursor = seen
                .iter()
                .find(|s| s.schedule.schedule_id == sid)
                .and_then(|s| s.schedule.last_tick);
            if cursor.map(|c| c.0) == Some(at) {
                break;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "a view never caught up"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

async fn run(w: &World, sid: &str, race: bool) -> (OpSnapshot, usize) {
    let now = Timestamp::now().as_second();
    let start = Timestamp::from_second(now - now.rem_euclid(60) - 30 * 60).expect("in range");
    let alice = w.human("alice").await;
    let mut task = NewTask::new(TaskType::Maintenance, Priority::Normal, "costed");
    task.requester.id = "alice".into();
    let new = NewSchedule {
        id: Some(sid.into()),
        cron: "* * * * *".into(),
        tz: "UTC".into(),
        catch_up: CatchUp::One,
        task,
    };
    schedules::create(&alice, new)
        .await
        .expect("alice creates it");
    // Its cursor back to `start`, as admin (ticks must be in the past).
    let seen = schedules::find(&w.admin, sid).await.expect("exists");
    let rewind = schedules::cursor_write(
        &w.admin,
        sid,
        vayu::model::Time(start),
        None,
        seen.update_time,
    );
    w.admin.commit(vec![rewind]).await.expect("admin writes");
    let es = vec![
        evaluator(w, &format!("{sid}-a")).await,
        evaluator(w, &format!("{sid}-b")).await,
        evaluator(w, &format!("{sid}-c")).await,
    ];
    views_at(&es, sid, start).await;
    let before = total(&es);
    let all: Vec<i64> = (0..LANES).collect();
    for i in 1..=TICKS {
        let tick = start
            .checked_add(SignedDuration::from_mins(i))
            .expect("in range");
        let now = tick
            .checked_add(SignedDuration::from_secs(10))
            .expect("in range");
        let eval = |e: &Evaluator, lanes: Vec<i64>| {
            let (store, view) = (e.store.clone(), e.ticker.view().clone());
            async move { schedules::evaluate(&store, &view, now, &lanes).await }
        };
        // Owner first: one evaluator owns every lane, the others none.
        let lanes = |k: usize| {
            if race || k == 0 {
                all.clone()
            } else {
                Vec::new()
            }
        };
        let (a, b, c) = tokio::join!(
            eval(&es[0], lanes(0)),
            eval(&es[1], lanes(1)),
            eval(&es[2], lanes(2))
        );
        assert_eq!(a.len() + b.len() + c.len(), 1, "tick {i}: one task");
        views_at(&es, sid, tick).await;
    }
    let spent = total(&es).since(&before);
    let mut found = 0;
    for i in 1..=TICKS {
        let tick = start
            .checked_add(SignedDuration::from_mins(i))
            .expect("in range");
        found += usize::from(
            w.admin
                .find_task(&tick_task_id(sid, tick))
                .await
                .expect("reads")
                .is_some(),
        );
    }
    (spent, found)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operations_per_tick() {
    let w = World::new("sched-cost").await;
    for (sid, race) in [("owner-first", false), ("race", true)] {
        let (s, found) = run(&w, sid, race).await;
        assert_eq!(found as i64, TICKS, "{sid}: one task per tick");
        let per = |n: u64| n as f64 / TICKS as f64;
        // Exactly one commit per tick lands; the others were refused (by
        // the rules, which judge a stale commit before its precondition).
        let refused = s.commits - TICKS as u64;
        println!(
            "{sid}: per tick, over 3 evaluators: {:.1} commits ({:.1} refused), {:.1} writes, \
             {:.1} polling reads, {:.1} listener reads; billed at the client {:.1}",
            per(s.commits),
            per(refused),
            per(s.writes),
            per(s.polling_reads),
            per(s.listener_reads),
            per(s.billed())
        );
        if !race {
            assert_eq!(s.commits, TICKS as u64, "owner first: one commit per tick");
            assert_eq!(
                s.writes,
                3 * TICKS as u64,
                "the task, the quota window, the schedule"
            );
        }
    }
    w.done("operations_per_tick");
}
