//! `vayu task list`: the newest tasks first, filtered, a page at a time.
//!
//! Each pile is queried newest first with one filter on the server, the
//! most selective one given ([`Filter::server`]), so a composite index per
//! filter field and pile serves every combination (`firestore.indexes.json`,
//! declared in `crate::queries`); the other filters are applied here, in
//! batches, until a page is full or [`SCAN_MAX`] documents were read. The
//! piles' pages are merged by creation time. The cursor is the last row's
//! creation time and id, so the next page starts right after it even when
//! tasks share a creation time. And the tasks that ended since a time,
//! for `vayu stats`.

use crate::error::{Error, Result};
use crate::layout::Pile;
use crate::lifecycle::Status;
use crate::model::{Priority, Task, TaskType, Time};
use crate::store::{self, Store, Versioned};
use firestore::gcloud_sdk::google::firestore::v1 as pb;
use pb::structured_query::{self as sq, field_filter::Operator};

/// Documents read per query.
const BATCH: i32 = 200;
/// Documents one page may read per pile before it stops filtering and
/// returns what it has (with a cursor to go on).
pub const SCAN_MAX: usize = 5_000;

/// What to list; every field given must hold.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Filter {
    pub status: Option<Status>,
    pub task_type: Option<TaskType>,
    pub priority: Option<Priority>,
    /// The agent it was assigned to (`assignment.primary_agent`).
    pub agent: Option<String>,
    pub requester: Option<String>,
    pub tag: Option<String>,
    /// Created at or after.
    pub since: Option<Time>,
}

/// Where a page ends: the last row's creation time (µs) and id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    pub created_us: i64,
    pub task_id: String,
}

impl Cursor {
    pub fn encode(&self) -> String {
        format!("{}.{}", self.created_us, self.task_id)
    }

    /// A cursor as printed; anything else is bad input (exit 2).
    pub fn decode(s: &str) -> Result<Cursor> {
        let bad = || {
            Error::InvalidTask(crate::model::InvalidTask(format!(
                "--cursor {s:?} is not a cursor `vayu task list` printed"
            )))
        };
        let (us, id) = s.split_once('.').ok_or_else(bad)?;
        let created_us = us.parse().map_err(|_| bad())?;
        if !crate::schema::is_task_id(id) {
            return Err(bad());
        }
        Ok(Cursor {
            created_us,
            task_id: id.to_string(),
        })
    }

    fn of(t: &Task) -> Cursor {
        Cursor {
            created_us: created_us(t),
            task_id: t.task_id.clone(),
        }
    }

    /// Whether `t` comes after the cursor, newest first.
    fn passed_by(&self, t: &Task) -> bool {
        (created_us(t), t.task_id.as_str()) < (self.created_us, self.task_id.as_str())
    }

    /// Whether this cursor is further down the list than `other`.
    fn older_than(&self, other: &Cursor) -> bool {
        (self.created_us, &self.task_id) < (other.created_us, &other.task_id)
    }
}

fn created_us(t: &Task) -> i64 {
    t.created_at.map_or(0, |c| c.0.as_microsecond())
}

/// Where a stored document sits in the order, read off its fields.
fn raw_cursor(doc: &pb::Document) -> Option<Cursor> {
    let id = doc.name.rsplit('/').next()?.to_string();
    let created_us = match doc.fields.get("created_at")?.value_type.as_ref()? {
        pb::value::ValueType::TimestampValue(ts) => {
            ts.seconds * 1_000_000 + i64::from(ts.nanos) / 1_000
        }
        _ => return None,
    };
    Some(Cursor {
        created_us,
        task_id: id,
    })
}

/// One page: the tasks, documents that did not parse, and the cursor of
/// the next page when there may be one.
#[derive(Debug, Default)]
pub struct Page {
    pub tasks: Vec<Versioned<Task>>,
    pub malformed: Vec<Error>,
    pub next: Option<Cursor>,
}

impl Filter {
    /// The piles that can hold a match.
    pub fn piles(&self) -> Vec<Pile> {
        match self.status {
            Some(s) => vec![Pile::of(s)],
            None => Pile::ALL.to_vec(),
        }
    }

