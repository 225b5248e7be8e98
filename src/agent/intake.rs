//! What the agent does with a queued document that is not a task it can
//! read: a draft typed into the console becomes a task ([`crate::console`]);
//! anything else goes to the quarantine with the reason, so that nothing
//! in the queue is silently ignored.
//!
//! Why a sweep: every agent listens to its own lanes only
//! ([`crate::lanes`]), and a document typed by hand has no `lane`, so no
//! listener sees it (Firestore cannot query for a missing field). The
//! owner of lane 0 therefore compares, at each sweep, how many documents
//! the queued pile holds with how many carry a lane: a count aggregation
//! of each (a read per 1,000 documents counted), only the first when the
//! pile is empty. Only when they differ does it read the pile to find the
//! strays.
//!
//! That is the one poll an idle fleet makes, by one agent: every
//! [`SWEEP_EVERY`], doubling to every 4 minutes while nothing is claimed.
//! A listener on the whole pile would find drafts at once, but would cost
//! its agent a read of every task; a person typing into the console can
//! wait that long.

use crate::console;
use crate::error::{Error, Result};
use crate::lanes::LANES;
use crate::layout::Pile;
use crate::store::{self, Store};
use firestore::gcloud_sdk::google::firestore::v1 as pb;
use firestore::gcloud_sdk::prost_types::Timestamp;
use std::time::Duration;

/// How often the owner of lane 0 looks for documents without a lane.
pub const SWEEP_EVERY: Duration = Duration::from_secs(30);

/// Takes in one queued document that did not decode as a task
/// (`decode_error` says why): normalised if it is a fixable draft,
/// quarantined otherwise. A lost race (a peer got there first, a person
/// changed it) is not an error: the listener shows what happened.
pub async fn take_in(store: &Store, doc: &pb::Document, decode_error: &str, me: &str) {
    let reason = if console::is_draft(doc.fields.keys()) {
        let id = doc.name.rsplit('/').next().unwrap_or_default();
        match Store::decode_draft(doc).and_then(|d| console::normalise(id, d)) {
            Ok(task) => {
                match store.normalise(doc, &task).await {
                    Ok(()) => tracing::info!(doc = %doc.name, "made a task of a console draft"),
                    Err(e) if e.is_conflict() => {}
                    Err(e) => {
                        tracing::warn!(doc = %doc.name, error = %e, "could not make a task of a draft")
                    }
                }
                return;
            }
            Err(why) => format!("a console draft that cannot be made a task: {why}"),
        }
    } else {
        decode_error.to_string()
    };
    match store.quarantine(doc, &reason, me).await {
        Ok(()) => tracing::info!(doc = %doc.name, %reason, "quarantined"),
        Err(e) if e.is_conflict() || matches!(e, Error::PermissionDenied(_)) => {}
        Err(e) => tracing::warn!(doc = %doc.name, error = %e, "could not quarantine"),
    }
}

/// What one sweep saw.
#[derive(Debug, Clone, Copy)]
pub struct Swept {
    /// Queued documents without a lane, taken in.
    pub strays: usize,
    /// Documents in the queued pile when it counted: none, and the
    /// sweeper need not look for tasks left waiting (`stale.rs`).
    pub queued: i64,
}

/// One sweep: takes in every queued document without a lane.
pub async fn sweep(store: &Store, me: &str) -> Result<Swept> {
    let (parent, collection) = (Pile::Queued.parent(), Pile::Queued.collection_id());
    let laned = store::field_in_ints("lane", &(0..LANES).collect::<Vec<_>>());
    // Both counts at one moment a little in the past: counted a few
    // milliseconds apart, a busy queue would differ by the tasks claimed
    // in between, and every sweep would read the whole pile.
    // (Whole seconds: Firestore refuses a read time finer than a microsecond.)
    let mut moment = Timestamp::from(std::time::SystemTime::now() - Duration::from_secs(1));
    moment.nanos = 0;
    let all = store.count(&parent, collection, None, Some(moment)).await?;
    // An empty pile has no strays: an idle fleet's sweep counts once.
    if all == 0
        || all
            == store
                .count(&parent, collection, Some(laned), Some(moment))
                .await?
    {
        return Ok(Swept {
            strays: 0,
            queued: all,
        });
    }
    let docs = store
        .run_query(&parent, collection, None, vec![], None)
        .await?;
    let strays: Vec<_> = docs.iter().filter(|d| !has_lane(d)).collect();
    for doc in &strays {
        let reason = match Store::decode_task(doc) {
            Err(e) => e.to_string(),
            Ok(_) => format!("it has no lane in 0..{LANES}, so no agent's queue listener sees it"),
        };
        take_in(store, doc, &reason, me).await;
    }
    Ok(Swept {
        strays: strays.len(),
        queued: all,
    })
}

fn has_lane(doc: &pb::Document) -> bool {
    matches!(
        doc.fields.get("lane").and_then(|v| v.value_type.as_ref()),
        Some(pb::value::ValueType::IntegerValue(l)) if (0..LANES).contains(l)
    )
}
