//! Creating the benchmark's tasks from several producers at once.

use crate::error::{Error, Result};
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

/// How task creation went.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct ProduceReport {
    pub created: u64,
    /// Creates that failed and were retried (lock timeouts, outages).
    pub retries: u64,
    /// Seconds from the first create sent to the last one acknowledged.
    pub seconds: f64,
}

/// Calls `create(i)` for every i in 0..m from `producers` concurrent
/// loops, retrying transient failures (20 times for one task), until all
/// are created or `stop` is set.
pub async fn produce<F, Fut>(
    m: usize,
    producers: usize,
    stop: Arc<std::sync::atomic::AtomicBool>,
    create: F,
) -> Result<ProduceReport>
where
    F: Fn(usize) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Result<()>> + Send,
{
    produce_with(m, producers, stop, Some(20), create).await
}

/// [`produce`] for the reference modes, whose contention (the emulator's
/// transaction lock timeouts) is their result: a create is retried, with
/// a backoff of at most a second, until it lands or `stop` is set.
pub async fn produce_until_stopped<F, Fut>(
    m: usize,
    producers: usize,
    stop: Arc<std::sync::atomic::AtomicBool>,
    create: F,
) -> Result<ProduceReport>
where
    F: Fn(usize) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Result<()>> + Send,
{
    produce_with(m, producers, stop, None, create).await
}

async fn produce_with<F, Fut>(
    m: usize,
    producers: usize,
    stop: Arc<std::sync::atomic::AtomicBool>,
    max_failures: Option<u32>,
    create: F,
) -> Result<ProduceReport>
where
    F: Fn(usize) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Result<()>> + Send,
{
    let next = Arc::new(AtomicUsize::new(0));
    let created = Arc::new(AtomicU64::new(0));
    let retries = Arc::new(AtomicU64::new(0));
    let started = std::time::Instant::now();
    let mut loops = tokio::task::JoinSet::new();
    for _ in 0..producers.min(m) {
        let (next, created, retries, stop, create) = (
            next.clone(),
            created.clone(),
            retries.clone(),
            stop.clone(),
            create.clone(),
        );
        loops.spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= m || stop.load(Ordering::Relaxed) {
                    return Ok::<(), Error>(());
                }
                let mut failures = 0u32;
                loop {
                    match create(i).await {
                        Ok(()) => break,
                        Err(e)
                            if max_failures.is_none_or(|max| failures < max)
                                && (e.is_transient() || e.is_conflict()) =>
                        {
                            failures += 1;
                            retries.fetch_add(1, Ordering::Relaxed);
                            let wait = 10 * u64::from(failures.min(100));
                            tokio::time::sleep(Duration::from_millis(wait)).await;
                        }
                        Err(e) => return Err(e),
                    }
                    if stop.load(Ordering::Relaxed) {
                        return Ok(());
                    }
                }
                created.fetch_add(1, Ordering::Relaxed);
            }
        });
    }
    while let Some(joined) = loops.join_next().await {
        joined.map_err(|e| Error::Firestore(format!("a producer panicked: {e}")))??;
    }
    Ok(ProduceReport {
        created: created.load(Ordering::Relaxed),
        retries: retries.load(Ordering::Relaxed),
        seconds: started.elapsed().as_secs_f64(),
    })
}
