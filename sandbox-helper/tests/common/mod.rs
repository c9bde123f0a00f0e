//! What the helper's end-to-end tests share: trees made of the host's own
//! programs, and running the helper on a request.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use sandbox_protocol::{Event, Request};

pub const HELPER: &str = env!("CARGO_BIN_EXE_rdebootstrap-sandbox-helper");

pub struct Dir(pub PathBuf);

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub fn temp(tag: &str) -> Dir {
    let p = std::env::temp_dir().join(format!("rdebootstrap-sandbox-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&p);
    std::fs::create_dir_all(&p).unwrap();
    Dir(p)
}

/// Copy host programs and the libraries they load into `root`.
pub fn mini_tree(root: &Path, programs: &[&str]) {
    for d in ["proc", "sys", "dev", "tmp", "run", "out"] {
        std::fs::create_dir_all(root.join(d)).unwrap();
    }
    std::fs::set_permissions(
        root.join("out"),
        std::os::unix::fs::PermissionsExt::from_mode(0o777),
    )
    .unwrap();
    for p in programs {
        copy_with_libraries(root, &which(p));
    }
}

pub fn which(p: &str) -> PathBuf {
    for d in ["/usr/bin", "/bin", "/usr/sbin", "/sbin"] {
        let c = Path::new(d).join(p);
        if c.exists() {
            return c;
        }
    }
    panic!("{p} not found on the host");
}

/// Run `helper` (through `wrapper` if given) and collect its events.
pub fn run_helper(helper: &str, req: &Request, wrapper: &[&str]) -> Vec<Event> {
    run_in(helper, req, wrapper, None)
}

/// [`run_helper`] from the working directory `cwd`.
pub fn run_in(helper: &str, req: &Request, wrapper: &[&str], cwd: Option<&Path>) -> Vec<Event> {
    let (program, args): (&str, Vec<&str>) = match wrapper.split_first() {
        Some((w, rest)) => (w, rest.iter().copied().chain([helper, "run"]).collect()),
        None => (helper, vec!["run"]),
    };
    let mut command = Command::new(program);
    if let Some(cwd) = cwd {
        command.current_dir(cwd);
    }
    let mut child = command
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    // Standard input stays open until the events end: closing it early
    // tells the helper its caller is gone.
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(req.to_line().as_bytes()).unwrap();
    let events = BufReader::new(child.stdout.take().unwrap())
        .lines()
        .map(|l| serde_json::from_str(&l.unwrap()).unwrap())
        .collect();
    drop(stdin);
    child.wait().unwrap();
    events
}

pub fn run(req: &Request, wrapper: &[&str]) -> Vec<Event> {
    run_helper(HELPER, req, wrapper)
}

pub fn is_root() -> bool {
    rustix::process::geteuid().is_root()
}

pub use testkit::chroot::copy_with_libraries;

/// The subordinate range of `user` in `file`.
fn range(file: &str, user: &str) -> Option<sandbox_protocol::IdRange> {
    let text = std::fs::read_to_string(file).ok()?;
    sandbox_protocol::subordinate_range(&text, user, u32::MAX)
}

/// User `name` with subordinate ids, made with useradd when missing (as
/// root): its uid, gid and ranges.
pub fn subordinate_user(
    name: &str,
) -> (
    u32,
    u32,
    sandbox_protocol::IdRange,
    sandbox_protocol::IdRange,
) {
    if range("/etc/subuid", name).is_none() {
        // useradd gives a new user ranges in /etc/subuid and /etc/subgid.
        let _ = Command::new("useradd")
            .args(["--no-create-home", name])
            .status();
    }
    let (Some(uids), Some(gids)) = (range("/etc/subuid", name), range("/etc/subgid", name)) else {
        panic!("useradd made {name} without subordinate ids");
    };
    let id = |flag: &str| {
        let o = Command::new("id").args([flag, name]).output().unwrap();
        String::from_utf8_lossy(&o.stdout)
            .trim()
            .parse::<u32>()
            .unwrap()
    };
    (id("-u"), id("-g"), uids, gids)
}
