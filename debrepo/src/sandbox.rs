//! Driving the sandbox helper, the process that runs commands inside a
//! tree in new namespaces: rdebootstrap's own executable started again
//! ([`Sandbox::embedded`]), or the separate `rdebootstrap-sandbox-helper`
//! program ([`Sandbox::find`]).
//!
//! # Threat model
//!
//! The commands are maintainer scripts of packages we treat as hostile.
//! Whoever runs rdebootstrap, they run as root of a user namespace (as
//! root, one that maps every id to itself, so owners in the tree are real
//! but root's capabilities count only inside), see only the tree and the
//! sandbox's own `/proc` (kernel settings read-only), read-only `/sys`,
//! minimal `/dev` and tmpfs `/tmp` and `/run`, with the tree mounted
//! `nosuid,nodev`, in a user namespace of their own nested in the
//! sandbox's (no power over its mounts or its first process),
//! `no_new_privs`, and a seccomp filter refusing mounts, new namespaces,
//! modules, kexec, reboot, swap, the keyring, BPF, perf, io_uring, file
//! handles, clock changes, ptrace, terminal input and vsock. No host
//! process, inherited descriptor or controlling terminal is visible; the
//! network is a new, empty namespace unless asked for. Event lines from
//! the helper are bounded in length. Mount
//! targets are opened inside the tree without following symlinks (and
//! [`crate::configure`] refuses such a tree first, naming the package).
//! The helper and everything it started die when this process does: it
//! keeps the helper's standard input open while it runs.
//!
//! A hostile package can still do anything inside the tree, use CPU,
//! memory and disk space, and with the network on, reach what the caller
//! can. The helper's own documentation (`sandbox-helper/src/main.rs`)
//! has the details; `sandbox-helper/tests/containment.rs` tries each case.
//!
//! `RDEBOOTSTRAP_SANDBOX_HELPER` names a separate helper program when set;
//! [`Sandbox::find`] otherwise looks next to the running program (also
//! from a test binary in `deps/`) and on `PATH`. The two talk through
//! [`sandbox_protocol`]'s typed, versioned messages.

use std::io::{BufRead, BufReader, Read, Write};
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

pub use sandbox_protocol::{Event, IdRange, Owner, Request, Step, Users, PROTOCOL, STATUS_FD};

/// The helper's file name.
pub const HELPER: &str = "rdebootstrap-sandbox-helper";

/// The longest event line read from the helper.
const MAX_EVENT: u64 = 1 << 20;

/// Running commands in the sandbox failed.
#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    #[error("{HELPER} not found (looked at $RDEBOOTSTRAP_SANDBOX_HELPER, this program, beside it and on PATH): install it beside this program, or build it with 'cargo build --workspace'")]
    NotFound,
    #[error("{helper}: cannot start it")]
    Start {
        helper: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{helper}: unexpected answer {line:?} (is it from another release?)")]
    Protocol { helper: PathBuf, line: String },
    #[error("sandbox: {what}: {error}")]
    Setup { what: String, error: String },
    #[error("{label} failed with exit status {status}{}", if stderr.trim().is_empty() { String::new() } else { format!(":\n{}", stderr.trim_end()) })]
    Step {
        label: String,
        status: i32,
        stderr: String,
    },
    #[error("{helper}: ended before reporting every step")]
    Incomplete { helper: PathBuf },
}

/// Where the steps' output goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Output {
    /// To this process's standard error.
    Shown,
    /// Nowhere (a failing step's error still ends with its standard
    /// error).
    Hidden,
}

impl Output {
    /// For [`Sandbox::run`].
    pub fn stdio(self) -> Stdio {
        match self {
            Output::Shown => Stdio::inherit(),
            Output::Hidden => Stdio::null(),
        }
    }
}

/// What a running step reports, as it happens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepEvent<'a> {
    /// Step `index` ended, `took` after it started (the first one's time
    /// includes making the sandbox).
    Ended {
        index: usize,
        took: std::time::Duration,
    },
    /// Step `index`, which asked for one ([`Step::status_fd`]), wrote
    /// `line` to its status pipe, `after` it started.
    Status {
        index: usize,
        after: std::time::Duration,
        line: &'a str,
    },
}

/// What runs a [`Request`]'s steps in a tree: rdebootstrap's own
/// [`Sandbox`], or [`crate::podman::Podman`].
pub trait Executor: Send + Sync {
    /// Run the steps in order, the first failing one stopping the rest
    /// and being the error ([`SandboxError::Step`]); call `on_event` as
    /// each step ends and with its status lines (an executor that cannot
    /// pass a status pipe gives the step one that reads nothing). Returns
    /// the steps' changes of owner ([`Users::Single`] only).
    fn run_steps(
        &self,
        request: &Request,
        output: Output,
        on_event: &mut dyn FnMut(StepEvent<'_>),
    ) -> Result<Vec<Chown>, SandboxError>;

    /// True if the steps see a `/tmp` of their own, not the tree's: what
    /// the tree's `/tmp` holds meanwhile is hidden from them (a build
    /// unpacks its stage there while the essential set is configured).
    fn hides_tmp(&self) -> bool {
        false
    }
}

impl Executor for Sandbox {
    fn hides_tmp(&self) -> bool {
        // The helper mounts a new tmpfs on the tree's /tmp.
        true
    }

