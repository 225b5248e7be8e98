use super::*;

const P: &str = "6f1c2a4e-0000-4000-8000-000000000001";

fn spec(size: usize, pattern: Pattern) -> TeamSpec {
    TeamSpec {
        size,
        pattern,
        roles: Vec::new(),
        skills: Vec::new(),
        merge: None,
        form: None,
    }
}

fn part(id: &str, result: &str) -> PartResult {
    PartResult {
        task_id: id.into(),
        role: None,
        agent: Some("a".into()),
        result: result.into(),
    }
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

#[test]
fn parts_are_named_after_the_parent_and_listed_on_it_in_order() {
    let plan = plan(&spec(3, Pattern::Swarm), P, "x", &[]).expect("plans");
    let ids: Vec<_> = plan.parts.iter().map(|p| p.task_id.as_str()).collect();
    assert_eq!(
        ids,
        [format!("{P}-p1"), format!("{P}-p2"), format!("{P}-p3")]
    );
    assert_eq!(plan.team.parts, ids);
    assert_eq!(plan.team.merge, Merge::Concat);
    assert!(
        plan.parts.iter().all(|p| p.after.is_empty()),
        "a swarm waits for nothing"
    );
    assert_eq!(plan.parts[2].part_of.index, 3);
    assert_eq!(plan.parts[2].part_of.of, 3);
    // A part's id is a workflow step's shape, so `{{steps.pK.result}}` fills.
    let (run, step) = crate::workflow::step_of(&plan.parts[1].task_id).expect("a step id");
    assert_eq!((run, step), (P, "p2"));
}

#[test]
fn each_role_becomes_the_capability_its_part_requires() {
    let mut s = spec(3, Pattern::Pipeline);
    s.roles = strings(&["planner", "implementer", "reviewer"]);
    let plan = plan(&s, P, "x", &strings(&["linux"])).expect("plans");
    assert_eq!(plan.parts[0].requires, ["linux", "planner"]);
    assert_eq!(plan.parts[1].requires, ["implementer", "linux"]);
    assert_eq!(plan.parts[2].part_of.role.as_deref(), Some("reviewer"));
    assert_eq!(plan.team.roles, s.roles);
}

#[test]
fn skills_are_dealt_so_the_members_cover_them_together() {
    let mut s = spec(2, Pattern::Swarm);
    s.skills = strings(&["rust", "docs", "sql"]);
    let plan = plan(&s, P, "x", &[]).expect("plans");
    assert_eq!(plan.parts[0].requires, ["rust", "sql"]);
    assert_eq!(plan.parts[1].requires, ["docs"]);
}

#[test]
fn a_pipeline_stage_waits_for_the_previous_one_and_gets_its_result() {
    let plan = plan(&spec(3, Pattern::Pipeline), P, "raw text", &[]).expect("plans");
    assert_eq!(plan.parts[0].input, "raw text");
    assert!(plan.parts[0].after.is_empty());
    assert_eq!(plan.parts[1].input, "{{steps.p1.result}}");
    assert_eq!(plan.parts[1].after, [format!("{P}-p1")]);
    assert_eq!(plan.parts[2].input, "{{steps.p2.result}}");
    assert_eq!(plan.team.merge, Merge::Last);
}

#[test]
fn a_swarm_cuts_a_json_array_into_near_equal_contiguous_slices() {
    let plan = plan(&spec(3, Pattern::Swarm), P, "[1,2,3,4,5,6,7]", &[]).expect("plans");
    let inputs: Vec<_> = plan.parts.iter().map(|p| p.input.as_str()).collect();
    assert_eq!(inputs, ["[1,2,3]", "[4,5]", "[6,7]"]);
    // Too few items to share, or not an array: everyone gets all of it.
    let plan2 = super::plan(&spec(3, Pattern::Swarm), P, "[1,2]", &[]).expect("plans");
    assert!(plan2.parts.iter().all(|p| p.input == "[1,2]"));
}

#[test]
fn bad_teams_are_refused_with_the_reason() {
    assert_eq!(
        plan(&spec(1, Pattern::Swarm), P, "", &[]),
        Err(TeamError::Size(1))
    );
    assert_eq!(
        plan(&spec(17, Pattern::Swarm), P, "", &[]),
        Err(TeamError::Size(17))
    );
    let mut s = spec(3, Pattern::Swarm);
    s.roles = strings(&["a", "b"]);
    assert_eq!(
        plan(&s, P, "", &[]),
        Err(TeamError::Roles { roles: 2, size: 3 })
    );
    s.roles = strings(&["a", "b c", "d"]);
    assert_eq!(plan(&s, P, "", &[]), Err(TeamError::Name("b c".into())));
    let mut s = spec(2, Pattern::Swarm);
    s.skills = strings(&["rust", "rust"]);
    assert_eq!(
        plan(&s, P, "", &[]),
        Err(TeamError::Repeated("rust".into()))
    );
    let mut s = spec(2, Pattern::Pipeline);
    s.merge = Some(Merge::Concat);
    assert!(matches!(plan(&s, P, "", &[]), Err(TeamError::Merge { .. })));
    let many: Vec<String> = (0..20).map(|i| format!("c{i}")).collect();
    let mut s = spec(2, Pattern::Swarm);
    s.skills = strings(&["extra"]);
    assert!(matches!(
        plan(&s, P, "", &many),
        Err(TeamError::TooManyRequires { part: 1, count: 21 })
    ));
}

#[test]
fn concat_keeps_part_order_and_every_part_once() {
    let parts = [part("p1", "a"), part("p2", ""), part("p3", "c")];
    assert_eq!(merge(Merge::Concat, &parts), Ok("a\n\nc".into()));
    assert_eq!(merge(Merge::Last, &parts), Ok("c".into()));
}

#[test]
fn json_objects_merge_by_key_and_a_conflict_names_both_parts() {
    let ok = [part("p1", r#"{"a":1}"#), part("p2", r#"{"b":2,"a":1}"#)];
    assert_eq!(merge(Merge::Json, &ok), Ok(r#"{"a":1,"b":2}"#.into()));
    let clash = [part("p1", r#"{"a":1}"#), part("p2", r#"{"a":2}"#)];
    assert_eq!(
        merge(Merge::Json, &clash),
        Err(MergeError::Conflict {
            key: "a".into(),
            first: "p1".into(),
            second: "p2".into()
        })
    );
}

#[test]
fn json_arrays_concatenate_and_anything_else_is_refused_by_part() {
    let arrays = [part("p1", "[1,2]"), part("p2", "[3]")];
    assert_eq!(merge(Merge::Json, &arrays), Ok("[1,2,3]".into()));
    let mixed = [part("p1", "[1]"), part("p2", "{}")];
    assert_eq!(
        merge(Merge::Json, &mixed),
        Err(MergeError::Mixed { part: "p2".into() })
    );
    let text = [part("p1", "[1]"), part("p2", "hello")];
    assert!(
        matches!(merge(Merge::Json, &text), Err(MergeError::NotJson { part, .. }) if part == "p2")
    );
    let scalar = [part("p1", "3")];
    assert_eq!(
        merge(Merge::Json, &scalar),
        Err(MergeError::Scalar { part: "p1".into() })
    );
}

#[test]
fn a_merge_too_long_for_a_result_is_refused_not_cut() {
    let long = "x".repeat(3_000);
    let parts = [part("p1", &long), part("p2", &long)];
    assert_eq!(
        merge(Merge::Concat, &parts),
        Err(MergeError::TooLong { len: 6_001 })
    );
}

#[test]
fn collaborators_are_the_parts_agents_once_each_in_part_order() {
    let by = |agent: Option<&str>| PartResult {
        agent: agent.map(str::to_string),
        ..part("x", "r")
    };
    let parts = [by(Some("b")), by(None), by(Some("a")), by(Some("b"))];
    assert_eq!(collaborators(&parts), strings(&["b", "a"]));
    assert!(collaborators(&[]).is_empty());
}

#[test]
fn a_handler_merge_gets_every_part_as_json() {
    let parts = [part("p1", "a"), part("p2", "b")];
    let input = merge(Merge::Handler, &parts).expect("input");
    let v: serde_json::Value = serde_json::from_str(&input).expect("JSON");
    assert_eq!(v[1]["task_id"], "p2");
    assert_eq!(v[1]["result"], "b");
    assert_eq!(v.as_array().map(Vec::len), Some(2));
}

#[test]
fn patterns_and_merges_read_back_from_their_names() {
    for p in Pattern::ALL {
        assert_eq!(p.as_str().parse::<Pattern>(), Ok(*p));
    }
    for m in Merge::ALL {
        assert_eq!(m.as_str().parse::<Merge>(), Ok(*m));
    }
    assert!("hive".parse::<Pattern>().is_err());
}

#[test]
fn peers_share_the_input_and_followers_wait_for_their_leader() {
    let peers = plan(&spec(3, Pattern::Peer), P, "[1,2,3]", &[]).expect("plans");
    assert!(
        peers
            .parts
            .iter()
            .all(|p| p.input == "[1,2,3]" && p.after.is_empty())
    );
    let mut s = spec(3, Pattern::Leader);
    s.roles = strings(&["lead", "dev", "dev"]);
    let led = plan(&s, P, "goal", &[]).expect("plans");
    assert_eq!(led.parts[0].input, "goal");
    assert!(led.parts[0].after.is_empty());
    for f in &led.parts[1..] {
        assert_eq!(f.after, [format!("{P}-p1")]);
        assert_eq!(f.input, "");
    }
    assert_eq!(led.team.merge, Merge::Handler);
    assert_eq!(subtask_name(2), "subtask-2");
}

#[test]
fn parts_take_consecutive_lanes_that_do_not_wrap() {
    for n in [2, 4, 15] {
        let plan = plan(&spec(n.min(TEAM_MAX), Pattern::Peer), P, "", &[]).expect("plans");
        let lanes: Vec<i64> = plan.parts.iter().map(|p| p.lane).collect();
        assert!(lanes.windows(2).all(|w| w[1] == w[0] + 1), "{lanes:?}");
        assert!(
            lanes.iter().all(|l| (0..crate::spread::LANES).contains(l)),
            "{lanes:?}"
        );
    }
}

#[test]
fn only_the_parts_that_start_at_once_get_the_formation_deadline() {
    let form = form::Form {
        by: crate::model::Time::from_parts(1_000, 0).expect("a valid time"),
        unformed: form::Unformed::Cancel,
    };
    let deadlines = |pattern: Pattern| {
        let mut s = spec(3, pattern);
        s.form = Some(form.clone());
        let plan = plan(&s, P, "in", &[]).expect("a valid team");
        (plan.parts.iter())
            .map(|p| p.part_of.form().is_some())
            .collect::<Vec<_>>()
    };
    assert_eq!(deadlines(Pattern::Swarm), [true, true, true]);
    assert_eq!(deadlines(Pattern::Peer), [true, true, true]);
    // A later stage or a follower waits for another part, however long.
    assert_eq!(deadlines(Pattern::Pipeline), [true, false, false]);
    assert_eq!(deadlines(Pattern::Leader), [true, false, false]);
}
