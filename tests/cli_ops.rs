//! The `vayu` binary's operator commands as a script would use them, on the
//! emulator under the rules: `quarantine list | show | restore | drop`,
//! `user add`, the visible waits of `task status` / `task list`, and
//! `task create --key` (idempotent creates).

mod common;
mod rules_support;

use rules_support::*;
use serde_json::{Value, json};
use std::process::{Command, Output};
use vayu::layout::Pile;
use vayu::model::{AgentDoc, AgentState};

/// Runs `vayu` on `w`'s database, as admin (`who` empty) or as the
/// emulator identity `uid:role`.
fn vayu(w: &World, who: &str, args: &[&str]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_vayu"));
    c.args(args)
        .env("FIRESTORE_EMULATOR_HOST", &w.host)
        .env("VAYU_DATABASE", &w.db)
        .env_remove("FIREBASE_AUTH_EMULATOR_HOST")
        .env_remove("VAYU_PROJECT")
        .env_remove("VAYU_TOKEN")
        .env_remove("VAYU_IDENTITY");
    if let Some((uid, role)) = who.split_once(':') {
        c.env("VAYU_IDENTITY", "emulator")
            .env("VAYU_UID", uid)
            .env("VAYU_ROLE", role);
    }
    c.output().expect("the vayu binary runs")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Expects exit `code`; returns stdout.
fn expect(out: &Output, code: i32, what: &str) -> String {
    assert_eq!(
        out.status.code(),
        Some(code),
        "{what}: stdout {} stderr {}",
        text(&out.stdout),
        text(&out.stderr)
    );
    text(&out.stdout)
}

fn json_of(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "--json prints JSON ({e}): exit {:?}, stdout {}, stderr {}",
            out.status.code(),
            text(&out.stdout),
            text(&out.stderr)
        )
    })
}

fn write_file(dir: &tempfile::TempDir, name: &str, body: &str) -> String {
    let p = dir.path().join(name);
    std::fs::write(&p, body).expect("writes a temp file");
    p.to_string_lossy().into_owned()
}

