//! In-process agents, waiting on task documents, and writing documents by
//! hand (as a person in the Firebase console would).

use firestore::gcloud_sdk::google::firestore::v1 as pb;
use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;
use tokio::time::Instant;
use vayu::agent::{self, AgentConfig, AgentReport, Handlers};
use vayu::layout::Pile;
use vayu::model::{Task, millis_between};
use vayu::retry::Backoff;
use vayu::store::{Store, StoreConfig, Versioned};

/// A fleet of in-process agents (`vayu::agent::run`) that stop together.
pub struct Fleet {
    stop: tokio::sync::watch::Sender<bool>,
    agents: Vec<tokio::task::JoinHandle<vayu::Result<AgentReport>>>,
}

impl Fleet {
    /// Connects every agent first, then starts them all at once, so they
    /// begin at the same moment.
    pub async fn start(cfg: &StoreConfig, configs: Vec<AgentConfig>) -> Fleet {
        Self::start_counted(cfg, configs, None).await
    }

    /// [`Fleet::start`], with every agent's operations counted in
    /// `counters` when given.
    pub async fn start_counted(
        cfg: &StoreConfig,
        configs: Vec<AgentConfig>,
        counters: Option<std::sync::Arc<vayu::metrics::OpCounters>>,
    ) -> Fleet {
        trace_from_env();
        let (stop, rx) = tokio::sync::watch::channel(false);
        let mut stores = Vec::new();
        for _ in &configs {
            let counters = counters.clone().unwrap_or_default();
            stores.push(
                Store::connect_with_counters(cfg, counters)
                    .await
                    .unwrap_or_else(|e| panic!("the emulator is up, so connecting works: {e}")),
            );
        }
        let agents = configs
            .into_iter()
            .zip(stores)
            .map(|(c, store)| {
                let mut rx = rx.clone();
                tokio::spawn(agent::run(store, c, async move {
                    let _ = rx.wait_for(|s| *s).await;
                }))
            })
            .collect();
        Fleet { stop, agents }
    }

    /// Whether no agent has returned (an agent returns only when told to
    /// stop, or on a fatal error).
    pub fn all_running(&self) -> bool {
        self.agents.iter().all(|a| !a.is_finished())
    }

    /// Stops every agent gracefully and returns their reports.
    pub async fn stop(self) -> Vec<AgentReport> {
        let _ = self.stop.send(true);
        let mut out = Vec::new();
        for a in self.agents {
            out.push(
                a.await
                    .unwrap_or_else(|e| panic!("an agent task panicked: {e}"))
                    .unwrap_or_else(|e| panic!("an agent failed: {e}")),
            );
        }
        out
    }
}

/// A handler set with one default shell command.
pub fn shell(cmd: &str) -> Handlers {
    Handlers {
        default: Some(cmd.to_string()),
        ..Handlers::default()
    }
}

/// A normal research task: what a test of the agent loop needs when the
/// task's kind does not matter.
pub fn research_task(title: &str) -> vayu::tasks::NewTask {
    use vayu::model::{Priority, TaskType};
    vayu::tasks::NewTask::new(TaskType::Research, Priority::Normal, title)
}

/// An in-process agent with short timings: heartbeat 0.5 s, lease 2 s,
/// grace 2 s, retry backoff from 100 ms.
pub fn fast_agent(id: &str, handlers: Handlers) -> AgentConfig {
    let mut c = AgentConfig::new(id, handlers);
    c.concurrency = 4;
    c.heartbeat = Duration::from_millis(500);
    c.lease = Duration::from_secs(2);
    c.grace = Duration::from_secs(2);
    c.sweep_every = Duration::from_secs(1);
    c.retry_backoff = Backoff {
        base: Duration::from_millis(100),
        cap: Duration::from_secs(2),
    };
    c
}

/// A fresh database on the shared emulator, and a store connected to it.
pub async fn setup(prefix: &str) -> (StoreConfig, Store) {
    let emu = super::emulator().await;
    let cfg = StoreConfig::emulator(emu.host(), super::unique_db_id(prefix));
    let store = Store::connect(&cfg)
        .await
        .unwrap_or_else(|e| panic!("the emulator is up, so connecting works: {e}"));
    warm_up(&store).await;
    (cfg, store)
}

/// Waits (up to 60 s) until the database answers a query. A fresh database
/// in a JVM that has just started, on a loaded 2-core machine, can take
/// longer than one request timeout to answer its first request; tests
/// should measure the system, not the emulator's cold start.
pub async fn warm_up(store: &Store) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        match store.list_pile(Pile::Queued, None, Some(1)).await {
            Ok(_) => return,
            Err(e) if Instant::now() > deadline => {
                panic!("the emulator did not answer within 60 s: {e}")
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    }
}

