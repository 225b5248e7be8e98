//! Cycles: refused at creation, and found and broken after races.
//!
//! Why two ways to find cycles: a create or an edit checks its own new
//! edges only ([`Graph::would_close_cycle`]), which is cheap and names the
//! cycle to print. But two edits that race can each pass that check and
//! together close a cycle (A edited to wait for B, B edited to wait for
//! A, each checked against the other's old version). No commit can
//! prevent that without a global lock, so a periodic check by any agent
//! finds every cycle ([`Graph::cycles`]) and cancels the youngest task on
//! it (cancelled, not failed: a person's retry of a failed task would
//! queue it while its dependencies never ended). Every agent
//! picks the same task, so two agents racing to break the same cycle make
//! the same conditional write and the second one is a no-op.

use super::Graph;
use std::collections::{BTreeMap, BTreeSet, VecDeque};

/// A cycle in the graph, and the task whose cancellation breaks it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cycle {
    /// Starts and ends at `breaker`; each task waits for the next.
    pub path: Vec<String>,
    /// The youngest task on the cycle's strongly connected component:
    /// latest `created_at`, ties broken by the greater id.
    pub breaker: String,
}

impl Cycle {
    /// The reason recorded on the task that is cancelled to break it.
    pub fn reason(&self) -> String {
        format!(
            "dependency cycle: {} (broken at its youngest task)",
            arrows(&self.path)
        )
    }
}

/// A cycle that makes an order, or a create or an edit, impossible.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "these tasks would wait for each other forever: {} (each waits for the next); \
     remove one of these dependencies",
    arrows(.path)
)]
pub struct CycleError {
    /// Starts and ends at the same task; each waits for the next.
    pub path: Vec<String>,
}

/// `A → B → A`.
fn arrows(path: &[String]) -> String {
    path.join(" → ")
}

impl Graph {
    /// The cycle that `id` waiting for `deps` would close, as a path from
    /// `id` back to itself (`["A", "B", "C", "A"]`), or `None`. The
    /// shortest such cycle, so the error is as easy to read as it can be.
    /// `id`'s current dependencies, if it is in the graph, are ignored:
    /// `deps` replaces them (an edit).
    pub fn would_close_cycle(&self, id: &str, deps: &[String]) -> Option<Vec<String>> {
        let starts: BTreeSet<&str> = deps.iter().map(String::as_str).collect();
        if starts.contains(id) {
            return Some(vec![id.to_string(), id.to_string()]);
        }
        let mut parent: BTreeMap<&str, Option<&str>> = BTreeMap::new();
        let mut queue = VecDeque::new();
        for s in starts {
            parent.insert(s, None);
            queue.push_back(s);
        }
        while let Some(at) = queue.pop_front() {
            for next in self.dependencies(at) {
                if next == id {
                    return Some(cycle_path(id, at, &parent));
                }
                if !parent.contains_key(next.as_str()) {
                    parent.insert(next, Some(at));
                    queue.push_back(next);
                }
            }
        }
        None
    }

    /// Every cycle the graph holds: one per strongly connected component
    /// of more than one task, or of one task that waits for itself,
    /// sorted by breaker. Cancelling each breaker breaks at least the cycle
    /// shown; a tangle of several cycles may need another round, which
    /// the next periodic check does.
    pub fn cycles(&self) -> Vec<Cycle> {
        let mut out: Vec<Cycle> = self
            .components()
            .into_iter()
            .filter(|c| c.len() > 1 || self.dependencies(c[0]).iter().any(|d| d == c[0]))
            .map(|c| self.cycle_in(&c))
            .collect();
        out.sort_by(|a, b| a.breaker.cmp(&b.breaker));
        out
    }

    /// The strongly connected components, each sorted.
    fn components(&self) -> Vec<Vec<&str>> {
        let mut tarjan = Tarjan {
            graph: self,
            index: BTreeMap::new(),
            low: BTreeMap::new(),
            stack: Vec::new(),
            on_stack: BTreeSet::new(),
            out: Vec::new(),
        };
        for root in self.nodes.keys() {
            if !tarjan.index.contains_key(root.as_str()) {
                tarjan.run(root);
            }
        }
        tarjan.out
    }

