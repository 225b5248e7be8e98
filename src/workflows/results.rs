//! A step's input with the results of earlier steps filled in, when it
//! runs: the results exist only then. The agent's runner calls
//! [`fill_results`] before the handler starts, so the handler reads the
//! filled-in input on stdin; the stored task keeps its template (an agent
//! may not rewrite a task's input), which `vayu task status` shows.

use super::invalid;
use crate::error::Result;
use crate::layout::Pile;
use crate::lifecycle::Status;
use crate::model::Task;
use crate::store::Store;
use crate::workflow::{RESULTS_MAX, Reference, references, render, step_of, step_task_id};
use std::collections::BTreeMap;

/// `task` with its input's `{{steps.<id>.result}}` references filled in
/// from the completed tasks of those steps in its run (one batch get of
/// at most [`RESULTS_MAX`] documents). A task that is not a workflow step
/// (its id is not `{run_id}-{step}`) or whose input refers to no result is
/// returned as it is, with no read. A step it refers to that has not
/// completed, or too many of them, is an error: the runner fails the
/// attempt with it. A completed step that reported no result gives "".
pub async fn fill_results(store: &Store, task: &Task) -> Result<Task> {
    let Some((run_id, _)) = step_of(&task.task_id) else {
        return Ok(task.clone());
    };
    // A team's part has a step's id, but only a pipeline's later stage
    // has a template (the previous stage's result): any other part's
    // input is the person's text, `{{` and all.
    if let Some(p) = &task.part_of
        && !(p.pattern == crate::team::Pattern::Pipeline && p.index > 1)
    {
        return Ok(task.clone());
    }
    let refs = references(&task.input).map_err(invalid)?;
    let mut steps: Vec<String> = (refs.into_iter())
        .filter_map(|(_, r)| match r {
            Reference::Result(step) => Some(step),
            Reference::Input(_) => None,
        })
        .collect();
    steps.sort();
    steps.dedup();
    if steps.is_empty() {
        return Ok(task.clone());
    }
    if steps.len() > RESULTS_MAX {
        return Err(invalid(format!(
            "the input uses the results of {} steps: at most {RESULTS_MAX}",
            steps.len()
        )));
    }
    let names: Vec<String> = (steps.iter())
        .map(|s| store.name(&Pile::Completed.doc(&step_task_id(run_id, s))))
        .collect();
    let docs = store.batch_get(names).await?;
    let mut results = BTreeMap::new();
    for (step, doc) in steps.iter().zip(docs) {
        let done = match doc {
            Some(d) => Some(Store::decode_task(&d)?).filter(|t| t.status == Status::Completed),
            None => None,
        };
        let Some(done) = done else {
            return Err(invalid(format!(
                "step '{step}' of run {run_id} has not completed, so its result is not there"
            )));
        };
        results.insert(step.clone(), done.execution.result.unwrap_or_default());
    }
    let input = render(&task.input, &BTreeMap::new(), &results).map_err(invalid)?;
    Ok(Task {
        input,
        ..task.clone()
    })
}
