//! The poll mode: the "simple polling worker" reference (issue 14).
//!
//! What a user writes when told transactions contend: no transaction, no
//! listener. Each of N workers
//! 1. queries the [`LIST`] highest-ranked queued tasks once
//!    (`order by priority_rank, created_at`), an ordinary query;
//! 2. takes a random one of that list and claims it with an update-time
//!    precondition (the document must be the version the query read), the
//!    same write as the textbook's claim ([`plain::set_status`]);
//! 3. runs the handler and completes it;
//! 4. takes the next random task of the same list, until the list runs
//!    out, and only then queries again. An empty queue is polled every
//!    20 ms.
//!
//! A claim that finds the task changed (another worker took it) is a lost
//! race, counted, and the worker moves on down its list. Claiming at
//! random from a stale list is what spreads workers over tasks; what it
//! costs in priority order is the rank error ([`super::rank`]). Run by
//! [`super::textbook::run_reference`], which shares the textbook's
//! producers, time limit and report.

use super::plain;
use super::textbook::Tally;
use crate::error::Result;
use crate::metrics::OpCounters;
use crate::model::Task;
use crate::store::{Precondition, Store};
use rand::Rng;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// How many tasks one query lists.
pub const LIST: i32 = 16;

/// One polling worker: list, claim at random, run, complete; repeat until
/// `m` tasks are completed or `stop`. Contention is counted, never
/// returned.
pub(super) async fn worker(
    store: Store,
    me: String,
    command: String,
    m: u64,
    tally: Arc<Tally>,
    stop: Arc<AtomicBool>,
) -> Result<()> {
    let mut list: Vec<(Task, firestore::gcloud_sdk::prost_types::Timestamp)> = Vec::new();
    while !stop.load(Ordering::Relaxed) && tally.completed.load(Ordering::Relaxed) < m {
        if list.is_empty() {
            tally.list_queries.fetch_add(1, Ordering::Relaxed);
            let docs = match plain::query_queued(&store, LIST, None).await {
                Ok((_, docs)) => docs,
                Err(e) if e.is_conflict() || e.is_transient() => {
                    tally.aborted.fetch_add(1, Ordering::Relaxed);
                    continue;
                }
                Err(e) => return Err(e),
            };
            list = docs
                .iter()
                .filter_map(|d| Some((Store::decode_task(d).ok()?, d.update_time?)))
                .collect();
            if list.is_empty() {
                tally.empty.fetch_add(1, Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(20)).await;
                continue;
            }
        }
        let pick = rand::rng().random_range(0..list.len());
        let (task, version) = list.swap_remove(pick);
        OpCounters::add(&store.counters().claim_attempts, 1);
        let claimed = plain::set_status(
            &store,
            &task.task_id,
            "executing",
            Some(&me),
            Precondition::UpdatedAt(version),
            None,
        )
        .await;
        match claimed {
            Ok(()) => {}
            Err(e) if e.is_conflict() => {
                tally.lost_races.fetch_add(1, Ordering::Relaxed);
                continue;
            }
            Err(e) if e.is_transient() => {
                tally.aborted.fetch_add(1, Ordering::Relaxed);
                continue;
            }
            Err(e) => return Err(e),
        }
        plain::run_handler(&command, &task, &me).await;
        let done = plain::complete(&store, &task.task_id, || stop.load(Ordering::Relaxed)).await?;
        if !tally.completion(done) {
            return Ok(());
        }
    }
    Ok(())
}
