use super::*;

fn sandbox() -> Sandbox {
    Sandbox {
        pass_env: vec!["OPENAI_API_KEY".into()],
        limits: Limits::default(),
        work_root: PathBuf::from("/w"),
        isolation: super::super::bwrap::Isolation::Process,
    }
}

#[test]
fn the_environment_is_the_base_the_named_and_the_tasks_directory() {
    let agent_env = |n: &str| match n {
        "PATH" => Some("/bin".to_string()),
        "OPENAI_API_KEY" => Some("k".into()),
        "VAYU_TOKEN" | "GOOGLE_APPLICATION_CREDENTIALS" | "SECRET" => Some("x".into()),
        _ => None,
    };
    let env = sandbox().env(Path::new("/w/t1"), agent_env);
    let names: Vec<&str> = env.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(names, ["PATH", "OPENAI_API_KEY", "HOME", "TMPDIR"]);
    assert!(env.contains(&("HOME".into(), "/w/t1".into())));
}

#[test]
fn credentials_are_never_passed_even_when_named() {
    let mut s = sandbox();
    s.pass_env.push("VAYU_TOKEN".into());
    let err = s.validate().expect_err("the agent's token is refused");
    assert!(err.contains("VAYU_TOKEN"), "{err}");
    let env = s.env(Path::new("/w/t"), |_| Some("x".into()));
    assert!(env.iter().all(|(k, _)| k != "VAYU_TOKEN"), "{env:?}");
    for bad in ["", "1A", "A-B", "A B"] {
        let s = Sandbox {
            pass_env: vec![bad.into()],
            ..sandbox()
        };
        assert!(s.validate().is_err(), "{bad:?} is not a name");
    }
    assert!(sandbox().validate().is_ok());
}

#[test]
fn the_script_sets_each_limit_before_the_command() {
    let mut s = sandbox();
    s.limits = Limits {
        cpu_secs: Some(5),
        memory_mb: Some(100),
        open_files: Some(64),
        file_mb: Some(2),
        output_mb: Some(1),
    };
    assert_eq!(
        s.script("run it"),
        "ulimit -St 5 || exit 125\nulimit -Ht 10 || exit 125\nulimit -d 102400 || exit 125\n\
         ulimit -n 64 || exit 125\nulimit -f 4096 || exit 125\nrun it"
    );
    s.limits = Limits {
        cpu_secs: None,
        memory_mb: None,
        open_files: None,
        file_mb: None,
        output_mb: None,
    };
    assert_eq!(s.script("run it"), "run it");
}

#[test]
fn a_limit_that_explains_a_failure_is_named() {
    let mut s = sandbox();
    s.limits.cpu_secs = Some(3);
    let memory = s.explain(&Exit::Code(1), "Traceback ... MemoryError", false);
    assert_eq!(
        memory.as_deref(),
        Some("it ran out of memory under its limit of 4096 MiB")
    );
    let said = |exit: Exit, out: &str, over: bool| s.explain(&exit, out, over).unwrap_or_default();
    assert!(said(Exit::Signal(24), "", false).contains("CPU-time limit of 3 s"));
    assert!(said(Exit::Signal(9), "", false).contains("most likely past its CPU-time limit"));
    assert!(said(Exit::Signal(25), "", false).contains("size limit of 1024 MiB"));
    assert!(
        said(Exit::Code(1), "OSError: [Errno 27] File too large", false).contains("size limit")
    );
    assert!(
        said(Exit::Signal(9), "", true).contains("output limit of 64 MiB"),
        "the flag wins"
    );
    assert_eq!(s.explain(&Exit::Code(1), "plain failure", false), None);
    s.limits.cpu_secs = None;
    assert_eq!(s.explain(&Exit::Signal(9), "killed", false), None);
}

#[test]
fn the_directory_stays_only_for_an_artifact_inside_it() {
    let s = sandbox();
    let dir = s.work_root.join("t1").join("e1");
    assert!(s.keeps(&dir, &["file:///w/t1/e1/report.md"]));
    assert!(!s.keeps(&dir, &["file:///w/t1/e10/report.md", "https://x/w/t1/e1/a"]));
    assert!(!s.keeps(&dir, &[]));
}

#[test]
fn paths_that_would_not_resolve_in_the_run_directory_are_found() {
    let m = Sandbox::misplaced_paths;
    assert_eq!(
        m("python3 examples/handlers/generic.py --out /tmp/x").relative,
        ["examples/handlers/generic.py"]
    );
    assert_eq!(m("'./run.sh' a").relative, ["./run.sh"]);
    assert_eq!(m("python3 handler.py").relative, ["handler.py"]);
    assert_eq!(m("tool --config=conf/a.toml").relative, ["conf/a.toml"]);
    assert_eq!(m("'$PWD/x/y.py'").home, ["$PWD/x/y.py"]);
    assert_eq!(m("~/bin/x").home, ["~/bin/x"]);
    assert_eq!(m("sh $HOME/run.sh").home, ["$HOME/run.sh"]);
    for fine in [
        "sh /opt/run.sh",
        "curl https://a/b",
        "echo done",
        "sh -c true",
        "$TOOL run",
    ] {
        assert_eq!(m(fine), Misplaced::default(), "{fine}");
    }
}
