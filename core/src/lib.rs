//! vayu's pure core: what a task is and how it may change, with no I/O.
//!
//! This crate depends on serde, jiff and uuid only, so the compiler, not a
//! comment, keeps it free of I/O: a `use tokio::…` or `use firestore::…`
//! here does not build. The main crate (`vayu`) re-exports every module
//! under the same name (`vayu::model`, `vayu::lifecycle`, …).
//!
//! # Layout
//!
//! In the order the modules are declared below (by name).
//!
//! - [`assign`]: the seed's five assignment phases (capability,
//!   availability, load, specialisation, decision), ageing, the per-agent
//!   history they learn from, which task an agent picks, and the push and
//!   auction strategies.
//! - [`breaker`]: a circuit breaker per task type, so an always-failing
//!   handler stops claiming instead of draining the queue.
//! - [`condition`]: the `--if` expression language over dependencies' results.
//! - [`console`]: turning a draft typed into the console into a task.
//! - [`cron`]: cron expressions, their ticks in a time zone, catch-up
//!   after an outage and the task id of a tick.
//! - [`github`]: GitHub issues as tasks: the label mapping, the one
//!   comment's body, the Projects Status of a state, a run's conclusion.
//! - [`graph`]: dependencies: cycles, order, unblocking, and their rendering.
//! - [`lanes`]: how the queue is split between live agents.
//! - [`ring`]: which peers' presence each agent watches.
//! - [`layout`]: which collection holds what.
//! - [`lifecycle`]: the state machine, one table of allowed transitions.
//! - [`model`]: the task and agent documents as stored.
//! - [`notify`]: alert events (their deterministic ids) and webhooks.
//! - [`protocol`]: the handler's stdout line protocol.
//! - [`resource`]: named semaphores a task takes permits of while it runs.
//! - [`retention`]: how long ended tasks stay before the archive.
//! - [`retry`]: backoff delays for failed attempts.
//! - [`review`]: review policies, verdicts, the quality score, rework.
//! - [`scaling`]: when the auto-scaling hook asks for more agents or fewer.
//! - [`schedule`]: a schedule document, its due ticks and their commits.
//! - [`schema`]: the bounds the rules put on a stored task, and its parts.
//! - [`spread`]: the rendezvous hash and a new task's lane (a leaf: breaks
//!   the circle model → lanes → assign → model).
//! - [`success`]: the seed's success metrics over a window of ended
//!   tasks (`vayu stats`).
//! - [`time`]: the one time type, stored as a Firestore timestamp.
//! - [`workflow`]: workflow specs, their validation and step order, input
//!   templates, and the seed's five flows as built-in templates.

#![forbid(unsafe_code)]

pub mod assign;
pub mod breaker;
pub mod condition;
pub mod console;
pub mod cron;
pub mod github;
pub mod graph;
pub mod lanes;
pub mod layout;
pub mod lifecycle;
pub mod model;
pub mod notify;
pub mod protocol;
pub mod resource;
pub mod retention;
pub mod retry;
pub mod review;
pub mod ring;
pub mod scaling;
pub mod schedule;
pub mod schema;
pub mod spread;
pub mod success;
pub mod team;
pub mod time;
pub mod workflow;
