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
    // uses (src/agent/mod.rs `queue_window`): the whole pile while it fits
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
    ] {
        for lanes in [&alone, &of_two] {
            let spec = crate::agent::queue_window(String::new(), view, lanes, 64);
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
            // `vayu bench`'s textbook mode: the oldest queued task of the
            // highest priority, inside a transaction (the loop vayu is
            // measured against; its listing of all tasks needs no index).
            name: "bench textbook mode: the next task by priority and age",
            site: "src/bench/textbook.rs",
            collection_id: crate::bench::textbook::COLLECTION,
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
            site: "src/agent/mod.rs",
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
            name: "list the agents (`vayu agent list`)",
            site: "src/store/agents.rs",
            collection_id: layout::AGENTS,
            filter: None,
            order_by: vec![],
        },
    ]);
    // `vayu task list [--status S]`: each pile, with or without a status
    // equality; sorted in memory.
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
    out
}

/// How many query call sites (`run_query(` calls and `QuerySpec {`
/// literals) each file has, as declared above; `tests/indexes.rs` compares
/// this with a scan of `src/`. When you add a query, declare it in
/// [`declared_queries`] and count it here.
pub const CALL_SITES: &[(&str, usize)] = &[
    ("src/agent/intake.rs", 1),
    ("src/agent/mod.rs", 1),
    ("src/agent/queue.rs", 1),
    ("src/agent/recovery.rs", 2),
    ("src/bench/textbook.rs", 1),
    ("src/quarantine.rs", 1),
    ("src/store/agents.rs", 1),
    ("src/store/tasks.rs", 1),
];

/// Firestore allows at most this many disjunctions per query (the filter
/// in disjunctive normal form: each `in` of k values multiplies by k).
pub const MAX_DISJUNCTIONS: usize = 30;

/// How many disjunctions `q`'s filter has in disjunctive normal form.
pub fn disjunctions(q: &DeclaredQuery) -> usize {
    fn of(f: &sq::Filter) -> usize {
        use sq::filter::FilterType;
        match &f.filter_type {
            Some(FilterType::FieldFilter(ff)) => {
                let op = Operator::try_from(ff.op).unwrap_or(Operator::Unspecified);
                match (op, ff.value.as_ref().and_then(|v| v.value_type.as_ref())) {
                    (
                        Operator::In | Operator::ArrayContainsAny,
                        Some(pb::value::ValueType::ArrayValue(a)),
                    ) => a.values.len().max(1),
                    _ => 1,
                }
            }
            Some(FilterType::CompositeFilter(c)) => {
                let parts = c.filters.iter().map(of);
                if c.op == sq::composite_filter::Operator::Or as i32 {
                    parts.sum()
                } else {
                    parts.product()
                }
            }
            _ => 1,
        }
    }
    q.filter.as_ref().map_or(1, of)
}

fn field_filters(f: &sq::Filter, out: &mut Vec<(String, Operator)>) {
    use sq::filter::FilterType;
    match &f.filter_type {
        Some(FilterType::FieldFilter(ff)) => {
            let op = Operator::try_from(ff.op).unwrap_or(Operator::Unspecified);
            let path = ff
                .field
                .as_ref()
                .map(|r| r.field_path.clone())
                .unwrap_or_default();
            out.push((path, op));
        }
        Some(FilterType::CompositeFilter(c)) => {
            for f in &c.filters {
                field_filters(f, out);
            }
        }
        // `is null` / `is nan` are equalities for indexing purposes.
        Some(FilterType::UnaryFilter(u)) => {
            if let Some(sq::unary_filter::OperandType::Field(r)) = &u.operand_type {
                out.push((r.field_path.clone(), Operator::Equal));
            }
        }
        None => {}
    }
}

/// The composite index `q` needs, or `None` when single-field indexes
/// serve it.
pub fn composite_index_needed(q: &DeclaredQuery) -> Option<NeededIndex> {
    let mut filters = Vec::new();
    if let Some(f) = &q.filter {
        field_filters(f, &mut filters);
    }
    let mut equality: Vec<(String, IndexMode)> = Vec::new();
    let mut ranges: Vec<String> = Vec::new();
    for (field, op) in filters {
        match op {
            Operator::Equal | Operator::In => {
                push_unique(&mut equality, (field, IndexMode::Ascending))
            }
            Operator::ArrayContains | Operator::ArrayContainsAny => {
                push_unique(&mut equality, (field, IndexMode::ArrayContains))
            }
            _ => {
                if !ranges.contains(&field) {
                    ranges.push(field)
                }
            }
        }
    }
    // Orders (explicit first, then range fields Firestore orders by
    // implicitly), without __name__, which every index ends with anyway.
    let mut ordered: Vec<(String, IndexMode)> = Vec::new();
    for o in &q.order_by {
        let field = o
            .field
            .as_ref()
            .map(|r| r.field_path.clone())
            .unwrap_or_default();
        let mode = if o.direction == sq::Direction::Descending as i32 {
            IndexMode::Descending
        } else {
            IndexMode::Ascending
        };
        if field != "__name__" && !ordered.iter().any(|(f, _)| *f == field) {
            ordered.push((field, mode));
        }
    }
    for r in ranges {
        if !ordered.iter().any(|(f, _)| *f == r) {
            ordered.push((r, IndexMode::Ascending));
        }
    }
    // Equalities on a field that is also ordered do not need a column.
    equality.retain(|(f, _)| !ordered.iter().any(|(o, _)| o == f));
    let fields = equality.len() + ordered.len();
    let needs = fields > 1 && !ordered.is_empty();
    needs.then(|| NeededIndex {
        collection_id: q.collection_id.to_string(),
        equality,
        ordered,
    })
}

