//! `firestore.rules` for team tasks (issue 15: `isTeamParent`,
//! `isTeamPart`, and the dependency rules that hold a parent until every
//! part has completed), on the real emulator. Each denied case changes
//! one thing of an allowed twin, so it is refused for that alone.
//!
//! Over 600 lines for the same reason: one allowed case and its denied
//! twins per team rule; the cases are one concept, a team.

mod common;
mod rules_support;

use rules_support::*;
use vayu::layout::Pile;
use vayu::lifecycle::Status;
use vayu::model::Task;
use vayu::store::{Precondition, Versioned};
use vayu::team::{Merge, PartOf, Pattern, Team, part_id};

/// A swarm parent of alice's with two parts, as `vayu task create --team
/// 2` writes it: blocked on exactly its parts.
fn parent(requester: &str) -> Task {
    let mut t = new_task(requester);
    t.task_id = uuid::Uuid::new_v4().to_string();
    let parts = vec![part_id(&t.task_id, 1), part_id(&t.task_id, 2)];
    t.status = Status::Blocked;
    t.dependencies.blocked_by = parts.clone();
    t.team = Some(Team {
        pattern: Pattern::Swarm,
        merge: Merge::Concat,
        parts,
        roles: Vec::new(),
    });
    t
}

/// Part `index` of 2 of `parent_id`, with role `planner`.
fn part(requester: &str, parent_id: &str, index: i64) -> Task {
    let mut t = new_task(requester);
    t.task_id = part_id(parent_id, index as usize);
    t.requires = vec!["planner".into()];
    t.part_of = Some(PartOf {
        parent: parent_id.into(),
        pattern: vayu::team::Pattern::Swarm,
        index,
        of: 2,
        role: Some("planner".into()),
        form_by: None,
        unformed: None,
    });
    t
}

