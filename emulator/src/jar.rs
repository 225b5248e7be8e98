//! Finding the emulator jar. Developers install it in different ways (the
//! gcloud apt package, a Cloud SDK tarball, firebase-tools' download), so
//! every known place is tried, and a miss lists them all with how to
//! install. `emulator/find-jar.sh` follows the same order for the scripts.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::error::{EmulatorError, JarSearch};

/// Jar location of Debian's `google-cloud-cli-firestore-emulator` package.
const GCLOUD_APT_JAR: &str =
    "/usr/lib/google-cloud-sdk/platform/cloud-firestore-emulator/cloud-firestore-emulator.jar";

/// Jar path relative to a Google Cloud SDK root.
const SDK_RELATIVE_JAR: &str = "platform/cloud-firestore-emulator/cloud-firestore-emulator.jar";

/// Finds the Cloud Firestore emulator jar.
///
/// Order: env `VAYU_EMULATOR_JAR` (an explicit setting that points nowhere is
/// an error, not silently skipped), the google-cloud-cli apt install, the SDK
/// root from `$CLOUDSDK_ROOT_DIR` and from `gcloud info` (only asked when
/// `gcloud` is on `PATH` and nothing was found earlier, because it takes
/// ~0.5 s), then the highest version of
/// `~/.cache/firebase/emulators/cloud-firestore-emulator-v*.jar`, where
/// firebase-tools caches its download.
pub fn find_jar() -> Result<PathBuf, EmulatorError> {
    let mut search = JarSearch::default();

    if let Some(explicit) = std::env::var_os("VAYU_EMULATOR_JAR").filter(|v| !v.is_empty()) {
        let path = PathBuf::from(explicit);
        if path.is_file() {
            return Ok(path);
        }
        search.looked.push(format!(
            "VAYU_EMULATOR_JAR={} (not a file; set explicitly, so no fallback)",
            path.display()
        ));
        return Err(EmulatorError::JarNotFound(search));
    }
    search
        .looked
        .push("VAYU_EMULATOR_JAR (not set)".to_string());

    let mut sdk_candidates: Vec<(String, PathBuf)> = vec![(
        "google-cloud-cli apt package".into(),
        PathBuf::from(GCLOUD_APT_JAR),
    )];
    if let Some(root) = std::env::var_os("CLOUDSDK_ROOT_DIR").filter(|v| !v.is_empty()) {
        sdk_candidates.push((
            "$CLOUDSDK_ROOT_DIR".into(),
            PathBuf::from(root).join(SDK_RELATIVE_JAR),
        ));
    }
    for (label, jar) in &sdk_candidates {
        if jar.is_file() {
            return Ok(jar.clone());
        }
        search
            .looked
            .push(format!("{} ({label}): missing", jar.display()));
    }

    match gcloud_sdk_root() {
        Ok(root) => {
            let jar = root.join(SDK_RELATIVE_JAR);
            if jar.is_file() {
                return Ok(jar);
            }
            if !sdk_candidates.iter().any(|(_, p)| *p == jar) {
                search
                    .looked
                    .push(format!("{} (gcloud info sdk_root): missing", jar.display()));
            }
        }
        Err(why) => search.looked.push(format!("gcloud info: {why}")),
    }

    match std::env::var_os("HOME").filter(|v| !v.is_empty()) {
        Some(home) => {
            let dir = PathBuf::from(home).join(".cache/firebase/emulators");
            if let Some(jar) = newest_firebase_jar(&dir) {
                return Ok(jar);
            }
            search.looked.push(format!(
                "{}/cloud-firestore-emulator-v*.jar (firebase-tools cache): none",
                dir.display()
            ));
        }
        None => search
            .looked
            .push("~/.cache/firebase/emulators: $HOME not set".to_string()),
    }

    Err(EmulatorError::JarNotFound(search))
}

/// Asks an installed `gcloud` for its SDK root.
fn gcloud_sdk_root() -> Result<PathBuf, String> {
    let out = Command::new("gcloud")
        .args(["info", "--format=value(installation.sdk_root)"])
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => "gcloud not on PATH".to_string(),
            _ => format!("could not run gcloud: {e}"),
        })?;
    if !out.status.success() {
        return Err(format!("gcloud info failed ({})", out.status));
    }
    let root = String::from_utf8_lossy(&out.stdout).trim().to_string();
    if root.is_empty() {
        return Err("gcloud info printed no sdk_root".to_string());
    }
    Ok(PathBuf::from(root))
}

/// Picks the highest `cloud-firestore-emulator-vX.Y.Z.jar` in `dir`, comparing
/// versions numerically (so v1.10.0 beats v1.9.9, unlike a string sort).
fn newest_firebase_jar(dir: &Path) -> Option<PathBuf> {
    let entries = std::fs::read_dir(dir).ok()?;
    entries
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let name = entry.file_name().into_string().ok()?;
            let version = parse_firebase_jar_version(&name)?;
            let path = entry.path();
            path.is_file().then_some((version, path))
        })
        .max_by(|a, b| a.0.cmp(&b.0))
        .map(|(_, path)| path)
}

/// `cloud-firestore-emulator-v1.19.9.jar` → `[1, 19, 9]`.
fn parse_firebase_jar_version(file_name: &str) -> Option<Vec<u64>> {
    let version = file_name
        .strip_prefix("cloud-firestore-emulator-v")?
        .strip_suffix(".jar")?;
    version.split('.').map(|part| part.parse().ok()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn firebase_jar_versions_compare_numerically() {
        assert_eq!(
            parse_firebase_jar_version("cloud-firestore-emulator-v1.19.9.jar"),
            Some(vec![1, 19, 9])
        );
        assert_eq!(
            parse_firebase_jar_version("cloud-firestore-emulator-v1.x.jar"),
            None
        );
        assert_eq!(parse_firebase_jar_version("other.jar"), None);

        let dir = std::env::temp_dir().join(format!("vayu-jar-test-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).expect("temp dir must be creatable for this test");
        for name in [
            "cloud-firestore-emulator-v1.9.9.jar",
            "cloud-firestore-emulator-v1.10.0.jar",
            "cloud-firestore-emulator-v1.2.jar",
            "notes.txt",
        ] {
            std::fs::write(dir.join(name), b"").expect("writing fixture file in own temp dir");
        }
        let newest = newest_firebase_jar(&dir);
        std::fs::remove_dir_all(&dir).expect("removing own temp dir");
        assert_eq!(
            newest.and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned())),
            Some("cloud-firestore-emulator-v1.10.0.jar".to_string())
        );
    }
}
