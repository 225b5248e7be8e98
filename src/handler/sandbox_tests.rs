use super::*;

fn sandbox() -> Sandbox {
    Sandbox {
        pass_env: vec!["OPENAI_API_KEY".into()],
        limits: Limits::default(),
        work_root: PathBuf::from("/w"),
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
        "ulimit -t 5 || exit 125\nulimit -v 102400 || exit 125\n\
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
    let memory = s.explain(&Exit::Code(1), "Traceback ... MemoryError");
    assert_eq!(
        memory.as_deref(),
        Some("it ran out of memory under its limit of 4096 MiB")
    );
    assert!(
        s.explain(&Exit::Signal(24), "")
            .is_some_and(|r| r.contains("CPU-time limit of 3 s"))
    );
    assert!(
        s.explain(&Exit::Signal(25), "")
            .is_some_and(|r| r.contains("1024 MiB"))
    );
    assert_eq!(s.explain(&Exit::Code(1), "plain failure"), None);
    assert_eq!(s.explain(&Exit::Signal(9), "killed"), None);
}

#[test]
fn the_directory_stays_only_for_an_artifact_inside_it() {
    let s = sandbox();
    let dir = s.task_dir("t1");
    assert!(s.keeps(&dir, &["file:///w/t1/report.md"]));
    assert!(!s.keeps(&dir, &["file:///w/t10/report.md", "https://x/w/t1/a"]));
    assert!(!s.keeps(&dir, &[]));
}

#[test]
fn relative_paths_in_a_command_are_found() {
    assert_eq!(
        Sandbox::relative_paths("python3 examples/handlers/generic.py --out /tmp/x"),
        ["examples/handlers/generic.py"]
    );
    assert_eq!(Sandbox::relative_paths("'./run.sh' a"), ["./run.sh"]);
    for absolute in [
        "sh /opt/run.sh",
        "python3 \"$PWD/x/y.py\"",
        "curl https://a/b",
        "FOO=a/b run",
        "echo done",
        "~/bin/x",
    ] {
        assert!(Sandbox::relative_paths(absolute).is_empty(), "{absolute}");
    }
}
