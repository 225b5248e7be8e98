//! `notify/{hook_id}`: a webhook's document. People (admins) add and
//! remove hooks; agents only move a hook's cursor forward, or note that a
//! delivery failed (firestore.rules `isHookAdvance`, `isHookFailure`).

use super::{Hook, Kind, LAST_ERROR_MAX, check_url, is_hook_id};
use crate::error::{Error, Result};
use crate::layout;
use crate::model::{Time, clip};
use crate::store::{Precondition, Store, pb_time, server_time, string_value};
use firestore::gcloud_sdk::google::firestore::v1 as pb;
use firestore::gcloud_sdk::prost_types::Timestamp;

/// A hook as read, with the update time its cursor moves are
/// conditioned on.
#[derive(Debug, Clone)]
pub struct SeenHook {
    pub hook: Hook,
    pub update_time: Timestamp,
}

/// What `vayu notify add` asks for.
#[derive(Debug, Clone)]
pub struct NewHook {
    pub url: String,
    /// `--on`, as typed: comma-separated kinds.
    pub on: String,
    /// The caller's uid (the rules insist on it); `admin` without one.
    pub created_by: String,
}

/// Checks `new` (nothing is written when it is bad), then creates the
/// hook; its cursor starts at the commit's time, so it is sent what
/// happens from now on, not the history.
pub async fn add(store: &Store, new: &NewHook) -> Result<Hook> {
    check_url(&new.url).map_err(Error::InvalidHook)?;
    let on = super::parse_kinds(&new.on).map_err(Error::InvalidHook)?;
    let id = format!("h-{}", &uuid::Uuid::new_v4().simple().to_string()[..12]);
    debug_assert!(is_hook_id(&id), "a made id is a hook id");
    let hook = Hook {
        hook_id: id.clone(),
        url: new.url.clone(),
        on,
        created_by: new.created_by.clone(),
        created_at: None,
        cursor_at: None,
        cursor_id: String::new(),
        failures: 0,
        last_error: None,
    };
    let doc = store.encode(&layout::hook_doc(&id), &hook)?;
    let write = pb::Write {
        operation: Some(pb::write::Operation::Update(doc)),
        update_transforms: vec![server_time("created_at"), server_time("cursor_at")],
        current_document: Precondition::Missing.into_pb(),
        ..Default::default()
    };
    store.commit(vec![write]).await?;
    Ok(get(store, &id).await?.map(|s| s.hook).unwrap_or(hook))
}

/// Every hook, by id; one that does not parse is an error beside them.
pub async fn list(store: &Store) -> Result<Vec<Result<SeenHook>>> {
    let docs = store
        .run_query("", layout::HOOKS, None, vec![], None)
        .await?;
    let mut out: Vec<Result<SeenHook>> = docs.iter().map(decode).collect();
    out.sort_by(|a, b| match (a, b) {
        (Ok(a), Ok(b)) => a.hook.hook_id.cmp(&b.hook.hook_id),
        (Ok(_), Err(_)) => std::cmp::Ordering::Less,
        (Err(_), Ok(_)) => std::cmp::Ordering::Greater,
        (Err(_), Err(_)) => std::cmp::Ordering::Equal,
    });
    Ok(out)
}

pub async fn get(store: &Store, id: &str) -> Result<Option<SeenHook>> {
    store
        .get_doc(&layout::hook_doc(id))
        .await?
        .as_ref()
        .map(decode)
        .transpose()
}

/// Deletes a hook; `NotFound` when there is none.
pub async fn remove(store: &Store, id: &str) -> Result<Hook> {
    let seen = get(store, id)
        .await?
        .ok_or_else(|| Error::NotFound(format!("no webhook '{id}'")))?;
    let write = pb::Write {
        operation: Some(pb::write::Operation::Delete(
            store.name(&layout::hook_doc(id)),
        )),
        current_document: Precondition::Exists.into_pb(),
        ..Default::default()
    };
    store.commit(vec![write]).await?;
    Ok(seen.hook)
}

/// Moves the cursor to (`at`, `id`), an event delivered or skipped,
/// clearing the failures; only if the hook is still as `seen` (else
/// another agent moved it: it delivered too).
pub async fn advance(store: &Store, seen: &SeenHook, at: Time, id: &str) -> Result<()> {
    let mut fields = std::collections::HashMap::new();
    let time = pb::Value {
        value_type: Some(pb::value::ValueType::TimestampValue(pb_time(at))),
    };
    fields.insert("cursor_at".to_string(), time);
    fields.insert("cursor_id".to_string(), string_value(id));
    fields.insert("failures".to_string(), int_value(0));
    // `last_error` is in the mask and not in the fields: deleted.
    let mask = ["cursor_at", "cursor_id", "failures", "last_error"];
    update(store, seen, fields, &mask).await
}

/// Notes a failed delivery: one more failure, and why.
pub async fn note_failure(store: &Store, seen: &SeenHook, error: &str) -> Result<()> {
    let mut fields = std::collections::HashMap::new();
    fields.insert(
        "failures".to_string(),
        int_value(seen.hook.failures.saturating_add(1)),
    );
    fields.insert(
        "last_error".to_string(),
        string_value(&clip(error, LAST_ERROR_MAX - 4)),
    );
    update(store, seen, fields, &["failures", "last_error"]).await
}

async fn update(
    store: &Store,
    seen: &SeenHook,
    fields: std::collections::HashMap<String, pb::Value>,
    mask: &[&str],
) -> Result<()> {
    let write = pb::Write {
        operation: Some(pb::write::Operation::Update(pb::Document {
            name: store.name(&layout::hook_doc(&seen.hook.hook_id)),
            fields,
            ..Default::default()
        })),
        update_mask: Some(pb::DocumentMask {
            field_paths: mask.iter().map(|m| m.to_string()).collect(),
        }),
        current_document: Precondition::UpdatedAt(seen.update_time).into_pb(),
        ..Default::default()
    };
    store.commit(vec![write]).await?;
    Ok(())
}

fn int_value(n: i64) -> pb::Value {
    pb::Value {
        value_type: Some(pb::value::ValueType::IntegerValue(n)),
    }
}

fn decode(doc: &pb::Document) -> Result<SeenHook> {
    Ok(SeenHook {
        hook: Store::decode::<Hook>(doc)?,
        update_time: doc.update_time.unwrap_or_default(),
    })
}

/// The kinds as `--on` takes them, for display.
pub fn kinds_text(on: &[Kind]) -> String {
    on.iter().map(|k| k.as_str()).collect::<Vec<_>>().join(",")
}