    fn run_steps(
        &self,
        request: &Request,
        output: Output,
        on_event: &mut dyn FnMut(StepEvent<'_>),
    ) -> Result<Vec<Chown>, SandboxError> {
        self.run_timed(request, output.stdio(), on_event)
    }
}

/// A change of owner a step made in a [`Users::Single`] namespace (see
/// [`Event::Chown`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chown {
    /// Absolute, inside the tree.
    pub path: String,
    pub uid: Option<u32>,
    pub gid: Option<u32>,
}

/// Who root is in a sandbox started by this process: running as root,
/// root with every id mapped to itself (capabilities only inside);
/// otherwise the caller, with the caller's subordinate
/// ids when `/etc/subuid` and `/etc/subgid` have ranges for it and
/// newuidmap and newgidmap are installed, else alone.
pub fn users() -> Users {
    if rustix::process::geteuid().is_root() {
        return Users::Host;
    }
    let (uid, gid) = (
        rustix::process::getuid().as_raw(),
        rustix::process::getgid().as_raw(),
    );
    let name = std::fs::read_to_string("/etc/passwd")
        .ok()
        .and_then(|t| {
            t.lines().find_map(|l| {
                let f: Vec<&str> = l.split(':').collect();
                (f.len() > 2 && f[2].parse() == Ok(uid)).then(|| f[0].to_owned())
            })
        })
        .unwrap_or_default();
    let range = |file: &str, id: u32| {
        let text = std::fs::read_to_string(file).ok()?;
        sandbox_protocol::subordinate_range(&text, &name, id)
    };
    let tools = ["newuidmap", "newgidmap"].iter().all(|t| on_path(t));
    match (range("/etc/subuid", uid), range("/etc/subgid", gid)) {
        (Some(uids), Some(gids)) if tools => Users::Subordinate { uids, gids },
        _ => Users::Single,
    }
}

fn on_path(program: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(program).is_file()))
        || Path::new("/usr/bin").join(program).is_file()
}

/// The helper program.
#[derive(Debug, Clone)]
pub struct Sandbox {
    helper: PathBuf,
    /// The arguments before the helper's `run`: none for the helper's
    /// own binary, [`helper::EMBEDDED`] for an executable embedding it.
    prefix: Vec<String>,
}

pub use sandbox_protocol::helper;

/// Run as the sandbox helper if this process was started as one (see
/// [`Sandbox::embedded`]): call it first thing in `main`, before any
/// thread starts, and return its exit code when it gives one.
pub fn helper_if_asked() -> Option<std::process::ExitCode> {
    helper::embedded()
}

impl Sandbox {
    /// The helper embedded in this executable, whose `main` calls
    /// [`helper_if_asked`] first (as rdebootstrap's does): one program
    /// to install. `$RDEBOOTSTRAP_SANDBOX_HELPER` still names a separate
    /// helper program when set.
    pub fn embedded() -> Result<Sandbox, SandboxError> {
        if let Some(p) = std::env::var_os("RDEBOOTSTRAP_SANDBOX_HELPER") {
            return Ok(Sandbox::at(Path::new(&p)));
        }
        // /proc/self/exe reaches this executable even when its file has
        // been replaced since it started (an upgrade during a build).
        // Without /proc (a bare chroot), the path it was started by, when
        // that is a full one.
        let proc = Path::new("/proc/self/exe");
        let me = proc.exists().then(|| proc.to_owned()).or_else(|| {
            let arg0 = PathBuf::from(std::env::args_os().next()?);
            (arg0.is_absolute() && arg0.is_file()).then_some(arg0)
        });
        match me {
            Some(helper) => Ok(Sandbox {
                helper,
                prefix: vec![helper::EMBEDDED.to_owned()],
            }),
            None => Err(SandboxError::NotFound),
        }
    }

    /// Find a separate helper program (for embedders that do not run it
    /// from their own executable; see [`Sandbox::embedded`]).
    pub fn find() -> Result<Sandbox, SandboxError> {
        if let Some(p) = std::env::var_os("RDEBOOTSTRAP_SANDBOX_HELPER") {
            return Ok(Sandbox::at(Path::new(&p)));
        }
        let mut places = Vec::new();
        if let Ok(me) = std::env::current_exe() {
            if let Some(dir) = me.parent() {
                places.push(dir.join(HELPER));
                // A test binary lives in target/<profile>/deps.
                if dir.ends_with("deps") {
                    if let Some(up) = dir.parent() {
                        places.push(up.join(HELPER));
                    }
                }
            }
        }
        if let Some(path) = std::env::var_os("PATH") {
            places.extend(std::env::split_paths(&path).map(|d| d.join(HELPER)));
        }
        places
            .into_iter()
            .find(|p| p.is_file())
            .map(|helper| Sandbox::at(&helper))
            .ok_or(SandboxError::NotFound)
    }

