//! `firestore.rules` agrees with the Rust code it guards: the state
//! machine (`next`) with `lifecycle::can_transition` for all 121 pairs, the
//! piles (`pileOf`) with `layout::Pile::of`, the enum values with
//! `model`'s enums, and the document keys with what serde writes. Plus: the
//! rules compile on the emulator without a warning.
//!
//! The rules are parsed as text, so this fails loudly when someone edits
//! one side only.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use vayu::layout::Pile;
use vayu::lifecycle::{Status, can_transition};
use vayu::model::{self, Task};

fn rules() -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("firestore.rules");
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

/// The body of `function NAME(...) { ... }` (up to the closing brace at
/// the function's indentation).
fn function_body<'a>(src: &'a str, name: &str) -> &'a str {
    let start = src
        .find(&format!("function {name}("))
        .unwrap_or_else(|| panic!("firestore.rules has no function {name}"));
    let rest = &src[start..];
    let end = rest
        .find("\n    }\n")
        .unwrap_or_else(|| panic!("function {name} has no end"));
    &rest[..end]
}

/// Every single-quoted string in `s`, in order.
fn quoted(s: &str) -> Vec<String> {
    s.split('\'')
        .enumerate()
        .filter(|(i, _)| i % 2 == 1)
        .map(|(_, q)| q.to_string())
        .collect()
}

/// `from == 'x' ? ['a', 'b']` lines of `next`, as a map.
fn rules_transitions(src: &str) -> BTreeMap<String, BTreeSet<String>> {
    let body = function_body(src, "next");
    let mut out = BTreeMap::new();
    for line in body.lines() {
        let line = line.trim();
        let Some((cond, list)) = line.split_once('?') else {
            continue;
        };
        let from = quoted(cond);
        assert_eq!(from.len(), 1, "one state per condition: {line}");
        out.insert(from[0].clone(), quoted(list).into_iter().collect());
    }
    out
}

/// `status in [...] ? 'pile'` lines of `pileOf`, as status -> pile.
fn rules_piles(src: &str) -> BTreeMap<String, String> {
    let body = function_body(src, "pileOf");
    let mut out = BTreeMap::new();
    for line in body.lines() {
        let Some((list, pile)) = line.trim().split_once('?') else {
            continue;
        };
        let pile = quoted(pile);
        for status in quoted(list) {
            out.insert(status, pile[0].clone());
        }
    }
    out
}

#[test]
fn the_rules_state_machine_is_lifecycle_rs_for_every_pair() {
    let table = rules_transitions(&rules());
    let mut checked = 0;
    for from in Status::ALL {
        let allowed = table.get(from.as_str()).cloned().unwrap_or_default();
        for to in Status::ALL {
            assert_eq!(
                allowed.contains(to.as_str()),
                can_transition(from, to),
                "{from} -> {to}: firestore.rules `next` and src/lifecycle.rs disagree"
            );
            checked += 1;
        }
    }
    assert_eq!(checked, 144);
    let known: BTreeSet<&str> = Status::ALL.iter().map(|s| s.as_str()).collect();
    for (from, tos) in &table {
        assert!(
            known.contains(from.as_str()),
            "unknown state {from} in the rules"
        );
        for to in tos {
            assert!(
                known.contains(to.as_str()),
                "unknown state {to} in the rules"
            );
        }
    }
}

#[test]
fn the_rules_piles_are_layout_rs() {
    let piles = rules_piles(&rules());
    for s in Status::ALL {
        assert_eq!(
            piles.get(s.as_str()).map(String::as_str),
            Some(Pile::of(s).as_str()),
            "the pile of {s}"
        );
    }
    assert_eq!(piles.len(), Status::ALL.len());
}

