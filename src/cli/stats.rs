//! `vayu stats`: the review metrics over the completed pile (first-time
//! success, rework, quality per type and agent, the requesters' rating).

use super::*;
use crate::review::stats::{Mean, summarize};

#[derive(Args, Debug, Clone)]
pub struct StatsArgs {
    /// How many of the completed pile's tasks to read (oldest first).
    #[arg(long, default_value_t = 1000)]
    pub limit: i32,
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
    if json {
        return Ok(to_json(&s));
    }
    let pct = |x: Option<f64>| x.map_or("-".to_string(), |x| format!("{:.0}%", x * 100.0));
    let mut out = String::new();
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
