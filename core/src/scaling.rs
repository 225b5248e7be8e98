//! The auto-scaling hook's decision: when the queue is deep or old enough
//! to ask for another agent, or the fleet idle long enough to let one go.
//!
//! Why a hook and not a scaler: vayu does not know how machines are made
//! (a VM, a pod, a laptop), so an agent runs a command the operator
//! configured (`vayu-agent --scale-up-cmd`). Why "once per window" holds
//! with no leader: every agent that sees the threshold crossed tries one
//! conditional commit on `scaling/{up,down}`, allowed only a window after
//! the last one (firestore.rules `isScaleStep`); the agent whose commit
//! lands runs the command, the others lose the race and do nothing.

use crate::time::Time;
use std::time::Duration;

/// The shortest window the rules allow: a command that makes a machine
/// takes longer than this to show its effect.
pub const MIN_WINDOW: Duration = Duration::from_secs(60);
pub const MAX_WINDOW: Duration = Duration::from_secs(86_400);

/// What asks for more agents, or fewer.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Policy {
    /// Scale up when at least this many tasks wait to be claimed.
    pub up_depth: Option<u64>,
    /// Scale up when the oldest claimable task has waited this long.
    pub up_wait: Option<Duration>,
    /// Scale down when nothing waits and this agent has been idle this
    /// long.
    pub down_idle: Option<Duration>,
    /// At most one step each way per window, fleet-wide.
    pub window: Duration,
}

/// What an agent sees when it evaluates the policy.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Observed {
    /// Tasks in the queued pile with status queued.
    pub depth: u64,
    /// How long the oldest of them has waited (none when the queue is empty).
    pub oldest_wait: Option<Duration>,
    /// How long this agent has run nothing.
    pub idle_for: Duration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    Up,
    Down,
}

impl Direction {
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Up => "up",
            Direction::Down => "down",
        }
    }
}

/// The step the policy asks for, with the reason a person reads in the
/// log and in `scaling/{direction}`; `None` when neither threshold is
/// crossed. Up wins over down: a deep queue is never idle.
pub fn decide(policy: &Policy, seen: &Observed) -> Option<(Direction, String)> {
    if let Some(n) = policy.up_depth
        && seen.depth >= n
    {
        return Some((
            Direction::Up,
            format!("{} tasks wait (threshold {n})", seen.depth),
        ));
    }
    if let (Some(limit), Some(wait)) = (policy.up_wait, seen.oldest_wait)
        && wait >= limit
    {
        return Some((
            Direction::Up,
            format!(
                "the oldest task has waited {} s (threshold {} s)",
                wait.as_secs(),
                limit.as_secs()
            ),
        ));
    }
    if let Some(idle) = policy.down_idle
        && seen.depth == 0
        && seen.idle_for >= idle
    {
        return Some((
            Direction::Down,
            format!(
                "nothing waits and this agent has been idle {} s",
                seen.idle_for.as_secs()
            ),
        ));
    }
    None
}

/// Whether a step may be taken at `now` after the last one at `last`
/// (with the window it was taken under): the rules' check, so an agent
/// does not send a commit that must fail.
pub fn may_step(last: Option<(Time, Duration)>, now: Time) -> bool {
    last.is_none_or(|(at, window)| {
        let span = jiff::SignedDuration::try_from(window).unwrap_or(jiff::SignedDuration::MAX);
        at.0.saturating_add(span).is_ok_and(|next| now.0 >= next)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> Policy {
        Policy {
            up_depth: Some(10),
            up_wait: Some(Duration::from_secs(60)),
            down_idle: Some(Duration::from_secs(300)),
            window: MIN_WINDOW,
        }
    }

    fn seen(depth: u64, wait: Option<u64>, idle: u64) -> Observed {
        Observed {
            depth,
            oldest_wait: wait.map(Duration::from_secs),
            idle_for: Duration::from_secs(idle),
        }
    }

    #[test]
    fn a_deep_or_old_queue_asks_for_more_agents() {
        let p = policy();
        assert_eq!(
            decide(&p, &seen(10, Some(1), 0)).map(|d| d.0),
            Some(Direction::Up)
        );
        assert_eq!(
            decide(&p, &seen(2, Some(61), 0)).map(|d| d.0),
            Some(Direction::Up)
        );
        assert_eq!(decide(&p, &seen(9, Some(59), 0)), None);
        let (_, why) = decide(&p, &seen(12, None, 0)).expect("up");
        assert!(why.contains("12 tasks wait"), "{why}");
    }

    #[test]
    fn only_an_empty_queue_and_a_long_idle_let_an_agent_go() {
        let p = policy();
        assert_eq!(
            decide(&p, &seen(0, None, 300)).map(|d| d.0),
            Some(Direction::Down)
        );
        assert_eq!(decide(&p, &seen(1, Some(1), 900)), None, "something waits");
        assert_eq!(
            decide(&p, &seen(0, None, 299)),
            None,
            "not idle long enough"
        );
        let off = Policy {
            down_idle: None,
            ..policy()
        };
        assert_eq!(
            decide(&off, &seen(0, None, 9999)),
            None,
            "no scale-down configured"
        );
    }

    #[test]
    fn a_step_waits_out_the_window_of_the_last() {
        let at = |s: &str| Time(s.parse().expect("a test timestamp"));
        let last = Some((at("2026-12-06T12:00:00Z"), Duration::from_secs(60)));
        assert!(may_step(None, at("2026-12-06T12:00:00Z")));
        assert!(!may_step(last, at("2026-12-06T12:00:59Z")));
        assert!(may_step(last, at("2026-12-06T12:01:00Z")));
    }
}
