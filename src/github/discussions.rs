//! A research task's report as a discussion in a configured category
//! (`vayu github sync --discussions CATEGORY`, GraphQL `createDiscussion`).
//! Posted once: the body starts with the task's marker, and a report is
//! posted only when no recent discussion carries it.

use super::{Error, GitHub, Result};
use crate::lifecycle::Status;
use crate::model::{Task, TaskType};
use serde_json::{Value, json};

/// The repository, its categories and its newest discussions' bodies.
pub const LOOK: &str = "query($owner: String!, $name: String!) {
  repository(owner: $owner, name: $name) {
    id
    discussionCategories(first: 50) { nodes { id name } }
    discussions(first: 100, orderBy: {field: CREATED_AT, direction: DESC}) { nodes { url body } }
  }
}";

pub const CREATE: &str = "mutation($repo: ID!, $category: ID!, $title: String!, $body: String!) {
  createDiscussion(input: {repositoryId: $repo, categoryId: $category, title: $title, body: $body}) {
    discussion { url }
  }
}";

/// Whether `t` has a report to post: a completed research task.
pub fn has_report(t: &Task) -> bool {
    t.task_type == TaskType::Research && t.status == Status::Completed
}

/// Posts `t`'s report to `category` of `repo` unless it is there; the new
/// discussion's URL, or `None` when there was nothing to post.
pub async fn post_report(
    gh: &GitHub,
    repo: &str,
    category: &str,
    t: &Task,
    dry_run: bool,
) -> Result<Option<String>> {
    if !has_report(t) {
        return Ok(None);
    }
    let (owner, name) = super::parse_repo(repo).map_err(Error::Config)?;
    let data = gh
        .graphql(LOOK, json!({ "owner": owner, "name": name }))
        .await?;
    let marker = super::marker(&t.task_id);
    let posted = data
        .pointer("/repository/discussions/nodes")
        .and_then(Value::as_array)
        .is_some_and(|ds| {
            ds.iter().any(|d| {
                d.get("body")
                    .and_then(Value::as_str)
                    .is_some_and(|b| b.starts_with(&marker))
            })
        });
    if posted {
        return Ok(None);
    }
    let category_id = super::id_named(&data, "/repository/discussionCategories/nodes", category)
        .ok_or_else(|| Error::Config(format!("{repo} has no discussion category {category:?}")))?;
    if dry_run {
        return Ok(Some(String::new()));
    }
    let vars = json!({
        "repo": data.pointer("/repository/id").and_then(Value::as_str).unwrap_or(""),
        "category": category_id,
        "title": format!("Research: {}", t.title),
        "body": super::comment_body(t),
    });
    let made = gh.graphql(CREATE, vars).await?;
    Ok(made
        .pointer("/createDiscussion/discussion/url")
        .and_then(Value::as_str)
        .map(str::to_string))
}
