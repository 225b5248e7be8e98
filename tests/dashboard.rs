//! The web dashboard's Rust side (issue 17): the page's ageing, its
//! merge of an agent's registration with its presence and its plan of a
//! workflow run equal the core's (the vectors dashboard/tests/unit.mjs
//! checks too), its workflow templates are the core's, and `vayu
//! dashboard` serves the site and its config, or refuses a bad config with
//! exit 64. The browser tests themselves are dashboard/tests (test.sh).
//! No emulator: the server makes no Firestore call.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, Command, Stdio};
use std::time::Duration;
use vayu::assign::ageing;
use vayu::model::{AgentDoc, PresenceDoc, Priority, Task, TaskType, Time, time_add};
use vayu::workflow;

fn vectors() -> serde_json::Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/dashboard/tests/vectors.json");
    let text = std::fs::read_to_string(path).expect("the shared vectors are in the repository");
    serde_json::from_str(&text).expect("vectors.json is JSON")
}

#[test]
fn ageing_agrees_with_the_dashboards_shared_vectors() {
    let v = vectors();
    let secs = |k: &serde_json::Value| k.as_u64().expect("times are whole seconds");
    let origin = Time(
        jiff::Timestamp::from_second(v["origin_secs"].as_i64().expect("origin"))
            .expect("a valid time"),
    );
    let at = |s: u64| time_add(origin, Duration::from_secs(s));
    let step = Duration::from_secs(secs(&v["step_secs"]));
    let now = at(secs(&v["now_secs"]));
    let mut tasks = Vec::new();
    for c in v["tasks"].as_array().expect("a list of tasks") {
        let p: Priority = c["priority"]
            .as_str()
            .expect("a priority")
            .parse()
            .expect("a known priority");
        let mut t = Task::new(TaskType::Research, p, "vector");
        t.task_id = c["id"].as_str().expect("an id").into();
        t.created_at = Some(at(secs(&c["created"])));
        t.not_before = c.get("not_before").map(|s| at(secs(s)));
        assert_eq!(
            ageing::effective_rank(&t, now, step),
            c["effective_rank"].as_i64().expect("a rank"),
            "{}",
            t.task_id
        );
        assert_eq!(
            ageing::overdue(&t, now, step),
            c["overdue"].as_bool().expect("a bool"),
            "{}",
            t.task_id
        );
        tasks.push(t);
    }
    let order: Vec<&str> = ageing::order(&tasks, now, step)
        .iter()
        .map(|t| t.task_id.as_str())
        .collect();
    let want: Vec<&str> = v["claim_order"]
        .as_array()
        .expect("an order")
        .iter()
        .map(|x| x.as_str().expect("an id"))
        .collect();
    assert_eq!(order, want);
}

/// A vector's document with its times (seconds from the origin, or null)
/// as `Time`s serialize, so serde reads it as the model.
fn with_times(origin: i64, doc: &serde_json::Value) -> serde_json::Value {
    let mut doc = doc.clone();
    for k in ["last_heartbeat", "beat_at"] {
        if let Some(s) = doc.get(k).and_then(serde_json::Value::as_i64) {
            let t = Time::from_parts(origin + s, 0).expect("a valid time");
            doc[k] = serde_json::to_value(t).expect("a time serializes");
        }
    }
    doc
}

#[test]
fn with_presence_agrees_with_the_dashboards_shared_vectors() {
    let v = vectors();
    let origin = v["origin_secs"].as_i64().expect("origin");
    for c in v["presence"].as_array().expect("a list of cases") {
        let name = c["name"].as_str().expect("a name");
        let agent: AgentDoc = serde_json::from_value(with_times(origin, &c["agent"]))
            .expect("the vector's agent is an AgentDoc");
        let beat: Option<PresenceDoc> = serde_json::from_value(with_times(origin, &c["beat"]))
            .expect("the vector's beat is a PresenceDoc");
        let seen = serde_json::to_value(agent.with_presence(beat.as_ref())).expect("serializes");
        let want = with_times(origin, &c["seen"]);
        for (k, w) in want.as_object().expect("the fields seen") {
            assert_eq!(&seen[k], w, "{name}: {k}");
        }
    }
}

/// The page's copy of the built-in templates (what `vayu workflow
/// templates --json` prints), which its wizard offers.
#[test]
fn the_dashboards_workflow_templates_are_the_cores() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/dashboard/src/workflows.json");
    let text = std::fs::read_to_string(path).expect("the templates are in the repository");
    let page: serde_json::Value = serde_json::from_str(&text).expect("workflows.json is JSON");
    let core = serde_json::to_value(workflow::templates()).expect("the templates serialize");
    assert!(
        page == core,
        "dashboard/src/workflows.json is stale: vayu workflow templates --json > dashboard/src/workflows.json"
    );
    // The page cannot parse an `if` condition as the CLI checks it, so it
    // refuses such a step; no built-in template has one.
    let steps: Vec<_> = (workflow::templates().into_iter())
        .flat_map(|t| t.steps)
        .collect();
    assert!(steps.iter().all(|s| s.condition.is_none()));
    let rendered = steps.iter().any(|s| !s.requires.is_empty());
    assert!(rendered, "a step's requires (rendered by the page too)");
}

