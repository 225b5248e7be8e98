//! `vayu retention`: how long ended tasks stay in the completed pile
//! before agents archive them (`config/retention`).

use super::*;

#[derive(Args, Debug)]
pub struct RetentionArgs {
    /// Set the age, in days (0-3650), after which agents move an ended
    /// task to `archive/`; an admin's to set. Without it, show the age.
    #[arg(long, value_parser = clap::value_parser!(i64).range(0..=crate::retention::MAX_ARCHIVE_AFTER_DAYS))]
    pub archive_after_days: Option<i64>,
}

pub(super) async fn run(store: &Store, a: RetentionArgs, json: bool) -> Result<String, Error> {
    if let Some(days) = a.archive_after_days {
        crate::archive::set_retention(
            store,
            crate::retention::Retention {
                archive_after_days: days,
            },
        )
        .await?;
    }
    let r = crate::archive::retention(store).await?;
    Ok(if json {
        to_json(&r)
    } else {
        format!(
            "ended tasks are archived {} day(s) after they last changed\n",
            r.archive_after_days
        )
    })
}
