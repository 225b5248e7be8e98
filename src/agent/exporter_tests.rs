use super::*;

fn published() -> Published {
    let mut h = Histogram::default();
    for secs in [0.01, 0.2, 0.2, 3.0, 120.0] {
        h.observe(secs);
    }
    Published {
        claims: 5,
        claim_conflicts: 1,
        outcomes: vec![("completed", 3), ("failed", 1), ("retrying", 1)],
        claim_latency: h,
        running: 2,
        concurrency: 4,
        breakers: vec![
            (TaskType::Research, State::Closed { failed: vec![] }),
            (
                TaskType::Maintenance,
                State::HalfOpen {
                    times: 1,
                    probe: "t".into(),
                },
            ),
        ],
    }
}

fn live() -> Live {
    Live {
        ops: OpSnapshot {
            writes: 7,
            ..OpSnapshot::default()
        },
        heartbeat_age: Some(Duration::from_millis(250)),
        healthy_for: Duration::from_secs(3),
    }
}

/// The value of the sample whose line starts with `prefix`.
fn value(text: &str, prefix: &str) -> f64 {
    let line = (text.lines().find(|l| l.starts_with(prefix)))
        .unwrap_or_else(|| panic!("no sample {prefix} in\n{text}"));
    let v = line.rsplit(' ').next().unwrap_or_default();
    v.parse().unwrap_or_else(|e| panic!("{line}: {e}"))
}

#[test]
fn every_number_is_a_labelled_sample_of_a_declared_metric() {
    let text = render("a\"1", &published(), &live());
    let a = "agent=\"a_1\"";
    assert_eq!(value(&text, &format!("vayu_claims_total{{{a}}}")), 5.0);
    assert_eq!(
        value(
            &text,
            &format!("vayu_runs_total{{{a},outcome=\"completed\"}}")
        ),
        3.0
    );
    assert_eq!(value(&text, &format!("vayu_failures_total{{{a}}}")), 2.0);
    let writes = format!("vayu_firestore_operations_total{{{a},op=\"writes\"}}");
    assert_eq!(value(&text, &writes), 7.0);
    assert_eq!(
        value(&text, &format!("vayu_heartbeat_age_seconds{{{a}}}")),
        0.25
    );
    let half_open = format!("vayu_breaker_state{{{a},task_type=\"maintenance\"}}");
    assert_eq!(value(&text, &half_open), 2.0);
    let mut declared = std::collections::HashSet::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            declared.insert(rest.split(' ').next().unwrap_or_default().to_string());
        } else if !line.starts_with('#') {
            let name = line.split('{').next().unwrap_or_default();
            let family = ["_bucket", "_sum", "_count"]
                .iter()
                .find_map(|s| name.strip_suffix(s))
                .filter(|f| declared.contains(*f))
                .unwrap_or(name);
            assert!(
                declared.contains(family),
                "{name} has no # TYPE line:\n{text}"
            );
            assert!(line.contains(a), "{line}");
        }
    }
}

#[test]
fn the_latency_histogram_is_cumulative_and_ends_at_the_count() {
    let text = render("a", &published(), &live());
    let bucket = |le: &str| {
        value(
            &text,
            &format!("vayu_claim_latency_seconds_bucket{{agent=\"a\",le=\"{le}\"}}"),
        )
    };
    assert_eq!(bucket("0.05"), 1.0);
    assert_eq!(bucket("0.25"), 3.0);
    assert_eq!(bucket("5"), 4.0);
    assert_eq!(bucket("60"), 4.0);
    assert_eq!(bucket("+Inf"), 5.0);
    assert_eq!(value(&text, "vayu_claim_latency_seconds_count{"), 5.0);
    let sum = value(&text, "vayu_claim_latency_seconds_sum{");
    assert!((sum - 123.41).abs() < 1e-9, "{sum}");
}
