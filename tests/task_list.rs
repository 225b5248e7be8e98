//! Issue 16, `vayu task list`: newest first across the three piles; each
//! filter (status, type, priority, agent, requester, tag, `--since`)
//! alone and together; `--limit` and `--cursor` page through every task
//! exactly once, in order; a table or `--json` with the next cursor; a bad
//! cursor or `--since` is exit 2. And the bulk `task cancel` by the same
//! filters: `--dry-run` changes nothing, then every match is cancelled,
//! ended tasks are left alone, and no filter at all is exit 2.

mod common;

use common::fleet::{Fleet, fast_agent, setup, shell, wait_completed};
use common::procs::vayu_cli;
use serde_json::Value;
use std::time::Duration;
use vayu::model::{Priority, TaskType};
use vayu::store::Store;
use vayu::tasks::{self, NewTask};

/// (title, type, priority, requester, tag)
const TASKS: &[(&str, TaskType, Priority, &str, &str)] = &[
    ("r1", TaskType::Research, Priority::High, "olga", "nightly"),
    ("r2", TaskType::Research, Priority::Low, "ivan", ""),
    (
        "m1",
        TaskType::Maintenance,
        Priority::High,
        "olga",
        "nightly",
    ),
    ("m2", TaskType::Maintenance, Priority::Normal, "ivan", "ops"),
    (
        "u1",
        TaskType::UserRequest,
        Priority::Critical,
        "olga",
        "ops",
    ),
];

async fn create(
    store: &Store,
    (title, ty, pri, who, tag): (&str, TaskType, Priority, &str, &str),
) -> String {
    let mut new = NewTask::new(ty, pri, title);
    new.requester.id = who.into();
    if !tag.is_empty() {
        new.tags = vec![tag.into()];
    }
    tasks::create(store, new).await.expect("created").task_id
}

