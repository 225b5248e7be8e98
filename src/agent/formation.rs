//! Teams that did not form by their deadline ([`crate::team::form`]): an
//! agent that sees, in its view of the queue, a part nobody claimed in
//! time degrades or cancels it, as the requester chose. Any agent may;
//! the write is conditioned on the version seen, so when two make it at
//! once one change lands and the other is refused.
//!
//! A try is not repeated on the same version until [`RETRY`] has passed:
//! a write refused because the server's clock had not yet reached the
//! deadline, or lost to an outage, is made again, and one refused because
//! somebody changed the part first is answered by that change's event.

use super::*;
use crate::team::form::{self, Step, Unformed};

/// How long the agent waits past a deadline by its own clock: the rules
/// judge by the server's, and a write that arrives early is refused.
const SKEW: Duration = Duration::from_secs(1);

/// How long before a try on an unchanged version is made again.
const RETRY: Duration = Duration::from_secs(5);

impl Agent {
    /// Degrades or cancels each overdue part in view.
    pub(super) fn settle_unformed(&mut self) {
        let late = late_now();
        let mut due = Vec::new();
        let mut live = None;
        for seen in self.in_view() {
            if form::overdue(&seen.value, late).is_none() || self.tried(seen) {
                continue;
            }
            // Only read when a part is overdue: this runs on every event.
            let live = live.get_or_insert_with(|| self.live_offers());
            let why = assign::waiting_reason(&seen.value, live);
            if let Some(step) = form::step(&seen.value, late, why.as_deref()) {
                due.push((seen.clone(), step));
            }
        }
        for (seen, step) in due {
            let tried = (seen.update_time, Instant::now());
            (self.queue.unformed).insert(seen.value.task_id.clone(), tried);
            let (store, me) = (self.store.clone(), self.cfg.agent_id.clone());
            self.background
                .spawn(async move { apply(&store, &me, &seen, step).await });
        }
    }

    /// Whether this version of `seen` was tried too recently to try again.
    fn tried(&self, seen: &Versioned<Task>) -> bool {
        (self.queue.unformed.get(&seen.value.task_id))
            .is_some_and(|(version, at)| *version == seen.update_time && at.elapsed() < RETRY)
    }

    /// When to look again: the next formation deadline in view that calls
    /// for a change (plus the skew), or the next retry of a try.
    pub(super) fn next_form_wake(&self) -> Option<Instant> {
        let t_now = now();
        let deadline = (self.in_view())
            .filter_map(|v| v.value.part_of.as_ref()?.form())
            .filter(|f| f.unformed != Unformed::Wait && f.by >= late_now())
            .map(|f| f.by)
            .min()
            .map(|by| decide::instant_at(t_now, by) + SKEW);
        let retry = (self.queue.unformed.values())
            .map(|(_, at)| *at + RETRY)
            .filter(|at| *at > Instant::now())
            .min();
        deadline.into_iter().chain(retry).min()
    }

    /// Every queued task this agent's view shows, claimable here or not.
    fn in_view(&self) -> impl Iterator<Item = &Versioned<Task>> {
        let candidates = self.queue.candidates.values().map(|c| &c.seen);
        self.queue.stuck.values().chain(candidates)
    }
}

/// Now by this agent's clock, less [`SKEW`].
fn late_now() -> crate::model::Time {
    crate::model::Time(now().0 - SKEW)
}

/// Writes `step` over `seen`; after a cancel, settles the parent (the
/// dependency rules cancel it, naming the part).
async fn apply(store: &Store, me: &str, seen: &Versioned<Task>, step: Step) {
    let mut t = seen.value.clone();
    let id = t.task_id.clone();
    let path = match &step {
        Step::Degrade => {
            let note = form::degraded_note(&t);
            t.requires.clear();
            t.record(Status::Queued, now(), Some(me), Some(note));
            vec![]
        }
        Step::Cancel(reason) => {
            t.status = Status::Cancelled;
            t.record(Status::Cancelled, now(), Some(me), Some(reason.clone()));
            vec![Status::Cancelled]
        }
    };
    if let Err(e) = store.replace_task(seen, &t, &path, vec![]).await {
        tracing::info!(task = %id, error = %e, "a part past its formation deadline was not changed; tried again unless it changed");
        return;
    }
    tracing::info!(task = %id, ?step, "a team part was not claimed by its formation deadline");
    if matches!(step, Step::Cancel(_))
        && let Err(e) = crate::deps::release_dependents(store, &id, me).await
    {
        tracing::warn!(task = %id, error = %e, "could not settle the team's parent; the sweep will");
    }
}
