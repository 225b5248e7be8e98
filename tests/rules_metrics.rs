//! Issue 14, an agent's history under the rules
//! (`agents/{agent_id}/metrics/{task_type}`, `isAgentMetrics` in
//! firestore.rules): only the agent itself writes its own documents, in
//! the shape `core/src/assign/history.rs` gives them and within its
//! bounds, at one of the seed's five types; members read them. Each
//! denied case sits beside the allowed write of the same shape.

mod common;
mod rules_support;

use rules_support::*;
use serde_json::{Value, json};
use vayu::assign::history::{Sample, Stats};
use vayu::history;
use vayu::layout;
use vayu::model::TaskType;
use vayu::store::{Precondition, Store};

/// agent-1's statistics after two runs of research.
fn stats() -> Stats {
    Stats::new("agent-1", TaskType::Research)
        .update(Sample::Succeeded {
            minutes: 2.0,
            quality: Some(4.0),
        })
        .update(Sample::Retried)
}

/// `stats` written by `who`, as the agent writes it.
async fn put(who: &Store, stats: &Stats) -> vayu::Result<()> {
    who.commit(vec![history::write(who, stats)?])
        .await
        .map(|_| ())
}

/// A raw metrics document `fields` at `agents/{agent}/metrics/{type_id}`,
/// stamped with the server's time unless `stamped` is false.
async fn put_raw(
    who: &Store,
    agent: &str,
    type_id: &str,
    fields: &Value,
    stamped: bool,
) -> vayu::Result<()> {
    let rel = format!("{}/{agent}/{}/{type_id}", layout::AGENTS, layout::METRICS);
    let stamp: &[&str] = if stamped { &["updated_at"] } else { &[] };
    let w = raw_write(who, &rel, fields, stamp, Precondition::None);
    who.commit(vec![w]).await.map(|_| ())
}

