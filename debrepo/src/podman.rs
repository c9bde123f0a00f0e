//! The podman executor: a build's maintainer scripts and build scripts run
//! with `podman run --rootfs TREE` instead of rdebootstrap's own sandbox
//! (`build --executor podman`), for hosts where podman is the container
//! runtime people trust and configure.
//!
//! Each step of a [`Request`] is one `podman run --rm` on the tree, with
//! the request's environment (`--env`, nothing inherited), hostname,
//! network (`--network none` unless asked for, then `host`) and `/` as
//! working directory, a tmpfs on `/tmp` and `/run` (as in the sandbox);
//! podman's own configuration (`containers.conf`:
//! runtime, default ulimits, capabilities) applies as it does to any
//! container. The first failing step stops the rest and is the error,
//! with the end of its standard error.
//!
//! What podman leaves in a root file system it ran on is removed after
//! each step: the `/etc/mtab` link and the empty `/etc/hostname` it
//! creates when the tree has none (`--no-hosts` keeps it from making
//! `/etc/hosts`, and `/run/.containerenv` goes with the tmpfs). Podman
//! mounts its own `/etc/hostname` over the tree's, so a script's change
//! to that file is not kept (the sandbox keeps it). Podman's default
//! environment and the host's proxy variables are not passed
//! (`--unsetenv-all`, `--http-proxy=false`; the `HOSTNAME` podman always
//! sets is unset by `/bin/sh` before the step's program starts). Started as root, the tree's owners are real; rootless,
//! podman maps the caller's subordinate ids as the sandbox does, and the
//! owners the unpacker could not give are given in a first step (`chown`,
//! `chmod`; file capabilities cannot be given that way and are refused).

use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use crate::sandbox::{Chown, Executor, Output, Request, SandboxError, Step, Users};

/// The end of a failing step's standard error kept for its error.
const TAIL: usize = 64 * 1024;

/// What podman may create in the tree: removed after each run when the
/// tree did not have it before and it is still what podman makes (the
/// `/etc/mtab` link to `/proc/mounts`, an empty `/etc/hostname` to mount
/// its own on).
const LEFTOVERS: &[(&str, Leftover)] = &[
    ("etc/mtab", Leftover::LinkTo("/proc/mounts")),
    ("etc/hostname", Leftover::Empty),
];

/// What podman makes at a [`LEFTOVERS`] path.
#[derive(Debug, Clone, Copy)]
enum Leftover {
    LinkTo(&'static str),
    Empty,
}

/// `podman`, found on `PATH`.
#[derive(Debug, Clone)]
pub struct Podman {
    program: PathBuf,
}

impl Podman {
    /// The `podman` on `PATH`, or an error saying what to install.
    pub fn find() -> Result<Podman, SandboxError> {
        let found = std::env::var_os("PATH").and_then(|path| {
            std::env::split_paths(&path)
                .map(|d| d.join("podman"))
                .find(|p| p.is_file())
        });
        match found {
            Some(program) => Ok(Podman { program }),
            None => Err(SandboxError::Setup {
                what: "podman".into(),
                error: "not found on PATH: install it (apt-get install podman), or build with --executor sandbox".into(),
            }),
        }
    }

    /// Use this podman program.
    pub fn at(program: &Path) -> Podman {
        Podman {
            program: program.to_owned(),
        }
    }

