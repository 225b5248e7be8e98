//! Resources: named semaphores with a capacity (`vayu resource set gpu 2`),
//! of which a task takes permits (`--resource gpu:1`) for as long as it
//! runs. Pure: the documents, the parsing, and who may give a permit back.
//!
//! Why permits live in one document per resource, with a holder entry per
//! task, and not as a counter alone: a counter cannot tell whose permits
//! leaked when an agent is killed. With holders, a permit is given back by
//! anyone once its task is no longer held under the epoch that took it
//! ([`is_stale`]), so a kill -9 leaks nothing: the next sweep, or the peer
//! that requeues the task, returns it. The claim takes the permit in the
//! same commit that moves the task to the active pile, and the rules
//! refuse a claim beyond capacity (firestore.rules `/resources/`,
//! `isAcquire`).
//!
//! One resource per task: each costs the claim's rules one read, and a
//! claim is judged close to the expression budget.

use crate::lifecycle::Status;
use crate::model::{Task, Time};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

/// The most permits one task may take, and the largest capacity.
pub const PERMITS_MAX: i64 = 1_000;

/// What a resource is called: lowercase letters, digits, `_` and `-`,
/// 1–64 characters, starting with a letter or digit (a document id, and a
/// word a person can type).
pub fn is_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        && s.len() <= 64
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-')
}

/// A task's `--resource NAME[:PERMITS]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResourceNeed {
    pub name: String,
    pub permits: i64,
}

impl FromStr for ResourceNeed {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (name, permits) = s.split_once(':').unwrap_or((s, "1"));
        if !is_name(name) {
            return Err(format!(
                "'{name}' is not a resource name (lowercase letters, digits, _ and -, at most 64)"
            ));
        }
        let permits: i64 = permits
            .parse()
            .map_err(|_| format!("'{permits}' is not a number of permits"))?;
        if !(1..=PERMITS_MAX).contains(&permits) {
            return Err(format!("{permits} permits: give 1 to {PERMITS_MAX}"));
        }
        Ok(ResourceNeed {
            name: name.to_string(),
            permits,
        })
    }
}

impl fmt::Display for ResourceNeed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.name, self.permits)
    }
}

/// Who holds permits: the task's claim, under its lease epoch.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Holder {
    pub permits: i64,
    /// The agent that claimed the task.
    pub owner: String,
    /// The task's lease epoch when it took them.
    pub epoch: i64,
}

/// `resources/{name}`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Resource {
    pub capacity: i64,
    /// The sum of the holders' permits, kept by the same writes that add
    /// and remove holders (the rules check each step; they cannot sum a
    /// map).
    pub used: i64,
    /// By task id.
    pub holders: BTreeMap<String, Holder>,
    /// The task the last acquire or release was for: the rules read the
    /// entry it names (they cannot pick a key out of a set).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<Time>,
}

impl Resource {
    /// Permits free now (none when capacity was lowered below use).
    pub fn free(&self) -> i64 {
        (self.capacity - self.used).max(0)
    }

    /// Whether `permits` more fit.
    pub fn fits(&self, permits: i64) -> bool {
        self.used + permits <= self.capacity
    }
}

/// Whether `holder`'s permits may be given back, given the task as it
/// stands (`None`: not found in the active pile) at `now`: the task is no
/// longer assigned or executing under the epoch that took them, or that
/// lease has run out. The same test as the rules' `permitFree`.
pub fn is_stale(holder: &Holder, active: Option<&Task>, now: Time) -> bool {
    let Some(t) = active else {
        return true;
    };
    !matches!(t.status, Status::Assigned | Status::Executing)
        || t.lease.epoch != holder.epoch
        || t.lease.expires_at.is_none_or(|e| e <= now)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Priority, TaskType, time_add};
    use std::time::Duration;

    #[test]
    fn a_need_parses_with_or_without_permits() {
        let gpu: ResourceNeed = "gpu:2".parse().expect("valid");
        assert_eq!((gpu.name.as_str(), gpu.permits), ("gpu", 2));
        let one: ResourceNeed = "db-pool".parse().expect("valid");
        assert_eq!(one.permits, 1);
        assert_eq!(one.to_string(), "db-pool:1");
    }

    #[test]
    fn bad_needs_say_why() {
        for (s, says) in [
            ("GPU:1", "not a resource name"),
            ("gpu:0", "give 1 to"),
            ("gpu:x", "not a number"),
            (":1", "not a resource name"),
            ("gpu:1001", "give 1 to"),
        ] {
            let err = s.parse::<ResourceNeed>().unwrap_err();
            assert!(err.contains(says), "{s}: {err}");
        }
    }

    #[test]
    fn a_holder_is_stale_once_its_task_is_not_held_under_its_epoch() {
        let now = Time::now();
        let holder = Holder {
            permits: 1,
            owner: "a".into(),
            epoch: 3,
        };
        let mut t = Task::new(TaskType::Research, Priority::Normal, "x");
        t.status = Status::Executing;
        t.lease.epoch = 3;
        t.lease.expires_at = Some(time_add(now, Duration::from_secs(30)));
        assert!(!is_stale(&holder, Some(&t), now), "live");
        assert!(is_stale(&holder, None, now), "gone from the active pile");
        let mut later = t.clone();
        later.lease.epoch = 4;
        assert!(is_stale(&holder, Some(&later), now), "taken over");
        let mut expired = t.clone();
        expired.lease.expires_at = Some(now);
        assert!(is_stale(&holder, Some(&expired), now), "lease ran out");
        let mut review = t;
        review.status = Status::Reviewing;
        assert!(is_stale(&holder, Some(&review), now), "in review");
    }

    #[test]
    fn free_never_goes_below_zero() {
        let r = Resource {
            capacity: 1,
            used: 2,
            ..Resource::default()
        };
        assert_eq!(r.free(), 0);
        assert!(!r.fits(1));
    }
}
