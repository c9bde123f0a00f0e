//! The sandbox in which rdebootstrap runs maintainer scripts: the
//! protocol between debrepo and the helper (this module), and the helper
//! itself ([`helper`]), which runs from any executable that embeds it.
//!
//! The parent writes one [`Request`] as a JSON line on the helper's
//! standard input; the helper answers with [`Event`] JSON lines on its
//! standard output, one per step, then [`Event::Done`] (or
//! [`Event::Failed`] when the sandbox could not be set up). The parent
//! keeps the helper's standard input open until the events end: when it
//! closes early (the parent died), the helper kills every process it
//! started. Both sides check [`PROTOCOL`]; a helper from another release
//! refuses the request instead of misreading it.
//!
//! Version 2 added [`Request::users`], [`Request::owners`] and
//! [`Event::Chown`]; version 3 runs [`Users::Host`] in a user namespace
//! too, and aborts when standard input closes; version 4 added
//! [`Request::binds`]; version 5 added [`Request::stdio`]; version 6
//! added [`Request::suppress_sync`], [`Step::status_fd`] and
//! [`Event::Status`].
//!
//! With [`Request::stdio`], the caller also hands the helper its own
//! standard input and output as descriptors 3 and 4 ([`attach_stdio`]);
//! every stage of the helper keeps them, and the last step reads and
//! writes them, for `rdebootstrap run`.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

pub mod helper;

/// The protocol version this crate speaks.
pub const PROTOCOL: u32 = 6;

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
    /// Who root inside is.
    pub users: Users,
    /// Ownership to give paths of the tree before the steps run (with
    /// [`Users::Subordinate`], where the ids exist inside).
    pub owners: Vec<Owner>,
    /// Commands to run, in order; the first failure stops the rest.
    pub steps: Vec<Step>,
    /// Host paths bound into the tree after the sandbox's own mounts.
    #[serde(default)]
    pub binds: Vec<Bind>,
    /// The last step reads the caller's standard input and writes its
    /// standard output (descriptors [`STDIO_FDS`] of the helper), and its
    /// standard error goes straight to the helper's (not collected): for a
    /// command the caller runs interactively or in a pipe. Otherwise the
    /// steps read nothing and write everything to the helper's standard
    /// error.
    #[serde(default)]
    pub stdio: bool,
    /// The steps' calls that wait for data to reach the disk (`fsync`,
    /// `fdatasync`, `sync`, `syncfs`, `sync_file_range`, `msync`) return
    /// success at once, as under eatmydata or systemd-nspawn's
    /// `--suppress-sync`: for a build, whose tree is thrown away when it
    /// fails anyway, not for a command whose writes must be durable.
    #[serde(default)]
    pub suppress_sync: bool,
}

/// A host file or directory bound into the tree (`run --bind`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bind {
    /// On the host (followed if a symlink: the caller chose it).
    pub source: PathBuf,
    /// Absolute, as seen inside the tree. Opened inside the tree without
    /// following symbolic links; a missing last component is made (an
    /// empty directory or file, like the source) in its existing parent,
    /// inside the tree, and stays there. Never `/`, nor under the
    /// sandbox's own `/proc`, `/sys` or `/dev`.
    pub target: String,
    /// Read-only. Every bind is `nosuid,nodev`.
    pub read_only: bool,
}

/// Who root is in the sandbox's user namespace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Users {
    /// Started as root: every id is mapped to itself, so owners in the
    /// tree are the host's, while root's capabilities inside count only
    /// in the namespace.
    Host,
    /// A user namespace where root is the caller and no other id exists.
    /// Changing a file's owner to another id cannot work there: the
    /// helper lets such a change seem to succeed, and reports every
    /// change of owner as [`Event::Chown`], so the caller can keep the
    /// true ownership.
    Single,
    /// A user namespace where root is the caller and ids 1..=count are
    /// the caller's subordinate ranges (`/etc/subuid`, `/etc/subgid`),
    /// mapped with newuidmap and newgidmap: ownership inside is real.
    Subordinate { uids: IdRange, gids: IdRange },
}

/// A range of host ids.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdRange {
    pub start: u32,
    pub count: u32,
}

