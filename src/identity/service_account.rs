//! Signing custom tokens with a service account key: how an admin (or a
//! machine trusted with the key anyway) proves to Firebase Auth who an
//! agent or person is. The key never reaches an agent enrolled by refresh
//! token, because it would let the agent bypass the rules.

use super::{CUSTOM_TOKEN_AUDIENCE, check_uid, env, non_empty_env};
use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_stays_out_of_debug_output() {
        let sa = ServiceAccount {
            client_email: "x@y".into(),
            private_key: "KEY-SECRET".into(),
            private_key_id: None,
            project_id: None,
        };
        assert!(!format!("{sa:?}").contains("SECRET"));
    }
}
