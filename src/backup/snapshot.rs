//! Reading every document of the database as of one instant, and
//! `vayu backup`, which writes them to a file.
//!
//! Why one query and not a walk of `ListCollectionIds`: a query over all
//! descendants of the root with no collection id (a "kindless" query, what
//! the Admin SDKs' recursive delete issues) returns every document of every
//! collection at any depth, subcollections of documents that do not exist
//! included (a pile's `tasks/queued` holds no fields), in name order, 500 a
//! page. A walk would ask each of 5,000 tasks for its subcollections. New
//! collections are backed up without a change here.
//!
//! Why one read time: each page is read at the time the first was, so the
//! file is the database at that instant even while agents keep writing. A
//! task moving between piles is in exactly one of them, never in both or
//! neither. Firestore keeps old versions for an hour (7 days with
//! point-in-time recovery), so a backup must finish within that window;
//! `--read-time` reads an earlier instant in it.

use super::PAGE;
use super::encoding::{encode_fields, encode_time};
use super::file::{BackupWriter, DocLine, Header};
use crate::error::{Error, Result};
use crate::store::Store;
use firestore::gcloud_sdk::google::firestore::v1 as pb;
use firestore::gcloud_sdk::prost_types::Timestamp;
use pb::structured_query::{self as sq, field_filter::Operator};
use serde::Serialize;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

/// The database as of one read time, a page at a time.
pub struct Snapshot<'a> {
    store: &'a Store,
    read_time: Option<Timestamp>,
    /// The full name of the last document read: the next page starts after it.
    after: Option<String>,
    done: bool,
}

impl<'a> Snapshot<'a> {
    /// A snapshot at `read_time`, or at the time its first page is read.
    pub fn new(store: &'a Store, read_time: Option<Timestamp>) -> Snapshot<'a> {
        Snapshot {
            store,
            read_time,
            after: None,
            done: false,
        }
    }

    /// The read time: known once the first page is read (or given).
    pub fn read_time(&self) -> Option<Timestamp> {
        self.read_time
    }

    /// The next page of documents, in name order; `None` after the last.
    pub async fn next_page(&mut self) -> Result<Option<Vec<pb::Document>>> {
        if self.done {
            return Ok(None);
        }
        let query = every_document_after(self.after.clone());
        let (docs, read_time) = self.store.run_query_at("", query, self.read_time).await?;
        if self.read_time.is_none() {
            let t = read_time.ok_or_else(|| {
                Error::Firestore("the server did not say when it read the first page".into())
            })?;
            self.read_time = Some(t);
        }
        self.done = docs.len() < PAGE;
        self.after = docs.last().map(|d| d.name.clone());
        Ok(Some(docs))
    }

    /// A document's path relative to the root, as the file keeps it.
    pub fn relative<'d>(&self, doc: &'d pb::Document) -> &'d str {
        let root = self.store.db().get_documents_path();
        (doc.name.strip_prefix(root.as_str()))
            .and_then(|p| p.strip_prefix('/'))
            .unwrap_or(&doc.name)
    }
}

/// Every document under the root, by name, after `after` (a full name).
pub fn every_document_after(after: Option<String>) -> pb::StructuredQuery {
    pb::StructuredQuery {
        from: vec![sq::CollectionSelector {
            collection_id: String::new(),
            all_descendants: true,
        }],
        r#where: after.map(|name| {
            crate::store::field_op(
                "__name__",
                Operator::GreaterThan,
                crate::logs::reference(name),
            )
        }),
        order_by: vec![crate::logs::by_name()],
        // PAGE is 500: it fits an i32.
        limit: Some(PAGE as i32),
        ..Default::default()
    }
}

/// What a backup wrote, for people and for `--json`.
#[derive(Debug, Clone, Serialize)]
pub struct BackupReport {
    pub documents: u64,
    pub read_time: String,
    pub file: String,
    pub bytes: u64,
    pub seconds: f64,
}

/// Writes every document as of `read_time` (now when `None`) to `out`,
/// counting them in `progress` as it goes.
pub async fn backup(
    store: &Store,
    out: &Path,
    read_time: Option<Timestamp>,
    progress: &AtomicU64,
) -> Result<BackupReport> {
    let started = std::time::Instant::now();
    let mut snap = Snapshot::new(store, read_time);
    let first = snap.next_page().await?.unwrap_or_default();
    // The first page set the read time (or it was given).
    let at = snap.read_time().expect("set by the first page");
    let read_time = encode_time(&at).map_err(Error::Firestore)?;
    let (project, database) = names(store);
    let header = Header {
        vayu_backup: super::FORMAT_VERSION,
        read_time: read_time.clone(),
        project,
        database,
    };
    let mut w = BackupWriter::create(out, &header)?;
    let result = write_pages(&mut snap, first, &mut w, progress).await;
    let documents = match result {
        Ok(n) => n,
        Err(e) => {
            w.abandon();
            return Err(e);
        }
    };
    let bytes = w.finish()?;
    Ok(BackupReport {
        documents,
        read_time,
        file: out.display().to_string(),
        bytes,
        seconds: started.elapsed().as_secs_f64(),
    })
}

async fn write_pages(
    snap: &mut Snapshot<'_>,
    first: Vec<pb::Document>,
    w: &mut BackupWriter,
    progress: &AtomicU64,
) -> Result<u64> {
    let mut page = Some(first);
    let mut n = 0;
    while let Some(docs) = page {
        for doc in &docs {
            let path = snap.relative(doc).to_string();
            let fields = encode_fields(&doc.fields)
                .map_err(|e| Error::Firestore(format!("encoding {path}: {e}")))?;
            w.document(&DocLine { path, fields })?;
        }
        n += docs.len() as u64;
        progress.store(n, Ordering::Relaxed);
        page = snap.next_page().await?;
    }
    Ok(n)
}

/// The project and database ids, from `projects/P/databases/D`.
fn names(store: &Store) -> (String, String) {
    let parts: Vec<&str> = store.database().split('/').collect();
    match parts.as_slice() {
        ["projects", p, "databases", d] => (p.to_string(), d.to_string()),
        _ => (store.database().to_string(), String::new()),
    }
}
