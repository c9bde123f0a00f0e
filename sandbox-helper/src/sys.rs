//! Kernel calls behind one trait, and the mount plan as data, so that the
//! plan can be checked without privileges. `unsafe` is here only.
//!
//! Every mount target is a path relative to the tree, opened inside it
//! with `openat2(RESOLVE_IN_ROOT | RESOLVE_NO_SYMLINKS)` and mounted on
//! through `/proc/self/fd/N`: a symbolic link a package put at `dev`,
//! `proc`, `sys`, `tmp` or `run` (or anywhere below) is refused, never
//! followed out of the tree.

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};

use crate::Owner;

use rustix::fs::{Mode, OFlags, ResolveFlags};
use rustix::mount::{MountFlags, MountPropagationFlags, UnmountFlags};
use rustix::thread::UnshareFlags;

/// One step of setting up the tree's mounts. Targets are relative to the
/// tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mount {
    /// Make every mount private, so nothing propagates back to the host.
    PrivateRoot,
    /// Bind the tree onto itself (pivot_root needs a mount point), then
    /// make that mount and any below it `nosuid,nodev`: a device node a
    /// package shipped cannot be opened, a setuid file gives nothing.
    Tree,
    /// Bind the host's `source` onto `target` (a file of ours).
    Bind {
        source: &'static str,
        target: PathBuf,
    },
    /// A fresh file system of `fstype` at `target`.
    Fs {
        fstype: &'static str,
        target: PathBuf,
        flags: MountFlags,
        data: &'static str,
    },
    /// `/sys`: sysfs read-only, or (where a user namespace may not mount
    /// one) the host's, bound and made read-only with every file system
    /// mounted below it (cgroups, tracefs, ...), or (where there is
    /// none, inside a chroot) an empty read-only tmpfs.
    Sys { target: PathBuf },
    /// Bind `target` (in a file system of ours) onto itself read-only,
    /// if it exists: the kernel settings under `/proc` that root inside
    /// could otherwise write.
    ReadOnly { target: PathBuf },
    /// Create an empty file or a directory (on a tmpfs of ours) to mount on.
    Create { path: PathBuf, dir: bool },
    /// A symbolic link (on a tmpfs of ours).
    Symlink { target: &'static str, path: PathBuf },
    /// Bind the caller's host path `source` onto `target` in the tree
    /// ([`crate::Bind`]): the target opened inside the tree without
    /// following links, made (empty, like the source) when its last
    /// component is missing; the mount `nosuid,nodev`, read-only if asked.
    HostBind {
        source: PathBuf,
        target: PathBuf,
        read_only: bool,
    },
}

/// The mounts of the request's binds, after [`plan`]'s.
pub fn binds(binds: &[crate::Bind]) -> Vec<Mount> {
    binds
        .iter()
        .map(|b| Mount::HostBind {
            source: b.source.clone(),
            target: PathBuf::from(b.target.trim_start_matches('/')),
            read_only: b.read_only,
        })
        .collect()
}

impl Mount {
    /// For error messages.
    pub fn describe(&self, root: &Path) -> String {
        let at = |p: &Path| root.join(p).display().to_string();
        match self {
            Mount::PrivateRoot => "make mounts private".into(),
            Mount::Tree => format!("bind {} onto itself", root.display()),
            Mount::Bind { source, target } => format!("bind {source} to {}", at(target)),
            Mount::Fs { fstype, target, .. } => format!("mount {fstype} on {}", at(target)),
            Mount::Sys { target } => format!("mount sysfs on {}", at(target)),
            Mount::ReadOnly { target } => format!("make {} read-only", at(target)),
            Mount::Create { path, .. } | Mount::Symlink { path, .. } => {
                format!("create {}", at(path))
            }
            Mount::HostBind { source, target, .. } => {
                format!("bind {} to {}", source.display(), at(target))
            }
        }
    }
}

/// What under the sandbox's `/proc` is made read-only (with what is
/// mounted below): kernel settings (sysctl), the magic SysRq trigger, and
/// interfaces to hardware.
pub const PROC_READ_ONLY: &[&str] = &[
    "proc/sys",
    "proc/sysrq-trigger",
    "proc/irq",
    "proc/bus",
    "proc/fs",
    // Writable by root without a capability: detach a disk, wake-up
    // sources, kernel debug output.
    "proc/scsi",
    "proc/acpi",
    "proc/asound",
    "proc/dynamic_debug",
];

