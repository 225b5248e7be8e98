//! The Firestore edge: every read and write vayu makes goes through here.
//!
//! Writes are raw `Commit` RPCs with preconditions rather than read-write
//! transactions. On the emulator a contended transaction waits out a 2 s
//! lock, and a query inside one locks the whole collection; a commit whose
//! writes carry `exists` / `update_time` preconditions settles a race in
//! milliseconds: the first commit wins, the others get FAILED_PRECONDITION
//! at once. Production Firestore behaves the same way, and it is one RPC
//! instead of three.
//!
//! Every call is bounded by a timeout, so a frozen server is an
//! [`Error::Unavailable`], never a hang, and every document read or
//! written is counted in [`OpCounters`].

mod count;
mod defect;
mod drafts;
pub mod quota;

pub use defect::defect;

use crate::auth::SharedToken;
use crate::error::{Error, Result};
use crate::layout::{self, Pile};
use crate::lifecycle::Status;
use crate::metrics::OpCounters;
use crate::model::{AgentDoc, Task};
use firestore::gcloud_sdk::google::firestore::v1 as pb;
use firestore::gcloud_sdk::prost_types::Timestamp;
use firestore::gcloud_sdk::tonic;
use firestore::{FirestoreDb, FirestoreDbOptions};
use pb::document_transform::field_transform::{ServerValue, TransformType};
use pb::structured_query::{self as sq};
use serde::Serialize;
use std::sync::Arc;
use std::time::Duration;

/// Names of the environment variables both binaries read. Scripts depend on
/// them, so they are part of the interface.
pub mod env {
    /// `host:port` of the Firestore emulator; unset means production.
    pub const FIRESTORE_EMULATOR_HOST: &str = "FIRESTORE_EMULATOR_HOST";
    /// The Google Cloud / Firebase project id.
    pub const VAYU_PROJECT: &str = "VAYU_PROJECT";
    /// The Firestore database id, `(default)` unless set.
    pub const VAYU_DATABASE: &str = "VAYU_DATABASE";
    /// A Firebase ID token to act as (see `crate::auth`).
    pub const VAYU_TOKEN: &str = "VAYU_TOKEN";
}

/// The project used on the emulator when none is given.
pub const DEFAULT_EMULATOR_PROJECT: &str = "demo-vayu";
pub const DEFAULT_DATABASE: &str = "(default)";

/// Where and as whom to connect.
#[derive(Clone, Debug)]
pub struct StoreConfig {
    pub project_id: String,
    pub database_id: String,
    /// `host:port` of an emulator; `None` is production Firestore.
    pub emulator_host: Option<String>,
    /// Act as this token's user. `None`: the emulator's admin `owner`, or
    /// Google application default credentials in production.
    pub token: Option<SharedToken>,
    /// Bound on every RPC; a frozen server turns into `Unavailable`.
    pub request_timeout: Duration,
}

impl StoreConfig {
    /// A config for the emulator at `host` with database `database_id`.
    pub fn emulator(host: impl Into<String>, database_id: impl Into<String>) -> Self {
        StoreConfig {
            project_id: DEFAULT_EMULATOR_PROJECT.into(),
            database_id: database_id.into(),
            emulator_host: Some(host.into()),
            token: None,
            request_timeout: Duration::from_secs(10),
        }
    }

    /// Reads `FIRESTORE_EMULATOR_HOST`, `VAYU_DATABASE`, `VAYU_TOKEN`;
    /// `project` comes from the caller's flag or `VAYU_PROJECT`.
    pub fn from_env(project: Option<String>) -> Result<Self> {
        let emulator_host = std::env::var(env::FIRESTORE_EMULATOR_HOST)
            .ok()
            .filter(|h| !h.is_empty());
        let project_id = match (project, &emulator_host) {
            (Some(p), _) => p,
            (None, Some(_)) => DEFAULT_EMULATOR_PROJECT.into(),
            (None, None) => {
                return Err(Error::Config(format!(
                    "no project: pass --project or set {} (or set {} to use the emulator)",
                    env::VAYU_PROJECT,
                    env::FIRESTORE_EMULATOR_HOST
                )));
            }
        };
        Ok(StoreConfig {
            project_id,
            database_id: std::env::var(env::VAYU_DATABASE)
                .ok()
                .filter(|d| !d.is_empty())
                .unwrap_or_else(|| DEFAULT_DATABASE.into()),
            emulator_host,
            token: std::env::var(env::VAYU_TOKEN)
                .ok()
                .filter(|t| !t.is_empty())
                .map(SharedToken::new),
            request_timeout: Duration::from_secs(10),
        })
    }

