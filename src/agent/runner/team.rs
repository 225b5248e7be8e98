//! A team member's run (`crate::teams`): the team's context for the
//! handler (`$VAYU_CONTEXT`), its teammates' progress
//! (`$VAYU_TEAM_PROGRESS`, `broadcast.rs`), and its `vayu:context`,
//! `vayu:barrier` and `vayu:subtask` reports; and a parent's built-in
//! merge.
//!
//! A context write or an arrival is one masked write, made as the report
//! comes (the handler's next line waits for it). Waiting at a barrier
//! must not stop the heartbeats, so each wait is a task of its own: it
//! reads the team's document about once a second until every part has
//! arrived, or the timeout, then writes `barrier-NAME` in the run's
//! directory. The waits end with the run (`JoinSet` aborts them).

use super::{Outcome, Runner};
use crate::model::{Artifact, Task, clip, limits, now};
use crate::protocol::Report;
use crate::team::{Pattern, TeamDoc, subtask_name};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// A waiting member reads the team's document this often at most.
const BARRIER_POLL: Duration = Duration::from_secs(1);

/// What a member's run keeps of its team reports.
#[derive(Default)]
pub(super) struct Member {
    pending: Vec<Report>,
    waits: tokio::task::JoinSet<()>,
    subtasks: usize,
    /// A parent's: the agents that ran its parts, named as it completes
    /// (`name_members`).
    pub(super) collaborators: Vec<String>,
    /// Teammates' progress, for a swarm's or a peer's member.
    _broadcast: Option<super::broadcast::Broadcast>,
}

impl Member {
    pub(super) fn push(&mut self, report: Report) {
        self.pending.push(report);
    }
}

/// The context as the handler reads it: a JSON object of key → value.
fn write_context(path: &Path, doc: &TeamDoc) -> std::io::Result<()> {
    let json = serde_json::to_string(&doc.values()).unwrap_or_else(|_| "{}".into());
    std::fs::write(path, json)
}

impl Runner {
    /// A team's parent under a built-in merge: no handler runs; its
    /// result is its parts', merged (`crate::teams::merged`).
    pub(super) async fn merge_team(&mut self, task: &Task) -> Outcome {
        match crate::teams::merged(&self.store, task).await {
            Ok(merged) => {
                self.team.collaborators = merged.collaborators;
                let ex = &mut self.current.value.execution;
                ex.result = Some(merged.result);
                ex.artifacts = merged.artifacts;
                ex.progress = 100;
                self.finish_success().await
            }
            Err(e) => {
                let why = format!("could not merge the team's results: {e}");
                self.finish_failure(why).await
            }
        }
    }

    /// For a team's parent about to complete: names the agents that ran
    /// its parts (`assignment.collaborators`), in place, as a heartbeat
    /// (firestore.rules `isTeamCollaborators`; in the completing move it
    /// went over the rules' expression budget). Nothing for other tasks.
    ///
    /// Only the collaborators and the lease change: the execution is
    /// written as the server has it, and the pending log lines wait for
    /// the completion. Carried with them, the merged result and the
    /// parts' artifacts took this commit over the 1,000 expressions too
    /// (tests/teams_cost.rs, the leader's parent). Whatever the write
    /// answers, the runner's own execution (the result it completes with)
    /// is kept: a refused write re-reads the server's.
    pub(super) async fn name_members(&mut self) -> Result<(), super::Refused> {
        let names = std::mem::take(&mut self.team.collaborators);
        if names.is_empty() || names == self.current.value.assignment.collaborators {
            return Ok(());
        }
        let execution = self.current.value.execution.clone();
        let logs = std::mem::take(&mut self.pending_logs);
        let mut next = self.current.value.clone();
        next.execution = self.stored.clone();
        next.lease.expires_at = Some(crate::model::time_add(now(), self.cfg.lease));
        next.assignment.collaborators = names;
        let written = self.write(next, &[]).await;
        self.pending_logs = logs;
        self.current.value.execution = execution;
        written
    }

    /// The run's directory (made now, as the handler's start would).
    fn run_dir(&self, run: &str) -> std::io::Result<PathBuf> {
        self.cfg.sandbox.run_dir(self.id(), run)
    }

    /// For a team's part: the team's context as it stands, in the run's
    /// `context.json`, named by `$VAYU_CONTEXT`. Nothing for other tasks.
    pub(super) async fn team_env(&mut self, run: &str) -> Vec<(&'static str, String)> {
        let Some(part) = self.current.value.part_of.clone() else {
            return Vec::new();
        };
        let path = match self.run_dir(run) {
            Ok(dir) => dir.join("context.json"),
            Err(e) => {
                self.log(format!(
                    "[vayu] no run directory for the team's context: {e}"
                ));
                return Vec::new();
            }
        };
        let written = match self.store.team_doc(&part.parent).await {
            Ok(doc) => write_context(&path, &doc).map_err(|e| e.to_string()),
            Err(e) => Err(e.to_string()),
        };
        if let Err(e) = written {
            self.log(format!("[vayu] the team's context could not be read: {e}"));
        }
        let mut env = vec![("VAYU_CONTEXT", path.display().to_string())];
        if matches!(part.pattern, Pattern::Swarm | Pattern::Peer) {
            let progress = path.with_file_name("team.json");
            let follow =
                super::broadcast::follow(&self.store, &part.parent, part.of, progress.clone());
            self.team._broadcast = Some(follow);
            env.push(("VAYU_TEAM_PROGRESS", progress.display().to_string()));
        }
        env
    }

