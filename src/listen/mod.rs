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
use view::View;
use worker::Worker;

mod view;
mod worker;

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
    pub(crate) fn structured_query(&self) -> StructuredQuery {
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
    /// `None` once stopped.
    task: Option<JoinHandle<()>>,
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
        (
            Listener {
                task: Some(task),
                connected,
            },
            receiver,
        )
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
        self.task.as_ref().is_none_or(|t| t.is_finished())
    }

    /// Stops the task and waits until it has ended, so the stream is closed
    /// when this returns.
    pub async fn shutdown(mut self) {
        self.stop().await;
    }

    /// [`shutdown`](Self::shutdown) for a listener held in a struct: it
    /// stays, stopped, for the owner to replace or drop.
    pub async fn stop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
            // The result is the cancellation we asked for, or a panic we
            // could only re-raise; either way the task is over, which is
            // all we need.
            let _ = task.await;
        }
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        if let Some(task) = &self.task {
            task.abort();
        }
    }
}
