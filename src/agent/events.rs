//! The events an agent reacts to, and the one place it waits for them.

use super::*;
use state::ClaimAnswer;
use std::pin::Pin;
use tokio::task::JoinError;

/// Something happened: a listener showed a change, a spawned task ended,
/// or time passed.
pub(super) enum Event {
    /// The caller's shutdown future completed.
    Shutdown,
    /// Boxed: a task is large, and every other event is small.
    ClaimAnswered(Box<std::result::Result<ClaimAnswer, JoinError>>),
    RunFinished(std::result::Result<guard::Finished, JoinError>),
    /// Every queue event that had already arrived, in order, so that no
    /// claim is made from a view older than what is already here (claims
    /// made from a stale view are lost races). `closed`: the listener
    /// stopped after them.
    Queue {
        events: Vec<ListenEvent>,
        closed: bool,
    },
    /// A change to the agents collection (`None`: the listener stopped).
    Peer(Option<ListenEvent>),
    /// A watched peer's presence (`None`: the listener stopped).
    Presence(Option<ListenEvent>),
    TakenOver(std::result::Result<(String, peers::TakeOver), JoinError>),
    /// The lane-0 sweep ended, with the tasks it found left waiting
    /// (`stale.rs`).
    Swept(std::result::Result<Vec<Versioned<Task>>, JoinError>),
    /// A background or settling write ended.
    BackgroundDone,
    /// The heartbeat interval ticked.
    Tick,
    /// The wake-up time passed: the claims breaker reopens, or a task's
    /// backoff ends.
    Wake,
}

impl Agent {
    /// Waits for the next event, or `wake`.
    ///
    /// Not biased: a busy queue listener must not starve the heartbeat or
    /// the peers listener (peers would look dead, and so would we).
    pub(super) async fn next_event<F: Future<Output = ()>>(
        &mut self,
        shutdown: Pin<&mut F>,
        wake: Instant,
    ) -> Event {
        tokio::select! {
            () = shutdown => Event::Shutdown,
            Some(joined) = self.claiming.join_next(), if !self.claiming.is_empty() => {
                Event::ClaimAnswered(Box::new(joined))
            }
            Some(joined) = self.runners.join_next(), if !self.runners.is_empty() => {
                Event::RunFinished(joined)
            }
            first = self.queue.events.recv() => self.queue.drain(first),
            event = self.peer_events.recv() => Event::Peer(event),
            event = self.watch.events.recv() => Event::Presence(event),
            Some(_) = self.background.join_next(), if !self.background.is_empty() => {
                Event::BackgroundDone
            }
            Some(_) = self.settling.join_next(), if !self.settling.is_empty() => {
                Event::BackgroundDone
            }
            Some(joined) = self.takeovers.join_next(), if !self.takeovers.is_empty() => {
                Event::TakenOver(joined)
            }
            Some(joined) = self.sweeps.join_next(), if !self.sweeps.is_empty() => {
                Event::Swept(joined)
            }
            _ = self.heartbeat.tick() => Event::Tick,
            () = tokio::time::sleep_until(wake) => Event::Wake,
        }
    }
}