/// The titles `vayu task list ARGS --json` shows, in order, and its next
/// cursor.
async fn titles(host: &str, db: &str, args: &[&str]) -> (Vec<String>, Option<String>) {
    let mut all = vec!["--json", "task", "list"];
    all.extend_from_slice(args);
    let (code, out, err) = vayu_cli(host, db, &all).await;
    assert_eq!(code, 0, "{args:?}: {err}");
    let v: Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{out}: {e}"));
    let rows = v["tasks"].as_array().expect("a tasks array");
    let titles = rows
        .iter()
        .filter_map(|r| r["title"].as_str().map(String::from))
        .collect();
    (titles, v["next_cursor"].as_str().map(String::from))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_list_is_newest_first_filtered_and_paged() {
    let (cfg, store) = setup("task-list").await;
    let host = cfg.emulator_host.clone().expect("an emulator config");
    let db = cfg.database_id.clone();
    // Two tasks run by an agent first (the completed pile, with an agent),
    // then the rest, oldest first.
    let fleet = Fleet::start(
        &cfg,
        vec![fast_agent("lister", shell("echo vayu:result ok"))],
    )
    .await;
    let mut ran = Vec::new();
    for title in ["done1", "done2"] {
        ran.push(
            create(
                &store,
                (title, TaskType::Research, Priority::Normal, "bot", ""),
            )
            .await,
        );
    }
    for id in &ran {
        wait_completed(&store, id, Duration::from_secs(30)).await;
    }
    fleet.stop().await;
    for t in TASKS {
        create(&store, *t).await;
    }

    let (all, next) = titles(&host, &db, &[]).await;
    assert_eq!(
        all,
        ["u1", "m2", "m1", "r2", "r1", "done2", "done1"],
        "newest first"
    );
    assert_eq!(next, None);
    for (args, want) in [
        (vec!["--type", "maintenance"], vec!["m2", "m1"]),
        (vec!["--priority", "high"], vec!["m1", "r1"]),
        (vec!["--requester", "olga"], vec!["u1", "m1", "r1"]),
        (vec!["--tag", "nightly"], vec!["m1", "r1"]),
        (vec!["--agent", "lister"], vec!["done2", "done1"]),
        (vec!["--status", "completed"], vec!["done2", "done1"]),
        (
            vec!["--status", "queued", "--requester", "olga", "--tag", "ops"],
            vec!["u1"],
        ),
        (vec!["--type", "research", "--priority", "low"], vec!["r2"]),
        (vec!["--since", "1h", "--tag", "ops"], vec!["u1", "m2"]),
        (vec!["--since", "2999-01-01T00:00:00Z"], vec![]),
    ] {
        let (got, _) = titles(&host, &db, &args).await;
        assert_eq!(got, want, "{args:?}");
    }

    // Pages of two: every task once, in the same order.
    let (mut paged, mut cursor, mut pages) = (Vec::new(), None::<String>, 0);
    loop {
        let mut args = vec!["--limit", "2"];
        if let Some(c) = &cursor {
            args.extend(["--cursor", c.as_str()]);
        }
        let (got, next) = titles(&host, &db, &args).await;
        assert!(got.len() <= 2, "{got:?}");
        paged.extend(got);
        pages += 1;
        match next {
            Some(c) => cursor = Some(c),
            None => break,
        }
        assert!(pages < 10, "paging ends");
    }
    assert_eq!(paged, all, "pages of two give the whole list once");

    // A table says where the next page starts.
    let (code, out, _) = vayu_cli(&host, &db, &["task", "list", "--limit", "3"]).await;
    assert_eq!(code, 0);
    assert!(
        out.lines()
            .last()
            .is_some_and(|l| l.starts_with("more: --cursor ")),
        "{out}"
    );
    for bad in [
        vec!["--cursor", "nonsense"],
        vec!["--since", "yesterday-ish"],
        vec!["--limit", "0"],
    ] {
        let mut args = vec!["task", "list"];
        args.extend(bad.iter().copied());
        let (code, _, err) = vayu_cli(&host, &db, &args).await;
        assert_eq!(code, 2, "{bad:?}: {err}");
    }

    // Bulk cancel: a dry run first.
    let cancel = |args: &[&str]| {
        let mut all = vec!["--json", "task", "cancel"];
        all.extend_from_slice(args);
        all.into_iter().map(String::from).collect::<Vec<_>>()
    };
    let run = |args: Vec<String>| {
        let (host, db) = (host.clone(), db.clone());
        async move {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            vayu_cli(&host, &db, &args).await
        }
    };
    let (code, out, err) = run(cancel(&["--type", "maintenance", "--dry-run"])).await;
    assert_eq!(code, 0, "{err}");
    let said: Value = serde_json::from_str(&out).expect("JSON");
    assert_eq!(
        (said["dry_run"].clone(), said["matched"].clone()),
        (Value::Bool(true), 2.into())
    );
    let (still, _) = titles(&host, &db, &["--type", "maintenance", "--status", "queued"]).await;
    assert_eq!(still, ["m2", "m1"], "a dry run changes nothing");
    let (code, out, err) = run(cancel(&["--type", "maintenance"])).await;
    assert_eq!(code, 0, "{err}");
    let said: Value = serde_json::from_str(&out).expect("JSON");
    assert_eq!(
        (said["matched"].clone(), said["failed"].clone()),
        (2.into(), 0.into())
    );
    let (gone, _) = titles(&host, &db, &["--status", "cancelled"]).await;
    assert_eq!(gone, ["m2", "m1"]);
    let (ended, _) = titles(&host, &db, &["--status", "queued"]).await;
    assert_eq!(ended, ["u1", "r2", "r1"], "the others are untouched");
    let (code, out, _) = run(cancel(&["--agent", "lister"])).await;
    assert_eq!(code, 0);
    assert_eq!(
        serde_json::from_str::<Value>(&out).expect("JSON")["matched"],
        0,
        "ended tasks are left"
    );
    for refused in [cancel(&[]), cancel(&["--id", "x", "--type", "research"])] {
        let (code, _, err) = run(refused.clone()).await;
        assert_eq!(code, 2, "{refused:?}: {err}");
    }
}
