//! Every query the code issues has the composite index it needs in
//! `firestore.indexes.json`, and no query is issued that is not declared in
//! `vayu::queries` (the emulator serves any query without an index, so only
//! this test catches a missing one before production does).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use vayu::queries::{
    CALL_SITES, MAX_DISJUNCTIONS, composite_index_needed, declared_queries, disjunctions,
    index_serves, or_branches,
};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn json_file(name: &str) -> serde_json::Value {
    let path = root().join(name);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{name} is not JSON: {e}"))
}

#[test]
fn every_declared_query_has_the_composite_index_it_needs() {
    let file = json_file("firestore.indexes.json");
    let indexes = file["indexes"]
        .as_array()
        .expect("firestore.indexes.json has an `indexes` array");
    let mut needing = 0;
    // Each branch of an `or` is served by an index of its own.
    for q in declared_queries().iter().flat_map(or_branches) {
        match composite_index_needed(&q) {
            None => println!("single-field indexes serve: {}", q.name),
            Some(need) => {
                needing += 1;
                assert!(
                    indexes.iter().any(|i| index_serves(i, &need)),
                    "query '{}' ({}) needs a composite index on collection `{}`: \
                     equality {:?}, then {:?}; add it to firestore.indexes.json",
                    q.name,
                    q.site,
                    need.collection_id,
                    need.equality,
                    need.ordered
                );
            }
        }
    }
    println!(
        "{} declared queries, {needing} needing a composite index, {} indexes in the file",
        declared_queries().len(),
        indexes.len()
    );
}

/// Production Firestore refuses a query with more than 30 disjunctions
/// (the emulator does not), and an agent's priority view multiplies the
/// statuses by its lanes: with every lane, it must still fit.
#[test]
fn every_declared_query_fits_the_disjunction_limit() {
    for q in declared_queries() {
        let n = disjunctions(&q);
        println!("{n:>3} disjunctions: {}", q.name);
        assert!(
            n <= MAX_DISJUNCTIONS,
            "query '{}' ({}) has {n} disjunctions; Firestore allows {MAX_DISJUNCTIONS}",
            q.name,
            q.site
        );
    }
}

/// Query call sites in a source file: `run_query(` and `run_query_at(`
/// calls and `QuerySpec {` literals, not their definitions.
fn call_sites(text: &str) -> usize {
    text.lines()
        .map(str::trim_start)
        .filter(|l| !l.starts_with("//"))
        .map(|l| {
            let runs = l.matches("run_query(").count()
                - l.matches("fn run_query(").count()
                - l.matches(".run_query(request").count()
                + l.matches("run_query_at(").count()
                - l.matches("fn run_query_at(").count();
            let specs = l.matches("QuerySpec {").count()
                - l.matches("struct QuerySpec {").count()
                - l.matches("impl QuerySpec {").count()
                - l.matches("-> QuerySpec {").count();
            runs + specs
        })
        .sum()
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("src/ is readable").flatten() {
        let p = entry.path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "rs") {
            out.push(p);
        }
    }
}

#[test]
fn no_query_is_issued_that_is_not_declared() {
    let mut files = Vec::new();
    rust_files(&root().join("src"), &mut files);
    let mut found: BTreeMap<String, usize> = BTreeMap::new();
    for f in files {
        let text = std::fs::read_to_string(&f).expect("a source file is readable");
        let n = call_sites(&text);
        if n > 0 {
            let rel = f
                .strip_prefix(root())
                .expect("under the crate")
                .to_string_lossy()
                .replace('\\', "/");
            found.insert(rel, n);
        }
    }
    let declared: BTreeMap<String, usize> = CALL_SITES
        .iter()
        .map(|(f, n)| (f.to_string(), *n))
        .collect();
    assert_eq!(
        found, declared,
        "query call sites in src/ differ from vayu::queries::CALL_SITES: declare the new \
         query in vayu::queries::declared_queries (so its index need is checked) and update \
         CALL_SITES"
    );
    for q in declared_queries() {
        assert!(
            declared.contains_key(q.site),
            "query '{}' names site {} which has no call site",
            q.name,
            q.site
        );
    }
}

#[test]
fn exempted_fields_are_never_queried_and_the_config_points_at_the_files() {
    let file = json_file("firestore.indexes.json");
    let exempt: Vec<(String, String)> = file["fieldOverrides"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter(|o| o["indexes"].as_array().is_some_and(|i| i.is_empty()))
                .map(|o| {
                    (
                        o["collectionGroup"]
                            .as_str()
                            .unwrap_or_default()
                            .to_string(),
                        o["fieldPath"].as_str().unwrap_or_default().to_string(),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    for q in declared_queries() {
        let text = format!("{:?} {:?}", q.filter, q.order_by);
        for (group, field) in &exempt {
            assert!(
                !(q.collection_id == group && text.contains(&format!("field_path: \"{field}\""))),
                "query '{}' uses {group}.{field}, which firestore.indexes.json exempts from indexing",
                q.name
            );
        }
    }
    let fb = json_file("firebase.json");
    assert_eq!(fb["firestore"]["rules"], "firestore.rules");
    assert_eq!(fb["firestore"]["indexes"], "firestore.indexes.json");
    assert!(root().join("firestore.rules").is_file());
}

/// The field of collection group `group` that firestore.indexes.json
/// declares a TTL policy on.
fn ttl_field(group: &str) -> String {
    let file = json_file("firestore.indexes.json");
    let overrides = file["fieldOverrides"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let ttl = (overrides.iter())
        .find(|o| o["ttl"] == true && o["collectionGroup"] == group)
        .unwrap_or_else(|| panic!("a TTL policy on {group}"));
    ttl["fieldPath"].as_str().unwrap_or_default().to_string()
}

/// Issue 16, retention: a TTL policy on the log batches' `expire_at`, the
/// very field the runner writes (a rename on either side would silently
/// keep every log forever).
#[test]
fn log_batches_expire_through_a_ttl_policy_on_the_field_the_agent_writes() {
    let field = ttl_field(vayu::layout::LOG_LINES);
    let field = field.as_str();
    let doc = vayu::logs::LogDoc {
        expire_at: Some(vayu::model::now()),
        ..Default::default()
    };
    let written = serde_json::to_value(&doc).expect("a log batch serializes");
    assert!(
        written.get(field).is_some(),
        "the runner writes {field}: {written}"
    );
}

/// The alert outbox's events expire through a TTL policy on the field
/// `Store::event_write` writes.
#[test]
fn events_expire_through_a_ttl_policy_on_the_field_the_agent_writes() {
    let field = ttl_field(vayu::layout::EVENTS);
    let field = field.as_str();
    let mut event = vayu::notify::Event::quarantined("doc", 1, "bad");
    event.expire_at = Some(vayu::model::now());
    let written = serde_json::to_value(&event).expect("an event serializes");
    assert!(
        written.get(field).is_some(),
        "the agent writes {field}: {written}"
    );
}
