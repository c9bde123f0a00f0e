//! rdebootstrap-sandbox-helper: runs commands inside a tree, in new mount,
//! PID, UTS and IPC namespaces (and network, unless asked to keep it; and
//! user, when not started as root).
//!
//! `rdebootstrap-sandbox-helper run` reads a [`Request`] on standard input
//! and answers with [`Event`] lines on standard output (see the library).
//! It unshares the namespaces, then starts itself again as the first
//! process of the new PID namespace (`init`), which mounts `/proc`, a
//! read-only `/sys`, a minimal `/dev`, and tmpfs on `/tmp` and `/run`
//! inside the tree, pivots into it and runs the steps. When that first
//! process exits, the kernel ends every process left in the namespace, so
//! nothing a script started outlives the helper. The mounts live only in
//! the helper's mount namespace: the tree keeps none of them.
//!
//! Not started as root, it makes a user namespace in which root is the
//! caller. With [`Users::Subordinate`], `run` starts a second helper
//! process (`mapped`) that unshares, and maps that process's ids with
//! newuidmap and newgidmap from outside (only a process outside may),
//! then passes its events on. With [`Users::Single`], root is the only id
//! inside, and `init` intercepts changes of owner (see `chown`).

mod chown;
mod sys;

use std::io::{BufRead, Read, Write};
use std::process::{Command, ExitCode, Stdio};

use sandbox_protocol::{Event, IdRange, Request, Users, PROTOCOL};

use sys::{Kernel, Linux};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
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

/// Unshare, then run `init` as PID 1 of the new namespace. With
/// subordinate ids, a second helper process does the unsharing while this
/// one, still outside, maps the ids with newuidmap and newgidmap (only a
/// process outside the namespace can).
fn outer(k: &dyn Kernel) -> ExitCode {
    let mut input = std::io::stdin().lock();
    let (req, line) = match read_request(&mut input) {
        Ok(r) => r,
        Err(e) => return fail("request", e),
    };
    match req.users {
        Users::Subordinate { uids, gids } => map_subordinate(&line, uids, gids),
        _ => namespaces(k, &req, &line, &mut input, false),
    }
}

/// The process in the new namespaces that `map_subordinate` maps.
fn mapped(k: &dyn Kernel) -> ExitCode {
    let mut input = std::io::stdin().lock();
    let (req, line) = match read_request(&mut input) {
        Ok(r) => r,
        Err(e) => return fail("request", e),
    };
    namespaces(k, &req, &line, &mut input, true)
}

/// Start `mapped`, map its ids once it has unshared, then pass its events on.
fn map_subordinate(line: &str, uids: IdRange, gids: IdRange) -> ExitCode {
    let me = match std::env::current_exe() {
        Ok(m) => m,
        Err(e) => return fail("find this program", e),
    };
    let child = Command::new(me)
        .arg("mapped")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn();
    let mut child = match child {
        Ok(c) => c,
        Err(e) => return fail("start the process to map", e),
    };
    let mut to_child = child.stdin.take().expect("piped");
    let mut from_child = std::io::BufReader::new(child.stdout.take().expect("piped"));
    let _ = to_child.write_all(line.as_bytes());
    let mut first = String::new();
    let _ = from_child.read_line(&mut first);
    if first == UNSHARED {
        let pid = child.id().to_string();
        let (uid, gid) = (
            rustix::process::getuid().as_raw(),
            rustix::process::getgid().as_raw(),
        );
        for (tool, own, range) in [("newuidmap", uid, uids), ("newgidmap", gid, gids)] {
            let out = Command::new(tool)
                .args([&pid, "0", &own.to_string(), "1", "1"])
                .args([range.start.to_string(), range.count.to_string()])
                .stdin(Stdio::null())
                .output();
            let error = match out {
                Ok(o) if o.status.success() => continue,
                Ok(o) => format!(
                    "{}: {}",
                    o.status,
                    String::from_utf8_lossy(&o.stderr).trim()
                ),
                Err(e) => format!(
                    "{e} (it comes with the uidmap package; without subordinate ids in /etc/subuid and /etc/subgid, the helper maps root to you alone)"
                ),
            };
            let _ = child.kill();
            let _ = child.wait();
            return fail(tool, error);
        }
        let _ = to_child.write_all(MAPPED.as_bytes());
    } else {
        // An event (the unsharing failed): pass it on.
        let _ = std::io::stdout().write_all(first.as_bytes());
    }
    drop(to_child);
    let _ = std::io::copy(&mut from_child, &mut std::io::stdout().lock());
    match child.wait() {
        Ok(s) if s.success() => ExitCode::SUCCESS,
        Ok(s) if s.code().is_none() => fail("the mapped process", format!("ended by {s}")),
        Ok(_) => ExitCode::from(1),
        Err(e) => fail("wait for the mapped process", e),
    }
}

