//! Progress reporting: the library tells a [`Progress`] what it is doing;
//! the command-line tool draws bars or prints lines, an embedding program
//! does what it likes. Every method has a do-nothing default.

use std::time::Duration;

/// The named stages of a build ([`crate::pipeline`]), in the order they
/// run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Stage {
    /// Download the packages (or find them in the cache).
    Fetch,
    /// Unpack them into the tree.
    Unpack,
    /// Write the dpkg database: every package unpacked.
    Database,
    /// Stage the spec's artifacts.
    Artifacts,
    /// Run the preinsts and `dpkg --configure -a` in the sandbox.
    Configure,
    /// Run the specs' build scripts in the sandbox.
    Scripts,
    /// Leave the tree as mmdebstrap does, keep what it cannot hold, and
    /// mark it finished.
    Finish,
    /// Write the tree as a file ([`crate::output`]).
    Output,
}

impl Stage {
    /// Its name in messages: `fetch`, `unpack`, ...
    pub fn name(self) -> &'static str {
        match self {
            Stage::Fetch => "fetch",
            Stage::Unpack => "unpack",
            Stage::Database => "database",
            Stage::Artifacts => "artifacts",
            Stage::Configure => "configure",
            Stage::Scripts => "scripts",
            Stage::Finish => "finish",
            Stage::Output => "output",
        }
    }
}

impl std::fmt::Display for Stage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Receives progress events. Calls may come from several tasks at once.
pub trait Progress: Send + Sync {
    /// A build stage starts, with `items` packages, scripts or artifacts
    /// to go through (0 when it has none to count).
    fn stage_start(&self, stage: Stage, items: usize) {
        let _ = (stage, items);
    }
    /// One item of the stage (a package, a script, an artifact) is done,
    /// after `took`.
    fn stage_item(&self, stage: Stage, item: &str, took: Duration) {
        let _ = (stage, item, took);
    }
    /// The stage is done, after `took`.
    fn stage_finish(&self, stage: Stage, took: Duration) {
        let _ = (stage, took);
    }
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
