//! What people do to schedules: create, list, pause, resume, delete. The
//! CLI and the tests go through these functions. Bad input (a malformed
//! expression, an unknown zone, a template that is not a valid task) is
//! refused before anything is sent.

use super::{Seen, read, time_value, update_write};
use crate::cron::{CatchUp, is_schedule_id};
use crate::error::{Error, Result};
use crate::layout;
use crate::model::Time;
use crate::schedule::{InvalidSchedule, Schedule};
use crate::store::{Precondition, Store, server_time};
use crate::tasks::NewTask;
use firestore::gcloud_sdk::google::firestore::v1 as pb;
use jiff::Timestamp;
use jiff::tz::TimeZone;

/// What a person asks for: a cron expression in a zone, a catch-up
/// policy, and the task each tick creates (its requester is the
/// schedule's creator). The id is drawn from the title when not given.
#[derive(Debug, Clone)]
pub struct NewSchedule {
    pub id: Option<String>,
    pub cron: String,
    pub tz: String,
    pub catch_up: CatchUp,
    pub task: NewTask,
}

/// The zone named `name`, from the tz database (I/O, hence here).
pub fn zone(name: &str) -> std::result::Result<TimeZone, InvalidSchedule> {
    jiff::tz::db()
        .get(name)
        .map_err(|_| InvalidSchedule::UnknownTz(name.to_string()))
}

/// Checks an expression and a zone name as `create` would, for a caller
/// that reads something first (the CLI reads the review defaults): bad
/// input is exit 2 before anything is sent.
pub fn check(cron: &str, tz: &str) -> std::result::Result<(), InvalidSchedule> {
    crate::cron::Cron::parse(cron).map_err(|error| InvalidSchedule::Cron {
        text: cron.to_string(),
        error,
    })?;
    zone(tz).map(|_| ())
}

/// The first tick of `s` after `after`; `None` when its expression or zone
/// does not read, or it never fires again.
pub fn next_tick(s: &Schedule, after: Timestamp) -> Option<Time> {
    let cron = s.parsed_cron().ok()?;
    cron.next_after(after, &zone(&s.tz).ok()?).map(Time)
}

/// Creates the schedule: its cursor (`last_tick`) and times are the
/// commit's, so its first tick is the first after it was made. Exit 2 for
/// bad input with nothing written, 4 when the id is taken. Returns it as
/// stored (the times as this machine's clock read them).
pub async fn create(store: &Store, new: NewSchedule) -> Result<Schedule> {
    if !new.task.after.is_empty() || new.task.not_before.is_some() {
        return Err(crate::model::InvalidTask(
            "a schedule's task cannot wait for other tasks or a start time".into(),
        )
        .into());
    }
    let created_by = new.task.requester.id.clone();
    let task = new.task.clone().into_task();
    let id = match new.id {
        Some(id) => id,
        None => {
            let suffix = uuid::Uuid::new_v4().simple().to_string();
            crate::schedule::default_id(&task.title, &suffix[..6])
        }
    };
    let (mut s, cron) = Schedule::new(&id, &new.cron, &new.tz, new.catch_up, &task, &created_by)?;
    let tz = zone(&new.tz)?;
    let now = crate::model::now();
    s.next_tick = cron.next_after(now.0, &tz).map(Time);
    let doc = store.encode(&layout::schedule_doc(&id), &s)?;
    let write = pb::Write {
        operation: Some(pb::write::Operation::Update(doc)),
        update_mask: None,
        update_transforms: ["created_at", "updated_at", "last_tick"]
            .iter()
            .map(|f| server_time(f))
            .collect(),
        current_document: Precondition::Missing.into_pb(),
    };
    match store.commit(vec![write]).await {
        Ok(_) => {}
        Err(Error::Conflict(_)) => {
            return Err(Error::Conflict(format!(
                "a schedule named {id} exists (choose another --id)"
            )));
        }
        Err(e) => return Err(e),
    }
    (s.created_at, s.updated_at, s.last_tick) = (Some(now), Some(now), Some(now));
    Ok(s)
}

/// Every schedule, by id; one that does not parse is an error beside the
/// others.
pub async fn list(store: &Store) -> Result<Vec<Result<Seen>>> {
    let docs = store
        .run_query("", layout::SCHEDULES, None, vec![], None)
        .await?;
    let mut out: Vec<Result<Seen>> = docs.iter().map(Seen::decode).collect();
    out.sort_by_key(|r| match r {
        Ok(s) => s.schedule.schedule_id.clone(),
        Err(_) => String::new(),
    });
    Ok(out)
}

/// The schedule `id`, or [`Error::NotFound`] (exit 3).
pub async fn find(store: &Store, id: &str) -> Result<Seen> {
    if !is_schedule_id(id) {
        return Err(Error::NotFound(format!("'{id}' is not a schedule id")));
    }
    read(store, id)
        .await?
        .ok_or_else(|| Error::NotFound(format!("no schedule {id}")))
}

/// Pauses it: no agent ticks it until it is resumed.
pub async fn pause(store: &Store, id: &str) -> Result<Schedule> {
    set_paused(store, id, true).await
}

/// Resumes it from now: its cursor moves to the commit's time, so the
/// ticks it slept through are not created (that is what pausing meant),
/// whatever its catch-up policy.
pub async fn resume(store: &Store, id: &str) -> Result<Schedule> {
    set_paused(store, id, false).await
}

async fn set_paused(store: &Store, id: &str, paused: bool) -> Result<Schedule> {
    let what = if paused { "paused" } else { "running" };
    for _ in 0..5 {
        let seen = find(store, id).await?;
        if seen.schedule.paused == paused {
            return Err(Error::Conflict(format!("schedule {id} is already {what}")));
        }
        let mut s = seen.schedule.clone();
        s.paused = paused;
        let mut fields = vec![(
            "paused",
            pb::Value {
                value_type: Some(pb::value::ValueType::BooleanValue(paused)),
            },
        )];
        let write = if paused {
            update_write(store, id, fields, &["paused"], &[], seen.update_time)
        } else {
            let now = crate::model::now();
            s.last_tick = Some(now);
            s.next_tick = next_tick(&s, now.0);
            fields.extend(s.next_tick.map(|n| ("next_tick", time_value(n))));
            let mask = ["paused", "last_tick", "next_tick"];
            update_write(store, id, fields, &mask, &["last_tick"], seen.update_time)
        };
        match store.commit(vec![write]).await {
            Ok(_) => return Ok(s),
            // An agent moved its cursor since we read it (a refusal by
            // the rules too: they judge the write against the new
            // version): read it again.
            Err(e @ (Error::Conflict(_) | Error::PermissionDenied(_))) => {
                let now = read(store, id).await?;
                if now.is_none_or(|n| n.update_time == seen.update_time) {
                    return Err(e);
                }
            }
            Err(e) => return Err(e),
        }
    }
    Err(Error::Conflict(format!(
        "schedule {id} kept changing; try again"
    )))
}

/// Deletes it. The tasks its ticks created stay; an agent evaluating it
/// from an older read cannot create another (its commit is conditioned
/// on the schedule, which is gone).
pub async fn delete(store: &Store, id: &str) -> Result<Schedule> {
    let seen = find(store, id).await?;
    let write = pb::Write {
        operation: Some(pb::write::Operation::Delete(
            store.name(&layout::schedule_doc(id)),
        )),
        current_document: Precondition::Exists.into_pb(),
        ..Default::default()
    };
    store.commit(vec![write]).await?;
    Ok(seen.schedule)
}
