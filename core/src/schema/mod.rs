//! What a stored task may hold, as `firestore.rules` says it (pure).
//!
//! The rules and the decoder must accept the same documents: a document
//! the rules accept but the agent cannot decode is stuck (the agent tries
//! to quarantine it and the rules refuse), and one the agent decodes but
//! the rules refuse crashes nothing but can never move. So every bound the
//! rules put on list elements and numbers is checked here too, with the
//! same patterns (docs/security.md, "One schema"), when a task is decoded
//! and before one is created.

use crate::model::{InvalidTask, Task, limits};

pub use ids::{is_agent_id, is_capability, is_tag, is_task_id};

mod ids;
mod new;

/// Checks every element of `list` with `ok`, and its length.
fn each(list: &[String], max: usize, ok: fn(&str) -> bool, what: &str) -> Result<(), String> {
    if list.len() > max {
        return Err(format!("at most {max} {what}"));
    }
    match list.iter().find(|s| !ok(s)) {
        Some(bad) => Err(format!(
            "{what}: '{bad}' is not allowed (see docs/security.md)"
        )),
        None => Ok(()),
    }
}

/// Whether `x` is a finite number in `lo..=hi` (NaN is not).
fn within(x: f64, lo: f64, hi: f64) -> bool {
    x >= lo && x <= hi
}

/// The parts of a stored task, as the rules judge them: `isTaskCore` and
/// the parts of its state. A quarantine names the part it found
/// broken, and the rules check that part only (`isDefect`): judging a
/// whole task does not fit in one request's expression budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    /// No `task_id`: a draft typed in the console that could not be fixed.
    Draft,
    /// A required key missing, or a key no task has.
    Keys,
    Core,
    Status,
    History,
    Lease,
    Assignment,
    Review,
    Metadata,
    Execution,
}

impl Part {
    pub const ALL: [Part; 10] = [
        Part::Draft,
        Part::Keys,
        Part::Core,
        Part::Status,
        Part::History,
        Part::Lease,
        Part::Assignment,
        Part::Review,
        Part::Metadata,
        Part::Execution,
    ];

    /// As the quarantine record's `defect` says it.
    pub fn as_str(self) -> &'static str {
        match self {
            Part::Draft => "draft",
            Part::Keys => "keys",
            Part::Core => "core",
            Part::Status => "status",
            Part::History => "history",
            Part::Lease => "lease",
            Part::Assignment => "assignment",
            Part::Review => "review",
            Part::Metadata => "metadata",
            Part::Execution => "execution",
        }
    }

    /// The top-level fields of the part (none for draft and keys).
    pub fn fields(self) -> &'static [&'static str] {
        match self {
            Part::Draft | Part::Keys => &[],
            Part::Core => &[
                "task_id",
                "type",
                "created_at",
                "priority",
                "priority_rank",
                "lane",
                "title",
                "input",
                "requires",
                "requester",
                "dependencies",
                "resource",
            ],
            Part::Status => &["updated_at", "status", "not_before", "control"],
            Part::History => &["history"],
            Part::Lease => &["lease"],
            Part::Assignment => &["assignment"],
            Part::Review => &["review"],
            Part::Metadata => &["metadata"],
            Part::Execution => &["execution"],
        }
    }
}

/// Every key a stored task must have (`isDefect`'s `keys` part), and the
/// three it may have besides.
pub const REQUIRED_KEYS: [&str; 19] = [
    "task_id",
    "type",
    "status",
    "created_at",
    "updated_at",
    "priority",
    "priority_rank",
    "lane",
    "title",
    "input",
    "requires",
    "requester",
    "assignment",
    "dependencies",
    "execution",
    "review",
    "metadata",
    "lease",
    "history",
];
pub const OPTIONAL_KEYS: [&str; 5] = ["not_before", "control", "resource", "team", "part_of"];

/// The bounds the rules put on a stored task beyond the types serde
/// checks, part by part.
pub fn check_stored(t: &Task) -> Result<(), String> {
    for part in Part::ALL {
        check_part(t, part)?;
    }
    Ok(())
}

/// The bounds of one part (see [`check_stored`]).
pub fn check_part(t: &Task, part: Part) -> Result<(), String> {
    match part {
        Part::Draft | Part::Keys | Part::Status | Part::Lease => Ok(()),
        Part::Core => check_core(t),
        Part::History => check_history(t),
        Part::Assignment => check_assignment(t),
        Part::Review => check_review(t),
        Part::Metadata => check_metadata(t),
        Part::Execution => check_execution(t),
    }
}

