//! The other agents as the agents listener shows them: who is live (for
//! the lanes) and who went quiet (to take its tasks over).

use super::*;
use recovery::Pass;

/// A peer as the agents listener (its registration) and, while watched,
/// the presence listener (its beats) last showed it.
pub(super) struct Peer {
    pub(super) doc: firestore::gcloud_sdk::google::firestore::v1::Document,
    /// What it can run, from its document (`None` if it does not parse).
    pub(super) offer: Option<Offer>,
    /// Its registration says it is offline (it shut down, or a watcher
    /// found it dead).
    pub(super) offline: bool,
    /// Its last beat of this run (server time) was long ago when last
    /// seen: a crashed agent's document from an earlier run. Judged from
    /// beats alone: a registration's time is when it was written, which
    /// for a live agent may be hours ago.
    pub(super) silent: bool,
    /// Its run, to tell a restart under the same id.
    incarnation: String,
    /// The last beat seen of this run (server time), while watched or at
    /// the start.
    pub(super) beat: Option<crate::model::Time>,
    /// When it last showed a sign of life, by this agent's clock (peers'
    /// clocks are not trusted for liveness); reset when it comes into
    /// watch.
    pub(super) changed: Instant,
    /// Whether this agent already took over its work since it went quiet.
    pub(super) taken_over: bool,
    /// A take-over of it was cut short (Firestore did not answer): tried
    /// again at the next tick, though it is now offline and out of the
    /// ring.
    retake: bool,
}

impl Peer {
    pub(super) fn new(
        doc: firestore::gcloud_sdk::google::firestore::v1::Document,
        previous: Option<&Peer>,
        stale_after: Duration,
    ) -> Peer {
        let parsed = firestore::FirestoreDb::deserialize_doc_to::<AgentDoc>(&doc).ok();
        let incarnation = parsed
            .as_ref()
            .map(|a| a.incarnation.clone())
            .unwrap_or_default();
        let same_run = previous.filter(|p| p.incarnation == incarnation);
        let beat = same_run.and_then(|p| p.beat);
        let offline = (parsed.as_ref()).is_some_and(|a| a.status == Some(AgentState::Offline));
        // A registration shown again (a listener's reconnect re-sends
        // them all, a drain request) says nothing new of its liveness.
        let silent = same_run.is_some_and(|p| p.silent) && presence::long_ago(beat, stale_after);
        Peer {
            offer: parsed.as_ref().map(Offer::of_agent),
            offline,
            silent,
            incarnation,
            beat,
            changed: Instant::now(),
            taken_over: offline && previous.is_some_and(|p| p.taken_over),
            retake: previous.is_some_and(|p| p.retake),
            doc,
        }
    }

    /// Its presence showed a beat (of this run: an earlier run's beat
    /// says nothing about this one).
    pub(super) fn on_beat(&mut self, beat: &crate::model::PresenceDoc, stale_after: Duration) {
        if beat.incarnation != self.incarnation || beat.beat_at <= self.beat {
            return;
        }
        self.beat = beat.beat_at;
        self.silent = presence::long_ago(self.beat, stale_after);
        if !self.silent {
            // Alive: judged afresh from now, should it fall silent again.
            self.changed = Instant::now();
            (self.taken_over, self.retake) = (false, false);
        }
    }

    /// Counted in the split of the lanes: its registration says it is up,
    /// and, when this agent watches it, it has beaten within `stale_after`
    /// of this agent's own beats last succeeding for that long (while we
    /// cannot reach Firestore, nobody looks dead to us). A peer nobody
    /// here watches is up until its watchers mark it offline.
    pub(super) fn is_live(
        &self,
        stale_after: Duration,
        healthy_for: Duration,
        watched: bool,
    ) -> bool {
        !self.offline
            && !self.silent
            && (!watched || self.changed.elapsed().min(healthy_for) <= stale_after)
    }

    /// A watched peer whose silence has lasted: time to mark it offline
    /// and take its work over; or one whose take-over was cut short.
    fn quiet(&self, stale_after: Duration) -> bool {
        self.retake || (!self.offline && (self.silent || self.changed.elapsed() > stale_after))
    }
}

/// How taking over a quiet peer ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum TakeOver {
    /// Marked offline, and its expired tasks requeued.
    Done,
    /// It beat after all: it keeps its tasks.
    Alive,
    /// Firestore did not answer, or this agent lost sight of it: again at
    /// the next tick.
    CutShort,
}