    /// Where requests go, for messages.
    pub fn endpoint(&self) -> String {
        match &self.emulator_host {
            Some(h) => format!(
                "emulator {h} (project {}, database {})",
                self.project_id, self.database_id
            ),
            None => format!(
                "firestore.googleapis.com (project {}, database {})",
                self.project_id, self.database_id
            ),
        }
    }
}

/// A document's value with what a conditional write needs: where it is and
/// the update time it was read at.
#[derive(Clone, Debug)]
pub struct Versioned<T> {
    pub value: T,
    pub pile: Pile,
    pub update_time: Timestamp,
}

/// A connected database. Cheap to clone; clones share the connection and
/// the counters.
#[derive(Clone)]
pub struct Store {
    db: FirestoreDb,
    counters: Arc<OpCounters>,
    endpoint: String,
    timeout: Duration,
    /// Who the store acts as (`None`: no token, e.g. production's
    /// application-default credentials). Read for the quota's payer.
    token: Option<SharedToken>,
}

impl Store {
    pub async fn connect(cfg: &StoreConfig) -> Result<Store> {
        Self::connect_with_counters(cfg, Arc::new(OpCounters::default())).await
    }

    /// Connects, sharing `counters` with other stores (a benchmark adds up
    /// every agent's operations).
    pub async fn connect_with_counters(
        cfg: &StoreConfig,
        counters: Arc<OpCounters>,
    ) -> Result<Store> {
        let options = FirestoreDbOptions {
            google_project_id: cfg.project_id.clone(),
            database_id: cfg.database_id.clone(),
            max_retries: 0,
            firebase_api_url: cfg.emulator_host.as_ref().map(|h| {
                if h.contains("://") {
                    h.clone()
                } else {
                    format!("http://{h}")
                }
            }),
            request_timeout: Some(cfg.request_timeout),
        };
        let token = match (&cfg.token, &cfg.emulator_host) {
            (Some(t), _) => Some(t.clone()),
            (None, Some(_)) => Some(SharedToken::emulator_owner()),
            (None, None) => None,
        };
        let unavailable = |e: firestore::errors::FirestoreError| Error::Unavailable {
            endpoint: cfg.endpoint(),
            detail: e.to_string(),
        };
        let kept = token.clone();
        let connect = async {
            match token {
                Some(t) => FirestoreDb::with_options_auth(options, t.credentials()).await,
                None => FirestoreDb::with_options(options).await,
            }
        };
        let db = tokio::time::timeout(cfg.request_timeout, connect)
            .await
            .map_err(|_| Error::Unavailable {
                endpoint: cfg.endpoint(),
                detail: "timed out connecting".into(),
            })?
            .map_err(unavailable)?;
        Ok(Store {
            db,
            counters,
            endpoint: cfg.endpoint(),
            timeout: cfg.request_timeout,
            token: kept,
        })
    }

    /// Who pays the create quota: a signed-in user (a Firebase ID token
    /// with a uid). `None` for the emulator's `owner`, service accounts and
    /// no token at all: the rules do not judge those, or refuse them anyway.
    pub fn payer(&self) -> Option<quota::Payer> {
        let t = self.token.as_ref().filter(|t| !t.is_emulator_owner())?;
        let agent = t
            .claims()
            .and_then(|c| c.get("agent").and_then(|v| v.as_bool()))
            .unwrap_or(false);
        Some(quota::Payer {
            uid: t.uid()?,
            agent,
        })
    }

    pub fn db(&self) -> &FirestoreDb {
        &self.db
    }

    pub fn counters(&self) -> &Arc<OpCounters> {
        &self.counters
    }

    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// `projects/P/databases/D`.
    pub fn database(&self) -> &str {
        self.db.get_database_path()
    }

    /// The full resource name of a document path relative to the root.
    pub fn name(&self, rel: &str) -> String {
        format!("{}/{rel}", self.db.get_documents_path())
    }

