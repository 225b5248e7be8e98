use super::*;
use crate::model::{Lease, Task};

#[test]
fn kinds_read_back_and_a_bad_list_says_which_part() {
    for k in Kind::ALL {
        assert_eq!(Kind::parse(k.as_str()), Some(k));
        let json = serde_json::to_string(&k).expect("a kind serializes");
        assert_eq!(json, format!("\"{k}\""));
    }
    assert_eq!(
        parse_kinds("failed, dead,failed").expect("known kinds"),
        vec![Kind::Failed, Kind::Dead]
    );
    let err = parse_kinds("failed,exploded").expect_err("an unknown kind");
    assert!(
        err.contains("exploded") && err.contains("agent_offline"),
        "{err}"
    );
    assert!(parse_kinds(" , ").is_err());
}

#[test]
fn urls_must_be_http_with_a_host() {
    for ok in [
        "http://127.0.0.1:8080/hook",
        "https://example.com",
        "https://u:p@h/x?y=1",
    ] {
        assert_eq!(check_url(ok), Ok(()), "{ok}");
    }
    for bad in [
        "ftp://example.com",
        "example.com",
        "http://",
        "https:///path",
        "http://:80/x",
        "http://exa mple.com",
        "http://example.com/\n",
    ] {
        assert!(check_url(bad).is_err(), "{bad:?} was accepted");
    }
    let long = format!("https://h/{}", "x".repeat(URL_MAX));
    assert!(check_url(&long).is_err());
}

#[test]
fn a_tasks_events_are_keyed_by_the_epoch_it_is_stored_with() {
    let mut t = Task {
        task_id: "t1".into(),
        lease: Lease {
            owner: None,
            expires_at: None,
            epoch: 7,
        },
        ..Task::default()
    };
    t.execution.last_error = Some("x".repeat(2_000));
    let e = Event::of_task(Kind::Dead, &t);
    assert_eq!(e.id(), "t1-dead-e7");
    assert!(e.detail.len() <= DETAIL_MAX, "the detail is bounded");
    // The same end, made twice, names the same event.
    assert_eq!(Event::of_task(Kind::Dead, &t.clone()).id(), e.id());
    t.lease.epoch = 8;
    assert_ne!(Event::of_task(Kind::Dead, &t).id(), e.id());
    assert_eq!(Event::of_task(Kind::Failed, &t).id(), "t1-failed-e8");
    use crate::lifecycle::Status::*;
    let kind = |path: &[crate::lifecycle::Status]| Event::of_end(path, &t).map(|e| e.kind);
    assert_eq!(kind(&[Failed, Queued]), Some(Kind::Failed));
    assert_eq!(kind(&[Failed]), Some(Kind::Dead));
    assert_eq!(kind(&[Queued]), None, "a release is not a failure");
    assert_eq!(kind(&[Completed]), None);
}

#[test]
fn offline_and_quarantine_keys_come_from_what_every_racer_saw() {
    let hb = crate::time::Time::from_parts(1_700_000_000, 123_456_000).expect("in range");
    let e = Event::agent_offline("agent-1", hb);
    assert_eq!(e.id(), "agent-1-agent_offline-1700000000123");
    let q = Event::quarantined("doc", 1_700_000_000_123_456, "bad status");
    assert_eq!(q.id(), "doc-quarantined-1700000000123456");
    assert!(q.fits());
    assert!(!Event::quarantined(&"d".repeat(SUBJECT_MAX + 1), 1, "r").fits());
}

#[test]
fn the_cursor_orders_by_time_then_id() {
    let t0 = crate::time::Time::from_parts(100, 0).expect("in range");
    let t1 = crate::time::Time::from_parts(101, 0).expect("in range");
    let mut h = Hook {
        hook_id: "h".into(),
        url: "http://x".into(),
        on: vec![Kind::Dead],
        created_by: "root".into(),
        created_at: None,
        cursor_at: None,
        cursor_id: String::new(),
        failures: 0,
        last_error: None,
    };
    assert!(h.is_after_cursor(t0, "a"));
    h.cursor_at = Some(t0);
    h.cursor_id = "b".into();
    assert!(!h.is_after_cursor(t0, "a"));
    assert!(!h.is_after_cursor(t0, "b"));
    assert!(h.is_after_cursor(t0, "c"));
    assert!(h.is_after_cursor(t1, "a"));
    assert!(h.wants(Kind::Dead) && !h.wants(Kind::Failed));
}

#[test]
fn hook_ids_are_plain() {
    assert!(is_hook_id("h-1_a"));
    assert!(!is_hook_id("-h"));
    assert!(!is_hook_id("a/b"));
    assert!(!is_hook_id(&"a".repeat(65)));
}
