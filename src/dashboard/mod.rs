//! `vayu dashboard`: serves the static web dashboard (`dashboard/public`,
//! compiled into the binary) and a generated `/config.json` that points
//! the page at a project: production Firestore and Auth, or the local
//! emulators. The page talks to Firestore itself, under the signed-in
//! user's identity; this server only hands out files, so it holds no
//! secret and makes no Firestore call. Production hosting is Firebase
//! Hosting (`firebase.json`); this is for local use and `vayu demo`.

mod serve;

pub use serve::{Server, serve};

use crate::error::{Error, Result};
use serde::Serialize;

/// `vayu dashboard`'s options.
#[derive(clap::Args, Debug, Clone)]
pub struct DashboardArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    pub host: String,
    /// Port to listen on (0: any free port).
    #[arg(long, default_value_t = 5000)]
    pub port: u16,
    /// The Web API key of the Firebase project (production only; the
    /// emulators take any).
    #[arg(long, env = "VAYU_API_KEY")]
    pub api_key: Option<String>,
    /// The Auth domain for Google sign-in (default PROJECT.firebaseapp.com).
    #[arg(long)]
    pub auth_domain: Option<String>,
    /// The Auth emulator, host:port. Without it, against the Firestore
    /// emulator the page signs in with the emulator's mock tokens.
    #[arg(long, env = "FIREBASE_AUTH_EMULATOR_HOST")]
    pub auth_emulator: Option<String>,
    /// Print the page's config.json and exit (for Firebase Hosting:
    /// `> dashboard/public/config.json` before `firebase deploy`).
    #[arg(long)]
    pub print_config: bool,
}

/// What the page reads from `/config.json` (dashboard/src/firebase.js).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PageConfig {
    pub project_id: String,
    pub database_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub api_key: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auth_domain: Option<String>,
    pub emulators: Emulators,
}

/// The emulators' addresses, as the Firebase JS SDK takes them.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct Emulators {
    /// `host:port`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub firestore: Option<String>,
    /// `http://host:port`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auth: Option<String>,
}

impl PageConfig {
    /// The page's configuration for `project` and `database`, with the
    /// Firestore emulator at `firestore` (or production when `None`).
    /// Bad values are `Error::Config` (exit 64): production needs an API
    /// key, and every address must be `host:port`.
    pub fn new(
        args: &DashboardArgs,
        project: &str,
        database: &str,
        firestore: Option<&str>,
    ) -> Result<PageConfig> {
        if !is_project_id(project) {
            return Err(Error::Config(format!(
                "'{project}' is not a Firebase project id (6-30 of a-z 0-9 -)"
            )));
        }
        let auth = args.auth_emulator.as_deref().filter(|a| !a.is_empty());
        for (name, addr) in [
            ("FIRESTORE_EMULATOR_HOST", firestore),
            ("--auth-emulator", auth),
        ] {
            if let Some(a) = addr
                && !is_host_port(a)
            {
                return Err(Error::Config(format!("{name} '{a}' is not host:port")));
            }
        }
        if firestore.is_none() && args.api_key.as_deref().is_none_or(str::is_empty) {
            return Err(Error::Config(
                "production needs the project's Web API key: --api-key or VAYU_API_KEY \
                 (Firebase console, Project settings)"
                    .into(),
            ));
        }
        Ok(PageConfig {
            project_id: project.into(),
            database_id: database.into(),
            api_key: args.api_key.clone().filter(|k| !k.is_empty()),
            auth_domain: args.auth_domain.clone(),
            emulators: Emulators {
                firestore: firestore.map(str::to_string),
                auth: auth.map(|a| format!("http://{a}")),
            },
        })
    }
}

fn is_project_id(p: &str) -> bool {
    (4..=30).contains(&p.len())
        && p.starts_with(|c: char| c.is_ascii_lowercase())
        && p.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

fn is_host_port(a: &str) -> bool {
    match a.rsplit_once(':') {
        Some((host, port)) => !host.is_empty() && port.parse::<u16>().is_ok_and(|p| p > 0),
        None => false,
    }
}

/// Runs `vayu dashboard` until interrupted. The first line of output is
/// its URL (`{"url": …}` with `--json`), for scripts.
pub async fn run(args: DashboardArgs, project: Option<String>, json: bool) -> Result<()> {
    let store = crate::store::StoreConfig::from_env(project)?;
    let config = PageConfig::new(
        &args,
        &store.project_id,
        &store.database_id,
        store.emulator_host.as_deref(),
    )?;
    if args.print_config {
        let json = serde_json::to_string_pretty(&config)
            .map_err(|e| Error::Config(format!("encoding the config: {e}")))?;
        println!("{json}");
        return Ok(());
    }
    let server = serve(&args.host, args.port, config).await?;
    if json {
        println!("{}", serde_json::json!({ "url": server.url() }));
    } else {
        println!("dashboard: {}", server.url());
    }
    tokio::signal::ctrl_c()
        .await
        .map_err(|e| Error::Config(format!("waiting for Ctrl-C: {e}")))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args() -> DashboardArgs {
        DashboardArgs {
            host: "127.0.0.1".into(),
            port: 0,
            api_key: None,
            auth_domain: None,
            auth_emulator: None,
            print_config: false,
        }
    }

    #[test]
    fn the_emulator_needs_no_key_but_production_does() {
        let c = PageConfig::new(&args(), "demo-vayu", "(default)", Some("127.0.0.1:8080"));
        let c = c.expect("an emulator config is complete");
        assert_eq!(c.emulators.firestore.as_deref(), Some("127.0.0.1:8080"));
        let err = PageConfig::new(&args(), "my-proj", "(default)", None).unwrap_err();
        assert!(matches!(err, Error::Config(m) if m.contains("API key")));
    }

    #[test]
    fn bad_addresses_and_project_ids_are_config_errors() {
        for (project, host) in [
            ("demo-vayu", "nohost"),
            ("demo-vayu", "h:0"),
            ("Bad_Project", "h:1"),
        ] {
            let r = PageConfig::new(&args(), project, "(default)", Some(host));
            assert!(matches!(r, Err(Error::Config(_))), "{project} {host}");
        }
        let mut a = args();
        a.auth_emulator = Some("127.0.0.1:9099".into());
        let c = PageConfig::new(&a, "demo-vayu", "db1", Some("127.0.0.1:1")).expect("valid");
        assert_eq!(c.emulators.auth.as_deref(), Some("http://127.0.0.1:9099"));
    }
}
