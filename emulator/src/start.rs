//! Starting a JVM: picking a port, building the java command line, and
//! handing it to the watchdog. Ports are picked by us rather than fixed,
//! because parallel test processes must not fight over 8080; the cost is a
//! race between our probe and the JVM's bind, which is retried.

use std::ffi::OsString;
use std::net::{Ipv4Addr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Instant;

use crate::error::EmulatorError;
use crate::jar::find_jar;
use crate::watchdog::{SharedReport, WATCHDOG_SCRIPT, spawn_reader};
use crate::{DEFAULT_PROJECT_ID, Emulator};

/// Entry point of the emulator jar (the one gcloud's wrapper script runs).
const MAIN_CLASS: &str = "com.google.cloud.datastore.emulator.firestore.CloudFirestore";

/// How many ports to try when the emulator reports "Address already in use".
const PORT_ATTEMPTS: usize = 3;

/// How to start an [`Emulator`].
#[derive(Debug, Clone)]
pub struct EmulatorOptions {
    /// Security rules to load (`--rules`). Without rules the emulator allows
    /// everything to every client, which hides rules bugs; the Rust admin
    /// client bypasses rules either way.
    pub rules: Option<PathBuf>,
    /// Fixed port, or `None` to pick a free one (what tests want: parallel
    /// test processes must not fight over 8080).
    pub port: Option<u16>,
    /// Project id the emulator runs as.
    pub project_id: String,
}

impl Default for EmulatorOptions {
    fn default() -> Self {
        Self {
            rules: None,
            port: None,
            project_id: DEFAULT_PROJECT_ID.to_string(),
        }
    }
}

impl Emulator {
    /// Starts an emulator and returns once it serves requests.
    ///
    /// Readiness is polled, never slept for: our JVM must have printed its
    /// "running" line *and* `GET /` on the port must answer `Ok`. When the
    /// port was picked by us and turns out to be taken (a race with another
    /// process between our probe and the JVM's bind), it retries on a new
    /// port, up to 3 attempts.
    ///
    /// Environment knobs: `VAYU_JAVA` or `JAVA` (java binary, default `java`
    /// on `PATH`), `VAYU_EMULATOR_JAVA_OPTS` (extra JVM flags, split on
    /// whitespace), `VAYU_EMULATOR_KEEP_LOGS=1` (keep the log file after the
    /// emulator is gone), and those of [`find_jar`].
    pub async fn start(opts: EmulatorOptions) -> Result<Emulator, EmulatorError> {
        let jar = find_jar()?;
        let rules = match &opts.rules {
            Some(path) if !path.is_file() => {
                return Err(EmulatorError::RulesNotFound(path.clone()));
            }
            // Absolute, so the JVM's working directory does not matter.
            Some(path) => Some(
                std::fs::canonicalize(path)
                    .map_err(|e| EmulatorError::io(format!("resolving {}", path.display()), e))?,
            ),
            None => None,
        };

        // A fixed port that is taken stays taken; only our own pick can race.
        let attempts = if opts.port.is_some() {
            1
        } else {
            PORT_ATTEMPTS
        };
        let mut attempt = 1;
        loop {
            let port = match opts.port {
                Some(port) => port,
                None => free_port()?,
            };
            match Self::start_on(&jar, rules.as_deref(), &opts.project_id, port).await {
                Ok(emulator) => return Ok(emulator),
                Err(EmulatorError::PortInUse { .. }) if attempt < attempts => {
                    tracing::warn!(
                        port,
                        attempt,
                        "emulator port was taken; retrying on another"
                    );
                    attempt += 1;
                }
                Err(err) => return Err(err),
            }
        }
    }

    async fn start_on(
        jar: &Path,
        rules: Option<&Path>,
        project_id: &str,
        port: u16,
    ) -> Result<Emulator, EmulatorError> {
        let started = Instant::now();
        let dir = std::env::temp_dir().join(format!(
            "vayu-firestore-emulator-{}",
            uuid::Uuid::new_v4().simple()
        ));
        std::fs::create_dir_all(&dir)
            .map_err(|e| EmulatorError::io(format!("creating {}", dir.display()), e))?;
        let log_path = dir.join("emulator.log");
        let keep_logs = std::env::var("VAYU_EMULATOR_KEEP_LOGS").is_ok_and(|v| v == "1");

        let java: OsString = std::env::var_os("VAYU_JAVA")
            .or_else(|| std::env::var_os("JAVA"))
            .filter(|v| !v.is_empty())
            .unwrap_or_else(|| "java".into());
        let mut args: Vec<OsString> = vec![
            log_path.clone().into(),
            dir.clone().into(),
            if keep_logs { "1" } else { "0" }.into(),
            java,
            // The emulator only supports English messages (as gcloud's
            // wrapper notes), and READY_MARKER is English.
            "-Duser.language=en".into(),
        ];
        if let Ok(extra) = std::env::var("VAYU_EMULATOR_JAVA_OPTS") {
            args.extend(extra.split_whitespace().map(OsString::from));
        }
        args.extend(["-cp".into(), jar.as_os_str().to_owned(), MAIN_CLASS.into()]);
        args.extend([
            "--host".into(),
            "127.0.0.1".into(),
            "--port".into(),
            port.to_string().into(),
            "--project_id".into(),
            project_id.into(),
        ]);
        if let Some(rules) = rules {
            args.extend(["--rules".into(), rules.as_os_str().to_owned()]);
        }

        let mut shell = Command::new("sh")
            .arg("-c")
            .arg(WATCHDOG_SCRIPT)
            .arg("sh")
            .args(&args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| {
                // Nothing else will clean up the log dir if `sh` never ran.
                let _ = std::fs::remove_dir_all(&dir);
                EmulatorError::io("spawning `sh` for the emulator watchdog", e)
            })?;
        let lifeline = shell.stdin.take();
        let stdout = shell.stdout.take();
        let report = SharedReport::default();
        if let Some(stdout) = stdout {
            spawn_reader(stdout, Arc::clone(&report))
                .map_err(|e| EmulatorError::io("spawning emulator reader thread", e))?;
        }

        let mut emulator = Emulator {
            host: format!("127.0.0.1:{port}"),
            port,
            java_pid: None,
            log_path,
            jar: jar.to_path_buf(),
            shell: Some(shell),
            lifeline,
            report,
        };
        // On any error below, `emulator` is dropped, which kills the JVM.
        emulator.wait_ready(started).await?;
        tracing::info!(
            host = %emulator.host,
            java_pid = ?emulator.java_pid,
            elapsed_ms = started.elapsed().as_millis() as u64,
            jar = %emulator.jar.display(),
            "Firestore emulator ready"
        );
        Ok(emulator)
    }
}

/// Asks the OS for a free loopback port. The listener is dropped before the
/// JVM binds, so another process can grab it in between; [`Emulator::start`]
/// retries on that.
fn free_port() -> Result<u16, EmulatorError> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .map_err(|e| EmulatorError::io("binding 127.0.0.1:0 to pick a port", e))?;
    let port = listener
        .local_addr()
        .map_err(|e| EmulatorError::io("reading picked port", e))?
        .port();
    Ok(port)
}
