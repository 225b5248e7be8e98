//! Team tasks at the edge (issue 15; the pure part is [`crate::team`]).
//!
//! Creating a team writes, each only after everything was checked (bad
//! input writes nothing):
//! 1. each part, as an ordinary task (`tasks::create`, so a pipeline
//!    stage is registered as its previous stage's waiter and settled at
//!    once), a swarm's side by side;
//! 2. the parent, `blocked` on every part, with its `team` map.
//!
//! If a create fails half way, the parts made so far are cancelled, so
//! nothing runs that nobody asked for in full.
//!
//! The parent is run by whichever agent claims it once every part has
//! completed: a built-in merge ([`merged`]) or the parent's handler with
//! the parts' results as its input ([`fill_parent`]).

use crate::error::{Error, Result};
use crate::layout::Pile;
use crate::lifecycle::Status;
use crate::model::{Artifact, ControlRequest, Task, clip, limits};
use crate::store::{Store, Versioned};
use crate::tasks::{self, NewTask};
use crate::team::{self, Merge, PartResult, TeamSpec};
use crate::workflows::invalid;

/// Parts created side by side (a swarm's; a pipeline's are in order).
const CREATE_AT_ONCE: usize = 8;

/// Creates the team task `new` asks for, as `spec` shapes it. Returns
/// the parent as written, and its parts.
pub async fn create(store: &Store, new: NewTask, spec: &TeamSpec) -> Result<(Task, Vec<Task>)> {
    if !new.after.is_empty() || new.condition.is_some() {
        return Err(invalid(
            "a team task cannot wait for other tasks (--after, --if): its parent waits for its parts",
        ));
    }
    if new.task_id.is_some() || new.resource.is_some() || new.push.is_some() {
        return Err(invalid(
            "--key, --resource and --agent apply to one task, not to a team",
        ));
    }
    let parent_id = uuid::Uuid::new_v4().to_string();
    let plan = team::plan(spec, &parent_id, &new.input, &new.requires).map_err(invalid)?;
    let mut parts: Vec<NewTask> = (plan.parts.iter()).map(|p| part_task(&new, p)).collect();
    let mut parent = new;
    parent.task_id = Some(parent_id);
    parent.after = plan.team.parts.clone();
    // A leader's team is aggregated by an agent of the leader's role.
    parent.requires = match spec.pattern {
        team::Pattern::Leader => spec.roles.first().cloned().into_iter().collect(),
        _ => Vec::new(),
    };
    parent.team = Some(plan.team.clone());
    parent.review = None;
    for t in parts.iter().chain([&parent]) {
        t.clone().into_task().validate_new()?;
    }
    crate::workflows::check_quota(store, parts.len() + 1).await?;
    push_parts(store, &mut parts).await;
    let made = match create_parts(store, spec.pattern, parts).await {
        Ok(made) => made,
        Err((made, e)) => {
            abandon(store, &made).await;
            return Err(e);
        }
    };
    match tasks::create(store, parent).await {
        Ok(parent) => Ok((parent, made)),
        Err(e) => {
            abandon(store, &made).await;
            Err(e)
        }
    }
}

/// Part `p` of the team `new` asks for: the team's type, priority, tags,
/// retries, review policy and requester, with the part's own id, input,
/// requirements and place. The review is each part's: the parent has none
/// (firestore.rules `isTeamParent`), as its result is its parts' merged.
fn part_task(new: &NewTask, p: &team::PartPlan) -> NewTask {
    let mut t = new.clone();
    let role = p
        .part_of
        .role
        .as_deref()
        .map(|r| format!(", {r}"))
        .unwrap_or_default();
    t.title = crate::model::clip(
        &format!(
            "{} (part {} of {}{role})",
            new.title, p.part_of.index, p.part_of.of
        ),
        crate::model::limits::TITLE_MAX,
    );
    t.task_id = Some(p.task_id.clone());
    t.input = p.input.clone();
    t.requires = p.requires.clone();
    t.after = p.after.clone();
    t.part_of = Some(p.part_of.clone());
    t.lane = Some(p.lane);
    t
}

/// Under a strategy that pushes (`--assign push`, or `hybrid` for a
/// critical team), each part is pushed to the scorer's choice for it,
/// distinct agents first (`crate::push::choose_team`), rather than each
/// to the best agent alone, which would pile the whole team on one. A
/// part left without a choice is planned alone at its create.
async fn push_parts(store: &Store, parts: &mut [NewTask]) {
    let Some(first) = parts.first() else { return };
    if !crate::push::pushes(first.assign, first.priority) {
        return;
    }
    let tasks: Vec<Task> = parts.iter().map(|p| p.clone().into_task()).collect();
    let chosen = crate::push::choose_team(store, &tasks, &first.weights).await;
    for (part, agent) in parts.iter_mut().zip(chosen) {
        part.push = agent.map(|a| {
            (
                a,
                crate::model::time_add(crate::model::now(), part.push_for),
            )
        });
    }
}

