//! `vayu task edit ID --after X,Y`: more dependencies for a task nobody
//! has claimed ([`crate::deps::add`]).

use super::*;

#[derive(Args, Debug)]
pub struct EditArgs {
    /// The queued or blocked task.
    pub id: String,
    /// Tasks it waits for too (ids, comma-separated; at most 50
    /// dependencies in all). It is blocked until they have completed.
    #[arg(long, value_delimiter = ',', required = true)]
    pub after: Vec<String>,
}

pub(super) async fn run(
    store: &Store,
    a: EditArgs,
    json: bool,
    requester: Option<String>,
) -> Result<String, Error> {
    if !crate::schema::is_task_id(&a.id) {
        return Err(Error::NotFound(format!("'{}' is not a task id", a.id)));
    }
    let by = requester.unwrap_or_else(tasks::whoami);
    let r = crate::deps::add(store, &a.id, &a.after, &by).await?;
    Ok(if json {
        to_json(&serde_json::json!({"task_id": a.id, "status": r.status,
            "added": r.added, "blocked_by": r.blocked_by}))
    } else if r.added.is_empty() {
        format!("{}: already waits for them; now {}\n", a.id, r.status)
    } else {
        format!(
            "{}: now {}, waiting for {}\n",
            a.id,
            r.status,
            r.blocked_by.join(", ")
        )
    })
}
