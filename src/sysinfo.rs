//! The agent's resource use for its heartbeat: the seed's `cpu_usage` and
//! `memory_usage`, read from `/proc` (Linux). Elsewhere they read as 0.

use std::time::Instant;

/// Samples CPU use between calls.
pub struct CpuSampler {
    last: Option<(Instant, f64)>,
    ticks_per_sec: f64,
    cores: f64,
}

impl Default for CpuSampler {
    fn default() -> Self {
        CpuSampler {
            last: None,
            ticks_per_sec: 100.0,
            cores: std::thread::available_parallelism()
                .map(|n| n.get() as f64)
                .unwrap_or(1.0),
        }
    }
}

impl CpuSampler {
    /// Percent of the machine's CPU the agent and its reaped handlers used
    /// since the previous call (0 on the first).
    pub fn sample(&mut self) -> f64 {
        let now = Instant::now();
        let Some(ticks) = std::fs::read_to_string("/proc/self/stat")
            .ok()
            .and_then(|s| cpu_ticks(&s))
        else {
            return 0.0;
        };
        let secs = ticks / self.ticks_per_sec;
        let pct = match self.last {
            Some((t, prev)) => {
                let wall = now.duration_since(t).as_secs_f64();
                if wall > 0.0 {
                    ((secs - prev) / wall / self.cores * 100.0).clamp(0.0, 100.0)
                } else {
                    0.0
                }
            }
            None => 0.0,
        };
        self.last = Some((now, secs));
        (pct * 10.0).round() / 10.0
    }
}

/// utime + stime + cutime + cstime from `/proc/self/stat`.
pub fn cpu_ticks(stat: &str) -> Option<f64> {
    // The command name may contain spaces; fields resume after the last ')'.
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // After ')': state is field 0; utime is 11, stime 12, cutime 13, cstime 14.
    let sum: f64 = (11..=14)
        .filter_map(|i| fields.get(i)?.parse::<f64>().ok())
        .sum();
    Some(sum)
}

/// Percent of the machine's memory in use, from `/proc/meminfo`.
pub fn memory_usage() -> f64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| meminfo_used_pct(&s))
        .unwrap_or(0.0)
}

pub fn meminfo_used_pct(meminfo: &str) -> Option<f64> {
    let field = |name: &str| {
        meminfo
            .lines()
            .find(|l| l.starts_with(name))?
            .split_whitespace()
            .nth(1)?
            .parse::<f64>()
            .ok()
    };
    let total = field("MemTotal:")?;
    let avail = field("MemAvailable:")?;
    (total > 0.0).then(|| ((total - avail) / total * 1000.0).round() / 10.0)
}

/// This process's resident memory in MiB.
pub fn rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))?
                .split_whitespace()
                .nth(1)?
                .parse::<f64>()
                .ok()
        })
        .map(|kb| (kb / 1024.0 * 10.0).round() / 10.0)
        .unwrap_or(0.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_proc_formats() {
        let stat = "123 (my (odd) cmd) S 1 1 1 0 -1 0 0 0 0 0 250 50 7 3 20 0 1";
        assert_eq!(cpu_ticks(stat), Some(310.0));
        let mi = "MemTotal:       1000 kB\nMemFree: 100 kB\nMemAvailable:    250 kB\n";
        assert_eq!(meminfo_used_pct(mi), Some(75.0));
    }

    #[test]
    fn reads_this_process() {
        assert!(rss_mb() > 0.0);
        assert!(memory_usage() > 0.0);
    }
}