/// The mounts that make a tree a place to run maintainer scripts: the
/// tree bound onto itself, `/proc` (its kernel settings read-only), a
/// read-only `/sys`, a minimal `/dev`, tmpfs on `/tmp` and `/run`. Every
/// target is inside the tree; mounts go onto the tree's own directories
/// only; files and links are made on the tmpfs mounted on its `dev`.
pub fn plan() -> Vec<Mount> {
    let nosuid = MountFlags::NOSUID | MountFlags::NODEV;
    let dev = Path::new("dev");
    let mut ops = vec![
        Mount::PrivateRoot,
        Mount::Tree,
        Mount::Fs {
            fstype: "proc",
            target: "proc".into(),
            flags: nosuid | MountFlags::NOEXEC,
            data: "",
        },
    ];
    ops.extend(PROC_READ_ONLY.iter().map(|p| Mount::ReadOnly {
        target: (*p).into(),
    }));
    ops.extend([
        Mount::Sys {
            target: "sys".into(),
        },
        Mount::Fs {
            fstype: "tmpfs",
            target: dev.into(),
            flags: MountFlags::NOSUID,
            data: "mode=755",
        },
    ]);
    for node in ["null", "zero", "full", "random", "urandom", "tty"] {
        ops.push(Mount::Create {
            path: dev.join(node),
            dir: false,
        });
        ops.push(Mount::Bind {
            source: match node {
                "null" => "/dev/null",
                "zero" => "/dev/zero",
                "full" => "/dev/full",
                "random" => "/dev/random",
                "urandom" => "/dev/urandom",
                _ => "/dev/tty",
            },
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
            target: "tmp".into(),
            flags: nosuid,
            data: "mode=1777",
        },
        Mount::Fs {
            fstype: "tmpfs",
            target: "run".into(),
            flags: nosuid,
            data: "mode=755",
        },
    ]);
    ops
}

/// How the helper entered the tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Entered {
    /// pivot_root: the host's root is detached, out of reach.
    Pivoted,
    /// Inside a chroot, whose root is not a mount point, pivot_root is
    /// refused: the tree's mount is moved onto `/` and chrooted into, so
    /// the steps must not call chroot (the classic escape from one).
    Chrooted,
}

