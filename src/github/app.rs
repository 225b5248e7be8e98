//! GitHub App credentials: the App's id, its private key (a PEM file) and
//! the installation's id, from the environment. The client signs a JWT
//! with the key (RS256, ten minutes at most, as GitHub asks) and trades it
//! for an installation token (`POST /app/installations/{id}/access_tokens`),
//! kept until five minutes before it expires, then traded again: a
//! long-running `vayu-agent --github-sync` outlives many tokens.

use super::{Error, Result};
use serde::Serialize;
use serde_json::Value;
use tokio::sync::Mutex;

/// `VAYU_GITHUB_APP_ID`: the App's id (or its client id).
pub const APP_ID: &str = "VAYU_GITHUB_APP_ID";
/// `VAYU_GITHUB_APP_KEY_FILE`: the App's private key, PEM.
pub const APP_KEY_FILE: &str = "VAYU_GITHUB_APP_KEY_FILE";
/// `VAYU_GITHUB_APP_INSTALLATION_ID`: its installation on the repository.
pub const APP_INSTALLATION: &str = "VAYU_GITHUB_APP_INSTALLATION_ID";

/// An App installation, and its current token.
pub struct App {
    id: String,
    installation: String,
    key: jsonwebtoken::EncodingKey,
    token: Mutex<Option<(String, i64)>>,
}

impl std::fmt::Debug for App {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the key or the token.
        write!(f, "App({}, installation {})", self.id, self.installation)
    }
}

impl App {
    pub fn new(id: &str, installation: &str, pem: &[u8]) -> Result<App> {
        let key = jsonwebtoken::EncodingKey::from_rsa_pem(pem)
            .map_err(|e| Error::Config(format!("{APP_KEY_FILE}: not an RSA private key: {e}")))?;
        Ok(App {
            id: id.trim().to_string(),
            installation: installation.trim().to_string(),
            key,
            token: Mutex::new(None),
        })
    }

    /// From the three variables, when `VAYU_GITHUB_APP_ID` is set.
    pub fn from_env() -> Result<Option<App>> {
        let var = |n: &str| std::env::var(n).ok().filter(|v| !v.trim().is_empty());
        let Some(id) = var(APP_ID) else {
            return Ok(None);
        };
        let (Some(file), Some(inst)) = (var(APP_KEY_FILE), var(APP_INSTALLATION)) else {
            return Err(Error::Config(format!(
                "{APP_ID} needs {APP_KEY_FILE} and {APP_INSTALLATION} too"
            )));
        };
        let pem = std::fs::read(&file).map_err(|e| Error::Config(format!("{file}: {e}")))?;
        App::new(&id, &inst, &pem).map(Some)
    }

    /// The App's JWT at `now` (Unix seconds): issued a minute back for
    /// clock drift, expiring in nine minutes (GitHub allows ten).
    pub fn jwt(&self, now: i64) -> Result<String> {
        #[derive(Serialize)]
        struct Claims<'a> {
            iat: i64,
            exp: i64,
            iss: &'a str,
        }
        let claims = Claims {
            iat: now - 60,
            exp: now + 540,
            iss: &self.id,
        };
        let header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
        jsonwebtoken::encode(&header, &claims, &self.key)
            .map_err(|e| Error::Config(format!("signing the App's JWT: {e}")))
    }

    /// A valid installation token, traded for anew when it has less than
    /// five minutes left.
    pub async fn token(&self, http: &reqwest::Client, base: &str) -> Result<String> {
        let now = jiff::Timestamp::now().as_second();
        let mut held = self.token.lock().await;
        if let Some((t, expires)) = held.as_ref()
            && *expires > now + 300
        {
            return Ok(t.clone());
        }
        let url = format!(
            "{base}/app/installations/{}/access_tokens",
            self.installation
        );
        let resp = http
            .post(&url)
            .bearer_auth(self.jwt(now)?)
            .header("accept", "application/vnd.github+json")
            .header("x-github-api-version", "2022-11-28")
            .send()
            .await
            .map_err(|e| Error::GitHub(format!("{url}: {e}")))?;
        let status = resp.status().as_u16();
        let body: Value = resp.json().await.unwrap_or_default();
        let token = body.get("token").and_then(Value::as_str);
        let (Some(token), 201 | 200) = (token, status) else {
            return Err(Error::GitHub(format!(
                "{url}: {status} {}",
                body["message"]
            )));
        };
        let expires = body
            .get("expires_at")
            .and_then(Value::as_str)
            .and_then(|e| e.parse::<jiff::Timestamp>().ok())
            .map_or(now + 3600, |t| t.as_second());
        *held = Some((token.to_string(), expires));
        Ok(token.to_string())
    }
}
