//! The report's text for the references' contention, the rank error, and
//! the dag and schedule modes (kept apart from `render.rs`, which lays
//! out the throughput table).

use super::BenchReport;
use crate::bench::rank::RankError;
use std::fmt::Write as _;

impl BenchReport {
    /// What contention cost the references: aborted claims, lost races,
    /// retried completions, tasks the limit caught half done, creates
    /// retried after lock timeouts.
    pub(super) fn render_references(&self, s: &mut String) {
        if let Some(t) = &self.textbook {
            let _ = writeln!(
                s,
                "textbook: {} of {} tasks created ({} creates retried), {} aborted claim \
                 transactions, {} retried completions, {} given up at the limit, {} empty polls, \
                 {} duplicates",
                t.produce.created,
                t.tasks,
                t.produce.retries,
                t.aborted_claims,
                t.complete_retries,
                t.gave_up,
                t.empty_polls,
                t.duplicates
            );
        }
        if let Some(t) = &self.poll {
            let _ = writeln!(
                s,
                "poll: {} list queries ({:.2} polling reads a task), {} lost claim races, {} \
                 failed claims, {} retried completions, {} given up at the limit, {} empty polls, \
                 {} duplicates",
                t.list_queries,
                t.per_task.polling_reads,
                t.lost_races,
                t.aborted_claims,
                t.complete_retries,
                t.gave_up,
                t.empty_polls,
                t.duplicates
            );
        }
        for (name, t) in [("textbook", &self.textbook), ("poll", &self.poll)] {
            if let Some(e) = t.as_ref().and_then(|t| t.error.as_ref()) {
                let _ = writeln!(s, "{name} stopped early: {e}");
            }
        }
    }

    pub(super) fn render_rank_errors(&self, s: &mut String) {
        let line = |r: Option<RankError>| match r {
            Some(r) => format!(
                "p50 {:.0}  p99 {:.0}  max {:.0}  mean {:.2}; {} of {} claims out of order, \
                 {} while a better priority waited (at most {})",
                r.p50,
                r.p99,
                r.max,
                r.mean,
                r.out_of_order,
                r.claims,
                r.priority_inversions,
                r.priority_inversion_max
            ),
            None => "-".into(),
        };
        let modes = [
            ("vayu", self.vayu.as_ref().map(|v| v.rank_error)),
            ("textbook", self.textbook.as_ref().map(|t| t.rank_error)),
            ("poll", self.poll.as_ref().map(|t| t.rank_error)),
        ];
        if modes.iter().all(|(_, r)| r.is_none()) {
            return;
        }
        let _ = writeln!(
            s,
            "\nrank error (higher-ranked queued tasks waiting at each claim)"
        );
        for (name, r) in modes {
            if let Some(r) = r {
                let _ = writeln!(s, "  {name:<9} {}", line(r));
            }
        }
    }

    pub(super) fn render_dag(&self, s: &mut String) {
        let Some(d) = &self.dag else { return };
        let _ = writeln!(
            s,
            "\ndag: {} tasks ({} levels × {}, {} edges), {} agents",
            d.tasks, d.levels, d.width, d.edges, d.agents
        );
        let _ = writeln!(
            s,
            "  {:<8} {:>8} {:>13} {:>14} {:>8} {:>8}",
            "phase", "wall s", "polling reads", "listener reads", "commits", "writes"
        );
        for (name, p) in [("create", &d.create), ("run", &d.run)] {
            let _ = writeln!(
                s,
                "  {:<8} {:>8.2} {:>13} {:>14} {:>8} {:>8}",
                name,
                p.wall_s,
                p.ops.polling_reads,
                p.ops.listener_reads,
                p.ops.commits,
                p.ops.writes
            );
        }
        let _ = writeln!(
            s,
            "  {} completed, {} unblocked; the run per unblock: {:.2} commits, {:.2} reads",
            d.completed, d.unblocked, d.commits_per_unblock, d.reads_per_unblock
        );
        let _ = writeln!(
            s,
            "  order: {} tasks claimed before a dependency completed, {} edges unchecked; \
             {} duplicates{}",
            d.order_violations,
            d.unchecked_edges,
            d.duplicates,
            if d.stopped_at_limit {
                " (stopped at the time limit)"
            } else {
                ""
            }
        );
    }

