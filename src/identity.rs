//! Who agents and people are: Firebase Auth users, so that
//! `firestore.rules` judges every write they make.
//!
//! An agent's Firebase uid is its agent id, and its ID token carries the
//! custom claim `agent: true`; the rules let only such users claim tasks,
//! hold leases and write `agents/{uid}`. People are any other signed-in
//! user; `role: "admin"` / `role: "reviewer"` claims widen what they may do
//! (see `firestore.rules`).
//!
//! Where the ID token comes from ([`Source`]):
//! - [`Source::Emulator`]: an unsigned token minted locally. The Firestore
//!   emulator accepts it as a signed-in user; production never does. For
//!   tests, the demo and `vayu-agent` on the emulator.
//! - [`Source::RefreshToken`]: the production path for agents. An admin
//!   runs `vayu agent enroll` once (with a service account key, on their own
//!   machine): it signs a custom token (RS256) for the agent's uid with the
//!   `agent` claim, exchanges it through Identity Toolkit
//!   `accounts:signInWithCustomToken`, and prints the refresh token. The
//!   agent machine keeps only that refresh token (revocable in the Firebase
//!   console), never the service account key, which would bypass the rules.
//! - [`Source::CustomToken`]: the same exchange done by the agent itself,
//!   for machines trusted with a service account key anyway.
//! - [`Source::Static`]: a given ID token (`VAYU_TOKEN`), not refreshed.
//!
//! ID tokens live an hour. [`sign_in`] returns a [`SignedIn`] whose
//! [`SharedToken`] a background task refreshes (securetoken `token`
//! endpoint) a few minutes before expiry; the `firestore` crate reads the
//! shared token on every request, so nothing reconnects.
//!
//! The REST base URLs are overridable ([`Endpoints`]), so everything runs
//! against the Auth emulator (`FIREBASE_AUTH_EMULATOR_HOST`) or a stub.

use crate::auth::SharedToken;
use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use std::time::Duration;

mod mint;
mod people;
pub use mint::exchange_custom_token;
use mint::{EmulatorSetup, check_id, export_lines, mint_command};
pub use people::{PersonEnrollment, Role, add_person, user_add_command};

/// Environment variables read by [`agent_from_env`] and [`person_from_env`].
pub mod env {
    /// How `vayu-agent` signs in: `emulator`, `refresh-token`,
    /// `custom-token`, `token` (use `VAYU_TOKEN`) or `admin` (the default:
    /// the emulator's `owner` or Google credentials, past the rules).
    pub const VAYU_AGENT_IDENTITY: &str = "VAYU_AGENT_IDENTITY";
    /// How the `vayu` CLI signs in: `emulator` (as `VAYU_UID`),
    /// `refresh-token` (a person enrolled by `vayu user add`), `token`, or
    /// `admin` (the default).
    pub const VAYU_IDENTITY: &str = "VAYU_IDENTITY";
    /// The uid the CLI acts as with `VAYU_IDENTITY=emulator`.
    pub const VAYU_UID: &str = "VAYU_UID";
    /// A `role` claim for emulator identities (`viewer`, `operator`,
    /// `reviewer`, `admin`).
    pub const VAYU_ROLE: &str = "VAYU_ROLE";
    /// The Firebase Web API key (public; identifies the project to
    /// Identity Toolkit). Any value works on the Auth emulator.
    pub const VAYU_API_KEY: &str = "VAYU_API_KEY";
    /// An agent's or person's refresh token, as printed by `vayu agent
    /// enroll` or `vayu user add`.
    pub const VAYU_REFRESH_TOKEN: &str = "VAYU_REFRESH_TOKEN";
    /// A service account key file (JSON) for signing custom tokens; falls
    /// back to `GOOGLE_APPLICATION_CREDENTIALS`.
    pub const VAYU_SERVICE_ACCOUNT: &str = "VAYU_SERVICE_ACCOUNT";
    pub const GOOGLE_APPLICATION_CREDENTIALS: &str = "GOOGLE_APPLICATION_CREDENTIALS";
    /// `host:port` of the Firebase Auth emulator (the Firebase SDKs' name).
    pub const FIREBASE_AUTH_EMULATOR_HOST: &str = "FIREBASE_AUTH_EMULATOR_HOST";
    /// Overrides of the REST base URLs (tests, proxies).
    pub const VAYU_IDENTITYTOOLKIT_URL: &str = "VAYU_IDENTITYTOOLKIT_URL";
    pub const VAYU_SECURETOKEN_URL: &str = "VAYU_SECURETOKEN_URL";
}

