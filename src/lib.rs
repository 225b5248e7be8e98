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
//! The pure core, no I/O, unit-tested:
//! - [`lifecycle`]: the state machine, one table of allowed transitions.
//! - [`model`]: the task and agent documents as stored.
//! - [`layout`]: which collection holds what.
//! - [`lanes`]: how the queue is split between live agents.
//! - [`retry`]: backoff delays for failed attempts.
//! - [`protocol`]: the handler's stdout line protocol.
//! - [`schema`]: the bounds the rules put on a stored task, checked in Rust too.
//!
//! The edges:
//! - [`store`]: every Firestore read and write, as conditional commits.
//! - [`listen`]: Firestore listeners, so agents learn of work without polling.
//! - [`auth`]: acting as a Firebase Auth user instead of an admin.
//! - [`identity`]: where those users' ID tokens come from (emulator tokens,
//!   custom token → Identity Toolkit → refresh), and agent enrolment.
//! - [`queries`]: every query the code issues, for the index check.
//! - [`quarantine`]: documents agents could not read, and restoring them.
//! - [`quota`]: the per-caller create quota, paid in the commit of a new task.
//! - [`agent`]: the `vayu-agent` daemon: claim, run, report, finish.
//! - [`handler`]: running one task's handler as a child process.
//! - [`cli`]: the `vayu` command line.
//! - [`bench`]: `vayu bench`, vayu against the textbook claim loop and the
//!   emulator's ceiling.
//! - [`emulator`]: finding and starting the local Firestore emulator.
//! - [`metrics`]: client-side counts of Firestore operations.
//!
//! The binaries in `src/bin/` are thin: tracing, config, then `run`.

#![forbid(unsafe_code)]

pub use identity::auth;
pub mod bench;
pub mod error;
pub mod lanes;
pub mod layout;
pub mod lifecycle;
pub mod metrics;
pub mod model;
pub mod quota;
pub mod schema;
pub mod store;

pub use error::{Error, Result};
pub mod agent;
pub mod assign;
pub mod cli;
pub mod demo;
pub mod emulator;
pub mod handler;
pub mod identity;
pub mod listen;
pub mod protocol;
pub mod quarantine;
pub mod queries;
pub mod retry;
pub mod sysinfo;
pub mod tasks;
