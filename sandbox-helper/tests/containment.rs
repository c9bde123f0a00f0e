//! Hostile steps cannot reach the host, as root and as an unprivileged
//! user: each case runs one step in a tree made of the host's own
//! programs (sh, mount, mknod, perl for raw system calls) and checks that
//! the step failed for the right reason, that a victim directory planted
//! outside the tree is untouched, and that nothing new exists beside the
//! tree or in the helper's working directory. Then: mount points that are
//! symbolic links are refused, nothing outlives the helper's caller, and
//! the helper works inside a chroot.
//!
//! These tests need root (to make the unprivileged case with setpriv, and
//! for the root case itself); under CI a missing prerequisite fails them.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::{
    copy_with_libraries, is_root, mini_tree, run_in, subordinate_user, temp, which, Dir, HELPER,
};
use sandbox_protocol::{Event, Request, Step, Users, PROTOCOL};
use testkit::chroot::make_dev_nodes;
use testkit::require;

const TOOLS: &[&str] = &[
    "sh", "cat", "head", "mkdir", "mknod", "mount", "perl", "sleep",
];

/// Who runs the helper.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Who {
    Root,
    /// `nobody`, through setpriv: root inside is the caller alone.
    Nobody,
    /// A user made for the test, with subordinate ids.
    SubUser,
}

struct Setup {
    base: Dir,
    tree: PathBuf,
    helper: String,
    wrapper: Vec<String>,
    users: Users,
}

impl Setup {
    fn new(tag: &str, who: Who) -> Setup {
        let base = temp(&format!("contain-{tag}-{who:?}"));
        let tree = base.0.join("tree");
        mini_tree(&tree, TOOLS);
        std::fs::create_dir_all(base.0.join("victim")).unwrap();
        std::fs::write(base.0.join("victim/file"), "precious\n").unwrap();
        std::fs::create_dir_all(base.0.join("cwd")).unwrap();
        let (helper, wrapper, users) = match who {
            Who::Root => (HELPER.to_owned(), Vec::new(), Users::Host),
            Who::Nobody | Who::SubUser => {
                let (uid, gid, users) = match who {
                    Who::Nobody => (65534, 65534, Users::Single),
                    _ => {
                        let (uid, gid, uids, gids) = subordinate_user("rdbcontain");
                        (uid, gid, Users::Subordinate { uids, gids })
                    }
                };
                let helper = base.0.join("helper");
                std::fs::copy(HELPER, &helper).unwrap();
                for d in [&base.0, &base.0.join("cwd")] {
                    std::fs::set_permissions(
                        d,
                        std::os::unix::fs::PermissionsExt::from_mode(0o755),
                    )
                    .unwrap();
                }
                let status = Command::new("chown")
                    .args(["-R", &format!("{uid}:{gid}")])
                    .arg(&tree)
                    .status()
                    .unwrap();
                assert!(status.success());
                (
                    helper.display().to_string(),
                    vec![
                        "setpriv".into(),
                        format!("--reuid={uid}"),
                        format!("--regid={gid}"),
                        "--clear-groups".into(),
                    ],
                    users,
                )
            }
        };
        Setup {
            base,
            tree,
            helper,
            wrapper,
            users,
        }
    }

    fn request(&self, script: &str) -> Request {
        Request {
            protocol: PROTOCOL,
            root: self.tree.clone(),
            network: false,
            hostname: "hostile".into(),
            env: vec![("PATH".into(), "/usr/bin:/bin".into())],
            users: self.users.clone(),
            owners: Vec::new(),
            binds: Vec::new(),
            stdio: false,
            suppress_sync: false,
            steps: vec![Step {
                label: "hostile".into(),
                argv: vec![
                    which("sh").display().to_string(),
                    "-c".into(),
                    script.into(),
                ],
                env: Vec::new(),
                status_fd: false,
            }],
        }
    }

    fn run(&self, req: &Request) -> Vec<Event> {
        let wrapper: Vec<&str> = self.wrapper.iter().map(String::as_str).collect();
        run_in(&self.helper, req, &wrapper, Some(&self.base.0.join("cwd")))
    }

