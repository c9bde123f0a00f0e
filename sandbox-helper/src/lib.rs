//! The protocol between debrepo and `rdebootstrap-sandbox-helper`.
//!
//! The parent writes one [`Request`] as a JSON line on the helper's
//! standard input; the helper answers with [`Event`] JSON lines on its
//! standard output, one per step, then [`Event::Done`] (or
//! [`Event::Failed`] when the sandbox could not be set up). Both sides
//! check [`PROTOCOL`]; a helper from another release refuses the request
//! instead of misreading it.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// The protocol version this crate speaks.
pub const PROTOCOL: u32 = 1;

/// What the helper is asked to do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Request {
    pub protocol: u32,
    /// The tree to run in; it becomes `/`.
    pub root: PathBuf,
    /// Keep the host's network (and give the tree its resolv.conf).
    pub network: bool,
    /// The hostname inside (UTS namespace).
    pub hostname: String,
    /// The environment of every step (nothing else is inherited).
    pub env: Vec<(String, String)>,
    /// Commands to run, in order; the first failure stops the rest.
    pub steps: Vec<Step>,
}

/// One command.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Step {
    /// What to call it in messages (`base-passwd preinst`).
    pub label: String,
    /// Program (a path inside the tree) and arguments.
    pub argv: Vec<String>,
    /// Added to the request's environment.
    pub env: Vec<(String, String)>,
}

/// What the helper reports.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Event {
    /// A step ended; `status` is its exit code (128 + signal when killed).
    Step {
        index: usize,
        status: i32,
        /// The end of its standard error (at most 64 KiB).
        stderr: String,
    },
    /// Every step ran (or one failed and the rest were skipped).
    Done,
    /// The sandbox could not be made or a step not started.
    Failed { what: String, error: String },
}

impl Request {
    /// One JSON line.
    pub fn to_line(&self) -> String {
        serde_json::to_string(self).expect("a request serializes") + "\n"
    }
}

impl Event {
    /// One JSON line.
    pub fn to_line(&self) -> String {
        serde_json::to_string(self).expect("an event serializes") + "\n"
    }
}
