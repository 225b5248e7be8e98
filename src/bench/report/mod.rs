//! The benchmark's report: one JSON object (`--json`) or a table, with the
//! issue's targets checked against the measurements.

use super::BenchArgs;
use super::ceiling::CeilingReport;
use super::dag::DagReport;
use super::rss::RssReport;
use super::schedule::ScheduleReport;
use super::textbook::TextbookReport;
use super::vayu::{IdleReport, VayuReport};
use serde::Serialize;

pub use render::scaling_table;

mod modes;
mod render;

/// A reference mode that stopped with an error (the run went on).
#[derive(Debug, Clone, Serialize)]
pub struct ModeError {
    pub mode: String,
    pub error: String,
}

/// The machine the numbers come from.
#[derive(Debug, Clone, Serialize)]
pub struct Machine {
    pub cpu_model: String,
    pub cores: usize,
    pub emulator: String,
    /// Whether the bench started the emulator (else FIRESTORE_EMULATOR_HOST).
    pub emulator_started_by_bench: bool,
    pub emulator_java_pid: Option<u32>,
}

impl Machine {
    fn detect(host: &str, started: bool) -> Machine {
        let cpu_model = std::fs::read_to_string("/proc/cpuinfo")
            .ok()
            .and_then(|s| {
                s.lines()
                    .find(|l| l.starts_with("model name"))
                    .and_then(|l| l.split_once(':'))
                    .map(|(_, v)| v.trim().to_string())
            })
            .unwrap_or_else(|| "unknown".into());
        Machine {
            cpu_model,
            cores: std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1),
            emulator: host.to_string(),
            emulator_started_by_bench: started,
            emulator_java_pid: None,
        }
    }
}

/// One of the targets, checked.
#[derive(Debug, Clone, Serialize)]
pub struct Target {
    pub target: String,
    pub measured: String,
    /// `None` when this run cannot tell (a mode was skipped).
    pub met: Option<bool>,
}

/// Everything `vayu bench` measured. The top-level keys are the headline
/// numbers the issue names; the per-mode objects hold the details.
#[derive(Debug, Clone, Serialize)]
pub struct BenchReport {
    pub agents: usize,
    pub tasks: usize,
    pub concurrency: usize,
    pub producers: usize,
    /// The tasks' priorities (`--mix`).
    pub mix: super::rank::Mix,
    pub handler: String,
    /// Agents run as tasks of this process, each with its own connection.
    pub agents_in_process: bool,
    /// vayu's completed tasks per second under load.
    pub throughput: Option<f64>,
    pub textbook_throughput: Option<f64>,
    /// The simple polling worker's completed tasks per second.
    pub poll_throughput: Option<f64>,
    pub ceiling_throughput: Option<f64>,
    /// throughput / textbook_throughput.
    pub vs_textbook: Option<f64>,
    /// throughput / ceiling_throughput.
    pub vs_ceiling: Option<f64>,
    /// The ceiling's commits with N idle listeners on the queued pile: what
    /// the emulator allows a design whose agents listen for work.
    pub listened_ceiling_throughput: Option<f64>,
    /// throughput / listened_ceiling_throughput.
    pub vs_listened_ceiling: Option<f64>,
    /// Created → claimed with the agents idle (one task at a time), ms.
    pub claim_p50_ms: Option<f64>,
    pub claim_p95_ms: Option<f64>,
    pub claim_p99_ms: Option<f64>,
    /// Created → claimed under load (queue wait included), ms.
    pub load_claim_p50_ms: Option<f64>,
    pub load_claim_p99_ms: Option<f64>,
    /// Firestore reads + writes per completed task under load, all of them.
    pub ops_per_task: Option<f64>,
    /// Of `ops_per_task`, those on task documents (the lifecycle: create,
    /// claim, complete), and those of the fleet's presence (heartbeats and
    /// the peers listener reading them).
    pub task_ops_per_task: Option<f64>,
    pub presence_ops_per_task: Option<f64>,
    pub reads_per_task: Option<f64>,
    pub writes_per_task: Option<f64>,
    pub claim_attempts_per_task: Option<f64>,
    /// vayu's rank error under load: for each claim, the higher-ranked
    /// queued tasks waiting at that moment (0 is strict priority order).
    pub rank_error_p50: Option<f64>,
    pub rank_error_p99: Option<f64>,
    pub rank_error_max: Option<f64>,
    /// Polling reads made by idle agents in the quiet window.
    pub idle_polling_reads: Option<u64>,
    /// Presence operations (beats written and read, registrations read)
    /// per idle agent per minute in the quiet window: constant as N grows
    /// when each beat is read by its two watchers alone.
    pub presence_ops_per_agent_minute: Option<f64>,
    pub duplicates: Option<u64>,
    pub lost: Option<u64>,
    pub agent_rss_mb: Option<f64>,
    pub machine: Machine,
    pub idle: Option<IdleReport>,
    pub vayu: Option<VayuReport>,
    pub textbook: Option<TextbookReport>,
    pub ceiling: Option<CeilingReport>,
    pub listened_ceiling: Option<CeilingReport>,
    /// The simple polling worker (same report as the textbook's).
    pub poll: Option<TextbookReport>,
    pub dag: Option<DagReport>,
    pub schedule: Option<ScheduleReport>,
    pub agent_rss: Option<RssReport>,
    /// Reference modes that stopped with an error.
    pub errors: Vec<ModeError>,
    pub targets: Vec<Target>,
}

