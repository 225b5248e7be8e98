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

    fn tagged(&self) -> (String, EntityTag) {
        self.inner.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// The credentials the `firestore` crate takes
    /// (`FirestoreDb::with_options_auth`).
    pub fn credentials(&self) -> GoogleAuthHeaders {
        GoogleAuthHeaders::from(Credentials::from(TokenCredentials(self.clone())))
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
        let value = HeaderValue::from_str(&format!("Bearer {token}"))
            .map_err(|e| CredentialsError::from_msg(false, format!("bad token: {e}")))?;
        let mut headers = HeaderMap::new();
        headers.insert(AUTHORIZATION, value);
        Ok(CacheableResource::New {
            entity_tag: tag,
            data: headers,
        })
    }

    async fn universe_domain(&self) -> Option<String> {
        None
    }
}
