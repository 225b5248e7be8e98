//! The team flags of `vayu task create` (`--team`, `--pattern`,
//! `--roles`, `--skills`, `--merge`), `vayu task tree`, and the team
//! section of `vayu task status`.

use super::*;
use crate::team::form::{FORM_WITHIN_MAX_SECS, FORM_WITHIN_MIN_SECS, Form, Unformed};
use crate::team::{Merge, Pattern, TeamSpec};

#[derive(Args, Debug, Default)]
pub struct TeamArgs {
    /// Make it a team task of this many members (2-16): one part each,
    /// claimed like any task, and a parent that waits for every part and
    /// merges their results (README, "Teams").
    #[arg(long, conflicts_with_all = ["after", "condition", "key", "resource", "agent", "workflow"])]
    pub team: Option<usize>,
    /// swarm (parts side by side, merged; a JSON-array input is cut into
    /// a slice per part; the default), pipeline (stage k+1 gets stage k's
    /// result), peer (every member gets the whole input, shares the
    /// context and meets at barriers) or leader (part 1 hands out one
    /// subtask per follower; the parent aggregates with its handler).
    #[arg(long, value_parser = parse_enum::<Pattern>)]
    pub pattern: Option<Pattern>,
    /// One role per member (role-based): part k requires role k as a
    /// capability, so only an agent declaring it fills it. Sets the team's
    /// size when --team is not given.
    #[arg(long, value_delimiter = ',')]
    pub roles: Vec<String>,
    /// Skills the members cover together (skill-based), dealt over the
    /// parts as capabilities they require.
    #[arg(long, value_delimiter = ',')]
    pub skills: Vec<String>,
    /// How the parent merges its parts' results: concat (a swarm's
    /// default), json, last (a pipeline's), or handler (the parent's
    /// handler gets them as a JSON array).
    #[arg(long, value_parser = parse_enum::<Merge>)]
    pub merge: Option<Merge>,
    /// Give the team this long to form (5s to 7d, like 90s, 10m or
    /// 1h30m): each part that can start at once (a swarm's or peer's
    /// members, a pipeline's first stage, the leader's part) claimed
    /// once. A part nobody claimed by then says why, and does what
    /// --unformed says.
    #[arg(long, value_name = "DELAY")]
    pub form_within: Option<String>,
    /// What a part nobody claimed within --form-within does: wait (keep
    /// waiting, reported overdue; the default), degrade (its role or
    /// skills are dropped, so any agent of its type may take it) or cancel
    /// (it is cancelled with the reason, and the team with it).
    #[arg(long, value_parser = parse_enum::<Unformed>, requires = "form_within")]
    pub unformed: Option<Unformed>,
}

impl TeamArgs {
    /// The team asked for, if any. Team flags without a team, or a size
    /// that contradicts the roles, are bad input (exit 2).
    pub fn spec(&self) -> Result<Option<TeamSpec>, Error> {
        let bad = |m: &str| Error::InvalidTask(crate::model::InvalidTask(m.into()));
        let size = self
            .team
            .or((!self.roles.is_empty()).then_some(self.roles.len()));
        let Some(size) = size else {
            let any = self.pattern.is_some() || !self.skills.is_empty() || self.merge.is_some();
            if any || self.form_within.is_some() {
                return Err(bad(
                    "--pattern, --skills, --merge and --form-within need a team (--team N or --roles)",
                ));
            }
            return Ok(None);
        };
        Ok(Some(TeamSpec {
            size,
            pattern: self.pattern.unwrap_or(Pattern::Swarm),
            roles: self.roles.clone(),
            skills: self.skills.clone(),
            merge: self.merge,
            form: self.form().map_err(|m| bad(&m))?,
        }))
    }

    /// The formation deadline, from now, and what then.
    fn form(&self) -> Result<Option<Form>, String> {
        let Some(within) = &self.form_within else {
            return Ok(None);
        };
        let d = crate::time::parse_delay(within)?;
        let secs = d.as_secs();
        if !(FORM_WITHIN_MIN_SECS..=FORM_WITHIN_MAX_SECS).contains(&secs) {
            return Err(format!(
                "--form-within {within}: from {FORM_WITHIN_MIN_SECS} s to {} days",
                FORM_WITHIN_MAX_SECS / 86_400
            ));
        }
        Ok(Some(Form {
            by: crate::model::time_add(crate::model::now(), d),
            unformed: self.unformed.unwrap_or(Unformed::Wait),
        }))
    }
}

/// Creates the team; prints the parent's id and its parts', or JSON.
/// Parts that no live agent can take yet are named, with what is
/// missing: the team cannot form until such an agent comes.
pub(super) async fn create(
    store: &Store,
    new: NewTask,
    spec: &TeamSpec,
    json: bool,
) -> Result<String, Error> {
    let (parent, parts) = crate::teams::create(store, new, spec).await?;
    let refs: Vec<&Task> = parts.iter().collect();
    let missing = waits::waits(store, &refs).await;
    if json {
        let rows: Vec<_> = (parts.iter().zip(&missing))
            .map(|(p, w)| serde_json::json!({"task_id": p.task_id, "status": p.status, "waiting": w}))
            .collect();
        return Ok(to_json(&serde_json::json!({
            "task_id": parent.task_id,
            "status": parent.status,
            "team": parent.team,
            "parts": rows,
        })));
    }
    let mut out = format!("{}\n", parent.task_id);
    for (p, w) in parts.iter().zip(&missing) {
        if let Some(w) = w {
            eprintln!("warning: {} cannot form yet: {w}", p.task_id);
        }
    }
    if let Some(team) = &parent.team {
        let _ = writeln!(out, "  parts: {}", team.parts.join(", "));
    }
    Ok(out)
}

