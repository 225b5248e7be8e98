//! A self-healing listener on one Firestore query, over the raw `Listen` RPC.
//!
//! Agents learn of newly queued tasks by listening instead of polling: an idle
//! listener costs no reads, and a new task reaches every agent within
//! milliseconds of its commit. This module keeps one `Listen` stream open for
//! one structured query (a collection under a parent, with an optional filter)
//! and turns the server's target protocol into four plain [`ListenEvent`]s.
//!
//! Why not the `firestore` crate's own listener: it is built around storing
//! resume tokens and delivers raw responses, so every caller would still have
//! to rebuild the result set, notice removals and reconnect. Here that is done
//! once, in a form the task system can rely on:
//!
//! - **One view, kept by the listener.** It remembers the name and
//!   `update_time` of every document it has delivered. The server may reset the
//!   target at any time and re-send the whole result set (the emulator does so
//!   on *every* write to the collection, and never sends a `DocumentDelete` or
//!   `DocumentRemove`: a document that is not re-sent has left). The listener
//!   buffers such a re-send until the next consistent snapshot, then delivers
//!   only the difference: [`ListenEvent::Removed`] for the documents that were
//!   not re-sent, [`ListenEvent::Upsert`] for the new or changed ones.
//! - **Reconnects start over.** Any error, end of stream, stall or failed
//!   existence filter closes the stream and opens a fresh one, without a resume
//!   token, after a capped, jittered exponential backoff. The consumer then sees
//!   [`ListenEvent::Reset`] followed by the full result set and
//!   [`ListenEvent::Current`]. Resuming with a token would save reads, but needs
//!   existence-filter reconciliation to stay correct; starting over is always
//!   correct, and reconnects are rare.
//! - **Billing.** [`OpCounters::listener_reads`] grows by one for every
//!   [`ListenEvent::Upsert`] delivered, and [`OpCounters::listener_removals`] by
//!   one for every [`ListenEvent::Removed`]. This models production billing: a
//!   fresh listen reads the whole result set, after which each added or changed
//!   document is one read. Server-side resets within one stream that re-send
//!   unchanged documents are not counted, as they are an artifact of the
//!   emulator and would make the benchmark's cost per task meaningless.
//!
//! Liveness: a listener on a quiet query receives nothing, possibly for hours,
//! and that is normal, so silence alone is not treated as a failure once the
//! stream is current. A connection that dies without a TCP reset (a frozen or
//! unreachable server) is detected by the HTTP/2 keepalive pings that
//! `gcloud-sdk` configures on every channel (a ping every 60 s, dropped after a
//! further 60 s without an answer), which fails the stream and triggers a
//! reconnect. Before the stream is current, the server must keep talking: each
//! message must arrive within [`ListenOptions::open_timeout`], so a stream opened
//! against a frozen server is abandoned and retried. [`ListenOptions::max_idle`]
//! can additionally bound silence when a deployment prefers periodic re-reads to
//! relying on keepalives.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use firestore::FirestoreDb;
use firestore::gcloud_sdk::google::firestore::v1::listen_response::ResponseType;
use firestore::gcloud_sdk::google::firestore::v1::target_change::TargetChangeType;
use firestore::gcloud_sdk::google::firestore::v1::{
    Document, ExistenceFilter, ListenRequest, ListenResponse, StructuredQuery, Target,
    TargetChange, listen_request, structured_query, target,
};
use firestore::gcloud_sdk::prost_types::Timestamp;
use firestore::gcloud_sdk::tonic;
use rand::Rng;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tracing::{Instrument, debug, info_span, warn};

use crate::metrics::OpCounters;

/// The id of the one target on each stream. Any positive id works; the stream
/// carries nothing else.
const TARGET_ID: i32 = 1;

