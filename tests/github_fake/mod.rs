//! A local fake of the GitHub endpoints vayu uses, answering with their
//! documented shapes (REST "Issues", "Issue comments", "Workflows",
//! "Workflow runs"; GraphQL `ProjectV2`, `createDiscussion`), and
//! recording every request so tests assert exactly what was sent.

use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use tokio::io::AsyncWriteExt;

/// One request as received.
#[derive(Debug, Clone)]
pub struct Req {
    pub method: String,
    /// The path with its query.
    pub path: String,
    pub body: Value,
    pub auth: String,
}

impl Req {
    /// Whether it changes something (GraphQL queries do not).
    pub fn writes(&self) -> bool {
        match self.method.as_str() {
            "GET" => false,
            _ if self.path == "/graphql" => self.body["query"]
                .as_str()
                .is_some_and(|q| q.trim_start().starts_with("mutation")),
            _ => true,
        }
    }
}

/// What the fake GitHub holds.
#[derive(Debug, Default)]
pub struct State {
    /// REST issue objects, as listed.
    pub issues: Vec<Value>,
    /// Per issue, its comments `{id, body}`.
    pub comments: BTreeMap<u64, Vec<Value>>,
    pub next_id: u64,
    /// The Status the project item of every issue shows.
    pub project_status: BTreeMap<u64, String>,
    /// Workflow runs, newest first.
    pub runs: Vec<Value>,
    /// The conclusion runs end with.
    pub conclusion: String,
    pub discussions: Vec<Value>,
    /// Answer this many next requests with a secondary rate limit.
    pub refuse: usize,
    /// Answer this many next requests with the primary limit spent, reset
    /// at `reset_at` (Unix seconds).
    pub spent: usize,
    pub reset_at: i64,
    /// Answer the next requests with these statuses, in order, naming no
    /// time: a 403 is a secondary limit without `retry-after`, a 5xx an
    /// outage.
    pub failing: Vec<u16>,
    /// Answer this many next GraphQL requests as its primary limit does:
    /// a 200 with an error of type `RATE_LIMITED`.
    pub graphql_limited: usize,
    /// Issues per page of the list (0: all on one), the next page named
    /// by a `Link: <...>; rel="next"` header.
    pub page_size: usize,
    /// The fake's own URL, for `Link` headers.
    pub base: String,
    pub requests: Vec<Req>,
}

#[derive(Clone)]
pub struct Fake {
    pub url: String,
    pub state: Arc<Mutex<State>>,
}

impl Fake {
    pub async fn start() -> Fake {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a local port is free");
        let url = format!("http://{}", listener.local_addr().expect("bound"));
        let state = Arc::new(Mutex::new(State {
            next_id: 1000,
            base: url.clone(),
            conclusion: "success".into(),
            ..State::default()
        }));
        let s = state.clone();
        tokio::spawn(async move {
            while let Ok((mut conn, _)) = listener.accept().await {
                let s = s.clone();
                tokio::spawn(async move {
                    let Some(req) = read(&mut conn).await else {
                        return;
                    };
                    let (status, headers, body) = {
                        let mut st = s.lock().expect("not poisoned");
                        st.requests.push(req.clone());
                        answer(&mut st, &req)
                    };
                    let text = if body.is_null() {
                        String::new()
                    } else {
                        body.to_string()
                    };
                    let out = format!(
                        "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\n{headers}content-length: {}\r\nconnection: close\r\n\r\n{text}",
                        text.len()
                    );
                    let _ = conn.write_all(out.as_bytes()).await;
                });
            }
        });
        Fake { url, state }
    }

    pub fn with<T>(&self, f: impl FnOnce(&mut State) -> T) -> T {
        f(&mut self.state.lock().expect("not poisoned"))
    }

    pub fn requests(&self) -> Vec<Req> {
        self.with(|s| s.requests.clone())
    }

    /// Forgets the requests so far.
    pub fn clear(&self) {
        self.with(|s| s.requests.clear());
    }
}

/// A REST issue as `GET /repos/{o}/{r}/issues` lists it.
pub fn issue(number: u64, title: &str, labels: &[&str], state: &str) -> Value {
    let labels: Vec<Value> = labels
        .iter()
        .map(|l| json!({ "id": 1, "name": l }))
        .collect();
    json!({
        "id": 5000 + number,
        "number": number,
        "title": title,
        "body": format!("body of {number}"),
        "state": state,
        "labels": labels,
        "milestone": { "number": 1, "title": "v1.0" },
        "html_url": format!("https://github.com/o/r/issues/{number}"),
    })
}

