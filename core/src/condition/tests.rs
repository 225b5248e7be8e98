use super::*;

fn parse(src: &str) -> Condition {
    Condition::parse(src).unwrap_or_else(|e| panic!("{src:?} should parse: {e}"))
}

fn fail(src: &str) -> ParseError {
    Condition::parse(src).expect_err(src)
}

/// Dependencies A (completed, with a result), B (failed) and C (a list).
fn deps() -> BTreeMap<String, Value> {
    serde_json::from_str(
        r#"{
            "A": {"status": "completed",
                  "result": {"status": "ok", "score": 0.93, "count": 3,
                             "tags": ["fast", "ü"], "note": null,
                             "message": "all tests passed"}},
            "B": {"status": "failed", "result": null},
            "C": {"status": "completed", "result": [10, 20, {"x": true}]}
        }"#,
    )
    .expect("valid JSON")
}

fn holds(src: &str) -> bool {
    parse(src).evaluate(&deps())
}

#[test]
fn the_issues_example_holds_and_its_opposite_does_not() {
    assert!(holds(r#"A.result.status == "ok""#));
    assert!(!holds(r#"A.result.status != "ok""#));
    assert!(!holds(r#"B.result.status == "ok""#));
}

#[test]
fn comparisons_on_numbers_strings_lists_and_substrings() {
    assert!(holds("A.result.score >= 0.9 and A.result.count < 4"));
    assert!(holds("A.result.count == 3.0 and A.result.count <= 3"));
    assert!(holds(r#""fast" in A.result.tags"#));
    assert!(holds(
        r#""ü" in A.result.tags and "tests" in A.result.message"#
    ));
    assert!(holds(r#"A.status in ["completed", "reviewing"]"#));
    assert!(holds(r#"B.status not in ["completed"]"#));
    assert!(holds("C.result.1 == 20 and C.result.2.x == true"));
    assert!(holds("A.result.score > -1 and A.result.score > -0.5"));
    assert!(holds("A.result.tags == [\"fast\", \"ü\"]"));
}

#[test]
fn quoted_keys_reach_keys_that_are_not_words() {
    let deps: BTreeMap<String, Value> =
        serde_json::from_str(r#"{"A": {"result": {"time (s)": 12, "a.b": {"": "empty"}}}}"#)
            .expect("JSON");
    let c = parse(r#"A.result."time (s)" > 10 and A.result."a.b"."" == "empty""#);
    assert!(c.evaluate(&deps));
    assert!(!parse(r#"A.result."time" > 10"#).evaluate(&deps));
    assert_eq!(
        c.expr().to_string(),
        r#"A.result."time (s)" > 10 and A.result."a.b"."" == "empty""#
    );
}

#[test]
fn missing_paths_are_null_and_exists_tells_null_from_missing() {
    assert!(holds("Z.result.status == null"));
    assert!(holds("A.result.nope.deeper == null"));
    assert!(holds("A.result.note == null and exists A.result.note"));
    assert!(!holds("exists A.result.nope"));
    assert!(!holds("exists A.result.status.x"));
    assert!(!holds("exists C.result.7"));
    assert!(holds("exists B and not exists Z"));
}

#[test]
fn mismatched_types_are_unequal_and_never_ordered() {
    assert!(!holds("Z.result.n > 1") && !holds("Z.result.n <= 1"));
    assert!(!holds(r#"A.result.status > 1"#) && !holds(r#"A.result.status < 1"#));
    assert!(holds(r#"A.result.count != "3""#));
    assert!(!holds("A.result.tags in A.result.count"));
}

#[test]
fn precedence_is_or_then_and_then_not_then_comparison() {
    // false or (true and true) → true; with and first it would be false.
    assert!(holds(
        "A.status == 1 or A.status == A.status and B.status == B.status"
    ));
    // not binds tighter than and, and looser than ==.
    assert_eq!(
        parse("not A.x == 1 and B.y == 2").expr().to_string(),
        "not A.x == 1 and B.y == 2"
    );
    assert!(matches!(
        parse("not A.x == 1 or B.y == 2").expr(),
        Expr::Or(_)
    ));
    assert!(!holds("not (A.status == A.status or B.x == 1)"));
    assert!(holds("not not A.status == \"completed\""));
}

#[test]
fn canonical_form_parses_back_to_the_same_expression() {
    for src in [
        r#"A.result.status=="ok""#,
        "(a.x == 1 or b.y == 2) and not (c.z in [1, [2, \"q\\\"\"]] or exists d)",
        "(a.x == 1 or b.x == 2) or c.x == 3",
        "(a.x == 1 and b.x == 2) and c.x != null",
        "not not (x.y >= -2.5)",
        "a.in.and.0 not in \"string\\n\"",
        "[] == A.result.tags",
        r#"A.result."time (s)".""."a\"b" > 1"#,
    ] {
        let first = parse(src);
        let canonical = first.expr().to_string();
        let again = parse(&canonical);
        assert_eq!(again.expr(), first.expr(), "{src} → {canonical}");
    }
    assert_eq!(
        parse(r#"A.result.status=="ok""#).expr().to_string(),
        r#"A.result.status == "ok""#
    );
}

#[test]
fn the_dependencies_named_are_listed_once_sorted() {
    let c = parse(r#"B.x == A.y or (exists C.z and "k" in B.w) or not D.q == 1 or 1 == 1"#);
    assert_eq!(
        c.dependencies().into_iter().collect::<Vec<_>>(),
        ["A", "B", "C", "D"]
    );
    let uuid = "0a1b2c3d-0000-4000-8000-000000000000";
    let c = parse(&format!(r#"{uuid}.result.status == "ok""#));
    assert!(c.dependencies().contains(uuid));
    assert!(c.evaluate(&BTreeMap::from([(
        uuid.to_string(),
        serde_json::from_str(r#"{"result": {"status": "ok"}}"#).expect("JSON")
    )])));
    assert!(parse("1 == 1").dependencies().is_empty());
}

#[test]
fn a_single_equals_is_refused_with_a_caret() {
    let err = fail("A.result.x = 1");
    assert_eq!(err.at, 11);
    assert_eq!(
        err.render("A.result.x = 1"),
        "A.result.x = 1\n           ^ '=' is not an operator; write '==' at 11"
    );
}

#[test]
fn syntax_errors_point_at_the_offending_token() {
    for (src, at, says) in [
        ("", 0, "empty"),
        ("   ", 0, "empty"),
        ("A.result.ok", 11, "comparison operator"),
        ("A.x ==", 6, "found the end"),
        ("(A.x == 1", 9, "')'"),
        ("A.x == 1)", 8, "the end of the condition"),
        ("A.x == 1 and", 12, "a value or a path"),
        ("A. == 1", 3, "field name"),
        ("A.x == [1, 2", 12, "',' or ']'"),
        ("A.x == [1 2]", 10, "',' or ']'"),
        ("A.x == [B.y]", 8, "a literal"),
        ("exists 1", 7, "path after 'exists'"),
        ("A.x not == 1", 8, "'in' after 'not'"),
        ("and == 1", 0, "a value or a path"),
        ("A.x == 'ok'", 7, "double-quoted"),
        ("A.x == 1 && B.y == 2", 9, "'and'"),
        ("A.x == 1.5.2", 10, "'and', 'or'"),
    ] {
        let err = fail(src);
        assert_eq!(err.at, at, "{src:?}: {err}");
        assert!(err.to_string().contains(says), "{src:?}: {err}");
        let drawn = err.render(src);
        assert_eq!(drawn.lines().count(), 2, "{drawn}");
    }
}

#[test]
fn nesting_up_to_the_limit_parses_and_beyond_is_refused() {
    let deep = |n: usize| format!("{}A.x == 1{}", "(".repeat(n), ")".repeat(n));
    assert!(!parse(&deep(DEPTH_MAX)).evaluate(&BTreeMap::new()));
    let err = fail(&deep(DEPTH_MAX + 1));
    assert_eq!((err.at, err.kind), (DEPTH_MAX, ErrorKind::TooDeep));
    let nots = |n: usize| format!("{}A.x == 1", "not ".repeat(n));
    // An even number of nots around a false comparison: false.
    assert!(!parse(&nots(DEPTH_MAX)).evaluate(&BTreeMap::new()));
    assert!(parse(&nots(DEPTH_MAX - 1)).evaluate(&BTreeMap::new()));
    assert_eq!(fail(&nots(DEPTH_MAX + 1)).kind, ErrorKind::TooDeep);
    let lists = |n: usize| format!("A.x in {}{}", "[".repeat(n), "]".repeat(n));
    assert!(Condition::parse(&lists(DEPTH_MAX)).is_ok());
    assert_eq!(fail(&lists(DEPTH_MAX + 1)).kind, ErrorKind::TooDeep);
    // Nesting, not length, is what is bounded: 200 opening parentheses
    // fail fast at the 33rd.
    assert_eq!(fail(&"(".repeat(200)).at, DEPTH_MAX);
}

#[test]
fn long_conditions_are_refused_and_long_chains_stay_flat() {
    let err = fail(&format!("A.x == \"{}\"", "y".repeat(LENGTH_MAX)));
    assert_eq!(
        err.kind,
        ErrorKind::TooLong {
            len: LENGTH_MAX + 9
        }
    );
    assert!(err.to_string().contains("1000 allowed"), "{err}");
    // The limit may fall inside a multi-byte character: still no panic.
    let wide = format!("x{}", "é".repeat(500));
    let err = fail(&wide);
    assert_eq!(err.at, LENGTH_MAX);
    assert!(err.render(&wide).contains("^ the condition is 1001 bytes"));
    // A chain of `and`s just under the limit is one flat node.
    let chain = vec!["A.status == \"completed\""; 30].join(" and ");
    assert!(chain.len() <= LENGTH_MAX);
    let c = parse(&chain);
    assert!(matches!(c.expr(), Expr::And(t) if t.len() == 30));
    assert!(c.evaluate(&deps()));
}

#[test]
fn hostile_bytes_never_panic() {
    let samples = [
        "\u{0}",
        "\"\\u{110000}\"",
        "é.ü == \"ß\"",
        "A.x == -",
        "--1",
        "1.",
        "[",
        "]",
        ",,",
        "((((",
        "))))",
        "not",
        "exists",
        "exists exists",
        "A.x in",
        "\"",
        "\\",
        "A.\u{300}",
        "😀 == 1",
        "A.x == 1e5",
        "A.x == .5",
        "A..x == 1",
        "A.x == [,]",
    ];
    for src in samples {
        if let Err(e) = Condition::parse(src) {
            assert!(e.at <= src.len(), "{src:?}: {e}");
            assert!(e.render(src).contains('^'));
        }
    }
    // Every prefix of a valid condition either parses or errors in place.
    let full = r#"not (A.result.tags == ["ü", -1.5, null] or exists B.x.0)"#;
    for (i, _) in full.char_indices() {
        if let Err(e) = Condition::parse(&full[..i]) {
            assert!(e.at <= i, "{:?}: {e}", &full[..i]);
        }
    }
}

#[test]
fn values_of_every_type_compare_without_panicking() {
    let values: Vec<Value> = serde_json::from_str(
        r#"[null, true, false, 0, -1.5, "", "a", [], [1, "a"], {}, {"a": 1}]"#,
    )
    .expect("JSON");
    let ops = [
        CompareOp::Eq,
        CompareOp::Ne,
        CompareOp::Lt,
        CompareOp::Le,
        CompareOp::Gt,
        CompareOp::Ge,
        CompareOp::In,
        CompareOp::NotIn,
    ];
    let mut true_count = 0;
    for a in &values {
        for b in &values {
            for op in ops {
                true_count += usize::from(compare(a, op, b));
            }
            assert_ne!(compare(a, CompareOp::Eq, b), compare(a, CompareOp::Ne, b));
            assert_ne!(
                compare(a, CompareOp::In, b),
                compare(a, CompareOp::NotIn, b)
            );
        }
    }
    assert!(true_count > 0);
}

#[test]
fn the_parsed_condition_keeps_its_source() {
    let c: Condition = "A.x  ==  1".parse().expect("parses");
    assert_eq!(c.source(), "A.x  ==  1");
    assert_eq!(c.to_string(), "A.x  ==  1");
    assert_eq!(c.expr().to_string(), "A.x == 1");
}