    pub(super) fn render_schedule(&self, s: &mut String) {
        let Some(c) = &self.schedule else { return };
        let _ = writeln!(
            s,
            "\nschedule: {} ticks of `* * * * *`, {} evaluators, {:.2} s",
            c.ticks, c.evaluators, c.wall_s
        );
        let _ = writeln!(
            s,
            "  tasks created {} ({} ticks with their task, {} duplicates, {} stalled ticks)",
            c.tasks_created, c.ticks_with_task, c.duplicates, c.stalled_ticks
        );
        let _ = writeln!(
            s,
            "  per tick: {:.2} reads ({} polling, {} listener in all), {:.2} commits \
             ({:.2} refused), {:.2} writes",
            c.reads_per_tick,
            c.ops.polling_reads,
            c.ops.listener_reads,
            c.commits_per_tick,
            c.refused_per_tick,
            c.writes_per_tick
        );
    }
}

/// The scaling table's companion for the newer modes (poll, rank error,
/// dag, schedule): one row per agent count, or nothing when no run had
/// any of them.
pub(super) fn modes_table(reports: &[BenchReport]) -> Option<String> {
    let any = reports
        .iter()
        .any(|r| r.poll.is_some() || r.dag.is_some() || r.schedule.is_some() || r.vayu.is_some());
    if !any {
        return None;
    }
    let f = |x: Option<f64>, places: usize| match x {
        Some(v) => format!("{v:.places$}"),
        None => "-".into(),
    };
    let rank = |r: Option<RankError>| match r {
        Some(r) => format!("{:.0} / {:.0} / {:.0}", r.p50, r.p99, r.max),
        None => "-".into(),
    };
    let mut s = String::new();
    let _ = writeln!(
        s,
        "| agents | poll tasks/s | vayu / poll | vayu rank error p50 / p99 / max \
         | textbook rank error p50 / p99 / max | poll rank error p50 / p99 / max | dag run s \
         | dag commits / reads per unblock | dag order violations \
         | schedule tasks / ticks | per tick: reads, commits, writes |"
    );
    let _ = writeln!(
        s,
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    );
    for r in reports {
        let vs_poll = match (r.throughput, r.poll_throughput) {
            (Some(a), Some(b)) if b > 0.0 => Some(a / b),
            _ => None,
        };
        let dag = r.dag.as_ref();
        let sched = r.schedule.as_ref();
        let _ = writeln!(
            s,
            "| {} | {}{} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            r.agents,
            f(r.poll_throughput, 1),
            match &r.poll {
                Some(p) if p.stopped_at_limit => "*",
                _ => "",
            },
            vs_poll.map(|x| format!("{x:.1}×")).unwrap_or("-".into()),
            rank(r.vayu.as_ref().and_then(|v| v.rank_error)),
            rank(r.textbook.as_ref().and_then(|t| t.rank_error)),
            rank(r.poll.as_ref().and_then(|t| t.rank_error)),
            f(dag.map(|d| d.run.wall_s), 1),
            dag.map(|d| format!("{:.2} / {:.2}", d.commits_per_unblock, d.reads_per_unblock))
                .unwrap_or("-".into()),
            dag.map(|d| d.order_violations.to_string())
                .unwrap_or("-".into()),
            sched
                .map(|c| format!("{} / {}", c.tasks_created, c.ticks))
                .unwrap_or("-".into()),
            sched
                .map(|c| format!(
                    "{:.2}, {:.2}, {:.2}",
                    c.reads_per_tick, c.commits_per_tick, c.writes_per_tick
                ))
                .unwrap_or("-".into()),
        );
    }
    Some(s)
}
