//! The backup file's lines: writing them so that only a finished backup
//! appears under its name, and reading them back with every check a
//! restore needs before it writes anything.

use super::FORMAT_VERSION;
use super::encoding::decode_fields;
use crate::error::{Error, Result};
use firestore::gcloud_sdk::google::firestore::v1 as pb;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value as Json};
use std::collections::HashMap;
use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};

/// The first line: what the file is, and when the database was read.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct Header {
    pub vayu_backup: u32,
    /// RFC 3339, UTC: every document is as it was at this instant.
    pub read_time: String,
    pub project: String,
    pub database: String,
}

/// One document: its path relative to the documents root, and its fields
/// in the typed encoding (`super::encoding`).
#[derive(Serialize, Deserialize, Debug, Clone)]
pub struct DocLine {
    pub path: String,
    pub fields: Map<String, Json>,
}

/// The last line. Without it, or with another count, the file was cut
/// short or edited, and a restore refuses it.
#[derive(Serialize, Deserialize, Debug, Clone)]
pub struct Trailer {
    pub vayu_backup_end: bool,
    pub documents: u64,
}

/// Writes a backup to `{dest}.partial` and renames it to `dest` only when
/// it is complete: a backup that fails half way leaves no file that looks
/// like a backup.
pub struct BackupWriter {
    out: BufWriter<File>,
    partial: PathBuf,
    dest: PathBuf,
    documents: u64,
}

impl BackupWriter {
    pub fn create(dest: &Path, header: &Header) -> Result<BackupWriter> {
        let mut name = dest.as_os_str().to_owned();
        name.push(".partial");
        let partial = PathBuf::from(name);
        let mut w = BackupWriter {
            out: BufWriter::new(File::create(&partial)?),
            partial,
            dest: dest.to_path_buf(),
            documents: 0,
        };
        w.line(header)?;
        Ok(w)
    }

    pub fn document(&mut self, doc: &DocLine) -> Result<()> {
        self.documents += 1;
        self.line(doc)
    }

    /// Writes the trailer, syncs and renames; returns the file's size.
    pub fn finish(mut self) -> Result<u64> {
        let trailer = Trailer {
            vayu_backup_end: true,
            documents: self.documents,
        };
        self.line(&trailer)?;
        let file = self.out.into_inner().map_err(|e| e.into_error())?;
        file.sync_all()?;
        std::fs::rename(&self.partial, &self.dest)?;
        Ok(std::fs::metadata(&self.dest)?.len())
    }

    /// Removes the unfinished file (after a failure).
    pub fn abandon(self) {
        drop(self.out);
        // Best effort: the error being reported matters more than this one.
        let _ = std::fs::remove_file(&self.partial);
    }

    fn line<T: Serialize>(&mut self, value: &T) -> Result<()> {
        serde_json::to_writer(&mut self.out, value)
            .map_err(|e| Error::Io(std::io::Error::other(e)))?;
        self.out.write_all(b"\n")?;
        Ok(())
    }
}

/// Reads a backup line by line, refusing anything that is not exactly
/// what [`BackupWriter`] writes: the header of a known version first, each
/// document's path and every value well formed, the trailer last with the
/// right count, and nothing after it.
pub struct BackupReader {
    lines: std::io::Lines<BufReader<File>>,
    path: PathBuf,
    line: usize,
    header: Header,
    documents: u64,
}

/// A document as a restore writes it.
pub type Document = (String, HashMap<String, pb::Value>);

impl BackupReader {
    pub fn open(path: &Path) -> Result<BackupReader> {
        let file = File::open(path)
            .map_err(|e| Error::InvalidBackup(format!("cannot read {}: {e}", path.display())))?;
        let mut r = BackupReader {
            lines: BufReader::new(file).lines(),
            path: path.to_path_buf(),
            line: 0,
            header: Header {
                vayu_backup: 0,
                read_time: String::new(),
                project: String::new(),
                database: String::new(),
            },
            documents: 0,
        };
        let first = r.next_line()?.ok_or_else(|| r.bad("the file is empty"))?;
        r.header = serde_json::from_str(&first)
            .map_err(|e| r.bad(&format!("not a vayu backup header: {e}")))?;
        if r.header.vayu_backup != FORMAT_VERSION {
            let v = r.header.vayu_backup;
            return Err(r.bad(&format!(
                "format version {v}; this vayu reads version {FORMAT_VERSION}"
            )));
        }
        Ok(r)
    }

    pub fn header(&self) -> &Header {
        &self.header
    }

    /// The next document, or `None` once a matching trailer ended the file.
    pub fn next_doc(&mut self) -> Result<Option<Document>> {
        let Some(text) = self.next_line()? else {
            return Err(self.bad("no trailer: the file was cut short"));
        };
        let value: Json = serde_json::from_str(&text)
            .map_err(|e| self.bad(&format!("not JSON (a file cut short?): {e}")))?;
        if value.get("vayu_backup_end").is_some() {
            return self.end(value).map(|()| None);
        }
        let doc: DocLine = serde_json::from_value(value)
            .map_err(|e| self.bad(&format!("not a document line: {e}")))?;
        check_path(&doc.path).map_err(|e| self.bad(&e))?;
        let fields =
            decode_fields(&doc.fields).map_err(|e| self.bad(&format!("{}: {e}", doc.path)))?;
        self.documents += 1;
        Ok(Some((doc.path, fields)))
    }

    fn end(&mut self, value: Json) -> Result<()> {
        let t: Trailer =
            serde_json::from_value(value).map_err(|e| self.bad(&format!("bad trailer: {e}")))?;
        if t.documents != self.documents {
            let n = self.documents;
            return Err(self.bad(&format!(
                "the trailer counts {} documents, the file has {n}",
                t.documents
            )));
        }
        if self.next_line()?.is_some() {
            return Err(self.bad("lines after the trailer"));
        }
        Ok(())
    }

    fn next_line(&mut self) -> Result<Option<String>> {
        self.line += 1;
        match self.lines.next() {
            None => Ok(None),
            Some(Ok(l)) => Ok(Some(l)),
            Some(Err(e)) => Err(self.bad(&format!("unreadable: {e}"))),
        }
    }

    fn bad(&self, why: &str) -> Error {
        Error::InvalidBackup(format!("{} line {}: {why}", self.path.display(), self.line))
    }
}

/// A document path relative to the root: collection and document ids
/// alternating, none empty.
fn check_path(path: &str) -> std::result::Result<(), String> {
    let parts: Vec<&str> = path.split('/').collect();
    if !parts.len().is_multiple_of(2) || parts.iter().any(|p| p.is_empty()) {
        return Err(format!("{path:?} is not a document path"));
    }
    Ok(())
}
