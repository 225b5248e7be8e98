//! The agent's beat (`presence/{id}`, `presence.rs`) on every tick, and
//! its registration (`agents/{id}`): written at start, again when what it
//! can run changes or a watcher marked it offline while it lives, and
//! offline at the end. A tick is also when the agent looks at the time:
//! the sweep for documents typed into the console, due schedule ticks,
//! and watched peers that went quiet.

use super::*;

/// What the agent's document says besides its report: fixed at start,
/// except the CPU sample.
pub(super) struct Card {
    /// Tells this run from a previous one under the same id.
    pub(super) incarnation: String,
    /// What the registration last written says the agent can run
    /// ([`registration_key`]): written again when it changes.
    pub(super) registered: Vec<String>,
    started: crate::time::Time,
    cpu: sysinfo::CpuSampler,
}

impl Card {
    pub(super) fn new() -> Card {
        Card {
            incarnation: uuid::Uuid::new_v4().to_string(),
            registered: vec![],
            started: now(),
            cpu: sysinfo::CpuSampler::default(),
        }
    }

    /// The agent's document as of now, in `state`, running `running`.
    pub(super) fn doc(
        &mut self,
        cfg: &AgentConfig,
        report: &AgentReport,
        state: AgentState,
        running: &HashMap<String, TaskType>,
    ) -> AgentDoc {
        let offline = state == AgentState::Offline;
        let beat = self.beat(cfg, report, running);
        AgentDoc {
            agent_id: cfg.agent_id.clone(),
            status: Some(state),
            capabilities: cfg.advertised(),
            skills: cfg.skills.list(),
            handles: handles(&cfg.handlers),
            concurrency: cfg.concurrency as i64,
            current_tasks: if offline { vec![] } else { beat.current_tasks },
            cpu_usage: if offline { 0.0 } else { beat.cpu_usage },
            memory_usage: beat.memory_usage,
            rss_mb: beat.rss_mb,
            last_heartbeat: None,
            started_at: Some(self.started),
            incarnation: beat.incarnation,
            hostname: hostname(),
            version: env!("CARGO_PKG_VERSION").into(),
            heartbeat_ms: beat.heartbeat_ms,
            completed_count: beat.completed_count,
            failed_count: beat.failed_count,
            drain: None,
        }
    }

    /// The agent's beat as of now (`presence.rs`): its load, running
    /// tasks and counts.
    pub(super) fn beat(
        &mut self,
        cfg: &AgentConfig,
        report: &AgentReport,
        running: &HashMap<String, TaskType>,
    ) -> crate::model::PresenceDoc {
        let count = |k: &str| *report.outcomes.get(k).unwrap_or(&0) as i64;
        let mut current: Vec<String> = running.keys().cloned().collect();
        current.sort();
        crate::model::PresenceDoc {
            agent_id: cfg.agent_id.clone(),
            incarnation: self.incarnation.clone(),
            beat_at: None,
            // Saturated: a week-long interval would still fit, and the
            // rules bound it to 50..=3_600_000 ms.
            heartbeat_ms: i64::try_from(cfg.heartbeat.as_millis()).unwrap_or(i64::MAX),
            busy: !running.is_empty(),
            current_tasks: current,
            cpu_usage: self.cpu.sample(),
            memory_usage: sysinfo::memory_usage(),
            rss_mb: sysinfo::rss_mb(),
            completed_count: count("completed"),
            failed_count: count("retrying") + count("failed"),
        }
    }
}

impl Agent {
    pub(super) fn agent_doc(&mut self, state: AgentState) -> AgentDoc {
        (self.card).doc(&self.cfg, &self.report, state, &self.running)
    }

