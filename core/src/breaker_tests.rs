use super::*;

const R: TaskType = TaskType::Research;
const M: TaskType = TaskType::Maintenance;
use Verdict::{Failed, Neither, Succeeded};

fn breakers(threshold: u32) -> Breakers {
    Breakers::new(BreakerConfig {
        threshold,
        backoff: Backoff {
            base: Duration::from_secs(10),
            cap: Duration::from_secs(40),
        },
    })
}

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

/// Opens `b` for R (threshold 1) at `t0`, waits it out, and sends the
/// probe `probe`; returns when the probe went out.
fn probing(b: &mut Breakers, t0: Instant, probe: &str) -> Instant {
    b.on_outcome(R, "x", Failed, t0, 0.999);
    let t1 = t0 + secs(10);
    assert!(b.allows(R, t1), "the wait is over");
    b.on_claim(R, probe, t1);
    assert_eq!(b.state(R).label(), "half-open");
    assert!(!b.allows(R, t1), "one probe at a time");
    t1
}

#[test]
fn it_opens_after_the_threshold_of_distinct_tasks_in_a_row_and_per_type() {
    let t0 = Instant::now();
    let mut b = breakers(3);
    assert_eq!(b.on_outcome(R, "a", Failed, t0, 0.0), None);
    assert_eq!(b.on_outcome(R, "a", Failed, t0, 0.0), None, "a's retry");
    assert_eq!(
        b.on_outcome(R, "a", Failed, t0, 0.0),
        None,
        "one task's retries do not open it"
    );
    assert_eq!(
        b.on_outcome(R, "b", Succeeded, t0, 0.0),
        None,
        "a success resets"
    );
    assert_eq!(b.on_outcome(R, "c", Failed, t0, 0.0), None);
    assert_eq!(b.on_outcome(R, "d", Failed, t0, 0.0), None);
    assert!(b.allows(R, t0));
    // Jitter 0: half the ceiling, 5 s.
    let opened = b.on_outcome(R, "e", Failed, t0, 0.0);
    assert_eq!(opened, Some(Change::Opened { for_: secs(5) }));
    assert!(!b.allows(R, t0 + secs(4)));
    assert!(b.allows(M, t0), "another type is not affected");
    assert_eq!(b.next_probe(t0), Some(t0 + secs(5)));
    assert_eq!(
        b.next_probe(t0 + secs(5)),
        None,
        "not a wake-up in the past"
    );
}

#[test]
fn only_the_probe_decides_and_a_failed_probe_doubles_the_wait() {
    let t0 = Instant::now();
    let mut b = breakers(1);
    let t1 = probing(&mut b, t0, "p");
    assert_eq!(
        b.on_outcome(R, "old", Failed, t1, 0.0),
        None,
        "not the probe"
    );
    assert_eq!(b.state(R).label(), "half-open");
    // The probe fails: open again, for twice as long (ceiling 20 s).
    let again = b.on_outcome(R, "p", Failed, t1, 0.999);
    assert!(matches!(again, Some(Change::Opened { for_ }) if for_ > secs(19)));
    assert!(!b.allows(R, t1 + secs(15)));
    let t2 = t1 + secs(20);
    b.on_claim(R, "q", t2);
    assert_eq!(
        b.on_outcome(R, "q", Succeeded, t2, 0.0),
        Some(Change::Closed)
    );
    assert!(b.allows(R, t2));
    assert_eq!(b.next_probe(t2), None);
}

#[test]
fn a_probe_that_is_lost_or_ends_without_a_verdict_lets_the_next_claim_probe() {
    let t0 = Instant::now();
    let mut b = breakers(1);
    let t1 = probing(&mut b, t0, "p");
    b.on_claim_lost(R, "other", t1);
    assert!(
        !b.allows(R, t1),
        "another task's lost claim is not the probe's"
    );
    b.on_claim_lost(R, "p", t1);
    assert!(b.allows(R, t1));
    b.on_claim(R, "p2", t1);
    // Cancelled, taken over, released: says nothing of the handler.
    assert_eq!(b.on_outcome(R, "p2", Neither, t1, 0.0), None);
    assert!(b.allows(R, t1), "never stuck half-open");
}

#[test]
fn runs_that_end_while_open_are_not_counted_twice_and_zero_turns_it_off() {
    let t0 = Instant::now();
    let mut b = breakers(1);
    b.on_outcome(R, "a", Failed, t0, 0.0);
    let before = b.state(R);
    assert_eq!(b.on_outcome(R, "b", Failed, t0 + secs(1), 0.0), None);
    assert_eq!(b.state(R), before, "the wait is not pushed out");
    let mut off = breakers(0);
    for i in 0..100 {
        assert_eq!(off.on_outcome(R, &format!("t{i}"), Failed, t0, 0.0), None);
    }
    assert!(off.allows(R, t0));
}
