//! Review verdicts (`reviews/{task_id}_{round}_{kind}`) and the project's
//! review defaults (`config/review`).

use super::{Precondition, Store, server_time};
use crate::error::{Error, Result};
use crate::layout;
use crate::review::{Rating, ReviewDefaults, ReviewKind, ReviewPolicy, VerdictRecord, verdict_id};
use firestore::FirestoreDb;
use firestore::gcloud_sdk::google::firestore::v1 as pb;

impl Store {
    /// The write that records a verdict: a create (a second verdict of a
    /// kind in a round fails here, and the rules refuse it anyway), at the
    /// server's time. Committed with the task's move when it decides the
    /// round, alone when it does not.
    pub fn verdict_write(&self, v: &VerdictRecord) -> Result<pb::Write> {
        self.create_stamped(&self.verdict_rel(&v.task_id, v.round, v.kind), v)
    }

    fn verdict_rel(&self, task_id: &str, round: i64, kind: ReviewKind) -> String {
        format!("{}/{}", layout::REVIEWS, verdict_id(task_id, round, kind))
    }

    /// The full name of a verdict document, for batch gets.
    pub fn verdict_name(&self, task_id: &str, round: i64, kind: ReviewKind) -> String {
        self.name(&self.verdict_rel(task_id, round, kind))
    }

    /// A create of `value` at `rel` (only if absent) whose `at` is the
    /// server's time: how verdicts and ratings, each given once, are
    /// written.
    fn create_stamped<T: serde::Serialize>(&self, rel: &str, value: &T) -> Result<pb::Write> {
        Ok(pb::Write {
            operation: Some(pb::write::Operation::Update(self.encode(rel, value)?)),
            update_transforms: vec![server_time("at")],
            current_document: Precondition::Missing.into_pb(),
            ..Default::default()
        })
    }

    /// The verdicts given so far in round `round` of a task, for the kinds
    /// `policy` needs: one batch get of at most four documents.
    pub async fn round_verdicts(
        &self,
        task_id: &str,
        round: i64,
        policy: ReviewPolicy,
    ) -> Result<Vec<VerdictRecord>> {
        self.verdicts(task_id, round..=round, policy).await
    }

    /// The verdicts of every round in `rounds`, oldest first: one batch get
    /// (rounds are at most 11, kinds 4).
    pub async fn verdicts(
        &self,
        task_id: &str,
        rounds: std::ops::RangeInclusive<i64>,
        policy: ReviewPolicy,
    ) -> Result<Vec<VerdictRecord>> {
        let names: Vec<String> = (rounds.flat_map(|r| policy.kinds().map(move |k| (r, k))))
            .map(|(r, k)| self.verdict_name(task_id, r, k))
            .collect();
        if names.is_empty() {
            return Ok(vec![]);
        }
        let docs = self.batch_get(names).await?;
        docs.iter().flatten().map(Store::decode).collect()
    }

    /// The write that records a rating: a create, at the server's time (a
    /// task is rated once).
    pub fn rating_write(&self, r: &Rating) -> Result<pb::Write> {
        self.create_stamped(&Self::rating_rel(&r.task_id), r)
    }

    fn rating_rel(task_id: &str) -> String {
        format!("{}/{task_id}", layout::RATINGS)
    }

    /// Whether task `task_id` is rated already.
    pub async fn is_rated(&self, task_id: &str) -> Result<bool> {
        let name = self.name(&Self::rating_rel(task_id));
        Ok(self
            .batch_get(vec![name])
            .await?
            .into_iter()
            .flatten()
            .next()
            .is_some())
    }

    /// Every rating, for `vayu stats` (one document a rated task).
    pub async fn list_ratings(&self) -> Result<Vec<Rating>> {
        let docs = self
            .run_query("", layout::RATINGS, None, vec![], None)
            .await?;
        docs.iter().map(Store::decode).collect()
    }

    /// The project's review defaults from `config/review`; the built-in
    /// `none` everywhere when there is none. A document that does not
    /// parse is a configuration error, not a silent `none`: a project that
    /// asked for review must not lose it to a typo.
    pub async fn review_defaults(&self) -> Result<ReviewDefaults> {
        match self.get_doc(layout::REVIEW_CONFIG).await? {
            None => Ok(ReviewDefaults::default()),
            Some(doc) => FirestoreDb::deserialize_doc_to::<ReviewDefaults>(&doc).map_err(|e| {
                Error::Config(format!(
                    "{} does not parse ({e}); expected by_type and by_priority maps of policies such as \"peer+user\"",
                    layout::REVIEW_CONFIG
                ))
            }),
        }
    }
}
