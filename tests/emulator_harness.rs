//! Proves the shared-emulator test harness works the way every other
//! integration test relies on: one emulator per process, usable from any
//! tokio runtime, isolated databases, and no JVM left behind when the test
//! process dies without running destructors.

mod common;

use common::procs::pid_alive;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The first host any test in this process saw; all must see the same one.
static FIRST_HOST: Mutex<Option<String>> = Mutex::new(None);

fn assert_same_host(host: &str) {
    // A poisoned lock means another test panicked; its data is still valid.
    let mut first = FIRST_HOST.lock().unwrap_or_else(|p| p.into_inner());
    match first.as_deref() {
        None => *first = Some(host.to_string()),
        Some(seen) => assert_eq!(seen, host, "every test must share one emulator"),
    }
}

/// Minimal HTTP/1.1 exchange (no HTTP client dependency needed for tests):
/// returns (status code, body).
async fn http(host: &str, method: &str, path: &str, body: Option<&str>) -> (u16, String) {
    let mut stream = TcpStream::connect(host)
        .await
        .expect("the shared emulator must accept TCP connections");
    let body = body.unwrap_or("");
    // "Bearer owner" is the emulator's admin credential: it bypasses
    // firestore.rules, which these plumbing tests are not about.
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer owner\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream
        .write_all(request.as_bytes())
        .await
        .expect("writing a small request to loopback");
    // The emulator keeps connections open despite `Connection: close`, so
    // read exactly `content-length` bytes of body (it always sends one).
    let read = async {
        let mut raw = Vec::new();
        let mut chunk = [0u8; 4096];
        loop {
            if let Some(split) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&raw[..split]).to_ascii_lowercase();
                let len: usize = head
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length:"))
                    .and_then(|v| v.trim().parse().ok())
                    .unwrap_or_else(|| panic!("response without content-length: {head}"));
                if raw.len() >= split + 4 + len {
                    let status = head
                        .split_whitespace()
                        .nth(1)
                        .and_then(|s| s.parse().ok())
                        .unwrap_or_else(|| panic!("not an HTTP status line: {head}"));
                    let body = String::from_utf8_lossy(&raw[split + 4..split + 4 + len]);
                    return (status, body.into_owned());
                }
            }
            let n = stream.read(&mut chunk).await.expect("reading the response");
            assert!(n > 0, "connection closed mid-response: {raw:?}");
            raw.extend_from_slice(&chunk[..n]);
        }
    };
    tokio::time::timeout(Duration::from_secs(20), read)
        .await
        .expect("emulator must answer within 20 s")
}

async fn check_shared_emulator() {
    let emulator = common::emulator().await;
    assert_same_host(emulator.host());
    TcpStream::connect(emulator.host())
        .await
        .expect("TCP connect to the shared emulator");
    let (status, body) = http(emulator.host(), "GET", "/", None).await;
    assert_eq!((status, body.trim()), (200, "Ok"));
}

// Several tokio tests, each with its own runtime, sharing one emulator.
#[tokio::test]
async fn shared_emulator_from_runtime_a() {
    check_shared_emulator().await;
}

