//! `vayu task create --github owner/name`: the issue is opened first,
//! with the sync label, and the task gets the id the issue derives
//! (`super::issue_task_id`). Should the create fail after the issue is
//! open, the next `vayu github sync` makes the task from the issue; the
//! two never disagree about which task is the issue's.

use super::{GitHub, Result};
use reqwest::Method;
use serde_json::{Value, json};

/// An open issue: its number and page.
#[derive(Debug, Clone, PartialEq)]
pub struct Opened {
    pub number: u64,
    pub html_url: String,
}

/// Opens an issue in `repo` with `label` (POST /repos/{o}/{r}/issues).
pub async fn open(gh: &GitHub, repo: &str, label: &str, title: &str, body: &str) -> Result<Opened> {
    super::parse_repo(repo).map_err(super::Error::Config)?;
    let req = json!({ "title": title, "body": body, "labels": [label] });
    let v = gh
        .rest(Method::POST, &format!("/repos/{repo}/issues"), Some(&req))
        .await?;
    let number = v.get("number").and_then(Value::as_u64).ok_or_else(|| {
        super::Error::GitHub(format!("the new issue in {repo} has no number: {v}"))
    })?;
    let html_url = v
        .get("html_url")
        .and_then(Value::as_str)
        .unwrap_or("")
        .into();
    Ok(Opened { number, html_url })
}
