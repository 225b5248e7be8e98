//! Where the queue's events come from: a listener while the agent keeps up
//! with its lanes, and pages fetched on demand while a backlog lasts.
//!
//! Why page through a backlog instead of listening to it: a listener's
//! window changes with every claim, create and move in the agent's lanes,
//! and each change is re-sent (production) or the whole window re-evaluated
//! inside the writer's commit (the emulator, which scans the pile once per
//! listener per commit: `docs/bench.md`, "The emulator's listener tax").
//! While work flows through the agent (a run ended within [`CHURN`]) and
//! its slots are all busy or more than one task waits, none of those
//! changes matter to it until it needs its next task. A page is one query
//! that reads each document once, then nothing until the agent has
//! claimed its way down it. An agent with nothing to do always listens, so
//! it still makes no reads and a new task still reaches it within
//! milliseconds; so does one whose slots are held by long runs, so that it
//! still forwards what it cannot run and bids on auctions (`decide.rs`,
//! `flowing`).
//!
//! A pager that catches up while its slots turn over fast (`churning`)
//! does not listen at once: it looks again after 50, 100, 200 and 400 ms
//! ([`Linger`]), as more work is likely that soon. Listening again at once
//! put every agent of a busy fleet back on a listener between pages, and
//! at 16 agents the emulator's listener tax held the fleet at 14 tasks/s
//! (`docs/bench.md`, "Pages while work flows").
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

/// An agent pages only while work flows through it: a run ended within
/// this long (`decide.rs`, `flowing`). It lingers after an empty page only
/// while `concurrency` runs ended within it (`churning`).
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

/// Empty pages fetched after catching up before the agent listens again:
/// while work keeps arriving, a page a few hundred milliseconds later is
/// cheaper for the emulator than a listener it evaluates in every commit.
/// Each costs one read; a fleet that goes quiet pays at most this many
/// per agent after the page that first found nothing, then listens and
/// reads nothing.
pub(super) const LINGER_PAGES: u32 = 4;

/// The gap before the first look after an empty page; doubled each time.
pub(super) const LINGER_FIRST: Duration = Duration::from_millis(50);

/// How a pager that caught up keeps looking before it listens again.
#[derive(Debug, Default)]
pub(super) struct Linger {
    empty: u32,
    pub(super) next_fetch: Option<Instant>,
}

impl Linger {
    pub(super) fn after_page(&mut self, found: bool) {
        if found {
            *self = Linger::default();
        } else {
            self.empty += 1;
            let gap = LINGER_FIRST * 2u32.pow(self.empty.saturating_sub(1).min(8));
            self.next_fetch = Some(Instant::now() + gap);
        }
    }

    pub(super) fn spent(&self) -> bool {
        self.empty > LINGER_PAGES
    }

    pub(super) fn due(&self) -> bool {
        self.next_fetch.is_none_or(|t| t <= Instant::now())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pager_that_caught_up_looks_again_four_times_then_listens() {
        let mut l = Linger::default();
        assert!(l.due() && !l.spent());
        let mut gaps = Vec::new();
        for _ in 0..5 {
            assert!(!l.spent());
            let before = Instant::now();
            l.after_page(false);
            let gap = l.next_fetch.expect("a look is scheduled") - before;
            gaps.push(gap);
            assert!(!l.due(), "not before its gap");
        }
        assert!(l.spent());
        for (gap, ms) in gaps.iter().zip([50, 100, 200, 400]) {
            let want = Duration::from_millis(ms);
            // Measured from just before the gap was set.
            assert!(
                *gap >= want && *gap < want + Duration::from_millis(40),
                "{gaps:?}"
            );
        }
        // A page with work starts the count over.
        l.after_page(true);
        assert!(l.due() && !l.spent() && l.next_fetch.is_none());
    }

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
