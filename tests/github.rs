//! GitHub integration (issue 18) against a local fake of GitHub's REST and
//! GraphQL endpoints (`github_fake`) and the real Firestore emulator:
//! issue -> task -> run -> comment -> issue closed, syncs that write
//! nothing the second time, a secondary rate limit waited out, the
//! Projects Status update, a `ci` task waiting for its workflow run, and
//! `task create --github`; the command's own checks and a pass as an
//! agent under the rules in `github_edges`.

mod common;
mod github_edges;
mod github_fake;
mod rules_support;

use common::fleet::{self, Fleet, fast_agent, shell};
use github_fake::{Fake, Req, issue};
use serde_json::json;
use std::time::{Duration, Instant};
use vayu::github::{self, GitHub, sync};
use vayu::lifecycle::Status;
use vayu::model::{Priority, TaskType};

fn client(fake: &Fake) -> GitHub {
    let mut gh = GitHub::new(&fake.url, None, "tok-123").expect("a client builds");
    gh.limits.min_backoff = Duration::from_millis(20);
    gh
}

fn options() -> sync::Options {
    sync::Options {
        repo: "o/r".into(),
        label: "vayu".into(),
        close_on_complete: true,
        project: Some(3),
        discussions: Some("Reports".into()),
        dry_run: false,
        requester: None,
        as_agent: false,
    }
}

fn writes(reqs: &[Req]) -> Vec<String> {
    reqs.iter()
        .filter(|r| r.writes())
        .map(|r| format!("{} {} {}", r.method, r.path, r.body))
        .collect()
}

