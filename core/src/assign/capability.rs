//! Phase 1, capability: what an agent offers, whether it could ever run a
//! task (type, `requires`, not rework of its own rejected work), and, when
//! no live agent could, why not. The reason is what `vayu task status`
//! prints as "waiting: …" (src/cli/waits.rs), and what the scorer's
//! decision gives when no agent qualifies, so there is one wording.

use crate::model::{AgentDoc, Task, TaskType, Time};
use std::collections::HashSet;

/// What an agent offers.
#[derive(Debug, Clone, Default)]
pub struct Offer {
    pub agent_id: String,
    pub capabilities: HashSet<String>,
    /// Types with a handler; `None` means a catch-all handler.
    pub handles: Option<HashSet<TaskType>>,
}

impl Offer {
    /// What a peer offers, as its `agents/{id}` document says (`handles`
    /// is `["*"]` for a catch-all handler; unknown type names are
    /// ignored).
    pub fn of_agent(doc: &AgentDoc) -> Offer {
        Offer {
            agent_id: doc.agent_id.clone(),
            capabilities: doc.capabilities.iter().cloned().collect(),
            handles: if doc.handles.iter().any(|h| h == "*") {
                None
            } else {
                Some(doc.handles.iter().filter_map(|h| h.parse().ok()).collect())
            },
        }
    }

    pub fn handles(&self, t: TaskType) -> bool {
        self.handles.as_ref().is_none_or(|set| set.contains(&t))
    }

    /// Whether this agent may claim `task` at `now`.
    pub fn can_claim(&self, task: &Task, now: Time) -> bool {
        task.status.is_claimable()
            && task.control.is_none()
            && task.not_before.is_none_or(|t| t <= now)
            && self.could_claim(task)
    }

    /// Whether this agent could ever claim `task` (ignoring time): its
    /// type and capabilities, and not rework of its own rejected work
    /// (`review.avoid`, set by `--rework other`).
    pub fn could_claim(&self, task: &Task) -> bool {
        self.handles(task.task_type)
            && task.requires.iter().all(|c| self.capabilities.contains(c))
            && task.review.avoid.as_deref() != Some(self.agent_id.as_str())
    }
}

/// Why a task waits that no live agent can ever take, for `vayu task
/// status` and `task list` ("waiting: {this}"); `None` when some live agent
/// could claim it, or when it is not waiting to be claimed. `live` is what
/// the agents that are not offline offer.
///
/// The reason names what is missing: the type when no live agent handles
/// it; else the required capabilities that no live agent handling the type
/// offers; else (each is offered, but never all by one agent) all of them.
pub fn waiting_reason(task: &Task, live: &[Offer]) -> Option<String> {
    if !task.status.is_claimable() || live.iter().any(|o| o.could_claim(task)) {
        return None;
    }
    if live.is_empty() {
        return Some("no live agent".into());
    }
    let handlers: Vec<&Offer> = live.iter().filter(|o| o.handles(task.task_type)).collect();
    if handlers.is_empty() {
        return Some(format!("no live agent offers type {}", task.task_type));
    }
    if let Some(avoid) = &task.review.avoid
        && handlers.iter().all(|o| &o.agent_id == avoid)
    {
        return Some(format!("rework: no live agent other than {avoid}"));
    }
    let missing: Vec<&str> = task
        .requires
        .iter()
        .filter(|c| !handlers.iter().any(|o| o.capabilities.contains(*c)))
        .map(String::as_str)
        .collect();
    Some(if missing.is_empty() {
        format!("no live agent offers all of {}", task.requires.join(", "))
    } else {
        format!("no live agent offers {}", missing.join(", "))
    })
}

/// Phase 1 over a fleet: the offers that could ever run `task`, in the
/// order given.
pub fn capable<'a>(task: &Task, offers: &'a [Offer]) -> Vec<&'a Offer> {
    offers.iter().filter(|o| o.could_claim(task)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lifecycle::Status;
    use crate::model::{ControlRequest, Priority, now, time_add};
    use std::time::Duration;

    fn offer(caps: &[&str], handles: Option<&[TaskType]>) -> Offer {
        Offer {
            agent_id: "a".into(),
            capabilities: caps.iter().map(|s| s.to_string()).collect(),
            handles: handles.map(|h| h.iter().copied().collect()),
        }
    }

    #[test]
    fn capabilities_types_time_and_control_gate_a_claim() {
        let now = now();
        let mut t = Task::new(TaskType::Research, Priority::Normal, "t");
        t.requires = vec!["gpu".into()];
        assert!(!offer(&[], None).can_claim(&t, now));
        assert!(offer(&["gpu", "web"], None).can_claim(&t, now));
        assert!(!offer(&["gpu"], Some(&[TaskType::Learning])).can_claim(&t, now));
        assert!(offer(&["gpu"], Some(&[TaskType::Research])).can_claim(&t, now));
        t.not_before = Some(time_add(now, Duration::from_secs(5)));
        assert!(!offer(&["gpu"], None).can_claim(&t, now));
        t.not_before = None;
        t.control = Some(ControlRequest::Pause);
        assert!(!offer(&["gpu"], None).can_claim(&t, now));
        t.control = None;
        t.status = Status::Blocked;
        assert!(!offer(&["gpu"], None).can_claim(&t, now));
    }

    #[test]
    fn a_task_no_live_agent_can_take_says_what_is_missing() {
        let mut t = Task::new(TaskType::Research, Priority::Normal, "t");
        t.requires = vec!["gpu".into(), "web".into()];
        let research = Some(&[TaskType::Research][..]);
        let reason = |live: &[Offer]| waiting_reason(&t, live);
        assert_eq!(reason(&[]).as_deref(), Some("no live agent"));
        assert_eq!(
            reason(&[offer(&["gpu", "web"], Some(&[TaskType::Learning]))]).as_deref(),
            Some("no live agent offers type research")
        );
        assert_eq!(
            reason(&[offer(&["web"], research), offer(&["gpu"], Some(&[]))]).as_deref(),
            Some("no live agent offers gpu"),
            "gpu counts only on an agent that handles the type"
        );
        assert_eq!(
            reason(&[offer(&["web"], research), offer(&["gpu"], None)]).as_deref(),
            Some("no live agent offers all of gpu, web")
        );
        assert_eq!(
            reason(&[offer(&[], None), offer(&["gpu", "web"], None)]),
            None
        );
        t.status = Status::Executing;
        assert_eq!(
            waiting_reason(&t, &[]),
            None,
            "only a task waiting to be claimed waits"
        );
    }

    #[test]
    fn capable_keeps_the_offers_that_could_run_it() {
        let mut t = Task::new(TaskType::Research, Priority::Normal, "t");
        t.requires = vec!["gpu".into()];
        let mut gpu = offer(&["gpu"], None);
        gpu.agent_id = "g".into();
        let offers = [offer(&["web"], None), gpu, offer(&["gpu"], Some(&[]))];
        let ids: Vec<&str> = capable(&t, &offers)
            .iter()
            .map(|o| o.agent_id.as_str())
            .collect();
        assert_eq!(ids, ["g"]);
    }
}
