//! The order tasks can run in: dependencies first, in waves.
//!
//! Why waves as well as a flat order: a workflow starts every step of a
//! wave at once (fan-out) and its join step in a later wave (fan-in), and
//! a status view can group the steps the same way.

use super::{CycleError, Graph};
use std::collections::{BTreeMap, BTreeSet};

impl Graph {
    /// The tasks in an order where each comes after everything it waits
    /// for (dependencies first): wave by wave ([`Graph::levels`]), each
    /// wave sorted by id. Ids the graph does not hold
    /// are left out. Fails with one cycle when there is one.
    pub fn topological_order(&self) -> Result<Vec<&str>, CycleError> {
        Ok(self.levels()?.concat())
    }

    /// The tasks in waves: the first waits for nothing the graph holds,
    /// each later one only for earlier waves, so the tasks of a wave can
    /// run at once (fan-out). Each wave is sorted by id.
    pub fn levels(&self) -> Result<Vec<Vec<&str>>, CycleError> {
        let reverse = self.reverse_edges();
        let mut waiting: BTreeMap<&str, usize> = self
            .nodes
            .iter()
            .map(|(id, n)| {
                (
                    id.as_str(),
                    n.deps.iter().filter(|d| self.contains(d)).count(),
                )
            })
            .collect();
        let mut wave: Vec<&str> = waiting
            .iter()
            .filter(|(_, n)| **n == 0)
            .map(|(id, _)| *id)
            .collect();
        let (mut levels, mut placed) = (Vec::new(), 0);
        while !wave.is_empty() {
            let mut next = BTreeSet::new();
            for id in &wave {
                for &dependent in reverse.get(id).into_iter().flatten() {
                    let n = waiting
                        .get_mut(dependent)
                        .expect("a dependent found by reverse_edges is a node of the graph");
                    *n -= 1;
                    if *n == 0 {
                        next.insert(dependent);
                    }
                }
            }
            placed += wave.len();
            levels.push(wave);
            wave = next.into_iter().collect();
        }
        if placed < self.nodes.len() {
            let path = self.cycles().into_iter().next().map(|c| c.path);
            return Err(CycleError {
                path: path.expect("a node never placed by Kahn's algorithm lies behind a cycle"),
            });
        }
        Ok(levels)
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::graph;
    use super::*;

    #[test]
    fn levels_show_fan_out_and_fan_in() {
        let g = graph(&[
            ("root", &[]),
            ("a", &["root"]),
            ("b", &["root"]),
            ("c", &["root", "outside"]),
            ("join", &["a", "b", "c"]),
        ]);
        let levels = g.levels().expect("no cycle");
        assert_eq!(
            levels,
            vec![vec!["root"], vec!["a", "b", "c"], vec!["join"]]
        );
        assert_eq!(
            g.topological_order().expect("no cycle"),
            ["root", "a", "b", "c", "join"]
        );
        assert!(Graph::new().topological_order().expect("empty").is_empty());
    }

    #[test]
    fn an_order_is_refused_with_a_cycle_even_behind_a_good_part() {
        let g = graph(&[
            ("ok", &[]),
            ("A", &["B", "ok"]),
            ("B", &["A"]),
            ("C", &["A"]),
        ]);
        let err = g
            .topological_order()
            .expect_err("A and B wait for each other");
        assert_eq!(err.path, ["B", "A", "B"]);
        assert!(err.to_string().contains("B → A → B"), "{err}");
    }
}
