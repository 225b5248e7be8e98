//! `vayu backup --out FILE` and `vayu restore FILE` (`crate::backup`).
//!
//! Both act as the admin (the emulator's owner, or the application
//! default credentials in production), whatever `VAYU_TOKEN` or
//! `VAYU_IDENTITY` say: a backup must read every document and a restore
//! must write them as they were, which the rules rightly refuse a person
//! (a task's status, another requester's quota). They are an operator's
//! tools, like a write in the Firebase console.

use super::{Failure, to_json};
use crate::backup::{self, BackupReport, RestoreReport};
use crate::bench::progress::Progress;
use crate::error::Error;
use crate::store::{Store, StoreConfig};
use clap::Args;
use firestore::gcloud_sdk::prost_types::Timestamp;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

#[derive(Args, Debug)]
pub struct BackupArgs {
    /// The JSON Lines file to write (written as FILE.partial, renamed
    /// when complete).
    #[arg(long)]
    pub out: PathBuf,
    /// Read the database as it was at this RFC 3339 instant, within the
    /// last hour (7 days with point-in-time recovery); default now.
    #[arg(long, value_name = "RFC3339")]
    pub read_time: Option<String>,
}

#[derive(Args, Debug)]
pub struct RestoreArgs {
    /// A file `vayu backup` wrote.
    pub file: PathBuf,
    /// Check the whole file and say what it holds; write nothing.
    #[arg(long)]
    pub dry_run: bool,
}

/// Connects as the admin (see the module's comment), with room for a
/// page of 500 documents per call.
async fn admin_store(project: Option<String>) -> Result<Store, Failure> {
    let mut cfg = StoreConfig::from_env(project)?;
    cfg.token = None;
    cfg.request_timeout = Duration::from_secs(60);
    Ok(Store::connect(&cfg).await?)
}

pub async fn run_backup(
    project: Option<String>,
    args: BackupArgs,
    json: bool,
) -> Result<String, Failure> {
    let read_time = args.read_time.as_deref().map(parse_time).transpose()?;
    let store = admin_store(project).await?;
    let done = Arc::new(AtomicU64::new(0));
    let seen = done.clone();
    // The total is unknown until the last page: the bar shows a count.
    let progress = Progress::start(
        "backup".into(),
        0,
        move || seen.load(Ordering::Relaxed),
        true,
    );
    let result = backup::backup(&store, &args.out, read_time, &done).await;
    progress.finish().await;
    let r: BackupReport = result?;
    Ok(if json {
        to_json(&r)
    } else {
        format!(
            "backed up {} documents as of {} to {} ({:.1} MB) in {:.1} s\n",
            r.documents,
            r.read_time,
            r.file,
            r.bytes as f64 / 1e6,
            r.seconds
        )
    })
}

pub async fn run_restore(
    project: Option<String>,
    args: RestoreArgs,
    json: bool,
) -> Result<String, Failure> {
    // Before connecting: a bad file is refused even offline.
    let started = std::time::Instant::now();
    let checked = backup::check(&args.file)?;
    let r: RestoreReport = if args.dry_run {
        checked.report(false, started.elapsed().as_secs_f64())
    } else {
        let store = admin_store(project).await?;
        let done = Arc::new(AtomicU64::new(0));
        let seen = done.clone();
        let progress = Progress::start(
            "restore".into(),
            checked.documents,
            move || seen.load(Ordering::Relaxed),
            true,
        );
        let result = backup::restore(&store, &checked, &done).await;
        progress.finish().await;
        result?
    };
    let what = format!(
        "{} documents of {} as of {}",
        r.documents, r.source, r.read_time
    );
    Ok(if json {
        to_json(&r)
    } else if r.written {
        format!("restored {what} in {:.1} s\n", r.seconds)
    } else {
        format!(
            "{} holds {what}; nothing written (--dry-run)\n",
            args.file.display()
        )
    })
}

fn parse_time(s: &str) -> Result<Timestamp, Failure> {
    let t: jiff::Timestamp = s.parse().map_err(|e| {
        Failure::from(Error::Config(format!(
            "--read-time {s:?}: not an RFC 3339 time: {e}"
        )))
    })?;
    Ok(crate::store::pb_time(crate::model::Time(t)))
}
