//! Black-box tests of `vayu::listen` against the real Firestore emulator.
//!
//! The ordinary tests share the process-wide emulator (each in its own
//! database); the chaos tests freeze, kill and restart the JVM, so each starts
//! an emulator of its own.

mod common;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use firestore::FirestoreDb;
use firestore::gcloud_sdk::google::firestore::v1 as pb;
use pb::structured_query::{self as sq};
use tokio::sync::mpsc;
use tokio::time::Instant;
use vayu::listen::{ListenEvent, ListenOptions, Listener, QuerySpec};
use vayu::metrics::OpCounters;
use vayu::store::{Store, StoreConfig};
use vayu_emulator::{Emulator, EmulatorOptions};

/// Generous bound on any single wait: the emulator answers in milliseconds,
/// but a loaded 2-core CI box running many JVMs can stall for seconds.
const WAIT: Duration = Duration::from_secs(20);

/// How long "nothing else arrives" is watched for.
const QUIET: Duration = Duration::from_millis(500);

/// Shows the listener's logs when a test runs with `RUST_LOG` set.
fn init_tracing() {
    // Another test of this binary may have installed it already; fine.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
}

/// An admin connection to database `db_id` of the emulator at `host`.
async fn connect(host: &str, db_id: &str) -> FirestoreDb {
    init_tracing();
    let store = Store::connect(&StoreConfig::emulator(host, db_id))
        .await
        .expect("the test emulator is running, so connecting succeeds");
    store.db().clone()
}

/// The parent of the listened collection, `.../documents/tasks/queued`.
fn parent(db: &FirestoreDb) -> String {
    format!("{}/tasks/queued", db.get_documents_path())
}

/// The full name of document `id` of the listened collection.
fn doc_name(db: &FirestoreDb, id: &str) -> String {
    format!("{}/items/{id}", parent(db))
}

fn spec(db: &FirestoreDb, filter: Option<sq::Filter>) -> QuerySpec {
    QuerySpec {
        parent: parent(db),
        collection_id: "items".to_string(),
        filter,
        order_by: vec![],
        limit: None,
    }
}

/// `status == "queued"`.
fn queued_filter() -> sq::Filter {
    sq::Filter {
        filter_type: Some(sq::filter::FilterType::FieldFilter(sq::FieldFilter {
            field: Some(sq::FieldReference {
                field_path: "status".to_string(),
            }),
            op: sq::field_filter::Operator::Equal as i32,
            value: Some(string_value("queued")),
        })),
    }
}

fn string_value(s: &str) -> pb::Value {
    pb::Value {
        value_type: Some(pb::value::ValueType::StringValue(s.to_string())),
    }
}

/// Creates or overwrites document `id` with `{status}` in one commit.
async fn put(db: &FirestoreDb, id: &str, status: &str) {
    let document = pb::Document {
        name: doc_name(db, id),
        fields: [("status".to_string(), string_value(status))].into(),
        ..Default::default()
    };
    commit(db, pb::write::Operation::Update(document)).await;
}

async fn delete(db: &FirestoreDb, id: &str) {
    commit(db, pb::write::Operation::Delete(doc_name(db, id))).await;
}

async fn commit(db: &FirestoreDb, operation: pb::write::Operation) {
    let request = pb::CommitRequest {
        database: db.get_database_path().clone(),
        writes: vec![pb::Write {
            operation: Some(operation),
            ..Default::default()
        }],
        ..Default::default()
    };
    tokio::time::timeout(WAIT, db.client().get().commit(request))
        .await
        .expect("a commit to a running emulator answers in time")
        .expect("the emulator accepts a plain admin write");
}

/// Timestamps every event as it arrives, independently of what the test is
/// awaiting at that moment (needed for honest latency numbers).
struct Events {
    rx: mpsc::UnboundedReceiver<(Instant, ListenEvent)>,
}