/// The custom claim that makes a user an agent.
pub const AGENT_CLAIM: &str = "agent";
/// The custom claim that gives a person or agent a role.
pub const ROLE_CLAIM: &str = "role";

/// How long before an ID token expires it is refreshed.
const REFRESH_MARGIN: Duration = Duration::from_secs(300);
/// The audience Firebase requires of custom tokens.
const CUSTOM_TOKEN_AUDIENCE: &str =
    "https://identitytoolkit.googleapis.com/google.identity.identitytoolkit.v1.IdentityToolkit";

/// `{"agent": true}`: the claims of an agent identity.
pub fn agent_claims() -> Map<String, Value> {
    let mut m = Map::new();
    m.insert(AGENT_CLAIM.into(), Value::Bool(true));
    m
}

/// The claims of a person, with an optional role.
pub fn person_claims(role: Option<&str>) -> Map<String, Value> {
    let mut m = Map::new();
    if let Some(r) = role {
        m.insert(ROLE_CLAIM.into(), Value::String(r.into()));
    }
    m
}

fn unix_now() -> i64 {
    jiff::Timestamp::now().as_second()
}

fn b64(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// An unsigned ID token the Firestore emulator accepts as user `uid` of
/// `project` with `claims` (custom claims; reserved names are overwritten).
/// Valid for an hour. Production Firestore refuses it (no signature).
pub fn emulator_token(project: &str, uid: &str, claims: &Map<String, Value>) -> String {
    let now = unix_now();
    let mut payload = claims.clone();
    let standard = json!({
        "iss": format!("https://securetoken.google.com/{project}"),
        "aud": project,
        "iat": now,
        "exp": now + 3600,
        "auth_time": now,
        "sub": uid,
        "user_id": uid,
        "firebase": {"sign_in_provider": "custom", "identities": {}},
    });
    if let Value::Object(std) = standard {
        payload.extend(std);
    }
    let header = b64(br#"{"alg":"none","typ":"JWT"}"#);
    // A map of JSON values always serializes.
    let body = serde_json::to_vec(&payload).unwrap_or_default();
    format!("{header}.{}.", b64(&body))
}

/// Where the Firebase Auth REST APIs are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoints {
    /// Base of Identity Toolkit v1 (`.../v1`, no trailing slash).
    pub identitytoolkit: String,
    /// Base of Secure Token v1.
    pub securetoken: String,
}

impl Endpoints {
    pub fn production() -> Self {
        Endpoints {
            identitytoolkit: "https://identitytoolkit.googleapis.com/v1".into(),
            securetoken: "https://securetoken.googleapis.com/v1".into(),
        }
    }

    /// The Firebase Auth emulator at `host:port` (firebase-tools).
    pub fn auth_emulator(host: &str) -> Self {
        let base = if host.contains("://") {
            host.trim_end_matches('/').to_string()
        } else {
            format!("http://{host}")
        };
        Endpoints {
            identitytoolkit: format!("{base}/identitytoolkit.googleapis.com/v1"),
            securetoken: format!("{base}/securetoken.googleapis.com/v1"),
        }
    }

    /// The Auth emulator when `FIREBASE_AUTH_EMULATOR_HOST` is set, else
    /// production; each URL overridable on its own.
    pub fn from_env() -> Self {
        let mut e = match non_empty_env(env::FIREBASE_AUTH_EMULATOR_HOST) {
            Some(h) => Endpoints::auth_emulator(&h),
            None => Endpoints::production(),
        };
        if let Some(u) = non_empty_env(env::VAYU_IDENTITYTOOLKIT_URL) {
            e.identitytoolkit = u.trim_end_matches('/').into();
        }
        if let Some(u) = non_empty_env(env::VAYU_SECURETOKEN_URL) {
            e.securetoken = u.trim_end_matches('/').into();
        }
        e
    }

    pub fn is_emulator(&self) -> bool {
        !self
            .identitytoolkit
            .starts_with("https://identitytoolkit.googleapis.com")
    }
}

fn non_empty_env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// The fields of a Google service account key file that signing needs.
#[derive(Clone, Deserialize)]
pub struct ServiceAccount {
    pub client_email: String,
    pub private_key: String,
    #[serde(default)]
    pub private_key_id: Option<String>,
    #[serde(default)]
    pub project_id: Option<String>,
}

impl std::fmt::Debug for ServiceAccount {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the key.
        f.debug_struct("ServiceAccount")
            .field("client_email", &self.client_email)
            .field("project_id", &self.project_id)
            .finish_non_exhaustive()
    }
}