/// What the helper asks of the kernel.
pub trait Kernel {
    /// New user, mount, PID, UTS and IPC namespaces; a network namespace
    /// with `net`.
    fn unshare(&self, net: bool) -> io::Result<()>;
    /// As root inside a chroot (where no user namespace may be made):
    /// give this process a mount namespace whose root is the chroot's
    /// directory, as if it had been entered by pivot_root. `inside` is a
    /// directory in the chroot. Returns whether there was a chroot.
    fn leave_chroot(&self, inside: &Path) -> io::Result<bool>;
    /// Without a `/proc` (a bare chroot), as root: mount one on `/proc`
    /// in a mount namespace of this process's own, to map the ids with.
    fn private_proc(&self) -> io::Result<()>;
    /// Carry out one mount step in the tree at `root`.
    fn apply(&self, root: &Path, op: &Mount) -> io::Result<()>;
    /// Make `root` the root directory, out of reach of the old one.
    fn enter(&self, root: &Path) -> io::Result<Entered>;
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
    /// For this process and every one it starts: no new privileges on
    /// exec, and the system calls of [`DENIED`] refused; with
    /// `suppress_sync`, those that wait for the disk (`fsync`, `fdatasync`,
    /// `msync`, `sync`, `sync_file_range`, `syncfs`) answered with success
    /// without being made.
    fn lock_down(&self, entered: Entered, suppress_sync: bool) -> io::Result<()>;
    /// Close every file descriptor from `first` up: all but standard
    /// input, output and error, and those the request passes on
    /// (whatever the caller's caller left open may lead outside).
    fn close_other_fds(&self, first: u32) -> io::Result<()>;
    /// A new user namespace, nested in the current one, for the steps:
    /// they hold no capability over the namespaces the sandbox made (its
    /// mounts, its hostname) nor over this process.
    fn nest(&self) -> io::Result<()>;
    /// A session of its own, with no controlling terminal, and not
    /// dumpable: the steps can neither read nor write this process.
    fn seal(&self) -> io::Result<()>;
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

/// The system calls the steps may not make, by name: what container
/// runtimes deny by default. Loading kernel modules, kexec, reboot, swap,
/// the kernel keyring, BPF, perf, io_uring (which would bypass this
/// filter), file handles (`open_by_handle_at` reaches any file of a file
/// system), setting clocks, tracing or reading other processes (the
/// helper's own `init` among them), new mounts and new namespaces (to
/// undo the read-only mounts, or to gain a fresh set of capabilities).
/// Most of these are refused by the kernel already in a user namespace;
/// the filter refuses them whoever runs the helper, with EPERM.
/// `clone` with a new-namespace flag is refused too, and `clone3` says it
/// does not exist (ENOSYS), so that the C library falls back to `clone`,
/// whose flags the filter can read.
pub const DENIED: &[&str] = &[
    "acct",
    "add_key",
    "bpf",
    "clock_adjtime",
    "clock_settime",
    "delete_module",
    "finit_module",
    "fsconfig",
    "fsmount",
    "fsopen",
    "fspick",
    "init_module",
    "io_uring_enter",
    "io_uring_register",
    "io_uring_setup",
    "ioperm",
    "iopl",
    "kcmp",
    "kexec_file_load",
    "kexec_load",
    "keyctl",
    "lookup_dcookie",
    "mount",
    "mount_setattr",
    "move_mount",
    "name_to_handle_at",
    "open_by_handle_at",
    "open_tree",
    "open_tree_attr",
    "perf_event_open",
    "pidfd_getfd",
    "pivot_root",
    "process_vm_readv",
    "process_vm_writev",
    "ptrace",
    "quotactl",
    "quotactl_fd",
    "reboot",
    "request_key",
    "setns",
    "settimeofday",
    "swapoff",
    "swapon",
    "syslog",
    "umount2",
    "unshare",
    "userfaultfd",
    "vhangup",
];

/// The flags of `clone` that make new namespaces.
const CLONE_NEW_NAMESPACES: u32 = (libc::CLONE_NEWNS
    | libc::CLONE_NEWCGROUP
    | libc::CLONE_NEWUTS
    | libc::CLONE_NEWIPC
    | libc::CLONE_NEWUSER
    | libc::CLONE_NEWPID
    | libc::CLONE_NEWNET) as u32;

/// One architecture's numbers for the filter.
struct Numbers {
    audit_arch: u32,
    /// [`DENIED`]'s calls that exist there.
    denied: Vec<u32>,
    clone: u32,
    clone3: u32,
    chroot: u32,
    ioctl: u32,
    socket: u32,
    /// The numbers of the calls that wait for the disk (see
    /// [`Kernel::lock_down`]).
    sync: Vec<u32>,
}

/// Calls numbered from here on came after this filter was written (and
/// on x86_64, x32's calls, numbered from 2^30, share the audit
/// architecture): they say they do not exist until someone has looked at
/// them. 468 and 469 (file_getattr, file_setattr) are allowed.
const FIRST_UNREVIEWED: u32 = 470;

/// `ioctl` requests that push input into a terminal: a step could type
/// commands into the shell that started rdebootstrap.
const TERMINAL_INPUT: [u32; 2] = [libc::TIOCSTI as u32, libc::TIOCLINUX as u32];

/// `AF_VSOCK`: sockets to the hypervisor or host, which no network
/// namespace covers.
const AF_VSOCK: u32 = 40;

/// The numbers of this build's architecture.
fn native_numbers() -> Numbers {
    // One line per name of DENIED, where the architecture has the call.
    let table: &[(&str, i64)] = &[
        ("acct", libc::SYS_acct),
        ("add_key", libc::SYS_add_key),
        ("bpf", libc::SYS_bpf),
        ("clock_adjtime", libc::SYS_clock_adjtime),
        ("clock_settime", libc::SYS_clock_settime),
        ("delete_module", libc::SYS_delete_module),
        ("finit_module", libc::SYS_finit_module),
        ("fsconfig", libc::SYS_fsconfig),
        ("fsmount", libc::SYS_fsmount),
        ("fsopen", libc::SYS_fsopen),
        ("fspick", libc::SYS_fspick),
        ("init_module", libc::SYS_init_module),
        ("io_uring_enter", libc::SYS_io_uring_enter),
        ("io_uring_register", libc::SYS_io_uring_register),
        ("io_uring_setup", libc::SYS_io_uring_setup),
        #[cfg(target_arch = "x86_64")]
        ("ioperm", libc::SYS_ioperm),
        #[cfg(target_arch = "x86_64")]
        ("iopl", libc::SYS_iopl),
        ("kcmp", libc::SYS_kcmp),
        ("kexec_file_load", libc::SYS_kexec_file_load),
        ("kexec_load", libc::SYS_kexec_load),
        ("keyctl", libc::SYS_keyctl),
        ("lookup_dcookie", libc::SYS_lookup_dcookie),
        ("mount", libc::SYS_mount),
        ("mount_setattr", libc::SYS_mount_setattr),
        ("move_mount", libc::SYS_move_mount),
        ("name_to_handle_at", libc::SYS_name_to_handle_at),
        ("open_by_handle_at", libc::SYS_open_by_handle_at),
        ("open_tree", libc::SYS_open_tree),
        // Not in the libc crate yet; the same number on every architecture.
        ("open_tree_attr", 467),
        ("perf_event_open", libc::SYS_perf_event_open),
        ("pidfd_getfd", libc::SYS_pidfd_getfd),
        ("pivot_root", libc::SYS_pivot_root),
        ("process_vm_readv", libc::SYS_process_vm_readv),
        ("process_vm_writev", libc::SYS_process_vm_writev),
        ("ptrace", libc::SYS_ptrace),
        ("quotactl", libc::SYS_quotactl),
        ("quotactl_fd", libc::SYS_quotactl_fd),
        ("reboot", libc::SYS_reboot),
        ("request_key", libc::SYS_request_key),
        ("setns", libc::SYS_setns),
        ("settimeofday", libc::SYS_settimeofday),
        ("swapoff", libc::SYS_swapoff),
        ("swapon", libc::SYS_swapon),
        ("syslog", libc::SYS_syslog),
        ("umount2", libc::SYS_umount2),
        ("unshare", libc::SYS_unshare),
        ("userfaultfd", libc::SYS_userfaultfd),
        ("vhangup", libc::SYS_vhangup),
    ];
    debug_assert!(table.iter().all(|(n, _)| DENIED.contains(n)));
    Numbers {
        audit_arch: AUDIT_ARCH,
        denied: table.iter().map(|(_, nr)| *nr as u32).collect(),
        clone: libc::SYS_clone as u32,
        clone3: libc::SYS_clone3 as u32,
        chroot: libc::SYS_chroot as u32,
        ioctl: libc::SYS_ioctl as u32,
        socket: libc::SYS_socket as u32,
        sync: [
            libc::SYS_fdatasync,
            libc::SYS_fsync,
            libc::SYS_msync,
            libc::SYS_sync,
            libc::SYS_sync_file_range,
            libc::SYS_syncfs,
        ]
        .map(|nr| nr as u32)
        .to_vec(),
    }
}

/// i386's numbers (`asm/unistd_32.h`): an amd64 tree may hold i386
/// programs, which enter the kernel with these.
#[cfg(target_arch = "x86_64")]
fn compat_numbers() -> Option<Numbers> {
    Some(Numbers {
        audit_arch: 0x4000_0003,
        denied: vec![
            51, 286, 357, 343, 405, 264, 404, 129, 350, 431, 432, 430, 433, 128, 426, 427, 425,
            101, 110, 283, 288, 253, 21, 442, 429, 341, 342, 428, 336, 438, 217, 347, 348, 26, 131,
            88, 287, 346, 79, 25, 115, 87, 103, 22, 52, 310, 374, 111, 349, 467, 443,
        ],
        clone: 120,
        clone3: 435,
        chroot: 61,
        ioctl: 54,
        socket: 359,
        // fdatasync, fsync, msync, sync, sync_file_range, syncfs
        sync: vec![148, 118, 144, 36, 314, 344],
    })
}

#[cfg(not(target_arch = "x86_64"))]
fn compat_numbers() -> Option<Numbers> {
    None
}

/// The classic BPF program of [`Kernel::lock_down`].
fn deny_filter(entered: Entered, suppress_sync: bool) -> Vec<libc::sock_filter> {
    let ins = |code: u32, jt: u8, jf: u8, k: u32| libc::sock_filter {
        code: code as u16,
        jt,
        jf,
        k,
    };
    let ld = |offset: u32| ins(libc::BPF_LD | libc::BPF_W | libc::BPF_ABS, 0, 0, offset);
    let ret = |k: u32| ins(libc::BPF_RET | libc::BPF_K, 0, 0, k);
    let errno = |e: i32| ret(libc::SECCOMP_RET_ERRNO | (e as u32 & libc::SECCOMP_RET_DATA));
    let jeq = |k: u32, jt: u8, jf: u8| ins(libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K, jt, jf, k);
    let allow = ret(libc::SECCOMP_RET_ALLOW);
    // seccomp_data: nr at offset 0, arch at 4, the first argument at 16
    // (its low half, on these little-endian architectures).
    let block = |n: &Numbers| {
        let mut b = vec![
            ld(0),
            ins(
                libc::BPF_JMP | libc::BPF_JGE | libc::BPF_K,
                0,
                1,
                FIRST_UNREVIEWED,
            ),
            errno(libc::ENOSYS),
            jeq(n.clone, 0, 4),
            ld(16),
            ins(
                libc::BPF_JMP | libc::BPF_JSET | libc::BPF_K,
                0,
                1,
                CLONE_NEW_NAMESPACES,
            ),
            errno(libc::EPERM),
            allow,
            jeq(n.clone3, 0, 1),
            errno(libc::ENOSYS),
            // ioctl(fd, request): the request is the second argument.
            jeq(n.ioctl, 0, 5),
            ld(24),
            jeq(TERMINAL_INPUT[0], 1, 0),
            jeq(TERMINAL_INPUT[1], 0, 1),
            errno(libc::EPERM),
            allow,
            // socket(family, ...)
            jeq(n.socket, 0, 4),
            ld(16),
            jeq(AF_VSOCK, 0, 1),
            errno(libc::EAFNOSUPPORT),
            allow,
        ];
        let chroot = (entered == Entered::Chrooted).then_some(n.chroot);
        for nr in n.denied.iter().copied().chain(chroot) {
            b.push(jeq(nr, 0, 1));
            b.push(errno(libc::EPERM));
        }
        if suppress_sync {
            // "Error" 0: the call returns 0 without being made.
            for &nr in &n.sync {
                b.push(jeq(nr, 0, 1));
                b.push(errno(0));
            }
        }
        b.push(allow);
        b
    };
    let native = block(&native_numbers());
    let compat = compat_numbers().map(|n| (n.audit_arch, block(&n)));
    let ja = |k: usize| ins(libc::BPF_JMP | libc::BPF_JA, 0, 0, k as u32);
    // Dispatch on the architecture; an unknown one gets nothing.
    let mut prog = vec![ld(4), jeq(AUDIT_ARCH, 0, 1), ja(0)];
    if let Some((arch, _)) = &compat {
        prog.extend([jeq(*arch, 0, 1), ja(0)]);
    }
    prog.push(errno(libc::ENOSYS));
    let native_at = prog.len();
    prog.extend(native);
    prog[2] = ja(native_at - 3);
    if let Some((_, block)) = compat {
        let compat_at = prog.len();
        prog.extend(block);
        prog[4] = ja(compat_at - 5);
    }
    prog
}

/// Install the BPF program `filter` with seccomp's `flags`; the kernel's
/// non-negative answer is returned (a listener's descriptor, a thread).
fn install_filter(mut filter: Vec<libc::sock_filter>, flags: libc::c_ulong) -> io::Result<i64> {
    let prog = libc::sock_fprog {
        len: filter.len() as u16,
        filter: filter.as_mut_ptr(),
    };
    // SAFETY: `prog` points at `filter`, a valid BPF program of `len`
    // instructions that outlives the call (the kernel copies it); the
    // callers have set no_new_privs or are root in their user namespace,
    // as seccomp requires.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            libc::SECCOMP_SET_MODE_FILTER,
            flags,
            &prog as *const libc::sock_fprog,
        )
    };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(rc)
}

