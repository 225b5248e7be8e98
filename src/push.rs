//! `vayu task create --agent ID [--push-for 2m]`, `--assign push|hybrid|auction`:
//! the CLI's half of a push (`crate::assign::push`). The agent named must
//! exist and be able to run the task, checked before anything is written
//! (one read, its document): a push to an agent that cannot take it would
//! only hold the task up. Without `--agent`, the scorer chooses
//! (`crate::assign::score`, the seed's five phases).

use crate::assign::Offer;
use crate::assign::push::{PUSH_FOR_DEFAULT, PUSH_FOR_MAX};
use crate::assign::score::{self, Candidate, Weights};
use crate::error::{Error, Result};
use crate::model::{AgentState, Complexity, InvalidTask, Task, Time, now, time_add};
use crate::store::Store;
use std::time::Duration;

/// The push `--agent` and `--push-for` ask for, with its end from now;
/// `None` without `--agent`. A bad duration is exit 2.
pub fn from_args(agent: Option<String>, push_for: Option<&str>) -> Result<Option<(String, Time)>> {
    let span = span(push_for)?;
    Ok(agent.map(|agent| (agent, time_add(now(), span))))
}

/// Refuses a push to an agent that does not exist (not found) or could
/// never run `task` (exit 2, saying why).
pub async fn check(store: &Store, task: &Task) -> Result<()> {
    // An auction's push is to nobody until it closes.
    let Some(agent) = task
        .assignment
        .pushed_to
        .as_ref()
        .filter(|_| !task.assignment.auction)
    else {
        return Ok(());
    };
    let doc = store
        .get_agent(agent)
        .await?
        .ok_or_else(|| Error::NotFound(format!("no agent '{agent}' (vayu agent list)")))?;
    let offer = Offer::of_agent(&doc);
    if !offer.could_claim(task) {
        let why = crate::assign::waiting_reason(task, std::slice::from_ref(&offer))
            .unwrap_or_else(|| "it cannot run this task".into());
        return Err(Error::InvalidTask(InvalidTask(format!(
            "cannot push to agent '{agent}': {why}"
        ))));
    }
    Ok(())
}

/// How a task finds its agent (`--assign`, or the project's default).
#[derive(
    Debug,
    Clone,
    Copy,
    Default,
    PartialEq,
    Eq,
    clap::ValueEnum,
    serde::Serialize,
    serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Strategy {
    /// Agents claim it (or the agent `--agent` names, first).
    #[default]
    Pull,
    /// Pushed to the agent `--agent` names, or else to the scorer's choice;
    /// refused when no agent is available.
    Push,
    /// Critical tasks are pushed to the scorer's choice, the rest pulled; a
    /// critical task nobody is available for is pulled too.
    Hybrid,
    /// Capable agents bid for --auction-for; the best bid wins
    /// (`crate::assign::auction`); no bids, pulled.
    Auction,
}

/// The project's assignment defaults, `config/assignment` (typed in the
/// console by an admin; firestore.rules checks it): the strategy of a
/// task created without `--assign`, and the scorer's weights, for the CLI
/// (push, hybrid) and the agents (their bids).
///
/// Unknown top-level keys are ignored here (the Firestore decoder adds its
/// own, `_firestore_id`); the rules refuse them, and an unknown weight is
/// still an error (`Weights` denies unknown fields).
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct ProjectDefaults {
    pub strategy: Strategy,
    pub weights: Weights,
}

/// The project's defaults (one read); the built-in ones when there are
/// none. A document that does not parse is a configuration error (exit
/// 64), not silently the built-ins: a project that chose a strategy must
/// not lose it to a typo.
pub async fn defaults(store: &Store) -> Result<ProjectDefaults> {
    match store.get_doc(crate::layout::ASSIGNMENT_CONFIG).await? {
        None => Ok(ProjectDefaults::default()),
        Some(doc) => {
            let bad = |why: String| {
                Error::Config(format!(
                    "{} {why}; expected strategy (pull, push, hybrid or auction) and a weights map of numbers in 0..100 (README, \"Assignment\")",
                    crate::layout::ASSIGNMENT_CONFIG
                ))
            };
            let d: ProjectDefaults =
                Store::decode(&doc).map_err(|e| bad(format!("does not parse ({e})")))?;
            // A console write skips the rules' bounds: check them here too.
            let w = d.weights;
            let all = [
                w.load, w.success, w.speed, w.quality, w.simple, w.moderate, w.complex,
            ];
            if all.iter().any(|x| !(0.0..=100.0).contains(x)) {
                return Err(bad("has a weight out of 0..100".into()));
            }
            Ok(d)
        }
    }
}

