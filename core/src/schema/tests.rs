//! The schema's bounds, beside the rules' patterns they mirror.

use super::*;
use crate::model::{Priority, TaskType};

#[test]
fn the_patterns_are_the_rules() {
    assert!(is_task_id("85e85575-fe4c-49c0-b740-ce62f9546d9a"));
    assert!(is_task_id("Ab3dEf6hIj9kLm2nOp5q"));
    assert!(!is_task_id("-x") && !is_task_id("a/b") && !is_task_id(&"a".repeat(65)));
    assert!(is_capability("gpu:a100") && !is_capability("g p u") && !is_capability(""));
    assert!(is_tag("needs review") && !is_tag("a,b") && !is_tag(&"t".repeat(65)));
    assert!(is_agent_id("agent-1.host") && !is_agent_id("agent 1"));
}

/// A change that takes a task out of bounds.
type Bend = fn(&mut Task);

#[test]
fn out_of_bounds_numbers_and_elements_are_refused() {
    let ok = Task::new(TaskType::Research, Priority::Low, "t");
    check_stored(&ok).expect("a new task is in bounds");
    let mut reviewed = ok.clone();
    reviewed.review.policy = Some("self+peer+user+tests".into());
    reviewed.review.round = 10;
    reviewed.review.avoid = Some("a".repeat(128));
    reviewed.review.max_rounds = Some(10);
    reviewed.review.rework = Some(crate::model::Rework::Same);
    check_stored(&reviewed).expect("the longest policy, the last round");
    let cases: Vec<(&str, Bend)> = vec![
        ("timeout", |t| t.metadata.timeout_secs = Some(i64::MAX)),
        ("estimate", |t| t.metadata.estimated_duration = Some(1e300)),
        ("NaN estimate", |t| {
            t.metadata.estimated_duration = Some(f64::NAN)
        }),
        ("huge tag", |t| t.metadata.tags = vec!["x".repeat(50_000)]),
        ("21 tags", |t| t.metadata.tags = vec!["a".into(); 21]),
        ("bad dependency", |t| {
            t.dependencies.blocked_by = vec!["../x".into()]
        }),
        ("score", |t| t.review.quality_score = Some(7.0)),
        ("policy out of order", |t| {
            t.review.policy = Some("user+peer".into())
        }),
        ("policy unknown", |t| {
            t.review.policy = Some("peer+robot".into())
        }),
        ("policy twice", |t| {
            t.review.policy = Some("peer+peer".into())
        }),
        ("round", |t| t.review.round = 11),
        ("negative round", |t| t.review.round = -1),
        ("long avoid", |t| t.review.avoid = Some("a".repeat(129))),
        ("max rounds", |t| t.review.max_rounds = Some(11)),
        ("long note", |t| {
            t.record(
                crate::lifecycle::Status::Queued,
                crate::model::now(),
                None,
                None,
            );
            t.history[0].note = Some("n".repeat(502));
        }),
        ("51 entries", |t| {
            t.history = vec![crate::model::HistoryEntry::default(); 51]
        }),
        ("a log line with a newline", |t| {
            t.execution.logs = vec!["a\nb".into()]
        }),
        ("a huge checkpoint", |t| {
            t.execution.checkpoints = vec![crate::model::Checkpoint {
                at: None,
                epoch: 0,
                data: "x".repeat(20_000),
            }]
        }),
    ];
    for (what, bend) in cases {
        let mut t = ok.clone();
        bend(&mut t);
        assert!(check_stored(&t).is_err(), "{what}");
    }
}
