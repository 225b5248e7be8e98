//! The handler's stdout line protocol.
//!
//! A handler is any program. It gets the task as JSON on stdin and
//! `VAYU_TASK_ID` (and friends, see `vayu::handler`) in its environment.
//! Each line it prints on stdout that starts with `vayu:` is a report:
//!
//! ```text
//! vayu:progress 40 analyzing data     progress 0..=100, then the current step
//! vayu:checkpoint {"page": 12}        resume state; a resumed attempt gets the last
//! vayu:artifact report gs://b/r.md    a named output: a URI or a short value
//! vayu:result 3 bottlenecks found     the task's result summary
//! vayu:log text                       a log line (same as any other stdout line)
//! vayu:skill rust                     the agent running it has learned a skill
//! ```
//!
//! A skill is a capability name. The agent adds it to the capabilities in
//! its document once the run completes (not on a failed attempt), keeps it
//! across restarts, and assignment matches `requires` against it: this is
//! how the learning template's skill update reaches assignment.
//!
//! A team's member (a part of a team task, `crate::team`) may also say:
//!
//! ```text
//! vayu:context KEY VALUE              sets KEY in the team's shared context
//! vayu:barrier NAME [SECS]            arrives at decision point NAME (see below)
//! vayu:subtask TEXT                   a leader's part: the next follower's work
//! ```
//!
//! The context is `$VAYU_CONTEXT`, a JSON file of the entries as they
//! stood when the part started (and again after each barrier). After
//! `vayu:barrier NAME`, the file `$VAYU_TASK_DIR/barrier-NAME` appears,
//! saying `passed` once every member has arrived, or `timeout` after SECS
//! (300 by default); a handler waits for it before it goes on.
//!
//! A review command (`vayu-agent --review-handler`, `--self-check`,
//! `--tests-command`) may also say:
//!
//! ```text
//! vayu:verdict approve                approve or reject; else the exit status decides
//! vayu:score correctness=4,quality=3  0..=5 per criterion, any of the four
//! vayu:comment the tests do not pass  a line of the verdict's comment
//! ```
//!
//! Every other stdout line, and every stderr line, goes to the task's log.
//! Exit status 0 completes the task; anything else fails the attempt.
//!
//! The prefix keeps ordinary output from being mistaken for a report, and
//! a line that starts with `vayu:` but does not parse is logged with a
//! warning rather than dropped, so a typo is visible.

/// What one stdout line says.
#[derive(Debug, Clone, PartialEq)]
pub enum Report {
    Progress {
        percent: i64,
        step: Option<String>,
    },
    Checkpoint(String),
    Artifact {
        name: String,
        uri: String,
    },
    Result(String),
    Log(String),
    /// A capability the running agent has learned (`vayu:skill NAME`).
    Skill(String),
    /// A reviewer's verdict (review commands only).
    Verdict(crate::review::Verdict),
    /// A reviewer's scores (review commands only).
    Scores(crate::review::Scores),
    /// A line of a reviewer's comment (review commands only).
    Comment(String),
    /// A team member sets a key of the team's shared context.
    Context {
        key: String,
        value: String,
    },
    /// A team member arrives at a decision point and waits for the rest.
    Barrier {
        name: String,
        timeout_secs: u64,
    },
    /// A leader hands the next follower its work.
    Subtask(String),
    /// A `vayu:` line that does not parse; logged with the reason.
    Invalid {
        line: String,
        reason: String,
    },
}

pub const PREFIX: &str = "vayu:";

/// Parses one line of a handler's stdout.
pub fn parse_line(line: &str) -> Report {
    let line = line.trim_end_matches(['\r', '\n']);
    let Some(rest) = line.strip_prefix(PREFIX) else {
        return Report::Log(line.to_string());
    };
    let (verb, arg) = match rest.split_once(' ') {
        Some((v, a)) => (v, a.trim()),
        None => (rest, ""),
    };
    let invalid = |reason: &str| Report::Invalid {
        line: line.to_string(),
        reason: reason.to_string(),
    };
    match verb {
        "progress" => {
            let (num, step) = match arg.split_once(' ') {
                Some((n, s)) => (n, Some(s.trim().to_string()).filter(|s| !s.is_empty())),
                None => (arg, None),
            };
            match num.trim_end_matches('%').parse::<f64>() {
                Ok(p) if (0.0..=100.0).contains(&p) => Report::Progress {
                    percent: p.round() as i64,
                    step,
                },
                Ok(_) => invalid("progress must be 0..=100"),
                Err(_) => invalid("progress needs a number"),
            }
        }
        "checkpoint" if !arg.is_empty() => Report::Checkpoint(arg.to_string()),
        "checkpoint" => invalid("checkpoint needs data"),
        "artifact" => match arg.split_once(' ') {
            Some((name, uri)) if !uri.trim().is_empty() => Report::Artifact {
                name: name.to_string(),
                uri: uri.trim().to_string(),
            },
            _ => invalid("artifact needs a name and a URI or value"),
        },
        "result" => Report::Result(arg.to_string()),
        "log" => Report::Log(arg.to_string()),
        "skill" if crate::schema::is_capability(arg) => Report::Skill(arg.to_string()),
        "skill" => invalid("skill needs a capability name: 1 to 64 of A-Z a-z 0-9 _ . : / + -"),
        "verdict" => match arg {
            "approve" => Report::Verdict(crate::review::Verdict::Approve),
            "reject" => Report::Verdict(crate::review::Verdict::Reject),
            _ => invalid("verdict is approve or reject"),
        },
        "score" => match arg.parse() {
            Ok(scores) => Report::Scores(scores),
            Err(reason) => invalid(&reason),
        },
        "comment" => Report::Comment(arg.to_string()),
        "context" => match arg.split_once(' ') {
            Some((key, value)) if is_context_key(key) => Report::Context {
                key: key.to_string(),
                value: value.trim().to_string(),
            },
            _ => invalid("context needs a key (1 to 64 of A-Z a-z 0-9 _ . -) and a value"),
        },
        "barrier" => {
            let (name, secs) = match arg.split_once(' ') {
                Some((n, s)) => (n, s.trim().parse::<u64>().ok()),
                None => (arg, Some(BARRIER_TIMEOUT_SECS)),
            };
            match secs {
                Some(secs) if is_context_key(name) && (1..=3600).contains(&secs) => {
                    Report::Barrier {
                        name: name.to_string(),
                        timeout_secs: secs,
                    }
                }
                _ => invalid("barrier needs a name (as a context key) and seconds 1..=3600"),
            }
        }
        "subtask" if !arg.is_empty() => Report::Subtask(arg.to_string()),
        "subtask" => invalid("subtask needs its text"),
        _ => invalid(
            "unknown report (progress, checkpoint, artifact, result, log, skill, context, barrier, subtask, verdict, score, comment)",
        ),
    }
}

