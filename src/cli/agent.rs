//! `vayu agent …`: the agents and their health.

use super::*;
use crate::assign::history::Stats;

#[derive(Subcommand, Debug)]
pub enum AgentCmd {
    /// Every agent with its health.
    List {
        /// Only agents that are online with a free slot.
        #[arg(long)]
        available: bool,
    },
    /// One agent's current tasks and history: per task type, its runs,
    /// retries and failures, success rate, mean duration and quality
    /// (`agents/{id}/metrics`). An unknown agent is exit 3.
    Workload {
        #[arg(long)]
        id: String,
    },
    /// Ask an agent to drain (an admin's): it claims nothing more, lets
    /// its running tasks finish within its `--drain-grace-secs`, hands the
    /// rest back to the queue, marks itself offline and exits 0. `--wait`
    /// follows it until then (Ctrl-C stops the waiting, not the drain).
    Drain {
        #[arg(long)]
        id: String,
        #[arg(long)]
        wait: bool,
    },
    /// Print what a new agent needs to sign in as itself (an admin action:
    /// signs a custom token with a service account key; see
    /// docs/production.md). Writes nothing to Firestore.
    Enroll {
        #[arg(long)]
        id: String,
        /// Capabilities the agent will offer, comma-separated.
        #[arg(long, value_delimiter = ',')]
        capabilities: Vec<String>,
    },
}

pub(super) async fn run(
    store: &Store,
    cmd: AgentCmd,
    json: bool,
    requester: Option<String>,
) -> Result<String, Error> {
    Ok(match cmd {
        AgentCmd::Drain { id, wait } => {
            let by = requester.unwrap_or_else(tasks::whoami);
            drain(store, &id, &by, wait, json).await?
        }
        // `run` answers enroll before connecting: it needs no Firestore.
        AgentCmd::Enroll { .. } => unreachable!("enroll is handled in run"),
        AgentCmd::List { available } => {
            let mut agents = store.list_agents().await?;
            let t_now = now();
            for a in &mut agents {
                a.status = Some(effective_state(a, t_now));
            }
            if available {
                agents.retain(|a| {
                    a.status != Some(AgentState::Offline)
                        && (a.current_tasks.len() as i64) < a.concurrency
                });
            }
            agents.sort_by(|a, b| a.agent_id.cmp(&b.agent_id));
            if json {
                to_json(&agents)
            } else {
                render_agent_table(&agents, t_now)
            }
        }
        AgentCmd::Workload { id } => {
            let agent = store
                .get_agent(&id)
                .await?
                .ok_or_else(|| Error::NotFound(format!("no agent {id}")))?;
            let active: Vec<Versioned<Task>> = store
                .list_pile(Pile::Active, None, None)
                .await?
                .into_iter()
                .filter_map(Result::ok)
                .filter(|v| v.value.lease.owner.as_deref() == Some(&id))
                .collect();
            let history = crate::history::of_agent(store, &id).await?;
            if json {
                let history: Vec<serde_json::Value> = history.iter().map(history_json).collect();
                to_json(&serde_json::json!({
                    "agent": agent,
                    "tasks": active.iter().map(|v| &v.value).collect::<Vec<_>>(),
                    "history": history,
                }))
            } else {
                let t_now = now();
                let mut s = render_agent_table(std::slice::from_ref(&agent), t_now);
                let _ = writeln!(
                    s,
                    "\ncompleted {}  failed attempts {}  running {}",
                    agent.completed_count,
                    agent.failed_count,
                    active.len()
                );
                if !active.is_empty() {
                    s.push('\n');
                    s.push_str(&render_task_table(&active));
                }
                s.push('\n');
                s.push_str(&render_history(&history));
                s
            }
        }
    })
}

/// One type's statistics as `agent workload --json` prints them: the
/// stored document and its success rate.
fn history_json(s: &Stats) -> serde_json::Value {
    let mut v = serde_json::to_value(s).unwrap_or_default();
    v["success_rate"] = serde_json::json!(s.success_rate());
    v
}

/// The history table: one row per task type the agent has run.
fn render_history(history: &[Stats]) -> String {
    if history.is_empty() {
        return "history: none yet\n".into();
    }
    let num = |v: Option<f64>, digits: usize| v.map_or("-".into(), |x| format!("{x:.digits$}"));
    let rows: Vec<Vec<String>> = (history.iter())
        .map(|s| {
            vec![
                s.task_type.to_string(),
                s.completed.to_string(),
                s.retries.to_string(),
                s.failed.to_string(),
                format!("{:.0}%", s.success_rate() * 100.0),
                num(s.duration_ewma, 2),
                num(s.quality_ewma, 1),
            ]
        })
        .collect();
    crate::render::table(
        &[
            "TYPE", "OK", "RETRIED", "FAILED", "SUCCESS", "MINUTES", "QUALITY",
        ],
        &rows,
    )
}

/// `vayu agent drain`: the request, and with `wait`, the agent followed
/// until it is offline, its running tasks counted down on a terminal.
async fn drain(store: &Store, id: &str, by: &str, wait: bool, json: bool) -> Result<String, Error> {
    use std::io::IsTerminal as _;
    let agent =
        (store.get_agent(id).await?).ok_or_else(|| Error::NotFound(format!("no agent {id}")))?;
    if effective_state(&agent, now()) == AgentState::Offline {
        return Err(Error::Conflict(format!(
            "agent {id} is offline: nothing to drain"
        )));
    }
    store.request_drain(id, by).await?;
    let mut running = agent.current_tasks.len();
    if wait {
        let show = !json && std::io::stderr().is_terminal();
        loop {
            let now_doc = store.get_agent(id).await?;
            // Gone, offline, or started again (a new incarnation): done.
            let done = now_doc.as_ref().is_none_or(|a| {
                a.status == Some(AgentState::Offline) || a.incarnation != agent.incarnation
            });
            // The same process wrote its document without the request: it
            // predates drain, and will not stop on its own.
            if let Some(a) = now_doc.as_ref().filter(|a| !done && a.drain.is_none()) {
                return Err(Error::Conflict(format!(
                    "agent {id} (version {}) dropped the drain request: it is older than \
                     `vayu agent drain`; stop it with SIGTERM, which drains it the same way \
                     within its --grace-secs",
                    a.version
                )));
            }
            running = now_doc.map_or(0, |a| a.current_tasks.len());
            if done {
                break;
            }
            if show {
                eprint!("\rdraining {id}: {running} task(s) running…   ");
            }
            tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        }
        if show {
            eprintln!();
        }
    }
    let state = if wait { "drained" } else { "draining" };
    Ok(if json {
        to_json(&serde_json::json!({"agent_id": id, "state": state, "running": running}))
    } else if wait {
        format!("{id}: drained; it is offline\n")
    } else {
        format!(
            "{id}: asked to drain ({running} task(s) running); `vayu agent drain --id {id} --wait` follows it\n"
        )
    })
}
