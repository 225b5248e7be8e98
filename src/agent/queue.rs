//! The agent's view of the queue: which documents its listener follows
//! (its lanes, all of them or the best by priority, in a window).

use super::*;

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
    use firestore::gcloud_sdk::google::firestore::v1::structured_query::{
        Direction, FieldReference, Order,
    };
    let asc = |f: &str| Order {
        field: Some(FieldReference {
            field_path: f.into(),
        }),
        direction: Direction::Ascending as i32,
    };
    // Every lane (an agent alone): no lane filter at all. Same documents,
    // and `in` costs a disjunction per value (the emulator runs each).
    let all_lanes = (0..lanes::LANES).all(|l| lanes.contains(&l));
    let in_lanes = (!all_lanes).then(|| store::field_in_ints("lane", lanes));
    let (filter, order_by) = match view {
        QueueView::All => (in_lanes, vec![]),
        QueueView::Priority => (
            store::all_of(
                std::iter::once(store::field_in(
                    "status",
                    &[Status::Queued.as_str(), Status::Rejected.as_str()],
                ))
                .chain(in_lanes)
                .collect(),
            ),
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

/// Opens the agent's queue listener on `view` of its `lanes`.
pub(super) fn listen_queue(
    store: &Store,
    queued_parent: &str,
    view: QueueView,
    lanes: &[i64],
    window: i32,
) -> (Listener, tokio::sync::mpsc::Receiver<ListenEvent>) {
    Listener::spawn(
        store.db().clone(),
        queue_window(queued_parent.to_string(), view, lanes, window),
        store.counters().clone(),
        1024,
    )
}
