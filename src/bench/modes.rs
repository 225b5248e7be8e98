//! Running the modes `--modes` asks for, in order, after an unreported
//! warm-up, and gathering their reports.
//!
//! Only the vayu modes (vayu, dag, schedule) can fail the benchmark: a
//! reference mode's error is kept in [`BenchReport::errors`] and the run
//! goes on, because a reference that cannot cope with the emulator's
//! contention is a result about the reference.

use super::report::ModeError;
use super::textbook::Strategy;
use super::{BenchReport, Ctx, Mode, ceiling, dag, rss, schedule, textbook, vayu};
use crate::error::Result;
use std::time::Duration;

pub(super) async fn run_modes(ctx: &mut Ctx, started_emulator: bool) -> Result<BenchReport> {
    let args = ctx.args.clone();
    let mut report = BenchReport::new(&args, &ctx.host, started_emulator);
    report.machine.emulator_java_pid = ctx.jvm_pid;

    if args.warmup_tasks > 0 {
        ctx.log(format!(
            "warming up the emulator's JVM ({} tasks per mode, not reported)…",
            args.warmup_tasks
        ));
        let shown = std::mem::replace(&mut ctx.show_progress, false);
        let mut warm = ctx.args.clone();
        warm.tasks = args.warmup_tasks;
        warm.agents = args.agents.min(2);
        warm.dag_levels = args.dag_levels.min(3);
        warm.ticks = args.ticks.min(5);
        let saved = std::mem::replace(&mut ctx.args, warm);
        let reference = Duration::from_secs(20);
        for mode in &args.modes {
            let r = match mode {
                Mode::Vayu => vayu::load(ctx).await.map(|_| ()),
                Mode::Textbook => textbook::run(ctx, reference).await.map(|_| ()),
                Mode::Poll => textbook::run_reference(ctx, reference, Strategy::Poll)
                    .await
                    .map(|_| ()),
                Mode::Ceiling => ceiling::run(ctx).await.map(|_| ()),
                Mode::Dag => dag::run(ctx).await.map(|_| ()),
                Mode::Schedule => schedule::run(ctx).await.map(|_| ()),
            };
            if let Err(e) = r {
                tracing::warn!(error = %e, ?mode, "warm-up failed");
            }
        }
        ctx.args = saved;
        ctx.show_progress = shown;
    }

    let limit = Duration::from_secs(args.textbook_limit_secs);
    for mode in &args.modes {
        let failed = |e: crate::error::Error| ModeError {
            mode: format!("{mode:?}").to_lowercase(),
            error: e.to_string(),
        };
        match mode {
            Mode::Vayu => {
                ctx.log(format!(
                    "vayu: {} in-process agents idle ({} s quiet window, {} single tasks)…",
                    args.agents, args.idle_window_secs, args.idle_samples
                ));
                report.idle = Some(vayu::idle(ctx).await?);
                report.vayu = Some(vayu::load(ctx).await?);
            }
            Mode::Dag => {
                ctx.log(format!(
                    "dag: {}×{} tasks, then {} agents run them…",
                    args.dag_levels, args.dag_width, args.agents
                ));
                report.dag = Some(dag::run(ctx).await?);
            }
            Mode::Schedule => {
                ctx.log(format!(
                    "schedule: {} ticks of `* * * * *`, {} evaluators…",
                    args.ticks, args.agents
                ));
                report.schedule = Some(schedule::run(ctx).await?);
            }
            Mode::Textbook => match textbook::run(ctx, limit).await {
                Ok(r) => report.textbook = Some(r),
                Err(e) => report.errors.push(failed(e)),
            },
            Mode::Poll => match textbook::run_reference(ctx, limit, Strategy::Poll).await {
                Ok(r) => report.poll = Some(r),
                Err(e) => report.errors.push(failed(e)),
            },
            Mode::Ceiling => {
                match ceiling::run(ctx).await {
                    Ok(r) => report.ceiling = Some(r),
                    Err(e) => report.errors.push(failed(e)),
                }
                match ceiling::run_listened(ctx).await {
                    Ok(r) => report.listened_ceiling = Some(r),
                    Err(e) => report.errors.push(failed(e)),
                }
            }
        }
    }
    if !args.no_rss {
        ctx.log("measuring an idle vayu-agent process's RSS…");
        report.agent_rss = Some(rss::measure(ctx).await);
    }
    report.finish();
    Ok(report)
}
