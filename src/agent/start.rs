//! Coming up: register, learn the peers, listen to our lanes of the queue,
//! and requeue what a previous run of this agent left behind.

use super::*;
use claim::startup_backoff;
use heartbeat::Card;

impl Agent {
    pub(super) async fn start(store: Store, cfg: AgentConfig) -> Result<Agent> {
        // The skills an earlier run learned are only in its document,
        // which registering overwrites. Unreadable is not fatal: the agent
        // starts without them, and the log says so.
        match store.get_agent(&cfg.agent_id).await {
            Ok(Some(doc)) => cfg.skills.seed(&doc.skills),
            Ok(None) => {}
            Err(e) => {
                tracing::warn!(error = %e, "could not read the skills an earlier run learned")
            }
        }
        // The project's scoring weights, for the agent's bids (one read).
        // A bad document is logged and the built-in weights used: an agent
        // that refuses to start over a weight would stop all work.
        let weights = match crate::push::defaults(&store).await {
            Ok(d) => d.weights,
            Err(e) => {
                tracing::warn!(error = %e, "using the built-in assignment weights");
                assign::score::Weights::default()
            }
        };
        let cfg = Arc::new(cfg);
        // Bound first: a taken port is a bad configuration, found before
        // the agent registers.
        let metrics = match cfg.metrics_addr {
            Some(addr) => Some(exporter::bind(addr).await?),
            None => None,
        };
        let report = AgentReport::default();
        let mut card = Card::new();
        card.registered = heartbeat::registration_key(&cfg);
        let online = card.doc(&cfg, &report, AgentState::Online, &HashMap::new());
        register(&store, &online).await?;
        tracing::info!(agent = %cfg.agent_id, endpoint = store.endpoint(), "agent online");

        // Peers first: which lanes of the queue are ours depends on who
        // else is live.
        let stale_after = cfg.lease + cfg.heartbeat;
        let (peers_listener, mut peer_events) = listen_agents(&store);
        let mut peers = peers::first_snapshot(&cfg.agent_id, &mut peer_events, stale_after).await;
        seed_beats(&store, &mut peers, stale_after).await;
        let watch = presence::Watch::open(&store, presence::successors(&cfg.agent_id, &peers));
        let offer = cfg.offer();
        let live = peers::live_offers(&offer, &peers, &watch.ids, stale_after, Duration::ZERO);
        let queue = Queue::open(
            &store,
            &cfg.agent_id,
            peers::my_lanes(&cfg.agent_id, &live),
            cfg.concurrency,
        );
        tracing::info!(lanes = ?queue.lanes, "listening to the queue");

        requeue_left_behind(&store, &cfg.agent_id).await;

        let mut heartbeat = tokio::time::interval(cfg.heartbeat);
        heartbeat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        heartbeat.tick().await;
        let reviewer = cfg.reviews.reviews().any().then(|| {
            let (stop, stopped) = tokio::sync::watch::channel(false);
            let task = tokio::spawn(reviewer::run(store.clone(), cfg.clone(), stopped));
            (task, stop)
        });
        let notifier = cfg.notify_every.map(|every| {
            let (stop, stopped) = tokio::sync::watch::channel(false);
            // Lane 0's owner delivers; the heartbeat says who that is.
            let (duty, on_duty) = tokio::sync::watch::channel(false);
            let deliver = crate::notify::deliver::run(store.clone(), every, stopped, on_duty);
            (tokio::spawn(deliver), stop, duty)
        });
        let health = Health::new(stale_after / 2);
        let exporter = metrics.map(|listener| {
            let (tx, rx) = tokio::sync::watch::channel(exporter::Published::default());
            let (id, store, health) = (cfg.agent_id.clone(), store.clone(), health.clone());
            tracing::info!(addr = ?listener.local_addr().ok(), "serving metrics at /metrics");
            (
                tx,
                tokio::spawn(exporter::serve(listener, id, rx, store, health)),
            )
        });
        Ok(Agent {
            offer,
            report,
            card,
            peers_listener,
            peer_events,
            peers,
            relisten: peers::Relisten::after_start(),
            watch,
            reregister: Arc::default(),
            requeued: Arc::default(),
            recheck_at: None,
            stale_after,
            health: health.clone(),
            recheck_lanes: false,
            queue,
            running: HashMap::new(),
            breakers: crate::breaker::Breakers::new(cfg.breaker),
            claim_latency: exporter::Histogram::default(),
            exporter,
            holding: HashMap::new(),
            claiming: JoinSet::new(),
            claiming_ids: HashSet::new(),
            claims: Breaker::new(),
            runners: JoinSet::new(),
            release: tokio::sync::watch::channel(false).0,
            learner: crate::history::Learner::new(store.clone(), cfg.agent_id.clone()),
            weights,
            background: JoinSet::new(),
            settling: JoinSet::new(),
            takeovers: JoinSet::new(),
            sweeps: JoinSet::new(),
            // The first sweep one `sweep_every` after the start (a
            // restarted fleet finds what was typed while it was down then),
            // not at once: an idle fleet's first seconds cost no reads.
            last_sweep: Instant::now(),
            archiving: None,
            last_archive: Instant::now(),
            scaler: None,
            last_scale_check: Instant::now(),
            busy_at: Instant::now(),
            swept_expired: false,
            run_ends: std::collections::VecDeque::new(),
            sweep_gap: heartbeat::SweepGap::new(cfg.sweep_every),
            heartbeat,
            ticker: crate::schedules::Ticker::start(&store),
            reviewer,
            notifier,
            store,
            cfg,
        })
    }
}

