//! Where and as whom a [`Store`](super::Store) connects: the emulator or a
//! project, from the environment (the names are in [`super::env`]).

use super::env;
use crate::auth::SharedToken;
use crate::error::{Error, Result};
use std::time::Duration;

/// The project used on the emulator when none is given.
pub const DEFAULT_EMULATOR_PROJECT: &str = "demo-vayu";
pub const DEFAULT_DATABASE: &str = "(default)";

/// Where and as whom to connect.
#[derive(Clone, Debug)]
pub struct StoreConfig {
    pub project_id: String,
    pub database_id: String,
    /// `host:port` of an emulator; `None` is production Firestore.
    pub emulator_host: Option<String>,
    /// Act as this token's user. `None`: the emulator's admin `owner`, or
    /// Google application default credentials in production.
    pub token: Option<SharedToken>,
    /// Bound on every RPC; a frozen server turns into `Unavailable`.
    pub request_timeout: Duration,
}

impl StoreConfig {
    /// A config for the emulator at `host` with database `database_id`.
    pub fn emulator(host: impl Into<String>, database_id: impl Into<String>) -> Self {
        StoreConfig {
            project_id: DEFAULT_EMULATOR_PROJECT.into(),
            database_id: database_id.into(),
            emulator_host: Some(host.into()),
            token: None,
            request_timeout: Duration::from_secs(10),
        }
    }

    /// Reads `FIRESTORE_EMULATOR_HOST`, `VAYU_DATABASE`, `VAYU_TOKEN`;
    /// `project` comes from the caller's flag or `VAYU_PROJECT`.
    pub fn from_env(project: Option<String>) -> Result<Self> {
        let emulator_host = std::env::var(env::FIRESTORE_EMULATOR_HOST)
            .ok()
            .filter(|h| !h.is_empty());
        let project_id = match (project, &emulator_host) {
            (Some(p), _) => p,
            (None, Some(_)) => DEFAULT_EMULATOR_PROJECT.into(),
            (None, None) => {
                return Err(Error::Config(format!(
                    "no project: pass --project or set {} (or set {} to use the emulator)",
                    env::VAYU_PROJECT,
                    env::FIRESTORE_EMULATOR_HOST
                )));
            }
        };
        Ok(StoreConfig {
            project_id,
            database_id: std::env::var(env::VAYU_DATABASE)
                .ok()
                .filter(|d| !d.is_empty())
                .unwrap_or_else(|| DEFAULT_DATABASE.into()),
            emulator_host,
            token: std::env::var(env::VAYU_TOKEN)
                .ok()
                .filter(|t| !t.is_empty())
                .map(SharedToken::new),
            request_timeout: Duration::from_secs(10),
        })
    }

    /// Where requests go, for messages.
    pub fn endpoint(&self) -> String {
        match &self.emulator_host {
            Some(h) => format!(
                "emulator {h} (project {}, database {})",
                self.project_id, self.database_id
            ),
            None => format!(
                "firestore.googleapis.com (project {}, database {})",
                self.project_id, self.database_id
            ),
        }
    }
}