/// The quoted values of the first `[...]` after `anchor` in `body`.
fn list_after(body: &str, anchor: &str) -> BTreeSet<String> {
    let at = body
        .find(anchor)
        .unwrap_or_else(|| panic!("'{anchor}' not found in the rules"));
    let rest = &body[at..];
    let open = rest.find('[').expect("a list follows");
    let close = rest[open..].find(']').expect("the list ends") + open;
    quoted(&rest[open..close]).into_iter().collect()
}

fn set<'a>(v: impl IntoIterator<Item = &'a str>) -> BTreeSet<String> {
    v.into_iter().map(str::to_string).collect()
}

#[test]
fn the_rules_enums_are_the_models() {
    let src = rules();
    let core = function_body(&src, "isTaskCore");
    assert_eq!(
        list_after(core, "t.type in"),
        set(model::TaskType::ALL.iter().map(|v| v.as_str()))
    );
    let rank: String = function_body(&src, "isTaskCore")
        .lines()
        .find(|l| l.contains("priority_rank =="))
        .expect("the rank check")
        .to_string();
    for p in model::Priority::ALL {
        assert!(
            rank.contains(&format!("'{}': {}", p.as_str(), p.rank())),
            "rank of {p}: {rank}"
        );
    }
    assert_eq!(
        list_after(function_body(&src, "isDefect"), "d.priority in"),
        set(model::Priority::ALL.iter().map(|v| v.as_str()))
    );
    // The map's keys are the valid priorities (an unknown one is no key,
    // an error that denies): exactly the model's.
    assert_eq!(
        rank.matches("': ").count(),
        model::Priority::ALL.len(),
        "{rank}"
    );
    assert_eq!(
        list_after(function_body(&src, "isRequester"), "r.type in"),
        set(model::RequesterType::ALL.iter().map(|v| v.as_str()))
    );
    assert_eq!(
        list_after(function_body(&src, "isAssignment"), "'assignment_method',"),
        set(model::AssignmentMethod::ALL.iter().map(|v| v.as_str()))
    );
    assert_eq!(
        list_after(function_body(&src, "isReview"), "'status',"),
        set(model::ReviewStatus::ALL.iter().map(|v| v.as_str()))
    );
    assert_eq!(
        list_after(function_body(&src, "isMetadata"), "m.complexity in"),
        set(model::Complexity::ALL.iter().map(|v| v.as_str()))
    );
    assert_eq!(
        list_after(function_body(&src, "isStateChange"), "'control',"),
        set(model::ControlRequest::ALL.iter().map(|v| v.as_str()))
    );
    assert_eq!(
        list_after(function_body(&src, "isAgentDoc"), "d.status in"),
        set(model::AgentState::ALL.iter().map(|v| v.as_str()))
    );
}

/// The quarantine's parts and the stored keys are the decoder's
/// (core/src/schema): a part the agent names that the rules do not know, or
/// a key list that differs, would leave a document it cannot quarantine.
#[test]
fn the_quarantine_parts_are_the_schemas() {
    use vayu::schema::{OPTIONAL_KEYS, Part, REQUIRED_KEYS};
    let src = rules();
    let defect = function_body(&src, "isDefect");
    for part in Part::ALL {
        assert!(
            defect.contains(&format!("part == '{}' ?", part.as_str())),
            "isDefect judges part {}",
            part.as_str()
        );
    }
    assert_eq!(list_after(defect, "hasAll("), set(REQUIRED_KEYS));
    assert_eq!(
        list_after(defect, "hasOnly("),
        set(REQUIRED_KEYS.into_iter().chain(OPTIONAL_KEYS))
    );
}

/// Every key serde writes for `value` with all options set.
fn keys(value: &serde_json::Value) -> BTreeSet<String> {
    value
        .as_object()
        .expect("a struct serializes as an object")
        .keys()
        .cloned()
        .collect()
}

