//! The local Firestore emulator, for `vayu demo` and `vayu bench`.
//!
//! The launcher lives in the `vayu-emulator` crate (`emulator/`), not here,
//! because production agents never start emulators and should not link a
//! JVM launcher. With the `emulator` feature (on by default) this module is
//! that crate, so `vayu::emulator::Emulator` works as before.
//!
//! Without the feature (`--no-default-features`, the production build) the
//! launcher is not compiled: this module keeps the same names so that the
//! demo and the bench still build, and still run against an emulator that
//! `FIRESTORE_EMULATOR_HOST` names, but [`Emulator::start`] only explains
//! how to get one. [`Emulator`] then has no values at all.

#[cfg(feature = "emulator")]
pub use vayu_emulator::*;

#[cfg(not(feature = "emulator"))]
pub use absent::*;

#[cfg(not(feature = "emulator"))]
mod absent {
    use std::path::PathBuf;

    /// Same meaning as with the feature; nothing here reads it.
    #[derive(Debug, Clone, Default)]
    pub struct EmulatorOptions {
        pub rules: Option<PathBuf>,
        pub port: Option<u16>,
        pub project_id: String,
    }

    /// The one thing that can happen: the launcher was left out.
    #[derive(Debug, thiserror::Error)]
    #[error(
        "this build of vayu has no emulator launcher (built without the `emulator` feature): \
         start one with emulator/start.sh and set FIRESTORE_EMULATOR_HOST, or build with the default features"
    )]
    pub struct EmulatorError;

    /// Uninhabited: without the launcher no emulator is ever started here.
    #[derive(Debug)]
    pub enum Emulator {}

    impl Emulator {
        pub async fn start(_opts: EmulatorOptions) -> Result<Emulator, EmulatorError> {
            Err(EmulatorError)
        }

        pub fn host(&self) -> &str {
            match *self {}
        }

        pub fn java_pid(&self) -> Option<u32> {
            match *self {}
        }
    }
}
