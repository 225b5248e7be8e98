//! Helpers for the security-rules tests: acting as different users against
//! the shared emulator (started with the repository's `firestore.rules`),
//! seeding documents as admin, and checking that a call succeeds or is
//! refused by the rules specifically.
#![allow(dead_code)]

use firestore::gcloud_sdk::google::firestore::v1 as pb;
use serde_json::{Map, Value};
use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use vayu::auth::SharedToken;
use vayu::identity::{agent_claims, emulator_token, person_claims};
use vayu::layout::{self, Pile};
use vayu::lifecycle::Status;
use vayu::model::{AssignmentMethod, Lease, Priority, Task, TaskType, now, time_add};
use vayu::store::{Precondition, Store, StoreConfig, Versioned};
use vayu::tasks::NewTask;
use vayu::{Error, Result};

use crate::common;

/// Cases checked by this process, printed by [`World::done`].
static CASES: AtomicUsize = AtomicUsize::new(0);

/// One isolated database in the shared emulator, and who can act on it.
pub struct World {
    pub host: String,
    pub db: String,
    /// The emulator's `owner`: bypasses the rules. Seeds and reads back.
    pub admin: Store,
}

pub const PROJECT: &str = "demo-vayu";

impl World {
    pub async fn new(prefix: &str) -> World {
        let emu = common::emulator().await;
        let db = common::unique_db_id(prefix);
        let cfg = StoreConfig {
            request_timeout: Duration::from_secs(30),
            ..StoreConfig::emulator(emu.host(), db.clone())
        };
        let admin = Store::connect(&cfg)
            .await
            .unwrap_or_else(|e| panic!("the emulator is up, so connecting works: {e}"));
        // The database's first answer takes seconds (see
        // `common::warm_db_id`); paid here, not by a test's first CLI call.
        common::fleet::warm_up(&admin).await;
        World {
            host: emu.host().to_string(),
            db,
            admin,
        }
    }

    pub fn config(&self, token: Option<SharedToken>) -> StoreConfig {
        StoreConfig {
            token,
            // Generous: rules evaluation on a loaded 2-core machine can be
            // slow, and a timeout would read as a wrong answer.
            request_timeout: Duration::from_secs(30),
            ..StoreConfig::emulator(self.host.clone(), self.db.clone())
        }
    }

    /// A store that sends `token` (any string) as its bearer token.
    pub async fn with_token(&self, token: &str) -> Store {
        Store::connect(&self.config(Some(SharedToken::new(token))))
            .await
            .unwrap_or_else(|e| panic!("connecting with a user token works: {e}"))
    }

    pub async fn user(&self, uid: &str, claims: &Map<String, Value>) -> Store {
        self.with_token(&emulator_token(PROJECT, uid, claims)).await
    }

    /// A user with the `agent: true` claim, registered in `agents/{uid}`
    /// as an agent that runs every type and offers no capability (claims
    /// check the claimer's own document).
    pub async fn agent(&self, uid: &str) -> Store {
        self.register(uid, &[], &["*"]).await;
        self.unregistered_agent(uid).await
    }

    /// An agent identity with no `agents/{uid}` document yet.
    pub async fn unregistered_agent(&self, uid: &str) -> Store {
        self.user(uid, &agent_claims()).await
    }

    /// Writes `agents/{uid}` as admin: online now, offering `capabilities`
    /// and handling `handles` (`*`: every type), beating every second.
    pub async fn register(&self, uid: &str, capabilities: &[&str], handles: &[&str]) {
        let doc = agent_doc(uid, capabilities, handles);
        let w = raw_write(
            &self.admin,
            &layout::agent_doc(uid),
            &doc,
            &["last_heartbeat"],
            Precondition::None,
        );
        self.admin.commit(vec![w]).await.expect("admin writes");
    }

    /// A person who creates and controls tasks: role `operator`.
    pub async fn human(&self, uid: &str) -> Store {
        self.user(uid, &person_claims(Some("operator"))).await
    }

    /// A person who may only read: role `viewer`.
    pub async fn viewer(&self, uid: &str) -> Store {
        self.user(uid, &person_claims(Some("viewer"))).await
    }

    /// Signed in for real, but with no role: not a member (any Google
    /// account can sign in to a Firebase project).
    pub async fn roleless(&self, uid: &str) -> Store {
        self.user(uid, &person_claims(None)).await
    }