fn team_of(t: &mut Task) -> &mut Team {
    t.team.as_mut().expect("a parent has a team")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_team_parent_is_created_blocked_on_exactly_its_parts() {
    let w = World::new("rules-team-parent").await;
    let alice = w.human("alice").await;

    allowed(
        "a parent blocked on its parts",
        raw_create(&alice, &parent("alice")),
    )
    .await;
    let mut roles = parent("alice");
    team_of(&mut roles).roles = vec!["planner".into(), "coder".into()];
    allowed(
        "a parent with one role per part",
        raw_create(&alice, &roles),
    )
    .await;
    // The costliest team create still fits the 1,000 expressions a
    // request may evaluate: 16 parts with roles, 20 tags.
    let mut fullest = parent("alice");
    let id = fullest.task_id.clone();
    let sixteen: Vec<String> = (1..=16).map(|k| part_id(&id, k)).collect();
    team_of(&mut fullest).parts = sixteen.clone();
    team_of(&mut fullest).roles = (1..=16).map(|k| format!("role-{k}")).collect();
    fullest.dependencies.blocked_by = sixteen;
    fullest.metadata.tags = (1..=20).map(|k| format!("tag-{k}")).collect();
    let mut reviewed = fullest.clone();
    allowed("the fullest parent", raw_create(&alice, &fullest)).await;
    reviewed.task_id = uuid::Uuid::new_v4().to_string();
    let id = reviewed.task_id.clone();
    let two: Vec<String> = (1..=2).map(|k| part_id(&id, k)).collect();
    team_of(&mut reviewed).parts = two.clone();
    team_of(&mut reviewed).roles.clear();
    reviewed.dependencies.blocked_by = two;
    reviewed.metadata.tags.clear();
    reviewed.review.policy = Some("peer".into());
    denied(
        "a parent with a review policy",
        raw_create(&alice, &reviewed),
    )
    .await;
    let mut part20 = part("alice", &uuid::Uuid::new_v4().to_string(), 2);
    part20.requires = (1..=19)
        .map(|k| format!("cap-{k}"))
        .chain(["planner".to_string()])
        .collect();
    part20.metadata.tags = (1..=20).map(|k| format!("tag-{k}")).collect();
    if let Some(po) = part20.part_of.as_mut() {
        po.form_by = Some(at(600));
        po.unformed = Some(vayu::team::form::Unformed::Degrade);
    }
    allowed("the fullest part", raw_create(&alice, &part20)).await;

    let mut free = parent("alice");
    free.dependencies.blocked_by.clear();
    free.status = Status::Queued;
    denied("a parent that waits for nothing", raw_create(&alice, &free)).await;
    let mut short = parent("alice");
    short.dependencies.blocked_by.pop();
    denied(
        "a parent that waits for one part of two",
        raw_create(&alice, &short),
    )
    .await;
    let mut run_anyway = parent("alice");
    run_anyway.dependencies.on_failure = Some("run".into());
    denied(
        "a parent that runs when a part fails",
        raw_create(&alice, &run_anyway),
    )
    .await;
    let mut conditional = parent("alice");
    let first = conditional.dependencies.blocked_by[0].clone();
    conditional.dependencies.condition = Some(format!("{first}.status == 'completed'"));
    denied("a parent with an --if", raw_create(&alice, &conditional)).await;
    let mut one = parent("alice");
    team_of(&mut one).parts.pop();
    one.dependencies.blocked_by.pop();
    denied("a team of one", raw_create(&alice, &one)).await;
    let mut big = parent("alice");
    let id = big.task_id.clone();
    let many: Vec<String> = (1..=17).map(|k| part_id(&id, k)).collect();
    team_of(&mut big).parts = many.clone();
    big.dependencies.blocked_by = many;
    denied("a team of 17", raw_create(&alice, &big)).await;
    let mut odd_roles = parent("alice");
    team_of(&mut odd_roles).roles = vec!["planner".into()];
    denied("one role for two parts", raw_create(&alice, &odd_roles)).await;
    let mut both = parent("alice");
    both.part_of = part("alice", &both.task_id.clone(), 1).part_of;
    denied("a parent that is also a part", raw_create(&alice, &both)).await;
    let mut leader = task_json(&parent("alice"));
    leader["team"]["pattern"] = "hive".into();
    let id = leader["task_id"].as_str().expect("an id").to_string();
    let write = raw_write(
        &alice,
        &Pile::Queued.doc(&id),
        &leader,
        &["created_at", "updated_at"],
        Precondition::Missing,
    );
    denied(
        "an unknown pattern",
        commit_paying(&alice, &id, vec![write]),
    )
    .await;
    let mut extra = task_json(&parent("alice"));
    extra["team"]["leader"] = "agent-1".into();
    let id = extra["task_id"].as_str().expect("an id").to_string();
    let write = raw_write(
        &alice,
        &Pile::Queued.doc(&id),
        &extra,
        &["created_at", "updated_at"],
        Precondition::Missing,
    );
    denied(
        "an unknown key in the team",
        commit_paying(&alice, &id, vec![write]),
    )
    .await;
    w.done("a_team_parent_is_created_blocked_on_exactly_its_parts");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_part_is_named_after_its_parent_and_requires_its_role() {
    let w = World::new("rules-team-part").await;
    let alice = w.human("alice").await;
    let p = uuid::Uuid::new_v4().to_string();

    allowed(
        "part 1 of its parent",
        raw_create(&alice, &part("alice", &p, 1)),
    )
    .await;
    let mut no_role = part("alice", &p, 2);
    if let Some(po) = no_role.part_of.as_mut() {
        po.role = None;
    }
    allowed("a part with no role", raw_create(&alice, &no_role)).await;

    let q = uuid::Uuid::new_v4().to_string();
    let mut misnamed = part("alice", &q, 1);
    misnamed.task_id = part_id(&q, 2);
    denied(
        "a part whose id is another part's",
        raw_create(&alice, &misnamed),
    )
    .await;
    let mut unrequired = part("alice", &q, 1);
    unrequired.requires.clear();
    denied(
        "a role the part does not require",
        raw_create(&alice, &unrequired),
    )
    .await;
    let mut zero = part("alice", &q, 1);
    zero.task_id = part_id(&q, 0);
    if let Some(po) = zero.part_of.as_mut() {
        po.index = 0;
    }
    denied("part 0", raw_create(&alice, &zero)).await;
    let mut past = part("alice", &q, 3);
    past.task_id = part_id(&q, 3);
    denied("part 3 of 2", raw_create(&alice, &past)).await;
    let mut huge = part("alice", &q, 1);
    if let Some(po) = huge.part_of.as_mut() {
        po.of = 17;
    }
    denied("a part of a team of 17", raw_create(&alice, &huge)).await;
    w.done("a_part_is_named_after_its_parent_and_requires_its_role");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_parent_waits_for_every_part_and_nobody_rewrites_a_team() {
    let w = World::new("rules-team-wait").await;
    let alice = w.human("alice").await;
    let agent = w.agent("agent-1").await;
    let mut p = parent("alice");
    p.created_at = Some(vayu::model::now());
    let seen = w.seed(&p).await;
    let parts = p.dependencies.blocked_by.clone();
    let mut done1 = part("alice", &p.task_id, 1);
    done1.status = Status::Completed;
    w.seed(&done1).await;
    let open2 = w.seed(&part("alice", &p.task_id, 2)).await;

    // The parent's queueing records both parts as ended; part 2 is open.
    let mut unblocked = seen.value.clone();
    unblocked.dependencies.done = parts.clone();
    unblocked.status = Status::Queued;
    denied(
        "a parent queued with a part still open",
        raw_replace(&agent, &seen, &unblocked, vec![]),
    )
    .await;
    let mut recorded = seen.value.clone();
    recorded.dependencies.done = vec![parts[0].clone()];
    let seen = w.read(&p.task_id).await;
    allowed(
        "the completed part recorded",
        raw_replace(&agent, &seen, &recorded, vec![]),
    )
    .await;

    // Nobody rewrites the team: not its requester, not a part's claimer.
    let seen = w.read(&p.task_id).await;
    let mut shrunk = seen.value.clone();
    team_of(&mut shrunk).parts.pop();
    denied(
        "the requester drops a part from the team",
        raw_replace(&alice, &seen, &shrunk, vec![]),
    )
    .await;
    let mut claimed = claimed_by(&open2.value, "agent-1", 1);
    w.register("agent-1", &["planner"], &["research"]).await;
    if let Some(po) = claimed.part_of.as_mut() {
        po.index = 1;
    }
    denied(
        "a claim that renumbers its part",
        raw_replace(&agent, &open2, &claimed, vec![]),
    )
    .await;
    let claimed = claimed_by(&open2.value, "agent-1", 1);
    allowed(
        "the claim as it is",
        raw_replace(&agent, &open2, &claimed, vec![]),
    )
    .await;

    // With part 2 completed, the parent is queued.
    let running = w.read(&open2.value.task_id).await;
    let mut ended = running.value.clone();
    ended.status = Status::Completed;
    ended.lease.owner = None;
    ended.lease.expires_at = None;
    ended.execution.finished_at = Some(vayu::model::now());
    // Seeded past the rules (its move is the runner's, tested elsewhere);
    // the rules read the completed pile, so the active copy left is moot.
    w.seed(&ended).await;
    let seen = w.read(&p.task_id).await;
    let mut queued = seen.value.clone();
    queued.dependencies.done = parts;
    queued.status = Status::Queued;
    allowed(
        "the parent queued once every part completed",
        raw_replace(&agent, &seen, &queued, vec![]),
    )
    .await;
    w.done("a_parent_waits_for_every_part_and_nobody_rewrites_a_team");
}

/// Part `index` of team `parent` held by `agent` (epoch 1), its lease
/// ending `lease_secs` from now.
async fn held(
    w: &World,
    parent: &str,
    index: i64,
    agent: &str,
    lease_secs: i64,
) -> Versioned<Task> {
    let mut t = claimed_by(&part("alice", parent, index), agent, 1);
    if let Some(p) = t.part_of.as_mut() {
        p.of = index.max(3);
    }
    t.lease.expires_at = Some(at(lease_secs));
    w.seed(&t).await
}

/// `seen` as a takeover by `by` requeues it (as `vayu::agent::requeue`
/// writes it): the lease cleared under the next epoch, a retry spent, the
/// lost attempt failed and queued again.
fn taken_over(seen: &Task, by: &str) -> Task {
    let mut t = seen.clone();
    let t_now = vayu::model::now();
    t.lease = vayu::model::Lease {
        owner: None,
        expires_at: None,
        epoch: seen.lease.epoch + 1,
    };
    t.metadata.retry_count += 1;
    t.assignment.primary_agent = None;
    t.execution.last_error = Some("lease expired".into());
    t.record(
        Status::Failed,
        t_now,
        Some(by),
        Some("lease expired".into()),
    );
    t.status = Status::Queued;
    t.not_before = None;
    t.record(Status::Queued, t_now, Some(by), Some("requeued".into()));
    t
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_a_member_writes_the_context_and_only_the_leader_hands_out_work() {
    let w = World::new("rules-team-context").await;
    let alice = w.human("alice").await;
    let a1 = w.agent("agent-1").await;
    let a2 = w.agent("agent-2").await;
    // The parent, blocked on its three parts.
    let mut whole = parent("alice");
    let team = whole.task_id.clone();
    let three: Vec<String> = (1..=3).map(|k| part_id(&team, k)).collect();
    team_of(&mut whole).parts = three.clone();
    whole.dependencies.blocked_by = three;
    w.seed(&whole).await;
    let p1 = held(&w, &team, 1, "agent-1", 30).await;
    let p2 = held(&w, &team, 2, "agent-2", 30).await;
    let part_of = p1.value.part_of.clone().expect("a part");
    let (id1, id2) = (p1.value.task_id.clone(), p2.value.task_id.clone());

    allowed(
        "a member sets a key",
        a1.team_context_set(&part_of, &id1, "agent-1", "plan", "x"),
    )
    .await;
    allowed(
        "another member sets another key",
        a2.team_context_set(&part_of, &id2, "agent-2", "notes", "y"),
    )
    .await;
    let doc = a1.team_doc(&team).await.expect("a member reads the team");
    assert_eq!(
        doc.values().into_iter().collect::<Vec<_>>(),
        [("notes", "y"), ("plan", "x")]
    );
    denied(
        "an agent writing as a part it does not hold",
        a2.team_context_set(&part_of, &id1, "agent-2", "plan", "z"),
    )
    .await;
    denied(
        "an agent naming another agent as the writer",
        a1.team_context_set(&part_of, &id1, "agent-2", "plan", "z"),
    )
    .await;
    denied(
        "a person writes the context",
        alice.team_context_set(&part_of, &id1, "alice", "plan", "z"),
    )
    .await;
    let other = uuid::Uuid::new_v4().to_string();
    let mut elsewhere = part_of.clone();
    elsewhere.parent = other;
    denied(
        "a member writes another team's context",
        a1.team_context_set(&elsewhere, &id1, "agent-1", "plan", "z"),
    )
    .await;
    let big = "x".repeat(4097);
    denied(
        "a value over 4 KiB",
        a1.team_context_set(&part_of, &id1, "agent-1", "plan", &big),
    )
    .await;
    denied(
        "a key the protocol refuses",
        a1.team_context_set(&part_of, &id1, "agent-1", "a b", "z"),
    )
    .await;
    let p3 = held(&w, &team, 3, "agent-1", -5).await;
    denied(
        "a member whose lease ran out",
        a1.team_context_set(&part_of, &p3.value.task_id, "agent-1", "plan", "z"),
    )
    .await;

    // A task anyone made, naming the team, that the parent does not list.
    let stray = held(&w, &team, 4, "agent-1", 30).await;
    denied(
        "a part the parent does not list",
        a1.team_context_set(&part_of, &stray.value.task_id, "agent-1", "plan", "z"),
    )
    .await;
    allowed(
        "a member arrives at a barrier",
        a1.team_arrive(&part_of, &id1, "agent-1", "go"),
    )
    .await;
    allowed(
        "it arrives again (after a restart)",
        a1.team_arrive(&part_of, &id1, "agent-1", "go"),
    )
    .await;
    denied(
        "an agent arriving as a part it does not hold",
        a1.team_arrive(&part_of, &id2, "agent-1", "go"),
    )
    .await;
    allowed(
        "the other member arrives",
        a2.team_arrive(&part_of, &id2, "agent-2", "go"),
    )
    .await;
    assert!(
        a1.team_doc(&team)
            .await
            .expect("reads")
            .passed(&team, "go", 2)
    );

    // A leader's subtasks are artifacts of its part: a follower cannot add one.
    let mut handed = p1.value.clone();
    handed.execution.artifacts.push(vayu::model::Artifact {
        name: vayu::team::subtask_name(2),
        uri: "do the thing".into(),
        at: Some(vayu::model::now()),
    });
    let p1 = w.read(&id1).await;
    denied(
        "a follower hands out a subtask",
        raw_replace(&a2, &p1, &handed, vec![]),
    )
    .await;
    allowed(
        "the leader hands out a subtask",
        raw_replace(&a1, &p1, &handed, vec![]),
    )
    .await;

    // A takeover keeps the lost attempt's result and artifacts
    // (`isTakeoverRequeue`): the taker cannot plant a subtask or a result.
    let lost = held(&w, &team, 3, "agent-1", -5).await;
    let mut planted = taken_over(&lost.value, "agent-2");
    planted.execution.artifacts.push(vayu::model::Artifact {
        name: vayu::team::subtask_name(2),
        uri: "do what agent-2 says".into(),
        at: Some(vayu::model::now()),
    });
    denied(
        "a takeover that plants a subtask",
        raw_replace(&a2, &lost, &planted, vec![]),
    )
    .await;
    let mut planted = taken_over(&lost.value, "agent-2");
    planted.execution.result = Some("agent-2's result".into());
    denied(
        "a takeover that plants a result",
        raw_replace(&a2, &lost, &planted, vec![]),
    )
    .await;
    allowed(
        "the same takeover, planting nothing",
        raw_replace(&a2, &lost, &taken_over(&lost.value, "agent-2"), vec![]),
    )
    .await;
    // And the recovery's own requeue passes the rule.
    let lost = held(&w, &uuid::Uuid::new_v4().to_string(), 3, "agent-1", -5).await;
    let moved = vayu::agent::requeue(&a2, &lost, "agent-2", "test").await;
    assert!(
        moved.expect("the recovery's requeue"),
        "the lost part was requeued"
    );
    w.done("only_a_member_writes_the_context_and_only_the_leader_hands_out_work");
}

/// `seen` as its holder `agent-1` writes it in place naming
/// `collaborators` (a heartbeat: the lease renewed, the merged result).
fn naming(seen: &Task, collaborators: &[&str]) -> Task {
    let mut t = seen.clone();
    t.lease.expires_at = Some(at(30));
    t.execution.result = Some("merged".into());
    t.assignment.collaborators = collaborators.iter().map(|c| c.to_string()).collect();
    t
}

/// `seen` completed by its holder `agent-1`.
fn completed(seen: &Task) -> Task {
    let mut t = seen.clone();
    let t_now = vayu::model::now();
    t.status = Status::Completed;
    t.lease.owner = None;
    t.lease.expires_at = None;
    t.execution.progress = 100;
    t.execution.finished_at = Some(t_now);
    t.record(Status::Completed, t_now, Some("agent-1"), None);
    t
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_parents_holder_names_its_collaborators() {
    let w = World::new("rules-team-collab").await;
    let a1 = w.agent("agent-1").await;
    let a2 = w.agent("agent-2").await;
    // A parent running its merge, held by agent-1: queued through the gate
    // tested above (every part recorded), here seeded past the rules.
    let mut p = claimed_by(&parent("alice"), "agent-1", 1);
    p.dependencies.done = p.dependencies.blocked_by.clone();
    let seen = w.seed(&p).await;

    let two = ["agent-2", "agent-3"];
    denied(
        "three collaborators for two parts",
        raw_replace(
            &a1,
            &seen,
            &naming(&seen.value, &["a-1", "a-2", "a-3"]),
            vec![],
        ),
    )
    .await;
    let mut with_primary = naming(&seen.value, &two);
    with_primary.assignment.primary_agent = Some("agent-2".into());
    denied(
        "collaborators with another change of the assignment",
        raw_replace(&a1, &seen, &with_primary, vec![]),
    )
    .await;
    denied(
        "a collaborator that is no agent id",
        raw_replace(&a1, &seen, &naming(&seen.value, &["no one"]), vec![]),
    )
    .await;
    denied(
        "an agent that does not hold the parent names them",
        raw_replace(&a2, &seen, &naming(&seen.value, &two), vec![]),
    )
    .await;
    let mut in_the_end = completed(&seen.value);
    in_the_end.assignment.collaborators = two.iter().map(|c| c.to_string()).collect();
    denied(
        "collaborators named in the completing move",
        raw_replace(&a1, &seen, &in_the_end, vec![]),
    )
    .await;
    let lone = w.running("alice", "agent-1", 30).await;
    denied(
        "collaborators on a task in no team",
        raw_replace(&a1, &lone, &naming(&lone.value, &two), vec![]),
    )
    .await;
    allowed(
        "the same heartbeat naming none",
        raw_replace(&a1, &lone, &naming(&lone.value, &[]), vec![]),
    )
    .await;
    allowed(
        "the holder names its parts' agents",
        raw_replace(&a1, &seen, &naming(&seen.value, &two), vec![]),
    )
    .await;
    let named = w.read(&p.task_id).await;
    allowed(
        "then completes the parent, keeping them",
        raw_replace(&a1, &named, &completed(&named.value), vec![]),
    )
    .await;
    w.done("only_the_parents_holder_names_its_collaborators");
}
