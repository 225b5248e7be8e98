//! `vayu task logs ID [--follow]`: a task's whole log, every attempt, in
//! the order it was written (`crate::logs`). The task document keeps only
//! the last few lines; this reads the batches behind them.
//!
//! `--follow` prints new lines as they are written, until the task ends
//! (completed, failed, cancelled or skipped), like `tail -f`; with
//! `--json` it prints one JSON object a line as they come, instead of one
//! array at the end.

use super::*;
use crate::logs::{self, LogDoc};
use std::io::Write as _;
use std::time::Duration;

/// How often a follower looks for new lines, and whether the task ended.
const FOLLOW_EVERY: Duration = Duration::from_secs(1);

pub(super) async fn run(
    store: &Store,
    id: &str,
    follow: bool,
    json: bool,
) -> Result<String, Error> {
    if store.find_task(id).await?.is_none() {
        return Err(Error::NotFound(format!("task {id}")));
    }
    let mut out = Printer::new(json, follow);
    let mut after: Option<String> = None;
    loop {
        // Whether it had ended is read before the lines: the end's commit
        // carries its last lines, so a read after it misses none.
        let ended =
            !follow || (store.find_task(id).await?).is_none_or(|t| t.value.status.is_terminal());
        let batches = logs::read_after(store, id, after.as_deref()).await?;
        if let Some((last, _)) = batches.last() {
            after = Some(last.clone());
        }
        for (_, batch) in &batches {
            out.batch(batch);
        }
        if ended {
            return Ok(out.finish());
        }
        tokio::time::sleep(FOLLOW_EVERY).await;
    }
}

/// Text with a header per attempt, or JSON: an array at the end, or one
/// object a line while following.
struct Printer {
    json: bool,
    stream: bool,
    epoch: Option<i64>,
    text: String,
    lines: Vec<serde_json::Value>,
}

impl Printer {
    fn new(json: bool, stream: bool) -> Printer {
        Printer {
            json,
            stream,
            epoch: None,
            text: String::new(),
            lines: Vec::new(),
        }
    }

    fn batch(&mut self, b: &LogDoc) {
        if !self.json && self.epoch != Some(b.epoch) {
            self.epoch = Some(b.epoch);
            self.emit(format!(
                "── lease epoch {}, agent {} ──",
                b.epoch, b.agent_id
            ));
        }
        for line in &b.lines {
            if self.json {
                let v = serde_json::json!({
                    "epoch": b.epoch,
                    "agent_id": b.agent_id,
                    "at": b.at,
                    "line": line,
                });
                match self.stream {
                    true => self.emit(v.to_string()),
                    false => self.lines.push(v),
                }
            } else {
                self.emit(line.clone());
            }
        }
    }

    /// A line now (following) or at the end.
    fn emit(&mut self, line: String) {
        if self.stream {
            let mut stdout = std::io::stdout().lock();
            let _ = writeln!(stdout, "{line}");
            let _ = stdout.flush();
        } else {
            let _ = writeln!(self.text, "{line}");
        }
    }

    fn finish(self) -> String {
        match (self.json, self.stream) {
            (true, false) => super::to_json(&self.lines),
            _ => self.text,
        }
    }
}
