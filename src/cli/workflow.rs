//! `vayu workflow …`: start a run of a workflow file or a built-in
//! template, see a run's steps, cancel it, list runs and templates; and
//! `vayu task create --workflow`, which runs its type's template.

use super::*;
use crate::workflow::{WorkflowRun, WorkflowSpec, templates};
use crate::workflows::{self, StepRow};
use std::collections::BTreeMap;
use std::path::PathBuf;

#[derive(Subcommand, Debug)]
pub enum WorkflowCmd {
    /// Start a run: a task per step, each queued when the steps it runs
    /// after have completed. Prints the run id.
    Run(RunArgs),
    /// Every step of a run, in plan order, with its state, progress and
    /// agent.
    Status { id: String },
    /// Cancel a run: every step that has not ended is cancelled.
    Cancel { id: String },
    /// The newest runs.
    List {
        #[arg(long, default_value_t = 50)]
        limit: i32,
    },
    /// The built-in templates (`vayu workflow run --template NAME`).
    Templates,
}

#[derive(Args, Debug)]
pub struct RunArgs {
    /// The workflow file: .yaml, .yml or .toml.
    #[arg(required_unless_present = "template", conflicts_with = "template")]
    pub file: Option<PathBuf>,
    /// A built-in template instead of a file (`vayu workflow templates`).
    #[arg(long)]
    pub template: Option<String>,
    /// An input, `name=value`; repeatable.
    #[arg(long = "input", value_parser = parse_input)]
    pub inputs: Vec<(String, String)>,
}

fn parse_input(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.trim().is_empty() => Ok((k.trim().to_string(), v.to_string())),
        _ => Err(format!("'{s}' is not an input: expected name=value")),
    }
}

fn given(inputs: Vec<(String, String)>) -> Result<BTreeMap<String, String>, Error> {
    let mut out = BTreeMap::new();
    for (k, v) in inputs {
        if out.insert(k.clone(), v).is_some() {
            return Err(workflows::invalid(format!("input '{k}' is given twice")));
        }
    }
    Ok(out)
}

fn template(name: &str) -> Result<WorkflowSpec, Error> {
    crate::workflow::template(name).ok_or_else(|| {
        let names: Vec<String> = templates().into_iter().map(|t| t.name).collect();
        workflows::invalid(format!(
            "no built-in template '{name}' (there are {})",
            names.join(", ")
        ))
    })
}

pub(super) async fn run(
    store: &Store,
    cmd: WorkflowCmd,
    json: bool,
    requester: Option<String>,
) -> Result<String, Error> {
    let by = requester.unwrap_or_else(tasks::whoami);
    Ok(match cmd {
        WorkflowCmd::Run(a) => {
            let spec = match (&a.file, &a.template) {
                (Some(f), _) => workflows::load_file(f)?,
                (None, Some(t)) => template(t)?,
                (None, None) => unreachable!("clap requires a file or --template"),
            };
            let run = workflows::start(store, &spec, &given(a.inputs)?, &by).await?;
            started(&run, json)
        }
        WorkflowCmd::Status { id } => {
            let (run, rows) = workflows::status(store, &id).await?;
            let statuses: Vec<_> = rows.iter().map(|r| r.status).collect();
            let outcome = run.outcome(&statuses);
            if json {
                to_json(&serde_json::json!({"run": run, "outcome": outcome, "steps": rows}))
            } else {
                render_status(&run, outcome, &rows)
            }
        }
        WorkflowCmd::Cancel { id } => {
            let r = workflows::cancel(store, &id, &by).await?;
            if json {
                to_json(&r)
            } else {
                format!(
                    "run {id} cancelled: {} steps cancelled, {} asked to stop, {} had ended\n",
                    r.cancelled.len(),
                    r.requested.len(),
                    r.ended.len()
                )
            }
        }
        WorkflowCmd::List { limit } => {
            let runs = workflows::list(store, limit).await?;
            if json {
                to_json(&runs)
            } else {
                let t_now = now();
                let rows: Vec<Vec<String>> = (runs.iter())
                    .map(|r| {
                        vec![
                            r.run_id.clone(),
                            r.name.clone(),
                            r.state.to_string(),
                            r.steps.len().to_string(),
                            r.started_by.clone(),
                            age(r.started_at, t_now),
                        ]
                    })
                    .collect();
                table(&["RUN", "WORKFLOW", "STATE", "STEPS", "BY", "AGE"], &rows)
            }
        }
        WorkflowCmd::Templates => {
            let all = templates();
            if json {
                to_json(&all)
            } else {
                render_templates(&all)
            }
        }
    })
}

