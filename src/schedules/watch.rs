//! An agent's view of the schedules, and its evaluation on each heartbeat.
//!
//! Why a listener: every agent evaluates every schedule every few
//! seconds, and reading them each time would cost a read per schedule per
//! agent per heartbeat whether anything is due or not. A listener costs
//! one read per schedule at start and one per change (a tick moves the
//! cursor: one read per agent), and nothing while nothing changes. The
//! view may lag a commit by a few milliseconds; an evaluation from a
//! stale version is refused by its update-time precondition and reads
//! the schedule again, so a lagging view costs a refused commit, never a
//! second task.
//!
//! Why the owner of the schedule's lane goes first: every agent could
//! commit each tick the moment it comes due, and all but one would be
//! refused, each refusal a wasted commit and a read (and, on the
//! emulator, a lock that can stall a claim of the new task for 2 s). So
//! the agent whose lanes hold the schedule's lane (`crate::lanes`, the
//! same split as the queue's) evaluates it at its clock's time, and the
//! others [`DEFER`] behind: they create a tick only when the owner has
//! not within that time (it died, or is cut off), with no leader to
//! elect and nothing to hand over.

use super::{Clock, Seen, evaluate_one, zone};
use crate::cron::DEFAULT_CAP;
use crate::layout;
use crate::listen::{ListenEvent, Listener, QuerySpec};
use crate::store::Store;
use jiff::SignedDuration;
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use tokio::task::JoinHandle;

/// The schedules an agent knows of, by id, as its listener (or its own
/// commits) last showed them.
#[derive(Clone, Default, Debug)]
pub struct View(Arc<Mutex<Known>>);

#[derive(Default, Debug)]
struct Known {
    docs: HashMap<String, Seen>,
    /// Versions already reported as unusable, so a broken schedule is
    /// logged once per version, not once per heartbeat.
    warned: HashSet<String>,
}

impl View {
    fn lock(&self) -> std::sync::MutexGuard<'_, Known> {
        // A panic while holding the lock leaves whole values behind: the
        // view stays usable (at worst a version older than it could be).
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Every schedule known, in no order.
    pub fn schedules(&self) -> Vec<Seen> {
        self.lock().docs.values().cloned().collect()
    }

    /// Keeps `seen` unless a later version is already known.
    pub fn offer(&self, seen: Seen) {
        let mut k = self.lock();
        let id = seen.schedule.schedule_id.clone();
        if k.docs.get(&id).is_none_or(|old| seen.newer_than(old)) {
            k.docs.insert(id, seen);
        }
    }

    fn remove(&self, id: &str) {
        self.lock().docs.remove(id);
    }

    fn apply(&self, event: ListenEvent) {
        match event {
            ListenEvent::Reset => self.lock().docs.clear(),
            ListenEvent::Upsert(doc) => match Seen::decode(&doc) {
                Ok(seen) => self.offer(seen),
                Err(e) => self.warn_once(&doc.name, &e.to_string()),
            },
            ListenEvent::Removed(name) => {
                self.remove(name.rsplit('/').next().unwrap_or_default());
            }
            ListenEvent::Current => {}
        }
    }

    fn warn_once(&self, key: &str, why: &str) {
        if self.lock().warned.insert(key.to_string()) {
            tracing::warn!(
                schedule = key,
                why,
                "a schedule cannot be evaluated; skipping it"
            );
        }
    }
}

/// How far behind its clock an agent evaluates a schedule whose lane it
/// does not own: several heartbeats, so the owner has had its turn, and
/// far less than the catch-up grace (5 minutes), so a dead owner's tick
/// is still on time when a peer creates it.
pub const DEFER: SignedDuration = SignedDuration::from_secs(30);

/// The agent's schedule ticker: the listener that keeps its [`View`], and
/// the evaluation in flight (one at a time). Dropping it stops both.
pub struct Ticker {
    view: View,
    _listener: Listener,
    evaluating: Option<JoinHandle<()>>,
}

impl Ticker {
    /// Starts listening to `schedules`.
    pub fn start(store: &Store) -> Ticker {
        let spec = QuerySpec {
            parent: store.db().get_documents_path().clone(),
            collection_id: layout::SCHEDULES.into(),
            filter: None,
            order_by: vec![],
            limit: None,
        };
        let (listener, mut events) =
            Listener::spawn(store.db().clone(), spec, store.counters().clone(), 64);
        let view = View::default();
        let fed = view.clone();
        // Ends when the listener does (its sender is dropped with it).
        tokio::spawn(async move {
            while let Some(e) = events.recv().await {
                fed.apply(e);
            }
        });
        Ticker {
            view,
            _listener: listener,
            evaluating: None,
        }
    }

    pub fn view(&self) -> &View {
        &self.view
    }

    /// On a heartbeat: evaluates every schedule at `clock`'s time (those
    /// in `lanes`, the agent's own) or [`DEFER`] behind it (the others),
    /// in the background, unless the previous evaluation still runs.
    pub fn on_heartbeat(&mut self, store: &Store, clock: &Clock, lanes: &[i64]) {
        if self.evaluating.as_ref().is_some_and(|h| !h.is_finished()) {
            return;
        }
        let (store, view, now) = (store.clone(), self.view.clone(), clock.now());
        let lanes = lanes.to_vec();
        self.evaluating = Some(tokio::spawn(async move {
            let done = evaluate(&store, &view, now, &lanes).await;
            if !done.is_empty() {
                tracing::info!(created = ?done, "created the tasks of due schedule ticks");
            }
        }));
    }
}

impl Drop for Ticker {
    fn drop(&mut self) {
        if let Some(h) = self.evaluating.take() {
            h.abort();
        }
    }
}

/// Evaluates every schedule in `view`, one after the other: those whose
/// lane is in `lanes` at `now`, the others [`DEFER`] before it; and keeps
/// what the commits taught in the view. Returns the tasks created.
/// Errors are logged, not returned: one broken schedule must not stop
/// the others, and the next heartbeat tries again.
pub async fn evaluate(
    store: &Store,
    view: &View,
    now: jiff::Timestamp,
    lanes: &[i64],
) -> Vec<String> {
    let mut created = Vec::new();
    for seen in view.schedules() {
        let s = &seen.schedule;
        if s.paused {
            continue;
        }
        let now = if lanes.contains(&crate::spread::lane_for(&s.schedule_id)) {
            now
        } else {
            now.saturating_sub(DEFER).unwrap_or(now)
        };
        let version = format!("{}@{}", s.schedule_id, seen.update_time.seconds);
        let tz = match zone(&s.tz) {
            Ok(tz) => tz,
            Err(e) => {
                view.warn_once(&version, &e.to_string());
                continue;
            }
        };
        if let Err(e) = s.parsed_cron() {
            view.warn_once(&version, &e.to_string());
            continue;
        }
        match evaluate_one(store, &seen, &tz, now, DEFAULT_CAP).await {
            Ok((done, fresh)) => {
                if done.lost > 0 {
                    tracing::debug!(schedule = %s.schedule_id, "another agent ticked it first");
                }
                created.extend(done.created);
                match fresh {
                    Some(Some(f)) => view.offer(f),
                    Some(None) => view.remove(&s.schedule_id),
                    None => {}
                }
            }
            Err(e) => {
                tracing::warn!(schedule = %s.schedule_id, error = %e, "evaluating a schedule failed; the next heartbeat tries again");
            }
        }
    }
    created
}