    pub async fn human_with_role(&self, uid: &str, role: &str) -> Store {
        self.user(uid, &person_claims(Some(role))).await
    }

    /// A client that is not signed in at all (no Authorization header).
    pub async fn signed_out(&self) -> Store {
        Store::connect(&self.config(Some(SharedToken::none())))
            .await
            .unwrap_or_else(|e| panic!("connecting without a token works: {e}"))
    }

    /// A Firebase anonymous sign-in (a valid token, provider `anonymous`).
    pub async fn anonymous(&self) -> Store {
        let mut t = emulator_token(PROJECT, "anon-1", &Map::new());
        // Re-mint with the anonymous provider.
        let mut claims = vayu::auth::jwt_claims(&t).expect("an emulator token is a JWT");
        claims.insert(
            "firebase".into(),
            serde_json::json!({"sign_in_provider": "anonymous", "identities": {}}),
        );
        use base64::Engine as _;
        let b64 = |b: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b);
        t = format!(
            "{}.{}.",
            b64(br#"{"alg":"none","typ":"JWT"}"#),
            b64(&serde_json::to_vec(&claims).expect("claims serialize"))
        );
        self.with_token(&t).await
    }

    /// Prints how many cases this test checked.
    pub fn done(&self, test: &str) {
        println!(
            "rules cases checked so far in this process ({test}): {}",
            CASES.load(Ordering::SeqCst)
        );
    }

    // --- seeding, as admin -------------------------------------------

    /// Writes `task` as admin into the pile of its status (server times).
    /// `vayu …` against this database as the emulator's admin.
    pub fn vayu(&self, args: &[&str]) -> std::process::Output {
        std::process::Command::new(env!("CARGO_BIN_EXE_vayu"))
            .args(args)
            .env("FIRESTORE_EMULATOR_HOST", &self.host)
            .env("VAYU_DATABASE", &self.db)
            .env("VAYU_PROJECT", PROJECT)
            .env_remove("VAYU_TOKEN")
            .env_remove("VAYU_IDENTITY")
            .output()
            .expect("the vayu binary runs")
    }

    /// `vayu …` against this database as the emulator identity `uid`, an
    /// operator, under the rules.
    pub fn vayu_as(&self, uid: &str, args: &[&str]) -> std::process::Output {
        std::process::Command::new(env!("CARGO_BIN_EXE_vayu"))
            .args(args)
            .env("FIRESTORE_EMULATOR_HOST", &self.host)
            .env("VAYU_DATABASE", &self.db)
            .env("VAYU_PROJECT", PROJECT)
            .env_remove("FIREBASE_AUTH_EMULATOR_HOST")
            .env_remove("VAYU_TOKEN")
            .env("VAYU_IDENTITY", "emulator")
            .env("VAYU_UID", uid)
            .env("VAYU_ROLE", "operator")
            .output()
            .expect("the vayu binary runs")
    }

    pub async fn seed(&self, task: &Task) -> Versioned<Task> {
        let w = self
            .admin
            .task_write(task, Precondition::None, true)
            .expect("a task encodes");
        self.admin.commit(vec![w]).await.expect("admin writes");
        self.read(&task.task_id).await
    }

    pub async fn read(&self, id: &str) -> Versioned<Task> {
        self.admin
            .find_task(id)
            .await
            .expect("admin reads")
            .unwrap_or_else(|| panic!("task {id} exists"))
    }

    pub async fn exists_in(&self, pile: Pile, id: &str) -> bool {
        let docs = self
            .admin
            .batch_get(vec![self.admin.name(&pile.doc(id))])
            .await
            .expect("admin reads");
        docs.into_iter().next().flatten().is_some()
    }