/// Sent by `mapped` once it has unshared, and answered once it is mapped:
/// not JSON, so never mistaken for an event.
const UNSHARED: &str = "unshared\n";
const MAPPED: &str = "mapped\n";

/// Unshare the namespaces (and map root to the caller, or wait for
/// `map_subordinate` to map), then start `init`.
fn namespaces(
    k: &dyn Kernel,
    req: &Request,
    line: &str,
    input: &mut dyn BufRead,
    wait_for_map: bool,
) -> ExitCode {
    let user = req.users != Users::Host;
    let (uid, gid) = (
        rustix::process::getuid().as_raw(),
        rustix::process::getgid().as_raw(),
    );
    if let Err(e) = k.unshare(user, !req.network) {
        return fail("unshare the namespaces", e);
    }
    if wait_for_map {
        let mut out = std::io::stdout().lock();
        let _ = out.write_all(UNSHARED.as_bytes());
        let _ = out.flush();
        drop(out);
        let mut answer = String::new();
        if input.read_line(&mut answer).is_err() || answer != MAPPED {
            // The outer process reports why.
            return ExitCode::from(1);
        }
    } else if user {
        // Root inside is the caller outside: one id each.
        let maps = [
            ("/proc/self/setgroups", "deny".to_owned()),
            ("/proc/self/uid_map", format!("0 {uid} 1")),
            ("/proc/self/gid_map", format!("0 {gid} 1")),
        ];
        for (file, text) in maps {
            if let Err(e) = std::fs::write(file, text) {
                return fail(file, e);
            }
        }
    }
    let me = match std::env::current_exe() {
        Ok(m) => m,
        Err(e) => return fail("find this program", e),
    };
    let child = Command::new(me).arg("init").stdin(Stdio::piped()).spawn();
    let mut child = match child {
        Ok(c) => c,
        Err(e) => return fail("start the namespace's first process", e),
    };
    if let Some(mut stdin) = child.stdin.take() {
        let _ = stdin.write_all(line.as_bytes());
    }
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
    for op in sys::plan(&req.root) {
        if let Err(e) = k.apply(&op) {
            return fail(&op.describe(), e);
        }
    }
    if let Err(e) = k.pivot_root(&req.root) {
        return fail("pivot_root into the tree", e);
    }
    if let Err(e) = k.sethostname(&req.hostname) {
        return fail("set the hostname", e);
    }
    for owner in &req.owners {
        if let Err(e) = k.set_owner(owner) {
            return fail(&format!("give {} its owner", owner.path), e);
        }
    }
    if req.users == Users::Single {
        match k.intercept_chown() {
            Ok(listener) => {
                std::thread::spawn(move || chown::serve(&Linux, listener));
            }
            Err(e) => return fail("intercept changes of owner (seccomp)", e),
        }
    }
    for (index, step) in req.steps.iter().enumerate() {
        let Some((program, args)) = step.argv.split_first() else {
            return fail(&step.label, "empty command");
        };
        let child = Command::new(program)
            .args(args)
            .env_clear()
            .envs(req.env.iter().cloned())
            .envs(step.env.iter().cloned())
            .current_dir("/")
            .stdin(Stdio::null())
            // Standard output is the protocol channel: a step's output
            // goes to the helper's standard error.
            .stdout(
                match std::os::fd::AsFd::as_fd(&std::io::stderr()).try_clone_to_owned() {
                    Ok(fd) => Stdio::from(fd),
                    Err(_) => Stdio::null(),
                },
            )
            .stderr(Stdio::piped())
            .spawn();
        let mut child = match child {
            Ok(c) => c,
            Err(e) => return fail(&step.label, format!("cannot start {program}: {e}")),
        };
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
        }
        let status = match child.wait() {
            Ok(s) => s,
            Err(e) => return fail(&step.label, e),
        };
        let _ = done_rx.recv_timeout(std::time::Duration::from_millis(200));
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
