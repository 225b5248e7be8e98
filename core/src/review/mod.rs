//! Review (seed section 8): which reviews a task needs, what a verdict
//! says, and what happens after one. Pure: the agent, the CLI and the
//! rules act on these decisions; nothing here reads or writes.
//!
//! - [`policy`]: the kinds of review a task demands (`--review peer+user`),
//!   and a project's defaults per type and priority.
//! - [`verdict`]: the seed's four criteria, scores, the quality score, and
//!   where a task in review stands given the verdicts so far.
//! - [`rework`]: after a rejection, another round or the end.

pub mod policy;
pub mod rework;
pub mod verdict;

pub use policy::{ReviewDefaults, ReviewKind, ReviewPolicy};
pub use rework::{AfterRejection, Rework, after_rejection};
pub use verdict::{Criterion, Scores, Standing, Verdict, VerdictRecord, Weights, standing};
