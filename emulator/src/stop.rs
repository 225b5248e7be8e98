//! Stopping a JVM so that its port is free afterwards. The watchdog does the
//! killing when our pipe to it closes; this side only closes the pipe, waits
//! for the shell to report the JVM gone, and kills directly if the watchdog
//! itself is wedged, so no path leaks a JVM.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::Emulator;

impl Emulator {
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