/// Takes over a peer that went quiet: marks it offline and requeues its
/// tasks as their leases expire.
async fn take_over_quiet(
    store: &Store,
    me: &str,
    peer_id: &str,
    (seen, beat): (
        &firestore::gcloud_sdk::google::firestore::v1::Document,
        Option<crate::model::Time>,
    ),
    max_wait: Duration,
    sight: &Sight,
) -> TakeOver {
    match recovery::confirm_offline(store, peer_id, seen, beat).await {
        Ok(true) => {}
        Ok(false) => {
            tracing::info!(peer = %peer_id, "a quiet peer heartbeated after all; not taking over");
            return TakeOver::Alive;
        }
        Err(e) => {
            tracing::warn!(peer = %peer_id, error = %e, "could not mark a quiet peer offline");
            return TakeOver::CutShort;
        }
    }
    match recovery::take_over(store, me, peer_id, max_wait, sight).await {
        Ok(Pass::Done(0)) => TakeOver::Done,
        Ok(Pass::Done(n)) => {
            tracing::info!(peer = %peer_id, n, "requeued a dead peer's tasks");
            TakeOver::Done
        }
        Ok(Pass::Blinded(n)) => {
            tracing::info!(peer = %peer_id, n, "lost sight of Firestore while taking over a peer; judging it again later");
            TakeOver::CutShort
        }
        Err(e) => {
            tracing::warn!(peer = %peer_id, error = %e, "could not take over a dead peer's tasks");
            TakeOver::CutShort
        }
    }
}

/// The live agents' offers, this one included, for [`crate::lanes`].
pub(super) fn live_offers(
    me: &Offer,
    peers: &HashMap<String, Peer>,
    watched: &[String],
    stale_after: Duration,
    healthy_for: Duration,
) -> Vec<Offer> {
    let mut out: Vec<Offer> = (peers.iter())
        .filter(|(id, p)| p.is_live(stale_after, healthy_for, watched.contains(id)))
        .filter_map(|(_, p)| p.offer.clone())
        .collect();
    out.push(me.clone());
    out
}

/// The lanes agent `me` owns, given the live agents' offers.
pub(super) fn my_lanes(me: &str, live: &[Offer]) -> Vec<i64> {
    let ids: Vec<String> = live.iter().map(|o| o.agent_id.clone()).collect();
    lanes::owned(me, &ids)
}

/// The id of the agent a document of `agents` belongs to.
fn agent_id_of(name: &str) -> &str {
    name.rsplit('/').next().unwrap_or_default()
}

/// Reads the peers listener until its first full snapshot, for at most
/// 5 s: which lanes are ours depends on who else is live, and listening
/// to every lane for a moment would cost a read of every queued task.
pub(super) async fn first_snapshot(
    me: &str,
    events: &mut tokio::sync::mpsc::Receiver<ListenEvent>,
    stale_after: Duration,
) -> HashMap<String, Peer> {
    let mut peers = HashMap::new();
    let complete = tokio::time::timeout(Duration::from_secs(5), async {
        while let Some(ev) = events.recv().await {
            match ev {
                ListenEvent::Upsert(doc) => {
                    let id = agent_id_of(&doc.name).to_string();
                    if id != me {
                        peers.insert(id, Peer::new(doc, None, stale_after));
                    }
                }
                ListenEvent::Removed(name) => {
                    peers.remove(agent_id_of(&name));
                }
                ListenEvent::Current => return true,
                ListenEvent::Reset => {}
            }
        }
        false
    })
    .await;
    if !matches!(complete, Ok(true)) {
        tracing::warn!("no snapshot of the peers yet; starting with every lane");
    }
    peers
}

/// The agents listener started over: once [`RELISTEN_AFTER`] after the
/// start, and again after each change of the lanes.
///
/// The emulator's listener can miss a registration written a millisecond
/// before its first snapshot, and never deliver it. A bench's debug log
/// showed it: in a fleet of four, one agent kept a three-way split of the
/// lanes, so two lanes had no owner and their tasks waited. A fresh
/// listener shows the registrations as they stand, at a read a
/// registration; a change of the lanes it reveals brings one more look,
/// which shows nothing new.
#[derive(Debug)]
pub(super) struct Relisten {
    /// When to listen again.
    pub(super) at: Option<Instant>,
    /// The agents shown since the stream's last `Reset`: at its `Current`,
    /// every peer not among them is gone.
    shown: Option<HashSet<String>>,
}

/// How long after the start, or a change of the lanes, the agents are
/// listened to afresh: past the moment the listener's first snapshot may
/// have missed a registration.
pub(super) const RELISTEN_AFTER: Duration = Duration::from_secs(2);

impl Relisten {
    pub(super) fn after_start() -> Relisten {
        Relisten {
            at: Some(Instant::now() + RELISTEN_AFTER),
            shown: None,
        }
    }
}

impl Agent {
    /// Listens to the agents afresh when it is due (`Relisten`). The new
    /// stream starts with a `Reset`, so the peers it no longer shows are
    /// dropped at its `Current`.
    pub(super) fn relisten_peers(&mut self) {
        if self.relisten.at.is_none_or(|t| t > Instant::now()) {
            return;
        }
        self.relisten.at = None;
        tracing::debug!("listening to the agents afresh");
        (self.peers_listener, self.peer_events) = start::listen_agents(&self.store);
    }

