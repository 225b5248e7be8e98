//! `vayu task graph <id>`: the dependencies as a text tree, or as
//! Graphviz DOT with `--dot`. Pure: the caller supplies each node's label
//! (its status, say) and prints the string.
//!
//! Why a tree that can repeat nodes: a terminal shows a tree well and a
//! DAG badly, so a task reached twice (a diamond) is printed in full once
//! and then as a one-line reference, and a cycle ends at the task it
//! returns to instead of looping.

use super::Graph;
use std::collections::BTreeSet;
use std::fmt::Write as _;

/// Levels of the text tree shown below the root; deeper ones are cut with
/// a line that says so, so that a chain of thousands of tasks does not
/// print megabytes of indentation.
pub const TREE_DEPTH_MAX: usize = 64;

/// One line still to print, or the end of a task's subtree.
enum Step<'a> {
    Line {
        id: &'a str,
        /// Indentation inherited from the ancestors.
        prefix: String,
        /// Whether it is the last child of its parent (`└──`).
        last: bool,
        depth: usize,
    },
    Leave(&'a str),
}

impl Graph {
    /// `root`, then what it waits for, recursively, drawn with
    /// box-drawing characters, each task followed by `label(id)` when
    /// that is not empty. A task printed already shows `(see above)`; one
    /// that closes a cycle shows `(cycle, see above)`.
    pub fn render_tree(&self, root: &str, label: impl Fn(&str) -> String) -> String {
        let mut out = String::new();
        let mut printed: BTreeSet<&str> = BTreeSet::new();
        let mut path: BTreeSet<&str> = BTreeSet::new();
        let mut steps = vec![Step::Line {
            id: root,
            prefix: String::new(),
            last: true,
            depth: 0,
        }];
        while let Some(step) = steps.pop() {
            let (id, prefix, last, depth) = match step {
                Step::Leave(id) => {
                    path.remove(id);
                    continue;
                }
                Step::Line {
                    id,
                    prefix,
                    last,
                    depth,
                } => (id, prefix, last, depth),
            };
            let branch = match (depth, last) {
                (0, _) => "",
                (_, true) => "└── ",
                (_, false) => "├── ",
            };
            let _ = write!(out, "{prefix}{branch}{id}");
            let text = label(id);
            if !text.is_empty() {
                let _ = write!(out, "  {text}");
            }
            let deps = self.dependencies(id);
            let seen = if path.contains(id) {
                " (cycle, see above)"
            } else if printed.contains(id) && !deps.is_empty() {
                " (see above)"
            } else {
                ""
            };
            out.push_str(seen);
            out.push('\n');
            let inner = match (depth, last) {
                (0, _) => String::new(),
                (_, true) => format!("{prefix}    "),
                (_, false) => format!("{prefix}│   "),
            };
            if !seen.is_empty() || !printed.insert(id) || deps.is_empty() {
                continue;
            }
            if depth == TREE_DEPTH_MAX {
                let _ = writeln!(out, "{inner}└── … deeper dependencies not shown");
                continue;
            }
            path.insert(id);
            steps.push(Step::Leave(id));
            for (i, d) in deps.iter().enumerate().rev() {
                steps.push(Step::Line {
                    id: d,
                    prefix: inner.clone(),
                    last: i + 1 == deps.len(),
                    depth: depth + 1,
                });
            }
        }
        out
    }

    /// Graphviz DOT of `root` and everything it waits for, or of the whole
    /// graph when `root` is `None`. Edges point from a dependency to the
    /// task that waits for it, the way work flows, so `dot` draws the
    /// first tasks to run at the top. Node labels are the id, then
    /// `label(id)` on a second line when that is not empty.
    pub fn render_dot(&self, root: Option<&str>, label: impl Fn(&str) -> String) -> String {
        let tasks: BTreeSet<&str> = match root {
            Some(r) => std::iter::once(r).chain(self.upstream(r)).collect(),
            None => self
                .nodes
                .iter()
                .flat_map(|(id, n)| std::iter::once(id).chain(&n.deps))
                .map(String::as_str)
                .collect(),
        };
        let mut out = String::from("digraph vayu {\n  node [shape=box];\n");
        for id in &tasks {
            let text = label(id);
            let shown = if text.is_empty() {
                quote(id)
            } else {
                quote(&format!("{id}\n{text}"))
            };
            let _ = writeln!(out, "  {} [label={shown}];", quote(id));
        }
        for id in &tasks {
            for d in self.dependencies(id) {
                let _ = writeln!(out, "  {} -> {};", quote(d), quote(id));
            }
        }
        out.push_str("}\n");
        out
    }
}