impl ServiceAccount {
    pub fn from_json(text: &str) -> Result<Self> {
        serde_json::from_str(text)
            .map_err(|e| Error::Config(format!("not a service account key file: {e}")))
    }

    pub fn from_file(path: &std::path::Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            Error::Config(format!(
                "cannot read the service account key {}: {e}",
                path.display()
            ))
        })?;
        Self::from_json(&text)
    }

    /// `VAYU_SERVICE_ACCOUNT`, else `GOOGLE_APPLICATION_CREDENTIALS`.
    pub fn from_env() -> Result<Option<Self>> {
        match non_empty_env(env::VAYU_SERVICE_ACCOUNT)
            .or_else(|| non_empty_env(env::GOOGLE_APPLICATION_CREDENTIALS))
        {
            Some(p) => Self::from_file(std::path::Path::new(&p)).map(Some),
            None => Ok(None),
        }
    }

    /// A Firebase custom token for `uid` with developer `claims`, signed
    /// RS256 with this key, valid for an hour from `now` (unix seconds):
    /// the format Identity Toolkit's `signInWithCustomToken` takes.
    pub fn custom_token(&self, uid: &str, claims: &Map<String, Value>, now: i64) -> Result<String> {
        check_uid(uid)?;
        #[derive(Serialize)]
        struct Payload<'a> {
            iss: &'a str,
            sub: &'a str,
            aud: &'a str,
            iat: i64,
            exp: i64,
            uid: &'a str,
            #[serde(skip_serializing_if = "Map::is_empty")]
            claims: &'a Map<String, Value>,
        }
        let payload = Payload {
            iss: &self.client_email,
            sub: &self.client_email,
            aud: CUSTOM_TOKEN_AUDIENCE,
            iat: now,
            exp: now + 3600,
            uid,
            claims,
        };
        let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
        header.kid = self.private_key_id.clone();
        let key = jsonwebtoken::EncodingKey::from_rsa_pem(self.private_key.as_bytes())
            .map_err(|e| Error::Config(format!("the service account's private key: {e}")))?;
        jsonwebtoken::encode(&header, &payload, &key)
            .map_err(|e| Error::Config(format!("signing a custom token: {e}")))
    }
}