    /// The agents listener showed a change: the split of the lanes may
    /// have changed with it.
    pub(super) fn on_peer(&mut self, event: Option<ListenEvent>) -> ControlFlow<()> {
        match event {
            Some(ListenEvent::Upsert(doc)) => {
                let id = agent_id_of(&doc.name).to_string();
                if let Some(shown) = &mut self.relisten.shown {
                    shown.insert(id.clone());
                }
                if id == self.cfg.agent_id {
                    return self.on_own_doc(&doc);
                }
                // Shown again by a fresh stream: nothing new, and a watched
                // peer's silence must not be judged afresh from now.
                let known = self.peers.get(&id);
                if known.is_some_and(|p| p.doc.update_time == doc.update_time) {
                    return ControlFlow::Continue(());
                }
                let peer = Peer::new(doc, known, self.stale_after);
                self.peers.insert(id, peer);
                self.recheck_lanes = true;
            }
            Some(ListenEvent::Removed(name)) => {
                self.peers.remove(agent_id_of(&name));
                self.recheck_lanes = true;
            }
            Some(ListenEvent::Reset) => self.relisten.shown = Some(HashSet::new()),
            Some(ListenEvent::Current) => {
                if let Some(shown) = self.relisten.shown.take() {
                    let before = self.peers.len();
                    self.peers.retain(|id, _| shown.contains(id));
                    self.recheck_lanes |= self.peers.len() != before;
                }
            }
            None => {
                tracing::error!("the agents listener stopped");
                return ControlFlow::Break(());
            }
        }
        ControlFlow::Continue(())
    }

    /// Our own registration changed: a watcher may have marked us offline,
    /// or a person asked us to drain (`vayu agent drain`). Then the loop ends like a shutdown, with the
    /// drain's grace period for running tasks to finish before they are
    /// handed back to the queue.
    fn on_own_doc(
        &mut self,
        doc: &firestore::gcloud_sdk::google::firestore::v1::Document,
    ) -> ControlFlow<()> {
        let Ok(me) = firestore::FirestoreDb::deserialize_doc_to::<AgentDoc>(doc) else {
            return ControlFlow::Continue(());
        };
        // A watcher found this agent silent (a long pause, a partition)
        // and marked it offline. Its tasks may be taken over, which their
        // leases' epochs fence; but it lives: it registers again.
        if me.status == Some(AgentState::Offline) && me.incarnation == self.card.incarnation {
            tracing::warn!("a peer marked this agent offline; registering again");
            (self.reregister).store(true, std::sync::atomic::Ordering::Relaxed);
        }
        let Some(drain) = me.drain else {
            return ControlFlow::Continue(());
        };
        tracing::info!(by = %drain.by, running = self.running.len(), grace = ?self.cfg.drain_grace, "asked to drain: claiming nothing more");
        self.report.drained = true;
        ControlFlow::Break(())
    }

    /// Takes over every watched peer silent for longer than `stale_after`,
    /// once. (Its other watcher may too: the mark is conditional, and a
    /// requeue is a conditional commit that one of them wins.)
    ///
    /// A peer's silence proves nothing while this agent cannot reach
    /// Firestore itself (everyone looks dead after an outage): peers are
    /// judged only after a full window of our own heartbeats succeeding.
    pub(super) fn take_over_quiet_peers(&mut self) {
        let sight = self.sight();
        if !sight.clear() {
            return;
        }
        for (peer_id, peer) in self.peers.iter_mut() {
            let ours = peer.retake || self.watch.ids.contains(peer_id);
            if !ours || peer.taken_over || !peer.quiet(self.stale_after) {
                continue;
            }
            peer.taken_over = true;
            let (store, me) = (self.store.clone(), self.cfg.agent_id.clone());
            let (peer_id, seen, max_wait) = (peer_id.clone(), peer.doc.clone(), self.cfg.lease * 2);
            let beat = peer.beat;
            let sight = sight.clone();
            self.takeovers.spawn(async move {
                let end =
                    take_over_quiet(&store, &me, &peer_id, (&seen, beat), max_wait, &sight).await;
                (peer_id, end)
            });
        }
    }

    /// A take-over ended. Unsettled (Firestore did not answer): take it
    /// over again at the next tick rather than leave its tasks behind,
    /// though its registration now says offline and the ring closed over
    /// it.
    pub(super) fn on_taken_over(
        &mut self,
        joined: std::result::Result<(String, TakeOver), tokio::task::JoinError>,
    ) {
        if let Ok((peer_id, end)) = joined
            && let Some(peer) = self.peers.get_mut(&peer_id)
        {
            peer.taken_over = end == TakeOver::Done;
            if end == TakeOver::Done {
                (self.requeued).store(true, std::sync::atomic::Ordering::Relaxed);
            }
            peer.retake = end == TakeOver::CutShort;
            // Alive after all (its beat reached the rules, not yet our
            // listener): judged afresh from now, not left out for good.
            if end == TakeOver::Alive {
                peer.changed = Instant::now();
            }
        }
    }
}
