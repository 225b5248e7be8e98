//! `vayu-agent --metrics-addr`: the agent's numbers for Prometheus.
//!
//! The agent loop publishes a [`Published`] copy of what only it knows
//! (claims, outcomes, the claim-latency histogram, breakers) on every tick
//! and run end; the Firestore operation counters and the heartbeat's
//! health are shared already and read at scrape time. The text format is
//! rendered here by hand ([`render`], pure): it is a dozen lines of a
//! stable, documented format, and an HTTP server answering one GET needs
//! no framework.

use super::*;
use crate::breaker::State;
use crate::metrics::OpSnapshot;
use std::fmt::Write as _;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Upper bounds of the claim-latency buckets, in seconds (created →
/// claimed, by the server's clock).
pub(super) const LATENCY_BUCKETS: &[f64] = &[0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0];

/// A histogram with [`LATENCY_BUCKETS`], counted as claims land.
#[derive(Debug, Clone, Default, PartialEq)]
pub(super) struct Histogram {
    /// Per bucket, not cumulative; the last is +Inf.
    counts: Vec<u64>,
    sum: f64,
    count: u64,
}

impl Histogram {
    pub(super) fn observe(&mut self, secs: f64) {
        if self.counts.is_empty() {
            self.counts = vec![0; LATENCY_BUCKETS.len() + 1];
        }
        let i = LATENCY_BUCKETS
            .iter()
            .position(|b| secs <= *b)
            .unwrap_or(LATENCY_BUCKETS.len());
        self.counts[i] += 1;
        self.sum += secs;
        self.count += 1;
    }
}

/// What the agent loop knows and the exporter shows.
#[derive(Debug, Clone, Default, PartialEq)]
pub(super) struct Published {
    pub(super) claims: u64,
    pub(super) claim_conflicts: u64,
    pub(super) outcomes: Vec<(&'static str, u64)>,
    pub(super) claim_latency: Histogram,
    pub(super) running: usize,
    pub(super) concurrency: usize,
    /// Every task type's breaker.
    pub(super) breakers: Vec<(TaskType, State)>,
}

/// What is read at scrape time besides [`Published`].
pub(super) struct Live {
    pub(super) ops: OpSnapshot,
    /// Since the last heartbeat that got through; `None` before the first.
    pub(super) heartbeat_age: Option<Duration>,
    pub(super) healthy_for: Duration,
}

/// The Prometheus text exposition format (version 0.0.4).
pub(super) fn render(agent: &str, p: &Published, live: &Live) -> String {
    let mut out = Out {
        text: String::new(),
        agent: format!("agent=\"{}\"", agent.replace(['\\', '"', '\n'], "_")),
    };
    let one = |v: f64| [(String::new(), v)];
    out.metric(
        "vayu_claims_total",
        "counter",
        "Claims this agent won.",
        &one(p.claims as f64),
    );
    out.metric(
        "vayu_claim_conflicts_total",
        "counter",
        "Claims lost to another agent or refused.",
        &one(p.claim_conflicts as f64),
    );
    let outcomes: Vec<(String, f64)> = (p.outcomes.iter())
        .map(|(o, n)| (format!("outcome=\"{o}\""), *n as f64))
        .collect();
    out.metric(
        "vayu_runs_total",
        "counter",
        "Runs ended, by outcome.",
        &outcomes,
    );
    let failures: u64 = (p.outcomes.iter())
        .filter(|(o, _)| matches!(*o, "retrying" | "failed" | "panicked"))
        .map(|(_, n)| n)
        .sum();
    out.metric(
        "vayu_failures_total",
        "counter",
        "Runs whose handler failed.",
        &one(failures as f64),
    );
    out.metric(
        "vayu_running_tasks",
        "gauge",
        "Tasks running now.",
        &one(p.running as f64),
    );
    out.metric(
        "vayu_concurrency",
        "gauge",
        "Tasks this agent runs at once.",
        &one(p.concurrency as f64),
    );
    out.histogram(&p.claim_latency);
    let o = &live.ops;
    let ops: Vec<(String, f64)> = [
        ("reads_polling", o.polling_reads),
        ("reads_listener", o.listener_reads),
        ("writes", o.writes),
        ("commits", o.commits),
        ("precondition_failures", o.precondition_failures),
    ]
    .iter()
    .map(|(k, n)| (format!("op=\"{k}\""), *n as f64))
    .collect();
    let help = "Firestore documents read and written, and commits, by this agent.";
    out.metric("vayu_firestore_operations_total", "counter", help, &ops);
    if let Some(age) = live.heartbeat_age {
        let help = "Since this agent's last heartbeat got through.";
        out.metric(
            "vayu_heartbeat_age_seconds",
            "gauge",
            help,
            &one(age.as_secs_f64()),
        );
    }
    let help = "How long heartbeats have got through without a gap (0: Firestore unreachable).";
    out.metric(
        "vayu_heartbeat_healthy_seconds",
        "gauge",
        help,
        &one(live.healthy_for.as_secs_f64()),
    );
    let breakers: Vec<(String, f64)> = (p.breakers.iter())
        .map(|(t, s)| (format!("task_type=\"{t}\""), state_value(s)))
        .collect();
    let help = "Circuit breaker per task type: 0 closed, 1 open, 2 half-open.";
    out.metric("vayu_breaker_state", "gauge", help, &breakers);
    out.text
}

fn state_value(s: &State) -> f64 {
    match s {
        State::Closed { .. } => 0.0,
        State::Open { .. } => 1.0,
        State::HalfOpen { .. } => 2.0,
    }
}

/// The text being rendered, and the agent label every sample carries.
struct Out {
    text: String,
    agent: String,
}

impl Out {
    fn metric(&mut self, name: &str, kind: &str, help: &str, samples: &[(String, f64)]) {
        let _ = writeln!(self.text, "# HELP {name} {help}\n# TYPE {name} {kind}");
        for (labels, v) in samples {
            self.sample(name, labels, *v);
        }
    }

    fn sample(&mut self, name: &str, labels: &str, v: f64) {
        let sep = if labels.is_empty() { "" } else { "," };
        let _ = writeln!(self.text, "{name}{{{}{sep}{labels}}} {v}", self.agent);
    }

    /// The claim-latency histogram, cumulative as the format wants.
    fn histogram(&mut self, h: &Histogram) {
        let name = "vayu_claim_latency_seconds";
        let help = "From a task's creation to this agent's claim.";
        let _ = writeln!(self.text, "# HELP {name} {help}\n# TYPE {name} histogram");
        let bounds = (LATENCY_BUCKETS.iter().map(|b| b.to_string())).chain(["+Inf".to_string()]);
        let mut cumulative = 0;
        for (i, le) in bounds.enumerate() {
            cumulative += h.counts.get(i).copied().unwrap_or(0);
            self.sample(
                &format!("{name}_bucket"),
                &format!("le=\"{le}\""),
                cumulative as f64,
            );
        }
        self.sample(&format!("{name}_sum"), "", h.sum);
        self.sample(&format!("{name}_count"), "", h.count as f64);
    }
}

impl Agent {
    /// Hands the exporter the loop's numbers (cheap: a few counters).
    pub(super) fn publish(&self) {
        let Some((tx, _)) = &self.exporter else {
            return;
        };
        let mut outcomes: Vec<(&'static str, u64)> =
            self.report.outcomes.iter().map(|(k, v)| (*k, *v)).collect();
        outcomes.sort();
        let breakers = (TaskType::ALL.iter())
            .map(|t| (*t, self.breakers.state(*t)))
            .collect();
        tx.send_replace(Published {
            claims: self.report.claimed,
            claim_conflicts: self.report.claim_conflicts,
            outcomes,
            claim_latency: self.claim_latency.clone(),
            running: self.running.len(),
            concurrency: self.cfg.concurrency,
            breakers,
        });
    }
}

/// Binds `addr`: a bad address or a taken port is the operator's to fix.
pub(super) async fn bind(addr: std::net::SocketAddr) -> Result<tokio::net::TcpListener> {
    tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| Error::Config(format!("--metrics-addr {addr}: {e}")))
}

/// Scrapes answered at once; more wait for a slot (a flood of
/// connections must not use up the descriptors the agent's Firestore
/// channel and its handlers' pipes need).
const SCRAPES_AT_ONCE: usize = 4;

/// Answers `GET /metrics` until the task is aborted; anything else is a
/// 404. One request per connection, read with a bound on time and size.
pub(super) async fn serve(
    listener: tokio::net::TcpListener,
    agent: String,
    published: tokio::sync::watch::Receiver<Published>,
    store: Store,
    health: Health,
) {
    let slots = Arc::new(tokio::sync::Semaphore::new(SCRAPES_AT_ONCE));
    loop {
        // Taken before accepting: past the cap, connections wait in the
        // kernel's backlog, not as open descriptors here.
        let Ok(slot) = slots.clone().acquire_owned().await else {
            return;
        };
        let Ok((conn, _)) = listener.accept().await else {
            // Out of file descriptors, say: not a reason to spin.
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        };
        let (agent, published) = (agent.clone(), published.clone());
        let (store, health) = (store.clone(), health.clone());
        tokio::spawn(async move {
            let _slot = slot;
            let answer = async {
                let request = read_request(conn).await?;
                let live = Live {
                    ops: store.counters().snapshot(),
                    heartbeat_age: health.since_last_beat(),
                    healthy_for: health.healthy_for(),
                };
                let body = render(&agent, &published.borrow(), &live);
                respond(request, &body).await
            };
            let _ = tokio::time::timeout(Duration::from_secs(5), answer).await;
        });
    }
}

/// Reads a request's head (up to 8 KiB, to its blank line); its method and
/// path decide the answer.
async fn read_request(mut conn: tokio::net::TcpStream) -> Option<(tokio::net::TcpStream, bool)> {
    let mut head = Vec::with_capacity(512);
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 8192 {
        let n = conn.read(&mut buf).await.ok()?;
        if n == 0 {
            break;
        }
        head.extend_from_slice(&buf[..n]);
    }
    let text = String::from_utf8_lossy(&head);
    let mut words = text.split_whitespace();
    let wanted = (words.next(), words.next()) == (Some("GET"), Some("/metrics"));
    Some((conn, wanted))
}

async fn respond(request: (tokio::net::TcpStream, bool), body: &str) -> Option<()> {
    let (mut conn, wanted) = request;
    let response = if wanted {
        format!(
            "HTTP/1.1 200 OK\r\ncontent-type: text/plain; version=0.0.4\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        )
    } else {
        "HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n".into()
    };
    conn.write_all(response.as_bytes()).await.ok()?;
    conn.shutdown().await.ok()
}

#[cfg(test)]
#[path = "exporter_tests.rs"]
mod tests;