/// An unsigned custom token, which only the Auth emulator accepts: lets
/// tests and local enrolment run without a service account key.
pub fn unsigned_custom_token(uid: &str, claims: &Map<String, Value>) -> Result<String> {
    check_uid(uid)?;
    let now = unix_now();
    let mut payload = json!({
        "iss": "vayu-emulator@demo.iam.gserviceaccount.com",
        "sub": "vayu-emulator@demo.iam.gserviceaccount.com",
        "aud": CUSTOM_TOKEN_AUDIENCE,
        "iat": now,
        "exp": now + 3600,
        "uid": uid,
    });
    if !claims.is_empty() {
        payload["claims"] = Value::Object(claims.clone());
    }
    let body = serde_json::to_vec(&payload).unwrap_or_default();
    Ok(format!(
        "{}.{}.",
        b64(br#"{"alg":"none","typ":"JWT"}"#),
        b64(&body)
    ))
}

/// Firebase uids are 1..=128 characters; vayu agent ids are stricter (see
/// `AgentConfig::validate`), which this does not repeat.
fn check_uid(uid: &str) -> Result<()> {
    if uid.is_empty() || uid.len() > 128 {
        return Err(Error::Config(format!(
            "'{uid}' is not a Firebase uid (1-128 characters)"
        )));
    }
    Ok(())
}

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

/// Where an identity's ID tokens come from. See the module docs.
#[derive(Debug, Clone)]
pub enum Source {
    /// Unsigned tokens for the Firestore emulator, re-minted before expiry.
    Emulator {
        project: String,
        uid: String,
        claims: Map<String, Value>,
    },
    /// Sign a custom token with a service account key, exchange it, then
    /// refresh.
    CustomToken {
        service_account: Box<ServiceAccount>,
        uid: String,
        claims: Map<String, Value>,
        client: AuthClient,
    },
    /// Refresh from an enrolled agent's refresh token.
    RefreshToken {
        refresh_token: String,
        client: AuthClient,
    },
    /// Use this ID token as is (it expires within the hour).
    Static(String),
}

/// A signed-in identity: the token the `firestore` crate sends, kept fresh
/// in the background for as long as this value lives.
pub struct SignedIn {
    pub token: SharedToken,
    pub uid: Option<String>,
    refresher: Option<tokio::task::JoinHandle<()>>,
}

impl std::fmt::Debug for SignedIn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignedIn")
            .field("uid", &self.uid)
            .field("refreshing", &self.refresher.is_some())
            .finish()
    }
}

impl SignedIn {
    /// Whether a background task keeps the token fresh.
    pub fn refreshes(&self) -> bool {
        self.refresher.as_ref().is_some_and(|h| !h.is_finished())
    }
}

impl Drop for SignedIn {
    fn drop(&mut self) {
        if let Some(h) = self.refresher.take() {
            h.abort();
        }
    }
}

/// When to renew a token that lives `life`: [`REFRESH_MARGIN`] before it
/// expires, or at half its life when that is shorter.
pub fn renew_after(life: Duration) -> Duration {
    life.saturating_sub(REFRESH_MARGIN.min(life / 2))
        .max(Duration::from_secs(1))
}

/// Signs in and starts keeping the token fresh. Must be called inside a
/// tokio runtime (the refresher is a tokio task).
pub async fn sign_in(source: Source) -> Result<SignedIn> {
    match source {
        Source::Static(t) => {
            let token = SharedToken::new(t);
            Ok(SignedIn {
                uid: token.uid(),
                token,
                refresher: None,
            })
        }
        Source::Emulator {
            project,
            uid,
            claims,
        } => {
            check_uid(&uid)?;
            let token = SharedToken::new(emulator_token(&project, &uid, &claims));
            let shared = token.clone();
            let refresher = tokio::spawn(async move {
                loop {
                    tokio::time::sleep(renew_after(Duration::from_secs(3600))).await;
                    shared.set(emulator_token(&project, &uid, &claims));
                }
            });
            Ok(SignedIn {
                uid: token.uid(),
                token,
                refresher: Some(refresher),
            })
        }
        Source::CustomToken {
            service_account,
            uid,
            claims,
            client,
        } => {
            let custom =
                if client.endpoints().is_emulator() && service_account.private_key.is_empty() {
                    unsigned_custom_token(&uid, &claims)?
                } else {
                    service_account.custom_token(&uid, &claims, unix_now())?
                };
            let session = client.sign_in_with_custom_token(&custom).await?;
            Ok(start_refresher(session, client))
        }
        Source::RefreshToken {
            refresh_token,
            client,
        } => {
            let session = client.refresh(&refresh_token).await?;
            Ok(start_refresher(session, client))
        }
    }
}

