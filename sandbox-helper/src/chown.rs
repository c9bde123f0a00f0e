//! Changes of owner in a namespace that has only one id.
//!
//! With [`sandbox_protocol::Users::Single`], root inside is the caller and
//! no other id exists, so a maintainer script's `chown root:shadow
//! /etc/shadow` would fail (EINVAL) and the package with it. `init`
//! intercepts the system calls that change owners (seccomp user
//! notification): a change to ids that exist (root, or "unchanged") is
//! carried out by the kernel as usual; any other is answered as a success
//! without touching the file. Every one is reported to the caller as
//! [`Event::Chown`]. The caller keeps those owners beside the tree, as it keeps
//! the ones from the packages, so that an image made later has them.

use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use crate::Event;

use super::sys::{Call, Kernel};

/// What a call changes the owner of.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Target {
    /// A path (a pointer in the caller's memory), relative to a directory
    /// descriptor (`None`: the working directory).
    Path {
        dirfd: Option<i32>,
        pointer: u64,
        follow: bool,
        /// `AT_EMPTY_PATH`: an empty path means `dirfd` itself.
        empty_is_dirfd: bool,
    },
    /// An open file.
    Fd(i32),
}

/// The target and the new ids (`None`: unchanged) of a call.
fn decode(call: &Call) -> Option<(Target, Option<u32>, Option<u32>)> {
    // The ids are 32 bits; -1 leaves one unchanged.
    let id = |a: u64| Some(a as u32).filter(|&v| v != u32::MAX);
    let a = call.args;
    let path = |dirfd: Option<i32>, pointer: u64, flags: i32| Target::Path {
        dirfd,
        pointer,
        follow: flags & libc::AT_SYMLINK_NOFOLLOW == 0,
        empty_is_dirfd: flags & libc::AT_EMPTY_PATH != 0,
    };
    #[cfg(target_arch = "x86_64")]
    {
        if call.syscall == libc::SYS_chown {
            return Some((path(None, a[0], 0), id(a[1]), id(a[2])));
        }
        if call.syscall == libc::SYS_lchown {
            return Some((
                path(None, a[0], libc::AT_SYMLINK_NOFOLLOW),
                id(a[1]),
                id(a[2]),
            ));
        }
    }
    if call.syscall == libc::SYS_fchown {
        return Some((Target::Fd(a[0] as i32), id(a[1]), id(a[2])));
    }
    if call.syscall == libc::SYS_fchownat {
        let dirfd = a[0] as i32;
        let dirfd = (dirfd != libc::AT_FDCWD).then_some(dirfd);
        return Some((path(dirfd, a[1], a[4] as i32), id(a[2]), id(a[3])));
    }
    None
}

/// Answer intercepted calls until the listener goes away.
pub fn serve(k: &dyn Kernel, listener: OwnedFd) {
    let fd = listener.as_fd();
    loop {
        let call = match k.next_call(fd) {
            Ok(c) => c,
            // Interrupted, or the caller died before we read the call.
            Err(e) if matches!(e.raw_os_error(), Some(libc::EINTR | libc::ENOENT)) => continue,
            Err(_) => return,
        };
        let Some((target, uid, gid)) = decode(&call) else {
            let _ = k.answer(fd, call.id, true);
            continue;
        };
        // Root is the one id the namespace has: a change to it is made;
        // any other only reported. Both are reported, so that the caller's
        // record follows a later `chown root:root` too.
        let possible = uid.is_none_or(|u| u == 0) && gid.is_none_or(|g| g == 0);
        let path = resolve(call.pid, &target);
        if !k.still_waiting(fd, call.id) {
            continue;
        }
        match path {
            Some(path) => {
                super::emit(&Event::Chown { path, uid, gid });
                let _ = k.answer(fd, call.id, possible);
            }
            // No such file, or a bad pointer: let the kernel say so.
            None => {
                let _ = k.answer(fd, call.id, true);
            }
        }
    }
}

/// The path a call changes, as seen inside the tree, symlinks resolved as
/// the call resolves them.
fn resolve(pid: u32, target: &Target) -> Option<String> {
    let proc = PathBuf::from(format!("/proc/{pid}"));
    let link = |p: PathBuf| std::fs::read_link(p).ok();
    let full = match target {
        Target::Fd(fd) => link(proc.join(format!("fd/{fd}")))?,
        Target::Path {
            dirfd,
            pointer,
            follow,
            empty_is_dirfd,
        } => {
            let path = read_string(pid, *pointer)?;
            let base = || match dirfd {
                None => link(proc.join("cwd")),
                Some(fd) => link(proc.join(format!("fd/{fd}"))),
            };
            let full = if path.is_empty() {
                if !empty_is_dirfd {
                    return None;
                }
                base()?
            } else if path.starts_with('/') {
                PathBuf::from(&path)
            } else {
                base()?.join(&path)
            };
            if !follow {
                let parent = std::fs::canonicalize(full.parent().unwrap_or(Path::new("/"))).ok()?;
                let name = full.file_name()?;
                std::fs::symlink_metadata(parent.join(name)).ok()?;
                return Some(parent.join(name).to_string_lossy().into_owned());
            }
            full
        }
    };
    let real = std::fs::canonicalize(full).ok()?;
    Some(real.to_string_lossy().into_owned())
}

/// A NUL-terminated string at `pointer` in process `pid`'s memory.
fn read_string(pid: u32, pointer: u64) -> Option<String> {
    let mem = std::fs::File::open(format!("/proc/{pid}/mem")).ok()?;
    let mut out = Vec::new();
    let mut at = pointer;
    while out.len() < 4096 {
        // Up to the end of the page: the next one may not be mapped.
        let chunk = 4096 - (at % 4096) as usize;
        let mut buf = vec![0u8; chunk];
        let n = mem.read_at(&mut buf, at).ok()?;
        if n == 0 {
            return None;
        }
        if let Some(end) = buf[..n].iter().position(|&b| b == 0) {
            out.extend_from_slice(&buf[..end]);
            return Some(String::from_utf8_lossy(&out).into_owned());
        }
        out.extend_from_slice(&buf[..n]);
        at += n as u64;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(syscall: i64, args: [u64; 6]) -> Call {
        Call {
            id: 1,
            pid: 1,
            syscall,
            args,
        }
    }

    #[test]
    fn calls_are_decoded() {
        let none = u32::MAX as u64;
        assert_eq!(
            decode(&call(libc::SYS_fchown, [3, 0, 42, 0, 0, 0])),
            Some((Target::Fd(3), Some(0), Some(42)))
        );
        let at = decode(&call(
            libc::SYS_fchownat,
            [
                libc::AT_FDCWD as u32 as u64,
                0x1000,
                none,
                8,
                libc::AT_SYMLINK_NOFOLLOW as u64,
                0,
            ],
        ));
        assert_eq!(
            at,
            Some((
                Target::Path {
                    dirfd: None,
                    pointer: 0x1000,
                    follow: false,
                    empty_is_dirfd: false
                },
                None,
                Some(8)
            ))
        );
        assert_eq!(decode(&call(libc::SYS_getpid, [0; 6])), None);
    }

    #[test]
    fn strings_are_read_from_a_process() {
        let s = std::ffi::CString::new("/etc/shadow").unwrap();
        let got = read_string(std::process::id(), s.as_ptr() as u64);
        assert_eq!(got.as_deref(), Some("/etc/shadow"));
    }
}