    /// The one equality the server applies, the most selective first.
    pub fn server(&self) -> Option<sq::Filter> {
        let eq = |field: &str, v: &str| store::field_eq(field, store::string_value(v));
        if let Some(s) = self.status {
            return Some(eq("status", s.as_str()));
        }
        if let Some(t) = &self.tag {
            return Some(store::field_op(
                "metadata.tags",
                Operator::ArrayContains,
                store::string_value(t),
            ));
        }
        if let Some(a) = &self.agent {
            return Some(eq("assignment.primary_agent", a));
        }
        if let Some(r) = &self.requester {
            return Some(eq("requester.id", r));
        }
        if let Some(t) = self.task_type {
            return Some(eq("type", t.as_str()));
        }
        self.priority.map(|p| eq("priority", p.as_str()))
    }

    /// How many filters are applied in memory (all but the server's).
    fn in_memory(&self) -> usize {
        let set = [
            self.status.is_some(),
            self.task_type.is_some(),
            self.priority.is_some(),
            self.agent.is_some(),
            self.requester.is_some(),
            self.tag.is_some(),
        ];
        set.iter().filter(|s| **s).count().saturating_sub(1)
    }

    /// Whether `t` passes every filter (the server's one included).
    pub fn matches(&self, t: &Task) -> bool {
        self.status.is_none_or(|s| t.status == s)
            && self.task_type.is_none_or(|x| t.task_type == x)
            && self.priority.is_none_or(|p| t.priority == p)
            && (self.agent.as_deref())
                .is_none_or(|a| t.assignment.primary_agent.as_deref() == Some(a))
            && (self.requester.as_deref()).is_none_or(|r| t.requester.id == r)
            && (self.tag.as_ref()).is_none_or(|g| t.metadata.tags.contains(g))
            && self
                .since
                .is_none_or(|s| t.created_at.is_some_and(|c| c >= s))
    }
}

/// The query of one batch: the server's filter, the creation-time range
/// (from `since` to the cursor, inclusive: ties are cut here), newest first.
pub fn batch_filter(f: &Filter, upto: Option<Time>) -> Option<sq::Filter> {
    let at = |t: Time| pb::Value {
        value_type: Some(pb::value::ValueType::TimestampValue(store::pb_time(t))),
    };
    let mut all: Vec<sq::Filter> = f.server().into_iter().collect();
    if let Some(s) = f.since {
        all.push(store::field_op(
            "created_at",
            Operator::GreaterThanOrEqual,
            at(s),
        ));
    }
    if let Some(u) = upto {
        all.push(store::field_op(
            "created_at",
            Operator::LessThanOrEqual,
            at(u),
        ));
    }
    store::all_of(all)
}

pub fn newest_first() -> Vec<sq::Order> {
    vec![sq::Order {
        field: Some(sq::FieldReference {
            field_path: "created_at".into(),
        }),
        direction: sq::Direction::Descending as i32,
    }]
}

/// The page of at most `limit` tasks after `cursor`.
pub async fn page(
    store: &Store,
    f: &Filter,
    limit: usize,
    cursor: Option<&Cursor>,
) -> Result<Page> {
    let mut page = Page::default();
    // The newest place where a pile stopped reading early: rows older
    // than it are not all known, so this page ends there.
    let mut frontier: Option<Cursor> = None;
    for pile in f.piles() {
        let scan = from_pile(store, pile, f, limit, cursor, &mut page.malformed).await?;
        page.tasks.extend(scan.found);
        if let Some(b) = scan.stopped_at
            && frontier.as_ref().is_none_or(|f| f.older_than(&b))
        {
            frontier = Some(b);
        }
    }
    let key = |v: &Versioned<Task>| (created_us(&v.value), v.value.task_id.clone());
    page.tasks.sort_by_key(|v| std::cmp::Reverse(key(v)));
    // A task that moved between piles while they were read one after
    // another shows once.
    page.tasks
        .dedup_by(|a, b| a.value.task_id == b.value.task_id);
    if let Some(f) = &frontier {
        page.tasks.retain(|v| !f.passed_by(&v.value));
    }
    page.next = if page.tasks.len() > limit {
        page.tasks.truncate(limit);
        page.tasks.last().map(|v| Cursor::of(&v.value))
    } else {
        frontier
    };
    // No progress (a whole batch of tasks created at one instant): the
    // rest cannot be reached by time; end rather than hand back the same
    // cursor forever.
    if page.next.is_some() && page.next.as_ref() == cursor {
        page.next = None;
    }
    Ok(page)
}