/// Writes the agent's document, retrying: an agent restarted into a busy
/// or recovering Firestore (the emulator answers ABORTED on a lock
/// timeout) should come up, not exit. A refusal by the rules is final.
async fn register(store: &Store, online: &AgentDoc) -> Result<()> {
    use backon::Retryable;
    (|| store.put_agent(online))
        .retry(startup_backoff())
        .when(|e: &Error| e.is_transient() || e.is_conflict())
        .notify(|e: &Error, wait: Duration| {
            tracing::warn!(error = %e, ?wait, "registering the agent failed; retrying");
        })
        .await
}

/// Every peer's last beat, read once at the start (one read a peer): a
/// registration left by a crashed run says it is online, and only its
/// beat shows it has been silent for long, which keeps it out of the
/// split of the lanes from the first moment. Unreadable is not fatal:
/// its watchers find it silent soon.
async fn seed_beats(store: &Store, peers: &mut HashMap<String, Peer>, stale_after: Duration) {
    match store.list_presence().await {
        Ok(beats) => {
            for beat in beats {
                if let Some(p) = peers.get_mut(&beat.agent_id) {
                    p.on_beat(&beat, stale_after);
                }
            }
        }
        Err(e) => tracing::warn!(error = %e, "could not read the peers' beats"),
    }
}

pub(super) fn listen_agents(store: &Store) -> (Listener, tokio::sync::mpsc::Receiver<ListenEvent>) {
    let spec = QuerySpec {
        parent: store.db().get_documents_path().clone(),
        collection_id: layout::AGENTS.into(),
        filter: None,
        order_by: vec![],
        limit: None,
    };
    Listener::spawn(store.db().clone(), spec, store.counters().clone(), 256)
}

/// Retried like registration: a previous run's tasks are held under our
/// own id, and no peer takes them while we heartbeat, so this look must
/// happen.
async fn requeue_left_behind(store: &Store, me: &str) {
    use backon::Retryable;
    let found = (|| recovery::at_startup(store, me))
        .retry(startup_backoff())
        .when(|e: &Error| e.is_transient() || e.is_conflict())
        .await;
    match found {
        Ok(0) => {}
        Ok(n) => tracing::info!(n, "requeued tasks left by a dead agent or a previous run"),
        Err(e) => tracing::warn!(error = %e, "could not look for orphaned tasks at startup"),
    }
}
