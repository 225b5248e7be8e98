//! Delivering events to webhooks, by every agent, with no leader.
//!
//! A round (every `--notify-every`, jittered so agents spread out): read
//! the hooks; for each, at most [`PAGE`] events after its cursor, oldest
//! first; POST each the hook wants (bounded retries, a timeout, no
//! redirects), and after the last 2xx move the cursor past what was sent
//! (and the events of kinds it does not want) with one commit conditioned
//! on the hook as read. Losing that race means another agent moved it,
//! having delivered too. A failed POST stops the hook's round: what came
//! before it is passed, the failure noted, and the next round starts
//! again at the failed event. So every event is delivered at least once,
//! in order per hook, duplicates carrying the same id.
//!
//! It runs in its own task, beside the agent's loop: a slow webhook never
//! delays a claim or a heartbeat. Hooks are delivered concurrently, at
//! most [`HOOKS_AT_ONCE`] at a time.

use super::hooks::{self, SeenHook};
use super::{Event, Payload};
use crate::error::Result;
use crate::layout;
use crate::model::Time;
use crate::store::{self, Store};
use firestore::gcloud_sdk::google::firestore::v1 as pb;
use futures::StreamExt;
use pb::structured_query::{self as sq, field_filter::Operator};
use std::time::Duration;

/// Events read per hook per round.
pub const PAGE: i32 = 50;
/// Hooks delivered at once by one agent.
pub const HOOKS_AT_ONCE: usize = 4;
/// How long one POST may take.
pub const POST_TIMEOUT: Duration = Duration::from_secs(10);
/// How often an agent delivers, by default.
pub const EVERY: Duration = Duration::from_secs(10);

/// The header that carries the event id, for receivers that deduplicate
/// without reading the body.
pub const EVENT_ID_HEADER: &str = "X-Vayu-Event-Id";

/// Delivers every `every` (jittered ±50%) while `duty` says this agent
/// owns lane 0, until `stop` says so.
///
/// Why only the owner of lane 0: every round reads the hooks, so N agents
/// delivering would cost an idle fleet N polling reads per round for one
/// agent's work. Lane 0 always has exactly one live owner in the view of
/// the agents, and passes on when its owner dies; delivery resumes from
/// the hook's cursor, so at least once still holds. Two agents that both
/// believe they own lane 0 for a moment deliver the same events twice,
/// under the same ids.
pub async fn run(
    store: Store,
    every: Duration,
    mut stop: tokio::sync::watch::Receiver<bool>,
    duty: tokio::sync::watch::Receiver<bool>,
) {
    let client = client();
    loop {
        let wait = every.mul_f64(0.5 + rand::random::<f64>());
        tokio::select! {
            _ = stop.wait_for(|s| *s) => return,
            _ = tokio::time::sleep(wait) => {}
        }
        if !*duty.borrow() {
            continue;
        }
        if let Err(e) = round(&store, &client).await {
            tracing::debug!(error = %e, "a webhook round failed; the next one tries again");
        }
    }
}

/// The HTTP client: a timeout per request, and no redirects (a 3xx is a
/// failure, not a POST turned into a GET elsewhere).
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(POST_TIMEOUT)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap_or_else(|_| reqwest::Client::new())
}

/// One round over every hook; how many events were POSTed.
pub async fn round(store: &Store, client: &reqwest::Client) -> Result<usize> {
    let seen = hooks::list(store).await?;
    let sent: Vec<usize> = futures::stream::iter(seen.into_iter().filter_map(|h| h.ok()))
        .map(|h| async move {
            let id = h.hook.hook_id.clone();
            deliver_hook(store, client, h).await.unwrap_or_else(|e| {
                tracing::debug!(hook = %id, error = %e, "delivering to a webhook failed");
                0
            })
        })
        .buffer_unordered(HOOKS_AT_ONCE)
        .collect()
        .await;
    Ok(sent.iter().sum())
}

/// Delivers one page of `seen`'s events; how many were POSTed.
pub async fn deliver_hook(
    store: &Store,
    client: &reqwest::Client,
    seen: SeenHook,
) -> Result<usize> {
    let events = after_cursor(store, &seen).await?;
    let (mut sent, mut passed, mut failure) = (0, None, None);
    for (id, at, event) in events {
        if seen.hook.wants(event.kind) {
            if let Err(e) = post(client, &seen.hook.url, &event.payload(&id)).await {
                failure = Some(format!("event {id}: {e}"));
                break;
            }
            sent += 1;
        }
        passed = Some((at, id));
    }
    let moved = match (&passed, &failure) {
        (Some((at, id)), _) => hooks::advance(store, &seen, *at, id).await,
        (None, Some(e)) => hooks::note_failure(store, &seen, e).await,
        (None, None) => Ok(()),
    };
    if let Some(e) = &failure {
        tracing::warn!(hook = %seen.hook.hook_id, error = %e, "a webhook refused an event; the next round tries again");
    }
    match moved {
        Err(e) if e.is_conflict() => {
            tracing::debug!(hook = %seen.hook.hook_id, "another agent moved the cursor first");
        }
        Err(e) => return Err(e),
        Ok(()) => {}
    }
    Ok(sent)
}

/// The events after the hook's cursor, oldest first: (id, at, event).
async fn after_cursor(store: &Store, seen: &SeenHook) -> Result<Vec<(String, Time, Event)>> {
    let docs = store
        .run_query(
            "",
            layout::EVENTS,
            from_filter(seen.hook.cursor_at),
            vec![by_at()],
            Some(PAGE),
        )
        .await?;
    let mut out = Vec::new();
    for doc in &docs {
        let id = doc.name.rsplit('/').next().unwrap_or_default().to_string();
        let Ok(event) = Store::decode::<Event>(doc) else {
            tracing::warn!(event = %id, "an event does not parse; skipped");
            continue;
        };
        match event.at {
            Some(at) if seen.hook.is_after_cursor(at, &id) => out.push((id, at, event)),
            _ => {}
        }
    }
    Ok(out)
}

/// `at >= cursor` (the cursor's own time again: events of one instant are
/// told apart by id, in memory).
pub fn from_filter(cursor: Option<Time>) -> Option<sq::Filter> {
    cursor.map(|c| {
        let at = pb::Value {
            value_type: Some(pb::value::ValueType::TimestampValue(store::pb_time(c))),
        };
        store::field_op("at", Operator::GreaterThanOrEqual, at)
    })
}

/// Oldest first; Firestore breaks ties by document id.
pub fn by_at() -> sq::Order {
    sq::Order {
        field: Some(sq::FieldReference {
            field_path: "at".into(),
        }),
        direction: sq::Direction::Ascending as i32,
    }
}

/// POSTs one event, retrying a few times (jittered, capped) on a failure
/// or a non-2xx answer.
async fn post(
    client: &reqwest::Client,
    url: &str,
    payload: &Payload,
) -> std::result::Result<(), String> {
    use backon::Retryable;
    let once = || async {
        let answer = client
            .post(url)
            .header(EVENT_ID_HEADER, &payload.id)
            .json(payload)
            .send()
            .await
            .map_err(|e| e.to_string())?;
        match answer.status() {
            s if s.is_success() => Ok(()),
            s => Err(format!("HTTP {s}")),
        }
    };
    once.retry(
        backon::ExponentialBuilder::default()
            .with_min_delay(Duration::from_millis(200))
            .with_max_delay(Duration::from_secs(2))
            .with_max_times(2)
            .with_jitter(),
    )
    .await
}
