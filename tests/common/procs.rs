//! `vayu-agent` and `vayu` as real processes, and the signals the
//! resilience and chaos tests send them (and the emulator's JVM).
//!
//! Every agent's stdout and stderr go to `{log_dir}/{id}.log`, appended to by
//! each incarnation (a restart with the same id adds a header line), so a
//! failing test can print what each agent said.

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::time::Duration;
use tokio::time::Instant;

/// How to start one `vayu-agent` process.
#[derive(Clone, Debug)]
pub struct AgentSpec {
    pub id: String,
    /// `--handler` values: `'CMD'` or `TYPE='CMD'`.
    pub handlers: Vec<String>,
    pub concurrency: usize,
    pub heartbeat_secs: f64,
    pub lease_secs: f64,
    pub grace_secs: f64,
    /// `FIRESTORE_EMULATOR_HOST`.
    pub host: String,
    /// `VAYU_DATABASE`.
    pub database: String,
    pub log_dir: PathBuf,
    /// `VAYU_LOG`.
    pub log_filter: String,
    /// More flags (`--review-handler CMD`, say).
    pub args: Vec<String>,
    /// More environment (`VAYU_TOKEN`: an identity under the rules).
    pub env: Vec<(String, String)>,
}

impl AgentSpec {
    /// [`AgentSpec::new`] on the emulator database of `cfg`.
    pub fn on(cfg: &vayu::store::StoreConfig, log_dir: &Path, id: &str, handler: &str) -> Self {
        let host = (cfg.emulator_host.as_deref()).expect("tests run on the emulator");
        AgentSpec::new(id, handler, host, &cfg.database_id, log_dir)
    }

    /// Short heartbeat and lease (0.5 s / 2 s), so takeovers happen within
    /// a few seconds; concurrency 4; grace 5 s.
    pub fn new(id: &str, handler: &str, host: &str, database: &str, log_dir: &Path) -> Self {
        AgentSpec {
            id: id.to_string(),
            handlers: vec![handler.to_string()],
            concurrency: 4,
            heartbeat_secs: 0.5,
            lease_secs: 2.0,
            grace_secs: 5.0,
            host: host.to_string(),
            database: database.to_string(),
            log_dir: log_dir.to_path_buf(),
            // `VAYU_TEST_AGENT_LOG` (say `info,vayu::agent=trace`) to study
            // a failure the default level does not explain.
            log_filter: std::env::var("VAYU_TEST_AGENT_LOG").unwrap_or_else(|_| "info".into()),
            args: Vec::new(),
            env: Vec::new(),
        }
    }

    pub fn log_path(&self) -> PathBuf {
        self.log_dir.join(format!("{}.log", self.id))
    }
}

/// A running `vayu-agent`. Dropping it kills it (SIGKILL).
pub struct AgentProc {
    pub spec: AgentSpec,
    child: tokio::process::Child,
    pid: u32,
    pub started: Instant,
}

impl AgentProc {
    pub fn spawn(spec: &AgentSpec) -> AgentProc {
        let mut log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(spec.log_path())
            .unwrap_or_else(|e| panic!("the test's log dir is writable: {e}"));
        writeln!(
            log,
            "==== test: starting vayu-agent {} at {}",
            spec.id,
            vayu::model::now().0
        )
        .unwrap_or_else(|e| panic!("the test's log file is writable: {e}"));
        let err = log
            .try_clone()
            .unwrap_or_else(|e| panic!("a log file handle can be cloned: {e}"));
        let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_vayu-agent"));
        cmd.arg("--id")
            .arg(&spec.id)
            .arg("--concurrency")
            .arg(spec.concurrency.to_string())
            .arg("--heartbeat-secs")
            .arg(spec.heartbeat_secs.to_string())
            .arg("--lease-secs")
            .arg(spec.lease_secs.to_string())
            .arg("--grace-secs")
            .arg(spec.grace_secs.to_string());
        for h in &spec.handlers {
            cmd.arg("--handler").arg(h);
        }
        cmd.args(&spec.args);
        cmd.env("FIRESTORE_EMULATOR_HOST", &spec.host)
            .env("VAYU_DATABASE", &spec.database)
            .env("VAYU_LOG", &spec.log_filter)
            .env_remove("VAYU_PROJECT")
            .env_remove("VAYU_TOKEN")
            .env_remove("VAYU_AGENT_ID")
            .env_remove("VAYU_HANDLER")
            .envs(spec.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::from(log))
            .stderr(Stdio::from(err))
            .kill_on_drop(true);
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cargo built vayu-agent, so it starts: {e}"));
        let pid = child
            .id()
            .expect("a child that was just spawned and not awaited has a pid");
        AgentProc {
            spec: spec.clone(),
            child,
            pid,
            started: Instant::now(),
        }
    }

    pub fn id(&self) -> &str {
        &self.spec.id
    }

    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// Sends `sig`; false if the process is already gone.
    pub fn signal(&self, sig: Signal) -> bool {
        signal_pid(self.pid, sig).is_ok()
    }

