//! A plain progress bar on stderr, without a dependency.
//!
//! On a terminal it redraws one line a few times a second; when stderr is
//! a file or a pipe (CI logs) it prints a line every few seconds instead,
//! so logs stay readable.

use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// A running progress display; [`Progress::finish`] stops it.
pub struct Progress {
    stop: watch::Sender<bool>,
    task: Option<JoinHandle<()>>,
}

impl Progress {
    /// Shows `label` with `done()` out of `total`; `enabled: false` shows
    /// nothing (warm-up, tests).
    pub fn start(
        label: String,
        total: u64,
        done: impl Fn() -> u64 + Send + 'static,
        enabled: bool,
    ) -> Progress {
        let (stop, mut stopped) = watch::channel(false);
        if !enabled {
            return Progress { stop, task: None };
        }
        let tty = std::io::stderr().is_terminal();
        let every = if tty {
            Duration::from_millis(200)
        } else {
            Duration::from_secs(5)
        };
        let task = tokio::spawn(async move {
            let started = Instant::now();
            loop {
                let ended = tokio::select! {
                    _ = tokio::time::sleep(every) => false,
                    _ = stopped.changed() => true,
                };
                let line = render(&label, done(), total, started.elapsed());
                let mut err = std::io::stderr().lock();
                // A closed stderr is no reason to stop the benchmark.
                let _ = if tty {
                    write!(err, "\r\x1b[2K{line}")
                } else {
                    writeln!(err, "{line}")
                };
                if ended {
                    if tty {
                        let _ = writeln!(err);
                    }
                    return;
                }
            }
        });
        Progress {
            stop,
            task: Some(task),
        }
    }

    /// Draws the last state and stops.
    pub async fn finish(mut self) {
        let _ = self.stop.send(true);
        if let Some(t) = self.task.take() {
            // The task only writes to stderr; if it panicked there is
            // nothing to recover.
            let _ = t.await;
        }
    }
}

/// A total of 0 is an unknown total (`vayu backup` learns it at the
/// end): a count and a rate, no bar.
fn render(label: &str, done: u64, total: u64, elapsed: Duration) -> String {
    const WIDTH: usize = 30;
    if total == 0 {
        let secs = elapsed.as_secs_f64();
        let rate = if secs > 0.0 { done as f64 / secs } else { 0.0 };
        return format!("{label:<18} {done:>6} {rate:>8.1}/s {secs:>6.1}s");
    }
    let frac = if total == 0 {
        1.0
    } else {
        (done as f64 / total as f64).min(1.0)
    };
    let filled = (frac * WIDTH as f64).round() as usize;
    let secs = elapsed.as_secs_f64();
    let rate = if secs > 0.0 { done as f64 / secs } else { 0.0 };
    format!(
        "{label:<18} [{}{}] {done:>6}/{total} {rate:>8.1}/s {secs:>6.1}s",
        "#".repeat(filled),
        "-".repeat(WIDTH - filled),
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn renders_a_bar() {
        let s = super::render("vayu", 50, 100, std::time::Duration::from_secs(2));
        assert!(s.contains("[###############---------------]"), "{s}");
        assert!(s.contains("25.0/s"), "{s}");
        let open = super::render("backup", 50, 0, std::time::Duration::from_secs(2));
        assert!(!open.contains('[') && open.contains("50"), "{open}");
    }
}