/// The query a [`Listener`] follows: the documents of one collection directly
/// under `parent` (not its descendants), optionally filtered.
#[derive(Debug, Clone, PartialEq)]
pub struct QuerySpec {
    /// Full resource name of the parent, which must belong to the database of
    /// the `FirestoreDb` the listener is given, e.g.
    /// `projects/demo-vayu/databases/db1/documents/tasks/queued`, or
    /// `projects/P/databases/D/documents` for a root collection.
    pub parent: String,
    /// The collection's id, e.g. `items`.
    pub collection_id: String,
    /// Only documents that match this filter are in the result set. A document
    /// that stops matching is delivered as [`ListenEvent::Removed`].
    pub filter: Option<structured_query::Filter>,
    /// The result set's order; with `limit`, which documents are in it.
    pub order_by: Vec<structured_query::Order>,
    /// At most this many documents: a window onto the top of a large
    /// collection. A document pushed out of the window is `Removed`.
    pub limit: Option<i32>,
}

impl QuerySpec {
    /// The structured query this spec stands for.
    fn structured_query(&self) -> StructuredQuery {
        StructuredQuery {
            from: vec![structured_query::CollectionSelector {
                collection_id: self.collection_id.clone(),
                all_descendants: false,
            }],
            r#where: self.filter.clone(),
            order_by: self.order_by.clone(),
            limit: self.limit,
            ..Default::default()
        }
    }
}

/// What a [`Listener`] tells its consumer.
#[derive(Debug, Clone, PartialEq)]
pub enum ListenEvent {
    /// A new stream starts over: forget every document known before. The
    /// following [`ListenEvent::Upsert`]s re-deliver the full result set, and
    /// [`ListenEvent::Current`] marks its end. Sent once per stream (the first
    /// connect included), just before that stream's initial result set, so a
    /// consumer keeps its old view while the listener is disconnected.
    Reset,
    /// A document entered the result set or changed in it. Carries the full
    /// document: name, fields and `update_time`.
    Upsert(Document),
    /// A document left the result set: it was deleted or no longer matches the
    /// filter. Carries the document's full resource name.
    Removed(String),
    /// The result set is consistent and complete as of this point: the initial
    /// snapshot after the last [`ListenEvent::Reset`] has been fully delivered.
    /// Later changes arrive as they happen, with no further `Current`.
    Current,
}

/// Tuning of a [`Listener`]; [`Default`] suits both production and tests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListenOptions {
    /// The shortest wait before reconnecting, and the floor of every jittered wait.
    pub backoff_min: Duration,
    /// The longest wait before reconnecting, however many attempts failed.
    pub backoff_max: Duration,
    /// Until a stream has delivered its initial snapshot, each of its messages
    /// (and the opening of the call itself) must arrive within this long, or
    /// the stream is presumed stuck and replaced.
    pub open_timeout: Duration,
    /// If set, a stream that has been silent this long after its initial
    /// snapshot is replaced, which re-reads the whole result set. `None`, the
    /// default, trusts the transport's HTTP/2 keepalive to fail dead streams.
    pub max_idle: Option<Duration>,
    /// A stream that stays current at least this long counts as healthy: the
    /// backoff starts over from `backoff_min` after it ends. Streams that fail
    /// sooner keep growing the backoff, so a server that accepts and then drops
    /// every stream is not hammered with full re-reads.
    pub healthy_after: Duration,
}

impl Default for ListenOptions {
    fn default() -> Self {
        Self {
            backoff_min: Duration::from_millis(50),
            backoff_max: Duration::from_secs(5),
            open_timeout: Duration::from_secs(20),
            max_idle: None,
            healthy_after: Duration::from_secs(10),
        }
    }
}

/// A background task that follows one query; see the [module docs](self).
///
/// Dropping the `Listener` stops the task, as does dropping the event receiver.
#[derive(Debug)]
pub struct Listener {
    task: JoinHandle<()>,
    connected: Arc<AtomicBool>,
}