fn check_core(t: &Task) -> Result<(), String> {
    if let Some(r) = &t.resource
        && (!crate::resource::is_name(&r.name)
            || !(1..=crate::resource::PERMITS_MAX).contains(&r.permits))
    {
        return Err(format!(
            "resource {r}: a name of lowercase letters, digits, _ and -, and 1 to {} permits",
            crate::resource::PERMITS_MAX
        ));
    }
    each(
        &t.requires,
        limits::REQUIRES_MAX,
        is_capability,
        "required capabilities",
    )?;
    each(
        &t.dependencies.blocked_by,
        limits::DEPENDENCIES_MAX,
        is_task_id,
        "dependencies",
    )?;
    each(
        &t.dependencies.blocking,
        limits::DEPENDENCIES_MAX,
        is_task_id,
        "dependents",
    )?;
    check_dependencies(&t.dependencies)?;
    if !(0..crate::spread::LANES).contains(&t.lane) {
        return Err(format!("lane must be 0..{}", crate::spread::LANES));
    }
    if t.priority_rank != t.priority.rank() {
        return Err("priority_rank does not match priority".into());
    }
    Ok(())
}

/// What the rules' `isUnblock` and `isDepCancel` keep true: the recorded
/// and the failed dependencies are the task's own.
fn check_dependencies(d: &crate::model::Dependencies) -> Result<(), String> {
    let mine = |id: &String| d.blocked_by.contains(id);
    if !d.done.iter().all(mine) || d.done.len() > d.blocked_by.len() {
        return Err("dependencies.done lists a task that is not a dependency".into());
    }
    if !d.failed.as_ref().is_none_or(mine) {
        return Err("dependencies.failed is not a dependency".into());
    }
    // The cycle a breaker named (isCycleBreak): from the task back to it.
    let hops = d.cycle.len();
    if hops != 0
        && (!(2..=limits::CYCLE_MAX + 1).contains(&hops)
            || !d.cycle.iter().all(|id| is_task_id(id)))
    {
        return Err(format!(
            "dependencies.cycle must list 2 to {} task ids",
            limits::CYCLE_MAX + 1
        ));
    }
    match d.on_failure.as_deref() {
        None | Some("cancel" | "run") => Ok(()),
        Some(other) => Err(format!(
            "dependencies.on_failure '{other}' is not cancel or run"
        )),
    }
}

fn check_assignment(t: &Task) -> Result<(), String> {
    each(
        &t.assignment.collaborators,
        20,
        is_agent_id,
        "collaborators",
    )?;
    each(
        &t.assignment.executors,
        limits::EXECUTORS_MAX,
        is_agent_id,
        "executors",
    )
}

fn check_review(t: &Task) -> Result<(), String> {
    let r = &t.review;
    if r.quality_score
        .is_some_and(|x| !within(x, 0.0, limits::QUALITY_MAX))
    {
        return Err(format!("quality_score must be 0..={}", limits::QUALITY_MAX));
    }
    // Stored canonical, as the rules' pattern has it: `user+peer` would
    // parse, but the rules refuse it, so the decoder must too.
    if let Some(p) = &r.policy
        && p.parse::<crate::review::ReviewPolicy>()
            .map(|q| q.to_string())
            .as_ref()
            != Ok(p)
    {
        return Err(format!("review policy '{p}' is not one the rules accept"));
    }
    if (r.max_rounds).is_some_and(|n| !(0..=limits::REVIEW_ROUNDS_MAX).contains(&n)) {
        return Err(format!(
            "review max_rounds must be 0..={}",
            limits::REVIEW_ROUNDS_MAX
        ));
    }
    if !(0..=limits::REVIEW_ROUNDS_MAX).contains(&r.round) {
        return Err(format!(
            "review round must be 0..={}",
            limits::REVIEW_ROUNDS_MAX
        ));
    }
    let long = |s: &Option<String>, max: usize| s.as_ref().is_some_and(|s| units(s) > max);
    if let Some(k) = &r.claim
        && !matches!(k.as_str(), "self" | "peer" | "tests")
    {
        return Err(format!("review claim '{k}' is not self, peer or tests"));
    }
    if r.approved.len() > 4 {
        return Err("review approved lists at most the four kinds".into());
    }
    if long(&r.reviewer, 128) || long(&r.avoid, 128) || long(&r.feedback, limits::ERROR_MAX) {
        return Err("a review field is too long".into());
    }
    Ok(())
}

