use super::sandbox::Limits;
use super::*;
use crate::model::{Priority, TaskType};

/// A sandbox under a fresh temporary directory (kept for the test's
/// length by the returned guard).
fn sandbox(limits: Limits) -> (Sandbox, tempfile::TempDir) {
    let root = tempfile::tempdir().expect("the system temp dir is writable");
    let s = Sandbox {
        pass_env: vec![],
        limits,
        work_root: root.path().to_path_buf(),
        isolation: super::bwrap::Isolation::Process,
    };
    (s, root)
}

fn ctx(sandbox: &Sandbox) -> Context<'_> {
    Context {
        agent_id: "a1",
        attempt: 1,
        env: &[],
        sandbox,
        run: "e1",
    }
}

/// Runs `command` to its end: its exit, everything it said, and whether
/// it was killed for its output.
async fn run(command: &str, sandbox: &Sandbox) -> (Task, Exit, Vec<HandlerEvent>) {
    let (t, exit, got, _) = run_flagged(command, sandbox).await;
    (t, exit, got)
}

async fn run_flagged(command: &str, sandbox: &Sandbox) -> (Task, Exit, Vec<HandlerEvent>, bool) {
    let task = Task::new(TaskType::Research, Priority::High, "t");
    let (mut r, mut events) = spawn(command, &task, &ctx(sandbox)).expect("sh exists");
    // Drained as it comes, as the runner does: the channel is bounded.
    let heard = tokio::spawn(async move {
        let mut got = Vec::new();
        while let Some(e) = events.recv().await {
            got.push(e);
        }
        got
    });
    let exit = r.wait().await.expect("wait");
    let got = heard.await.expect("the drain does not panic");
    (task, exit, got, r.printed_too_much())
}

fn said(events: &[HandlerEvent]) -> Vec<String> {
    events
        .iter()
        .map(|e| match e {
            HandlerEvent::Report(Report::Log(l)) | HandlerEvent::Stderr(l) => l.clone(),
            other => format!("{other:?}"),
        })
        .collect()
}

#[tokio::test]
async fn reports_stdin_env_and_exit_code() {
    let (s, _root) = sandbox(Limits::default());
    let (task, exit, got) = run(
        "echo \"vayu:progress 50 half\"; echo \"id=$VAYU_TASK_ID\"; grep -c research >&2; exit 3",
        &s,
    )
    .await;
    assert_eq!(exit, Exit::Code(3));
    assert!(got.contains(&HandlerEvent::Report(Report::Progress {
        percent: 50,
        step: Some("half".into())
    })));
    assert!(got.contains(&HandlerEvent::Report(Report::Log(format!(
        "id={}",
        task.task_id
    )))));
    assert!(got.contains(&HandlerEvent::Stderr("1".into())), "{got:?}");
}

/// The test process's environment is full of CARGO_* and RUST_* names:
/// none of them, only the sandbox's, reach the handler; and it runs in
/// its task's directory.
#[tokio::test]
async fn the_handler_sees_only_the_sandboxs_environment_in_its_own_directory() {
    let (s, _root) = sandbox(Limits::default());
    let (task, exit, got) = run("env; echo \"cwd=$(pwd)\"", &s).await;
    assert_eq!(exit, Exit::Code(0));
    let lines = said(&got);
    let dir = s.work_root.join(&task.task_id).join("e1");
    assert!(
        lines.contains(&format!("cwd={}", dir.display())),
        "{lines:?}"
    );
    assert!(dir.is_dir());
    let shell_own = ["PWD", "SHLVL", "_", "OLDPWD"];
    for line in lines.iter().filter(|l| !l.starts_with("cwd=")) {
        let name = line.split('=').next().unwrap_or_default();
        assert!(
            sandbox::BASE_ENV.contains(&name)
                || ["HOME", "TMPDIR"].contains(&name)
                || name.starts_with("VAYU_")
                || shell_own.contains(&name),
            "{name} leaked into the handler's environment: {lines:?}"
        );
    }
    assert!(
        lines.contains(&format!("HOME={}", dir.display())),
        "{lines:?}"
    );
}

#[tokio::test]
async fn a_handler_over_its_memory_limit_fails_and_the_limit_is_named() {
    let limits = Limits {
        memory_mb: Some(200),
        ..Limits::default()
    };
    let (s, _root) = sandbox(limits);
    let (_, exit, got) = run("python3 -c 'x = bytearray(400 * 1024 * 1024)'", &s).await;
    assert_eq!(exit, Exit::Code(1), "{got:?}");
    let tail = said(&got).join("\n");
    assert_eq!(
        s.explain(&exit, &tail, false).as_deref(),
        Some("it ran out of memory under its limit of 200 MiB"),
        "{tail}"
    );
    let (_, exit, _) = run("python3 -c 'x = bytearray(50 * 1024 * 1024)'", &s).await;
    assert_eq!(exit, Exit::Code(0), "under the limit it runs");
}

