//! What the agent does with what it knows, before it waits for the next
//! event: follow its share of the lanes, forward what it cannot run, widen
//! or narrow its view of the queue, bid on and close auctions, and claim
//! into its free slots.

use super::*;
use queue::{MAX_WINDOW, initial_window};

/// The loop's [`Instant`] for the wall-clock time `at`, seen at `t_now`:
/// a millisecond after it, so a wake-up never comes just before it.
pub(super) fn instant_at(t_now: crate::model::Time, at: crate::model::Time) -> Instant {
    let ms = crate::model::millis_between(t_now, at).max(0) as u64 + 1;
    Instant::now() + Duration::from_millis(ms)
}

/// How long after its lanes change an agent looks at its queue afresh
/// (`recheck_queue`): long enough for the takeovers that follow a peer's
/// death to have landed.
const RECHECK_AFTER: Duration = Duration::from_secs(2);

impl Agent {
    pub(super) async fn decide(&mut self) {
        self.relisten_peers();
        self.follow_lanes().await;
        self.recheck_queue().await;
        self.forward_stuck();
        self.settle_unformed();
        self.choose_view().await;
        self.run_auctions();
        self.queue.unpark_due();
        self.claim_free_slots();
    }

    /// When to look again without an event: the claims breaker reopening,
    /// the earliest end of a waiting task's backoff, a parked claim's retry.
    pub(super) fn next_wake(&self) -> Instant {
        let t_now = now();
        let next_not_before = (self.queue.candidates.values())
            .filter_map(|c| c.seen.value.not_before)
            .filter(|nb| *nb > t_now)
            .min()
            .map(|nb| instant_at(t_now, nb));
        // A peer's critical task becomes ours to claim at our turn.
        let foreign_due = (self.queue.candidates.values())
            .filter(|c| !c.ours_now())
            .filter_map(|c| c.ours_from)
            .min();
        // A push to a peer runs out: the task falls back to pull.
        let push_ends = (self.queue.candidates.values())
            .filter_map(|c| assign::push::frees_at(&c.seen.value, &self.cfg.agent_id, t_now))
            .min()
            .map(|at| instant_at(t_now, at));
        // An auction's window ends: close it, or claim it as pulled.
        let auction_ends = self.next_auction_end().map(|at| instant_at(t_now, at));
        // A team part's formation deadline passes: degrade or cancel it.
        let form_ends = self.next_form_wake();
        // A task whose claim did not land is due to be tried again.
        let unpark = self.queue.next_unpark();
        // A lingering pager looks again. One already due waits for a free
        // slot, which comes with an event: waking for it again and again
        // would spin the loop.
        let linger = (self.queue.linger.next_fetch).filter(|t| *t > Instant::now());
        // An open breaker lets its probe out (only when it holds tasks
        // back: an idle agent need not wake for it).
        let probe = (self.breakers.next_probe(std::time::Instant::now()))
            .filter(|_| !self.queue.candidates.is_empty())
            .map(Instant::from_std);
        let far = Instant::now() + Duration::from_secs(86_400 * 365);
        [
            self.claims.paused_until,
            self.recheck_at,
            self.relisten.at,
            next_not_before,
            foreign_due,
            push_ends,
            auction_ends,
            form_ends,
            unpark,
            linger,
            probe,
        ]
        .into_iter()
        .flatten()
        .min()
        .unwrap_or(far)
    }

    pub(super) fn live_offers(&self) -> Vec<Offer> {
        let healthy_for = self.health.healthy_for();
        let watched = &self.watch.ids;
        peers::live_offers(
            &self.offer,
            &self.peers,
            watched,
            self.stale_after,
            healthy_for,
        )
    }

    /// The split of the lanes follows the live peers: listen again when our
    /// share changed (a peer joined, left or died).
    async fn follow_lanes(&mut self) {
        if !std::mem::take(&mut self.recheck_lanes) {
            return;
        }
        self.follow_ring().await;
        let lanes = peers::my_lanes(&self.cfg.agent_id, &self.live_offers());
        if lanes == self.queue.lanes {
            return;
        }
        tracing::info!(from = ?self.queue.lanes, to = ?lanes, "the lanes changed");
        self.queue.lanes = lanes;
        self.listen_afresh().await;
        self.queue.forget();
        self.queue.parked.clear();
        self.recheck_at = Some(Instant::now() + RECHECK_AFTER);
        self.relisten.at = Some(Instant::now() + peers::RELISTEN_AFTER);
    }

    /// Listen again when this agent requeued tasks in a takeover, and
    /// [`RECHECK_AFTER`] after its lanes changed (when peers take over a
    /// dead one's tasks), so that the queue is seen as it stands after
    /// those commits. The listener should show them as changes, but under
    /// load (tests `resilience`, several times, and `deps_flow`) a task
    /// requeued 50–100 ms after the agents' lanes changed stayed queued,
    /// every agent idle, until the test gave up: a fresh snapshot taken
    /// after the requeue has it. A read of the window, once per takeover
    /// pass and once per change of the lanes.
    async fn recheck_queue(&mut self) {
        use std::sync::atomic::Ordering;
        let due = self.recheck_at.is_some_and(|t| t <= Instant::now());
        if !self.requeued.swap(false, Ordering::Relaxed) && !due {
            return;
        }
        if due {
            self.recheck_at = None;
        }
        tracing::debug!("a takeover or a change of lanes: listening again");
        self.listen_afresh().await;
    }

