//! The sandbox helper: runs commands inside a tree, in new user, mount,
//! PID, UTS and IPC namespaces (and network, unless asked to keep it).
//!
//! It is a program of its own only in the sense of a process: any
//! executable can be it, by calling [`main`] first thing in its own
//! `main` with the arguments that select it (rdebootstrap runs itself as
//! `rdebootstrap __sandbox-helper run`, see [`EMBEDDED`]; the crate's
//! `rdebootstrap-sandbox-helper` binary is `main` alone). Started with
//! `run`, it reads a [`Request`] on standard input and answers with
//! [`Event`] lines on standard output (see the protocol, the crate's
//! root). It starts a second helper process (`mapped`) that unshares the
//! namespaces; `run`, still outside, gives the new user namespace its ids
//! (only a process outside may), then passes the events on. `mapped`
//! starts itself again as the first process of the new PID namespace
//! (`init`), which mounts `/proc` (its kernel settings read-only), a
//! read-only `/sys`, a minimal `/dev`, and tmpfs on `/tmp` and `/run`
//! inside the tree, pivots into it, forbids new privileges and the system
//! calls of [`sys::DENIED`] (seccomp), and runs the steps. The mounts
//! live only in the helper's mount namespace: the tree keeps none of them.
//!
//! # Threat model
//!
//! Packages are hostile: a maintainer script (or anything it starts) may
//! try anything root can. Whoever runs the helper, the steps run as root
//! of a user namespace nested in the sandbox's own (`init` makes it after
//! setting up the mounts; `mapped` gives it the sandbox's ids, each as
//! itself), so their capabilities reach only what that namespace owns:
//! no capability over the sandbox's mounts, hostname or network, nor over
//! `init`, which is not dumpable (its memory and descriptors, the
//! protocol pipe among them, are out of reach).
//!
//! - Started as root ([`Users::Host`]), every id maps to itself: the
//!   tree's owners are real, but no capability counts on the host. Device
//!   nodes cannot be made (only the sandbox's own `/dev` exists), and the
//!   tree is mounted `nosuid,nodev` (with any mount below it), so a node a
//!   package shipped cannot be opened. Root inside is still kuid 0 to
//!   permission checks that look only at owners, so `/proc/sys`, the SysRq
//!   trigger and the kernel's hardware interfaces under `/proc` (SCSI,
//!   ACPI, sound, dynamic debug) are bound read-only, and `/sys` is
//!   read-only with everything mounted below it.
//! - Not started as root, root inside is the caller (with its
//!   subordinate ids, [`Users::Subordinate`], or alone, [`Users::Single`]):
//!   a script can do no more than the caller could.
//! - Either way the steps see only the tree: the host's root is detached
//!   after pivot_root, no descriptor but standard input, output and error
//!   is inherited, the PID namespace shows no host process, the steps have
//!   a session of their own (no controlling terminal), the network is a
//!   new empty namespace unless asked for, and `no_new_privs` and a
//!   seccomp filter (on every thread) refuse what container runtimes
//!   refuse by default: mounts, new namespaces, kernel modules, kexec,
//!   reboot, swap, the keyring, BPF, perf, io_uring, file handles, clock
//!   changes, tracing and other processes' memory, typing into a terminal
//!   (TIOCSTI), vsock sockets, and every system call newer than the
//!   filter (see [`sys::DENIED`]).
//! - Mount targets are opened inside the tree without following symbolic
//!   links: a tree whose `dev`, `proc`, `sys`, `tmp` or `run` is a link is
//!   refused (rdebootstrap checks first, and names the package).
//! - Nothing outlives the helper: the steps are in its PID namespace,
//!   whose first process dies with `mapped` (parent-death signal), which
//!   dies with `run`; `run` kills it when its standard input closes, as it
//!   does when rdebootstrap dies.
//!
//! What a hostile package can still do: anything inside the tree (which
//! is what installing it means); use CPU, memory and disk space (no
//! limits are set); read what the kernel shows every process (`/proc`'s
//! `timer_list`, `/sys`); with `--network`, reach the network as the
//! caller's processes can, abstract unix sockets of the host included;
//! and, from an i386 program, open sockets through `socketcall`, which
//! the filter cannot look into (vsock is then open to it). Inside a
//! chroot, as root, `run` first leaves it into a mount namespace whose
//! root is the chroot's directory, so that the rest works as anywhere;
//! where pivot_root is still impossible, the tree's mount is moved onto
//! `/` and chrooted into instead, and the filter refuses `chroot` too
//! (the classic way out of one).
//!
//! With [`Users::Single`], root is the only id inside, and `init`
//! intercepts changes of owner (see `chown`).

