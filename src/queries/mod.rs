//! Every query vayu issues, declared in one place, so that
//! `tests/indexes.rs` can check each against `firestore.indexes.json`.
//!
//! Why: the emulator serves any query without an index, so a query that
//! needs a composite index works in every test and fails only in
//! production (`FAILED_PRECONDITION: The query requires an index`). The
//! declarations here are built with the same filter builders the code uses
//! ([`crate::store::field_eq`] and friends), and the test also scans `src/`
//! for query call sites, so a new query that is not declared here fails the
//! test with a message saying where to add it.
//!
//! [`composite_index_needed`] encodes when Firestore needs a composite
//! index: single-field indexes exist for every field automatically, and
//! queries whose filters are all equalities (with no order) are served by
//! merging them; anything that combines fields otherwise (an equality or
//! `in` with a range or an order on another field, ranges or orders on
//! several fields) needs a composite index on exactly those fields.

use crate::layout;
use crate::lifecycle::Status;
use crate::store;
use firestore::gcloud_sdk::google::firestore::v1 as pb;
use pb::structured_query::{self as sq, field_filter::Operator};

pub use index::{
    MAX_DISJUNCTIONS, composite_index_needed, disjunctions, index_serves, or_branches,
};

mod index;

/// One query the code issues.
#[derive(Debug, Clone)]
pub struct DeclaredQuery {
    /// What it is for.
    pub name: &'static str,
    /// The source file that issues it (`src/...`), for the call-site scan.
    pub site: &'static str,
    /// The collection id queried (`items` for every task pile: one index
    /// on collection id `items` serves all three piles).
    pub collection_id: &'static str,
    pub filter: Option<sq::Filter>,
    pub order_by: Vec<sq::Order>,
}

/// How a field takes part in a query, for index matching.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IndexMode {
    Ascending,
    Descending,
    ArrayContains,
}

impl IndexMode {
    /// As written in `firestore.indexes.json`.
    pub fn as_json(&self) -> (&'static str, &'static str) {
        match self {
            IndexMode::Ascending => ("order", "ASCENDING"),
            IndexMode::Descending => ("order", "DESCENDING"),
            IndexMode::ArrayContains => ("arrayConfig", "CONTAINS"),
        }
    }
}

/// A composite index a query needs: the equality fields (any order among
/// themselves) followed by the range / order fields, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NeededIndex {
    pub collection_id: String,
    pub equality: Vec<(String, IndexMode)>,
    pub ordered: Vec<(String, IndexMode)>,
}

