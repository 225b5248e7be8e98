//! The auto-scaling hook's edge (`crate::scaling` decides): what the
//! queue looks like, the conditional commit on `scaling/{up,down}` that
//! makes one agent per window the one to act, and running the operator's
//! command.

use crate::error::{Error, Result};
use crate::layout::{self, Pile};
use crate::lifecycle::Status;
use crate::model::{Time, now};
use crate::scaling::{Direction, Observed};
use crate::store::{self, Precondition, Store, server_time};
use firestore::gcloud_sdk::google::firestore::v1 as pb;
use pb::structured_query as sq;
use std::time::Duration;

/// How long a scale command may run before it is killed.
pub const COMMAND_TIMEOUT: Duration = Duration::from_secs(120);

/// The queue as the policy needs it: two reads (a count and one task).
pub async fn observe(store: &Store, idle_for: Duration) -> Result<Observed> {
    let pile = Pile::Queued;
    let depth = store
        .count(&pile.parent(), pile.collection_id(), Some(queued()), None)
        .await?;
    let oldest = store
        .run_query(
            &pile.parent(),
            pile.collection_id(),
            Some(queued()),
            oldest_first(),
            Some(1),
        )
        .await?;
    let t_now = now();
    let oldest_wait = (oldest.first())
        .and_then(|d| Store::decode_task(d).ok())
        .and_then(|t| t.created_at)
        .map(|c| Duration::from_millis(crate::model::millis_between(c, t_now).max(0) as u64));
    Ok(Observed {
        depth: depth.max(0) as u64,
        oldest_wait,
        idle_for,
    })
}

/// `status == queued`.
pub fn queued() -> sq::Filter {
    store::field_eq("status", store::string_value(Status::Queued.as_str()))
}

/// Oldest created first.
pub fn oldest_first() -> Vec<sq::Order> {
    vec![sq::Order {
        field: Some(sq::FieldReference {
            field_path: "created_at".into(),
        }),
        direction: sq::Direction::Ascending as i32,
    }]
}

/// The last step `dir`: its document as read (for the commit's
/// precondition), when it was taken and under which window.
pub struct LastStep {
    doc: Option<pb::Document>,
    pub at: Option<(Time, Duration)>,
}

pub async fn last_step(store: &Store, dir: Direction) -> Result<LastStep> {
    let doc = store.get_doc(&doc_path(dir)).await?;
    let field = |k: &str| {
        doc.as_ref()
            .and_then(|d| d.fields.get(k))
            .and_then(|v| v.value_type.clone())
    };
    use pb::value::ValueType;
    let at = match (field("at"), field("window_secs")) {
        (Some(ValueType::TimestampValue(t)), Some(ValueType::IntegerValue(w))) => {
            Time::from_parts(t.seconds, t.nanos)
                .map(|at| (at, Duration::from_secs(w.max(0) as u64)))
        }
        _ => None,
    };
    Ok(LastStep { doc, at })
}

fn doc_path(dir: Direction) -> String {
    format!("{}/{}", layout::SCALING, dir.as_str())
}

/// Claims this window's step: true when this agent's commit landed (it
/// runs the command), false when another agent's did first.
pub async fn claim_step(
    store: &Store,
    dir: Direction,
    last: &LastStep,
    by: &str,
    reason: &str,
    window: Duration,
) -> Result<bool> {
    let mut fields = std::collections::HashMap::new();
    fields.insert("by".to_string(), store::string_value(by));
    fields.insert("reason".to_string(), store::string_value(&clip(reason)));
    fields.insert(
        "window_secs".to_string(),
        pb::Value {
            value_type: Some(pb::value::ValueType::IntegerValue(window.as_secs() as i64)),
        },
    );
    let precondition = match &last.doc {
        Some(d) => Precondition::UpdatedAt(d.update_time.unwrap_or_default()),
        None => Precondition::Missing,
    };
    let write = pb::Write {
        operation: Some(pb::write::Operation::Update(pb::Document {
            name: store.name(&doc_path(dir)),
            fields,
            ..Default::default()
        })),
        update_transforms: vec![server_time("at")],
        current_document: precondition.into_pb(),
        ..Default::default()
    };
    match store.commit(vec![write]).await {
        Ok(_) => Ok(true),
        // Another agent's step landed first (its commit changed the
        // document, or created it), or the rules say the window is not
        // over: either way, not ours.
        Err(Error::Conflict(_) | Error::PermissionDenied(_)) => Ok(false),
        Err(e) => Err(e),
    }
}

