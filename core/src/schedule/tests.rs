use super::*;
use crate::cron::{DEFAULT_CAP, tick_task_id};
use crate::lifecycle::Status;
use jiff::tz::TimeZone;

fn ts(s: &str) -> jiff::Timestamp {
    s.parse().expect("a valid RFC 3339 timestamp in the test")
}

fn template() -> Task {
    let mut t = Task::new(TaskType::Maintenance, Priority::High, "nightly check");
    t.requires = vec!["gpu".into()];
    t.input = "{\"deep\": true}".into();
    t.review.policy = Some("peer".into());
    t
}

fn schedule(cron: &str, catch_up: CatchUp) -> Schedule {
    let (mut s, _) = Schedule::new("nightly", cron, "UTC", catch_up, &template(), "alice")
        .expect("a valid schedule in the test");
    s.last_tick = Some(Time(ts("2026-12-05T00:00:00Z")));
    s
}

#[test]
fn a_new_schedule_keeps_what_was_asked_and_checks_it() {
    let (s, cron) = Schedule::new(
        "nightly",
        "  0 3 * * *  ",
        "Europe/Berlin",
        CatchUp::Skip,
        &template(),
        "alice",
    )
    .expect("valid");
    assert_eq!(s.cron, "0 3 * * *");
    assert_eq!(cron.as_str(), s.cron);
    assert_eq!(s.template.task_type, TaskType::Maintenance);
    assert_eq!(s.template.review.policy.as_deref(), Some("peer"));
    assert!(
        !s.paused && s.last_tick.is_none(),
        "the server sets the cursor"
    );
}

#[test]
fn bad_input_names_what_and_where() {
    let bad = |cron: &str| {
        Schedule::new("n", cron, "UTC", CatchUp::One, &template(), "a").expect_err("refused")
    };
    let e = bad("61 * * * *").to_string();
    assert!(e.contains("minute") && e.contains("at 0"), "{e}");
    let e = bad("0 3 * * * *").to_string();
    assert!(e.contains("found 6 at 10"), "{e}");
    assert!(e.ends_with("\n  0 3 * * * *\n            ^"), "{e:?}");
    let e = bad("0 3 32 * *").to_string();
    assert!(e.contains("day-of-month") && e.contains("at 4"), "{e}");
    let id = Schedule::new("-x", "@daily", "UTC", CatchUp::One, &template(), "a");
    assert!(matches!(id, Err(InvalidSchedule::Id(_))));
    let long = "a".repeat(crate::cron::SCHEDULE_ID_MAX + 1);
    let id = Schedule::new(&long, "@daily", "UTC", CatchUp::One, &template(), "a");
    assert!(matches!(id, Err(InvalidSchedule::Id(_))));
    let tz = Schedule::new("n", "@daily", "", CatchUp::One, &template(), "a");
    assert!(matches!(tz, Err(InvalidSchedule::TzName)));
    let mut untitled = template();
    untitled.title = " ".into();
    let t = Schedule::new("n", "@daily", "UTC", CatchUp::One, &untitled, "a");
    assert!(matches!(t, Err(InvalidSchedule::Task(_))), "{t:?}");
}

#[test]
fn a_ticks_task_is_the_template_under_the_ticks_id_for_the_creator() {
    let s = schedule("0 3 * * *", CatchUp::One);
    let tick = ts("2026-12-05T03:00:00Z");
    let t = s.task_at(tick);
    assert_eq!(t.task_id, "nightly-20261205T030000Z");
    assert_eq!(t.task_id, tick_task_id("nightly", tick));
    assert_eq!(t.lane, crate::spread::lane_for(&t.task_id));
    assert_eq!(t.status, Status::Queued);
    assert_eq!(Template::of(&t), s.template);
    assert_eq!(t.priority_rank, Priority::High.rank());
    assert_eq!(t.requester.id, "alice");
    assert_eq!(t.requester.kind, RequesterType::Human);
    assert_eq!(t.requester.context, "schedule nightly");
    t.validate_new().expect("a tick's task is a valid new task");
    assert!(t.history.is_empty() && t.not_before.is_none());
}

#[test]
fn nothing_is_due_while_paused_or_without_a_cursor() {
    let mut s = schedule("* * * * *", CatchUp::All);
    let cron = s.parsed_cron().expect("parses");
    let now = ts("2026-12-05T00:10:30Z");
    let d = due(&s, &cron, &TimeZone::UTC, now, DEFAULT_CAP);
    assert_eq!(d.ticks.len(), 10);
    s.paused = true;
    assert_eq!(
        due(&s, &cron, &TimeZone::UTC, now, DEFAULT_CAP),
        Default::default()
    );
    s.paused = false;
    s.last_tick = None;
    assert_eq!(
        due(&s, &cron, &TimeZone::UTC, now, DEFAULT_CAP),
        Default::default()
    );
}

#[test]
fn all_takes_one_commit_per_tick_and_the_others_one_in_all() {
    let hourly = "0 * * * *";
    // Down from just after midnight to 03:10: 01, 02 missed, 03 missed too
    // (ten minutes late, past the grace).
    let now = ts("2026-12-05T03:10:00Z");
    let at = |h: &str| ts(&format!("2026-12-05T{h}:00:00Z"));
    let plan = |policy| {
        let s = schedule(hourly, policy);
        let cron = s.parsed_cron().expect("parses");
        steps(policy, &due(&s, &cron, &TimeZone::UTC, now, DEFAULT_CAP))
    };
    let all = plan(CatchUp::All);
    assert_eq!(all.len(), 3);
    for (step, h) in all.iter().zip(["01", "02", "03"]) {
        assert_eq!(
            *step,
            Step {
                tick: Some(at(h)),
                cursor: at(h)
            }
        );
    }
    assert_eq!(
        plan(CatchUp::One),
        [Step {
            tick: Some(at("03")),
            cursor: at("03")
        }]
    );
    assert_eq!(
        plan(CatchUp::Skip),
        [Step {
            tick: None,
            cursor: at("03")
        }]
    );
    assert!(steps(CatchUp::All, &Default::default()).is_empty());
}

#[test]
fn a_stored_schedule_reads_back_and_a_partial_one_still_reads() {
    let s = schedule("@daily", CatchUp::Skip);
    let json = serde_json::to_value(&s).expect("serializes");
    assert_eq!(json["catch_up"], "skip");
    assert_eq!(json["template"]["type"], "maintenance");
    let back: Schedule = serde_json::from_value(json).expect("reads back");
    assert_eq!(back, s);
    let partial: Schedule =
        serde_json::from_value(serde_json::json!({"schedule_id": "x", "cron": "nope"}))
            .expect("every field has a default");
    assert!(partial.check().is_err());
}

#[test]
fn default_ids_are_readable_schedule_ids() {
    assert_eq!(
        default_id("Nightly check!", "a1b2c3"),
        "nightly-check-a1b2c3"
    );
    assert_eq!(default_id("  ", "a1b2c3"), "s-a1b2c3");
    let long = default_id(&"word ".repeat(40), "a1b2c3");
    assert!(long.len() <= 32 + 7, "{long}");
    let one = default_id(&"x".repeat(100), "ffffffff");
    assert_eq!(one.len(), 32 + 9);
    for title in [
        "Nightly check!",
        "é à",
        &"word ".repeat(40),
        &"x".repeat(100),
    ] {
        let id = default_id(title, "ffffffff");
        assert!(crate::cron::is_schedule_id(&id), "{id}");
    }
}
