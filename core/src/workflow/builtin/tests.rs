//! The built-in templates' tests: valid, in the seed's order, and
//! chaining results forward.

use super::*;
use crate::workflow::{Reference, references, validate};

#[test]
fn all_are_valid_and_named_after_their_task_type() {
    let all = templates();
    let names: Vec<&str> = all.iter().map(|t| t.name.as_str()).collect();
    let types: Vec<&str> = TaskType::ALL.iter().map(|t| t.as_str()).collect();
    assert_eq!(names, types);
    for t in &all {
        let plan = validate(t).unwrap_or_else(|e| panic!("{}: {e}", t.name));
        assert_eq!(plan.order.len(), t.steps.len());
        assert!(
            t.steps.iter().all(|s| s.task_type.as_str() == t.name),
            "{}",
            t.name
        );
        // Any agent may take a step, but the learner's own two.
        let pinned: Vec<&str> = (t.steps.iter())
            .filter(|s| !s.requires.is_empty())
            .map(|s| s.id.as_str())
            .collect();
        let want: &[&str] = match t.name.as_str() {
            "learning" => &["practice", "skill_update"],
            _ => &[],
        };
        assert_eq!(pinned, want, "{}", t.name);
    }
    assert_eq!(template("research").map(|t| t.steps.len()), Some(7));
    assert_eq!(template("nope"), None);
}

#[test]
fn the_learner_is_pinned_by_its_agent_capability() {
    let spec = template("learning").expect("built in");
    let given = [("agent", "wf-1"), ("skill", "rust")]
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .into();
    let (_, steps) = crate::workflow::prepare(&spec, "run-1", &given, "alice").expect("plans");
    let update = steps
        .iter()
        .find(|s| s.step.id == "skill_update")
        .expect("a step");
    assert_eq!(update.step.requires, vec!["agent:wf-1".to_string()]);
    assert!(update.input.contains("vayu:skill rust"), "{}", update.input);
    // An agent id that makes no capability is refused when the run starts.
    let bad = [("agent", "two words"), ("skill", "rust")]
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .into();
    let err = crate::workflow::prepare(&spec, "run-2", &bad, "alice").expect_err("refused");
    assert!(err.to_string().contains("agent:two words"), "{err}");
}

#[test]
fn each_flow_follows_the_seed_in_order() {
    let chains = [
        (
            "user_request",
            "validation priority_assessment assignment execution user_feedback review completion",
        ),
        (
            "maintenance",
            "health_check issue_detection background_execution verification log",
        ),
        (
            "research",
            "problem_definition literature_review hypothesis experiment_design data_collection analysis report",
        ),
        (
            "learning",
            "skill_gap curriculum practice assessment feedback skill_update",
        ),
    ];
    for (name, chain) in chains {
        let t = template(name).expect("a built-in template");
        let plan = validate(&t).expect("valid");
        let want: Vec<&str> = chain.split(' ').collect();
        assert_eq!(plan.order, want, "{name}");
        assert_eq!(
            plan.waves.len(),
            want.len(),
            "{name}: a chain, one step per wave"
        );
    }
}

#[test]
fn the_scheduled_flow_fans_out_and_back_in() {
    let plan = validate(&template("scheduled").expect("built in")).expect("valid");
    assert_eq!(plan.waves.len(), 5);
    assert_eq!(
        plan.waves[2],
        ["execute_part_1", "execute_part_2", "execute_part_3"]
    );
    assert_eq!(plan.waves[3], ["aggregation"]);
}

#[test]
fn every_step_after_the_first_builds_on_an_earlier_result() {
    for t in templates() {
        for s in t.steps.iter().filter(|s| !s.after.is_empty()) {
            let refs = references(&s.input).expect("well formed");
            let uses_result = refs.iter().any(|(_, r)| matches!(r, Reference::Result(_)));
            assert!(uses_result, "{}.{} uses no earlier result", t.name, s.id);
        }
        let inputs_used = t.steps.iter().any(|s| s.input.contains("{{inputs."));
        assert!(inputs_used, "{} uses none of its inputs", t.name);
    }
}
