//! The auto-scaling hook (`vayu-agent --scale-up-cmd`, `crate::scaling`):
//! every agent configured with a command looks at the queue every
//! `every`, and when the policy asks for a step, tries the one
//! conditional commit per window; the agent whose commit lands runs the
//! command. In the background, one check at a time, so a slow command or
//! Firestore never holds the loop.

use super::*;
use crate::scaling::{self, Direction, Policy};

/// The hook's configuration.
#[derive(Debug, Clone)]
pub struct ScaleHook {
    pub policy: Policy,
    pub up_cmd: Option<String>,
    pub down_cmd: Option<String>,
    /// How often the queue is looked at.
    pub every: Duration,
}

impl ScaleHook {
    fn command(&self, dir: Direction) -> Option<&str> {
        match dir {
            Direction::Up => self.up_cmd.as_deref(),
            Direction::Down => self.down_cmd.as_deref(),
        }
    }
}

impl Agent {
    pub(super) fn maybe_scale(&mut self) {
        if !self.running.is_empty() {
            self.busy_at = Instant::now();
        }
        let Some(hook) = self.cfg.scaling.clone() else {
            return;
        };
        let due = self.last_scale_check.elapsed() >= hook.every
            && self.scaler.as_ref().is_none_or(|s| s.is_finished());
        if !due {
            return;
        }
        self.last_scale_check = Instant::now();
        let idle_for = match self.running.is_empty() {
            true => self.busy_at.elapsed(),
            false => Duration::ZERO,
        };
        let (store, me) = (self.store.clone(), self.cfg.agent_id.clone());
        self.scaler = Some(tokio::spawn(async move {
            if let Err(e) = check(&store, &me, &hook, idle_for).await {
                tracing::warn!(error = %e, "the auto-scaling check failed");
            }
        }));
    }
}

/// One look at the queue, and the step if the policy asks for one and
/// this agent wins the window.
async fn check(store: &Store, me: &str, hook: &ScaleHook, idle_for: Duration) -> Result<()> {
    let seen = crate::scale::observe(store, idle_for).await?;
    let Some((dir, reason)) = scaling::decide(&hook.policy, &seen) else {
        return Ok(());
    };
    let Some(cmd) = hook.command(dir) else {
        return Ok(());
    };
    let last = crate::scale::last_step(store, dir).await?;
    if !scaling::may_step(last.at, now()) {
        return Ok(());
    }
    if !crate::scale::claim_step(store, dir, &last, me, &reason, hook.policy.window).await? {
        tracing::debug!(
            direction = dir.as_str(),
            "another agent took this window's step"
        );
        return Ok(());
    }
    tracing::info!(direction = dir.as_str(), %reason, "scaling: running the command");
    match crate::scale::run_command(cmd, dir, &reason, &seen).await {
        Ok((status, _)) if status.success() => {
            tracing::info!(direction = dir.as_str(), "the scale command succeeded")
        }
        Ok((status, tail)) => {
            tracing::warn!(direction = dir.as_str(), %status, output = %tail, "the scale command failed")
        }
        Err(e) => {
            tracing::warn!(direction = dir.as_str(), error = %e, "the scale command did not run")
        }
    }
    Ok(())
}
