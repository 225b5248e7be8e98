//! `vayu-agent`'s auto-scaling hook flags (`vayu::agent::ScaleHook`).

use super::env;
use std::time::Duration;
use vayu::agent::ScaleHook;
use vayu::scaling::{MAX_WINDOW, MIN_WINDOW, Policy};

/// When to run a command that adds an agent, or removes one. Any agent
/// given a command takes part; one per window runs it, fleet-wide.
#[derive(clap::Args, Debug)]
#[command(next_help_heading = "Auto-scaling hook")]
pub struct ScaleArgs {
    /// Run this (`sh -c`) to add an agent when the queue is deep
    /// (`--scale-up-queue`) or old (`--scale-up-wait-secs`). It gets
    /// VAYU_SCALE_DIRECTION, VAYU_SCALE_REASON, VAYU_QUEUE_DEPTH and
    /// VAYU_OLDEST_WAIT_SECS, and the agent's environment without vayu's
    /// credentials.
    #[arg(long, env = env::SCALE_UP_CMD)]
    scale_up_cmd: Option<String>,
    /// Run this to remove an agent when nothing waits and this agent has
    /// been idle `--scale-down-idle-secs`.
    #[arg(long, env = env::SCALE_DOWN_CMD)]
    scale_down_cmd: Option<String>,
    /// Scale up when this many tasks wait to be claimed.
    #[arg(long, env = env::SCALE_UP_QUEUE)]
    scale_up_queue: Option<u64>,
    /// Scale up when the oldest waiting task has waited this long.
    #[arg(long, env = env::SCALE_UP_WAIT_SECS)]
    scale_up_wait_secs: Option<u64>,
    #[arg(long, env = env::SCALE_DOWN_IDLE_SECS, default_value_t = 600)]
    scale_down_idle_secs: u64,
    /// At most one step each way per window, fleet-wide (60-86400).
    #[arg(long, env = env::SCALE_WINDOW_SECS, default_value_t = 300)]
    scale_window_secs: u64,
    /// How often this agent looks at the queue for the hook.
    #[arg(long, env = env::SCALE_EVERY_SECS, default_value_t = 15.0)]
    scale_every_secs: f64,
}

impl ScaleArgs {
    /// The hook, or none without a command; a bad combination is a bad
    /// configuration (exit 64).
    pub fn hook(&self) -> Result<Option<ScaleHook>, String> {
        let nonempty = |c: &Option<String>| {
            c.as_deref()
                .map(str::trim)
                .filter(|c| !c.is_empty())
                .map(String::from)
        };
        let (up_cmd, down_cmd) = (nonempty(&self.scale_up_cmd), nonempty(&self.scale_down_cmd));
        if up_cmd.is_none() && down_cmd.is_none() {
            return Ok(None);
        }
        if up_cmd.is_some() && self.scale_up_queue.is_none() && self.scale_up_wait_secs.is_none() {
            return Err("--scale-up-cmd needs --scale-up-queue or --scale-up-wait-secs".into());
        }
        let window = Duration::from_secs(self.scale_window_secs);
        if !(MIN_WINDOW..=MAX_WINDOW).contains(&window) {
            return Err(format!(
                "--scale-window-secs must be {}..={}",
                MIN_WINDOW.as_secs(),
                MAX_WINDOW.as_secs()
            ));
        }
        let every = Duration::try_from_secs_f64(self.scale_every_secs)
            .ok()
            .filter(|d| !d.is_zero())
            .ok_or("--scale-every-secs must be a positive number of seconds")?;
        Ok(Some(ScaleHook {
            policy: Policy {
                up_depth: self.scale_up_queue.filter(|_| up_cmd.is_some()),
                up_wait: self
                    .scale_up_wait_secs
                    .filter(|_| up_cmd.is_some())
                    .map(Duration::from_secs),
                down_idle: down_cmd
                    .as_ref()
                    .map(|_| Duration::from_secs(self.scale_down_idle_secs)),
                window,
            },
            up_cmd,
            down_cmd,
            every,
        }))
    }
}
