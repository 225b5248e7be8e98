//! A Projects (v2) item's Status, by GraphQL: the item in the
//! project, the project's Status field and the option of that name, then
//! `updateProjectV2ItemFieldValue` when the item shows another option.
//!
//! An issue that is not in the project is left alone: adding issues is
//! the project's own auto-add workflow's job, or a person's.

use super::{Error, GitHub, Result};
use serde_json::{Value, json};

/// The project items with their project's Status field and the
/// item's current Status.
pub const ITEMS: &str = "query($owner: String!, $name: String!, $number: Int!) {
  repository(owner: $owner, name: $name) {
    issue(number: $number) {
      projectItems(first: 20) {
        nodes {
          id
          project {
            id
            number
            field(name: \"Status\") {
              ... on ProjectV2SingleSelectField { id options { id name } }
            }
          }
          fieldValueByName(name: \"Status\") {
            ... on ProjectV2ItemFieldSingleSelectValue { name }
          }
        }
      }
    }
  }
}";

/// Sets a single-select field of an item.
pub const UPDATE: &str = "mutation($project: ID!, $item: ID!, $field: ID!, $option: String!) {
  updateProjectV2ItemFieldValue(input: {projectId: $project, itemId: $item, fieldId: $field, value: {singleSelectOptionId: $option}}) {
    projectV2Item { id }
  }
}";

/// Sets the Status of issue `number`'s item in project `project` to
/// `status`; whether it changed (or, dry, would). A project with no such
/// option is a configuration error: its Status field lacks a name vayu
/// uses (README, "GitHub").
pub async fn set_status(
    gh: &GitHub,
    repo: &str,
    number: u64,
    project: u64,
    status: &str,
    dry_run: bool,
) -> Result<bool> {
    let (owner, name) = super::parse_repo(repo).map_err(Error::Config)?;
    let vars = json!({ "owner": owner, "name": name, "number": number });
    let data = gh.graphql(ITEMS, vars).await?;
    let nodes = data
        .pointer("/repository/issue/projectItems/nodes")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let Some(item) = nodes
        .iter()
        .find(|n| n.pointer("/project/number").and_then(Value::as_u64) == Some(project))
    else {
        return Ok(false);
    };
    let now = item
        .pointer("/fieldValueByName/name")
        .and_then(Value::as_str);
    if now == Some(status) {
        return Ok(false);
    }
    let s = |p: &str| item.pointer(p).and_then(Value::as_str).unwrap_or("");
    let option = super::id_named(item, "/project/field/options", status).ok_or_else(|| {
        Error::Config(format!(
            "project {project}'s Status field has no option {status:?}"
        ))
    })?;
    if !dry_run {
        let vars = json!({
            "project": s("/project/id"),
            "item": s("/id"),
            "field": s("/project/field/id"),
            "option": option,
        });
        gh.graphql(UPDATE, vars).await?;
    }
    Ok(true)
}
