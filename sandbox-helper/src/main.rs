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

mod sys;

use std::io::{BufRead, Read, Write};
use std::process::{Command, ExitCode, Stdio};

use sandbox_protocol::{Event, Request, PROTOCOL};

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

/// Unshare, then run `init` as PID 1 of the new namespace.
fn outer(k: &dyn Kernel) -> ExitCode {
    let (req, line) = match read_request(&mut std::io::stdin().lock()) {
        Ok(r) => r,
        Err(e) => return fail("request", e),
    };
    let root_user = rustix::process::geteuid().is_root();
    let (uid, gid) = (
        rustix::process::getuid().as_raw(),
        rustix::process::getgid().as_raw(),
    );
    if let Err(e) = k.unshare(!root_user, !req.network) {
        return fail("unshare the namespaces", e);
    }
    if !root_user {
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