impl Events {
    fn new(mut events: mpsc::Receiver<ListenEvent>) -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            while let Some(event) = events.recv().await {
                if tx.send((Instant::now(), event)).is_err() {
                    break;
                }
            }
        });
        Events { rx }
    }

    /// The next event, failing the test if none comes within `WAIT`.
    async fn next(&mut self) -> (Instant, ListenEvent) {
        tokio::time::timeout(WAIT, self.rx.recv())
            .await
            .expect("an event arrives within the wait")
            .expect("the listener keeps its channel open")
    }

    async fn next_event(&mut self) -> ListenEvent {
        self.next().await.1
    }

    /// Expects `Reset`, then upserts of exactly `names` in any order, then `Current`.
    async fn expect_snapshot(&mut self, names: &[String]) {
        assert_eq!(self.next_event().await, ListenEvent::Reset);
        let mut seen = BTreeSet::new();
        loop {
            match self.next_event().await {
                ListenEvent::Upsert(document) => {
                    assert!(
                        seen.insert(document.name.clone()),
                        "{} twice",
                        document.name
                    );
                }
                ListenEvent::Current => break,
                other => panic!("unexpected {other:?} in the initial snapshot"),
            }
        }
        let expected: BTreeSet<String> = names.iter().cloned().collect();
        assert_eq!(seen, expected);
    }

    /// Expects the next event to be an upsert of `name`, and returns when it came.
    async fn expect_upsert(&mut self, name: &str) -> Instant {
        match self.next().await {
            (at, ListenEvent::Upsert(document)) if document.name == name => at,
            (_, other) => panic!("expected an upsert of {name}, got {other:?}"),
        }
    }

    async fn expect_quiet(&mut self) {
        if let Ok(Some((_, event))) = tokio::time::timeout(QUIET, self.rx.recv()).await {
            panic!("expected no event, got {event:?}");
        }
    }
}

fn reads(counters: &OpCounters) -> u64 {
    counters.listener_reads.load(Ordering::Relaxed)
}

fn removals(counters: &OpCounters) -> u64 {
    counters.listener_removals.load(Ordering::Relaxed)
}

#[tokio::test]
async fn delivers_documents_from_before_and_after_the_start() {
    let emulator = common::emulator().await;
    let db = connect(emulator.host(), &common::unique_db_id("listen-basic")).await;
    put(&db, "a1", "queued").await;
    put(&db, "a2", "queued").await;

    let counters = Arc::new(OpCounters::default());
    let (listener, rx) = Listener::spawn(db.clone(), spec(&db, None), counters.clone(), 16);
    let mut events = Events::new(rx);
    events
        .expect_snapshot(&[doc_name(&db, "a1"), doc_name(&db, "a2")])
        .await;
    assert!(listener.connected(), "current after the initial snapshot");

    put(&db, "a3", "queued").await;
    events.expect_upsert(&doc_name(&db, "a3")).await;
    // The emulator re-sends the whole result set on every write; the
    // unchanged a1 and a2 must not be delivered again.
    events.expect_quiet().await;

    put(&db, "a1", "queued-again").await;
    events.expect_upsert(&doc_name(&db, "a1")).await;
    events.expect_quiet().await;

    assert_eq!(reads(&counters), 4, "a1, a2, a3, then a1 changed");
    assert_eq!(removals(&counters), 0);
    listener.shutdown().await;
}

#[tokio::test]
async fn a_delete_is_delivered_as_removed() {
    let emulator = common::emulator().await;
    let db = connect(emulator.host(), &common::unique_db_id("listen-delete")).await;
    put(&db, "d1", "queued").await;
    put(&db, "d2", "queued").await;

    let counters = Arc::new(OpCounters::default());
    let (listener, rx) = Listener::spawn(db.clone(), spec(&db, None), counters.clone(), 16);
    let mut events = Events::new(rx);
    events
        .expect_snapshot(&[doc_name(&db, "d1"), doc_name(&db, "d2")])
        .await;

    delete(&db, "d1").await;
    assert_eq!(
        events.next_event().await,
        ListenEvent::Removed(doc_name(&db, "d1"))
    );
    events.expect_quiet().await;
    assert_eq!((reads(&counters), removals(&counters)), (2, 1));
    listener.shutdown().await;
}