/// Every query vayu issues today, with representative values.
pub fn declared_queries() -> Vec<DeclaredQuery> {
    let any_time = pb::Value {
        value_type: Some(pb::value::ValueType::TimestampValue(store::pb_time(
            crate::model::now(),
        ))),
    };
    let mut out = Vec::new();
    // The agents' views of the queue, from the very function the agent
    // uses (src/agent/queue.rs `queue_window`): the whole pile while it fits
    // the window, the best tasks by priority when it does not; each for an
    // agent alone (every lane: no lane filter), and for an agent with the
    // most lanes it can own beside a peer (8 of 15: the most disjunctions).
    let alone: Vec<i64> = (0..crate::lanes::LANES).collect();
    let of_two = crate::lanes::owned("a", &["a".to_string(), "b".to_string()]);
    for (view, what) in [
        (
            crate::agent::QueueView::All,
            "agents listen to the queued pile while it fits their window",
        ),
        (
            crate::agent::QueueView::Priority,
            "agents listen to the priority window of a large queued pile",
        ),
        (
            crate::agent::QueueView::Page,
            "agents page through a backlog of queued tasks",
        ),
    ] {
        for lanes in [&alone, &of_two] {
            let spec = crate::agent::queue_window_for(String::new(), view, lanes, Some("a"), 64);
            out.push(DeclaredQuery {
                name: what,
                site: "src/agent/queue.rs",
                collection_id: layout::Pile::Queued.collection_id(),
                filter: spec.filter,
                order_by: spec.order_by,
            });
        }
    }
    out.extend([
        DeclaredQuery {
            // `vayu bench`'s textbook and poll modes: the highest-ranked
            // queued tasks, by priority and age, inside a transaction
            // (textbook, limit 1) or not (poll, limit 16): the loops vayu
            // is measured against (src/bench/plain.rs builds it; the
            // textbook's listing of all tasks needs no index).
            name: "bench textbook and poll modes: the next tasks by priority and age",
            site: "src/bench/textbook.rs",
            collection_id: crate::bench::plain::COLLECTION,
            filter: Some(store::field_eq("status", store::string_value("queued"))),
            order_by: ["priority_rank", "created_at"]
                .iter()
                .map(|f| sq::Order {
                    field: Some(sq::FieldReference {
                        field_path: f.to_string(),
                    }),
                    direction: sq::Direction::Ascending as i32,
                })
                .collect(),
        },
        DeclaredQuery {
            name: "agents listen to the agents collection (peers' health)",
            site: "src/agent/start.rs",
            collection_id: layout::AGENTS,
            filter: None,
            order_by: vec![],
        },
        DeclaredQuery {
            name: "recovery: active tasks held by one agent",
            site: "src/agent/recovery.rs",
            collection_id: layout::Pile::Active.collection_id(),
            filter: Some(store::field_eq(
                "lease.owner",
                store::string_value("agent-1"),
            )),
            order_by: vec![],
        },
        DeclaredQuery {
            name: "recovery: active tasks whose lease expired",
            site: "src/agent/recovery.rs",
            collection_id: layout::Pile::Active.collection_id(),
            filter: Some(store::field_op(
                "lease.expires_at",
                Operator::LessThan,
                any_time,
            )),
            order_by: vec![],
        },
        DeclaredQuery {
            name: "every rating (`vayu stats`)",
            site: "src/store/reviews.rs",
            collection_id: layout::RATINGS,
            filter: None,
            order_by: vec![],
        },
        DeclaredQuery {
            name: "every resource (`vayu resource list`, the permit sweep)",
            site: "src/resources.rs",
            collection_id: layout::RESOURCES,
            filter: None,
            order_by: vec![],
        },
        DeclaredQuery {
            name: "list the quarantine (`vayu quarantine list`, `vayu task list`)",
            site: "src/quarantine.rs",
            collection_id: layout::QUARANTINE,
            filter: None,
            order_by: vec![],
        },
        DeclaredQuery {
            name: "the sweep: every queued document, when some have no lane",
            site: "src/agent/intake.rs",
            collection_id: layout::Pile::Queued.collection_id(),
            filter: None,
            order_by: vec![],
        },
        DeclaredQuery {
            name: "the sweep: how many queued documents carry a lane (a count)",
            site: "src/agent/intake.rs",
            collection_id: layout::Pile::Queued.collection_id(),
            filter: Some(store::field_in_ints(
                "lane",
                &(0..crate::lanes::LANES).collect::<Vec<_>>(),
            )),
            order_by: vec![],
        },
        DeclaredQuery {
            name: "a team member's agent listens to its team's running parts (progress broadcasts)",
            site: "src/agent/runner/broadcast.rs",
            collection_id: layout::Pile::Active.collection_id(),
            filter: Some(store::field_eq(
                "part_of.parent",
                store::string_value("parent-id"),
            )),
            order_by: vec![],
        },
        DeclaredQuery {
            name: "list the agents (`vayu agent list`)",
            site: "src/store/agents.rs",
            collection_id: layout::AGENTS,
            filter: None,
            order_by: vec![],
        },
        DeclaredQuery {
            name: "every agent's beat (`vayu agent list`, an agent's start)",
            site: "src/store/presence.rs",
            collection_id: layout::PRESENCE,
            filter: None,
            order_by: vec![],
        },
        DeclaredQuery {
            name: "an agent watches the beats of its two successors in the ring",
            site: "src/agent/presence.rs",
            collection_id: layout::PRESENCE,
            filter: Some(store::field_in("agent_id", &["agent-2", "agent-3"])),
            order_by: vec![],
        },
        DeclaredQuery {
            name: "one agent's history, every type (`vayu agent workload`)",
            site: "src/history.rs",
            collection_id: layout::METRICS,
            filter: None,
            order_by: vec![],
        },
        DeclaredQuery {
            name: "agents listen to every schedule (they evaluate each one)",
            site: "src/schedules/watch.rs",
            collection_id: layout::SCHEDULES,
            filter: None,
            order_by: vec![],
        },
        DeclaredQuery {
            name: "list the schedules (`vayu schedule list`)",
            site: "src/schedules/manage.rs",
            collection_id: layout::SCHEDULES,
            filter: None,
            order_by: vec![],
        },
        DeclaredQuery {
            name: "a task's log batches after the last one read (`vayu task logs`)",
            site: "src/logs.rs",
            collection_id: layout::LOG_LINES,
            filter: Some(store::field_op(
                "__name__",
                Operator::GreaterThan,
                crate::logs::reference(
                    "projects/p/databases/d/documents/task_logs/t/lines/000001-00000001".into(),
                ),
            )),
            order_by: vec![crate::logs::by_name()],
        },
        DeclaredQuery {
            name: "the newest workflow runs (`vayu workflow list`)",
            site: "src/store/workflows.rs",
            collection_id: layout::WORKFLOWS,
            filter: None,
            order_by: store::newest_first(),
        },
    ]);
    // `vayu backup`: every document of every collection (no collection
    // id, all descendants of the root), in name order from a cursor; the
    // built-in name index serves it.
    let page = crate::backup::every_document_after(Some(
        "projects/p/databases/d/documents/agents/a".into(),
    ));
    out.push(DeclaredQuery {
        name: "every document after a name, a page at a time (`vayu backup`)",
        site: "src/backup/snapshot.rs",
        collection_id: "",
        filter: page.r#where,
        order_by: page.order_by,
    });
    // `vayu task list` (src/listing.rs): each pile newest first, from a
    // cursor and since a time, with at most one equality on the server.
    let some = crate::listing::Filter {
        since: Some(crate::model::now()),
        ..Default::default()
    };
    let filters = [
        some.clone(),
        crate::listing::Filter {
            status: Some(Status::Executing),
            ..some.clone()
        },
        crate::listing::Filter {
            tag: Some("t".into()),
            ..some.clone()
        },
        crate::listing::Filter {
            agent: Some("a".into()),
            ..some.clone()
        },
        crate::listing::Filter {
            requester: Some("r".into()),
            ..some.clone()
        },
        crate::listing::Filter {
            task_type: Some(crate::model::TaskType::Research),
            ..some.clone()
        },
        crate::listing::Filter {
            priority: Some(crate::model::Priority::High),
            ..some.clone()
        },
    ];
    for pile in layout::Pile::ALL {
        for f in &filters {
            out.push(DeclaredQuery {
                name: "list tasks newest first, filtered (`vayu task list`)",
                site: "src/listing.rs",
                collection_id: pile.collection_id(),
                filter: crate::listing::batch_filter(f, Some(crate::model::now())),
                order_by: crate::listing::newest_first(),
            });
        }
    }
    out.push(DeclaredQuery {
        name: "tasks that ended in a window, newest first (`vayu stats`)",
        site: "src/listing.rs",
        collection_id: layout::Pile::Completed.collection_id(),
        filter: Some(crate::listing::ended_filter(crate::model::now())),
        order_by: crate::listing::newest_first(),
    });
    out.push(DeclaredQuery {
        name: "ended tasks past the retention's age, oldest first (the archive sweep)",
        site: "src/archive.rs",
        collection_id: layout::Pile::Completed.collection_id(),
        filter: Some(crate::archive::due_filter(crate::model::now())),
        order_by: crate::archive::oldest_first(),
    });
    out.push(DeclaredQuery {
        name: "the oldest waiting task (the auto-scaling hook)",
        site: "src/scale.rs",
        collection_id: layout::Pile::Queued.collection_id(),
        filter: Some(crate::scale::queued()),
        order_by: crate::scale::oldest_first(),
    });
    // The review and status views still list a pile in memory.
    for pile in layout::Pile::ALL {
        out.push(DeclaredQuery {
            name: "list a pile (`vayu task list`)",
            site: "src/store/tasks.rs",
            collection_id: pile.collection_id(),
            filter: None,
            order_by: vec![],
        });
        out.push(DeclaredQuery {
            name: "list a pile by status (`vayu task list --status`)",
            site: "src/store/tasks.rs",
            collection_id: pile.collection_id(),
            filter: Some(store::field_eq(
                "status",
                store::string_value(Status::Executing.as_str()),
            )),
            order_by: vec![],
        });
    }
    // Webhook delivery (src/notify): the hooks, then each hook's events
    // after its cursor, oldest first (a range and an order on `at` alone:
    // its single-field index serves it).
    out.push(DeclaredQuery {
        name: "every webhook (`vayu notify list`, each delivery round)",
        site: "src/notify/hooks.rs",
        collection_id: layout::HOOKS,
        filter: None,
        order_by: vec![],
    });
    out.push(DeclaredQuery {
        name: "a webhook's events after its cursor, oldest first",
        site: "src/notify/deliver.rs",
        collection_id: layout::EVENTS,
        filter: crate::notify::deliver::from_filter(Some(crate::model::now())),
        order_by: vec![crate::notify::deliver::by_at()],
    });
    out
}