/// What one pile gave: up to `limit + 1` matches (one more than a page
/// says there is more), and where it stopped if it stopped early.
struct PileScan {
    found: Vec<Versioned<Task>>,
    stopped_at: Option<Cursor>,
}

/// Reads `pile` newest first from the cursor, in batches, until `limit +
/// 1` rows match, the pile ends, or [`SCAN_MAX`] documents were read.
async fn from_pile(
    store: &Store,
    pile: Pile,
    f: &Filter,
    limit: usize,
    cursor: Option<&Cursor>,
    malformed: &mut Vec<Error>,
) -> Result<PileScan> {
    let time = |us: i64| Time(jiff::Timestamp::from_microsecond(us).unwrap_or_default());
    let mut upto = cursor.map(|c| time(c.created_us));
    let (mut found, mut scanned) = (Vec::<Versioned<Task>>::new(), 0);
    // With every filter on the server, a page's worth is enough.
    let batch = match f.in_memory() {
        0 => BATCH.min(i32::try_from(limit + 1).unwrap_or(BATCH)),
        _ => BATCH,
    };
    loop {
        let docs = store
            .run_query(
                &pile.parent(),
                pile.collection_id(),
                batch_filter(f, upto),
                newest_first(),
                Some(batch),
            )
            .await?;
        scanned += docs.len();
        let mut last: Option<Cursor> = None;
        for doc in &docs {
            // From the raw document: one that does not parse still moves
            // the reading on.
            last = raw_cursor(doc).or(last);
            let v = match Store::decode_versioned(doc, pile) {
                Ok(v) => v,
                Err(e) => {
                    malformed.push(e);
                    continue;
                }
            };
            let after = cursor.is_none_or(|c| c.passed_by(&v.value));
            let seen = found.iter().any(|x| x.value.task_id == v.value.task_id);
            if after && !seen && f.matches(&v.value) {
                found.push(v);
            }
        }
        if found.len() > limit || docs.len() < batch as usize {
            return Ok(PileScan {
                found,
                stopped_at: None,
            });
        }
        // The next batch from the oldest time read (inclusive: ties at
        // the boundary are read again, and skipped). A whole batch at one
        // instant leaves older rows out of reach by time: stop there.
        let next = last.as_ref().map(|c| time(c.created_us));
        if scanned >= SCAN_MAX || next.is_none() || next == upto {
            return Ok(PileScan {
                found,
                stopped_at: last,
            });
        }
        upto = next;
    }
}

/// Ended tasks read at most for `vayu stats`.
pub const ENDED_MAX: i32 = 5_000;

/// The completed pile's tasks created since `since`, newest first, at most
/// [`ENDED_MAX`]; documents that do not parse are left out. (By creation,
/// not by end: `updated_at` and `execution.finished_at` are exempt from
/// indexing, firestore.indexes.json, since a monotonic index caps the write
/// rate. A task created before the window and ended in it is not counted.)
pub async fn ended_since(store: &Store, since: Time) -> Result<Vec<Task>> {
    let pile = Pile::Completed;
    let (filter, order) = (ended_filter(since), newest_first());
    let docs = store
        .run_query(
            &pile.parent(),
            pile.collection_id(),
            Some(filter),
            order,
            Some(ENDED_MAX),
        )
        .await?;
    Ok(docs
        .iter()
        .filter_map(|d| Store::decode_versioned(d, pile).ok())
        .map(|v| v.value)
        .collect())
}

/// `created_at >= since`.
pub fn ended_filter(since: Time) -> sq::Filter {
    let at = pb::Value {
        value_type: Some(pb::value::ValueType::TimestampValue(store::pb_time(since))),
    };
    store::field_op("created_at", Operator::GreaterThanOrEqual, at)
}