/// One row per part: id, role, status, agent, progress, and why it waits.
async fn part_rows(store: &Store, parent: &Task) -> Result<Vec<[String; 6]>, Error> {
    let found = crate::teams::parts(store, parent).await?;
    let tasks: Vec<&Task> = found.iter().flatten().map(|v| &v.value).collect();
    let mut waiting = waits::waits(store, &tasks).await.into_iter();
    let ids = parent
        .team
        .as_ref()
        .map(|t| t.parts.clone())
        .unwrap_or_default();
    let mut rows = Vec::new();
    for (id, v) in ids.iter().zip(&found) {
        let row = match v {
            None => [
                id.clone(),
                "-".into(),
                "missing".into(),
                "-".into(),
                "-".into(),
                String::new(),
            ],
            Some(v) => {
                let t = &v.value;
                let role = t.part_of.as_ref().and_then(|p| p.role.clone());
                let agent = t.lease.owner.clone().or(t.assignment.primary_agent.clone());
                [
                    id.clone(),
                    role.unwrap_or_else(|| "-".into()),
                    t.status.to_string(),
                    agent.unwrap_or_else(|| "-".into()),
                    format!("{}%", t.execution.progress),
                    formation(t, waiting.next().flatten()),
                ]
            }
        };
        rows.push(row);
    }
    Ok(rows)
}

/// What a part waits for, and whether it is past its formation deadline;
/// for a part degraded or cancelled at its deadline, the note saying so.
fn formation(t: &Task, waiting: Option<String>) -> String {
    if let Some(form) = crate::team::form::overdue(t, crate::model::now()) {
        return crate::team::form::reason(&form, crate::model::now(), waiting.as_deref());
    }
    let formed_late = (t.history.iter().rev())
        .filter_map(|h| h.note.as_deref())
        .find(|n| n.starts_with(crate::team::form::NOTE_PREFIX));
    match (waiting, formed_late) {
        (Some(w), _) => w,
        (None, Some(n)) => n.to_string(),
        (None, None) => String::new(),
    }
}

/// The team section of `task status` for a team's parent (its parts as
/// they stand), or a part's line naming its team; `None` otherwise.
pub(super) async fn status_section(
    store: &Store,
    t: &Task,
) -> Result<Option<(String, serde_json::Value)>, Error> {
    if let Some(p) = &t.part_of {
        let role = p
            .role
            .as_deref()
            .map(|r| format!(", role {r}"))
            .unwrap_or_default();
        let text = format!(
            "team      part {} of {} of {}{role}\n",
            p.index, p.of, p.parent
        );
        return Ok(Some((text, serde_json::to_value(p).unwrap_or_default())));
    }
    let Some(team) = &t.team else { return Ok(None) };
    let rows = part_rows(store, t).await?;
    let mut text = format!(
        "team      {} of {}, merged by {}\n",
        team.pattern,
        team.parts.len(),
        team.merge
    );
    // Written by the parent's holder as it completes (`isTeamCollaborators`).
    let collaborators = &t.assignment.collaborators;
    if !collaborators.is_empty() {
        let _ = writeln!(text, "members   {}", collaborators.join(", "));
    }
    let header = ["PART", "ROLE", "STATUS", "AGENT", "PROGRESS", "WAITING"];
    text += &table(
        &header,
        &rows.iter().map(|r| r.to_vec()).collect::<Vec<_>>(),
    );
    let json: Vec<_> = (rows.iter())
        .map(|r| serde_json::json!({"task_id": r[0], "role": r[1], "status": r[2], "agent": r[3], "progress": r[4], "waiting": r[5]}))
        .collect();
    Ok(Some((
        text,
        serde_json::json!({"team": team, "parts": json}),
    )))
}

/// `vayu task tree ID`: a team's parent and its parts, from the parent or
/// from any part; a task in no team is a tree of one.
pub(super) async fn tree(store: &Store, id: &str, json: bool) -> Result<String, Error> {
    let v = store
        .find_task(id)
        .await?
        .ok_or_else(|| Error::NotFound(format!("no task {id}")))?;
    let root = match &v.value.part_of {
        Some(p) => store
            .find_task(&p.parent)
            .await?
            .map_or(v.value.clone(), |p| p.value),
        None => v.value.clone(),
    };
    let rows = part_rows(store, &root).await?;
    if json {
        let parts: Vec<_> = (rows.iter())
            .map(|r| serde_json::json!({"task_id": r[0], "role": r[1], "status": r[2], "agent": r[3], "progress": r[4]}))
            .collect();
        return Ok(to_json(
            &serde_json::json!({"task_id": root.task_id, "status": root.status, "title": root.title, "parts": parts}),
        ));
    }
    let mut out = format!("{} {} {}\n", root.task_id, root.status, root.title);
    let last = rows.len().saturating_sub(1);
    for (i, r) in rows.iter().enumerate() {
        let branch = if i == last { "└─" } else { "├─" };
        let role = if r[1] == "-" {
            String::new()
        } else {
            format!(" ({})", r[1])
        };
        let _ = writeln!(out, "{branch} {}{role} {} {} {}", r[0], r[2], r[3], r[4]);
    }
    Ok(out)
}