/// Creates the parts: a pipeline's or a leader's one after another (a
/// stage or follower waits for a part that must exist), the others side
/// by side. On failure,
/// returns the ones made, for [`abandon`].
async fn create_parts(
    store: &Store,
    pattern: team::Pattern,
    parts: Vec<NewTask>,
) -> std::result::Result<Vec<Task>, (Vec<Task>, Error)> {
    use futures::StreamExt;
    // A stage or follower waits for a part that must exist first.
    let at_once = match pattern {
        team::Pattern::Pipeline | team::Pattern::Leader => 1,
        team::Pattern::Swarm | team::Pattern::Peer => CREATE_AT_ONCE,
    };
    let results: Vec<Result<Task>> = futures::stream::iter(parts)
        .map(|p| tasks::create(store, p))
        .buffered(at_once)
        .collect()
        .await;
    let mut made = Vec::new();
    let mut failed = None;
    for r in results {
        match r {
            Ok(t) => made.push(t),
            Err(e) => failed = failed.or(Some(e)),
        }
    }
    match failed {
        None => Ok(made),
        Some(e) => Err((made, e)),
    }
}

async fn abandon(store: &Store, made: &[Task]) {
    tracing::warn!(
        parts = made.len(),
        "a team could not be created in full; cancelling its parts"
    );
    for t in made {
        if let Err(e) = tasks::cancel_one(store, &t.task_id).await {
            tracing::warn!(task = %t.task_id, error = %e, "could not cancel a part");
        }
    }
}

/// The parts of `parent`, in part order, as they stand (`None` for one
/// that cannot be found).
pub async fn parts(store: &Store, parent: &Task) -> Result<Vec<Option<Versioned<Task>>>> {
    match &parent.team {
        Some(team) => store.find_tasks(&team.parts).await,
        None => Ok(Vec::new()),
    }
}

/// The completed parts' results, in part order, and their artifacts, each
/// named after its part (`p2/report`; at most a task's
/// [`limits::ARTIFACTS_MAX`]), for the parent to list: one batch get of
/// the completed pile. A part that has not completed is an error naming
/// it (the rules queue the parent only once all have; a console edit
/// could still get here).
async fn results(store: &Store, parent: &Task) -> Result<(Vec<PartResult>, Vec<Artifact>)> {
    let team = parent
        .team
        .as_ref()
        .ok_or_else(|| invalid("not a team task"))?;
    let names = (team.parts.iter())
        .map(|id| store.name(&Pile::Completed.doc(id)))
        .collect();
    let docs = store.batch_get(names).await?;
    let mut out = Vec::with_capacity(team.parts.len());
    let mut artifacts = Vec::new();
    for (k, (id, doc)) in team.parts.iter().zip(docs).enumerate() {
        let done = match doc {
            Some(d) => Some(Store::decode_task(&d)?).filter(|t| t.status == Status::Completed),
            None => None,
        };
        let done = done.ok_or_else(|| invalid(format!("part {id} has not completed")))?;
        // A part's artifacts accumulate over its attempts (a takeover keeps
        // them): the parent lists each name once, as the last attempt left it.
        let mine = &done.execution.artifacts;
        let last = |i: usize, a: &Artifact| !mine[i + 1..].iter().any(|b| b.name == a.name);
        artifacts.extend(
            mine.iter()
                .enumerate()
                .filter(|(i, a)| last(*i, a))
                .map(|(_, a)| Artifact {
                    name: clip(&format!("p{}/{}", k + 1, a.name), limits::ARTIFACT_NAME_MAX),
                    ..a.clone()
                }),
        );
        out.push(PartResult {
            task_id: id.clone(),
            role: done.part_of.and_then(|p| p.role),
            agent: done.assignment.primary_agent,
            result: done.execution.result.unwrap_or_default(),
        });
    }
    artifacts.truncate(limits::ARTIFACTS_MAX);
    Ok((out, artifacts))
}

/// A parent's merge: its result, its parts' artifacts, and the agents
/// that ran the parts (`team::collaborators`).
#[derive(Debug, Clone)]
pub struct Merged {
    pub result: String,
    pub artifacts: Vec<Artifact>,
    pub collaborators: Vec<String>,
}

