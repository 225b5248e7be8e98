//! Starts and stops the real Cloud Firestore emulator for vayu's tests,
//! `vayu demo` and `vayu bench`.
//!
//! Vayu keeps all shared state in Firestore, so its tests must talk to the
//! real thing: a mock would agree with whatever we believe Firestore does.
//! The emulator is a JVM process; this crate finds its jar ([`find_jar`]),
//! starts it on a loopback port, waits until it answers, and makes sure it
//! never outlives the process that started it (see `watchdog.rs`).
//!
//! It is a crate of its own, not a module of `vayu`, so that production
//! agents don't link a JVM launcher: `vayu` pulls it in only through its
//! `emulator` feature (on by default for development), and the tests take it
//! as a dev-dependency. It knows nothing of vayu.
//!
//! Everything here uses `std::process` and a plain thread, never a tokio
//! child or task, so an [`Emulator`] created inside one tokio runtime keeps
//! working after that runtime is dropped (each `#[tokio::test]` has its own).

#![forbid(unsafe_code)]

use std::fmt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin};

mod error;
mod jar;
mod ready;
mod start;
mod stop;
mod watchdog;

#[cfg(test)]
mod tests;

pub use error::{EmulatorError, JarSearch};
pub use jar::find_jar;
pub use start::EmulatorOptions;

use watchdog::{SharedReport, lock};

/// Project id used when none is given. The `demo-` prefix tells Firebase
/// tooling that this project is emulator-only and must never reach the cloud.
pub const DEFAULT_PROJECT_ID: &str = "demo-vayu";

/// A running Cloud Firestore emulator owned by this process.
///
/// Dropping it (or [`Emulator::stop`]) kills the JVM; if this process dies
/// first, the watchdog shell kills it (see `watchdog.rs`).
pub struct Emulator {
    host: String,
    port: u16,
    java_pid: Option<u32>,
    log_path: PathBuf,
    jar: PathBuf,
    /// The watchdog `sh`. `None` once stopped.
    shell: Option<Child>,
    /// Write end of the watchdog pipe; dropping it makes the watchdog kill
    /// the JVM. `None` once stopped.
    lifeline: Option<ChildStdin>,
    report: SharedReport,
}

impl fmt::Debug for Emulator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Emulator")
            .field("host", &self.host)
            .field("java_pid", &self.java_pid)
            .field("jar", &self.jar)
            .field("log_path", &self.log_path)
            .finish_non_exhaustive()
    }
}

impl Emulator {
    /// `127.0.0.1:PORT`, the form `FIRESTORE_EMULATOR_HOST` expects.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The emulator's port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `http://127.0.0.1:PORT`, base of the emulator's REST API.
    pub fn url(&self) -> String {
        format!("http://{}", self.host)
    }

    /// Pid of the JVM itself (not of the watchdog shell), so chaos tests can
    /// `kill -STOP` / `kill -CONT` it to simulate a hung backend.
    pub fn java_pid(&self) -> Option<u32> {
        self.java_pid
    }

    /// Where the JVM's output goes. Deleted when the emulator goes away
    /// unless `VAYU_EMULATOR_KEEP_LOGS=1`.
    pub fn log_path(&self) -> &Path {
        &self.log_path
    }

    /// The emulator's output so far (handy in failing tests), or an empty
    /// string once the log is gone.
    pub fn read_log(&self) -> String {
        std::fs::read_to_string(&self.log_path).unwrap_or_default()
    }

    /// Whether the JVM is still running (false once it has exited or been
    /// killed; a `SIGSTOP`ped JVM still counts as running).
    pub fn is_running(&self) -> bool {
        self.shell.is_some() && lock(&self.report).java_exit.is_none()
    }
}
