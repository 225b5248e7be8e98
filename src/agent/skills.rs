//! The skills an agent learns from its own runs (`vayu:skill NAME`, what
//! the learning template's skill update prints): added to the
//! capabilities in its document, so assignment (every agent's `Offer` of
//! it, `requires` matching) reads them. The agent's document is rewritten
//! from its configuration at every heartbeat, so the learned skills are
//! kept here, seeded at start from the document the last run left.

use crate::model::limits;
use std::sync::{Arc, Mutex};

/// Shared between the agent (its document and offer read it) and its
/// runners (a completed run adds to it).
#[derive(Clone, Debug, Default)]
pub struct Skills(Arc<Mutex<Vec<String>>>);

/// What [`Skills::learn`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Learned {
    New,
    Known,
    /// At [`limits::SKILLS_MAX`] already: dropped.
    Full,
}

impl Skills {
    /// The skills a previous run of this agent kept (its document's
    /// `skills`), as far as they are well formed and within the bound.
    pub fn seed(&self, kept: &[String]) {
        for s in kept.iter().filter(|s| crate::schema::is_capability(s)) {
            self.learn(s);
        }
    }

    pub fn learn(&self, skill: &str) -> Learned {
        let mut list = self.lock();
        if list.iter().any(|s| s == skill) {
            Learned::Known
        } else if list.len() >= limits::SKILLS_MAX {
            Learned::Full
        } else {
            list.push(skill.to_string());
            Learned::New
        }
    }

    pub fn list(&self) -> Vec<String> {
        self.lock().clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<String>> {
        // A poisoned lock only means a panic elsewhere held it; the list
        // itself is always whole (every change is one push).
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skills_are_kept_once_and_bounded() {
        let s = Skills::default();
        assert_eq!(s.learn("rust"), Learned::New);
        assert_eq!(s.learn("rust"), Learned::Known);
        for i in 1..limits::SKILLS_MAX {
            assert_eq!(s.learn(&format!("s{i}")), Learned::New);
        }
        assert_eq!(s.learn("one-too-many"), Learned::Full);
        assert_eq!(s.list().len(), limits::SKILLS_MAX);
    }

    #[test]
    fn a_seed_skips_what_is_not_a_capability() {
        let s = Skills::default();
        s.seed(&["rust".into(), "two words".into(), "rust".into()]);
        assert_eq!(s.list(), vec!["rust".to_string()]);
    }
}
