//! When a query needs a composite index, and whether an index in
//! `firestore.indexes.json` serves it; Firestore's limit on disjunctions.

use super::*;

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

/// `q` split at its `or`s: one query per branch of its filter in
/// disjunctive normal form (an `in` stays one branch: one index serves
/// it). Firestore serves each branch from its own index, so each is
/// checked on its own ([`composite_index_needed`]); a query without an
/// `or` is its own only branch.
pub fn or_branches(q: &DeclaredQuery) -> Vec<DeclaredQuery> {
    fn dnf(f: &sq::Filter) -> Vec<Vec<sq::Filter>> {
        use sq::filter::FilterType;
        match &f.filter_type {
            Some(FilterType::CompositeFilter(c))
                if c.op == sq::composite_filter::Operator::Or as i32 =>
            {
                c.filters.iter().flat_map(dnf).collect()
            }
            Some(FilterType::CompositeFilter(c)) => {
                c.filters.iter().fold(vec![Vec::new()], |acc, child| {
                    let options = dnf(child);
                    (acc.iter())
                        .flat_map(|prefix| {
                            options
                                .iter()
                                .map(move |o| [prefix.clone(), o.clone()].concat())
                        })
                        .collect()
                })
            }
            _ => vec![vec![f.clone()]],
        }
    }
    match &q.filter {
        None => vec![q.clone()],
        Some(f) => (dnf(f).into_iter())
            .map(|branch| DeclaredQuery {
                filter: store::all_of(branch),
                ..q.clone()
            })
            .collect(),
    }
}

/// The composite index `q` needs, or `None` when single-field indexes
/// serve it. `q` has no `or` ([`or_branches`] splits one).
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
