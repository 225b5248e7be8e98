//! The agent's part in auctions ([`crate::assign::auction`]): it bids on
//! the open ones it could run and closes the ones whose window ended.
//! Each is one conditional write in a spawned task. A lost race (another
//! bid or close landed first) changes nothing, and the listener brings
//! the new version, which is looked at again.

use super::*;
use crate::assign::auction::{self as auction, Step};
use crate::assign::score::{self, Candidate as Scored};
use crate::model::{Bid, Complexity};

impl Agent {
    /// Bids and closes, for every auction among the candidates.
    pub(super) fn run_auctions(&mut self) {
        let t_now = now();
        let me = self.cfg.agent_id.clone();
        let mut writes = Vec::new();
        for c in self.queue.candidates.values() {
            let t = &c.seen.value;
            let step = auction::step(t, &me, true, t_now);
            let waits = matches!(step, Step::Claim | Step::WaitUntil(_));
            if waits || self.queue.auctioned.get(&t.task_id) == Some(&c.seen.update_time) {
                continue;
            }
            let mut next = t.clone();
            let what = match step {
                Step::Bid => {
                    next.assignment.bids.insert(me.clone(), self.bid_for(t));
                    "bid"
                }
                Step::Close { winner } => {
                    auction::close(&mut next, winner, t_now);
                    "closed"
                }
                Step::Claim | Step::WaitUntil(_) => continue,
            };
            writes.push((c.seen.clone(), next, what));
        }
        for (seen, next, what) in writes {
            let id = seen.value.task_id.clone();
            self.queue.auctioned.insert(id, seen.update_time);
            let store = self.store.clone();
            self.background.spawn(async move {
                match store.replace_task(&seen, &next, &[], vec![]).await {
                    Ok(_) => tracing::debug!(task = %next.task_id, what, "auction"),
                    Err(e) => tracing::debug!(task = %next.task_id, what, error = %e, "auction write lost"),
                }
            });
        }
    }

    /// This agent's bid: its own score for the task (phases 3 and 4 under
    /// the project's weights, with what it knows of its history without a
    /// read) and its estimate (its mean duration on the type, else the
    /// task's estimate, else an hour).
    fn bid_for(&self, task: &Task) -> Bid {
        let stats = self.learner.known(task.task_type);
        let me = Scored {
            offer: self.offer.clone(),
            state: AgentState::Online,
            concurrency: self.cfg.concurrency as i64,
            draining: false,
            // A running task's complexity is not kept: each counts as
            // moderate, as the CLI's scorer counts them. A claim in flight
            // takes a slot too.
            running: vec![Complexity::Moderate; self.running.len() + self.claiming_ids.len()],
            stats: stats.clone(),
        };
        let minutes = (stats.and_then(|s| s.duration_ewma))
            .or(task.metadata.estimated_duration)
            .unwrap_or(60.0);
        // `bid` bounds both for the rules.
        let estimate_ms = (minutes * 60_000.0).round() as i64;
        auction::bid(score::score(&me, None, &self.weights), estimate_ms)
    }

    /// When the earliest open auction among the candidates ends.
    pub(super) fn next_auction_end(&self) -> Option<crate::model::Time> {
        let t_now = now();
        (self.queue.candidates.values())
            .filter_map(
                |c| match auction::step(&c.seen.value, &self.cfg.agent_id, true, t_now) {
                    Step::WaitUntil(at) => Some(at),
                    _ => None,
                },
            )
            .min()
    }
}
