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

mod agents;
mod config;
mod count;
mod defect;
mod drafts;
mod events;
mod presence;
mod quarantining;
pub mod quota;
mod reviews;
mod snapshot;
mod status;
mod tasks;
mod teams;
mod values;
mod workflows;

pub use config::{DEFAULT_DATABASE, DEFAULT_EMULATOR_PROJECT, StoreConfig};
pub use values::*;
pub use workflows::{SeenRun, newest_first};

pub use defect::defect;
pub use status::map_code;

use crate::auth::SharedToken;
use crate::error::{Error, Result};
use crate::layout::Pile;
use crate::metrics::OpCounters;
use firestore::gcloud_sdk::google::firestore::v1 as pb;
use firestore::gcloud_sdk::prost_types::Timestamp;
use firestore::gcloud_sdk::tonic;
use firestore::{FirestoreDb, FirestoreDbOptions};
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
        map_code(status.code(), status.message(), &self.endpoint)
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

    /// Decodes a document read from Firestore as `T`; one that does not
    /// parse is [`Error::Malformed`], naming it.
    pub fn decode<T: serde::de::DeserializeOwned>(doc: &pb::Document) -> Result<T> {
        FirestoreDb::deserialize_doc_to::<T>(doc).map_err(|e| Error::Malformed {
            name: doc.name.clone(),
            reason: e.to_string(),
        })
    }

    /// Gets the one document at `rel`, if it exists (one read).
    pub async fn get_doc(&self, rel: &str) -> Result<Option<pb::Document>> {
        let found = self.batch_get(vec![self.name(rel)]).await?;
        Ok(found.into_iter().flatten().next())
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

    /// Runs one read, again if the server dropped it or left it unanswered
    /// once. Under load the emulator sometimes answers CANCELLED ("call
    /// already cancelled") to a call this client never cancelled; a read
    /// is safe to repeat, so two more quick tries. (Commits are not
    /// repeated here: whether a dropped commit landed is the caller's
    /// question, see `create_task`.) Each try has its own timeout.
    async fn read_retrying<T, F, Fut>(&self, read: F) -> Result<T>
    where
        F: Fn() -> Fut,
        Fut: std::future::Future<Output = std::result::Result<T, tonic::Status>>,
    {
        let mut tries = 0u32;
        loop {
            tries += 1;
            match tokio::time::timeout(self.timeout, read()).await {
                // One read left unanswered (CI saw the emulator answer
                // nothing for 10 s, twice in one run) is asked once more;
                // a server still silent after that is down.
                Err(_) if tries < 2 => {
                    tracing::debug!(tries, "a read was not answered in time; trying again");
                }
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
        self.run_structured(parent, query).await
    }

    /// Runs a listener's query once (`parent` a full resource name): an
    /// agent pages through a backlog with the query its listener follows
    /// when it keeps up (`agent/queue.rs`).
    pub async fn run_spec(&self, spec: &crate::listen::QuerySpec) -> Result<Vec<pb::Document>> {
        self.run_structured(spec.parent.clone(), spec.structured_query())
            .await
    }

    async fn run_structured(
        &self,
        parent: String,
        query: pb::StructuredQuery,
    ) -> Result<Vec<pb::Document>> {
        let request = pb::RunQueryRequest {
            parent,
            query_type: Some(pb::run_query_request::QueryType::StructuredQuery(query)),
            ..Default::default()
        };
        Ok(self.run_request(request).await?.0)
    }

    /// Runs a query request: its documents, and the time the server read
    /// them at (`None` only if it sent no response at all).
    async fn run_request(
        &self,
        request: pb::RunQueryRequest,
    ) -> Result<(Vec<pb::Document>, Option<Timestamp>)> {
        use futures::StreamExt;
        let (docs, read_time) = self
            .read_retrying(|| async {
                let mut stream = self
                    .db
                    .client()
                    .get()
                    .run_query(request.clone())
                    .await?
                    .into_inner();
                let (mut docs, mut read_time) = (Vec::new(), None);
                while let Some(item) = stream.next().await {
                    let item = item?;
                    read_time = read_time.or(item.read_time);
                    if let Some(doc) = item.document {
                        docs.push(doc);
                    }
                }
                Ok((docs, read_time))
            })
            .await?;
        // Firestore bills an empty result as one read.
        OpCounters::add(&self.counters.polling_reads, docs.len().max(1) as u64);
        Ok((docs, read_time))
    }
}
