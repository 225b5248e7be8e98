//! Resources at the edge (issue 13): `resources/{name}` documents, the
//! writes that take and give back permits, and the sweep that returns
//! the permits a killed agent left. What a resource is, and when a
//! holder's permits are free, is [`crate::resource`]'s.
//!
//! Why transforms and field masks instead of read-modify-write: every
//! claim of a task needing `gpu` writes `resources/gpu`. With a
//! precondition on the version read, claims of one resource would
//! conflict with each other; an increment of `used` and a write of one
//! holder entry do not, and the rules judge each against the document as
//! it stands when the commit lands, so the capacity still holds.

use crate::error::{Error, Result};
use crate::layout::{self, Pile};
use crate::model::{Task, now};
use crate::resource::{Holder, Resource, ResourceNeed, is_stale};
use crate::store::{Precondition, Store, server_time};
use firestore::gcloud_sdk::google::firestore::v1 as pb;
use pb::document_transform::FieldTransform;
use pb::document_transform::field_transform::TransformType;

fn rel(name: &str) -> String {
    format!("{}/{name}", layout::RESOURCES)
}

/// `holders.`{task_id}``: task ids may hold `-` and start with a digit,
/// so the segment is quoted.
fn holder_path(task_id: &str) -> String {
    format!("holders.`{task_id}`")
}

fn add_used(by: i64) -> FieldTransform {
    FieldTransform {
        field_path: "used".into(),
        transform_type: Some(TransformType::Increment(pb::Value {
            value_type: Some(pb::value::ValueType::IntegerValue(by)),
        })),
    }
}

/// A masked update of `rel`: the fields in `value` under `mask` (a field
/// in the mask but not in `value` is deleted), `used` moved by `delta`.
fn masked(
    store: &Store,
    name: &str,
    value: &serde_json::Value,
    mask: Vec<String>,
    delta: i64,
) -> Result<pb::Write> {
    Ok(pb::Write {
        operation: Some(pb::write::Operation::Update(
            store.encode(&rel(name), value)?,
        )),
        update_mask: Some(pb::DocumentMask { field_paths: mask }),
        update_transforms: vec![add_used(delta), server_time("updated_at")],
        current_document: Precondition::Exists.into_pb(),
    })
}

/// The write a claim commits with its move: `task_id` holds `need`'s
/// permits under `epoch`. The rules refuse it beyond capacity.
pub fn acquire_write(
    store: &Store,
    need: &ResourceNeed,
    task_id: &str,
    owner: &str,
    epoch: i64,
) -> Result<pb::Write> {
    let holder = Holder {
        permits: need.permits,
        owner: owner.to_string(),
        epoch,
    };
    let value = serde_json::json!({"holders": {task_id: holder}, "last": task_id});
    masked(
        store,
        &need.name,
        &value,
        vec![holder_path(task_id), "last".into()],
        need.permits,
    )
}

/// The write that gives back `task_id`'s `permits` of `name`.
fn release_write(store: &Store, name: &str, task_id: &str, permits: i64) -> Result<pb::Write> {
    let value = serde_json::json!({"last": task_id});
    masked(
        store,
        name,
        &value,
        vec![holder_path(task_id), "last".into()],
        -permits,
    )
}

/// The resource `name`, if it exists.
pub async fn get(store: &Store, name: &str) -> Result<Option<Resource>> {
    let doc = store.batch_get(vec![store.name(&rel(name))]).await?;
    doc.into_iter()
        .next()
        .flatten()
        .map(|d| Store::decode(&d))
        .transpose()
}

