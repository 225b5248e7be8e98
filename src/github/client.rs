//! The GitHub REST and GraphQL client: the token and base URL from the
//! environment (the Actions conventions), and rate limits waited out.
//!
//! A refused request is sent again when GitHub's answer says it was a
//! limit: after `retry-after`, or at `x-ratelimit-reset` when
//! `x-ratelimit-remaining` is 0, or after a jittered backoff that grows
//! (a secondary limit that names no time, a 502-504). The waits of one
//! request add up to at most [`Limits::max_wait`]; past it the request
//! fails rather than hang a sync or an agent's handler.

use super::{Error, Result};
use crate::github::{Wait, rate_limit_wait};
use backon::BackoffBuilder as _;
use serde_json::Value;
use std::time::Duration;

/// `GITHUB_TOKEN`: the token (Actions sets it in a workflow).
pub const TOKEN: &str = "GITHUB_TOKEN";
/// `VAYU_GITHUB_TOKEN_FILE`: a file holding the token, when it is not in
/// the environment (a secret mounted as a file).
pub const TOKEN_FILE: &str = "VAYU_GITHUB_TOKEN_FILE";
/// `GITHUB_API_URL`: the REST base, GitHub Enterprise's `/api/v3` too.
pub const API_URL: &str = "GITHUB_API_URL";
/// `GITHUB_GRAPHQL_URL`: the GraphQL endpoint (Actions sets it); derived
/// from the REST base otherwise.
pub const GRAPHQL_URL: &str = "GITHUB_GRAPHQL_URL";

/// How long a request may wait out limits.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// All waits of one request together.
    pub max_wait: Duration,
    /// The first backoff when GitHub names no time: a minute, as its
    /// docs ask for a secondary limit.
    pub min_backoff: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_wait: Duration::from_secs(15 * 60),
            min_backoff: Duration::from_secs(60),
        }
    }
}

/// One GitHub API, authenticated.
#[derive(Clone)]
pub struct GitHub {
    http: reqwest::Client,
    base: String,
    graphql: String,
    auth: Auth,
    pub limits: Limits,
}

/// Where the bearer token comes from.
#[derive(Clone)]
enum Auth {
    Token(String),
    App(std::sync::Arc<super::app::App>),
}

impl std::fmt::Debug for GitHub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the token.
        write!(f, "GitHub({})", self.base)
    }
}

/// What one request got back.
pub struct Answer {
    pub status: u16,
    pub body: Value,
    /// The `Link` header's `rel="next"` URL: the next page.
    pub next: Option<String>,
}

impl GitHub {
    /// A client of `base` (no trailing slash) with `token`.
    pub fn new(base: &str, graphql: Option<&str>, token: &str) -> Result<Self> {
        let base = base.trim_end_matches('/').to_string();
        let graphql = match graphql {
            Some(g) => g.to_string(),
            // GitHub Enterprise: https://HOST/api/v3 and https://HOST/api/graphql.
            None => match base.strip_suffix("/api/v3") {
                Some(host) => format!("{host}/api/graphql"),
                None => format!("{base}/graphql"),
            },
        };
        let http = reqwest::Client::builder()
            .user_agent(concat!("vayu/", env!("CARGO_PKG_VERSION")))
            .timeout(Duration::from_secs(60))
            .build()
            .map_err(|e| Error::Config(format!("GitHub client: {e}")))?;
        Ok(GitHub {
            http,
            base,
            graphql,
            auth: Auth::Token(token.trim().to_string()),
            limits: Limits::default(),
        })
    }

    /// `self` authenticated as a GitHub App installation instead.
    pub fn with_app(mut self, app: super::app::App) -> Self {
        self.auth = Auth::App(std::sync::Arc::new(app));
        self
    }