#[test]
fn workflow_plans_agree_with_the_dashboards_shared_vectors() {
    let v = vectors();
    for c in v["workflows"].as_array().expect("a list of cases") {
        let s = |k: &str| c[k].as_str().expect("a string field").to_string();
        let spec = workflow::template(&s("template")).expect("a built-in template");
        let given: BTreeMap<String, String> =
            serde_json::from_value(c["given"].clone()).expect("the inputs given");
        match workflow::prepare(&spec, &s("run_id"), &given, &s("by")) {
            Ok((run, steps)) => {
                let run = serde_json::to_value(&run).expect("a run serializes");
                assert_eq!(run, c["run"], "{}", s("template"));
                let steps: Vec<serde_json::Value> = (steps.iter())
                    .map(|p| {
                        serde_json::json!({"task_id": p.task_id, "wave": p.wave, "after": p.after,
                            "input": p.input, "requires": p.step.requires})
                    })
                    .collect();
                assert_eq!(
                    serde_json::Value::from(steps),
                    c["steps"],
                    "{}",
                    s("template")
                );
            }
            Err(e) => assert_eq!(e.to_string(), s("error"), "{given:?}"),
        }
    }
}

/// `vayu dashboard` with `env`, killed on drop.
struct Dashboard(Child);

impl Drop for Dashboard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn dashboard(args: &[&str], env: &[(&str, &str)]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_vayu"));
    cmd.arg("dashboard").args(args);
    for k in [
        "FIRESTORE_EMULATOR_HOST",
        "FIREBASE_AUTH_EMULATOR_HOST",
        "VAYU_PROJECT",
        "VAYU_API_KEY",
        "VAYU_DATABASE",
    ] {
        cmd.env_remove(k);
    }
    cmd.envs(env.iter().copied());
    cmd
}

fn get(addr: &str, path: &str) -> String {
    let mut conn = std::net::TcpStream::connect(addr).expect("the dashboard listens");
    write!(conn, "GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").expect("the request is sent");
    let mut out = String::new();
    conn.read_to_string(&mut out).expect("an answer");
    out
}

#[test]
fn vayu_dashboard_serves_the_site_and_a_config_for_the_emulators() {
    let mut child = dashboard(
        &["--port", "0", "--auth-emulator", "127.0.0.1:9099", "--json"],
        &[
            ("FIRESTORE_EMULATOR_HOST", "127.0.0.1:8080"),
            ("VAYU_DATABASE", "db-x"),
        ],
    )
    .stdout(Stdio::piped())
    .spawn()
    .expect("vayu starts");
    let stdout = child.stdout.take().expect("stdout is piped");
    let server = Dashboard(child);
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .expect("it prints its URL");
    let printed: serde_json::Value = serde_json::from_str(&line).expect("--json prints JSON");
    let url = printed["url"].as_str().expect("the URL");
    let addr = (url.trim_start_matches("http://").trim_end_matches('/')).to_string();
    let index = get(&addr, "/");
    assert!(
        index.starts_with("HTTP/1.1 200")
            && index.contains("<script type=\"module\" src=\"app.js\">"),
        "{index}"
    );
    assert!(get(&addr, "/app.js").contains("text/javascript"));
    let config = get(&addr, "/config.json");
    let body = config.split("\r\n\r\n").nth(1).expect("a body");
    let json: serde_json::Value = serde_json::from_str(body).expect("the config is JSON");
    assert_eq!(json["projectId"], "demo-vayu");
    assert_eq!(json["databaseId"], "db-x");
    assert_eq!(json["emulators"]["firestore"], "127.0.0.1:8080");
    assert_eq!(json["emulators"]["auth"], "http://127.0.0.1:9099");
    assert!(get(&addr, "/../Cargo.toml").starts_with("HTTP/1.1 404"));
    drop(server);
}

/// Flags, environment, and what the refusal must say.
type BadConfig<'a> = (&'a [&'a str], &'a [(&'a str, &'a str)], &'a str);

#[test]
fn vayu_dashboard_refuses_a_bad_config_with_exit_64() {
    let cases: [BadConfig; 3] = [
        (&["--project", "my-proj"], &[], "API key"),
        (
            &[],
            &[("FIRESTORE_EMULATOR_HOST", "no-port")],
            "not host:port",
        ),
        (
            &["--auth-emulator", "x"],
            &[("FIRESTORE_EMULATOR_HOST", "127.0.0.1:8080")],
            "not host:port",
        ),
    ];
    for (args, env, says) in cases {
        let out = dashboard(args, env).output().expect("vayu runs");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(64), "{args:?} {env:?}: {err}");
        assert!(err.contains(says), "{args:?}: {err}");
    }
}
