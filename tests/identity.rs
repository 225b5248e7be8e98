//! Agents as Firebase Auth users, the production path: a custom token
//! (RS256, signed with a service account key) → Identity Toolkit
//! `accounts:signInWithCustomToken` → ID + refresh token → refreshed
//! through Secure Token in the background, handed to Firestore as a
//! `SharedToken`.
//!
//! Two ways to run it, both loopback-only:
//! - against a small local stub of the two REST endpoints (always runs):
//!   checks the requests vayu sends and the background refresh;
//! - against the real Firebase Auth emulator from firebase-tools, when it is
//!   installed (`VAYU_FIREBASE_TOOLS`, `firebase` on PATH, or
//!   `~/.cache/vayu/firebase-tools/node_modules/.bin/firebase`; see
//!   docs/production.md): enrol an agent, sign in with its refresh token,
//!   and use the ID token against the Firestore emulator under the rules.
//!   Without firebase-tools it prints that it was skipped.

mod common;
mod rules_support;

use rules_support::*;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use vayu::identity::{
    AuthClient, Endpoints, ServiceAccount, Source, agent_claims, enroll, sign_in,
};
use vayu::model::AgentDoc;

/// A service account key made for this test with openssl (PKCS#8 PEM, as
/// Google issues them), and its public key; `None` without openssl.
fn test_service_account(dir: &Path) -> Option<(ServiceAccount, String)> {
    let key = dir.join("key.pem");
    let public = common::http::rsa_key(&key)?;
    let json = serde_json::json!({
        "type": "service_account",
        "project_id": PROJECT,
        "private_key_id": "test-key-1",
        "private_key": std::fs::read_to_string(&key).ok()?,
        "client_email": "vayu-enroller@demo-vayu.iam.gserviceaccount.com",
    });
    let sa = ServiceAccount::from_json(&json.to_string()).ok()?;
    Some((sa, public))
}

#[test]
fn custom_tokens_are_rs256_signed_for_the_agent_with_the_agent_claim() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let Some((sa, public)) = test_service_account(dir.path()) else {
        assert!(std::env::var_os("CI").is_none(), "openssl is missing in CI");
        println!("SKIPPED: openssl is not installed, so no test key could be made");
        return;
    };
    let now = jiff::Timestamp::now().as_second();
    let token = sa
        .custom_token("agent-7", &agent_claims(), now)
        .expect("a custom token is signed");
    let mut v = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
    v.set_audience(&[
        "https://identitytoolkit.googleapis.com/google.identity.identitytoolkit.v1.IdentityToolkit",
    ]);
    v.set_issuer(&[sa.client_email.as_str()]);
    let key = jsonwebtoken::DecodingKey::from_rsa_pem(public.as_bytes()).expect("a public key");
    let data = jsonwebtoken::decode::<serde_json::Value>(&token, &key, &v)
        .expect("the signature verifies with the service account's public key");
    assert_eq!(data.header.kid.as_deref(), Some("test-key-1"));
    assert_eq!(data.claims["uid"], "agent-7");
    assert_eq!(data.claims["sub"], sa.client_email.as_str());
    assert_eq!(data.claims["claims"]["agent"], true);
    assert_eq!(
        data.claims["exp"].as_i64().expect("exp") - data.claims["iat"].as_i64().expect("iat"),
        3600,
        "custom tokens live at most an hour"
    );
    assert!(
        sa.custom_token("", &agent_claims(), now).is_err(),
        "an empty uid"
    );
}

/// What the stub saw: (path, body) of each request.
type Seen = Arc<Mutex<Vec<(String, String)>>>;

