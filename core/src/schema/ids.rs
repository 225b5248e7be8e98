//! The shapes of ids, capabilities and tags: the element patterns of the
//! rules (`taskIdsPattern()` and its siblings).

/// Whether `s` is `len` characters long, each alphanumeric ASCII or one
/// of `extra`: the shape of every element pattern in the rules.
fn is_charset(s: &str, len: std::ops::RangeInclusive<usize>, extra: &str) -> bool {
    len.contains(&s.len())
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || extra.contains(c))
}

/// A task id: `^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$` (a uuid is one; so is a
/// Firestore console auto-id).
pub fn is_task_id(s: &str) -> bool {
    is_charset(s, 1..=64, "_-") && s.chars().next().is_some_and(|c| c.is_ascii_alphanumeric())
}

/// An agent id: `^[A-Za-z0-9._-]{1,128}$`.
pub fn is_agent_id(s: &str) -> bool {
    is_charset(s, 1..=128, "._-")
}

/// A capability a task requires: `^[A-Za-z0-9_.:/+-]{1,64}$`.
pub fn is_capability(s: &str) -> bool {
    is_charset(s, 1..=64, "_.:/+-")
}

/// A tag: `^[A-Za-z0-9 _.:/+#@-]{1,64}$`.
pub fn is_tag(s: &str) -> bool {
    is_charset(s, 1..=64, " _.:/+#@-")
}
