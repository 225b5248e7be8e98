//! Start and stop the real Cloud Firestore emulator for tests and local runs.
//!
//! Vayu keeps all shared state in Firestore, so its tests must talk to the
//! real thing: a mock would agree with whatever we believe Firestore does.
//! The emulator is a JVM process; this module finds its jar, starts it on a
//! loopback port, waits until it answers, and makes sure it never outlives
//! the process that started it.
//!
//! # Why a shell watchdog
//!
//! Test binaries keep one [`Emulator`] in a `static`, and Rust never runs the
//! `Drop` of a `static`. cargo-nextest also runs every test in its own process,
//! so every test process starts (and abandons) a JVM. Without help those JVMs
//! would pile up. Linux's `PR_SET_PDEATHSIG` needs `unsafe`, which the crate
//! forbids, so instead the JVM is started by a tiny `sh` script whose standard
//! input is a pipe from this process:
//!
//! * the script starts java in the background and prints `pid <java pid>`;
//! * a background branch of the script blocks reading that pipe; the write end
//!   exists only in this process (Rust opens pipes close-on-exec, so no other
//!   child inherits it), so end-of-file means "our parent closed the pipe or
//!   died" — even by `SIGKILL` — and the branch then `kill -9`s the JVM
//!   (`SIGKILL` also ends a JVM that a chaos test has `SIGSTOP`ped);
//! * the foreground of the script waits for java and prints `exit <status>`,
//!   which is how [`Emulator::start`] learns that the JVM died during startup.
//!
//! Everything here uses `std::process` and a plain thread, never a tokio
//! child or task, so an [`Emulator`] created inside one tokio runtime keeps
//! working after that runtime is dropped (each `#[tokio::test]` has its own).

use std::ffi::OsString;
use std::fmt;
use std::io::{BufRead, BufReader};
use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Project id used when none is given. The `demo-` prefix tells Firebase
/// tooling that this project is emulator-only and must never reach the cloud.
pub const DEFAULT_PROJECT_ID: &str = "demo-vayu";

/// Jar location of Debian's `google-cloud-cli-firestore-emulator` package.
const GCLOUD_APT_JAR: &str =
    "/usr/lib/google-cloud-sdk/platform/cloud-firestore-emulator/cloud-firestore-emulator.jar";

/// Jar path relative to a Google Cloud SDK root.
const SDK_RELATIVE_JAR: &str = "platform/cloud-firestore-emulator/cloud-firestore-emulator.jar";

/// Entry point of the emulator jar (the one gcloud's wrapper script runs).
const MAIN_CLASS: &str = "com.google.cloud.datastore.emulator.firestore.CloudFirestore";

/// The emulator prints this once its HTTP port is bound. We require it in
/// *our* JVM's log so that another server that happens to answer "Ok" on the
/// same port (a port race with a parallel test process) is not mistaken for
/// ours.
const READY_MARKER: &str = "Dev App Server is now running";

/// How long [`Emulator::start`] waits for one JVM to become ready. Cold
/// starts take ~1.5 s on an idle 2-core machine, but many test processes may
/// start JVMs at once, so the budget is generous.
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// Poll interval while waiting; short so that readiness is noticed quickly.
const POLL: Duration = Duration::from_millis(25);

/// How many ports to try when the emulator reports "Address already in use".
const PORT_ATTEMPTS: usize = 3;

/// The watchdog script, run as `sh -c SCRIPT sh LOG DIR KEEP JAVA ARGS...`.
///
/// fd 3 keeps the pipe from our process; stdin becomes /dev/null for the rest
/// so that java itself never holds the pipe. A background list in a
/// non-interactive shell gets /dev/null as stdin, hence the explicit fd 3.
const WATCHDOG_SCRIPT: &str = r#"
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

