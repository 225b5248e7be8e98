//! Auction (`vayu task create --assign auction`): capable agents bid for a
//! task within a window; after it, the best bid wins. There is no
//! auctioneer. The winner is a pure function of the bids ([`winner`]), so
//! every agent that closes the auction reaches the same answer, and
//! firestore.rules (`wins`) computes the same function to refuse any
//! other. An open auction is a push to nobody ([`NOBODY`]), so the rules'
//! push check keeps every claim out until it is closed. Closing names the
//! winner as a push ([`super::push`]): only it may claim until the hold
//! ([`HOLD`]) runs out, then anyone (a winner that died does not strand
//! the task). No bids: the close ends the push, and the task is pulled.
//!
//! What an agent does with an auction it sees is [`step`].

use crate::model::{Bid, Task, Time, limits};
use std::cmp::Ordering;
use std::time::Duration;

/// How long bidding stays open when `--auction-for` is not given.
pub const WINDOW_DEFAULT: Duration = Duration::from_secs(2);
/// The longest window (the rules allow ten minutes of server time; a
/// minute is left for a client clock that runs ahead).
pub const WINDOW_MAX: Duration = Duration::from_secs(9 * 60);
/// How long the winner alone may claim after the close (the rules allow
/// five minutes).
pub const HOLD: Duration = Duration::from_secs(60);
/// An open auction is pushed to nobody (`pushed_to` is this) until
/// [`UNCLOSED_HOLD`] after its window, so that the claim rule's push check
/// alone keeps claims out until someone closes it.
pub const NOBODY: &str = "*";
/// How long after its window an auction nobody closed (every agent gone)
/// falls back to pull; the rules' `isAuction` fixes it at ten minutes.
pub const UNCLOSED_HOLD: Duration = Duration::from_secs(600);

/// What an agent does with a queued task, as far as auctions go.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// Not an auction, or one that is settled: the usual claim rules
    /// (a push to the winner) apply.
    Claim,
    /// Bidding is open and this agent has not bid: bid.
    Bid,
    /// Bidding is open (bid or not): wait for its end.
    WaitUntil(Time),
    /// Bidding is over and nobody has closed it: close it for `winner`,
    /// or, without bids, for pull.
    Close { winner: Option<String> },
}

/// What `me` does with `task` at `now`. `capable`: whether `me` could run
/// it (only capable agents bid; anyone may close, as the rules allow).
pub fn step(task: &Task, me: &str, capable: bool, now: Time) -> Step {
    let a = &task.assignment;
    let Some(until) = a.auction_until.filter(|_| a.auction) else {
        return Step::Claim;
    };
    let closed = a.pushed_to.as_deref() != Some(NOBODY) || a.push_until == Some(until);
    if closed {
        return Step::Claim;
    }
    if now < until {
        let room = a.bids.len() < limits::BIDS_MAX;
        return if capable && room && !a.bids.contains_key(me) {
            Step::Bid
        } else {
            Step::WaitUntil(until)
        };
    }
    Step::Close {
        winner: winner(&a.bids).map(str::to_string),
    }
}

/// `task` opened as an auction until `until`: pushed to nobody until
/// [`UNCLOSED_HOLD`] after it (the shape the rules' `isAuction` wants).
pub fn open(task: &mut Task, until: Time) {
    let a = &mut task.assignment;
    a.auction = true;
    a.auction_until = Some(until);
    a.pushed_to = Some(NOBODY.to_string());
    a.push_until = Some(crate::model::time_add(until, UNCLOSED_HOLD));
}

/// `task` closed at `now`: pushed to the winner for [`HOLD`], or, with no
/// bids, its hold ended at the window's end (pull).
pub fn close(task: &mut Task, winner: Option<String>, now: Time) {
    let a = &mut task.assignment;
    match winner {
        Some(w) => {
            a.pushed_to = Some(w);
            a.push_until = Some(crate::model::time_add(now, HOLD));
        }
        None => a.push_until = a.auction_until,
    }
}

/// The winning bidder: the highest score; equal scores go to the shorter
/// estimate, then to the smallest agent id. A total order on the bids, so
/// every closer picks the same one (firestore.rules `beats` orders the same
/// way).
pub fn winner<'a>(bids: impl IntoIterator<Item = (&'a String, &'a Bid)>) -> Option<&'a str> {
    bids.into_iter()
        .min_by(|(ia, a), (ib, b)| {
            (b.score.partial_cmp(&a.score))
                .unwrap_or(Ordering::Equal)
                .then(a.estimate_ms.cmp(&b.estimate_ms))
                .then(ia.cmp(ib))
        })
        .map(|(id, _)| id.as_str())
}

