//! The dependency graph of tasks: what waits for what, with no I/O.
//!
//! Why a graph of its own instead of walking task documents: the checks
//! that keep dependencies sane (no cycle at creation, every cycle a race
//! formed found and broken, the order a workflow runs in) all need the
//! whole picture at once, and the edge that reads the documents should not
//! have to know graph algorithms. It builds a [`Graph`] from what it read
//! (each task's id, `dependencies.blocked_by` and `created_at`) and asks.
//!
//! An edge `A → B` means "A waits for B" (B is in A's `blocked_by`), so a
//! cycle path `["A", "B", "C", "A"]` reads "A waits for B, which waits for
//! C, which waits for A".
//!
//! A dependency may name a task the graph does not hold (the caller read
//! only part of the tasks, or the id is wrong): it is kept as an edge to a
//! leaf. Such a leaf has no edges of its own, so it can never be on a
//! cycle, and it is left out of [`Graph::topological_order`].
//!
//! Every walk here is iterative, so a long chain of tasks cannot overflow
//! the stack, and every answer is deterministic (ids are visited in sorted
//! order), so agents that look at the same tasks agree.
//!
//! - `cycles`: cycle detection at creation and after races.
//! - `decide`: what a blocked task should do given its dependencies.
//! - `order`: dependencies first, in waves that can run at once.
//! - `render`: the text tree and Graphviz output of `vayu task graph`.

mod cycles;
mod decide;
mod order;
mod render;

pub use cycles::{Cycle, CycleError};
pub use decide::{Decision, DepState, OnDepFailure, decide};
pub use render::TREE_DEPTH_MAX;

use crate::model::limits::DEPENDENCIES_MAX;
use crate::time::Time;
use std::collections::{BTreeMap, BTreeSet, VecDeque};

/// One task as the graph sees it.
#[derive(Debug, Clone, PartialEq)]
struct Node {
    /// What it waits for: sorted, without duplicates.
    deps: Vec<String>,
    /// When it was created, which decides who breaks a cycle.
    created_at: Time,
}

/// Tasks and what each waits for. Build it with [`Graph::insert`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Graph {
    nodes: BTreeMap<String, Node>,
}

/// Why a task's list of dependencies is refused before any graph check.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DependencyError {
    #[error(
        "task {id} has {count} dependencies, more than the {max} allowed; \
         chain them through an intermediate task instead"
    )]
    TooMany {
        id: String,
        count: usize,
        max: usize,
    },
    #[error("task {id} cannot depend on itself; remove it from --after")]
    OnItself { id: String },
    #[error(transparent)]
    Cycle(#[from] CycleError),
}

impl Graph {
    pub fn new() -> Graph {
        Graph::default()
    }