fn start_refresher(session: Session, client: AuthClient) -> SignedIn {
    let token = SharedToken::new(session.id_token.clone());
    let shared = token.clone();
    let uid = session.uid.clone();
    let refresher = tokio::spawn(async move {
        let mut refresh_token = session.refresh_token;
        let mut wait = renew_after(session.expires_in);
        let backoff = crate::retry::Backoff {
            base: Duration::from_secs(1),
            cap: Duration::from_secs(60),
        };
        let mut failures = 0u32;
        loop {
            tokio::time::sleep(wait).await;
            match client.refresh(&refresh_token).await {
                Ok(s) => {
                    failures = 0;
                    shared.set(s.id_token);
                    refresh_token = s.refresh_token;
                    wait = renew_after(s.expires_in);
                    tracing::debug!(uid = ?s.uid, "refreshed the Firebase ID token");
                }
                Err(e) => {
                    // Keep the old token (it may still be valid) and retry;
                    // Firestore refuses requests once it has expired, which
                    // the agent treats like an outage.
                    failures += 1;
                    wait = backoff.delay(failures, rand::random());
                    tracing::warn!(error = %e, ?wait, "could not refresh the Firebase ID token");
                }
            }
        }
    });
    SignedIn {
        token,
        uid,
        refresher: Some(refresher),
    }
}

/// The Web API key from `VAYU_API_KEY`; on the Auth emulator any value.
fn api_key(endpoints: &Endpoints) -> Result<String> {
    match non_empty_env(env::VAYU_API_KEY) {
        Some(k) => Ok(k),
        None if endpoints.is_emulator() => Ok("emulator".into()),
        None => Err(Error::Config(format!(
            "{} is not set: the Firebase Web API key (Project settings > General)",
            env::VAYU_API_KEY
        ))),
    }
}

/// The `refresh-token` identity of `mode_var` (`VAYU_AGENT_IDENTITY` or
/// `VAYU_IDENTITY`): `VAYU_REFRESH_TOKEN`, as printed by `enrolled_by`.
fn refresh_token_source(mode_var: &str, enrolled_by: &str) -> Result<Source> {
    let endpoints = Endpoints::from_env();
    let refresh_token = non_empty_env(env::VAYU_REFRESH_TOKEN).ok_or_else(|| {
        Error::Config(format!(
            "{mode_var}=refresh-token needs {} (from `{enrolled_by}`)",
            env::VAYU_REFRESH_TOKEN
        ))
    })?;
    Ok(Source::RefreshToken {
        refresh_token,
        client: AuthClient::new(endpoints.clone(), api_key(&endpoints)?)?,
    })
}

/// How `vayu-agent` signs in, from `VAYU_AGENT_IDENTITY` (see [`env`]).
/// `Ok(None)`: act as admin (the emulator's `owner`, or Google credentials
/// in production), as before identities existed.
pub async fn agent_from_env(agent_id: &str, project: &str) -> Result<Option<SignedIn>> {
    let mode = non_empty_env(env::VAYU_AGENT_IDENTITY).unwrap_or_else(|| "admin".into());
    let source = match mode.as_str() {
        "admin" => return Ok(None),
        "emulator" => Source::Emulator {
            project: project.into(),
            uid: agent_id.into(),
            claims: agent_claims(),
        },
        "token" => match non_empty_env(crate::store::env::VAYU_TOKEN) {
            Some(t) => Source::Static(t),
            None => {
                return Err(Error::Config(
                    "VAYU_AGENT_IDENTITY=token needs VAYU_TOKEN".into(),
                ));
            }
        },
        "refresh-token" => refresh_token_source(env::VAYU_AGENT_IDENTITY, "vayu agent enroll")?,
        "custom-token" => {
            let endpoints = Endpoints::from_env();
            let sa = ServiceAccount::from_env()?.ok_or_else(|| {
                Error::Config(format!(
                    "VAYU_AGENT_IDENTITY=custom-token needs {} or {}",
                    env::VAYU_SERVICE_ACCOUNT,
                    env::GOOGLE_APPLICATION_CREDENTIALS
                ))
            })?;
            Source::CustomToken {
                service_account: Box::new(sa),
                uid: agent_id.into(),
                claims: agent_claims(),
                client: AuthClient::new(endpoints.clone(), api_key(&endpoints)?)?,
            }
        }
        other => {
            return Err(Error::Config(format!(
                "{}='{other}': expected emulator, refresh-token, custom-token, token or admin",
                env::VAYU_AGENT_IDENTITY
            )));
        }
    };
    let signed = sign_in(source).await?;
    if signed.uid.as_deref() != Some(agent_id) {
        return Err(Error::Config(format!(
            "the identity is uid {:?} but the agent id is '{agent_id}': they must be equal",
            signed.uid
        )));
    }
    Ok(Some(signed))
}

