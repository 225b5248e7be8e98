//! A run of a workflow: the document `vayu workflow run` writes first
//! (`workflows/{run_id}`, so the console and the dashboard see the run as
//! one thing), and the task each step becomes. Pure: [`prepare`] checks
//! everything before the edge writes anything.

use super::{
    StepSpec, WorkflowError, WorkflowSpec, is_run_id, is_step_id, render_inputs, step_task_id,
    validate,
};
use crate::lifecycle::Status;
use crate::time::Time;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;

/// Whether a run goes on. Only a person's cancel changes it; how far its
/// steps got is read from their tasks ([`WorkflowRun::outcome`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RunState {
    #[default]
    Running,
    Cancelled,
}

impl fmt::Display for RunState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            RunState::Running => "running",
            RunState::Cancelled => "cancelled",
        })
    }
}

/// `workflows/{run_id}`, as stored. firestore.rules (`isWorkflowRun`)
/// accept exactly these fields and bounds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkflowRun {
    pub run_id: String,
    /// The workflow's name (a built-in template's is its task type).
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// The inputs as resolved: given over defaults.
    #[serde(default)]
    pub inputs: BTreeMap<String, String>,
    /// The step ids in plan order (each after the steps it runs after).
    pub steps: Vec<String>,
    /// Each step's task id, in the same order: `{run_id}-{step}`.
    pub task_ids: Vec<String>,
    /// Who started it: their uid (the requester of every step's task).
    pub started_by: String,
    /// The server's time of the first write.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<Time>,
    #[serde(default)]
    pub state: RunState,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cancelled_by: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cancelled_at: Option<Time>,
}

/// One step's task, as it is created.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepPlan {
    pub step: StepSpec,
    /// `{run_id}-{step id}`.
    pub task_id: String,
    /// Its wave in the plan ([`super::Plan::waves`]): the steps of one
    /// wave depend only on earlier waves, so they may be created at once.
    pub wave: usize,
    /// The task ids of the steps it runs after.
    pub after: Vec<String>,
    /// The step's input with the inputs filled in and its result
    /// references kept, for the agent to fill in ([`render_inputs`]).
    pub input: String,
}

/// Checks `spec` with the `given` inputs and gives the run's document
/// (not yet started: no time) and its steps' tasks in plan order, so
/// that each step's dependencies are created before it.
pub fn prepare(
    spec: &WorkflowSpec,
    run_id: &str,
    given: &BTreeMap<String, String>,
    started_by: &str,
) -> Result<(WorkflowRun, Vec<StepPlan>), WorkflowError> {
    if !is_run_id(run_id) {
        let id = run_id.to_string();
        return Err(WorkflowError::BadRunId { id });
    }
    let plan = validate(spec)?;
    let inputs = spec.resolve_inputs(given)?;
    let mut steps = Vec::with_capacity(plan.order.len());
    let waves = plan.waves.iter().enumerate();
    for (wave, id) in waves.flat_map(|(i, w)| w.iter().map(move |id| (i, id))) {
        // `plan.order` holds the spec's own step ids.
        let step = spec.step(id).expect("a planned step is a step of the spec");
        let input = render_inputs(&step.input, &inputs).map_err(|source| {
            let step = step.id.clone();
            WorkflowError::Template { step, source }
        })?;
        let mut step = step.clone();
        step.requires = required(&step, &inputs)?;
        steps.push(StepPlan {
            step: step.clone(),
            task_id: step_task_id(run_id, id),
            wave,
            after: (step.after.iter())
                .map(|a| step_task_id(run_id, a))
                .collect(),
            input,
        });
    }
    let run = WorkflowRun {
        run_id: run_id.to_string(),
        name: spec.name.clone(),
        description: spec.description.clone(),
        inputs,
        steps: plan.order.clone(),
        task_ids: steps.iter().map(|s| s.task_id.clone()).collect(),
        started_by: started_by.to_string(),
        started_at: None,
        state: RunState::Running,
        cancelled_by: None,
        cancelled_at: None,
    };
    Ok((run, steps))
}

/// The step's `requires` with the run's inputs filled in: each must be a
/// capability then (an `agent` input of "two words" makes no `agent:ID`).
fn required(
    step: &StepSpec,
    inputs: &BTreeMap<String, String>,
) -> Result<Vec<String>, WorkflowError> {
    let mut out = Vec::with_capacity(step.requires.len());
    for entry in &step.requires {
        let filled = render_inputs(entry, inputs).map_err(|source| {
            let step = step.id.clone();
            WorkflowError::Template { step, source }
        })?;
        if !crate::schema::is_capability(&filled) {
            let step = step.id.clone();
            return Err(WorkflowError::BadCapability {
                step,
                capability: filled,
            });
        }
        out.push(filled);
    }
    Ok(out)
}

