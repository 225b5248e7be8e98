//! People as Firebase Auth users with a role: `vayu user add`, the
//! people's counterpart of `vayu agent enroll` (docs/security.md, "Who is
//! who"). The role is a custom claim the rules read; the person keeps only
//! a refresh token, and the CLI signs in with it
//! (`VAYU_IDENTITY=refresh-token`, see [`super::person_from_env`]).

use super::mint::{EmulatorSetup, check_id, exchange_custom_token, export_lines, mint_command};
use super::{AuthClient, ServiceAccount, env, person_claims};
use crate::error::Result;
use serde::Serialize;
use serde_json::json;

/// What a person may do; the rules define each (docs/security.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Reads tasks, logs, agents and quarantine.
    Viewer,
    /// A viewer who creates and controls their own tasks, and restores and
    /// drops quarantine records.
    Operator,
    /// An operator who also gives review verdicts.
    Reviewer,
    /// An operator over every task.
    Admin,
}

impl Role {
    /// The value of the `role` claim.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Operator => "operator",
            Role::Reviewer => "reviewer",
            Role::Admin => "admin",
        }
    }
}

/// What `vayu user add` hands a person.
#[derive(Clone, Serialize)]
pub struct PersonEnrollment {
    pub uid: String,
    pub project_id: String,
    pub role: Role,
    pub refresh_token: String,
    /// Whether this was done against the Auth emulator.
    pub emulator: bool,
}

impl std::fmt::Debug for PersonEnrollment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The refresh token is a secret: never in logs.
        f.debug_struct("PersonEnrollment")
            .field("uid", &self.uid)
            .field("role", &self.role)
            .finish_non_exhaustive()
    }
}

impl PersonEnrollment {
    /// The environment the person's `vayu` needs, as shell lines. Whoever
    /// has the refresh token acts as this person until it is revoked.
    pub fn env_lines(&self, api_key: &str) -> String {
        export_lines(
            "# Give these to the person; keep VAYU_REFRESH_TOKEN secret.",
            &[
                ("VAYU_PROJECT", self.project_id.clone()),
                (env::VAYU_IDENTITY, "refresh-token".into()),
                (env::VAYU_API_KEY, api_key.into()),
                (env::VAYU_REFRESH_TOKEN, self.refresh_token.clone()),
            ],
        )
    }
}

/// Gives person `uid` the role `role`: a custom token with `{role: R}`
/// exchanged for the refresh token they will use. Like [`super::enroll`],
/// an admin action on the admin's machine that writes nothing to Firestore.
pub async fn add_person(
    client: &AuthClient,
    service_account: Option<&ServiceAccount>,
    project_id: &str,
    uid: &str,
    role: Role,
) -> Result<PersonEnrollment> {
    let claims = person_claims(Some(role.as_str()));
    let session = exchange_custom_token(client, service_account, uid, &claims).await?;
    Ok(PersonEnrollment {
        uid: uid.into(),
        project_id: project_id.into(),
        role,
        refresh_token: session.refresh_token,
        emulator: client.endpoints().is_emulator(),
    })
}

/// `vayu user add --id UID --role ROLE`: what a person needs to use `vayu`
/// with that role, printed for the admin to hand over; the environment
/// decides where, as for [`super::enroll_command`]. A bad id is a
/// configuration error (64) before anything is done; clap refuses a bad
/// role (2).
pub async fn user_add_command(
    project: Option<String>,
    uid: &str,
    role: Role,
    json: bool,
) -> Result<String> {
    check_id("user id", uid)?;
    let setup = |project: &str| EmulatorSetup {
        comment: "# On the Firestore emulator a person signs in with an unsigned token for their\n\
                  # uid and role (the emulator accepts it; production never does). No secret.",
        who: json!({"uid": uid, "project_id": project, "role": role}),
        vars: vec![
            ("VAYU_PROJECT", project.into()),
            (env::VAYU_IDENTITY, "emulator".into()),
            (env::VAYU_UID, uid.into()),
            (env::VAYU_ROLE, role.as_str().into()),
        ],
    };
    mint_command(project, json, setup, async |m| {
        let sa = m.service_account.as_ref();
        let added = add_person(&m.client, sa, &m.project, uid, role).await?;
        let lines = added.env_lines(&m.api_key);
        Ok((added, lines))
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_persons_environment_signs_in_by_refresh_token_and_hides_it_from_debug() {
        let p = PersonEnrollment {
            uid: "alice".into(),
            project_id: "demo-vayu".into(),
            role: Role::Operator,
            refresh_token: "REFRESH-SECRET".into(),
            emulator: true,
        };
        let env = p.env_lines("key-1");
        assert!(
            env.contains("export VAYU_IDENTITY=refresh-token\n"),
            "{env}"
        );
        assert!(env.contains("export VAYU_REFRESH_TOKEN=REFRESH-SECRET\n"));
        assert!(env.contains("export VAYU_API_KEY=key-1\n"));
        assert!(!format!("{p:?}").contains("SECRET"));
        assert_eq!(
            serde_json::to_value(&p).expect("serializes")["role"],
            "operator"
        );
    }
}
