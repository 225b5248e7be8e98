//! From a [`TeamSpec`] to the parts to create: their ids, what each
//! requires (its role, its share of the skills), what each waits for and
//! what each gets as input.

use super::{Merge, PartOf, Pattern, TEAM_MAX, TEAM_MIN, Team, TeamSpec, part_id};
use crate::model::limits;
use crate::schema::is_capability;

/// Why a team cannot be planned: bad input, exit 2.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TeamError {
    #[error("a team has {TEAM_MIN} to {TEAM_MAX} members, not {0}")]
    Size(usize),
    #[error("--roles names {roles} roles for a team of {size}: give one role per member")]
    Roles { roles: usize, size: usize },
    #[error("'{0}' is not a role or skill name: 1 to 64 of A-Z a-z 0-9 _ . : / + -")]
    Name(String),
    #[error("skill '{0}' is named twice")]
    Repeated(String),
    #[error(
        "part {part} would require {count} capabilities, at most {}: fewer skills, or a larger team",
        limits::REQUIRES_MAX
    )]
    TooManyRequires { part: usize, count: usize },
    #[error("a {pattern} team cannot merge with '{merge}': {why}")]
    Merge {
        pattern: Pattern,
        merge: Merge,
        why: &'static str,
    },
}

/// One part to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartPlan {
    pub task_id: String,
    pub part_of: PartOf,
    /// The task's own `requires`, then the part's role, then its skills.
    pub requires: Vec<String>,
    pub input: String,
    /// The parts it waits for (a pipeline's previous stage).
    pub after: Vec<String>,
    /// Its queue lane: the parts' lanes are consecutive, and lanes are
    /// dealt round-robin to the live agents (`crate::lanes::owned`), so
    /// with at least as many agents as parts each part reaches another
    /// agent's listener first. Peers that meet at a barrier must run side
    /// by side: two parts queued to one busy agent would wait for each
    /// other until the barrier's timeout.
    pub lane: i64,
}

/// The parts, in part order (every dependency before its dependent), and
/// the parent's `team` map.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TeamPlan {
    pub parts: Vec<PartPlan>,
    pub team: Team,
}

/// Plans the team of `parent` (its id), whose own input is `input` and
/// whose every member needs `requires`.
///
/// - A role is a capability: part k requires role k, so only an agent
///   that declares it (`--capabilities planner`) fills it.
/// - The skills are dealt round-robin over the parts, so the members
///   together cover them all.
/// - A swarm whose input is a JSON array gives each part a contiguous
///   slice of it (load-based); any other input goes to every part, which
///   tells its share by `VAYU_PART` and `VAYU_PARTS`.
/// - A pipeline's first stage gets the input; stage k+1 gets stage k's
///   result, filled in when it starts.
/// - Peers each get the whole input.
/// - A leader's part gets the input; the followers wait for it, and each
///   gets its subtask ([`super::subtask_name`]) when it starts.
pub fn plan(
    spec: &TeamSpec,
    parent: &str,
    input: &str,
    requires: &[String],
) -> Result<TeamPlan, TeamError> {
    check(spec)?;
    let merge = spec.merge.unwrap_or(spec.pattern.default_merge());
    let inputs = inputs(spec, input);
    // No wrap-around: lanes 14 and 0 can go to one agent.
    let base = crate::spread::lane_for(parent) % (crate::spread::LANES - spec.size as i64 + 1);
    let mut parts = Vec::with_capacity(spec.size);
    for (k, input) in (1..=spec.size).zip(inputs) {
        let role = spec.roles.get(k - 1).cloned();
        let mut needs: Vec<String> = requires.to_vec();
        needs.extend(role.clone());
        needs.extend(spec.skills.iter().skip(k - 1).step_by(spec.size).cloned());
        needs.sort();
        needs.dedup();
        if needs.len() > limits::REQUIRES_MAX {
            return Err(TeamError::TooManyRequires {
                part: k,
                count: needs.len(),
            });
        }
        let after = match spec.pattern {
            Pattern::Pipeline if k > 1 => vec![part_id(parent, k - 1)],
            Pattern::Leader if k > 1 => vec![part_id(parent, 1)],
            _ => Vec::new(),
        };
        parts.push(PartPlan {
            task_id: part_id(parent, k),
            part_of: PartOf {
                parent: parent.to_string(),
                pattern: spec.pattern,
                index: k as i64,
                of: spec.size as i64,
                role,
                // Only parts that can start at once (`form.rs`).
                form_by: spec
                    .form
                    .as_ref()
                    .filter(|_| after.is_empty())
                    .map(|f| f.by),
                unformed: spec
                    .form
                    .as_ref()
                    .filter(|_| after.is_empty())
                    .map(|f| f.unformed),
            },
            requires: needs,
            input,
            after,
            lane: base + k as i64 - 1,
        });
    }
    let team = Team {
        pattern: spec.pattern,
        merge,
        parts: parts.iter().map(|p| p.task_id.clone()).collect(),
        roles: spec.roles.clone(),
    };
    Ok(TeamPlan { parts, team })
}

