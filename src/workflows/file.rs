//! Reading a workflow file: YAML (`.yaml`, `.yml`) or TOML (`.toml`), by
//! its extension, straight into a [`WorkflowSpec`], whose types refuse
//! unknown fields; the parsers' errors name the field and its line.

use super::invalid;
use crate::error::Result;
use crate::workflow::WorkflowSpec;
use std::path::Path;

/// The workflow in the file at `path`: exit 2 for a file that cannot be
/// read or does not parse.
pub fn load_file(path: &Path) -> Result<WorkflowSpec> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| invalid(format!("cannot read {}: {e}", path.display())))?;
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
    parse_spec(&text, ext).map_err(|e| invalid(format!("{}: {e}", path.display())))
}

/// Parses `text` as the format its extension `ext` names.
pub fn parse_spec(text: &str, ext: &str) -> std::result::Result<WorkflowSpec, String> {
    match ext.to_ascii_lowercase().as_str() {
        "yaml" | "yml" => serde_yaml_ng::from_str(text).map_err(|e| e.to_string()),
        "toml" => toml::from_str(text).map_err(|e| e.to_string()),
        other => Err(format!(
            "'.{other}' is not a workflow file: expected .yaml, .yml or .toml"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const YAML: &str = "name: ship\nsteps:\n  - id: build\n    title: Build it\n    type: maintenance\n  - id: test\n    title: Test it\n    type: maintenance\n    after: [build]\n    input: \"check {{steps.build.result}}\"\n";

    #[test]
    fn yaml_and_toml_read_into_the_same_spec() {
        let y = parse_spec(YAML, "yml").expect("valid YAML");
        let toml = "name = \"ship\"\n[[steps]]\nid = \"build\"\ntitle = \"Build it\"\ntype = \"maintenance\"\n[[steps]]\nid = \"test\"\ntitle = \"Test it\"\ntype = \"maintenance\"\nafter = [\"build\"]\ninput = \"check {{steps.build.result}}\"\n";
        let t = parse_spec(toml, "toml").expect("valid TOML");
        assert_eq!(y, t);
        assert_eq!(y.steps[1].after, ["build"]);
    }

    #[test]
    fn an_unknown_field_is_named_with_its_line() {
        let bad = YAML.replace("after:", "afer:");
        let e = parse_spec(&bad, "yaml").expect_err("unknown field");
        assert!(e.contains("unknown field `afer`"), "{e}");
        assert!(e.contains("line 9"), "{e}");
        let e = parse_spec(YAML, "json").expect_err("not a format");
        assert!(e.contains("expected .yaml, .yml or .toml"), "{e}");
    }
}
