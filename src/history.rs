//! Learning from history at the edge: `agents/{agent_id}/metrics/{type}`,
//! one [`Stats`] document per task type, written by that agent alone (the
//! rules' `isAgentMetrics`). What the numbers mean and how a run moves
//! them is [`crate::assign::history`]'s.
//!
//! Costs:
//! - per run's end: at most one write per type a second ([`WRITE_GAP`]),
//!   after the end was recorded, in a spawned task that nothing waits
//!   for; plus one read per type the first time
//!   this agent process ends a run of that type (afterwards it keeps its
//!   own copy, since nobody else writes the document);
//! - `vayu task create` without `--estimate`: one query of the agents
//!   (a read each) and one batched get of the capable agents' documents
//!   for the type (a read each, a missing one included);
//! - `vayu agent workload`: one query, a read per type the agent ran;
//! - a review that passes a task with a score: one read and one write, by
//!   the reviewer, into the executor's quality fields ([`fold_quality`]).

use crate::assign::Offer;
use crate::assign::history::{Sample, Stats, estimate, timeout_for_estimate};
use crate::error::{Error, Result};
use crate::layout;
use crate::model::{Task, TaskType};
use crate::store::{Precondition, Store, server_time};
use crate::tasks::NewTask;
use firestore::gcloud_sdk::google::firestore::v1 as pb;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use tokio::sync::Mutex;
use tokio::time::Instant;

/// The fields the agent itself writes; the quality fields are the
/// reviewer's ([`fold_quality`]), so neither write loses the other's.
const OWN_FIELDS: [&str; 6] = [
    "agent_id",
    "task_type",
    "completed",
    "failed",
    "retries",
    "duration_ewma",
];
const QUALITY_FIELDS: [&str; 3] = ["quality_ewma", "quality_n", "last_quality_task"];

/// The write of `stats`' `fields` at its document (the rest kept), stamped
/// with the server's time; a missing document is created.
fn masked_write(
    store: &Store,
    stats: &Stats,
    fields: &[&str],
    precondition: Precondition,
) -> Result<pb::Write> {
    let rel = layout::agent_metrics_doc(&stats.agent_id, stats.task_type);
    Ok(pb::Write {
        operation: Some(pb::write::Operation::Update(store.encode(&rel, stats)?)),
        update_mask: Some(pb::DocumentMask {
            field_paths: fields.iter().map(|f| f.to_string()).collect(),
        }),
        update_transforms: vec![server_time("updated_at")],
        current_document: precondition.into_pb(),
    })
}

/// The agent's own write of `stats` (its counts and duration).
pub fn write(store: &Store, stats: &Stats) -> Result<pb::Write> {
    masked_write(store, stats, &OWN_FIELDS, Precondition::None)
}

/// Folds the review score `quality` of `task_id`, which `executor` ran
/// and the caller just passed, into the executor's statistics for
/// `task_type` (`Stats::with_quality`). The rules let the task's deciding
/// reviewer make this one write (`isQualityFold`, 1 read). A read and a
/// conditional write; `false` when there was nothing to fold into (the
/// executor has recorded no run of the type yet) or it was folded before.
pub async fn fold_quality(
    store: &Store,
    executor: &str,
    task_type: TaskType,
    task_id: &str,
    quality: f64,
) -> Result<bool> {
    let rel = layout::agent_metrics_doc(executor, task_type);
    let Some(doc) = store.get_doc(&rel).await? else {
        return Ok(false);
    };
    let current: Stats = Store::decode(&doc)?;
    let Some(next) = current.with_quality(task_id, quality) else {
        return Ok(false);
    };
    let at = doc
        .update_time
        .map_or(Precondition::Exists, Precondition::UpdatedAt);
    store
        .commit(vec![masked_write(store, &next, &QUALITY_FIELDS, at)?])
        .await?;
    Ok(true)
}