/// The real kernel.
pub struct Linux;

/// `/proc/self/fd/N`: a path the mount calls take for a file we opened.
fn fd_path(fd: &OwnedFd) -> String {
    format!("/proc/self/fd/{}", fd.as_raw_fd())
}

/// Open `rel` inside the tree at `root`, refusing symbolic links on the
/// way (the tree's own, `..` cannot leave it either), as an `O_PATH`
/// handle to mount on.
fn open_in(root: &Path, rel: &Path, dir: bool) -> io::Result<OwnedFd> {
    let top = rustix::fs::open(
        root,
        OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )?;
    // RESOLVE_NO_SYMLINKS refuses a link as the last component too.
    let flags = OFlags::PATH | OFlags::CLOEXEC;
    let flags = if dir {
        flags | OFlags::DIRECTORY
    } else {
        flags
    };
    rustix::fs::openat2(
        &top,
        rel,
        flags,
        Mode::empty(),
        ResolveFlags::IN_ROOT | ResolveFlags::NO_SYMLINKS | ResolveFlags::NO_MAGICLINKS,
    )
    .map_err(|e| {
        let what = root.join(rel);
        let why = match e {
            rustix::io::Errno::LOOP => {
                "is a symbolic link, or is reached through one: the sandbox does not follow links in the tree"
            }
            rustix::io::Errno::NOTDIR => "is not a directory, or is reached through a file",
            rustix::io::Errno::NOENT => "is missing in the tree",
            _ => return io::Error::new(io::Error::from(e).kind(), format!("{}: {e}", what.display())),
        };
        io::Error::new(io::Error::from(e).kind(), format!("{} {why}", what.display()))
    })
}

