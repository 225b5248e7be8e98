//! Lanes: how the queue is split between live agents, so that each queued
//! task reaches one agent's listener instead of all of them. Pure, no I/O.
//!
//! Why: a listener is billed one read for every document that enters its
//! result set. If every agent listened to the whole queue, each task would
//! cost N reads and N agents would race for it, losing N−1 claims. Instead
//! every task carries a `lane` in `0..LANES` (chosen from its id at
//! creation), every agent works out from the live peer set which lanes are
//! its own ([`owned`]), and listens to `lane in [its lanes]` only. All
//! agents compute the same split from the same peer set (the `agents`
//! collection, which they already listen to for failover), so there is no
//! coordinator and no extra write.
//!
//! While views of the peer set differ (a peer just joined or died), a lane
//! may briefly have two owners or none: two owners only race (claims stay
//! compare-and-set), and an orphaned lane is picked up once peers agree,
//! which for a dead agent is the same moment its tasks are taken over.
//!
//! A task whose lane owner cannot run it (another type, a capability it
//! lacks) is *forwarded*: the owner rewrites its `lane` to a lane of a peer
//! that can ([`forward_lane`]), one conditional write.

use crate::assign::Offer;
use crate::model::Task;
use crate::spread::affinity;

pub use crate::spread::{LANES, lane_for};

/// The lanes `me` owns when `live` (ids, `me` included) are the live
/// agents. Round-robin over the sorted ids: every agent owns ⌊15/N⌋ or
/// ⌈15/N⌉ lanes; past 15 agents, each owns one lane, shared. Returns every
/// lane when `me` is not in `live` (an agent alone, or not yet seen
/// itself).
///
/// Past 15, the agents beyond the fifteenth share lanes from the last one
/// down, so lane 0 is shared last: its owner also sweeps, archives and
/// delivers webhooks, which a second owner would do again for nothing.
pub fn owned(me: &str, live: &[String]) -> Vec<i64> {
    let mut ids: Vec<&str> = live.iter().map(String::as_str).collect();
    if !ids.contains(&me) {
        ids.push(me);
    }
    ids.sort_unstable();
    ids.dedup();
    let n = ids.len() as i64;
    let idx = ids
        .iter()
        .position(|id| *id == me)
        .expect("me was added above") as i64;
    if n > LANES {
        let round = idx / LANES;
        let lane = idx % LANES;
        vec![if round % 2 == 0 {
            lane
        } else {
            LANES - 1 - lane
        }]
    } else {
        (0..LANES).filter(|l| l % n == idx).collect()
    }
}

