//! Cron schedules: expressions, their ticks in a time zone, what to create
//! after an outage, and the task id of a tick. Pure: the clock and the time
//! zone are parameters (looking a zone up by name reads the system's tz
//! database, which is I/O and belongs to the caller).
//!
//! Why every agent can evaluate every schedule with no leader: a tick is a
//! pure function of the expression, the zone and the previous tick, and
//! its task id is a pure function of the schedule and the tick
//! ([`tick_task_id`]), so agents that evaluate the same schedule at once
//! compute the same task and only one create can succeed.
//!
//! # Time zones and daylight saving time
//!
//! An expression names local (wall-clock) times in the schedule's zone.
//! Two kinds of local time need a rule:
//!
//! - **Skipped** (spring forward: in Europe/Berlin, 02:00–02:59 on the
//!   last Sunday of March does not exist): the tick fires **once, at the
//!   first instant after the gap** (03:00 CEST). A nightly 02:30 job then
//!   still runs that night instead of silently losing a day, which is the
//!   surprise people complain about in cron; and every skipped time of the
//!   gap lands on the same instant, so `*/15 2 * * *` fires once, not four
//!   times.
//! - **Repeated** (fall back: 02:00–02:59 on the last Sunday of October
//!   happens twice): each local time fires **once, at its first
//!   occurrence** (CEST). The rule is the same for every expression, so
//!   `*/15 * * * *` has no ticks during the repeated hour (its local times
//!   already fired); a schedule that must fire by elapsed time is not what a
//!   cron expression says.
//!
//! With both rules the map from local time to instant never goes
//! backwards, which is what lets [`Cron::next_after`] scan forward.

mod catch_up;
mod id;
mod parse;

use jiff::civil::{Date, DateTime};
use jiff::tz::{AmbiguousOffset, TimeZone};
use jiff::{Timestamp, ToSpan};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

pub use catch_up::{CatchUp, DEFAULT_CAP, Due, GRACE, due};
pub use id::{SCHEDULE_ID_MAX, is_schedule_id, tick_task_id};
pub use parse::{CronError, Field, MAX_LEN, Problem};

/// How far [`Cron::next_after`] looks: one Gregorian cycle, after which
/// the calendar repeats, so an expression with no tick within it has none
/// ever. The parser already refuses the expressions that never fire
/// (`0 0 30 2 *`); the bound is what makes that a promise the loop cannot
/// break. An expression that can fire needs at most a few decades (a
/// weekday on one date), and most need a day.
pub const SEARCH_YEARS: i16 = 400;

/// A parsed cron expression. Stored and shown as the text it was parsed
/// from, so a schedule document keeps what its author wrote.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Cron {
    text: String,
    sets: parse::Sets,
}

impl Cron {
    /// Parses a 5-field expression (`minute hour day-of-month month
    /// day-of-week`) or a macro (`@daily`). Day-of-month and day-of-week
    /// combine as in Vixie cron: when both are restricted (neither begins
    /// with `*`), a day matching either fires; otherwise a day must match
    /// both. So `0 0 13 * fri` fires on every 13th and every Friday, and
    /// `0 0 */2 * mon` on odd-numbered Mondays.
    pub fn parse(text: &str) -> Result<Cron, CronError> {
        let sets = parse::parse(text)?;
        Ok(Cron {
            text: text.trim().to_string(),
            sets,
        })
    }