/// How the `vayu` CLI signs in, from `VAYU_IDENTITY`: `emulator` acts as
/// uid `VAYU_UID` (default `$USER`) with an optional `VAYU_ROLE`;
/// `refresh-token` as the person `vayu user add` enrolled
/// (`VAYU_REFRESH_TOKEN`, `VAYU_API_KEY`); `token` as `VAYU_TOKEN`.
/// `Ok(None)`: admin.
pub async fn person_from_env(project: &str) -> Result<Option<SignedIn>> {
    let mode = non_empty_env(env::VAYU_IDENTITY).unwrap_or_else(|| "admin".into());
    let source = match mode.as_str() {
        "admin" => return Ok(None),
        "emulator" => Source::Emulator {
            project: project.into(),
            uid: non_empty_env(env::VAYU_UID).unwrap_or_else(crate::tasks::whoami),
            claims: person_claims(non_empty_env(env::VAYU_ROLE).as_deref()),
        },
        "token" => match non_empty_env(crate::store::env::VAYU_TOKEN) {
            Some(t) => Source::Static(t),
            None => return Err(Error::Config("VAYU_IDENTITY=token needs VAYU_TOKEN".into())),
        },
        "refresh-token" => refresh_token_source(env::VAYU_IDENTITY, "vayu user add")?,
        other => {
            return Err(Error::Config(format!(
                "{}='{other}': expected emulator, refresh-token, token or admin",
                env::VAYU_IDENTITY
            )));
        }
    };
    sign_in(source).await.map(Some)
}

/// What `vayu agent enroll` hands an agent.
#[derive(Clone, Serialize)]
pub struct Enrollment {
    pub agent_id: String,
    pub project_id: String,
    pub refresh_token: String,
    /// Whether this was done against the Auth emulator.
    pub emulator: bool,
    pub capabilities: Vec<String>,
}

impl std::fmt::Debug for Enrollment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Enrollment")
            .field("agent_id", &self.agent_id)
            .field("project_id", &self.project_id)
            .finish_non_exhaustive()
    }
}

impl Enrollment {
    /// The environment the agent machine needs, as shell lines. The refresh
    /// token is a secret: whoever has it acts as this agent until it is
    /// revoked (Firebase console > Authentication > the user > disable, or
    /// the Admin SDK's revokeRefreshTokens).
    pub fn env_lines(&self, api_key: &str) -> String {
        export_lines(
            "# Give these to the agent machine; keep VAYU_REFRESH_TOKEN secret.",
            &[
                ("VAYU_PROJECT", self.project_id.clone()),
                ("VAYU_AGENT_ID", self.agent_id.clone()),
                ("VAYU_CAPABILITIES", self.capabilities.join(",")),
                (env::VAYU_AGENT_IDENTITY, "refresh-token".into()),
                (env::VAYU_API_KEY, api_key.into()),
                (env::VAYU_REFRESH_TOKEN, self.refresh_token.clone()),
            ],
        )
    }
}

/// Enrols agent `agent_id`: a custom token with `agent: true` (signed with
/// `service_account`, or unsigned on the Auth emulator), exchanged for the
/// refresh token the agent will use. An admin action on the admin's
/// machine; no server is involved and nothing is written to Firestore.
pub async fn enroll(
    client: &AuthClient,
    service_account: Option<&ServiceAccount>,
    project_id: &str,
    agent_id: &str,
    capabilities: Vec<String>,
) -> Result<Enrollment> {
    let session = exchange_custom_token(client, service_account, agent_id, &agent_claims()).await?;
    Ok(Enrollment {
        agent_id: agent_id.into(),
        project_id: project_id.into(),
        refresh_token: session.refresh_token,
        emulator: client.endpoints().is_emulator(),
        capabilities,
    })
}