#[test]
fn the_rules_know_exactly_the_keys_the_model_writes() {
    let src = rules();
    let mut t = Task::default();
    // Omitted while empty (a new task's assignment stays `{collaborators: []}`).
    t.assignment.add_executor("agent-1");
    // Omitted while None (a push is rare).
    t.assignment.pushed_to = Some("agent-1".into());
    t.assignment.push_until = Some(vayu::model::now());
    t.assignment.auction = true;
    t.assignment.auction_until = Some(vayu::model::now());
    (t.assignment.bids).insert("agent-1".into(), vayu::assign::auction::bid(1.0, 1));
    t.execution.estimated_completion = Some(vayu::model::now());
    // Omitted while 0, None or empty.
    t.review.round = 1;
    t.review.claim = Some("peer".into());
    t.review.approved = vec!["self".into()];
    t.dependencies.done = vec!["a".into()];
    t.dependencies.on_failure = Some("run".into());
    t.dependencies.failed = Some("a".into());
    t.dependencies.condition = Some("a.result == 1".into());
    t.resource = Some("gpu:1".parse().expect("a valid need"));
    t.dependencies.cycle = vec!["a".into(), "a".into()];
    // A task is a team's parent or a part, never both; the keys of each.
    t.team = Some(vayu::team::Team {
        pattern: vayu::team::Pattern::Swarm,
        merge: vayu::team::Merge::Concat,
        parts: vec!["a".into(), "b".into()],
        roles: vec!["x".into(), "y".into()],
    });
    t.part_of = Some(vayu::team::PartOf {
        parent: "a".into(),
        pattern: vayu::team::Pattern::Swarm,
        index: 1,
        of: 2,
        role: Some("x".into()),
        form_by: Some(vayu::model::now()),
        unformed: Some(vayu::team::form::Unformed::Cancel),
    });
    let v = serde_json::to_value(&t).expect("a task serializes");
    // Options are None in the default task; serde_json writes them as null,
    // so every key is present here.
    assert_eq!(
        list_after(function_body(&src, "isTaskCore"), "hasOnly("),
        keys(&v),
        "task keys"
    );
    for (f, field) in [
        ("isRequester", "requester"),
        ("isAssignment", "assignment"),
        ("isDependencies", "dependencies"),
        ("isExecution", "execution"),
        ("isReview", "review"),
        ("isMetadata", "metadata"),
        ("isLease", "lease"),
        ("isTeamParent", "team"),
        ("isTeamPart", "part_of"),
    ] {
        assert_eq!(
            list_after(function_body(&src, f), "hasOnly("),
            keys(&v[field]),
            "{field} keys in {f}"
        );
    }
    assert_eq!(
        list_after(function_body(&src, "isExecutionChange"), "hasOnly("),
        keys(&v["execution"]),
        "execution keys in isExecutionChange"
    );
    // Learned skills and a drain request are omitted while empty.
    let agent = model::AgentDoc {
        skills: vec!["rust".into()],
        drain: Some(model::DrainRequest::default()),
        ..model::AgentDoc::default()
    };
    let agent = serde_json::to_value(agent).expect("serializes");
    assert_eq!(
        list_after(function_body(&src, "isAgentDoc"), "hasOnly("),
        keys(&agent),
        "agent document keys"
    );
}

