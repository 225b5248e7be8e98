//! The per-caller create quota (docs/security.md "Quota").
//!
//! firestore.rules accept a new task only when the same commit writes the
//! caller's window of the current minute, `quota/{uid}@{minute}`: `count`
//! raised by one (a server-side increment, so concurrent creates need no
//! read and never conflict), `last_task` the new task's id, and
//! `expire_at` a day ahead (a TTL policy, `firestore.indexes.json`,
//! deletes old windows). The rules cap `count` per minute; a create over
//! it is refused, and [`explain`] tells that refusal from others.

use crate::error::{Error, Result};
use crate::model::{Time, now, time_add};
use crate::store::Store;
use firestore::gcloud_sdk::google::firestore::v1 as pb;
use pb::document_transform::field_transform::TransformType;
use std::time::Duration;

/// New tasks a person (operator, reviewer, admin) may create per minute.
pub const PERSON_LIMIT: i64 = 300;
/// New tasks an agent may create per minute.
pub const AGENT_LIMIT: i64 = 3_000;
/// How long a window is kept before the TTL policy deletes it.
pub const KEEP: Duration = Duration::from_secs(24 * 3600);

/// Who pays for a create, as the rules see it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Payer {
    pub uid: String,
    pub agent: bool,
}

impl Payer {
    pub fn limit(&self) -> i64 {
        if self.agent {
            AGENT_LIMIT
        } else {
            PERSON_LIMIT
        }
    }
}

/// Whole minutes since the epoch, as the rules compute
/// `request.time.toMillis() / 60000`.
pub fn minute(t: Time) -> i64 {
    t.0.as_millisecond().div_euclid(60_000)
}

/// The window document, relative to the database root.
pub fn doc(uid: &str, minute: i64) -> String {
    format!("quota/{uid}@{minute}")
}

/// The write that pays for `task_id` in `minute`'s window: a merge of
/// `last_task` and `expire_at` and an increment of `count`, unconditional
/// (the window may or may not exist).
pub fn write(store: &Store, payer: &Payer, minute: i64, task_id: &str) -> Result<pb::Write> {
    /// The merged fields (a struct, so `expire_at` encodes as a timestamp).
    #[derive(serde::Serialize)]
    struct Window<'a> {
        last_task: &'a str,
        expire_at: Time,
    }
    let fields = Window {
        last_task: task_id,
        expire_at: time_add(now(), KEEP),
    };
    let doc = store.encode(&doc(&payer.uid, minute), &fields)?;
    Ok(pb::Write {
        operation: Some(pb::write::Operation::Update(doc)),
        update_mask: Some(pb::DocumentMask {
            field_paths: vec!["last_task".into(), "expire_at".into()],
        }),
        update_transforms: vec![pb::document_transform::FieldTransform {
            field_path: "count".into(),
            transform_type: Some(TransformType::Increment(pb::Value {
                value_type: Some(pb::value::ValueType::IntegerValue(1)),
            })),
        }],
        current_document: None,
    })
}

/// Commits the writes `build` makes for a quota window (a minute, as
/// [`minute`] counts them), read from `clock`. A refusal that straddled a
/// minute's end is sent once more, built for the new window: the client
/// picks the window before it sends, the rules judge it by the server's
/// minute when the commit arrives, so a commit sent in a minute's last
/// moments is refused through no fault of its own. The first try was
/// refused whole, so sending the second is safe. `clock` is passed in so
/// a test can cross a minute at will; callers pass [`clock`].
pub async fn commit_in_window(
    store: &Store,
    clock: impl Fn() -> i64,
    build: impl Fn(i64) -> Result<Vec<pb::Write>>,
) -> Result<pb::CommitResponse> {
    let sent = clock();
    match store.commit(build(sent)?).await {
        Err(Error::PermissionDenied(why)) if store.payer().is_some() => {
            let now = clock();
            if now == sent {
                return Err(Error::PermissionDenied(why));
            }
            tracing::debug!(error = %why, "a paid commit crossed a minute; again in the new window");
            store.commit(build(now)?).await
        }
        other => other,
    }
}

/// The minute of the client's clock now, for [`commit_in_window`].
pub fn clock() -> i64 {
    minute(now())
}

/// Turns a refused create into [`Error::QuotaExceeded`] when the window it
/// paid into is full; any other error (or a window we cannot read) is
/// returned as it was.
pub async fn explain(store: &Store, payer: &Payer, minute: i64, err: Error) -> Error {
    if !matches!(err, Error::PermissionDenied(_)) {
        return err;
    }
    let name = store.name(&doc(&payer.uid, minute));
    let count = match store.batch_get(vec![name]).await {
        Ok(docs) => docs.into_iter().next().flatten().and_then(|d| {
            match d.fields.get("count")?.value_type.as_ref()? {
                pb::value::ValueType::IntegerValue(n) => Some(*n),
                _ => None,
            }
        }),
        Err(_) => None,
    };
    match count {
        Some(n) if n >= payer.limit() => {
            Error::QuotaExceeded(format!("at most {} tasks a minute", payer.limit()))
        }
        _ => err,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minutes_are_whole_minutes_since_the_epoch() {
        let t = crate::model::Time(
            jiff::Timestamp::from_millisecond(120_000 + 59_999).expect("a valid time"),
        );
        assert_eq!(minute(t), 2);
        assert_eq!(doc("alice", 2), "quota/alice@2");
    }

    #[test]
    fn agents_get_the_larger_limit() {
        let p = |agent| Payer {
            uid: "x".into(),
            agent,
        };
        assert_eq!(p(true).limit(), AGENT_LIMIT);
        assert_eq!(p(false).limit(), PERSON_LIMIT);
    }
}