/// `vayu resource set NAME CAPACITY`: creates it, or changes its capacity
/// (holders keep their permits; a lower capacity only stops new claims).
pub async fn set(store: &Store, name: &str, capacity: i64) -> Result<Resource> {
    let bad = |m: String| Error::InvalidTask(crate::model::InvalidTask(m));
    if !crate::resource::is_name(name) {
        return Err(bad(format!(
            "'{name}' is not a resource name (lowercase letters, digits, _ and -, at most 64)"
        )));
    }
    if !(0..=crate::resource::PERMITS_MAX).contains(&capacity) {
        return Err(bad(format!(
            "capacity {capacity}: give 0 to {}",
            crate::resource::PERMITS_MAX
        )));
    }
    let write = match get(store, name).await? {
        None => {
            let fresh = Resource {
                capacity,
                ..Resource::default()
            };
            pb::Write {
                operation: Some(pb::write::Operation::Update(
                    store.encode(&rel(name), &fresh)?,
                )),
                update_transforms: vec![server_time("updated_at")],
                current_document: Precondition::Missing.into_pb(),
                ..Default::default()
            }
        }
        Some(_) => pb::Write {
            operation: Some(pb::write::Operation::Update(
                store.encode(&rel(name), &serde_json::json!({"capacity": capacity}))?,
            )),
            update_mask: Some(pb::DocumentMask {
                field_paths: vec!["capacity".into()],
            }),
            update_transforms: vec![server_time("updated_at")],
            current_document: Precondition::Exists.into_pb(),
        },
    };
    store.commit(vec![write]).await?;
    get(store, name)
        .await?
        .ok_or_else(|| Error::NotFound(format!("resource {name} vanished")))
}

/// Every resource, by name (a handful: read whole).
pub async fn list(store: &Store) -> Result<Vec<(String, Resource)>> {
    let docs = store
        .run_query("", layout::RESOURCES, None, vec![], None)
        .await?;
    docs.iter()
        .map(|d| {
            let name = d.name.rsplit('/').next().unwrap_or_default().to_string();
            Ok((name, Store::decode(d)?))
        })
        .collect()
}

/// Checks a new task's `--resource`: the resource exists and its capacity
/// can ever hold the permits (else the task would wait forever).
pub async fn check_need(store: &Store, need: &ResourceNeed) -> Result<()> {
    match get(store, &need.name).await? {
        None => Err(Error::InvalidTask(crate::model::InvalidTask(format!(
            "no resource {}: create it with `vayu resource set {} CAPACITY`",
            need.name, need.name
        )))),
        Some(r) if need.permits > r.capacity => Err(Error::Conflict(format!(
            "resource {} has a capacity of {}: {} permits would never be free",
            need.name, r.capacity, need.permits
        ))),
        Some(_) => Ok(()),
    }
}

/// Gives back `task_id`'s permits of `name` if they are free (its task is
/// no longer held under the epoch that took them). Returns whether it
/// gave any back; a live holder is left alone, and so is a race lost to
/// another releaser.
pub async fn release(store: &Store, name: &str, task_id: &str) -> Result<bool> {
    let Some(r) = get(store, name).await? else {
        return Ok(false);
    };
    let Some(h) = r.holders.get(task_id) else {
        return Ok(false);
    };
    match store
        .commit(vec![release_write(store, name, task_id, h.permits)?])
        .await
    {
        Ok(_) => Ok(true),
        Err(e) if e.is_conflict() || matches!(e, Error::PermissionDenied(_)) => Ok(false),
        Err(e) => Err(e),
    }
}

/// Gives back `t`'s permits, if it needs a resource, after its run ended
/// or it was requeued. Logged, not returned: the sweep retries.
pub async fn release_for(store: &Store, t: &Task) {
    if let Some(need) = &t.resource
        && let Err(e) = release(store, &need.name, &t.task_id).await
    {
        tracing::warn!(task = %t.task_id, resource = %need.name, error = %e, "could not give permits back; the sweep will");
    }
}

/// The safety net, run with the lane-0 sweep: gives back every holder's
/// permits whose task is no longer held under its epoch (a holder killed
/// with kill -9 and requeued by a peer that died too, a release that
/// failed). Returns how many holders were released.
pub async fn sweep(store: &Store) -> Result<usize> {
    let mut released = 0;
    for (name, r) in list(store).await? {
        if r.holders.is_empty() {
            continue;
        }
        let names = (r.holders.keys())
            .map(|id| store.name(&Pile::Active.doc(id)))
            .collect();
        let docs = store.batch_get(names).await?;
        let t_now = now();
        for ((id, h), doc) in r.holders.iter().zip(docs) {
            let task = doc
                .as_ref()
                .map(Store::decode_task)
                .transpose()
                .ok()
                .flatten();
            if is_stale(h, task.as_ref(), t_now) && release(store, &name, id).await? {
                released += 1;
            }
        }
    }
    Ok(released)
}