    /// The exit status if it has exited, without waiting.
    pub fn try_exit(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// Waits up to `limit` for it to exit.
    pub async fn wait_exit(&mut self, limit: Duration) -> Option<ExitStatus> {
        tokio::time::timeout(limit, self.child.wait())
            .await
            .ok()
            .and_then(Result::ok)
    }

    /// `kill -9`, then reaps it.
    pub async fn kill9(&mut self) -> Option<ExitStatus> {
        self.signal(Signal::SIGKILL);
        self.wait_exit(Duration::from_secs(10)).await
    }

    /// SIGTERM, then waits up to `limit` for a clean exit.
    pub async fn terminate(&mut self, limit: Duration) -> Option<ExitStatus> {
        // A stopped process would only see the SIGTERM once continued.
        self.signal(Signal::SIGCONT);
        self.signal(Signal::SIGTERM);
        self.wait_exit(limit).await
    }

    /// [`AgentProc::terminate`], and asserts that it exits 0 (showing the
    /// end of its log if not).
    pub async fn stop_cleanly(&mut self, limit: Duration) {
        let status = self.terminate(limit).await;
        assert!(
            status.is_some_and(|s| s.success()),
            "{} exits 0 on SIGTERM, got {status:?}:\n{}",
            self.id(),
            tail(&self.log(), 30)
        );
    }

    /// Everything this agent id logged so far (all incarnations).
    pub fn log(&self) -> String {
        read_lossy(&self.spec.log_path())
    }

    /// The CPU time (user + system) the process has used, from
    /// `/proc/{pid}/stat`, or `None` once it is gone.
    pub fn cpu_time(&self) -> Option<Duration> {
        proc_cpu_time(self.pid)
    }
}

/// A test that fails with agents still running shows the end of each
/// one's log: its temp dir, with the logs in it, is gone after the test,
/// and a failure seen only under CI's load can be read only from here.
impl Drop for AgentProc {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!(
                "---- the end of {}'s log:\n{}",
                self.id(),
                tail(&self.log(), tail_lines())
            );
        }
    }
}

/// How much of a failed test's agent logs to show: 25 lines, or
/// `VAYU_TEST_LOG_TAIL`.
fn tail_lines() -> usize {
    (std::env::var("VAYU_TEST_LOG_TAIL").ok())
        .and_then(|n| n.parse().ok())
        .unwrap_or(25)
}

/// A file's text, with any invalid UTF-8 replaced (a handler may print
/// anything); empty if it cannot be read.
pub fn read_lossy(path: &Path) -> String {
    std::fs::read(path)
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default()
}

/// Sends `sig` to `pid`.
pub fn signal_pid(pid: u32, sig: Signal) -> nix::Result<()> {
    let pid = i32::try_from(pid).map_err(|_| nix::errno::Errno::EINVAL)?;
    kill(Pid::from_raw(pid), sig)
}

/// Whether `pid` is a live process: it exists and is not a zombie (a killed
/// grandchild reparented to a PID 1 that does not reap stays a zombie, and
/// `kill -0` would call it alive).
pub fn pid_alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => {
            // The state is the first field after the parenthesised command.
            let state = stat
                .rsplit_once(')')
                .and_then(|(_, rest)| rest.split_whitespace().next())
                .unwrap_or("?");
            state != "Z" && state != "X"
        }
        Err(_) => false,
    }
}

/// Waits up to `limit` for `pid` to be dead; returns how long it took, or
/// `None` if it is still alive.
pub async fn wait_dead(pid: u32, limit: Duration) -> Option<Duration> {
    let t0 = Instant::now();
    while t0.elapsed() < limit {
        if !pid_alive(pid) {
            return Some(t0.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    (!pid_alive(pid)).then(|| t0.elapsed())
}

fn proc_cpu_time(pid: u32) -> Option<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // After the command: state is field 3, utime 14, stime 15 (1-based),
    // so indexes 11 and 12 here.
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    // USER_HZ is 100 on every Linux the tests run on.
    Some(Duration::from_millis((utime + stime) * 10))
}

/// A `SIGSTOP`ped process (the emulator's JVM, or an agent) that is
/// continued by [`Frozen::thaw`], or when dropped, so a failing test never
/// leaves it stopped.
pub struct Frozen {
    pid: u32,
    thawed: bool,
    pub at: Instant,
}

impl Frozen {
    pub fn stop(pid: u32) -> Frozen {
        signal_pid(pid, Signal::SIGSTOP)
            .unwrap_or_else(|e| panic!("the process {pid} to freeze exists: {e}"));
        Frozen {
            pid,
            thawed: false,
            at: Instant::now(),
        }
    }

    /// Continues the process; returns how long it was stopped.
    pub fn thaw(&mut self) -> Duration {
        if !self.thawed {
            let _ = signal_pid(self.pid, Signal::SIGCONT);
            self.thawed = true;
        }
        self.at.elapsed()
    }
}

impl Drop for Frozen {
    fn drop(&mut self) {
        self.thaw();
    }
}

/// The last `n` lines of `text`.
pub fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// Runs the `vayu` CLI against database `database` of the emulator at
/// `host`; returns (exit code, stdout, stderr).
pub async fn vayu_cli(host: &str, database: &str, args: &[&str]) -> (i32, String, String) {
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_vayu"))
        .args(args)
        .env("FIRESTORE_EMULATOR_HOST", host)
        .env("VAYU_DATABASE", database)
        .env_remove("VAYU_PROJECT")
        .env_remove("VAYU_TOKEN")
        .stdin(Stdio::null())
        .output()
        .await
        .unwrap_or_else(|e| panic!("cargo built vayu, so it runs: {e}"));
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}