#[tokio::test]
async fn a_document_that_stops_matching_is_removed() {
    let emulator = common::emulator().await;
    let db = connect(emulator.host(), &common::unique_db_id("listen-filter")).await;
    put(&db, "q1", "queued").await;
    put(&db, "x1", "assigned").await;

    let counters = Arc::new(OpCounters::default());
    let filter = Some(queued_filter());
    let (listener, rx) = Listener::spawn(db.clone(), spec(&db, filter), counters.clone(), 16);
    let mut events = Events::new(rx);
    events.expect_snapshot(&[doc_name(&db, "q1")]).await;

    put(&db, "q1", "assigned").await;
    assert_eq!(
        events.next_event().await,
        ListenEvent::Removed(doc_name(&db, "q1"))
    );
    put(&db, "x1", "queued").await;
    events.expect_upsert(&doc_name(&db, "x1")).await;
    events.expect_quiet().await;

    assert_eq!((reads(&counters), removals(&counters)), (2, 1));
    listener.shutdown().await;
}

#[tokio::test]
async fn counters_match_the_events_delivered() {
    let emulator = common::emulator().await;
    let db = connect(emulator.host(), &common::unique_db_id("listen-count")).await;
    for i in 0..5 {
        put(&db, &format!("c{i}"), "queued").await;
    }
    let counters = Arc::new(OpCounters::default());
    // A channel of one event: the listener must wait for the consumer, not
    // drop or miscount anything.
    let (listener, rx) = Listener::spawn(db.clone(), spec(&db, None), counters.clone(), 1);
    let mut events = Events::new(rx);
    let initial: Vec<String> = (0..5).map(|i| doc_name(&db, &format!("c{i}"))).collect();
    events.expect_snapshot(&initial).await;
    for i in 5..10 {
        put(&db, &format!("c{i}"), "queued").await;
    }
    for i in 0..3 {
        delete(&db, &format!("c{i}")).await;
    }
    let (mut upserts, mut removed) = (5u64, 0u64);
    while upserts < 10 || removed < 3 {
        match events.next_event().await {
            ListenEvent::Upsert(_) => upserts += 1,
            ListenEvent::Removed(_) => removed += 1,
            other => panic!("unexpected {other:?}"),
        }
    }
    events.expect_quiet().await;
    assert_eq!((upserts, removed), (10, 3));
    assert_eq!((reads(&counters), removals(&counters)), (10, 3));
    listener.shutdown().await;
}

#[tokio::test]
async fn commit_to_event_latency() {
    let emulator = common::emulator().await;
    let db = connect(emulator.host(), &common::unique_db_id("listen-latency")).await;
    let counters = Arc::new(OpCounters::default());
    let (listener, rx) = Listener::spawn(db.clone(), spec(&db, None), counters, 16);
    let mut events = Events::new(rx);
    events.expect_snapshot(&[]).await;

    // Since the commit was sent, and since its acknowledgement arrived
    // (negative when the event overtakes the acknowledgement).
    let mut from_send = Vec::new();
    let mut from_ack = Vec::new();
    for i in 0..20 {
        let sent = Instant::now();
        put(&db, &format!("l{i}"), "queued").await;
        let acked = Instant::now();
        let arrived = events.expect_upsert(&doc_name(&db, &format!("l{i}"))).await;
        from_send.push(arrived.duration_since(sent).as_secs_f64() * 1e3);
        let ack_ms = if arrived >= acked {
            arrived.duration_since(acked).as_secs_f64() * 1e3
        } else {
            -(acked.duration_since(arrived).as_secs_f64() * 1e3)
        };
        from_ack.push(ack_ms);
    }
    let summary = |samples: &mut Vec<f64>| {
        samples.sort_by(f64::total_cmp);
        format!(
            "min {:.1} ms, median {:.1} ms, max {:.1} ms",
            samples[0],
            samples[samples.len() / 2],
            samples[samples.len() - 1]
        )
    };
    println!(
        "commit→Upsert latency over 20 new documents: from send: {}; from commit ack: {}",
        summary(&mut from_send),
        summary(&mut from_ack)
    );
    listener.shutdown().await;
}