/// The auction window `--auction-for` asks for (or its default); a bad
/// duration, or an auction beside what it cannot go with, is exit 2.
pub fn auction_window(
    strategy: Strategy,
    auction_for: Option<&str>,
    pushed: bool,
    waits: bool,
) -> Result<Duration> {
    use crate::assign::auction::{WINDOW_DEFAULT, WINDOW_MAX};
    let bad = |m: &str| Error::InvalidTask(InvalidTask(m.into()));
    if strategy != Strategy::Auction {
        return match auction_for {
            Some(_) => Err(bad("--auction-for goes with --assign auction")),
            None => Ok(WINDOW_DEFAULT),
        };
    }
    if pushed {
        return Err(bad("--assign auction chooses the agent: drop --agent"));
    }
    if waits {
        // The window opens at creation; a task that is blocked or not yet
        // due cannot be bid on (the rules take bids on queued tasks only).
        return Err(bad(
            "--assign auction cannot wait: drop --after, --at and --in",
        ));
    }
    let window = match auction_for {
        Some(d) => crate::time::parse_delay(d).map_err(|m| bad(&m))?,
        None => WINDOW_DEFAULT,
    };
    if window.is_zero() || window > WINDOW_MAX {
        let max = WINDOW_MAX.as_secs() / 60;
        return Err(bad(&format!(
            "--auction-for must be more than 0 and at most {max}m"
        )));
    }
    Ok(window)
}

/// The push `task` gets under `strategy`, when `--agent` named none: the
/// scorer's choice, ending `span` from now; or, for an auction, its
/// window, ending `span` from now.
pub async fn plan(
    store: &Store,
    task: &mut Task,
    strategy: Strategy,
    span: Duration,
    weights: &Weights,
) -> Result<()> {
    if strategy == Strategy::Auction {
        let window = span.min(crate::assign::auction::WINDOW_MAX);
        crate::assign::auction::open(task, time_add(now(), window));
    }
    let wanted = pushes(strategy, task.priority);
    if !wanted || task.assignment.pushed_to.is_some() {
        return Ok(());
    }
    match choose(store, task, weights).await {
        Ok(agent) => {
            task.assignment.pushed_to = Some(agent);
            task.assignment.push_until = Some(time_add(now(), span));
            Ok(())
        }
        Err(why) if strategy == Strategy::Hybrid => {
            eprintln!("note: not pushed ({why}); any agent may claim it");
            Ok(())
        }
        Err(why) => Err(Error::InvalidTask(InvalidTask(format!(
            "no agent to push to: {why}"
        )))),
    }
}

/// Whether `strategy` asks the scorer to push a task of `priority`.
pub fn pushes(strategy: Strategy, priority: crate::model::Priority) -> bool {
    match strategy {
        Strategy::Push => true,
        Strategy::Hybrid => priority == crate::model::Priority::Critical,
        Strategy::Pull | Strategy::Auction => false,
    }
}

/// The scorer's choice of agent for `task`.
async fn choose(store: &Store, task: &Task, weights: &Weights) -> Result<String, String> {
    let candidates = candidates(store, &[task]).await?;
    score::decide(task, &candidates, 1, weights).map(|d| d.primary)
}

/// The scorer's choice for each of a team's `parts` (`score::decide`'s
/// team, best first): part K goes to the best agent for it that no
/// earlier part went to, so a team spreads over as many agents as can
/// run its parts; with fewer, an agent gets a second part. `None` for a
/// part nobody is available for (its own push then says why, or it is
/// pulled). The agents are read once for the team.
pub async fn choose_team(store: &Store, parts: &[Task], weights: &Weights) -> Vec<Option<String>> {
    let refs: Vec<&Task> = parts.iter().collect();
    let Ok(candidates) = candidates(store, &refs).await else {
        return vec![None; parts.len()];
    };
    let mut taken: Vec<String> = Vec::with_capacity(parts.len());
    let mut out = Vec::with_capacity(parts.len());
    for part in parts {
        let pick = score::decide(part, &candidates, parts.len(), weights)
            .ok()
            .map(|d| {
                let fresh = d.team.iter().find(|a| !taken.contains(a));
                fresh.unwrap_or(&d.primary).clone()
            });
        taken.extend(pick.clone());
        out.push(pick);
    }
    out
}

/// The agents as the scorer sees them for `tasks` (all of one type).
/// Reads: the agents, and one history document per live agent that could
/// run one of them. A running task's complexity is not on the agent's
/// document: each counts as moderate.
async fn candidates(store: &Store, tasks: &[&Task]) -> Result<Vec<Candidate>, String> {
    let t_now = now();
    let agents = store.list_agents().await.map_err(|e| e.to_string())?;
    let mut candidates = Vec::with_capacity(agents.len());
    for a in &agents {
        let state = crate::render::effective_state(a, t_now);
        let offer = Offer::of_agent(a);
        let stats = match tasks.first() {
            Some(t)
                if state != AgentState::Offline && tasks.iter().any(|t| offer.could_claim(t)) =>
            {
                (crate::history::get(store, &a.agent_id, t.task_type).await).unwrap_or(None)
            }
            _ => None,
        };
        candidates.push(Candidate {
            offer,
            state,
            concurrency: a.concurrency,
            draining: false,
            running: vec![Complexity::Moderate; a.current_tasks.len()],
            stats,
        });
    }
    Ok(candidates)
}

/// When a push that starts now ends, for `--push-for` (or its default).
pub fn span(push_for: Option<&str>) -> Result<Duration> {
    let bad = |m: String| Error::InvalidTask(InvalidTask(m));
    let span = match push_for {
        Some(d) => crate::time::parse_delay(d).map_err(bad)?,
        None => PUSH_FOR_DEFAULT,
    };
    if span.is_zero() || span > PUSH_FOR_MAX {
        let max = PUSH_FOR_MAX.as_secs() / 60;
        return Err(bad(format!(
            "--push-for must be more than 0 and at most {max}m"
        )));
    }
    Ok(span)
}
