//! A step's input text and its references: `{{inputs.k}}` and
//! `{{steps.<id>.result}}` (spaces inside the braces allowed).
//!
//! Substitution is one pass over the template, never over what was
//! substituted: a result that contains `{{inputs.secret}}` (an agent's
//! output is not trusted text) is copied as it is, not expanded. There is
//! no escape for a literal `{{`: every `{{` starts a reference, so a
//! mistake is an error rather than text that silently stays unfilled.
//!
//! A result is text (what the handler reported), so a path into it
//! (`{{steps.x.result.status}}`) is refused for now: it needs structured
//! results, which the condition language will bring.

use crate::model::limits;
use std::collections::BTreeMap;
use std::fmt;

/// What a `{{…}}` refers to.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Reference {
    /// `{{inputs.<name>}}`
    Input(String),
    /// `{{steps.<id>.result}}`
    Result(String),
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reference::Input(name) => write!(f, "{{{{inputs.{name}}}}}"),
            Reference::Result(step) => write!(f, "{{{{steps.{step}.result}}}}"),
        }
    }
}

/// Why a template cannot be read or filled in. Positions are byte offsets
/// into the step's `input`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    #[error("'{{{{' at {pos} is never closed: expected '}}}}' after it")]
    Unclosed { pos: usize },
    #[error(
        "'{{{{{text}}}}}' at {pos} is not a reference: expected {{{{inputs.NAME}}}} or {{{{steps.ID.result}}}}"
    )]
    Malformed { text: String, pos: usize },
    #[error(
        "'{{{{{text}}}}}' at {pos}: a result is text with no fields yet: write {{{{steps.{step}.result}}}}"
    )]
    ResultPath {
        text: String,
        step: String,
        pos: usize,
    },
    #[error("input '{name}' has no value")]
    MissingInput { name: String },
    #[error("step '{step}' has no result: it has not completed")]
    MissingResult { step: String },
    #[error(
        "the filled-in input is {len} bytes: a task's input is at most {}",
        limits::INPUT_MAX
    )]
    TooLong { len: usize },
}

/// The pieces of a template: literal text and references, in order.
enum Piece<'a> {
    Text(&'a str),
    Ref(Reference),
}

/// The references in `template`, each with its byte offset, in order.
pub fn references(template: &str) -> Result<Vec<(usize, Reference)>, TemplateError> {
    let refs = pieces(template)?
        .into_iter()
        .filter_map(|(pos, piece)| match piece {
            Piece::Text(_) => None,
            Piece::Ref(r) => Some((pos, r)),
        });
    Ok(refs.collect())
}

/// `template` with every reference replaced by its value: `inputs` are a
/// run's inputs ([`super::WorkflowSpec::resolve_inputs`]), `results` the
/// results of completed steps by step id.
pub fn render(
    template: &str,
    inputs: &BTreeMap<String, String>,
    results: &BTreeMap<String, String>,
) -> Result<String, TemplateError> {
    let mut out = String::with_capacity(template.len());
    for (_, piece) in pieces(template)? {
        let value = match piece {
            Piece::Text(t) => t,
            Piece::Ref(Reference::Input(name)) => inputs
                .get(&name)
                .ok_or(TemplateError::MissingInput { name })?,
            Piece::Ref(Reference::Result(step)) => results
                .get(&step)
                .ok_or(TemplateError::MissingResult { step })?,
        };
        out.push_str(value);
        if out.len() > limits::INPUT_MAX {
            return Err(TemplateError::TooLong { len: out.len() });
        }
    }
    Ok(out)
}

/// `template` with its inputs filled in and its result references kept,
/// written `{{steps.<id>.result}}`: what a step's task stores when the
/// workflow starts, before any result exists. The results are filled in
/// when the step runs, by [`render`] over this text with no inputs, which
/// is right only while no input value holds a `{{` of its own
/// ([`super::WorkflowSpec::resolve_inputs`] refuses one).
pub fn render_inputs(
    template: &str,
    inputs: &BTreeMap<String, String>,
) -> Result<String, TemplateError> {
    let kept: BTreeMap<String, String> = references(template)?
        .into_iter()
        .filter_map(|(_, r)| match r {
            Reference::Result(step) => Some((step.clone(), Reference::Result(step).to_string())),
            Reference::Input(_) => None,
        })
        .collect();
    render(template, inputs, &kept)
}

/// Splits `template` into text and references, each with its offset.
fn pieces(template: &str) -> Result<Vec<(usize, Piece<'_>)>, TemplateError> {
    let mut out = Vec::new();
    let mut rest = 0;
    while let Some(open) = template[rest..].find("{{").map(|i| rest + i) {
        if open > rest {
            out.push((rest, Piece::Text(&template[rest..open])));
        }
        let inner_start = open + 2;
        let close = template[inner_start..]
            .find("}}")
            .map(|i| inner_start + i)
            .ok_or(TemplateError::Unclosed { pos: open })?;
        out.push((
            open,
            Piece::Ref(reference(&template[inner_start..close], open)?),
        ));
        rest = close + 2;
    }
    if rest < template.len() {
        out.push((rest, Piece::Text(&template[rest..])));
    }
    Ok(out)
}

