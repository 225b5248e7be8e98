use super::*;

const R: TaskType = TaskType::Research;
const M: TaskType = TaskType::Maintenance;

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

#[test]
fn it_opens_after_the_threshold_in_a_row_and_per_type() {
    let t0 = Instant::now();
    let mut b = breakers(3);
    assert_eq!(b.on_outcome(R, true, t0, 0.0), None);
    assert_eq!(b.on_outcome(R, false, t0, 0.0), None, "a success resets");
    assert_eq!(b.on_outcome(R, true, t0, 0.0), None);
    assert_eq!(b.on_outcome(R, true, t0, 0.0), None);
    assert!(b.allows(R, t0));
    // Jitter 0: half the ceiling, 5 s.
    let opened = b.on_outcome(R, true, t0, 0.0);
    assert_eq!(opened, Some(Change::Opened { for_: secs(5) }));
    assert!(!b.allows(R, t0 + secs(4)));
    assert!(b.allows(M, t0), "another type is not affected");
    assert_eq!(b.not_closed().len(), 1);
}

#[test]
fn after_the_wait_exactly_one_probe_goes_out_and_decides() {
    let t0 = Instant::now();
    let mut b = breakers(1);
    b.on_outcome(R, true, t0, 0.999);
    let t1 = t0 + secs(10);
    assert!(b.allows(R, t1), "the wait is over");
    b.on_claim(R, t1);
    assert_eq!(b.state(R).label(), "half-open");
    assert!(!b.allows(R, t1), "one probe at a time");
    // The probe fails: open again, for twice as long (ceiling 20 s).
    let again = b.on_outcome(R, true, t1, 0.999);
    assert!(matches!(again, Some(Change::Opened { for_ }) if for_ > secs(19)));
    assert!(!b.allows(R, t1 + secs(15)));
    let t2 = t1 + secs(20);
    b.on_claim(R, t2);
    assert_eq!(b.on_outcome(R, false, t2, 0.0), Some(Change::Closed));
    assert!(b.allows(R, t2));
    assert!(b.not_closed().is_empty());
}

#[test]
fn a_lost_probe_claim_lets_the_next_claim_probe() {
    let t0 = Instant::now();
    let mut b = breakers(1);
    b.on_outcome(R, true, t0, 0.0);
    let t1 = t0 + secs(10);
    b.on_claim(R, t1);
    assert!(!b.allows(R, t1));
    b.on_claim_lost(R, t1);
    assert!(b.allows(R, t1));
}

#[test]
fn runs_that_end_while_open_are_not_counted_twice_and_zero_turns_it_off() {
    let t0 = Instant::now();
    let mut b = breakers(1);
    b.on_outcome(R, true, t0, 0.0);
    let before = b.state(R);
    assert_eq!(b.on_outcome(R, true, t0 + secs(1), 0.0), None);
    assert_eq!(b.state(R), before, "the wait is not pushed out");
    let mut off = breakers(0);
    for _ in 0..100 {
        assert_eq!(off.on_outcome(R, true, t0, 0.0), None);
    }
    assert!(off.allows(R, t0));
}