/// Polls the task every 50 ms until `pred` holds; panics after `limit` with
/// what it last saw.
pub async fn wait_task(
    store: &Store,
    id: &str,
    limit: Duration,
    what: &str,
    pred: impl Fn(&Versioned<Task>) -> bool,
) -> Versioned<Task> {
    let deadline = Instant::now() + limit;
    loop {
        let last = match store.find_task(id).await {
            Ok(Some(v)) if pred(&v) => return v,
            Ok(Some(v)) => describe(&v),
            Ok(None) => "in no pile".to_string(),
            Err(e) => format!("read failed: {e}"),
        };
        if Instant::now() > deadline {
            panic!("task {id} was not {what} within {limit:?}; last seen: {last}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Creates a task with `input` and `max_retries`; its id.
pub async fn create_with_input(
    store: &Store,
    task_type: vayu::model::TaskType,
    title: &str,
    input: &str,
    max_retries: i64,
) -> String {
    let mut new = vayu::tasks::NewTask::new(task_type, vayu::model::Priority::Normal, title);
    new.input = input.into();
    new.max_retries = Some(max_retries);
    vayu::tasks::create(store, new)
        .await
        .unwrap_or_else(|e| panic!("creating {title}: {e}"))
        .task_id
}

/// [`wait_task`] until the task has ended, however it ended.
pub async fn wait_ended(store: &Store, id: &str, limit: Duration) -> Task {
    wait_task(store, id, limit, "ended", |v| v.value.status.is_terminal())
        .await
        .value
}

/// [`wait_task`] until the task is completed.
pub async fn wait_completed(store: &Store, id: &str, limit: Duration) -> Versioned<Task> {
    wait_task(store, id, limit, "completed", |v| {
        v.value.status == vayu::lifecycle::Status::Completed
    })
    .await
}

/// [`wait_task`] until the task reaches `status`; a task that ends
/// otherwise fails at once, with its history.
pub async fn wait_status(
    store: &Store,
    id: &str,
    status: vayu::lifecycle::Status,
    limit: Duration,
) -> Versioned<Task> {
    let what = format!("{status}");
    let v = wait_task(store, id, limit, &what, |v| {
        v.value.status == status || v.value.status.is_terminal()
    })
    .await;
    assert_eq!(
        v.value.status, status,
        "{id} ended otherwise: {:?}",
        v.value.history
    );
    v
}

/// The task as read now; panics if it is in no pile.
pub async fn read_task(store: &Store, id: &str) -> Versioned<Task> {
    store
        .find_task(id)
        .await
        .unwrap_or_else(|e| panic!("reading task {id} failed: {e}"))
        .unwrap_or_else(|| panic!("task {id} is in no pile"))
}

/// Number of documents (parsed or not) in `pile`.
pub async fn count(store: &Store, pile: Pile) -> usize {
    store
        .list_pile(pile, None, None)
        .await
        .unwrap_or_else(|e| panic!("listing the {pile} pile failed: {e}"))
        .len()
}

/// A task's state in a few lines, for failure messages.
pub fn describe(v: &Versioned<Task>) -> String {
    let t = &v.value;
    format!(
        "pile {} status {} lease {:?}/{:?}/epoch {} not_before {:?} control {:?} retry_count {}/{} \
         attempt {} result {:?} last_error {:?} checkpoints {:?}\n{}",
        v.pile,
        t.status,
        t.lease.owner,
        t.lease.expires_at.map(|e| e.0.to_string()),
        t.lease.epoch,
        t.not_before.map(|e| e.0.to_string()),
        t.control,
        t.metadata.retry_count,
        t.metadata.max_retries,
        t.execution.attempt,
        t.execution.result,
        t.execution.last_error,
        t.execution
            .checkpoints
            .iter()
            .map(|c| c.data.as_str())
            .collect::<Vec<_>>(),
        history(t)
    )
}

/// The task's history, one entry a line, with milliseconds since the first.
pub fn history(t: &Task) -> String {
    let t0 = t.history.first().and_then(|h| h.at);
    t.history
        .iter()
        .map(|h| {
            let ms = match (t0, h.at) {
                (Some(a), Some(b)) => millis_between(a, b),
                _ => -1,
            };
            format!(
                "  +{ms:>6} ms  {:<10} epoch {:<3} agent {:<14} {}",
                h.status.map(|s| s.to_string()).unwrap_or_default(),
                h.epoch,
                h.agent.as_deref().unwrap_or("-"),
                h.note.as_deref().unwrap_or("")
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Waits up to `limit` for `path` to exist with a complete first line;
/// returns its contents.
pub async fn wait_file(path: &Path, limit: Duration) -> String {
    let deadline = Instant::now() + limit;
    loop {
        if let Ok(s) = std::fs::read_to_string(path)
            && s.contains('\n')
        {
            return s;
        }
        if Instant::now() > deadline {
            panic!("{} did not appear within {limit:?}", path.display());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The file's lines (none if it does not exist).
pub fn lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}

/// The pids written one a line into `path`.
pub fn pids(path: &Path) -> Vec<u32> {
    lines(path)
        .iter()
        .map(|l| {
            l.trim()
                .parse()
                .unwrap_or_else(|e| panic!("{} holds pids, not {l:?}: {e}", path.display()))
        })
        .collect()
}

pub fn string_value(v: &str) -> pb::Value {
    pb::Value {
        value_type: Some(pb::value::ValueType::StringValue(v.into())),
    }
}

pub fn int_value(v: i64) -> pb::Value {
    pb::Value {
        value_type: Some(pb::value::ValueType::IntegerValue(v)),
    }
}

pub fn map_value(fields: HashMap<String, pb::Value>) -> pb::Value {
    pb::Value {
        value_type: Some(pb::value::ValueType::MapValue(pb::MapValue { fields })),
    }
}

/// Writes a document at `rel` (relative to the documents root) with
/// exactly `fields`, as an admin, bypassing every check vayu makes.
pub async fn put_raw(store: &Store, rel: &str, fields: HashMap<String, pb::Value>) {
    let doc = pb::Document {
        name: store.name(rel),
        fields,
        ..Default::default()
    };
    store
        .commit(vec![pb::Write {
            operation: Some(pb::write::Operation::Update(doc)),
            ..Default::default()
        }])
        .await
        .unwrap_or_else(|e| panic!("an admin write to {rel} failed: {e}"));
}

/// Reads the raw document at `rel`, if it exists.
pub async fn get_raw(store: &Store, rel: &str) -> Option<pb::Document> {
    store
        .batch_get(vec![store.name(rel)])
        .await
        .unwrap_or_else(|e| panic!("reading {rel} failed: {e}"))
        .into_iter()
        .next()
        .flatten()
}

/// A string field of a raw document.
pub fn field_str<'a>(doc: &'a pb::Document, field: &str) -> Option<&'a str> {
    match doc.fields.get(field)?.value_type.as_ref()? {
        pb::value::ValueType::StringValue(s) => Some(s),
        _ => None,
    }
}

/// Prints the library's tracing for in-process agents when
/// `VAYU_TEST_LOG` is set (a filter such as `vayu=debug`).
pub fn trace_from_env() {
    if let Ok(filter) = std::env::var("VAYU_TEST_LOG") {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
            .with_test_writer()
            .try_init();
    }
}

/// A handler that appends the task id to `dir/runs.txt`: one line per run,
/// so a test counts executions.
pub fn recording_handler(dir: &Path) -> Handlers {
    shell(&format!(
        "echo \"$VAYU_TASK_ID\" >> {}/runs.txt",
        dir.display()
    ))
}

/// The task ids `recording_handler` recorded, one per run.
pub fn runs(dir: &Path) -> Vec<String> {
    lines(&dir.join("runs.txt"))
}

/// An in-process agent for throughput tests: 8 slots, 1 s heartbeat, 10 s lease.
pub fn busy_agent(id: &str, handlers: Handlers) -> AgentConfig {
    let mut c = AgentConfig::new(id, handlers);
    c.concurrency = 8;
    c.heartbeat = Duration::from_secs(1);
    c.lease = Duration::from_secs(10);
    c
}

/// Polls until `n` tasks are in the completed pile or `limit` passed;
/// returns how many are.
pub async fn wait_until_completed(store: &Store, n: usize, limit: Duration) -> usize {
    let deadline = Instant::now() + limit;
    loop {
        let done = count(store, Pile::Completed).await;
        if done >= n || Instant::now() > deadline {
            return done;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Waits until every agent in `ids` has registered and is online (or
/// busy). A test about what a running fleet does starts it first; a fleet
/// still splitting its lanes while tasks arrive is its own question.
pub async fn wait_agents_online(store: &Store, ids: &[&str], limit: Duration) {
    let deadline = Instant::now() + limit;
    loop {
        let agents = store.list_agents().await.unwrap_or_default();
        let up = |id: &&str| {
            agents.iter().any(|a| {
                a.agent_id == *id
                    && matches!(
                        a.status,
                        Some(vayu::model::AgentState::Online | vayu::model::AgentState::Busy)
                    )
            })
        };
        if ids.iter().all(up) {
            return;
        }
        if Instant::now() > deadline {
            panic!("agents {ids:?} were not all online within {limit:?}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