    /// Everything beside the tree (the victim, the working directory),
    /// with contents.
    fn outside(&self) -> BTreeMap<PathBuf, Vec<u8>> {
        let mut out = BTreeMap::new();
        let mut todo = vec![self.base.0.clone()];
        while let Some(d) = todo.pop() {
            for e in std::fs::read_dir(&d).unwrap() {
                let p = e.unwrap().path();
                if p == self.tree {
                    continue;
                }
                let m = std::fs::symlink_metadata(&p).unwrap();
                if m.is_dir() {
                    todo.push(p.clone());
                    out.insert(p, Vec::new());
                } else {
                    out.insert(p.clone(), std::fs::read(&p).unwrap_or_default());
                }
            }
        }
        out
    }
}

fn prerequisites() -> bool {
    let tool = |t: &str| {
        Command::new("sh")
            .args(["-c", &format!("command -v {t}")])
            .output()
            .is_ok_and(|o| o.status.success())
    };
    require(is_root(), "root")
        && require(tool("setpriv"), "setpriv (util-linux)")
        && require(tool("perl"), "perl")
        && require(tool("newuidmap"), "newuidmap (uidmap)")
        && require(tool("useradd"), "useradd (passwd)")
}

/// The exit status of the one step, or the setup failure.
fn status(events: &[Event]) -> i32 {
    match events {
        [Event::Step { status, .. }, Event::Done] => *status,
        other => panic!("{other:?}"),
    }
}

/// The host's root file system's device numbers.
fn root_device() -> (u64, u64) {
    let dev = std::os::unix::fs::MetadataExt::dev(&std::fs::metadata("/").unwrap());
    (libc::major(dev) as u64, libc::minor(dev) as u64)
}

const SYSCTL: &str = "/proc/sys/kernel/printk_ratelimit_burst";

/// Each hostile case fails with the status it names (1: the perl probe
/// saw its call refused; other non-zero: the shell command failed).
fn cases(base: &Path, port: u16) -> Vec<(&'static str, String)> {
    let (major, minor) = root_device();
    let escaped = base.join("escaped").display().to_string();
    let victim = base.join("victim/file").display().to_string();
    let perl = |code: &str| format!("perl -e '{code}'");
    // Perl's syscall() may write into its string arguments: they are
    // variables, never literals. The probe exits 1 when the call failed.
    let refused = |call: &str| {
        format!(
            "my $r = {call}; if ($r == -1) {{ print STDERR \"refused: $!\\n\"; exit 1 }} exit 0"
        )
    };
    vec![
        ("write to the victim by its host path", format!("echo pwned > {victim}")),
        (
            "mknod the host's disk and mount it",
            format!(
                "mknod /tmp/disk b {major} {minor} && mkdir -p /tmp/m && mount /tmp/disk /tmp/m && echo pwned > /tmp/m{escaped}"
            ),
        ),
        ("write a host sysctl", format!("echo 7 > {SYSCTL}")),
        ("remount /sys read-write", "mount -o remount,rw /sys".into()),
        ("remount /proc/sys read-write", "mount -o remount,rw /proc/sys".into()),
        // umount2("/proc/sys", MNT_DETACH)
        (
            "unmount /proc/sys",
            perl(&format!("my $p = \"/proc/sys\"; {}", refused("syscall(166, $p, 2)"))),
        ),
        ("mount a new proc", "mkdir -p /tmp/p && mount -t proc proc /tmp/p".into()),
        ("trigger SysRq", "echo h > /proc/sysrq-trigger".into()),
        // ptrace(PTRACE_ATTACH, 1): the helper's own first process.
        ("ptrace the sandbox's init", perl(&refused("syscall(101, 16, 1, 0, 0)"))),
        (
            "ptrace a host process",
            perl(&refused(&format!("syscall(101, 16, {}, 0, 0)", std::process::id()))),
        ),
        // open_by_handle_at(fd of /, {8 bytes, type 1, inode 2}, O_RDONLY):
        // the file system's root, whatever the mount namespace shows.
        (
            "open_by_handle_at the file system's root",
            perl(&format!(
                "open(my $d, \"<\", \"/\") or exit 2; my $h = pack(\"LiLL\", 8, 1, 2, 0); {}",
                refused("syscall(304, fileno($d), $h, 0)")
            )),
        ),
        // unshare(CLONE_NEWUSER | CLONE_NEWNS): a fresh set of capabilities.
        ("unshare a new user namespace", perl(&refused("syscall(272, 0x10020000)"))),
        // clone(CLONE_NEWUSER | SIGCHLD): the same by clone; a child that
        // was made exits 0, and so does its parent.
        (
            "clone into a new user namespace",
            perl("my $r = syscall(56, 0x10000011, 0, 0, 0, 0); exit($r == -1 ? 1 : 0)"),
        ),
        // finit_module(0, "", 0)
        (
            "load a kernel module",
            perl(&format!("my $a = \"\"; {}", refused("syscall(313, 0, $a, 0)"))),
        ),
        // clock_settime(CLOCK_REALTIME, now): a valid time (an invalid
        // one is refused whatever the filter), and a harmless one.
        (
            "set the clock",
            perl(&format!(
                "my $t = pack(\"qq\", time(), 0); {}",
                refused("syscall(227, 0, $t)")
            )),
        ),
        // socket(AF_INET, SOCK_STREAM) + connect to the host's loopback.
        (
            "reach the host's network",
            perl(&format!(
                "my $s = syscall(41, 2, 1, 0); exit 2 if $s < 0; my $a = pack(\"S n C4 x8\", 2, {port}, 127, 0, 0, 1); {}",
                refused("syscall(42, $s, $a, 16)")
            )),
        ),
        // ioctl(2, TIOCSTI, "x"): type into a terminal. Refused by the
        // filter with EPERM (without it: ENOTTY, standard error is a pipe).
        (
            "push input into a terminal",
            perl("my $c = \"x\"; my $r = syscall(16, 2, 0x5412, $c); exit(($r == -1 && ($! + 0) == 1) ? 1 : 0)"),
        ),
        // socket(AF_VSOCK, SOCK_STREAM): the hypervisor's sockets.
        ("open a vsock socket", perl(&refused("syscall(41, 40, 1, 0)"))),
        // open_tree_attr(AT_FDCWD, "/", OPEN_TREE_CLONE, NULL, 0): a copy
        // of the tree's mount, to drop its nodev.
        (
            "clone a mount with open_tree_attr",
            perl(&format!("my $p = \"/\"; {}", refused("syscall(467, -100, $p, 1, 0, 0)"))),
        ),
        // The sandbox's first process: its memory and its protocol pipe.
        (
            "write the sandbox's init's memory",
            perl("open(my $f, \">\", \"/proc/1/mem\") ? exit 0 : exit 1"),
        ),
        (
            "write to the sandbox's protocol channel",
            perl("open(my $f, \">>\", \"/proc/1/fd/1\") ? exit 0 : exit 1"),
        ),
        // Out of a chroot made inside: only as far as the tree's root.
        (
            "escape a chroot",
            perl(&format!(
                "mkdir \"/tmp/x\"; chroot(\"/tmp/x\") or exit 1; chdir(\"..\") for 1..64; chroot(\".\"); open(my $f, \">\", \"{escaped}\") or exit 1; exit 0"
            )),
        ),
    ]
}