impl Listener {
    /// Starts following `spec` with [`ListenOptions::default`]. Events arrive on
    /// the returned receiver, whose channel holds at most `capacity` events
    /// (at least 1): a slow consumer holds back the stream rather than letting
    /// memory grow. Must be called within a Tokio runtime.
    pub fn spawn(
        db: FirestoreDb,
        spec: QuerySpec,
        counters: Arc<OpCounters>,
        capacity: usize,
    ) -> (Listener, mpsc::Receiver<ListenEvent>) {
        Self::spawn_with(db, spec, counters, capacity, ListenOptions::default())
    }

    /// [`spawn`](Self::spawn) with explicit [`ListenOptions`].
    pub fn spawn_with(
        db: FirestoreDb,
        spec: QuerySpec,
        counters: Arc<OpCounters>,
        capacity: usize,
        options: ListenOptions,
    ) -> (Listener, mpsc::Receiver<ListenEvent>) {
        let (events, receiver) = mpsc::channel(capacity.max(1));
        let connected = Arc::new(AtomicBool::new(false));
        let span = info_span!(
            "listen",
            parent = %spec.parent,
            collection = %spec.collection_id,
        );
        let worker = Worker {
            db,
            spec,
            counters,
            options,
            events,
            connected: connected.clone(),
            view: View::default(),
        };
        let task = tokio::spawn(worker.run().instrument(span));
        (Listener { task, connected }, receiver)
    }

    /// Whether the current stream is open and has delivered its initial
    /// snapshot, so that events reflect the database as it is now. False while
    /// connecting, after any failure and during backoff: callers use it to
    /// decide whether to fall back on polling.
    pub fn connected(&self) -> bool {
        self.connected.load(Ordering::Relaxed)
    }

    /// Whether the background task has ended, which happens only when the
    /// event receiver was dropped (or the task was aborted).
    pub fn is_finished(&self) -> bool {
        self.task.is_finished()
    }

