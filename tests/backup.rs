//! Issue 16, `vayu backup` and `vayu restore`: a round trip of 5,000
//! tasks with their logs into another database, compared document by
//! document and restored twice; a backup is the database at its read
//! time, whatever is written after; and a cut or corrupt file is refused
//! with exit 65 before anything is written.

mod backup_support;
mod common;

use backup_support::{all_docs, assert_same, seed, set_json, store_for};
use common::procs::vayu_cli;
use firestore::gcloud_sdk::google::firestore::v1 as pb;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::time::Instant;
use vayu::backup::{self, BackupWriter, DocLine, Header, Snapshot};
use vayu::layout::Pile;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_thousand_tasks_with_logs_round_trip_document_by_document() {
    let emu = common::emulator().await;
    let (src_db, dst_db) = (
        common::warm_db_id("bk-src").await,
        common::warm_db_id("bk-dst").await,
    );
    let (src, dst) = (store_for(&src_db).await, store_for(&dst_db).await);
    let t = Instant::now();
    seed(&src, 5000).await;
    println!("seeded in {:.1} s", t.elapsed().as_secs_f64());
    let original = all_docs(&src).await;
    assert_eq!(original.len(), 5000 + 1000 + 6 + 8 + 1, "what was seeded");
    let piles: Vec<usize> = (Pile::ALL.iter())
        .map(|p| {
            original
                .keys()
                .filter(|k| k.contains(p.collection_id()))
                .count()
        })
        .collect();
    assert_eq!(piles, [1875, 1250, 1875], "tasks in each pile");

    let dir = tempfile::tempdir().expect("a temp dir");
    let file = dir.path().join("vayu.jsonl");
    let file_arg = file.to_str().expect("a UTF-8 temp path");
    let t = Instant::now();
    let (code, out, err) = vayu_cli(
        emu.host(),
        &src_db,
        &["--json", "backup", "--out", file_arg],
    )
    .await;
    let backup_secs = t.elapsed().as_secs_f64();
    assert_eq!(code, 0, "{err}");
    let report: Value = serde_json::from_str(&out).expect("JSON");
    println!("backup report: {report}");
    assert_eq!(report["documents"], original.len());
    let text = std::fs::read_to_string(&file).expect("the backup exists");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines.len(),
        original.len() + 2,
        "a header, the documents, a trailer"
    );
    let header: Value = serde_json::from_str(lines[0]).expect("a JSON header");
    assert_eq!(
        (header["vayu_backup"].as_u64(), header["database"].as_str()),
        (Some(1), Some(src_db.as_str()))
    );
    assert_eq!(header["read_time"], report["read_time"]);
    assert!(!dir.path().join("vayu.jsonl.partial").exists());

    let t = Instant::now();
    let (code, out, err) = vayu_cli(emu.host(), &dst_db, &["--json", "restore", file_arg]).await;
    let restore_secs = t.elapsed().as_secs_f64();
    assert_eq!(code, 0, "{err}");
    let report: Value = serde_json::from_str(&out).expect("JSON");
    println!("restore report: {report}");
    assert_eq!(
        (report["documents"].as_u64(), report["written"].as_bool()),
        (Some(original.len() as u64), Some(true))
    );
    let restored = all_docs(&dst).await;
    assert_same(&original, &restored, &dst);

    let (code, _, err) = vayu_cli(emu.host(), &dst_db, &["restore", file_arg]).await;
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        all_docs(&dst).await,
        restored,
        "a second restore changes nothing"
    );
    println!(
        "{} documents: backup {backup_secs:.1} s, restore {restore_secs:.1} s (CLI wall time), file {:.1} MB",
        original.len(),
        text.len() as f64 / 1e6
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_holds_the_database_as_of_its_read_time() {
    let emu = common::emulator().await;
    let db = common::warm_db_id("bk-at").await;
    let store = store_for(&db).await;
    let writes = ["kept", "changed", "deleted"]
        .map(|id| set_json(&store, &format!("things/{id}"), &json!({"v": 1})));
    store.commit(writes.to_vec()).await.expect("seeded");
    let mut snap = Snapshot::new(&store, None);
    snap.next_page()
        .await
        .expect("the first page sets the read time");
    let at = snap.read_time().expect("a read time");
    let at = jiff::Timestamp::new(at.seconds, at.nanos)
        .expect("a valid time")
        .to_string();
    store
        .commit(vec![
            set_json(&store, "things/changed", &json!({"v": 2})),
            set_json(&store, "things/new", &json!({"v": 1})),
            pb::Write {
                operation: Some(pb::write::Operation::Delete(store.name("things/deleted"))),
                ..Default::default()
            },
        ])
        .await
        .expect("written after the read time");

    let dir = tempfile::tempdir().expect("a temp dir");
    let file = dir.path().join("at.jsonl");
    let file_arg = file.to_str().expect("a UTF-8 temp path");
    let args = ["backup", "--out", file_arg, "--read-time", &at];
    let (code, _, err) = vayu_cli(emu.host(), &db, &args).await;
    assert_eq!(code, 0, "{err}");
    let text = std::fs::read_to_string(&file).expect("the backup exists");
    let docs: BTreeMap<String, Value> = (text.lines().skip(1))
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter_map(|v| Some((v["path"].as_str()?.to_string(), v["fields"]["v"].clone())))
        .collect();
    let v1 = json!({"integerValue": "1"});
    let want = BTreeMap::from([
        ("things/changed".to_string(), v1.clone()),
        ("things/deleted".to_string(), v1.clone()),
        ("things/kept".to_string(), v1),
    ]);
    assert_eq!(docs, want, "the database as it was at {at}");

    let (code, _, err) = vayu_cli(
        emu.host(),
        &db,
        &["backup", "--out", file_arg, "--read-time", "yesterday"],
    )
    .await;
    assert_eq!(code, 64, "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cut_or_corrupt_file_is_refused_with_exit_65_and_nothing_written() {
    let emu = common::emulator().await;
    let dst_db = common::warm_db_id("bk-empty").await;
    let dir = tempfile::tempdir().expect("a temp dir");
    let good = dir.path().join("good.jsonl");
    let good_arg = good.to_str().expect("a UTF-8 temp path");
    let header = Header {
        vayu_backup: 1,
        read_time: "2026-12-06T15:35:19.4615Z".into(),
        project: "p".into(),
        database: "d".into(),
    };
    let mut w = BackupWriter::create(&good, &header).expect("a temp file");
    for i in 0..3 {
        let fields = json!({"n": {"integerValue": i.to_string()}});
        let path = Pile::Queued.doc(&format!("t{i}"));
        let fields = fields.as_object().expect("an object").clone();
        w.document(&DocLine { path, fields }).expect("written");
    }
    w.finish().expect("written");
    let text = std::fs::read_to_string(&good).expect("the backup exists");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 5);

    let without_trailer = lines[..4].join("\n") + "\n";
    let bad_files = [
        ("no trailer", without_trailer.clone()),
        ("cut mid-line", text[..text.len() - 30].to_string()),
        (
            "not JSON",
            text.replacen("\"fields\"", "\"fields\" oops", 1),
        ),
        (
            "a bad value",
            text.replacen("integerValue\":\"1", "integerValue\":\"one", 1),
        ),
        (
            "a wrong count",
            without_trailer.clone() + lines[3] + "\n" + lines[4] + "\n",
        ),
        (
            "a newer version",
            text.replacen("{\"vayu_backup\":1", "{\"vayu_backup\":2", 1),
        ),
        ("lines after the end", text.clone() + lines[1] + "\n"),
        ("empty", String::new()),
    ];
    for (what, content) in bad_files {
        let path = dir.path().join("bad.jsonl");
        std::fs::write(&path, content).expect("written");
        let (code, _, err) = vayu_cli(
            emu.host(),
            &dst_db,
            &["restore", path.to_str().expect("UTF-8")],
        )
        .await;
        assert_eq!(code, 65, "{what}: {err}");
        assert!(
            err.contains("invalid backup") && err.contains("line"),
            "{what}: {err}"
        );
    }
    let dst = store_for(&dst_db).await;
    assert!(all_docs(&dst).await.is_empty(), "nothing was written");

    let (code, out, err) = vayu_cli(
        emu.host(),
        &dst_db,
        &["--json", "restore", "--dry-run", good_arg],
    )
    .await;
    assert_eq!(code, 0, "{err}");
    let report: Value = serde_json::from_str(&out).expect("JSON");
    assert_eq!(
        (report["documents"].as_u64(), report["written"].as_bool()),
        (Some(3), Some(false))
    );
    assert!(all_docs(&dst).await.is_empty(), "a dry run writes nothing");

    let empty = dir.path().join("empty.jsonl");
    let args = ["--json", "backup", "--out", empty.to_str().expect("UTF-8")];
    let (code, out, err) = vayu_cli(emu.host(), &dst_db, &args).await;
    assert_eq!(code, 0, "{err}");
    let report: Value = serde_json::from_str(&out).expect("JSON");
    assert_eq!(
        report["documents"], 0,
        "an empty database backs up: {report}"
    );
    assert_eq!(backup::check(&empty).expect("a whole file").documents, 0);
}