#[path = "chown.rs"]
mod chown;
#[path = "sys.rs"]
pub mod sys;

use std::io::{BufRead, Read, Write};
use std::os::fd::OwnedFd;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};

use crate::{Event, IdRange, Request, Users, PROTOCOL};

use sys::{Kernel, Linux};

/// The first argument with which an executable that embeds the helper
/// (calls [`main`] first) runs as the helper; the next is the helper's
/// own (`run`).
pub const EMBEDDED: &str = "__sandbox-helper";

/// How this process runs itself again for the helper's later stages: the
/// arguments before the stage's name (empty for the helper's own binary,
/// [`EMBEDDED`] for an executable that embeds it).
static PREFIX: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();

/// If this process was started as the helper (its first argument is
/// [`EMBEDDED`]), run as the helper and return its exit code; otherwise
/// `None`, at once. Call it first thing in `main`, before any thread is
/// started: the helper's stages must be single-threaded to make user
/// namespaces.
pub fn embedded() -> Option<ExitCode> {
    let mut args = std::env::args().skip(1);
    if args.next().as_deref() != Some(EMBEDDED) {
        return None;
    }
    Some(main(&[EMBEDDED], args.collect()))
}

/// Run as the helper, at the stage `args` names (`run` from a caller;
/// `mapped` and `init` as the helper starts itself again, after
/// `prefix`).
pub fn main(prefix: &[&str], args: Vec<String>) -> ExitCode {
    let _ = PREFIX.set(prefix.iter().map(|s| (*s).to_owned()).collect());
    match args.first().map(String::as_str) {
        Some("--version") => {
            println!(
                "rdebootstrap-sandbox-helper {} (protocol {PROTOCOL})",
                env!("CARGO_PKG_VERSION")
            );
            ExitCode::SUCCESS
        }
        Some("run") => outer(&Linux),
        Some("mapped") => mapped(&Linux),
        Some("init") => init(&Linux),
        _ => {
            eprintln!("rdebootstrap-sandbox-helper: started by rdebootstrap, not by hand (usage: run, with a request on standard input)");
            ExitCode::from(2)
        }
    }
}

/// The longest status line reported ([`Event::Status`]).
const STATUS_LINE: u64 = 4096;

fn emit(e: &Event) {
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(e.to_line().as_bytes());
    let _ = out.flush();
}

fn fail(what: &str, error: impl std::fmt::Display) -> ExitCode {
    emit(&Event::Failed {
        what: what.to_owned(),
        error: error.to_string(),
    });
    ExitCode::from(1)
}

fn read_request(input: &mut dyn BufRead) -> Result<(Request, String), String> {
    let mut line = String::new();
    input
        .read_line(&mut line)
        .map_err(|e| format!("cannot read the request: {e}"))?;
    let req: Request = serde_json::from_str(&line).map_err(|e| format!("invalid request: {e}"))?;
    if req.protocol != PROTOCOL {
        return Err(format!(
            "request for protocol {}, this helper speaks {PROTOCOL}: use the helper of the same release",
            req.protocol
        ));
    }
    Ok((req, line))
}

