//! The `vayu-agent` daemon.
//!
//! One loop per agent ([`run`]):
//! 1. register in `agents/{id}` and heartbeat there;
//! 2. listen to the queued pile (no polling) and keep the claimable tasks
//!    in memory;
//! 3. while a slot is free, pick a task ([`crate::assign::pick`]) and claim
//!    it with one conditional commit that moves it to the active pile;
//! 4. run it in a [`runner`], which renews the lease, reports progress and
//!    finishes the task;
//! 5. on shutdown, stop claiming, give running handlers a grace period,
//!    then release what is left back to the queue.

mod claim;
mod config;
mod guard;
mod health;
mod intake;
mod peers;
mod queue;
mod recovery;

pub use recovery::confirm_offline;
mod runner;

pub use recovery::requeue;

use crate::assign::{self, Offer};
use crate::error::{Error, Result};
use crate::lanes;
use crate::layout::{self, Pile};
use crate::lifecycle::Status;
use crate::listen::{ListenEvent, Listener, QuerySpec};
use crate::model::{AgentDoc, AgentState, AssignmentMethod, Lease, Task, TaskType, now, time_add};
use crate::retry::Backoff;
use crate::store::{self, Store, Versioned};
use crate::sysinfo;
use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio::time::{Instant, MissedTickBehavior};

pub use claim::claim;
use claim::{settle_unknown_claim, startup_backoff};
pub use config::{AgentConfig, AgentReport, Handlers};
use health::Health;
use peers::{Peer, live_offers, my_lanes, take_over_quiet};
use queue::{MAX_WINDOW, initial_window, listen_queue};
pub use queue::{QueueView, queue_window};
pub use runner::Outcome;

/// A claimable task as the listener last showed it.
struct Candidate {
    seen: Versioned<Task>,
}

