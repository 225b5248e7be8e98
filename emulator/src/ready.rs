//! Knowing when a JVM is ours and serving. Polled, never slept for: our JVM
//! must have printed its "running" line *and* `GET /` on the port must
//! answer `Ok`, so that another server that happens to answer on the same
//! port (a port race with a parallel test process) is not taken for ours.
//! The probe is a hand-written HTTP/1.1 request, which keeps this crate free
//! of an HTTP client.

use std::net::{Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::Emulator;
use crate::error::EmulatorError;
use crate::watchdog::lock;

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

impl Emulator {
    pub(crate) async fn wait_ready(&mut self, started: Instant) -> Result<(), EmulatorError> {
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
}

/// One readiness probe: TCP connect, then `GET /` must answer 200 `Ok`.
/// A hand-written HTTP/1.1 request keeps this module free of an HTTP client.
pub(crate) async fn probe(addr: SocketAddr) -> Result<(), String> {
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
}