    /// The youngest task of a non-trivial component, and the shortest
    /// cycle through it inside the component.
    fn cycle_in(&self, component: &[&str]) -> Cycle {
        let breaker = component
            .iter()
            .copied()
            .max_by_key(|id| (self.created_at(id), *id))
            .expect("a component holds at least one task");
        let members: BTreeSet<&str> = component.iter().copied().collect();
        let mut parent: BTreeMap<&str, Option<&str>> = BTreeMap::new();
        let mut queue = VecDeque::new();
        for d in self.dependencies(breaker) {
            if d == breaker {
                return Cycle {
                    path: vec![breaker.into(), breaker.into()],
                    breaker: breaker.into(),
                };
            }
            if members.contains(d.as_str()) {
                parent.insert(d, None);
                queue.push_back(d.as_str());
            }
        }
        while let Some(at) = queue.pop_front() {
            for next in self.dependencies(at) {
                if next == breaker {
                    let path = cycle_path(breaker, at, &parent);
                    return Cycle {
                        path,
                        breaker: breaker.into(),
                    };
                }
                if members.contains(next.as_str()) && !parent.contains_key(next.as_str()) {
                    parent.insert(next, Some(at));
                    queue.push_back(next);
                }
            }
        }
        unreachable!("every task of a strongly connected component lies on a cycle inside it")
    }
}

/// Tarjan's algorithm, with an explicit call stack so that a chain of
/// thousands of tasks cannot overflow the thread's stack.
struct Tarjan<'g> {
    graph: &'g Graph,
    index: BTreeMap<&'g str, usize>,
    low: BTreeMap<&'g str, usize>,
    stack: Vec<&'g str>,
    on_stack: BTreeSet<&'g str>,
    out: Vec<Vec<&'g str>>,
}

impl<'g> Tarjan<'g> {
    fn enter(&mut self, v: &'g str) {
        let n = self.index.len();
        self.index.insert(v, n);
        self.low.insert(v, n);
        self.stack.push(v);
        self.on_stack.insert(v);
    }

    fn lower(&mut self, v: &'g str, to: usize) {
        let low = self.low.entry(v).or_insert(to);
        *low = (*low).min(to);
    }

    fn run(&mut self, root: &'g str) {
        self.enter(root);
        // (task, how many of its dependencies were looked at)
        let mut calls: Vec<(&'g str, usize)> = vec![(root, 0)];
        while let Some((v, i)) = calls.last_mut() {
            let v = *v;
            if let Some(w) = self.graph.dependencies(v).get(*i) {
                *i += 1;
                let w = w.as_str();
                if !self.graph.contains(w) {
                    continue;
                }
                match self.index.get(w) {
                    None => {
                        self.enter(w);
                        calls.push((w, 0));
                    }
                    Some(&iw) if self.on_stack.contains(w) => self.lower(v, iw),
                    Some(_) => {}
                }
                continue;
            }
            calls.pop();
            let low_v = self.low[v];
            if let Some((u, _)) = calls.last() {
                self.lower(u, low_v);
            }
            if low_v == self.index[v] {
                self.pop_component(v);
            }
        }
    }

    fn pop_component(&mut self, v: &'g str) {
        let mut component = Vec::new();
        while let Some(w) = self.stack.pop() {
            self.on_stack.remove(w);
            component.push(w);
            if w == v {
                break;
            }
        }
        component.sort_unstable();
        self.out.push(component);
    }
}

/// `[from, …, last, from]` from a breadth-first search's parents, where
/// `last` is the task found to wait for `from`.
fn cycle_path(from: &str, last: &str, parent: &BTreeMap<&str, Option<&str>>) -> Vec<String> {
    let mut back = vec![from.to_string(), last.to_string()];
    let mut at = last;
    while let Some(Some(p)) = parent.get(at) {
        back.push(p.to_string());
        at = p;
    }
    back.push(from.to_string());
    back.reverse();
    back
}

#[cfg(test)]
mod tests {
    use super::super::tests::{graph, t};
    use super::*;