fn hostile_steps_are_contained(who: Who) {
    if !prerequisites() {
        return;
    }
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port();
    let sysctl = std::fs::read_to_string(SYSCTL).unwrap();
    let s = Setup::new("cases", who);
    // The probes work: perl runs, a harmless call succeeds.
    let events = s.run(&s.request("perl -e 'exit(syscall(39) > 0 ? 0 : 9)' && mount --version"));
    assert_eq!(status(&events), 0, "{events:?}");
    let before = s.outside();
    for (label, script) in cases(&s.base.0, port) {
        let events = s.run(&s.request(&script));
        let code = status(&events);
        // A perl probe says 1 when its call was refused; a shell command
        // fails otherwise, but not for want of the program (127).
        let refused = if script.starts_with("perl") {
            code == 1
        } else {
            code != 0 && code != 127
        };
        assert!(refused, "{who:?}: {label}: status {code}: {events:?}");
        assert_eq!(
            s.outside(),
            before,
            "{who:?}: {label} changed what is outside the tree"
        );
        assert_eq!(std::fs::read_to_string(SYSCTL).unwrap(), sysctl, "{label}");
        assert!(
            matches!(listener.accept(), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock),
            "{who:?}: {label}: the host's loopback was reached"
        );
        eprintln!("{who:?}: {label}: refused (status {code})");
    }
}

#[test]
fn hostile_steps_as_root() {
    hostile_steps_are_contained(Who::Root);
}

#[test]
fn hostile_steps_as_an_unprivileged_user() {
    hostile_steps_are_contained(Who::Nobody);
}

#[test]
fn hostile_steps_as_a_user_with_subordinate_ids() {
    hostile_steps_are_contained(Who::SubUser);
}

