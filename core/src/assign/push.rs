//! Push: a task named for one agent (`vayu task create --agent ID`), which
//! only that agent may claim until the push runs out; then it falls back
//! to pull, and whoever holds its lane (or any agent, for a critical task)
//! claims it. Pure: the agent's claim filter and its wake-up time, the
//! CLI's bounds; firestore.rules `pushAllows` holds the same line.

use crate::model::{Task, Time};
use std::time::Duration;

/// How long a push holds when `--push-for` is not given.
pub const PUSH_FOR_DEFAULT: Duration = Duration::from_secs(60);
/// The longest push. The rules refuse a `push_until` more than an hour
/// ahead of the server's clock, so a push to an agent that never comes
/// cannot hold a task for ever; five minutes of that hour are left for a
/// client clock that runs ahead.
pub const PUSH_FOR_MAX: Duration = Duration::from_secs(55 * 60);

/// Whether `task` is pushed to an agent other than `me` and the push still
/// holds at `now`.
pub fn reserved_for_other(task: &Task, me: &str, now: Time) -> bool {
    let a = &task.assignment;
    match (&a.pushed_to, a.push_until) {
        (Some(to), Some(until)) => to != me && now < until,
        // A push without an end was not written by vayu; the rules refuse
        // one, so treat it as no push rather than a task nobody may take.
        _ => false,
    }
}

/// When a push that keeps `task` from `me` runs out (for the agent's next
/// wake-up), if it does.
pub fn frees_at(task: &Task, me: &str, now: Time) -> Option<Time> {
    reserved_for_other(task, me, now)
        .then_some(task.assignment.push_until)
        .flatten()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Priority, TaskType, time_add};

    fn pushed(to: &str, until: Time) -> Task {
        let mut t = Task::new(TaskType::Research, Priority::Normal, "t");
        t.assignment.pushed_to = Some(to.into());
        t.assignment.push_until = Some(until);
        t
    }

    #[test]
    fn a_push_holds_for_others_until_it_runs_out() {
        let now = crate::model::now();
        let later = time_add(now, Duration::from_secs(30));
        let t = pushed("a", later);
        assert!(
            !reserved_for_other(&t, "a", now),
            "the pushed agent may claim"
        );
        assert!(reserved_for_other(&t, "b", now), "another may not");
        assert_eq!(frees_at(&t, "b", now), Some(later));
        assert_eq!(frees_at(&t, "a", now), None);
        assert!(!reserved_for_other(&t, "b", later), "then anyone may");
        let plain = Task::new(TaskType::Research, Priority::Normal, "t");
        assert!(!reserved_for_other(&plain, "b", now));
    }
}
