//! The `vayu` binary as a script would use it.

mod common;

use std::process::{Command, Output};

fn vayu(db: &str, host: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_vayu"))
        .args(args)
        .env("FIRESTORE_EMULATOR_HOST", host)
        .env("VAYU_DATABASE", db)
        .env_remove("VAYU_PROJECT")
        .env_remove("VAYU_TOKEN")
        .output()
        .expect("the vayu binary runs")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[tokio::test]
async fn an_unknown_priority_fails_and_names_the_valid_ones() {
    let emu = common::emulator().await;
    let out = vayu(
        &common::warm_db_id("cli").await,
        emu.host(),
        &["task", "create", "--priority", "urgent", "x"],
    );
    assert!(!out.status.success());
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    for p in ["critical", "high", "normal", "low"] {
        assert!(err.contains(p), "stderr does not name {p}: {err}");
    }
}

#[tokio::test]
async fn unknown_type_status_and_missing_id_are_usage_errors() {
    let emu = common::emulator().await;
    let db = common::warm_db_id("cli").await;
    for args in [
        vec!["task", "create", "--type", "poetry", "x"],
        vec!["task", "list", "--status", "running"],
        vec!["task", "status"],
    ] {
        let out = vayu(&db, emu.host(), &args);
        assert_eq!(
            out.status.code(),
            Some(2),
            "{args:?}: {}",
            text(&out.stderr)
        );
        assert!(!text(&out.stderr).is_empty());
    }
    let out = vayu(
        &db,
        emu.host(),
        &[
            "task",
            "status",
            "--id",
            "5b1c7e9a-0000-4000-8000-000000000000",
        ],
    );
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("no task"));
}