    /// A queued task of alice's with `bad` fields written past the rules
    /// (as in the console), then quarantined by an agent as `vayu-agent`
    /// does it. The record's id.
    pub async fn quarantined(&self, bad: Value) -> String {
        let id = uuid::Uuid::new_v4().to_string();
        let path = Pile::Queued.doc(&id);
        let mut doc = task_json(&new_task("alice"));
        doc["task_id"] = Value::String(id.clone());
        for (k, v) in bad.as_object().expect("an object of fields") {
            doc[k] = v.clone();
        }
        let write = raw_write(&self.admin, &path, &doc, &[], Precondition::None);
        self.admin.commit(vec![write]).await.expect("admin writes");
        let read = self.admin.batch_get(vec![self.admin.name(&path)]);
        let found = read
            .await
            .expect("admin reads")
            .into_iter()
            .next()
            .flatten();
        self.agent("agent-1")
            .await
            .quarantine(
                &found.expect("the document exists"),
                "cannot read it",
                "agent-1",
            )
            .await
            .expect("an agent quarantines a malformed document");
        id
    }

    /// Whether `quarantine/{id}` exists.
    pub async fn record_exists(&self, id: &str) -> bool {
        let name = self.admin.name(&layout::quarantine_doc(id));
        let docs = self.admin.batch_get(vec![name]).await.expect("admin reads");
        docs.into_iter().next().flatten().is_some()
    }

    /// A queued task requested by `requester`.
    pub async fn queued(&self, requester: &str) -> Versioned<Task> {
        self.seed(&new_task(requester)).await
    }

    /// An executing task held by `agent` with epoch 1 and a lease that ends
    /// `lease_secs` from now (negative: already expired).
    pub async fn running(&self, requester: &str, agent: &str, lease_secs: i64) -> Versioned<Task> {
        let t = claimed_by(&new_task(requester), agent, 1);
        let mut t = t;
        t.lease.expires_at = Some(at(lease_secs));
        self.seed(&t).await
    }
}

/// `now + secs` (negative: in the past).
pub fn at(secs: i64) -> vayu::model::Time {
    if secs >= 0 {
        time_add(now(), Duration::from_secs(secs as u64))
    } else {
        let t = now();
        vayu::model::Time(
            t.0.checked_sub(jiff::SignedDuration::from_secs(-secs))
                .expect("a recent time minus seconds is a valid time"),
        )
    }
}

/// An agent document as `vayu-agent` writes it (without `last_heartbeat`,
/// which is the server's time).
pub fn agent_doc(uid: &str, capabilities: &[&str], handles: &[&str]) -> Value {
    serde_json::json!({
        "agent_id": uid, "status": "online", "capabilities": capabilities,
        "handles": handles, "concurrency": 4, "current_tasks": [],
        "cpu_usage": 1.0, "memory_usage": 10.0, "rss_mb": 20.0,
        "incarnation": "i-1", "hostname": "h", "version": "0.1.0",
        "completed_count": 0, "failed_count": 0, "heartbeat_ms": 1000,
    })
}

/// The quota write that pays for new task `task_id` in the same commit,
/// as `Store::create_task` adds it for a signed-in caller.
pub fn pay(store: &Store, task_id: &str) -> pb::Write {
    let payer = store.payer().expect("a signed-in caller pays");
    vayu::quota::write(store, &payer, vayu::quota::minute(now()), task_id)
        .expect("a quota write encodes")
}

/// Commits `writes` with the quota write that pays for new task
/// `task_id`. The window is named by the minute the client reads on its
/// own clock, so a commit that lands in the next minute is refused for
/// that alone (seen once in CI); it is then made once more, in the new
/// minute, as `Store::create_task` does.
/// Creates `t` as `store` with the quota write a new task pays, and no
/// client-side check: the rules alone judge it.
pub async fn raw_create(store: &Store, t: &Task) -> Result<pb::CommitResponse> {
    let write = store.task_write(t, Precondition::Missing, true)?;
    commit_paying(store, &t.task_id, vec![write]).await
}

pub async fn commit_paying(
    store: &Store,
    task_id: &str,
    writes: Vec<pb::Write>,
) -> Result<pb::CommitResponse> {
    let before = vayu::quota::minute(now());
    let mut all = writes.clone();
    all.push(pay(store, task_id));
    match store.commit(all).await {
        Err(Error::PermissionDenied(_)) if vayu::quota::minute(now()) != before => {
            let mut again = writes;
            again.push(pay(store, task_id));
            store.commit(again).await
        }
        other => other,
    }
}

/// A new task as `vayu task create` makes it, requested by `requester`.
pub fn new_task(requester: &str) -> Task {
    let mut n = NewTask::new(TaskType::Research, Priority::Normal, "rules test");
    n.requester.id = requester.into();
    n.into_task()
}

