//! The edges of the GitHub integration, in the `github` test binary (one
//! emulator): the `vayu github sync` command itself (bad input refused
//! before any network, `--dry-run --json`, the token from a file and kept
//! out of Firestore), and a pass run as a signed-in agent under the rules
//! that pages through the issues and waits out refusals naming no time.

use crate::common::fleet;
use crate::github_fake::{Fake, Req, issue};
use crate::rules_support::World;
use crate::{client, writes};
use std::process::Output;
use vayu::github::{self, sync};
use vayu::model::{Priority, RequesterType, Task, TaskType};

/// `vayu ARGS` against database `db` at `host` as the emulator's admin,
/// with only the GitHub settings of `env`.
fn vayu(host: &str, db: &str, env: &[(&str, &str)], args: &[&str]) -> Output {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_vayu"));
    cmd.args(args)
        .env("FIRESTORE_EMULATOR_HOST", host)
        .env("VAYU_DATABASE", db);
    for k in [
        "VAYU_PROJECT",
        "VAYU_TOKEN",
        "VAYU_IDENTITY",
        github::client::TOKEN,
        github::client::TOKEN_FILE,
        github::client::API_URL,
        github::client::GRAPHQL_URL,
        github::app::APP_ID,
    ] {
        cmd.env_remove(k);
    }
    cmd.envs(env.iter().copied())
        .output()
        .expect("the vayu binary runs")
}

fn failed_with(out: &Output, code: i32, says: &str) {
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(code), "{err}");
    assert!(err.contains(says), "{err}");
}