/// Full lines, one endless line, and a flood of empty lines: each is
/// stopped at the cap (empty lines cost [`LINE_COST_MIN`] each), and the
/// agent keeps at most [`LINE_MAX`] bytes of any line.
#[tokio::test]
async fn a_handler_that_prints_past_its_output_limit_is_killed() {
    let limits = Limits {
        output_mb: Some(1),
        ..Limits::default()
    };
    let (s, _root) = sandbox(limits);
    for flood in [
        "yes 0123456789012345678901234567890123456789",
        "yes | tr -d '\\n'",
        "yes ''",
    ] {
        let (_, exit, got, over) = run_flagged(flood, &s).await;
        assert_eq!(
            exit,
            Exit::Signal(9),
            "{flood}: killed, not ended by itself"
        );
        assert!(over, "{flood}: the flag is set");
        let lines = said(&got);
        assert_eq!(
            lines.last().map(String::as_str),
            Some(OUTPUT_LIMIT_LINE),
            "{flood}"
        );
        assert!(
            lines.iter().all(|l| l.len() <= LINE_MAX),
            "{flood}: a line over LINE_MAX"
        );
        let kept: usize = lines
            .iter()
            .map(|l| (l.len() as u64 + 1).max(LINE_COST_MIN) as usize)
            .sum();
        assert!(
            kept <= (1 << 20) + 2 * LINE_COST_MIN as usize,
            "{flood}: {kept} bytes kept"
        );
        let why = s.explain(&exit, "", over).unwrap_or_default();
        assert!(why.contains("output limit of 1 MiB"), "{why}");
    }
}

/// The CPU limit ends a busy loop, and names itself.
#[tokio::test]
async fn a_handler_over_its_cpu_limit_is_stopped_and_the_limit_is_named() {
    let limits = Limits {
        cpu_secs: Some(1),
        ..Limits::default()
    };
    let (s, _root) = sandbox(limits);
    let (_, exit, got) = run("while :; do :; done", &s).await;
    assert!(
        matches!(exit, Exit::Signal(24) | Exit::Signal(9)),
        "{exit:?} {got:?}"
    );
    let why = s.explain(&exit, "", false).unwrap_or_default();
    assert!(why.contains("CPU-time limit of 1 s"), "{why}");
}

/// Output that is not UTF-8 is logged with replacement characters; the
/// stream is not cut off (the handler would die of SIGPIPE).
#[tokio::test]
async fn bytes_that_are_not_utf8_do_not_end_the_stream() {
    let (s, _root) = sandbox(Limits::default());
    let (_, exit, got) = run("printf 'bad \\377 byte\\n'; echo after", &s).await;
    assert_eq!(exit, Exit::Code(0));
    let lines = said(&got);
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("bad ") && l.contains('\u{fffd}')),
        "{lines:?}"
    );
    assert!(lines.contains(&"after".to_string()), "{lines:?}");
}

#[tokio::test]
async fn kill_takes_the_whole_process_group() {
    let (s, _root) = sandbox(Limits::default());
    let task = Task::new(TaskType::Research, Priority::High, "t");
    let dir = tempfile::tempdir().expect("tempdir");
    let marker = dir.path().join("grandchild-ran");
    let cmd = format!("(sleep 1; touch {}) & sleep 30", marker.display());
    let (mut r, _events) = spawn(&cmd, &task, &ctx(&s)).expect("sh exists");
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    r.kill().await;
    let exit = r.wait().await.expect("wait");
    assert!(matches!(exit, Exit::Signal(9)), "{exit:?}");
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    assert!(
        !marker.exists(),
        "the background grandchild survived the kill"
    );
}

/// `--sandbox bwrap` (where bubblewrap runs; CI installs it): the handler
/// writes its own directory, not the rest of the filesystem, sees its own
/// process tree, and the limits still hold.
#[tokio::test]
async fn inside_bwrap_only_the_run_directory_is_writable() {
    bwrap::probe().expect("bubblewrap runs on this machine (.ci/run installs it)");
    let (mut s, _root) = sandbox(Limits {
        open_files: Some(64),
        ..Limits::default()
    });
    s.isolation = bwrap::Isolation::Bwrap;
    let probe = "if touch /usr/vayu-bwrap-probe 2>/dev/null; then echo usr=writable; \
                 else echo usr=readonly; fi; \
                 echo here > \"$VAYU_TASK_DIR/f\" && echo dir=writable; \
                 echo \"pid=$$\"; echo \"files=$(ulimit -n)\"";
    let (_, exit, got) = run(probe, &s).await;
    assert_eq!(exit, Exit::Code(0), "{got:?}");
    let lines = said(&got);
    for want in ["usr=readonly", "dir=writable", "files=64"] {
        assert!(lines.iter().any(|l| l == want), "{want}: {lines:?}");
    }
    let pid: u32 = (lines.iter())
        .find_map(|l| l.strip_prefix("pid=")?.parse().ok())
        .expect("the shell said its pid");
    assert!(pid < 10, "a pid namespace of its own: sh is pid {pid}");
    assert!(!std::path::Path::new("/usr/vayu-bwrap-probe").exists());
}
