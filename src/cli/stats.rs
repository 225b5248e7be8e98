//! `vayu stats`: the seed's success metrics over the tasks created in the
//! last `--hours` that have ended ([`crate::success`]: throughput, time to assignment
//! and to resolution, completion and error rates, how evenly agents were
//! loaded), the queue's depth (two counts), and the review metrics over
//! the completed pile (first-time success, rework, quality per type and
//! agent, the requesters' rating).

use super::*;
use crate::review::stats::{Mean, summarize};

#[derive(Args, Debug, Clone)]
pub struct StatsArgs {
    /// How many of the completed pile's tasks to read (oldest first).
    #[arg(long, default_value_t = 1000)]
    pub limit: i32,
    /// The window of the success metrics, in hours (1-720).
    #[arg(long, default_value_t = 24, value_parser = clap::value_parser!(u64).range(1..=720))]
    pub hours: u64,
}

/// How many tasks wait (queued or blocked) and run: two counts, billed as
/// a read per 1,000 documents each.
async fn depth(store: &Store) -> Result<(i64, i64), Error> {
    let count = |p: Pile| async move {
        store
            .count(&p.parent(), p.collection_id(), None, None)
            .await
    };
    Ok((count(Pile::Queued).await?, count(Pile::Active).await?))
}

pub(super) async fn run(store: &Store, a: StatsArgs, json: bool) -> Result<String, Error> {
    let rows = store
        .list_pile(Pile::Completed, None, Some(a.limit))
        .await?;
    let tasks: Vec<Task> = rows
        .into_iter()
        .filter_map(Result::ok)
        .map(|v| v.value)
        .collect();
    let ratings = store.list_ratings().await?;
    let s = summarize(&tasks, &ratings);
    let t_now = now();
    let since = crate::model::time_sub(t_now, std::time::Duration::from_secs(a.hours * 3600));
    let ended = crate::listing::ended_since(store, since).await?;
    let success = crate::success::measure(&ended, since, t_now);
    let (queued, active) = depth(store).await?;
    if json {
        // The review metrics at the top level, as before; the rest beside.
        let mut v = serde_json::to_value(&s).unwrap_or_default();
        v["success"] = serde_json::to_value(&success).unwrap_or_default();
        v["queue"] = serde_json::json!({"queued": queued, "active": active});
        return Ok(to_json(&v));
    }
    let pct = |x: Option<f64>| x.map_or("-".to_string(), |x| format!("{:.0}%", x * 100.0));
    let mut out = render_success(&success, queued, active, pct);
    let _ = writeln!(
        out,
        "review    {} decided by review; first-time success {}; rework rate {}",
        s.reviewed,
        pct(s.first_time_success),
        pct(s.rework_rate)
    );
    match s.rating {
        Some(Mean { mean, n }) => {
            let _ = writeln!(out, "rating    {mean:.2} / 5 over {n} ratings");
        }
        None => out.push_str("rating    no ratings yet (vayu task rate)\n"),
    }
    for (title, means) in [
        ("quality by type", &s.quality_by_type),
        ("quality by agent", &s.quality_by_agent),
    ] {
        if means.is_empty() {
            continue;
        }
        let _ = writeln!(out, "{title}");
        for (k, m) in means {
            let _ = writeln!(out, "  {k:<24} {:.2}  (n={})", m.mean, m.n);
        }
    }
    Ok(out)
}

/// The success metrics as text.
fn render_success(
    s: &crate::success::Success,
    queued: i64,
    active: i64,
    pct: impl Fn(Option<f64>) -> String,
) -> String {
    let spread = |x: &Option<crate::success::Spread>| match x {
        Some(d) => format!(
            "median {:.1} s, p90 {:.1} s, max {:.1} s (n={})",
            d.p50, d.p90, d.max, d.n
        ),
        None => "-".into(),
    };
    let mut out = String::new();
    let _ = writeln!(
        out,
        "last {:.0} h   {} ended: {} completed, {} failed, {} cancelled, {} skipped",
        s.window_hours, s.ended, s.completed, s.failed, s.cancelled, s.skipped
    );
    let _ = writeln!(
        out,
        "throughput  {:.1} completed per hour",
        s.completed_per_hour
    );
    let _ = writeln!(
        out,
        "rates       completion {}, errors {}",
        pct(s.completion_rate),
        pct(s.error_rate)
    );
    let _ = writeln!(out, "assignment  {}", spread(&s.to_assignment));
    let _ = writeln!(out, "resolution  {}", spread(&s.to_resolution));
    let load: Vec<String> = s.by_agent.iter().map(|(a, n)| format!("{a} {n}")).collect();
    let evenness = s.load_spread.map_or("-".into(), |cv| format!("{cv:.2}"));
    let _ = writeln!(
        out,
        "load        {} (variation {evenness}; 0 is even)",
        if load.is_empty() {
            "-".into()
        } else {
            load.join(", ")
        }
    );
    let _ = writeln!(out, "queue       {queued} waiting, {active} running");
    out
}
