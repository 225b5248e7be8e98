//! The ticks' tests: the search, calendar edges, and daylight saving time
//! in Europe/Berlin and America/New_York.

use super::*;

fn ts(s: &str) -> Timestamp {
    s.parse().expect("a valid RFC 3339 timestamp in the test")
}

fn cron(s: &str) -> Cron {
    Cron::parse(s).expect("a valid expression in the test")
}

/// A zone from the system's tz database: I/O, allowed in tests only.
fn zone(name: &str) -> TimeZone {
    TimeZone::get(name).expect("the test machine has the tz database")
}

/// The ticks after `from`, `n` of them, as RFC 3339 in UTC.
fn ticks(c: &Cron, tz: &TimeZone, from: &str, n: usize) -> Vec<String> {
    let mut out = Vec::new();
    let mut at = ts(from);
    for _ in 0..n {
        at = c.next_after(at, tz).expect("a tick exists");
        out.push(at.to_string());
    }
    out
}

#[test]
fn the_next_tick_is_strictly_after_and_on_the_minute() {
    let c = cron("*/15 * * * *");
    let utc = TimeZone::UTC;
    assert_eq!(
        ticks(&c, &utc, "2026-12-05T10:07:30Z", 1),
        ["2026-12-05T10:15:00Z"]
    );
    assert_eq!(
        ticks(&c, &utc, "2026-12-05T10:15:00Z", 1),
        ["2026-12-05T10:30:00Z"]
    );
    assert_eq!(
        ticks(&c, &utc, "2026-12-05T10:14:59.999999999Z", 1),
        ["2026-12-05T10:15:00Z"]
    );
    assert_eq!(
        ticks(&c, &utc, "2026-12-05T23:50:00Z", 1),
        ["2026-12-06T00:00:00Z"]
    );
}

#[test]
fn it_agrees_with_a_minute_by_minute_scan() {
    let exprs = [
        "* * * * *",
        "*/7 */5 * * *",
        "0 0 13 * fri",
        "0 12 */2 * mon",
        "30 4 1,15 * 5",
        "5 0 * 2 *",
        "59 23 31 * *",
    ];
    let utc = TimeZone::UTC;
    for e in exprs {
        let c = cron(e);
        let mut at = ts("2027-12-20T00:00:00Z");
        for _ in 0..20 {
            let next = c.next_after(at, &utc).expect("a tick exists");
            let mut naive = at.checked_add(SignedMinute::ONE).expect("in range");
            naive = naive.round(jiff::Unit::Minute).expect("rounds");
            while !matches_naively(&c, naive) {
                naive = naive.checked_add(SignedMinute::ONE).expect("in range");
            }
            assert_eq!(next, naive, "{e} after {at}");
            at = next;
        }
    }
}

struct SignedMinute;
impl SignedMinute {
    const ONE: jiff::SignedDuration = jiff::SignedDuration::from_secs(60);
}

fn matches_naively(c: &Cron, t: Timestamp) -> bool {
    let dt = TimeZone::UTC.to_datetime(t);
    has(c.sets.minutes, dt.minute() as u32)
        && has(c.sets.hours, dt.hour() as u32)
        && has(c.sets.months, dt.month() as u32)
        && c.day_matches(dt.date())
}

#[test]
fn day_of_month_and_day_of_week_combine_as_in_vixie_cron() {
    let utc = TimeZone::UTC;
    // Both restricted: either one.
    let either = ticks(&cron("0 0 13 * fri"), &utc, "2026-12-01T00:00:00Z", 4);
    assert_eq!(
        either,
        [
            "2026-12-04T00:00:00Z",
            "2026-12-11T00:00:00Z",
            "2026-12-13T00:00:00Z",
            "2026-12-18T00:00:00Z"
        ]
    );
    // One begins with '*': both.
    let both = ticks(&cron("0 0 */2 * mon"), &utc, "2026-12-01T00:00:00Z", 2);
    assert_eq!(both, ["2026-12-07T00:00:00Z", "2026-12-21T00:00:00Z"]);
}

#[test]
fn year_boundaries_and_february_29() {
    let utc = TimeZone::UTC;
    let new_year = cron("@yearly");
    assert_eq!(
        ticks(&new_year, &utc, "2026-12-31T23:59:59Z", 1),
        ["2027-01-01T00:00:00Z"]
    );
    let last_minute = cron("59 23 31 12 *");
    assert_eq!(
        ticks(&last_minute, &utc, "2026-12-31T23:59:00Z", 2),
        ["2027-12-31T23:59:00Z", "2028-12-31T23:59:00Z"]
    );
    let leap = cron("0 0 29 2 *");
    assert_eq!(
        ticks(&leap, &utc, "2024-02-29T00:00:00Z", 2),
        ["2028-02-29T00:00:00Z", "2032-02-29T00:00:00Z"]
    );
    // 2100 is not a leap year: eight years between two ticks.
    assert_eq!(
        ticks(&leap, &utc, "2096-03-01T00:00:00Z", 1),
        ["2104-02-29T00:00:00Z"]
    );
    let month_end = cron("0 0 31 * *");
    assert_eq!(
        ticks(&month_end, &utc, "2026-01-31T00:00:00Z", 2),
        ["2026-03-31T00:00:00Z", "2026-05-31T00:00:00Z"]
    );
}