    /// Time passed: peers may have gone quiet, the sweep may be due, and
    /// the agent's document is written again.
    pub(super) fn on_tick(&mut self) {
        self.recheck_lanes = true;
        // A run may have taught the agent a skill (skills.rs).
        self.offer = self.cfg.offer();
        self.maybe_sweep();
        self.maybe_archive();
        if let Some((_, _, duty)) = &self.notifier {
            let owns = self.queue.lanes.contains(&0);
            duty.send_if_modified(|d| std::mem::replace(d, owns) != owns);
        }
        self.maybe_scale();
        (self.ticker).on_heartbeat(&self.store, &self.cfg.clock, &self.queue.lanes);
        self.take_over_quiet_peers();
        self.maybe_sweep_expired_once();
        self.publish();
        // In the background: a frozen Firestore must not stall claims,
        // listener events or shutdown. One at a time; a registration due
        // stays due until a beat goes out with it.
        if !self.health.begin() {
            return;
        }
        let beat = self.presence();
        let registration = self.registration_due();
        let (store, health) = (self.store.clone(), self.health.clone());
        let reregister = self.reregister.clone();
        self.background.spawn(async move {
            if let Some(doc) = registration
                && let Err(e) = store.heartbeat_agent(&doc).await
            {
                tracing::warn!(error = %e, "could not write the agent's registration; again at the next beat");
                reregister.store(true, std::sync::atomic::Ordering::Relaxed);
            }
            let result = store.beat(&beat).await;
            if let Err(e) = &result {
                tracing::warn!(error = %e, "heartbeat failed");
            }
            health.end(result.is_ok());
        });
    }

    /// The registration to write with this beat, if it changed (a skill
    /// learned) or must be written again (`reregister`); `None` most of
    /// the time, which is the point of beating apart (`presence.rs`).
    fn registration_due(&mut self) -> Option<AgentDoc> {
        let key = registration_key(&self.cfg);
        let again = (self.reregister).swap(false, std::sync::atomic::Ordering::Relaxed);
        if key == self.card.registered && !again {
            return None;
        }
        self.card.registered = key;
        Some(self.agent_doc(AgentState::Online))
    }

    /// The owner of lane 0 looks for documents no lane listener sees, and
    /// settles blocked tasks whose dependencies ended unnoticed, every
    /// `sweep_every`, one sweep at a time.
    fn maybe_sweep(&mut self) {
        let due = self.queue.lanes.contains(&0)
            && self.last_sweep.elapsed() >= self.sweep_gap.current
            && self.sweeps.is_empty();
        if !due {
            return;
        }
        self.last_sweep = Instant::now();
        self.sweep_gap
            .next(self.cfg.sweep_every, self.report.claimed);
        let (store, me, sight) = (self.store.clone(), self.cfg.agent_id.clone(), self.sight());
        let requeued = self.requeued.clone();
        let free = self.free_slots();
        self.sweeps.spawn(async move {
            let queued = match intake::sweep(&store, &me).await {
                Ok(swept) => {
                    if swept.strays > 0 {
                        tracing::info!(n = swept.strays, "took in queued documents without a lane");
                    }
                    swept.queued
                }
                Err(e) => {
                    tracing::warn!(error = %e, "the sweep for documents without a lane failed");
                    0
                }
            };
            match crate::deps::sweep(&store, &me).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(n, "settled blocked tasks a race or a crash left behind"),
                Err(e) => tracing::warn!(error = %e, "the sweep of blocked tasks failed"),
            }
            let why = "its lease expired and its holder let it go";
            sweep_expired(&store, &me, &sight, why, &requeued).await;
            match crate::resources::sweep(&store).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(n, "gave back permits whose tasks are no longer held"),
                Err(e) => tracing::warn!(error = %e, "the sweep of resource permits failed"),
            }
            match (free, queued) {
                (0, _) | (_, 0) => Vec::new(),
                _ => super::stale::left_waiting(&store, free).await,
            }
        });
    }
}