/// A stub of Identity Toolkit and Secure Token on a loopback port. ID
/// tokens it issues live `life_secs` and are emulator-style JWTs for the
/// uid in the custom token; each refresh issues a new one.
async fn stub_auth(life_secs: u64) -> (String, Seen) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a loopback port");
    let addr = listener.local_addr().expect("an address");
    let seen: Seen = Arc::default();
    let log = seen.clone();
    tokio::spawn(async move {
        let mut n = 0u32;
        loop {
            let Ok((mut sock, _)) = listener.accept().await else {
                return;
            };
            n += 1;
            let mut buf = Vec::new();
            let mut chunk = [0u8; 4096];
            // Read the head, then Content-Length bytes of body.
            let (head, body) = loop {
                let Ok(k) = sock.read(&mut chunk).await else {
                    break (String::new(), String::new());
                };
                if k == 0 {
                    break (String::new(), String::new());
                }
                buf.extend_from_slice(&chunk[..k]);
                let text = String::from_utf8_lossy(&buf).to_string();
                if let Some(at) = text.find("\r\n\r\n") {
                    let head = text[..at].to_string();
                    let len = head
                        .lines()
                        .find_map(|l| {
                            l.to_ascii_lowercase()
                                .strip_prefix("content-length:")
                                .map(|v| v.trim().parse::<usize>().unwrap_or(0))
                        })
                        .unwrap_or(0);
                    if buf.len() >= at + 4 + len {
                        break (head, text[at + 4..at + 4 + len].to_string());
                    }
                }
            };
            let path = head
                .split_whitespace()
                .nth(1)
                .unwrap_or_default()
                .to_string();
            log.lock()
                .expect("not poisoned")
                .push((path.clone(), body.clone()));
            let uid = if path.contains("signInWithCustomToken") {
                let token = serde_json::from_str::<serde_json::Value>(&body)
                    .ok()
                    .and_then(|v| v["token"].as_str().map(str::to_string))
                    .unwrap_or_default();
                vayu::auth::jwt_claims(&token)
                    .and_then(|c| c.get("uid").and_then(|u| u.as_str()).map(str::to_string))
                    .unwrap_or_default()
            } else {
                "agent-7".to_string()
            };
            let (status, json) = if uid.is_empty() {
                (
                    400,
                    serde_json::json!({"error": {"message": "INVALID_CUSTOM_TOKEN"}}),
                )
            } else {
                let mut claims = agent_claims();
                claims.insert("n".into(), n.into());
                let id = vayu::identity::emulator_token(PROJECT, &uid, &claims);
                if path.contains("signInWithCustomToken") {
                    (
                        200,
                        serde_json::json!({"idToken": id, "refreshToken": format!("r{n}"), "expiresIn": life_secs.to_string()}),
                    )
                } else {
                    (
                        200,
                        serde_json::json!({"id_token": id, "refresh_token": format!("r{n}"), "expires_in": life_secs.to_string(), "user_id": uid}),
                    )
                }
            };
            let body = json.to_string();
            let reply = format!(
                "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = sock.write_all(reply.as_bytes()).await;
        }
    });
    (format!("http://{addr}"), seen)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_rest_client_signs_in_and_keeps_the_token_fresh_against_a_stub() {
    let (base, seen) = stub_auth(2).await;
    let endpoints = Endpoints {
        identitytoolkit: format!("{base}/identitytoolkit.googleapis.com/v1"),
        securetoken: format!("{base}/securetoken.googleapis.com/v1"),
    };
    let client = AuthClient::new(endpoints, "web-api-key").expect("a client");
    let custom =
        vayu::identity::unsigned_custom_token("agent-7", &agent_claims()).expect("a custom token");
    let session = client
        .sign_in_with_custom_token(&custom)
        .await
        .expect("the stub signs in");
    assert_eq!(session.uid.as_deref(), Some("agent-7"));
    assert_eq!(session.expires_in, Duration::from_secs(2));

    // The background refresher: a 2 s token is renewed after 1 s.
    let signed = sign_in(Source::RefreshToken {
        refresh_token: session.refresh_token.clone(),
        client: client.clone(),
    })
    .await
    .expect("signs in with the refresh token");
    assert_eq!(signed.uid.as_deref(), Some("agent-7"));
    assert!(signed.refreshes());
    let first = signed.token.get();
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_ne!(
        signed.token.get(),
        first,
        "the token was refreshed in the background"
    );
    assert_eq!(signed.token.uid().as_deref(), Some("agent-7"));

    let requests = seen.lock().expect("not poisoned").clone();
    let (path, body) = &requests[0];
    assert_eq!(
        path,
        "/identitytoolkit.googleapis.com/v1/accounts:signInWithCustomToken?key=web-api-key"
    );
    assert!(body.contains("\"returnSecureToken\":true"), "{body}");
    let refreshes: Vec<_> = requests
        .iter()
        .filter(|(p, _)| p.starts_with("/securetoken.googleapis.com/v1/token?key=web-api-key"))
        .collect();
    assert!(
        refreshes.len() >= 2,
        "sign-in by refresh token, then a refresh: {requests:?}"
    );
    assert!(
        refreshes[0].1.contains("grant_type=refresh_token")
            && refreshes[0].1.contains("refresh_token=r1"),
        "form-encoded refresh: {}",
        refreshes[0].1
    );
    assert!(
        refreshes[1].1.contains(&format!("refresh_token=r{}", 2)),
        "the newest refresh token is used: {}",
        refreshes[1].1
    );

    // A refused custom token is a permission error, not a crash.
    let bad = client.sign_in_with_custom_token("a.e30.").await;
    assert!(
        matches!(&bad, Err(vayu::Error::PermissionDenied(m)) if m.contains("INVALID_CUSTOM_TOKEN")),
        "{bad:?}"
    );
    drop(signed);
}

/// firebase-tools, if installed.
fn firebase_tools() -> Option<PathBuf> {
    if let Ok(p) = std::env::var("VAYU_FIREBASE_TOOLS") {
        return Some(PathBuf::from(p)).filter(|p| p.exists());
    }
    if let Ok(path) = std::env::var("PATH") {
        for dir in std::env::split_paths(&path) {
            let p = dir.join("firebase");
            if p.is_file() {
                return Some(p);
            }
        }
    }
    let home = std::env::var("HOME").ok()?;
    let p = PathBuf::from(home).join(".cache/vayu/firebase-tools/node_modules/.bin/firebase");
    p.is_file().then_some(p)
}

/// firebase-tools, or `None` after saying the test is skipped; CI installs
/// it (.ci/run), so there it must be found.
fn firebase_tools_or_skip() -> Option<PathBuf> {
    let found = firebase_tools();
    if found.is_none() {
        assert!(
            std::env::var_os("CI").is_none(),
            "firebase-tools is missing in CI"
        );
        println!(
            "SKIPPED: firebase-tools not found (VAYU_FIREBASE_TOOLS, PATH, or \
             ~/.cache/vayu/firebase-tools); the stub test covers the REST client"
        );
    }
    found
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

/// The Auth emulator, stopped (its whole process group) on drop.
struct AuthEmulator {
    child: std::process::Child,
    host: String,
    dir: tempfile::TempDir,
}

impl AuthEmulator {
    /// What firebase-tools printed, for a failure's message.
    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("emulator.log")).unwrap_or_default()
    }
}

