//! Formation with a deadline (`vayu task create --team … --form-within 10m
//! --unformed wait|degrade|cancel`).
//!
//! A team has formed once each of its parts has been claimed. The deadline
//! is for the parts that can start at once: a swarm's and a peer team's
//! members, a pipeline's first stage, a leader's part (a later stage or a
//! follower waits for another part, however long it runs, so `plan` gives
//! it no deadline). A part that nobody has claimed by its deadline says why (the same "no live agent
//! offers X" as any waiting task), and then, as the requester chose:
//! - `wait`: it keeps waiting; `vayu task status` reports it overdue;
//! - `degrade`: its requirements are dropped, so any agent that runs the
//!   type may take it (the role's or skill's specialist never came);
//! - `cancel`: it is cancelled with the reason, and the dependency rules
//!   then cancel the parent, naming it. Cancelled rather than failed: in
//!   the lifecycle a task that never ran was called off, not failed.
//!
//! No leader decides it: any agent that sees an overdue part in its view
//! of the queue makes the change, as a write conditioned on the version it
//! saw, so two agents making it at once leave one change
//! (firestore.rules `isUnformedDegrade`, `isUnformedCancel`).

use crate::lifecycle::Status;
use crate::model::{Task, Time, millis_between};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// The longest formation deadline: a team that has not formed in a week
/// is better asked for again.
pub const FORM_WITHIN_MAX_SECS: u64 = 7 * 86_400;

/// The shortest: the deadline is set by the creating client's clock, so a
/// shorter one would be mostly clock skew.
pub const FORM_WITHIN_MIN_SECS: u64 = 5;

crate::model::string_enum!(
    /// What a part that nobody claimed by its deadline does.
    Unformed {
        Wait => "wait",
        Degrade => "degrade",
        Cancel => "cancel",
    }
);

/// A formation deadline and what then (a part's `part_of.form_by` and
/// `part_of.unformed`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Form {
    pub by: Time,
    pub unformed: Unformed,
}

/// The change an agent makes to an overdue part.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Drop its requirements (it stays queued).
    Degrade,
    /// Cancel it, with this reason.
    Cancel(String),
}

/// Whether part `t` is still unformed at `now`: queued, waiting for no
/// other part, never claimed (its lease's epoch is still 0: every claim
/// raises it, and the rules pin it) and past its deadline. Only such a
/// part may be degraded or cancelled (the rules check the same).
pub fn overdue(t: &Task, now: Time) -> Option<Form> {
    let form = t.part_of.as_ref()?.form()?;
    let never_claimed = t.lease.epoch == 0;
    let free = t.dependencies.blocked_by.is_empty();
    let queued = t.status == Status::Queued && t.control.is_none();
    (queued && free && never_claimed && form.by < now).then_some(form)
}

/// What an agent does about part `t` at `now`, given `why` it waits
/// (`assign::waiting_reason`, or `None` when some live agent could take
/// it but none has yet). `None`: nothing (not overdue, the requester
/// chose to wait, or it is degraded already).
pub fn step(t: &Task, now: Time, why: Option<&str>) -> Option<Step> {
    let form = overdue(t, now)?;
    match form.unformed {
        Unformed::Wait => None,
        Unformed::Degrade => (!t.requires.is_empty()).then_some(Step::Degrade),
        Unformed::Cancel => Some(Step::Cancel(reason(&form, now, why))),
    }
}

/// How every note about a missed formation deadline starts.
pub const NOTE_PREFIX: &str = "the team did not form by its deadline";

/// The note an overdue part carries: how late it is, and why.
pub fn reason(form: &Form, now: Time, why: Option<&str>) -> String {
    let late = millis_between(form.by, now).max(0) / 1000;
    let why = why.unwrap_or("no member claimed it");
    format!("{NOTE_PREFIX} ({late} s ago): {why}")
}

/// The note a degraded part carries.
pub fn degraded_note(t: &Task) -> String {
    format!("{NOTE_PREFIX}: formed without {}", t.requires.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Priority, TaskType};
    use crate::team::{PartOf, Pattern};

    fn part(then: Unformed, by_ms: i64) -> Task {
        let mut t = Task::new(TaskType::Research, Priority::Normal, "p");
        t.status = Status::Queued;
        t.requires = vec!["astronaut".into()];
        t.part_of = Some(PartOf {
            parent: "x".into(),
            pattern: Pattern::Peer,
            index: 2,
            of: 2,
            role: Some("astronaut".into()),
            form_by: Some(Time::from_parts(by_ms / 1000, 0).expect("a valid time")),
            unformed: Some(then),
        });
        t
    }

    fn at(ms: i64) -> Time {
        Time::from_parts(ms / 1000, 0).expect("a valid time")
    }

    #[test]
    fn nothing_before_the_deadline() {
        let t = part(Unformed::Cancel, 10_000);
        assert_eq!(step(&t, at(9_000), None), None);
        assert_eq!(
            step(&t, at(10_000), None),
            None,
            "the deadline itself is in time"
        );
    }

    #[test]
    fn cancel_names_the_missing_role() {
        let t = part(Unformed::Cancel, 10_000);
        let why = "no live agent offers astronaut";
        match step(&t, at(15_000), Some(why)) {
            Some(Step::Cancel(r)) => {
                assert!(r.contains(why), "{r}");
                assert!(r.contains("5 s ago"), "{r}");
            }
            other => panic!("expected a cancel, got {other:?}"),
        }
    }

    #[test]
    fn degrade_drops_requirements_once() {
        let mut t = part(Unformed::Degrade, 10_000);
        assert_eq!(step(&t, at(11_000), None), Some(Step::Degrade));
        assert_eq!(
            degraded_note(&t),
            "the team did not form by its deadline: formed without astronaut"
        );
        t.requires.clear();
        assert_eq!(step(&t, at(11_000), None), None, "degraded already");
    }

    #[test]
    fn wait_changes_nothing_but_is_overdue() {
        let t = part(Unformed::Wait, 10_000);
        assert_eq!(step(&t, at(11_000), None), None);
        assert!(overdue(&t, at(11_000)).is_some());
    }

    #[test]
    fn a_part_that_ran_or_is_not_queued_has_formed() {
        let mut t = part(Unformed::Cancel, 10_000);
        t.lease.epoch = 1;
        assert_eq!(step(&t, at(11_000), None), None, "claimed once: formed");
        let mut t = part(Unformed::Cancel, 10_000);
        t.dependencies.blocked_by = vec!["x-p1".into()];
        assert_eq!(
            step(&t, at(11_000), None),
            None,
            "a stage waits for its turn"
        );
        let mut t = part(Unformed::Cancel, 10_000);
        t.status = Status::Paused;
        assert_eq!(step(&t, at(11_000), None), None);
        let mut t = part(Unformed::Cancel, 10_000);
        t.control = Some(crate::model::ControlRequest::Cancel);
        assert_eq!(
            step(&t, at(11_000), None),
            None,
            "a person's control comes first"
        );
    }

    #[test]
    fn a_task_without_a_deadline_is_never_overdue() {
        let mut t = part(Unformed::Cancel, 10_000);
        if let Some(p) = t.part_of.as_mut() {
            p.form_by = None;
        }
        assert!(overdue(&t, at(99_000)).is_none());
        let plain = Task::new(TaskType::Research, Priority::Normal, "plain");
        assert!(overdue(&plain, at(99_000)).is_none());
    }
}