#[tokio::test]
async fn dropping_the_receiver_stops_the_listener() {
    let emulator = common::emulator().await;
    let db = connect(emulator.host(), &common::unique_db_id("listen-drop")).await;
    let counters = Arc::new(OpCounters::default());
    let (listener, rx) = Listener::spawn(db.clone(), spec(&db, None), counters, 4);
    drop(rx);
    let deadline = Instant::now() + WAIT;
    while !listener.is_finished() {
        assert!(
            Instant::now() < deadline,
            "the listener outlived its receiver"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Sends `signal` (`STOP` or `CONT`) to the emulator's JVM.
fn signal(emulator: &Emulator, signal: &str) {
    let pid = emulator
        .java_pid()
        .expect("a started emulator knows its JVM's pid");
    let status = std::process::Command::new("kill")
        .arg(format!("-{signal}"))
        .arg(pid.to_string())
        .status()
        .expect("`kill` is available on any Unix");
    assert!(status.success(), "kill -{signal} {pid} failed");
}

/// Polls `connected()` until it equals `want`.
async fn wait_connected(listener: &Listener, want: bool) {
    let deadline = Instant::now() + WAIT;
    while listener.connected() != want {
        assert!(Instant::now() < deadline, "connected() never became {want}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn survives_a_frozen_emulator() {
    let emulator = Emulator::start(EmulatorOptions::default())
        .await
        .expect("the Firestore emulator is installed");
    let db = connect(emulator.host(), "listen-freeze").await;
    put(&db, "f1", "queued").await;
    let counters = Arc::new(OpCounters::default());
    let (listener, rx) = Listener::spawn(db.clone(), spec(&db, None), counters, 16);
    let mut events = Events::new(rx);
    events.expect_snapshot(&[doc_name(&db, "f1")]).await;

    signal(&emulator, "STOP");
    tokio::time::sleep(Duration::from_secs(3)).await;
    signal(&emulator, "CONT");

    put(&db, "f2", "queued").await;
    let deadline = Instant::now() + WAIT;
    // The stream normally survives a short freeze (TCP holds the bytes); had
    // it been replaced, a Reset and the full set would come first.
    let wanted = doc_name(&db, "f2");
    loop {
        assert!(Instant::now() < deadline, "f2 never arrived");
        match events.next_event().await {
            ListenEvent::Upsert(document) if document.name == wanted => break,
            _ => {}
        }
    }
    assert!(listener.connected());
    listener.shutdown().await;
    emulator.stop().await;
}

#[tokio::test]
async fn connects_once_a_frozen_emulator_resumes() {
    let emulator = Emulator::start(EmulatorOptions::default())
        .await
        .expect("the Firestore emulator is installed");
    let db = connect(emulator.host(), "listen-frozen-start").await;
    put(&db, "g1", "queued").await;

    signal(&emulator, "STOP");
    let options = ListenOptions {
        open_timeout: Duration::from_secs(1),
        ..ListenOptions::default()
    };
    let counters = Arc::new(OpCounters::default());
    let (listener, rx) =
        Listener::spawn_with(db.clone(), spec(&db, None), counters.clone(), 16, options);
    let mut events = Events::new(rx);
    // Several opening attempts time out meanwhile, without a busy loop.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(!listener.connected());
    signal(&emulator, "CONT");

    events.expect_snapshot(&[doc_name(&db, "g1")]).await;
    assert!(listener.connected());
    assert_eq!(reads(&counters), 1);
    listener.shutdown().await;
    emulator.stop().await;
}

#[tokio::test]
async fn reconnects_after_the_emulator_restarts() {
    let emulator = Emulator::start(EmulatorOptions::default())
        .await
        .expect("the Firestore emulator is installed");
    let port = emulator.port();
    let db = connect(emulator.host(), "listen-restart").await;
    put(&db, "r1", "queued").await;
    let counters = Arc::new(OpCounters::default());
    let (listener, rx) = Listener::spawn(db.clone(), spec(&db, None), counters.clone(), 16);
    let mut events = Events::new(rx);
    events.expect_snapshot(&[doc_name(&db, "r1")]).await;

    emulator.stop().await;
    wait_connected(&listener, false).await;
    // Backoff while the server is gone: a few seconds of failed attempts.
    tokio::time::sleep(Duration::from_secs(2)).await;

    // The new emulator is empty: the old documents are gone with it.
    let emulator = Emulator::start(EmulatorOptions {
        port: Some(port),
        ..EmulatorOptions::default()
    })
    .await
    .expect("the emulator restarts on the port it had");
    put(&db, "r2", "queued").await;
    // The listener may reconnect before or after r2 is written, and more than
    // once while the new JVM settles; each stream starts with a Reset. Wait
    // for a stream whose snapshot is current and includes r2.
    let wanted = doc_name(&db, "r2");
    let mut upserts = 1; // r1, before the restart
    let (mut seen_reset, mut seen_current, mut seen_r2) = (false, false, false);
    while !(seen_reset && seen_current && seen_r2) {
        match events.next_event().await {
            ListenEvent::Reset => {
                (seen_reset, seen_current, seen_r2) = (true, false, false);
            }
            ListenEvent::Upsert(document) => {
                upserts += 1;
                assert_eq!(document.name, wanted, "only r2 exists after the restart");
                seen_r2 = true;
            }
            ListenEvent::Current => seen_current = true,
            ListenEvent::Removed(name) => panic!("unexpected removal of {name}"),
        }
    }
    wait_connected(&listener, true).await;
    assert_eq!(reads(&counters), upserts, "one read per upsert delivered");
    listener.shutdown().await;
    emulator.stop().await;
}

/// A freeze longer than the transport's keepalive (60 s ping + 60 s timeout,
/// set by gcloud-sdk) kills the connection; the listener must notice, keep
/// retrying without spinning, and start over once the server is back.
/// Ignored by default: it takes about three minutes.
#[tokio::test]
#[ignore = "takes about three minutes"]
async fn a_long_freeze_is_detected_and_recovered() {
    let emulator = Emulator::start(EmulatorOptions::default())
        .await
        .expect("the Firestore emulator is installed");
    let db = connect(emulator.host(), "listen-long-freeze").await;
    put(&db, "h1", "queued").await;
    let counters = Arc::new(OpCounters::default());
    let (listener, rx) = Listener::spawn(db.clone(), spec(&db, None), counters, 16);
    let mut events = Events::new(rx);
    events.expect_snapshot(&[doc_name(&db, "h1")]).await;

    signal(&emulator, "STOP");
    let frozen = Instant::now();
    while listener.connected() {
        assert!(
            frozen.elapsed() < Duration::from_secs(180),
            "a dead connection went unnoticed"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    println!("frozen stream noticed after {:?}", frozen.elapsed());
    tokio::time::sleep(Duration::from_secs(5)).await;
    signal(&emulator, "CONT");
    let resumed = Instant::now();
    events.expect_snapshot(&[doc_name(&db, "h1")]).await;
    println!("resynchronised {:?} after the resume", resumed.elapsed());
    listener.shutdown().await;
    emulator.stop().await;
}
