//! The resident memory of an idle `vayu-agent`, measured on a real
//! process: the in-process agents of the benchmark share one heap, so
//! their memory cannot be told apart.
//!
//! The agent binary is looked for next to the running `vayu` (cargo puts
//! both in `target/<profile>/`), then on `PATH`. It is started against a
//! fresh database with a no-op handler, left until it has registered and
//! its listeners are up, and its `VmRSS` is read from `/proc`.

use super::Ctx;
use crate::store::{Store, env};
use serde::Serialize;
use std::path::PathBuf;
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Serialize)]
pub struct RssReport {
    /// Resident memory of the idle agent, MiB; `None` when not measured.
    pub rss_mb: Option<f64>,
    /// Peak resident memory so far (`VmHWM`), MiB.
    pub peak_mb: Option<f64>,
    pub binary: Option<String>,
    /// Seconds the agent had been idle when measured.
    pub idle_s: f64,
    /// Why it was not measured, when it was not.
    pub note: Option<String>,
}

/// Finds `vayu-agent` beside the current executable, else on `PATH`.
pub fn agent_binary() -> Option<PathBuf> {
    let beside = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(|d| d.join("vayu-agent")))
        .filter(|p| p.is_file());
    // Test binaries live in target/<profile>/deps; the agent one level up.
    let above = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent()?.parent().map(|d| d.join("vayu-agent")))
        .filter(|p| p.is_file());
    beside.or(above).or_else(|| {
        std::env::var_os("PATH").and_then(|paths| {
            std::env::split_paths(&paths)
                .map(|d| d.join("vayu-agent"))
                .find(|p| p.is_file())
        })
    })
}

/// `VmRSS` and `VmHWM` of `pid` in MiB.
pub fn read_rss(pid: u32) -> Option<(f64, f64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kb = |key: &str| -> Option<f64> {
        let line = status.lines().find(|l| l.starts_with(key))?;
        line.split_whitespace().nth(1)?.parse::<f64>().ok()
    };
    Some((kb("VmRSS:")? / 1024.0, kb("VmHWM:")? / 1024.0))
}

/// Starts a real agent, waits until it is idle, reads its memory, stops it.
pub async fn measure(ctx: &Ctx) -> RssReport {
    let unmeasured = |note: String| RssReport {
        rss_mb: None,
        peak_mb: None,
        binary: None,
        idle_s: 0.0,
        note: Some(note),
    };
    let Some(binary) = agent_binary() else {
        return unmeasured(
            "no vayu-agent binary next to vayu or on PATH (cargo build --release builds both)"
                .into(),
        );
    };
    let db = ctx.fresh_db("rss");
    let observer = match Store::connect(&ctx.store_config(&db)).await {
        Ok(s) => s,
        Err(e) => return unmeasured(format!("cannot connect: {e}")),
    };
    let mut child = match tokio::process::Command::new(&binary)
        .args(["--id", "bench-rss", "--handler", "true"])
        .env(env::FIRESTORE_EMULATOR_HOST, &ctx.host)
        .env(env::VAYU_PROJECT, &ctx.project)
        .env(env::VAYU_DATABASE, &db)
        .env("VAYU_LOG", "warn")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
    {
        Ok(c) => c,
        Err(e) => return unmeasured(format!("cannot start {}: {e}", binary.display())),
    };
    let Some(pid) = child.id() else {
        return unmeasured("the agent exited at once".into());
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut registered = false;
    while Instant::now() < deadline {
        if observer
            .get_agent("bench-rss")
            .await
            .is_ok_and(|a| a.is_some())
        {
            registered = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Idle with listeners up: past its start-up work and first heartbeat.
    let idle = Duration::from_secs(3);
    tokio::time::sleep(idle).await;
    let mem = read_rss(pid);
    let _ = nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid as i32),
        nix::sys::signal::Signal::SIGTERM,
    );
    if tokio::time::timeout(Duration::from_secs(15), child.wait())
        .await
        .is_err()
    {
        let _ = child.kill().await;
    }
    match (registered, mem) {
        (true, Some((rss, peak))) => RssReport {
            rss_mb: Some(rss),
            peak_mb: Some(peak),
            binary: Some(binary.display().to_string()),
            idle_s: idle.as_secs_f64(),
            note: None,
        },
        (false, _) => unmeasured("the agent did not register within 30 s".into()),
        (true, None) => unmeasured("could not read /proc/PID/status".into()),
    }
}