/// The parent directory (opened inside the tree) and the name of `rel`.
fn parent_in(root: &Path, rel: &Path) -> io::Result<(OwnedFd, PathBuf)> {
    let parent = rel
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = rel
        .file_name()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "no file name"))?;
    let dir = open_in(root, parent, true)?;
    // O_PATH handles cannot be used to create in: open it for real.
    let dir = rustix::fs::openat(
        rustix::fs::CWD,
        fd_path(&dir).as_str(),
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )?;
    Ok((dir, PathBuf::from(name)))
}

/// Bind the mount at `target` (opened inside the tree) onto itself, then
/// give that new mount and every one below it the attributes `set`.
fn rebind(root: &Path, target: &Path, dir: bool, set: u64) -> io::Result<()> {
    let fd = open_in(root, target, dir)?;
    rustix::mount::mount_bind_recursive(fd_path(&fd).as_str(), fd_path(&fd).as_str())?;
    // Opened again, the path reaches the new mount on top.
    set_recursively(&open_in(root, target, dir)?, set)
}

/// [`Mount::HostBind`]: `source` on the host onto `target` in the tree.
fn host_bind(root: &Path, source: &Path, target: &Path, read_only: bool) -> io::Result<()> {
    use std::path::Component;
    let first = target.components().next();
    let ours =
        matches!(first, Some(Component::Normal(c)) if c == "proc" || c == "sys" || c == "dev");
    if first.is_none()
        || ours
        || target
            .components()
            .any(|c| !matches!(c, Component::Normal(_)))
    {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "/{}: not a place to bind to (give an absolute path in the tree, without '..', not /, /proc, /sys or /dev)",
                target.display()
            ),
        ));
    }
    let src =
        rustix::fs::open(source, OFlags::PATH | OFlags::CLOEXEC, Mode::empty()).map_err(|e| {
            io::Error::new(
                io::Error::from(e).kind(),
                format!("{}: {e}", source.display()),
            )
        })?;
    let dir = rustix::fs::fstat(&src)?.st_mode & libc::S_IFMT == libc::S_IFDIR;
    let fd = match open_in(root, target, dir) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            // Made in its parent, inside the tree, never through a link.
            let (parent, name) = parent_in(root, target)?;
            if dir {
                rustix::fs::mkdirat(&parent, &name, Mode::from_raw_mode(0o755))?;
            } else {
                rustix::fs::openat(
                    &parent,
                    &name,
                    OFlags::CREATE
                        | OFlags::EXCL
                        | OFlags::WRONLY
                        | OFlags::NOFOLLOW
                        | OFlags::CLOEXEC,
                    Mode::from_raw_mode(0o644),
                )?;
            }
            open_in(root, target, dir)?
        }
        other => other?,
    };
    rustix::mount::mount_bind_recursive(fd_path(&src).as_str(), fd_path(&fd).as_str())?;
    let mut set = ATTR_NOSUID | ATTR_NODEV;
    if read_only {
        set |= ATTR_RDONLY;
    }
    // Opened again, the path reaches the new mount on top.
    set_recursively(&open_in(root, target, dir)?, set)
}

