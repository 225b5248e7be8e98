//! `vayu agent …`: the agents and their health.

use super::*;

#[derive(Subcommand, Debug)]
pub enum AgentCmd {
    /// Every agent with its health.
    List {
        /// Only agents that are online with a free slot.
        #[arg(long)]
        available: bool,
    },
    /// One agent's current tasks and history.
    Workload {
        #[arg(long)]
        id: String,
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

pub(super) async fn run(store: &Store, cmd: AgentCmd, json: bool) -> Result<String, Error> {
    Ok(match cmd {
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
            if json {
                to_json(&serde_json::json!({
                    "agent": agent,
                    "tasks": active.iter().map(|v| &v.value).collect::<Vec<_>>(),
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
                s
            }
        }
    })
}