/// The run and step of a step's task id, `{run_id}-{step}` where the run
/// id is a uuid (as `vayu workflow run` makes them): how the agent tells a
/// workflow step from any other task. A task id that is a uuid alone (36
/// characters) never matches. (Not a tag: a step with a review policy and
/// dependencies and a tag is more than a new task's rules budget takes.)
pub fn step_of(task_id: &str) -> Option<(&str, &str)> {
    let run = task_id.get(..36)?;
    let step = task_id.get(36..)?.strip_prefix('-')?;
    let uuid = uuid::Uuid::try_parse(run).is_ok() && run.len() == 36;
    (uuid && is_step_id(step)).then_some((run, step))
}

impl WorkflowRun {
    /// How the run stands, from its steps' statuses in plan order (`None`
    /// for a step whose task cannot be found: the start was cut short):
    /// `cancelled` once cancelled; else `failed` when a step failed for
    /// good, `cancelled` when one was, `completed` when every step did (or
    /// was skipped: its `if` did not hold),
    /// `incomplete` when a task is missing, and `running` otherwise.
    pub fn outcome(&self, statuses: &[Option<Status>]) -> &'static str {
        let any = |s: Status| statuses.contains(&Some(s));
        if self.state == RunState::Cancelled {
            "cancelled"
        } else if any(Status::Failed) {
            "failed"
        } else if any(Status::Cancelled) {
            "cancelled"
        } else if statuses.contains(&None) {
            "incomplete"
        } else if (statuses.iter()).all(|s| matches!(s, Some(Status::Completed | Status::Skipped)))
        {
            "completed"
        } else {
            "running"
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workflow::{InputSpec, template};

    #[test]
    fn a_template_prepares_in_plan_order_with_its_inputs_filled_in() {
        let spec = template("research").expect("built in");
        let given = [("question".to_string(), "why tides?".to_string())].into();
        let run_id = "9b2f0c1e-0000-4000-8000-000000000001";
        let (run, steps) = prepare(&spec, run_id, &given, "alice").expect("valid");
        assert_eq!(run.steps[0], "problem_definition");
        assert_eq!(run.task_ids[0], format!("{run_id}-problem_definition"));
        assert_eq!(run.inputs["depth"], "standard", "the default");
        assert!(steps[0].input.contains("why tides?"), "{}", steps[0].input);
        assert_eq!(steps[0].after, Vec::<String>::new());
        assert_eq!(steps[1].after, [format!("{run_id}-problem_definition")]);
        assert_eq!((steps[0].wave, steps[1].wave), (0, 1));
        assert!(
            (steps[1].input).ends_with("{{steps.problem_definition.result}}"),
            "{}",
            steps[1].input
        );
        assert_eq!(
            step_of(&steps[1].task_id),
            Some((run_id, "literature_review"))
        );
        assert_eq!(step_of(run_id), None, "a plain uuid task id");
        assert_eq!(step_of(&format!("{run_id}-a-b")), None);
        assert_eq!(step_of("r1-step"), None, "a run id that is not a uuid");
    }

    #[test]
    fn a_missing_input_or_a_bad_run_id_is_refused() {
        let spec = template("research").expect("built in");
        let none = BTreeMap::new();
        let e = prepare(&spec, "r1", &none, "alice").expect_err("no question");
        assert!(e.to_string().contains("--input question="), "{e}");
        let mut spec = spec;
        spec.inputs = vec![InputSpec {
            name: "question".into(),
            default: Some("q".into()),
            description: String::new(),
        }];
        let e = prepare(&spec, &"r".repeat(37), &none, "alice").expect_err("long id");
        assert!(matches!(e, WorkflowError::BadRunId { .. }), "{e}");
    }

    #[test]
    fn the_outcome_reads_the_steps() {
        let spec = template("maintenance").expect("built in");
        let (mut run, _) = prepare(&spec, "r1", &BTreeMap::new(), "a").expect("valid");
        use Status::*;
        assert_eq!(run.outcome(&[Some(Completed), Some(Blocked)]), "running");
        assert_eq!(
            run.outcome(&[Some(Completed), Some(Completed)]),
            "completed"
        );
        assert_eq!(run.outcome(&[Some(Failed), Some(Cancelled)]), "failed");
        assert_eq!(run.outcome(&[Some(Completed), None]), "incomplete");
        run.state = RunState::Cancelled;
        assert_eq!(run.outcome(&[Some(Completed), Some(Queued)]), "cancelled");
    }
}
