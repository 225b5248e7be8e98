//! Enrolling agents: `vayu agent enroll`, done once by an admin on their
//! own machine. The agent machine is handed only a refresh token, which the
//! Firebase console can revoke, never the service account key.
//! [`people`](super::people) is the same for people.

use super::claims::agent_claims;
use super::client::AuthClient;
use super::env;
use super::mint::{EmulatorSetup, check_id, exchange_custom_token, export_lines, mint_command};
use super::service_account::ServiceAccount;
use crate::error::Result;
use serde::Serialize;
use serde_json::json;

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