    /// Stops the task and waits until it has ended, so the stream is closed
    /// when this returns.
    pub async fn shutdown(mut self) {
        self.task.abort();
        // The result is the cancellation we asked for, or a panic we could
        // only re-raise; either way the task is over, which is all we need.
        let _ = (&mut self.task).await;
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Why a stream ended.
#[derive(Debug, thiserror::Error)]
enum StreamEnd {
    /// The consumer dropped the receiver: the listener's work is over.
    #[error("the event receiver was dropped")]
    ReceiverGone,
    #[error("opening the listen stream failed: {0}")]
    Open(tonic::Status),
    #[error("the listen stream failed: {0}")]
    Failed(tonic::Status),
    #[error("the server ended the listen stream")]
    Ended,
    #[error("no message for {0:?} before the initial snapshot was complete")]
    Stalled(Duration),
    #[error("no message for {0:?} (max_idle)")]
    Idle(Duration),
    #[error("the server removed the target: {0}")]
    TargetRemoved(String),
    #[error("existence filter mismatch: the server has {server} documents, the listener {local}")]
    FilterMismatch { server: i32, local: usize },
}

/// The owner of the stream, running in the background task.
struct Worker {
    db: FirestoreDb,
    spec: QuerySpec,
    counters: Arc<OpCounters>,
    options: ListenOptions,
    events: mpsc::Sender<ListenEvent>,
    connected: Arc<AtomicBool>,
    view: View,
}

impl Worker {
    async fn run(mut self) {
        let mut attempt: u32 = 0;
        loop {
            let mut healthy_since = None;
            let end = self.stream_once(&mut healthy_since).await;
            self.connected.store(false, Ordering::Relaxed);
            if matches!(end, StreamEnd::ReceiverGone) {
                debug!("event receiver dropped; listener stops");
                return;
            }
            if healthy_since
                .is_some_and(|since: Instant| since.elapsed() >= self.options.healthy_after)
            {
                attempt = 0;
            }
            let delay = backoff_delay(&self.options, attempt);
            attempt = attempt.saturating_add(1);
            warn!(error = %end, ?delay, attempt, "listen stream ended; reconnecting");
            tokio::select! {
                _ = tokio::time::sleep(delay) => {}
                _ = self.events.closed() => {
                    debug!("event receiver dropped during backoff; listener stops");
                    return;
                }
            }
        }
    }

    /// Opens one stream and follows it until it ends. Sets `healthy_since` when
    /// the stream delivers its initial snapshot.
    async fn stream_once(&mut self, healthy_since: &mut Option<Instant>) -> StreamEnd {
        self.view.start_over();

        // The request side must stay open for as long as we listen: when it
        // ends, the server ends the response stream too. `_requests` is held
        // until this function returns, which keeps the stream pending.
        let (requests, mut request_rx) = mpsc::channel::<ListenRequest>(1);
        let add_target = ListenRequest {
            database: self.db.get_database_path().clone(),
            target_change: Some(listen_request::TargetChange::AddTarget(Target {
                target_id: TARGET_ID,
                target_type: Some(target::TargetType::Query(target::QueryTarget {
                    parent: self.spec.parent.clone(),
                    query_type: Some(target::query_target::QueryType::StructuredQuery(
                        self.spec.structured_query(),
                    )),
                })),
                ..Default::default()
            })),
            ..Default::default()
        };
        // The channel was just created with room for one request and its
        // receiver is alive, so this cannot fail.
        requests
            .try_send(add_target)
            .expect("a fresh channel has room for the first request");
        let _requests = requests;
        let request_stream = futures::stream::poll_fn(move |cx| request_rx.poll_recv(cx));

        let open_timeout = self.options.open_timeout;
        let mut client = self.db.client().get();
        let open = client.listen(tonic::Request::new(request_stream));
        let mut stream = tokio::select! {
            _ = self.events.closed() => return StreamEnd::ReceiverGone,
            opened = tokio::time::timeout(open_timeout, open) => match opened {
                Err(_) => return StreamEnd::Stalled(open_timeout),
                Ok(Err(status)) => return StreamEnd::Open(status),
                Ok(Ok(response)) => response.into_inner(),
            },
        };
        debug!("listen stream open");

        loop {
            let limit = if healthy_since.is_none() {
                Some(open_timeout)
            } else {
                self.options.max_idle
            };
            let next = async {
                match limit {
                    Some(limit) => tokio::time::timeout(limit, stream.message()).await.ok(),
                    None => Some(stream.message().await),
                }
            };
            let message = tokio::select! {
                _ = self.events.closed() => return StreamEnd::ReceiverGone,
                message = next => message,
            };
            let response = match message {
                None if healthy_since.is_none() => return StreamEnd::Stalled(open_timeout),
                // `limit` is `Some` here: only a timeout yields `None`.
                None => return StreamEnd::Idle(limit.unwrap_or_default()),
                Some(Err(status)) => return StreamEnd::Failed(status),
                Some(Ok(None)) => return StreamEnd::Ended,
                Some(Ok(Some(response))) => response,
            };
            let outcome = self.view.apply(response);
            for event in outcome.events {
                match &event {
                    ListenEvent::Upsert(_) => {
                        OpCounters::add(&self.counters.listener_reads, 1);
                        if self.spec.collection_id == crate::layout::AGENTS {
                            OpCounters::add(&self.counters.presence_reads, 1);
                        }
                    }
                    ListenEvent::Removed(_) => OpCounters::add(&self.counters.listener_removals, 1),
                    ListenEvent::Reset | ListenEvent::Current => {}
                }
                if self.events.send(event).await.is_err() {
                    return StreamEnd::ReceiverGone;
                }
            }
            if outcome.current {
                debug!(
                    documents = self.view.known.len(),
                    "initial snapshot delivered"
                );
                *healthy_since = Some(Instant::now());
                self.connected.store(true, Ordering::Relaxed);
            }
            if let Some(end) = outcome.end {
                return end;
            }
        }
    }
}

/// The wait before reconnect attempt number `attempt` (from 0): exponential
/// from `backoff_min`, capped at `backoff_max`, with full jitter above a floor
/// of `backoff_min` so that many agents losing the same server do not all come
/// back at once, and none spins.
fn backoff_delay(options: &ListenOptions, attempt: u32) -> Duration {
    let min = options.backoff_min;
    let max = options.backoff_max.max(min);
    let ceiling = min
        .checked_mul(1u32.checked_shl(attempt.min(31)).unwrap_or(u32::MAX))
        .unwrap_or(max)
        .min(max);
    let (low, high) = (min.as_millis() as u64, ceiling.as_millis() as u64);
    Duration::from_millis(rand::rng().random_range(low..=high.max(low)))
}

/// The result of applying one server message to the [`View`].
#[derive(Debug, Default)]
struct Outcome {
    /// Events to deliver, in order.
    events: Vec<ListenEvent>,
    /// This message completed the stream's initial snapshot.
    current: bool,
    /// The stream must be replaced.
    end: Option<StreamEnd>,
}

/// The listener's knowledge of the result set, as delivered to the consumer.
#[derive(Debug, Default)]
struct View {
    /// Name and `update_time` of every document delivered and not removed.
    known: HashMap<String, Option<Timestamp>>,
    /// While the server (re)builds the result set, after our `AddTarget` or a
    /// server `RESET`: the documents re-sent so far, delivered as a difference
    /// against `known` at the next consistent snapshot.
    rebuild: Option<Rebuild>,
    /// The stream is new: its first snapshot replaces `known` wholesale, and
    /// is framed by `Reset` and `Current`.
    fresh: bool,
    /// The server said CURRENT for our target since the rebuild began.
    target_current: bool,
}

/// Documents in server order, with an index by name; removed ones leave `None`.
#[derive(Debug, Default)]
struct Rebuild {
    documents: Vec<Option<Document>>,
    index: HashMap<String, usize>,
}

impl Rebuild {
    fn upsert(&mut self, document: Document) {
        match self.index.get(&document.name) {
            Some(&slot) => self.documents[slot] = Some(document),
            None => {
                self.index
                    .insert(document.name.clone(), self.documents.len());
                self.documents.push(Some(document));
            }
        }
    }

    fn remove(&mut self, name: &str) {
        if let Some(slot) = self.index.remove(name) {
            self.documents[slot] = None;
        }
    }

    fn len(&self) -> usize {
        self.index.len()
    }
}

impl View {
    /// Prepares for a new stream: its first snapshot will replace everything.
    fn start_over(&mut self) {
        self.rebuild = Some(Rebuild::default());
        self.fresh = true;
        self.target_current = false;
    }

    fn ours(target_ids: &[i32]) -> bool {
        target_ids.contains(&TARGET_ID)
    }

    /// Applies one server message, returning what to deliver.
    fn apply(&mut self, response: ListenResponse) -> Outcome {
        let mut outcome = Outcome::default();
        match response.response_type {
            Some(ResponseType::TargetChange(change)) => self.target_change(change, &mut outcome),
            Some(ResponseType::DocumentChange(change)) => {
                if let Some(document) = change.document {
                    if Self::ours(&change.target_ids) {
                        self.upsert(document, &mut outcome);
                    } else if Self::ours(&change.removed_target_ids) {
                        self.remove(document.name, &mut outcome);
                    }
                }
            }
            Some(ResponseType::DocumentDelete(delete))
                if Self::ours(&delete.removed_target_ids) =>
            {
                self.remove(delete.document, &mut outcome);
            }
            Some(ResponseType::DocumentRemove(remove))
                if Self::ours(&remove.removed_target_ids) =>
            {
                self.remove(remove.document, &mut outcome);
            }
            Some(ResponseType::Filter(filter)) => self.existence_filter(filter, &mut outcome),
            // Deletes and removes for other targets, and empty messages.
            Some(ResponseType::DocumentDelete(_) | ResponseType::DocumentRemove(_)) | None => {}
        }
        outcome
    }

    fn upsert(&mut self, document: Document, outcome: &mut Outcome) {
        match &mut self.rebuild {
            Some(rebuild) => rebuild.upsert(document),
            None => {
                // A re-sent document that has not changed is not news.
                if self.known.get(&document.name) != Some(&document.update_time) {
                    self.known
                        .insert(document.name.clone(), document.update_time);
                    outcome.events.push(ListenEvent::Upsert(document));
                }
            }
        }
    }

    fn remove(&mut self, name: String, outcome: &mut Outcome) {
        match &mut self.rebuild {
            Some(rebuild) => rebuild.remove(&name),
            None => {
                if self.known.remove(&name).is_some() {
                    outcome.events.push(ListenEvent::Removed(name));
                }
            }
        }
    }

    fn target_change(&mut self, change: TargetChange, outcome: &mut Outcome) {
        // An empty list of target ids means every target, ours included.
        let ours = change.target_ids.is_empty() || Self::ours(&change.target_ids);
        match TargetChangeType::try_from(change.target_change_type) {
            Ok(TargetChangeType::NoChange) => {
                // Only a NO_CHANGE for the whole stream with a read time marks a
                // consistent snapshot, at which a rebuild may be delivered.
                let global = change.target_ids.is_empty() && change.read_time.is_some();
                if global && self.target_current && self.rebuild.is_some() {
                    self.finish_rebuild(outcome);
                }
            }
            Ok(TargetChangeType::Add) => debug!("target added"),
            Ok(TargetChangeType::Current) if ours => self.target_current = true,
            Ok(TargetChangeType::Reset) if ours => {
                debug!("server reset the target; rebuilding");
                self.rebuild = Some(Rebuild::default());
                self.target_current = false;
            }
            Ok(TargetChangeType::Remove) if ours => {
                let cause = change
                    .cause
                    .map(|status| format!("code {}: {}", status.code, status.message))
                    .unwrap_or_else(|| "no cause given".to_string());
                outcome.end = Some(StreamEnd::TargetRemoved(cause));
            }
            Ok(_) => {}
            Err(_) => debug!(
                kind = change.target_change_type,
                "ignoring unknown target change"
            ),
        }
    }

    /// The server's count of our result set must match ours; if it does not,
    /// documents left without our hearing of it, and only a fresh stream can
    /// tell which.
    fn existence_filter(&mut self, filter: ExistenceFilter, outcome: &mut Outcome) {
        if filter.target_id != TARGET_ID {
            return;
        }
        let local = match &self.rebuild {
            Some(rebuild) => rebuild.len(),
            None => self.known.len(),
        };
        if usize::try_from(filter.count) != Ok(local) {
            outcome.end = Some(StreamEnd::FilterMismatch {
                server: filter.count,
                local,
            });
        }
    }

    /// Delivers a completed rebuild: all of it after `Reset` on a fresh
    /// stream, else only what differs from what the consumer already knows.
    fn finish_rebuild(&mut self, outcome: &mut Outcome) {
        let Some(rebuild) = self.rebuild.take() else {
            return;
        };
        let fresh = std::mem::take(&mut self.fresh);
        if fresh {
            self.known.clear();
            outcome.events.push(ListenEvent::Reset);
        } else {
            let mut gone: Vec<String> = self
                .known
                .keys()
                .filter(|name| !rebuild.index.contains_key(*name))
                .cloned()
                .collect();
            gone.sort();
            for name in gone {
                self.known.remove(&name);
                outcome.events.push(ListenEvent::Removed(name));
            }
        }
        for document in rebuild.documents.into_iter().flatten() {
            if self.known.get(&document.name) != Some(&document.update_time) {
                self.known
                    .insert(document.name.clone(), document.update_time);
                outcome.events.push(ListenEvent::Upsert(document));
            }
        }
        if fresh {
            outcome.events.push(ListenEvent::Current);
            outcome.current = true;
        }
    }
}

#[cfg(test)]
mod tests {
    //! The emulator never sends `DocumentDelete`, `DocumentRemove`, removals
    //! in a `DocumentChange` or existence filters, but production Firestore
    //! does; these cases are checked here on hand-made messages.

    use super::*;
    use firestore::gcloud_sdk::google::firestore::v1::{
        DocumentChange, DocumentDelete, DocumentRemove,
    };

    fn doc(name: &str, version: i64) -> Document {
        Document {
            name: name.to_string(),
            update_time: Some(Timestamp {
                seconds: version,
                nanos: 0,
            }),
            ..Default::default()
        }
    }

    fn msg(response: ResponseType) -> ListenResponse {
        ListenResponse {
            response_type: Some(response),
        }
    }

    fn change(document: Document) -> ListenResponse {
        msg(ResponseType::DocumentChange(DocumentChange {
            document: Some(document),
            target_ids: vec![TARGET_ID],
            removed_target_ids: vec![],
        }))
    }

    fn target(kind: TargetChangeType, target_ids: Vec<i32>) -> ListenResponse {
        msg(ResponseType::TargetChange(TargetChange {
            target_change_type: kind as i32,
            target_ids,
            read_time: Some(Timestamp::default()),
            ..Default::default()
        }))
    }

    /// The end of a snapshot as the server sends it: CURRENT for our target,
    /// then a NO_CHANGE for the whole stream with a read time.
    fn snapshot_end(view: &mut View) -> Vec<ListenEvent> {
        let mut events = view
            .apply(target(TargetChangeType::Current, vec![TARGET_ID]))
            .events;
        events.extend(
            view.apply(target(TargetChangeType::NoChange, vec![]))
                .events,
        );
        events
    }

    fn names(events: &[ListenEvent]) -> Vec<String> {
        events
            .iter()
            .map(|event| match event {
                ListenEvent::Reset => "reset".to_string(),
                ListenEvent::Upsert(document) => format!("upsert {}", document.name),
                ListenEvent::Removed(name) => format!("removed {name}"),
                ListenEvent::Current => "current".to_string(),
            })
            .collect()
    }

    /// A view that has delivered the initial snapshot `a`, `b`.
    fn current_view() -> View {
        let mut view = View::default();
        view.start_over();
        assert!(
            view.apply(target(TargetChangeType::Add, vec![TARGET_ID]))
                .events
                .is_empty()
        );
        assert!(view.apply(change(doc("a", 1))).events.is_empty());
        assert!(view.apply(change(doc("b", 1))).events.is_empty());
        let events = snapshot_end(&mut view);
        assert_eq!(names(&events), ["reset", "upsert a", "upsert b", "current"]);
        view
    }

    #[test]
    fn a_snapshot_is_delivered_only_once_consistent() {
        let mut view = View::default();
        view.start_over();
        view.apply(change(doc("a", 1)));
        // A consistent point before CURRENT does not complete the snapshot.
        let early = view.apply(target(TargetChangeType::NoChange, vec![]));
        assert!(early.events.is_empty() && !early.current);
        view.apply(target(TargetChangeType::Current, vec![TARGET_ID]));
        let done = view.apply(target(TargetChangeType::NoChange, vec![]));
        assert!(done.current);
        assert_eq!(names(&done.events), ["reset", "upsert a", "current"]);
    }

    #[test]
    fn production_style_changes_are_delivered_at_once() {
        let mut view = current_view();
        assert_eq!(names(&view.apply(change(doc("c", 1))).events), ["upsert c"]);
        // Re-sent unchanged: not news. Changed: news.
        assert!(view.apply(change(doc("c", 1))).events.is_empty());
        assert_eq!(names(&view.apply(change(doc("c", 2))).events), ["upsert c"]);

        let delete = msg(ResponseType::DocumentDelete(DocumentDelete {
            document: "a".to_string(),
            removed_target_ids: vec![TARGET_ID],
            read_time: None,
        }));
        assert_eq!(names(&view.apply(delete).events), ["removed a"]);

        let remove = msg(ResponseType::DocumentRemove(DocumentRemove {
            document: "b".to_string(),
            removed_target_ids: vec![TARGET_ID],
            read_time: None,
        }));
        assert_eq!(names(&view.apply(remove).events), ["removed b"]);

        let no_longer_matches = msg(ResponseType::DocumentChange(DocumentChange {
            document: Some(doc("c", 3)),
            target_ids: vec![],
            removed_target_ids: vec![TARGET_ID],
        }));
        assert_eq!(names(&view.apply(no_longer_matches).events), ["removed c"]);

        // Removing what is not known, or another target's document, is silent.
        let other = msg(ResponseType::DocumentDelete(DocumentDelete {
            document: "zzz".to_string(),
            removed_target_ids: vec![TARGET_ID + 1],
            read_time: None,
        }));
        assert!(view.apply(other).events.is_empty());
        assert!(view.known.is_empty());
    }

    #[test]
    fn a_server_reset_delivers_only_the_difference() {
        let mut view = current_view();
        view.apply(target(TargetChangeType::Reset, vec![TARGET_ID]));
        view.apply(change(doc("b", 2)));
        view.apply(change(doc("c", 1)));
        // A document re-sent and then removed within the rebuild is gone.
        view.apply(change(doc("d", 1)));
        view.apply(msg(ResponseType::DocumentDelete(DocumentDelete {
            document: "d".to_string(),
            removed_target_ids: vec![TARGET_ID],
            read_time: None,
        })));
        let events = snapshot_end(&mut view);
        assert_eq!(names(&events), ["removed a", "upsert b", "upsert c"]);
        assert_eq!(view.known.len(), 2);
    }

    #[test]
    fn an_existence_filter_mismatch_ends_the_stream() {
        let mut view = current_view();
        let filter = |count| {
            msg(ResponseType::Filter(ExistenceFilter {
                target_id: TARGET_ID,
                count,
                unchanged_names: None,
            }))
        };
        assert!(view.apply(filter(2)).end.is_none());
        assert!(matches!(
            view.apply(filter(1)).end,
            Some(StreamEnd::FilterMismatch {
                server: 1,
                local: 2
            })
        ));
    }

    #[test]
    fn a_removed_target_ends_the_stream() {
        let mut view = current_view();
        let outcome = view.apply(target(TargetChangeType::Remove, vec![TARGET_ID]));
        assert!(matches!(outcome.end, Some(StreamEnd::TargetRemoved(_))));
    }

    #[test]
    fn a_new_stream_replaces_everything_known() {
        let mut view = current_view();
        view.start_over();
        view.apply(change(doc("a", 1)));
        let events = snapshot_end(&mut view);
        assert_eq!(names(&events), ["reset", "upsert a", "current"]);
        assert_eq!(view.known.len(), 1);
    }

    #[test]
    fn backoff_grows_within_its_bounds() {
        let options = ListenOptions::default();
        for attempt in [0, 1, 5, 10, 31, 32, 1000, u32::MAX] {
            for _ in 0..100 {
                let delay = backoff_delay(&options, attempt);
                assert!(delay >= options.backoff_min, "{delay:?} at {attempt}");
                assert!(delay <= options.backoff_max, "{delay:?} at {attempt}");
            }
        }
        assert_eq!(backoff_delay(&options, 0), options.backoff_min);
        // Later attempts spread over the whole range (full jitter).
        let late: Vec<Duration> = (0..200).map(|_| backoff_delay(&options, 20)).collect();
        assert!(late.iter().any(|d| *d > Duration::from_secs(3)));
        assert!(late.iter().any(|d| *d < Duration::from_secs(2)));
    }
}