    /// The `podman run` command for `step` of `request`.
    fn command(&self, request: &Request, step: &Step) -> Command {
        let mut c = Command::new(&self.program);
        // /tmp and /run as the sandbox has them: empty, and gone after.
        // Nothing of podman's own environment (its defaults, the host's
        // proxy variables): the request's alone.
        c.args(["run", "--rm", "--no-hosts", "--workdir", "/"])
            .args(["--tmpfs", "/tmp", "--tmpfs", "/run"])
            .args(["--unsetenv-all", "--http-proxy=false"])
            .arg("--network")
            .arg(if request.network { "host" } else { "none" })
            .arg("--hostname")
            .arg(&request.hostname);
        for (k, v) in request.env.iter().chain(&step.env) {
            c.arg("--env").arg(format!("{k}={v}"));
        }
        // --rootfs is a flag: the tree is the first argument after the
        // options, the command follows.
        c.arg("--rootfs").arg(&request.root);
        // podman sets HOSTNAME whatever it is asked: a shell takes it out
        // again, unless the request sets it itself.
        if !request
            .env
            .iter()
            .chain(&step.env)
            .any(|(k, _)| k == "HOSTNAME")
        {
            c.args(["/bin/sh", "-c", "unset HOSTNAME; exec \"$@\"", "sh"]);
        }
        if step.status_fd {
            // No status pipe through podman: one that reads nothing.
            c.args(["/bin/sh", "-c", "exec \"$@\" 3>/dev/null", "sh"]);
        }
        c.args(&step.argv);
        c.stdin(Stdio::null());
        c
    }
}

/// `chown`/`chmod` commands giving `request.owners` (see
/// [`crate::ownership::owners`]), for a first step.
fn owners_script(request: &Request) -> Result<String, SandboxError> {
    let quote = |s: &str| format!("'{}'", s.replace('\'', "'\\''"));
    let mut script = String::from("set -e\n");
    for o in &request.owners {
        if !o.xattrs.is_empty() {
            return Err(SandboxError::Setup {
                what: "podman".into(),
                error: format!(
                    "{} needs extended attributes ({}), which a rootless podman build cannot give: build as root, or with --executor sandbox",
                    o.path,
                    o.xattrs.iter().map(|(k, _)| k.as_str()).collect::<Vec<_>>().join(", ")
                ),
            });
        }
        script += &format!("chown -h {}:{} {}\n", o.uid, o.gid, quote(&o.path));
        if let Some(mode) = o.mode {
            script += &format!("chmod {mode:o} {}\n", quote(&o.path));
        }
    }
    Ok(script)
}

impl Executor for Podman {
    fn run_steps(
        &self,
        request: &Request,
        output: Output,
        on_event: &mut dyn FnMut(crate::sandbox::StepEvent<'_>),
    ) -> Result<Vec<Chown>, SandboxError> {
        if !request.binds.is_empty() {
            return Err(SandboxError::Setup {
                what: "podman".into(),
                error: "binds are for rdebootstrap run, which uses the sandbox".into(),
            });
        }
        if request.users == Users::Single {
            return Err(SandboxError::Setup {
                what: "podman".into(),
                error: "rootless podman needs subordinate ids (/etc/subuid, /etc/subgid) for the packages' owners: add them, or build with --executor sandbox".into(),
            });
        }
        // Every output goes to `log`: one descriptor, copied per step.
        let log = match output {
            Output::Hidden => None,
            Output::Shown => {
                use std::os::fd::AsFd;
                Some(
                    std::io::stderr()
                        .as_fd()
                        .try_clone_to_owned()
                        .map_err(|e| SandboxError::Setup {
                            what: "podman".into(),
                            error: format!("cannot pass on the scripts' output: {e}"),
                        })?,
                )
            }
        };
        let mut steps: Vec<(Option<usize>, Step)> = Vec::new();
        if !request.owners.is_empty() {
            steps.push((
                None,
                Step {
                    label: "give the packages' owners".into(),
                    argv: vec!["/bin/sh".into(), "-c".into(), owners_script(request)?],
                    env: Vec::new(),
                    status_fd: false,
                },
            ));
        }
        steps.extend(
            request
                .steps
                .iter()
                .cloned()
                .enumerate()
                .map(|(i, s)| (Some(i), s)),
        );
        let tree = crate::tree::Tree::open(&request.root).map_err(|e| SandboxError::Setup {
            what: "podman".into(),
            error: format!("{}: {e}", request.root.display()),
        })?;
        let before: Vec<bool> = LEFTOVERS
            .iter()
            .map(|(p, _)| tree.lstat(Path::new(p)).is_ok())
            .collect();
        let mut result = Ok(Vec::new());
        for (index, step) in &steps {
            let started = Instant::now();
            let r = self.run_step(request, step, log.as_ref());
            clean(&tree, &before);
            if let Some(i) = index {
                on_event(crate::sandbox::StepEvent::Ended {
                    index: *i,
                    took: started.elapsed(),
                });
            }
            if let Err(e) = r {
                result = Err(e);
                break;
            }
        }
        result
    }
}

impl Podman {
    fn run_step(
        &self,
        request: &Request,
        step: &Step,
        log: Option<&std::os::fd::OwnedFd>,
    ) -> Result<(), SandboxError> {
        let start = |source| SandboxError::Start {
            helper: self.program.clone(),
            source,
        };
        let mut c = self.command(request, step);
        match log {
            Some(fd) => c.stdout(Stdio::from(fd.try_clone().map_err(start)?)),
            None => c.stdout(Stdio::null()),
        };
        c.stderr(Stdio::piped());
        let mut child = c.spawn().map_err(start)?;
        // Standard error as it comes, to the log, keeping its end for the
        // error (at most two tails' worth in memory).
        let mut log_file = match log {
            Some(fd) => Some(std::fs::File::from(fd.try_clone().map_err(start)?)),
            None => None,
        };
        let mut stderr: Vec<u8> = Vec::new();
        if let Some(mut pipe) = child.stderr.take() {
            let mut buf = [0u8; 8192];
            while let Ok(n) = pipe.read(&mut buf) {
                if n == 0 {
                    break;
                }
                if let Some(f) = &mut log_file {
                    let _ = std::io::Write::write_all(f, &buf[..n]);
                }
                stderr.extend_from_slice(&buf[..n]);
                if stderr.len() > 2 * TAIL {
                    stderr.drain(..stderr.len() - TAIL);
                }
            }
        }
        let status = child.wait().map_err(start)?;
        if status.success() {
            return Ok(());
        }
        let text =
            String::from_utf8_lossy(&stderr[stderr.len().saturating_sub(TAIL)..]).into_owned();
        let code = status.code().unwrap_or(128);
        // podman's own failures (it could not make or start the
        // container) are 125 with its "Error:" line (126 and 127 are also
        // a command's own "cannot run" and "not found").
        let podmans = |l: &str| l.starts_with("Error: ") && (code == 125 || l.contains("OCI"));
        if code >= 125 && text.lines().any(podmans) {
            return Err(SandboxError::Setup {
                what: format!("podman, for {}", step.label),
                error: format!(
                    "{} (check that `podman run --rm --rootfs {} /bin/true` works here; its configuration is containers.conf)",
                    text.trim_end(),
                    request.root.display()
                ),
            });
        }
        Err(SandboxError::Step {
            label: step.label.clone(),
            status: code,
            stderr: text,
        })
    }
}

/// Remove what podman made in `tree` that was not there `before` (see
/// [`LEFTOVERS`]) and is still as podman made it.
fn clean(tree: &crate::tree::Tree, before: &[bool]) {
    for ((path, kind), had) in LEFTOVERS.iter().zip(before) {
        let rel = Path::new(path);
        let Ok(st) = tree.lstat(rel) else { continue };
        let made = match kind {
            Leftover::Empty => {
                rustix::fs::FileType::from_raw_mode(st.st_mode) == rustix::fs::FileType::RegularFile
                    && st.st_size == 0
            }
            Leftover::LinkTo(target) => tree
                .open_path(Path::new(""), true)
                .ok()
                .and_then(|root| rustix::fs::readlinkat(&root, *path, Vec::new()).ok())
                .is_some_and(|t| t.as_bytes() == target.as_bytes()),
        };
        if !had && made {
            let _ = tree.remove_file(rel);
        }
    }
}