/// How many query call sites (`run_query(` and `run_query_at(` calls and
/// `QuerySpec {` literals) each file has, as declared above; `tests/indexes.rs` compares
/// this with a scan of `src/`. When you add a query, declare it in
/// [`declared_queries`] and count it here.
pub const CALL_SITES: &[(&str, usize)] = &[
    ("src/agent/intake.rs", 1),
    ("src/agent/presence.rs", 1),
    ("src/agent/queue.rs", 1),
    ("src/agent/recovery.rs", 2),
    ("src/agent/runner/broadcast.rs", 1),
    ("src/agent/start.rs", 1),
    ("src/archive.rs", 1),
    ("src/backup/snapshot.rs", 1),
    ("src/bench/textbook.rs", 1),
    ("src/history.rs", 1),
    ("src/scale.rs", 1),
    ("src/listing.rs", 2),
    ("src/logs.rs", 1),
    ("src/notify/deliver.rs", 1),
    ("src/notify/hooks.rs", 1),
    ("src/quarantine.rs", 1),
    ("src/resources.rs", 1),
    ("src/schedules/manage.rs", 1),
    ("src/schedules/watch.rs", 1),
    ("src/store/agents.rs", 1),
    ("src/store/presence.rs", 1),
    ("src/store/reviews.rs", 1),
    ("src/store/tasks.rs", 1),
    ("src/store/workflows.rs", 1),
];