fn answer(st: &mut State, req: &Req) -> (u16, String, Value) {
    if st.refuse > 0 {
        st.refuse -= 1;
        let msg = "You have exceeded a secondary rate limit. Please wait a few minutes before you try again.";
        return (
            403,
            "retry-after: 1\r\nx-ratelimit-remaining: 4990\r\n".into(),
            json!({ "message": msg, "documentation_url": "https://docs.github.com/rest" }),
        );
    }
    if st.spent > 0 {
        st.spent -= 1;
        let headers = format!(
            "x-ratelimit-limit: 5000\r\nx-ratelimit-remaining: 0\r\nx-ratelimit-reset: {}\r\n",
            st.reset_at
        );
        return (
            403,
            headers,
            json!({ "message": "API rate limit exceeded for user ID 1." }),
        );
    }
    if !st.failing.is_empty() {
        let status = st.failing.remove(0);
        let msg = match status {
            403 => {
                "You have exceeded a secondary rate limit. Please wait a few minutes before you try again."
            }
            _ => "Server Error",
        };
        return (status, String::new(), json!({ "message": msg }));
    }
    if st.graphql_limited > 0 && req.path == "/graphql" {
        st.graphql_limited -= 1;
        let e =
            json!({ "type": "RATE_LIMITED", "message": "API rate limit exceeded for user ID 1." });
        return (200, String::new(), json!({ "errors": [e] }));
    }
    let path = req.path.split('?').next().unwrap_or("").to_string();
    let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let ok = |v: Value| (200, String::new(), v);
    match (req.method.as_str(), parts.as_slice()) {
        ("GET", ["repos", _, _, "issues"]) => page(st, &req.path),
        ("POST", ["repos", _, _, "issues"]) => {
            let n = st.issues.len() as u64 + 1;
            let labels: Vec<&str> = req.body["labels"]
                .as_array()
                .map(|ls| ls.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            let i = issue(n, req.body["title"].as_str().unwrap_or(""), &labels, "open");
            st.issues.push(i.clone());
            (201, String::new(), i)
        }
        ("PATCH", ["repos", _, _, "issues", n]) => {
            let n: u64 = n.parse().unwrap_or(0);
            let i = st.issues.iter_mut().find(|i| i["number"] == n);
            let i = i.expect("a known issue");
            i["state"] = req.body["state"].clone();
            ok(i.clone())
        }
        ("GET", ["repos", _, _, "issues", n, "comments"]) => {
            let n: u64 = n.parse().unwrap_or(0);
            ok(Value::Array(
                st.comments.get(&n).cloned().unwrap_or_default(),
            ))
        }
        ("POST", ["repos", _, _, "issues", n, "comments"]) => {
            st.next_id += 1;
            let c = json!({ "id": st.next_id, "body": req.body["body"] });
            let n: u64 = n.parse().unwrap_or(0);
            st.comments.entry(n).or_default().push(c.clone());
            (201, String::new(), c)
        }
        ("PATCH" | "DELETE", ["repos", _, _, "issues", "comments", id]) => {
            let id: u64 = id.parse().unwrap_or(0);
            for cs in st.comments.values_mut() {
                if req.method == "DELETE" {
                    cs.retain(|c| c["id"] != id);
                } else if let Some(c) = cs.iter_mut().find(|c| c["id"] == id) {
                    c["body"] = req.body["body"].clone();
                    return ok(c.clone());
                }
            }
            (204, String::new(), Value::Null)
        }
        ("POST", ["repos", o, r, "actions", "workflows", _, "dispatches"]) => {
            let id = 900 + st.runs.len() as u64;
            let title = req.body["inputs"]["vayu_task"]
                .as_str()
                .unwrap_or("CI")
                .to_string();
            let run = json!({
                "id": id,
                "status": "queued",
                "conclusion": null,
                "event": "workflow_dispatch",
                "head_branch": req.body["ref"],
                "display_title": title,
                "html_url": format!("https://github.com/{o}/{r}/actions/runs/{id}"),
            });
            st.runs.insert(0, run);
            (204, String::new(), Value::Null)
        }
        ("GET", ["repos", _, _, "actions", "workflows", _, "runs"]) => ok(json!({
            "total_count": st.runs.len(),
            "workflow_runs": st.runs,
        })),
        ("GET", ["repos", _, _, "actions", "runs", id]) => {
            let id: u64 = id.parse().unwrap_or(0);
            let conclusion = st.conclusion.clone();
            let run = st
                .runs
                .iter_mut()
                .find(|r| r["id"] == id)
                .expect("a known run");
            // Each look moves it on: queued, in_progress, completed.
            match run["status"].as_str() {
                Some("queued") => run["status"] = json!("in_progress"),
                _ => {
                    run["status"] = json!("completed");
                    run["conclusion"] = json!(conclusion);
                }
            }
            ok(run.clone())
        }
        ("POST", ["graphql"]) => ok(graphql(st, &req.body)),
        ("POST", ["app", "installations", _, "access_tokens"]) => (
            201,
            String::new(),
            json!({ "token": "ghs_installation", "expires_at": "2099-01-01T00:00:00Z" }),
        ),
        _ => (404, String::new(), json!({ "message": "Not Found" })),
    }
}

/// One page of the issues (`page=N` in `path`, from 1), and a `Link`
/// header naming the next when there is one.
fn page(st: &State, path: &str) -> (u16, String, Value) {
    if st.page_size == 0 {
        return (200, String::new(), Value::Array(st.issues.clone()));
    }
    let (first, n) = match path.split_once("&page=") {
        Some((first, n)) => (first, n.parse().unwrap_or(1)),
        None => (path, 1),
    };
    let from = (n - 1) * st.page_size;
    let items: Vec<Value> = st
        .issues
        .iter()
        .skip(from)
        .take(st.page_size)
        .cloned()
        .collect();
    let link = if from + st.page_size < st.issues.len() {
        let next = format!("{}{first}&page={}", st.base, n + 1);
        format!("link: <{next}>; rel=\"next\"\r\n")
    } else {
        String::new()
    };
    (200, link, Value::Array(items))
}

/// The project (number 3) every issue is an item of, and the
/// repository's discussions.
fn graphql(st: &mut State, body: &Value) -> Value {
    let q = body["query"].as_str().unwrap_or("");
    let v = &body["variables"];
    if q.contains("updateProjectV2ItemFieldValue") {
        let name = match v["option"].as_str() {
            Some("opt_todo") => "Todo",
            Some("opt_progress") => "In Progress",
            _ => "Done",
        };
        let item = v["item"].as_str().unwrap_or("");
        let n: u64 = item.trim_start_matches("PVTI_").parse().unwrap_or(0);
        st.project_status.insert(n, name.into());
        return json!({ "data": { "updateProjectV2ItemFieldValue": { "projectV2Item": { "id": item } } } });
    }
    if q.contains("projectItems") {
        let n = v["number"].as_u64().unwrap_or(0);
        let value = match st.project_status.get(&n) {
            Some(s) => json!({ "name": s }),
            None => json!({}),
        };
        return json!({ "data": { "repository": { "issue": { "projectItems": { "nodes": [{
            "id": format!("PVTI_{n}"),
            "project": {
                "id": "PVT_3",
                "number": 3,
                "field": { "id": "F_status", "options": [
                    { "id": "opt_todo", "name": "Todo" },
                    { "id": "opt_progress", "name": "In Progress" },
                    { "id": "opt_done", "name": "Done" },
                ] },
            },
            "fieldValueByName": value,
        }] } } } } });
    }
    if q.contains("createDiscussion") {
        let url = format!(
            "https://github.com/o/r/discussions/{}",
            st.discussions.len() + 1
        );
        st.discussions
            .push(json!({ "url": url, "body": v["body"] }));
        return json!({ "data": { "createDiscussion": { "discussion": { "url": url } } } });
    }
    if q.contains("discussionCategories") {
        return json!({ "data": { "repository": {
            "id": "R_1",
            "discussionCategories": { "nodes": [{ "id": "DIC_ideas", "name": "Ideas" }, { "id": "DIC_reports", "name": "Reports" }] },
            "discussions": { "nodes": st.discussions },
        } } });
    }
    json!({ "errors": [{ "message": "unknown query" }] })
}

/// One HTTP/1.1 request.
async fn read(conn: &mut tokio::net::TcpStream) -> Option<Req> {
    let (head, body) = crate::common::http::read_request(conn).await?;
    let mut first = head.lines().next()?.split(' ');
    let (method, path) = (first.next()?.to_string(), first.next()?.to_string());
    Some(Req {
        method,
        path,
        body: serde_json::from_slice(&body).unwrap_or(Value::Null),
        auth: crate::common::http::header(&head, "authorization"),
    })
}
