//! The boundary of the pure core (`core/`, crate `vayu-core`, issue 11).
//!
//! The compiler keeps the core free of I/O only as long as its manifest
//! lists no crate that does any; this test pins that list. And the core's
//! own time type must still reach Firestore as a timestamp, not a string,
//! although the core does not know the Firestore crate (core/src/time.rs).

use firestore::FirestoreDb;
use firestore::gcloud_sdk::google::firestore::v1::value::ValueType;
use vayu::model::{Task, Time};

/// The names in the `[dependencies]` table of `core/Cargo.toml`.
fn core_dependencies() -> Vec<String> {
    let manifest = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/core/Cargo.toml"))
        .expect("core/Cargo.toml is readable");
    let mut in_deps = false;
    let mut names = Vec::new();
    for line in manifest.lines().map(str::trim) {
        if line.starts_with('[') {
            in_deps = line == "[dependencies]";
        } else if in_deps && !line.is_empty() && !line.starts_with('#') {
            let name = line.split('=').next().unwrap_or_default().trim();
            names.push(name.to_string());
        }
    }
    names.sort();
    names
}

#[test]
fn the_core_depends_on_nothing_that_does_io() {
    assert_eq!(
        core_dependencies(),
        ["jiff", "serde", "serde_json", "thiserror", "uuid"],
        "core/Cargo.toml: the core takes no dependency that can do I/O (tokio, firestore, reqwest, rand…)"
    );
}

#[test]
fn a_core_time_is_stored_as_a_firestore_timestamp() {
    let t = Task {
        created_at: Some(Time::from_parts(1_700_000_000, 123_456_000).expect("in range")),
        ..Task::default()
    };
    let doc = FirestoreDb::serialize_to_doc("projects/p/databases/d/documents/tasks/x", &t)
        .expect("a task serializes");
    let stored = doc
        .fields
        .get("created_at")
        .and_then(|v| v.value_type.clone());
    match stored {
        Some(ValueType::TimestampValue(ts)) => {
            assert_eq!((ts.seconds, ts.nanos), (1_700_000_000, 123_456_000));
        }
        other => panic!("created_at is stored as {other:?}, not a timestamp"),
    }
    let back: Task = FirestoreDb::deserialize_doc_to(&doc).expect("it reads back");
    assert_eq!(back.created_at, t.created_at);
}
