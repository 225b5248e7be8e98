//! `vayu resource set NAME CAPACITY | list`: the named semaphores tasks
//! take permits of (`--resource gpu:1`; see `crate::resources`).
//!
//! Setting a capacity is an admin's (firestore.rules `/resources/`); a
//! bad name or capacity is exit 2 with nothing written.

use super::{Failure, table, to_json};
use crate::resource::Resource;
use crate::store::Store;
use clap::Subcommand;

#[derive(Subcommand, Debug)]
pub enum ResourceCmd {
    /// Creates a resource, or changes its capacity. Holders keep their
    /// permits: a lower capacity only holds back new claims.
    Set {
        /// Lowercase letters, digits, _ and -.
        name: String,
        /// How many permits may be held at once (0 to 1000).
        capacity: i64,
    },
    /// Every resource: capacity, permits in use, and who holds them.
    List,
}

#[derive(serde::Serialize)]
struct Row<'a> {
    name: &'a str,
    #[serde(flatten)]
    resource: &'a Resource,
}

fn rows(all: &[(String, Resource)]) -> String {
    let lines: Vec<Vec<String>> = (all.iter())
        .map(|(name, r)| {
            let holders: Vec<String> = (r.holders.iter())
                .map(|(task, h)| format!("{task} ({}×, {})", h.permits, h.owner))
                .collect();
            vec![
                name.clone(),
                r.capacity.to_string(),
                r.used.to_string(),
                r.free().to_string(),
                if holders.is_empty() {
                    "-".into()
                } else {
                    holders.join(", ")
                },
            ]
        })
        .collect();
    table(&["NAME", "CAPACITY", "USED", "FREE", "HELD BY"], &lines)
}

pub async fn run(store: &Store, cmd: ResourceCmd, json: bool) -> Result<String, Failure> {
    let all = match cmd {
        ResourceCmd::Set { name, capacity } => {
            let r = crate::resources::set(store, &name, capacity).await?;
            vec![(name, r)]
        }
        ResourceCmd::List => crate::resources::list(store).await?,
    };
    Ok(if json {
        let out: Vec<Row> = (all.iter())
            .map(|(name, resource)| Row { name, resource })
            .collect();
        to_json(&out)
    } else {
        rows(&all)
    })
}
