//! The background task that owns one `Listen` stream: opens it, feeds
//! the server's messages to the [`View`], delivers the events, and
//! reconnects with backoff.

use super::*;

/// Why a stream ended.
#[derive(Debug, thiserror::Error)]
pub(super) enum StreamEnd {
    /// The consumer dropped the receiver: the listener's work is over.
    #[error("the event receiver was dropped")]
    ReceiverGone,
    #[error("opening the listen stream failed: {0}")]
    Open(tonic::Status),
    #[error("the listen stream failed: {0}")]
    Failed(tonic::Status),
    #[error("the server ended the listen stream")]
    Ended,
    #[error("no message for {0:?} before the initial snapshot was complete")]
    Stalled(Duration),
    #[error("no message for {0:?} (max_idle)")]
    Idle(Duration),
    #[error("the server removed the target: {0}")]
    TargetRemoved(String),
    #[error("existence filter mismatch: the server has {server} documents, the listener {local}")]
    FilterMismatch { server: i32, local: usize },
}

/// The owner of the stream, running in the background task.
pub(super) struct Worker {
    pub(super) db: FirestoreDb,
    pub(super) spec: QuerySpec,
    pub(super) counters: Arc<OpCounters>,
    pub(super) options: ListenOptions,
    pub(super) events: mpsc::Sender<ListenEvent>,
    pub(super) connected: Arc<AtomicBool>,
    pub(super) view: View,
}

impl Worker {
    pub(super) async fn run(mut self) {
        let mut attempt: u32 = 0;
        loop {
            let mut healthy_since = None;
            let end = self.stream_once(&mut healthy_since).await;
            self.connected.store(false, Ordering::Relaxed);
            if matches!(end, StreamEnd::ReceiverGone) {
                debug!("event receiver dropped; listener stops");
                return;
            }
            if healthy_since
                .is_some_and(|since: Instant| since.elapsed() >= self.options.healthy_after)
            {
                attempt = 0;
            }
            let delay = backoff_delay(&self.options, attempt);
            attempt = attempt.saturating_add(1);
            warn!(error = %end, ?delay, attempt, "listen stream ended; reconnecting");
            tokio::select! {
                _ = tokio::time::sleep(delay) => {}
                _ = self.events.closed() => {
                    debug!("event receiver dropped during backoff; listener stops");
                    return;
                }
            }
        }
    }

    /// Opens one stream and follows it until it ends. Sets `healthy_since` when
    /// the stream delivers its initial snapshot.
    async fn stream_once(&mut self, healthy_since: &mut Option<Instant>) -> StreamEnd {
        self.view.start_over();

        // The request side must stay open for as long as we listen: when it
        // ends, the server ends the response stream too. `_requests` is held
        // until this function returns, which keeps the stream pending.
        let (requests, mut request_rx) = mpsc::channel::<ListenRequest>(1);
        let add_target = ListenRequest {
            database: self.db.get_database_path().clone(),
            target_change: Some(listen_request::TargetChange::AddTarget(Target {
                target_id: TARGET_ID,
                target_type: Some(target::TargetType::Query(target::QueryTarget {
                    parent: self.spec.parent.clone(),
                    query_type: Some(target::query_target::QueryType::StructuredQuery(
                        self.spec.structured_query(),
                    )),
                })),
                ..Default::default()
            })),
            ..Default::default()
        };
        // The channel was just created with room for one request and its
        // receiver is alive, so this cannot fail.
        requests
            .try_send(add_target)
            .expect("a fresh channel has room for the first request");
        let _requests = requests;
        let request_stream = futures::stream::poll_fn(move |cx| request_rx.poll_recv(cx));

        let open_timeout = self.options.open_timeout;
        let mut client = self.db.client().get();
        let open = client.listen(tonic::Request::new(request_stream));
        let mut stream = tokio::select! {
            _ = self.events.closed() => return StreamEnd::ReceiverGone,
            opened = tokio::time::timeout(open_timeout, open) => match opened {
                Err(_) => return StreamEnd::Stalled(open_timeout),
                Ok(Err(status)) => return StreamEnd::Open(status),
                Ok(Ok(response)) => response.into_inner(),
            },
        };
        debug!("listen stream open");

        loop {
            let limit = if healthy_since.is_none() {
                Some(open_timeout)
            } else {
                self.options.max_idle
            };
            let next = async {
                match limit {
                    Some(limit) => tokio::time::timeout(limit, stream.message()).await.ok(),
                    None => Some(stream.message().await),
                }
            };
            let message = tokio::select! {
                _ = self.events.closed() => return StreamEnd::ReceiverGone,
                message = next => message,
            };
            let response = match message {
                None if healthy_since.is_none() => return StreamEnd::Stalled(open_timeout),
                // `limit` is `Some` here: only a timeout yields `None`.
                None => return StreamEnd::Idle(limit.unwrap_or_default()),
                Some(Err(status)) => return StreamEnd::Failed(status),
                Some(Ok(None)) => return StreamEnd::Ended,
                Some(Ok(Some(response))) => response,
            };
            let outcome = self.view.apply(response);
            for event in outcome.events {
                match &event {
                    ListenEvent::Upsert(_) => {
                        OpCounters::add(&self.counters.listener_reads, 1);
                        let c = self.spec.collection_id.as_str();
                        if c == crate::layout::AGENTS || c == crate::layout::PRESENCE {
                            OpCounters::add(&self.counters.presence_reads, 1);
                        }
                    }
                    ListenEvent::Removed(_) => OpCounters::add(&self.counters.listener_removals, 1),
                    ListenEvent::Reset | ListenEvent::Current => {}
                }
                if self.events.send(event).await.is_err() {
                    return StreamEnd::ReceiverGone;
                }
            }
            if outcome.current {
                debug!(
                    documents = self.view.known.len(),
                    "initial snapshot delivered"
                );
                *healthy_since = Some(Instant::now());
                self.connected.store(true, Ordering::Relaxed);
            }
            if let Some(end) = outcome.end {
                return end;
            }
        }
    }
}

/// The wait before reconnect attempt number `attempt` (from 0): exponential
/// from `backoff_min`, capped at `backoff_max`, with full jitter above a floor
/// of `backoff_min` so that many agents losing the same server do not all come
/// back at once, and none spins.
fn backoff_delay(options: &ListenOptions, attempt: u32) -> Duration {
    let min = options.backoff_min;
    let max = options.backoff_max.max(min);
    let ceiling = min
        .checked_mul(1u32.checked_shl(attempt.min(31)).unwrap_or(u32::MAX))
        .unwrap_or(max)
        .min(max);
    let (low, high) = (min.as_millis() as u64, ceiling.as_millis() as u64);
    Duration::from_millis(rand::rng().random_range(low..=high.max(low)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_within_its_bounds() {
        let options = ListenOptions::default();
        for attempt in [0, 1, 5, 10, 31, 32, 1000, u32::MAX] {
            for _ in 0..100 {
                let delay = backoff_delay(&options, attempt);
                assert!(delay >= options.backoff_min, "{delay:?} at {attempt}");
                assert!(delay <= options.backoff_max, "{delay:?} at {attempt}");
            }
        }
        assert_eq!(backoff_delay(&options, 0), options.backoff_min);
        // Later attempts spread over the whole range (full jitter).
        let late: Vec<Duration> = (0..200).map(|_| backoff_delay(&options, 20)).collect();
        assert!(late.iter().any(|d| *d > Duration::from_secs(3)));
        assert!(late.iter().any(|d| *d < Duration::from_secs(2)));
    }
}
