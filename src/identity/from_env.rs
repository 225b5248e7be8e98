//! Choosing an identity from the environment, for `vayu-agent` and the
//! `vayu` CLI. An agent and a person choose differently (an agent may sign
//! its own custom token and must be the uid of its agent id; a person
//! defaults to `$USER` on the emulator), so each has its own entry point.

use super::claims::{agent_claims, person_claims};
use super::client::AuthClient;
use super::endpoints::Endpoints;
use super::service_account::ServiceAccount;
use super::sign_in::{SignedIn, Source, sign_in};
use super::{env, non_empty_env};
use crate::error::{Error, Result};

/// The Web API key from `VAYU_API_KEY`; on the Auth emulator any value.
pub(super) fn api_key(endpoints: &Endpoints) -> Result<String> {
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

/// How `vayu-agent` signs in, from `VAYU_AGENT_IDENTITY` (see
/// [`env`](mod@super::env)). `Ok(None)`: act as admin (the emulator's
/// `owner`, or Google credentials in production), as before identities
/// existed.
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
