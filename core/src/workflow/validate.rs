//! Whether a workflow can run, and in which order its steps may.
//!
//! Everything is checked before anything is written, so `vayu workflow
//! run` with a bad file writes nothing. The order is computed here with a
//! small level-by-level Kahn pass; the task dependency graph (issue 13,
//! written in parallel) may take this over later.

use super::input::{Reference, references, render};
use super::{
    CONDITION_MAX, DESCRIPTION_MAX, INPUTS_MAX, RESULTS_MAX, REVIEW_POLICIES, STEPS_MAX, StepSpec,
    WorkflowError, WorkflowSpec, is_input_name, is_step_id, is_workflow_name,
};
use crate::model::limits;
use crate::schema::is_capability;
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// A valid workflow's steps in an order they can run in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// Every step id, each after all the steps it runs after; steps that
    /// could go either way keep the order of the file.
    pub order: Vec<String>,
    /// The same steps in waves: a step's dependencies are all in earlier
    /// waves, so the steps of one wave may run at once (a fan-out), and a
    /// step after several of them waits in a later wave (the fan-in).
    pub waves: Vec<Vec<String>>,
}

/// Checks `spec` and gives its [`Plan`]: the name and counts, the inputs,
/// each step's fields, `after` (known, no duplicates, no cycle), and that
/// every reference in a step's input names a declared input or a step it
/// runs after, directly or not (a result is only there once that step
/// has completed).
pub fn validate(spec: &WorkflowSpec) -> Result<Plan, WorkflowError> {
    check_header(spec)?;
    let index = check_steps(spec)?;
    let deps = dependencies(spec, &index)?;
    let waves = waves(spec, &deps)?;
    let order: Vec<usize> = waves.iter().flatten().copied().collect();
    check_references(spec, &index, &deps, &order)?;
    let id = |i: &usize| spec.steps[*i].id.clone();
    Ok(Plan {
        order: order.iter().map(id).collect(),
        waves: waves.iter().map(|w| w.iter().map(id).collect()).collect(),
    })
}

fn check_header(spec: &WorkflowSpec) -> Result<(), WorkflowError> {
    if !is_workflow_name(&spec.name) {
        return Err(WorkflowError::BadName {
            name: spec.name.clone(),
        });
    }
    if spec.description.len() > DESCRIPTION_MAX {
        let len = spec.description.len();
        return Err(WorkflowError::DescriptionTooLong { len });
    }
    match spec.steps.len() {
        0 => Err(WorkflowError::NoSteps {
            name: spec.name.clone(),
        }),
        count if count > STEPS_MAX => Err(WorkflowError::TooManySteps { count }),
        _ => check_inputs(spec),
    }
}

fn check_inputs(spec: &WorkflowSpec) -> Result<(), WorkflowError> {
    if spec.inputs.len() > INPUTS_MAX {
        let count = spec.inputs.len();
        return Err(WorkflowError::TooManyInputs { count });
    }
    let mut seen = BTreeSet::new();
    for input in &spec.inputs {
        let name = input.name.clone();
        if !is_input_name(&input.name) {
            return Err(WorkflowError::BadInputName { name });
        }
        if !seen.insert(&input.name) {
            return Err(WorkflowError::DuplicateInput { name });
        }
    }
    Ok(())
}

/// Each step's own fields; the index of each step id.
fn check_steps(spec: &WorkflowSpec) -> Result<HashMap<&str, usize>, WorkflowError> {
    let mut index = HashMap::new();
    for (i, step) in spec.steps.iter().enumerate() {
        let id = step.id.clone();
        if !is_step_id(&step.id) {
            return Err(WorkflowError::BadStepId { id });
        }
        if index.insert(step.id.as_str(), i).is_some() {
            return Err(WorkflowError::DuplicateStep { id });
        }
        check_fields(spec, step)?;
    }
    Ok(index)
}

fn check_fields(spec: &WorkflowSpec, step: &StepSpec) -> Result<(), WorkflowError> {
    let name = || step.id.clone();
    if step.title.trim().is_empty() || step.title.len() > limits::TITLE_MAX {
        return Err(WorkflowError::BadTitle { step: name() });
    }
    if step.input.len() > limits::INPUT_MAX {
        let len = step.input.len();
        return Err(WorkflowError::InputTooLong { step: name(), len });
    }
    if step.after.len() > limits::DEPENDENCIES_MAX {
        let count = step.after.len();
        return Err(WorkflowError::TooManyAfter {
            step: name(),
            count,
        });
    }
    if step.requires.len() > limits::REQUIRES_MAX {
        let count = step.requires.len();
        return Err(WorkflowError::TooManyRequires {
            step: name(),
            count,
        });
    }
    if let Some(capability) = step.requires.iter().find(|c| !is_required(spec, c)) {
        let capability = capability.clone();
        return Err(WorkflowError::BadCapability {
            step: name(),
            capability,
        });
    }
    if !REVIEW_POLICIES.contains(&step.review.as_str()) {
        let review = step.review.clone();
        return Err(WorkflowError::BadReview {
            step: name(),
            review,
        });
    }
    let condition = step.condition.as_deref();
    if condition.is_some_and(|c| c.trim().is_empty() || c.len() > CONDITION_MAX) {
        return Err(WorkflowError::BadCondition { step: name() });
    }
    references(&step.input).map_err(|source| WorkflowError::Template {
        step: name(),
        source,
    })?;
    Ok(())
}

