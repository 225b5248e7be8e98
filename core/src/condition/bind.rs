//! Which dependency a condition's first path segment names, and the
//! values a condition is evaluated over.
//!
//! Why two names per dependency: a task made with `--after` knows its
//! dependencies by id, so `A.result…` is written with A's id; a workflow
//! step knows its siblings by step name, and its id is `{run}-{step}`
//! (`crate::workflow`), so inside a run the step name works too. Both
//! names are bound, so the same condition reads the same on every agent.

use super::{Condition, Value};
use std::collections::BTreeMap;

/// The length of a run id (a uuid) that prefixes a workflow step's id.
const RUN_ID_LEN: usize = 36;

/// The step name of `dep` when it belongs to the same workflow run as
/// `task`: both ids start with the same `{run}-`.
fn step_name<'a>(task: &str, dep: &'a str) -> Option<&'a str> {
    let prefix = task.get(..=RUN_ID_LEN)?;
    (prefix.ends_with('-') && dep.len() > prefix.len() && dep.starts_with(prefix))
        .then(|| &dep[prefix.len()..])
}

/// The names `dep` may be called by in a condition of `task`.
pub fn names<'a>(task: &str, dep: &'a str) -> Vec<&'a str> {
    let mut out = vec![dep];
    out.extend(step_name(task, dep));
    out
}

/// Checks that every dependency `condition` reads is one of `deps`, by
/// id or step name; the error names the first that is not, with what
/// would be accepted.
pub fn check_names(condition: &Condition, task: &str, deps: &[String]) -> Result<(), String> {
    for name in condition.dependencies() {
        if !deps.iter().any(|d| names(task, d).contains(&name)) {
            let known: Vec<&str> = deps.iter().flat_map(|d| names(task, d)).collect();
            return Err(format!(
                "the condition reads '{name}', which is not a dependency of this task \
                 (it may read: {})",
                if known.is_empty() {
                    "nothing: give --after first".to_string()
                } else {
                    known.join(", ")
                }
            ));
        }
    }
    Ok(())
}

/// What a condition sees of one dependency: `{"status": …, "result": …}`,
/// with the result as the caller decoded it (JSON when it was JSON, else
/// the text).
pub fn dependency_value(status: &str, result: Value) -> Value {
    Value::Map(BTreeMap::from([
        ("status".to_string(), Value::String(status.to_string())),
        ("result".to_string(), result),
    ]))
}

/// The bindings for `task`'s condition: each dependency under each of
/// its names.
pub fn bindings(task: &str, deps: Vec<(String, Value)>) -> BTreeMap<String, Value> {
    let mut out = BTreeMap::new();
    for (id, value) in deps {
        for name in names(task, &id) {
            out.insert(name.to_string(), value.clone());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const RUN: &str = "0b6f3c1e-4a2d-4f7e-9a3b-2c1d0e9f8a7b";

    #[test]
    fn a_step_of_the_same_run_is_named_by_its_step() {
        let task = format!("{RUN}-report");
        let dep = format!("{RUN}-fetch");
        assert_eq!(names(&task, &dep), vec![dep.as_str(), "fetch"]);
    }

    #[test]
    fn a_plain_dependency_is_named_by_its_id_only() {
        assert_eq!(names("t-1", "a"), vec!["a"]);
        let other = "1b6f3c1e-4a2d-4f7e-9a3b-2c1d0e9f8a7b-fetch";
        assert_eq!(names(&format!("{RUN}-report"), other), vec![other]);
    }

    #[test]
    fn unknown_names_are_refused_with_what_is_known() {
        let c = Condition::parse(r#"B.result == "ok""#).expect("valid");
        let err = check_names(&c, "t", &["A".into()]).unwrap_err();
        assert!(
            err.contains("'B'") && err.contains("it may read: A"),
            "{err}"
        );
        let ok = Condition::parse(r#"A.result == "ok""#).expect("valid");
        assert_eq!(check_names(&ok, "t", &["A".into()]), Ok(()));
    }

    #[test]
    fn bindings_evaluate_by_either_name() {
        let task = format!("{RUN}-report");
        let dep = format!("{RUN}-fetch");
        let result = Value::Map(BTreeMap::from([(
            "status".to_string(),
            Value::String("ok".into()),
        )]));
        let b = bindings(&task, vec![(dep, dependency_value("completed", result))]);
        let by_step = Condition::parse(r#"fetch.result.status == "ok""#).expect("valid");
        assert!(by_step.evaluate(&b));
        let by_status = Condition::parse(r#"fetch.status == "failed""#).expect("valid");
        assert!(!by_status.evaluate(&b));
    }

    /// Task ids are uuids, which may start with digits or be mostly
    /// digits: each must still lex as one name.
    #[test]
    fn a_uuid_is_one_name_whatever_its_digits() {
        for id in [
            "12345678-1234-4123-8123-123456789012",
            "0b6f3c1e-4a2d-4f7e-9a3b-2c1d0e9f8a7b",
            "e1234567-1234-4123-8123-123456789012",
        ] {
            let c = Condition::parse(&format!("{id}.result.n >= 2")).expect("parses");
            assert_eq!(c.dependencies().into_iter().collect::<Vec<_>>(), vec![id]);
        }
    }
}
