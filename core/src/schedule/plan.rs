//! Which ticks of a schedule are due at `now`, and the commits that
//! create them.
//!
//! Why one tick per commit: a new task is paid for in its commit by one
//! write to the caller's quota window (`quota/{uid}@{minute}` names the
//! task it paid for, and a document is written once per commit), and the
//! rules read the schedule for each tick. So `all` after an outage makes
//! one commit per missed tick, each moving the cursor to its tick, and an
//! agent cut off half way leaves the cursor at the last tick it created:
//! the next evaluation, by anyone, continues from there.

use super::Schedule;
use crate::cron::{CatchUp, Cron, Due};
use jiff::Timestamp;
use jiff::tz::TimeZone;

/// One commit of an evaluation: create the task of `tick` (if any) and
/// move the cursor to `cursor`, only if the schedule is still the version
/// read (or the previous step left).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Step {
    pub tick: Option<Timestamp>,
    pub cursor: Timestamp,
}

/// What is due for `schedule` (with its expression `cron` and zone `tz`)
/// at `now`: nothing while it is paused or has no cursor; else
/// [`crate::cron::due`] from its cursor under its catch-up policy, at most
/// `cap` ticks.
pub fn due(schedule: &Schedule, cron: &Cron, tz: &TimeZone, now: Timestamp, cap: usize) -> Due {
    match schedule.last_tick {
        Some(last) if !schedule.paused => {
            crate::cron::due(cron, tz, last.0, now, schedule.catch_up, cap)
        }
        _ => Due::default(),
    }
}

/// The commits that carry out `due` under `policy`: under `all` one per
/// tick, each cursor at its tick; under `skip` and `one` one commit that
/// creates the tick (if any) and moves the cursor to `due.last`, past the
/// missed ticks. None when nothing changes.
pub fn steps(policy: CatchUp, due: &Due) -> Vec<Step> {
    let Some(last) = due.last else {
        return Vec::new();
    };
    match policy {
        CatchUp::All => due
            .ticks
            .iter()
            .map(|&t| Step {
                tick: Some(t),
                cursor: t,
            })
            .collect(),
        CatchUp::Skip | CatchUp::One => vec![Step {
            tick: due.ticks.last().copied(),
            cursor: last,
        }],
    }
}