/// Each step's `after`, as indices. A step listed twice is refused: the
/// step's task counts the dependencies it waits for, and one completion
/// cannot count twice.
fn dependencies(
    spec: &WorkflowSpec,
    index: &HashMap<&str, usize>,
) -> Result<Vec<Vec<usize>>, WorkflowError> {
    let mut deps = Vec::with_capacity(spec.steps.len());
    for step in &spec.steps {
        let mut mine = Vec::with_capacity(step.after.len());
        for after in &step.after {
            let error = |f: fn(String, String) -> WorkflowError| f(step.id.clone(), after.clone());
            let &d = index
                .get(after.as_str())
                .ok_or_else(|| error(|step, after| WorkflowError::UnknownAfter { step, after }))?;
            if mine.contains(&d) {
                return Err(error(|step, after| WorkflowError::DuplicateAfter {
                    step,
                    after,
                }));
            }
            mine.push(d);
        }
        deps.push(mine);
    }
    Ok(deps)
}

/// The steps level by level (Kahn's algorithm, one level at a time); a
/// step left over is on or behind a cycle.
fn waves(spec: &WorkflowSpec, deps: &[Vec<usize>]) -> Result<Vec<Vec<usize>>, WorkflowError> {
    let n = deps.len();
    let mut done = vec![false; n];
    let mut waves: Vec<Vec<usize>> = Vec::new();
    loop {
        let wave: Vec<usize> = (0..n)
            .filter(|&i| !done[i] && deps[i].iter().all(|&d| done[d]))
            .collect();
        if wave.is_empty() {
            break;
        }
        for &i in &wave {
            done[i] = true;
        }
        waves.push(wave);
    }
    match done.iter().position(|d| !d) {
        None => Ok(waves),
        Some(start) => Err(WorkflowError::Cycle {
            cycle: cycle_from(spec, deps, &done, start),
        }),
    }
}

/// The cycle reached from the left-over step `start`, as `a → b → a`.
/// Every left-over step waits for a left-over step (or it would have
/// been placed), so following those leads into a cycle.
fn cycle_from(spec: &WorkflowSpec, deps: &[Vec<usize>], done: &[bool], start: usize) -> String {
    let mut path = vec![start];
    let mut cur = start;
    while let Some(&next) = deps[cur].iter().find(|&&d| !done[d]) {
        if let Some(k) = path.iter().position(|&p| p == next) {
            path.drain(..k);
            path.push(next);
            break;
        }
        path.push(next);
        cur = next;
    }
    let names: Vec<&str> = path.iter().map(|&i| spec.steps[i].id.as_str()).collect();
    names.join(" → ")
}

/// Every reference names a declared input, or a step this one runs
/// after directly or through others.
/// A `requires` entry: a capability, or a capability once the inputs it
/// names are filled in (`agent:{{inputs.agent}}` pins a step to the agent
/// an input names, through the `agent:ID` capability every agent has).
/// The run checks the filled-in value again ([`super::run`]).
fn is_required(spec: &WorkflowSpec, entry: &str) -> bool {
    let Ok(refs) = references(entry) else {
        return false;
    };
    let declared = |name: &str| spec.inputs.iter().any(|x| x.name == name);
    if !refs
        .iter()
        .all(|(_, r)| matches!(r, Reference::Input(n) if declared(n)))
    {
        return false;
    }
    let sample: BTreeMap<String, String> = (spec.inputs.iter())
        .map(|x| (x.name.clone(), "a".to_string()))
        .collect();
    render(entry, &sample, &BTreeMap::new()).is_ok_and(|c| is_capability(&c))
}

fn check_references(
    spec: &WorkflowSpec,
    index: &HashMap<&str, usize>,
    deps: &[Vec<usize>],
    order: &[usize],
) -> Result<(), WorkflowError> {
    let mut upstream: Vec<BTreeSet<usize>> = vec![BTreeSet::new(); deps.len()];
    for &i in order {
        let mut mine = BTreeSet::new();
        for &d in &deps[i] {
            mine.insert(d);
            mine.extend(upstream[d].iter().copied());
        }
        upstream[i] = mine;
    }
    let declared = |name: &str| spec.inputs.iter().any(|x| x.name == name);
    for (i, step) in spec.steps.iter().enumerate() {
        // Already read in `check_fields`; an error here cannot happen.
        let refs = references(&step.input).unwrap_or_default();
        let results: BTreeSet<&Reference> = (refs.iter().map(|(_, r)| r))
            .filter(|r| matches!(r, Reference::Result(_)))
            .collect();
        if results.len() > RESULTS_MAX {
            let (step, count) = (step.id.clone(), results.len());
            return Err(WorkflowError::TooManyResults { step, count });
        }
        for (_, r) in refs {
            let step = step.id.clone();
            match r {
                Reference::Input(name) if !declared(&name) => {
                    return Err(WorkflowError::UnknownInput { step, name });
                }
                Reference::Input(_) => {}
                Reference::Result(other) => match index.get(other.as_str()) {
                    None => return Err(WorkflowError::UnknownResult { step, other }),
                    Some(o) if !upstream[i].contains(o) => {
                        return Err(WorkflowError::NotUpstream { step, other });
                    }
                    Some(_) => {}
                },
            }
        }
    }
    Ok(())
}