/// This program, to start again: `/proc/self/exe`, which reaches the
/// running executable even when its file has been replaced or removed
/// since (an upgrade during a build); without `/proc` (a bare chroot), the
/// path it was started by, when that is a full one. Found before any
/// namespace is entered.
fn this_program() -> Result<PathBuf, String> {
    let proc = Path::new("/proc/self/exe");
    if proc.exists() {
        return Ok(proc.to_owned());
    }
    let arg0 = std::env::args_os().next().unwrap_or_default();
    let p = PathBuf::from(arg0);
    if p.is_absolute() && p.is_file() {
        return Ok(p);
    }
    Err(format!(
        "cannot find this program ({} is not a full path and /proc is not mounted)",
        p.display()
    ))
}

/// `program` with `arg`, to die with this process (parent-death signal).
fn child_command(program: &Path, arg: &str) -> Command {
    let mut c = Command::new(program);
    c.args(PREFIX.get().into_iter().flatten()).arg(arg);
    let parent = rustix::process::getpid();
    // SAFETY: the closure runs in the child between fork and exec, and
    // makes only async-signal-safe system calls (prctl, getppid), with no
    // allocation; a failure is returned as an error, which std reports
    // to the parent.
    unsafe {
        c.pre_exec(move || {
            rustix::process::set_parent_process_death_signal(Some(rustix::process::Signal::KILL))?;
            // The parent died before the signal was armed. (The first
            // process of a new PID namespace sees no parent: None.)
            let ppid = rustix::process::getppid();
            if ppid.is_some() && ppid != Some(parent) {
                return Err(std::io::Error::from(std::io::ErrorKind::BrokenPipe));
            }
            Ok(())
        });
    }
    c
}

/// The first descriptor a stage closes: the caller's standard input and
/// output stay open when the request passes them on.
fn first_closed(req: &Request) -> u32 {
    if req.stdio {
        crate::STDIO_FDS[1] as u32 + 1
    } else {
        3
    }
}

/// Sent by `mapped` once it has unshared, and answered once it is mapped:
/// not JSON, so never mistaken for an event.
const UNSHARED: &str = "unshared\n";
const MAPPED: &str = "mapped\n";
/// Sent by `init` once it has made the steps' user namespace, answered
/// with [`MAPPED`] once `mapped` has given it its ids.
const NESTED: &str = "nested\n";

/// Start `mapped`, give its user namespace its ids once it has unshared,
/// pass its events on; kill it if standard input closes first (the
/// caller died).
fn outer(k: &dyn Kernel) -> ExitCode {
    let (req, line) = match read_request(&mut std::io::stdin().lock()) {
        Ok(r) => r,
        Err(e) => return fail("request", e),
    };
    if let Err(e) = k.close_other_fds(first_closed(&req)) {
        return fail("close inherited file descriptors", e);
    }
    // Found first: in a bare chroot, before /proc is mounted for us.
    let me = match this_program() {
        Ok(m) => m,
        Err(e) => return fail("find this program", e),
    };
    if req.users == Users::Host {
        match k.leave_chroot(&req.root) {
            Ok(_) => {}
            Err(e) => return fail("leave the chroot this helper runs in", e),
        }
    }
    if !Path::new("/proc/self").exists() {
        // A bare chroot: the ids are written through /proc.
        if req.users != Users::Host {
            return fail(
                "/proc",
                "not mounted: inside a chroot, mount it first (mount -t proc proc /proc)",
            );
        }
        if let Err(e) = k.private_proc() {
            return fail("mount /proc for the helper", e);
        }
    }
    let child = child_command(&me, "mapped")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn();
    let mut child = match child {
        Ok(c) => c,
        Err(e) => return fail("start the process to map", e),
    };
    let pidfd = match rustix::process::pidfd_open(
        rustix::process::Pid::from_child(&child),
        rustix::process::PidfdFlags::empty(),
    ) {
        Ok(fd) => fd,
        Err(e) => {
            let _ = child.kill();
            let _ = child.wait();
            return fail("watch the sandbox (pidfd_open)", e);
        }
    };
    let mut to_child = child.stdin.take().expect("piped");
    let mut from_child = std::io::BufReader::new(child.stdout.take().expect("piped"));
    let _ = to_child.write_all(line.as_bytes());
    let mut first = String::new();
    let _ = from_child.read_line(&mut first);
    if first == UNSHARED {
        if let Err((what, error)) = map_ids(child.id(), &req.users) {
            let _ = child.kill();
            let _ = child.wait();
            return fail(&what, error);
        }
        let _ = to_child.write_all(MAPPED.as_bytes());
    } else {
        // An event (the unsharing failed): pass it on.
        let _ = std::io::stdout().write_all(first.as_bytes());
    }
    drop(to_child);
    // The caller keeps our standard input open while it waits for us:
    // end of file means it is gone, and so must everything we started.
    std::thread::spawn(move || {
        let mut buf = [0u8; 512];
        let mut input = std::io::stdin();
        while matches!(input.read(&mut buf), Ok(n) if n > 0) {}
        let _ = rustix::process::pidfd_send_signal(&pidfd, rustix::process::Signal::KILL);
    });
    let _ = std::io::copy(&mut from_child, &mut std::io::stdout().lock());
    match child.wait() {
        Ok(s) if s.success() => ExitCode::SUCCESS,
        Ok(s) if s.code().is_none() => fail("the sandbox", format!("ended by {s}")),
        Ok(_) => ExitCode::from(1),
        Err(e) => fail("wait for the sandbox", e),
    }
}

