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
//! `/etc/hosts`, and `/run/.containerenv` goes with the tmpfs). Started as root, the tree's owners are real; rootless,
//! podman maps the caller's subordinate ids as the sandbox does, and the
//! owners the unpacker could not give are given in a first step (`chown`,
//! `chmod`; file capabilities cannot be given that way and are refused).

use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::sandbox::{Chown, Executor, Output, Request, SandboxError, Step, Users};

/// What podman may create in the tree, removed after each run when the
/// tree did not have it before.
const LEFTOVERS: &[&str] = &["etc/mtab", "etc/hostname", "etc/hosts", "run/.containerenv"];

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
        c.args(["run", "--rm", "--no-hosts", "--workdir", "/"])
            .args(["--tmpfs", "/tmp", "--tmpfs", "/run"])
            .arg("--network")
            .arg(if request.network { "host" } else { "none" })
            .arg("--hostname")
            .arg(&request.hostname);
        for (k, v) in request.env.iter().chain(&step.env) {
            c.arg("--env").arg(format!("{k}={v}"));
        }
        // --rootfs is a flag: the tree is the first argument after the
        // options, the command follows.
        c.arg("--rootfs").arg(&request.root).args(&step.argv);
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
        step_done: &mut dyn FnMut(usize, Duration),
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
        let before: Vec<bool> = LEFTOVERS
            .iter()
            .map(|p| std::fs::symlink_metadata(request.root.join(p)).is_ok())
            .collect();
        let mut result = Ok(Vec::new());
        for (index, step) in &steps {
            let started = Instant::now();
            let r = self.run_step(request, step, log.as_ref());
            clean(&request.root, &before);
            if let Some(i) = index {
                step_done(*i, started.elapsed());
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
        let mut stderr = Vec::new();
        if let Some(mut pipe) = child.stderr.take() {
            let _ = pipe.read_to_end(&mut stderr);
        }
        let status = child.wait().map_err(start)?;
        if let Some(fd) = log {
            let _ = std::io::Write::write_all(
                &mut std::fs::File::from(fd.try_clone().map_err(start)?),
                &stderr,
            );
        }
        if status.success() {
            return Ok(());
        }
        let text =
            String::from_utf8_lossy(&stderr[stderr.len().saturating_sub(64 * 1024)..]).into_owned();
        let code = status.code().unwrap_or(128);
        // podman's own failures (it could not make or start the
        // container) are 125 and up with its "Error:" line.
        if code >= 125 && text.lines().any(|l| l.starts_with("Error: ")) {
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

/// Remove what podman made in the tree at `root` that was not there
/// `before` (see [`LEFTOVERS`]).
fn clean(root: &Path, before: &[bool]) {
    let Ok(tree) = crate::tree::Tree::open(root) else {
        return;
    };
    for (path, had) in LEFTOVERS.iter().zip(before) {
        if !had {
            let _ = tree.remove_file(Path::new(path));
        }
    }
}
