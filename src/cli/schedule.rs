//! `vayu schedule …`: cron schedules that every agent ticks, with no
//! leader (`crate::schedules`).

use super::*;
use crate::cron::CatchUp;
use crate::schedule::Schedule;
use crate::schedules::{self, NewSchedule};

#[derive(Subcommand, Debug)]
pub enum ScheduleCmd {
    /// Create a schedule: every tick of --cron in --tz creates one task;
    /// prints its id.
    Create(ScheduleArgs),
    /// Every schedule, with its next tick.
    List,
    /// Stop a schedule ticking.
    Pause { id: String },
    /// Let a paused schedule tick again, from now (the ticks it slept
    /// through are not created).
    Resume { id: String },
    /// Delete a schedule (the tasks it created stay).
    Delete { id: String },
}

#[derive(Args, Debug)]
pub struct ScheduleArgs {
    /// The title of each tick's task.
    pub title: String,
    /// A 5-field cron expression (minute hour day-of-month month
    /// day-of-week), or @hourly, @daily, @weekly, @monthly, @yearly.
    #[arg(long)]
    pub cron: String,
    /// The IANA time zone the expression's times are in.
    #[arg(long, default_value = "UTC")]
    pub tz: String,
    /// Ticks missed while every agent was down: skip them, create the
    /// latest one, or create all of them (at most 100 per evaluation).
    #[arg(long = "catch-up", value_parser = parse_enum::<CatchUp>, default_value_t = CatchUp::One)]
    pub catch_up: CatchUp,
    /// The schedule's id (1-47 of A-Z a-z 0-9 _ -); default: from the
    /// title. Each tick's task id is the schedule id and the tick's time.
    #[arg(long)]
    pub id: Option<String>,
    #[arg(long = "type", value_parser = parse_enum::<TaskType>, default_value_t = TaskType::Scheduled)]
    pub task_type: TaskType,
    #[arg(long, value_parser = parse_enum::<Priority>, default_value_t = Priority::Normal)]
    pub priority: Priority,
    /// Capabilities an agent needs to claim each tick's task.
    #[arg(long, value_delimiter = ',')]
    pub requires: Vec<String>,
    #[arg(long = "tag", value_delimiter = ',')]
    pub tags: Vec<String>,
    /// Input for the handler (text or JSON).
    #[arg(long, default_value = "")]
    pub input: String,
    #[arg(long)]
    pub max_retries: Option<i64>,
    /// Seconds one attempt may run.
    #[arg(long)]
    pub timeout: Option<i64>,
    /// Reviews each task needs (as `vayu task create --review`).
    #[arg(long, value_parser = parse_enum::<crate::review::ReviewPolicy>)]
    pub review: Option<crate::review::ReviewPolicy>,
}

pub(super) async fn run(
    store: &Store,
    cmd: ScheduleCmd,
    json: bool,
    requester: Option<String>,
) -> Result<String, Error> {
    Ok(match cmd {
        ScheduleCmd::Create(a) => {
            schedules::check(&a.cron, &a.tz)?;
            let mut task = NewTask::new(a.task_type, a.priority, a.title);
            // As a signed-in user, the rules insist created_by is its uid.
            if let Some(uid) = requester {
                task.requester.id = uid;
            }
            task.requires = a.requires;
            task.tags = a.tags;
            task.input = a.input;
            task.max_retries = a.max_retries;
            task.timeout_secs = a.timeout;
            task.review = Some(match a.review {
                Some(p) => p,
                None => (store.review_defaults().await?).policy_for(None, a.task_type, a.priority),
            });
            let new = NewSchedule {
                id: a.id,
                cron: a.cron,
                tz: a.tz,
                catch_up: a.catch_up,
                task,
            };
            let s = schedules::create(store, new).await?;
            if json {
                to_json(&view(&s))
            } else {
                format!("{}\n", s.schedule_id)
            }
        }
        ScheduleCmd::List => {
            let all = schedules::list(store).await?;
            if json {
                let rows: Vec<serde_json::Value> = (all.iter())
                    .map(|r| match r {
                        Ok(seen) => view(&seen.schedule),
                        Err(e) => serde_json::json!({"error": e.to_string()}),
                    })
                    .collect();
                to_json(&rows)
            } else {
                list_table(&all)
            }
        }
        ScheduleCmd::Pause { id } => {
            let s = schedules::pause(store, &id).await?;
            done(json, &s, &format!("paused {id}"))
        }
        ScheduleCmd::Resume { id } => {
            let s = schedules::resume(store, &id).await?;
            let next = local(&s, next(&s));
            done(json, &s, &format!("resumed {id}; next tick {next}"))
        }
        ScheduleCmd::Delete { id } => {
            let s = schedules::delete(store, &id).await?;
            if json {
                to_json(&serde_json::json!({"schedule_id": s.schedule_id, "deleted": true}))
            } else {
                format!("deleted {id}\n")
            }
        }
    })
}

/// The first tick after the cursor: the one the agents create next (in
/// the past when they are behind). Computed, not read: `next_tick` as
/// stored is for the console.
fn next(s: &Schedule) -> Option<crate::model::Time> {
    schedules::next_tick(s, s.last_tick?.0)
}

/// A schedule as JSON, its `next_tick` computed.
fn view(s: &Schedule) -> serde_json::Value {
    let mut v = serde_json::to_value(s).unwrap_or_default();
    v["next_tick"] = serde_json::to_value(next(s)).unwrap_or_default();
    v
}

fn done(json: bool, s: &Schedule, text: &str) -> String {
    if json {
        to_json(&view(s))
    } else {
        format!("{text}\n")
    }
}

/// `t` in the schedule's zone, `2026-12-07 03:00 CET`; `-` for none.
fn local(s: &Schedule, t: Option<crate::model::Time>) -> String {
    let Some(t) = t else {
        return "-".into();
    };
    match schedules::zone(&s.tz) {
        Ok(tz) => t.0.to_zoned(tz).strftime("%Y-%m-%d %H:%M %Z").to_string(),
        Err(_) => t.to_string(),
    }
}

fn list_table(all: &[crate::Result<schedules::Seen>]) -> String {
    let rows: Vec<Vec<String>> = (all.iter())
        .map(|r| match r {
            Ok(seen) => {
                let s = &seen.schedule;
                let next = if s.paused {
                    "(paused)".into()
                } else {
                    local(s, next(s))
                };
                vec![
                    s.schedule_id.clone(),
                    s.cron.clone(),
                    s.tz.clone(),
                    s.catch_up.to_string(),
                    local(s, s.last_tick),
                    next,
                    s.template.title.clone(),
                ]
            }
            Err(e) => vec![
                "?".into(),
                String::new(),
                String::new(),
                String::new(),
                String::new(),
                String::new(),
                e.to_string(),
            ],
        })
        .collect();
    let header = [
        "ID",
        "CRON",
        "TZ",
        "CATCH-UP",
        "LAST TICK",
        "NEXT TICK",
        "TITLE",
    ];
    table(&header, &rows)
}
