//! Alert webhooks (issue 16, "Observability"): `vayu notify add --url …
//! --on failed,dead,quarantined,agent_offline`, and their delivery.
//!
//! The pure part (event kinds, deterministic ids, the payload, checks of
//! a URL) is the core's `notify`, re-exported here. Events are written by
//! the commits that make the changes they report (`Store::commit_noting`,
//! `Store::replace_task_noting`): a dead letter, a retried failure, a
//! quarantine move, a peer marked offline. Nothing else writes them, and
//! the rules ask each for evidence of its change in the same commit.
//!
//! With no leader, whichever agent owns lane 0 delivers ([`deliver`]): on
//! a jittered period it reads each hook, the events after its cursor,
//! POSTs the ones the hook wants, and moves the cursor past what was
//! delivered with a conditional commit. A crash before that commit, or two
//! agents that both believe they own lane 0 for a moment, deliver an event
//! again: at least once, with the same id.
//!
//! - [`hooks`]: the hooks' documents: add, list, remove, and the cursor's
//!   two writes (forward after a delivery, a failure noted).
//! - [`deliver`]: one agent's delivery loop, beside its main loop.

pub use vayu_core::notify::*;

pub mod deliver;
pub mod hooks;
