//! `COUNT(*)` aggregations: how many documents a query matches, billed as
//! one read per 1,000 index entries rather than one per document. The
//! sweep for drafts typed into the console (`agent::intake`) compares two
//! counts every few seconds instead of reading the queue.

use super::{Store, sq};
use crate::error::Result;
use crate::metrics::OpCounters;
use firestore::gcloud_sdk::google::firestore::v1 as pb;
use firestore::gcloud_sdk::prost_types::Timestamp;
use pb::structured_aggregation_query::{Aggregation, aggregation};

impl Store {
    /// How many documents of `collection` under `parent` (relative to the
    /// database, as in [`Store::run_query`]) match `filter`, as of
    /// `read_time` when given (two counts compared must see one moment).
    pub async fn count(
        &self,
        parent: &str,
        collection: &str,
        filter: Option<sq::Filter>,
        read_time: Option<Timestamp>,
    ) -> Result<i64> {
        use futures::StreamExt;
        let query = pb::StructuredQuery {
            from: vec![sq::CollectionSelector {
                collection_id: collection.into(),
                all_descendants: false,
            }],
            r#where: filter,
            ..Default::default()
        };
        let request = pb::RunAggregationQueryRequest {
            parent: self.name(parent),
            query_type: Some(
                pb::run_aggregation_query_request::QueryType::StructuredAggregationQuery(
                    pb::StructuredAggregationQuery {
                        aggregations: vec![Aggregation {
                            alias: "n".into(),
                            operator: Some(aggregation::Operator::Count(aggregation::Count {
                                up_to: None,
                            })),
                        }],
                        query_type: Some(
                            pb::structured_aggregation_query::QueryType::StructuredQuery(query),
                        ),
                    },
                ),
            ),
            consistency_selector: read_time
                .map(pb::run_aggregation_query_request::ConsistencySelector::ReadTime),
            ..Default::default()
        };
        let n = self
            .read_retrying(|| async {
                let mut stream = self
                    .db
                    .client()
                    .get()
                    .run_aggregation_query(request.clone())
                    .await?
                    .into_inner();
                let mut n = 0;
                while let Some(item) = stream.next().await {
                    let counted = item?
                        .result
                        .and_then(|r| r.aggregate_fields.get("n").cloned())
                        .and_then(|v| v.value_type);
                    if let Some(pb::value::ValueType::IntegerValue(c)) = counted {
                        n = c;
                    }
                }
                Ok(n)
            })
            .await?;
        // One read per 1,000 index entries, at least one.
        OpCounters::add(&self.counters.polling_reads, (n as u64 / 1000).max(1));
        Ok(n)
    }
}
