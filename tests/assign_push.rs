//! Issue 14, push (`vayu task create --agent ID --push-for 3s`): the
//! pushed agent claims the task whichever lane it is in; a push to an
//! agent that never comes falls back to pull once it runs out; a push to
//! an unknown agent, or one that cannot run the task, writes nothing.

mod common;
mod rules_support;

use common::fleet::{Fleet, fast_agent, shell, wait_completed};
use rules_support::*;
use std::time::Duration;
use vayu::lifecycle::Status;
use vayu::model::{AgentDoc, AgentState, Priority, TaskType, Time, now, time_add};
use vayu::store::Store;
use vayu::tasks::{self, NewTask};

async fn push(store: &Store, title: &str, to: &str, secs: u64) -> vayu::Result<vayu::model::Task> {
    let mut new = NewTask::new(TaskType::Research, Priority::Normal, title);
    new.push = Some((to.into(), time_add(now(), Duration::from_secs(secs))));
    tasks::create(store, new).await
}

/// Every task's id, in whichever pile.
async fn ids(store: &Store) -> std::collections::BTreeSet<String> {
    let all = store.list_tasks(None, Some(100)).await.expect("lists");
    all.into_iter()
        .map(|t| t.expect("a task").value.task_id)
        .collect()
}

fn assigned(t: &vayu::model::Task) -> Option<Time> {
    (t.history.iter())
        .find(|h| h.status == Some(Status::Assigned))
        .and_then(|h| h.at)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_push_goes_to_its_agent_and_falls_back_to_pull_when_it_runs_out() {
    let w = World::new("assign-push").await;
    // An agent that is registered but never runs, and one that needs gpu.
    for (id, caps) in [("sleepy", vec![]), ("gpu-box", vec!["gpu".to_string()])] {
        let doc = AgentDoc {
            agent_id: id.into(),
            status: Some(AgentState::Offline),
            capabilities: caps,
            handles: vec!["*".into()],
            concurrency: 1,
            heartbeat_ms: 1000,
            ..AgentDoc::default()
        };
        w.admin.put_agent(&doc).await.expect("admin writes");
    }
    let configs = ["agent-1", "agent-2", "agent-3"]
        .map(|id| fast_agent(id, shell("true")))
        .into();
    let fleet = Fleet::start(&w.config(None), configs).await;
    tokio::time::sleep(Duration::from_secs(2)).await;

    // Pushed to a live agent: that agent runs it, in whatever lane.
    for to in ["agent-1", "agent-2", "agent-3"] {
        let t = push(&w.admin, &format!("for {to}"), to, 30)
            .await
            .expect("created");
        let done = wait_completed(&w.admin, &t.task_id, Duration::from_secs(30)).await;
        assert_eq!(done.value.assignment.primary_agent.as_deref(), Some(to));
    }

    // Pushed to an agent that never comes: nobody claims it until the push
    // runs out, then a live agent does.
    let t = push(&w.admin, "for sleepy", "sleepy", 3)
        .await
        .expect("created");
    let until = t.assignment.push_until.expect("a push has an end");
    let done = wait_completed(&w.admin, &t.task_id, Duration::from_secs(30)).await;
    let at = assigned(&done.value).expect("claimed");
    assert!(
        at >= until,
        "claimed at {at:?}, before the push ran out at {until:?}"
    );
    let by = done
        .value
        .assignment
        .primary_agent
        .clone()
        .unwrap_or_default();
    assert!(by.starts_with("agent-"), "claimed by {by}");

    // The scorer's choice (`--assign push`, `hybrid` for a critical task):
    // a live agent that can run it, which then does.
    let live = ["agent-1", "agent-2", "agent-3"];
    for (priority, strategy) in [
        (Priority::Normal, vayu::push::Strategy::Push),
        (Priority::Critical, vayu::push::Strategy::Hybrid),
    ] {
        let mut new = NewTask::new(TaskType::Research, priority, "scored");
        new.assign = strategy;
        let t = tasks::create(&w.admin, new).await.expect("created");
        let to = t.assignment.pushed_to.clone().expect("pushed");
        assert!(live.contains(&to.as_str()), "pushed to {to}");
        let done = wait_completed(&w.admin, &t.task_id, Duration::from_secs(30)).await;
        assert_eq!(done.value.assignment.primary_agent, Some(to));
    }
    let mut new = NewTask::new(TaskType::Research, Priority::Normal, "hybrid, not critical");
    new.assign = vayu::push::Strategy::Hybrid;
    let t = tasks::create(&w.admin, new).await.expect("created");
    assert_eq!(t.assignment.pushed_to, None, "pulled");
    // Settled, so that no task moves between piles while they are listed
    // (a task listed in two piles, or in none, would count wrong).
    wait_completed(&w.admin, &t.task_id, Duration::from_secs(30)).await;

    // Bad pushes write nothing.
    let before = ids(&w.admin).await;
    let err = push(&w.admin, "for a ghost", "ghost", 30)
        .await
        .expect_err("refused");
    assert!(matches!(err, vayu::Error::NotFound(_)), "{err}");
    let mut gpu = NewTask::new(TaskType::Research, Priority::Normal, "needs gpu");
    gpu.requires = vec!["gpu".into()];
    gpu.push = Some(("sleepy".into(), time_add(now(), Duration::from_secs(30))));
    let err = tasks::create(&w.admin, gpu).await.expect_err("refused");
    assert!(err.to_string().contains("gpu"), "{err}");
    let mut gpu = NewTask::new(TaskType::Research, Priority::Normal, "needs a live gpu");
    gpu.requires = vec!["gpu".into()];
    gpu.assign = vayu::push::Strategy::Push;
    let err = tasks::create(&w.admin, gpu)
        .await
        .expect_err("no live agent offers gpu");
    assert!(err.to_string().contains("no agent to push to"), "{err}");
    let out = w.vayu(&["task", "create", "--agent", "ghost", "x"]);
    assert_eq!(
        out.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = w.vayu(&[
        "task",
        "create",
        "--agent",
        "agent-1",
        "--push-for",
        "2h",
        "x",
    ]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(before, ids(&w.admin).await, "nothing was written");
    fleet.stop().await;
}
