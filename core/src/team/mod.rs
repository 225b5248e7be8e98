//! Team tasks (issue 15): one task done by several agents, with no leader
//! process. A team task is a *parent* and its *parts*:
//! - each part is an ordinary task, `{parent}-p{k}`, claimed, leased,
//!   retried and taken over like any other, so a member that dies loses
//!   its part to a takeover under the existing leases;
//! - the parent is created `blocked` on every part. The dependency rules
//!   queue it only once each part has completed, so it can never run, let
//!   alone complete, with a part missing; a part that fails for good
//!   cancels it, naming that part (`dependencies.failed`);
//! - when it runs, the parent merges the parts' results ([`Merge`]).
//!
//! Formation is the parts' claims: a member joins by the same conditional
//! commit that claims any task, and a role or skill is a capability the
//! part requires, so the existing "no live agent offers X" explains a
//! team that cannot form.
//!
//! Pure: [`plan`] turns a [`TeamSpec`] into the parts to create and
//! [`merge`] combines their results. The I/O is in `vayu::teams`.

mod doc;
pub mod form;
mod merge;
mod plan;
#[cfg(test)]
mod tests;

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

pub use doc::{
    BARRIERS_MAX, CONTEXT_KEYS_MAX, CONTEXT_VALUE_MAX, ContextEntry, LastWrite, TeamDoc,
};
pub use merge::{MergeError, PartResult, collaborators, merge};
pub use plan::{PartPlan, TeamError, TeamPlan, plan};

/// The most parts a team may have: the parent waits for each as a
/// dependency, and its merge reads them all in one batch get.
pub const TEAM_MAX: usize = 16;

/// The fewest: a team of one is a task.
pub const TEAM_MIN: usize = 2;

/// The artifact name of a leader's subtask for follower `k` (from 2): a
/// `vayu:subtask` line becomes one on the leader's part, which only its
/// holder may write, so only the leader hands out work.
pub fn subtask_name(k: usize) -> String {
    format!("subtask-{k}")
}

crate::model::string_enum!(
    /// How the parts relate to each other:
    /// - `swarm`: independent parts side by side; the parent merges them;
    /// - `pipeline`: stages in order, each by its own member: stage k+1
    ///   waits for stage k and gets its result as input;
    /// - `peer`: members on one shared problem: each gets the whole input,
    ///   works through the team's shared context and decision points, and
    ///   posts its contribution as its result;
    /// - `leader`: part 1 is the leader's: its handler plans, one
    ///   `vayu:subtask` line per follower; follower k gets the leader's k-th
    ///   subtask as input; the parent, run by an agent of the leader's
    ///   role, aggregates.
    Pattern {
        Swarm => "swarm",
        Pipeline => "pipeline",
        Peer => "peer",
        Leader => "leader",
    }
);

crate::model::string_enum!(
    /// How the parent combines the parts' results:
    /// - `concat`: each part's result in part order, one after another;
    /// - `json`: every result is JSON: objects merged key by key (a key two
    ///   parts give different values is an error), or arrays concatenated;
    /// - `last`: the last part's result (a pipeline's output);
    /// - `handler`: the parent's own handler runs, with the parts' results
    ///   as a JSON array for input.
    Merge {
        Concat => "concat",
        Json => "json",
        Last => "last",
        Handler => "handler",
    }
);

impl Merge {
    /// Whether the agent merges by itself, running no handler.
    pub fn is_builtin(self) -> bool {
        self != Merge::Handler
    }
}

impl Pattern {
    /// The merge a team of this pattern gets unless it names one.
    pub fn default_merge(self) -> Merge {
        match self {
            Pattern::Swarm | Pattern::Peer => Merge::Concat,
            Pattern::Pipeline => Merge::Last,
            Pattern::Leader => Merge::Handler,
        }
    }
}

/// What `vayu task create --team N --pattern P` asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TeamSpec {
    pub size: usize,
    pub pattern: Pattern,
    /// One role per part (role-based formation), or none.
    pub roles: Vec<String>,
    /// Skills the members must cover together (skill-based formation),
    /// dealt over the parts.
    pub skills: Vec<String>,
    pub merge: Option<Merge>,
    /// The formation deadline each part gets (`--form-within`), or none.
    pub form: Option<form::Form>,
}

/// The parent's `team` map: fixed at creation (the rules check it then,
/// and no later write may change it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Team {
    pub pattern: Pattern,
    pub merge: Merge,
    /// The parts' task ids, in part order; the same list as the parent's
    /// `dependencies.blocked_by`.
    pub parts: Vec<String>,
    /// The role of each part, in part order, or empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub roles: Vec<String>,
}

/// A part's `part_of` map: which team, which part, which role.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartOf {
    pub parent: String,
    /// The team's pattern: a leader's follower gets its subtask as input.
    pub pattern: Pattern,
    /// From 1.
    pub index: i64,
    /// How many parts the team has.
    pub of: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// The team's formation deadline (`form.rs`). Flat keys, not a map:
    /// the fullest part's create has no budget in the rules for a map's
    /// checks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub form_by: Option<crate::model::Time>,
    /// What the part does if nobody claimed it by `form_by` (absent: wait).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unformed: Option<form::Unformed>,
}

impl PartOf {
    /// The part's formation deadline and what then, if it has one.
    pub fn form(&self) -> Option<form::Form> {
        Some(form::Form {
            by: self.form_by?,
            unformed: self.unformed.unwrap_or(form::Unformed::Wait),
        })
    }
}

/// The id of part `index` (from 1) of `parent`: a workflow step's id
/// shape (`{run}-{step}`), so a pipeline stage's `{{steps.p1.result}}`
/// is filled in by the same code that fills a workflow step's.
pub fn part_id(parent: &str, index: usize) -> String {
    format!("{parent}-p{index}")
}

/// What firestore.rules `isTeamParent` and `isTeamPart` ask of a new
/// task, checked before anything is written.
pub fn check_new(t: &crate::model::Task) -> Result<(), String> {
    if let Some(team) = &t.team {
        if t.part_of.is_some() {
            return Err("a team's part cannot be a team itself".into());
        }
        if !(TEAM_MIN..=TEAM_MAX).contains(&team.parts.len()) {
            return Err(format!("a team has {TEAM_MIN} to {TEAM_MAX} parts"));
        }
        let d = &t.dependencies;
        if d.blocked_by != team.parts || d.condition.is_some() || d.on_failure.is_some() {
            return Err(
                "a team's parent waits for exactly its parts, with no --if or --on-dep-failure"
                    .into(),
            );
        }
        if t.review.policy.is_some() {
            return Err("a team's parent has no review policy: its parts are reviewed".into());
        }
        if !team.roles.is_empty() && team.roles.len() != team.parts.len() {
            return Err("a team names one role per part, or none".into());
        }
    }
    if let Some(p) = &t.part_of {
        let of = usize::try_from(p.of).unwrap_or(0);
        let index = usize::try_from(p.index).unwrap_or(0);
        if !(TEAM_MIN..=TEAM_MAX).contains(&of) || !(1..=of).contains(&index) {
            return Err(format!(
                "part {} of {} is not a part of a team",
                p.index, p.of
            ));
        }
        if t.task_id != part_id(&p.parent, index) {
            return Err(format!(
                "part {index} of {} is {}",
                p.parent,
                part_id(&p.parent, index)
            ));
        }
        if p.role.as_ref().is_some_and(|r| !t.requires.contains(r)) {
            return Err("a part requires its role".into());
        }
    }
    Ok(())
}
