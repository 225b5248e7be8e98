//! Who a client is when it talks to Firestore.
//!
//! The `firestore` crate sends `Bearer owner` to the emulator (an admin that
//! bypasses the rules) and Google credentials in production (a service
//! account, also past the rules). vayu's agents and people act as Firebase
//! Auth users instead, so that `firestore.rules` judges every write. This
//! module turns "a bearer token that may change over time" into the
//! credentials provider the crate takes.

use gcloud_sdk::google_cloud_auth::credentials::{
    CacheableResource, Credentials, CredentialsProvider, EntityTag,
};
use gcloud_sdk::google_cloud_auth::errors::CredentialsError;
use gcloud_sdk::{GoogleAuthHeaders, HeaderMap};
use http::Extensions;
use http::header::{AUTHORIZATION, HeaderValue};
use std::sync::{Arc, RwLock};

use firestore::gcloud_sdk;

/// A bearer token shared between whoever refreshes it and the gRPC client
/// that sends it. Cloning shares the same token.
#[derive(Clone, Debug)]
pub struct SharedToken {
    inner: Arc<RwLock<(String, EntityTag)>>,
}

impl SharedToken {
    pub fn new(token: impl Into<String>) -> Self {
        SharedToken {
            inner: Arc::new(RwLock::new((token.into(), EntityTag::new()))),
        }
    }

    /// No token: requests carry no Authorization header, as a client that
    /// is not signed in.
    pub fn none() -> Self {
        SharedToken::new("")
    }

    /// The emulator's admin token: bypasses the rules.
    pub fn emulator_owner() -> Self {
        SharedToken::new("owner")
    }

    /// Replaces the token; the next request carries the new one.
    pub fn set(&self, token: impl Into<String>) {
        // A poisoned lock only means a writer panicked mid-assignment of a
        // String; the tuple is still whole, so recover it.
        let mut guard = self.inner.write().unwrap_or_else(|e| e.into_inner());
        *guard = (token.into(), EntityTag::new());
    }

    pub fn get(&self) -> String {
        self.inner
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .0
            .clone()
    }

    /// The claims of the current token, when it is a JWT (a Firebase ID
    /// token); `None` for `owner` or anything that is not a JWT. Not
    /// verified: this is the client reading its own token, e.g. to put its
    /// uid in `requester.id`. Firestore verifies it.
    pub fn claims(&self) -> Option<serde_json::Map<String, serde_json::Value>> {
        jwt_claims(&self.get())
    }

    /// The Firebase uid of the current token (`user_id`, else `sub`).
    pub fn uid(&self) -> Option<String> {
        let claims = self.claims()?;
        claims
            .get("user_id")
            .or_else(|| claims.get("sub"))
            .and_then(|v| v.as_str())
            .map(str::to_string)
    }

    /// Whether this is the emulator's admin token, which bypasses the rules.
    pub fn is_emulator_owner(&self) -> bool {
        self.get() == "owner"
    }

    fn tagged(&self) -> (String, EntityTag) {
        self.inner.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// The credentials the `firestore` crate takes
    /// (`FirestoreDb::with_options_auth`).
    pub fn credentials(&self) -> GoogleAuthHeaders {
        GoogleAuthHeaders::from(Credentials::from(TokenCredentials(self.clone())))
    }
}

/// The payload of a JWT, decoded but not verified.
pub fn jwt_claims(token: &str) -> Option<serde_json::Map<String, serde_json::Value>> {
    use base64::Engine as _;
    let payload = token.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .ok()?;
    match serde_json::from_slice(&bytes).ok()? {
        serde_json::Value::Object(map) => Some(map),
        _ => None,
    }
}

#[derive(Debug)]
struct TokenCredentials(SharedToken);

impl CredentialsProvider for TokenCredentials {
    async fn headers(
        &self,
        extensions: Extensions,
    ) -> Result<CacheableResource<HeaderMap>, CredentialsError> {
        let (token, tag) = self.0.tagged();
        if extensions.get::<EntityTag>() == Some(&tag) {
            return Ok(CacheableResource::NotModified);
        }
        let mut headers = HeaderMap::new();
        // An empty token sends no Authorization header at all: a client
        // that is not signed in (the rules see request.auth == null).
        if !token.is_empty() {
            let value = HeaderValue::from_str(&format!("Bearer {token}"))
                .map_err(|e| CredentialsError::from_msg(false, format!("bad token: {e}")))?;
            headers.insert(AUTHORIZATION, value);
        }
        Ok(CacheableResource::New {
            entity_tag: tag,
            data: headers,
        })
    }

    async fn universe_domain(&self) -> Option<String> {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_uid_comes_from_the_token_and_owner_has_none() {
        let t = SharedToken::new(crate::identity::emulator_token(
            "demo-vayu",
            "agent-7",
            &crate::identity::agent_claims(),
        ));
        assert_eq!(t.uid().as_deref(), Some("agent-7"));
        assert_eq!(
            t.claims().and_then(|c| c.get("agent").cloned()),
            Some(serde_json::Value::Bool(true))
        );
        assert!(!t.is_emulator_owner());
        let owner = SharedToken::emulator_owner();
        assert!(owner.is_emulator_owner());
        assert_eq!(owner.uid(), None);
        assert_eq!(jwt_claims("a.!!!.c"), None);
    }
}
