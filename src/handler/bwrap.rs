//! The stronger sandbox, `vayu-agent --sandbox bwrap`: each run inside
//! bubblewrap (https://github.com/containers/bubblewrap), where the
//! machine has it.
//!
//! What it adds to the process sandbox (`super::sandbox`): the filesystem
//! is read-only except the run's own directory and a private `/tmp`; the
//! agent's home is hidden behind an empty tmpfs (its keys and config live
//! there); new pid, IPC, UTS and (where allowed) user namespaces, so the
//! handler sees and signals only its own processes; and it dies with the
//! agent. The network is shared: handlers of AI tasks call models.
//!
//! The argument list is pure and tested here; `super::spawn` runs it.

use std::path::Path;

/// How a handler is isolated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Isolation {
    /// Its own process group, environment, directory and rlimits.
    #[default]
    Process,
    /// All of that, inside bubblewrap.
    Bwrap,
}

/// The program that runs `sh -c script` in run directory `dir`: `sh`
/// itself, or `bwrap` with its arguments first. `hide` is a directory to
/// cover with an empty tmpfs (the agent's home), unless the run directory
/// is inside it.
pub fn argv(isolation: Isolation, dir: &Path, hide: Option<&Path>, script: &str) -> Vec<String> {
    let sh = ["sh".to_string(), "-c".into(), script.to_string()];
    if isolation == Isolation::Process {
        return sh.to_vec();
    }
    let d = dir.display().to_string();
    let mut a: Vec<String> = [
        "bwrap",
        "--ro-bind",
        "/",
        "/",
        "--dev",
        "/dev",
        "--proc",
        "/proc",
        "--tmpfs",
        "/tmp",
    ]
    .map(String::from)
    .to_vec();
    if let Some(home) =
        hide.filter(|h| !dir.starts_with(h) && h.is_absolute() && *h != Path::new("/"))
    {
        a.extend(["--tmpfs".into(), home.display().to_string()]);
    }
    a.extend(["--bind".into(), d.clone(), d.clone(), "--chdir".into(), d]);
    a.extend(["--unshare-all", "--share-net", "--die-with-parent", "--"].map(String::from));
    a.extend(sh);
    a
}

/// Whether bubblewrap runs here (it may be missing, or the kernel may
/// refuse it namespaces): checked once at the agent's start, so a bad
/// `--sandbox bwrap` is a bad configuration, not a failure of every task.
pub fn probe() -> Result<(), String> {
    let out = std::process::Command::new("bwrap")
        .args(["--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc"])
        .args([
            "--unshare-all",
            "--share-net",
            "--die-with-parent",
            "--",
            "true",
        ])
        .output()
        .map_err(|e| format!("--sandbox bwrap: cannot run bwrap ({e}); install bubblewrap"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "--sandbox bwrap: bwrap does not work here ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_process_sandbox_is_sh_alone() {
        let a = argv(Isolation::Process, Path::new("/w/t/e1"), None, "echo hi");
        assert_eq!(a, ["sh", "-c", "echo hi"]);
    }

    #[test]
    fn bwrap_binds_only_the_run_directory_writable_and_hides_the_home() {
        let a = argv(
            Isolation::Bwrap,
            Path::new("/w/t/e1"),
            Some(Path::new("/home/agent")),
            "run",
        );
        let s = a.join(" ");
        assert!(s.starts_with("bwrap --ro-bind / / "), "{s}");
        assert!(s.contains("--tmpfs /home/agent"), "{s}");
        assert!(s.contains("--bind /w/t/e1 /w/t/e1 --chdir /w/t/e1"), "{s}");
        assert!(s.ends_with("--die-with-parent -- sh -c run"), "{s}");
        assert_eq!(
            a.iter().filter(|x| *x == "--bind").count(),
            1,
            "one writable place"
        );
    }

    #[test]
    fn a_home_that_holds_the_run_directory_is_not_hidden() {
        let a = argv(
            Isolation::Bwrap,
            Path::new("/home/agent/work/t/e1"),
            Some(Path::new("/home/agent")),
            "x",
        );
        assert!(!a.join(" ").contains("--tmpfs /home/agent"), "{a:?}");
        let root = argv(
            Isolation::Bwrap,
            Path::new("/w/e1"),
            Some(Path::new("/")),
            "x",
        );
        assert!(
            !root.join(" ").contains("--tmpfs / "),
            "never the root: {root:?}"
        );
    }
}