/// What `vayu::agent`'s claim writes (src/agent/mod.rs `claim`): executing,
/// leased to `agent` for 30 s, the epoch raised to `epoch`.
pub fn claimed_by(seen: &Task, agent: &str, epoch: i64) -> Task {
    let t_now = now();
    let mut t = seen.clone();
    t.lease = Lease {
        owner: Some(agent.into()),
        expires_at: Some(time_add(t_now, Duration::from_secs(30))),
        epoch,
    };
    t.assignment.primary_agent = Some(agent.into());
    t.assignment.add_executor(agent);
    t.assignment.assigned_at = Some(t_now);
    t.assignment.assignment_method = Some(AssignmentMethod::Claimed);
    t.execution.started_at = Some(t_now);
    t.execution.attempt = seen.metadata.retry_count + 1;
    t.not_before = None;
    t.status = Status::Executing;
    t.record(Status::Assigned, t_now, Some(agent), None);
    t.record(Status::Executing, t_now, Some(agent), None);
    t
}

/// The agent's claim of `seen`, through `Store::replace_task`.
pub async fn claim(store: &Store, seen: &Versioned<Task>, agent: &str) -> Result<Versioned<Task>> {
    let t = claimed_by(&seen.value, agent, seen.value.lease.epoch + 1);
    store
        .replace_task(seen, &t, &[Status::Assigned, Status::Executing], vec![])
        .await
}

/// Writes `new` over `seen` like `Store::replace_task`, but without its
/// client-side state-machine check, so the rules alone judge the change.
pub async fn raw_replace(
    store: &Store,
    seen: &Versioned<Task>,
    new: &Task,
    extra: Vec<pb::Write>,
) -> Result<pb::CommitResponse> {
    let to = Pile::of(new.status);
    let mut writes = Vec::new();
    if to == seen.pile {
        writes.push(store.task_write(new, Precondition::UpdatedAt(seen.update_time), false)?);
    } else {
        writes.push(store.delete_write(seen.pile, &new.task_id, seen.update_time));
        writes.push(store.task_write(new, Precondition::Missing, false)?);
    }
    writes.extend(extra);
    store.commit(writes).await
}

/// A raw document write (JSON fields) at `rel`, with optional server-time
/// fields, as a hostile or buggy client could send it.
pub fn raw_write(
    store: &Store,
    rel: &str,
    fields: &Value,
    server_times: &[&str],
    precondition: Precondition,
) -> pb::Write {
    let doc = store
        .encode(rel, fields)
        .expect("JSON encodes as a document");
    pb::Write {
        operation: Some(pb::write::Operation::Update(doc)),
        update_transforms: server_times
            .iter()
            .map(|f| vayu::store::server_time(f))
            .collect(),
        current_document: precondition.into_pb(),
        ..Default::default()
    }
}

/// A log batch document write, as the runner makes it.
pub fn log_write(store: &Store, task_id: &str, epoch: i64, seq: u64, agent: &str) -> pb::Write {
    let doc = serde_json::json!({
        "task_id": task_id,
        "epoch": epoch,
        "agent_id": agent,
        "lines": ["hello from the handler"],
    });
    let mut w = raw_write(
        store,
        &layout::log_doc(task_id, epoch, seq),
        &doc,
        &[],
        Precondition::Missing,
    );
    // `at` as the runner writes it: a client timestamp.
    if let Some(pb::write::Operation::Update(d)) = &mut w.operation {
        d.fields.insert(
            "at".into(),
            pb::Value {
                value_type: Some(pb::value::ValueType::TimestampValue(vayu::store::pb_time(
                    now(),
                ))),
            },
        );
    }
    w
}

/// The task as JSON, for hand-made variants of it.
///
/// History entries lose their `at`: JSON has no timestamp type, so a raw
/// write would store it as a string, which the rules refuse in an entry
/// (`isHistoryEntry`) and the Rust client never writes.
pub fn task_json(t: &Task) -> Value {
    let mut v = serde_json::to_value(t).expect("a task serializes");
    if let Some(entries) = v["history"].as_array_mut() {
        for e in entries {
            if let Some(e) = e.as_object_mut() {
                e.remove("at");
            }
        }
    }
    v
}

