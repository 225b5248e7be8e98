//! The check of a task before it is created.

use super::*;

// The model's own check of a new task lives here, beside the bounds it
// applies, so that the model does not depend on the schema (which depends
// on the model).
impl Task {
    /// The checks the rules make too, made early so that a person gets a
    /// clear message instead of a permission error.
    pub fn validate_new(&self) -> Result<(), InvalidTask> {
        let bad = |m: String| Err(InvalidTask(m));
        if !is_task_id(&self.task_id) {
            return bad(format!(
                "task_id '{}' is not 1-64 of A-Z a-z 0-9 _ - starting with a letter or digit",
                self.task_id
            ));
        }
        if !self.status.is_initial() {
            return bad(format!(
                "a new task starts created, queued or blocked, not {}",
                self.status
            ));
        }
        if self.title.trim().is_empty() {
            return bad("the title is empty".into());
        }
        if self.title.len() > limits::TITLE_MAX {
            return bad(format!("the title is over {} bytes", limits::TITLE_MAX));
        }
        if self.input.len() > limits::INPUT_MAX {
            return bad(format!("the input is over {} bytes", limits::INPUT_MAX));
        }
        if self.requester.context.len() > limits::CONTEXT_MAX {
            return bad(format!(
                "the requester context is over {} bytes",
                limits::CONTEXT_MAX
            ));
        }
        if self.metadata.tags.len() > limits::TAGS_MAX
            || self.metadata.tags.iter().any(|t| t.len() > limits::TAG_MAX)
        {
            return bad(format!(
                "at most {} tags of at most {} bytes",
                limits::TAGS_MAX,
                limits::TAG_MAX
            ));
        }
        if self.requires.len() > limits::REQUIRES_MAX {
            return bad(format!("at most {} capabilities", limits::REQUIRES_MAX));
        }
        let deps = &self.dependencies;
        if deps.blocked_by.len() > limits::DEPENDENCIES_MAX {
            return bad(format!("at most {} dependencies", limits::DEPENDENCIES_MAX));
        }
        let distinct: std::collections::BTreeSet<&String> = deps.blocked_by.iter().collect();
        if distinct.len() != deps.blocked_by.len() {
            return bad("a dependency is listed twice".into());
        }
        if !deps.blocked_by.is_empty() && self.status != crate::lifecycle::Status::Blocked {
            return bad("a task with dependencies starts blocked".into());
        }
        if !deps.done.is_empty() || deps.failed.is_some() {
            return bad("a new task has no dependency recorded as ended yet".into());
        }
        if !(0..=limits::MAX_RETRIES_MAX as i64).contains(&self.metadata.max_retries) {
            return bad(format!(
                "max_retries must be 0..={}",
                limits::MAX_RETRIES_MAX
            ));
        }
        if self.review.policy.as_deref() == Some("none") {
            return bad("a review policy of 'none' is stored as no policy".into());
        }
        crate::team::check_new(self).map_err(InvalidTask)?;
        check_stored(self).map_err(InvalidTask)
    }
}