fn push_unique(v: &mut Vec<(String, IndexMode)>, item: (String, IndexMode)) {
    if !v.contains(&item) {
        v.push(item);
    }
}

/// Whether `index` (one entry of `firestore.indexes.json`'s `indexes`)
/// serves `need`: same collection id, collection scope, the equality
/// fields in any order, then the ordered fields in order.
pub fn index_serves(index: &serde_json::Value, need: &NeededIndex) -> bool {
    if index["collectionGroup"] != need.collection_id.as_str()
        || index["queryScope"].as_str().unwrap_or("COLLECTION") != "COLLECTION"
    {
        return false;
    }
    let Some(fields) = index["fields"].as_array() else {
        return false;
    };
    let fields: Vec<(String, String, String)> = fields
        .iter()
        .map(|f| {
            let path = f["fieldPath"].as_str().unwrap_or_default().to_string();
            let (k, v) = if let Some(o) = f["order"].as_str() {
                ("order", o)
            } else {
                ("arrayConfig", f["arrayConfig"].as_str().unwrap_or_default())
            };
            (path, k.to_string(), v.to_string())
        })
        .filter(|(p, _, _)| p != "__name__")
        .collect();
    let n_eq = need.equality.len();
    if fields.len() != n_eq + need.ordered.len() {
        return false;
    }
    let as_triple = |(f, m): &(String, IndexMode)| {
        let (k, v) = m.as_json();
        (f.clone(), k.to_string(), v.to_string())
    };
    let head = &fields[..n_eq];
    let eq_ok = need.equality.iter().all(|e| head.contains(&as_triple(e)));
    let tail_ok = fields[n_eq..]
        .iter()
        .zip(need.ordered.iter().map(as_triple))
        .all(|(a, b)| *a == b);
    eq_ok && tail_ok
}

#[cfg(test)]
mod tests {
    use super::*;

    fn order(field: &str, desc: bool) -> sq::Order {
        sq::Order {
            field: Some(sq::FieldReference {
                field_path: field.into(),
            }),
            direction: if desc {
                sq::Direction::Descending as i32
            } else {
                sq::Direction::Ascending as i32
            },
        }
    }

    fn and(filters: Vec<sq::Filter>) -> sq::Filter {
        sq::Filter {
            filter_type: Some(sq::filter::FilterType::CompositeFilter(
                sq::CompositeFilter {
                    op: sq::composite_filter::Operator::And as i32,
                    filters,
                },
            )),
        }
    }

    fn query(filter: Option<sq::Filter>, order_by: Vec<sq::Order>) -> DeclaredQuery {
        DeclaredQuery {
            name: "t",
            site: "t",
            collection_id: "items",
            filter,
            order_by,
        }
    }

    fn eq(f: &str) -> sq::Filter {
        store::field_eq(f, store::string_value("x"))
    }

    fn lt(f: &str) -> sq::Filter {
        store::field_op(f, Operator::LessThan, store::string_value("x"))
    }

    #[test]
    fn single_fields_and_pure_equalities_need_no_composite_index() {
        assert_eq!(composite_index_needed(&query(None, vec![])), None);
        assert_eq!(composite_index_needed(&query(Some(eq("a")), vec![])), None);
        assert_eq!(composite_index_needed(&query(Some(lt("a")), vec![])), None);
        assert_eq!(
            composite_index_needed(&query(Some(lt("a")), vec![order("a", true)])),
            None
        );
        assert_eq!(
            composite_index_needed(&query(Some(and(vec![eq("a"), eq("b")])), vec![])),
            None,
            "equalities merge"
        );
        assert_eq!(
            composite_index_needed(&query(
                None,
                vec![order("a", false), order("__name__", false)]
            )),
            None
        );
    }

    #[test]
    fn equality_with_order_or_range_on_another_field_needs_one() {
        let need =
            composite_index_needed(&query(Some(eq("status")), vec![order("created_at", false)]))
                .expect("needs an index");
        assert_eq!(
            need.equality,
            vec![("status".to_string(), IndexMode::Ascending)]
        );
        assert_eq!(
            need.ordered,
            vec![("created_at".to_string(), IndexMode::Ascending)]
        );
        let need = composite_index_needed(&query(Some(and(vec![eq("s"), lt("t")])), vec![]))
            .expect("needs an index");
        assert_eq!(need.ordered, vec![("t".to_string(), IndexMode::Ascending)]);
        assert!(
            composite_index_needed(&query(Some(and(vec![lt("a"), lt("b")])), vec![])).is_some()
        );
        assert!(
            composite_index_needed(&query(None, vec![order("a", false), order("b", true)]))
                .is_some()
        );
    }

    #[test]
    fn an_index_serves_a_need_with_equalities_in_any_order() {
        let need = NeededIndex {
            collection_id: "items".into(),
            equality: vec![
                ("a".into(), IndexMode::Ascending),
                ("b".into(), IndexMode::Ascending),
            ],
            ordered: vec![("c".into(), IndexMode::Descending)],
        };
        let index = serde_json::json!({
            "collectionGroup": "items", "queryScope": "COLLECTION",
            "fields": [
                {"fieldPath": "b", "order": "ASCENDING"},
                {"fieldPath": "a", "order": "ASCENDING"},
                {"fieldPath": "c", "order": "DESCENDING"}
            ]
        });
        assert!(index_serves(&index, &need));
        let mut wrong = index.clone();
        wrong["fields"][2]["order"] = "ASCENDING".into();
        assert!(!index_serves(&wrong, &need));
        let mut other = index;
        other["collectionGroup"] = "agents".into();
        assert!(!index_serves(&other, &need));
    }
}