/// Errors from finding, starting or probing the emulator.
#[derive(Debug, thiserror::Error)]
pub enum EmulatorError {
    /// No emulator jar in any known place.
    #[error("{0}")]
    JarNotFound(JarSearch),
    /// The rules file given in [`EmulatorOptions::rules`] is missing.
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
    fn io(what: impl Into<String>, source: std::io::Error) -> Self {
        Self::Io {
            what: what.into(),
            source,
        }
    }
}

/// Where [`find_jar`] looked; its `Display` is the user-facing message that
/// says what to install.
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

/// Finds the Cloud Firestore emulator jar.
///
/// Order: env `VAYU_EMULATOR_JAR` (an explicit setting that points nowhere is
/// an error, not silently skipped), the google-cloud-cli apt install, the SDK
/// root from `$CLOUDSDK_ROOT_DIR` and from `gcloud info` (only asked when
/// `gcloud` is on `PATH` and nothing was found earlier, because it takes
/// ~0.5 s), then the highest version of
/// `~/.cache/firebase/emulators/cloud-firestore-emulator-v*.jar`, where
/// firebase-tools caches its download.
pub fn find_jar() -> Result<PathBuf, EmulatorError> {
    let mut search = JarSearch::default();

    if let Some(explicit) = std::env::var_os("VAYU_EMULATOR_JAR").filter(|v| !v.is_empty()) {
        let path = PathBuf::from(explicit);
        if path.is_file() {
            return Ok(path);
        }
        search.looked.push(format!(
            "VAYU_EMULATOR_JAR={} (not a file; set explicitly, so no fallback)",
            path.display()
        ));
        return Err(EmulatorError::JarNotFound(search));
    }
    search
        .looked
        .push("VAYU_EMULATOR_JAR (not set)".to_string());

    let mut sdk_candidates: Vec<(String, PathBuf)> = vec![(
        "google-cloud-cli apt package".into(),
        PathBuf::from(GCLOUD_APT_JAR),
    )];
    if let Some(root) = std::env::var_os("CLOUDSDK_ROOT_DIR").filter(|v| !v.is_empty()) {
        sdk_candidates.push((
            "$CLOUDSDK_ROOT_DIR".into(),
            PathBuf::from(root).join(SDK_RELATIVE_JAR),
        ));
    }
    for (label, jar) in &sdk_candidates {
        if jar.is_file() {
            return Ok(jar.clone());
        }
        search
            .looked
            .push(format!("{} ({label}): missing", jar.display()));
    }

    match gcloud_sdk_root() {
        Ok(root) => {
            let jar = root.join(SDK_RELATIVE_JAR);
            if jar.is_file() {
                return Ok(jar);
            }
            if !sdk_candidates.iter().any(|(_, p)| *p == jar) {
                search
                    .looked
                    .push(format!("{} (gcloud info sdk_root): missing", jar.display()));
            }
        }
        Err(why) => search.looked.push(format!("gcloud info: {why}")),
    }

    match std::env::var_os("HOME").filter(|v| !v.is_empty()) {
        Some(home) => {
            let dir = PathBuf::from(home).join(".cache/firebase/emulators");
            if let Some(jar) = newest_firebase_jar(&dir) {
                return Ok(jar);
            }
            search.looked.push(format!(
                "{}/cloud-firestore-emulator-v*.jar (firebase-tools cache): none",
                dir.display()
            ));
        }
        None => search
            .looked
            .push("~/.cache/firebase/emulators: $HOME not set".to_string()),
    }

    Err(EmulatorError::JarNotFound(search))
}

/// Asks an installed `gcloud` for its SDK root.
fn gcloud_sdk_root() -> Result<PathBuf, String> {
    let out = Command::new("gcloud")
        .args(["info", "--format=value(installation.sdk_root)"])
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => "gcloud not on PATH".to_string(),
            _ => format!("could not run gcloud: {e}"),
        })?;
    if !out.status.success() {
        return Err(format!("gcloud info failed ({})", out.status));
    }
    let root = String::from_utf8_lossy(&out.stdout).trim().to_string();
    if root.is_empty() {
        return Err("gcloud info printed no sdk_root".to_string());
    }
    Ok(PathBuf::from(root))
}