    /// Maps a gRPC status to the library's error.
    pub fn map_status(&self, status: tonic::Status) -> Error {
        use tonic::Code;
        let msg = status.message().to_string();
        match status.code() {
            Code::FailedPrecondition | Code::AlreadyExists | Code::Aborted => Error::Conflict(msg),
            Code::NotFound => Error::NotFound(msg),
            Code::PermissionDenied | Code::Unauthenticated => Error::PermissionDenied(msg),
            Code::Unavailable | Code::DeadlineExceeded | Code::Cancelled | Code::Unknown => {
                Error::Unavailable {
                    endpoint: self.endpoint.clone(),
                    detail: format!("{:?}: {msg}", status.code()),
                }
            }
            _ => Error::Firestore(format!("{:?}: {msg}", status.code())),
        }
    }

    fn timed_out(&self) -> Error {
        Error::Unavailable {
            endpoint: self.endpoint.clone(),
            detail: format!("no answer within {:?}", self.timeout),
        }
    }

    /// One atomic commit. Preconditions make it a compare-and-set.
    pub async fn commit(&self, writes: Vec<pb::Write>) -> Result<pb::CommitResponse> {
        let n = writes.len() as u64;
        OpCounters::add(&self.counters.commits, 1);
        let request = pb::CommitRequest {
            database: self.database().to_string(),
            writes,
            ..Default::default()
        };
        let mut client = self.db.client().get();
        let result = tokio::time::timeout(self.timeout, client.commit(request))
            .await
            .map_err(|_| self.timed_out())?;
        match result {
            Ok(resp) => {
                OpCounters::add(&self.counters.writes, n);
                Ok(resp.into_inner())
            }
            Err(status) => {
                let err = self.map_status(status);
                if err.is_conflict() {
                    OpCounters::add(&self.counters.precondition_failures, 1);
                }
                Err(err)
            }
        }
    }

    /// Encodes `value` as the document at `rel`.
    pub fn encode<T: Serialize>(&self, rel: &str, value: &T) -> Result<pb::Document> {
        FirestoreDb::serialize_to_doc(self.name(rel), value)
            .map_err(|e| Error::Firestore(format!("encoding {rel}: {e}")))
    }

    /// Decodes a task, or says why it is malformed.
    pub fn decode_task(doc: &pb::Document) -> Result<Task> {
        let task: Task = FirestoreDb::deserialize_doc_to(doc).map_err(|e| Error::Malformed {
            name: doc.name.clone(),
            reason: e.to_string(),
        })?;
        let id = doc.name.rsplit('/').next().unwrap_or_default();
        if task.task_id != id {
            return Err(Error::Malformed {
                name: doc.name.clone(),
                reason: format!(
                    "task_id '{}' differs from the document id '{id}'",
                    task.task_id
                ),
            });
        }
        if !(0..=100).contains(&task.execution.progress) {
            return Err(Error::Malformed {
                name: doc.name.clone(),
                reason: format!("progress {} is outside 0..=100", task.execution.progress),
            });
        }
        // What the rules would refuse is quarantined, not run (a document
        // typed into the console passes no rule).
        crate::schema::check_stored(&task).map_err(|reason| Error::Malformed {
            name: doc.name.clone(),
            reason,
        })?;
        Ok(task)
    }

    /// Decodes a document read with its update time in `pile`.
    pub fn decode_versioned(doc: &pb::Document, pile: Pile) -> Result<Versioned<Task>> {
        Ok(Versioned {
            value: Self::decode_task(doc)?,
            pile,
            update_time: doc.update_time.unwrap_or_default(),
        })
    }

    /// A full write of `task` into the pile its status says, with
    /// `updated_at` (and on create `created_at`) set by the server.
    pub fn task_write(
        &self,
        task: &Task,
        precondition: Precondition,
        creating: bool,
    ) -> Result<pb::Write> {
        let pile = Pile::of(task.status);
        let doc = self.encode(&pile.doc(&task.task_id), task)?;
        let mut transforms = vec![server_time("updated_at")];
        if creating {
            transforms.push(server_time("created_at"));
        }
        Ok(pb::Write {
            operation: Some(pb::write::Operation::Update(doc)),
            update_mask: None,
            update_transforms: transforms,
            current_document: precondition.into_pb(),
        })
    }

    /// A delete of `task_id` from `pile`, only if unchanged since `seen`.
    pub fn delete_write(&self, pile: Pile, task_id: &str, seen: Timestamp) -> pb::Write {
        pb::Write {
            operation: Some(pb::write::Operation::Delete(self.name(&pile.doc(task_id)))),
            current_document: Precondition::UpdatedAt(seen).into_pb(),
            ..Default::default()
        }
    }

