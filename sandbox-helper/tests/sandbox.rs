//! The helper end to end, on a small tree made of the host's own shell
//! tools and their libraries: namespaces, mounts, environment, hostname,
//! no network, no process left behind, failures reported, nothing mounted
//! in the tree afterwards; as root and as an unprivileged user.

mod common;

use std::path::Path;
use std::process::Command;

use common::{is_root, mini_tree, run, run_helper, subordinate_user, temp, which, HELPER};

use sandbox_protocol::{Event, Owner, Request, Step, Users, PROTOCOL};

fn request(root: &Path, steps: &[(&str, &str)]) -> Request {
    Request {
        protocol: PROTOCOL,
        root: root.to_owned(),
        network: false,
        hostname: "rdebootstrap-test".into(),
        env: vec![
            ("PATH".into(), "/usr/bin:/bin".into()),
            ("LC_ALL".into(), "C.UTF-8".into()),
        ],
        users: if is_root() {
            Users::Host
        } else {
            Users::Single
        },
        owners: Vec::new(),
        binds: Vec::new(),
        stdio: false,
        suppress_sync: false,
        steps: steps
            .iter()
            .map(|(label, script)| Step {
                label: (*label).into(),
                argv: vec![
                    which("sh").display().to_string(),
                    "-c".into(),
                    (*script).into(),
                ],
                env: vec![("STEP".into(), (*label).into())],
                status_fd: false,
            })
            .collect(),
    }
}

fn check_inside(root: &Path, wrapper: &[&str]) {
    mini_tree(root, &["sh", "cat", "ls", "sleep"]);
    let req = request(
        root,
        &[
            (
                "look around",
                "echo $$ > /out/pid; cat /proc/sys/kernel/hostname > /out/hostname; \
                 test -c /dev/null && echo yes > /out/devnull; cat /proc/net/dev > /out/netdev; \
                 echo \"$PATH|$LC_ALL|$STEP|$HOME\" > /out/env; ls / > /out/root",
            ),
            ("leave a process behind", "sleep 4242 & echo started"),
            ("fail", "echo boom >&2; exit 3"),
            ("never", "echo ran > /out/never"),
        ],
    );
    let events = run(&req, wrapper);
    assert_eq!(
        events,
        [
            Event::Step {
                index: 0,
                status: 0,
                stderr: String::new()
            },
            Event::Step {
                index: 1,
                status: 0,
                stderr: String::new()
            },
            Event::Step {
                index: 2,
                status: 3,
                stderr: "boom\n".into()
            },
            Event::Done
        ]
    );
    let out = |f: &str| std::fs::read_to_string(root.join("out").join(f)).unwrap_or_default();
    // The step is the second process of a fresh PID namespace (the third
    // id without root: a thread of the first answers intercepted chowns).
    assert_eq!(out("pid"), if is_root() { "2\n" } else { "3\n" });
    assert_eq!(out("hostname"), "rdebootstrap-test\n");
    assert_eq!(out("devnull"), "yes\n");
    // No network: the loopback interface only.
    let netdev = out("netdev");
    let ifaces: Vec<&str> = netdev
        .lines()
        .skip(2)
        .map(|l| l.split(':').next().unwrap().trim())
        .collect();
    assert_eq!(ifaces, ["lo"], "{netdev}");
    assert_eq!(out("env"), "/usr/bin:/bin|C.UTF-8|look around|\n");
    assert!(!root.join("out/never").exists());
    // Nothing is left mounted in the tree, and nothing was made in it.
    for d in ["proc", "dev", "tmp", "run", "sys"] {
        assert_eq!(std::fs::read_dir(root.join(d)).unwrap().count(), 0, "{d}");
    }
    // The background process ended with the namespace.
    let ps = Command::new("ps").args(["-eo", "args"]).output();
    if let Ok(ps) = ps {
        assert!(!String::from_utf8_lossy(&ps.stdout).contains("sleep 4242"));
    }
}

#[test]
fn as_root() {
    if !testkit::require(is_root(), "root (the rootless test covers the rest)") {
        return;
    }
    let t = temp("root");
    check_inside(&t.0, &[]);
}

