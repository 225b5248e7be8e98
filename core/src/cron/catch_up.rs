//! Which ticks to create when an agent evaluates a schedule, including
//! after every agent was down.
//!
//! A schedule records its last tick. Evaluating it at `now` looks at the
//! ticks in `(last, now]`: normally the one that just came due, after an
//! outage several. The latest of them is **on time** when it is at most
//! [`GRACE`] old; every other one is **missed** (a later tick came due
//! before any agent created it, or it is older than the grace). The policy
//! says what happens to missed ones; an on-time tick is always created.
//!
//! The caller records [`Due::last`] with a conditional write (only if the
//! schedule's last tick is still the one it read), and creates each tick
//! under [`super::tick_task_id`]: two agents that evaluate at once compute
//! the same ticks and ids, so nothing is created twice.

use super::Cron;
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// How old the latest due tick may be and still count as on time: well
/// above an agent's evaluation interval (seconds) plus a slow commit, so a
/// busy agent never turns a normal tick into a missed one, and well below
/// the hours of an outage, so a nightly job delayed to the morning counts
/// as missed and follows the policy.
pub const GRACE: SignedDuration = SignedDuration::from_secs(5 * 60);

/// The default for [`due`]'s cap: the most tasks one evaluation creates
/// under [`CatchUp::All`]. A week's outage of an every-minute schedule is
/// 10 080 ticks; a hundred at a time keeps each evaluation a bounded
/// batch and the queue usable while the rest follow.
pub const DEFAULT_CAP: usize = 100;

/// What to do with missed ticks (`--catch-up skip|one|all`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CatchUp {
    /// Create no missed tick: only the on-time one, if there is one.
    /// For work whose moment has passed (a reminder, a report of "now").
    Skip,
    /// Create the latest due tick, on time or missed, and no other: an
    /// outage costs one run, not one per missed tick. The default: a
    /// nightly check after a weekend down runs once, as anacron would.
    #[default]
    One,
    /// Create every due tick, oldest first, at most `cap` per evaluation;
    /// the next evaluation continues from the last one created. For work
    /// where each period counts (a daily export).
    All,
}

impl CatchUp {
    pub const ALL: [CatchUp; 3] = [CatchUp::Skip, CatchUp::One, CatchUp::All];

    pub fn as_str(self) -> &'static str {
        match self {
            CatchUp::Skip => "skip",
            CatchUp::One => "one",
            CatchUp::All => "all",
        }
    }
}

impl fmt::Display for CatchUp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for CatchUp {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        CatchUp::ALL
            .into_iter()
            .find(|c| c.as_str() == s)
            .ok_or_else(|| format!("unknown catch-up policy '{s}' (valid: skip, one, all)"))
    }
}

/// The outcome of one evaluation.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Due {
    /// The ticks to create now, oldest first.
    pub ticks: Vec<Timestamp>,
    /// The schedule's new last tick, `None` when it stays as it was. It
    /// may be a tick that is not created (a missed one passed over).
    pub last: Option<Timestamp>,
}

/// The ticks of `cron` in `tz` to create at `now`, given the schedule's
/// `last` recorded tick (a new schedule records its creation time, so its
/// first tick is the first after it). A `cap` of 0 counts as 1, so that
/// `All` always makes progress. `last` at or after `now` (a peer's clock
/// ahead of ours) gives nothing to do.
pub fn due(
    cron: &Cron,
    tz: &TimeZone,
    last: Timestamp,
    now: Timestamp,
    policy: CatchUp,
    cap: usize,
) -> Due {
    if policy == CatchUp::All {
        return every(cron, tz, last, now, cap.max(1));
    }
    let Some(latest) = latest_due(cron, tz, last, now) else {
        return Due::default();
    };
    let on_time = now.duration_since(latest) <= GRACE;
    let create = policy == CatchUp::One || on_time;
    Due {
        ticks: if create { vec![latest] } else { Vec::new() },
        last: Some(latest),
    }
}

/// Every tick in `(last, now]`, oldest first, at most `cap`.
fn every(cron: &Cron, tz: &TimeZone, last: Timestamp, now: Timestamp, cap: usize) -> Due {
    let mut ticks = Vec::new();
    let mut at = last;
    while ticks.len() < cap {
        match cron.next_after(at, tz) {
            Some(t) if t <= now => {
                ticks.push(t);
                at = t;
            }
            _ => break,
        }
    }
    let last = ticks.last().copied();
    Due { ticks, last }
}

