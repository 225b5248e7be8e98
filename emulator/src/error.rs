//! What can go wrong while starting the emulator. Each error carries the
//! emulator's log tail or the places searched, because the usual reader is a
//! developer whose test just failed and who needs to know what to install.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

/// Errors from finding, starting or probing the emulator.
#[derive(Debug, thiserror::Error)]
pub enum EmulatorError {
    /// No emulator jar in any known place.
    #[error("{0}")]
    JarNotFound(JarSearch),
    /// The rules file given in
    /// [`EmulatorOptions::rules`](crate::EmulatorOptions::rules) is missing.
    #[error("Firestore rules file {0} does not exist")]
    RulesNotFound(PathBuf),
    /// An OS call needed to start the emulator failed.
    #[error("{what}: {source}")]
    Io {
        /// What we were doing.
        what: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// Another process holds the port; retried automatically when the port
    /// was picked by us.
    #[error("port {port} is already in use; emulator log tail:\n{log_tail}")]
    PortInUse {
        /// The port that was taken.
        port: u16,
        /// Last lines of the emulator's output.
        log_tail: String,
    },
    /// The JVM (or the `sh` around it) exited before the emulator was ready.
    #[error(
        "Firestore emulator exited during startup ({status}) using jar {jar}; log {log} (deleted unless VAYU_EMULATOR_KEEP_LOGS=1), tail:\n{log_tail}"
    )]
    Exited {
        /// Exit status as reported by the watchdog shell.
        status: String,
        /// Jar that was run.
        jar: PathBuf,
        /// Full log location (removed once the emulator is dropped).
        log: PathBuf,
        /// Last lines of the emulator's output.
        log_tail: String,
    },
    /// The emulator stayed alive but never answered within the timeout.
    #[error(
        "Firestore emulator on 127.0.0.1:{port} not ready after {waited:?} (last probe: {last_probe}); log tail:\n{log_tail}"
    )]
    Timeout {
        /// Port it should have bound.
        port: u16,
        /// How long we waited.
        waited: Duration,
        /// What the last readiness probe saw.
        last_probe: String,
        /// Last lines of the emulator's output.
        log_tail: String,
    },
}

impl EmulatorError {
    pub(crate) fn io(what: impl Into<String>, source: std::io::Error) -> Self {
        Self::Io {
            what: what.into(),
            source,
        }
    }
}

/// Where [`find_jar`](crate::find_jar) looked; its `Display` is the
/// user-facing message that says what to install.
#[derive(Debug, Clone, Default)]
pub struct JarSearch {
    /// Each place checked, with why it did not qualify.
    pub looked: Vec<String>,
}

impl fmt::Display for JarSearch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "Cloud Firestore emulator jar not found. Install it with one of:"
        )?;
        writeln!(
            f,
            "  apt-get install google-cloud-cli-firestore-emulator   (Google Cloud CLI's apt repository; also needs Java 17+)"
        )?;
        writeln!(
            f,
            "  npx firebase-tools setup:emulators:firestore          (caches the jar in ~/.cache/firebase/emulators)"
        )?;
        writeln!(
            f,
            "or point VAYU_EMULATOR_JAR at a cloud-firestore-emulator jar."
        )?;
        write!(f, "Looked in:")?;
        for place in &self.looked {
            write!(f, "\n  - {place}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jar_not_found_message_says_what_to_install() {
        let msg = EmulatorError::JarNotFound(JarSearch {
            looked: vec!["/nowhere/x.jar: missing".into()],
        })
        .to_string();
        assert!(msg.contains("google-cloud-cli-firestore-emulator"), "{msg}");
        assert!(msg.contains("setup:emulators:firestore"), "{msg}");
        assert!(msg.contains("/nowhere/x.jar"), "{msg}");
    }
}
