//! Shared helpers for the black-box integration tests.
//!
//! Each test binary includes this with `mod common;`. Not every binary uses
//! every helper, so dead-code warnings are silenced for this module only.
#![allow(dead_code)]

use std::path::PathBuf;

use tokio::sync::OnceCell;
use vayu_emulator::{Emulator, EmulatorOptions};

/// One emulator per test binary (per process: under cargo-nextest that is
/// one per test).
///
/// A `static` is never dropped, so this JVM is killed by the emulator's
/// watchdog when the test process exits, not by `Drop`. `Emulator` holds only
/// `std` handles and a plain thread, so it keeps working after the
/// `#[tokio::test]` runtime that started it is gone.
static EMULATOR: OnceCell<Emulator> = OnceCell::const_new();

/// The shared emulator, started on first use with the repository's
/// `firestore.rules` when that file exists.
///
/// Tests must not stop, `SIGSTOP` or otherwise disturb it; a chaos test
/// starts its own [`Emulator`] instead. Isolate data with [`unique_db_id`].
pub async fn emulator() -> &'static Emulator {
    EMULATOR
        .get_or_init(|| async {
            let rules = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("firestore.rules");
            let opts = EmulatorOptions {
                rules: rules.is_file().then_some(rules),
                ..EmulatorOptions::default()
            };
            // Panicking is the right failure for a test fixture; the error
            // says what to install and includes the emulator's log tail.
            Emulator::start(opts)
                .await
                .unwrap_or_else(|e| panic!("cannot start the Firestore emulator: {e}"))
        })
        .await
}

/// A fresh Firestore database id, so each test gets its own database in the
/// shared emulator (which creates databases on first use) and tests never see
/// each other's documents.
///
/// Valid per Firestore's rules: 4–63 characters of lowercase letters, digits
/// and hyphens, starting with a letter and ending with a letter or digit. The
/// prefix is sanitised to fit, then 16 hex digits of a v4 UUID are appended.
pub fn unique_db_id(prefix: &str) -> String {
    const SUFFIX_LEN: usize = 16;
    const MAX_LEN: usize = 63;
    let mut clean: String = prefix
        .chars()
        .map(|c| match c.to_ascii_lowercase() {
            c @ ('a'..='z' | '0'..='9' | '-') => c,
            _ => '-',
        })
        .collect();
    if !clean.starts_with(|c: char| c.is_ascii_lowercase()) {
        clean.insert(0, 't');
    }
    // Leave room for "-" and the suffix.
    clean.truncate(MAX_LEN - SUFFIX_LEN - 1);
    let clean = clean.trim_end_matches('-');
    let uuid = uuid::Uuid::new_v4().simple().to_string();
    format!("{clean}-{}", &uuid[..SUFFIX_LEN])
}

/// A [`unique_db_id`] that the shared emulator has answered once already.
/// The emulator sets a database up (its rules included) on the first
/// request, which takes 2-7 s on an idle 2-core machine and can pass the
/// `vayu` CLI's 10 s request timeout on a loaded one; a test that starts
/// with a CLI command would be measuring that.
pub async fn warm_db_id(prefix: &str) -> String {
    let emu = emulator().await;
    let db = unique_db_id(prefix);
    let cfg = vayu::store::StoreConfig::emulator(emu.host(), db.clone());
    let store = vayu::store::Store::connect(&cfg)
        .await
        .unwrap_or_else(|e| panic!("the emulator is up, so connecting works: {e}"));
    fleet::warm_up(&store).await;
    db
}

/// Checks the rules `unique_db_id` promises (used by the harness tests).
pub fn is_valid_db_id(id: &str) -> bool {
    (4..=63).contains(&id.len())
        && id.starts_with(|c: char| c.is_ascii_lowercase())
        && id.ends_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

pub mod fleet;
pub mod http;
pub mod procs;
pub mod proxy;
