//! Issue 16, observability, through a real `vayu-agent` process:
//! - `--metrics-addr` serves Prometheus text at `/metrics`: claims,
//!   completions and failures, the claim-latency histogram, Firestore
//!   operations, heartbeat lag and the breakers, scraped here after a
//!   known workload (3 tasks completed, 1 failed), and 404 elsewhere;
//! - `--log-format json` writes one JSON object per log line;
//! - a port that is taken is a bad configuration (exit 64), found before
//!   the agent registers.

mod common;

use common::fleet::{create_with_input, setup, wait_ended};
use common::procs::{AgentProc, AgentSpec, tail};
use std::time::Duration;
use vayu::model::TaskType;

const LIMIT: Duration = Duration::from_secs(60);

/// A port nobody listens on (the OS picks it; it is free again once the
/// probe listener is dropped).
fn free_port() -> u16 {
    let probe = std::net::TcpListener::bind("127.0.0.1:0").expect("loopback binds");
    probe
        .local_addr()
        .expect("a bound socket has an address")
        .port()
}

/// The value of the sample whose line starts with `prefix`.
fn value(text: &str, prefix: &str) -> f64 {
    let line = (text.lines().find(|l| l.starts_with(prefix)))
        .unwrap_or_else(|| panic!("no sample {prefix} in\n{text}"));
    let v = line.rsplit(' ').next().unwrap_or_default();
    v.parse().unwrap_or_else(|e| panic!("{line}: {e}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_agents_metrics_are_scraped_and_its_logs_are_json() {
    let (cfg, store) = setup("metrics").await;
    let dir = tempfile::tempdir().expect("the system temp dir is writable");
    let host = cfg.emulator_host.as_deref().expect("an emulator config");
    let port = free_port();
    let handler = "case \"$(cat)\" in *doomed*) exit 3;; *) echo vayu:result ok;; esac";
    let mut spec = AgentSpec::new("scraped", handler, host, &cfg.database_id, dir.path());
    spec.args = [
        "--metrics-addr",
        &format!("127.0.0.1:{port}"),
        "--log-format",
        "json",
    ]
    .map(String::from)
    .to_vec();
    let mut agent = AgentProc::spawn(&spec);
    let mut ids = Vec::new();
    for input in ["a", "b", "c", "doomed"] {
        ids.push(create_with_input(&store, TaskType::Research, input, input, 0).await);
    }
    for id in &ids {
        wait_ended(&store, id, LIMIT).await;
    }

    // The loop publishes on each run's end and tick: poll until the
    // last run and a heartbeat show (or fail with what was served).
    let url = format!("http://127.0.0.1:{port}/metrics");
    let a = "agent=\"scraped\"";
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let text = loop {
        let text = match reqwest::get(&url).await {
            Ok(r) => {
                assert_eq!(r.status(), 200);
                let kind = r.headers().get("content-type").cloned();
                assert_eq!(
                    kind.and_then(|k| k.to_str().ok().map(String::from))
                        .as_deref(),
                    Some("text/plain; version=0.0.4")
                );
                r.text().await.expect("a body")
            }
            Err(e) => format!("unreachable: {e}"),
        };
        let failed = format!("vayu_runs_total{{{a},outcome=\"failed\"}} 1");
        // The heartbeat's age shows once a heartbeat got through (the
        // runs may all end before the first).
        let beat = text.contains("vayu_heartbeat_age_seconds{");
        if (text.contains(&failed) && beat) || tokio::time::Instant::now() > deadline {
            break text;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(
        value(&text, &format!("vayu_claims_total{{{a}}}")),
        4.0,
        "{text}"
    );
    assert_eq!(
        value(
            &text,
            &format!("vayu_runs_total{{{a},outcome=\"completed\"}}")
        ),
        3.0
    );
    assert_eq!(value(&text, &format!("vayu_failures_total{{{a}}}")), 1.0);
    assert_eq!(value(&text, "vayu_claim_latency_seconds_count{"), 4.0);
    assert_eq!(
        value(
            &text,
            "vayu_claim_latency_seconds_bucket{agent=\"scraped\",le=\"+Inf\"}"
        ),
        4.0
    );
    let writes = value(
        &text,
        &format!("vayu_firestore_operations_total{{{a},op=\"writes\"}}"),
    );
    assert!(
        writes >= 8.0,
        "at least a claim and an end per task: {writes}"
    );
    let age = value(&text, &format!("vayu_heartbeat_age_seconds{{{a}}}"));
    assert!(age >= 0.0, "{age}");
    let research = format!("vayu_breaker_state{{{a},task_type=\"research\"}}");
    assert_eq!(value(&text, &research), 0.0, "one failure does not open it");
    let other = reqwest::get(format!("http://127.0.0.1:{port}/other")).await;
    assert_eq!(other.expect("the server answers").status(), 404);

    agent.stop_cleanly(Duration::from_secs(20)).await;
    let log = std::fs::read_to_string(spec.log_path()).expect("the agent's log");
    let json: Vec<serde_json::Value> = (log.lines())
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}")))
        .collect();
    assert!(json.iter().any(|j| j["message"] == "agent online"), "{log}");
    assert!(
        json.iter()
            .all(|j| j["level"].is_string() && j["timestamp"].is_string())
    );
    let other_lines: Vec<&str> = (log.lines())
        .filter(|l| !l.starts_with('{') && !l.starts_with("==== test:"))
        .collect();
    assert!(
        other_lines.is_empty(),
        "lines that are not JSON: {other_lines:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_taken_metrics_port_is_a_bad_configuration() {
    let (cfg, store) = setup("metrics-taken").await;
    let dir = tempfile::tempdir().expect("the system temp dir is writable");
    let host = cfg.emulator_host.as_deref().expect("an emulator config");
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("loopback binds");
    let addr = taken.local_addr().expect("a bound socket has an address");
    let mut spec = AgentSpec::new("portless", "true", host, &cfg.database_id, dir.path());
    spec.args = vec!["--metrics-addr".into(), addr.to_string()];
    let mut agent = AgentProc::spawn(&spec);
    let status = agent
        .wait_exit(Duration::from_secs(30))
        .await
        .expect("a bad configuration exits");
    let log = tail(&agent.log(), 5);
    assert_eq!(status.code(), Some(64), "{log}");
    assert!(log.contains(&format!("--metrics-addr {addr}")), "{log}");
    let doc = store
        .get_agent("portless")
        .await
        .expect("the emulator answers");
    assert!(doc.is_none(), "it exits before it registers");
    drop(taken);
}