/// `agent_id`'s statistics for `task_type`, if it has any.
pub async fn get(store: &Store, agent_id: &str, task_type: TaskType) -> Result<Option<Stats>> {
    let doc = store
        .get_doc(&layout::agent_metrics_doc(agent_id, task_type))
        .await?;
    doc.map(|d| Store::decode(&d)).transpose()
}

/// Every type's statistics of `agent_id`, by type name.
pub async fn of_agent(store: &Store, agent_id: &str) -> Result<Vec<Stats>> {
    let docs = store
        .run_query(
            &layout::agent_doc(agent_id),
            layout::METRICS,
            None,
            vec![],
            None,
        )
        .await?;
    let mut all: Vec<Stats> = docs.iter().map(Store::decode).collect::<Result<_>>()?;
    all.sort_by_key(|s| s.task_type.as_str());
    Ok(all)
}

/// The estimate for `task` from the history of the agents that could run
/// it (any state: an agent's past runs do not expire when it stops), in
/// minutes; `None` when none of them has run its type.
pub async fn estimate_for(store: &Store, task: &Task) -> Result<Option<f64>> {
    let agents = store.list_agents().await?;
    let names: Vec<String> = (agents.iter())
        .filter(|a| Offer::of_agent(a).could_claim(task))
        .map(|a| store.name(&layout::agent_metrics_doc(&a.agent_id, task.task_type)))
        .collect();
    if names.is_empty() {
        return Ok(None);
    }
    let docs = store.batch_get(names).await?;
    // A document that does not parse is left out of the mean, not fatal.
    let stats: Vec<Stats> = (docs.iter().flatten())
        .filter_map(|d| Store::decode(d).ok())
        .collect();
    Ok(estimate(&stats))
}

/// Fills `new`'s estimate from the history of the agents that could run
/// it ([`estimate_for`]: a query of the agents and one batched get), for a
/// task whose creator gave none. With no history it stays absent. Without
/// an explicit timeout, the timeout is set beside it, so that a history of
/// quick runs does not shorten the default hour
/// ([`timeout_for_estimate`]). An error leaves `new` as it was.
pub async fn fill_estimate(store: &Store, new: &mut NewTask) -> Result<()> {
    let mut probe = Task::new(new.task_type, new.priority, "");
    probe.requires = new.requires.clone();
    if let Some(minutes) = estimate_for(store, &probe).await? {
        new.estimated_minutes = Some(minutes);
        if new.timeout_secs.is_none() {
            new.timeout_secs = Some(timeout_for_estimate(minutes));
        }
    }
    Ok(())
}

/// At most one write of an agent's statistics for one type per second:
/// the sustained rate production Firestore allows one document. A busy
/// agent ends many runs a second; the runs that end in between are added
/// in memory and carried by the next write.
pub const WRITE_GAP: std::time::Duration = std::time::Duration::from_secs(1);

/// One agent's memory of its statistics, shared by its runners, so that
/// two runs ending at once do not both update the same stored version.
#[derive(Clone)]
pub struct Learner {
    store: Store,
    agent_id: String,
    memory: Arc<Mutex<Memory>>,
    /// Runs handed to [`Self::learn_later`] and not yet added.
    in_flight: Arc<AtomicUsize>,
}

#[derive(Default)]
struct Memory {
    known: HashMap<TaskType, Stats>,
    /// When each type was last written.
    written: HashMap<TaskType, Instant>,
    /// Types with runs not yet written, whose write is scheduled.
    pending: HashSet<TaskType>,
    /// Types whose last write failed: the next run's write, or `flush`,
    /// carries what it lost.
    failed: HashSet<TaskType>,
    /// Set by `flush`: the agent is stopping, so every run is written at
    /// once, with no gap.
    closing: bool,
}

impl Learner {
    pub fn new(store: Store, agent_id: impl Into<String>) -> Learner {
        Learner {
            store,
            agent_id: agent_id.into(),
            memory: Arc::default(),
            in_flight: Arc::default(),
        }
    }

