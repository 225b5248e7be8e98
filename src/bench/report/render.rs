//! The report as people read it: the text after a run, and the scaling
//! table of several runs.

use super::*;
use std::fmt::Write as _;

impl BenchReport {
    /// The human-readable report.
    pub fn render(&self) -> String {
        let mut s = String::new();
        let opt = |x: Option<f64>, unit: &str| match x {
            Some(v) => format!("{v:.1}{unit}"),
            None => "-".into(),
        };
        let _ = writeln!(
            s,
            "vayu bench: {} agents (in-process, {} slots each), {} tasks ({} priorities), {} producers",
            self.agents,
            self.concurrency,
            self.tasks,
            self.mix.as_str(),
            self.producers
        );
        let _ = writeln!(
            s,
            "machine: {} ({} cores); emulator {}{}",
            self.machine.cpu_model,
            self.machine.cores,
            self.machine.emulator,
            if self.machine.emulator_started_by_bench {
                " (started by the bench)"
            } else {
                ""
            }
        );
        let _ = writeln!(s, "handler: {}\n", self.handler);
        // A run of only dag and schedule has no throughput to show.
        if self.vayu.is_some()
            || self.textbook.is_some()
            || self.poll.is_some()
            || self.ceiling.is_some()
            || self.listened_ceiling.is_some()
        {
            self.render_throughput(&mut s);
        }
        if let Some(v) = &self.vayu {
            let p = &v.per_task;
            let _ = writeln!(
                s,
                "\nvayu operations per task: {:.2} writes, {:.2} listener reads, {:.2} polling reads \
                 ({:.2} of them the fleet's heartbeats), {:.2} commits, {:.3} claim attempts; {} lost claim races",
                p.writes,
                p.listener_reads,
                p.polling_reads,
                p.presence_ops,
                p.commits,
                p.claim_attempts,
                v.lost_races
            );
            let _ = writeln!(
                s,
                "vayu correctness: {} completed, {} handler runs, {} duplicates, {} lost, {} left queued, {} left active",
                v.completed, v.handler_runs, v.duplicates, v.lost, v.left_queued, v.left_active
            );
        }
        self.render_references(&mut s);
        self.render_rank_errors(&mut s);
        self.render_dag(&mut s);
        self.render_schedule(&mut s);
        for e in &self.errors {
            let _ = writeln!(s, "{} stopped with an error: {}", e.mode, e.error);
        }
        let _ = writeln!(
            s,
            "agent RSS (idle vayu-agent process): {}",
            opt(self.agent_rss_mb, " MiB")
        );

        let _ = writeln!(s, "\ntargets");
        for t in &self.targets {
            let mark = match t.met {
                Some(true) => "met   ",
                Some(false) => "MISSED",
                None => "  -   ",
            };
            let _ = writeln!(s, "  {mark} {:<55} {}", t.target, t.measured);
        }
        s
    }

