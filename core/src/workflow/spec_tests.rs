//! The spec as a file reads it: serde with unknown fields refused, the
//! ids' bounds, and a run's inputs.

use super::*;

fn parse(json: &str) -> Result<WorkflowSpec, serde_json::Error> {
    serde_json::from_str(json)
}

#[test]
fn a_minimal_file_reads_with_defaults() {
    let spec = parse(r#"{"name":"w","steps":[{"id":"a","title":"A","type":"research"}]}"#)
        .expect("a minimal workflow");
    let a = &spec.steps[0];
    assert_eq!(a.task_type, TaskType::Research);
    assert_eq!(a.priority, Priority::Normal);
    assert_eq!(a.review, "none");
    assert_eq!(
        (a.after.len(), a.requires.len(), a.condition.clone()),
        (0, 0, None)
    );
    assert!(validate(&spec).is_ok());
    // `if` and `type` are the names in the file.
    let full = r#"{"name":"w","steps":[{"id":"a","title":"A","type":"maintenance",
        "priority":"high","review":"peer+user","if":"x.result.ok == true","requires":["gpu"]}]}"#;
    let a = parse(full).expect("every field").steps.remove(0);
    assert_eq!(a.condition.as_deref(), Some("x.result.ok == true"));
    assert_eq!(
        (a.priority, a.review.as_str()),
        (Priority::High, "peer+user")
    );
    let back = serde_json::to_value(&a).expect("serializes");
    assert_eq!(back["if"], "x.result.ok == true");
    assert_eq!(back["type"], "maintenance");
}

#[test]
fn an_unknown_field_is_an_error_that_names_it() {
    let cases = [
        (r#"{"name":"w","stepz":[]}"#, "stepz"),
        (
            r#"{"name":"w","steps":[{"id":"a","title":"A","type":"research","afer":["b"]}]}"#,
            "afer",
        ),
        (
            r#"{"name":"w","inputs":[{"name":"k","defualt":"v"}],"steps":[]}"#,
            "defualt",
        ),
    ];
    for (json, field) in cases {
        let e = parse(json).expect_err(field).to_string();
        assert!(e.contains(&format!("unknown field `{field}`")), "{e}");
    }
    let e = parse(r#"{"name":"w","steps":[{"id":"a","title":"A","type":"chore"}]}"#)
        .expect_err("not a task type")
        .to_string();
    assert!(e.contains("unknown variant `chore`"), "{e}");
    let e = parse(r#"{"name":"w","steps":[{"id":"a","title":"A"}]}"#).expect_err("no type");
    assert!(e.to_string().contains("missing field `type`"), "{e}");
}

#[test]
fn step_and_run_ids_always_make_a_task_id() {
    let run = "85e85575-fe4c-49c0-b740-ce62f9546d9a";
    assert!(is_run_id(run));
    let longest = "a".repeat(STEP_ID_MAX);
    for step in ["a", "A_1", "skill_update", longest.as_str()] {
        assert!(is_step_id(step), "{step}");
        for r in [run, "r", &"Z".repeat(RUN_ID_MAX)] {
            let id = step_task_id(r, step);
            assert!(crate::schema::is_task_id(&id), "{id}");
        }
    }
    assert_eq!(step_task_id(run, &longest).len(), 64);
    for bad in [
        "",
        "_a",
        "a-b",
        "a.b",
        "a b",
        "é",
        &"a".repeat(STEP_ID_MAX + 1),
    ] {
        assert!(!is_step_id(bad), "{bad:?}");
    }
    assert!(!is_run_id(&"a".repeat(RUN_ID_MAX + 1)) && !is_run_id("-a"));
    // A step id has no '-', so the last '-' splits run from step.
    let id = step_task_id("run-1", "a_b");
    assert_eq!(id.rsplit_once('-'), Some(("run-1", "a_b")));
}

#[test]
fn a_runs_inputs_take_defaults_and_refuse_typos_and_gaps() {
    let spec = builtin::template("research").expect("built in");
    let given = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    };
    let inputs = spec
        .resolve_inputs(&given(&[("question", "why?")]))
        .expect("depth defaults");
    assert_eq!(inputs.get("depth").map(String::as_str), Some("standard"));
    let over = spec.resolve_inputs(&given(&[("question", "q"), ("depth", "deep")]));
    assert_eq!(
        over.expect("given").get("depth").map(String::as_str),
        Some("deep")
    );
    let e = spec
        .resolve_inputs(&given(&[]))
        .expect_err("question is required");
    assert_eq!(
        e.to_string(),
        "input 'question' has no value and no default: give it with --input question=VALUE"
    );
    let e = spec
        .resolve_inputs(&given(&[("question", "q"), ("qestion", "q")]))
        .expect_err("typo");
    assert_eq!(
        e.to_string(),
        "input 'qestion' is not declared (declared: question, depth)"
    );
    // Rendering the first step with the resolved inputs.
    let text = render(&spec.steps[0].input, &inputs, &BTreeMap::new()).expect("filled in");
    assert!(text.ends_with("why?"), "{text}");
}

#[test]
fn a_toml_file_reads_straight_into_a_spec() {
    let file = r#"
name = "nightly-report"
description = "gather, then write"

[[inputs]]
name = "topic"

[[inputs]]
name = "tone"
default = "plain"

[[steps]]
id = "gather"
title = "Gather the facts"
type = "research"
input = "Facts about {{inputs.topic}}"

[[steps]]
id = "write"
title = "Write it up"
type = "research"
after = ["gather"]
priority = "low"
review = "peer"
if = 'gather.result.status == "ok"'
input = "In a {{inputs.tone}} tone: {{steps.gather.result}}"
"#;
    let spec: WorkflowSpec = toml::from_str(file).expect("a valid workflow file");
    let plan = validate(&spec).expect("valid");
    assert_eq!(plan.order, ["gather", "write"]);
    let write = spec.step("write").expect("declared");
    assert_eq!(write.priority, Priority::Low);
    assert_eq!(
        write.condition.as_deref(),
        Some(r#"gather.result.status == "ok""#)
    );
    assert_eq!(spec.inputs[1].default.as_deref(), Some("plain"));

    let typo = file.replace("after = [", "afterr = [");
    let e = toml::from_str::<WorkflowSpec>(&typo)
        .expect_err("unknown field")
        .to_string();
    assert!(e.contains("unknown field `afterr`"), "{e}");
    assert!(e.contains("line 22"), "the parser says where: {e}");
}
