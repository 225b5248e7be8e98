//! Visible waits: `task status` and `task list` say "waiting: no live
//! agent offers X" for a queued task that no live agent can take, and
//! "waiting: a person's review" (or "no reviewer with review …") for a
//! task in review, instead of letting it wait silently. The reason is `assign::waiting_reason`;
//! here the agents are read, once per command and only when some task
//! waits to be claimed.

use super::effective_state;
use crate::assign::{Offer, waiting_reason};
use crate::lifecycle::Status;
use crate::model::{AgentState, Task, now};
use crate::review::agent::{REVIEW_CAPABILITIES, no_reviewer};
use crate::review::waiting_for;
use crate::store::Store;
use serde_json::Value;

/// What the live agents (not offline by `effective_state`) offer; `None`,
/// with a warning, when the agents cannot be read: the tasks are still
/// worth listing.
async fn live_offers(store: &Store) -> Option<Vec<Offer>> {
    match store.list_agents().await {
        Ok(agents) => {
            let t_now = now();
            Some(
                agents
                    .iter()
                    .filter(|a| effective_state(a, t_now) != AgentState::Offline)
                    .map(Offer::of_agent)
                    .collect(),
            )
        }
        Err(e) => {
            eprintln!("warning: cannot tell which tasks wait for an agent: {e}");
            None
        }
    }
}

/// Why each of `tasks` waits, in order (`None`: it does not). A task in
/// review that no live agent can review says so first ("no reviewer
/// with review"), before what its review waits for.
pub async fn waits(store: &Store, tasks: &[&Task]) -> Vec<Option<String>> {
    let in_review: Vec<Option<String>> = (tasks.iter())
        .map(|t| waiting_for(t).or_else(|| blocked_on(t)))
        .collect();
    let agents_matter =
        |t: &&Task| t.status.is_claimable() || (t.status == Status::Reviewing && agent_reviews(t));
    if !tasks.iter().any(agents_matter) {
        return in_review;
    }
    match live_offers(store).await {
        Some(live) => (tasks.iter().zip(in_review))
            .map(|(t, r)| {
                no_reviewer(t, &live)
                    .or(r)
                    .or_else(|| waiting_reason(t, &live))
            })
            .collect(),
        None => in_review,
    }
}

/// What a blocked task waits for: its dependencies not recorded as ended.
fn blocked_on(t: &Task) -> Option<String> {
    let deps = &t.dependencies;
    (t.status == Status::Blocked && !deps.blocked_by.is_empty()).then(|| {
        let left = deps.blocked_by.len() - deps.done.len().min(deps.blocked_by.len());
        format!(
            "{left} of {} dependencies (vayu task graph {})",
            deps.blocked_by.len(),
            t.task_id
        )
    })
}

/// Whether the task's policy needs a review an agent gives.
fn agent_reviews(t: &Task) -> bool {
    let policy = crate::review::policy_of(t);
    REVIEW_CAPABILITIES
        .iter()
        .any(|(kind, _)| policy.needs(*kind))
}

/// The task's JSON with a `waiting` field: the reason, or null.
pub fn with_waiting(task: &Task, waiting: Option<&str>) -> Value {
    let mut v = serde_json::to_value(task).unwrap_or_default();
    if let Value::Object(m) = &mut v {
        m.insert(
            "waiting".into(),
            waiting.map(Value::from).unwrap_or(Value::Null),
        );
    }
    v
}

/// `render_task`'s text with a "waiting: ..." line after the status line.
pub fn with_waiting_line(text: String, waiting: Option<&str>) -> String {
    let Some(w) = waiting else {
        return text;
    };
    let mut out = String::with_capacity(text.len() + w.len() + 16);
    for line in text.split_inclusive('\n') {
        out.push_str(line);
        if line.starts_with("status ") {
            out.push_str(&format!("waiting: {w}\n"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Priority, TaskType};

    #[test]
    fn the_reason_follows_the_status_line_and_is_a_json_field() {
        let text = "task      t\nstatus    queued (in x)\ntype      research\n".to_string();
        assert_eq!(
            with_waiting_line(text.clone(), Some("no live agent offers gpu")),
            "task      t\nstatus    queued (in x)\nwaiting: no live agent offers gpu\ntype      research\n"
        );
        assert_eq!(with_waiting_line(text.clone(), None), text);
        let t = Task::new(TaskType::Research, Priority::Low, "t");
        assert_eq!(with_waiting(&t, Some("w"))["waiting"], "w");
        assert!(with_waiting(&t, None)["waiting"].is_null());
    }
}