/// The true owner and mode of a path in the tree.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Owner {
    /// Absolute, as seen inside the tree; not followed if a symlink.
    pub path: String,
    pub uid: u32,
    pub gid: u32,
    /// Permission bits, set again after the owner (which clears
    /// setuid/setgid); `None` for symlinks.
    pub mode: Option<u32>,
    /// Extended attributes (`security.capability`, ...).
    pub xattrs: Vec<(String, Vec<u8>)>,
}

/// The descriptor numbers at which the helper finds the caller's standard
/// input and output when [`Request::stdio`] is set.
pub const STDIO_FDS: [i32; 2] = [3, 4];

/// Hand `stdin` and `stdout` to the helper `cmd` will start, as
/// [`STDIO_FDS`] (see [`Request::stdio`]).
pub fn attach_stdio(
    cmd: &mut std::process::Command,
    stdin: std::os::fd::OwnedFd,
    stdout: std::os::fd::OwnedFd,
) -> std::io::Result<()> {
    use std::os::fd::AsFd;
    use std::os::unix::process::CommandExt;
    // Copies above the target numbers first, so that placing one cannot
    // overwrite the other (both close on exec; the placed ones do not).
    let high = |fd: &std::os::fd::OwnedFd| {
        rustix::io::fcntl_dupfd_cloexec(fd.as_fd(), 10).map_err(std::io::Error::from)
    };
    let (stdin, stdout) = (high(&stdin)?, high(&stdout)?);
    // SAFETY: the closure runs in the child between fork and exec and
    // makes only dup2 calls (async-signal-safe, no allocation) on
    // descriptors the closure owns, which stay open until exec.
    unsafe {
        cmd.pre_exec(move || {
            for (fd, to) in [(&stdin, STDIO_FDS[0]), (&stdout, STDIO_FDS[1])] {
                if libc::dup2(std::os::fd::AsRawFd::as_raw_fd(fd), to) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
            }
            Ok(())
        });
    }
    Ok(())
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
    /// Give the step a pipe as descriptor [`STATUS_FD`] (for `dpkg
    /// --status-fd 3`), each line written there reported as an
    /// [`Event::Status`] as it comes, with its time.
    #[serde(default)]
    pub status_fd: bool,
}

/// The descriptor of a step's status pipe ([`Step::status_fd`]).
pub const STATUS_FD: i32 = 3;

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
    /// With [`Users::Single`]: a step changed the owner of `path` (as
    /// seen inside, symlinks resolved). A change to ids the namespace
    /// lacks (other than 0) was not made. `None` leaves that id unchanged.
    Chown {
        path: String,
        uid: Option<u32>,
        gid: Option<u32>,
    },
    /// A line the step wrote to its status pipe ([`Step::status_fd`]),
    /// `micros` after the step started (lines of at most 4 KiB; a longer
    /// one is cut).
    Status {
        index: usize,
        micros: u64,
        line: String,
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

/// The caller's subordinate range in `/etc/subuid` or `/etc/subgid` form
/// (`name-or-id:start:count` lines): the first line for `name` or `id`.
pub fn subordinate_range(text: &str, name: &str, id: u32) -> Option<IdRange> {
    text.lines().find_map(|line| {
        let mut f = line.trim().split(':');
        let (who, start, count) = (f.next()?, f.next()?, f.next()?);
        if who != name && who.parse::<u32>().ok() != Some(id) {
            return None;
        }
        let range = IdRange {
            start: start.parse().ok()?,
            count: count.parse().ok()?,
        };
        (range.count > 0).then_some(range)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subordinate_ranges_by_name_or_id() {
        let text = "# comment\nalice:100000:65536\n1002:200000:1000\nbob:x:1\ncarol:300000:0\n";
        assert_eq!(
            subordinate_range(text, "alice", 1001),
            Some(IdRange {
                start: 100000,
                count: 65536
            })
        );
        assert_eq!(
            subordinate_range(text, "dave", 1002),
            Some(IdRange {
                start: 200000,
                count: 1000
            })
        );
        assert_eq!(subordinate_range(text, "bob", 1003), None);
        assert_eq!(subordinate_range(text, "carol", 1004), None);
        assert_eq!(subordinate_range(text, "erin", 1005), None);
    }
}