    /// What this process already knows of its statistics for `task_type`,
    /// without a read; `None` when unknown, or while a write holds them.
    pub fn known(&self, task_type: TaskType) -> Option<Stats> {
        let memory = self.memory.try_lock().ok()?;
        memory.known.get(&task_type).cloned()
    }

    /// Adds `sample` to the statistics for `task_type`, and writes them
    /// now, or [`WRITE_GAP`] after the last write of that type.
    /// Serialised per agent (the lock is held across the write, which is
    /// one small document): the updates are not lost to each other.
    pub async fn learn(&self, task_type: TaskType, sample: Sample) -> Result<()> {
        let mut memory = self.memory.lock().await;
        let current = match memory.known.get(&task_type) {
            Some(s) => s.clone(),
            None => match get(&self.store, &self.agent_id, task_type).await {
                Ok(found) => found.unwrap_or_else(|| Stats::new(&self.agent_id, task_type)),
                // A document that does not parse (written past the rules)
                // is replaced; one that cannot be read is not guessed at.
                Err(Error::Malformed { .. }) => Stats::new(&self.agent_id, task_type),
                Err(e) => return Err(e),
            },
        };
        memory.known.insert(task_type, current.update(sample));
        if memory.pending.contains(&task_type) && !memory.closing {
            return Ok(());
        }
        let wait = (memory.written.get(&task_type))
            .map(|at| (*at + WRITE_GAP).saturating_duration_since(Instant::now()))
            .unwrap_or_default();
        if wait.is_zero() || memory.closing {
            return self.write_known(&mut memory, task_type).await;
        }
        memory.pending.insert(task_type);
        let me = self.clone();
        tokio::spawn(async move {
            tokio::time::sleep(wait).await;
            let mut memory = me.memory.lock().await;
            if memory.pending.remove(&task_type)
                && let Err(e) = me.write_known(&mut memory, task_type).await
            {
                tracing::warn!(agent = %me.agent_id, %task_type, error = %e, "could not record runs in the agent's history");
            }
        });
        Ok(())
    }

    /// Writes every type with runs not yet written: before the agent
    /// stops, so a graceful stop loses none. Runs still being added
    /// ([`Self::learn_later`]) are waited for; from now on every run is
    /// written at once.
    pub async fn flush(&self) {
        self.memory.lock().await.closing = true;
        while self.in_flight.load(Ordering::SeqCst) > 0 {
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        let mut memory = self.memory.lock().await;
        let mut unwritten = std::mem::take(&mut memory.pending);
        unwritten.extend(std::mem::take(&mut memory.failed));
        for task_type in unwritten {
            if let Err(e) = self.write_known(&mut memory, task_type).await {
                tracing::warn!(agent = %self.agent_id, %task_type, error = %e, "could not record runs in the agent's history");
            }
        }
    }

    /// Kept in memory even if the write fails: the next one carries it.
    async fn write_known(&self, memory: &mut Memory, task_type: TaskType) -> Result<()> {
        let Some(stats) = memory.known.get(&task_type) else {
            return Ok(());
        };
        let w = write(&self.store, stats)?;
        memory.written.insert(task_type, Instant::now());
        if let Err(e) = self.store.commit(vec![w]).await {
            memory.failed.insert(task_type);
            return Err(e);
        }
        memory.failed.remove(&task_type);
        Ok(())
    }

    /// [`Self::learn`] in a spawned task: the caller (a runner whose end
    /// is recorded) does not wait, and a failure is only logged.
    pub fn learn_later(&self, task_type: TaskType, sample: Sample) {
        let me = self.clone();
        self.in_flight.fetch_add(1, Ordering::SeqCst);
        tokio::spawn(async move {
            if let Err(e) = me.learn(task_type, sample).await {
                tracing::warn!(agent = %me.agent_id, %task_type, error = %e, "could not record the run in the agent's history");
            }
            me.in_flight.fetch_sub(1, Ordering::SeqCst);
        });
    }
}