/// A device node a package shipped (the unpacker makes it, as dpkg
/// does, when run as root) cannot be opened in the sandbox.
#[test]
fn shipped_device_nodes_cannot_be_opened() {
    if !prerequisites() {
        return;
    }
    let s = Setup::new("node", Who::Root);
    let (major, minor) = root_device();
    let made = Command::new("mknod")
        .arg(s.tree.join("disk"))
        .args(["b", &major.to_string(), &minor.to_string()])
        .status()
        .unwrap();
    assert!(made.success());
    let before = s.outside();
    for script in [
        "head -c 1 /disk > /dev/null",
        "mkdir -p /tmp/m && mount /disk /tmp/m",
    ] {
        let events = s.run(&s.request(script));
        assert!(status(&events) != 0, "{script}: {events:?}");
    }
    assert_eq!(s.outside(), before);
}

/// A tree whose mount point is a symbolic link (to the helper's working
/// directory, to the host's root, to the victim) is refused before
/// anything is mounted or made there.
#[test]
fn symlinked_mount_points_are_refused() {
    if !prerequisites() {
        return;
    }
    for who in [Who::Root, Who::Nobody, Who::SubUser] {
        for point in ["dev", "proc", "sys", "tmp", "run"] {
            for target in ["/proc/self/cwd", "/", "VICTIM"] {
                let s = Setup::new(&format!("link-{point}"), who);
                let target =
                    target.replace("VICTIM", &s.base.0.join("victim").display().to_string());
                let at = s.tree.join(point);
                std::fs::remove_dir(&at).unwrap();
                std::os::unix::fs::symlink(&target, &at).unwrap();
                let before = s.outside();
                let events = s.run(&s.request("true"));
                match &events[..] {
                    [Event::Failed { error, .. }] => assert!(
                        error.contains(&format!("{point} is a symbolic link")),
                        "{who:?} {point} -> {target}: {error}"
                    ),
                    other => panic!("{who:?} {point} -> {target}: {other:?}"),
                }
                assert_eq!(s.outside(), before, "{who:?} {point} -> {target}");
            }
        }
    }
}

fn running(marker: &str) -> bool {
    let ps = Command::new("ps").args(["-eo", "args"]).output().unwrap();
    String::from_utf8_lossy(&ps.stdout)
        .lines()
        .any(|l| l.contains(marker))
}