    /// Creates a new task in the pile of its status. Fails with
    /// `Conflict` if that pile holds the id (fresh uuids never collide; the
    /// precondition is there for replays).
    ///
    /// A create that Firestore did not answer (a timeout, or a call the
    /// emulator drops under load with CANCELLED) may still have landed, and
    /// an agent may already have claimed it and moved it out of the queued
    /// pile. So before trying again, look for the task in every pile: found
    /// means it landed. Blindly repeating the create would make the task a
    /// second time once it has left the queue, since its precondition
    /// (nothing at this id) is per pile. A conflict with nothing there is
    /// the emulator's lock timeout (ABORTED), and is tried again too. A few
    /// tries over a few seconds.
    ///
    /// One window stays open, and Firestore offers no way to close it: a
    /// first attempt the server holds past a later one that created the
    /// task, and applies only after the task has left the queue.
    pub async fn create_task(&self, task: &Task) -> Result<()> {
        self.create_task_with(task, Vec::new()).await
    }

    /// The writes that create a new task (validated first), which the
    /// rules judge as a new task: every path that makes a task uses them,
    /// so whatever a new task must commit with is added here, once.
    pub fn new_task_writes(&self, task: &Task) -> Result<Vec<pb::Write>> {
        task.validate_new()?;
        self.new_task_writes_at(task, quota::minute(crate::model::now()))
    }

    /// [`Store::new_task_writes`] paying into the quota window of `minute`:
    /// a signed-in caller's new task commits with a write to its window
    /// (firestore.rules `withinQuota`); admins pay nothing.
    fn new_task_writes_at(&self, task: &Task, minute: i64) -> Result<Vec<pb::Write>> {
        task.validate_new()?;
        let mut writes = vec![self.task_write(task, Precondition::Missing, true)?];
        if let Some(p) = self.payer() {
            writes.push(quota::write(self, &p, minute, &task.task_id)?);
        }
        Ok(writes)
    }

    /// [`Store::create_task`] with `extra` writes in the same commit, all
    /// or nothing (a restore deletes the quarantine record it replaces).
    /// The writes are made afresh for each try, so the quota window is the
    /// one of the minute the try is sent in.
    pub async fn create_task_with(&self, task: &Task, extra: Vec<pb::Write>) -> Result<()> {
        let writes = |minute: i64| -> Result<Vec<pb::Write>> {
            let mut w = self.new_task_writes_at(task, minute)?;
            w.extend_from_slice(&extra);
            Ok(w)
        };
        // Bad input fails here, before anything is sent.
        writes(0)?;
        let mut backoff = backon::BackoffBuilder::build(
            backon::ExponentialBuilder::default()
                .with_min_delay(std::time::Duration::from_millis(200))
                .with_max_delay(std::time::Duration::from_secs(2))
                .with_max_times(4)
                .with_jitter(),
        );
        let mut uncertain = false;
        loop {
            let minute = quota::minute(crate::model::now());
            let err = match self
                .create_once(task, &writes(minute)?, minute, uncertain)
                .await
            {
                Ok(()) => return Ok(()),
                Err(Attempt::Final(e)) => return Err(e),
                Err(Attempt::Retry {
                    error,
                    landed_maybe,
                }) => {
                    uncertain |= landed_maybe;
                    error
                }
            };
            match backoff.next() {
                Some(wait) => {
                    tracing::debug!(task = %task.task_id, error = %err, ?wait, "create failed; retrying");
                    tokio::time::sleep(wait).await;
                }
                None => return Err(err),
            }
        }
    }