impl BenchReport {
    pub fn new(args: &BenchArgs, host: &str, started_emulator: bool) -> BenchReport {
        BenchReport {
            agents: args.agents,
            tasks: args.tasks,
            concurrency: args.concurrency,
            producers: args.producers,
            mix: args.mix,
            handler: args
                .handler
                .clone()
                .unwrap_or_else(|| "echo \"$VAYU_TASK_ID\" >> runs file (default)".into()),
            agents_in_process: true,
            throughput: None,
            textbook_throughput: None,
            poll_throughput: None,
            ceiling_throughput: None,
            vs_textbook: None,
            vs_ceiling: None,
            listened_ceiling_throughput: None,
            vs_listened_ceiling: None,
            claim_p50_ms: None,
            claim_p95_ms: None,
            claim_p99_ms: None,
            load_claim_p50_ms: None,
            load_claim_p99_ms: None,
            ops_per_task: None,
            task_ops_per_task: None,
            presence_ops_per_task: None,
            reads_per_task: None,
            writes_per_task: None,
            claim_attempts_per_task: None,
            rank_error_p50: None,
            rank_error_p99: None,
            rank_error_max: None,
            idle_polling_reads: None,
            presence_ops_per_agent_minute: None,
            duplicates: None,
            lost: None,
            agent_rss_mb: None,
            machine: Machine::detect(host, started_emulator),
            idle: None,
            vayu: None,
            textbook: None,
            ceiling: None,
            listened_ceiling: None,
            poll: None,
            dag: None,
            schedule: None,
            agent_rss: None,
            errors: Vec::new(),
            targets: Vec::new(),
        }
    }

    /// Fills the headline keys and checks the targets.
    pub fn finish(&mut self) {
        let round = |x: f64, places: i32| {
            let k = 10f64.powi(places);
            (x * k).round() / k
        };
        if let Some(v) = &self.vayu {
            self.throughput = Some(round(v.throughput, 1));
            self.load_claim_p50_ms = v.claim_ms.map(|p| p.p50);
            self.load_claim_p99_ms = v.claim_ms.map(|p| p.p99);
            self.ops_per_task = Some(round(v.per_task.ops, 2));
            self.task_ops_per_task = Some(round(v.per_task.task_ops, 2));
            self.presence_ops_per_task = Some(round(v.per_task.presence_ops, 2));
            self.reads_per_task = Some(round(v.per_task.reads, 2));
            self.writes_per_task = Some(round(v.per_task.writes, 2));
            self.claim_attempts_per_task = Some(round(v.per_task.claim_attempts, 3));
            self.duplicates = Some(v.duplicates);
            self.lost = Some(v.lost);
            self.rank_error_p50 = v.rank_error.map(|r| r.p50);
            self.rank_error_p99 = v.rank_error.map(|r| r.p99);
            self.rank_error_max = v.rank_error.map(|r| r.max);
        }
        if let Some(p) = &self.poll {
            self.poll_throughput = Some(round(p.throughput, 1));
        }
        if let Some(t) = &self.textbook {
            self.textbook_throughput = Some(round(t.throughput, 1));
        }
        if let Some(c) = &self.ceiling {
            self.ceiling_throughput = Some(round(c.throughput, 1));
        }
        if let Some(c) = &self.listened_ceiling {
            self.listened_ceiling_throughput = Some(round(c.throughput, 1));
        }
        if let Some(i) = &self.idle {
            self.claim_p50_ms = i.claim_ms.map(|p| p.p50);
            self.claim_p95_ms = i.claim_ms.map(|p| p.p95);
            self.claim_p99_ms = i.claim_ms.map(|p| p.p99);
            self.idle_polling_reads = Some(i.window.polling_reads);
            let agent_minutes = i.agents as f64 * i.window_s / 60.0;
            if agent_minutes > 0.0 {
                let ops = i.window.presence_reads + i.window.presence_writes;
                self.presence_ops_per_agent_minute = Some(round(ops as f64 / agent_minutes, 1));
            }
        }
        let ratio = |a: Option<f64>, b: Option<f64>| match (a, b) {
            (Some(a), Some(b)) if b > 0.0 => Some(round(a / b, 2)),
            _ => None,
        };
        self.vs_textbook = ratio(self.throughput, self.textbook_throughput);
        self.vs_ceiling = ratio(self.throughput, self.ceiling_throughput);
        self.vs_listened_ceiling = ratio(self.throughput, self.listened_ceiling_throughput);
        self.agent_rss_mb = self
            .agent_rss
            .as_ref()
            .and_then(|r| r.rss_mb)
            .map(|x| round(x, 1));
        self.targets = self.check_targets();
    }