    /// From `GITHUB_TOKEN` (or `VAYU_GITHUB_TOKEN_FILE`, or a GitHub App:
    /// `super::app`), `GITHUB_API_URL` and `GITHUB_GRAPHQL_URL`; no
    /// credentials is a configuration error.
    pub fn from_env() -> Result<Self> {
        let var = |n| {
            std::env::var(n)
                .ok()
                .filter(|v: &String| !v.trim().is_empty())
        };
        let base = var(API_URL).unwrap_or_else(|| "https://api.github.com".into());
        let graphql = var(GRAPHQL_URL);
        let token = match (var(TOKEN), var(TOKEN_FILE)) {
            (Some(t), _) => t,
            (None, Some(f)) => std::fs::read_to_string(&f)
                .map_err(|e| Error::Config(format!("{TOKEN_FILE}={f}: {e}")))?,
            (None, None) => {
                let Some(app) = super::app::App::from_env()? else {
                    return Err(Error::Config(format!(
                        "no GitHub credentials: set {TOKEN}, {TOKEN_FILE} or {} (README, \"GitHub\")",
                        super::app::APP_ID
                    )));
                };
                return Ok(GitHub::new(&base, graphql.as_deref(), "")?.with_app(app));
            }
        };
        GitHub::new(&base, graphql.as_deref(), &token)
    }

    /// The bearer token of the next request.
    async fn bearer(&self) -> Result<String> {
        match &self.auth {
            Auth::Token(t) => Ok(t.clone()),
            Auth::App(app) => app.token(&self.http, &self.base).await,
        }
    }

    /// `method` on `path` (from the base, `/repos/...`), or on a full URL
    /// (a `Link` header's next page). A 4xx/5xx that is no limit is an
    /// error with GitHub's message.
    pub async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Answer> {
        let url = if path.starts_with("http") {
            path.to_string()
        } else {
            format!("{}{path}", self.base)
        };
        let a = self.with_limits(method, &url, body).await?;
        if a.status >= 400 {
            let msg = a.body.get("message").and_then(Value::as_str).unwrap_or("");
            return Err(Error::GitHub(format!("{url}: {} {msg}", a.status)));
        }
        Ok(a)
    }

