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
//! [`SharedToken`](auth::SharedToken) a background task refreshes
//! (securetoken `token` endpoint) a few minutes before expiry; the
//! `firestore` crate reads the shared token on every request, so nothing
//! reconnects.
//!
//! The REST base URLs are overridable ([`Endpoints`]), so everything runs
//! against the Auth emulator (`FIREBASE_AUTH_EMULATOR_HOST`) or a stub.
//!
//! [`auth`], the token the Firestore client sends, lives here rather than
//! beside the store because it is where an identity ends up: everything
//! about who is acting (signing in, staying signed in, enrolling agents and
//! people) is in this folder, and the store only takes the result.

use crate::error::{Error, Result};

mod agents;
pub mod auth;
mod claims;
mod client;
mod endpoints;
pub mod env;
mod from_env;
mod mint;
mod people;
mod service_account;
mod sign_in;
mod unsigned;

pub use agents::{Enrollment, enroll, enroll_command};
pub use claims::{AGENT_CLAIM, ROLE_CLAIM, agent_claims, person_claims};
pub use client::{AuthClient, Session};
pub use endpoints::Endpoints;
pub use from_env::{agent_from_env, person_from_env};
pub use mint::exchange_custom_token;
pub use people::{PersonEnrollment, Role, add_person, user_add_command};
pub use service_account::ServiceAccount;
pub use sign_in::{SignedIn, Source, renew_after, sign_in};
pub use unsigned::{emulator_token, unsigned_custom_token};

/// The audience Firebase requires of custom tokens.
const CUSTOM_TOKEN_AUDIENCE: &str =
    "https://identitytoolkit.googleapis.com/google.identity.identitytoolkit.v1.IdentityToolkit";

fn unix_now() -> i64 {
    jiff::Timestamp::now().as_second()
}

fn non_empty_env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
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
