//! The agent's beat, and the peers whose beats it watches.
//!
//! Every tick the agent writes its presence (`presence/{id}`,
//! [`Store::beat`]): its load and running tasks, stamped with the server's
//! time. Its registration (`agents/{id}`) is written only when it changes
//! (`heartbeat.rs`), so the agents listener every peer keeps open shows
//! who is in the fleet and what each can run, not every beat.
//!
//! Beats are watched along the ring of registered agents
//! ([`crate::ring`]): one listener on the presence of the next
//! [`crate::ring::WATCHED`] agents, opened again when the ring changes. A
//! watched peer silent for `stale_after` is marked offline in its
//! registration (the rules check its beat: `isMarkOffline`), which every
//! agent sees, and its work is taken over (`peers.rs`). A beat therefore
//! costs 2 reads whatever the fleet's size, where a registration rewritten
//! at every beat cost N.

use super::*;
use crate::model::PresenceDoc;
use tokio::sync::mpsc;

/// The listener on the watched peers' presence.
pub(super) struct Watch {
    /// The peers watched, sorted.
    pub(super) ids: Vec<String>,
    listener: Option<Listener>,
    pub(super) events: mpsc::Receiver<ListenEvent>,
    /// Keeps `events` open (and silent) while nobody is watched.
    _idle: Option<mpsc::Sender<ListenEvent>>,
}

impl Watch {
    /// Watches `ids` (none: a fleet of one watches nobody).
    pub(super) fn open(store: &Store, ids: Vec<String>) -> Watch {
        if ids.is_empty() {
            let (tx, rx) = mpsc::channel(1);
            return Watch {
                ids,
                listener: None,
                events: rx,
                _idle: Some(tx),
            };
        }
        let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
        let spec = QuerySpec {
            parent: store.db().get_documents_path().clone(),
            collection_id: layout::PRESENCE.into(),
            filter: Some(store::field_in("agent_id", &refs)),
            order_by: vec![],
            limit: None,
        };
        let (listener, events) =
            Listener::spawn(store.db().clone(), spec, store.counters().clone(), 64);
        Watch {
            ids,
            listener: Some(listener),
            events,
            _idle: None,
        }
    }

    pub(super) async fn close(&mut self) {
        if let Some(l) = self.listener.as_mut() {
            l.stop().await;
        }
    }
}

/// The peers `me` should watch, as the registrations show them, sorted.
pub(super) fn successors(me: &str, peers: &HashMap<String, Peer>) -> Vec<String> {
    let registered: Vec<String> = (peers.iter())
        .filter(|(_, p)| !p.offline)
        .map(|(id, _)| id.clone())
        .collect();
    let mut ids = crate::ring::watched(me, &registered);
    ids.sort();
    ids
}

impl Agent {
    /// The ring changed (a peer registered, left or was marked offline):
    /// watch its new successors. A newly watched peer is given a full
    /// `stale_after` from now before its silence counts.
    pub(super) async fn follow_ring(&mut self) {
        let ids = successors(&self.cfg.agent_id, &self.peers);
        if ids == self.watch.ids {
            return;
        }
        tracing::debug!(from = ?self.watch.ids, to = ?ids, "watching other peers");
        for id in ids.iter().filter(|id| !self.watch.ids.contains(id)) {
            if let Some(p) = self.peers.get_mut(id) {
                p.changed = Instant::now();
            }
        }
        self.watch.close().await;
        self.watch = Watch::open(&self.store, ids);
    }

    /// A watched peer's presence: it beat (or, at first sight, it shows
    /// when it last did).
    pub(super) fn on_presence(&mut self, event: Option<ListenEvent>) -> ControlFlow<()> {
        match event {
            Some(ListenEvent::Upsert(doc)) => {
                let Ok(beat) = firestore::FirestoreDb::deserialize_doc_to::<PresenceDoc>(&doc)
                else {
                    return ControlFlow::Continue(());
                };
                let stale_after = self.stale_after;
                if let Some(p) = self.peers.get_mut(&beat.agent_id) {
                    p.on_beat(&beat, stale_after);
                    self.recheck_lanes = true;
                }
            }
            Some(ListenEvent::Removed(_) | ListenEvent::Reset | ListenEvent::Current) => {}
            None => {
                tracing::error!("the presence listener stopped");
                return ControlFlow::Break(());
            }
        }
        ControlFlow::Continue(())
    }

    /// This agent's beat as of now.
    pub(super) fn presence(&mut self) -> PresenceDoc {
        (self.card).beat(&self.cfg, &self.report, &self.running)
    }
}

/// Whether a time read from the server is more than twice `stale_after`
/// ago by this machine's clock: twice, so that clock skew cannot make a
/// live peer look dead.
pub(super) fn long_ago(t: Option<crate::model::Time>, stale_after: Duration) -> bool {
    t.is_some_and(|t| crate::model::millis_between(t, now()) > 2 * stale_after.as_millis() as i64)
}
