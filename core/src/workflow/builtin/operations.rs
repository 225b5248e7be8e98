//! The flows that run things: a user's request, maintenance, the
//! scheduled house-management run, and a CI run.

use super::{input, spec, step};
use crate::model::{Priority, TaskType};
use crate::workflow::{StepSpec, WorkflowSpec};

/// User request → validation → priority assessment → assignment →
/// execution → user feedback loop → review → completion.
pub(super) fn user_request() -> WorkflowSpec {
    use Priority::{High, Normal};
    let t = TaskType::UserRequest;
    let execution = StepSpec {
        review: "peer".to_string(),
        ..step(
            "execution",
            "Do the requested work",
            t,
            Normal,
            &["assignment"],
            "Do this request:\n{{steps.validation.result}}\n\nPriority: {{steps.priority_assessment.result}}\nApproach and who does what: {{steps.assignment.result}}",
        )
    };
    let steps = vec![
        step(
            "validation",
            "Validate the request",
            t,
            High,
            &[],
            "Check that this request from {{inputs.requester}} is clear, feasible and allowed, and restate it precisely (or say what is missing):\n{{inputs.request}}",
        ),
        step(
            "priority_assessment",
            "Assess the request's priority",
            t,
            High,
            &["validation"],
            "Rate the urgency and impact of this request as critical, high, normal or low, with one line of reasons:\n{{steps.validation.result}}",
        ),
        step(
            "assignment",
            "Plan the work and who does it",
            t,
            Normal,
            &["priority_assessment"],
            "Break this request into an approach and name the skills it needs:\n{{steps.validation.result}}\nPriority: {{steps.priority_assessment.result}}",
        ),
        execution,
        step(
            "user_feedback",
            "Ask the requester for feedback",
            t,
            Normal,
            &["execution"],
            "Show {{inputs.requester}} this result of their request and record their feedback:\n{{steps.execution.result}}",
        ),
        step(
            "review",
            "Review the result against the feedback",
            t,
            Normal,
            &["user_feedback"],
            "Review this result against the request and the feedback; list what must change, if anything.\nRequest: {{steps.validation.result}}\nResult: {{steps.execution.result}}\nFeedback: {{steps.user_feedback.result}}",
        ),
        step(
            "completion",
            "Close the request",
            t,
            Normal,
            &["review"],
            "Write the final answer to {{inputs.requester}}, applying the review:\nResult: {{steps.execution.result}}\nReview: {{steps.review.result}}",
        ),
    ];
    let inputs = vec![
        input("request", None, "what the user asked for"),
        input(
            "requester",
            Some("the user"),
            "who asked, as the answer should address them",
        ),
    ];
    spec(
        t,
        "A user's request, from validation to an answer they have reviewed.",
        inputs,
        steps,
    )
}

/// Scheduled trigger → health check → issue detection → auto-assignment
/// → background execution → verification → log.
pub(super) fn maintenance() -> WorkflowSpec {
    use Priority::{Low, Normal};
    let t = TaskType::Maintenance;
    let steps = vec![
        step(
            "health_check",
            "Check the system's health",
            t,
            Normal,
            &[],
            "Check the health of {{inputs.target}}: services, storage, queues, errors. Report each check and its outcome.",
        ),
        step(
            "issue_detection",
            "Find the issues",
            t,
            Normal,
            &["health_check"],
            "From this health report, list the issues to fix, most severe first, or say there are none:\n{{steps.health_check.result}}",
        ),
        step(
            "background_execution",
            "Fix the issues",
            t,
            Low,
            &["issue_detection"],
            "Fix these issues on {{inputs.target}} without disturbing running work:\n{{steps.issue_detection.result}}",
        ),
        step(
            "verification",
            "Verify the fixes",
            t,
            Normal,
            &["background_execution"],
            "Check again that each issue is gone.\nIssues: {{steps.issue_detection.result}}\nWhat was done: {{steps.background_execution.result}}",
        ),
        step(
            "log",
            "Log the maintenance run",
            t,
            Low,
            &["verification"],
            "Write a short maintenance log entry for {{inputs.target}}: the health report, issues, fixes and their verification.\n{{steps.health_check.result}}\n{{steps.background_execution.result}}\n{{steps.verification.result}}",
        ),
    ];
    let inputs = vec![input("target", Some("the fleet"), "what to maintain")];
    spec(
        t,
        "A routine check of a system's health, with fixes, verification and a log.",
        inputs,
        steps,
    )
}

/// Cron trigger → context loading → multi-agent coordination →
/// distributed execution → result aggregation → report generation. The
/// distributed execution is three parallel parts (fan-out) that the
/// aggregation waits for (fan-in).
pub(super) fn scheduled() -> WorkflowSpec {
    use Priority::Normal;
    let t = TaskType::Scheduled;
    let part = |n: &str| {
        let id = format!("execute_part_{n}");
        let title = format!("Carry out part {n} of 3");
        let body = format!(
            "Carry out part {n} of 3 of this plan for {{{{inputs.household}}}}; report what you did and anything left undone:\n{{{{steps.coordination.result}}}}"
        );
        step(&id, &title, t, Normal, &["coordination"], &body)
    };
    let steps = vec![
        step(
            "context_loading",
            "Load the context",
            t,
            Normal,
            &[],
            "Gather what {{inputs.household}} needs today for: {{inputs.tasks}}. Include the calendar, supplies, and the state of open chores.",
        ),
        step(
            "coordination",
            "Split the work between agents",
            t,
            Normal,
            &["context_loading"],
            "Split this work into three independent parts, labelled 1, 2 and 3, that can run at once:\n{{steps.context_loading.result}}",
        ),
        part("1"),
        part("2"),
        part("3"),
        step(
            "aggregation",
            "Combine the parts' results",
            t,
            Normal,
            &["execute_part_1", "execute_part_2", "execute_part_3"],
            "Combine these results into one account; note conflicts and gaps.\nPart 1: {{steps.execute_part_1.result}}\nPart 2: {{steps.execute_part_2.result}}\nPart 3: {{steps.execute_part_3.result}}",
        ),
        step(
            "report",
            "Write the report",
            t,
            Normal,
            &["aggregation"],
            "Write the report of this run for {{inputs.household}}:\n{{steps.aggregation.result}}",
        ),
    ];
    let inputs = vec![
        input("household", Some("the house"), "whose house is managed"),
        input(
            "tasks",
            Some("the daily routine"),
            "what this run should take care of",
        ),
    ];
    spec(
        t,
        "A recurring house-management run, split between agents and gathered into a report.",
        inputs,
        steps,
    )
}

/// A CI run (`vayu github ci`, README "GitHub"): one step, whose input is
/// the JSON the handler reads (the ref to run on).
pub(super) fn ci() -> WorkflowSpec {
    let t = TaskType::Ci;
    let steps = vec![step(
        "run",
        "Run the CI workflow",
        t,
        Priority::Normal,
        &[],
        "{\"ref\": \"{{inputs.ref}}\"}",
    )];
    let inputs = vec![input("ref", Some("main"), "the branch or tag to run on")];
    spec(
        t,
        "A GitHub Actions run, ended as its conclusion.",
        inputs,
        steps,
    )
}
