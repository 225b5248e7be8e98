//! Signing in and staying signed in. ID tokens live an hour, so a
//! background task renews the shared token before it expires; the
//! `firestore` crate reads that token on every request, so nothing has to
//! reconnect.

use super::auth::SharedToken;
use super::client::{AuthClient, Session};
use super::service_account::ServiceAccount;
use super::unsigned::{emulator_token, unsigned_custom_token};
use super::{check_uid, unix_now};
use crate::error::Result;
use serde_json::{Map, Value};
use std::time::Duration;

/// How long before an ID token expires it is refreshed.
const REFRESH_MARGIN: Duration = Duration::from_secs(300);

/// Where an identity's ID tokens come from. See the [`identity`](super) docs.
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

/// When to renew a token that lives `life`: `REFRESH_MARGIN` before it
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_renewed_before_they_expire() {
        assert_eq!(renew_after(Duration::from_secs(3600)).as_secs(), 3300);
        assert_eq!(renew_after(Duration::from_secs(60)).as_secs(), 30);
        assert_eq!(renew_after(Duration::ZERO).as_secs(), 1);
    }
}