/// `vayu task create --type T --workflow TITLE`: a run of type T's
/// built-in template, with the title as its first input that has no
/// default (the research question, the user's request, …).
pub(super) async fn from_task_create(
    store: &Store,
    a: CreateArgs,
    json: bool,
    requester: Option<String>,
) -> Result<String, Error> {
    let by = requester.unwrap_or_else(tasks::whoami);
    let spec = template(a.task_type.as_str())?;
    let first = (spec.inputs.iter().find(|i| i.default.is_none())).or(spec.inputs.first());
    let given: BTreeMap<String, String> = first
        .map(|i| (i.name.clone(), a.title.clone()))
        .into_iter()
        .collect();
    let missing: Vec<String> = (spec.inputs.iter())
        .filter(|i| i.default.is_none() && !given.contains_key(&i.name))
        .map(|i| format!("--input {}=…", i.name))
        .collect();
    if !missing.is_empty() {
        return Err(workflows::invalid(format!(
            "the {} workflow needs more inputs than a title: vayu workflow run --template {} \
             --input {}=\"{}\" {}",
            spec.name,
            spec.name,
            first.map_or("", |i| i.name.as_str()),
            a.title,
            missing.join(" ")
        )));
    }
    let run = workflows::start(store, &spec, &given, &by).await?;
    Ok(started(&run, json))
}

fn started(run: &WorkflowRun, json: bool) -> String {
    if json {
        let steps: Vec<serde_json::Value> = (run.steps.iter().zip(&run.task_ids))
            .map(|(s, t)| serde_json::json!({"step": s, "task_id": t}))
            .collect();
        to_json(&serde_json::json!({"run_id": run.run_id, "name": run.name, "steps": steps}))
    } else {
        let rows: Vec<Vec<String>> = (run.steps.iter().zip(&run.task_ids))
            .map(|(s, t)| vec![s.clone(), t.clone()])
            .collect();
        format!(
            "{}\nworkflow {}: {} steps (vayu workflow status {})\n{}",
            run.run_id,
            run.name,
            run.steps.len(),
            run.run_id,
            table(&["STEP", "TASK"], &rows)
        )
    }
}

fn render_status(run: &WorkflowRun, outcome: &str, rows: &[StepRow]) -> String {
    let mut out = format!(
        "run {} · workflow {} · {outcome} · started {} ago by {}\n",
        run.run_id,
        run.name,
        age(run.started_at, now()),
        run.started_by
    );
    if !run.inputs.is_empty() {
        let inputs: Vec<String> = (run.inputs.iter())
            .map(|(k, v)| format!("{k}={}", crate::model::clip(v, 60)))
            .collect();
        let _ = writeln!(out, "inputs: {}", inputs.join(", "));
    }
    let cells: Vec<Vec<String>> = (rows.iter())
        .map(|r| {
            vec![
                r.step.clone(),
                r.status.map_or("missing".into(), |s| s.to_string()),
                format!("{}%", r.progress),
                r.agent.clone().unwrap_or_else(|| "-".into()),
                r.task_id.clone(),
            ]
        })
        .collect();
    out + &table(&["STEP", "STATUS", "PROGRESS", "AGENT", "TASK"], &cells)
}

fn render_templates(all: &[WorkflowSpec]) -> String {
    let rows: Vec<Vec<String>> = (all.iter())
        .map(|t| {
            let inputs: Vec<String> = (t.inputs.iter())
                .map(|i| match &i.default {
                    Some(d) => format!("{}={d}", i.name),
                    None => i.name.clone(),
                })
                .collect();
            let steps: Vec<&str> = t.steps.iter().map(|s| s.id.as_str()).collect();
            vec![t.name.clone(), inputs.join(", "), steps.join(" → ")]
        })
        .collect();
    table(&["TEMPLATE", "INPUTS", "STEPS"], &rows)
}
