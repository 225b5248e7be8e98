//! The agent's view of the queue: which documents its listener follows
//! (its lanes, all of them or the best by priority, in a window).

use super::*;
use parking::Parked;
use state::Candidate;

/// The largest window an agent listens to. Past it a backlog of tasks that
/// no agent can run would cost every agent a full read of the queue.
pub(super) const MAX_WINDOW: i32 = 4096;

/// How many of the queue's top tasks an agent follows: enough to keep its
/// slots busy and to spread agents over different tasks.
pub(super) fn initial_window(concurrency: usize) -> i32 {
    (4 * concurrency as i32).max(64)
}

/// How an agent looks at the queued pile.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueueView {
    /// Every document of the pile, up to the window, in id order. While the
    /// whole pile fits, the agent sees all of it: priority order is sorted
    /// out in memory, and documents that do not parse (a mistyped status, a
    /// task typed into the console without its ordering fields) are seen
    /// and quarantined.
    All,
    /// A backlog larger than the window: the claimable tasks, best priority
    /// first, oldest first. Needs the composite index (status,
    /// priority_rank, created_at) in `firestore.indexes.json`. Documents
    /// without those fields are not in this view; they are seen once the
    /// backlog shrinks and the agent goes back to [`QueueView::All`].
    Priority,
    /// A page through a backlog (`pages.rs`): [`QueueView::Priority`] of
    /// the queued tasks only, without the rejected ones. The emulator runs
    /// each value of an `in` filter as a scan of its own, and an agent
    /// beside a peer filters on up to 8 lanes and the cross-lane branches:
    /// one status instead of two halves the scans of every page. A task
    /// sent back for rework is seen when the agent listens again, or by
    /// the lane-0 sweeper's look for tasks left waiting (`stale.rs`).
    Page,
}

/// What an agent listens to: a window of at most `limit` documents of the
/// queued pile, in the lanes `lanes` ([`crate::lanes`]), as `view` says.
///
/// A window, not the whole pile, so that a backlog of 100,000 tasks costs
/// an agent `limit` documents of memory and reads, not 100,000. (It also
/// matters on the emulator, which re-sends a listener's whole result set on
/// every write to the collection.) Lanes, so that each task reaches one
/// agent's listener, not every agent's.
pub fn queue_window(parent: String, view: QueueView, lanes: &[i64], limit: i32) -> QuerySpec {
    queue_window_for(parent, view, lanes, None, limit)
}

/// [`queue_window`] for the agent `me`, which also sees the tasks pushed
/// to it in any lane (`crate::assign::push`).
pub fn queue_window_for(
    parent: String,
    view: QueueView,
    lanes: &[i64],
    me: Option<&str>,
    limit: i32,
) -> QuerySpec {
    use firestore::gcloud_sdk::google::firestore::v1 as pb;
    use pb::structured_query::{Direction, FieldReference, Order};
    let asc = |f: &str| Order {
        field: Some(FieldReference {
            field_path: f.into(),
        }),
        direction: Direction::Ascending as i32,
    };
    // Every lane (an agent alone): no lane filter at all. Same documents,
    // and `in` costs a disjunction per value (the emulator runs each).
    // Otherwise its lanes, and the critical tasks of every lane: one a busy
    // peer's lane holds is not left waiting behind that peer's work while
    // this agent has a free slot (`Candidate::ours_from`). Critical
    // tasks are few, so seeing them all costs little. So are auctions,
    // which every capable agent bids on (`crate::assign::auction`).
    let all_lanes = (0..lanes::LANES).all(|l| lanes.contains(&l));
    let in_lanes = (!all_lanes)
        .then(|| {
            let critical = pb::Value {
                value_type: Some(pb::value::ValueType::IntegerValue(
                    crate::model::Priority::Critical.rank(),
                )),
            };
            let pushed =
                me.map(|me| store::field_eq("assignment.pushed_to", store::string_value(me)));
            let auction = pb::Value {
                value_type: Some(pb::value::ValueType::BooleanValue(true)),
            };
            store::any_of(
                [
                    Some(store::field_in_ints("lane", lanes)),
                    Some(store::field_eq("priority_rank", critical)),
                    pushed,
                    Some(store::field_eq("assignment.auction", auction)),
                ]
                .into_iter()
                .flatten()
                .collect(),
            )
        })
        .flatten();
    let status = match view {
        QueueView::All => None,
        QueueView::Priority => Some(store::field_in(
            "status",
            &[Status::Queued.as_str(), Status::Rejected.as_str()],
        )),
        QueueView::Page => Some(store::field_eq(
            "status",
            store::string_value(Status::Queued.as_str()),
        )),
    };
    let (filter, order_by) = match status {
        None => (in_lanes, vec![]),
        Some(status) => (
            store::all_of(std::iter::once(status).chain(in_lanes).collect()),
            vec![asc("priority_rank"), asc("created_at")],
        ),
    };
    QuerySpec {
        parent,
        collection_id: Pile::Queued.collection_id().into(),
        filter,
        order_by,
        limit: Some(limit),
    }
}

