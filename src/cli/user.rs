//! `vayu user add --id UID --role ROLE`: a person's identity with a role,
//! as `vayu agent enroll` makes an agent's (see `crate::identity::people`).
//! Needs no Firestore connection and writes nothing there.

use crate::identity::Role;
use clap::Subcommand;

#[derive(Subcommand, Debug)]
pub enum UserCmd {
    /// Print what a person needs to use `vayu` with a role (an admin
    /// action, like `vayu agent enroll`).
    Add {
        /// The person's Firebase uid (1-128 of a-z, A-Z, 0-9, '-', '_', '.').
        #[arg(long)]
        id: String,
        #[arg(long, value_enum)]
        role: Role,
    },
}

/// Runs a user command; its output, or the error.
pub async fn run(project: Option<String>, cmd: &UserCmd, json: bool) -> crate::Result<String> {
    match cmd {
        UserCmd::Add { id, role } => {
            crate::identity::user_add_command(project, id, *role, json).await
        }
    }
}
