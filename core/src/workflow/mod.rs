//! Workflows (in progress).