/// Runs an agent until `shutdown` completes, then shuts down gracefully.
pub async fn run(
    store: Store,
    cfg: AgentConfig,
    shutdown: impl Future<Output = ()>,
) -> Result<AgentReport> {
    cfg.validate()?;
    let cfg = Arc::new(cfg);
    let offer = cfg.offer();
    let incarnation = uuid::Uuid::new_v4().to_string();
    let started = now();
    let mut report = AgentReport::default();
    let mut cpu = sysinfo::CpuSampler::default();

    let agent_doc =
        |state: AgentState, current: Vec<String>, cpu_pct: f64, report: &AgentReport| AgentDoc {
            agent_id: cfg.agent_id.clone(),
            status: Some(state),
            capabilities: cfg.capabilities.clone(),
            handles: match cfg.handlers.handled_types() {
                None => vec!["*".into()],
                Some(set) => {
                    let mut v: Vec<String> = set.iter().map(|t| t.as_str().to_string()).collect();
                    v.sort();
                    v
                }
            },
            concurrency: cfg.concurrency as i64,
            current_tasks: current,
            cpu_usage: cpu_pct,
            memory_usage: sysinfo::memory_usage(),
            rss_mb: sysinfo::rss_mb(),
            last_heartbeat: None,
            started_at: Some(started),
            incarnation: incarnation.clone(),
            hostname: hostname(),
            version: env!("CARGO_PKG_VERSION").into(),
            // Saturated: a week-long interval would still fit, and the
            // rules bound it to 50..=3_600_000 ms.
            heartbeat_ms: i64::try_from(cfg.heartbeat.as_millis()).unwrap_or(i64::MAX),
            completed_count: *report.outcomes.get("completed").unwrap_or(&0) as i64,
            failed_count: (*report.outcomes.get("retrying").unwrap_or(&0)
                + *report.outcomes.get("failed").unwrap_or(&0)) as i64,
        };
    // Registration retries: an agent restarted into a busy or recovering
    // Firestore (the emulator answers ABORTED on a lock timeout) should
    // come up, not exit. A refusal by the rules is final.
    {
        use backon::Retryable;
        let online = agent_doc(AgentState::Online, vec![], 0.0, &report);
        (|| store.put_agent(&online))
            .retry(startup_backoff())
            .when(|e: &Error| e.is_transient() || e.is_conflict())
            .notify(|e: &Error, wait: Duration| {
                tracing::warn!(error = %e, ?wait, "registering the agent failed; retrying");
            })
            .await?;
    }
    tracing::info!(agent = %cfg.agent_id, endpoint = store.endpoint(), "agent online");

    // Peers first: which lanes of the queue are ours depends on who else is
    // live, and listening to every lane for a moment would cost a read of
    // every queued task.
    let peers_spec = QuerySpec {
        parent: store.db().get_documents_path().clone(),
        collection_id: layout::AGENTS.into(),
        filter: None,
        order_by: vec![],
        limit: None,
    };
    let (peers_listener, mut peer_events) = Listener::spawn(
        store.db().clone(),
        peers_spec,
        store.counters().clone(),
        256,
    );
    let mut peers: HashMap<String, Peer> = HashMap::new();
    let stale_after = cfg.lease + cfg.heartbeat;
    let first_peers = tokio::time::timeout(Duration::from_secs(5), async {
        while let Some(ev) = peer_events.recv().await {
            match ev {
                ListenEvent::Upsert(doc) => {
                    let id = doc.name.rsplit('/').next().unwrap_or_default().to_string();
                    if id != cfg.agent_id {
                        let peer = Peer::new(doc, None, stale_after);
                        peers.insert(id, peer);
                    }
                }
                ListenEvent::Removed(name) => {
                    peers.remove(name.rsplit('/').next().unwrap_or_default());
                }
                ListenEvent::Current => return true,
                ListenEvent::Reset => {}
            }
        }
        false
    })
    .await;
    if !matches!(first_peers, Ok(true)) {
        tracing::warn!("no snapshot of the peers yet; starting with every lane");
    }

    let queued_parent = store.name(&Pile::Queued.parent());
    let mut lanes = my_lanes(
        &cfg.agent_id,
        &live_offers(&offer, &peers, stale_after, Duration::ZERO),
    );
    let mut window = initial_window(cfg.concurrency);
    let mut view = QueueView::All;
    let (mut listener, mut events) = listen_queue(&store, &queued_parent, view, &lanes, window);
    tracing::info!(?lanes, "listening to the queue");
    // Every document in the listener's result set, claimable or not.
    let mut in_window: HashSet<String> = HashSet::new();
    let mut window_current = false;

    // Retried like registration: a previous run's tasks are held under our
    // own id, and no peer takes them while we heartbeat, so this look must
    // happen.
    let startup = {
        use backon::Retryable;
        (|| recovery::at_startup(&store, &cfg.agent_id))
            .retry(startup_backoff())
            .when(|e: &Error| e.is_transient() || e.is_conflict())
            .await
    };
    match startup {
        Ok(0) => {}
        Ok(n) => tracing::info!(n, "requeued tasks left by a dead agent or a previous run"),
        Err(e) => tracing::warn!(error = %e, "could not look for orphaned tasks at startup"),
    }
    let mut background: JoinSet<()> = JoinSet::new();
    // Take-overs of quiet peers: (peer, whether it was settled).
    let mut takeovers: JoinSet<(String, bool)> = JoinSet::new();
    let health = Health::new(stale_after / 2);

    let mut candidates: HashMap<String, Candidate> = HashMap::new();
    // Tasks in our lanes that this agent can never run, to be forwarded,
    // and the version of each we last forwarded (not twice the same).
    let mut stuck: HashMap<String, Versioned<Task>> = HashMap::new();
    let mut forwarded: HashMap<String, firestore::gcloud_sdk::prost_types::Timestamp> =
        HashMap::new();
    let mut malformed: HashSet<String> = HashSet::new();
    let mut running: HashMap<String, ()> = HashMap::new();
    // Claims sent and not yet answered, and their task ids.
    let mut claiming: JoinSet<(String, Candidate, Instant, Result<Versioned<Task>>)> =
        JoinSet::new();
    let mut claiming_ids: HashSet<String> = HashSet::new();
    let mut runners: JoinSet<(String, Outcome)> = JoinSet::new();
    let (release_tx, release_rx) = watch::channel(false);

    // The sweep for documents no lane listener sees (intake.rs): by the
    // owner of lane 0, one at a time.
    let mut sweep: Option<tokio::task::JoinHandle<()>> = None;
    // The first sweep at the first tick: a restarted fleet finds what was
    // typed while it was down.
    let mut last_sweep = Instant::now()
        .checked_sub(cfg.sweep_every)
        .unwrap_or_else(Instant::now);

    let mut heartbeat = tokio::time::interval(cfg.heartbeat);
    heartbeat.set_missed_tick_behavior(MissedTickBehavior::Skip);
    heartbeat.tick().await;

    // Circuit breaker for claims: after Firestore fails to answer, wait
    // (capped, jittered) before trying again instead of spinning.
    let breaker = Backoff {
        base: Duration::from_millis(200),
        cap: Duration::from_secs(10),
    };
    let mut outage_failures: u32 = 0;
    let mut claims_paused_until: Option<Instant> = None;

    tokio::pin!(shutdown);
    let far = Instant::now() + Duration::from_secs(86_400 * 365);

    // Set when the peers may have changed (a peers event, or time passing
    // on a heartbeat tick), so the split is not recomputed on every event.
    let mut recheck_lanes = false;
    loop {
        // The split of the lanes follows the live peers: re-listen when
        // our share changed (a peer joined, left or died).
        let changed = std::mem::take(&mut recheck_lanes)
            .then(|| {
                my_lanes(
                    &cfg.agent_id,
                    &live_offers(&offer, &peers, stale_after, health.healthy_for()),
                )
            })
            .filter(|now| *now != lanes);
        if let Some(now_lanes) = changed {
            tracing::info!(from = ?lanes, to = ?now_lanes, "the lanes changed");
            lanes = now_lanes;
            (view, window) = (QueueView::All, initial_window(cfg.concurrency));
            listener.shutdown().await;
            (listener, events) = listen_queue(&store, &queued_parent, view, &lanes, window);
            candidates.clear();
            stuck.clear();
            in_window.clear();
            window_current = false;
        }
        // Tasks in our lanes that we cannot run go to a peer that can.
        if !stuck.is_empty() {
            let live = live_offers(&offer, &peers, stale_after, health.healthy_for());
            for seen in stuck.values() {
                let Some(lane) = lanes::forward_lane(&seen.value, &cfg.agent_id, &live) else {
                    continue;
                };
                if forwarded.get(&seen.value.task_id) == Some(&seen.update_time) {
                    continue;
                }
                forwarded.insert(seen.value.task_id.clone(), seen.update_time);
                let (store, seen) = (store.clone(), seen.clone());
                background.spawn(async move {
                    let mut t = seen.value.clone();
                    t.lane = lane;
                    match store.replace_task(&seen, &t, &[], vec![]).await {
                        Ok(_) => {
                            tracing::debug!(task = %t.task_id, lane, "forwarded to a peer's lane")
                        }
                        Err(e) => {
                            tracing::debug!(task = %t.task_id, error = %e, "could not forward")
                        }
                    }
                });
            }
        }
        // Choose the view of the queue: all of it while it fits in the
        // window; the best tasks by priority when it does not; a wider
        // window when the best ones are all tasks this agent can never run
        // (other types or capabilities).
        if window_current {
            let full = in_window.len() >= window as usize;
            let next = match view {
                QueueView::All if full => Some((QueueView::Priority, window)),
                QueueView::Priority if in_window.len() < window as usize / 4 => {
                    Some((QueueView::All, initial_window(cfg.concurrency)))
                }
                QueueView::Priority if full && candidates.is_empty() && window < MAX_WINDOW => {
                    Some((QueueView::Priority, (window * 4).min(MAX_WINDOW)))
                }
                _ => None,
            };
            if let Some((v, w)) = next {
                tracing::info!(view = ?v, window = w, "changing the view of the queue");
                (view, window) = (v, w);
                listener.shutdown().await;
                (listener, events) = listen_queue(&store, &queued_parent, view, &lanes, window);
                window_current = false;
            }
        }
        // Claim while there are free slots and claimable work. Claims run
        // side by side (one per free slot), not one after another: each is
        // a round trip, and a queue backlog should fill every slot at once.
        let breaker_open = claims_paused_until.is_some_and(|t| Instant::now() < t);
        if !breaker_open {
            let t_now = now();
            while running.len() + claiming_ids.len() < cfg.concurrency {
                let eligible = candidates.values().map(|c| &c.seen.value).filter(|t| {
                    offer.can_claim(t, t_now)
                        && !running.contains_key(&t.task_id)
                        && !claiming_ids.contains(&t.task_id)
                });
                let Some(id) = assign::pick(&cfg.agent_id, eligible).map(|t| t.task_id.clone())
                else {
                    break;
                };
                let cand = candidates
                    .remove(&id)
                    .expect("picked from the candidates just now");
                crate::metrics::OpCounters::add(&store.counters().claim_attempts, 1);
                claiming_ids.insert(id.clone());
                let (store, cfg) = (store.clone(), cfg.clone());
                claiming.spawn(async move {
                    let sent = Instant::now();
                    let result = claim(&store, &cfg, &cand.seen).await;
                    (id, cand, sent, result)
                });
            }
        }

        // When to look again without an event: the breaker reopening, or the
        // earliest backoff of a waiting task.
        let t_now = now();
        let next_not_before = candidates
            .values()
            .filter_map(|c| c.seen.value.not_before)
            .filter(|nb| *nb > t_now)
            .min()
            .map(|nb| {
                Instant::now()
                    + Duration::from_millis(
                        crate::model::millis_between(t_now, nb).max(0) as u64 + 1,
                    )
            });
        let wake = [claims_paused_until, next_not_before]
            .into_iter()
            .flatten()
            .min()
            .unwrap_or(far);

        // Not biased: a busy queue listener must not starve the heartbeat
        // or the peers listener (peers would look dead, and so would we).
        tokio::select! {
            () = &mut shutdown => break,
            Some(joined) = claiming.join_next(), if !claiming.is_empty() => {
                let Ok((id, cand, sent, result)) = joined else {
                    tracing::error!("a claim panicked");
                    continue;
                };
                claiming_ids.remove(&id);
                let took = sent.elapsed();
                match result {
                    // The lease was set to run from when the claim was
                    // sent. An answer that comes this late (a stalled
                    // server) leaves too little of it: a peer may take the
                    // task over while the handler runs, and it would run
                    // twice. Give it back instead of starting it.
                    Ok(claimed) if took >= cfg.lease / 2 => {
                        report.claimed += 1;
                        tracing::warn!(task = %id, ?took, "the claim's answer came too late to trust its lease; giving the task back");
                        let (store, me) = (store.clone(), cfg.agent_id.clone());
                        background.spawn(async move {
                            if let Err(e) = recovery::release_unrun(&store, &claimed, &me, "its claim's answer came too late to trust the lease").await {
                                tracing::warn!(task = %claimed.value.task_id, error = %e, "could not give back a late claim; its lease will expire");
                            }
                        });
                    }
                    Ok(claimed) => {
                        outage_failures = 0;
                        report.claimed += 1;
                        if let (Some(c), Some(a)) =
                            (claimed.value.created_at, claimed.value.updated_at)
                        {
                            report
                                .claim_latencies_ms
                                .push(crate::model::millis_between(c, a));
                        }
                        tracing::debug!(task = %id, epoch = claimed.value.lease.epoch, "claimed");
                        running.insert(id.clone(), ());
                        let r = runner::Runner::new(
                            store.clone(),
                            cfg.clone(),
                            claimed,
                            release_rx.clone(),
                        );
                        runners.spawn(guard::run(store.clone(), cfg.agent_id.clone(), id, r));
                    }
                    // Under firestore.rules the loser of a race is refused
                    // before its precondition is checked: PermissionDenied.
                    Err(e)
                        if e.is_conflict()
                            || matches!(e, Error::NotFound(_) | Error::PermissionDenied(_)) =>
                    {
                        // Someone else got it, or it changed: the listener
                        // will show the new version if it is still claimable.
                        tracing::debug!(task = %id, error = %e, "claim lost or refused");
                        report.claim_conflicts += 1;
                        report.conflict_ms.push(took.as_secs_f64() * 1000.0);
                    }
                    Err(e) if e.is_transient() => {
                        outage_failures += 1;
                        let wait = breaker.delay(outage_failures, rand::random());
                        tracing::warn!(error = %e, ?wait, "Firestore unreachable; pausing claims");
                        claims_paused_until = Some(Instant::now() + wait);
                        // The commit may have landed even though we heard
                        // no answer. Then the task sits in the active pile
                        // under our id, with nobody running it, and no peer
                        // takes it from a live agent. Find out, and give it
                        // back to the queue if so.
                        let (store, me) = (store.clone(), cfg.agent_id.clone());
                        let epoch = cand.seen.value.lease.epoch + 1;
                        let task_id = id.clone();
                        background.spawn(async move {
                            settle_unknown_claim(store, me, task_id, epoch).await;
                        });
                        candidates.insert(id, cand);
                    }
                    Err(e) => {
                        tracing::warn!(task = %id, error = %e, "claim refused; skipping the task");
                    }
                }
            }
            Some(joined) = runners.join_next(), if !runners.is_empty() => {
                match joined {
                    Ok((id, outcome)) => {
                        running.remove(&id);
                        *report.outcomes.entry(outcome.as_str()).or_default() += 1;
                    }
                    Err(e) => tracing::error!(error = %e, "a runner panicked"),
                }
            }
            ev = events.recv() => {
                // Take every event that is already here before claiming
                // again: claims made from a stale view are lost races.
                let mut ev = ev;
                let mut closed = false;
                loop {
                    match ev {
                        Some(ListenEvent::Reset) => {
                            candidates.clear();
                            stuck.clear();
                            in_window.clear();
                            window_current = false;
                        }
                        Some(ListenEvent::Upsert(doc)) => {
                            in_window.insert(doc.name.clone());
                            let id = doc.name.rsplit('/').next().unwrap_or_default().to_string();
                            match Store::decode_versioned(&doc, Pile::Queued) {
                                Ok(v) => {
                                    malformed.remove(&id);
                                    // Kept even while our runner for the same id is
                                    // still winding down: a retried task comes back
                                    // to the queue before its runner is reaped, and
                                    // the listener will not show it again.
                                    if offer.could_claim(&v.value) {
                                        stuck.remove(&id);
                                        candidates.insert(id, Candidate { seen: v });
                                    } else {
                                        candidates.remove(&id);
                                        if v.value.status.is_claimable() && v.value.control.is_none() {
                                            stuck.insert(id, v);
                                        } else {
                                            stuck.remove(&id);
                                        }
                                    }
                                }
                                Err(e) => {
                                    candidates.remove(&id);
                                    stuck.remove(&id);
                                    if malformed.insert(id) {
                                        tracing::warn!(error = %e, "a queued document that is not a task");
                                        let (store, me) = (store.clone(), cfg.agent_id.clone());
                                        background.spawn(async move {
                                            intake::take_in(&store, &doc, &e.to_string(), &me).await;
                                        });
                                    }
                                }
                            }
                        }
                        Some(ListenEvent::Removed(name)) => {
                            in_window.remove(&name);
                            let id = name.rsplit('/').next().unwrap_or_default();
                            candidates.remove(id);
                            stuck.remove(id);
                            forwarded.remove(id);
                            malformed.remove(id);
                        }
                        Some(ListenEvent::Current) => {
                            window_current = true;
                        }
                        None => {
                            tracing::error!("the queue listener stopped");
                            closed = true;
                        }
                    }
                    if closed {
                        break;
                    }
                    match events.try_recv() {
                        Ok(next) => ev = Some(next),
                        Err(_) => break,
                    }
                }
                if closed {
                    break;
                }
            }
            ev = peer_events.recv() => match ev {
                Some(ListenEvent::Upsert(doc)) => {
                    let id = doc.name.rsplit('/').next().unwrap_or_default().to_string();
                    if id != cfg.agent_id {
                        let peer = Peer::new(doc, peers.get(&id), stale_after);
                        peers.insert(id, peer);
                        recheck_lanes = true;
                    }
                }
                Some(ListenEvent::Removed(name)) => {
                    peers.remove(name.rsplit('/').next().unwrap_or_default());
                    recheck_lanes = true;
                }
                Some(ListenEvent::Reset | ListenEvent::Current) => {}
                None => {
                    tracing::error!("the agents listener stopped");
                    break;
                }
            },
            Some(_) = background.join_next(), if !background.is_empty() => {}
            Some(joined) = takeovers.join_next(), if !takeovers.is_empty() => {
                // Unsettled (Firestore did not answer): judge it again at the
                // next tick rather than leave its tasks behind.
                if let Ok((peer_id, false)) = joined
                    && let Some(peer) = peers.get_mut(&peer_id)
                {
                    peer.taken_over = false;
                }
            }
            _ = heartbeat.tick() => {
                recheck_lanes = true;
                if lanes.contains(&0)
                    && last_sweep.elapsed() >= cfg.sweep_every
                    && sweep.as_ref().is_none_or(|s| s.is_finished())
                {
                    last_sweep = Instant::now();
                    let (store, me) = (store.clone(), cfg.agent_id.clone());
                    sweep = Some(tokio::spawn(async move {
                        match intake::sweep(&store, &me).await {
                            Ok(0) => {}
                            Ok(n) => tracing::info!(n, "took in queued documents without a lane"),
                            Err(e) => tracing::warn!(error = %e, "the sweep for documents without a lane failed"),
                        }
                    }));
                }
                // A peer's silence proves nothing while this agent cannot
                // reach Firestore itself (everyone looks dead after an
                // outage): judge peers only after a full window of our own
                // heartbeats succeeding.
                let judge = health.healthy_for() > stale_after;
                for (peer_id, peer) in peers.iter_mut() {
                    if judge && !peer.taken_over && peer.changed.elapsed() > stale_after {
                        peer.taken_over = true;
                        let (store, me, peer_id, seen) = (store.clone(), cfg.agent_id.clone(), peer_id.clone(), peer.doc.clone());
                        let max_wait = cfg.lease * 2;
                        takeovers.spawn(async move {
                            let settled = take_over_quiet(&store, &me, &peer_id, &seen, max_wait).await;
                            (peer_id, settled)
                        });
                    }
                }
                let state = if running.is_empty() { AgentState::Online } else { AgentState::Busy };
                let doc = agent_doc(state, running.keys().cloned().collect(), cpu.sample(), &report);
                // In the background: a frozen Firestore must not stall
                // claims, listener events or shutdown. One at a time.
                if !health.begin() {
                    continue;
                }
                let (store, health) = (store.clone(), health.clone());
                background.spawn(async move {
                    let result = store.put_agent(&doc).await;
                    if let Err(e) = &result {
                        tracing::warn!(error = %e, "heartbeat failed");
                    }
                    health.end(result.is_ok());
                });
            }
            () = tokio::time::sleep_until(wake) => {
                if claims_paused_until.is_some_and(|t| Instant::now() >= t) {
                    claims_paused_until = None;
                }
            }
        }
    }

    // Graceful shutdown: stop claiming (we left the loop), let handlers
    // finish within the grace period, then release the rest.
    listener.shutdown().await;
    peers_listener.shutdown().await;
    background.abort_all();
    takeovers.abort_all();
    if let Some(s) = sweep {
        s.abort();
    }
    tracing::info!(agent = %cfg.agent_id, running = running.len(), "shutting down");
    // Claims still in flight: one that lands now would leave a task in the
    // active pile under our id with nobody running it; give it back.
    while let Some(joined) = claiming.join_next().await {
        if let Ok((id, _, _, Ok(claimed))) = joined {
            report.claimed += 1;
            match recovery::requeue(
                &store,
                &claimed,
                &cfg.agent_id,
                "the agent shut down before starting it",
            )
            .await
            {
                Ok(_) => tracing::info!(task = %id, "released a task claimed during shutdown"),
                Err(e) => {
                    tracing::warn!(task = %id, error = %e, "could not release a task claimed during shutdown; its lease will expire")
                }
            }
        }
    }
    let deadline = Instant::now() + cfg.grace;
    while !runners.is_empty() {
        tokio::select! {
            joined = runners.join_next() => {
                if let Some(Ok((id, outcome))) = joined {
                    running.remove(&id);
                    *report.outcomes.entry(outcome.as_str()).or_default() += 1;
                }
            }
            () = tokio::time::sleep_until(deadline) => {
                let _ = release_tx.send(true);
                break;
            }
        }
    }
    while let Some(joined) = runners.join_next().await {
        if let Ok((_, outcome)) = joined {
            *report.outcomes.entry(outcome.as_str()).or_default() += 1;
        }
    }
    if let Err(e) = store
        .put_agent(&agent_doc(AgentState::Offline, vec![], 0.0, &report))
        .await
    {
        tracing::warn!(error = %e, "could not mark the agent offline");
    }
    tracing::info!(agent = %cfg.agent_id, claimed = report.claimed, "agent stopped");
    Ok(report)
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::health::HealthState;
    use super::*;

    const SLOW: Duration = Duration::from_millis(500);

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn health_grows_while_heartbeats_are_quick() {
        let t0 = Instant::now();
        let mut h = HealthState::new(SLOW);
        assert_eq!(h.healthy_for(t0), Duration::ZERO, "no heartbeat yet");
        assert!(h.begin(t0));
        assert!(!h.begin(t0 + ms(10)), "one heartbeat at a time");
        h.end(true, t0 + ms(20));
        for i in 1..10u64 {
            assert!(h.begin(t0 + ms(500 * i)));
            h.end(true, t0 + ms(500 * i + 20));
        }
        assert_eq!(h.healthy_for(t0 + ms(5_000)), ms(4_980));
    }

    #[test]
    fn a_failed_heartbeat_restarts_the_window() {
        let t0 = Instant::now();
        let mut h = HealthState::new(SLOW);
        h.begin(t0);
        h.end(true, t0 + ms(10));
        h.begin(t0 + ms(500));
        h.end(false, t0 + ms(510));
        assert_eq!(h.healthy_for(t0 + ms(900)), Duration::ZERO);
        h.begin(t0 + ms(1_000));
        h.end(true, t0 + ms(1_010));
        assert_eq!(h.healthy_for(t0 + ms(2_010)), ms(1_000));
    }

    /// The chaos run's freeze: a heartbeat hangs 10 s and then succeeds.
    /// Until it ends we are blind, and afterwards the window starts again:
    /// a peer silent through the freeze is not judged on our old record.
    #[test]
    fn a_hanging_heartbeat_is_a_gap_even_if_it_succeeds() {
        let t0 = Instant::now();
        let mut h = HealthState::new(SLOW);
        h.begin(t0);
        h.end(true, t0 + ms(10));
        h.begin(t0 + ms(500));
        assert_eq!(
            h.healthy_for(t0 + ms(900)),
            ms(890),
            "in flight, not yet late"
        );
        assert_eq!(h.healthy_for(t0 + ms(5_000)), Duration::ZERO, "late");
        h.end(true, t0 + ms(10_500));
        assert_eq!(h.healthy_for(t0 + ms(11_000)), ms(500));
    }
}