    /// The throughput table, the ratios and the latencies.
    fn render_throughput(&self, s: &mut String) {
        let _ = writeln!(
            s,
            "{:<10} {:>10} {:>9} {:>10} {:>10} {:>10} {:>8} {:>8}",
            "mode", "tasks/s", "wall s", "completed", "ops/task", "writes/t", "reads/t", "cpu"
        );
        let cpu = |c: &crate::bench::stats::CpuUse| {
            let jvm = c.emulator_s.map(|e| e / c.wall_s.max(1e-9));
            match jvm {
                Some(j) => format!(
                    "{:.2}+{:.2}+{:.2}",
                    (c.bench_s) / c.wall_s.max(1e-9),
                    c.handlers_s / c.wall_s.max(1e-9),
                    j
                ),
                None => format!(
                    "{:.2}+{:.2}",
                    c.bench_s / c.wall_s.max(1e-9),
                    c.handlers_s / c.wall_s.max(1e-9)
                ),
            }
        };
        if let Some(v) = &self.vayu {
            let _ = writeln!(
                s,
                "{:<10} {:>10.1} {:>9.2} {:>10} {:>10.2} {:>10.2} {:>8.2} {:>8}",
                "vayu",
                v.throughput,
                v.wall_s,
                v.completed,
                v.per_task.ops,
                v.per_task.writes,
                v.per_task.reads,
                cpu(&v.cpu)
            );
            if v.stopped_at_limit {
                let _ = writeln!(
                    s,
                    "           (vayu stopped at the {:.0} s limit: {} of {} completed; rate so far)",
                    v.limit_s, v.completed, v.tasks
                );
            }
        }
        for (name, t) in [("textbook", &self.textbook), ("poll", &self.poll)] {
            let Some(t) = t else { continue };
            let _ = writeln!(
                s,
                "{:<10} {:>10.1} {:>9.2} {:>10} {:>10.2} {:>10.2} {:>8.2} {:>8}{}",
                name,
                t.throughput,
                t.wall_s,
                t.completed,
                t.per_task.ops,
                t.per_task.writes,
                t.per_task.reads,
                cpu(&t.cpu),
                if t.stopped_at_limit {
                    format!("  (stopped at the {:.0} s limit; rate so far)", t.limit_s)
                } else {
                    String::new()
                }
            );
        }
        for (name, c) in [
            ("ceiling", &self.ceiling),
            ("ceiling+L", &self.listened_ceiling),
        ] {
            let Some(c) = c else { continue };
            let _ = writeln!(
                s,
                "{:<10} {:>10.1} {:>9.2} {:>10} {:>10.2} {:>10.2} {:>8.2} {:>8}",
                name,
                c.throughput,
                c.wall_s,
                c.completed,
                c.per_task.ops,
                c.per_task.writes,
                c.per_task.reads,
                cpu(&c.cpu)
            );
        }
        let _ = writeln!(
            s,
            "(cpu: cores busy on average: bench process + handler processes{})",
            if self.machine.emulator_java_pid.is_some() {
                " + emulator JVM"
            } else {
                ""
            }
        );
        let _ = writeln!(
            s,
            "(ceiling+L: the ceiling's commits while {} idle listeners watch the queued pile, in lanes)",
            self.agents
        );
        let _ = writeln!(
            s,
            "\nvayu / textbook: {}   vayu / ceiling: {}   vayu / ceiling+L: {}",
            self.vs_textbook
                .map(|r| format!("{r:.1}×"))
                .unwrap_or("-".into()),
            self.vs_ceiling
                .map(|r| format!("{:.0} %", r * 100.0))
                .unwrap_or("-".into()),
            self.vs_listened_ceiling
                .map(|r| format!("{:.0} %", r * 100.0))
                .unwrap_or("-".into()),
        );

        let pct = |p: Option<crate::bench::stats::Percentiles>| match p {
            Some(p) => format!(
                "p50 {:.1}  p95 {:.1}  p99 {:.1}  max {:.1} ms (n={})",
                p.p50, p.p95, p.p99, p.max, p.n
            ),
            None => "-".into(),
        };
        let _ = writeln!(s, "\nlatency");
        if let Some(i) = &self.idle {
            let _ = writeln!(s, "  idle created → claimed     {}", pct(i.claim_ms));
            let _ = writeln!(s, "  idle created → claim sent  {}", pct(i.noticed_ms));
            let _ = writeln!(
                s,
                "  idle lost claim races      {} ({})",
                i.lost_races,
                pct(i.lost_race_ms)
            );
        }
        if let Some(v) = &self.vayu {
            let _ = writeln!(s, "  load created → claimed     {}", pct(v.claim_ms));
            let _ = writeln!(s, "  load claimed → completed   {}", pct(v.run_ms));
        }
        if let Some(t) = &self.textbook {
            let _ = writeln!(s, "  textbook created → claimed {}", pct(t.claim_ms));
            let _ = writeln!(s, "  textbook claimed → done    {}", pct(t.run_ms));
        }
        if let Some(t) = &self.poll {
            let _ = writeln!(s, "  poll created → claimed     {}", pct(t.claim_ms));
            let _ = writeln!(s, "  poll claimed → done        {}", pct(t.run_ms));
        }
    }
}

/// One markdown table of several runs (one per agent count): the
/// throughputs side by side and their ratios, as the README shows them.
pub fn scaling_table(reports: &[BenchReport]) -> String {
    use std::fmt::Write as _;
    let num = |x: Option<f64>, places: usize| match x {
        Some(v) => format!("{v:.places$}"),
        None => "-".into(),
    };
    let times = |x: Option<f64>| x.map(|r| format!("{r:.1}×")).unwrap_or("-".into());
    let pct = |x: Option<f64>| {
        x.map(|r| format!("{:.0} %", r * 100.0))
            .unwrap_or("-".into())
    };
    let mut s = String::new();
    let _ = writeln!(
        s,
        "| agents | vayu tasks/s | textbook tasks/s | ceiling tasks/s | ceiling+L tasks/s \
         | vayu / textbook | vayu / ceiling | vayu / ceiling+L | ops/task (task + heartbeats) \
         | idle presence ops / agent-min | idle claim p99 | duplicates / lost |"
    );
    let _ = writeln!(
        s,
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    );
    for r in reports {
        let textbook_note = match &r.textbook {
            Some(t) if t.stopped_at_limit => "*",
            _ => "",
        };
        let _ = writeln!(
            s,
            "| {} | {} | {}{} | {} | {} | {} | {} | {} | {} + {} | {} | {} ms | {} / {} |",
            r.agents,
            num(r.throughput, 1),
            num(r.textbook_throughput, 1),
            textbook_note,
            num(r.ceiling_throughput, 0),
            num(r.listened_ceiling_throughput, 1),
            times(r.vs_textbook),
            pct(r.vs_ceiling),
            pct(r.vs_listened_ceiling),
            num(r.task_ops_per_task, 2),
            num(r.presence_ops_per_task, 2),
            num(r.presence_ops_per_agent_minute, 1),
            num(r.claim_p99_ms, 0),
            r.duplicates.map(|d| d.to_string()).unwrap_or("-".into()),
            r.lost.map(|d| d.to_string()).unwrap_or("-".into()),
        );
    }
    let _ = writeln!(
        s,
        "\n\\* textbook stopped at its time limit; the rate so far.\n\
         ceiling+L: the ceiling's commits while N idle listeners watch the queued pile."
    );
    if let Some(more) = super::modes::modes_table(reports) {
        let _ = writeln!(s, "\n{more}");
    }
    s
}
