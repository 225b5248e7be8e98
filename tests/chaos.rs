//! The chaos run (issue 3): 1,000 tasks, 6 `vayu-agent` processes, one
//! agent killed with `kill -9` about every 2 s and restarted, and the
//! emulator frozen with SIGSTOP for 10 s once. At the end every task is
//! completed exactly once, nothing is left in the queue or in flight, and
//! every duplicate execution is explained by a kill.
//!
//! Bounded: the run fails with diagnostics after [`DEADLINE`]. Loopback
//! only: a dedicated emulator on 127.0.0.1 and local processes.
//!
//! Over 600 lines because it is one run: the killer, the freezer and the
//! final audit share its state, and split apart they would be read together
//! anyway.
//!
//! Two ways back from a kill are exercised, alternately:
//! - the agent restarts at once with the same id and requeues what its
//!   previous incarnation held (startup recovery);
//! - the agent stays down for [`SLOW_RESTART`], so its peers notice the
//!   silent heartbeat, mark it offline and take its tasks over.
//!
//! Kills and restarts pause from the freeze until [`QUIET_AFTER_THAW`]
//! after it: while Firestore is frozen nobody can renew a lease, and an
//! agent starting right after the thaw would see every lease as expired,
//! so a duplicate could not be told apart from a kill's. (Whether an agent
//! starting right after an outage takes live agents' work is tested on its
//! own in `tests/outage.rs`.)

mod common;

use common::procs::{AgentProc, AgentSpec, Frozen, tail};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::{Read as _, Seek as _};
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio::time::Instant;
use vayu::layout::Pile;
use vayu::lifecycle::Status;
use vayu::model::{Priority, Task, TaskType, Time, millis_between, now};
use vayu::store::{Store, StoreConfig};
use vayu::tasks::{self, NewTask};
use vayu_emulator::{Emulator, EmulatorOptions};

const TASKS: usize = 1000;
const AGENTS: usize = 6;
const CONCURRENCY: usize = 8;
const HEARTBEAT_SECS: f64 = 0.5;
const LEASE_SECS: f64 = 2.0;
const KILL_EVERY: Duration = Duration::from_secs(2);
/// Every other kill, the agent stays down this long, so peers take over.
const SLOW_RESTART: Duration = Duration::from_secs(5);
/// An agent that exits on its own is restarted after this.
const CRASH_RESTART: Duration = Duration::from_millis(500);
const FREEZE: Duration = Duration::from_secs(10);
/// The freeze starts once this many tasks have run at least once.
const FREEZE_AFTER_RUNS: usize = 250;
/// No kills or (re)starts from the freeze until this long after the thaw.
const QUIET_AFTER_THAW: Duration = Duration::from_secs(6);
const DEADLINE: Duration = Duration::from_secs(240);
/// Retries are spent by kills too (a reclaim counts as a failed attempt);
/// the chaos must not push an unlucky task into the dead letter.
const MAX_RETRIES: i64 = 10;

/// One line of the runs file: a handler run.
#[derive(Debug, Clone)]
struct Run {
    task: String,
    agent: String,
    epoch: i64,
    /// Wall clock, nanoseconds since the epoch, at the handler's start and
    /// end.
    start_ns: i128,
    end_ns: i128,
}

fn parse_run(line: &str) -> Option<Run> {
    let mut f = line.split_whitespace();
    Some(Run {
        task: f.next()?.to_string(),
        agent: f.next()?.to_string(),
        epoch: f.next()?.parse().ok()?,
        start_ns: f.next()?.parse().ok()?,
        end_ns: f.next()?.parse().ok()?,
    })
}

/// Reads the runs file as it grows, one complete line at a time.
struct RunsReader {
    path: PathBuf,
    offset: u64,
    partial: String,
    runs: Vec<Run>,
    bad_lines: Vec<String>,
    distinct: HashSet<String>,
}

impl RunsReader {
    fn new(path: &Path) -> Self {
        RunsReader {
            path: path.to_path_buf(),
            offset: 0,
            partial: String::new(),
            runs: Vec::new(),
            bad_lines: Vec::new(),
            distinct: HashSet::new(),
        }
    }

