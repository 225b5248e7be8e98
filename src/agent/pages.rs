//! Where the queue's events come from: a listener while the agent keeps up
//! with its lanes, and pages fetched on demand while a backlog lasts.
//!
//! Why page through a backlog instead of listening to it: a listener's
//! window changes with every claim, create and move in the agent's lanes,
//! and each change is re-sent (production) or the whole window re-evaluated
//! inside the writer's commit (the emulator, which scans the pile once per
//! listener per commit: `docs/bench.md`, "The emulator's listener tax").
//! While the agent turns its slots over quickly and has them all busy (or
//! more work in view than free slots), none of those changes matter to it
//! until it needs its next task. A page is one query that reads each
//! document once, then nothing until the agent has claimed its way down
//! it. An agent with nothing to do always listens, so it still makes no
//! reads and a new task still reaches it within milliseconds; so does one
//! whose slots are held by long runs, so that it still forwards what it
//! cannot run and bids on auctions (`decide.rs`, `churning`).
//!
//! A page is delivered as the listener's own events (a reset, the
//! documents, current), so the rest of the agent does not know which
//! source it has.

use super::*;
use tokio::sync::mpsc;

/// The queue's source of events.
pub(super) enum Source {
    Listening(Listener),
    /// Boxed: the pager carries its query, the listener only a handle.
    Paging(Box<Pager>),
}

/// Pages of the agent's priority view, one query each.
pub(super) struct Pager {
    spec: QuerySpec,
    /// Kept, so the channel stays open between pages.
    tx: mpsc::Sender<ListenEvent>,
    fetch: Option<tokio::task::JoinHandle<()>>,
}

/// An agent pages only while `concurrency` of its runs end within this
/// long (`decide.rs`, `churning`).
pub(super) const CHURN: Duration = Duration::from_secs(2);

/// How old a page may be and still be claimed from: a task of a better
/// priority created since waits at most this long behind the page's.
pub(super) const PAGE_TTL: Duration = Duration::from_millis(500);

/// How many tasks a page holds: enough for a few rounds of every slot
/// (fewer queries), few enough that a task created meanwhile waits little
/// for the next page. A window that had to be widened past tasks this
/// agent cannot run is kept, or the page would hold only those.
pub(super) fn page_size(concurrency: usize, window: i32) -> i32 {
    let rounds = (4 * concurrency as i32).max(16);
    if window > queue::initial_window(concurrency) {
        window
    } else {
        rounds
    }
}

impl Source {
    pub(super) async fn stop(&mut self) {
        match self {
            Source::Listening(l) => l.stop().await,
            Source::Paging(p) => {
                if let Some(f) = p.fetch.take() {
                    f.abort();
                }
            }
        }
    }

    /// A pager on `spec`, and the receiving end of its pages.
    pub(super) fn pager(spec: QuerySpec) -> (Source, mpsc::Receiver<ListenEvent>) {
        // A page is at most MAX_WINDOW documents plus its reset and
        // current; the fetch waits for room beyond that, it never drops.
        let (tx, rx) = mpsc::channel(1024);
        let pager = Pager {
            spec,
            tx,
            fetch: None,
        };
        (Source::Paging(Box::new(pager)), rx)
    }

    pub(super) fn is_paging(&self) -> bool {
        matches!(self, Source::Paging(_))
    }

    /// Fetches the next page, at most `limit` tasks (at most the page
    /// size), unless one is on its way. A failed fetch sends only
    /// `current` after a pause, so the agent may ask again without a tight
    /// loop, and keeps what it had.
    pub(super) fn fetch(&mut self, store: &Store, limit: i32) {
        let Source::Paging(p) = self else { return };
        if p.fetch.as_ref().is_some_and(|f| !f.is_finished()) {
            return;
        }
        let mut spec = p.spec.clone();
        spec.limit = spec.limit.map(|l| l.min(limit.max(1)));
        let (store, tx) = (store.clone(), p.tx.clone());
        p.fetch = Some(tokio::spawn(async move {
            match store.run_spec(&spec).await {
                Ok(docs) => {
                    let events = std::iter::once(ListenEvent::Reset)
                        .chain(docs.into_iter().map(ListenEvent::Upsert))
                        .chain(std::iter::once(ListenEvent::Current));
                    for ev in events {
                        // The receiver is gone: the agent stopped paging.
                        if tx.send(ev).await.is_err() {
                            return;
                        }
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "could not fetch a page of the queue; trying again");
                    tokio::time::sleep(Duration::from_millis(250)).await;
                    let _ = tx.send(ListenEvent::Current).await;
                }
            }
        }));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_is_a_few_rounds_of_slots_or_a_widened_window() {
        assert_eq!(page_size(1, 64), 16);
        assert_eq!(page_size(4, 64), 16);
        assert_eq!(page_size(8, 64), 32);
        assert_eq!(page_size(32, 128), 128);
        // Widened past tasks this agent cannot run: the whole window.
        assert_eq!(page_size(4, 256), 256);
    }
}
