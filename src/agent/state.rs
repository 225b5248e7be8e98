//! What an agent knows between two events: its config and report, the
//! peers, its view of the queue, and the work it has in flight.

use super::*;
use heartbeat::Card;

/// A claimable task as the listener last showed it.
pub(super) struct Candidate {
    pub(super) seen: Versioned<Task>,
    /// For a critical task in a peer's lane: when it becomes this agent's
    /// to claim ([`foreign_turn`]).
    pub(super) ours_from: Option<Instant>,
}

/// How long a critical task in a peer's lane is left to that peer.
pub(super) const FOREIGN_GRACE: Duration = Duration::from_millis(200);

/// Over how long, after the grace, the peers' turns at a critical task are
/// spread ([`foreign_turn`]).
pub(super) const FOREIGN_SPREAD: Duration = Duration::from_millis(200);

/// When a critical task in a peer's lane becomes this agent's to claim:
/// [`FOREIGN_GRACE`] after it landed, so that the lane's owner, if it has
/// a free slot, takes it without a race; then this agent's own turn within
/// [`FOREIGN_SPREAD`], a rendezvous hash of (agent, task). The peers with
/// a free slot thus try one after another, not all at once, and the first
/// claim reaches the others' listeners before their turn comes. When they
/// all tried at the end of the grace, 16 agents lost 1,822 claim races in
/// 2,000 tasks, each a refused commit and a read (`docs/bench.md`).
pub(super) fn foreign_turn(me: &str, seen: &Versioned<Task>) -> Instant {
    landed_at(&seen.update_time) + FOREIGN_GRACE + turn(me, &seen.value.task_id)
}

/// This agent's place in the peers' turns at a task, within
/// [`FOREIGN_SPREAD`].
fn turn(me: &str, task_id: &str) -> Duration {
    let spread = FOREIGN_SPREAD.as_millis() as u64;
    Duration::from_millis(crate::spread::affinity(me, task_id) % spread)
}

/// When a task landed where it is (its document's last update, the
/// server's time), on this agent's clock: the grace runs from then, not
/// from when this agent first saw it, which for an agent paging through a
/// backlog is its next page. Clock skew only moves a head start; the claim
/// itself is a compare-and-set.
pub(super) fn landed_at(update_time: &firestore::gcloud_sdk::prost_types::Timestamp) -> Instant {
    let age = age(update_time).map_or(FOREIGN_GRACE, |a| a.min(FOREIGN_GRACE));
    let now = Instant::now();
    now.checked_sub(age).unwrap_or(now)
}

/// How long ago a document was last written (`update_time`, the server's
/// clock) by this agent's clock: zero for a time ahead of ours, `None`
/// for one that is not a time.
pub(super) fn age(update_time: &firestore::gcloud_sdk::prost_types::Timestamp) -> Option<Duration> {
    let at = jiff::Timestamp::new(update_time.seconds, update_time.nanos).ok()?;
    Some(Duration::try_from(now().0.duration_since(at)).unwrap_or_default())
}

impl Candidate {
    /// Whether this agent may claim it now (as far as lanes go).
    pub(super) fn ours_now(&self) -> bool {
        self.ours_from.is_none_or(|t| Instant::now() >= t)
    }
}

/// A claim's answer: the task id, what the listener had shown, when the
/// claim was sent, and the commit's result.
pub(super) type ClaimAnswer = (String, Candidate, Instant, Result<Versioned<Task>>);

/// The agent's state. Only the loop in [`super::run`] mutates it; spawned
/// writes get clones of what they need and report back as events.
pub(super) struct Agent {
    pub(super) store: Store,
    pub(super) cfg: Arc<AgentConfig>,
    /// What this agent can run, as peers see it in its document.
    pub(super) offer: Offer,
    pub(super) report: AgentReport,
    /// What goes into `agents/{id}` besides the report.
    pub(super) card: Card,

