//! Who watches whom: the registered agents in a ring sorted by id, each
//! watching the presence of the next [`WATCHED`] agents after it.
//!
//! Why a ring: every agent must be watched by some live peer, so that its
//! death is noticed, but a peer that watches everyone reads every beat of
//! the fleet (N² reads per interval). In the ring each agent is watched by
//! its [`WATCHED`] predecessors, and watches as many successors: a beat
//! costs that many reads whatever the fleet's size. Two, so that one
//! death at a time never leaves an agent unwatched; when a watcher marks
//! a dead successor offline, the ring closes over it and the watcher's
//! next successor comes into view, so a run of deaths is noticed one
//! after another. The lane-0 sweep of expired leases is the net under
//! all of it.

/// How many successors each agent watches.
pub const WATCHED: usize = 2;

/// The agents `me` watches: the [`WATCHED`] ids after it in the sorted
/// ring of `registered` (which may or may not list `me`), fewer when the
/// fleet is smaller, never `me`.
pub fn watched(me: &str, registered: &[String]) -> Vec<String> {
    let mut ids: Vec<&str> = (registered.iter().map(String::as_str))
        .filter(|id| *id != me)
        .collect();
    ids.sort_unstable();
    ids.dedup();
    // The first id after `me`, wrapping around.
    let start = ids.partition_point(|id| *id < me);
    (0..ids.len().min(WATCHED))
        .map(|i| ids[(start + i) % ids.len()].to_string())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn each_agent_watches_the_next_two_wrapping_around() {
        let fleet = ids(&["d", "a", "c", "b", "e"]);
        assert_eq!(watched("a", &fleet), ids(&["b", "c"]));
        assert_eq!(watched("d", &fleet), ids(&["e", "a"]));
        assert_eq!(watched("e", &fleet), ids(&["a", "b"]));
    }

    #[test]
    fn every_agent_is_watched_by_exactly_two() {
        let fleet: Vec<String> = (0..9).map(|i| format!("agent-{i}")).collect();
        for target in &fleet {
            let watchers = (fleet.iter())
                .filter(|w| watched(w, &fleet).contains(target))
                .count();
            assert_eq!(watchers, WATCHED, "{target}");
        }
    }

    #[test]
    fn a_small_fleet_watches_whoever_there_is() {
        assert!(watched("a", &ids(&["a"])).is_empty());
        assert!(watched("a", &[]).is_empty());
        assert_eq!(watched("a", &ids(&["a", "b"])), ids(&["b"]));
        assert_eq!(watched("b", &ids(&["a", "b", "a"])), ids(&["a"]));
    }

    #[test]
    fn an_agent_not_yet_listed_watches_its_place_in_the_ring() {
        assert_eq!(watched("bb", &ids(&["a", "b", "c"])), ids(&["c", "a"]));
    }
}