/// The reason as the rules bound it.
fn clip(s: &str) -> String {
    s.chars().take(200).collect()
}

/// Runs the operator's command with `sh -c`, with what it may want to
/// know in its environment (`VAYU_SCALE_DIRECTION`, `_REASON`,
/// `VAYU_QUEUE_DEPTH`, `VAYU_OLDEST_WAIT_SECS`), the agent's environment
/// otherwise minus vayu's own credentials (a command that makes machines
/// needs the cloud's), killed after [`COMMAND_TIMEOUT`]. Returns its exit
/// status and the tail of what it printed.
pub async fn run_command(
    cmd: &str,
    dir: Direction,
    reason: &str,
    seen: &Observed,
) -> std::io::Result<(std::process::ExitStatus, String)> {
    let mut c = command(cmd, dir, reason, seen);
    let out = tokio::time::timeout(COMMAND_TIMEOUT, c.output())
        .await
        .map_err(|_| {
            std::io::Error::new(std::io::ErrorKind::TimedOut, "the scale command timed out")
        })??;
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    let skip = text.chars().count().saturating_sub(500);
    Ok((out.status, text.chars().skip(skip).collect()))
}

fn command(cmd: &str, dir: Direction, reason: &str, seen: &Observed) -> tokio::process::Command {
    let mut c = tokio::process::Command::new("sh");
    c.arg("-c")
        .arg(cmd)
        .env("VAYU_SCALE_DIRECTION", dir.as_str())
        .env("VAYU_SCALE_REASON", reason)
        .env("VAYU_QUEUE_DEPTH", seen.depth.to_string())
        .env(
            "VAYU_OLDEST_WAIT_SECS",
            seen.oldest_wait
                .map(|w| w.as_secs())
                .unwrap_or(0)
                .to_string(),
        )
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true);
    for name in VAYU_CREDENTIALS {
        c.env_remove(name);
    }
    c
}

/// vayu's own credentials: a scale command gets the agent's environment,
/// but not the agent's identity.
const VAYU_CREDENTIALS: &[&str] = &[
    crate::store::env::VAYU_TOKEN,
    crate::identity::env::VAYU_REFRESH_TOKEN,
    crate::identity::env::VAYU_SERVICE_ACCOUNT,
    crate::identity::env::VAYU_API_KEY,
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_gets_the_numbers_and_none_of_vayus_credentials() {
        let seen = Observed {
            depth: 8,
            oldest_wait: Some(Duration::from_secs(42)),
            idle_for: Duration::ZERO,
        };
        let c = command("true", Direction::Up, "deep", &seen);
        let envs: std::collections::HashMap<_, _> = c.as_std().get_envs().collect();
        let set = |k: &str| envs.get(std::ffi::OsStr::new(k)).copied().flatten();
        assert_eq!(set("VAYU_QUEUE_DEPTH"), Some(std::ffi::OsStr::new("8")));
        assert_eq!(
            set("VAYU_OLDEST_WAIT_SECS"),
            Some(std::ffi::OsStr::new("42"))
        );
        for name in VAYU_CREDENTIALS {
            let removed = envs.get(std::ffi::OsStr::new(name));
            assert_eq!(removed, Some(&None), "{name} is removed");
        }
    }
}
