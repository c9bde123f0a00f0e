//! Kernel calls behind one trait, and the mount plan as data, so that the
//! plan can be checked without privileges. `unsafe` is here only.

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};

use sandbox_protocol::Owner;

use rustix::mount::{MountFlags, MountPropagationFlags, UnmountFlags};
use rustix::thread::UnshareFlags;

/// One step of setting up the tree's mounts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mount {
    /// Make every mount private, so nothing propagates back to the host.
    PrivateRoot,
    /// Bind `source` onto `target` (recursively).
    Bind { source: PathBuf, target: PathBuf },
    /// A fresh file system of `fstype` at `target`.
    Fs {
        fstype: &'static str,
        target: PathBuf,
        flags: MountFlags,
        data: &'static str,
    },
    /// `/sys`: sysfs read-only, or (where a user namespace may not mount
    /// one) the host's, bound and made read-only.
    Sys { target: PathBuf },
    /// Create an empty file or a directory (on a tmpfs of ours) to mount on.
    Create { path: PathBuf, dir: bool },
    /// A symbolic link (on a tmpfs of ours).
    Symlink { target: &'static str, path: PathBuf },
}

impl Mount {
    /// For error messages.
    pub fn describe(&self) -> String {
        match self {
            Mount::PrivateRoot => "make mounts private".into(),
            Mount::Bind { source, target } => {
                format!("bind {} to {}", source.display(), target.display())
            }
            Mount::Fs { fstype, target, .. } => {
                format!("mount {fstype} on {}", target.display())
            }
            Mount::Sys { target } => format!("mount sysfs on {}", target.display()),
            Mount::Create { path, .. } => format!("create {}", path.display()),
            Mount::Symlink { path, .. } => format!("create {}", path.display()),
        }
    }
}

/// The mounts that make `root` a place to run maintainer scripts: the
/// tree bound onto itself (pivot_root needs a mount point), `/proc`, a
/// read-only `/sys`, a minimal `/dev`, tmpfs on `/tmp` and `/run`. Every
/// target is inside `root`, and mounts onto the tree's own directories
/// only; files and links are made on the tmpfs mounted on its `/dev`.
pub fn plan(root: &Path) -> Vec<Mount> {
    let nosuid = MountFlags::NOSUID | MountFlags::NODEV;
    let dev = root.join("dev");
    let mut ops = vec![
        Mount::PrivateRoot,
        Mount::Bind {
            source: root.to_owned(),
            target: root.to_owned(),
        },
        Mount::Fs {
            fstype: "proc",
            target: root.join("proc"),
            flags: nosuid | MountFlags::NOEXEC,
            data: "",
        },
        Mount::Sys {
            target: root.join("sys"),
        },
        Mount::Fs {
            fstype: "tmpfs",
            target: dev.clone(),
            flags: MountFlags::NOSUID,
            data: "mode=755",
        },
    ];
    for node in ["null", "zero", "full", "random", "urandom", "tty"] {
        ops.push(Mount::Create {
            path: dev.join(node),
            dir: false,
        });
        ops.push(Mount::Bind {
            source: Path::new("/dev").join(node),
            target: dev.join(node),
        });
    }
    ops.extend([
        Mount::Create {
            path: dev.join("pts"),
            dir: true,
        },
        Mount::Fs {
            fstype: "devpts",
            target: dev.join("pts"),
            flags: MountFlags::NOSUID | MountFlags::NOEXEC,
            data: "newinstance,ptmxmode=0666,mode=620",
        },
        Mount::Symlink {
            target: "pts/ptmx",
            path: dev.join("ptmx"),
        },
        Mount::Create {
            path: dev.join("shm"),
            dir: true,
        },
        Mount::Fs {
            fstype: "tmpfs",
            target: dev.join("shm"),
            flags: nosuid,
            data: "mode=1777",
        },
        Mount::Symlink {
            target: "/proc/self/fd",
            path: dev.join("fd"),
        },
        Mount::Symlink {
            target: "/proc/self/fd/0",
            path: dev.join("stdin"),
        },
        Mount::Symlink {
            target: "/proc/self/fd/1",
            path: dev.join("stdout"),
        },
        Mount::Symlink {
            target: "/proc/self/fd/2",
            path: dev.join("stderr"),
        },
        Mount::Fs {
            fstype: "tmpfs",
            target: root.join("tmp"),
            flags: nosuid,
            data: "mode=1777",
        },
        Mount::Fs {
            fstype: "tmpfs",
            target: root.join("run"),
            flags: nosuid,
            data: "mode=755",
        },
    ]);
    ops
}