/// The agent's listener on the queued pile, and what it has shown.
pub(super) struct Queue {
    /// The queued pile's collection path.
    parent: String,
    /// This agent's id: it also sees the tasks pushed to it.
    me: String,
    pub(super) lanes: Vec<i64>,
    pub(super) view: QueueView,
    pub(super) window: i32,
    /// A listener, or pages while a backlog lasts (`pages.rs`).
    pub(super) source: pages::Source,
    pub(super) events: tokio::sync::mpsc::Receiver<ListenEvent>,
    /// Every document in the listener's result set, claimable or not.
    pub(super) in_window: HashMap<String, firestore::gcloud_sdk::prost_types::Timestamp>,
    /// The listener has sent its whole result set since it (re)opened,
    /// or the page asked for has arrived whole.
    pub(super) current: bool,
    /// A page arrived, and the agent has not yet looked at it.
    pub(super) page_arrived: bool,
    pub(super) candidates: HashMap<String, Candidate>,
    /// Tasks in our lanes that this agent can never run, to be forwarded,
    /// and the version of each we last forwarded (not twice the same).
    pub(super) stuck: HashMap<String, Versioned<Task>>,
    pub(super) forwarded: HashMap<String, firestore::gcloud_sdk::prost_types::Timestamp>,
    /// The version of each auction we last bid on or closed (not twice).
    pub(super) auctioned: HashMap<String, firestore::gcloud_sdk::prost_types::Timestamp>,
    /// The version of each overdue team part we last tried to degrade or
    /// cancel, and when (`formation.rs`): not again until it changes, or
    /// the try is old enough to retry.
    pub(super) unformed: HashMap<String, (firestore::gcloud_sdk::prost_types::Timestamp, Instant)>,
    /// Documents that are not tasks, handed to [`intake`] once each.
    pub(super) malformed: HashSet<String>,
    /// Tasks whose claim did not land, held back until their retry is due
    /// ([`Queue::park`]) or the listener shows them changed or gone.
    pub(super) parked: HashMap<String, Parked>,
    /// How many claims in a row of each parked task's version did not
    /// land (refused, lost or aborted), so that a claim the rules keep
    /// refusing is tried ever less often.
    pub(super) misses: HashMap<String, (firestore::gcloud_sdk::prost_types::Timestamp, u32)>,
    /// While paging: when the candidates were last fetched (or, on the
    /// switch, shown by the listener).
    pub(super) page_at: Instant,
    /// The queued version of each task this agent claimed: a page fetched
    /// while the claim was in flight shows it still queued, and is not
    /// believed (claimed again after its run, it would lose to ourselves).
    pub(super) taken: HashMap<String, firestore::gcloud_sdk::prost_types::Timestamp>,
    /// While paging: the empty pages since the last with work.
    pub(super) linger: pages::Linger,
}

impl Queue {
    /// Listens to all of `lanes`, in the first window.
    pub(super) fn open(store: &Store, me: &str, lanes: Vec<i64>, concurrency: usize) -> Queue {
        let parent = store.name(&Pile::Queued.parent());
        let (view, window) = (QueueView::All, initial_window(concurrency));
        let (listener, events) = listen_queue(store, &parent, me, view, &lanes, window);
        Queue {
            parent,
            me: me.to_string(),
            lanes,
            view,
            window,
            source: pages::Source::Listening(listener),
            events,
            in_window: HashMap::new(),
            current: false,
            page_arrived: false,
            candidates: HashMap::new(),
            stuck: HashMap::new(),
            forwarded: HashMap::new(),
            auctioned: HashMap::new(),
            unformed: HashMap::new(),
            malformed: HashSet::new(),
            parked: HashMap::new(),
            misses: HashMap::new(),
            page_at: Instant::now(),
            taken: HashMap::new(),
            linger: pages::Linger::default(),
        }
    }