#[tokio::test]
async fn shared_emulator_from_runtime_b() {
    check_shared_emulator().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shared_emulator_from_runtime_c() {
    check_shared_emulator().await;
}

/// The case that breaks a tokio `Child`: the runtime that started the
/// emulator is dropped, later runtimes keep using it. Also ten runtimes on
/// ten threads racing for it must get the very same instance. This runs the
/// same way under `cargo test` (threads) and nextest (process per test).
#[test]
fn shared_emulator_survives_its_runtime_and_parallel_callers() {
    let first = {
        let rt = tokio::runtime::Runtime::new().expect("creating a tokio runtime");
        let emulator = rt.block_on(common::emulator());
        rt.block_on(check_shared_emulator());
        emulator
    }; // runtime dropped here

    let threads: Vec<_> = (0..10)
        .map(|_| {
            std::thread::spawn(|| {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("creating a tokio runtime");
                rt.block_on(async {
                    check_shared_emulator().await;
                    common::emulator().await as *const _ as usize
                })
            })
        })
        .collect();
    for thread in threads {
        let addr = thread.join().expect("caller thread must not panic");
        assert_eq!(addr, first as *const _ as usize, "one emulator per process");
    }
    assert!(first.is_running());
}

#[test]
fn unique_db_ids_are_valid_and_distinct() {
    let mut seen = std::collections::HashSet::new();
    for prefix in [
        "claim",
        "Claim_Race Test",
        "9lives",
        "",
        "-",
        "a-very-long-prefix-that-goes-on-and-on-well-past-the-sixty-three-character-limit",
    ] {
        for _ in 0..50 {
            let id = common::unique_db_id(prefix);
            assert!(common::is_valid_db_id(&id), "invalid database id {id:?}");
            assert!(seen.insert(id.clone()), "duplicate database id {id:?}");
        }
    }
    assert!(common::unique_db_id("claim").starts_with("claim-"));
}

/// The emulator really creates databases on first use, and they are isolated.
#[tokio::test]
async fn unique_databases_are_isolated() {
    let emulator = common::emulator().await;
    let (a, b) = (common::unique_db_id("iso"), common::unique_db_id("iso"));
    let doc = |db: &str| format!("/v1/projects/demo-vayu/databases/{db}/documents/things/one");

    let (status, body) = http(
        emulator.host(),
        "PATCH",
        &doc(&a),
        Some(r#"{"fields":{"n":{"integerValue":"7"}}}"#),
    )
    .await;
    assert_eq!(status, 200, "write into fresh database {a}: {body}");

    let (status, body) = http(emulator.host(), "GET", &doc(&a), None).await;
    assert_eq!(status, 200, "{body}");
    assert!(
        body.contains("\"7\""),
        "document must be readable back: {body}"
    );

    let (status, body) = http(emulator.host(), "GET", &doc(&b), None).await;
    assert_eq!(status, 404, "database {b} must not see {a}'s data: {body}");
}

/// Environment variable that turns [`helper_process_for_parent_death_test`]
/// into the doomed child of [`jvm_dies_when_test_process_is_killed`].
const CHILD_ENV: &str = "VAYU_HARNESS_CHILD";

/// Does nothing in a normal run. As a child process it starts the shared
/// emulator (in a `static`, like every test), optionally `SIGSTOP`s the JVM,
/// prints the JVM pid and then waits to be killed.
#[tokio::test]
async fn helper_process_for_parent_death_test() {
    let Ok(mode) = std::env::var(CHILD_ENV) else {
        return;
    };
    let emulator = common::emulator().await;
    let pid = emulator
        .java_pid()
        .expect("a started emulator knows its JVM pid");
    if mode == "stop" {
        let status = Command::new("kill")
            .args(["-STOP", &pid.to_string()])
            .status()
            .expect("running kill -STOP");
        assert!(status.success());
    }
    println!("JAVA_PID={pid} HOST={}", emulator.host());
    loop {
        tokio::time::sleep(Duration::from_secs(3600)).await;
    }
}

/// Re-runs this test binary as a child that holds an emulator in a `static`,
/// `SIGKILL`s the child (no destructor, no exit handler runs) and checks the
/// JVM goes away by itself. Mode "stop" also covers a JVM that a chaos test
/// left `SIGSTOP`ped.
fn check_jvm_dies_with_parent(mode: &str) {
    let exe = std::env::current_exe().expect("locating this test binary");
    let mut child = Command::new(exe)
        .args([
            "--exact",
            "helper_process_for_parent_death_test",
            "--nocapture",
        ])
        .env(CHILD_ENV, mode)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawning this test binary as a child");
    let stdout = child.stdout.take().expect("stdout was piped above");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(rest) = line.strip_prefix("JAVA_PID=") {
                let _ = tx.send(rest.to_string());
            }
        }
    });
    let line = match rx.recv_timeout(Duration::from_secs(90)) {
        Ok(line) => line,
        Err(e) => {
            let _ = child.kill();
            panic!("child never reported its JVM pid: {e}");
        }
    };
    let (pid, _host) = line
        .split_once(" HOST=")
        .expect("child prints JAVA_PID=<pid> HOST=<host>");
    let pid: u32 = pid.parse().expect("pid is a number");
    assert!(pid_alive(pid), "JVM {pid} must be running before the kill");

    child.kill().expect("SIGKILL the child test process");
    child.wait().expect("reaping the child");

    let killed_at = Instant::now();
    while pid_alive(pid) {
        assert!(
            killed_at.elapsed() < Duration::from_secs(10),
            "JVM {pid} outlived its parent by 10 s"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn jvm_dies_when_test_process_is_killed() {
    check_jvm_dies_with_parent("run");
}

#[test]
fn stopped_jvm_dies_when_test_process_is_killed() {
    check_jvm_dies_with_parent("stop");
}