    /// One try of [`Store::create_task`]; after an unanswered try
    /// (`uncertain`), it first looks for the task. A signed-in `payer`
    /// pays into its quota window of this minute in the same commit; a
    /// refusal that straddled a minute's end is tried again (the rules
    /// judge the window by the server's minute).
    async fn create_once(
        &self,
        task: &Task,
        writes: &[pb::Write],
        minute: i64,
        uncertain: bool,
    ) -> std::result::Result<(), Attempt> {
        let retry = |error: Error, landed_maybe: bool| Attempt::Retry {
            error,
            landed_maybe,
        };
        if uncertain {
            match self.find_task(&task.task_id).await {
                Ok(Some(_)) => return Ok(()),
                Ok(None) => {}
                Err(e) if e.is_transient() => return Err(retry(e, false)),
                Err(e) => return Err(Attempt::Final(e)),
            }
        }
        let payer = self.payer();
        match self.commit(writes.to_vec()).await {
            Ok(_) => Ok(()),
            Err(e @ Error::PermissionDenied(_)) => match payer {
                Some(_) if quota::minute(crate::model::now()) != minute => Err(retry(e, false)),
                Some(p) => Err(Attempt::Final(quota::explain(self, &p, minute, e).await)),
                None => Err(Attempt::Final(e)),
            },
            Err(e) if e.is_conflict() => match self.find_task(&task.task_id).await {
                // An unanswered try landed since we looked.
                Ok(Some(_)) if uncertain => Ok(()),
                // Someone else's task has this id.
                Ok(Some(_)) => Err(Attempt::Final(e)),
                Ok(None) => Err(retry(e, false)),
                Err(read) if read.is_transient() => Err(retry(read, false)),
                Err(read) => Err(Attempt::Final(read)),
            },
            Err(e) if e.is_transient() => Err(retry(e, true)),
            Err(e) => Err(Attempt::Final(e)),
        }
    }

    /// Writes `new` over `seen` in one commit: in place when the status
    /// keeps it in the same pile, else as a move (delete + create). Only if
    /// nobody wrote the task since `seen` was read. `extra` writes (log
    /// lines, say) commit with it, all or nothing. Returns the new version.
    ///
    /// `path` is the status steps the write takes (empty when the status
    /// stays); it is checked against the state machine and must end at
    /// `new.status`.
    pub async fn replace_task(
        &self,
        seen: &Versioned<Task>,
        new: &Task,
        path: &[Status],
        extra: Vec<pb::Write>,
    ) -> Result<Versioned<Task>> {
        crate::lifecycle::check_path(seen.value.status, path)?;
        let end = path.last().copied().unwrap_or(seen.value.status);
        if end != new.status {
            return Err(Error::Firestore(format!(
                "bug: the path ends at {end} but the task says {}",
                new.status
            )));
        }
        let to = Pile::of(new.status);
        let mut writes = Vec::with_capacity(2 + extra.len());
        let task_index;
        if to == seen.pile {
            task_index = 0;
            writes.push(self.task_write(new, Precondition::UpdatedAt(seen.update_time), false)?);
        } else {
            writes.push(self.delete_write(seen.pile, &new.task_id, seen.update_time));
            task_index = 1;
            writes.push(self.task_write(new, Precondition::Missing, false)?);
        }
        writes.extend(extra);
        let resp = self.commit(writes).await?;
        let update_time = resp
            .write_results
            .get(task_index)
            .and_then(|r| r.update_time)
            .or(resp.commit_time)
            .unwrap_or_default();
        let mut value = new.clone();
        // The server set updated_at to the commit's request time.
        value.updated_at = resp
            .commit_time
            .and_then(|t| Time::from_parts(t.seconds, t.nanos))
            .or(value.updated_at);
        Ok(Versioned {
            value,
            pile: to,
            update_time,
        })
    }

    /// Finds a task in whichever pile holds it: one batch get of the three
    /// possible documents.
    pub async fn find_task(&self, task_id: &str) -> Result<Option<Versioned<Task>>> {
        let names: Vec<String> = Pile::ALL
            .iter()
            .map(|p| self.name(&p.doc(task_id)))
            .collect();
        let docs = self.batch_get(names).await?;
        match docs.into_iter().flatten().next() {
            Some(doc) => {
                let pile = pile_of_name(&doc.name).unwrap_or(Pile::Queued);
                Self::decode_versioned(&doc, pile).map(Some)
            }
            None => Ok(None),
        }
    }

    /// Gets documents by full name; `None` for the missing ones, in order.
    pub async fn batch_get(&self, names: Vec<String>) -> Result<Vec<Option<pb::Document>>> {
        use futures::StreamExt;
        let n = names.len();
        OpCounters::add(&self.counters.polling_reads, n as u64);
        let request = pb::BatchGetDocumentsRequest {
            database: self.database().to_string(),
            documents: names.clone(),
            ..Default::default()
        };
        self.read_retrying(|| async {
            let mut stream = self
                .db
                .client()
                .get()
                .batch_get_documents(request.clone())
                .await?
                .into_inner();
            let mut found = std::collections::HashMap::new();
            while let Some(item) = stream.next().await {
                if let Some(pb::batch_get_documents_response::Result::Found(doc)) = item?.result {
                    found.insert(doc.name.clone(), doc);
                }
            }
            Ok(names.iter().map(|n| found.remove(n)).collect())
        })
        .await
    }

