//! vayu: a Firebase-native task and workflow system for fleets of AI agents.
//!
//! There is no central server: Firestore is the only shared state. Every
//! machine runs the same `vayu-agent` daemon, which claims tasks with a
//! compare-and-set commit and runs them through a handler; people drive it
//! with the `vayu` CLI, the Firebase console, or the dashboard; and
//! `firestore.rules` enforces the state machine and the leases.
//!
//! # Layout
//!
//! One line per module, in the order they are declared below (by name).
//!
//! The pure core lives in its own crate, `core/` (`vayu-core`), whose only
//! dependencies are serde, jiff, uuid and thiserror, so the compiler keeps
//! it free of I/O; its modules are re-exported here under the same names:
//! [`assign`], [`breaker`], [`condition`], [`console`], [`cron`],
//! [`graph`], [`lanes`], [`layout`], [`lifecycle`], [`model`], [`protocol`],
//! [`resource`], [`retention`], [`retry`], [`review`], [`scaling`], [`schedule`], [`schema`],
//! [`spread`], [`success`], [`team`], [`time`], [`workflow`]; and the core's
//! `notify` and `github` inside [`notify`] and [`github`], beside their
//! I/O.
//!
//! The edges, each talking to one thing:
//! - [`agent`]: the `vayu-agent` daemon: claim, run, report, finish.
//! - [`archive`]: retention: ended tasks moved to `archive/` by any agent
//!   past `config/retention`'s age, or by a person; and deleting them.
//! - [`auth`]: acting as a Firebase Auth user instead of an admin (it lives
//!   in `identity/`, beside where the tokens come from).
//! - [`backup`]: `vayu backup` and `vayu restore`: every document as of
//!   one read time to a JSON Lines file, and back, idempotently.
//! - [`bench`]: `vayu bench`, vayu against the textbook claim loop and the
//!   emulator's ceiling.
//! - [`cli`]: the `vayu` command line.
//! - [`dashboard`]: `vayu dashboard`, serving the static web dashboard
//!   (`dashboard/`) and its `/config.json`.
//! - [`demo`]: `vayu demo`, a client of the library.
//! - [`deps`]: dependencies: a new task's `--after` and `--if` and an
//!   edit's `--after` (refused when it closes a cycle), settling blocked
//!   tasks (record what ended, queue, cancel or skip) as conditional
//!   writes, the `waiters` documents that find dependents, and breaking
//!   the cycles that racing edits made.
//! - [`edit`]: changing a task nobody has claimed: its priority, tags and
//!   start time.
//! - [`emulator`]: the local Firestore emulator, from the `vayu-emulator`
//!   crate (`emulator/`) behind the default `emulator` feature.
//! - [`error`]: the library's errors and the exit codes they map to.
//! - [`github`]: GitHub: the REST and GraphQL client (rate limits
//!   waited out), issues synced to tasks and their one comment edited in
//!   place, Projects Status, `ci` tasks dispatching a workflow run and
//!   waiting for it, research reports posted to Discussions; the core's
//!   pure mapping re-exported beside them.
//! - [`handler`]: running one task's handler as a child process, in its
//!   sandbox (scrubbed environment, own directory, rlimits).
//! - [`history`]: what each agent learns of its runs, per task type
//!   (`agents/{id}/metrics/{type}`): its own update after each run's end,
//!   a passed review's score folded in by the reviewer, reading it back,
//!   and the estimate a new task gets from it.
//! - [`identity`]: where those users' ID tokens come from, and enrolment.
//! - [`keys`]: `task create --key`: a create a retry never repeats.
//! - [`listen`]: Firestore listeners, so agents learn of work without polling.
//! - [`listing`]: `vayu task list`: newest first, filtered, a page at a
//!   time, one equality on the server and the rest in memory.
//! - [`logs`]: a task's whole log (`task_logs/{id}/lines`), read in order.
//! - [`metrics`]: client-side counts of Firestore operations.
//! - [`migrate`]: `vayu task migrate`: a running task handed to another
//!   agent with its checkpoints.
//! - [`notify`]: alert webhooks: hooks (`vayu notify`), and every
//!   agent's delivery of the events the changes' commits wrote, at least
//!   once; the core's event ids and kinds re-exported beside them.
//! - [`quarantine`]: documents agents could not read, and restoring them.
//! - [`push`]: how a new task finds its agent beyond pull (`--assign`): a
//!   push to a named or a scored agent, hybrid, an auction's window; and
//!   the project's defaults (`config/assignment`).
//! - [`queries`]: every query the code issues, for the index check.
//! - [`render`]: the tables and views people see, shared by the CLI and the demo.
//! - [`resources`]: `resources/{name}` semaphores: taking permits in a
//!   claim, giving them back, and the sweep for the ones a kill left.
//! - [`reviews`]: a review verdict and the move it settles; a rating.
//! - [`scale`]: the auto-scaling hook: the queue observed, one agent per
//!   window chosen by a conditional commit, the operator's command run.
//! - [`schedules`]: cron schedules: people's commands, and every agent's
//!   ticking (a listener's view, an injectable clock, one conditional
//!   commit per tick).
//! - [`store`]: every Firestore read and write, as conditional commits; with
//!   [`quota`], the per-caller create quota paid in a new task's commit.
//! - [`sysinfo`]: the agent's CPU and memory, for its document.
//! - [`tasks`]: what people do to tasks (create, cancel, pause, resume, retry).
//! - [`teams`]: team tasks: a team's parts created before its parent,
//!   the parent's merge of their results, the team as it stands, and the
//!   parent's cancel, pause and resume reaching its parts.
//! - [`workflows`]: starting a workflow run (a step's task each, blocked on
//!   the steps it runs after), its status and cancel, and a step's input
//!   filled with earlier results when it runs.
//!
//! The binaries in `src/bin/` are thin: tracing, config, then `run`.

#![forbid(unsafe_code)]

pub use vayu_core::{
    assign, breaker, condition, console, cron, graph, lanes, layout, lifecycle, model, protocol,
    resource, retention, retry, review, ring, scaling, schedule, schema, spread, success, team,
    time, workflow,
};

pub mod agent;
pub mod archive;
pub use identity::auth;
pub mod backup;
pub mod bench;
pub mod cli;
pub mod dashboard;
pub mod demo;
pub mod deps;
pub mod edit;
pub mod emulator;
pub mod error;
pub mod github;
pub mod handler;
pub mod history;
pub mod identity;
pub mod keys;
pub mod listen;
pub mod listing;
pub mod logs;
pub mod metrics;
pub mod migrate;
pub mod notify;
pub mod push;
pub mod quarantine;
pub mod queries;
pub mod render;
pub mod resources;
pub mod reviews;
pub mod scale;
pub mod schedules;
pub mod store;
pub mod sysinfo;
pub mod tasks;
pub mod teams;
pub mod workflows;

pub use error::{Error, Result};
pub use store::quota;