#[tokio::test]
async fn bad_input_is_refused_before_any_network() {
    let fake = Fake::start().await;
    let api = ("GITHUB_API_URL", fake.url.as_str());
    // Firestore is unreachable (nothing listens on port 9): a missing
    // token is still reported as such, read before any connection.
    let gone = |env: &[(&str, &str)], args: &[&str]| vayu("127.0.0.1:9", "none", env, args);
    let sync = ["github", "sync", "--repo", "o/r"];
    failed_with(&gone(&[api], &sync), 64, "no GitHub credentials");
    let token = ("GITHUB_TOKEN", "tok-1");
    let bad_repo = ["github", "sync", "--repo", "o/r/x"];
    failed_with(&gone(&[api, token], &bad_repo), 2, "owner/name");
    let fast = ["github", "sync", "--repo", "o/r", "--every", "10s"];
    failed_with(&gone(&[api, token], &fast), 2, "at least 30s");
    let create = ["task", "create", "--github", "nope", "T"];
    failed_with(&gone(&[api, token], &create), 2, "owner/name");
    assert_eq!(fake.requests().len(), 0, "GitHub was not asked");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dry_run_reports_json_and_the_token_file_stays_out_of_firestore() {
    let (cfg, store) = fleet::setup("github-cli").await;
    let host = cfg.emulator_host.clone().unwrap_or_default();
    let fake = Fake::start().await;
    fake.with(|s| s.issues = vec![issue(1, "From the CLI", &["vayu"], "open")]);
    let dir = tempfile::tempdir().expect("a temp dir");
    let file = dir.path().join("token");
    let secret = "tok-file-9f3e";
    std::fs::write(&file, format!("{secret}\n")).expect("written");
    let file = file.to_string_lossy().to_string();
    let env = [
        ("GITHUB_API_URL", fake.url.as_str()),
        ("VAYU_GITHUB_TOKEN_FILE", file.as_str()),
    ];
    let sync = |extra: &[&str]| {
        let args = [&["--json", "github", "sync", "--repo", "o/r"], extra].concat();
        let out = vayu(&host, &cfg.database_id, &env, &args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{err}");
        serde_json::from_slice::<serde_json::Value>(&out.stdout).expect("a JSON report")
    };

    let id = github::issue_task_id("o/r", 1);
    let dry = sync(&["--dry-run"]);
    assert_eq!(dry["dry_run"], true);
    assert_eq!(dry["issues"], 1);
    assert_eq!(dry["created"], serde_json::json!([[1, id]]));
    assert_eq!(writes(&fake.requests()), Vec::<String>::new());
    assert!(store.find_task(&id).await.expect("reads").is_none());

    let done = sync(&[]);
    assert_eq!(
        (done["dry_run"].clone(), done["created"].clone()),
        (false.into(), dry["created"].clone())
    );
    let reqs = fake.requests();
    assert!(
        reqs.iter().all(|r| r.auth == format!("Bearer {secret}")),
        "the file's token, trimmed"
    );
    assert_eq!(writes(&reqs).len(), 1, "the comment");

    // Every document of the database, as `vayu backup` reads them.
    let backup = dir.path().join("all.jsonl");
    let b = backup.to_string_lossy().to_string();
    let out = vayu(&host, &cfg.database_id, &[], &["backup", "--out", &b]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let all = std::fs::read_to_string(&backup).expect("the backup");
    assert!(all.contains(&id), "the backup holds the task");
    assert!(!all.contains(secret), "no document holds the token");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_syncs_under_the_rules_through_pages_and_refusals() {
    let w = World::new("github-agent").await;
    let agent = w.agent("gh-sync").await;
    let mut done = Task::new(TaskType::UserRequest, Priority::Normal, "Done before");
    done.task_id = github::issue_task_id("o/r", 2);
    done.status = vayu::lifecycle::Status::Completed;
    done.created_at = Some(vayu::model::now());
    w.seed(&done).await;
    let fake = Fake::start().await;
    fake.with(|s| {
        s.issues = vec![
            issue(1, "New", &["vayu"], "open"),
            issue(2, "Done", &["vayu"], "open"),
        ];
        s.page_size = 1;
        // A secondary limit naming no time, then an outage, then
        // GraphQL's primary limit: each backed off and sent again.
        s.failing = vec![403, 502];
        s.graphql_limited = 1;
    });
    let gh = client(&fake);
    let opts = sync::Options {
        repo: "o/r".into(),
        label: "vayu".into(),
        close_on_complete: false,
        project: Some(3),
        discussions: None,
        dry_run: false,
        requester: Some("gh-sync".into()),
        as_agent: true,
    };
    let r = sync::run(&gh, &agent, &opts).await.expect("a pass");
    let id = github::issue_task_id("o/r", 1);
    assert_eq!((r.issues, r.created.clone()), (2, vec![(1, id.clone())]));
    let reqs = fake.requests();
    let count = |f: &dyn Fn(&Req) -> bool| reqs.iter().filter(|r| f(r)).count();
    let first = "/repos/o/r/issues?labels=vayu&state=all&per_page=100";
    assert_eq!(count(&|r| r.path == first), 3, "403, 502, then the page");
    assert_eq!(
        count(&|r| r.path == format!("{first}&page=2")),
        1,
        "Link's next page"
    );
    let looks = count(&|r| {
        r.body["query"]
            .as_str()
            .is_some_and(|q| q.contains("projectItems"))
    });
    assert_eq!(looks, 3, "two issues, one RATE_LIMITED asked again");
    assert_eq!(
        count(&|r| r.method == "PATCH"),
        0,
        "close_on_complete: false"
    );
    let statuses = fake.with(|s| s.project_status.clone());
    assert_eq!(
        statuses.get(&2).map(String::as_str),
        Some("Done"),
        "issue 2 was seen completed"
    );

    let made = w.read(&id).await;
    assert_eq!(made.value.requester.kind, RequesterType::Agent);
    assert_eq!(made.value.requester.id, "gh-sync");
    fake.clear();
    let again = sync::run(&gh, &agent, &opts).await.expect("pass 2");
    assert!(again.created.is_empty());
    assert_eq!(
        writes(&fake.requests()),
        Vec::<String>::new(),
        "nothing on GitHub"
    );
    assert_eq!(
        w.read(&id).await.update_time,
        made.update_time,
        "nor in Firestore"
    );
    w.done("an_agent_syncs_under_the_rules_through_pages_and_refusals");
}