    fn poll(&mut self) {
        let Ok(mut f) = std::fs::File::open(&self.path) else {
            return;
        };
        let mut buf = String::new();
        if f.seek(std::io::SeekFrom::Start(self.offset)).is_err()
            || f.read_to_string(&mut buf).is_err()
        {
            return;
        }
        self.offset += buf.len() as u64;
        self.partial.push_str(&buf);
        while let Some(nl) = self.partial.find('\n') {
            let line: String = self.partial.drain(..=nl).collect();
            match parse_run(line.trim_end()) {
                Some(r) => {
                    self.distinct.insert(r.task.clone());
                    self.runs.push(r);
                }
                None => self.bad_lines.push(line),
            }
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Restart {
    Immediate,
    Slow,
}

#[derive(Debug, Clone)]
struct Kill {
    agent: String,
    at: Time,
    at_ns: i128,
    mode: Restart,
}

/// What became of the tasks a killed agent was running: for each, the
/// milliseconds from the kill until it was requeued (at a higher epoch) and
/// until it was claimed again, and whether the agent's own next
/// incarnation requeued it (else a peer did).
struct KillOutcome {
    kill: usize,
    to_requeue: Vec<i64>,
    to_reclaim: Vec<i64>,
    by_self: Vec<bool>,
}

struct Slot {
    spec: AgentSpec,
    proc: Option<AgentProc>,
    /// When to start it again, if it is down.
    restart_at: Option<Instant>,
}

fn time_ns(t: Time) -> i128 {
    t.0.as_nanosecond()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chaos_kills_and_a_frozen_firestore_lose_nothing_and_complete_everything_once() {
    let emu = Emulator::start(EmulatorOptions::default())
        .await
        .unwrap_or_else(|e| panic!("cannot start a dedicated Firestore emulator: {e}"));
    let java_pid = emu
        .java_pid()
        .expect("the emulator reports its JVM's pid once ready");
    let cfg = StoreConfig::emulator(emu.host(), common::unique_db_id("chaos"));
    let store = Store::connect(&cfg)
        .await
        .unwrap_or_else(|e| panic!("the emulator is up, so connecting works: {e}"));
    common::fleet::warm_up(&store).await;
    let dir = tempfile::tempdir().expect("the system temp dir is writable");
    let runs_path = dir.path().join("runs");
    // Sleep 0-200 ms (awk seeded with the shell's pid, since srand() alone
    // seeds with the second and concurrent handlers would all agree), and
    // append one short line: O_APPEND writes under PIPE_BUF do not tear.
    let handler = format!(
        "s=$(date +%s%N); sleep $(awk -v s=$$ 'BEGIN {{ srand(s); printf \"%.3f\", rand() * 0.2 }}'); \
         echo \"$VAYU_TASK_ID $VAYU_AGENT_ID $VAYU_EPOCH $s $(date +%s%N)\" >> {}",
        runs_path.display()
    );
    let creating = Instant::now();

    // 1,000 tasks, created concurrently through the CLI's code path.
    let created: Vec<String> = {
        use futures::StreamExt;
        futures::stream::iter(0..TASKS)
            .map(|i| {
                let store = store.clone();
                async move {
                    let mut new =
                        NewTask::new(TaskType::Research, Priority::Normal, format!("chaos {i}"));
                    new.max_retries = Some(MAX_RETRIES);
                    tasks::create(&store, new)
                        .await
                        .unwrap_or_else(|e| panic!("creating task {i} failed: {e}"))
                        .task_id
                }
            })
            .buffer_unordered(16)
            .collect()
            .await
    };
    let created_set: HashSet<String> = created.iter().cloned().collect();
    println!(
        "created {TASKS} tasks in {:.1} s",
        creating.elapsed().as_secs_f64()
    );

    // Then the agents, all at once.
    let mut slots: Vec<Slot> = (1..=AGENTS)
        .map(|i| {
            let mut spec = AgentSpec::new(
                &format!("chaos-{i}"),
                &handler,
                emu.host(),
                &cfg.database_id,
                dir.path(),
            );
            spec.concurrency = CONCURRENCY;
            spec.heartbeat_secs = HEARTBEAT_SECS;
            spec.lease_secs = LEASE_SECS;
            spec.grace_secs = 5.0;
            Slot {
                proc: Some(AgentProc::spawn(&spec)),
                spec,
                restart_at: None,
            }
        })
        .collect();
    let started = Instant::now();
    let mut next_progress = started + Duration::from_secs(10);

    let mut reader = RunsReader::new(&runs_path);
    let mut kills: Vec<Kill> = Vec::new();
    let mut crashes: Vec<String> = Vec::new();
    let mut frozen: Option<Frozen> = None;
    let mut freeze_window: Option<(Instant, Instant)> = None;
    // The same, by the wall clock the task histories use.
    let mut freeze_wall: Option<(Time, Time)> = None;
    let mut next_kill = Instant::now() + KILL_EVERY;
    let mut next_check = Instant::now();
    let mut empty_checks = 0;
    let mut finished_at = None;

    while finished_at.is_none() {
        tokio::time::sleep(Duration::from_millis(100)).await;
        reader.poll();
        let t = Instant::now();
        if t >= next_progress {
            next_progress = t + Duration::from_secs(10);
            println!(
                "{:>4.0} s: {} tasks run ({} runs), {} kills{}",
                t.duration_since(started).as_secs_f64(),
                reader.distinct.len(),
                reader.runs.len(),
                kills.len(),
                if frozen.is_some() {
                    ", emulator frozen"
                } else {
                    ""
                }
            );
        }
        if t.duration_since(started) > DEADLINE {
            if let Some(f) = frozen.as_mut() {
                f.thaw();
            }
            let diag = diagnostics(&store, &slots, &reader, &kills, &crashes).await;
            let kept = dir.keep();
            panic!(
                "the chaos run did not finish within {DEADLINE:?}\n{diag}\n\
                 agent logs and the runs file kept in {}",
                kept.display()
            );
        }
        let quiet = match (&frozen, freeze_window) {
            (Some(_), _) => true,
            (None, Some((_, thawed))) => t < thawed + QUIET_AFTER_THAW,
            (None, None) => false,
        };

        // The freeze: once, mid-run.
        if freeze_window.is_none() && frozen.is_none() && reader.distinct.len() >= FREEZE_AFTER_RUNS
        {
            println!(
                "freezing the emulator at {:.1} s ({} tasks run so far)",
                t.duration_since(started).as_secs_f64(),
                reader.distinct.len()
            );
            frozen = Some(Frozen::stop(java_pid));
            freeze_wall = Some((now(), now()));
            continue;
        }
        if let Some(f) = frozen.as_mut()
            && f.at.elapsed() >= FREEZE
        {
            let was = f.thaw();
            freeze_window = Some((f.at, Instant::now()));
            freeze_wall = freeze_wall.map(|(start, _)| (start, now()));
            frozen = None;
            println!("thawed the emulator after {:.1} s", was.as_secs_f64());
        }

        // Supervise: note agents that exited on their own, restart those due.
        for slot in slots.iter_mut() {
            if let Some(p) = slot.proc.as_mut()
                && let Some(status) = p.try_exit()
            {
                crashes.push(format!(
                    "{} exited on its own ({status}) at {:.1} s:\n{}",
                    slot.spec.id,
                    t.duration_since(started).as_secs_f64(),
                    tail(&p.log(), 15)
                ));
                slot.proc = None;
                slot.restart_at = Some(t + CRASH_RESTART);
            }
            if slot.proc.is_none() && !quiet && slot.restart_at.is_some_and(|r| t >= r) {
                slot.proc = Some(AgentProc::spawn(&slot.spec));
                slot.restart_at = None;
            }
        }

        // The kills: about every 2 s while there is work to interrupt.
        if !quiet && t >= next_kill && reader.distinct.len() < TASKS {
            next_kill = t + KILL_EVERY;
            let up: Vec<usize> = (0..slots.len())
                .filter(|i| slots[*i].proc.is_some())
                .collect();
            if up.len() > 1 {
                let i = up[rand::random_range(0..up.len())];
                let mode = if kills.len().is_multiple_of(2) {
                    Restart::Immediate
                } else {
                    Restart::Slow
                };
                let slot = &mut slots[i];
                let at = now();
                let mut p = slot.proc.take().expect("picked among the running");
                p.kill9().await;
                kills.push(Kill {
                    agent: slot.spec.id.clone(),
                    at,
                    at_ns: time_ns(at),
                    mode,
                });
                match mode {
                    Restart::Immediate => slot.proc = Some(AgentProc::spawn(&slot.spec)),
                    Restart::Slow => slot.restart_at = Some(Instant::now() + SLOW_RESTART),
                }
            }
        }

        // Done? Queued and active both empty twice in a row (a task moving
        // between them could slip past one pair of queries), then confirm
        // with the completed pile.
        if frozen.is_none() && t >= next_check {
            next_check = t + Duration::from_millis(500);
            let queued = store.list_pile(Pile::Queued, None, Some(1)).await;
            let active = store.list_pile(Pile::Active, None, Some(1)).await;
            match (queued, active) {
                (Ok(q), Ok(a)) if q.is_empty() && a.is_empty() => empty_checks += 1,
                _ => empty_checks = 0,
            }
            if empty_checks >= 2 {
                let done = store
                    .list_pile(Pile::Completed, None, None)
                    .await
                    .map(|v| v.len())
                    .unwrap_or(0);
                if done >= TASKS {
                    finished_at = Some(Instant::now());
                }
            }
        }
    }
    let total = started.elapsed();
    // Agents that are down come back, then everyone shuts down cleanly.
    let mut exits = Vec::new();
    for slot in slots.iter_mut() {
        if slot.proc.is_none() {
            slot.proc = Some(AgentProc::spawn(&slot.spec));
        }
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    for slot in slots.iter_mut() {
        let p = slot.proc.as_mut().expect("every slot was just started");
        let status = p.terminate(Duration::from_secs(30)).await;
        exits.push((slot.spec.id.clone(), status, tail(&p.log(), 15)));
    }
    reader.poll();

    // ---- The verdict -----------------------------------------------------
    let completed = store
        .list_pile(Pile::Completed, None, None)
        .await
        .unwrap_or_else(|e| panic!("listing the completed pile failed: {e}"));
    let queued_left = store
        .list_pile(Pile::Queued, None, None)
        .await
        .unwrap_or_else(|e| panic!("listing the queued pile failed: {e}"))
        .len();
    let active_left = store
        .list_pile(Pile::Active, None, None)
        .await
        .unwrap_or_else(|e| panic!("listing the active pile failed: {e}"))
        .len();
    let mut done: HashMap<String, Task> = HashMap::new();
    for r in &completed {
        let v = r
            .as_ref()
            .unwrap_or_else(|e| panic!("a completed task does not parse: {e}"));
        assert!(
            done.insert(v.value.task_id.clone(), v.value.clone())
                .is_none(),
            "task {} is twice in the completed pile",
            v.value.task_id
        );
    }

    // Runs per task, in epoch order.
    let mut by_task: BTreeMap<&str, Vec<&Run>> = BTreeMap::new();
    for r in &reader.runs {
        by_task.entry(r.task.as_str()).or_default().push(r);
    }
    for runs in by_task.values_mut() {
        runs.sort_by_key(|r| r.epoch);
    }
    let duplicated: Vec<(&str, &Vec<&Run>)> = by_task
        .iter()
        .filter(|(_, runs)| runs.len() > 1)
        .map(|(t, runs)| (*t, runs))
        .collect();
    let extra_runs: usize = duplicated.iter().map(|(_, r)| r.len() - 1).sum();

    // Failover, from the tasks' histories: for each kill, the tasks its
    // agent was running then, and when each was put back in the queue
    // (reclaimed, at a higher epoch) and claimed again.
    let mut failover: Vec<KillOutcome> = Vec::new();
    for (k, kill) in kills.iter().enumerate() {
        let mut to_requeue = Vec::new();
        let mut to_reclaim = Vec::new();
        let mut by_self = Vec::new();
        for t in done.values() {
            let h = &t.history;
            for (i, e) in h.iter().enumerate() {
                let (Some(at), Some(next)) = (e.at, h.get(i + 1)) else {
                    continue;
                };
                let Some(next_at) = next.at else { continue };
                if e.status == Some(Status::Executing)
                    && e.agent.as_deref() == Some(kill.agent.as_str())
                    && at <= kill.at
                    && next_at > kill.at
                    && next.epoch > e.epoch
                {
                    to_requeue.push(millis_between(kill.at, next_at));
                    by_self.push(next.agent.as_deref() == Some(kill.agent.as_str()));
                    if let Some(again) = h[i + 1..]
                        .iter()
                        .find(|n| n.status == Some(Status::Executing))
                        .and_then(|n| n.at)
                    {
                        to_reclaim.push(millis_between(kill.at, again));
                    }
                }
            }
        }
        failover.push(KillOutcome {
            kill: k,
            to_requeue,
            to_reclaim,
            by_self,
        });
    }

    // ---- Report ----------------------------------------------------------
    println!(
        "\n==== chaos run: {TASKS} tasks, {AGENTS} agent processes x {CONCURRENCY}, lease {LEASE_SECS} s, heartbeat {HEARTBEAT_SECS} s"
    );
    println!(
        "total time: {:.1} s (agents started -> all completed)",
        total.as_secs_f64()
    );
    if let Some((f, t)) = freeze_window {
        println!(
            "emulator frozen for {:.1} s, starting {:.1} s into the run",
            t.duration_since(f).as_secs_f64(),
            f.duration_since(started).as_secs_f64()
        );
    }
    println!(
        "kills: {} ({} immediate restarts, {} slow restarts of {:?})",
        kills.len(),
        kills
            .iter()
            .filter(|k| k.mode == Restart::Immediate)
            .count(),
        kills.iter().filter(|k| k.mode == Restart::Slow).count(),
        SLOW_RESTART
    );
    println!(
        "kills that interrupted running tasks: {} (tasks interrupted: {})",
        failover.iter().filter(|f| !f.to_requeue.is_empty()).count(),
        failover.iter().map(|f| f.to_requeue.len()).sum::<usize>()
    );
    println!(
        "handler runs: {} for {} tasks",
        reader.runs.len(),
        by_task.len()
    );
    println!(
        "duplicate executions: {} tasks ran more than once, {extra_runs} extra runs; \
         {:.2} duplicated tasks per kill",
        duplicated.len(),
        duplicated.len() as f64 / kills.len().max(1) as f64
    );
    println!(
        "per kill: agent, restart, tasks held, kill -> requeued ms (max), kill -> claimed again ms (max), requeued by"
    );
    let mut self_ms = Vec::new();
    let mut peer_ms = Vec::new();
    // Recoveries the freeze held up (killed before the thaw, requeued after
    // the freeze began) say more about the freeze than about failover.
    let mut across_freeze_ms = Vec::new();
    for KillOutcome {
        kill: k,
        to_requeue: req,
        to_reclaim: recl,
        by_self,
    } in &failover
    {
        let kill = &kills[*k];
        for (ms, s) in req.iter().zip(by_self) {
            let held_up = freeze_wall.is_some_and(|(start, end)| {
                kill.at < end && millis_between(start, kill.at) + ms > 0
            });
            if held_up {
                across_freeze_ms.push(*ms)
            } else if *s {
                self_ms.push(*ms)
            } else {
                peer_ms.push(*ms)
            }
        }
        println!(
            "  #{k:<3} {:<8} {:<9} {:>2}  {:>6}  {:>6}  {}",
            kill.agent,
            format!("{:?}", kill.mode),
            req.len(),
            req.iter()
                .max()
                .map(|m| m.to_string())
                .unwrap_or("-".into()),
            recl.iter()
                .max()
                .map(|m| m.to_string())
                .unwrap_or("-".into()),
            if by_self.is_empty() {
                "-".to_string()
            } else {
                format!(
                    "{} self, {} peer",
                    by_self.iter().filter(|s| **s).count(),
                    by_self.iter().filter(|s| !**s).count()
                )
            }
        );
    }
    let stats = |v: &mut Vec<i64>| {
        v.sort();
        if v.is_empty() {
            "n/a".to_string()
        } else {
            format!(
                "n {} min {} median {} p90 {} max {} ms",
                v.len(),
                v[0],
                v[v.len() / 2],
                v[(v.len() * 9 / 10).min(v.len() - 1)],
                v[v.len() - 1]
            )
        }
    };
    println!("failover (kill -> task requeued at a higher epoch):");
    println!("  by the restarted agent itself: {}", stats(&mut self_ms));
    println!("  by a peer:                     {}", stats(&mut peer_ms));
    println!(
        "  held up by the freeze:         {}",
        stats(&mut across_freeze_ms)
    );
    for c in &crashes {
        println!("UNEXPECTED EXIT: {c}");
    }

    // ---- Assertions ------------------------------------------------------
    let mut failures: Vec<String> = Vec::new();
    if done.len() != TASKS {
        failures.push(format!(
            "{} tasks in the completed pile, not {TASKS}",
            done.len()
        ));
    }
    let ids: HashSet<&String> = done.keys().collect();
    let missing: Vec<_> = created_set
        .iter()
        .filter(|id| !ids.contains(id))
        .take(10)
        .collect();
    if !missing.is_empty() {
        failures.push(format!(
            "created tasks missing from the completed pile: {missing:?}"
        ));
    }
    let strangers: Vec<_> = ids
        .iter()
        .filter(|id| !created_set.contains(**id))
        .take(10)
        .collect();
    if !strangers.is_empty() {
        failures.push(format!("unknown ids in the completed pile: {strangers:?}"));
    }
    if queued_left != 0 || active_left != 0 {
        failures.push(format!(
            "left behind: {queued_left} queued, {active_left} active"
        ));
    }
    for t in done.values() {
        let completions = t
            .history
            .iter()
            .filter(|h| h.status == Some(Status::Completed))
            .count();
        if t.status != Status::Completed || completions != 1 {
            failures.push(format!(
                "task {} ended {} with {completions} completions in its history:\n{}",
                t.task_id,
                t.status,
                common::fleet::history(t)
            ));
        }
    }
    if !reader.bad_lines.is_empty() {
        failures.push(format!(
            "torn or malformed run lines: {:?}",
            reader.bad_lines
        ));
    }
    let never_ran: Vec<_> = created
        .iter()
        .filter(|id| !by_task.contains_key(id.as_str()))
        .take(10)
        .collect();
    if !never_ran.is_empty() {
        failures.push(format!("completed without a recorded run: {never_ran:?}"));
    }
    // The run that completed each task is the final lease's (agent, epoch);
    // every other run of it must have been cut short by a kill of its agent
    // between its start and the next run's start. (The slack covers a kill
    // that lands between the handler's fork and its first `date`.)
    const SLACK_NS: i128 = 1_000_000_000;
    for (task, runs) in &by_task {
        let Some(t) = done.get(*task) else { continue };
        let final_owner = t.lease.owner.as_deref().unwrap_or("");
        let winners = runs
            .iter()
            .filter(|r| r.epoch == t.lease.epoch && r.agent == final_owner)
            .count();
        if winners != 1 {
            failures.push(format!(
                "task {task}: {winners} runs match the completing lease ({final_owner}, epoch {}); runs {runs:?}",
                t.lease.epoch
            ));
        }
        let epochs: HashSet<i64> = runs.iter().map(|r| r.epoch).collect();
        if epochs.len() != runs.len() {
            failures.push(format!("task {task}: two runs at one epoch: {runs:?}"));
        }
        for (i, r) in runs.iter().enumerate() {
            if r.epoch == t.lease.epoch && r.agent == final_owner {
                continue;
            }
            let next_start = runs.get(i + 1).map_or(i128::MAX, |n| n.start_ns);
            let explained = kills.iter().any(|k| {
                k.agent == r.agent && k.at_ns + SLACK_NS >= r.start_ns && k.at_ns <= next_start
            });
            if !explained {
                failures.push(format!(
                    "task {task}: run by {} at epoch {} (ran {:.0} ms) is a duplicate no kill explains; \
                     kills of {}: {:?}\nruns: {runs:?}\nhistory:\n{}",
                    r.agent,
                    r.epoch,
                    (r.end_ns - r.start_ns) as f64 / 1e6,
                    r.agent,
                    kills.iter().filter(|k| k.agent == r.agent).map(|k| k.at.0.to_string()).collect::<Vec<_>>(),
                    common::fleet::history(t)
                ));
            }
        }
    }
    if !crashes.is_empty() {
        failures.push(format!(
            "{} agents exited without being killed",
            crashes.len()
        ));
    }
    for (id, status, log) in &exits {
        if !status.is_some_and(|s| s.success()) {
            failures.push(format!("{id} did not exit 0 on SIGTERM: {status:?}\n{log}"));
        }
    }
    if kills.len() < 5 {
        failures.push(format!(
            "only {} kills: the chaos did not happen",
            kills.len()
        ));
    }
    if freeze_window.is_none() {
        failures.push("the emulator was never frozen".into());
    }
    if !failures.is_empty() {
        let kept = dir.keep();
        println!("agent logs and the runs file kept in {}", kept.display());
        let shown: Vec<_> = failures.iter().take(20).collect();
        panic!(
            "{} chaos failures (first {}):\n{}",
            failures.len(),
            shown.len(),
            shown
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join("\n---\n")
        );
    }
    drop(emu);
}

/// What to print when the run does not finish in time.
async fn diagnostics(
    store: &Store,
    slots: &[Slot],
    reader: &RunsReader,
    kills: &[Kill],
    crashes: &[String],
) -> String {
    let mut s = String::new();
    use std::fmt::Write as _;
    let _ = writeln!(
        s,
        "{} distinct tasks ran, {} runs, {} kills, {} unexpected exits",
        reader.distinct.len(),
        reader.runs.len(),
        kills.len(),
        crashes.len()
    );
    for pile in Pile::ALL {
        match store.list_pile(pile, None, None).await {
            Ok(v) => {
                let _ = writeln!(s, "{pile}: {} documents", v.len());
                if pile != Pile::Completed {
                    for r in v.iter().take(5) {
                        match r {
                            Ok(t) => {
                                let _ = writeln!(s, "  {}", common::fleet::describe(t));
                            }
                            Err(e) => {
                                let _ = writeln!(s, "  malformed: {e}");
                            }
                        }
                    }
                }
            }
            Err(e) => {
                let _ = writeln!(s, "{pile}: cannot list: {e}");
            }
        }
    }
    match store.list_agents().await {
        Ok(agents) => {
            for a in agents {
                let _ = writeln!(
                    s,
                    "agent {} {:?} current {:?} heartbeat {:?}",
                    a.agent_id,
                    a.status,
                    a.current_tasks,
                    a.last_heartbeat.map(|t| t.0.to_string())
                );
            }
        }
        Err(e) => {
            let _ = writeln!(s, "agents: cannot list: {e}");
        }
    }
    for c in crashes {
        let _ = writeln!(s, "unexpected exit: {c}");
    }
    for slot in slots {
        let log = common::procs::read_lossy(&slot.spec.log_path());
        let _ = writeln!(s, "---- {} (last lines)\n{}", slot.spec.id, tail(&log, 25));
    }
    s
}