    /// Listens again, to `view` in a window of `window`.
    pub(super) async fn relisten(&mut self, store: &Store, view: QueueView, window: i32) {
        (self.view, self.window) = (view, window);
        self.source.stop().await;
        let (listener, events) =
            listen_queue(store, &self.parent, &self.me, view, &self.lanes, window);
        (self.source, self.events) = (pages::Source::Listening(listener), events);
        self.current = false;
        self.linger = pages::Linger::default();
    }

    /// Stops listening and pages through the priority view instead,
    /// `limit` tasks a page. What the listener showed is kept until the
    /// first page ([`Queue::next_page`]).
    pub(super) async fn page(&mut self, limit: i32) {
        self.source.stop().await;
        self.view = QueueView::Page;
        let spec = queue_window_for(
            self.parent.clone(),
            QueueView::Page,
            &self.lanes,
            Some(&self.me),
            limit,
        );
        (self.source, self.events) = pages::Source::pager(spec);
        self.page_at = Instant::now();
        self.linger = pages::Linger::default();
    }

    /// While paging: the candidates are too old to claim from (a task of
    /// a better priority may have come since); fetch first.
    pub(super) fn page_stale(&self) -> bool {
        self.source.is_paging() && self.page_at.elapsed() > pages::PAGE_TTL
    }

    /// Fetches the next page (while paging), of at most `limit` tasks.
    pub(super) fn next_page(&mut self, store: &Store, limit: i32) {
        self.current = false;
        self.linger.next_fetch = None;
        self.source.fetch(store, limit);
    }

    /// The listener starts over, or a page arrives: everything it showed
    /// is forgotten, except the parked tasks (they come back when their
    /// retry is due, not with every page).
    pub(super) fn forget(&mut self) {
        self.candidates.clear();
        self.stuck.clear();
        self.in_window.clear();
        self.current = false;
    }

    /// A page arrived: what is kept per task for tasks no longer in view
    /// goes (a page never says `Removed`).
    pub(super) fn prune(&mut self) {
        let ids: HashSet<&str> = (self.in_window.keys())
            .map(|n| n.rsplit('/').next().unwrap_or_default())
            .collect();
        self.parked.retain(|id, _| ids.contains(id.as_str()));
        self.misses.retain(|id, _| ids.contains(id.as_str()));
        self.taken.retain(|id, _| ids.contains(id.as_str()));
        self.forwarded.retain(|id, _| ids.contains(id.as_str()));
        self.auctioned.retain(|id, _| ids.contains(id.as_str()));
        self.unformed.retain(|id, _| ids.contains(id.as_str()));
        self.malformed.retain(|id| ids.contains(id.as_str()));
    }

    pub(super) async fn close(&mut self) {
        self.source.stop().await;
    }

    /// `first` and every event already behind it.
    pub(super) fn drain(&mut self, first: Option<ListenEvent>) -> Event {
        let mut events = Vec::new();
        let mut next = first;
        loop {
            match next {
                Some(ev) => events.push(ev),
                None => {
                    return Event::Queue {
                        events,
                        closed: true,
                    };
                }
            }
            match self.events.try_recv() {
                Ok(ev) => next = Some(ev),
                Err(_) => {
                    return Event::Queue {
                        events,
                        closed: false,
                    };
                }
            }
        }
    }
}