/// The reference inside one pair of braces at `pos`.
fn reference(inner: &str, pos: usize) -> Result<Reference, TemplateError> {
    let parts: Vec<&str> = inner.trim().split('.').collect();
    let name_ok = |s: &str| super::is_input_name(s);
    match parts.as_slice() {
        ["inputs", name] if name_ok(name) => Ok(Reference::Input(name.to_string())),
        ["steps", step, "result"] if super::is_step_id(step) => {
            Ok(Reference::Result(step.to_string()))
        }
        ["steps", step, "result", _, ..] if super::is_step_id(step) => {
            Err(TemplateError::ResultPath {
                text: inner.to_string(),
                step: step.to_string(),
                pos,
            })
        }
        _ => Err(TemplateError::Malformed {
            text: inner.to_string(),
            pos,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn inputs_and_results_are_filled_in() {
        let t = "Study {{inputs.topic}} ({{ inputs.depth }}).\nGiven: {{steps.define.result}}";
        let inputs = map(&[("topic", "tides"), ("depth", "deep")]);
        let results = map(&[("define", "why tides?")]);
        let out = render(t, &inputs, &results).expect("every reference has a value");
        assert_eq!(out, "Study tides (deep).\nGiven: why tides?");
        assert_eq!(
            render("plain {text}", &inputs, &results),
            Ok("plain {text}".into())
        );
        assert_eq!(render("", &inputs, &results), Ok(String::new()));
    }

    #[test]
    fn references_are_listed_with_their_positions() {
        let refs =
            references("a {{inputs.x}} b {{steps.s1.result}}{{inputs.x}}").expect("well formed");
        assert_eq!(
            refs,
            [
                (2, Reference::Input("x".into())),
                (17, Reference::Result("s1".into())),
                (36, Reference::Input("x".into())),
            ]
        );
        assert_eq!(refs[1].1.to_string(), "{{steps.s1.result}}");
    }

    #[test]
    fn a_missing_value_is_named() {
        let none = BTreeMap::new();
        let e = render("{{inputs.topic}}", &none, &none).expect_err("no inputs");
        assert_eq!(e.to_string(), "input 'topic' has no value");
        let e = render("{{steps.define.result}}", &none, &none).expect_err("no results");
        assert_eq!(
            e.to_string(),
            "step 'define' has no result: it has not completed"
        );
    }

    #[test]
    fn malformed_references_say_where_and_what_was_expected() {
        let cases = [
            ("ab {{inputs.x", "'{{' at 3 is never closed"),
            (
                "{{}}",
                "'{{}}' at 0 is not a reference: expected {{inputs.NAME}}",
            ),
            ("x{{input.a}}", "'{{input.a}}' at 1 is not a reference"),
            ("{{inputs.}}", "at 0 is not a reference"),
            ("{{inputs.a.b}}", "at 0 is not a reference"),
            ("{{steps.a}}", "at 0 is not a reference"),
            ("{{steps.a-b.result}}", "at 0 is not a reference"),
            ("{{steps.a.output}}", "at 0 is not a reference"),
            (
                "{{ steps.s.result.status }}",
                "a result is text with no fields yet: write {{steps.s.result}}",
            ),
        ];
        for (t, want) in cases {
            let e = references(t).expect_err(t).to_string();
            assert!(e.contains(want), "{t}: {e}");
        }
    }

    #[test]
    fn substituted_text_is_never_expanded_again() {
        let inputs = map(&[("secret", "s3cr3t")]);
        let results = map(&[("a", "{{inputs.secret}} and {{")]);
        let out = render("got: {{steps.a.result}}", &inputs, &results).expect("filled in");
        assert_eq!(out, "got: {{inputs.secret}} and {{");
    }

    #[test]
    fn the_filled_in_text_is_bounded_like_a_task_input() {
        let big = "x".repeat(limits::INPUT_MAX);
        let results = map(&[("a", big.as_str())]);
        let inputs = BTreeMap::new();
        assert!(render("{{steps.a.result}}", &inputs, &results).is_ok());
        let e = render("!{{steps.a.result}}", &inputs, &results).expect_err("one byte over");
        assert!(matches!(e, TemplateError::TooLong { len } if len == limits::INPUT_MAX + 1));
        // Many references to a large value stop early, not at the end.
        let many = "{{steps.a.result}}".repeat(1_000);
        assert!(matches!(
            render(&many, &inputs, &results),
            Err(TemplateError::TooLong { .. })
        ));
    }

    #[test]
    fn inputs_are_filled_in_first_and_results_later() {
        let t = "Study {{inputs.topic}} given {{ steps.define.result }}.";
        let inputs = map(&[("topic", "tides")]);
        let stored = render_inputs(t, &inputs).expect("the inputs are given");
        assert_eq!(stored, "Study tides given {{steps.define.result}}.");
        let results = map(&[("define", "why tides?")]);
        let out = render(&stored, &BTreeMap::new(), &results);
        assert_eq!(out, Ok("Study tides given why tides?.".into()));
        let e = render_inputs("{{inputs.depth}}", &inputs).expect_err("not given");
        assert_eq!(
            e,
            TemplateError::MissingInput {
                name: "depth".into()
            }
        );
    }

    #[test]
    fn non_ascii_text_around_references_is_kept() {
        let inputs = map(&[("name", "Zoë")]);
        let out = render("héllo {{inputs.name}} ✓", &inputs, &BTreeMap::new());
        assert_eq!(out, Ok("héllo Zoë ✓".into()));
        let refs = references("é{{inputs.name}}").expect("well formed");
        assert_eq!(refs[0].0, 2, "byte offsets");
    }
}