/// `vayu agent enroll --id ID [--capabilities a,b]`: what an agent needs to
/// sign in, printed for the admin to hand over. No server and no Firestore
/// write is involved.
///
/// - With `FIREBASE_AUTH_EMULATOR_HOST` or in production: signs a custom
///   token (service account key from `VAYU_SERVICE_ACCOUNT` /
///   `GOOGLE_APPLICATION_CREDENTIALS`; optional on the Auth emulator),
///   exchanges it, and prints the agent's environment with its refresh
///   token. Production also needs `VAYU_API_KEY`.
/// - With only `FIRESTORE_EMULATOR_HOST`: prints the emulator identity
///   setup (`VAYU_AGENT_IDENTITY=emulator`), which needs no secret.
pub async fn enroll_command(
    project: Option<String>,
    agent_id: &str,
    capabilities: Vec<String>,
    json: bool,
) -> Result<String> {
    check_id("agent id", agent_id)?;
    let joined = capabilities.join(",");
    let setup = |project: &str| EmulatorSetup {
        comment: "# On the Firestore emulator an agent signs in with an unsigned token for its id\n\
                  # (the emulator accepts it; production never does). No secret to hand over.",
        who: json!({"agent_id": agent_id, "project_id": project}),
        vars: vec![
            ("VAYU_PROJECT", project.into()),
            ("VAYU_AGENT_ID", agent_id.into()),
            ("VAYU_CAPABILITIES", joined),
            (env::VAYU_AGENT_IDENTITY, "emulator".into()),
        ],
    };
    mint_command(project, json, setup, async |m| {
        let sa = m.service_account.as_ref();
        let enrolled = enroll(&m.client, sa, &m.project, agent_id, capabilities).await?;
        let lines = enrolled.env_lines(&m.api_key);
        Ok((enrolled, lines))
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emulator_tokens_name_the_user_and_carry_the_claims() {
        let t = emulator_token("demo-vayu", "a1", &agent_claims());
        let c = crate::auth::jwt_claims(&t).expect("a JWT");
        assert_eq!(c["user_id"], "a1");
        assert_eq!(c["sub"], "a1");
        assert_eq!(c["aud"], "demo-vayu");
        assert_eq!(c["iss"], "https://securetoken.google.com/demo-vayu");
        assert_eq!(c["agent"], true);
        assert_eq!(c["firebase"]["sign_in_provider"], "custom");
        assert!(t.ends_with('.'), "unsigned: empty signature");
    }

    #[test]
    fn custom_claims_cannot_override_the_user() {
        let mut claims = agent_claims();
        claims.insert("user_id".into(), "someone-else".into());
        let c = crate::auth::jwt_claims(&emulator_token("p", "me", &claims)).expect("a JWT");
        assert_eq!(c["user_id"], "me");
    }

    #[test]
    fn tokens_are_renewed_before_they_expire() {
        assert_eq!(renew_after(Duration::from_secs(3600)).as_secs(), 3300);
        assert_eq!(renew_after(Duration::from_secs(60)).as_secs(), 30);
        assert_eq!(renew_after(Duration::ZERO).as_secs(), 1);
    }

    #[test]
    fn endpoints_point_at_the_auth_emulator_when_asked() {
        let e = Endpoints::auth_emulator("127.0.0.1:9099");
        assert_eq!(
            e.identitytoolkit,
            "http://127.0.0.1:9099/identitytoolkit.googleapis.com/v1"
        );
        assert_eq!(
            e.securetoken,
            "http://127.0.0.1:9099/securetoken.googleapis.com/v1"
        );
        assert!(e.is_emulator());
        assert!(!Endpoints::production().is_emulator());
    }

    #[test]
    fn secrets_stay_out_of_debug_output() {
        let s = Session {
            id_token: "ID-SECRET".into(),
            refresh_token: "REFRESH-SECRET".into(),
            expires_in: Duration::from_secs(1),
            uid: Some("u".into()),
        };
        let shown = format!("{s:?}");
        assert!(!shown.contains("SECRET"), "{shown}");
        let sa = ServiceAccount {
            client_email: "x@y".into(),
            private_key: "KEY-SECRET".into(),
            private_key_id: None,
            project_id: None,
        };
        assert!(!format!("{sa:?}").contains("SECRET"));
    }
}
