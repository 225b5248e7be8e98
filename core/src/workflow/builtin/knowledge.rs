//! The flows that build knowledge: research, and an agent's learning.

use super::{input, spec, step};
use crate::model::{Priority, TaskType};
use crate::workflow::{StepSpec, WorkflowSpec};

/// Problem definition → literature review → hypothesis formation →
/// experiment design → data collection → analysis → report.
pub(super) fn research() -> WorkflowSpec {
    use Priority::Normal;
    let t = TaskType::Research;
    let steps = vec![
        step(
            "problem_definition",
            "Define the problem",
            t,
            Normal,
            &[],
            "State this research question precisely, with its scope and what would answer it:\n{{inputs.question}}",
        ),
        step(
            "literature_review",
            "Review the literature",
            t,
            Normal,
            &["problem_definition"],
            "Summarise what is already known about this problem, with sources ({{inputs.depth}} depth):\n{{steps.problem_definition.result}}",
        ),
        step(
            "hypothesis",
            "Form a hypothesis",
            t,
            Normal,
            &["literature_review"],
            "Propose a testable hypothesis for the problem, given what is known.\nProblem: {{steps.problem_definition.result}}\nKnown: {{steps.literature_review.result}}",
        ),
        step(
            "experiment_design",
            "Design the experiment",
            t,
            Normal,
            &["hypothesis"],
            "Design an experiment that could refute this hypothesis: what to measure, how, and what result would count against it.\n{{steps.hypothesis.result}}",
        ),
        step(
            "data_collection",
            "Collect the data",
            t,
            Normal,
            &["experiment_design"],
            "Run this experiment design and record the raw data and any deviations:\n{{steps.experiment_design.result}}",
        ),
        step(
            "analysis",
            "Analyse the data",
            t,
            Normal,
            &["data_collection"],
            "Analyse this data against the hypothesis and say whether it holds.\nHypothesis: {{steps.hypothesis.result}}\nData: {{steps.data_collection.result}}",
        ),
        step(
            "report",
            "Write the research report",
            t,
            Normal,
            &["analysis"],
            "Write the report: question, prior work, hypothesis, method, results, conclusion.\n{{steps.problem_definition.result}}\n{{steps.literature_review.result}}\n{{steps.experiment_design.result}}\n{{steps.analysis.result}}",
        ),
    ];
    let inputs = vec![
        input("question", None, "the research question"),
        input(
            "depth",
            Some("standard"),
            "how deep the literature review goes",
        ),
    ];
    spec(
        t,
        "A research question taken from definition to a report, one method step at a time.",
        inputs,
        steps,
    )
}

/// Skill gap identified → curriculum selection → practice session →
/// progress assessment → feedback → skill update. The learner practises
/// and updates its own skills: those two steps require `agent:ID`, the
/// capability only that agent has, and the skill update asks its handler
/// to print `vayu:skill NAME` when the skill is learned; the agent then
/// lists it in its capabilities, which assignment reads.
pub(super) fn learning() -> WorkflowSpec {
    use Priority::{Low, Normal};
    let t = TaskType::Learning;
    let by_learner = |mut s: StepSpec| {
        s.requires = vec!["agent:{{inputs.agent}}".to_string()];
        s
    };
    let steps = vec![
        step(
            "skill_gap",
            "Describe the skill gap",
            t,
            Normal,
            &[],
            "Describe what agent {{inputs.agent}} cannot yet do in {{inputs.skill}}, with an example of a task it failed or could not take.",
        ),
        step(
            "curriculum",
            "Choose a curriculum",
            t,
            Low,
            &["skill_gap"],
            "Choose a short curriculum of exercises that closes this gap:\n{{steps.skill_gap.result}}",
        ),
        by_learner(step(
            "practice",
            "Practise",
            t,
            Low,
            &["curriculum"],
            "Work through these exercises as agent {{inputs.agent}} and record each attempt:\n{{steps.curriculum.result}}",
        )),
        step(
            "assessment",
            "Assess the progress",
            t,
            Normal,
            &["practice"],
            "Assess these attempts against the gap: what is now learned, what is not.\nGap: {{steps.skill_gap.result}}\nAttempts: {{steps.practice.result}}",
        ),
        step(
            "feedback",
            "Give feedback",
            t,
            Normal,
            &["assessment"],
            "Give agent {{inputs.agent}} concrete feedback on {{inputs.skill}} from this assessment:\n{{steps.assessment.result}}",
        ),
        by_learner(step(
            "skill_update",
            "Update the agent's skills",
            t,
            Normal,
            &["feedback"],
            "Decide whether you, agent {{inputs.agent}}, now have the skill '{{inputs.skill}}' (answer yes or no, then why). If yes, print the line\nvayu:skill {{inputs.skill}}\nso that assignment can use it.\nAssessment: {{steps.assessment.result}}\nFeedback: {{steps.feedback.result}}",
        )),
    ];
    let inputs = vec![
        input("agent", None, "the agent that learns"),
        input("skill", None, "the skill it learns, as a capability name"),
    ];
    spec(
        t,
        "An agent closes a skill gap through practice and assessment.",
        inputs,
        steps,
    )
}