    /// Carries out the team reports the handler printed since the last
    /// call, in order.
    pub(super) async fn team_flush(&mut self, run: &str) {
        for report in std::mem::take(&mut self.team.pending) {
            let Some(part) = self.current.value.part_of.clone() else {
                self.log(format!(
                    "[vayu] ignored a team report outside a team: {report:?}"
                ));
                continue;
            };
            let (id, agent) = (self.id().to_string(), self.cfg.agent_id.clone());
            match report {
                Report::Context { key, value } => {
                    // Room for clip's ellipsis (3 bytes) within the bound.
                    let value = clip(&value, crate::team::CONTEXT_VALUE_MAX - 3);
                    let set = self
                        .store
                        .team_context_set(&part, &id, &agent, &key, &value);
                    if let Err(e) = set.await {
                        self.log(format!("[vayu] context {key} not set: {e}"));
                    }
                }
                Report::Barrier { name, .. }
                    if !matches!(part.pattern, Pattern::Swarm | Pattern::Peer) =>
                {
                    // Stages and a leader's parts never run side by side:
                    // a barrier there could only time out.
                    self.log(format!(
                        "[vayu] barrier {name} refused: only swarm and peer members meet"
                    ));
                    if let Ok(dir) = self.run_dir(run) {
                        let _ = std::fs::write(dir.join(format!("barrier-{name}")), "refused");
                    }
                }
                Report::Barrier { name, timeout_secs } => {
                    if let Err(e) = self.store.team_arrive(&part, &id, &agent, &name).await {
                        self.log(format!("[vayu] could not arrive at barrier {name}: {e}"));
                    }
                    match self.run_dir(run) {
                        Ok(dir) => {
                            self.wait_barrier(&part.parent, part.of, name, timeout_secs, dir)
                        }
                        Err(e) => {
                            self.log(format!("[vayu] no run directory for barrier {name}: {e}"))
                        }
                    }
                }
                Report::Subtask(text) => self.subtask(part.pattern, part.index, part.of, text),
                other => self.log(format!("[vayu] ignored report: {other:?}")),
            }
        }
    }

    /// Waits, in its own task, until every one of `of` parts has arrived
    /// at barrier `name` of team `parent`, or `timeout_secs` pass.
    fn wait_barrier(
        &mut self,
        parent: &str,
        of: i64,
        name: String,
        timeout_secs: u64,
        dir: PathBuf,
    ) {
        let (store, parent) = (self.store.clone(), parent.to_string());
        let parts = usize::try_from(of).unwrap_or(usize::MAX);
        self.team.waits.spawn(async move {
            let deadline = tokio::time::Instant::now() + Duration::from_secs(timeout_secs);
            let outcome = loop {
                if let Ok(doc) = store.team_doc(&parent).await
                    && doc.passed(&parent, &name, parts)
                {
                    let _ = write_context(&dir.join("context.json"), &doc);
                    break "passed";
                }
                let left = deadline.saturating_duration_since(tokio::time::Instant::now());
                if left.is_zero() {
                    break "timeout";
                }
                tokio::time::sleep(BARRIER_POLL.min(left)).await;
            };
            let _ = std::fs::write(dir.join(format!("barrier-{name}")), outcome);
        });
    }

    /// A leader's subtask for the next follower: an artifact of the
    /// leader's part, which only its holder may write.
    fn subtask(&mut self, pattern: Pattern, index: i64, of: i64, text: String) {
        let next = self.team.subtasks + 2;
        if pattern != Pattern::Leader || index != 1 || next as i64 > of {
            self.log(format!(
                "[vayu] subtask dropped: only a leader's part hands out one per follower: {text}"
            ));
            return;
        }
        self.team.subtasks += 1;
        let name = subtask_name(next);
        let ex = &mut self.current.value.execution;
        // An earlier attempt's plan for this follower gives way to this one's.
        ex.artifacts.retain(|a| a.name != name);
        if ex.artifacts.len() < limits::ARTIFACTS_MAX {
            ex.artifacts.push(Artifact {
                name,
                uri: clip(&text, limits::ARTIFACT_URI_MAX),
                at: Some(now()),
            });
        } else {
            self.log(format!(
                "[vayu] subtask dropped: the part has {} artifacts",
                limits::ARTIFACTS_MAX
            ));
        }
    }
}