impl Agent {
    /// The owner of lane 0 moves ended tasks past the retention's age to
    /// the archive, every `archive_every`, one sweep at a time. Another
    /// agent that believes it owns lane 0 too (a moment of changing
    /// peers) makes the same conditional commits, and loses them.
    fn maybe_archive(&mut self) {
        let due = self.cfg.archive_every.is_some_and(|every| {
            self.queue.lanes.contains(&0) && self.last_archive.elapsed() >= every
        }) && self.archiving.as_ref().is_none_or(|s| s.is_finished());
        if !due {
            return;
        }
        self.last_archive = Instant::now();
        let (store, me) = (self.store.clone(), self.cfg.agent_id.clone());
        self.archiving = Some(tokio::spawn(async move {
            match crate::archive::sweep(&store, &me).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(n, "archived ended tasks past their retention"),
                Err(e) => tracing::warn!(error = %e, "the archive sweep failed"),
            }
        }));
    }

    /// Once, as soon as this agent sees Firestore clearly: requeue every
    /// task whose lease ran out, in case every agent was down at once (the
    /// lane-0 sweep would find them too, but only a `sweep_every` later).
    pub(super) fn maybe_sweep_expired_once(&mut self) {
        let sight = self.sight();
        if self.swept_expired || !sight.clear() {
            return;
        }
        self.swept_expired = true;
        let (store, me) = (self.store.clone(), self.cfg.agent_id.clone());
        let requeued = self.requeued.clone();
        self.background.spawn(async move {
            sweep_expired(&store, &me, &sight, "its lease expired", &requeued).await;
        });
    }
}

/// [`recovery::sweep_expired`], logged: a failed or blinded pass is left
/// to the next sweep. Tasks it requeued raise `requeued`.
async fn sweep_expired(
    store: &Store,
    me: &str,
    sight: &Sight,
    why: &str,
    requeued: &std::sync::atomic::AtomicBool,
) {
    let pass = recovery::sweep_expired(store, me, sight, why).await;
    if let Ok(recovery::Pass::Done(n) | recovery::Pass::Blinded(n)) = pass
        && n > 0
    {
        requeued.store(true, std::sync::atomic::Ordering::Relaxed);
    }
    match pass {
        Ok(recovery::Pass::Done(0)) => {}
        Ok(recovery::Pass::Done(n)) => tracing::info!(n, "requeued tasks whose leases ran out"),
        Ok(recovery::Pass::Blinded(n)) => {
            tracing::info!(
                n,
                "lost sight of Firestore while requeuing expired leases; left the rest"
            )
        }
        Err(e) => tracing::warn!(error = %e, "the sweep of expired leases failed"),
    }
}

/// What the agent can run, as its registration says it: the capabilities
/// it advertises, then its learned skills.
pub(super) fn registration_key(cfg: &AgentConfig) -> Vec<String> {
    let mut key = cfg.advertised();
    key.push(String::new());
    key.extend(cfg.skills.list());
    key
}

/// The task types the handlers cover, sorted; `*` for a default handler.
fn handles(handlers: &Handlers) -> Vec<String> {
    match handlers.handled_types() {
        None => vec!["*".into()],
        Some(set) => {
            let mut v: Vec<String> = set.iter().map(|t| t.as_str().to_string()).collect();
            v.sort();
            v
        }
    }
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}

/// How long the sweeper waits between sweeps: `sweep_every` while the
/// fleet works, doubling up to [`SWEEP_IDLE_MAX`] times that while this
/// agent claims nothing, so that an idle fleet costs about five reads
/// every few minutes rather than every `sweep_every` (issue 14: idle
/// agents make no reads). The sweeps' finds are claimed, which brings the
/// gap back down.
#[derive(Debug, Clone, Copy)]
pub(super) struct SweepGap {
    pub(super) current: Duration,
    claimed_at_last: u64,
}

/// The longest gap, as a multiple of `sweep_every`.
pub(super) const SWEEP_IDLE_MAX: u32 = 8;

impl SweepGap {
    /// The first sweep comes one `sweep_every` after the start.
    pub(super) fn new(base: Duration) -> SweepGap {
        SweepGap {
            current: base,
            claimed_at_last: 0,
        }
    }

    /// After a sweep: `claimed` is the agent's claims so far.
    fn next(&mut self, base: Duration, claimed: u64) {
        self.current = if claimed == self.claimed_at_last {
            (self.current * 2).min(base * SWEEP_IDLE_MAX)
        } else {
            base
        };
        self.claimed_at_last = claimed;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_gap_doubles_while_idle_and_resets_on_work() {
        let base = Duration::from_secs(30);
        let mut g = SweepGap::new(base);
        g.next(base, 0);
        assert_eq!(g.current, base * 2);
        for _ in 0..10 {
            g.next(base, 0);
        }
        assert_eq!(g.current, base * SWEEP_IDLE_MAX, "capped");
        g.next(base, 3);
        assert_eq!(g.current, base, "claims reset it");
    }
}
