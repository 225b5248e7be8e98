//! `vayu task review`, `vayu task rate` and `vayu task list
//! --needs-review`: a person's side of review.

use super::*;
use crate::review::{ReviewKind, Scores, Verdict, policy_of};
use crate::reviews::{GivenVerdict, Reviewed};

#[derive(Args, Debug)]
pub struct ReviewArgs {
    /// The task in review.
    pub id: String,
    /// The work is good: approve it.
    #[arg(long, conflicts_with = "reject", required_unless_present = "reject")]
    pub approve: bool,
    /// Send it back for rework (after the last round, the task fails).
    #[arg(long)]
    pub reject: bool,
    /// Scores 0-5 per criterion: correctness, completeness, quality,
    /// performance (for example correctness=4,completeness=5).
    #[arg(long, value_parser = parse_enum::<Scores>)]
    pub score: Option<Scores>,
    /// Why; the next round's executor reads it when the work is rejected.
    #[arg(long, default_value = "")]
    pub comment: String,
}

pub(super) async fn run(
    store: &Store,
    a: ReviewArgs,
    requester: Option<String>,
    json: bool,
) -> Result<String, Error> {
    if !crate::schema::is_task_id(&a.id) {
        return Err(Error::NotFound(format!("'{}' is not a task id", a.id)));
    }
    let given = GivenVerdict {
        kind: ReviewKind::User,
        reviewer: requester.unwrap_or_else(tasks::whoami),
        verdict: if a.approve {
            Verdict::Approve
        } else {
            Verdict::Reject
        },
        scores: a.score.unwrap_or_default(),
        comment: a.comment,
    };
    let outcome = crate::reviews::give(store, &a.id, given).await?;
    if json {
        let mut v = serde_json::to_value(&outcome).unwrap_or_default();
        v["task_id"] = serde_json::Value::String(a.id);
        return Ok(to_json(&v));
    }
    Ok(match outcome {
        Reviewed::Pending { missing } => {
            format!(
                "{}: verdict recorded; still to come: {}\n",
                a.id,
                missing.join(", ")
            )
        }
        Reviewed::Completed { quality_score } => match quality_score {
            Some(q) => format!("{}: completed (quality score {q:.2})\n", a.id),
            None => format!("{}: completed\n", a.id),
        },
        Reviewed::Rework { round, avoid } => match avoid {
            Some(agent) => format!(
                "{}: rejected; rework round {round}, by an agent other than {agent}\n",
                a.id
            ),
            None => format!("{}: rejected; rework round {round}\n", a.id),
        },
        Reviewed::Failed { reason } => format!("{}: failed ({reason})\n", a.id),
    })
}

pub(super) async fn rate(
    store: &Store,
    id: &str,
    rating: i64,
    comment: &str,
    requester: Option<String>,
    json: bool,
) -> Result<String, Error> {
    if !crate::schema::is_task_id(id) {
        return Err(Error::NotFound(format!("'{id}' is not a task id")));
    }
    let by = requester.unwrap_or_else(tasks::whoami);
    crate::reviews::rate(store, id, &by, rating, comment).await?;
    Ok(if json {
        to_json(&serde_json::json!({"task_id": id, "rating": rating, "by": by}))
    } else {
        format!("{id}: rated {rating}/5\n")
    })
}

/// Tasks in review whose policy needs a person's verdict and that have
/// none yet in this round.
pub(super) async fn needs_review(store: &Store, limit: i32, json: bool) -> Result<String, Error> {
    let rows = store
        .list_pile(Pile::Active, Some(Status::Reviewing), Some(limit))
        .await?;
    // Those whose policy needs a person, then one batch get of their
    // rounds' person verdicts: the ones without one are waiting.
    let needing: Vec<Versioned<Task>> = (rows.into_iter().filter_map(Result::ok))
        .filter(|v| policy_of(&v.value).needs(ReviewKind::User))
        .collect();
    let names = (needing.iter())
        .map(|v| store.verdict_name(&v.value.task_id, v.value.review.round, ReviewKind::User))
        .collect();
    let given = if needing.is_empty() {
        vec![]
    } else {
        store.batch_get(names).await?
    };
    let waiting: Vec<Versioned<Task>> = (needing.into_iter().zip(given))
        .filter_map(|(v, verdict)| verdict.is_none().then_some(v))
        .collect();
    Ok(if json {
        // The shape of every `task list --json`; one page.
        let tasks: Vec<&Task> = waiting.iter().map(|v| &v.value).collect();
        to_json(&serde_json::json!({"tasks": tasks, "next_cursor": null}))
    } else {
        render_task_table(&waiting)
    })
}
