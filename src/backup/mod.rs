//! `vayu backup` and `vayu restore`: the whole database as one JSON Lines
//! file, and back.
//!
//! Why a file of our own when Firestore has managed exports
//! (docs/production.md "Backups"): an export needs a bucket and the
//! Firestore admin role, and its files can only be imported back into
//! Firestore; a JSON Lines file can be diffed, grepped, kept beside a
//! release, and loaded into an emulator for a test or a post-mortem.
//!
//! The file, one JSON object a line:
//!
//! ```text
//! {"vayu_backup":1,"read_time":"2026-12-06T15:35:19.4615Z","project":"p","database":"(default)"}
//! {"path":"agents/a1","fields":{"state":{"stringValue":"idle"},"load":{"integerValue":"0"}}}
//! {"path":"tasks/queued/queued_tasks/0b8…","fields":{…}}
//! {"vayu_backup_end":true,"documents":2}
//! ```
//!
//! - Paths are relative to the documents root, so a file restores into
//!   any project and database.
//! - Values use Firestore's REST typed encoding (`encoding`), so a
//!   timestamp stays a timestamp to the nanosecond, an integer stays an
//!   integer, bytes stay bytes.
//! - The trailer counts the documents: a file cut short (a full disk, a
//!   killed copy) is refused by a restore instead of half-restored.
//!
//! Concepts, one file each: `encoding` (values ↔ JSON), `file` (the
//! lines and reading them back), `snapshot` (reading the database at one
//! time, and `vayu backup`), `restore` (`vayu restore`).

mod encoding;
mod file;
mod restore;
mod snapshot;

pub use encoding::{decode_fields, encode_fields};
pub use file::{BackupReader, BackupWriter, DocLine, Header, Trailer};
pub use restore::{Checked, RestoreReport, check, restore};
pub use snapshot::{BackupReport, Snapshot, backup, every_document_after};

/// The file format's version, the header's `vayu_backup`. A restore
/// refuses any other: a newer format may carry what it cannot write.
pub const FORMAT_VERSION: u32 = 1;

/// Documents per query page and per `BatchWrite`: Firestore's limit for
/// one batch is 500 writes, and 500 documents of a few kB each keep a
/// page well under the RPC's size limit.
pub const PAGE: usize = 500;