const OLGA: &str = "olga:operator";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quarantine_list_show_restore_and_drop_round_trip() {
    let w = World::new("cli-quarantine").await;
    let a = w
        .quarantined(json!({"title": "fix me", "priority": 7}))
        .await;
    let b = w
        .quarantined(json!({"title": "drop me", "priority": "urgent"}))
        .await;

    let table = expect(&vayu(&w, OLGA, &["quarantine", "list"]), 0, "list");
    assert!(table.starts_with("ID"), "{table}");
    for id in [&a, &b] {
        assert!(table.contains(id.as_str()), "{table}");
    }
    assert!(
        table.contains("agent-1") && table.contains("cannot read it"),
        "{table}"
    );
    let list = json_of(&vayu(&w, OLGA, &["quarantine", "list", "--json"]));
    assert_eq!(list.as_array().map(Vec::len), Some(2), "{list}");
    assert_eq!(list[0]["quarantined_by"], "agent-1");

    let out = vayu(&w, OLGA, &["quarantine", "show", &a, "--json"]);
    expect(&out, 0, "show --json");
    let rec = json_of(&out);
    let doc = &rec["document"];
    assert_eq!(
        (&doc["title"], &doc["priority"]),
        (&json!("fix me"), &json!(7)),
        "verbatim"
    );
    assert_eq!(doc["requester"]["id"], "alice");
    assert_eq!(rec["original_path"], Pile::Queued.doc(&a));
    let shown = expect(&vayu(&w, OLGA, &["quarantine", "show", &a]), 0, "show");
    assert!(
        shown.contains("\"priority\": 7") && shown.contains("cannot read it"),
        "{shown}"
    );

    // The document as it is cannot be a task: exit 2, nothing written.
    let out = vayu(&w, OLGA, &["quarantine", "restore", &a]);
    expect(&out, 2, "restore of a malformed document");
    assert!(
        text(&out.stderr).contains("`priority`"),
        "{}",
        text(&out.stderr)
    );
    let dir = tempfile::tempdir().expect("a temp dir");
    for (body, says) in [
        (r#"{"title": "x", "requires": [5]}"#, "`requires`"),
        (r#"{"titel": "x"}"#, "`titel`"),
        ("not json", "not JSON"),
        (r#"["title"]"#, "not a JSON object"),
    ] {
        let f = write_file(&dir, "bad.json", body);
        let out = vayu(&w, OLGA, &["quarantine", "restore", &a, "--file", &f]);
        expect(&out, 2, body);
        assert!(
            text(&out.stderr).contains(says),
            "{body}: {}",
            text(&out.stderr)
        );
    }
    let missing = dir
        .path()
        .join("missing.json")
        .to_string_lossy()
        .into_owned();
    expect(
        &vayu(&w, OLGA, &["quarantine", "restore", &a, "--file", &missing]),
        2,
        "no file",
    );
    assert!(w.record_exists(&a).await, "bad input wrote nothing");
    assert!(w.admin.find_task(&a).await.expect("reads").is_none());

    // A viewer may look but not restore (5); an operator restores.
    let good = write_file(
        &dir,
        "fixed.json",
        r#"{"title": "fixed", "priority": "high", "requires": ["gpu"]}"#,
    );
    expect(
        &vayu(&w, "vera:viewer", &["quarantine", "list"]),
        0,
        "a viewer lists",
    );
    let args = ["quarantine", "restore", &a, "--file", &good];
    expect(&vayu(&w, "vera:viewer", &args), 5, "a viewer restores");
    assert_eq!(expect(&vayu(&w, OLGA, &args), 0, "restore").trim(), a);
    assert!(
        !w.record_exists(&a).await,
        "the record went with the restore"
    );
    let t = json_of(&vayu(&w, OLGA, &["task", "status", "--id", &a, "--json"]));
    assert_eq!(
        (&t["status"], &t["priority"]),
        (&json!("queued"), &json!("high"))
    );
    assert_eq!(t["requester"]["id"], "olga");
    assert_eq!(t["requester"]["context"], "restored from quarantine");
    expect(
        &vayu(&w, OLGA, &["quarantine", "show", &a]),
        3,
        "a restored record",
    );
    expect(&vayu(&w, OLGA, &args), 3, "a second restore");

    // Drop: a dry run without --yes; denied to a viewer; gone after.
    expect(
        &vayu(&w, "vera:viewer", &["quarantine", "drop", &b, "--yes"]),
        5,
        "viewer drop",
    );
    let dry = expect(&vayu(&w, OLGA, &["quarantine", "drop", &b]), 0, "dry run");
    assert!(dry.contains("would drop") && dry.contains("--yes"), "{dry}");
    assert!(w.record_exists(&b).await, "a dry run drops nothing");
    let out = vayu(&w, OLGA, &["quarantine", "drop", &b, "--yes", "--json"]);
    expect(&out, 0, "drop");
    assert_eq!(json_of(&out)["dropped"], true);
    assert!(!w.record_exists(&b).await);
    expect(
        &vayu(&w, OLGA, &["quarantine", "drop", &b, "--yes"]),
        3,
        "a dropped record",
    );
    let empty = expect(&vayu(&w, OLGA, &["quarantine", "list"]), 0, "list");
    assert_eq!(empty, "no quarantined documents\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_task_no_live_agent_can_take_says_what_it_waits_for() {
    let w = World::new("cli-waits").await;
    let create = |args: &[&str]| {
        let mut all = vec!["task", "create", "--json"];
        all.extend_from_slice(args);
        let out = vayu(&w, OLGA, &all);
        expect(&out, 0, "create");
        json_of(&out)["task_id"]
            .as_str()
            .expect("an id")
            .to_string()
    };
    let gpu = create(&["--requires", "gpu", "render"]);
    let plain = create(&["plain"]);
    let nobody = json_of(&vayu(
        &w,
        OLGA,
        &["task", "status", "--id", &plain, "--json"],
    ));
    assert_eq!(nobody["waiting"], "no live agent", "no agent at all");

    // A live agent without gpu, and a dead one with it.
    let agent = |id: &str, caps: &[&str]| AgentDoc {
        agent_id: id.into(),
        status: Some(AgentState::Online),
        capabilities: caps.iter().map(|c| c.to_string()).collect(),
        handles: vec!["*".into()],
        concurrency: 1,
        ..AgentDoc::default()
    };
    w.admin
        .put_agent(&agent("cpu-1", &["web"]))
        .await
        .expect("writes");
    let mut dead = agent("gpu-1", &["gpu"]);
    dead.status = Some(AgentState::Offline);
    w.admin.put_agent(&dead).await.expect("writes");

    let table = expect(&vayu(&w, OLGA, &["task", "list"]), 0, "list");
    let row = |id: &str| {
        table
            .lines()
            .find(|l| l.contains(id))
            .unwrap_or_default()
            .to_string()
    };
    assert!(
        row(&gpu).contains("waiting: no live agent offers gpu"),
        "{table}"
    );
    assert!(!row(&plain).contains("waiting"), "{table}");
    let list = json_of(&vayu(&w, OLGA, &["task", "list", "--json"]));
    let by_id = |id: &str| {
        list["tasks"]
            .as_array()
            .and_then(|l| l.iter().find(|t| t["task_id"] == id))
            .cloned()
            .unwrap_or_default()
    };
    assert_eq!(by_id(&gpu)["waiting"], "no live agent offers gpu");
    assert!(by_id(&plain)["waiting"].is_null());
    let status = expect(
        &vayu(&w, OLGA, &["task", "status", "--id", &gpu]),
        0,
        "status",
    );
    assert!(
        status.contains("\nwaiting: no live agent offers gpu\n"),
        "{status}"
    );
}

/// A create retried with its key makes nothing and prints the same task,
/// even after the task left the queue; the key reused for another task is
/// exit 4, a bad key exit 2, both with nothing written; keys are per
/// requester.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_keyed_create_is_made_once_however_often_it_is_retried() {
    let w = World::new("cli-keys").await;
    let create = |who: &str, args: &[&str]| {
        let mut all = vec!["task", "create", "--json"];
        all.extend_from_slice(args);
        vayu(&w, who, &all)
    };
    let first = json_of(&create(OLGA, &["--key", "nightly-42", "nightly report"]));
    assert_eq!(first["created"], true);
    let id = first["task_id"].as_str().expect("an id").to_string();
    let again = json_of(&create(OLGA, &["--key", "nightly-42", "nightly report"]));
    assert_eq!(
        (again["task_id"].as_str(), &again["created"]),
        (Some(id.as_str()), &json!(false))
    );

    // Cancelled: the task is in the completed pile now, and still found.
    expect(
        &vayu(&w, OLGA, &["task", "cancel", "--id", &id]),
        0,
        "cancel",
    );
    let out = vayu(
        &w,
        OLGA,
        &["task", "create", "--key", "nightly-42", "nightly report"],
    );
    assert_eq!(expect(&out, 0, "retry after cancel").trim(), id);
    assert!(text(&out.stderr).contains("exists for this key; nothing created"));

    let other = create(OLGA, &["--key", "nightly-42", "another report"]);
    expect(&other, 4, "a key reused for another task");
    assert!(
        text(&other.stderr).contains("whose title differs"),
        "{}",
        text(&other.stderr)
    );
    expect(
        &create(OLGA, &["--key", "", "empty key"]),
        2,
        "an empty key",
    );
    let ivan = json_of(&create(
        "ivan:operator",
        &["--key", "nightly-42", "nightly report"],
    ));
    assert_eq!(ivan["created"], true, "another requester's key is its own");
    assert_ne!(ivan["task_id"].as_str(), Some(id.as_str()));

    let tasks = w.admin.list_tasks(None, Some(100)).await.expect("lists");
    let titled = |t: &str| {
        (tasks.iter().flatten())
            .filter(|v| v.value.title == t)
            .count()
    };
    assert_eq!(titled("nightly report"), 2, "one for olga, one for ivan");
    assert_eq!(titled("another report"), 0);
    assert_eq!(titled("empty key"), 0);
}

#[test]
fn user_add_on_the_firestore_emulator_prints_the_emulator_identity() {
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_vayu"))
            .args(args)
            .env("FIRESTORE_EMULATOR_HOST", "127.0.0.1:1")
            .env_remove("FIREBASE_AUTH_EMULATOR_HOST")
            .env_remove("VAYU_PROJECT")
            .output()
            .expect("the vayu binary runs")
    };
    let out = run(&["user", "add", "--id", "olga", "--role", "operator"]);
    let env = expect(&out, 0, "user add");
    for line in [
        "export VAYU_IDENTITY=emulator\n",
        "export VAYU_UID=olga\n",
        "export VAYU_ROLE=operator\n",
    ] {
        assert!(env.contains(line), "{env}");
    }
    let out = run(&["user", "add", "--id", "vera", "--role", "viewer", "--json"]);
    expect(&out, 0, "user add --json");
    let j = json_of(&out);
    assert_eq!(
        (&j["uid"], &j["role"], &j["identity"]),
        (&json!("vera"), &json!("viewer"), &json!("emulator"))
    );
    assert_eq!(j["env"]["VAYU_ROLE"], "viewer");
    let out = run(&["user", "add", "--id", "olga", "--role", "boss"]);
    expect(&out, 2, "a bad role");
    assert!(out.stdout.is_empty() && text(&out.stderr).contains("operator"));
    expect(
        &run(&["user", "add", "--id", "a b", "--role", "viewer"]),
        64,
        "a bad id",
    );
}
