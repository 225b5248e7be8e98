//! The validator's tests: each way a workflow can be wrong, and the order
//! it gives a valid one.

use super::*;
use crate::model::{Priority, TaskType};

fn step(id: &str, after: &[&str], input: &str) -> StepSpec {
    StepSpec {
        id: id.to_string(),
        title: format!("step {id}"),
        task_type: TaskType::Research,
        after: after.iter().map(|a| a.to_string()).collect(),
        requires: Vec::new(),
        priority: Priority::Normal,
        review: "none".to_string(),
        condition: None,
        input: input.to_string(),
    }
}

fn spec(steps: Vec<StepSpec>) -> WorkflowSpec {
    WorkflowSpec {
        name: "w".to_string(),
        description: String::new(),
        inputs: vec![InputSpec {
            name: "k".to_string(),
            default: None,
            description: String::new(),
        }],
        steps,
    }
}

fn error(steps: Vec<StepSpec>) -> String {
    validate(&spec(steps))
        .expect_err("an invalid workflow")
        .to_string()
}

#[test]
fn a_diamond_runs_in_waves_in_the_files_order() {
    let plan = validate(&spec(vec![
        step(
            "join",
            &["left", "right"],
            "{{steps.left.result}} {{steps.root.result}}",
        ),
        step("right", &["root"], ""),
        step("left", &["root"], "{{inputs.k}}"),
        step("root", &[], ""),
        step("alone", &[], ""),
    ]))
    .expect("a valid diamond");
    assert_eq!(plan.order, ["root", "alone", "right", "left", "join"]);
    assert_eq!(
        plan.waves,
        [vec!["root", "alone"], vec!["right", "left"], vec!["join"]]
    );
}

#[test]
fn duplicates_unknowns_and_bad_ids_are_named() {
    assert_eq!(
        error(vec![step("a", &[], ""), step("a", &[], "")]),
        "step id 'a' is used twice: step ids must be unique"
    );
    assert_eq!(
        error(vec![step("a", &["ghost"], "")]),
        "step 'a' runs after 'ghost', which is not a step of this workflow"
    );
    assert_eq!(
        error(vec![step("a", &[], ""), step("b", &["a", "a"], "")]),
        "step 'b' lists 'a' twice in `after`"
    );
    let e = error(vec![step("health-check", &[], "")]);
    assert!(
        e.starts_with("step id 'health-check' is not allowed: 1 to 27 letters"),
        "{e}"
    );
    assert!(error(vec![step(&"a".repeat(28), &[], "")]).contains("is not allowed"));
}

#[test]
fn a_cycle_is_printed_along_its_edges() {
    let e = error(vec![step("a", &["b"], ""), step("b", &["a"], "")]);
    assert_eq!(
        e,
        "steps wait for each other in a cycle: a → b → a (each runs after the next)"
    );
    assert!(error(vec![step("a", &["a"], "")]).contains(": a → a ("));
    // A step behind a cycle leads to it; the cycle printed is the cycle.
    let e = error(vec![
        step("tail", &["x"], ""),
        step("x", &["y"], ""),
        step("y", &["z"], ""),
        step("z", &["x"], ""),
        step("ok", &[], ""),
    ]);
    assert!(e.contains(": x → y → z → x ("), "{e}");
}

#[test]
fn the_step_count_is_bounded() {
    assert_eq!(
        validate(&spec(Vec::new())).expect_err("empty").to_string(),
        "workflow 'w' has no steps: add at least one under `steps`"
    );
    let chain = |n: usize| -> Vec<StepSpec> {
        (0..n)
            .map(|i| {
                let id = format!("s{i}");
                let prev = format!("s{}", i.saturating_sub(1));
                let after: Vec<&str> = if i == 0 { vec![] } else { vec![prev.as_str()] };
                step(&id, &after, "")
            })
            .collect()
    };
    let plan = validate(&spec(chain(STEPS_MAX))).expect("the largest workflow");
    assert_eq!(plan.waves.len(), STEPS_MAX);
    assert_eq!(plan.order.last().map(String::as_str), Some("s99"));
    let e = validate(&spec(chain(STEPS_MAX + 1))).expect_err("too many");
    assert!(e.to_string().starts_with("101 steps: at most 100"), "{e}");
}

#[test]
fn references_must_name_declared_inputs_and_upstream_steps() {
    let e = error(vec![step("a", &[], "{{inputs.nope}}")]);
    assert_eq!(
        e,
        "step 'a' uses {{inputs.nope}}, but the workflow declares no input 'nope'"
    );
    let e = error(vec![step("a", &[], "{{steps.ghost.result}}")]);
    assert_eq!(
        e,
        "step 'a' uses the result of 'ghost', which is not a step of this workflow"
    );
    let e = error(vec![
        step("a", &[], ""),
        step("b", &[], "{{steps.a.result}}"),
    ]);
    assert!(
        e.starts_with("step 'b' uses the result of 'a' but does not run after it"),
        "{e}"
    );
    let e = error(vec![step("a", &[], "{{steps.a.result}}")]);
    assert!(e.contains("does not run after it"), "its own result: {e}");
    // Downstream is not upstream; indirect upstream is.
    let e = error(vec![
        step("a", &[], "{{steps.b.result}}"),
        step("b", &["a"], ""),
    ]);
    assert!(e.starts_with("step 'a' uses the result of 'b'"), "{e}");
    let ok = spec(vec![
        step("a", &[], ""),
        step("b", &["a"], ""),
        step("c", &["b"], "{{steps.a.result}}"),
    ]);
    assert!(validate(&ok).is_ok());
    let e = error(vec![step("a", &[], "x {{inputs.k")]);
    assert_eq!(
        e,
        "step 'a': '{{' at 2 is never closed: expected '}}' after it"
    );
}