    /// Runs one read, again if the server dropped it. Under load the
    /// emulator sometimes answers CANCELLED ("call already cancelled") to a
    /// call this client never cancelled; a read is safe to repeat, so two
    /// more quick tries. (Commits are not repeated here: whether a dropped
    /// commit landed is the caller's question, see `create_task`.) Each
    /// try has its own timeout.
    async fn read_retrying<T, F, Fut>(&self, read: F) -> Result<T>
    where
        F: Fn() -> Fut,
        Fut: std::future::Future<Output = std::result::Result<T, tonic::Status>>,
    {
        let mut tries = 0u32;
        loop {
            tries += 1;
            match tokio::time::timeout(self.timeout, read()).await {
                Err(_) => return Err(self.timed_out()),
                Ok(Ok(v)) => return Ok(v),
                Ok(Err(status)) if status.code() == tonic::Code::Cancelled && tries < 3 => {
                    tracing::debug!(%status, tries, "a read was dropped; trying again");
                    tokio::time::sleep(std::time::Duration::from_millis(50 * u64::from(tries)))
                        .await;
                }
                Ok(Err(status)) => return Err(self.map_status(status)),
            }
        }
    }

    /// Runs a query on `collection` under `parent` (a relative path).
    pub async fn run_query(
        &self,
        parent: &str,
        collection: &str,
        filter: Option<sq::Filter>,
        order: Vec<sq::Order>,
        limit: Option<i32>,
    ) -> Result<Vec<pb::Document>> {
        use futures::StreamExt;
        let query = pb::StructuredQuery {
            from: vec![sq::CollectionSelector {
                collection_id: collection.into(),
                all_descendants: false,
            }],
            r#where: filter,
            order_by: order,
            limit,
            ..Default::default()
        };
        let parent = if parent.is_empty() {
            self.db.get_documents_path().clone()
        } else {
            self.name(parent)
        };
        let request = pb::RunQueryRequest {
            parent,
            query_type: Some(pb::run_query_request::QueryType::StructuredQuery(query)),
            ..Default::default()
        };
        let docs = self
            .read_retrying(|| async {
                let mut stream = self
                    .db
                    .client()
                    .get()
                    .run_query(request.clone())
                    .await?
                    .into_inner();
                let mut docs = Vec::new();
                while let Some(item) = stream.next().await {
                    if let Some(doc) = item?.document {
                        docs.push(doc);
                    }
                }
                Ok(docs)
            })
            .await?;
        // Firestore bills an empty result as one read.
        OpCounters::add(&self.counters.polling_reads, docs.len().max(1) as u64);
        Ok(docs)
    }

    /// Tasks in `pile`, optionally of one status, oldest first, parsed;
    /// malformed ones are returned as errors beside the good ones.
    pub async fn list_pile(
        &self,
        pile: Pile,
        status: Option<Status>,
        limit: Option<i32>,
    ) -> Result<Vec<Result<Versioned<Task>>>> {
        let filter = status.map(|s| field_eq("status", string_value(s.as_str())));
        let docs = self
            .run_query(&pile.parent(), pile.collection_id(), filter, vec![], limit)
            .await?;
        let mut out: Vec<_> = docs
            .iter()
            .map(|d| Self::decode_versioned(d, pile))
            .collect();
        out.sort_by_key(|r| match r {
            Ok(v) => (
                v.value
                    .created_at
                    .map(|t| t.0.as_microsecond())
                    .unwrap_or(i64::MAX),
                v.value.task_id.clone(),
            ),
            Err(_) => (i64::MAX, String::new()),
        });
        Ok(out)
    }

    /// Tasks of `status` wherever they live.
    pub async fn list_tasks(
        &self,
        status: Option<Status>,
        limit: Option<i32>,
    ) -> Result<Vec<Result<Versioned<Task>>>> {
        let piles: Vec<Pile> = match status {
            Some(s) => vec![Pile::of(s)],
            None => Pile::ALL.to_vec(),
        };
        let mut out = Vec::new();
        for pile in piles {
            out.extend(self.list_pile(pile, status, limit).await?);
        }
        Ok(out)
    }

