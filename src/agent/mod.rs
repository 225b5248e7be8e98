//! The `vayu-agent` daemon.
//!
//! [`run`] is the whole loop, and it reads in one screen: the agent
//! decides what to do with what it knows ([`decide`]), waits for the next
//! [`Event`] ([`events`]), and reacts to it with one method per kind of
//! event. Data flows one way: listeners produce events, the agent decides,
//! and the store writes (in spawned tasks, so a slow Firestore never
//! stalls the loop).
//!
//! The files follow the life of an agent:
//! - [`start`]: register in `agents/{id}`, learn the peers, listen to the
//!   agent's lanes of the queued pile, requeue what a previous run left;
//! - [`queue`]: the queue listener's window and what it has shown;
//! - [`pages`]: paging through a backlog instead of listening to it;
//! - [`parking`]: tasks whose claim did not land, tried again later;
//! - [`auction`]: bid on auctions it could run, close ended ones;
//! - [`formation`]: degrade or cancel a team's part that nobody claimed
//!   by the team's formation deadline;
//! - [`claim`]: pick a task ([`crate::assign::pick`]) while a slot is free
//!   and claim it with one conditional commit that moves it to the active
//!   pile; the claim's answer;
//! - [`runner`] and [`guard`]: run it, renewing the lease, reporting
//!   progress and finishing the task;
//! - [`heartbeat`] and [`health`]: the agent's beat every tick, and its
//!   registration when it changes;
//! - [`peers`], [`presence`] and [`recovery`]: the other agents, the
//!   beats of the two it watches, and taking over the work of dead ones;
//! - [`intake`]: documents typed into the console;
//! - [`stale`]: the lane-0 sweeper claims tasks left waiting in any lane;
//! - [`reviewer`]: the agent's reviews (self-checks, peer reviews, test
//!   runs) of tasks in review, one at a time beside its runs;
//! - [`scaler`]: the auto-scaling hook: one agent per window runs the
//!   operator's command when the queue is deep or old, or the fleet idle;
//! - webhooks: `crate::notify::deliver`, in a task of its own beside the
//!   loop, started here and stopped at shutdown;
//! - [`shutdown`]: stop claiming, give running handlers a grace period,
//!   then release what is left back to the queue.

mod auction;
mod claim;
mod config;
mod decide;
mod events;
mod exporter;
mod formation;
mod guard;
mod health;
mod heartbeat;
mod intake;
mod pages;
mod parking;
mod peers;
mod presence;
mod queue;
mod recovery;
mod reviewer;
mod runner;
mod scaler;
mod shutdown;
mod skills;
mod stale;
mod start;
mod state;

pub use claim::claim;
pub use config::{AgentConfig, AgentReport, Handlers};
pub use queue::{QueueView, queue_window, queue_window_for};
pub use recovery::{confirm_offline, requeue};
pub use reviewer::ReviewCommands;
pub use runner::Outcome;
pub use scaler::ScaleHook;
pub use skills::{Learned, Skills};

use crate::assign::{self, Offer};
use crate::error::{Error, Result};
use crate::lanes;
use crate::layout::{self, Pile};
use crate::lifecycle::Status;
use crate::listen::{ListenEvent, Listener, QuerySpec};
use crate::model::{AgentDoc, AgentState, AssignmentMethod, Lease, Task, TaskType, now, time_add};
use crate::retry::Backoff;
use crate::store::{self, Store, Versioned};
use crate::sysinfo;
use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::ops::ControlFlow;
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinSet;
use tokio::time::Instant;

use claim::Breaker;
use events::Event;
use health::{Health, Sight};
use peers::Peer;
use queue::Queue;
use state::Agent;

/// Runs an agent until `shutdown` completes, then shuts down gracefully.
pub async fn run(
    store: Store,
    cfg: AgentConfig,
    shutdown: impl Future<Output = ()>,
) -> Result<AgentReport> {
    use tracing::Instrument;
    cfg.validate()?;
    // Every line the loop logs names its agent: several agents in one
    // process (tests, `vayu demo`) or one fleet's merged logs stay legible.
    let span = tracing::info_span!("agent", id = %cfg.agent_id);
    async move {
        let mut agent = Agent::start(store, cfg).await?;
        tokio::pin!(shutdown);
        loop {
            agent.decide().await;
            let wake = agent.next_wake();
            let event = agent.next_event(shutdown.as_mut(), wake).await;
            if agent.on(event).is_break() {
                break;
            }
        }
        Ok(agent.shut_down().await)
    }
    .instrument(span)
    .await
}

impl Agent {
    /// One method per kind of event; `Break` ends the loop.
    fn on(&mut self, event: Event) -> ControlFlow<()> {
        match event {
            Event::Shutdown => return ControlFlow::Break(()),
            Event::ClaimAnswered(joined) => self.on_claim_answer(*joined),
            Event::RunFinished(joined) => self.on_run_finished(joined),
            Event::Queue { events, closed } => return self.on_queue(events, closed),
            Event::Peer(event) => return self.on_peer(event),
            Event::Presence(event) => return self.on_presence(event),
            Event::TakenOver(joined) => self.on_taken_over(joined),
            Event::Swept(joined) => self.on_swept(joined),
            Event::BackgroundDone => {}
            Event::Tick => self.on_tick(),
            Event::Wake => self.claims.reopen_if_due(),
        }
        ControlFlow::Continue(())
    }
}