/// Picks the highest `cloud-firestore-emulator-vX.Y.Z.jar` in `dir`, comparing
/// versions numerically (so v1.10.0 beats v1.9.9, unlike a string sort).
fn newest_firebase_jar(dir: &Path) -> Option<PathBuf> {
    let entries = std::fs::read_dir(dir).ok()?;
    entries
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let name = entry.file_name().into_string().ok()?;
            let version = parse_firebase_jar_version(&name)?;
            let path = entry.path();
            path.is_file().then_some((version, path))
        })
        .max_by(|a, b| a.0.cmp(&b.0))
        .map(|(_, path)| path)
}

/// `cloud-firestore-emulator-v1.19.9.jar` → `[1, 19, 9]`.
fn parse_firebase_jar_version(file_name: &str) -> Option<Vec<u64>> {
    let version = file_name
        .strip_prefix("cloud-firestore-emulator-v")?
        .strip_suffix(".jar")?;
    version.split('.').map(|part| part.parse().ok()).collect()
}

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

/// What the reader thread learned from the watchdog shell's stdout.
#[derive(Debug, Default)]
struct ShellReport {
    java_pid: Option<u32>,
    /// `exit N` from the shell: the JVM is gone.
    java_exit: Option<String>,
    /// The shell's stdout closed (the shell and its watchdog branch ended).
    eof: bool,
}

type SharedReport = Arc<Mutex<ShellReport>>;

fn lock(report: &SharedReport) -> MutexGuard<'_, ShellReport> {
    // A poisoned lock only means the reader thread panicked mid-update; the
    // plain data inside is still the best information we have.
    report
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A running Cloud Firestore emulator owned by this process.
///
/// Dropping it (or [`Emulator::stop`]) kills the JVM; if this process dies
/// first, the watchdog shell kills it (see the module docs).
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

    async fn wait_ready(&mut self, started: Instant) -> Result<(), EmulatorError> {
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, self.port));
        let mut last_probe: String;
        loop {
            {
                let report = lock(&self.report);
                self.java_pid = self.java_pid.or(report.java_pid);
                let died = report
                    .java_exit
                    .clone()
                    .or_else(|| report.eof.then(|| "watchdog shell ended".to_string()));
                drop(report);
                if let Some(status) = died {
                    let log = std::fs::read_to_string(&self.log_path).unwrap_or_default();
                    let log_tail = tail(&log, 40);
                    if log.contains("Address already in use") {
                        return Err(EmulatorError::PortInUse {
                            port: self.port,
                            log_tail,
                        });
                    }
                    return Err(EmulatorError::Exited {
                        status,
                        jar: self.jar.clone(),
                        log: self.log_path.clone(),
                        log_tail,
                    });
                }
            }

            if self.java_pid.is_some() && self.log_has_ready_marker() {
                match probe(addr).await {
                    Ok(()) => return Ok(()),
                    Err(why) => last_probe = why,
                }
            } else {
                last_probe = "JVM has not printed its ready line yet".to_string();
            }

            let waited = started.elapsed();
            if waited >= START_TIMEOUT {
                let log = std::fs::read_to_string(&self.log_path).unwrap_or_default();
                return Err(EmulatorError::Timeout {
                    port: self.port,
                    waited,
                    last_probe,
                    log_tail: tail(&log, 40),
                });
            }
            tokio::time::sleep(POLL).await;
        }
    }

    fn log_has_ready_marker(&self) -> bool {
        std::fs::read_to_string(&self.log_path).is_ok_and(|log| log.contains(READY_MARKER))
    }

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

    /// Kills the emulator and waits until the JVM is gone, so its port is
    /// free when this returns.
    pub async fn stop(mut self) {
        self.lifeline.take();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            match self.shell.as_mut().map(Child::try_wait) {
                Some(Ok(None)) => tokio::time::sleep(Duration::from_millis(10)).await,
                _ => break,
            }
        }
        self.shutdown(Duration::ZERO);
    }

    /// Closes the lifeline (the watchdog then `kill -9`s the JVM), waits up to
    /// `grace` for the shell to report the JVM gone, and force-kills whatever
    /// is left, so a wedged watchdog can never leak a JVM.
    fn shutdown(&mut self, grace: Duration) {
        self.lifeline.take();
        let Some(mut shell) = self.shell.take() else {
            return;
        };
        let deadline = Instant::now() + grace;
        loop {
            match shell.try_wait() {
                Ok(Some(_)) => return,
                Ok(None) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(5));
                }
                _ => break,
            }
        }
        tracing::warn!(java_pid = ?self.java_pid, "emulator watchdog slow to exit; killing directly");
        if let Some(pid) = self.java_pid {
            // `kill` via a command because `unsafe` (libc) is forbidden.
            let _ = Command::new("kill")
                .args(["-9", &pid.to_string()])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
        let _ = shell.kill();
        let _ = shell.wait();
    }
}