/// The latest tick in `(last, now]`. The ticks after an instant do not
/// depend on where the scan starts, so it starts close to `now` and
/// widens only when that window holds no tick: an every-minute schedule
/// after a month down is scanned over an hour, not 43 200 ticks.
fn latest_due(cron: &Cron, tz: &TimeZone, last: Timestamp, now: Timestamp) -> Option<Timestamp> {
    const WINDOWS_HOURS: [i64; 4] = [1, 24, 24 * 31, 24 * 366];
    let windows = WINDOWS_HOURS.map(|h| now.checked_sub(SignedDuration::from_hours(h)).ok());
    for from in windows.into_iter().chain([None]) {
        let from = from.map_or(last, |f| f.max(last));
        if let Some(latest) = latest_from(cron, tz, from, now) {
            return Some(latest);
        }
        if from == last {
            return None;
        }
    }
    None
}

/// The latest tick in `(from, now]`, scanning forward from `from`.
fn latest_from(cron: &Cron, tz: &TimeZone, from: Timestamp, now: Timestamp) -> Option<Timestamp> {
    let mut latest = None;
    let mut at = from;
    while let Some(t) = cron.next_after(at, tz).filter(|t| *t <= now) {
        latest = Some(t);
        at = t;
    }
    latest
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: &str) -> Timestamp {
        s.parse().expect("a valid RFC 3339 timestamp in the test")
    }

    fn cron(s: &str) -> Cron {
        Cron::parse(s).expect("a valid expression in the test")
    }

    const UTC: TimeZone = TimeZone::UTC;

    #[test]
    fn a_normal_evaluation_creates_the_tick_that_just_came_due() {
        let hourly = cron("@hourly");
        let last = ts("2026-12-05T09:00:00Z");
        let now = ts("2026-12-05T10:00:20Z");
        for policy in CatchUp::ALL {
            let d = due(&hourly, &UTC, last, now, policy, DEFAULT_CAP);
            assert_eq!(d.ticks, [ts("2026-12-05T10:00:00Z")], "{policy}");
            assert_eq!(d.last, Some(ts("2026-12-05T10:00:00Z")), "{policy}");
        }
    }

    #[test]
    fn nothing_due_changes_nothing() {
        let hourly = cron("@hourly");
        let last = ts("2026-12-05T10:00:00Z");
        for now in [ts("2026-12-05T10:59:59Z"), last, ts("2026-12-05T09:00:00Z")] {
            for policy in CatchUp::ALL {
                assert_eq!(due(&hourly, &UTC, last, now, policy, 5), Due::default());
            }
        }
    }

    #[test]
    fn after_an_outage_each_policy_does_what_it_says() {
        let hourly = cron("@hourly");
        let last = ts("2026-12-05T06:00:00Z");
        // Down from 06:30 to 10:02: 07, 08, 09 missed, 10 on time.
        let now = ts("2026-12-05T10:02:00Z");
        let skip = due(&hourly, &UTC, last, now, CatchUp::Skip, 100);
        assert_eq!(skip.ticks, [ts("2026-12-05T10:00:00Z")]);
        let one = due(&hourly, &UTC, last, now, CatchUp::One, 100);
        assert_eq!(one.ticks, [ts("2026-12-05T10:00:00Z")]);
        let all = due(&hourly, &UTC, last, now, CatchUp::All, 100);
        assert_eq!(all.ticks.len(), 4);
        assert_eq!(all.ticks[0], ts("2026-12-05T07:00:00Z"));
        for d in [skip, one, all] {
            assert_eq!(d.last, Some(ts("2026-12-05T10:00:00Z")));
        }
    }

    #[test]
    fn a_stale_latest_tick_is_missed_under_skip_only() {
        let nightly = cron("0 3 * * *");
        let last = ts("2026-12-04T03:00:00Z");
        let now = ts("2026-12-05T09:00:00Z");
        let skip = due(&nightly, &UTC, last, now, CatchUp::Skip, 100);
        assert!(skip.ticks.is_empty());
        assert_eq!(
            skip.last,
            Some(ts("2026-12-05T03:00:00Z")),
            "advanced anyway"
        );
        let one = due(&nightly, &UTC, last, now, CatchUp::One, 100);
        assert_eq!(one.ticks, [ts("2026-12-05T03:00:00Z")]);
        // Exactly at the grace it is still on time; a second later it is not.
        let tick = ts("2026-12-05T03:00:00Z");
        let at_grace = tick.checked_add(GRACE).expect("in range");
        let d = due(&nightly, &UTC, last, at_grace, CatchUp::Skip, 1);
        assert_eq!(d.ticks, [tick]);
        let past = at_grace
            .checked_add(SignedDuration::from_secs(1))
            .expect("in range");
        assert!(
            due(&nightly, &UTC, last, past, CatchUp::Skip, 1)
                .ticks
                .is_empty()
        );
    }

    #[test]
    fn all_creates_in_batches_of_the_cap_and_continues() {
        let minutely = cron("* * * * *");
        let mut last = ts("2026-12-01T00:00:00Z");
        let now = ts("2026-12-01T04:09:30Z");
        let mut total = 0;
        let mut rounds = 0;
        while let Some(next) = due(&minutely, &UTC, last, now, CatchUp::All, 100).last {
            let d = due(&minutely, &UTC, last, now, CatchUp::All, 100);
            assert!(d.ticks.len() <= 100);
            assert!(d.ticks.windows(2).all(|w| w[0] < w[1]), "oldest first");
            assert!(d.ticks[0] > last);
            total += d.ticks.len();
            last = next;
            rounds += 1;
        }
        assert_eq!(total, 4 * 60 + 9);
        assert_eq!(rounds, 3);
        assert_eq!(last, ts("2026-12-01T04:09:00Z"));
        let zero_cap = due(
            &minutely,
            &UTC,
            ts("2026-12-01T00:00:00Z"),
            now,
            CatchUp::All,
            0,
        );
        assert_eq!(zero_cap.ticks.len(), 1, "a cap of 0 still makes progress");
    }

    #[test]
    fn the_latest_tick_is_found_after_a_long_outage() {
        let minutely = cron("* * * * *");
        let last = ts("2026-01-01T00:00:00Z");
        let now = ts("2026-12-05T10:02:30Z");
        let d = due(&minutely, &UTC, last, now, CatchUp::One, 1);
        assert_eq!(d.ticks, [ts("2026-12-05T10:02:00Z")]);
        // A yearly schedule whose latest tick is beyond every window.
        let leap = cron("0 0 29 2 *");
        let d = due(
            &leap,
            &UTC,
            ts("2019-01-01T00:00:00Z"),
            ts("2026-12-05T00:00:00Z"),
            CatchUp::One,
            1,
        );
        assert_eq!(d.ticks, [ts("2024-02-29T00:00:00Z")]);
        // A tick beyond the windows but before `last` is not due.
        let d = due(
            &leap,
            &UTC,
            ts("2024-03-01T00:00:00Z"),
            ts("2026-12-05T00:00:00Z"),
            CatchUp::One,
            1,
        );
        assert_eq!(d, Due::default());
    }

    /// Three agents evaluate one schedule at interleaved moments, one of
    /// them from a stale read, against a store where a create fails if the
    /// id exists and `last` moves by compare-and-set: every tick is
    /// created exactly once, none is lost.
    #[test]
    fn three_agents_create_each_tick_exactly_once() {
        use std::collections::BTreeSet;
        let every_5 = cron("*/5 * * * *");
        let start = ts("2026-12-05T00:00:00Z");
        let (mut last, mut stale) = (start, start);
        let (mut created, mut attempts) = (BTreeSet::new(), 0);
        for round in 0..=540i64 {
            for agent in 0..3i64 {
                let now = start
                    .checked_add(SignedDuration::from_secs(round * 20 + agent * 7))
                    .expect("in range");
                let read = if agent == 2 { stale } else { last };
                let d = due(&every_5, &UTC, read, now, CatchUp::All, DEFAULT_CAP);
                for tick in &d.ticks {
                    attempts += 1;
                    created.insert(super::super::tick_task_id("every-5", *tick));
                }
                if let Some(next) = d.last.filter(|_| last == read) {
                    last = next;
                }
            }
            stale = last;
        }
        // Rounds every 20 s for three hours: 36 ticks (00:05 … 03:00).
        let want: BTreeSet<String> = (1..=36)
            .map(|i| {
                start
                    .checked_add(SignedDuration::from_mins(i * 5))
                    .expect("in range")
            })
            .map(|t| super::super::tick_task_id("every-5", t))
            .collect();
        assert_eq!(created, want);
        assert!(
            attempts > want.len(),
            "the race happened: {attempts} attempts"
        );
    }

    #[test]
    fn policies_read_and_print_as_the_cli_spells_them() {
        for p in CatchUp::ALL {
            assert_eq!(p.as_str().parse::<CatchUp>(), Ok(p));
            let json = serde_json::to_string(&p).expect("serializes");
            assert_eq!(json, format!("\"{p}\""));
        }
        let e = "ALL".parse::<CatchUp>().expect_err("case matters");
        assert!(e.contains("skip, one, all"), "{e}");
        assert_eq!(CatchUp::default(), CatchUp::One);
    }
}