/// The parent's merge under a built-in merge (concat, json, last).
pub async fn merged(store: &Store, parent: &Task) -> Result<Merged> {
    let how = parent.team.as_ref().map_or(Merge::Concat, |t| t.merge);
    let (parts, artifacts) = results(store, parent).await?;
    Ok(Merged {
        result: team::merge(how, &parts).map_err(invalid)?,
        artifacts,
        collaborators: team::collaborators(&parts),
    })
}

/// `task` as its handler sees it: a parent under `--merge handler` gets
/// the parts' results as input, a JSON array of `{task_id, role, agent,
/// result}`, their artifacts as its own, and their agents as its
/// `assignment.collaborators` (written when it completes); a leader's follower gets the subtask the leader's part left
/// for it (one read each). Any other task is returned as it is, with no
/// read.
pub async fn fill(store: &Store, task: &Task) -> Result<Task> {
    if let Some(p) = &task.part_of
        && p.pattern == team::Pattern::Leader
        && p.index > 1
    {
        let leader = team::part_id(&p.parent, 1);
        let doc = store.get_doc(&Pile::Completed.doc(&leader)).await?;
        let done = doc.map(|d| Store::decode_task(&d)).transpose()?;
        let name = team::subtask_name(usize::try_from(p.index).unwrap_or(0));
        let subtask = (done.iter())
            .flat_map(|t| &t.execution.artifacts)
            .rfind(|a| a.name == name);
        return match subtask {
            Some(a) => Ok(Task {
                input: a.uri.clone(),
                ..task.clone()
            }),
            None => Err(invalid(format!(
                "the leader's part {leader} left no {name} for this follower"
            ))),
        };
    }
    match &task.team {
        Some(t) if t.merge == Merge::Handler => {
            let (parts, artifacts) = results(store, task).await?;
            let input = team::merge(Merge::Handler, &parts).map_err(invalid)?;
            let mut filled = Task {
                input,
                ..task.clone()
            };
            filled.execution.artifacts = artifacts;
            filled.assignment.collaborators = team::collaborators(&parts);
            Ok(filled)
        }
        _ => Ok(task.clone()),
    }
}

/// The parts of `parent` that are its own (`{parent}-pK` naming it): a
/// person's controls reach no other task the team's list might name.
async fn own_parts(store: &Store, parent: &Task) -> Result<Vec<Versioned<Task>>> {
    let found = parts(store, parent).await?.into_iter().flatten();
    Ok(found
        .filter(|v| {
            v.value
                .part_of
                .as_ref()
                .is_some_and(|p| p.parent == parent.task_id)
        })
        .filter(|v| {
            v.value
                .task_id
                .starts_with(&format!("{}-p", parent.task_id))
        })
        .collect())
}

/// The task `task_id` when it is a team's parent (one read).
pub async fn parent(store: &Store, task_id: &str) -> Result<Option<Task>> {
    let found = store.find_task(task_id).await?;
    Ok(found.map(|v| v.value).filter(|t| t.team.is_some()))
}

/// After a person's cancel or pause of the team's `parent`: the same for
/// each part that has not ended (and, for a pause, is not paused
/// already). A part's refusal is logged, not returned: the others still
/// get the request, and `vayu task status` shows each part.
pub async fn cascade(store: &Store, parent: &Task, req: ControlRequest) -> Result<()> {
    for part in own_parts(store, parent).await? {
        let t = &part.value;
        let paused = req == ControlRequest::Pause && t.status == Status::Paused;
        if t.status.is_terminal() || paused {
            continue;
        }
        let done = match req {
            ControlRequest::Pause => tasks::pause_one(store, &t.task_id).await,
            _ => tasks::cancel_one(store, &t.task_id).await,
        };
        if let Err(e) = done {
            tracing::warn!(part = %t.task_id, error = %e, "a part did not take its parent's {req}");
        }
    }
    Ok(())
}

/// Resumes the paused parts of the team's `parent`, which stays blocked
/// on them. Returns the parent's status.
pub async fn resume_parts(store: &Store, parent: &Task) -> Result<Status> {
    let mut resumed = 0;
    for part in own_parts(store, parent).await? {
        if part.value.status == Status::Paused {
            tasks::resume_one(store, &part.value.task_id).await?;
            resumed += 1;
        }
    }
    if resumed == 0 {
        return Err(Error::Transition(crate::lifecycle::TransitionError {
            from: parent.status,
            to: Status::Queued,
            allowed: "only a paused task, or a team with a paused part, can be resumed".into(),
        }));
    }
    Ok(parent.status)
}
