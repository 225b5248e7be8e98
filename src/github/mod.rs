//! GitHub: issues become tasks and tasks report back on them, Projects
//! Status follows the lifecycle, `ci` tasks dispatch a workflow run and
//! wait for its conclusion, research reports go to Discussions.
//!
//! Nothing of it is stored in Firestore: an issue's task has the id
//! `crate::keys` derives from the issue ([`issue_key`]), and a task's one
//! comment is found by its hidden marker ([`marker`]). So a sync pass is a
//! function of GitHub and the tasks, safe to run twice, by hand or on any
//! number of machines at once, with no leader (README, "GitHub"). Tokens
//! come from the environment or a file and stay there.
//!
//! - [`app`]: GitHub App credentials traded for installation tokens.
//! - [`client`]: REST and GraphQL, the token, rate limits waited out.
//! - [`sync`]: `vayu github sync`: issues to tasks, and back.
//! - [`projects`]: a Projects (v2) item's Status, by GraphQL.
//! - [`dispatch`]: `vayu github ci`: the handler of `ci` tasks.
//! - [`discussions`]: a research task's report as a discussion.
//! - [`issues`]: `vayu task create --github`: an issue for a new task.

pub use crate::error::{Error, Result};
pub use vayu_core::github::*;

pub mod app;
pub mod client;
pub mod discussions;
pub mod dispatch;
pub mod issues;
pub mod projects;
pub mod sync;

pub use client::GitHub;

/// The id of an issue's task: the same for every caller and machine.
pub fn issue_task_id(repo: &str, number: u64) -> String {
    crate::keys::task_id(KEY_SCOPE, &issue_key(repo, number))
}

/// The `id` of the node named `name` in the GraphQL list at `pointer`
/// (a category, a Status option).
pub(crate) fn id_named<'a>(v: &'a serde_json::Value, pointer: &str, name: &str) -> Option<&'a str> {
    use serde_json::Value;
    v.pointer(pointer)?
        .as_array()?
        .iter()
        .find(|n| n.get("name").and_then(Value::as_str) == Some(name))?
        .get("id")?
        .as_str()
}
