//! Helpers of `tests/backup.rs`: a database of 5,000 tasks with logs and
//! one document of most other collections, every document of a database
//! read back, and two databases compared document by document.

use firestore::gcloud_sdk::google::firestore::v1 as pb;
use firestore::gcloud_sdk::google::r#type::LatLng;
use pb::value::ValueType as V;
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashMap};
use vayu::backup::Snapshot;
use vayu::layout::{self, Pile};
use vayu::lifecycle::Status;
use vayu::model::{Priority, Task, TaskType, now};
use vayu::store::{Store, StoreConfig};

pub type Fields = HashMap<String, pb::Value>;

pub async fn store_for(db: &str) -> Store {
    let emu = crate::common::emulator().await;
    let cfg = StoreConfig::emulator(emu.host(), db.to_string());
    Store::connect(&cfg).await.expect("the emulator is up")
}

/// Every document of the database, by path relative to the root.
pub async fn all_docs(store: &Store) -> BTreeMap<String, Fields> {
    let mut snap = Snapshot::new(store, None);
    let mut out = BTreeMap::new();
    while let Some(page) = snap.next_page().await.expect("a page reads") {
        for d in page {
            out.insert(snap.relative(&d).to_string(), d.fields);
        }
    }
    out
}

fn set(store: &Store, rel: &str, fields: Fields) -> pb::Write {
    pb::Write {
        operation: Some(pb::write::Operation::Update(pb::Document {
            name: store.name(rel),
            fields,
            ..Default::default()
        })),
        ..Default::default()
    }
}

pub fn set_json(store: &Store, rel: &str, v: &Value) -> pb::Write {
    let doc = store.encode(rel, v).expect("plain JSON encodes");
    set(store, rel, doc.fields)
}

fn val(t: V) -> pb::Value {
    pb::Value {
        value_type: Some(t),
    }
}

/// One document with every type of value Firestore stores.
fn every_type(store: &Store) -> Fields {
    let mut inner = Fields::new();
    inner.insert("deep".into(), val(V::IntegerValue(-1)));
    let t = pb_time(1_700_000_000, 123_456_789);
    Fields::from([
        ("null".into(), val(V::NullValue(0))),
        ("yes".into(), val(V::BooleanValue(true))),
        ("int".into(), val(V::IntegerValue(i64::MAX))),
        ("three".into(), val(V::DoubleValue(3.0))),
        ("tenth".into(), val(V::DoubleValue(0.1 + 0.2))),
        ("inf".into(), val(V::DoubleValue(f64::INFINITY))),
        ("at".into(), val(V::TimestampValue(t))),
        ("text".into(), val(V::StringValue("ü \"q\"\n".into()))),
        ("bytes".into(), val(V::BytesValue(vec![0, 255, 7]))),
        (
            "ref".into(),
            val(V::ReferenceValue(store.name("agents/a0"))),
        ),
        (
            "geo".into(),
            val(V::GeoPointValue(LatLng {
                latitude: 12.97,
                longitude: 77.59,
            })),
        ),
        (
            "list".into(),
            val(V::ArrayValue(pb::ArrayValue {
                values: vec![val(V::IntegerValue(1)), val(V::DoubleValue(1.0))],
            })),
        ),
        (
            "empty".into(),
            val(V::ArrayValue(pb::ArrayValue::default())),
        ),
        (
            "map".into(),
            val(V::MapValue(pb::MapValue { fields: inner })),
        ),
    ])
}

fn pb_time(seconds: i64, nanos: i32) -> firestore::gcloud_sdk::prost_types::Timestamp {
    firestore::gcloud_sdk::prost_types::Timestamp { seconds, nanos }
}

/// 5,000 tasks over the three piles, two log batches for every tenth,
/// agents with their metrics, and one document of most other collections.
pub async fn seed(store: &Store, tasks: usize) {
    const STATUSES: [Status; 8] = [
        Status::Queued,
        Status::Blocked,
        Status::Paused,
        Status::Executing,
        Status::Reviewing,
        Status::Completed,
        Status::Failed,
        Status::Cancelled,
    ];
    let mut writes = Vec::new();
    for i in 0..tasks {
        let mut t = Task::new(TaskType::Research, Priority::Normal, format!("task {i}"));
        t.status = STATUSES[i % STATUSES.len()];
        t.created_at = Some(now());
        t.record(t.status, now(), Some("a0"), Some(format!("seeded {i}")));
        let pile = Pile::of(t.status);
        writes.push(set_json(store, &pile.doc(&t.task_id), &json!(t)));
        if i % 10 == 0 {
            for seq in 1..=2 {
                let lines = json!({"task_id": t.task_id, "epoch": 1, "agent_id": "a0",
                    "lines": [format!("line {seq} of {i}"), "done"]});
                writes.push(set_json(
                    store,
                    &layout::log_doc(&t.task_id, 1, seq),
                    &lines,
                ));
            }
        }
    }
    for a in 0..3 {
        let agent = format!("a{a}");
        writes.push(set_json(
            store,
            &layout::agent_doc(&agent),
            &json!({"agent_id": agent, "load": a}),
        ));
        let metrics = format!("{}/{}/research", layout::agent_doc(&agent), layout::METRICS);
        writes.push(set_json(
            store,
            &metrics,
            &json!({"runs": 10 + a, "mean_secs": 1.5}),
        ));
    }
    for (rel, v) in [
        (
            layout::REVIEW_CONFIG.to_string(),
            json!({"research": {"normal": "agent"}}),
        ),
        (
            layout::schedule_doc("nightly"),
            json!({"cron": "0 3 * * *", "paused": false}),
        ),
        (layout::workflow_doc("run-1"), json!({"steps": {"a": "t1"}})),
        (
            layout::quarantine_doc("bad"),
            json!({"reason": "did not parse"}),
        ),
        (
            format!("{}/t1", layout::WAITERS),
            json!({"waiting": ["t2", "t3"]}),
        ),
        (
            format!("{}/gpu", layout::RESOURCES),
            json!({"permits": 2, "holders": {}}),
        ),
        (format!("{}/t1", layout::RATINGS), json!({"stars": 5})),
        ("quota/u1@29000000".to_string(), json!({"count": 3})),
    ] {
        writes.push(set_json(store, &rel, &v));
    }
    writes.push(set(store, "misc/types", every_type(store)));
    for chunk in writes.chunks(500) {
        store
            .commit(chunk.to_vec())
            .await
            .expect("a seed batch commits");
    }
}

/// Asserts `got` holds exactly `want`'s documents, one by one; references
/// into the source database must point into the target's.
pub fn assert_same(
    want: &BTreeMap<String, Fields>,
    got: &BTreeMap<String, Fields>,
    target: &Store,
) {
    assert_eq!(want.len(), got.len(), "document counts");
    for (path, fields) in want {
        let restored = got
            .get(path)
            .unwrap_or_else(|| panic!("{path} was not restored"));
        if path == "misc/types" {
            let mut fields = fields.clone();
            fields.insert(
                "ref".into(),
                val(V::ReferenceValue(target.name("agents/a0"))),
            );
            assert_eq!(&fields, restored, "{path}");
        } else {
            assert_eq!(fields, restored, "{path}");
        }
    }
}
