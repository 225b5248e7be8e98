//! The parser's tests: every field's bounds, names, steps, macros, and
//! error messages with their positions.

use super::*;

fn sets(s: &str) -> parse::Sets {
    Cron::parse(s).expect("a valid expression in the test").sets
}

fn bits(values: impl IntoIterator<Item = u32>) -> u64 {
    values.into_iter().fold(0, |acc, v| acc | 1 << v)
}

fn err(s: &str) -> String {
    Cron::parse(s)
        .expect_err("an invalid expression")
        .to_string()
}

#[test]
fn star_lists_ranges_and_steps() {
    let s = sets("*/15 1-20/5 1,15,31 * 1-5");
    assert_eq!(s.minutes, bits([0, 15, 30, 45]));
    assert_eq!(s.hours, bits([1, 6, 11, 16]));
    assert_eq!(s.days, bits([1, 15, 31]));
    assert_eq!(s.months, bits(1..=12));
    assert_eq!(s.weekdays, bits(1..=5));
    assert!(!s.day_star && !s.weekday_star);
    let all = sets("* * * * *");
    assert_eq!(all.minutes, bits(0..60));
    assert_eq!(all.hours, bits(0..24));
    assert_eq!(all.days, bits(1..=31));
    assert_eq!(all.weekdays, bits(0..7));
    assert!(all.day_star && all.weekday_star);
}

#[test]
fn every_field_accepts_its_bounds_and_refuses_one_past_them() {
    assert_eq!(sets("0,59 0,23 1,31 1,12 0,7").minutes, bits([0, 59]));
    let cases = [
        ("60 * * * *", "minute: 60 is out of range 0-59 at 0"),
        ("* 24 * * *", "hour: 24 is out of range 0-23 at 2"),
        ("* * 0 * *", "day-of-month: 0 is out of range 1-31 at 4"),
        ("* * 32 * *", "day-of-month: 32 is out of range 1-31 at 4"),
        ("* * * 0 *", "month: 0 is out of range 1-12 at 6"),
        ("* * * 13 *", "month: 13 is out of range 1-12 at 6"),
        ("* * * * 8", "day-of-week: 8 is out of range 0-7 at 8"),
    ];
    for (text, want) in cases {
        assert_eq!(err(text), want);
    }
    assert_eq!(err("0 5,24 * * *"), "hour: 24 is out of range 0-23 at 4");
}

#[test]
fn names_are_case_insensitive_and_seven_is_sunday() {
    let s = sets("0 0 * JAN,mar-May Mon-FRI");
    assert_eq!(s.months, bits([1, 3, 4, 5]));
    assert_eq!(s.weekdays, bits(1..=5));
    assert_eq!(sets("0 0 * * 7").weekdays, bits([0]));
    assert_eq!(sets("0 0 * * sun").weekdays, bits([0]));
    assert_eq!(sets("0 0 * * 5-7").weekdays, bits([0, 5, 6]));
    assert_eq!(sets("0 0 * dec sat").months, bits([12]));
    let e = err("0 0 * * monday");
    assert!(e.starts_with("day-of-week: expected"), "{e}");
    assert!(e.ends_with("found 'monday' at 8"), "{e}");
    // Names belong to their own field only.
    assert!(err("0 0 * mon *").starts_with("month: expected"));
    assert!(err("0 0 * * jan").starts_with("day-of-week: expected"));
    assert!(err("jan 0 * * *").starts_with("minute: expected"));
}

#[test]
fn macros_expand_to_their_expressions() {
    let pairs = [
        ("@hourly", "0 * * * *"),
        ("@daily", "0 0 * * *"),
        ("@midnight", "0 0 * * *"),
        ("@weekly", "0 0 * * 0"),
        ("@monthly", "0 0 1 * *"),
        ("@yearly", "0 0 1 1 *"),
        ("@ANNUALLY", "0 0 1 1 *"),
    ];
    for (m, e) in pairs {
        assert_eq!(sets(m), sets(e), "{m}");
    }
    assert_eq!(
        Cron::parse("  @daily \t").map(|c| c.to_string()),
        Ok("@daily".into())
    );
    assert!(err("@reboot").starts_with("unknown macro '@reboot' at 0: expected one of @hourly"));
    assert_eq!(
        err("@daily 5"),
        "a macro stands alone: expected nothing after it, found '5' at 7"
    );
}