impl Drop for AuthEmulator {
    fn drop(&mut self) {
        // The child leads its own process group (node and anything it
        // spawned): end that group, by its id.
        let pgid = nix::unistd::Pid::from_raw(self.child.id() as i32);
        let _ = nix::sys::signal::killpg(pgid, nix::sys::signal::Signal::SIGTERM);
        let _ = self.child.wait();
    }
}

/// Starts the Auth emulator, trying again when firebase-tools exits before
/// it listens: on a loaded machine it sometimes dies at start with "An
/// unexpected error has occurred" (seen once in CI), and a second start
/// works.
async fn start_auth_emulator(firebase: &Path) -> AuthEmulator {
    for attempt in 1..=3 {
        if let Some(emu) = try_start_auth_emulator(firebase).await {
            return emu;
        }
        eprintln!("the Auth emulator exited at start (attempt {attempt} of 3)");
    }
    panic!("the Auth emulator exited at start three times");
}

async fn try_start_auth_emulator(firebase: &Path) -> Option<AuthEmulator> {
    use std::os::unix::process::CommandExt;
    let dir = tempfile::tempdir().expect("a temp dir");
    let port = free_port();
    let config = serde_json::json!({"emulators": {
        "auth": {"host": "127.0.0.1", "port": port},
        "hub": {"host": "127.0.0.1", "port": free_port()},
        "logging": {"host": "127.0.0.1", "port": free_port()},
        "ui": {"enabled": false}
    }});
    std::fs::write(dir.path().join("firebase.json"), config.to_string()).expect("writes");
    let log = std::fs::File::create(dir.path().join("emulator.log")).expect("a log file");
    let child = std::process::Command::new(firebase)
        .args(["emulators:start", "--only", "auth", "--project", PROJECT])
        .current_dir(dir.path())
        .stdout(log.try_clone().expect("a log handle"))
        .stderr(log)
        .process_group(0)
        .spawn()
        .expect("firebase-tools starts");
    let host = format!("127.0.0.1:{port}");
    let mut emu = AuthEmulator {
        child,
        host: host.clone(),
        dir,
    };
    // Ready when it answers HTTP, not when its port takes a connection: CI
    // once saw the first request after a successful connect fail with
    // "error sending request".
    let http = reqwest::Client::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let probe = http
            .get(format!("http://{host}/"))
            .timeout(Duration::from_secs(2));
        if probe.send().await.is_ok() {
            return Some(emu);
        }
        if let Ok(Some(_)) = emu.child.try_wait() {
            eprintln!("{}", emu.log());
            return None;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the Auth emulator did not start within 60 s: {}",
            emu.log()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_enrolled_agent_signs_in_through_the_auth_emulator_and_acts_under_the_rules() {
    let Some(firebase) = firebase_tools_or_skip() else {
        return;
    };
    let auth = start_auth_emulator(&firebase).await;
    let client =
        AuthClient::new(Endpoints::auth_emulator(&auth.host), "any-key").expect("a client");
    let dir = tempfile::tempdir().expect("a temp dir");
    // Signed with a real RS256 key when openssl can make one; the emulator
    // does not check signatures, production does.
    let sa = test_service_account(dir.path()).map(|(sa, _)| sa);
    let enrolled = enroll(&client, sa.as_ref(), PROJECT, "agent-7", vec!["gpu".into()])
        .await
        .unwrap_or_else(|e| panic!("the admin enrols the agent: {e}\n{}", auth.log()));
    let env = enrolled.env_lines("any-key");
    assert!(env.contains("VAYU_AGENT_IDENTITY=refresh-token"), "{env}");
    assert!(env.contains("VAYU_AGENT_ID=agent-7"), "{env}");
    assert!(!format!("{enrolled:?}").contains(&enrolled.refresh_token));

    // On the agent's machine: only the refresh token.
    let signed = sign_in(Source::RefreshToken {
        refresh_token: enrolled.refresh_token.clone(),
        client: client.clone(),
    })
    .await
    .expect("the agent signs in with its refresh token");
    assert_eq!(signed.uid.as_deref(), Some("agent-7"));
    let claims = signed.token.claims().expect("an ID token is a JWT");
    assert_eq!(
        claims["agent"], true,
        "the custom claim survives the refresh"
    );
    let again = client
        .refresh(&enrolled.refresh_token)
        .await
        .expect("a second refresh");
    assert_eq!(again.uid.as_deref(), Some("agent-7"));

    // The Auth emulator's ID token is accepted by the Firestore emulator
    // as the agent: it registers itself and claims a task.
    let w = World::new("identity").await;
    let store = vayu::store::Store::connect(&w.config(Some(signed.token.clone())))
        .await
        .expect("connects");
    let doc = AgentDoc {
        agent_id: "agent-7".into(),
        status: Some(vayu::model::AgentState::Online),
        concurrency: 1,
        // Claims check the claimer's own offer: it runs every type.
        handles: vec!["*".into()],
        heartbeat_ms: 1000,
        ..AgentDoc::default()
    };
    allowed(
        "the enrolled agent writes its own document",
        store.put_agent(&doc),
    )
    .await;
    let seen = w.queued("alice").await;
    allowed(
        "the enrolled agent claims a task",
        claim(&store, &seen, "agent-7"),
    )
    .await;
    drop(auth);
}

/// `vayu` against both emulators, as admin unless `env` says otherwise.
fn vayu_cli(
    w: &World,
    auth_host: &str,
    args: &[&str],
    env: &[(&str, &str)],
) -> std::process::Output {
    let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_vayu"));
    c.args(args)
        .env("FIRESTORE_EMULATOR_HOST", &w.host)
        .env("VAYU_DATABASE", &w.db)
        .env("FIREBASE_AUTH_EMULATOR_HOST", auth_host);
    for var in [
        "VAYU_PROJECT",
        "VAYU_TOKEN",
        "VAYU_IDENTITY",
        "VAYU_REFRESH_TOKEN",
        "VAYU_API_KEY",
        "VAYU_SERVICE_ACCOUNT",
        "GOOGLE_APPLICATION_CREDENTIALS",
    ] {
        c.env_remove(var);
    }
    c.envs(env.iter().copied())
        .output()
        .expect("the vayu binary runs")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_added_person_signs_in_by_refresh_token_and_acts_with_their_role() {
    let Some(firebase) = firebase_tools_or_skip() else {
        return;
    };
    let auth = start_auth_emulator(&firebase).await;
    let w = World::new("identity-person").await;
    let out_text = |o: &std::process::Output| {
        format!(
            "exit {:?}: {} {}",
            o.status.code(),
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        )
    };
    let add = |uid: &str, role: &str| {
        let out = vayu_cli(
            &w,
            &auth.host,
            &["user", "add", "--id", uid, "--role", role, "--json"],
            &[],
        );
        assert!(out.status.success(), "{}", out_text(&out));
        let j: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
        assert_eq!((&j["uid"], &j["role"]), (&uid.into(), &role.into()), "{j}");
        assert_eq!(j["emulator"], true);
        j["refresh_token"]
            .as_str()
            .expect("a refresh token")
            .to_string()
    };
    let olga = add("olga", "operator");
    let vera = add("vera", "viewer");
    let bad = vayu_cli(
        &w,
        &auth.host,
        &["user", "add", "--id", "x", "--role", "boss"],
        &[],
    );
    assert_eq!(bad.status.code(), Some(2), "{}", out_text(&bad));
    let lines = vayu_cli(
        &w,
        &auth.host,
        &["user", "add", "--id", "olga", "--role", "operator"],
        &[],
    );
    let lines = String::from_utf8_lossy(&lines.stdout).into_owned();
    assert!(
        lines.contains("export VAYU_IDENTITY=refresh-token\n"),
        "{lines}"
    );
    assert!(lines.contains("export VAYU_REFRESH_TOKEN="), "{lines}");

    // The person's vayu signs in with the refresh token: the task is theirs.
    let out = vayu_cli(
        &w,
        &auth.host,
        &["task", "create", "--json", "hi"],
        &as_person(&olga),
    );
    assert!(out.status.success(), "{}", out_text(&out));
    let created: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let id = created["task_id"].as_str().expect("an id");
    assert_eq!(w.read(id).await.value.requester.id, "olga");

    // The role claim reaches the rules: only the operator drops a record.
    let record = vayu::layout::quarantine_doc("q1");
    let seed = raw_write(
        &w.admin,
        &record,
        &serde_json::json!({"task_id": "q1", "reason": "x"}),
        &[],
        vayu::store::Precondition::None,
    );
    w.admin.commit(vec![seed]).await.expect("admin writes");
    let drop_args = ["quarantine", "drop", "q1", "--yes"];
    let out = vayu_cli(&w, &auth.host, &drop_args, &as_person(&vera));
    assert_eq!(out.status.code(), Some(5), "{}", out_text(&out));
    let out = vayu_cli(&w, &auth.host, &drop_args, &as_person(&olga));
    assert!(out.status.success(), "{}", out_text(&out));
    drop(auth);
}

/// The environment of a person's `vayu` signed in by refresh token.
fn as_person(token: &str) -> [(&'static str, &str); 2] {
    [
        ("VAYU_IDENTITY", "refresh-token"),
        ("VAYU_REFRESH_TOKEN", token),
    ]
}
