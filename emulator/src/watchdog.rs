//! Why a shell watchdog stands between us and the JVM.
//!
//! Test binaries keep one [`Emulator`](crate::Emulator) in a `static`, and
//! Rust never runs the `Drop` of a `static`. cargo-nextest also runs every
//! test in its own process, so every test process starts (and abandons) a
//! JVM. Without help those JVMs would pile up. Linux's `PR_SET_PDEATHSIG`
//! needs `unsafe`, which the crate forbids, so instead the JVM is started by
//! a tiny `sh` script whose standard input is a pipe from this process:
//!
//! * the script starts java in the background and prints `pid <java pid>`;
//! * a background branch of the script blocks reading that pipe; the write end
//!   exists only in this process (Rust opens pipes close-on-exec, so no other
//!   child inherits it), so end-of-file means "our parent closed the pipe or
//!   died" — even by `SIGKILL` — and the branch then `kill -9`s the JVM
//!   (`SIGKILL` also ends a JVM that a chaos test has `SIGSTOP`ped);
//! * the foreground of the script waits for java and prints `exit <status>`,
//!   which is how [`Emulator::start`](crate::Emulator::start) learns that the
//!   JVM died during startup.
//!
//! The script's output is read on a plain thread, never a tokio task, so an
//! emulator created inside one tokio runtime keeps working after that
//! runtime is dropped (each `#[tokio::test]` has its own).

use std::io::{BufRead, BufReader};
use std::sync::{Arc, Mutex, MutexGuard};

/// The watchdog script, run as `sh -c SCRIPT sh LOG DIR KEEP JAVA ARGS...`.
///
/// fd 3 keeps the pipe from our process; stdin becomes /dev/null for the rest
/// so that java itself never holds the pipe. A background list in a
/// non-interactive shell gets /dev/null as stdin, hence the explicit fd 3.
pub(crate) const WATCHDOG_SCRIPT: &str = r#"
log=$1; dir=$2; keep=$3; shift 3
exec 3<&0 </dev/null
"$@" >"$log" 2>&1 3<&- &
jp=$!
echo "pid $jp"
{
  cat <&3 >/dev/null
  kill -9 "$jp" 2>/dev/null
  if [ "$keep" != 1 ]; then rm -f "$log"; rmdir "$dir" 2>/dev/null; fi
} >/dev/null 2>&1 &
exec 3<&-
wait "$jp"
echo "exit $?"
"#;

/// What the reader thread learned from the watchdog shell's stdout.
#[derive(Debug, Default)]
pub(crate) struct ShellReport {
    pub(crate) java_pid: Option<u32>,
    /// `exit N` from the shell: the JVM is gone.
    pub(crate) java_exit: Option<String>,
    /// The shell's stdout closed (the shell and its watchdog branch ended).
    pub(crate) eof: bool,
}

pub(crate) type SharedReport = Arc<Mutex<ShellReport>>;

pub(crate) fn lock(report: &SharedReport) -> MutexGuard<'_, ShellReport> {
    // A poisoned lock only means the reader thread panicked mid-update; the
    // plain data inside is still the best information we have.
    report
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Reads `pid N` / `exit N` lines from the watchdog shell on a plain thread,
/// so no tokio runtime is involved.
pub(crate) fn spawn_reader(
    stdout: std::process::ChildStdout,
    report: SharedReport,
) -> std::io::Result<std::thread::JoinHandle<()>> {
    std::thread::Builder::new()
        .name("vayu-emulator-watch".into())
        .spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                let mut r = lock(&report);
                if let Some(pid) = line.strip_prefix("pid ") {
                    r.java_pid = pid.trim().parse().ok();
                } else if let Some(code) = line.strip_prefix("exit ") {
                    let code = code.trim();
                    r.java_exit = Some(match code.parse::<i32>() {
                        Ok(n) if n > 128 => format!("killed by signal {}", n - 128),
                        _ => format!("exit status {code}"),
                    });
                }
            }
            lock(&report).eof = true;
        })
}
