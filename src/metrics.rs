//! Client-side counters of Firestore operations.
//!
//! Firestore bills every document read and write, so vayu counts them where
//! they happen: at the client, for every RPC, listener documents included.
//! One [`OpCounters`] is shared by everything that talks to one database
//! (see [`crate::store::Store`]), and `vayu bench` divides the totals by the
//! number of tasks.

use std::sync::atomic::{AtomicU64, Ordering};

/// Monotonic counters, cheap to bump from any task.
#[derive(Debug, Default)]
pub struct OpCounters {
    /// Documents returned by one-shot reads: gets, batch gets and queries.
    /// An empty query still counts as one read, as Firestore bills it.
    pub polling_reads: AtomicU64,
    /// Documents delivered by listeners (added or modified).
    pub listener_reads: AtomicU64,
    /// Documents removed from a listener's result set (not billed, but shown).
    pub listener_removals: AtomicU64,
    /// Of `listener_reads`, those of the agents collection: the fleet's
    /// presence (peers' heartbeats), a cost per agent and second, not per
    /// task.
    pub presence_reads: AtomicU64,
    /// Of `writes`, the agents' own documents (registration, heartbeats).
    pub presence_writes: AtomicU64,
    /// Document writes, deletes included, in committed requests.
    pub writes: AtomicU64,
    /// Commit RPCs sent, whether they succeeded or not.
    pub commits: AtomicU64,
    /// Commits refused because a precondition no longer held (lost races).
    pub precondition_failures: AtomicU64,
    /// Claim commits attempted.
    pub claim_attempts: AtomicU64,
}

/// A point-in-time copy of [`OpCounters`].
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct OpSnapshot {
    pub polling_reads: u64,
    pub listener_reads: u64,
    pub listener_removals: u64,
    pub presence_reads: u64,
    pub presence_writes: u64,
    pub writes: u64,
    pub commits: u64,
    pub precondition_failures: u64,
    pub claim_attempts: u64,
}

impl OpCounters {
    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    pub fn snapshot(&self) -> OpSnapshot {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        OpSnapshot {
            polling_reads: get(&self.polling_reads),
            listener_reads: get(&self.listener_reads),
            listener_removals: get(&self.listener_removals),
            presence_reads: get(&self.presence_reads),
            presence_writes: get(&self.presence_writes),
            writes: get(&self.writes),
            commits: get(&self.commits),
            precondition_failures: get(&self.precondition_failures),
            claim_attempts: get(&self.claim_attempts),
        }
    }
}

impl OpSnapshot {
    /// Billed operations: document reads of any kind plus document writes.
    pub fn billed(&self) -> u64 {
        self.polling_reads + self.listener_reads + self.writes
    }

    /// Billed operations on anything but the agents' own documents: what
    /// the tasks themselves cost.
    pub fn task_ops(&self) -> u64 {
        self.billed() - self.presence_reads - self.presence_writes
    }

    /// The counts accumulated since `earlier`.
    pub fn since(&self, earlier: &OpSnapshot) -> OpSnapshot {
        OpSnapshot {
            polling_reads: self.polling_reads - earlier.polling_reads,
            listener_reads: self.listener_reads - earlier.listener_reads,
            presence_reads: self.presence_reads - earlier.presence_reads,
            presence_writes: self.presence_writes - earlier.presence_writes,
            listener_removals: self.listener_removals - earlier.listener_removals,
            writes: self.writes - earlier.writes,
            commits: self.commits - earlier.commits,
            precondition_failures: self.precondition_failures - earlier.precondition_failures,
            claim_attempts: self.claim_attempts - earlier.claim_attempts,
        }
    }
}