    fn check_targets(&self) -> Vec<Target> {
        let mut out = Vec::new();
        let mut push = |target: String, measured: String, met: Option<bool>| {
            out.push(Target {
                target,
                measured,
                met,
            })
        };
        let textbook_note = match &self.textbook {
            Some(t) if t.stopped_at_limit => {
                format!(" (textbook stopped at {:.0} s)", t.limit_s)
            }
            _ => String::new(),
        };
        push(
            format!(
                "≥ 10× textbook throughput (the target is at 8 agents; this run has {})",
                self.agents
            ),
            match self.vs_textbook {
                Some(r) => format!("{r:.1}×{textbook_note}"),
                None => "not measured".into(),
            },
            self.vs_textbook.map(|r| r >= 10.0),
        );
        push(
            "≥ 50 % of the ceiling".into(),
            match (self.vs_ceiling, self.vs_listened_ceiling) {
                (Some(r), Some(l)) => format!(
                    "{:.0} % ({:.0} % of the ceiling with {} listeners)",
                    r * 100.0,
                    l * 100.0,
                    self.agents
                ),
                (Some(r), None) => format!("{:.0} %", r * 100.0),
                _ => "not measured".into(),
            },
            self.vs_ceiling.map(|r| r >= 0.5),
        );
        push(
            "idle created → claimed p99 < 100 ms".into(),
            match self.claim_p99_ms {
                Some(p) => format!(
                    "p99 {p:.0} ms over {} tasks",
                    self.idle.as_ref().map(|i| i.samples).unwrap_or(0)
                ),
                None => "not measured".into(),
            },
            self.claim_p99_ms.map(|p| p < 100.0),
        );
        // Judged on the task's own lifecycle, as the target says (create,
        // claim, complete); the fleet's heartbeats are a cost per agent and
        // second, shown beside it.
        push(
            "≤ 6 Firestore operations per simple task".into(),
            match (&self.vayu, self.task_ops_per_task) {
                (Some(v), Some(o)) => format!(
                    "{o:.2} on the task ({:.2} writes + {:.2} reads); plus {:.2} of heartbeats: {:.2} in all",
                    v.per_task.writes - v.ops.presence_writes as f64 / v.completed.max(1) as f64,
                    v.per_task.reads - v.ops.presence_reads as f64 / v.completed.max(1) as f64,
                    v.per_task.presence_ops,
                    v.per_task.ops
                ),
                _ => "not measured".into(),
            },
            self.task_ops_per_task.map(|o| o <= 6.0),
        );
        push(
            "0 polling reads from idle agents".into(),
            match &self.idle {
                Some(i) => format!(
                    "{} polling, {} listener reads, {} writes in {:.0} s",
                    i.window.polling_reads, i.window.listener_reads, i.window.writes, i.window_s
                ),
                None => "not measured".into(),
            },
            self.idle_polling_reads.map(|r| r == 0),
        );
        push(
            "idle agent RSS < 30 MB".into(),
            match (&self.agent_rss, self.agent_rss_mb) {
                (_, Some(mb)) => format!("{mb:.1} MiB"),
                (Some(r), None) => r.note.clone().unwrap_or_default(),
                _ => "not measured".into(),
            },
            self.agent_rss_mb.map(|mb| mb < 30.0),
        );
        push(
            "0 duplicates and 0 lost tasks".into(),
            match (self.duplicates, self.lost) {
                (Some(d), Some(l)) => format!("{d} duplicates, {l} lost"),
                _ => "not measured".into(),
            },
            match (self.duplicates, self.lost) {
                (Some(d), Some(l)) => Some(d == 0 && l == 0),
                _ => None,
            },
        );
        out
    }
}