    /// The body of a successful `method` on `path`.
    pub async fn rest(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Value> {
        Ok(self.send(method, path, body).await?.body)
    }

    /// Every page of a list (`per_page=100` is the caller's), following
    /// the `Link` header.
    pub async fn list(&self, path: &str) -> Result<Vec<Value>> {
        let mut out = Vec::new();
        let mut next = Some(path.to_string());
        while let Some(p) = next {
            let a = self.send(reqwest::Method::GET, &p, None).await?;
            if let Value::Array(items) = a.body {
                out.extend(items);
            }
            next = a.next;
        }
        Ok(out)
    }

    /// A GraphQL query or mutation; its `data`. GraphQL's `errors` are
    /// an error even with a 200.
    pub async fn graphql(&self, query: &str, variables: Value) -> Result<Value> {
        let body = serde_json::json!({ "query": query, "variables": variables });
        let url = self.graphql.clone();
        let a = self
            .with_limits(reqwest::Method::POST, &url, Some(&body))
            .await?;
        if a.status >= 400 || a.body.get("errors").is_some_and(|e| !e.is_null()) {
            return Err(Error::GitHub(format!("GraphQL: {} {}", a.status, a.body)));
        }
        Ok(a.body.get("data").cloned().unwrap_or(Value::Null))
    }

    /// Sends until the answer is no rate limit, or the waits would pass
    /// `max_wait`.
    async fn with_limits(
        &self,
        method: reqwest::Method,
        url: &str,
        body: Option<&Value>,
    ) -> Result<Answer> {
        let mut backoff = backon::ExponentialBuilder::default()
            .with_min_delay(self.limits.min_backoff)
            .with_max_delay(self.limits.max_wait)
            .with_jitter()
            .without_max_times()
            .build();
        let mut waited = Duration::ZERO;
        loop {
            let (a, wait) = self.once(method.clone(), url, body).await?;
            let pause = match wait {
                Wait::No => return Ok(a),
                Wait::Secs(s) => Duration::from_secs(s),
                // Endless (without_max_times): the cap below ends it.
                Wait::Backoff => backoff.next().unwrap_or(self.limits.max_wait),
            };
            if waited + pause > self.limits.max_wait {
                return Err(Error::GitHub(format!(
                    "{url}: still rate limited ({}) after waiting {}s; the next wait ({}s) passes the cap",
                    a.status,
                    waited.as_secs(),
                    pause.as_secs()
                )));
            }
            tracing::warn!(%url, status = a.status, wait_secs = pause.as_secs_f64(), "GitHub rate limit: waiting");
            eprintln!(
                "GitHub rate limit ({}): waiting {:.1}s",
                a.status,
                pause.as_secs_f64()
            );
            tokio::time::sleep(pause).await;
            waited += pause;
        }
    }

    /// One request and what its answer asks.
    async fn once(
        &self,
        method: reqwest::Method,
        url: &str,
        body: Option<&Value>,
    ) -> Result<(Answer, Wait)> {
        let mut req = self
            .http
            .request(method, url)
            .bearer_auth(self.bearer().await?)
            .header("accept", "application/vnd.github+json")
            .header("x-github-api-version", "2022-11-28");
        if let Some(b) = body {
            req = req.json(b);
        }
        let resp = match req.send().await {
            Ok(r) => r,
            // Unreachable: as a 503, backed off within the cap.
            Err(e) if e.is_connect() || e.is_timeout() => {
                let a = Answer {
                    status: 503,
                    body: Value::String(e.to_string()),
                    next: None,
                };
                return Ok((a, Wait::Backoff));
            }
            Err(e) => return Err(Error::GitHub(format!("{url}: {e}"))),
        };
        let status = resp.status().as_u16();
        let h = resp.headers();
        let header = |n: &str| h.get(n).and_then(|v| v.to_str().ok()).map(str::to_string);
        let (retry_after, remaining, reset) = (
            header("retry-after"),
            header("x-ratelimit-remaining"),
            header("x-ratelimit-reset"),
        );
        let next = header("link").and_then(|l| next_link(&l));
        let text = resp.text().await.unwrap_or_default();
        let limited_text = text.to_ascii_lowercase().contains("rate limit");
        // GraphQL's primary limit may answer 200 with an error of type
        // RATE_LIMITED: a refusal like REST's 403.
        let refused = match status {
            200 if text.contains("\"RATE_LIMITED\"") => 403,
            s => s,
        };
        let now = jiff::Timestamp::now().as_second();
        let wait = rate_limit_wait(
            refused,
            retry_after.as_deref(),
            remaining.as_deref(),
            reset.as_deref(),
            now,
            limited_text,
        );
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        Ok((Answer { status, body, next }, wait))
    }
}

/// The `rel="next"` URL of a `Link` header.
fn next_link(link: &str) -> Option<String> {
    link.split(',').find_map(|part| {
        let (url, rel) = part.split_once(';')?;
        rel.contains("rel=\"next\"").then(|| {
            url.trim()
                .trim_start_matches('<')
                .trim_end_matches('>')
                .to_string()
        })
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_next_page_is_read_from_link() {
        let l = "<https://api.github.com/repositories/1/issues?page=2>; rel=\"next\", \
                 <https://api.github.com/repositories/1/issues?page=5>; rel=\"last\"";
        assert_eq!(
            super::next_link(l).as_deref(),
            Some("https://api.github.com/repositories/1/issues?page=2")
        );
        assert_eq!(super::next_link("<https://x?page=1>; rel=\"prev\""), None);
    }

    #[test]
    fn enterprise_graphql_is_beside_its_rest_base() {
        let g = super::GitHub::new("https://ghe.example/api/v3/", None, "t").expect("builds");
        assert_eq!(g.graphql, "https://ghe.example/api/graphql");
        let g = super::GitHub::new("https://api.github.com", None, "t").expect("builds");
        assert_eq!(g.graphql, "https://api.github.com/graphql");
    }
}
