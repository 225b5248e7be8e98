//! A runner that panics must not take its slot, its task or the agent down
//! with it.
//!
//! Every runner future runs under [`run`], which catches a panic (a bug,
//! or a value no check foresaw), fails the task it was running with the
//! panic's message (retried like any failed attempt, or dead-lettered), and
//! hands the agent an [`Outcome::Panicked`] so the slot is freed and the
//! agent claims its next task.

use super::recovery;
use super::runner::{Outcome, Runner};
use crate::layout::Pile;
use crate::store::Store;
use futures::FutureExt;
use std::any::Any;
use std::panic::AssertUnwindSafe;

/// How the run of task `id` ended.
pub(super) struct Finished {
    pub(super) id: String,
    pub(super) outcome: Outcome,
    /// A dependent marked the task (`crate::deps::waiters::mark`): its
    /// end must settle the tasks in its waiters document.
    pub(super) waited_on: bool,
}

/// Runs `runner` for task `id`, turning a panic into a failed attempt.
pub(super) async fn run(store: Store, me: String, id: String, runner: Runner) -> Finished {
    match AssertUnwindSafe(runner.run()).catch_unwind().await {
        Ok((outcome, waited_on)) => Finished {
            id,
            outcome,
            waited_on,
        },
        Err(panic) => {
            let reason = format!("the runner panicked: {}", message(panic.as_ref()));
            tracing::error!(task = %id, "{reason}");
            fail(&store, &me, &id, &reason).await;
            Finished {
                id,
                outcome: Outcome::Panicked,
                waited_on: false,
            }
        }
    }
}

/// The text a panic was raised with.
pub(super) fn message(panic: &(dyn Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "(no message)".into())
}

/// Fails task `id` if this agent still holds it: one more retry spent,
/// the reason kept as its last error. If Firestore cannot be reached, the
/// lease expires and a peer (or this agent's startup look) takes it over.
async fn fail(store: &Store, me: &str, id: &str, reason: &str) {
    match store.find_task(id).await {
        Ok(Some(v)) if v.pile == Pile::Active && v.value.lease.owner.as_deref() == Some(me) => {
            if let Err(e) = recovery::requeue(store, &v, me, reason).await {
                tracing::warn!(task = %id, error = %e, "could not fail the task after a panic; its lease will expire");
            }
        }
        Ok(_) => {}
        Err(e) => {
            tracing::warn!(task = %id, error = %e, "could not read the task after a panic; its lease will expire")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_message_of_a_panic_is_kept() {
        let caught = std::panic::catch_unwind(|| panic!("overflow at {}", 7))
            .expect_err("the closure panics");
        assert_eq!(message(caught.as_ref()), "overflow at 7");
        let caught = std::panic::catch_unwind(|| std::panic::panic_any(5_u8))
            .expect_err("the closure panics");
        assert_eq!(message(caught.as_ref()), "(no message)");
    }
}