    /// The expression as written (without surrounding whitespace).
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The first tick strictly after `t`, evaluated in `tz` (see the module
    /// documentation for the daylight saving time rules). A tick is a
    /// whole second. `None` when there is none within [`SEARCH_YEARS`] or
    /// before the end of the representable range.
    pub fn next_after(&self, t: Timestamp, tz: &TimeZone) -> Option<Timestamp> {
        let start = tz.to_datetime(t);
        let until = start
            .date()
            .checked_add(SEARCH_YEARS.years())
            .unwrap_or(Date::MAX);
        let mut from = start.date().at(start.hour(), start.minute(), 0, 0);
        loop {
            let local = self.next_local(from, until)?;
            let tick = resolve(tz, local)?;
            if tick > t {
                return Some(tick);
            }
            // Only inside a repeated hour: the local time already fired at
            // its first occurrence, which is not after `t`.
            from = local.checked_add(1.minute()).ok()?;
        }
    }

    /// The first local minute at or after `from`, on a day no later than
    /// `until`, that the expression names.
    fn next_local(&self, from: DateTime, until: Date) -> Option<DateTime> {
        let mut date = from.date();
        let mut minute_of_day = from.hour() as u32 * 60 + from.minute() as u32;
        while date <= until {
            if !has(self.sets.months, date.month() as u32) {
                date = date.last_of_month().tomorrow().ok()?;
                minute_of_day = 0;
                continue;
            }
            if self.day_matches(date)
                && let Some((h, m)) = self.first_time_from(minute_of_day)
            {
                return Some(date.at(h as i8, m as i8, 0, 0));
            }
            date = date.tomorrow().ok()?;
            minute_of_day = 0;
        }
        None
    }

    /// Vixie cron's rule: either day field beginning with `*` makes the
    /// two an AND, otherwise an OR.
    fn day_matches(&self, date: Date) -> bool {
        let s = &self.sets;
        let dom = has(s.days, date.day() as u32);
        let dow = has(s.weekdays, date.weekday().to_sunday_zero_offset() as u32);
        if s.day_star || s.weekday_star {
            dom && dow
        } else {
            dom || dow
        }
    }

    /// The first (hour, minute) of a matching day at or after the minute
    /// of the day `from`.
    fn first_time_from(&self, from: u32) -> Option<(u32, u32)> {
        let (h0, m0) = (from / 60, from % 60);
        let mut h = next_bit(self.sets.hours, h0)?;
        loop {
            let m_from = if h == h0 { m0 } else { 0 };
            if let Some(m) = next_bit(self.sets.minutes, m_from) {
                return Some((h, m));
            }
            h = next_bit(self.sets.hours, h + 1)?;
        }
    }
}

/// The instant a local time fires at: its only instant, the first of two
/// in a repeated hour, the end of the gap for a skipped one.
fn resolve(tz: &TimeZone, local: DateTime) -> Option<Timestamp> {
    match tz.to_ambiguous_timestamp(local).offset() {
        AmbiguousOffset::Unambiguous { offset } => offset.to_timestamp(local).ok(),
        AmbiguousOffset::Fold { before, .. } => before.to_timestamp(local).ok(),
        AmbiguousOffset::Gap { before, after } => {
            // Read with the later offset, a skipped time is an instant
            // before the transition, so the next transition is the gap's.
            // (Read with the earlier one, it is an instant after it: the
            // fallback if the zone reports no transition.)
            let probe = after.to_timestamp(local).ok()?;
            let transition = tz.following(probe).next().map(|tr| tr.timestamp());
            transition.or_else(|| before.to_timestamp(local).ok())
        }
    }
}

fn has(set: u64, bit: u32) -> bool {
    bit < 64 && set & (1 << bit) != 0
}

/// The lowest set bit at or above `from`.
fn next_bit(set: u64, from: u32) -> Option<u32> {
    if from >= 64 {
        return None;
    }
    let masked = set & (!0u64 << from);
    (masked != 0).then(|| masked.trailing_zeros())
}

impl FromStr for Cron {
    type Err = CronError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Cron::parse(s)
    }
}

impl TryFrom<String> for Cron {
    type Error = CronError;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        Cron::parse(&s)
    }
}

impl From<Cron> for String {
    fn from(c: Cron) -> String {
        c.text
    }
}

impl fmt::Display for Cron {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

#[cfg(test)]
mod parse_tests;
#[cfg(test)]
mod tick_tests;