/// The `MOUNT_ATTR_*` flags of mount_setattr(2).
const ATTR_RDONLY: u64 = 0x1;
const ATTR_NOSUID: u64 = 0x2;
const ATTR_NODEV: u64 = 0x4;
const ATTR_NOEXEC: u64 = 0x8;
const ATTR_LOCKED_DOWN: u64 = ATTR_RDONLY | ATTR_NOSUID | ATTR_NODEV | ATTR_NOEXEC;

/// `struct mount_attr` of mount_setattr(2).
#[repr(C)]
struct MountAttr {
    attr_set: u64,
    attr_clr: u64,
    propagation: u64,
    userns_fd: u64,
}

/// Add the attributes `set` to the mount `top` and to every mount below it
/// (a remount would change the top one only, leaving what the host had
/// mounted below writable).
fn set_recursively(top: &OwnedFd, set: u64) -> io::Result<()> {
    let attr = MountAttr {
        attr_set: set,
        attr_clr: 0,
        propagation: 0,
        userns_fd: 0,
    };
    // SAFETY: `top` is an open descriptor and the empty path a valid C
    // string; `attr` is a `struct mount_attr` of the size passed, which
    // the kernel only reads, and it outlives the call.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            top.as_raw_fd(),
            c"".as_ptr(),
            libc::AT_EMPTY_PATH | libc::AT_RECURSIVE,
            &attr as *const MountAttr,
            std::mem::size_of::<MountAttr>(),
        )
    };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

impl Kernel for Linux {
    fn unshare(&self, net: bool) -> io::Result<()> {
        let mut flags = UnshareFlags::NEWUSER
            | UnshareFlags::NEWNS
            | UnshareFlags::NEWPID
            | UnshareFlags::NEWUTS
            | UnshareFlags::NEWIPC;
        if net {
            flags |= UnshareFlags::NEWNET;
        }
        // SAFETY: none of these flags unshares the file descriptor table
        // (CLONE_FILES), the hazard `unshare_unsafe` warns of; the helper
        // is single-threaded at this point, which CLONE_NEWUSER requires.
        unsafe { rustix::thread::unshare_unsafe(flags) }?;
        Ok(())
    }

    fn leave_chroot(&self, inside: &Path) -> io::Result<bool> {
        let step = |what: &str, e: rustix::io::Errno| {
            io::Error::new(io::Error::from(e).kind(), format!("{what}: {e}"))
        };
        // In a chroot, no mount shows "/" as its mount point: the
        // namespace's root mount lies outside the process's root (and
        // without /proc this is a bare chroot).
        if let Ok(info) = std::fs::read_to_string("/proc/self/mountinfo") {
            if info.lines().any(|l| l.split(' ').nth(4) == Some("/")) {
                return Ok(false);
            }
        }
        // SAFETY: CLONE_NEWNS alone; it does not touch the file
        // descriptor table.
        unsafe { rustix::thread::unshare_unsafe(UnshareFlags::NEWNS) }?;
        // Opened in the new namespace, whose mounts the path below names.
        let jail = rustix::fs::open(
            "/",
            OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )?;
        // Out of the chroot (root may): a root below the working
        // directory, then up to the namespace's own root.
        rustix::process::fchdir(&jail).map_err(|e| step("fchdir", e))?;
        rustix::process::chroot(inside).map_err(|e| step("chroot inside", e))?;
        for _ in 0..256 {
            rustix::process::chdir("..").map_err(|e| step("chdir ..", e))?;
        }
        rustix::process::chroot(".").map_err(|e| step("chroot .", e))?;
        rustix::mount::mount_change(
            "/",
            MountPropagationFlags::PRIVATE | MountPropagationFlags::REC,
        )
        .map_err(|e| step("make private", e))?;
        // The chroot's directory, seen from there, made the root of this
        // namespace.
        let path = rustix::fs::readlink(fd_path(&jail).as_str(), Vec::new())?;
        let path = Path::new(
            <std::ffi::OsStr as std::os::unix::ffi::OsStrExt>::from_bytes(path.as_bytes()),
        );
        drop(jail);
        rustix::mount::mount_bind_recursive(path, path).map_err(|e| step("bind", e))?;
        rustix::process::chdir(path).map_err(|e| step("chdir jail", e))?;
        rustix::process::pivot_root(".", ".").map_err(|e| step("pivot_root", e))?;
        rustix::mount::unmount(".", UnmountFlags::DETACH).map_err(|e| step("detach", e))?;
        rustix::process::chdir("/")?;
        Ok(true)
    }