/// Give the steps' user namespace, nested in the sandbox's, made by
/// `init` (whose `/proc` directory is `proc`, opened before `init`
/// pivoted the shared mount namespace away from the host's `/proc`), the
/// ids of the sandbox's: each as itself.
fn map_nested(proc: &OwnedFd, users: &Users) -> Result<(), (String, String)> {
    // One line per extent of the sandbox's own map: an extent may not
    // span two of the parent's.
    let (uids, gids) = match users {
        Users::Host => ("0 0 4294967295".to_owned(), "0 0 4294967295".to_owned()),
        Users::Single => ("0 0 1".to_owned(), "0 0 1".to_owned()),
        Users::Subordinate { uids, gids } => (
            format!("0 0 1\n1 1 {}", uids.count),
            format!("0 0 1\n1 1 {}", gids.count),
        ),
    };
    for (file, map) in [("uid_map", uids), ("gid_map", gids)] {
        let what = |e: &dyn std::fmt::Display| (format!("the steps' {file}"), e.to_string());
        let fd = rustix::fs::openat(
            proc,
            file,
            rustix::fs::OFlags::WRONLY | rustix::fs::OFlags::CLOEXEC,
            rustix::fs::Mode::empty(),
        )
        .map_err(|e| what(&e))?;
        rustix::io::write(&fd, map.as_bytes()).map_err(|e| what(&e))?;
    }
    Ok(())
}

/// Give the user namespace of process `pid` its ids: every id as itself
/// (root), the caller's subordinate ranges (newuidmap, newgidmap), or the
/// caller alone.
fn map_ids(pid: u32, users: &Users) -> Result<(), (String, String)> {
    let (uid, gid) = (
        rustix::process::getuid().as_raw(),
        rustix::process::getgid().as_raw(),
    );
    let write = |file: &str, text: &str| {
        let path = format!("/proc/{pid}/{file}");
        std::fs::write(&path, text).map_err(|e| (path, e.to_string()))
    };
    match users {
        Users::Host => {
            // Every id but the invalid one (2^32 - 1).
            write("uid_map", "0 0 4294967295")?;
            write("gid_map", "0 0 4294967295")?;
        }
        Users::Single => {
            write("setgroups", "deny")?;
            write("uid_map", &format!("0 {uid} 1"))?;
            write("gid_map", &format!("0 {gid} 1"))?;
        }
        Users::Subordinate { uids, gids } => {
            for (tool, own, range) in [("newuidmap", uid, uids), ("newgidmap", gid, gids)] {
                subordinate_map(tool, pid, own, range).map_err(|e| (tool.to_owned(), e))?;
            }
        }
    }
    Ok(())
}

