//! Helpers shared by the schedule rules tests (`rules_schedules.rs`,
//! `rules_schedule_ticks.rs`): alice's schedules, their cursor moved back
//! as admin, and one evaluation step sent by hand.
#![allow(dead_code)]

use crate::rules_support::*;
use firestore::gcloud_sdk::google::firestore::v1::Write;
use jiff::{SignedDuration, Timestamp};
use vayu::cron::CatchUp;
use vayu::model::{Priority, Task, TaskType, Time};
use vayu::schedules::{self, NewSchedule, Seen};
use vayu::store::{Store, quota};
use vayu::tasks::NewTask;

/// The start of the minute `n` minutes before now.
pub fn minutes_ago(n: i64) -> Timestamp {
    let now = Timestamp::now().as_second();
    Timestamp::from_second(now - now.rem_euclid(60) - n * 60).expect("a recent time")
}

pub fn new_schedule(owner: &str, id: &str, cron: &str) -> NewSchedule {
    let mut task = NewTask::new(TaskType::Maintenance, Priority::High, "nightly check");
    task.requester.id = owner.into();
    task.requires = vec!["gpu".into()];
    NewSchedule {
        id: Some(id.into()),
        cron: cron.into(),
        tz: "Europe/Berlin".into(),
        catch_up: CatchUp::One,
        task,
    }
}

/// Sets the schedule's cursor as admin, as if it had been made at `t`.
pub async fn rewind(w: &World, id: &str, t: Timestamp) {
    let seen = schedules::find(&w.admin, id).await.expect("it exists");
    let write = schedules::cursor_write(&w.admin, id, Time(t), None, seen.update_time);
    w.admin.commit(vec![write]).await.expect("admin writes");
}

/// Alice's every-minute schedule `id`, its cursor five minutes back.
pub async fn alices(w: &World, id: &str) -> Seen {
    let alice = w.human("alice").await;
    allowed(
        "an operator creates her schedule",
        schedules::create(&alice, new_schedule("alice", id, "* * * * *")),
    )
    .await;
    rewind(w, id, minutes_ago(5)).await;
    schedules::find(&w.admin, id).await.expect("it exists")
}

/// One evaluation step as `who` sends it: `task` (paid for) if any, and
/// the cursor moved to `cursor`, conditioned on `seen`.
pub async fn step(
    who: &Store,
    seen: &Seen,
    task: Option<&Task>,
    cursor: Timestamp,
) -> vayu::Result<()> {
    let writes = step_writes(who, seen, task, cursor, quota::clock())?;
    who.commit(writes).await.map(|_| ())
}

/// [`step`]'s writes, `task` paid for in the quota window of `minute`.
pub fn step_writes(
    who: &Store,
    seen: &Seen,
    task: Option<&Task>,
    cursor: Timestamp,
    minute: i64,
) -> vayu::Result<Vec<Write>> {
    let mut writes = match task {
        Some(t) => who.new_task_writes_at(t, minute)?,
        None => Vec::new(),
    };
    let id = &seen.schedule.schedule_id;
    writes.push(schedules::cursor_write(
        who,
        id,
        Time(cursor),
        None,
        seen.update_time,
    ));
    Ok(writes)
}

pub fn plus_min(t: Timestamp, n: i64) -> Timestamp {
    t.checked_add(SignedDuration::from_mins(n))
        .expect("in range")
}