/// Expects `fut` to succeed; counts the case.
pub async fn allowed<T, F>(case: &str, fut: F) -> T
where
    F: Future<Output = Result<T>>,
{
    CASES.fetch_add(1, Ordering::SeqCst);
    match fut.await {
        Ok(v) => v,
        Err(e) => panic!("ALLOWED case '{case}' failed: {e}"),
    }
}

/// Expects `fut` to be refused by the security rules (PERMISSION_DENIED /
/// UNAUTHENTICATED); any other outcome fails the test. Counts the case.
pub async fn denied<T: std::fmt::Debug, F>(case: &str, fut: F)
where
    F: Future<Output = Result<T>>,
{
    CASES.fetch_add(1, Ordering::SeqCst);
    match fut.await {
        Err(Error::PermissionDenied(_)) => {}
        Err(e) => panic!("DENIED case '{case}': expected a permission error, got: {e}"),
        Ok(v) => panic!("DENIED case '{case}' was allowed: {v:?}"),
    }
}

/// Expects `fut` to fail because of the rules or a precondition (a fenced
/// writer may see either, whichever Firestore checks first).
pub async fn refused<T: std::fmt::Debug, F>(case: &str, fut: F) -> Error
where
    F: Future<Output = Result<T>>,
{
    CASES.fetch_add(1, Ordering::SeqCst);
    match fut.await {
        Err(e @ (Error::PermissionDenied(_) | Error::Conflict(_))) => e,
        Err(e) => panic!("REFUSED case '{case}': expected a refusal, got: {e}"),
        Ok(v) => panic!("REFUSED case '{case}' was allowed: {v:?}"),
    }
}

/// Deletes the document `v` was read from, alone (not as part of a move).
pub async fn delete_alone(store: &Store, v: &Versioned<Task>) -> Result<pb::CommitResponse> {
    store
        .commit(vec![store.delete_write(
            v.pile,
            &v.value.task_id,
            v.update_time,
        )])
        .await
}

/// Writes `{"x": 1}` at `rel`, unconditionally.
pub async fn scribble(store: &Store, rel: &str) -> Result<pb::CommitResponse> {
    let w = raw_write(
        store,
        rel,
        &serde_json::json!({"x": 1}),
        &[],
        Precondition::None,
    );
    store.commit(vec![w]).await
}

/// Expects `fut` to be refused for a bad credential: the rules' permission
/// error, or the emulator's INVALID_ARGUMENT "invalid jwt" for a token that
/// is not a JWT (production says UNAUTHENTICATED). Counts the case.
pub async fn rejected<T: std::fmt::Debug, F>(case: &str, fut: F)
where
    F: Future<Output = Result<T>>,
{
    CASES.fetch_add(1, Ordering::SeqCst);
    match fut.await {
        Err(Error::PermissionDenied(_)) => {}
        Err(Error::Firestore(m)) if m.contains("InvalidArgument") && m.contains("jwt") => {}
        Err(e) => panic!("REJECTED case '{case}': expected a refusal of the credential, got: {e}"),
        Ok(v) => panic!("REJECTED case '{case}' was allowed: {v:?}"),
    }
}

/// Starts an in-process agent signed in as `id` (agent claim) through
/// `vayu::identity`, the way `vayu-agent` does with
/// `VAYU_AGENT_IDENTITY=emulator`.
pub async fn start_agent(
    w: &World,
    cfg: vayu::agent::AgentConfig,
    stop: &tokio::sync::watch::Receiver<bool>,
) -> tokio::task::JoinHandle<vayu::Result<vayu::agent::AgentReport>> {
    let signed = vayu::identity::sign_in(vayu::identity::Source::Emulator {
        project: PROJECT.into(),
        uid: cfg.agent_id.clone(),
        claims: vayu::identity::agent_claims(),
    })
    .await
    .expect("an emulator identity needs no network");
    assert_eq!(signed.uid.as_deref(), Some(cfg.agent_id.as_str()));
    let store = Store::connect(&w.config(Some(signed.token.clone())))
        .await
        .expect("the emulator is up");
    let mut stop = stop.clone();
    tokio::spawn(async move {
        // Keeps the identity (and its refresher) alive for the agent's life.
        let _signed = signed;
        vayu::agent::run(store, cfg, async move {
            let _ = stop.wait_for(|s| *s).await;
        })
        .await
    })
}
