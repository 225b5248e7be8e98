//! Bounds that keep one task document far below Firestore's 1 MiB and that
//! `firestore.rules` enforces as well.

pub const TITLE_MAX: usize = 500;
pub const INPUT_MAX: usize = 64 * 1024;
pub const CONTEXT_MAX: usize = 2_000;
pub const TAGS_MAX: usize = 20;
pub const TAG_MAX: usize = 64;
pub const REQUIRES_MAX: usize = 20;
/// Skills an agent keeps from its runs (`vayu:skill`); firestore.rules
/// `isAgentDoc` holds the same bound. Past it, a new skill is dropped
/// with a warning: an agent's document is rewritten every heartbeat.
pub const SKILLS_MAX: usize = 20;
/// Capabilities an agent may be configured with: its document lists at
/// most 50 (firestore.rules `isAgentDoc`), which also hold its learned
/// skills, its three review capabilities and its `agent:ID`.
pub const AGENT_CAPABILITIES_MAX: usize = 50 - SKILLS_MAX - 3 - 1;
pub const DEPENDENCIES_MAX: usize = 50;
/// The most tasks on a dependency cycle that the breaker may name (the
/// rules read one document per hop, and a write may read 10).
pub const CYCLE_MAX: usize = 8;
pub const LOG_TAIL: usize = 20;
pub const LOG_LINE_MAX: usize = 1_000;
pub const CHECKPOINTS_KEPT: usize = 10;
pub const CHECKPOINT_MAX: usize = 16 * 1024;
pub const ARTIFACTS_MAX: usize = 100;
pub const ARTIFACT_NAME_MAX: usize = 200;
pub const ARTIFACT_URI_MAX: usize = 2_000;
pub const HISTORY_KEPT: usize = 50;
/// A history entry's note, in bytes (then an ellipsis).
pub const NOTE_MAX: usize = 500;
pub const ERROR_MAX: usize = 4_000;
pub const MAX_RETRIES_MAX: u32 = 20;
/// `metadata.timeout_secs`: one attempt runs a week at most.
pub const TIMEOUT_SECS_MAX: i64 = 604_800;
/// `metadata.estimated_duration`, in minutes: a week.
pub const ESTIMATE_MINUTES_MAX: f64 = 10_080.0;
/// `metadata.actual_duration`, in minutes: a year.
pub const ACTUAL_MINUTES_MAX: f64 = 525_600.0;
/// `review.quality_score`: the seed's 0–5 scale.
pub const QUALITY_MAX: f64 = 5.0;
/// `review.round`: rework rounds a task may go through, at most.
pub const REVIEW_ROUNDS_MAX: i64 = 10;
/// `assignment.executors`: agents that ever claimed a task.
pub const EXECUTORS_MAX: usize = 64;

/// Bids on one auction (firestore.rules `isBid`; `wins` compares the
/// winner with each of them, unrolled, so the bound is the rules' too).
pub const BIDS_MAX: usize = 8;
/// A bid's score lies in ±this (`isBid`).
pub const BID_SCORE_MAX: f64 = 100.0;
/// A bid's estimate is at most a year, in milliseconds (`isBid`).
pub const BID_ESTIMATE_MS_MAX: i64 = 365 * 24 * 3_600_000;