/// What the helper asks of the kernel.
pub trait Kernel {
    /// New mount, PID, UTS and IPC namespaces; a user namespace with
    /// `user`, a network namespace with `net`.
    fn unshare(&self, user: bool, net: bool) -> io::Result<()>;
    /// Carry out one mount step.
    fn apply(&self, op: &Mount) -> io::Result<()>;
    /// Make `root` the root directory and drop the old one.
    fn pivot_root(&self, root: &Path) -> io::Result<()>;
    fn sethostname(&self, name: &str) -> io::Result<()>;
    /// Give a path (not followed) its owner, then its mode and xattrs.
    fn set_owner(&self, owner: &Owner) -> io::Result<()>;
    /// From now on, stop every change of owner by this process and the
    /// processes it starts, and queue it on the returned listener
    /// (seccomp user notification).
    fn intercept_chown(&self) -> io::Result<OwnedFd>;
    /// Wait for the next intercepted call.
    fn next_call(&self, listener: BorrowedFd<'_>) -> io::Result<Call>;
    /// Whether the process that made call `id` is still waiting for it
    /// (so that what was read of its memory belongs to the call).
    fn still_waiting(&self, listener: BorrowedFd<'_>, id: u64) -> bool;
    /// Answer call `id`: let the kernel carry it out, or report success
    /// without doing anything.
    fn answer(&self, listener: BorrowedFd<'_>, id: u64, carry_out: bool) -> io::Result<()>;
}

/// An intercepted system call: which, by whom, with what arguments.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Call {
    pub id: u64,
    pub pid: u32,
    pub syscall: i64,
    pub args: [u64; 6],
}

/// The system calls that change an owner, on this architecture.
pub const CHOWN_CALLS: &[i64] = &[
    #[cfg(target_arch = "x86_64")]
    libc::SYS_chown,
    #[cfg(target_arch = "x86_64")]
    libc::SYS_lchown,
    libc::SYS_fchown,
    libc::SYS_fchownat,
];

/// The audit architecture seccomp reports for this build's system calls.
#[cfg(target_arch = "x86_64")]
const AUDIT_ARCH: u32 = 0xC000_003E;
#[cfg(target_arch = "aarch64")]
const AUDIT_ARCH: u32 = 0xC000_00B7;

/// The classic BPF program: calls in [`CHOWN_CALLS`] of this architecture
/// go to the listener, everything else is allowed.
fn chown_filter() -> Vec<libc::sock_filter> {
    let stmt = |code: u32, k: u32| libc::sock_filter {
        code: code as u16,
        jt: 0,
        jf: 0,
        k,
    };
    let jeq = |k: u32, jt: u8, jf: u8| libc::sock_filter {
        code: (libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K) as u16,
        jt,
        jf,
        k,
    };
    let load = libc::BPF_LD | libc::BPF_W | libc::BPF_ABS;
    let m = CHOWN_CALLS.len() as u8;
    // seccomp_data: nr at offset 0, arch at 4.
    let mut prog = vec![stmt(load, 4), jeq(AUDIT_ARCH, 0, m + 1), stmt(load, 0)];
    for (i, nr) in CHOWN_CALLS.iter().enumerate() {
        prog.push(jeq(*nr as u32, m - i as u8, 0));
    }
    prog.push(stmt(libc::BPF_RET | libc::BPF_K, libc::SECCOMP_RET_ALLOW));
    prog.push(stmt(
        libc::BPF_RET | libc::BPF_K,
        libc::SECCOMP_RET_USER_NOTIF,
    ));
    prog
}

/// The real kernel.
pub struct Linux;

impl Kernel for Linux {
    fn unshare(&self, user: bool, net: bool) -> io::Result<()> {
        let mut flags = UnshareFlags::NEWNS
            | UnshareFlags::NEWPID
            | UnshareFlags::NEWUTS
            | UnshareFlags::NEWIPC;
        if user {
            flags |= UnshareFlags::NEWUSER;
        }
        if net {
            flags |= UnshareFlags::NEWNET;
        }
        // SAFETY: none of these flags unshares the file descriptor table
        // (CLONE_FILES), the hazard `unshare_unsafe` warns of; the helper
        // is single-threaded at this point, which CLONE_NEWUSER requires.
        unsafe { rustix::thread::unshare_unsafe(flags) }?;
        Ok(())
    }

    fn apply(&self, op: &Mount) -> io::Result<()> {
        let needs = |p: &Path| -> io::Result<()> {
            if p.exists() {
                Ok(())
            } else {
                Err(io::Error::new(
                    io::ErrorKind::NotFound,
                    format!("{} is missing in the tree", p.display()),
                ))
            }
        };
        match op {
            Mount::PrivateRoot => rustix::mount::mount_change(
                "/",
                MountPropagationFlags::PRIVATE | MountPropagationFlags::REC,
            )?,
            Mount::Bind { source, target } => {
                needs(target)?;
                rustix::mount::mount_bind_recursive(source.as_path(), target.as_path())?
            }
            Mount::Fs {
                fstype,
                target,
                flags,
                data,
            } => {
                needs(target)?;
                let data = std::ffi::CString::new(*data)?;
                rustix::mount::mount(
                    *fstype,
                    target.as_path(),
                    *fstype,
                    *flags,
                    Some(data.as_c_str()).filter(|d| !d.is_empty()),
                )?
            }
            Mount::Sys { target } => {
                needs(target)?;
                let ro = MountFlags::RDONLY
                    | MountFlags::NOSUID
                    | MountFlags::NODEV
                    | MountFlags::NOEXEC;
                if rustix::mount::mount("sysfs", target.as_path(), "sysfs", ro, None).is_err() {
                    rustix::mount::mount_bind_recursive("/sys", target.as_path())?;
                    rustix::mount::mount_remount(target.as_path(), MountFlags::BIND | ro, "")?;
                }
            }
            Mount::Create { path, dir: true } => std::fs::create_dir(path)?,
            Mount::Create { path, dir: false } => {
                std::fs::File::create(path)?;
            }
            Mount::Symlink { target, path } => std::os::unix::fs::symlink(target, path)?,
        }
        Ok(())
    }

    fn pivot_root(&self, root: &Path) -> io::Result<()> {
        // The old root is stacked under the new one and detached at once,
        // so no directory for it is needed in the tree.
        rustix::process::chdir(root)?;
        rustix::process::pivot_root(".", ".")?;
        rustix::mount::unmount(".", UnmountFlags::DETACH)?;
        rustix::process::chdir("/")?;
        Ok(())
    }

    fn sethostname(&self, name: &str) -> io::Result<()> {
        rustix::system::sethostname(name.as_bytes())?;
        Ok(())
    }

    fn set_owner(&self, owner: &Owner) -> io::Result<()> {
        let path = Path::new(&owner.path);
        rustix::fs::chownat(
            rustix::fs::CWD,
            path,
            Some(rustix::fs::Uid::from_raw(owner.uid)),
            Some(rustix::fs::Gid::from_raw(owner.gid)),
            rustix::fs::AtFlags::SYMLINK_NOFOLLOW,
        )?;
        if let Some(mode) = owner.mode {
            rustix::fs::chmodat(
                rustix::fs::CWD,
                path,
                rustix::fs::Mode::from_bits_truncate(mode & 0o7777),
                rustix::fs::AtFlags::empty(),
            )?;
        }
        for (name, value) in &owner.xattrs {
            rustix::fs::lsetxattr(path, name.as_str(), value, rustix::fs::XattrFlags::empty())?;
        }
        Ok(())
    }

    fn intercept_chown(&self) -> io::Result<OwnedFd> {
        let mut filter = chown_filter();
        let prog = libc::sock_fprog {
            len: filter.len() as u16,
            filter: filter.as_mut_ptr(),
        };
        // SAFETY: `prog` points at `filter`, a valid BPF program of `len`
        // instructions that outlives the call (the kernel copies it). The
        // helper is root in its user namespace, which seccomp accepts in
        // place of no_new_privs. On success the call returns a new file
        // descriptor (close-on-exec) that nothing else owns.
        let fd = unsafe {
            libc::syscall(
                libc::SYS_seccomp,
                libc::SECCOMP_SET_MODE_FILTER,
                libc::SECCOMP_FILTER_FLAG_NEW_LISTENER,
                &prog as *const libc::sock_fprog,
            )
        };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `fd` was just returned by the kernel and is ours alone.
        Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) })
    }

    fn next_call(&self, listener: BorrowedFd<'_>) -> io::Result<Call> {
        // SAFETY: seccomp_notif is plain integers; all zero is valid (and
        // the kernel requires it zeroed).
        let mut notif: libc::seccomp_notif = unsafe { std::mem::zeroed() };
        // SAFETY: the ioctl writes one seccomp_notif into `notif`, which
        // is that type and lives across the call.
        let rc = unsafe {
            libc::ioctl(
                listener.as_raw_fd(),
                libc::SECCOMP_IOCTL_NOTIF_RECV,
                &mut notif as *mut libc::seccomp_notif,
            )
        };
        if rc < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(Call {
            id: notif.id,
            pid: notif.pid,
            syscall: i64::from(notif.data.nr),
            args: notif.data.args,
        })
    }

    fn still_waiting(&self, listener: BorrowedFd<'_>, id: u64) -> bool {
        let mut id = id;
        // SAFETY: the ioctl reads one u64 from `id`, which lives across
        // the call.
        let rc = unsafe {
            libc::ioctl(
                listener.as_raw_fd(),
                libc::SECCOMP_IOCTL_NOTIF_ID_VALID,
                &mut id as *mut u64,
            )
        };
        rc == 0
    }

    fn answer(&self, listener: BorrowedFd<'_>, id: u64, carry_out: bool) -> io::Result<()> {
        let mut resp = libc::seccomp_notif_resp {
            id,
            val: 0,
            error: 0,
            flags: if carry_out {
                libc::SECCOMP_USER_NOTIF_FLAG_CONTINUE as u32
            } else {
                0
            },
        };
        // SAFETY: the ioctl reads one seccomp_notif_resp from `resp`,
        // which is that type and lives across the call.
        let rc = unsafe {
            libc::ioctl(
                listener.as_raw_fd(),
                libc::SECCOMP_IOCTL_NOTIF_SEND,
                &mut resp as *mut libc::seccomp_notif_resp,
            )
        };
        if rc < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_plan_stays_inside_the_tree() {
        let root = Path::new("/build/tree");
        let ops = plan(root);
        assert_eq!(ops[0], Mount::PrivateRoot);
        assert!(
            matches!(&ops[1], Mount::Bind { source, target } if source == root && target == root)
        );
        for op in &ops {
            match op {
                Mount::Bind { target, .. }
                | Mount::Fs { target, .. }
                | Mount::Sys { target }
                | Mount::Create { path: target, .. }
                | Mount::Symlink { path: target, .. } => {
                    assert!(target.starts_with(root), "{op:?}");
                }
                Mount::PrivateRoot => {}
            }
        }
        // Files and links are only made on the tmpfs on /dev.
        let dev = root.join("dev");
        let dev_mounted = ops
            .iter()
            .position(|o| matches!(o, Mount::Fs { target, .. } if *target == dev))
            .unwrap();
        for (i, op) in ops.iter().enumerate() {
            if let Mount::Create { path, .. } | Mount::Symlink { path, .. } = op {
                assert!(path.starts_with(&dev) && i > dev_mounted, "{op:?}");
            }
        }
        let fs: Vec<_> = ops
            .iter()
            .filter_map(|o| match o {
                Mount::Fs { fstype, target, .. } => Some(format!("{fstype} {}", target.display())),
                _ => None,
            })
            .collect();
        assert_eq!(
            fs,
            [
                "proc /build/tree/proc",
                "tmpfs /build/tree/dev",
                "devpts /build/tree/dev/pts",
                "tmpfs /build/tree/dev/shm",
                "tmpfs /build/tree/tmp",
                "tmpfs /build/tree/run"
            ]
        );
    }
}