/// `newuidmap PID 0 OWN 1 1 START COUNT` (or newgidmap).
fn subordinate_map(tool: &str, pid: u32, own: u32, range: &IdRange) -> Result<(), String> {
    let out = Command::new(tool)
        .args([
            pid.to_string(),
            "0".into(),
            own.to_string(),
            "1".into(),
            "1".into(),
        ])
        .args([range.start.to_string(), range.count.to_string()])
        .stdin(Stdio::null())
        .output();
    match out {
        Ok(o) if o.status.success() => Ok(()),
        Ok(o) => Err(format!(
            "{}: {}",
            o.status,
            String::from_utf8_lossy(&o.stderr).trim()
        )),
        Err(e) => Err(format!(
            "{e} (it comes with the uidmap package; without subordinate ids in /etc/subuid and /etc/subgid, the helper maps root to you alone)"
        )),
    }
}

/// In new namespaces, once `run` has mapped the ids: start `init`.
fn mapped(k: &dyn Kernel) -> ExitCode {
    let mut input = std::io::stdin().lock();
    let (req, line) = match read_request(&mut input) {
        Ok(r) => r,
        Err(e) => return fail("request", e),
    };
    let me = match this_program() {
        Ok(m) => m,
        Err(e) => return fail("find this program", e),
    };
    if let Err(e) = k.unshare(!req.network) {
        return fail("unshare the namespaces", e);
    }
    {
        let mut out = std::io::stdout().lock();
        let _ = out.write_all(UNSHARED.as_bytes());
        let _ = out.flush();
    }
    let mut answer = String::new();
    if input.read_line(&mut answer).is_err() || answer != MAPPED {
        // `run` reports why.
        return ExitCode::from(1);
    }
    let child = child_command(&me, "init")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn();
    let mut child = match child {
        Ok(c) => c,
        Err(e) => return fail("start the namespace's first process", e),
    };
    // Opened before `init` has the request, so before it pivots.
    let proc = rustix::fs::open(
        format!("/proc/{}", child.id()).as_str(),
        rustix::fs::OFlags::PATH | rustix::fs::OFlags::DIRECTORY | rustix::fs::OFlags::CLOEXEC,
        rustix::fs::Mode::empty(),
    );
    let proc = match proc {
        Ok(p) => p,
        Err(e) => {
            let _ = child.kill();
            let _ = child.wait();
            return fail("open the first process's /proc directory", e);
        }
    };
    let mut to_init = child.stdin.take().expect("piped");
    let mut from_init = std::io::BufReader::new(child.stdout.take().expect("piped"));
    let _ = to_init.write_all(line.as_bytes());
    let mut first = String::new();
    let _ = from_init.read_line(&mut first);
    if first == NESTED {
        if let Err((what, error)) = map_nested(&proc, &req.users) {
            let _ = child.kill();
            let _ = child.wait();
            return fail(&what, error);
        }
        let _ = to_init.write_all(MAPPED.as_bytes());
    } else {
        // An event (the setup failed): pass it on.
        let _ = std::io::stdout().write_all(first.as_bytes());
    }
    drop(to_init);
    let _ = std::io::copy(&mut from_init, &mut std::io::stdout().lock());
    match child.wait() {
        Ok(s) if s.success() => ExitCode::SUCCESS,
        Ok(s) => {
            // init reports its own failures; a crash needs saying.
            if s.code().is_none() {
                return fail("the namespace's first process", format!("ended by {s}"));
            }
            ExitCode::from(1)
        }
        Err(e) => fail("wait for the namespace's first process", e),
    }
}