#[test]
fn the_rules_bounds_are_the_models_limits() {
    use model::limits::*;
    let src = rules();
    let core = function_body(&src, "isTaskCore");
    assert!(core.contains(&format!("isText(t.title, 1, {TITLE_MAX})")));
    assert!(core.contains(&format!("isText(t.input, 0, {INPUT_MAX})")));
    assert!(core.contains(&format!("isListMatching(t.requires, {REQUIRES_MAX}, ")));
    let ex = function_body(&src, "isExecution");
    assert!(ex.contains(&format!("optStr(e, 'last_error', {})", ERROR_MAX + 1)));
    for f in ["isTeamParent", "isTeamPart"] {
        let body = function_body(&src, f);
        assert!(
            body.contains(&format!("<= {}", vayu::team::TEAM_MAX)),
            "{f}: team size"
        );
        assert!(
            body.contains(&format!(">= {}", vayu::team::TEAM_MIN)),
            "{f}: team size"
        );
    }
    // The patterns and merges the rules know are the model's, in one regex.
    let names = |all: Vec<&str>| all.join("|");
    let patterns = names(
        vayu::team::Pattern::ALL
            .iter()
            .map(|p| p.as_str())
            .collect(),
    );
    let merges = names(vayu::team::Merge::ALL.iter().map(|m| m.as_str()).collect());
    assert!(
        function_body(&src, "isTeamParent").contains(&format!("'^({patterns})/({merges})$'")),
        "isTeamParent knows the patterns {patterns} and the merges {merges}"
    );
    let cps = function_body(&src, "isCheckpoints");
    assert!(cps.contains(&format!("n <= {CHECKPOINTS_KEPT}")));
    let arts = function_body(&src, "isArtifacts");
    assert!(arts.contains(&format!("n <= {ARTIFACTS_MAX}")));
    let logs = function_body(&src, "isLogTail");
    assert!(logs.contains(&format!("logs.size() <= {LOG_TAIL}")));
    // Joined by newlines: every line clipped (and an ellipsis), and the newlines.
    let joined = LOG_TAIL * (LOG_LINE_MAX + 1) + LOG_TAIL - 1;
    assert!(logs.contains(&format!("joined.size() <= {joined}")));
    let cp = function_body(&src, "isCheckpoint");
    assert!(cp.contains(&format!("optStr(c, 'data', {})", CHECKPOINT_MAX + 1)));
    let art = function_body(&src, "isArtifact");
    assert!(art.contains(&format!("optStr(a, 'name', {})", ARTIFACT_NAME_MAX + 1)));
    assert!(art.contains(&format!("optStr(a, 'uri', {})", ARTIFACT_URI_MAX + 1)));
    let st = function_body(&src, "isHistoryStored");
    assert!(st.contains(&format!("h.size() <= {HISTORY_KEPT}")));
    let entry = function_body(&src, "isHistoryEntry");
    assert!(entry.contains(&format!("optStr(e, 'note', {})", NOTE_MAX + 1)));
    let kept = function_body(&src, "historyKept");
    assert!(kept.contains(&format!("h.size() <= {HISTORY_KEPT}")));
    let md = function_body(&src, "isMetadata");
    assert!(md.contains(&format!("isListMatching(m.tags, {TAGS_MAX}, ")));
    assert!(md.contains(&format!("<= {TIMEOUT_SECS_MAX}")));
    assert!(md.contains(&format!("m.max_retries <= {MAX_RETRIES_MAX}")));
    let rq = function_body(&src, "isRequester");
    assert!(rq.contains(&format!("isText(r.context, 0, {CONTEXT_MAX})")));
    let deps = function_body(&src, "isDependencies");
    assert!(deps.contains(&format!(
        "isListMatching(d.blocked_by, {DEPENDENCIES_MAX}, "
    )));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_rules_compile_without_a_warning() {
    let emu = common::emulator().await;
    // The emulator's own endpoint loads a ruleset and reports its issues.
    let url = format!(
        "http://{}/emulator/v1/projects/{}:securityRules",
        emu.host(),
        "rules-compile-check"
    );
    let body =
        serde_json::json!({"rules": {"files": [{"name": "firestore.rules", "content": rules()}]}});
    let resp = reqwest::Client::new()
        .put(&url)
        .json(&body)
        .send()
        .await
        .expect("the emulator answers");
    let status = resp.status();
    let text = resp.text().await.expect("a body");
    assert!(status.is_success(), "the rules do not compile: {text}");
    let v: serde_json::Value = serde_json::from_str(&text).expect("JSON");
    let issues = v["issues"].as_array().cloned().unwrap_or_default();
    assert!(
        issues.is_empty(),
        "the rules compile with issues: {issues:#?}"
    );
}