/// How long a member waits at a decision point unless it says.
pub const BARRIER_TIMEOUT_SECS: u64 = 300;

/// A context key or barrier name: `^[A-Za-z0-9_.-]{1,64}$`, as
/// firestore.rules `isTeamWrite` checks it (a field name in a map).
pub fn is_context_key(s: &str) -> bool {
    (1..=64).contains(&s.len())
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn team_reports_parse() {
        assert_eq!(
            parse_line("vayu:context plan step one, then two"),
            Report::Context {
                key: "plan".into(),
                value: "step one, then two".into()
            }
        );
        assert_eq!(
            parse_line("vayu:barrier agreed"),
            Report::Barrier {
                name: "agreed".into(),
                timeout_secs: BARRIER_TIMEOUT_SECS
            }
        );
        assert_eq!(
            parse_line("vayu:barrier agreed 20"),
            Report::Barrier {
                name: "agreed".into(),
                timeout_secs: 20
            }
        );
        assert_eq!(
            parse_line("vayu:subtask write the docs"),
            Report::Subtask("write the docs".into())
        );
        for bad in [
            "vayu:context",
            "vayu:context only-a-key",
            "vayu:context a/b value",
            "vayu:barrier",
            "vayu:barrier x 0",
            "vayu:barrier x soon",
            "vayu:subtask",
        ] {
            assert!(matches!(parse_line(bad), Report::Invalid { .. }), "{bad}");
        }
    }

    #[test]
    fn a_skill_is_a_capability_name() {
        assert_eq!(parse_line("vayu:skill rust"), Report::Skill("rust".into()));
        for bad in ["vayu:skill", "vayu:skill two words", "vayu:skill gpu,tpu"] {
            assert!(matches!(parse_line(bad), Report::Invalid { .. }), "{bad}");
        }
    }

    #[test]
    fn reports_parse() {
        assert_eq!(
            parse_line("vayu:progress 40 analyzing data"),
            Report::Progress {
                percent: 40,
                step: Some("analyzing data".into())
            }
        );
        assert_eq!(
            parse_line("vayu:progress 100"),
            Report::Progress {
                percent: 100,
                step: None
            }
        );
        assert_eq!(
            parse_line("vayu:checkpoint {\"a\":1}"),
            Report::Checkpoint("{\"a\":1}".into())
        );
        assert_eq!(
            parse_line("vayu:artifact report gs://b/r.md"),
            Report::Artifact {
                name: "report".into(),
                uri: "gs://b/r.md".into()
            }
        );
        assert_eq!(parse_line("vayu:result ok"), Report::Result("ok".into()));
        assert_eq!(parse_line("hello"), Report::Log("hello".into()));
        assert_eq!(parse_line("vayu:log hi"), Report::Log("hi".into()));
        assert_eq!(
            parse_line("vayu:verdict reject"),
            Report::Verdict(crate::review::Verdict::Reject)
        );
        assert_eq!(
            parse_line("vayu:score correctness=4,quality=3"),
            Report::Scores("correctness=4,quality=3".parse().expect("valid scores"))
        );
        assert_eq!(
            parse_line("vayu:comment no tests"),
            Report::Comment("no tests".into())
        );
    }

    #[test]
    fn bad_reports_are_invalid_not_dropped() {
        for l in [
            "vayu:progress 140",
            "vayu:progress x",
            "vayu:artifact onlyname",
            "vayu:frobnicate",
            "vayu:checkpoint",
            "vayu:verdict maybe",
            "vayu:score correctness=9",
        ] {
            assert!(matches!(parse_line(l), Report::Invalid { .. }), "{l}");
        }
    }
}
