//! `vayu-agent --github-sync owner/name`: this agent runs `vayu github
//! sync` passes in the background (`vayu::github::sync::repeat`), with
//! its own identity and the GITHUB_TOKEN of its environment.
//!
//! No leader and no window: a pass is idempotent (ids derived from
//! issues, one comment found by its marker, writes only where something
//! differs, a duplicate comment deleted), so any number of agents may
//! run it; one or two is enough (README, "GitHub").

use std::time::Duration;
use vayu::github::{GitHub, sync};

#[derive(clap::Args, Debug)]
#[command(next_help_heading = "GitHub sync")]
pub struct GithubArgs {
    /// Sync this repository's issues and tasks (owner/name).
    #[arg(long, env = "VAYU_GITHUB_SYNC")]
    github_sync: Option<String>,
    /// Seconds between passes.
    #[arg(long, env = "VAYU_GITHUB_SYNC_EVERY_SECS", default_value_t = 300)]
    github_sync_every_secs: u64,
    /// Issues with this label become tasks.
    #[arg(long, default_value = "vayu")]
    github_label: String,
    /// Close an issue when its task completes.
    #[arg(long)]
    github_close_on_complete: bool,
    /// A Projects (v2) number whose Status follows the tasks.
    #[arg(long)]
    github_project: Option<u64>,
    /// A discussion category research reports go to.
    #[arg(long)]
    github_discussions: Option<String>,
}

impl GithubArgs {
    /// The client, the pass and its period, when asked for; a missing
    /// token or a bad repository is a bad configuration.
    pub fn duty(
        &self,
        agent_id: &str,
    ) -> Result<Option<(GitHub, sync::Options, Duration)>, String> {
        let Some(repo) = &self.github_sync else {
            return Ok(None);
        };
        vayu::github::parse_repo(repo)?;
        let floor = sync::MIN_EVERY.as_secs();
        if self.github_sync_every_secs < floor {
            return Err(format!("--github-sync-every-secs is at least {floor}"));
        }
        let gh = GitHub::from_env().map_err(|e| e.to_string())?;
        let opts = sync::Options {
            repo: repo.clone(),
            label: self.github_label.clone(),
            close_on_complete: self.github_close_on_complete,
            project: self.github_project,
            discussions: self.github_discussions.clone(),
            dry_run: false,
            // The rules want an agent's own uid, its id, as requester.
            requester: Some(agent_id.to_string()),
            as_agent: true,
        };
        Ok(Some((
            gh,
            opts,
            Duration::from_secs(self.github_sync_every_secs),
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser as _;

    #[derive(clap::Parser)]
    struct Args {
        #[command(flatten)]
        g: GithubArgs,
    }

    fn duty(args: &[&str]) -> Result<bool, String> {
        let a = Args::try_parse_from([&["agent"], args].concat()).map_err(|e| e.to_string())?;
        a.g.duty("a1").map(|d| d.is_some())
    }

    #[test]
    fn the_duty_is_off_without_a_repository_and_bad_values_are_refused() {
        assert_eq!(duty(&[]), Ok(false));
        let bad = duty(&["--github-sync", "not-a-repo"]).expect_err("refused");
        assert!(bad.contains("owner/name"), "{bad}");
        let fast = ["--github-sync", "o/r", "--github-sync-every-secs", "5"];
        assert!(duty(&fast).expect_err("refused").contains("at least 30"));
    }
}
