//! Workflows: a DAG of steps, each of which becomes one task when the
//! workflow runs. Pure: the caller reads the YAML or TOML file and parses
//! it straight into a [`WorkflowSpec`]; this module says whether it is a
//! workflow that can run ([`validate`]), in which order its steps may run
//! ([`Plan`]), and what each step's input says once the inputs and earlier
//! results are known ([`render`]).
//!
//! Every type refuses unknown fields (`deny_unknown_fields`): a misspelt
//! `afer:` would otherwise be dropped in silence and its step would run
//! first. The error from the YAML or TOML parser names the field.
//!
//! A step's `review` policy and `if` condition become its task's (as
//! `vayu task create --review … --if …` set them); the condition may name
//! the steps it runs after by step id.
//! The built-in templates ([`templates`]) run their review and multi-agent
//! coordination steps as plain steps.

mod builtin;
mod error;
mod input;
mod run;
mod validate;

use crate::model::{Priority, TaskType};
use crate::schema::is_task_id;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

pub use builtin::{template, templates};
pub use error::WorkflowError;
pub use input::{Reference, TemplateError, references, render, render_inputs};
pub use run::{RunState, StepPlan, WorkflowRun, prepare, step_of};
pub use validate::{Plan, validate};

/// The most steps a workflow may have. Starting a workflow creates each
/// step's task in a commit of its own (each new task pays the caller's
/// create quota, which names one task per commit), so 100 steps and the
/// run's document cost 101 of a person's 300 creates a minute, and
/// `vayu workflow status` still fits on a screen. A larger process is
/// several workflows.
pub const STEPS_MAX: usize = 100;

/// The most inputs a workflow may declare (each is a `--input k=v`).
pub const INPUTS_MAX: usize = 32;

/// The most steps whose results one step's input may use: the agent that
/// runs it reads their tasks before its handler starts, in one batch get.
pub const RESULTS_MAX: usize = 16;

/// The inputs' values together, in bytes: a run stores them in its
/// document, and each lands in a task input of at most 64 KiB anyway.
pub const INPUT_VALUES_MAX: usize = 64 * 1024;

/// The longest `if` condition, in bytes.
pub const CONDITION_MAX: usize = 1_000;

/// The longest description, in bytes.
pub const DESCRIPTION_MAX: usize = 2_000;

/// The review policies a step may name.
pub const REVIEW_POLICIES: [&str; 4] = ["none", "peer", "user", "peer+user"];

/// The longest run id: a uuid (36 characters) fits.
pub const RUN_ID_MAX: usize = 36;

/// The longest step id: a step's task id is the run id, a `-` and the
/// step id, and a task id is 64 characters at most.
pub const STEP_ID_MAX: usize = 64 - 1 - RUN_ID_MAX;

/// A workflow file, as written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkflowSpec {
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// The inputs a run takes (`--input k=v`), each referred to as
    /// `{{inputs.k}}` in a step's input.
    #[serde(default)]
    pub inputs: Vec<InputSpec>,
    /// Missing is the same as empty, so that [`validate`] says "no steps"
    /// rather than the parser saying "missing field".
    #[serde(default)]
    pub steps: Vec<StepSpec>,
}

/// A declared input; without a default, a run must give it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InputSpec {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<String>,
    #[serde(default)]
    pub description: String,
}

/// One step: the task it becomes, and what it waits for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StepSpec {
    /// Unique in the workflow; part of the step's task id
    /// ([`step_task_id`]) and of `{{steps.<id>.result}}`.
    pub id: String,
    pub title: String,
    #[serde(rename = "type")]
    pub task_type: TaskType,
    /// The steps that must complete before this one is queued.
    #[serde(default)]
    pub after: Vec<String>,
    /// Capabilities the agent must have.
    #[serde(default)]
    pub requires: Vec<String>,
    #[serde(default)]
    pub priority: Priority,
    /// One of [`REVIEW_POLICIES`].
    #[serde(default = "no_review")]
    pub review: String,
    /// A condition over earlier results; stored as text until the
    /// condition language lands, checked for length only.
    #[serde(default, rename = "if", skip_serializing_if = "Option::is_none")]
    pub condition: Option<String>,
    /// The task's input, with `{{inputs.k}}` and `{{steps.<id>.result}}`
    /// filled in when the step is queued ([`render`]).
    #[serde(default)]
    pub input: String,
}