#[test]
fn each_steps_fields_are_bounded() {
    let with = |f: fn(&mut StepSpec)| {
        let mut s = step("a", &[], "");
        f(&mut s);
        error(vec![s])
    };
    assert!(with(|s| s.title = "  ".into()).contains("the title is empty"));
    assert!(with(|s| s.title = "t".repeat(501)).contains("the title is empty or over 500"));
    assert!(with(|s| s.input = "i".repeat(64 * 1024 + 1)).contains("the input is 65537 bytes"));
    assert!(
        with(|s| s.requires = vec!["gpu!".into()]).contains("capability 'gpu!' is not allowed")
    );
    assert!(with(|s| s.requires = vec!["c".into(); 21]).contains("requires 21 capabilities"));
    let e = with(|s| s.review = "boss".into());
    assert_eq!(
        e,
        "step 'a': review 'boss' is not a policy: expected none, peer, user or peer+user"
    );
    assert!(with(|s| s.condition = Some(" ".into())).contains("`if` condition is empty"));
    assert!(with(|s| s.condition = Some("x".repeat(1001))).contains("over 1000 bytes"));
    assert!(
        with(|s| s.after = (0..51).map(|i| format!("s{i}")).collect())
            .contains("runs after 51 steps")
    );
    for review in REVIEW_POLICIES {
        let mut s = step("a", &[], "");
        s.review = review.to_string();
        assert!(validate(&spec(vec![s])).is_ok(), "{review}");
    }
}

#[test]
fn the_name_and_inputs_are_checked() {
    let mut w = spec(vec![step("a", &[], "")]);
    w.name = "-w".into();
    assert!(
        validate(&w)
            .expect_err("bad name")
            .to_string()
            .starts_with("workflow name '-w'")
    );
    let mut w = spec(vec![step("a", &[], "")]);
    w.inputs.push(w.inputs[0].clone());
    assert_eq!(
        validate(&w).expect_err("twice").to_string(),
        "input 'k' is declared twice"
    );
    w.inputs[1].name = "a-b".into();
    assert!(
        validate(&w)
            .expect_err("bad")
            .to_string()
            .starts_with("input name 'a-b'")
    );
    w.inputs = (0..33)
        .map(|i| InputSpec {
            name: format!("i{i}"),
            default: None,
            description: String::new(),
        })
        .collect();
    assert_eq!(
        validate(&w).expect_err("many").to_string(),
        "33 inputs: at most 32"
    );
    let mut w = spec(vec![step("a", &[], "")]);
    w.description = "d".repeat(DESCRIPTION_MAX + 1);
    assert!(
        validate(&w)
            .expect_err("long")
            .to_string()
            .contains("description")
    );
}

#[test]
fn a_step_reads_at_most_sixteen_results() {
    let ids: Vec<String> = (0..=RESULTS_MAX).map(|i| format!("s{i}")).collect();
    let mut steps: Vec<StepSpec> = ids.iter().map(|id| step(id, &[], "")).collect();
    let after: Vec<&str> = ids.iter().map(String::as_str).collect();
    let uses = |n: usize| {
        (ids[..n].iter())
            .map(|id| format!("{{{{steps.{id}.result}}}}"))
            .collect::<String>()
    };
    steps.push(step("join", &after, &uses(RESULTS_MAX)));
    assert!(validate(&spec(steps.clone())).is_ok(), "16 results");
    let last = steps.len() - 1;
    steps[last].input = uses(RESULTS_MAX + 1);
    assert_eq!(
        validate(&spec(steps)).expect_err("17").to_string(),
        "step 'join' uses the results of 17 steps: at most 16 (its agent reads them before it starts)"
    );
}

#[test]
fn input_values_may_not_hold_a_reference_opening() {
    let w = spec(vec![step("a", &[], "{{inputs.k}}")]);
    let given = |v: &str| [("k".to_string(), v.to_string())].into();
    assert!(w.resolve_inputs(&given("plain {text}")).is_ok());
    let e = w.resolve_inputs(&given("x {{steps.a.result}}"));
    assert_eq!(
        e.expect_err("braces").to_string(),
        "input 'k' contains '{{': a step would read it as a reference (there is no escape for it)"
    );
    let e = w.resolve_inputs(&given(&"x".repeat(INPUT_VALUES_MAX + 1)));
    assert!(
        matches!(e, Err(WorkflowError::InputsTooLong { .. })),
        "{e:?}"
    );
}
