use super::*;
use crate::model::Artifact;

fn issue(labels: &[&str]) -> Issue {
    Issue {
        number: 7,
        title: "Fix the parser".into(),
        body: "It breaks on tabs".into(),
        labels: labels.iter().map(|l| l.to_string()).collect(),
        milestone: Some("v1.2".into()),
        html_url: "https://github.com/o/r/issues/7".into(),
    }
}

#[test]
fn labels_map_to_type_priority_and_tags() {
    let m = map_issue(
        &issue(&[
            "vayu",
            "type:research",
            "priority:high",
            "bug",
            "good first issue",
        ]),
        "vayu",
    );
    assert_eq!(m.task_type, TaskType::Research);
    assert_eq!(m.priority, Priority::High);
    assert_eq!(
        m.tags,
        ["gh:bug", "gh:good first issue", "milestone:v1.2"],
        "the sync label is no tag; the milestone is"
    );
    assert_eq!(m.title, "Fix the parser");
    assert_eq!(m.input, "It breaks on tabs");
    assert_eq!(m.context, "https://github.com/o/r/issues/7");
}

#[test]
fn unknown_type_and_priority_labels_are_tags_and_bad_characters_are_replaced() {
    let m = map_issue(&issue(&["type:chores", "priority:urgent", "área"]), "vayu");
    assert_eq!(m.task_type, TaskType::UserRequest, "default type");
    assert_eq!(m.priority, Priority::Normal, "default priority");
    assert_eq!(
        m.tags,
        [
            "gh:type:chores",
            "gh:priority:urgent",
            "gh:-rea",
            "milestone:v1.2"
        ]
    );
    assert!(m.tags.iter().all(|t| crate::schema::is_tag(t)));
    let many: Vec<String> = (0..30).map(|i| format!("l{i}")).collect();
    let refs: Vec<&str> = many.iter().map(String::as_str).collect();
    assert_eq!(
        map_issue(&issue(&refs), "vayu").tags.len(),
        20,
        "rules' cap"
    );
}

#[test]
fn an_empty_title_still_makes_a_valid_task() {
    let mut i = issue(&[]);
    i.title = "  ".into();
    assert_eq!(map_issue(&i, "vayu").title, "issue #7");
}

#[test]
fn the_marker_names_its_task_and_only_a_task_id() {
    let id = "8c28b9d2-4e86-5378-aac3-156366a344bf";
    let t = Task {
        task_id: id.into(),
        ..Task::default()
    };
    assert_eq!(marked_task(&comment_body(&t)), Some(id));
    assert_eq!(marked_task("<!-- vayu:task=a b -->"), None, "not an id");
    assert_eq!(marked_task("hello"), None);
}

#[test]
fn the_comment_shows_state_progress_result_and_artifacts_and_nothing_that_changes_alone() {
    let mut t = Task {
        task_id: "t1".into(),
        status: Status::Executing,
        ..Task::default()
    };
    t.execution.progress = 40;
    t.execution.current_step = Some("analyzing\nlines".into());
    let running = comment_body(&t);
    assert_eq!(
        running,
        "<!-- vayu:task=t1 -->\n**vayu** task `t1` is **executing** (40%: analyzing lines)\n"
    );
    assert_eq!(running, comment_body(&t.clone()), "same task, same text");
    t.status = Status::Completed;
    t.execution.result = Some("3 bottlenecks <!-- vayu:task=x -->".into());
    t.execution.artifacts.push(Artifact {
        name: "run".into(),
        uri: "https://github.com/o/r/actions/runs/9".into(),
        at: None,
    });
    let done = comment_body(&t);
    assert!(done.contains("is **completed**\n"), "{done}");
    assert!(!done.contains("40%"), "no progress once ended: {done}");
    assert!(
        done.contains("**Result:** 3 bottlenecks <!- - vayu:task=x -->"),
        "{done}"
    );
    assert_eq!(done.matches("<!--").count(), 1, "one marker: {done}");
    assert!(done.ends_with("- run: https://github.com/o/r/actions/runs/9\n"));
}

#[test]
fn every_state_has_a_project_status_and_only_completion_closes() {
    assert_eq!(project_status(Status::Queued), "Todo");
    assert_eq!(project_status(Status::Executing), "In Progress");
    assert_eq!(project_status(Status::Failed), "Done");
    let closing: Vec<_> = Status::ALL
        .into_iter()
        .filter(|s| closes_issue(*s))
        .collect();
    assert_eq!(closing, [Status::Completed]);
}

#[test]
fn conclusions_become_outcomes() {
    assert_eq!(run_outcome("success"), Ok(()));
    assert_eq!(run_outcome("skipped"), Ok(()));
    for c in ["failure", "cancelled", "timed_out", "action_required"] {
        assert!(run_outcome(c).unwrap_err().contains(c));
    }
}

#[test]
fn repos_and_keys() {
    assert_eq!(
        parse_repo("octo-org/my.repo"),
        Ok(("octo-org".into(), "my.repo".into()))
    );
    for bad in ["octo", "/r", "o/", "o/r/x", "o r/x"] {
        assert!(parse_repo(bad).is_err(), "{bad}");
    }
    assert_eq!(issue_key("o/r", 7), "github:o/r#7");
}

#[test]
fn rate_limits_say_how_long_to_wait() {
    let w = |status, ra, rem, reset, text| rate_limit_wait(status, ra, rem, reset, 1000, text);
    assert_eq!(
        w(403, Some("30"), None, None, true),
        Wait::Secs(30),
        "secondary"
    );
    assert_eq!(w(429, Some("5"), None, None, false), Wait::Secs(5));
    assert_eq!(
        w(403, None, Some("0"), Some("1042"), false),
        Wait::Secs(42),
        "primary"
    );
    assert_eq!(
        w(403, None, Some("0"), Some("990"), false),
        Wait::Secs(1),
        "reset passed"
    );
    assert_eq!(w(403, None, Some("12"), Some("1042"), true), Wait::Backoff);
    assert_eq!(w(403, None, None, None, false), Wait::No, "a plain refusal");
    assert_eq!(w(404, Some("3"), None, None, true), Wait::No);
    assert_eq!(w(503, None, None, None, false), Wait::Backoff);
}
