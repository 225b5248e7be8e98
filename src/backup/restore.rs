//! `vayu restore`: a backup file written back, every document at its path.
//!
//! Why the whole file is read twice: the first pass checks every line
//! (header, paths, values, the trailer's count) and writes nothing, so a
//! cut or corrupt file is refused before the database changes; the second
//! writes. Memory stays one batch, whatever the file's size.
//!
//! Each document is set, not merged and not created: its fields become
//! exactly the file's, whether it existed or not, so running a restore
//! twice leaves the same database as running it once, and a restore that
//! failed half way is finished by running it again. Documents the file
//! does not have are left alone: a restore into an empty database gives
//! the backup, one into a live database puts the backup's documents back
//! over the same paths (docs/production.md "Backups").
//!
//! References to documents of the backed-up database are rewritten to the
//! target database, so that a restore into another database or project
//! points at the restored documents, not at the original ones.

use super::PAGE;
use super::file::{BackupReader, Header};
use crate::error::{Error, Result};
use crate::store::Store;
use firestore::gcloud_sdk::google::firestore::v1 as pb;
use futures::StreamExt;
use futures::stream::FuturesUnordered;
use pb::value::ValueType as V;
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// `BatchWrite` calls at once.
const IN_FLIGHT: usize = 4;

/// What a restore wrote (or, dry, would write).
#[derive(Debug, Clone, Serialize)]
pub struct RestoreReport {
    pub documents: u64,
    /// The backup's read time: the instant the restored data is from.
    pub read_time: String,
    /// `projects/P/databases/D` the backup was taken from.
    pub source: String,
    pub written: bool,
    pub seconds: f64,
}

/// A file read through and found whole: what [`restore`] writes.
#[derive(Debug, Clone)]
pub struct Checked {
    pub path: PathBuf,
    pub header: Header,
    pub documents: u64,
}

impl Checked {
    pub fn report(&self, written: bool, seconds: f64) -> RestoreReport {
        RestoreReport {
            documents: self.documents,
            read_time: self.header.read_time.clone(),
            source: self.source(),
            written,
            seconds,
        }
    }

    fn source(&self) -> String {
        let h = &self.header;
        format!("projects/{}/databases/{}", h.project, h.database)
    }
}

/// Reads the whole file and checks every line; writes nothing.
pub fn check(path: &Path) -> Result<Checked> {
    let mut r = BackupReader::open(path)?;
    let mut documents = 0;
    while r.next_doc()?.is_some() {
        documents += 1;
    }
    Ok(Checked {
        path: path.to_path_buf(),
        header: r.header().clone(),
        documents,
    })
}

/// Writes every document of a checked file, counting them in `progress`.
pub async fn restore(
    store: &Store,
    checked: &Checked,
    progress: &AtomicU64,
) -> Result<RestoreReport> {
    let started = std::time::Instant::now();
    let from = format!("{}/documents", checked.source());
    let to = store.db().get_documents_path().clone();
    let mut r = BackupReader::open(&checked.path)?;
    let mut batch = Vec::with_capacity(PAGE);
    let mut in_flight = FuturesUnordered::new();
    let mut done = 0;
    loop {
        let next = r.next_doc()?;
        let end = next.is_none();
        if let Some((rel, mut fields)) = next {
            fields.values_mut().for_each(|v| rebase(v, &from, &to));
            batch.push(set(store, &rel, fields));
        }
        if batch.len() == PAGE || (end && !batch.is_empty()) {
            let writes = std::mem::take(&mut batch);
            let n = writes.len() as u64;
            in_flight.push(async move { write_batch(store, writes).await.map(|()| n) });
        }
        // A few batches at once: each is one round trip the server spends
        // mostly waiting on its storage.
        while in_flight.len() >= IN_FLIGHT || (end && !in_flight.is_empty()) {
            // Not empty: the loop's condition says so.
            done += in_flight.next().await.expect("a batch in flight")?;
            progress.store(done, Ordering::Relaxed);
        }
        if end {
            return Ok(checked.report(true, started.elapsed().as_secs_f64()));
        }
    }
}

/// A write that makes the document at `rel` exactly `fields`.
fn set(
    store: &Store,
    rel: &str,
    fields: std::collections::HashMap<String, pb::Value>,
) -> pb::Write {
    pb::Write {
        operation: Some(pb::write::Operation::Update(pb::Document {
            name: store.name(rel),
            fields,
            ..Default::default()
        })),
        ..Default::default()
    }
}

/// Points references into the source database at the target database.
fn rebase(v: &mut pb::Value, from: &str, to: &str) {
    match &mut v.value_type {
        Some(V::ReferenceValue(r)) => {
            if let Some(rest) = r.strip_prefix(from).filter(|rest| rest.starts_with('/')) {
                *r = format!("{to}{rest}");
            }
        }
        Some(V::ArrayValue(a)) => a.values.iter_mut().for_each(|v| rebase(v, from, to)),
        Some(V::MapValue(m)) => m.fields.values_mut().for_each(|v| rebase(v, from, to)),
        _ => {}
    }
}

/// Writes `writes`, trying the failed ones again twice: each write is
/// idempotent, and a bulk load meets the odd contention or dropped call.
async fn write_batch(store: &Store, mut writes: Vec<pb::Write>) -> Result<()> {
    let mut tries = 0u64;
    loop {
        tries += 1;
        let failed = match store.batch_write(writes.clone()).await {
            Ok(outcomes) => (writes.into_iter().zip(outcomes))
                .filter_map(|(w, f)| f.map(|f| (w, f)))
                .collect::<Vec<_>>(),
            Err(e) if e.is_transient() && tries < 3 => {
                tracing::warn!(%e, "a restore batch was not written; trying again");
                tokio::time::sleep(std::time::Duration::from_millis(500 * tries)).await;
                continue;
            }
            Err(e) => return Err(e),
        };
        let Some((w, why)) = failed.first() else {
            return Ok(());
        };
        if tries >= 3 {
            let name = match &w.operation {
                Some(pb::write::Operation::Update(d)) => d.name.as_str(),
                _ => "?",
            };
            return Err(Error::Firestore(format!(
                "{} writes of a restore batch failed ({name}: {why}); other documents \
                 may be written, and a restore is safe to run again",
                failed.len()
            )));
        }
        tracing::warn!(
            failed = failed.len(),
            "some restore writes failed; trying again"
        );
        tokio::time::sleep(std::time::Duration::from_millis(500 * tries)).await;
        writes = failed.into_iter().map(|(w, _)| w).collect();
    }
}