/// PID 1 of the new namespace: mount, pivot, run the steps.
fn init(k: &dyn Kernel) -> ExitCode {
    let (req, _) = match read_request(&mut std::io::stdin().lock()) {
        Ok(r) => r,
        Err(e) => return fail("request", e),
    };
    if let Err(e) = k.close_other_fds(first_closed(&req)) {
        return fail("close inherited file descriptors", e);
    }
    // The caller's standard input and output, for the last step; closed
    // on exec, so that no other step inherits them.
    let mut stdio = None;
    if req.stdio {
        let take = |fd: i32| -> std::io::Result<OwnedFd> {
            // SAFETY: the descriptor was handed down by the caller for
            // this (see `attach_stdio`), survived close_other_fds, and
            // nothing else in this process owns it.
            let owned = unsafe { <OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fd) };
            rustix::io::fcntl_setfd(&owned, rustix::io::FdFlags::CLOEXEC)?;
            Ok(owned)
        };
        match take(crate::STDIO_FDS[0]).and_then(|i| Ok((i, take(crate::STDIO_FDS[1])?))) {
            Ok(fds) => stdio = Some(fds),
            Err(e) => return fail("take the caller's standard input and output", e),
        }
    }
    for op in sys::plan().into_iter().chain(sys::binds(&req.binds)) {
        if let Err(e) = k.apply(&req.root, &op) {
            return fail(&op.describe(&req.root), e);
        }
    }
    let entered = match k.enter(&req.root) {
        Ok(e) => e,
        Err(e) => return fail("enter the tree (pivot_root)", e),
    };
    if let Err(e) = k.sethostname(&req.hostname) {
        return fail("set the hostname", e);
    }
    for owner in &req.owners {
        if let Err(e) = k.set_owner(owner) {
            return fail(&format!("give {} its owner", owner.path), e);
        }
    }
    // The steps' own user namespace, which `mapped` gives its ids: they
    // hold no capability over the sandbox's mounts, hostname or network,
    // nor over this process, which they cannot trace, read or write.
    if let Err(e) = k.nest() {
        return fail("make the steps' user namespace", e);
    }
    {
        let mut out = std::io::stdout().lock();
        let _ = out.write_all(NESTED.as_bytes());
        let _ = out.flush();
    }
    let mut answer = String::new();
    if std::io::stdin().read_line(&mut answer).is_err() || answer != MAPPED {
        // `mapped` reports why.
        return ExitCode::from(1);
    }
    if let Err(e) = k.seal() {
        return fail("leave the terminal's session and stop being dumpable", e);
    }
    if req.users == Users::Single {
        match k.intercept_chown() {
            Ok(listener) => {
                std::thread::spawn(move || chown::serve(&Linux, listener));
            }
            Err(e) => return fail("intercept changes of owner (seccomp)", e),
        }
    }
    if let Err(e) = k.lock_down(entered, req.suppress_sync) {
        return fail("forbid new privileges and system calls (seccomp)", e);
    }
    for (index, step) in req.steps.iter().enumerate() {
        let Some((program, args)) = step.argv.split_first() else {
            return fail(&step.label, "empty command");
        };
        let mut command = Command::new(program);
        command
            .args(args)
            .env_clear()
            .envs(req.env.iter().cloned())
            .envs(step.env.iter().cloned())
            .current_dir("/");
        let attached = index + 1 == req.steps.len() && stdio.is_some();
        match if attached { stdio.take() } else { None } {
            // The caller's own: its standard error is the helper's.
            Some((input, output)) => {
                command
                    .stdin(Stdio::from(input))
                    .stdout(Stdio::from(output))
                    .stderr(Stdio::inherit());
            }
            None => {
                command
                    .stdin(Stdio::null())
                    // Standard output is the protocol channel: a step's
                    // output goes to the helper's standard error.
                    .stdout(
                        match std::os::fd::AsFd::as_fd(&std::io::stderr()).try_clone_to_owned() {
                            Ok(fd) => Stdio::from(fd),
                            Err(_) => Stdio::null(),
                        },
                    )
                    .stderr(Stdio::piped());
            }
        }
        let started = std::time::Instant::now();
        let status_pipe = if step.status_fd {
            match rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC) {
                Ok((read, write)) => {
                    let raw = std::os::fd::AsRawFd::as_raw_fd(&write);
                    // SAFETY: the closure runs in the child between fork
                    // and exec and makes one async-signal-safe call (dup2
                    // or fcntl), with no allocation. `raw` stays open in the
                    // parent until the child has started (`write` is
                    // dropped after spawn).
                    unsafe {
                        command.pre_exec(move || {
                            // dup2 onto itself would keep close-on-exec.
                            let kept = if raw == crate::STATUS_FD {
                                libc::fcntl(raw, libc::F_SETFD, 0)
                            } else {
                                libc::dup2(raw, crate::STATUS_FD)
                            };
                            if kept < 0 {
                                return Err(std::io::Error::last_os_error());
                            }
                            Ok(())
                        });
                    }
                    Some((read, write))
                }
                Err(e) => return fail(&step.label, format!("cannot make a status pipe: {e}")),
            }
        } else {
            None
        };
        let child = command.spawn();
        // The step has its copy (descriptor 3); the reader sees the end
        // when the step and what it started are done with it.
        let status_read = status_pipe.map(|(read, _write)| read);
        let mut child = match child {
            Ok(c) => c,
            Err(e) => return fail(&step.label, format!("cannot start {program}: {e}")),
        };
        let (status_tx, status_rx) = std::sync::mpsc::channel::<()>();
        match status_read {
            Some(read) => {
                std::thread::spawn(move || {
                    let mut lines = std::io::BufReader::new(std::fs::File::from(read));
                    loop {
                        let mut buf = Vec::new();
                        match std::io::BufRead::read_until(
                            &mut (&mut lines).take(STATUS_LINE),
                            b'\n',
                            &mut buf,
                        ) {
                            Ok(0) | Err(_) => break,
                            Ok(_) => {}
                        }
                        if buf.last() != Some(&b'\n') {
                            // Cut: skip to the end of the line.
                            let mut rest = Vec::new();
                            let _ = std::io::BufRead::read_until(&mut lines, b'\n', &mut rest);
                        }
                        let line = String::from_utf8_lossy(&buf).trim_end().to_owned();
                        emit(&Event::Status {
                            index,
                            micros: started.elapsed().as_micros() as u64,
                            line,
                        });
                    }
                    let _ = status_tx.send(());
                });
            }
            None => drop(status_tx),
        }
        // Read standard error on a thread: a process the step left in the
        // background may keep the pipe open after the step has ended.
        let collected = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let (done_tx, done_rx) = std::sync::mpsc::channel();
        if let Some(mut pipe) = child.stderr.take() {
            let collected = collected.clone();
            std::thread::spawn(move || {
                let mut buf = [0u8; 8192];
                while let Ok(n) = pipe.read(&mut buf) {
                    if n == 0 {
                        break;
                    }
                    collected
                        .lock()
                        .expect("stderr")
                        .extend_from_slice(&buf[..n]);
                }
                let _ = done_tx.send(());
            });
        } else {
            drop(done_tx);
        }
        let status = match child.wait() {
            Ok(s) => s,
            Err(e) => return fail(&step.label, e),
        };
        let _ = done_rx.recv_timeout(std::time::Duration::from_millis(200));
        // Its status lines come before its end.
        let _ = status_rx.recv_timeout(std::time::Duration::from_millis(200));
        let stderr = std::mem::take(&mut *collected.lock().expect("stderr"));
        let code = status.code().unwrap_or_else(|| {
            128 + std::os::unix::process::ExitStatusExt::signal(&status).unwrap_or(0)
        });
        // Keep the end, where the reason usually is.
        let tail = stderr.len().saturating_sub(64 * 1024);
        let _ = std::io::stderr().write_all(&stderr);
        emit(&Event::Step {
            index,
            status: code,
            stderr: String::from_utf8_lossy(&stderr[tail..]).into_owned(),
        });
        if code != 0 {
            break;
        }
    }
    emit(&Event::Done);
    ExitCode::SUCCESS
}