    fn private_proc(&self) -> io::Result<()> {
        // SAFETY: CLONE_NEWNS alone; it does not touch the file
        // descriptor table.
        unsafe { rustix::thread::unshare_unsafe(UnshareFlags::NEWNS) }?;
        rustix::mount::mount_change(
            "/",
            MountPropagationFlags::PRIVATE | MountPropagationFlags::REC,
        )?;
        rustix::mount::mount(
            "proc",
            "/proc",
            "proc",
            MountFlags::NOSUID | MountFlags::NODEV | MountFlags::NOEXEC,
            None,
        )?;
        Ok(())
    }

    fn apply(&self, root: &Path, op: &Mount) -> io::Result<()> {
        match op {
            Mount::PrivateRoot => rustix::mount::mount_change(
                "/",
                MountPropagationFlags::PRIVATE | MountPropagationFlags::REC,
            )?,
            Mount::Tree => {
                rustix::mount::mount_bind_recursive(root, root)?;
                let top = rustix::fs::open(
                    root,
                    OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
                    Mode::empty(),
                )?;
                set_recursively(&top, ATTR_NOSUID | ATTR_NODEV)?;
            }
            Mount::Bind { source, target } => {
                if !Path::new(source).exists() {
                    return Err(io::Error::new(
                        io::ErrorKind::NotFound,
                        format!("{source} is missing on the host (inside a chroot, give it a /dev first)"),
                    ));
                }
                let fd = open_in(root, target, false)?;
                rustix::mount::mount_bind(*source, fd_path(&fd).as_str())?
            }
            Mount::Fs {
                fstype,
                target,
                flags,
                data,
            } => {
                let fd = open_in(root, target, true)?;
                let data = std::ffi::CString::new(*data)?;
                rustix::mount::mount(
                    *fstype,
                    fd_path(&fd).as_str(),
                    *fstype,
                    *flags,
                    Some(data.as_c_str()).filter(|d| !d.is_empty()),
                )?
            }
            Mount::Sys { target } => {
                let fd = open_in(root, target, true)?;
                let ro = MountFlags::RDONLY
                    | MountFlags::NOSUID
                    | MountFlags::NODEV
                    | MountFlags::NOEXEC;
                let at = fd_path(&fd);
                if rustix::mount::mount("sysfs", at.as_str(), "sysfs", ro, None).is_ok() {
                } else if Path::new("/sys/kernel").is_dir() {
                    rustix::mount::mount_bind_recursive("/sys", at.as_str())?;
                    set_recursively(&open_in(root, target, true)?, ATTR_LOCKED_DOWN)?;
                } else {
                    // No sysfs to show (a chroot without one): an empty,
                    // read-only directory, as a chroot would have.
                    rustix::mount::mount("tmpfs", at.as_str(), "tmpfs", ro, None)?;
                }
            }
            Mount::ReadOnly { target } => {
                let dir = match open_in(root, target, false) {
                    Ok(fd) => rustix::fs::fstat(&fd)?.st_mode & libc::S_IFMT == libc::S_IFDIR,
                    Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
                    Err(e) => return Err(e),
                };
                rebind(root, target, dir, ATTR_LOCKED_DOWN)?;
            }
            Mount::Create { path, dir } => {
                let (parent, name) = parent_in(root, path)?;
                if *dir {
                    rustix::fs::mkdirat(&parent, &name, Mode::from_raw_mode(0o755))?;
                } else {
                    rustix::fs::openat(
                        &parent,
                        &name,
                        OFlags::CREATE
                            | OFlags::EXCL
                            | OFlags::WRONLY
                            | OFlags::NOFOLLOW
                            | OFlags::CLOEXEC,
                        Mode::from_raw_mode(0o644),
                    )?;
                }
            }
            Mount::Symlink { target, path } => {
                let (parent, name) = parent_in(root, path)?;
                rustix::fs::symlinkat(*target, &parent, &name)?;
            }
            Mount::HostBind {
                source,
                target,
                read_only,
            } => host_bind(root, source, target, *read_only)?,
        }
        Ok(())
    }

    fn enter(&self, root: &Path) -> io::Result<Entered> {
        let top = rustix::fs::open(
            root,
            OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )?;
        rustix::process::fchdir(&top)?;
        drop(top);
        // The old root is stacked under the new one and detached at once,
        // so no directory for it is needed in the tree.
        match rustix::process::pivot_root(".", ".") {
            Ok(()) => {
                rustix::mount::unmount(".", UnmountFlags::DETACH)?;
                rustix::process::chdir("/")?;
                Ok(Entered::Pivoted)
            }
            // In a chroot, the current root is not a mount point.
            Err(rustix::io::Errno::INVAL) => {
                rustix::mount::mount_move(".", "/")?;
                rustix::process::chroot(".")?;
                rustix::process::chdir("/")?;
                Ok(Entered::Chrooted)
            }
            Err(e) => Err(e.into()),
        }
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
        // The helper is root in its user namespace, which seccomp accepts
        // in place of no_new_privs.
        let fd = install_filter(chown_filter(), libc::SECCOMP_FILTER_FLAG_NEW_LISTENER)?;
        // SAFETY: with NEW_LISTENER, the kernel returned a new file
        // descriptor (close-on-exec) that is ours alone.
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
        if rc > 0 {
            return Err(io::Error::other(format!(
                "thread {rc} could not take the filter"
            )));
        }
        Ok(())
    }

