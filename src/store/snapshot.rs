//! The two bulk RPCs `vayu backup` and `vayu restore` need (`crate::backup`):
//! a query read at one fixed time, and writes applied independently.

use super::Store;
use crate::error::Result;
use crate::metrics::OpCounters;
use firestore::gcloud_sdk::google::firestore::v1 as pb;
use firestore::gcloud_sdk::prost_types::Timestamp;

impl Store {
    /// Runs `query` under `parent` (relative, `""` for the root) as of
    /// `read_time`, or as of now when `None`; returns the documents and the
    /// time they were read at, so that a caller can read its next page at
    /// that same time and see one consistent database.
    pub async fn run_query_at(
        &self,
        parent: &str,
        query: pb::StructuredQuery,
        read_time: Option<Timestamp>,
    ) -> Result<(Vec<pb::Document>, Option<Timestamp>)> {
        let parent = if parent.is_empty() {
            self.db().get_documents_path().clone()
        } else {
            self.name(parent)
        };
        let request = pb::RunQueryRequest {
            parent,
            query_type: Some(pb::run_query_request::QueryType::StructuredQuery(query)),
            consistency_selector: read_time
                .map(pb::run_query_request::ConsistencySelector::ReadTime),
            ..Default::default()
        };
        self.run_request(request).await
    }

    /// Applies `writes` with one `BatchWrite` RPC: each on its own, not
    /// atomically, which is what a bulk load wants (a commit would fail
    /// all 500 for one bad write, and holds them to one transaction's
    /// limits). Returns each write's failure, `None` for the ones that
    /// were applied, in order.
    ///
    /// Not repeated on a dropped call: whether to write again is the
    /// caller's choice (a restore's writes are idempotent, so it may).
    pub async fn batch_write(&self, writes: Vec<pb::Write>) -> Result<Vec<Option<String>>> {
        let n = writes.len();
        OpCounters::add(&self.counters().commits, 1);
        let request = pb::BatchWriteRequest {
            database: self.database().to_string(),
            writes,
            ..Default::default()
        };
        let mut client = self.db().client().get();
        let response = tokio::time::timeout(self.timeout, client.batch_write(request))
            .await
            .map_err(|_| self.timed_out())?
            .map_err(|status| self.map_status(status))?
            .into_inner();
        let failures: Vec<Option<String>> = (0..n)
            .map(|i| match response.status.get(i) {
                // Code 0 is OK (google.rpc.Code).
                Some(s) if s.code == 0 => None,
                Some(s) => Some(format!("code {}: {}", s.code, s.message)),
                None => Some("the server gave no status for this write".into()),
            })
            .collect();
        let applied = failures.iter().filter(|f| f.is_none()).count();
        OpCounters::add(&self.counters().writes, applied as u64);
        Ok(failures)
    }
}
