//! `vayu schedule create | list | pause | resume | delete` as a script
//! would use them, on the emulator under the rules, as an operator: bad
//! input (a malformed cron expression, an unknown time zone) is exit 2
//! with the position and nothing written; the rest is exit 0 with JSON,
//! and the documented codes for what is refused.

mod common;
mod rules_support;

use rules_support::*;
use serde_json::Value;
use std::process::{Command, Output};

/// Runs `vayu` on `w`'s database as the emulator identity `uid:role`.
fn vayu(w: &World, who: &str, args: &[&str]) -> Output {
    let (uid, role) = who.split_once(':').expect("uid:role");
    Command::new(env!("CARGO_BIN_EXE_vayu"))
        .args(args)
        .env("FIRESTORE_EMULATOR_HOST", &w.host)
        .env("VAYU_DATABASE", &w.db)
        .env_remove("FIREBASE_AUTH_EMULATOR_HOST")
        .env_remove("VAYU_PROJECT")
        .env_remove("VAYU_TOKEN")
        .env("VAYU_IDENTITY", "emulator")
        .env("VAYU_UID", uid)
        .env("VAYU_ROLE", role)
        .output()
        .expect("the vayu binary runs")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Expects exit `code`; returns stdout and stderr.
fn expect(out: &Output, code: i32, what: &str) -> (String, String) {
    let (o, e) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(
        out.status.code(),
        Some(code),
        "{what}: stdout {o} stderr {e}"
    );
    (o, e)
}

/// How many schedule documents there are (read as admin).
async fn stored(w: &World) -> usize {
    vayu::schedules::list(&w.admin)
        .await
        .expect("admin lists")
        .len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_is_exit_2_with_the_position_and_nothing_written() {
    let w = World::new("sched-cli-bad").await;
    let alice = "alice:operator";
    let create = |cron: &str, tz: &str| {
        let args = [
            "schedule",
            "create",
            "--cron",
            cron,
            "--tz",
            tz,
            "nightly check",
        ];
        vayu(&w, alice, &args)
    };
    let (_, e) = expect(&create("61 3 * * *", "UTC"), 2, "a minute out of range");
    assert!(
        e.contains("minute") && e.contains("61") && e.contains("at 0"),
        "{e}"
    );
    assert!(
        e.contains("\n  61 3 * * *\n  ^"),
        "a caret under the fault: {e}"
    );
    let (_, e) = expect(&create("0 3 * *", "UTC"), 2, "four fields");
    assert!(
        e.contains("expected 5 fields") && e.contains("found 4 at 7"),
        "{e}"
    );
    let (_, e) = expect(&create("0 3 * * mon-fry", "UTC"), 2, "a bad weekday");
    assert!(e.contains("day-of-week") && e.contains("fry"), "{e}");
    let (_, e) = expect(&create("0 3 * * *", "Europe/Berln"), 2, "an unknown zone");
    assert!(
        e.contains("Europe/Berln") && e.contains("unknown time zone"),
        "{e}"
    );
    let bad_policy = [
        "schedule",
        "create",
        "--cron",
        "@daily",
        "--catch-up",
        "most",
        "x",
    ];
    let (_, e) = expect(
        &vayu(&w, alice, &bad_policy),
        2,
        "an unknown catch-up policy",
    );
    assert!(e.contains("skip, one, all"), "{e}");
    let bad_id = ["schedule", "create", "--cron", "@daily", "--id", "-x", "x"];
    expect(&vayu(&w, alice, &bad_id), 2, "a bad schedule id");
    assert_eq!(stored(&w).await, 0, "nothing was written");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_list_pause_resume_delete_with_json() {
    let w = World::new("sched-cli").await;
    let alice = "alice:operator";
    let create = [
        "--json",
        "schedule",
        "create",
        "--cron",
        "0 3 * * *",
        "--tz",
        "Europe/Berlin",
        "--catch-up",
        "skip",
        "--type",
        "maintenance",
        "--priority",
        "high",
        "--requires",
        "gpu",
        "--id",
        "nightly",
        "nightly check",
    ];
    let (o, _) = expect(&vayu(&w, alice, &create), 0, "create");
    let made: Value = serde_json::from_str(&o).expect("JSON");
    assert_eq!(made["schedule_id"], "nightly");
    assert_eq!(made["catch_up"], "skip");
    assert_eq!(made["created_by"], "alice");
    assert_eq!(made["template"]["type"], "maintenance");
    assert_eq!(made["template"]["requires"][0], "gpu");
    let next: jiff::Timestamp = made["next_tick"]
        .as_str()
        .expect("a next tick")
        .parse()
        .expect("a time");
    let local = next.to_zoned(jiff::tz::TimeZone::get("Europe/Berlin").expect("a zone"));
    assert_eq!((local.hour(), local.minute()), (3, 0), "03:00 in Berlin");
    let (_, e) = expect(&vayu(&w, alice, &create), 4, "the same id again");
    assert!(e.contains("nightly"), "{e}");
    let viewer = ["schedule", "create", "--cron", "@daily", "x"];
    expect(&vayu(&w, "vera:viewer", &viewer), 5, "a viewer creates");

    let (o, _) = expect(&vayu(&w, alice, &["schedule", "list"]), 0, "list");
    assert!(
        o.contains("NEXT TICK") && o.contains("nightly") && o.contains("0 3 * * *"),
        "{o}"
    );
    assert!(
        o.contains("03:00 CE"),
        "the next tick in the schedule's zone: {o}"
    );
    let (o, _) = expect(
        &vayu(&w, alice, &["--json", "schedule", "list"]),
        0,
        "list --json",
    );
    let all: Value = serde_json::from_str(&o).expect("JSON");
    assert_eq!(all[0]["next_tick"], made["next_tick"]);

    let (o, _) = expect(
        &vayu(&w, alice, &["--json", "schedule", "pause", "nightly"]),
        0,
        "pause",
    );
    assert_eq!(
        serde_json::from_str::<Value>(&o).expect("JSON")["paused"],
        true
    );
    expect(
        &vayu(&w, alice, &["schedule", "pause", "nightly"]),
        4,
        "pause twice",
    );
    expect(
        &vayu(&w, "bob:operator", &["schedule", "resume", "nightly"]),
        5,
        "another resumes",
    );
    let (o, _) = expect(
        &vayu(&w, alice, &["schedule", "resume", "nightly"]),
        0,
        "resume",
    );
    assert!(o.starts_with("resumed nightly; next tick "), "{o}");
    expect(
        &vayu(&w, alice, &["schedule", "pause", "nope"]),
        3,
        "pause an unknown one",
    );
    let (o, _) = expect(
        &vayu(&w, alice, &["--json", "schedule", "delete", "nightly"]),
        0,
        "delete",
    );
    assert_eq!(
        serde_json::from_str::<Value>(&o).expect("JSON")["deleted"],
        true
    );
    expect(
        &vayu(&w, alice, &["schedule", "delete", "nightly"]),
        3,
        "delete twice",
    );
    assert_eq!(stored(&w).await, 0);
}