    fn close_other_fds(&self, first: u32) -> io::Result<()> {
        // SAFETY: closes descriptors `first` and up, which nothing in this
        // process holds as owned objects at the points it is called
        // (the start of `run` and of `init`).
        let rc = unsafe { libc::syscall(libc::SYS_close_range, first, u32::MAX, 0u32) };
        if rc < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    fn nest(&self) -> io::Result<()> {
        // SAFETY: CLONE_NEWUSER alone does not touch the file descriptor
        // table; `init` is single-threaded here (the chown interceptor
        // starts later), as CLONE_NEWUSER requires.
        unsafe { rustix::thread::unshare_unsafe(UnshareFlags::NEWUSER) }?;
        Ok(())
    }

    fn seal(&self) -> io::Result<()> {
        rustix::process::setsid()?;
        rustix::process::set_dumpable_behavior(rustix::process::DumpableBehavior::NotDumpable)?;
        Ok(())
    }

    fn lock_down(&self, entered: Entered, suppress_sync: bool) -> io::Result<()> {
        rustix::thread::set_no_new_privs(true)?;
        // TSYNC: every thread of this process (the chown interceptor too)
        // gets the filter; a positive answer names one that could not.
        let rc = install_filter(
            deny_filter(entered, suppress_sync),
            libc::SECCOMP_FILTER_FLAG_TSYNC,
        )?;
        if rc > 0 {
            return Err(io::Error::other(format!(
                "thread {rc} could not take the filter"
            )));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_plan_stays_inside_the_tree() {
        let ops = plan();
        assert_eq!(ops[..2], [Mount::PrivateRoot, Mount::Tree]);
        for op in &ops {
            match op {
                Mount::Bind { target, .. }
                | Mount::Fs { target, .. }
                | Mount::Sys { target }
                | Mount::ReadOnly { target }
                | Mount::Create { path: target, .. }
                | Mount::Symlink { path: target, .. }
                | Mount::HostBind { target, .. } => {
                    assert!(target.is_relative(), "{op:?}");
                    assert!(
                        target
                            .components()
                            .all(|c| matches!(c, std::path::Component::Normal(_))),
                        "{op:?}"
                    );
                }
                Mount::PrivateRoot | Mount::Tree => {}
            }
        }
        // Files and links are only made on the tmpfs on /dev.
        let dev = Path::new("dev");
        let dev_mounted = ops
            .iter()
            .position(|o| matches!(o, Mount::Fs { target, .. } if *target == dev))
            .unwrap();
        for (i, op) in ops.iter().enumerate() {
            if let Mount::Create { path, .. } | Mount::Symlink { path, .. } = op {
                assert!(path.starts_with(dev) && i > dev_mounted, "{op:?}");
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
                "proc proc",
                "tmpfs dev",
                "devpts dev/pts",
                "tmpfs dev/shm",
                "tmpfs tmp",
                "tmpfs run"
            ]
        );
        // /proc's kernel settings are made read-only once it is mounted.
        let proc_at = ops
            .iter()
            .position(|o| matches!(o, Mount::Fs { fstype: "proc", .. }));
        let sys_ro = ops.iter().position(
            |o| matches!(o, Mount::ReadOnly { target } if target == Path::new("proc/sys")),
        );
        assert!(proc_at < sys_ro && sys_ro.is_some());
    }

    #[test]
    fn every_jump_of_the_filter_lands_in_it() {
        for (entered, suppress_sync) in [
            (Entered::Pivoted, false),
            (Entered::Chrooted, false),
            (Entered::Pivoted, true),
        ] {
            let prog = deny_filter(entered, suppress_sync);
            assert!(prog.len() < 4096);
            for (i, ins) in prog.iter().enumerate() {
                let class = u32::from(ins.code) & 0x07;
                if class == libc::BPF_JMP {
                    let op = u32::from(ins.code) & 0xf0;
                    let targets = if op == libc::BPF_JA {
                        vec![ins.k as usize]
                    } else {
                        vec![ins.jt as usize, ins.jf as usize]
                    };
                    for t in targets {
                        assert!(i + 1 + t < prog.len(), "jump at {i}");
                    }
                }
            }
            // It ends in a return on every path: the last instruction is one.
            assert_eq!(u32::from(prog.last().unwrap().code) & 0x07, libc::BPF_RET);
        }
        // Every denied name is known on this architecture (or is one it
        // lacks), and the compat table is as long as the names it has.
        let native = native_numbers();
        assert!(native.denied.len() >= DENIED.len() - 2);
        if let Some(compat) = compat_numbers() {
            // i386 has umount and stime, and the 64-bit-time clock calls;
            // not kexec_file_load.
            assert_eq!(compat.denied.len(), DENIED.len() - 1 + 4);
        }
    }
}