    /// Use this helper program.
    pub fn at(helper: &Path) -> Sandbox {
        Sandbox {
            helper: helper.to_owned(),
            prefix: Vec::new(),
        }
    }

    /// Run `request`'s steps; the first failing step is the error, with
    /// its label, exit status and the end of its standard error. The steps'
    /// own output goes to `log` (standard output and error together).
    /// Returns the steps' changes of owner, in the order they were made
    /// ([`Users::Single`] only).
    pub fn run(&self, request: &Request, log: Stdio) -> Result<Vec<Chown>, SandboxError> {
        self.run_timed(request, log, &mut |_| {})
    }

    /// [`Sandbox::run`], calling `on_event` as each step ends (with its
    /// time; the first one's includes making the sandbox) and with its
    /// status lines.
    pub fn run_timed(
        &self,
        request: &Request,
        log: Stdio,
        on_event: &mut dyn FnMut(StepEvent<'_>),
    ) -> Result<Vec<Chown>, SandboxError> {
        let (chowns, result) = self.exchange(request, log, None, on_event)?;
        result.map(|()| chowns)
    }

    /// Run `request`'s steps as [`Sandbox::run`] does, the last one
    /// attached to `stdin` and `stdout` (and the helper's standard error,
    /// `log`), as a command run interactively or in a pipe is. Returns the
    /// changes of owner made (whether or not a step failed) and the
    /// outcome: a failing step is [`SandboxError::Step`] there.
    pub fn run_attached(
        &self,
        request: &Request,
        stdin: OwnedFd,
        stdout: OwnedFd,
        log: Stdio,
    ) -> Result<(Vec<Chown>, Result<(), SandboxError>), SandboxError> {
        let request = Request {
            stdio: true,
            ..request.clone()
        };
        self.exchange(&request, log, Some((stdin, stdout)), &mut |_| {})
    }

    /// Start the helper, send `request`, read its events: the changes of
    /// owner reported, and how the steps ended.
    #[allow(clippy::type_complexity)]
    fn exchange(
        &self,
        request: &Request,
        log: Stdio,
        stdio: Option<(OwnedFd, OwnedFd)>,
        on_event: &mut dyn FnMut(StepEvent<'_>),
    ) -> Result<(Vec<Chown>, Result<(), SandboxError>), SandboxError> {
        let mut since = std::time::Instant::now();
        let start = |source| SandboxError::Start {
            helper: self.helper.clone(),
            source,
        };
        let mut command = Command::new(&self.helper);
        command
            .args(&self.prefix)
            .arg("run")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(log);
        if let Some((input, output)) = stdio {
            sandbox_protocol::attach_stdio(&mut command, input, output).map_err(start)?;
        }
        let mut child = command.spawn().map_err(start)?;
        // The command's copies of the attached descriptors are closed now
        // that the helper has its own.
        drop(command);
        let mut stdin = child.stdin.take().expect("piped");
        let _ = stdin.write_all(request.to_line().as_bytes());
        // Kept open until the helper is done: if this process dies, the
        // helper sees its standard input close and kills the steps.
        let stdout = BufReader::new(child.stdout.take().expect("piped"));
        let mut result = Err(SandboxError::Incomplete {
            helper: self.helper.clone(),
        });
        let mut chowns = Vec::new();
        let mut stdout = stdout;
        loop {
            // An event is at most a step's 64 KiB of standard error (and
            // its escapes): a longer line is not the helper's.
            let mut buf = Vec::new();
            match (&mut stdout).take(MAX_EVENT).read_until(b'\n', &mut buf) {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
            let line = String::from_utf8_lossy(&buf).into_owned();
            let event: Event = serde_json::from_str(&line).map_err(|_| SandboxError::Protocol {
                helper: self.helper.clone(),
                line: line.chars().take(200).collect(),
            })?;
            if let Event::Step { index, .. } = &event {
                on_event(StepEvent::Ended {
                    index: *index,
                    took: since.elapsed(),
                });
                since = std::time::Instant::now();
            }
            match event {
                Event::Status {
                    index,
                    micros,
                    ref line,
                } => on_event(StepEvent::Status {
                    index,
                    after: std::time::Duration::from_micros(micros),
                    line,
                }),
                Event::Step { status: 0, .. } => {}
                Event::Step {
                    index,
                    status,
                    stderr,
                } => {
                    result = Err(SandboxError::Step {
                        label: request
                            .steps
                            .get(index)
                            .map_or_else(|| format!("step {index}"), |s| s.label.clone()),
                        status,
                        stderr,
                    });
                }
                Event::Chown { path, uid, gid } => chowns.push(Chown { path, uid, gid }),
                Event::Done => {
                    if matches!(result, Err(SandboxError::Incomplete { .. })) {
                        result = Ok(());
                    }
                }
                Event::Failed { what, error } => {
                    result = Err(SandboxError::Setup { what, error });
                }
            }
        }
        drop(stdin);
        let _ = child.wait();
        Ok((chowns, result))
    }
}