    /// Listens again to the whole of its lanes in the first window: a
    /// fresh snapshot of the queue as it stands now.
    async fn listen_afresh(&mut self) {
        let window = initial_window(self.cfg.concurrency);
        self.queue
            .relisten(&self.store, QueueView::All, window)
            .await;
    }

    /// Tasks in our lanes that we cannot run go to a peer that can.
    fn forward_stuck(&mut self) {
        if self.queue.stuck.is_empty() {
            return;
        }
        let live = self.live_offers();
        for seen in self.queue.stuck.values() {
            let Some(lane) = lanes::forward_lane(&seen.value, &self.cfg.agent_id, &live) else {
                continue;
            };
            let id = &seen.value.task_id;
            if self.queue.forwarded.get(id) == Some(&seen.update_time) {
                continue;
            }
            self.queue.forwarded.insert(id.clone(), seen.update_time);
            let (store, seen) = (self.store.clone(), seen.clone());
            self.background.spawn(async move {
                let mut t = seen.value.clone();
                t.lane = lane;
                match store.replace_task(&seen, &t, &[], vec![]).await {
                    Ok(_) => tracing::debug!(task = %t.task_id, lane, "forwarded to a peer's lane"),
                    Err(e) => tracing::debug!(task = %t.task_id, error = %e, "could not forward"),
                }
            });
        }
    }

    /// The view of the queue: all of it while it fits in the window; the
    /// best tasks by priority when it does not; a wider window when the
    /// best ones are all tasks this agent can never run (other types or
    /// capabilities).
    async fn choose_view(&mut self) {
        // A page on its way has made `current` false until it arrives.
        if !self.queue.current {
            return;
        }
        if self.queue.source.is_paging() {
            return self.keep_paging().await;
        }
        let q = &self.queue;
        // Work flowing through the agent (a run ended within CHURN), with
        // every slot busy (nothing the listener shows could be claimed
        // until one frees) or more than one task waiting: page, and fetch
        // when a slot has nothing to take (`pages.rs`). One task at a time
        // is a trickle: the listener serves it within milliseconds.
        let limit = pages::page_size(self.cfg.concurrency, q.window);
        // Counted only when it can matter: `decide` runs on every event.
        let backlog = || self.eligible(now()).count() > 1;
        if self.flowing() && (self.free_slots() == 0 || backlog()) {
            tracing::debug!(limit, "paging");
            return self.queue.page(limit).await;
        }
        let full = q.in_window.len() >= q.window as usize;
        let next = match q.view {
            QueueView::All if full => Some((QueueView::Priority, q.window)),
            QueueView::Priority if q.in_window.len() < q.window as usize / 4 => {
                Some((QueueView::All, initial_window(self.cfg.concurrency)))
            }
            QueueView::Priority if full && q.candidates.is_empty() && q.window < MAX_WINDOW => {
                Some((QueueView::Priority, (q.window * 4).min(MAX_WINDOW)))
            }
            _ => None,
        };
        if let Some((view, window)) = next {
            tracing::info!(?view, window, "changing the view of the queue");
            self.queue.relisten(&self.store, view, window).await;
        }
    }
}

impl Agent {
    /// Whether a run ended within the last [`pages::CHURN`]: work is
    /// flowing through this agent, and pages cost the emulator less than
    /// a listener would. With long runs it listens instead, so that while
    /// its slots are busy it still forwards what it cannot run and bids on
    /// auctions.
    fn flowing(&self) -> bool {
        (self.run_ends.back()).is_some_and(|t| t.elapsed() < pages::CHURN)
    }

    /// Whether `concurrency` runs ended within the last [`pages::CHURN`]:
    /// the slots turn over fast enough that more work is likely within a
    /// few hundred milliseconds.
    fn churning(&self) -> bool {
        self.run_ends.len() >= self.cfg.concurrency
            && (self.run_ends.front()).is_some_and(|t| t.elapsed() < pages::CHURN)
    }

    /// While paging: fetch the next page when a free slot has nothing to
    /// take or the page is too old to take from; when a page brings
    /// nothing to take while a slot is free (the agent has caught up),
    /// look again shortly while churning ([`pages::Linger`]) and listen
    /// again after that, or at once; listen again too when every slot is
    /// held by runs that are not ending soon.
    async fn keep_paging(&mut self) {
        let eligible = self.eligible(now()).count();
        let fresh = std::mem::take(&mut self.queue.page_arrived);
        let free = self.free_slots();
        if fresh {
            self.queue.linger.after_page(eligible > 0);
        }
        let caught_up = fresh && eligible == 0 && free > 0;
        tracing::trace!(eligible, fresh, free, caught_up, "paging");
        if caught_up && self.churning() && !self.queue.linger.spent() {
            // Nothing now, but work has been arriving fast: look again
            // shortly (`Linger`). A trickle listens at once, so that a task
            // created into an idle fleet is claimed within milliseconds.
        } else if caught_up || (free == 0 && !self.flowing()) {
            tracing::debug!(caught_up, "listening again");
            self.listen_afresh().await;
        } else if !self.queue.linger.due() {
            // A lingering look is scheduled: nothing is fetched before it.
        } else if !fresh && free > 0 && eligible < free {
            self.queue.next_page(&self.store, i32::MAX);
        } else if !fresh && free > 0 && self.queue.page_stale() {
            // Only what the free slots take: the rest of a stale page
            // would be read again for nothing.
            self.queue.next_page(&self.store, free as i32);
        }
    }
}