#[test]
fn as_an_unprivileged_user() {
    if !is_root() {
        let t = temp("user");
        check_inside(&t.0, &[]);
        return;
    }
    if !testkit::require(
        Command::new("setpriv").arg("--version").output().is_ok(),
        "setpriv (util-linux)",
    ) {
        return;
    }
    // The helper as `nobody`, from a copy it may run, on a tree it owns.
    let t = temp("nobody");
    std::fs::set_permissions(&t.0, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let helper = t.0.join("helper");
    std::fs::copy(HELPER, &helper).unwrap();
    let root = t.0.join("root");
    std::fs::create_dir(&root).unwrap();
    let helper_s = helper.display().to_string();
    let wrapper = [
        "setpriv",
        "--reuid=65534",
        "--regid=65534",
        "--clear-groups",
    ];
    mini_tree(&root, &["sh", "cat", "ls", "sleep", "chown", "ln"]);
    Command::new("chown")
        .args(["-R", "65534:65534"])
        .arg(&root)
        .status()
        .unwrap();
    let mut req = request(
        &root,
        &[(
            "who",
            "cat /proc/self/uid_map > /out/map; echo $$ > /out/pid; \
             cd /out && ln -s pid link && chown 0:0 map && chown 42:43 link && chown -h :8 link \
             && chown 7 /out/map",
        )],
    );
    req.users = Users::Single;
    let events = run_helper(&helper_s, &req, &wrapper);
    // Changes to root are made; others are not, and the step goes on as
    // if they had been; all are reported (symlinks resolved as chown does).
    assert_eq!(
        events,
        [
            Event::Chown {
                path: "/out/map".into(),
                uid: Some(0),
                gid: Some(0)
            },
            Event::Chown {
                path: "/out/pid".into(),
                uid: Some(42),
                gid: Some(43)
            },
            Event::Chown {
                path: "/out/link".into(),
                uid: None,
                gid: Some(8)
            },
            Event::Chown {
                path: "/out/map".into(),
                uid: Some(7),
                gid: None
            },
            Event::Step {
                index: 0,
                status: 0,
                stderr: String::new()
            },
            Event::Done
        ]
    );
    let owner = |p: &str| {
        let m = std::fs::symlink_metadata(root.join(p)).unwrap();
        (
            std::os::unix::fs::MetadataExt::uid(&m),
            std::os::unix::fs::MetadataExt::gid(&m),
        )
    };
    assert_eq!(owner("out/pid"), (65534, 65534));
    assert_eq!(owner("out/map"), (65534, 65534));
    // The steps' namespace, nested in the sandbox's, has its one id.
    let map = std::fs::read_to_string(root.join("out/map")).unwrap();
    assert_eq!(map.split_whitespace().collect::<Vec<_>>(), ["0", "0", "1"]);
    // A thread of the first process, answering intercepted chowns, is 2.
    assert_eq!(
        std::fs::read_to_string(root.join("out/pid")).unwrap(),
        "3\n"
    );
}

#[test]
fn bad_requests_are_refused_clearly() {
    let t = temp("bad");
    // A tree without /proc.
    std::fs::create_dir_all(t.0.join("dev")).unwrap();
    let events = run(&request(&t.0, &[("x", "true")]), &[]);
    match &events[..] {
        [Event::Failed { what, error }] => {
            assert!(
                what.contains("proc") && error.contains("is missing in the tree"),
                "{what}: {error}"
            );
        }
        other => panic!("{other:?}"),
    }
    // Another protocol version.
    let mut req = request(&t.0, &[]);
    req.protocol = 99;
    match &run(&req, &[])[..] {
        [Event::Failed { error, .. }] => assert!(error.contains("protocol 99"), "{error}"),
        other => panic!("{other:?}"),
    }
}

/// As an unprivileged user with subordinate ids (a user made for the test
/// when missing): ids inside are mapped with newuidmap/newgidmap, owners
/// are given and scripts' chown works, landing on the subordinate ids.
#[test]
fn as_a_user_with_subordinate_ids() {
    const USER: &str = "rdbsandbox";
    if !testkit::require(is_root(), "root (to make a user with subordinate ids)") {
        return;
    }
    for tool in ["setpriv", "newuidmap", "useradd"] {
        if Command::new("sh")
            .args(["-c", &format!("command -v {tool}")])
            .output()
            .map_or(true, |o| !o.status.success())
        {
            testkit::require(
                false,
                &format!("{tool} (packages util-linux, uidmap, passwd)"),
            );
            return;
        }
    }
    let (uid, gid, uids, gids) = subordinate_user(USER);
    let t = temp("subids");
    std::fs::set_permissions(&t.0, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let helper = t.0.join("helper");
    std::fs::copy(HELPER, &helper).unwrap();
    let root = t.0.join("root");
    std::fs::create_dir(&root).unwrap();
    mini_tree(&root, &["sh", "cat", "chown"]);
    std::fs::write(root.join("out/owned"), "").unwrap();
    Command::new("chown")
        .args(["-R", &format!("{uid}:{gid}")])
        .arg(&root)
        .status()
        .unwrap();
    let mut req = request(
        &root,
        &[(
            "map",
            "cat /proc/self/uid_map > /out/map; echo > /out/chowned; chown 7:8 /out/chowned",
        )],
    );
    req.users = Users::Subordinate { uids, gids };
    req.owners = vec![Owner {
        path: "/out/owned".into(),
        uid: 42,
        gid: 43,
        mode: Some(0o2750),
        xattrs: Vec::new(),
    }];
    let wrapper = [
        "setpriv",
        &format!("--reuid={uid}"),
        &format!("--regid={gid}"),
        "--clear-groups",
    ];
    let events = run_helper(&helper.display().to_string(), &req, &wrapper);
    assert_eq!(
        events,
        [
            Event::Step {
                index: 0,
                status: 0,
                stderr: String::new()
            },
            Event::Done
        ]
    );
    let map: Vec<String> = std::fs::read_to_string(root.join("out/map"))
        .unwrap()
        .split_whitespace()
        .map(str::to_owned)
        .collect();
    // The steps' namespace, nested in the sandbox's, has its ids (root,
    // then the subordinate range), each as itself; where they land on the
    // host is checked by the owners below.
    assert_eq!(map, ["0", "0", "1", "1", "1", &uids.count.to_string()]);
    let meta = |p: &str| {
        use std::os::unix::fs::MetadataExt;
        let m = std::fs::metadata(root.join(p)).unwrap();
        (m.uid(), m.gid(), m.mode() & 0o7777)
    };
    assert_eq!(
        meta("out/owned"),
        (uids.start + 41, gids.start + 42, 0o2750)
    );
    let chowned = meta("out/chowned");
    assert_eq!((chowned.0, chowned.1), (uids.start + 6, gids.start + 7));
    let _ = Command::new("chown").args(["-R", "0:0"]).arg(&t.0).status();
}

/// With `suppress_sync`, `fsync` and `fdatasync` answer success without
/// being made (on a descriptor that is not open, where the kernel would
/// say EBADF); without it, the kernel answers.
#[cfg(target_arch = "x86_64")]
#[test]
fn syncs_are_suppressed_only_when_asked() {
    if !testkit::require(Path::new("/usr/bin/perl").exists(), "perl") {
        return;
    }
    for suppress in [true, false] {
        let t = temp(if suppress { "nosync" } else { "sync" });
        mini_tree(&t.0, &["sh", "perl"]);
        // x86_64's fsync is 74, fdatasync 75; descriptor 999 is not open.
        let mut req = request(
            &t.0,
            &[(
                "sync",
                "perl -e 'print syscall(74, 999), \" \", syscall(75, 999), \"\\n\"' > /out/sync",
            )],
        );
        req.suppress_sync = suppress;
        let events = run(&req, &[]);
        assert_eq!(events.last(), Some(&Event::Done), "{events:?}");
        let out = std::fs::read_to_string(t.0.join("out/sync")).unwrap();
        assert_eq!(out, if suppress { "0 0\n" } else { "-1 -1\n" });
    }
}

/// A step with `status_fd` writes lines to descriptor 3; each comes back
/// as an `Event::Status`, in order, timed from the step's start, before
/// the step's end. A step without it has no descriptor 3.
#[test]
fn status_lines_come_back_timed() {
    let t = temp("status");
    mini_tree(&t.0, &["sh", "sleep"]);
    let mut req = request(
        &t.0,
        &[
            (
                "status",
                "echo 'processing: configure: a' >&3; sleep 0.3; echo 'status: a: installed' >&3",
            ),
            ("no status", "if { true >&3; } 2>/dev/null; then exit 1; fi"),
        ],
    );
    req.steps[0].status_fd = true;
    let events = run(&req, &[]);
    let status: Vec<(usize, u64, &str)> = events
        .iter()
        .filter_map(|e| match e {
            Event::Status {
                index,
                micros,
                line,
            } => Some((*index, *micros, line.as_str())),
            _ => None,
        })
        .collect();
    assert_eq!(status.len(), 2, "{events:?}");
    assert_eq!(
        (status[0].0, status[0].2, status[1].0, status[1].2),
        (0, "processing: configure: a", 0, "status: a: installed")
    );
    assert!(status[1].1 >= status[0].1 + 250_000, "{status:?}");
    let first_end = events
        .iter()
        .position(|e| matches!(e, Event::Step { index: 0, .. }))
        .unwrap();
    let last_status = events
        .iter()
        .rposition(|e| matches!(e, Event::Status { .. }))
        .unwrap();
    assert!(last_status < first_end, "{events:?}");
    assert!(
        events.contains(&Event::Step {
            index: 1,
            status: 0,
            stderr: String::new()
        }),
        "{events:?}"
    );
}
