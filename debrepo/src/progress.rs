//! Progress reporting: the library tells a [`Progress`] what it is doing;
//! the command-line tool draws bars or prints lines, an embedding program
//! does what it likes. Every method has a do-nothing default.

use std::time::Duration;

/// Receives progress events. Calls may come from several tasks at once.
pub trait Progress: Send + Sync {
    /// A download of `what` (a URL) starts; `total` bytes if known.
    fn start(&self, what: &str, total: Option<u64>) {
        let _ = (what, total);
    }
    /// `bytes` more of `what` arrived.
    fn advance(&self, what: &str, bytes: u64) {
        let _ = (what, bytes);
    }
    /// `what` is done (successfully or not).
    fn finish(&self, what: &str) {
        let _ = what;
    }
    /// Attempt `attempt` of `what` failed for `reason`; retrying after `delay`.
    fn retry(&self, what: &str, attempt: u32, reason: &str, delay: Duration) {
        let _ = (what, attempt, reason, delay);
    }
    /// Something the user should know (e.g. signature checks are off).
    fn warn(&self, message: &str) {
        let _ = message;
    }
    /// Detail for debugging: each request and its answer, where an index
    /// came from, solver figures. Shown only when asked for (`-d`).
    fn debug(&self, message: &str) {
        let _ = message;
    }
}

/// Reports nothing.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoProgress;

impl Progress for NoProgress {}