/// The document `stats()` is, as JSON, with `edit` applied.
fn doc_with(edit: impl FnOnce(&mut serde_json::Map<String, Value>)) -> Value {
    let mut v = serde_json::to_value(stats()).expect("stats serialize");
    edit(v.as_object_mut().expect("a map"));
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_agent_writes_its_own_history() {
    let w = World::new("rules-metrics-who").await;
    let me = w.agent("agent-1").await;
    let other = w.agent("agent-2").await;
    let admin_person = w.human_with_role("ada", "admin").await;
    let s = stats();
    allowed("the agent writes its own history", put(&me, &s)).await;
    allowed("and updates it", put(&me, &s.update(Sample::Failed))).await;
    denied("another agent writes it", put(&other, &s)).await;
    denied(
        "another agent writes it raw, stamped",
        put_raw(&other, "agent-1", "research", &doc_with(|_| {}), true),
    )
    .await;
    denied("a person, even an admin, writes it", put(&admin_person, &s)).await;
    w.done("only_the_agent_writes_its_own_history");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn members_read_it_and_nobody_else() {
    let w = World::new("rules-metrics-read").await;
    let me = w.agent("agent-1").await;
    allowed("the agent writes its own history", put(&me, &stats())).await;
    let viewer = w.viewer("vera").await;
    let read = allowed(
        "a viewer reads an agent's history",
        history::of_agent(&viewer, "agent-1"),
    )
    .await;
    assert_eq!(read.len(), 1);
    assert_eq!((read[0].completed, read[0].retries), (1, 1));
    allowed(
        "another agent reads it",
        history::get(&w.agent("agent-2").await, "agent-1", TaskType::Research),
    )
    .await;
    denied(
        "a signed-in person without a role reads it",
        history::of_agent(&w.roleless("rex").await, "agent-1"),
    )
    .await;
    w.done("members_read_it_and_nobody_else");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_shape_and_the_bounds_are_checked() {
    let w = World::new("rules-metrics-shape").await;
    let me = w.agent("agent-1").await;
    let good = doc_with(|_| {});
    allowed(
        "the agent's own document, written raw",
        put_raw(&me, "agent-1", "research", &good, true),
    )
    .await;
    let malformed: Vec<(&str, Value)> = vec![
        (
            "an unknown field",
            doc_with(|m| drop(m.insert("secret".into(), json!(1)))),
        ),
        ("a missing count", doc_with(|m| drop(m.remove("failed")))),
        (
            "a count that is text",
            doc_with(|m| drop(m.insert("completed".into(), json!("3")))),
        ),
        (
            "a count that is a float",
            doc_with(|m| drop(m.insert("retries".into(), json!(1.5)))),
        ),
        (
            "another agent's name",
            doc_with(|m| drop(m.insert("agent_id".into(), json!("agent-2")))),
        ),
        (
            "a type other than the id",
            doc_with(|m| drop(m.insert("task_type".into(), json!("learning")))),
        ),
        (
            "a duration that is text",
            doc_with(|m| drop(m.insert("duration_ewma".into(), json!("2")))),
        ),
    ];
    for (case, doc) in &malformed {
        denied(case, put_raw(&me, "agent-1", "research", doc, true)).await;
    }
    let out_of_range: Vec<(&str, Value)> = vec![
        (
            "a negative count",
            doc_with(|m| drop(m.insert("completed".into(), json!(-1)))),
        ),
        (
            "a count past its ceiling",
            doc_with(|m| drop(m.insert("failed".into(), json!(1_000_000_001_i64)))),
        ),
        (
            "a negative duration",
            doc_with(|m| drop(m.insert("duration_ewma".into(), json!(-0.5)))),
        ),
        (
            "a duration past a year",
            doc_with(|m| drop(m.insert("duration_ewma".into(), json!(525_601.0)))),
        ),
        (
            "a quality above 5",
            doc_with(|m| drop(m.insert("quality_ewma".into(), json!(5.5)))),
        ),
    ];
    for (case, doc) in &out_of_range {
        denied(case, put_raw(&me, "agent-1", "research", doc, true)).await;
    }
    let ci = Stats::new("agent-1", TaskType::Ci).update(Sample::Failed);
    allowed("the agent's history of ci tasks", put(&me, &ci)).await;
    let cooking = doc_with(|m| drop(m.insert("task_type".into(), json!("cooking"))));
    denied(
        "an unknown type id",
        put_raw(&me, "agent-1", "cooking", &cooking, true),
    )
    .await;
    denied(
        "a time of the client's choosing",
        put_raw(
            &me,
            "agent-1",
            "research",
            &doc_with(|m| drop(m.insert("updated_at".into(), json!("2020-01-01")))),
            false,
        ),
    )
    .await;
    w.done("the_shape_and_the_bounds_are_checked");
}

/// A completed task `id` of agent `ran_by`, passed by `reviewer` with
/// `score` (or rejected, when `passed` is false).
fn reviewed(id: &str, ran_by: &str, reviewer: &str, score: f64, passed: bool) -> vayu::model::Task {
    use vayu::model::{Priority, ReviewStatus, Task};
    let mut t = Task::new(TaskType::Research, Priority::Normal, "reviewed");
    t.task_id = id.into();
    t.status = vayu::lifecycle::Status::Completed;
    t.created_at = Some(vayu::model::now());
    t.assignment.primary_agent = Some(ran_by.into());
    t.review.reviewer = Some(reviewer.into());
    t.review.quality_score = Some(score);
    t.review.status = Some(if passed {
        ReviewStatus::Passed
    } else {
        ReviewStatus::Failed
    });
    t
}

/// agent-1's stored research statistics with `edit` applied, as JSON.
async fn folded_by_hand(
    w: &World,
    edit: impl FnOnce(&mut serde_json::Map<String, Value>),
) -> Value {
    let now = history::get(&w.admin, "agent-1", TaskType::Research)
        .await
        .expect("reads")
        .expect("agent-1 has research statistics");
    let mut v = serde_json::to_value(now).expect("stats serialize");
    edit(v.as_object_mut().expect("a map"));
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_review_score_is_folded_in_by_the_reviewer_that_passed_the_task() {
    let w = World::new("rules-metrics-fold").await;
    let me = w.agent("agent-1").await;
    let rev = w.agent("rev").await;
    let other = w.agent("rev-2").await;
    allowed(
        "agent-1 records a run",
        put(
            &me,
            &Stats::new("agent-1", TaskType::Research).update(Sample::Retried),
        ),
    )
    .await;
    for t in [
        reviewed("t-passed", "agent-1", "rev", 4.0, true),
        reviewed("t-other-agent", "agent-2", "rev", 4.0, true),
        reviewed("t-rejected", "agent-1", "rev", 1.0, false),
    ] {
        w.seed(&t).await;
    }
    let fold = |store: &Store, task: &'static str, q: f64| {
        let store = store.clone();
        async move { history::fold_quality(&store, "agent-1", TaskType::Research, task, q).await }
    };
    denied(
        "a reviewer that did not pass the task folds it",
        fold(&other, "t-passed", 4.0),
    )
    .await;
    denied("a task another agent ran", fold(&rev, "t-other-agent", 4.0)).await;
    denied("a rejected task", fold(&rev, "t-rejected", 1.0)).await;
    let by_hand = folded_by_hand(&w, |m| {
        m.insert("quality_ewma".into(), json!(5.0));
        m.insert("quality_n".into(), json!(1));
        m.insert("last_quality_task".into(), json!("t-passed"));
    })
    .await;
    denied(
        "a first score other than the task's",
        put_raw(&rev, "agent-1", "research", &by_hand, true),
    )
    .await;
    let greedy = folded_by_hand(&w, |m| {
        m.insert("quality_ewma".into(), json!(4.0));
        m.insert("quality_n".into(), json!(1));
        m.insert("last_quality_task".into(), json!("t-passed"));
        m.insert("completed".into(), json!(100));
    })
    .await;
    denied(
        "a fold that also changes the counts",
        put_raw(&rev, "agent-1", "research", &greedy, true),
    )
    .await;
    let folded = allowed(
        "the reviewer that passed it folds its score",
        fold(&rev, "t-passed", 4.0),
    )
    .await;
    assert!(folded, "folded");
    let twice = folded_by_hand(&w, |m| {
        m.insert("quality_n".into(), json!(2));
    })
    .await;
    denied(
        "the same task folded twice",
        put_raw(&rev, "agent-1", "research", &twice, true),
    )
    .await;
    let stored = history::get(&w.admin, "agent-1", TaskType::Research)
        .await
        .expect("reads")
        .expect("there");
    assert_eq!(
        (stored.quality_ewma, stored.quality_n, stored.retries),
        (Some(4.0), 1, 1)
    );
    // The agent's own next write keeps the reviewer's fields.
    let mine = Stats::new("agent-1", TaskType::Research).update(Sample::Failed);
    allowed("agent-1 records another run", put(&me, &mine)).await;
    let stored = history::get(&w.admin, "agent-1", TaskType::Research)
        .await
        .expect("reads")
        .expect("there");
    assert_eq!(
        (stored.quality_ewma, stored.quality_n, stored.failed),
        (Some(4.0), 1, 1)
    );
    w.done("a_review_score_is_folded_in_by_the_reviewer_that_passed_the_task");
}
