//! Teams that did not form by their deadline ([`crate::team::form`]): an
//! agent that sees, in its view of the queue, a part nobody claimed in
//! time degrades or cancels it, as the requester chose. Any agent may;
//! the write is conditioned on the version seen, so when two make it at
//! once one change lands and the other is refused.

use super::*;
use crate::team::form::{self, Step, Unformed};

impl Agent {
    /// Degrades or cancels each overdue part in view, once per version.
    pub(super) fn settle_unformed(&mut self) {
        let t_now = now();
        let mut due = Vec::new();
        let mut live = None;
        for seen in self.in_view() {
            if form::overdue(&seen.value, t_now).is_none()
                || self.queue.unformed.get(&seen.value.task_id) == Some(&seen.update_time)
            {
                continue;
            }
            // Only read when a part is overdue: this runs on every event.
            let live = live.get_or_insert_with(|| self.live_offers());
            let why = assign::waiting_reason(&seen.value, live);
            if let Some(step) = form::step(&seen.value, t_now, why.as_deref()) {
                due.push((seen.clone(), step));
            }
        }
        for (seen, step) in due {
            (self.queue.unformed).insert(seen.value.task_id.clone(), seen.update_time);
            let (store, me) = (self.store.clone(), self.cfg.agent_id.clone());
            self.background
                .spawn(async move { apply(&store, &me, &seen, step).await });
        }
    }

    /// The next formation deadline in view that calls for a change.
    pub(super) fn next_form_deadline(&self) -> Option<crate::model::Time> {
        let t_now = now();
        (self.in_view())
            .filter_map(|v| v.value.part_of.as_ref()?.form())
            .filter(|f| f.unformed != Unformed::Wait && f.by >= t_now)
            .map(|f| f.by)
            .min()
    }

    /// Every queued task this agent's view shows, claimable here or not.
    fn in_view(&self) -> impl Iterator<Item = &Versioned<Task>> {
        let candidates = self.queue.candidates.values().map(|c| &c.seen);
        self.queue.stuck.values().chain(candidates)
    }
}

/// Writes `step` over `seen`; after a cancel, settles the parent (the
/// dependency rules cancel it, naming the part). A refusal means another
/// agent made the change first, or the part was claimed after all.
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
        tracing::debug!(task = %id, error = %e, "a part past its formation deadline changed first");
        return;
    }
    tracing::info!(task = %id, ?step, "a team part was not claimed by its formation deadline");
    if matches!(step, Step::Cancel(_))
        && let Err(e) = crate::deps::release_dependents(store, &id, me).await
    {
        tracing::warn!(task = %id, error = %e, "could not settle the team's parent; the sweep will");
    }
}
