//! Why a workflow cannot run. Each message names the step or input at
//! fault and says what would be right, because the person reading it is
//! looking at the file, not at this code.

use super::{
    CONDITION_MAX, DESCRIPTION_MAX, INPUT_VALUES_MAX, INPUTS_MAX, RESULTS_MAX, STEP_ID_MAX,
    STEPS_MAX, TemplateError,
};
use crate::model::limits;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WorkflowError {
    #[error(
        "workflow name '{name}' is not allowed: 1 to 64 letters, digits, '_' or '-', starting with a letter or digit"
    )]
    BadName { name: String },
    #[error("the description is {len} bytes: at most {DESCRIPTION_MAX}")]
    DescriptionTooLong { len: usize },
    #[error("workflow '{name}' has no steps: add at least one under `steps`")]
    NoSteps { name: String },
    #[error("{count} steps: at most {STEPS_MAX}; split the workflow")]
    TooManySteps { count: usize },
    #[error("{count} inputs: at most {INPUTS_MAX}")]
    TooManyInputs { count: usize },
    #[error(
        "input name '{name}' is not allowed: 1 to 64 letters, digits or '_', starting with a letter or digit"
    )]
    BadInputName { name: String },
    #[error(
        "input '{name}' contains '{{{{': a step would read it as a reference (there is no escape for it)"
    )]
    InputBraces { name: String },
    #[error("the inputs' values are {len} bytes together: at most {INPUT_VALUES_MAX}")]
    InputsTooLong { len: usize },
    #[error(
        "step '{step}' uses the results of {count} steps: at most {RESULTS_MAX} (its agent reads them before it starts)"
    )]
    TooManyResults { step: String, count: usize },
    #[error("input '{name}' is declared twice")]
    DuplicateInput { name: String },
    #[error(
        "step id '{id}' is not allowed: 1 to {STEP_ID_MAX} letters, digits or '_', starting with a letter or digit (it becomes part of a task id)"
    )]
    BadStepId { id: String },
    #[error("step id '{id}' is used twice: step ids must be unique")]
    DuplicateStep { id: String },
    #[error(
        "step '{step}': the title is empty or over {} bytes",
        limits::TITLE_MAX
    )]
    BadTitle { step: String },
    #[error(
        "step '{step}': the input is {len} bytes, at most {}",
        limits::INPUT_MAX
    )]
    InputTooLong { step: String, len: usize },
    #[error(
        "step '{step}' runs after {count} steps: at most {}",
        limits::DEPENDENCIES_MAX
    )]
    TooManyAfter { step: String, count: usize },
    #[error("step '{step}' lists '{after}' twice in `after`")]
    DuplicateAfter { step: String, after: String },
    #[error("step '{step}' runs after '{after}', which is not a step of this workflow")]
    UnknownAfter { step: String, after: String },
    #[error("steps wait for each other in a cycle: {cycle} (each runs after the next)")]
    Cycle { cycle: String },
    #[error(
        "step '{step}' requires {count} capabilities: at most {}",
        limits::REQUIRES_MAX
    )]
    TooManyRequires { step: String, count: usize },
    #[error(
        "step '{step}': capability '{capability}' is not allowed: 1 to 64 letters, digits or '_.:/+-'"
    )]
    BadCapability { step: String, capability: String },
    #[error(
        "step '{step}': review '{review}' is not a policy: expected none, peer, user or peer+user"
    )]
    BadReview { step: String, review: String },
    #[error("step '{step}': the `if` condition is empty or over {CONDITION_MAX} bytes")]
    BadCondition { step: String },
    #[error("step '{step}': {source}")]
    Template {
        step: String,
        #[source]
        source: TemplateError,
    },
    #[error(
        "step '{step}' uses {{{{inputs.{name}}}}}, but the workflow declares no input '{name}'"
    )]
    UnknownInput { step: String, name: String },
    #[error("step '{step}' uses the result of '{other}', which is not a step of this workflow")]
    UnknownResult { step: String, other: String },
    #[error(
        "step '{step}' uses the result of '{other}' but does not run after it: add '{other}' to its `after` (directly or through a step in between)"
    )]
    NotUpstream { step: String, other: String },
    #[error(
        "run id '{id}' is not allowed: at most {} characters of a task id",
        super::RUN_ID_MAX
    )]
    BadRunId { id: String },
    #[error("input '{name}' is not declared (declared: {declared})")]
    UndeclaredInput { name: String, declared: String },
    #[error("input '{name}' has no value and no default: give it with --input {name}=VALUE")]
    MissingInput { name: String },
}
