//! Minting an identity for someone else: what `vayu agent enroll` and
//! `vayu user add` share. A custom token for a uid with its claims is
//! exchanged for a refresh token on the Auth emulator or in production;
//! with only the Firestore emulator there is nothing to mint, and the
//! emulator identity setup is printed instead.

use super::auth::SharedToken;
use super::from_env::api_key;
use super::{
    AuthClient, Endpoints, ServiceAccount, Session, env, non_empty_env, unix_now,
    unsigned_custom_token,
};
use crate::error::{Error, Result};
use serde::Serialize;
use serde_json::{Map, Value};

/// `comment`, then `export NAME=value` for each variable with a value.
/// Values are ids, keys and tokens checked to need no shell quoting.
pub(crate) fn export_lines(comment: &str, vars: &[(&str, String)]) -> String {
    let mut s = format!("{comment}\n");
    for (name, value) in vars.iter().filter(|(_, v)| !v.is_empty()) {
        s.push_str(&format!("export {name}={value}\n"));
    }
    s
}

/// Signs a custom token for `uid` with `claims` (with `service_account`,
/// or unsigned on the Auth emulator), exchanges it, and checks that
/// Firebase Auth answered for this uid with these claims: what enrolling
/// an agent and adding a person share.
pub async fn exchange_custom_token(
    client: &AuthClient,
    service_account: Option<&ServiceAccount>,
    uid: &str,
    claims: &Map<String, Value>,
) -> Result<Session> {
    let custom = match service_account {
        Some(sa) => sa.custom_token(uid, claims, unix_now())?,
        None if client.endpoints().is_emulator() => unsigned_custom_token(uid, claims)?,
        None => {
            return Err(Error::Config(format!(
                "enrolling needs a service account key ({} or {}) to sign the custom token",
                env::VAYU_SERVICE_ACCOUNT,
                env::GOOGLE_APPLICATION_CREDENTIALS
            )));
        }
    };
    let session = client.sign_in_with_custom_token(&custom).await?;
    let granted = SharedToken::new(session.id_token.clone());
    let carries = granted
        .claims()
        .is_some_and(|got| claims.iter().all(|(k, v)| got.get(k) == Some(v)));
    if granted.uid().as_deref() != Some(uid) || !carries {
        return Err(Error::PermissionDenied(format!(
            "Firebase Auth answered with a token that is not {uid}'s with the claims asked for"
        )));
    }
    Ok(session)
}

/// Checks an id that becomes a Firebase uid and is printed in shell lines:
/// 1-128 characters of a-z, A-Z, 0-9, '-', '_', '.'.
pub(crate) fn check_id(what: &str, id: &str) -> Result<()> {
    let ok = !id.is_empty()
        && id.len() <= 128
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
    if !ok {
        return Err(Error::Config(format!(
            "the {what} must be 1-128 characters of a-z, A-Z, 0-9, '-', '_', '.'"
        )));
    }
    Ok(())
}

/// Where `vayu agent enroll` and `vayu user add` mint an identity.
enum Minter {
    /// Only `FIRESTORE_EMULATOR_HOST` is set: emulator identities, which
    /// need no secret, so only their setup is printed.
    FirestoreEmulator { project: String },
    /// The Auth emulator or production: a custom token is exchanged.
    Auth(AuthMinter),
}

pub(crate) struct AuthMinter {
    pub client: AuthClient,
    pub api_key: String,
    pub service_account: Option<ServiceAccount>,
    pub project: String,
}

impl AuthMinter {
    /// What the admin hands over: `value` (with the API key) as JSON, or
    /// the shell lines `text`.
    pub fn hand_over<T: Serialize>(&self, value: &T, json: bool, text: String) -> String {
        if !json {
            return text;
        }
        let mut v = serde_json::to_value(value).unwrap_or_default();
        v["api_key"] = Value::String(self.api_key.clone());
        pretty(&v)
    }
}

/// Which [`Minter`] the environment asks for (see `enroll_command`).
fn minter(project: Option<String>) -> Result<Minter> {
    let auth_emulator = non_empty_env(env::FIREBASE_AUTH_EMULATOR_HOST).is_some();
    let firestore_emulator = non_empty_env(crate::store::env::FIRESTORE_EMULATOR_HOST).is_some();
    if firestore_emulator && !auth_emulator {
        let project = project.unwrap_or_else(|| crate::store::DEFAULT_EMULATOR_PROJECT.into());
        return Ok(Minter::FirestoreEmulator { project });
    }
    let endpoints = Endpoints::from_env();
    let api_key = api_key(&endpoints)?;
    let service_account = ServiceAccount::from_env()?;
    let project = project
        .or_else(|| non_empty_env(crate::store::env::VAYU_PROJECT))
        .or_else(|| service_account.as_ref().and_then(|s| s.project_id.clone()))
        .or_else(|| auth_emulator.then(|| crate::store::DEFAULT_EMULATOR_PROJECT.into()))
        .ok_or_else(|| Error::Config("no project: pass --project or set VAYU_PROJECT".into()))?;
    Ok(Minter::Auth(AuthMinter {
        client: AuthClient::new(endpoints, api_key.clone())?,
        api_key,
        service_account,
        project,
    }))
}

/// The emulator identity setup: `who` (an object naming the identity)
/// with `identity: emulator` and `vars` as JSON, or `comment` and the
/// shell lines.
fn emulator_setup(comment: &str, who: Value, vars: &[(&str, String)], json: bool) -> String {
    if !json {
        return export_lines(comment, vars);
    }
    let mut out = who;
    out["identity"] = Value::String("emulator".into());
    out["env"] = vars
        .iter()
        .map(|(k, v)| (k.to_string(), Value::String(v.clone())))
        .collect::<Map<String, Value>>()
        .into();
    pretty(&out)
}

fn pretty(v: &Value) -> String {
    // A JSON value always serializes.
    serde_json::to_string_pretty(v).unwrap_or_default() + "\n"
}

/// What `agent enroll` and `user add` print with only the Firestore
/// emulator: the identity's emulator setup, which needs no secret.
pub(crate) struct EmulatorSetup {
    pub comment: &'static str,
    /// An object naming the identity, for JSON.
    pub who: Value,
    pub vars: Vec<(&'static str, String)>,
}

/// The skeleton of `vayu agent enroll` and `vayu user add`: with only the
/// Firestore emulator, prints `setup(project)`; else `mint`s the identity
/// and hands over what it returns (the value for JSON, and shell lines).
pub(crate) async fn mint_command<T: Serialize>(
    project: Option<String>,
    json: bool,
    setup: impl FnOnce(&str) -> EmulatorSetup,
    mint: impl AsyncFnOnce(&AuthMinter) -> Result<(T, String)>,
) -> Result<String> {
    match minter(project)? {
        Minter::FirestoreEmulator { project } => {
            let s = setup(&project);
            Ok(emulator_setup(s.comment, s.who, &s.vars, json))
        }
        Minter::Auth(m) => {
            let (value, lines) = mint(&m).await?;
            Ok(m.hand_over(&value, json, lines))
        }
    }
}