impl Drop for Emulator {
    /// Kills the JVM and waits briefly (normally a few milliseconds, at most
    /// 5 s) so the port is free afterwards. This blocks the current thread;
    /// call [`Emulator::stop`] in async code that cares.
    fn drop(&mut self) {
        self.shutdown(Duration::from_secs(5));
    }
}

/// Reads `pid N` / `exit N` lines from the watchdog shell on a plain thread,
/// so no tokio runtime is involved.
fn spawn_reader(
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

/// One readiness probe: TCP connect, then `GET /` must answer 200 `Ok`.
/// A hand-written HTTP/1.1 request keeps this module free of an HTTP client.
async fn probe(addr: SocketAddr) -> Result<(), String> {
    let exchange = async {
        let mut stream = tokio::net::TcpStream::connect(addr)
            .await
            .map_err(|e| format!("connect: {e}"))?;
        stream
            .write_all(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
            .await
            .map_err(|e| format!("write: {e}"))?;
        let mut buf = Vec::new();
        let mut chunk = [0u8; 1024];
        loop {
            if let Some(body) = complete_body(&buf) {
                return check_response(&buf, body);
            }
            let n = stream
                .read(&mut chunk)
                .await
                .map_err(|e| format!("read: {e}"))?;
            if n == 0 {
                return match complete_body(&buf) {
                    Some(body) => check_response(&buf, body),
                    None => Err(format!(
                        "connection closed after {:?}",
                        String::from_utf8_lossy(&buf)
                    )),
                };
            }
            buf.extend_from_slice(&chunk[..n]);
            if buf.len() > 64 * 1024 {
                return Err("response too large".to_string());
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(2), exchange)
        .await
        .unwrap_or_else(|_| Err("no HTTP response within 2 s".to_string()))
}

/// Returns the body once headers and `content-length` bytes have arrived.
fn complete_body(buf: &[u8]) -> Option<&[u8]> {
    let split = buf.windows(4).position(|w| w == b"\r\n\r\n")?;
    let headers = String::from_utf8_lossy(&buf[..split]);
    let body = &buf[split + 4..];
    let length = headers.lines().find_map(|line| {
        let (name, value) = line.split_once(':')?;
        name.trim()
            .eq_ignore_ascii_case("content-length")
            .then(|| value.trim().parse::<usize>().ok())?
    });
    match length {
        Some(len) if body.len() >= len => Some(&body[..len]),
        Some(_) => None,
        // No length: only complete once the server closes; the caller's EOF
        // branch handles that, so report "incomplete" here.
        None => None,
    }
}

fn check_response(buf: &[u8], body: &[u8]) -> Result<(), String> {
    let status_ok = buf.starts_with(b"HTTP/1.1 200") || buf.starts_with(b"HTTP/1.0 200");
    let body = String::from_utf8_lossy(body);
    if status_ok && body.trim() == "Ok" {
        Ok(())
    } else {
        let status_line = String::from_utf8_lossy(buf)
            .lines()
            .next()
            .unwrap_or_default()
            .to_string();
        Err(format!("unexpected answer {status_line:?} body {body:?}"))
    }
}

/// Last `n` lines of `text`, for error messages.
fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let start = lines.len().saturating_sub(n);
    lines[start..].join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn firebase_jar_versions_compare_numerically() {
        assert_eq!(
            parse_firebase_jar_version("cloud-firestore-emulator-v1.19.9.jar"),
            Some(vec![1, 19, 9])
        );
        assert_eq!(
            parse_firebase_jar_version("cloud-firestore-emulator-v1.x.jar"),
            None
        );
        assert_eq!(parse_firebase_jar_version("other.jar"), None);

        let dir = std::env::temp_dir().join(format!("vayu-jar-test-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).expect("temp dir must be creatable for this test");
        for name in [
            "cloud-firestore-emulator-v1.9.9.jar",
            "cloud-firestore-emulator-v1.10.0.jar",
            "cloud-firestore-emulator-v1.2.jar",
            "notes.txt",
        ] {
            std::fs::write(dir.join(name), b"").expect("writing fixture file in own temp dir");
        }
        let newest = newest_firebase_jar(&dir);
        std::fs::remove_dir_all(&dir).expect("removing own temp dir");
        assert_eq!(
            newest.and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned())),
            Some("cloud-firestore-emulator-v1.10.0.jar".to_string())
        );
    }

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

    #[test]
    fn http_body_parsing() {
        let full = b"HTTP/1.1 200 OK\r\ncontent-length: 3\r\n\r\nOk\n";
        let body = complete_body(full).expect("headers and 3-byte body are all present");
        assert_eq!(check_response(full, body), Ok(()));
        assert_eq!(
            complete_body(b"HTTP/1.1 200 OK\r\ncontent-length: 3\r\n\r\nO"),
            None
        );
        let bad = b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n";
        let body = complete_body(bad).expect("empty body is complete");
        assert!(check_response(bad, body).is_err());
    }

    #[test]
    fn tail_keeps_last_lines() {
        assert_eq!(tail("a\nb\nc", 2), "b\nc");
        assert_eq!(tail("a", 5), "a");
    }

    #[tokio::test]
    async fn missing_rules_file_is_reported() {
        let err = Emulator::start(EmulatorOptions {
            rules: Some(PathBuf::from("/definitely/not/here.rules")),
            ..EmulatorOptions::default()
        })
        .await
        .expect_err("a missing rules file must be rejected before starting java");
        assert!(
            matches!(
                err,
                EmulatorError::RulesNotFound(_) | EmulatorError::JarNotFound(_)
            ),
            "{err}"
        );
    }

    /// Starts a real emulator, checks that it answers on `host()`, and that
    /// `stop()` really ends the JVM and frees the port.
    #[tokio::test]
    async fn starts_answers_and_stops() {
        let emulator = Emulator::start(EmulatorOptions::default())
            .await
            .expect("the Firestore emulator must be installed for this test (see find_jar)");
        let addr: SocketAddr = emulator.host().parse().expect("host() is always IP:PORT");
        probe(addr)
            .await
            .expect("a ready emulator answers GET / with Ok");
        assert_eq!(emulator.url(), format!("http://{}", emulator.host()));
        let pid = emulator
            .java_pid()
            .expect("a ready emulator knows its JVM pid");
        assert!(emulator.is_running());
        assert!(pid_alive(pid), "JVM {pid} should be alive");

        emulator.stop().await;
        assert!(!pid_alive(pid), "JVM {pid} should be gone after stop()");
        assert!(
            tokio::net::TcpStream::connect(addr).await.is_err(),
            "port must be closed after stop()"
        );
    }

    /// A busy fixed port is reported as such, not as a timeout, and the
    /// emulator answering there is not mistaken for ours.
    #[tokio::test]
    async fn fixed_port_collision_is_reported() {
        let first = Emulator::start(EmulatorOptions::default())
            .await
            .expect("the Firestore emulator must be installed for this test (see find_jar)");
        let err = Emulator::start(EmulatorOptions {
            port: Some(first.port()),
            ..EmulatorOptions::default()
        })
        .await
        .expect_err("a second emulator cannot bind the same port");
        assert!(matches!(err, EmulatorError::PortInUse { .. }), "{err}");
        drop(first);
    }

    /// `--rules` reaches the emulator: a deny-all-writes rule set rejects an
    /// unauthenticated write while the admin token ("Bearer owner") passes.
    #[tokio::test]
    async fn rules_file_is_enforced() {
        let dir = std::env::temp_dir().join(format!("vayu-rules-test-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).expect("temp dir must be creatable for this test");
        let rules = dir.join("deny-writes.rules");
        std::fs::write(
            &rules,
            "rules_version = '2';\nservice cloud.firestore {\n  match /databases/{db}/documents {\n    \
             match /{doc=**} { allow read: if true; allow write: if false; }\n  }\n}\n",
        )
        .expect("writing rules fixture in own temp dir");
        let emulator = Emulator::start(EmulatorOptions {
            rules: Some(rules),
            ..EmulatorOptions::default()
        })
        .await
        .expect("the Firestore emulator must be installed for this test (see find_jar)");
        std::fs::remove_dir_all(&dir).expect("removing own temp dir");

        let path = "/v1/projects/demo-vayu/databases/rules-test/documents/c/d";
        assert_eq!(patch_status(emulator.host(), path, None).await, 403);
        assert_eq!(
            patch_status(emulator.host(), path, Some("owner")).await,
            200
        );
        emulator.stop().await;
    }

    /// PATCHes an empty document and returns the HTTP status code.
    async fn patch_status(host: &str, path: &str, bearer: Option<&str>) -> u16 {
        let mut stream = tokio::net::TcpStream::connect(host)
            .await
            .expect("a ready emulator accepts connections");
        let auth = bearer.map_or(String::new(), |t| format!("Authorization: Bearer {t}\r\n"));
        let body = r#"{"fields":{}}"#;
        let request = format!(
            "PATCH {path} HTTP/1.1\r\nHost: {host}\r\n{auth}Content-Type: application/json\r\n\
             Content-Length: {}\r\n\r\n{body}",
            body.len()
        );
        stream
            .write_all(request.as_bytes())
            .await
            .expect("writing a small request to loopback");
        let mut buf = Vec::new();
        let mut chunk = [0u8; 512];
        // Only the status line is needed; it comes first.
        while !buf.windows(2).any(|w| w == b"\r\n") {
            let n = tokio::time::timeout(Duration::from_secs(20), stream.read(&mut chunk))
                .await
                .expect("emulator must answer within 20 s")
                .expect("reading the response");
            assert!(n > 0, "connection closed before a status line");
            buf.extend_from_slice(&chunk[..n]);
        }
        String::from_utf8_lossy(&buf)
            .split_whitespace()
            .nth(1)
            .and_then(|code| code.parse().ok())
            .expect("HTTP status line has a numeric code")
    }

    /// Linux: a pid is alive while /proc has it and it is not a zombie.
    fn pid_alive(pid: u32) -> bool {
        match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
            Ok(stat) => stat
                .rsplit_once(')')
                .and_then(|(_, rest)| rest.split_whitespace().next())
                .is_some_and(|state| state != "Z" && state != "X"),
            Err(_) => false,
        }
    }
}
