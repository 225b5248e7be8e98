//! `vayu task create --agent ID [--push-for 2m]`: the CLI's half of a push
//! (`crate::assign::push`). The agent named must exist and be able to run
//! the task, checked before anything is written (one read, its document):
//! a push to an agent that cannot take it would only hold the task up.

use crate::assign::Offer;
use crate::assign::push::{PUSH_FOR_DEFAULT, PUSH_FOR_MAX};
use crate::error::{Error, Result};
use crate::model::{InvalidTask, Task, now, time_add};
use crate::store::Store;

/// The push `--agent` and `--push-for` ask for, with its end from now;
/// `None` without `--agent`. A bad duration is exit 2.
pub fn from_args(
    agent: Option<String>,
    push_for: Option<&str>,
) -> Result<Option<(String, crate::model::Time)>> {
    let bad = |m: String| Error::InvalidTask(InvalidTask(m));
    let Some(agent) = agent else {
        return match push_for {
            Some(_) => Err(bad("--push-for needs --agent".into())),
            None => Ok(None),
        };
    };
    let span = match push_for {
        Some(d) => crate::time::parse_delay(d).map_err(bad)?,
        None => PUSH_FOR_DEFAULT,
    };
    if span.is_zero() || span > PUSH_FOR_MAX {
        let max = PUSH_FOR_MAX.as_secs() / 60;
        return Err(bad(format!(
            "--push-for must be more than 0 and at most {max}m"
        )));
    }
    Ok(Some((agent, time_add(now(), span))))
}

/// Refuses a push to an agent that does not exist (not found) or could
/// never run `task` (exit 2, saying why).
pub async fn check(store: &Store, task: &Task) -> Result<()> {
    let Some(agent) = &task.assignment.pushed_to else {
        return Ok(());
    };
    let doc = store
        .get_agent(agent)
        .await?
        .ok_or_else(|| Error::NotFound(format!("no agent '{agent}' (vayu agent list)")))?;
    let offer = Offer::of_agent(&doc);
    if !offer.could_claim(task) {
        let why = crate::assign::waiting_reason(task, std::slice::from_ref(&offer))
            .unwrap_or_else(|| "it cannot run this task".into());
        return Err(Error::InvalidTask(InvalidTask(format!(
            "cannot push to agent '{agent}': {why}"
        ))));
    }
    Ok(())
}