/// When the caller goes away (standard input closed) or the helper is
/// killed, every process of the sandbox ends, and the steps after the
/// running one never run.
#[test]
fn nothing_outlives_the_caller() {
    if !prerequisites() || !require(Command::new("ps").arg("-V").output().is_ok(), "ps") {
        return;
    }
    for (how, sleep) in [("stdin closed", "4243.5"), ("helper killed", "4244.5")] {
        let s = Setup::new("orphan", Who::Root);
        let mut req = s.request(&format!("sleep {sleep}"));
        req.steps.push(Step {
            label: "after".into(),
            argv: vec![
                which("sh").display().to_string(),
                "-c".into(),
                "echo ran > /late".into(),
            ],
            env: Vec::new(),
            status_fd: false,
        });
        let mut child = Command::new(HELPER)
            .arg("run")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        std::io::Write::write_all(&mut stdin, req.to_line().as_bytes()).unwrap();
        let marker = format!("sleep {sleep}");
        let started = std::time::Instant::now();
        while !running(&marker) {
            assert!(
                started.elapsed().as_secs() < 20,
                "{how}: the step never started"
            );
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        match how {
            "stdin closed" => drop(stdin),
            _ => child.kill().unwrap(),
        }
        let started = std::time::Instant::now();
        while running(&marker) {
            assert!(
                started.elapsed().as_secs() < 10,
                "{how}: {marker} still runs"
            );
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        let _ = child.wait();
        assert!(!s.tree.join("late").exists(), "{how}");
    }
}

/// Inside a chroot (no /proc of its own, its root not a mount point), as
/// root: the helper still makes its namespaces and runs the steps, and a
/// step cannot chroot its way out.
#[test]
fn works_inside_a_chroot() {
    if !prerequisites() {
        return;
    }
    let base = temp("chroot");
    let jail = base.0.join("jail");
    copy_with_libraries(&jail, Path::new(HELPER));
    std::fs::create_dir_all(jail.join("proc")).unwrap();
    make_dev_nodes(&jail);
    let tree = jail.join("tree");
    mini_tree(&tree, TOOLS);
    let req = Request {
        protocol: PROTOCOL,
        root: "/tree".into(),
        network: false,
        hostname: "jailed".into(),
        env: vec![("PATH".into(), "/usr/bin:/bin".into())],
        users: Users::Host,
        owners: Vec::new(),
        binds: Vec::new(),
        stdio: false,
        suppress_sync: false,
        steps: vec![
            Step {
                label: "inside".into(),
                argv: vec![
                    which("sh").display().to_string(),
                    "-c".into(),
                    "echo ok > /out/ok".into(),
                ],
                env: Vec::new(),
                status_fd: false,
            },
            Step {
                label: "out".into(),
                argv: vec![
                    which("perl").display().to_string(),
                    "-e".into(),
                    "mkdir \"/tmp/x\"; chroot(\"/tmp/x\") or exit 1; chdir(\"..\") for 1..64; chroot(\".\"); exit(-e \"/jail\" || -e \"/tree\" ? 3 : 4)".into(),
                ],
                env: Vec::new(),
                status_fd: false,
            },
        ],
    };
    // The helper's path inside the jail is its host path.
    let events = run_in(HELPER, &req, &["chroot", jail.to_str().unwrap()], None);
    match &events[..] {
        [Event::Step { status: 0, .. }, Event::Step { status, .. }, Event::Done] => {
            assert!(*status == 1 || *status == 4, "{events:?}")
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        std::fs::read_to_string(tree.join("out/ok")).unwrap(),
        "ok\n"
    );
}

/// A capability a script sets (as `setcap` in a postinst) reads on the
/// host exactly as one set there: the user namespace does not change
/// what a tree built as root holds.
#[test]
fn capabilities_set_by_scripts_are_the_hosts() {
    if !prerequisites()
        || !require(
            Path::new("/usr/sbin/setcap").exists(),
            "setcap (libcap2-bin)",
        )
    {
        return;
    }
    let s = Setup::new("caps", Who::Root);
    copy_with_libraries(&s.tree, Path::new("/usr/sbin/setcap"));
    let events = s.run(
        &s.request("cat /usr/bin/sleep > /out/ping && /usr/sbin/setcap cap_net_raw+ep /out/ping"),
    );
    assert_eq!(status(&events), 0, "{events:?}");
    let host = s.base.0.join("ping");
    std::fs::copy("/usr/bin/sleep", &host).unwrap();
    let set = Command::new("/usr/sbin/setcap")
        .arg("cap_net_raw+ep")
        .arg(&host)
        .status()
        .unwrap();
    assert!(set.success());
    let xattr = |p: &Path| {
        let mut buf = vec![0u8; 64];
        let n = rustix::fs::getxattr(p, "security.capability", &mut buf).unwrap();
        buf.truncate(n);
        buf
    };
    assert_eq!(xattr(&s.tree.join("out/ping")), xattr(&host));
}

/// A directory the helper's caller left open (no close-on-exec) does not
/// reach the steps.
#[test]
fn inherited_descriptors_do_not_reach_the_steps() {
    if !prerequisites() {
        return;
    }
    let s = Setup::new("fd", Who::Root);
    let victim = rustix::fs::open(
        s.base.0.join("victim"),
        rustix::fs::OFlags::RDONLY | rustix::fs::OFlags::DIRECTORY,
        rustix::fs::Mode::empty(),
    )
    .unwrap();
    let n = std::os::fd::AsRawFd::as_raw_fd(&victim);
    let before = s.outside();
    let events = s.run(&s.request(&format!("echo pwned > /proc/self/fd/{n}/file")));
    assert!(status(&events) != 0, "{events:?}");
    assert_eq!(s.outside(), before);
}

/// With the network on (no sysfs of its own), the host's /sys is bound:
/// read-only, with everything mounted below it (cgroups among them).
#[test]
fn the_hosts_sys_stays_read_only_with_the_network() {
    if !prerequisites() || !require(Path::new("/sys/fs/cgroup").is_dir(), "/sys/fs/cgroup") {
        return;
    }
    let s = Setup::new("sys", Who::Root);
    let mut req = s.request("mkdir /sys/fs/cgroup/rdebootstrap-escape");
    req.network = true;
    let events = s.run(&req);
    assert!(status(&events) != 0, "{events:?}");
    assert!(!Path::new("/sys/fs/cgroup/rdebootstrap-escape").exists());
}