    /// Adds `id`, or replaces what it waits for and its creation time when
    /// it is there already (an edit). Duplicate dependencies count once.
    pub fn insert<I, S>(&mut self, id: impl Into<String>, created_at: Time, deps: I)
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let deps: BTreeSet<String> = deps.into_iter().map(Into::into).collect();
        let node = Node {
            deps: deps.into_iter().collect(),
            created_at,
        };
        self.nodes.insert(id.into(), node);
    }

    /// Takes `id` out; edges from other tasks to it stay (as edges to a
    /// leaf the graph does not hold).
    pub fn remove(&mut self, id: &str) -> bool {
        self.nodes.remove(id).is_some()
    }

    pub fn contains(&self, id: &str) -> bool {
        self.nodes.contains_key(id)
    }

    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// The ids the graph holds, sorted.
    pub fn ids(&self) -> impl Iterator<Item = &str> {
        self.nodes.keys().map(String::as_str)
    }

    /// What `id` waits for, sorted; empty for an id the graph lacks.
    pub fn dependencies(&self, id: &str) -> &[String] {
        self.nodes.get(id).map_or(&[], |n| n.deps.as_slice())
    }

    pub fn created_at(&self, id: &str) -> Option<Time> {
        self.nodes.get(id).map(|n| n.created_at)
    }

    /// The tasks that wait for `id` directly (its fan-out), sorted. These
    /// are the ones to look at when `id` ends.
    pub fn dependents(&self, id: &str) -> Vec<&str> {
        self.nodes
            .iter()
            .filter(|(_, n)| n.deps.binary_search_by(|d| d.as_str().cmp(id)).is_ok())
            .map(|(k, _)| k.as_str())
            .collect()
    }

    /// Every task that waits for `id`, directly or not, nearest first
    /// (then by id): what a failure of `id` reaches when each dependent
    /// follows the cancel policy. `id` itself is not included, even on a
    /// cycle.
    pub fn downstream(&self, id: &str) -> Vec<&str> {
        let reverse = self.reverse_edges();
        let mut seen: BTreeSet<&str> = BTreeSet::from([id]);
        let mut queue = VecDeque::from([id]);
        let mut out = Vec::new();
        while let Some(at) = queue.pop_front() {
            for &next in reverse.get(at).into_iter().flatten() {
                if seen.insert(next) {
                    out.push(next);
                    queue.push_back(next);
                }
            }
        }
        out
    }

    /// Every task `id` waits for, directly or not, nearest first (then by
    /// id), including ids the graph does not hold.
    pub fn upstream(&self, id: &str) -> Vec<&str> {
        let mut seen: BTreeSet<&str> = BTreeSet::from([id]);
        let mut queue = VecDeque::from([id]);
        let mut out = Vec::new();
        while let Some(at) = queue.pop_front() {
            for next in self.dependencies(at) {
                if seen.insert(next.as_str()) {
                    out.push(next.as_str());
                    queue.push_back(next.as_str());
                }
            }
        }
        out
    }

    /// The checks a create or an edit makes before it writes: not too
    /// many dependencies, none on itself, and no cycle closed. Whether
    /// each id names a task that exists needs a read and stays with the
    /// caller.
    pub fn check_dependencies(&self, id: &str, deps: &[String]) -> Result<(), DependencyError> {
        let unique: BTreeSet<&str> = deps.iter().map(String::as_str).collect();
        if unique.len() > DEPENDENCIES_MAX {
            return Err(DependencyError::TooMany {
                id: id.into(),
                count: unique.len(),
                max: DEPENDENCIES_MAX,
            });
        }
        if unique.contains(id) {
            return Err(DependencyError::OnItself { id: id.into() });
        }
        match self.would_close_cycle(id, deps) {
            Some(path) => Err(CycleError { path }.into()),
            None => Ok(()),
        }
    }

    /// For each id, the tasks that wait for it (sorted, as the nodes are).
    fn reverse_edges(&self) -> BTreeMap<&str, Vec<&str>> {
        let mut rev: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        for (id, node) in &self.nodes {
            for d in &node.deps {
                rev.entry(d.as_str()).or_default().push(id.as_str());
            }
        }
        rev
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Creation times one second apart: `t(2)` is younger than `t(1)`.
    pub(crate) fn t(secs: i64) -> Time {
        Time::from_parts(1_700_000_000 + secs, 0).expect("a time in jiff's range")
    }

    /// A graph from `(id, deps)` pairs, each created one second after the
    /// one before.
    pub(crate) fn graph(edges: &[(&str, &[&str])]) -> Graph {
        let mut g = Graph::new();
        for (i, (id, deps)) in edges.iter().enumerate() {
            g.insert(*id, t(i as i64), deps.iter().copied());
        }
        g
    }

    fn diamond() -> Graph {
        // D waits for B and C, which both wait for A.
        graph(&[("A", &[]), ("B", &["A"]), ("C", &["A"]), ("D", &["B", "C"])])
    }

    #[test]
    fn dependencies_are_sorted_and_deduplicated() {
        let g = graph(&[("A", &["c", "b", "c", "a"])]);
        assert_eq!(g.dependencies("A"), ["a", "b", "c"]);
        assert!(g.dependencies("nope").is_empty());
        assert_eq!(g.len(), 1);
    }

    #[test]
    fn an_edit_replaces_the_dependencies() {
        let mut g = diamond();
        g.insert("D", t(9), ["A"]);
        assert_eq!(g.dependencies("D"), ["A"]);
        assert_eq!(g.created_at("D"), Some(t(9)));
        assert!(g.dependents("B").is_empty());
        assert!(g.remove("D"));
        assert!(!g.remove("D"));
        assert!(!g.contains("D"));
    }

    #[test]
    fn dependents_are_the_reverse_edges() {
        let g = diamond();
        assert_eq!(g.dependents("A"), ["B", "C"]);
        assert_eq!(g.dependents("B"), ["D"]);
        assert!(g.dependents("D").is_empty());
    }

    #[test]
    fn downstream_and_upstream_visit_a_diamond_once_nearest_first() {
        let g = diamond();
        assert_eq!(g.downstream("A"), ["B", "C", "D"]);
        assert_eq!(g.upstream("D"), ["B", "C", "A"]);
        assert!(g.downstream("D").is_empty());
    }

    #[test]
    fn downstream_of_a_node_on_a_cycle_stops() {
        let g = graph(&[("A", &["B"]), ("B", &["A"]), ("C", &["A"])]);
        assert_eq!(g.downstream("A"), ["B", "C"]);
        assert_eq!(g.upstream("C"), ["A", "B"]);
    }

    #[test]
    fn a_fan_in_of_50_is_allowed_and_51_is_not() {
        let g = Graph::new();
        let deps: Vec<String> = (0..DEPENDENCIES_MAX).map(|i| format!("d{i}")).collect();
        assert_eq!(g.check_dependencies("join", &deps), Ok(()));
        let mut more = deps.clone();
        more.push("one-too-many".into());
        let err = g.check_dependencies("join", &more).expect_err("51");
        assert!(matches!(err, DependencyError::TooMany { count: 51, .. }));
        assert!(err.to_string().contains("50 allowed"), "{err}");
        // Duplicates count once.
        let mut dup = deps.clone();
        dup.push("d0".into());
        assert_eq!(g.check_dependencies("join", &dup), Ok(()));
    }

    #[test]
    fn a_fan_in_of_50_has_one_dependent_per_dependency() {
        let mut g = Graph::new();
        let deps: Vec<String> = (0..50).map(|i| format!("d{i:02}")).collect();
        for (i, d) in deps.iter().enumerate() {
            g.insert(d.clone(), t(i as i64), ["root"]);
        }
        g.insert("join", t(99), deps.clone());
        assert_eq!(g.dependencies("join").len(), 50);
        assert_eq!(g.dependents("root").len(), 50);
        let down = g.downstream("root");
        assert_eq!(down.len(), 51);
        assert_eq!(down.last(), Some(&"join"));
    }

    #[test]
    fn a_task_on_itself_and_a_cycle_are_refused_with_the_path() {
        let g = graph(&[("A", &["B"]), ("B", &[])]);
        let err = g
            .check_dependencies("X", &["X".to_string()])
            .expect_err("self");
        assert_eq!(err, DependencyError::OnItself { id: "X".into() });
        let err = g
            .check_dependencies("B", &["A".to_string()])
            .expect_err("cycle");
        assert!(err.to_string().contains("B → A → B"), "{err}");
    }
}
