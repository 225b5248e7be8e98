//! The seed's five task-type flows (section 4), and a `ci` run, as
//! built-in workflows, so
//! `vayu workflow templates` and `vayu task create --type research
//! --workflow` need no file.
//!
//! Built in Rust, not read from files: the core does no I/O, and the
//! compiler and [`super::validate`] check them. Each step's input carries
//! the earlier results forward through `{{steps.<id>.result}}`, so an
//! agent picking up a step sees what it builds on.
//!
//! No step requires a capability: the templates must run on any fleet
//! (the demo handler included); a team that needs one copies the
//! template into a file and adds `requires`. The seed's triggers ("user
//! request", "cron trigger", "skill gap identified") are how a run
//! starts, not steps, and "auto-assignment" is what the queue does to
//! every step anyway.
//!
//! Review and multi-agent coordination run as plain steps for now: a step
//! that asks an agent to review or to coordinate. The review and
//! collaboration issues plug into those steps (and into `review`
//! policies, stored but not yet enforced) when they land.

mod knowledge;
mod operations;
#[cfg(test)]
mod tests;

use super::{InputSpec, StepSpec, WorkflowSpec};
use crate::model::{Priority, TaskType};
use knowledge::{learning, research};
use operations::{ci, maintenance, scheduled, user_request};

/// Every built-in template, in the seed's order.
pub fn templates() -> Vec<WorkflowSpec> {
    vec![
        user_request(),
        maintenance(),
        scheduled(),
        research(),
        learning(),
        ci(),
    ]
}

/// The built-in template named `name` (its task type's name).
pub fn template(name: &str) -> Option<WorkflowSpec> {
    templates().into_iter().find(|t| t.name == name)
}

fn spec(
    t: TaskType,
    description: &str,
    inputs: Vec<InputSpec>,
    steps: Vec<StepSpec>,
) -> WorkflowSpec {
    WorkflowSpec {
        name: t.as_str().to_string(),
        description: description.to_string(),
        inputs,
        steps,
    }
}

fn input(name: &str, default: Option<&str>, description: &str) -> InputSpec {
    InputSpec {
        name: name.to_string(),
        default: default.map(str::to_string),
        description: description.to_string(),
    }
}

/// A step with no requirements, no review and no condition.
fn step(id: &str, title: &str, t: TaskType, p: Priority, after: &[&str], input: &str) -> StepSpec {
    StepSpec {
        id: id.to_string(),
        title: title.to_string(),
        task_type: t,
        after: after.iter().map(|a| a.to_string()).collect(),
        requires: Vec::new(),
        priority: p,
        review: "none".to_string(),
        condition: None,
        input: input.to_string(),
    }
}
