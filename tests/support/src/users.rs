//! Unprivileged users for the rootless tests: made with `useradd` when
//! missing (the tests run as root in CI), with or without subordinate ids,
//! and commands run as them through `setpriv`.

use std::path::{Path, PathBuf};
use std::process::Command;

/// A user on this machine.
#[derive(Debug, Clone)]
pub struct User {
    pub name: String,
    pub uid: u32,
    pub gid: u32,
}

fn id(flag: &str, name: &str) -> Option<u32> {
    let o = Command::new("id").args([flag, name]).output().ok()?;
    String::from_utf8_lossy(&o.stdout).trim().parse().ok()
}

fn has_tool(tool: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Whether `name` has a line in `/etc/subuid`.
pub fn has_subordinate_ids(name: &str) -> bool {
    subordinate_start("/etc/subuid", name).is_some()
}

/// The first id of `name`'s range in `file` (`/etc/subuid`, `/etc/subgid`).
pub fn subordinate_start(file: &str, name: &str) -> Option<u32> {
    std::fs::read_to_string(file)
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(':'))
        .and_then(|rest| rest.split(':').next()?.parse().ok())
}

/// The user `name`, made if missing: with subordinate ids (useradd's
/// default for a new user) when `subordinate`, else without. `None` (with
/// the reason printed) when not root or the tools are missing: a failure
/// under CI ([`crate::require`]).
pub fn test_user(name: &str, subordinate: bool) -> Option<User> {
    let root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|me| String::from_utf8_lossy(&me.stdout).trim() == "0");
    if !crate::require(root, &format!("root (to make the test user {name})")) {
        return None;
    }
    let mut tools = vec!["useradd", "setpriv"];
    if subordinate {
        tools.push("newuidmap");
    }
    for tool in tools {
        if !crate::require(
            has_tool(tool),
            &format!("{tool} (packages passwd, util-linux, uidmap)"),
        ) {
            return None;
        }
    }
    // One useradd at a time in this process: the integration tests of a
    // crate share one binary, and two tests may ask for the same user at
    // once (useradd also fails while another holds /etc/passwd's lock).
    static MAKING: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _making = MAKING.lock().unwrap_or_else(|e| e.into_inner());
    if id("-u", name).is_none() {
        // useradd gives ranges only when the files exist (the passwd
        // package makes them; a trimmed system may lack them).
        for f in ["/etc/subuid", "/etc/subgid"] {
            if !Path::new(f).exists() {
                std::fs::write(f, "").unwrap();
            }
        }
        let mut cmd = Command::new("useradd");
        cmd.arg("--no-create-home");
        if !subordinate {
            cmd.args(["-K", "SUB_UID_COUNT=0", "-K", "SUB_GID_COUNT=0"]);
        }
        let ok = cmd.arg(name).status().is_ok_and(|s| s.success());
        assert!(ok, "useradd {name} failed");
    }
    assert_eq!(
        has_subordinate_ids(name),
        subordinate,
        "{name}: subordinate ids in /etc/subuid are not as the test needs"
    );
    Some(User {
        name: name.into(),
        uid: id("-u", name)?,
        gid: id("-g", name)?,
    })
}

impl User {
    /// `program` run as this user (its groups only, environment kept).
    pub fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut cmd = Command::new("setpriv");
        cmd.arg(format!("--reuid={}", self.uid))
            .arg(format!("--regid={}", self.gid))
            .arg("--init-groups")
            .arg(program);
        cmd
    }

    /// Make `path` (recursively) this user's.
    pub fn own(&self, path: &Path) {
        let ok = Command::new("chown")
            .arg("-R")
            .arg(format!("{}:{}", self.uid, self.gid))
            .arg(path)
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "chown -R {}", path.display());
    }
}

/// Copy `programs` into `dir` (mode 0755), where any user may run them:
/// the build's target directory may be under a home only root can enter.
pub fn copy_programs(dir: &Path, programs: &[&Path]) -> Vec<PathBuf> {
    programs
        .iter()
        .map(|p| {
            let dest = dir.join(p.file_name().expect("a file"));
            std::fs::copy(p, &dest).unwrap();
            dest
        })
        .collect()
}
