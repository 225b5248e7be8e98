//! The two Firebase Auth REST calls vayu makes: exchanging a custom token
//! and refreshing an ID token. Plain REST over `reqwest`, because the only
//! Firebase SDKs that make these calls are not Rust.

use super::auth::SharedToken;
use super::endpoints::Endpoints;
use crate::error::{Error, Result};
use serde::Deserialize;
use serde_json::{Value, json};
use std::time::Duration;

/// An ID token with what renews it.
#[derive(Clone)]
pub struct Session {
    pub id_token: String,
    pub refresh_token: String,
    /// How long the ID token is good for, from when it was issued.
    pub expires_in: Duration,
    pub uid: Option<String>,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Tokens are secrets: never in logs.
        f.debug_struct("Session")
            .field("uid", &self.uid)
            .field("expires_in", &self.expires_in)
            .finish_non_exhaustive()
    }
}

/// A client of the two Firebase Auth REST calls vayu needs.
#[derive(Clone, Debug)]
pub struct AuthClient {
    http: reqwest::Client,
    endpoints: Endpoints,
    api_key: String,
}

impl AuthClient {
    pub fn new(endpoints: Endpoints, api_key: impl Into<String>) -> Result<Self> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(20))
            .build()
            .map_err(|e| Error::Config(format!("building the HTTP client: {e}")))?;
        Ok(AuthClient {
            http,
            endpoints,
            api_key: api_key.into(),
        })
    }

    pub fn endpoints(&self) -> &Endpoints {
        &self.endpoints
    }

    /// Identity Toolkit `accounts:signInWithCustomToken`: a custom token
    /// for an ID token and a refresh token. Creates the user on first use.
    pub async fn sign_in_with_custom_token(&self, custom_token: &str) -> Result<Session> {
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Resp {
            id_token: String,
            refresh_token: String,
            expires_in: String,
        }
        let url = format!(
            "{}/accounts:signInWithCustomToken",
            self.endpoints.identitytoolkit
        );
        let req = self
            .http
            .post(&url)
            .query(&[("key", self.api_key.as_str())])
            .json(&json!({"token": custom_token, "returnSecureToken": true}));
        let r: Resp = send(req, &url).await?;
        Ok(Session {
            uid: SharedToken::new(r.id_token.clone()).uid(),
            expires_in: parse_secs(&r.expires_in),
            id_token: r.id_token,
            refresh_token: r.refresh_token,
        })
    }

    /// Secure Token `token` with `grant_type=refresh_token`: a fresh ID
    /// token (with the same custom claims) for a refresh token.
    pub async fn refresh(&self, refresh_token: &str) -> Result<Session> {
        #[derive(Deserialize)]
        struct Resp {
            id_token: String,
            refresh_token: String,
            expires_in: String,
            #[serde(default)]
            user_id: Option<String>,
        }
        let url = format!("{}/token", self.endpoints.securetoken);
        let req = self
            .http
            .post(&url)
            .query(&[("key", self.api_key.as_str())])
            .form(&[
                ("grant_type", "refresh_token"),
                ("refresh_token", refresh_token),
            ]);
        let r: Resp = send(req, &url).await?;
        Ok(Session {
            uid: r
                .user_id
                .or_else(|| SharedToken::new(r.id_token.clone()).uid()),
            expires_in: parse_secs(&r.expires_in),
            id_token: r.id_token,
            refresh_token: r.refresh_token,
        })
    }
}

fn parse_secs(s: &str) -> Duration {
    Duration::from_secs(s.trim().parse::<u64>().unwrap_or(3600))
}

/// Sends a request and decodes the JSON answer; Google's error body says
/// why a refusal happened (`INVALID_CUSTOM_TOKEN`, `TOKEN_EXPIRED`, ...).
async fn send<T: serde::de::DeserializeOwned>(
    req: reqwest::RequestBuilder,
    url: &str,
) -> Result<T> {
    let unavailable = |detail: String| Error::Unavailable {
        endpoint: url.to_string(),
        detail,
    };
    let resp = req.send().await.map_err(|e| unavailable(e.to_string()))?;
    let status = resp.status();
    let body = resp.text().await.map_err(|e| unavailable(e.to_string()))?;
    if status.is_server_error() {
        return Err(unavailable(format!("{status}: {body}")));
    }
    if !status.is_success() {
        let reason = serde_json::from_str::<Value>(&body)
            .ok()
            .and_then(|v| v["error"]["message"].as_str().map(str::to_string))
            .unwrap_or(body);
        return Err(Error::PermissionDenied(format!(
            "Firebase Auth refused the sign-in ({status}): {reason}"
        )));
    }
    serde_json::from_str(&body).map_err(|e| unavailable(format!("unexpected answer: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_stay_out_of_debug_output() {
        let s = Session {
            id_token: "ID-SECRET".into(),
            refresh_token: "REFRESH-SECRET".into(),
            expires_in: Duration::from_secs(1),
            uid: Some("u".into()),
        };
        let shown = format!("{s:?}");
        assert!(!shown.contains("SECRET"), "{shown}");
    }
}