    fn strs(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn closing_a_cycle_of_one_two_and_three_is_seen_with_its_path() {
        let g = graph(&[("A", &["B"]), ("B", &["C"]), ("C", &[])]);
        assert_eq!(
            g.would_close_cycle("Z", &strs(&["Z"])),
            Some(strs(&["Z", "Z"]))
        );
        assert_eq!(
            g.would_close_cycle("B", &strs(&["A"])),
            Some(strs(&["B", "A", "B"]))
        );
        assert_eq!(
            g.would_close_cycle("C", &strs(&["A"])),
            Some(strs(&["C", "A", "B", "C"]))
        );
        assert_eq!(g.would_close_cycle("C", &strs(&["X"])), None);
        assert_eq!(g.would_close_cycle("D", &strs(&["A", "B"])), None);
    }

    #[test]
    fn an_edit_ignores_the_old_dependencies() {
        // A waits for B; editing B to wait for C (not A) closes nothing,
        // and editing A to wait for nothing lets B wait for A.
        let mut g = graph(&[("A", &["B"]), ("B", &[]), ("C", &[])]);
        assert_eq!(g.would_close_cycle("B", &strs(&["C"])), None);
        g.insert("A", t(5), Vec::<String>::new());
        assert_eq!(g.would_close_cycle("B", &strs(&["A"])), None);
    }

    #[test]
    fn the_shortest_cycle_is_reported() {
        // Z → A → B → C → Z and Z → C → Z: the short one is shown.
        let g = graph(&[("A", &["B"]), ("B", &["C"]), ("C", &["Z"])]);
        assert_eq!(
            g.would_close_cycle("Z", &strs(&["A", "C"])),
            Some(strs(&["Z", "C", "Z"]))
        );
    }

    #[test]
    fn a_diamond_is_not_a_cycle() {
        let g = graph(&[("A", &[]), ("B", &["A"]), ("C", &["A"]), ("D", &["B", "C"])]);
        assert!(g.cycles().is_empty());
        assert_eq!(g.would_close_cycle("E", &strs(&["D", "A"])), None);
        assert_eq!(
            g.would_close_cycle("A", &strs(&["D"])),
            Some(strs(&["A", "D", "B", "A"]))
        );
    }

    #[test]
    fn race_made_cycles_are_found_with_the_youngest_as_breaker() {
        // Self-loop X; pair P/Q; triangle A/B/C; a tail T into the
        // triangle that is not on it. Created in the order listed.
        let g = graph(&[
            ("X", &["X"]),
            ("Q", &["P"]),
            ("P", &["Q"]),
            ("B", &["C"]),
            ("C", &["A"]),
            ("A", &["B"]),
            ("T", &["A"]),
        ]);
        let cycles = g.cycles();
        assert_eq!(cycles.len(), 3, "{cycles:?}");
        assert_eq!(cycles[0].breaker, "A");
        assert_eq!(cycles[0].path, strs(&["A", "B", "C", "A"]));
        assert_eq!(cycles[1].breaker, "P");
        assert_eq!(cycles[1].path, strs(&["P", "Q", "P"]));
        assert_eq!(cycles[2].breaker, "X");
        assert_eq!(cycles[2].path, strs(&["X", "X"]));
        assert!(cycles[0].reason().contains("A → B → C → A"));
    }

    #[test]
    fn equal_creation_times_break_by_the_greater_id() {
        let mut g = Graph::new();
        g.insert("m", t(0), ["n"]);
        g.insert("n", t(0), ["m"]);
        assert_eq!(g.cycles()[0].breaker, "n");
        // Whatever the insertion order, the answer is the same.
        let mut h = Graph::new();
        h.insert("n", t(0), ["m"]);
        h.insert("m", t(0), ["n"]);
        assert_eq!(h.cycles(), g.cycles());
    }

    #[test]
    fn a_ring_of_many_and_a_long_chain_do_not_overflow() {
        let n = 20_000;
        let mut g = Graph::new();
        for i in 0..n {
            g.insert(format!("t{i:05}"), t(i), [format!("t{:05}", (i + 1) % n)]);
        }
        let cycles = g.cycles();
        assert_eq!(cycles.len(), 1);
        assert_eq!(cycles[0].breaker, format!("t{:05}", n - 1));
        assert_eq!(cycles[0].path.len(), n as usize + 1);
        // Cut the ring: a chain, in order, deepest dependency first.
        g.insert("t19999", t(n), Vec::<String>::new());
        let order = g.topological_order().expect("a chain has no cycle");
        assert_eq!(order.first(), Some(&"t19999"));
        assert_eq!(order.last(), Some(&"t00000"));
    }
}