#[test]
fn berlin_spring_forward_fires_once_at_the_end_of_the_gap() {
    // 2026-03-29: 02:00 CET becomes 03:00 CEST (01:00 UTC).
    let berlin = zone("Europe/Berlin");
    let at_0230 = ticks(&cron("30 2 * * *"), &berlin, "2026-03-28T12:00:00Z", 2);
    assert_eq!(at_0230, ["2026-03-29T01:00:00Z", "2026-03-30T00:30:00Z"]);
    let quarter = ticks(&cron("*/15 2 * * *"), &berlin, "2026-03-28T12:00:00Z", 2);
    assert_eq!(
        quarter,
        ["2026-03-29T01:00:00Z", "2026-03-30T00:00:00Z"],
        "once, not four times"
    );
    // A time after the gap is unaffected, and shares the instant with it.
    let at_0300 = ticks(&cron("0 2,3 * * *"), &berlin, "2026-03-29T00:00:00Z", 2);
    assert_eq!(at_0300, ["2026-03-29T01:00:00Z", "2026-03-30T00:00:00Z"]);
    let hourly = ticks(&cron("0 * * * *"), &berlin, "2026-03-28T23:30:00Z", 3);
    assert_eq!(
        hourly,
        [
            "2026-03-29T00:00:00Z",
            "2026-03-29T01:00:00Z",
            "2026-03-29T02:00:00Z"
        ]
    );
}

#[test]
fn every_minute_of_the_gap_collapses_into_one_tick() {
    let berlin = zone("Europe/Berlin");
    let minutes = ticks(&cron("* * * * *"), &berlin, "2026-03-29T00:58:00Z", 3);
    assert_eq!(
        minutes,
        [
            "2026-03-29T00:59:00Z",
            "2026-03-29T01:00:00Z",
            "2026-03-29T01:01:00Z"
        ]
    );
}

#[test]
fn berlin_fall_back_fires_each_local_time_once_at_its_first_occurrence() {
    // 2026-10-25: 03:00 CEST becomes 02:00 CET (01:00 UTC).
    let berlin = zone("Europe/Berlin");
    let at_0230 = ticks(&cron("30 2 * * *"), &berlin, "2026-10-24T12:00:00Z", 2);
    assert_eq!(at_0230, ["2026-10-25T00:30:00Z", "2026-10-26T01:30:00Z"]);
    let half = ticks(&cron("*/30 * * * *"), &berlin, "2026-10-25T00:00:00Z", 2);
    assert_eq!(
        half,
        ["2026-10-25T00:30:00Z", "2026-10-25T02:00:00Z"],
        "the repeat is silent"
    );
    // From inside the repeated hour, its local times have already fired.
    let inside = ticks(&cron("*/30 * * * *"), &berlin, "2026-10-25T01:10:00Z", 1);
    assert_eq!(inside, ["2026-10-25T02:00:00Z"]);
}

#[test]
fn new_york_transitions_follow_the_same_rules() {
    let ny = zone("America/New_York");
    // 2026-03-08: 02:00 EST becomes 03:00 EDT (07:00 UTC).
    let spring = ticks(&cron("30 2 * * *"), &ny, "2026-03-07T12:00:00Z", 2);
    assert_eq!(spring, ["2026-03-08T07:00:00Z", "2026-03-09T06:30:00Z"]);
    // 2026-11-01: 02:00 EDT becomes 01:00 EST (06:00 UTC).
    let fall = ticks(&cron("30 1 * * *"), &ny, "2026-10-31T12:00:00Z", 2);
    assert_eq!(fall, ["2026-11-01T05:30:00Z", "2026-11-02T06:30:00Z"]);
}

#[test]
fn a_gap_at_midnight_moves_a_daily_tick_to_the_end_of_the_gap() {
    // Chile-like rules: at 24:00 on the first Saturday of September
    // (2026-09-05, -04) clocks jump to 01:00 (-03) on Sunday.
    let santiago = TimeZone::posix("<-04>4<-03>,M9.1.6/24,M4.1.6/24").expect("a valid POSIX TZ");
    let daily = ticks(&cron("@daily"), &santiago, "2026-09-05T12:00:00Z", 2);
    assert_eq!(daily, ["2026-09-06T04:00:00Z", "2026-09-07T03:00:00Z"]);
}

#[test]
fn a_posix_zone_and_a_fixed_offset_work_without_the_tz_database() {
    let posix = TimeZone::posix("CET-1CEST,M3.5.0,M10.5.0/3").expect("a valid POSIX TZ string");
    let berlin = zone("Europe/Berlin");
    let c = cron("*/20 1-3 * * sun");
    assert_eq!(
        ticks(&c, &posix, "2026-03-01T00:00:00Z", 60),
        ticks(&c, &berlin, "2026-03-01T00:00:00Z", 60)
    );
    let plus_0530 = TimeZone::fixed(jiff::tz::offset(5));
    let at_nine = ticks(&cron("0 9 * * *"), &plus_0530, "2026-12-05T00:00:00Z", 1);
    assert_eq!(at_nine, ["2026-12-05T04:00:00Z"]);
}

#[test]
fn no_tick_within_the_search_bound_is_none_not_a_hang() {
    // The parser refuses this one, so build its sets by hand.
    let never = Cron {
        text: "0 0 30 2 *".into(),
        sets: parse::Sets {
            minutes: 1,
            hours: 1,
            days: 1 << 30,
            months: 1 << 2,
            weekdays: 0x7f,
            day_star: false,
            weekday_star: true,
        },
    };
    let utc = TimeZone::UTC;
    assert_eq!(never.next_after(ts("2026-01-01T00:00:00Z"), &utc), None);
    // The end of the representable range ends the search too.
    assert_eq!(
        cron("@yearly").next_after(ts("9999-06-01T00:00:00Z"), &utc),
        None
    );
    assert_eq!(cron("* * * * *").next_after(Timestamp::MAX, &utc), None);
}
