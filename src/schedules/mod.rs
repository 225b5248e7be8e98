//! Schedules at the edge (issue 13): `schedules/{id}` documents, what
//! people do to them (`vayu schedule create|list|pause|resume|delete`),
//! and how every agent ticks them with no leader.
//!
//! The pure parts (the document, which ticks are due, the commits that
//! create them) are `crate::schedule` and `crate::cron`; here they meet
//! Firestore and a clock:
//! - [`manage`]: people's commands, each one conditional write;
//! - [`tick`]: one schedule's due ticks, each created in the one commit
//!   that moves the schedule's cursor past it, conditioned on the
//!   schedule's update time (firestore.rules `isTickTask`, `isCursorMove`);
//! - [`watch`]: an agent's view of every schedule, kept by a listener,
//!   evaluated on its heartbeat against its [`Clock`].

mod clock;
mod manage;
mod tick;
mod watch;

pub use clock::{Clock, ManualClock};
pub use manage::{NewSchedule, check, create, delete, find, list, next_tick, pause, resume, zone};
pub use tick::{Evaluated, evaluate_one};
pub use watch::{DEFER, Ticker, View, evaluate};

use crate::error::Result;
use crate::layout;
use crate::model::Time;
use crate::schedule::Schedule;
use crate::store::{Precondition, Store, pb_time, server_time};
use firestore::gcloud_sdk::google::firestore::v1 as pb;
use firestore::gcloud_sdk::prost_types::Timestamp;

/// A schedule as read, with the update time a conditional write needs.
#[derive(Debug, Clone)]
pub struct Seen {
    pub schedule: Schedule,
    pub update_time: Timestamp,
}

impl Seen {
    /// Decodes a schedule document; one that does not parse is
    /// [`crate::Error::Malformed`].
    pub fn decode(doc: &pb::Document) -> Result<Seen> {
        Ok(Seen {
            schedule: Store::decode(doc)?,
            update_time: doc.update_time.unwrap_or_default(),
        })
    }

    /// Whether `self` is a later version than `other`.
    fn newer_than(&self, other: &Seen) -> bool {
        let key = |t: &Timestamp| (t.seconds, t.nanos);
        key(&self.update_time) > key(&other.update_time)
    }
}

/// Reads `schedules/{id}`; `None` when there is none.
pub async fn read(store: &Store, id: &str) -> Result<Option<Seen>> {
    let name = store.name(&layout::schedule_doc(id));
    let doc = store
        .batch_get(vec![name])
        .await?
        .into_iter()
        .next()
        .flatten();
    doc.as_ref().map(Seen::decode).transpose()
}

/// An update of `schedules/{id}`: the fields in `mask` become those in
/// `fields` (a masked field missing from `fields` is removed), and
/// `updated_at` and the fields in `now_fields` the commit's time; only if
/// the schedule is still the version `seen`.
fn update_write(
    store: &Store,
    id: &str,
    fields: Vec<(&str, pb::Value)>,
    mask: &[&str],
    now_fields: &[&str],
    seen: Timestamp,
) -> pb::Write {
    let doc = pb::Document {
        name: store.name(&layout::schedule_doc(id)),
        fields: fields
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect(),
        ..Default::default()
    };
    let mut transforms = vec![server_time("updated_at")];
    transforms.extend(now_fields.iter().map(|f| server_time(f)));
    pb::Write {
        operation: Some(pb::write::Operation::Update(doc)),
        update_mask: Some(pb::DocumentMask {
            field_paths: mask.iter().map(|f| f.to_string()).collect(),
        }),
        update_transforms: transforms,
        current_document: Precondition::UpdatedAt(seen).into_pb(),
    }
}

/// A Firestore timestamp value.
fn time_value(t: Time) -> pb::Value {
    pb::Value {
        value_type: Some(pb::value::ValueType::TimestampValue(pb_time(t))),
    }
}

/// The cursor move of an evaluation: `last_tick` to `cursor`, `next_tick`
/// to the tick after it (removed when there is none), only if the
/// schedule is still the version `seen`. Public for the rules tests,
/// which send it beside hand-made tasks.
pub fn cursor_write(
    store: &Store,
    id: &str,
    cursor: Time,
    next: Option<Time>,
    seen: Timestamp,
) -> pb::Write {
    let mut fields = vec![("last_tick", time_value(cursor))];
    fields.extend(next.map(|n| ("next_tick", time_value(n))));
    update_write(store, id, fields, &["last_tick", "next_tick"], &[], seen)
}