/// Where a task that `me` cannot run should go: a lane of the live peer
/// that can run it, the peer chosen by rendezvous hash (so every owner
/// agrees and a task does not bounce), the lane among that peer's lanes by
/// the task's id. `None` when no live peer can run it: it stays, and is
/// looked at again when the peer set changes.
pub fn forward_lane(task: &Task, me: &str, live: &[Offer]) -> Option<i64> {
    let ids: Vec<String> = live.iter().map(|o| o.agent_id.clone()).collect();
    let target = live
        .iter()
        .filter(|o| o.agent_id != me && o.could_claim(task))
        .max_by_key(|o| affinity(&o.agent_id, &task.task_id))?;
    let lanes = owned(&target.agent_id, &ids);
    let lane = lanes[(affinity("forward", &task.task_id) % lanes.len() as u64) as usize];
    (lane != task.lane).then_some(lane)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Priority, TaskType};
    use std::collections::{HashMap, HashSet};

    fn ids(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("agent-{i:02}")).collect()
    }

    #[test]
    fn every_lane_has_exactly_one_owner_up_to_15_agents() {
        for n in 1..=LANES as usize {
            let live = ids(n);
            let mut owners: HashMap<i64, usize> = HashMap::new();
            let mut sizes = Vec::new();
            for me in &live {
                let mine = owned(me, &live);
                sizes.push(mine.len());
                for l in mine {
                    *owners.entry(l).or_default() += 1;
                }
            }
            assert_eq!(
                owners.len(),
                LANES as usize,
                "n={n}: some lane has no owner"
            );
            assert!(owners.values().all(|&c| c == 1), "n={n}: {owners:?}");
            let (lo, hi) = (sizes.iter().min(), sizes.iter().max());
            assert!(
                hi.zip(lo).is_some_and(|(h, l)| h - l <= 1),
                "n={n}: unbalanced {sizes:?}"
            );
        }
    }

    #[test]
    fn past_15_agents_each_owns_one_shared_lane() {
        let live = ids(40);
        let mut owners: HashMap<i64, usize> = HashMap::new();
        for me in &live {
            let mine = owned(me, &live);
            assert_eq!(mine.len(), 1);
            *owners.entry(mine[0]).or_default() += 1;
        }
        assert_eq!(owners.len(), LANES as usize);
        assert!(owners.values().all(|&c| c == 2 || c == 3), "{owners:?}");
    }

    #[test]
    fn the_sixteenth_agent_shares_the_last_lane_not_lane_0() {
        let live = ids(16);
        let mut owners: HashMap<i64, usize> = HashMap::new();
        for me in &live {
            *owners.entry(owned(me, &live)[0]).or_default() += 1;
        }
        assert_eq!(owners[&0], 1, "lane 0 has one owner: {owners:?}");
        assert_eq!(owners[&(LANES - 1)], 2, "{owners:?}");
        // At 31, the third round starts from lane 0 again: its third owner.
        let live = ids(31);
        let zero = live.iter().filter(|me| owned(me, &live) == [0]).count();
        assert_eq!(zero, 3);
    }

    #[test]
    fn an_agent_alone_or_unseen_owns_every_lane() {
        assert_eq!(owned("x", &[]).len(), LANES as usize);
        assert_eq!(owned("x", &["x".to_string()]).len(), LANES as usize);
        // Not yet in its own view of the peers: counted anyway.
        let mine = owned("agent-99", &ids(2));
        assert_eq!(mine.len(), 5);
    }

    #[test]
    fn new_tasks_spread_over_all_lanes() {
        let mut seen = HashSet::new();
        for _ in 0..500 {
            let t = Task::new(TaskType::Research, Priority::Normal, "x");
            assert_eq!(t.lane, lane_for(&t.task_id));
            assert!((0..LANES).contains(&t.lane));
            seen.insert(t.lane);
        }
        assert_eq!(seen.len(), LANES as usize);
    }

    fn offer(id: &str, handles: Option<&[TaskType]>, caps: &[&str]) -> Offer {
        Offer {
            agent_id: id.into(),
            capabilities: caps.iter().map(|c| c.to_string()).collect(),
            handles: handles.map(|h| h.iter().copied().collect()),
        }
    }

    #[test]
    fn forwarding_goes_to_a_lane_of_a_capable_peer_and_stays_there() {
        let live = vec![
            offer("a", Some(&[TaskType::Research]), &[]),
            offer("b", None, &["gpu"]),
            offer("c", None, &[]),
        ];
        let all: Vec<String> = live.iter().map(|o| o.agent_id.clone()).collect();
        for i in 0..50 {
            let mut t = Task::new(TaskType::Learning, Priority::Normal, format!("{i}"));
            t.requires = vec!["gpu".into()];
            // Wherever it starts, it ends in b's lanes, whoever forwards.
            for me in ["a", "c"] {
                t.lane = owned(me, &all)[0];
                let lane = forward_lane(&t, me, &live).expect("b can run it");
                assert!(owned("b", &all).contains(&lane), "lane {lane}");
                t.lane = lane;
                // b's own view: nothing to forward (it does not forward
                // to itself, and nobody else can run it).
                assert_eq!(forward_lane(&t, "b", &live), None);
            }
        }
    }

    #[test]
    fn no_capable_peer_means_no_forward() {
        let live = vec![
            offer("a", Some(&[TaskType::Research]), &[]),
            offer("b", None, &[]),
        ];
        let mut t = Task::new(TaskType::Learning, Priority::Normal, "x");
        t.requires = vec!["quantum".into()];
        assert_eq!(forward_lane(&t, "a", &live), None);
    }
}