    /// Creates or replaces `agents/{id}`.
    pub async fn put_agent(&self, agent: &AgentDoc) -> Result<()> {
        let doc = self.encode(&layout::agent_doc(&agent.agent_id), agent)?;
        let write = pb::Write {
            operation: Some(pb::write::Operation::Update(doc)),
            update_transforms: vec![server_time("last_heartbeat")],
            ..Default::default()
        };
        self.commit(vec![write]).await?;
        OpCounters::add(&self.counters.presence_writes, 1);
        Ok(())
    }

    /// Marks a peer's document offline, only if it is still the version
    /// `seen` (so of the agents that notice a death, one writes). Touches
    /// nothing but `status`.
    pub async fn mark_agent_offline(&self, seen: &pb::Document) -> Result<()> {
        let mut fields = std::collections::HashMap::new();
        fields.insert("status".to_string(), string_value("offline"));
        let write = pb::Write {
            operation: Some(pb::write::Operation::Update(pb::Document {
                name: seen.name.clone(),
                fields,
                ..Default::default()
            })),
            update_mask: Some(pb::DocumentMask {
                field_paths: vec!["status".into()],
            }),
            current_document: seen
                .update_time
                .map(Precondition::UpdatedAt)
                .and_then(Precondition::into_pb),
            ..Default::default()
        };
        self.commit(vec![write]).await?;
        OpCounters::add(&self.counters.presence_writes, 1);
        Ok(())
    }

    /// Moves a queued document that does not parse to `quarantine/{id}`,
    /// keeping its fields as they were and saying why. Conditional on the
    /// version seen: a fixed document is not quarantined.
    pub async fn quarantine(&self, doc: &pb::Document, reason: &str, by: &str) -> Result<()> {
        let id = doc.name.rsplit('/').next().unwrap_or_default().to_string();
        // The rules judge only the part named broken (a whole task does
        // not fit one request's expression budget).
        let Some(part) = defect(doc) else {
            return Err(Error::Malformed {
                name: doc.name.clone(),
                reason: format!(
                    "{reason}; but no part the rules judge is broken, so it cannot be quarantined"
                ),
            });
        };
        let pile = pile_of_name(&doc.name).unwrap_or(Pile::Queued);
        let s = |v: &str| string_value(v);
        let mut fields = std::collections::HashMap::new();
        fields.insert("task_id".to_string(), s(&id));
        fields.insert(
            "reason".to_string(),
            s(&reason.chars().take(2_000).collect::<String>()),
        );
        fields.insert("quarantined_by".to_string(), s(by));
        fields.insert("defect".to_string(), s(part.as_str()));
        fields.insert("original_path".to_string(), s(&pile.doc(&id)));
        fields.insert(
            "document".to_string(),
            pb::Value {
                value_type: Some(pb::value::ValueType::MapValue(pb::MapValue {
                    fields: doc.fields.clone(),
                })),
            },
        );
        let create = pb::Write {
            operation: Some(pb::write::Operation::Update(pb::Document {
                name: self.name(&layout::quarantine_doc(&id)),
                fields,
                ..Default::default()
            })),
            update_transforms: vec![server_time("quarantined_at")],
            current_document: Precondition::Missing.into_pb(),
            ..Default::default()
        };
        let delete = pb::Write {
            operation: Some(pb::write::Operation::Delete(doc.name.clone())),
            current_document: doc
                .update_time
                .map(Precondition::UpdatedAt)
                .and_then(Precondition::into_pb),
            ..Default::default()
        };
        self.commit(vec![delete, create]).await?;
        Ok(())
    }

    pub async fn list_agents(&self) -> Result<Vec<AgentDoc>> {
        let docs = self
            .run_query("", layout::AGENTS, None, vec![], None)
            .await?;
        docs.iter()
            .map(|d| {
                FirestoreDb::deserialize_doc_to::<AgentDoc>(d).map_err(|e| Error::Malformed {
                    name: d.name.clone(),
                    reason: e.to_string(),
                })
            })
            .collect()
    }