fn no_review() -> String {
    "none".to_string()
}

impl WorkflowSpec {
    /// The step with id `id`.
    pub fn step(&self, id: &str) -> Option<&StepSpec> {
        self.steps.iter().find(|s| s.id == id)
    }

    /// The inputs of a run: `given` (from `--input k=v`) over the
    /// declared defaults. Refuses an undeclared input (likely a typo that
    /// would leave the declared one at its default), a missing one, a
    /// value with `{{` (a step's stored input keeps its result references
    /// for the agent to fill in, and would read the value's `{{` as one:
    /// [`render_inputs`]) and values over [`INPUT_VALUES_MAX`] together.
    pub fn resolve_inputs(
        &self,
        given: &BTreeMap<String, String>,
    ) -> Result<BTreeMap<String, String>, WorkflowError> {
        if let Some(name) = given
            .keys()
            .find(|k| !self.inputs.iter().any(|i| &i.name == *k))
        {
            let declared: Vec<&str> = self.inputs.iter().map(|i| i.name.as_str()).collect();
            return Err(WorkflowError::UndeclaredInput {
                name: name.clone(),
                declared: declared.join(", "),
            });
        }
        let mut out = BTreeMap::new();
        for input in &self.inputs {
            let value = given.get(&input.name).or(input.default.as_ref());
            let value = value.ok_or_else(|| WorkflowError::MissingInput {
                name: input.name.clone(),
            })?;
            if value.contains("{{") {
                let name = input.name.clone();
                return Err(WorkflowError::InputBraces { name });
            }
            out.insert(input.name.clone(), value.clone());
        }
        let len: usize = out.values().map(String::len).sum();
        if len > INPUT_VALUES_MAX {
            return Err(WorkflowError::InputsTooLong { len });
        }
        Ok(out)
    }
}

/// A step id: `^[A-Za-z0-9][A-Za-z0-9_]{0,26}$`. No `-`, so that a step's
/// task id splits at its last `-` into run and step, and so that a
/// reference like `{{steps.health_check.result}}` reads as one name.
pub fn is_step_id(s: &str) -> bool {
    is_name(s, STEP_ID_MAX)
}

/// An input name: `^[A-Za-z0-9][A-Za-z0-9_]{0,63}$`.
pub fn is_input_name(s: &str) -> bool {
    is_name(s, 64)
}

/// A workflow name: the task id pattern (`user_request`, `nightly-check`).
pub fn is_workflow_name(s: &str) -> bool {
    is_task_id(s)
}

/// A run id: the task id pattern, at most [`RUN_ID_MAX`] characters.
pub fn is_run_id(s: &str) -> bool {
    s.len() <= RUN_ID_MAX && is_task_id(s)
}

/// The task id of step `step_id` in run `run_id`: `{run_id}-{step_id}`.
/// Deterministic, so a start that is retried, or made by two agents at
/// once, creates each step once; for ids that pass [`is_run_id`] and
/// [`is_step_id`] it is always a task id.
pub fn step_task_id(run_id: &str, step_id: &str) -> String {
    format!("{run_id}-{step_id}")
}

fn is_name(s: &str, max: usize) -> bool {
    (1..=max).contains(&s.len())
        && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        && s.bytes().next().is_some_and(|b| b.is_ascii_alphanumeric())
}

#[cfg(test)]
mod spec_tests;
#[cfg(test)]
mod validate_tests;