fn marked(fake: &Fake, n: u64) -> Vec<String> {
    fake.with(|s| {
        s.comments
            .get(&n)
            .into_iter()
            .flatten()
            .filter_map(|c| c["body"].as_str().map(str::to_string))
            .filter(|b| github::marked_task(b).is_some())
            .collect()
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_issue_becomes_a_task_that_reports_back_and_closes_it() {
    let (cfg, store) = fleet::setup("github-sync").await;
    let fake = Fake::start().await;
    let gh = client(&fake);
    fake.with(|s| {
        s.issues = vec![
            issue(
                1,
                "Fix the parser",
                &["vayu", "priority:high", "bug"],
                "open",
            ),
            issue(4, "Old and done", &["vayu"], "closed"),
        ];
        let mut pr = issue(3, "A pull request", &["vayu"], "open");
        pr["pull_request"] = json!({ "url": "https://api.github.com/repos/o/r/pulls/3" });
        s.issues.push(pr);
        // A secondary limit on the first request, to be waited out.
        s.refuse = 1;
    });
    let opts = options();

    // A dry run says what it would do, and writes nothing anywhere.
    let dry = sync::Options {
        dry_run: true,
        ..options()
    };
    fake.with(|s| s.refuse = 0);
    let r = sync::run(&gh, &store, &dry).await.expect("a dry run");
    let id = github::issue_task_id("o/r", 1);
    assert_eq!(
        (r.created.clone(), r.dry_run),
        (vec![(1, id.clone())], true)
    );
    assert_eq!(writes(&fake.requests()), Vec::<String>::new());
    assert!(store.find_task(&id).await.expect("reads").is_none());
    fake.with(|s| s.refuse = 1);
    fake.clear();

    // Two passes at once (two machines): one task, the limit waited out.
    let t0 = Instant::now();
    let (a, b) = tokio::join!(sync::run(&gh, &store, &opts), sync::run(&gh, &store, &opts));
    let (a, b) = (a.expect("pass a"), b.expect("pass b"));
    assert!(
        t0.elapsed() >= Duration::from_secs(1),
        "retry-after: 1 was honoured"
    );
    let reqs = fake.requests();
    let listed: Vec<&Req> = reqs
        .iter()
        .filter(|r| r.path.contains("/issues?"))
        .collect();
    assert_eq!(listed.len(), 3, "two lists and the refused one again");
    assert_eq!(
        listed[0].path, "/repos/o/r/issues?labels=vayu&state=all&per_page=100",
        "the label filter"
    );
    assert!(reqs.iter().all(|r| r.auth == "Bearer tok-123"), "the token");
    let created: Vec<_> = a.created.iter().chain(&b.created).cloned().collect();
    assert_eq!(created, [(1, id.clone())], "one task for the two passes");
    assert_eq!(a.issues, 2, "the pull request is no issue");
    let t = fleet::read_task(&store, &id).await.value;
    assert_eq!(t.title, "Fix the parser");
    assert_eq!(t.input, "body of 1");
    assert_eq!(t.priority, Priority::High);
    assert_eq!(t.task_type, TaskType::UserRequest);
    assert_eq!(t.metadata.tags, ["gh:bug", "milestone:v1.0"]);
    assert_eq!(t.requester.context, "https://github.com/o/r/issues/1");
    assert!(
        store
            .find_task(&github::issue_task_id("o/r", 4))
            .await
            .expect("reads")
            .is_none(),
        "a closed issue with no task gets none"
    );

    // A third pass heals a comment the two posted at once; then a fourth
    // writes nothing at all.
    sync::run(&gh, &store, &opts).await.expect("pass 3");
    assert_eq!(
        marked(&fake, 1),
        [github::comment_body(&t)],
        "one comment, queued"
    );
    assert_eq!(
        fake.with(|s| s.project_status.get(&1).cloned()),
        Some("Todo".into())
    );
    fake.clear();
    let r = sync::run(&gh, &store, &opts).await.expect("pass 4");
    assert_eq!(
        writes(&fake.requests()),
        Vec::<String>::new(),
        "nothing written"
    );
    assert!(r.created.is_empty() && r.comments_posted + r.comments_edited == 0);

    // The task runs; the next pass edits the comment, sets Done, closes.
    let agent = fast_agent("gh-a1", shell("echo vayu:result parsed with tabs"));
    let fleet_ = Fleet::start(&cfg, vec![agent]).await;
    let done = fleet::wait_completed(&store, &id, Duration::from_secs(30))
        .await
        .value;
    fleet_.stop().await;
    let cid = fake.with(|s| s.comments[&1][0]["id"].clone());
    fake.clear();
    let r = sync::run(&gh, &store, &opts).await.expect("pass 5");
    assert_eq!((r.comments_edited, r.closed.clone()), (1, vec![1]));
    let body = github::comment_body(&done);
    assert!(
        body.contains("is **completed**") && body.contains("parsed with tabs"),
        "{body}"
    );
    let update = json!({
        "project": "PVT_3", "item": "PVTI_1", "field": "F_status", "option": "opt_done",
    });
    assert_eq!(
        writes(&fake.requests()),
        [
            format!(
                "PATCH /repos/o/r/issues/comments/{cid} {}",
                json!({ "body": body })
            ),
            format!(
                "POST /graphql {}",
                json!({ "query": github::projects::UPDATE, "variables": update })
            ),
            format!(
                "PATCH /repos/o/r/issues/1 {}",
                json!({ "state": "closed", "state_reason": "completed" })
            ),
        ],
        "the exact writes"
    );
    fake.clear();
    sync::run(&gh, &store, &opts).await.expect("pass 6");
    assert_eq!(writes(&fake.requests()), Vec::<String>::new(), "settled");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_ci_task_dispatches_a_workflow_and_ends_as_its_run_did() {
    let (cfg, store) = fleet::setup("github-ci").await;
    let fake = Fake::start().await;
    let handler = format!(
        "GITHUB_TOKEN=tok-ci GITHUB_API_URL={} {} github ci --repo o/r --workflow ci.yml --task-input --poll-secs 0.05",
        fake.url,
        env!("CARGO_BIN_EXE_vayu")
    );
    // The ci type's own handler, beside a default for the rest.
    let mut handlers = shell("echo vayu:result not ci");
    handlers.by_type.insert(TaskType::Ci, handler);
    let fleet_ = Fleet::start(&cfg, vec![fast_agent("gh-ci", handlers)]).await;
    let input = r#"{"ref": "release", "inputs": {"suite": "full"}}"#;
    let id = fleet::create_with_input(&store, TaskType::Ci, "CI", input, 0).await;
    let t = fleet::wait_ended(&store, &id, Duration::from_secs(60)).await;
    assert_eq!(t.status, Status::Completed, "{:?}", t.execution);
    let run_url = "https://github.com/o/r/actions/runs/900";
    let artifacts: Vec<_> = t
        .execution
        .artifacts
        .iter()
        .map(|a| (&*a.name, &*a.uri))
        .collect();
    assert_eq!(artifacts, [("run", run_url)]);
    assert_eq!(
        t.execution.result.as_deref(),
        Some("ci.yml run 900: success")
    );
    let reqs = fake.requests();
    let dispatch = reqs
        .iter()
        .find(|r| r.method == "POST")
        .expect("dispatched");
    assert_eq!(
        dispatch.path,
        "/repos/o/r/actions/workflows/ci.yml/dispatches"
    );
    assert_eq!(
        dispatch.body,
        json!({ "ref": "release", "inputs": { "suite": "full", "vayu_task": id } })
    );
    assert!(reqs.iter().all(|r| r.auth == "Bearer tok-ci"));
    let polls = reqs
        .iter()
        .filter(|r| r.path == "/repos/o/r/actions/runs/900")
        .count();
    assert_eq!(polls, 2, "waited through in_progress to completed");
    let find = reqs
        .iter()
        .find(|r| r.path.contains("/runs?"))
        .expect("looked");
    assert!(
        find.path
            .contains("event=workflow_dispatch&branch=release&created=%3E%3D")
    );

    // A failed run fails the task.
    fake.with(|s| s.conclusion = "failure".into());
    let id = fleet::create_with_input(&store, TaskType::Ci, "CI 2", "{}", 0).await;
    let t = fleet::wait_ended(&store, &id, Duration::from_secs(60)).await;
    fleet_.stop().await;
    assert_eq!(t.status, Status::Failed);
    assert_eq!(
        t.execution.result.as_deref(),
        Some("ci.yml run 901: failure")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn task_create_github_opens_the_issue_sync_follows_and_research_goes_to_discussions() {
    let (cfg, store) = fleet::setup("github-create").await;
    let fake = Fake::start().await;
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_vayu"))
        .args([
            "task", "create", "--github", "o/r", "--type", "research", "--json",
        ])
        .arg("Survey parsers")
        .env(
            "FIRESTORE_EMULATOR_HOST",
            cfg.emulator_host.clone().unwrap_or_default(),
        )
        .env("VAYU_DATABASE", &cfg.database_id)
        .env("GITHUB_TOKEN", "tok-cli")
        .env("GITHUB_API_URL", &fake.url)
        .env_remove("VAYU_PROJECT")
        .env_remove("VAYU_TOKEN")
        .output()
        .expect("vayu runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let printed: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let id = github::issue_task_id("o/r", 1);
    assert_eq!(printed["task_id"], json!(id), "the issue's task id");
    let opened = fake.requests();
    assert_eq!(opened[0].method, "POST");
    assert_eq!(opened[0].path, "/repos/o/r/issues");
    assert_eq!(opened[0].body["labels"], json!(["vayu"]));
    assert_eq!(opened[0].body["title"], json!("Survey parsers"));

    let agent = fast_agent("gh-r1", shell("echo vayu:result three parsers compared"));
    let fleet_ = Fleet::start(&cfg, vec![agent]).await;
    fleet::wait_completed(&store, &id, Duration::from_secs(30)).await;
    fleet_.stop().await;
    let gh = client(&fake);
    let r = sync::run(&gh, &store, &options()).await.expect("sync");
    assert!(r.created.is_empty(), "the task was made with the issue");
    assert_eq!(r.discussions, [1]);
    let posted = fake.with(|s| s.discussions.clone());
    assert_eq!(posted.len(), 1);
    assert!(
        posted[0]["body"]
            .as_str()
            .is_some_and(|b| b.contains("three parsers compared"))
    );
    let create = fake
        .requests()
        .into_iter()
        .find(|r| {
            r.body["query"]
                .as_str()
                .is_some_and(|q| q.contains("createDiscussion"))
        })
        .expect("created");
    assert_eq!(create.body["variables"]["category"], json!("DIC_reports"));
    assert_eq!(
        create.body["variables"]["title"],
        json!("Research: Survey parsers")
    );
    fake.clear();
    let r = sync::run(&gh, &store, &options())
        .await
        .expect("sync again");
    assert!(r.discussions.is_empty(), "posted once");
    assert_eq!(writes(&fake.requests()), Vec::<String>::new());
}

#[tokio::test]
async fn an_app_trades_its_signed_jwt_for_an_installation_token_once() {
    let dir = tempfile::tempdir().expect("a temp dir");
    let key = dir.path().join("app.pem");
    let public = common::http::rsa_key(&key).expect("openssl makes a key (.ci/run installs it)");
    let fake = Fake::start().await;
    let pem = std::fs::read(&key).expect("written");
    let app = github::app::App::new("123456", "77", &pem).expect("an RSA key");
    let gh = GitHub::new(&fake.url, None, "")
        .expect("builds")
        .with_app(app);
    for _ in 0..2 {
        gh.list("/repos/o/r/issues?labels=vayu&state=all&per_page=100")
            .await
            .expect("lists");
    }
    let reqs = fake.requests();
    let paths: Vec<&str> = reqs.iter().map(|r| r.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "/app/installations/77/access_tokens",
            "/repos/o/r/issues?labels=vayu&state=all&per_page=100",
            "/repos/o/r/issues?labels=vayu&state=all&per_page=100",
        ],
        "one trade for both requests"
    );
    let jwt = reqs[0].auth.strip_prefix("Bearer ").expect("a bearer JWT");
    let decoding =
        jsonwebtoken::DecodingKey::from_rsa_pem(public.as_bytes()).expect("a public key");
    let mut v = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
    v.required_spec_claims = ["exp", "iat", "iss"].map(String::from).into();
    v.set_issuer(&["123456"]);
    let claims = jsonwebtoken::decode::<serde_json::Value>(jwt, &decoding, &v)
        .expect("signed by the App's key")
        .claims;
    let life = claims["exp"].as_i64().unwrap_or(0) - claims["iat"].as_i64().unwrap_or(0);
    assert!(life <= 600, "GitHub takes ten minutes at most: {life}");
    assert!(
        reqs[1..]
            .iter()
            .all(|r| r.auth == "Bearer ghs_installation")
    );
}

#[tokio::test]
async fn the_primary_limit_is_waited_out_to_its_reset_and_no_wait_passes_the_cap() {
    let fake = Fake::start().await;
    let mut gh = client(&fake);
    let list = "/repos/o/r/issues?labels=vayu&state=all&per_page=100";
    let reset = jiff::Timestamp::now().as_second() + 2;
    fake.with(|s| (s.spent, s.reset_at) = (1, reset));
    gh.list(list).await.expect("waited out");
    assert!(
        jiff::Timestamp::now().as_second() >= reset,
        "not sent again before x-ratelimit-reset"
    );
    assert_eq!(fake.requests().len(), 2, "refused, then sent again");

    // A wait past the cap fails at once, with exit 11, instead of hanging.
    gh.limits.max_wait = Duration::from_millis(500);
    fake.with(|s| s.refuse = 1);
    let t0 = Instant::now();
    let e = gh.list(list).await.expect_err("over the cap");
    assert!(t0.elapsed() < Duration::from_millis(500), "no wait at all");
    assert!(matches!(e, vayu::Error::GitHub(_)), "{e}");
    assert_eq!(vayu::cli::Failure::from(e).code, 11);
}
