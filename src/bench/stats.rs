//! Small statistics for the benchmark: percentiles and process CPU time.
//!
//! Kept dependency-free: nearest-rank percentiles over a few thousand
//! samples are exact and cheap, and CPU time comes straight from `/proc`.

use crate::metrics::OpSnapshot;
use serde::Serialize;

/// A latency distribution in milliseconds (nearest-rank percentiles).
#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq)]
pub struct Percentiles {
    pub n: usize,
    pub p50: f64,
    pub p95: f64,
    pub p99: f64,
    pub max: f64,
    pub mean: f64,
}

impl Percentiles {
    /// `None` for an empty sample: "no data" must not print as 0 ms.
    pub fn of(samples: &[f64]) -> Option<Percentiles> {
        let mut v: Vec<f64> = samples.iter().copied().filter(|x| x.is_finite()).collect();
        if v.is_empty() {
            return None;
        }
        v.sort_by(f64::total_cmp);
        let rank = |p: f64| {
            // Nearest rank: the smallest value with at least p % of the
            // samples at or below it.
            let i = ((p / 100.0) * v.len() as f64).ceil() as usize;
            v[i.clamp(1, v.len()) - 1]
        };
        Some(Percentiles {
            n: v.len(),
            p50: rank(50.0),
            p95: rank(95.0),
            p99: rank(99.0),
            max: v[v.len() - 1],
            mean: v.iter().sum::<f64>() / v.len() as f64,
        })
    }
}

/// CPU seconds used by one process: its own threads, and the children it
/// waited for (the handlers' `sh` processes).
#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq)]
pub struct CpuTime {
    pub user_s: f64,
    pub system_s: f64,
    pub children_s: f64,
}

impl CpuTime {
    /// Reads `/proc/PID/stat` (`self` for this process). `None` when the
    /// process is gone or this is not Linux.
    pub fn of(pid: &str) -> Option<CpuTime> {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        // The command name (field 2) may contain spaces; fields after its
        // closing parenthesis are space-separated numbers.
        let rest = &stat[stat.rfind(')')? + 2..];
        let f: Vec<&str> = rest.split_whitespace().collect();
        // After ')': state is index 0, so utime (field 14) is index 11.
        let tick = |i: usize| -> Option<f64> {
            // /proc reports USER_HZ ticks, which Linux fixes at 100 for
            // user space on every architecture vayu runs on.
            f.get(i)?.parse::<f64>().ok().map(|t| t / 100.0)
        };
        Some(CpuTime {
            user_s: tick(11)?,
            system_s: tick(12)?,
            children_s: tick(13)? + tick(14)?,
        })
    }

    pub fn since(&self, earlier: &CpuTime) -> CpuTime {
        CpuTime {
            user_s: self.user_s - earlier.user_s,
            system_s: self.system_s - earlier.system_s,
            children_s: self.children_s - earlier.children_s,
        }
    }

    pub fn total(&self) -> f64 {
        self.user_s + self.system_s + self.children_s
    }
}

/// CPU used during one measured phase, by this process and its handler
/// children, and by the emulator's JVM when this process started it.
#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq)]
pub struct CpuUse {
    /// Seconds of wall time the phase took.
    pub wall_s: f64,
    /// `vayu bench` itself (agents, producers, workers): user + system.
    pub bench_s: f64,
    /// Handler processes (`sh -c ...`), user + system.
    pub handlers_s: f64,
    /// The emulator's JVM, when its pid is known.
    pub emulator_s: Option<f64>,
}

impl CpuUse {
    /// Cores busy on average: CPU seconds over wall seconds.
    pub fn cores(seconds: f64, wall_s: f64) -> f64 {
        if wall_s > 0.0 { seconds / wall_s } else { 0.0 }
    }
}

/// Samples CPU time at the start of a phase; [`CpuMeter::stop`] gives the
/// use since.
pub struct CpuMeter {
    started: std::time::Instant,
    me: Option<CpuTime>,
    jvm_pid: Option<u32>,
    jvm: Option<CpuTime>,
}

impl CpuMeter {
    pub fn start(jvm_pid: Option<u32>) -> CpuMeter {
        CpuMeter {
            started: std::time::Instant::now(),
            me: CpuTime::of("self"),
            jvm_pid,
            jvm: jvm_pid.and_then(|p| CpuTime::of(&p.to_string())),
        }
    }

    pub fn stop(&self) -> CpuUse {
        let wall_s = self.started.elapsed().as_secs_f64();
        let me = match (CpuTime::of("self"), self.me) {
            (Some(now), Some(then)) => now.since(&then),
            _ => CpuTime::default(),
        };
        let emulator_s = match (
            self.jvm_pid.and_then(|p| CpuTime::of(&p.to_string())),
            self.jvm,
        ) {
            (Some(now), Some(then)) => Some(now.since(&then).total()),
            _ => None,
        };
        CpuUse {
            wall_s,
            bench_s: me.user_s + me.system_s,
            handlers_s: me.children_s,
            emulator_s,
        }
    }
}

/// Firestore operations divided by completed tasks.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct PerTask {
    pub polling_reads: f64,
    pub listener_reads: f64,
    pub reads: f64,
    pub writes: f64,
    /// Billed operations: reads plus writes.
    pub ops: f64,
    /// Of `ops`, those on task documents: the lifecycle of the task
    /// itself (create, claim, complete), without the fleet's presence.
    pub task_ops: f64,
    /// Of `ops`, the agents' heartbeats and the peers' listeners reading
    /// them: a cost per agent and second, spread over the tasks.
    pub presence_ops: f64,
    pub commits: f64,
    pub claim_attempts: f64,
}

impl PerTask {
    pub fn of(ops: &OpSnapshot, tasks: u64) -> PerTask {
        let d = tasks.max(1) as f64;
        PerTask {
            polling_reads: ops.polling_reads as f64 / d,
            listener_reads: ops.listener_reads as f64 / d,
            reads: (ops.polling_reads + ops.listener_reads) as f64 / d,
            writes: ops.writes as f64 / d,
            ops: ops.billed() as f64 / d,
            task_ops: ops.task_ops() as f64 / d,
            presence_ops: (ops.presence_reads + ops.presence_writes) as f64 / d,
            commits: ops.commits as f64 / d,
            claim_attempts: ops.claim_attempts as f64 / d,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        let p = Percentiles::of(&v).expect("non-empty");
        assert_eq!((p.p50, p.p95, p.p99, p.max), (50.0, 95.0, 99.0, 100.0));
        let one = Percentiles::of(&[7.0]).expect("non-empty");
        assert_eq!((one.p50, one.p99), (7.0, 7.0));
        assert!(Percentiles::of(&[]).is_none());
    }

    #[test]
    fn own_cpu_time_is_readable() {
        let t = CpuTime::of("self").expect("/proc/self/stat exists on Linux");
        assert!(t.user_s >= 0.0 && t.system_s >= 0.0);
    }
}