#[test]
fn malformed_items_name_what_was_expected_and_where() {
    let cases = [
        ("", "empty cron expression"),
        ("   ", "empty cron expression"),
        ("* * * *", "found 4 at 7"),
        ("* * * * * *", "found 6 at 10"),
        ("5-1 * * * *", "minute: range 5-1 runs backwards"),
        ("*/0 * * * *", "minute: 0 is out of range 1-59 at 2"),
        ("*/60 * * * *", "minute: 60 is out of range 1-59 at 2"),
        (
            "5/15 * * * *",
            "minute: a step needs a range to step through: write '5-59/15' or '*/15' at 0",
        ),
        (
            "1, * * * *",
            "minute: expected '*' or a number 0-59, found nothing at 2",
        ),
        (",1 * * * *", "found nothing at 0"),
        ("1- * * * *", "found nothing at 2"),
        ("-1 * * * *", "found nothing at 0"),
        ("*-5 * * * *", "found '*' at 0"),
        ("1-2-3 * * * *", "found '2-3' at 2"),
        ("** * * * *", "found '**' at 0"),
        (
            "0 0 ? * *",
            "day-of-month: expected '*' or a number 1-31, found '?' at 4",
        ),
        ("0 0 L * *", "found 'L' at 4"),
        ("0 0 * * 1#2", "found '1#2' at 8"),
        ("0 0 * * +1", "found '+1' at 8"),
        ("0 0 * * ５", "found '５' at 8"),
        (
            "0 99999999999999999999 * * *",
            "hour: 99999999999999999999 is out of range 0-23 at 2",
        ),
    ];
    for (text, want) in cases {
        let e = err(text);
        assert!(e.contains(want), "{text:?}: {e}");
    }
}

#[test]
fn positions_count_bytes_of_the_text_as_given() {
    assert_eq!(err("  0\t25 * * *"), "hour: 25 is out of range 0-23 at 4");
    assert_eq!(
        err("0 1,2,3-x * * *"),
        "hour: expected '*' or a number 0-23, found 'x' at 8"
    );
    assert_eq!(
        err("é 0 * * *"),
        "minute: expected '*' or a number 0-59, found 'é' at 0"
    );
    assert_eq!(
        err("0 0 * * é"),
        "day-of-week: expected '*', a number 0-7 (0 and 7 are sunday) or a name sun-sat, found 'é' at 8"
    );
}

#[test]
fn a_day_no_allowed_month_has_is_refused_unless_weekdays_widen_it() {
    let e = err("0 0 30 2 *");
    assert!(
        e.starts_with("day-of-month: '30' never falls in the allowed months"),
        "{e}"
    );
    assert!(e.ends_with("at 4"), "{e}");
    assert!(err("0 0 31 apr,jun,sep,nov *").contains("never falls"));
    // February 29 exists; OR with a weekday fires on the weekday anyway.
    assert!(Cron::parse("0 0 29 2 *").is_ok());
    assert!(Cron::parse("0 0 30 2 mon").is_ok());
    assert!(Cron::parse("0 0 31 * *").is_ok());
}

#[test]
fn very_long_input_is_refused_quickly_and_briefly() {
    let long = "1,".repeat(10_000) + "1 * * * *";
    let e = err(&long);
    assert_eq!(
        e,
        format!(
            "cron expression is {} bytes long: at most 512 are allowed",
            long.len()
        )
    );
    // Just under the bound, a long list parses.
    let list = (0..60).map(|m| m.to_string()).collect::<Vec<_>>().join(",");
    let many = Cron::parse(&format!("{list} * * * *")).expect("all 60 minutes");
    assert_eq!(many.sets.minutes, bits(0..60));
    // A long single token within the bound gets a short error.
    let token = "9".repeat(500);
    assert!(err(&format!("{token} * * * *")).contains("is out of range 0-59 at 0"));
}

#[test]
fn it_reads_and_writes_as_its_text() {
    let c: Cron = serde_json::from_str("\"*/5 9-17 * * mon-fri\"").expect("a valid expression");
    assert_eq!(c.as_str(), "*/5 9-17 * * mon-fri");
    assert_eq!(
        serde_json::to_string(&c).expect("serializes"),
        "\"*/5 9-17 * * mon-fri\""
    );
    let e = serde_json::from_str::<Cron>("\"* 24 * * *\"").expect_err("hour 24");
    assert!(
        e.to_string().contains("hour: 24 is out of range 0-23 at 2"),
        "{e}"
    );
    assert_eq!(
        "@daily".parse::<Cron>().map(|c| c.sets),
        Ok(sets("0 0 * * *"))
    );
}
