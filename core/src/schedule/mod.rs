//! A schedule document, `schedules/{id}`, and what evaluating one means:
//! which ticks are due at `now`, and the commits that create them. Pure:
//! the clock and the time zone are parameters (the edge,
//! `src/schedules`, looks the zone up by name and reads the time).
//!
//! Why the document carries a cursor (`last_tick`): with no leader, every
//! agent evaluates every schedule, and what makes that safe is a fact
//! they all read and move by compare-and-set. A tick's task is created
//! in the one commit that moves the cursor past it, conditioned on the
//! schedule's update time; firestore.rules refuse an agent's tick create
//! in any other commit, and a cursor that moves back. So a tick is
//! created once, whoever evaluates it and however late.

mod plan;

use crate::cron::{CatchUp, Cron, CronError, is_schedule_id};
use crate::model::{
    InvalidTask, Metadata, Priority, Requester, RequesterType, Review, Task, TaskType,
};
use crate::time::Time;
use serde::{Deserialize, Serialize};

pub use plan::{Step, due, steps};

/// The longest time zone name the rules accept: IANA names are at most
/// 30 or so bytes (`America/Argentina/ComodRivadavia`).
pub const TZ_MAX: usize = 64;

/// A schedule as stored. Every field has a default, so that a document
/// missing one still reads (and is then refused by [`Schedule::check`]
/// or skipped by the agents), rather than failing the whole listing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default)]
pub struct Schedule {
    pub schedule_id: String,
    /// The expression as its author wrote it (trimmed). Text rather than a
    /// [`Cron`], so that a document written past the rules with a broken
    /// one is still listed, with the reason, instead of hiding the rest.
    pub cron: String,
    /// An IANA time zone name (`Europe/Berlin`, `UTC`).
    pub tz: String,
    pub catch_up: CatchUp,
    /// A paused schedule does not tick; resuming moves its cursor to the
    /// resume time, so the ticks it slept through are not caught up.
    pub paused: bool,
    /// What each tick's task is.
    pub template: Template,
    /// Who created it: each tick's task is theirs (its requester), so
    /// they control it as they would a task they created.
    pub created_by: String,
    pub created_at: Option<Time>,
    pub updated_at: Option<Time>,
    /// The cursor: the latest tick evaluated (created or passed over).
    /// A new schedule starts it at its creation time.
    pub last_tick: Option<Time>,
    /// The first tick after the cursor, for people and the console; the
    /// agents compute it again from the expression and never trust it.
    pub next_tick: Option<Time>,
}

/// A tick's task, as a new task would store these fields: the rules
/// compare each of them with the task an agent creates for a tick.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default)]
pub struct Template {
    #[serde(rename = "type")]
    pub task_type: TaskType,
    pub priority: Priority,
    pub title: String,
    pub input: String,
    pub requires: Vec<String>,
    pub review: Review,
    pub metadata: Metadata,
}

impl Template {
    /// The template of tasks like `t` (a new task, as `vayu task create`
    /// would make it).
    pub fn of(t: &Task) -> Template {
        Template {
            task_type: t.task_type,
            priority: t.priority,
            title: t.title.clone(),
            input: t.input.clone(),
            requires: t.requires.clone(),
            review: t.review.clone(),
            metadata: t.metadata.clone(),
        }
    }
}

/// Why a schedule is refused before anything is written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidSchedule {
    #[error("--cron '{text}': {error}{}", caret(text, error))]
    Cron { text: String, error: CronError },
    #[error("schedule id '{0}' is not 1-47 of A-Z a-z 0-9 _ - starting with a letter or digit")]
    Id(String),
    #[error("time zone name is empty or over {TZ_MAX} bytes")]
    TzName,
    /// Looking a zone up is the edge's (it reads the tz database).
    #[error("--tz '{0}': unknown time zone: expected an IANA name such as Europe/Berlin or UTC")]
    UnknownTz(String),
    #[error(transparent)]
    Task(#[from] InvalidTask),
}

/// A second line pointing at the error's byte in the expression.
fn caret(text: &str, error: &CronError) -> String {
    match position(error) {
        Some(pos) if pos <= text.len() && text.is_char_boundary(pos) => {
            let width = text[..pos].chars().count();
            format!("\n  {text}\n  {}^", " ".repeat(width))
        }
        _ => String::new(),
    }
}