#[tokio::test]
async fn create_list_status_and_cancel_round_trip_as_json() {
    let emu = common::emulator().await;
    let db = common::warm_db_id("cli").await;
    let out = vayu(
        &db,
        emu.host(),
        &[
            "task",
            "create",
            "--type",
            "research",
            "--priority",
            "high",
            "--json",
            "Analyze performance bottlenecks",
        ],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let created: serde_json::Value =
        serde_json::from_slice(&out.stdout).expect("create --json prints JSON");
    let id = created["task_id"]
        .as_str()
        .expect("task_id is a string")
        .to_string();
    uuid::Uuid::parse_str(&id).expect("the id is a uuid");

    let out = vayu(&db, emu.host(), &["task", "list", "--json"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let page: serde_json::Value =
        serde_json::from_slice(&out.stdout).expect("list --json prints JSON");
    let list = page["tasks"].as_array().expect("a tasks array").clone();
    assert!(page["next_cursor"].is_null(), "one page");
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["task_id"], id.as_str());
    assert_eq!(list[0]["status"], "queued");
    assert_eq!(list[0]["type"], "research");
    assert_eq!(list[0]["priority"], "high");

    let out = vayu(
        &db,
        emu.host(),
        &["task", "list", "--status", "executing", "--json"],
    );
    let none: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(none["tasks"].as_array().map(Vec::len), Some(0), "{none}");

    let out = vayu(&db, emu.host(), &["task", "status", "--id", &id]);
    assert!(out.status.success());
    assert!(text(&out.stdout).contains("Analyze performance bottlenecks"));

    let out = vayu(&db, emu.host(), &["task", "cancel", "--id", &id]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = vayu(&db, emu.host(), &["task", "status", "--id", &id, "--json"]);
    let t: serde_json::Value = serde_json::from_slice(&out.stdout).expect("status --json");
    assert_eq!(t["status"], "cancelled");
    // A cancelled task is final: retrying it is refused with exit 4.
    let out = vayu(&db, emu.host(), &["task", "retry", "--id", &id]);
    assert_eq!(out.status.code(), Some(4), "{}", text(&out.stderr));

    let out = vayu(&db, emu.host(), &["task", "list"]);
    let table = text(&out.stdout);
    assert!(table.starts_with("ID"), "a table with a header: {table}");
    assert!(table.contains(&id));
}

#[test]
fn an_unreachable_firestore_fails_clearly() {
    // Port 1 on loopback: nothing listens there.
    let out = Command::new(env!("CARGO_BIN_EXE_vayu"))
        .args(["task", "list"])
        .env("FIRESTORE_EMULATOR_HOST", "127.0.0.1:1")
        .output()
        .expect("the vayu binary runs");
    assert_eq!(out.status.code(), Some(69), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("cannot reach Firestore"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn no_project_outside_the_emulator_is_a_config_error() {
    let out = Command::new(env!("CARGO_BIN_EXE_vayu"))
        .args(["task", "list"])
        .env_remove("FIRESTORE_EMULATOR_HOST")
        .env_remove("VAYU_PROJECT")
        .output()
        .expect("the vayu binary runs");
    assert_eq!(out.status.code(), Some(64), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("VAYU_PROJECT"));
}

#[test]
fn the_agent_refuses_a_bad_configuration_with_64() {
    let out = Command::new(env!("CARGO_BIN_EXE_vayu-agent"))
        .args(["--id", "a b", "--handler", "true"])
        .env("FIRESTORE_EMULATOR_HOST", "127.0.0.1:1")
        .output()
        .expect("the agent binary runs");
    assert_eq!(out.status.code(), Some(64), "{}", text(&out.stderr));
    let out = Command::new(env!("CARGO_BIN_EXE_vayu-agent"))
        .args(["--id", "ok"])
        .env("FIRESTORE_EMULATOR_HOST", "127.0.0.1:1")
        .output()
        .expect("the agent binary runs");
    assert_eq!(
        out.status.code(),
        Some(64),
        "no handler: {}",
        text(&out.stderr)
    );
}

/// `task create --github` with no GitHub credentials is a bad
/// configuration (exit 64) found before Firestore is reached (here, an
/// address nothing listens on): nothing written, the variable named.
#[test]
fn task_create_github_without_credentials_is_64_before_firestore() {
    let out = Command::new(env!("CARGO_BIN_EXE_vayu"))
        .args(["task", "create", "--github", "o/r", "Survey parsers"])
        .env("FIRESTORE_EMULATOR_HOST", "127.0.0.1:1")
        .env_remove("GITHUB_TOKEN")
        .env_remove("VAYU_GITHUB_TOKEN_FILE")
        .env_remove("VAYU_GITHUB_APP_ID")
        .output()
        .expect("the vayu binary runs");
    assert_eq!(out.status.code(), Some(64), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("GITHUB_TOKEN"),
        "{}",
        text(&out.stderr)
    );
}

/// Completions need no Firestore: they are generated from the commands'
/// own definitions, so every subcommand is in them; an unknown shell is a
/// usage error (exit 2) that names the valid ones, with nothing printed.
#[test]
fn completions_cover_the_commands_and_refuse_an_unknown_shell() {
    for (shell, marker) in [
        ("bash", "complete -F"),
        ("zsh", "#compdef vayu"),
        ("fish", "complete -c vayu"),
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_vayu"))
            .args(["completions", shell])
            .env("FIRESTORE_EMULATOR_HOST", "127.0.0.1:1")
            .output()
            .expect("the vayu binary runs");
        assert!(out.status.success(), "{shell}: {}", text(&out.stderr));
        let script = text(&out.stdout);
        assert!(
            script.contains(marker),
            "{shell}: no `{marker}` in the script"
        );
        for sub in ["task", "schedule", "workflow", "quarantine", "resource"] {
            assert!(script.contains(sub), "{shell}: `{sub}` is completed");
        }
    }
    let out = Command::new(env!("CARGO_BIN_EXE_vayu"))
        .args(["completions", "tcsh"])
        .output()
        .expect("the vayu binary runs");
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("bash"), "{}", text(&out.stderr));
    assert!(out.stdout.is_empty(), "nothing printed on stdout");
}