    pub async fn get_agent(&self, agent_id: &str) -> Result<Option<AgentDoc>> {
        let docs = self
            .batch_get(vec![self.name(&layout::agent_doc(agent_id))])
            .await?;
        match docs.into_iter().next().flatten() {
            Some(d) => FirestoreDb::deserialize_doc_to::<AgentDoc>(&d)
                .map(Some)
                .map_err(|e| Error::Malformed {
                    name: d.name.clone(),
                    reason: e.to_string(),
                }),
            None => Ok(None),
        }
    }
}

use crate::model::Time;

/// How one try of a create ended, when it did not create the task.
enum Attempt {
    /// Try again; `landed_maybe` if Firestore did not answer, so the try
    /// may have created the task.
    Retry {
        error: Error,
        landed_maybe: bool,
    },
    Final(Error),
}

/// A write's condition on the current document.
#[derive(Clone, Copy, Debug)]
pub enum Precondition {
    None,
    /// The document must not exist (a create).
    Missing,
    /// The document must exist, whatever its version.
    Exists,
    /// The document must be exactly the version read (compare-and-set).
    UpdatedAt(Timestamp),
}

impl Precondition {
    pub fn into_pb(self) -> Option<pb::Precondition> {
        use pb::precondition::ConditionType;
        let c = match self {
            Precondition::None => return None,
            Precondition::Missing => ConditionType::Exists(false),
            Precondition::Exists => ConditionType::Exists(true),
            Precondition::UpdatedAt(t) => ConditionType::UpdateTime(t),
        };
        Some(pb::Precondition {
            condition_type: Some(c),
        })
    }
}

/// A field set to the commit's time by the server.
pub fn server_time(field: &str) -> pb::document_transform::FieldTransform {
    pb::document_transform::FieldTransform {
        field_path: field.into(),
        transform_type: Some(TransformType::SetToServerValue(
            ServerValue::RequestTime as i32,
        )),
    }
}

/// A core [`Time`](crate::model::Time) as a protobuf timestamp (the core
/// knows no protobuf).
pub fn pb_time(t: crate::model::Time) -> Timestamp {
    Timestamp {
        seconds: t.0.as_second(),
        nanos: t.0.subsec_nanosecond(),
    }
}

pub fn string_value(s: &str) -> pb::Value {
    pb::Value {
        value_type: Some(pb::value::ValueType::StringValue(s.into())),
    }
}

/// `field == value`.
pub fn field_eq(field: &str, value: pb::Value) -> sq::Filter {
    field_op(field, sq::field_filter::Operator::Equal, value)
}

/// `field <op> value`.
pub fn field_op(field: &str, op: sq::field_filter::Operator, value: pb::Value) -> sq::Filter {
    sq::Filter {
        filter_type: Some(sq::filter::FilterType::FieldFilter(sq::FieldFilter {
            field: Some(sq::FieldReference {
                field_path: field.into(),
            }),
            op: op as i32,
            value: Some(value),
        })),
    }
}

/// `field in [values]`.
pub fn field_in(field: &str, values: &[&str]) -> sq::Filter {
    let array = pb::Value {
        value_type: Some(pb::value::ValueType::ArrayValue(pb::ArrayValue {
            values: values.iter().map(|v| string_value(v)).collect(),
        })),
    };
    field_op(field, sq::field_filter::Operator::In, array)
}

/// `field in [values]` for integers.
pub fn field_in_ints(field: &str, values: &[i64]) -> sq::Filter {
    let array = pb::Value {
        value_type: Some(pb::value::ValueType::ArrayValue(pb::ArrayValue {
            values: values
                .iter()
                .map(|v| pb::Value {
                    value_type: Some(pb::value::ValueType::IntegerValue(*v)),
                })
                .collect(),
        })),
    };
    field_op(field, sq::field_filter::Operator::In, array)
}

/// All of `filters` (one filter stays as it is).
pub fn all_of(mut filters: Vec<sq::Filter>) -> Option<sq::Filter> {
    match filters.len() {
        0 => None,
        1 => filters.pop(),
        _ => Some(sq::Filter {
            filter_type: Some(sq::filter::FilterType::CompositeFilter(
                sq::CompositeFilter {
                    op: sq::composite_filter::Operator::And as i32,
                    filters,
                },
            )),
        }),
    }
}

/// Which pile a full document name is in.
pub fn pile_of_name(name: &str) -> Option<Pile> {
    let mut parts = name.rsplit('/');
    let _id = parts.next()?;
    let collection = Pile::of_collection_id(parts.next()?)?;
    (parts.next()? == collection.as_str()).then_some(collection)
}
