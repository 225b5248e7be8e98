//! The environment variables that choose an identity, named once so that
//! the code, the error messages and the docs cannot drift apart. Read by
//! [`agent_from_env`](super::agent_from_env) and
//! [`person_from_env`](super::person_from_env).

/// How `vayu-agent` signs in: `emulator`, `refresh-token`,
/// `custom-token`, `token` (use `VAYU_TOKEN`) or `admin` (the default:
/// the emulator's `owner` or Google credentials, past the rules).
pub const VAYU_AGENT_IDENTITY: &str = "VAYU_AGENT_IDENTITY";
/// How the `vayu` CLI signs in: `emulator` (as `VAYU_UID`),
/// `refresh-token` (a person enrolled by `vayu user add`), `token`, or
/// `admin` (the default).
pub const VAYU_IDENTITY: &str = "VAYU_IDENTITY";
/// The uid the CLI acts as with `VAYU_IDENTITY=emulator`.
pub const VAYU_UID: &str = "VAYU_UID";
/// A `role` claim for emulator identities (`viewer`, `operator`,
/// `reviewer`, `admin`).
pub const VAYU_ROLE: &str = "VAYU_ROLE";
/// The Firebase Web API key (public; identifies the project to
/// Identity Toolkit). Any value works on the Auth emulator.
pub const VAYU_API_KEY: &str = "VAYU_API_KEY";
/// An agent's or person's refresh token, as printed by `vayu agent
/// enroll` or `vayu user add`.
pub const VAYU_REFRESH_TOKEN: &str = "VAYU_REFRESH_TOKEN";
/// A service account key file (JSON) for signing custom tokens; falls
/// back to `GOOGLE_APPLICATION_CREDENTIALS`.
pub const VAYU_SERVICE_ACCOUNT: &str = "VAYU_SERVICE_ACCOUNT";
pub const GOOGLE_APPLICATION_CREDENTIALS: &str = "GOOGLE_APPLICATION_CREDENTIALS";
/// `host:port` of the Firebase Auth emulator (the Firebase SDKs' name).
pub const FIREBASE_AUTH_EMULATOR_HOST: &str = "FIREBASE_AUTH_EMULATOR_HOST";
/// Overrides of the REST base URLs (tests, proxies).
pub const VAYU_IDENTITYTOOLKIT_URL: &str = "VAYU_IDENTITYTOOLKIT_URL";
pub const VAYU_SECURETOKEN_URL: &str = "VAYU_SECURETOKEN_URL";