/// The byte of the expression an error points at, if it points at one.
pub fn position(error: &CronError) -> Option<usize> {
    match error {
        CronError::Empty | CronError::TooLong { .. } => None,
        CronError::FieldCount { pos, .. }
        | CronError::UnknownMacro { pos, .. }
        | CronError::AfterMacro { pos, .. }
        | CronError::Field { pos, .. } => Some(*pos),
    }
}

impl Schedule {
    /// A new schedule of `template`'s tasks on `cron` in `tz`, created by
    /// `created_by`. The times are the server's (the edge writes them as
    /// request-time transforms), so they are left empty here. Checked as
    /// the rules check it, and the template as a new task.
    pub fn new(
        id: &str,
        cron: &str,
        tz: &str,
        catch_up: CatchUp,
        template: &Task,
        created_by: &str,
    ) -> Result<(Schedule, Cron), InvalidSchedule> {
        let parsed = Cron::parse(cron).map_err(|error| InvalidSchedule::Cron {
            text: cron.to_string(),
            error,
        })?;
        let s = Schedule {
            schedule_id: id.to_string(),
            cron: parsed.as_str().to_string(),
            tz: tz.to_string(),
            catch_up,
            paused: false,
            template: Template::of(template),
            created_by: created_by.to_string(),
            ..Schedule::default()
        };
        s.check()?;
        Ok((s, parsed))
    }

    /// The checks the rules make of a stored schedule, and more: the
    /// expression parses and the template makes a valid task.
    pub fn check(&self) -> Result<(), InvalidSchedule> {
        if !is_schedule_id(&self.schedule_id) {
            return Err(InvalidSchedule::Id(self.schedule_id.clone()));
        }
        self.parsed_cron()?;
        if self.tz.is_empty() || self.tz.len() > TZ_MAX {
            return Err(InvalidSchedule::TzName);
        }
        let sample = self.task_at(jiff::Timestamp::UNIX_EPOCH);
        sample.validate_new()?;
        if self.template.review.round != 0 || self.template.metadata.retry_count != 0 {
            return Err(InvalidTask("the template is not a new task".into()).into());
        }
        Ok(())
    }

    pub fn parsed_cron(&self) -> Result<Cron, InvalidSchedule> {
        Cron::parse(&self.cron).map_err(|error| InvalidSchedule::Cron {
            text: self.cron.clone(),
            error,
        })
    }

    /// The requester of every tick's task: the schedule's creator, with
    /// the schedule named (firestore.rules `isTickTask` wants exactly
    /// this).
    pub fn requester(&self) -> Requester {
        Requester {
            kind: RequesterType::Human,
            id: self.created_by.clone(),
            context: format!("schedule {}", self.schedule_id),
        }
    }

    /// The task of the tick at `tick`: the template under the tick's id
    /// ([`crate::cron::tick_task_id`]), queued, requested by the creator.
    pub fn task_at(&self, tick: jiff::Timestamp) -> Task {
        let tpl = &self.template;
        let task_id = crate::cron::tick_task_id(&self.schedule_id, tick);
        Task {
            lane: crate::spread::lane_for(&task_id),
            task_id,
            task_type: tpl.task_type,
            priority: tpl.priority,
            priority_rank: tpl.priority.rank(),
            title: tpl.title.clone(),
            input: tpl.input.clone(),
            requires: tpl.requires.clone(),
            review: tpl.review.clone(),
            metadata: tpl.metadata.clone(),
            requester: self.requester(),
            ..Task::default()
        }
    }
}

/// A default schedule id from a title: its words, lowercased, joined by
/// `-` and cut to 32 bytes, then `-` and `suffix` (a few random hex
/// digits the caller draws: the core reads no entropy). `s` when the
/// title has no letter or digit. Always passes [`is_schedule_id`] for a
/// suffix of at most 8 alphanumerics.
pub fn default_id(title: &str, suffix: &str) -> String {
    let words: Vec<String> = title
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_ascii_lowercase)
        .collect();
    let mut slug = String::new();
    for w in words {
        let sep = usize::from(!slug.is_empty());
        if slug.len() + sep + w.len() > 32 {
            if slug.is_empty() {
                // The words are ASCII (split on everything else), so any
                // byte is a character boundary.
                slug = w[..32].to_string();
            }
            break;
        }
        if sep == 1 {
            slug.push('-');
        }
        slug.push_str(&w);
    }
    if slug.is_empty() {
        slug.push('s');
    }
    format!("{slug}-{suffix}")
}

#[cfg(test)]
mod tests;
