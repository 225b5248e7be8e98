//! Where the Firebase Auth REST APIs are. Overridable, because the same
//! code must run against production, the Auth emulator and the tests'
//! stub, and the choice is made from the environment.

use super::{env, non_empty_env};

/// Where the Firebase Auth REST APIs are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoints {
    /// Base of Identity Toolkit v1 (`.../v1`, no trailing slash).
    pub identitytoolkit: String,
    /// Base of Secure Token v1.
    pub securetoken: String,
}

impl Endpoints {
    pub fn production() -> Self {
        Endpoints {
            identitytoolkit: "https://identitytoolkit.googleapis.com/v1".into(),
            securetoken: "https://securetoken.googleapis.com/v1".into(),
        }
    }

    /// The Firebase Auth emulator at `host:port` (firebase-tools).
    pub fn auth_emulator(host: &str) -> Self {
        let base = if host.contains("://") {
            host.trim_end_matches('/').to_string()
        } else {
            format!("http://{host}")
        };
        Endpoints {
            identitytoolkit: format!("{base}/identitytoolkit.googleapis.com/v1"),
            securetoken: format!("{base}/securetoken.googleapis.com/v1"),
        }
    }

    /// The Auth emulator when `FIREBASE_AUTH_EMULATOR_HOST` is set, else
    /// production; each URL overridable on its own.
    pub fn from_env() -> Self {
        let mut e = match non_empty_env(env::FIREBASE_AUTH_EMULATOR_HOST) {
            Some(h) => Endpoints::auth_emulator(&h),
            None => Endpoints::production(),
        };
        if let Some(u) = non_empty_env(env::VAYU_IDENTITYTOOLKIT_URL) {
            e.identitytoolkit = u.trim_end_matches('/').into();
        }
        if let Some(u) = non_empty_env(env::VAYU_SECURETOKEN_URL) {
            e.securetoken = u.trim_end_matches('/').into();
        }
        e
    }

    pub fn is_emulator(&self) -> bool {
        !self
            .identitytoolkit
            .starts_with("https://identitytoolkit.googleapis.com")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_point_at_the_auth_emulator_when_asked() {
        let e = Endpoints::auth_emulator("127.0.0.1:9099");
        assert_eq!(
            e.identitytoolkit,
            "http://127.0.0.1:9099/identitytoolkit.googleapis.com/v1"
        );
        assert_eq!(
            e.securetoken,
            "http://127.0.0.1:9099/securetoken.googleapis.com/v1"
        );
        assert!(e.is_emulator());
        assert!(!Endpoints::production().is_emulator());
    }
}
