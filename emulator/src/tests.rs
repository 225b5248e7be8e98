//! Tests that start real JVMs: the launcher's promises (it answers, it
//! stops, it frees its port, it loads the rules) only mean something
//! against the real emulator.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::ready::probe;
use crate::{Emulator, EmulatorError, EmulatorOptions};

#[tokio::test]
async fn missing_rules_file_is_reported() {
    let err = Emulator::start(EmulatorOptions {
        rules: Some(PathBuf::from("/definitely/not/here.rules")),
        ..EmulatorOptions::default()
    })
    .await
    .expect_err("a missing rules file must be rejected before starting java");
    assert!(
        matches!(
            err,
            EmulatorError::RulesNotFound(_) | EmulatorError::JarNotFound(_)
        ),
        "{err}"
    );
}

/// Starts a real emulator, checks that it answers on `host()`, and that
/// `stop()` really ends the JVM and frees the port.
#[tokio::test]
async fn starts_answers_and_stops() {
    let emulator = Emulator::start(EmulatorOptions::default())
        .await
        .expect("the Firestore emulator must be installed for this test (see find_jar)");
    let addr: SocketAddr = emulator.host().parse().expect("host() is always IP:PORT");
    probe(addr)
        .await
        .expect("a ready emulator answers GET / with Ok");
    assert_eq!(emulator.url(), format!("http://{}", emulator.host()));
    let pid = emulator
        .java_pid()
        .expect("a ready emulator knows its JVM pid");
    assert!(emulator.is_running());
    assert!(pid_alive(pid), "JVM {pid} should be alive");

    emulator.stop().await;
    assert!(!pid_alive(pid), "JVM {pid} should be gone after stop()");
    assert!(
        tokio::net::TcpStream::connect(addr).await.is_err(),
        "port must be closed after stop()"
    );
}

/// A busy fixed port is reported as such, not as a timeout, and the
/// emulator answering there is not mistaken for ours.
#[tokio::test]
async fn fixed_port_collision_is_reported() {
    let first = Emulator::start(EmulatorOptions::default())
        .await
        .expect("the Firestore emulator must be installed for this test (see find_jar)");
    let err = Emulator::start(EmulatorOptions {
        port: Some(first.port()),
        ..EmulatorOptions::default()
    })
    .await
    .expect_err("a second emulator cannot bind the same port");
    assert!(matches!(err, EmulatorError::PortInUse { .. }), "{err}");
    drop(first);
}

/// `--rules` reaches the emulator: a deny-all-writes rule set rejects an
/// unauthenticated write while the admin token ("Bearer owner") passes.
#[tokio::test]
async fn rules_file_is_enforced() {
    let dir = std::env::temp_dir().join(format!("vayu-rules-test-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).expect("temp dir must be creatable for this test");
    let rules = dir.join("deny-writes.rules");
    std::fs::write(
        &rules,
        "rules_version = '2';\nservice cloud.firestore {\n  match /databases/{db}/documents {\n    \
         match /{doc=**} { allow read: if true; allow write: if false; }\n  }\n}\n",
    )
    .expect("writing rules fixture in own temp dir");
    let emulator = Emulator::start(EmulatorOptions {
        rules: Some(rules),
        ..EmulatorOptions::default()
    })
    .await
    .expect("the Firestore emulator must be installed for this test (see find_jar)");
    std::fs::remove_dir_all(&dir).expect("removing own temp dir");

    let path = "/v1/projects/demo-vayu/databases/rules-test/documents/c/d";
    assert_eq!(patch_status(emulator.host(), path, None).await, 403);
    assert_eq!(
        patch_status(emulator.host(), path, Some("owner")).await,
        200
    );
    emulator.stop().await;
}

/// PATCHes an empty document and returns the HTTP status code.
async fn patch_status(host: &str, path: &str, bearer: Option<&str>) -> u16 {
    let mut stream = tokio::net::TcpStream::connect(host)
        .await
        .expect("a ready emulator accepts connections");
    let auth = bearer.map_or(String::new(), |t| format!("Authorization: Bearer {t}\r\n"));
    let body = r#"{"fields":{}}"#;
    let request = format!(
        "PATCH {path} HTTP/1.1\r\nHost: {host}\r\n{auth}Content-Type: application/json\r\n\
         Content-Length: {}\r\n\r\n{body}",
        body.len()
    );
    stream
        .write_all(request.as_bytes())
        .await
        .expect("writing a small request to loopback");
    let mut buf = Vec::new();
    let mut chunk = [0u8; 512];
    // Only the status line is needed; it comes first.
    while !buf.windows(2).any(|w| w == b"\r\n") {
        let n = tokio::time::timeout(Duration::from_secs(20), stream.read(&mut chunk))
            .await
            .expect("emulator must answer within 20 s")
            .expect("reading the response");
        assert!(n > 0, "connection closed before a status line");
        buf.extend_from_slice(&chunk[..n]);
    }
    String::from_utf8_lossy(&buf)
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .expect("HTTP status line has a numeric code")
}

/// Linux: a pid is alive while /proc has it and it is not a zombie.
fn pid_alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .is_some_and(|state| state != "Z" && state != "X"),
        Err(_) => false,
    }
}