    /// The agents listener and the peers it has shown.
    pub(super) peers_listener: Listener,
    pub(super) peer_events: tokio::sync::mpsc::Receiver<ListenEvent>,
    pub(super) peers: HashMap<String, Peer>,
    /// When the agents are listened to afresh (`peers.rs`).
    pub(super) relisten: peers::Relisten,
    /// The peers whose beats this agent watches (`presence.rs`).
    pub(super) watch: presence::Watch,
    /// The registration is to be written again at the next tick: a
    /// watcher marked this live agent offline, or the last write failed.
    pub(super) reregister: Arc<std::sync::atomic::AtomicBool>,
    /// This agent requeued tasks in a takeover: its queue is looked at
    /// afresh (`decide.rs`, `recheck_queue`).
    pub(super) requeued: Arc<std::sync::atomic::AtomicBool>,
    /// When to look at the queue afresh after the lanes changed
    /// (`decide.rs`, `recheck_queue`).
    pub(super) recheck_at: Option<Instant>,
    /// A peer silent for this long is dead: a lease plus a heartbeat.
    pub(super) stale_after: Duration,
    pub(super) health: Health,
    /// Set when the peers may have changed (a peers event, or time passing
    /// on a tick), so the split of the lanes is not recomputed on every
    /// event.
    pub(super) recheck_lanes: bool,

    pub(super) queue: Queue,

    /// Tasks being run, by id.
    /// The tasks being run, and their types (for the breakers).
    pub(super) running: HashMap<String, TaskType>,
    /// A circuit breaker per task type: an always-failing handler stops
    /// claiming its type instead of draining the queue (`claim.rs`).
    pub(super) breakers: crate::breaker::Breakers,
    /// Claim latencies as they land, for the exporter.
    pub(super) claim_latency: exporter::Histogram,
    /// `--metrics-addr`: what the loop publishes, and the server.
    pub(super) exporter: Option<(
        tokio::sync::watch::Sender<exporter::Published>,
        tokio::task::JoinHandle<()>,
    )>,
    /// The running tasks that hold a resource's permits, as claimed: given
    /// back when their run ends, whatever the outcome.
    pub(super) holding: HashMap<String, Task>,
    /// Claims sent and not yet answered, and their task ids.
    pub(super) claiming: JoinSet<ClaimAnswer>,
    pub(super) claiming_ids: HashSet<String>,
    pub(super) claims: Breaker,
    pub(super) runners: JoinSet<guard::Finished>,
    /// When the last few runs ended (at most `concurrency` of them): an
    /// agent that turns its slots over quickly pages through its backlog
    /// (`pages.rs`); one with long runs keeps listening.
    pub(super) run_ends: std::collections::VecDeque<Instant>,
    /// Tells runners the grace period is over: release the task.
    pub(super) release: tokio::sync::watch::Sender<bool>,
    /// What the agent learns of its runs (`agents/{id}/metrics`), shared
    /// by its runners.
    pub(super) learner: crate::history::Learner,
    /// The project's scoring weights (`config/assignment`), for bids.
    pub(super) weights: assign::score::Weights,
    /// Fire-and-forget writes (heartbeats, forwards, give-backs).
    pub(super) background: JoinSet<()>,
    /// The writes a run's end owes others ([`Agent::settle`]). Apart from
    /// `background`, whose writes a shutdown cuts short: a shutdown lets
    /// these finish, within the grace, or a dependent of a task that
    /// completed during it would wait for another agent's sweep.
    pub(super) settling: JoinSet<()>,
    /// Take-overs of quiet peers: (peer, how it ended).
    pub(super) takeovers: JoinSet<(String, peers::TakeOver)>,
    /// The sweep for documents no lane listener sees (intake.rs), and for
    /// tasks left waiting in their lanes (stale.rs): by the owner of lane
    /// 0, one at a time.
    pub(super) sweeps: JoinSet<Vec<Versioned<Task>>>,
    pub(super) last_sweep: Instant,
    /// The archive sweep (`heartbeat.rs`), by the owner of lane 0.
    pub(super) archiving: Option<tokio::task::JoinHandle<()>>,
    pub(super) last_archive: Instant,
    /// The auto-scaling check (`scaler.rs`), one at a time.
    pub(super) scaler: Option<tokio::task::JoinHandle<()>>,
    pub(super) last_scale_check: Instant,
    /// The last tick this agent ran something: its idleness, for
    /// scaling down.
    pub(super) busy_at: Instant,
    /// Whether the startup look for expired leases was made (it waits for
    /// a clear sight of Firestore: `heartbeat.rs`).
    pub(super) swept_expired: bool,
    pub(super) sweep_gap: heartbeat::SweepGap,
    pub(super) heartbeat: tokio::time::Interval,
    /// Every schedule, evaluated on each heartbeat (`crate::schedules`).
    pub(super) ticker: crate::schedules::Ticker,
    /// The webhook delivery loop (`crate::notify::deliver`), what stops
    /// it, and whether it is on duty (this agent owns lane 0).
    pub(super) notifier: Option<(
        tokio::task::JoinHandle<()>,
        tokio::sync::watch::Sender<bool>,
        tokio::sync::watch::Sender<bool>,
    )>,
    /// The review loop (`reviewer.rs`), when the agent gives reviews, and
    /// what stops it.
    pub(super) reviewer: Option<(
        tokio::task::JoinHandle<u64>,
        tokio::sync::watch::Sender<bool>,
    )>,
}

