//! Tasks whose claim did not land, held back until they are worth trying
//! again: a lost race or an aborted commit a heartbeat later, a refusal
//! nothing explains after a backoff that doubles while the same version
//! keeps being refused.
//!
//! Why a refused claim is tried again at all: the rules refuse a claim for
//! reasons the task's version does not show (a lease that ran out while
//! the commit waited for a lock, the agent's own document not yet carrying
//! a skill it just learned, a permit taken), and the listener never shows
//! an unchanged task again. Held for good, it would wait in the queue for
//! ever while this agent idled beside it (CI saw one wait 300 s).

use super::*;
use queue::Queue;
use state::Candidate;

/// The first retry of a claim the rules refused: soon, as most refusals
/// pass (`Queue::park`).
pub(super) const RETRY_FIRST: Duration = Duration::from_secs(1);

/// The longest a refused claim waits before it is tried again: a task the
/// rules refuse this agent for good costs it a denied write this often.
pub(super) const RETRY_CAP: Duration = Duration::from_secs(300);

/// How long to hold back a task after `misses` refused claims in a row of
/// the same version: [`RETRY_FIRST`], doubled each time, up to
/// [`RETRY_CAP`].
pub(super) fn retry_after(misses: u32) -> Duration {
    let doublings = misses.saturating_sub(1).min(16);
    (RETRY_FIRST * 2u32.pow(doublings)).min(RETRY_CAP)
}

/// A task whose claim did not land, and when it may be tried again.
pub(super) struct Parked {
    pub(super) cand: Candidate,
    pub(super) until: Instant,
}

impl Queue {
    /// Holds back `cand`, whose claim did not land, for `wait`; or for
    /// longer, doubling from [`RETRY_FIRST`] up to [`RETRY_CAP`], when the
    /// claim was refused outright (`backs_off`). Nothing is held unless
    /// the listener (or page) still shows the very version refused: one
    /// that has shown the task gone, or changed in any way (claimable or
    /// not), knows better than the refused version.
    pub(super) fn park(&mut self, id: String, cand: Candidate, wait: Duration, backs_off: bool) {
        let shown = (self.in_window.iter())
            .find(|(name, _)| name.rsplit('/').next() == Some(id.as_str()))
            .map(|(_, version)| *version);
        if shown != Some(cand.seen.update_time) {
            return;
        }
        // A page that showed the same version again made it a candidate
        // meanwhile: held back all the same.
        self.candidates.remove(&id);
        let version = cand.seen.update_time;
        let misses = match self.misses.get(&id) {
            Some((v, n)) if *v == version => n + 1,
            _ => 1,
        };
        self.misses.insert(id.clone(), (version, misses));
        let wait = if backs_off {
            wait.max(retry_after(misses))
        } else {
            wait
        };
        let until = Instant::now() + wait;
        self.parked.insert(id, Parked { cand, until });
    }

    /// Parked tasks whose retry is due become candidates again. (A newer
    /// version shown by the listener, or a removal, has already taken a
    /// task off `parked`.)
    pub(super) fn unpark_due(&mut self) {
        let now = Instant::now();
        let due: Vec<String> = (self.parked.iter())
            .filter(|(_, p)| p.until <= now)
            .map(|(id, _)| id.clone())
            .collect();
        for id in due {
            if let Some(p) = self.parked.remove(&id) {
                self.candidates.entry(id).or_insert(p.cand);
            }
        }
    }

    /// When the first parked task's retry is due.
    pub(super) fn next_unpark(&self) -> Option<Instant> {
        self.parked.values().map(|p| p.until).min()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refused_claim_waits_ever_longer_up_to_the_cap() {
        let waits: Vec<u64> = (1..=11).map(|n| retry_after(n).as_secs()).collect();
        assert_eq!(waits, [1, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300]);
        assert_eq!(retry_after(0), RETRY_FIRST);
        assert_eq!(retry_after(u32::MAX), RETRY_CAP);
    }
}