fn check(spec: &TeamSpec) -> Result<(), TeamError> {
    if !(TEAM_MIN..=TEAM_MAX).contains(&spec.size) {
        return Err(TeamError::Size(spec.size));
    }
    if !spec.roles.is_empty() && spec.roles.len() != spec.size {
        return Err(TeamError::Roles {
            roles: spec.roles.len(),
            size: spec.size,
        });
    }
    let names = spec.roles.iter().chain(&spec.skills);
    if let Some(bad) = names.into_iter().find(|n| !is_capability(n)) {
        return Err(TeamError::Name(bad.clone()));
    }
    let mut seen = std::collections::BTreeSet::new();
    if let Some(dup) = spec.skills.iter().find(|s| !seen.insert(s.as_str())) {
        return Err(TeamError::Repeated(dup.clone()));
    }
    if spec.pattern == Pattern::Pipeline && spec.merge.is_some_and(|m| m != Merge::Last) {
        return Err(TeamError::Merge {
            pattern: spec.pattern,
            merge: spec.merge.unwrap_or(Merge::Last),
            why: "a pipeline's result is its last stage's",
        });
    }
    Ok(())
}

/// Each part's input, in part order.
fn inputs(spec: &TeamSpec, input: &str) -> Vec<String> {
    match spec.pattern {
        Pattern::Pipeline => (1..=spec.size)
            .map(|k| match k {
                1 => input.to_string(),
                // The previous stage's step id within the team (part_id).
                _ => format!("{{{{steps.p{}.result}}}}", k - 1),
            })
            .collect(),
        Pattern::Swarm => match serde_json::from_str::<Vec<serde_json::Value>>(input) {
            Ok(items) if items.len() >= spec.size => slices(&items, spec.size),
            _ => vec![input.to_string(); spec.size],
        },
        Pattern::Peer => vec![input.to_string(); spec.size],
        // A follower's input is the leader's subtask for it, filled in when
        // it starts (the leader's part has completed by then).
        Pattern::Leader => (1..=spec.size)
            .map(|k| {
                if k == 1 {
                    input.to_string()
                } else {
                    String::new()
                }
            })
            .collect(),
    }
}

/// `items` cut into `n` contiguous slices whose lengths differ by at most
/// one, each as a JSON array.
fn slices(items: &[serde_json::Value], n: usize) -> Vec<String> {
    let (base, extra) = (items.len() / n, items.len() % n);
    let mut out = Vec::with_capacity(n);
    let mut at = 0;
    for k in 0..n {
        let len = base + usize::from(k < extra);
        // Serialising values that were just parsed cannot fail.
        out.push(serde_json::to_string(&items[at..at + len]).expect("JSON values serialise"));
        at += len;
    }
    out
}