/// A DOT quoted string: backslashes and quotes escaped, a line break as
/// DOT's `\n`, other control characters dropped (DOT has no escape for
/// them and they would only garble the picture).
fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::super::tests::{graph, t};
    use super::*;

    fn status(id: &str) -> String {
        format!("[{}]", id.to_lowercase())
    }

    #[test]
    fn a_diamond_prints_the_shared_dependency_once() {
        let g = graph(&[
            ("A", &[]),
            ("B", &["A"]),
            ("C", &["A", "E"]),
            ("D", &["B", "C"]),
        ]);
        let tree = g.render_tree("D", status);
        let expected = "\
D  [d]
├── B  [b]
│   └── A  [a]
└── C  [c]
    ├── A  [a]
    └── E  [e]
";
        assert_eq!(tree, expected);
    }

    #[test]
    fn a_repeated_subtree_is_a_one_line_reference() {
        let g = graph(&[
            ("A", &["X"]),
            ("B", &["A"]),
            ("C", &["A"]),
            ("D", &["B", "C"]),
        ]);
        let tree = g.render_tree("D", |_| String::new());
        assert_eq!(tree.matches("X").count(), 1, "{tree}");
        assert!(tree.contains("└── A (see above)\n"), "{tree}");
    }

    #[test]
    fn cycles_of_one_two_and_three_end_instead_of_looping() {
        let g = graph(&[("S", &["S"])]);
        assert_eq!(
            g.render_tree("S", |_| String::new()),
            "S\n└── S (cycle, see above)\n"
        );
        let g = graph(&[("A", &["B"]), ("B", &["C"]), ("C", &["A"])]);
        let tree = g.render_tree("A", |_| String::new());
        assert_eq!(
            tree,
            "A\n└── B\n    └── C\n        └── A (cycle, see above)\n"
        );
        let g = graph(&[("P", &["Q"]), ("Q", &["P"])]);
        assert_eq!(g.render_tree("P", |_| String::new()).lines().count(), 3);
    }

    #[test]
    fn an_unknown_root_or_dependency_is_a_leaf() {
        let g = graph(&[("A", &["ghost"])]);
        assert_eq!(g.render_tree("nope", status), "nope  [nope]\n");
        assert_eq!(g.render_tree("A", status), "A  [a]\n└── ghost  [ghost]\n");
    }

    #[test]
    fn a_very_long_chain_is_cut_at_the_depth_limit() {
        let mut g = crate::graph::Graph::new();
        for i in 0..5_000 {
            g.insert(format!("t{i}"), t(i), [format!("t{}", i + 1)]);
        }
        let tree = g.render_tree("t0", |_| String::new());
        assert_eq!(tree.lines().count(), TREE_DEPTH_MAX + 2);
        assert!(
            tree.ends_with("└── … deeper dependencies not shown\n"),
            "{tree}"
        );
    }

    #[test]
    fn a_fan_in_of_50_lists_every_branch() {
        let mut g = crate::graph::Graph::new();
        let deps: Vec<String> = (0..50).map(|i| format!("d{i:02}")).collect();
        g.insert("join", t(0), deps);
        let tree = g.render_tree("join", |_| String::new());
        assert_eq!(tree.matches("├── ").count(), 49);
        assert_eq!(tree.matches("└── ").count(), 1);
        assert!(tree.ends_with("└── d49\n"));
    }

    #[test]
    fn dot_edges_run_from_dependency_to_dependent() {
        let g = graph(&[("A", &[]), ("B", &["A"]), ("C", &["B"]), ("other", &[])]);
        let dot = g.render_dot(Some("C"), |id| {
            if id == "A" {
                "done".into()
            } else {
                String::new()
            }
        });
        let expected = "\
digraph vayu {
  node [shape=box];
  \"A\" [label=\"A\\ndone\"];
  \"B\" [label=\"B\"];
  \"C\" [label=\"C\"];
  \"A\" -> \"B\";
  \"B\" -> \"C\";
}
";
        assert_eq!(dot, expected);
        let all = g.render_dot(None, |_| String::new());
        assert!(all.contains("\"other\" [label=\"other\"];"), "{all}");
    }

    #[test]
    fn dot_quotes_and_escapes_hostile_ids() {
        let g = graph(&[("a\"b", &["c\\d"]), ("c\\d", &["e\nf\u{7}"]), ("ü→ß", &[])]);
        let dot = g.render_dot(None, |_| "x\"y".into());
        assert!(dot.contains(r#""c\\d" -> "a\"b";"#), "{dot}");
        assert!(dot.contains(r#""e\nf" -> "c\\d";"#), "{dot}");
        assert!(dot.contains(r#""ü→ß" [label="ü→ß\nx\"y"];"#), "{dot}");
        assert!(!dot.contains('\u{7}'));
    }
}