/// A bid as the rules accept it: a finite score within the bound, an
/// estimate within a year.
pub fn bid(score: f64, estimate_ms: i64) -> Bid {
    let bound = limits::BID_SCORE_MAX;
    Bid {
        score: if score.is_finite() {
            score.clamp(-bound, bound)
        } else {
            0.0
        },
        estimate_ms: estimate_ms.clamp(0, limits::BID_ESTIMATE_MS_MAX),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::assign::push::reserved_for_other;
    use crate::model::{Priority, TaskType, now, time_add};
    use std::collections::BTreeMap;

    fn auction(until: Time) -> Task {
        let mut t = Task::new(TaskType::Research, Priority::Normal, "t");
        open(&mut t, until);
        t
    }

    fn bids(list: &[(&str, f64, i64)]) -> BTreeMap<String, Bid> {
        (list.iter())
            .map(|(id, s, e)| (id.to_string(), bid(*s, *e)))
            .collect()
    }

    #[test]
    fn the_winner_is_the_best_score_then_the_shortest_estimate_then_the_id() {
        let b = bids(&[("c", 0.5, 10), ("a", 0.9, 50), ("b", 0.9, 20)]);
        assert_eq!(winner(&b), Some("b"));
        let tie = bids(&[("z", 1.0, 5), ("y", 1.0, 5)]);
        assert_eq!(winner(&tie), Some("y"));
        assert_eq!(winner(&BTreeMap::new()), None);
    }

    #[test]
    fn the_winner_does_not_depend_on_the_order_the_bids_are_seen_in() {
        let list = [("a", 0.2, 9), ("b", 0.7, 3), ("c", 0.7, 3), ("d", -1.0, 1)];
        let forward: Vec<(String, Bid)> = (list.iter())
            .map(|(i, s, e)| (i.to_string(), bid(*s, *e)))
            .collect();
        let mut backward = forward.clone();
        backward.reverse();
        let w1 = winner(forward.iter().map(|(i, b)| (i, b)));
        let w2 = winner(backward.iter().map(|(i, b)| (i, b)));
        assert_eq!(w1, Some("b"));
        assert_eq!(w1, w2);
    }

    #[test]
    fn an_open_auction_is_bid_on_once_then_waited_for() {
        let t0 = now();
        let until = time_add(t0, Duration::from_secs(5));
        let mut t = auction(until);
        assert_eq!(step(&t, "a", true, t0), Step::Bid);
        let wait = Step::WaitUntil(until);
        assert_eq!(step(&t, "a", false, t0), wait, "incapable: no bid");
        t.assignment.bids = bids(&[("a", 0.5, 1)]);
        assert_eq!(step(&t, "a", true, t0), wait, "bid once");
        assert!(
            reserved_for_other(&t, "a", t0),
            "no claim while bidding is open"
        );
    }

    #[test]
    fn bids_are_capped() {
        let t0 = now();
        let until = time_add(t0, Duration::from_secs(5));
        let mut t = auction(until);
        t.assignment.bids = (0..limits::BIDS_MAX)
            .map(|i| (format!("x{i}"), bid(0.1, 1)))
            .collect();
        assert_eq!(step(&t, "late", true, t0), Step::WaitUntil(until));
    }

    #[test]
    fn after_the_window_it_is_closed_for_the_winner_or_for_pull() {
        let t0 = now();
        let until = time_add(t0, Duration::from_secs(1));
        let after = time_add(until, Duration::from_millis(1));
        let mut t = auction(until);
        let to_pull = Step::Close { winner: None };
        assert_eq!(step(&t, "a", true, after), to_pull, "no bids");
        assert!(reserved_for_other(&t, "a", after), "held until closed");
        let mut pulled = t.clone();
        close(&mut pulled, None, after);
        assert_eq!(step(&pulled, "a", true, after), Step::Claim);
        assert!(!reserved_for_other(&pulled, "a", after), "then pulled");

        t.assignment.bids = bids(&[("a", 0.1, 1), ("b", 0.3, 1)]);
        let to_b = Step::Close {
            winner: Some("b".into()),
        };
        assert_eq!(step(&t, "a", true, after), to_b);
        assert_eq!(step(&t, "c", false, after), to_b, "anyone closes");
        assert!(
            reserved_for_other(&t, "b", after),
            "no claim before the close"
        );
        close(&mut t, Some("b".into()), after);
        assert_eq!(step(&t, "a", true, after), Step::Claim);
        assert!(reserved_for_other(&t, "a", after), "a loser");
        assert!(!reserved_for_other(&t, "b", after), "the winner");

        let unclosed = auction(until);
        let much_later = time_add(until, UNCLOSED_HOLD);
        assert!(
            !reserved_for_other(&unclosed, "a", much_later),
            "nobody closed: pull"
        );
    }

    #[test]
    fn not_an_auction_is_a_claim() {
        let t = Task::new(TaskType::Research, Priority::Normal, "t");
        assert_eq!(step(&t, "a", true, now()), Step::Claim);
    }

    #[test]
    fn bids_are_bounded_for_the_rules() {
        let nan = bid(f64::NAN, -3);
        assert_eq!((nan.score, nan.estimate_ms), (0.0, 0));
        assert_eq!(bid(1e9, i64::MAX).score, limits::BID_SCORE_MAX);
        assert_eq!(bid(1e9, i64::MAX).estimate_ms, limits::BID_ESTIMATE_MS_MAX);
    }
}