impl Agent {
    /// The queue listener showed changes: keep the claimable tasks, note
    /// the ones to forward, and hand documents that are not tasks to
    /// [`intake`].
    pub(super) fn on_queue(&mut self, events: Vec<ListenEvent>, closed: bool) -> ControlFlow<()> {
        for event in events {
            match event {
                ListenEvent::Reset => self.queue.forget(),
                ListenEvent::Upsert(doc) => self.on_queued_doc(doc),
                ListenEvent::Removed(name) => {
                    self.queue.in_window.remove(&name);
                    let id = name.rsplit('/').next().unwrap_or_default();
                    self.queue.candidates.remove(id);
                    self.queue.parked.remove(id);
                    self.queue.misses.remove(id);
                    self.queue.taken.remove(id);
                    self.queue.stuck.remove(id);
                    self.queue.forwarded.remove(id);
                    self.queue.auctioned.remove(id);
                    self.queue.unformed.remove(id);
                    self.queue.malformed.remove(id);
                }
                ListenEvent::Current => {
                    self.queue.current = true;
                    if self.queue.source.is_paging() {
                        self.queue.page_arrived = true;
                        self.queue.page_at = Instant::now();
                        self.queue.prune();
                    }
                }
            }
        }
        tracing::trace!(
            paging = self.queue.source.is_paging(),
            in_window = self.queue.in_window.len(),
            candidates = self.queue.candidates.len(),
            parked = self.queue.parked.len(),
            current = self.queue.current,
            "queue events"
        );
        if closed {
            tracing::error!("the queue listener stopped");
            return ControlFlow::Break(());
        }
        ControlFlow::Continue(())
    }

    fn on_queued_doc(&mut self, doc: firestore::gcloud_sdk::google::firestore::v1::Document) {
        let q = &mut self.queue;
        let id = doc.name.rsplit('/').next().unwrap_or_default().to_string();
        if q.taken.get(&id) == Some(&doc_time(&doc)) {
            return;
        }
        q.in_window.insert(doc.name.clone(), doc_time(&doc));
        // A newer version replaces a parked one, and its misses start
        // over; the same version (a page shows it again) stays parked.
        if (q.parked.get(&id)).is_some_and(|p| p.cand.seen.update_time == doc_time(&doc)) {
            return;
        }
        q.parked.remove(&id);
        if q.misses.get(&id).is_some_and(|(v, _)| *v != doc_time(&doc)) {
            q.misses.remove(&id);
        }
        let v = match Store::decode_versioned(&doc, Pile::Queued) {
            Ok(v) => v,
            Err(e) => {
                q.candidates.remove(&id);
                q.stuck.remove(&id);
                if q.malformed.insert(id) {
                    tracing::warn!(error = %e, "a queued document that is not a task");
                    let (store, me) = (self.store.clone(), self.cfg.agent_id.clone());
                    self.background.spawn(async move {
                        intake::take_in(&store, &doc, &e.to_string(), &me).await;
                    });
                }
                return;
            }
        };
        q.malformed.remove(&id);
        // Kept even while our runner for the same id is still winding
        // down: a retried task comes back to the queue before its runner
        // is reaped, and the listener will not show it again.
        // A critical task in a peer's lane: a candidate once it has waited
        // there a moment, never ours to forward.
        let pushed_to_me = v.value.assignment.pushed_to.as_deref() == Some(q.me.as_str());
        let foreign = !q.lanes.contains(&v.value.lane) && !pushed_to_me;
        let claimable = self.offer.could_claim(&v.value);
        if foreign {
            q.stuck.remove(&id);
            if claimable && v.value.status.is_claimable() {
                let ours_from = Some(state::foreign_turn(&q.me, &v));
                q.candidates.insert(id, Candidate { seen: v, ours_from });
            } else {
                q.candidates.remove(&id);
            }
            return;
        }
        if claimable {
            q.stuck.remove(&id);
            q.candidates.insert(
                id,
                Candidate {
                    seen: v,
                    ours_from: None,
                },
            );
        } else {
            q.candidates.remove(&id);
            if v.value.status.is_claimable() && v.value.control.is_none() {
                q.stuck.insert(id, v);
            } else {
                q.stuck.remove(&id);
            }
        }
    }
}

/// Opens the agent's queue listener on `view` of its `lanes`.
fn listen_queue(
    store: &Store,
    queued_parent: &str,
    me: &str,
    view: QueueView,
    lanes: &[i64],
    window: i32,
) -> (Listener, tokio::sync::mpsc::Receiver<ListenEvent>) {
    Listener::spawn(
        store.db().clone(),
        queue_window_for(queued_parent.to_string(), view, lanes, Some(me), window),
        store.counters().clone(),
        1024,
    )
}

/// A document's version; a document the server sent always has one.
fn doc_time(
    doc: &firestore::gcloud_sdk::google::firestore::v1::Document,
) -> firestore::gcloud_sdk::prost_types::Timestamp {
    doc.update_time.unwrap_or_default()
}