fn check_metadata(t: &Task) -> Result<(), String> {
    let m = &t.metadata;
    each(&m.tags, limits::TAGS_MAX, is_tag, "tags")?;
    if m.timeout_secs
        .is_some_and(|s| !(1..=limits::TIMEOUT_SECS_MAX).contains(&s))
    {
        return Err(format!(
            "timeout_secs must be 1..={}",
            limits::TIMEOUT_SECS_MAX
        ));
    }
    if m.estimated_duration
        .is_some_and(|x| !(x > 0.0 && x <= limits::ESTIMATE_MINUTES_MAX))
    {
        return Err(format!(
            "estimated_duration must be over 0 and at most {} minutes",
            limits::ESTIMATE_MINUTES_MAX
        ));
    }
    if m.actual_duration
        .is_some_and(|x| !within(x, 0.0, limits::ACTUAL_MINUTES_MAX))
    {
        return Err(format!(
            "actual_duration must be 0..={} minutes",
            limits::ACTUAL_MINUTES_MAX
        ));
    }
    if !(0..=100).contains(&m.retry_count) {
        return Err("retry_count must be 0..=100".into());
    }
    if !(0..=limits::MAX_RETRIES_MAX as i64).contains(&m.max_retries) {
        return Err(format!(
            "max_retries must be 0..={}",
            limits::MAX_RETRIES_MAX
        ));
    }
    Ok(())
}

/// A string's length as the rules count it (`string.size()`: UTF-16 code
/// units, which is neither bytes nor chars).
fn units(s: &str) -> usize {
    s.encode_utf16().count()
}

/// The first and the last of `list` pass `ok` (what the rules can check
/// without a loop: `isHistoryStored`, `isTails`). Deliberately no more:
/// checking the middle here too would reject a document the rules call a
/// task, and then the agent could neither run nor quarantine it.
fn ends<T>(list: &[T], ok: impl Fn(&T) -> bool) -> bool {
    list.first().is_none_or(&ok) && list.last().is_none_or(&ok)
}

/// History, as `isHistoryStored` bounds it.
fn check_history(t: &Task) -> Result<(), String> {
    let h = &t.history;
    let entry_ok = |x: &crate::model::HistoryEntry| {
        x.agent.as_deref().is_none_or(|a| units(a) <= 128)
            && x.note
                .as_deref()
                .is_none_or(|n| units(n) <= limits::NOTE_MAX + 1)
    };
    if h.len() > limits::HISTORY_KEPT || !ends(h, entry_ok) {
        return Err(format!(
            "history: at most {} entries, notes of at most {} bytes",
            limits::HISTORY_KEPT,
            limits::NOTE_MAX
        ));
    }
    Ok(())
}

/// Progress, logs, checkpoints and artifacts, as `isExecution` and
/// `isTails` bound them.
fn check_execution(t: &Task) -> Result<(), String> {
    let e = &t.execution;
    if !(0..=100).contains(&e.progress) {
        return Err(format!("progress {} is outside 0..=100", e.progress));
    }
    let joined: usize = e.logs.iter().map(|l| units(l) + 1).sum();
    if e.logs.len() > limits::LOG_TAIL
        || e.logs.iter().any(|l| l.contains('\n'))
        || joined > limits::LOG_TAIL * (limits::LOG_LINE_MAX + 2)
    {
        return Err(format!(
            "logs: at most {} lines of {} bytes, without newlines",
            limits::LOG_TAIL,
            limits::LOG_LINE_MAX
        ));
    }
    let checkpoint_ok = |c: &crate::model::Checkpoint| units(&c.data) <= limits::CHECKPOINT_MAX + 1;
    if e.checkpoints.len() > limits::CHECKPOINTS_KEPT || !ends(&e.checkpoints, checkpoint_ok) {
        return Err(format!(
            "checkpoints: at most {} of {} bytes",
            limits::CHECKPOINTS_KEPT,
            limits::CHECKPOINT_MAX
        ));
    }
    let artifact_ok = |a: &crate::model::Artifact| {
        units(&a.name) <= limits::ARTIFACT_NAME_MAX + 1
            && units(&a.uri) <= limits::ARTIFACT_URI_MAX + 1
    };
    if e.artifacts.len() > limits::ARTIFACTS_MAX || !ends(&e.artifacts, artifact_ok) {
        return Err(format!(
            "artifacts: at most {}, names of {} and uris of {} bytes",
            limits::ARTIFACTS_MAX,
            limits::ARTIFACT_NAME_MAX,
            limits::ARTIFACT_URI_MAX
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests;