impl Agent {
    /// A runner is done: its slot is free.
    pub(super) fn on_run_finished(
        &mut self,
        joined: std::result::Result<guard::Finished, tokio::task::JoinError>,
    ) {
        match joined {
            Ok(guard::Finished {
                id,
                outcome,
                waited_on,
            }) => {
                if let Some(ty) = self.running.remove(&id) {
                    self.breaker_hears(ty, &id, outcome);
                }
                self.count(outcome);
                self.publish();
                if self.run_ends.len() >= self.cfg.concurrency {
                    self.run_ends.pop_front();
                }
                self.run_ends.push_back(Instant::now());
                self.settle(id, outcome, waited_on);
            }
            Err(e) => tracing::error!(error = %e, "a runner panicked"),
        }
    }

    /// What a run's end owes others, as writes in `settling`: the
    /// resource permits it held, whatever the outcome, and, when the task
    /// ended, its dependents (ready now, or cancelled). Only a task a
    /// dependent marked has any: the rest end without reading their
    /// waiters (issue 14's 6 operations). A failed write is left to the
    /// sweep.
    pub(super) fn settle(&mut self, id: String, outcome: Outcome, waited_on: bool) {
        let held = self.holding.remove(&id);
        let dependents = outcome.ended() && waited_on;
        if held.is_none() && !dependents {
            return;
        }
        let (store, me) = (self.store.clone(), self.cfg.agent_id.clone());
        self.settling.spawn(async move {
            if let Some(held) = held {
                crate::resources::release_for(&store, &held).await;
            }
            if dependents && let Err(e) = crate::deps::release_dependents(&store, &id, &me).await {
                tracing::warn!(task = %id, error = %e, "could not settle the tasks waiting for it; the sweep will");
            }
        });
    }

    pub(super) fn count(&mut self, outcome: Outcome) {
        *self.report.outcomes.entry(outcome.as_str()).or_default() += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_peers_take_turns_spread_over_the_window() {
        let agents: Vec<String> = (1..=16).map(|i| format!("agent-{i}")).collect();
        let turns: Vec<Duration> = agents.iter().map(|a| turn(a, "task-x")).collect();
        assert!(turns.iter().all(|t| *t < FOREIGN_SPREAD), "{turns:?}");
        assert_eq!(
            turns[3],
            turn("agent-4", "task-x"),
            "the same pair, the same turn"
        );
        let distinct: HashSet<Duration> = turns.iter().copied().collect();
        assert!(
            distinct.len() >= 12,
            "16 agents on 200 slots mostly differ: {turns:?}"
        );
        let first = |task: &str| (agents.iter()).min_by_key(|a| turn(a, task)).cloned();
        assert_ne!(
            first("task-x"),
            first("task-y"),
            "who goes first differs from task to task"
        );
    }
}
