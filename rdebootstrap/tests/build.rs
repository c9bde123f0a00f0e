//! `build --unpack-only` on a signed test archive served on loopback:
//! download, unpack, dpkg database. (Synthetic packages have no dpkg to
//! configure them with; full builds of real packages are compared with
//! mmdebstrap in `mmdebstrap.rs`.)

use std::process::{Command, Output};

use testkit::archive::{Served, SuiteBuilder};
use testkit::{required, DebBuilder, TempDir};

fn run(dir: &std::path::Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_rdebootstrap"))
        .args(args)
        .args(["--arch", "amd64"])
        .current_dir(dir)
        .output()
        .unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn build_unpacks_the_locked_packages_and_writes_the_dpkg_database() {
    let Some(site) = Served::start(
        "build-site",
        SuiteBuilder::new("trixie")
            .package(
                DebBuilder::new("base-files", "13", "amd64")
                    .field("Essential", "yes")
                    .field("Priority", "required")
                    .control_file("conffiles", 0o644, "/etc/issue\n")
                    .dir("./etc/")
                    .file("./etc/issue", "Test GNU/Linux\n")
                    .dir("./usr/")
                    .dir("./usr/bin/")
                    .symlink("./bin", "usr/bin"),
            )
            .package(
                DebBuilder::new("tool", "1.0", "amd64")
                    .field("Depends", "libtool1")
                    .dir("./usr/")
                    .dir("./usr/bin/")
                    .file_mode("./usr/bin/tool", 0o755, "#!/bin/sh\n"),
            )
            .package(
                DebBuilder::new("libtool1", "1.0", "amd64")
                    .field("Multi-Arch", "same")
                    .dir("./usr/")
                    .dir("./usr/lib/")
                    .file("./usr/lib/libtool.so.1", "ELF"),
            ),
    ) else {
        return;
    };
    let work = TempDir::new("build-work");
    let d = work.path();
    site.write_keyring(&d.join("archive.gpg"));
    std::fs::write(
        d.join("Manifest.toml"),
        format!(
            "[[archive]]\nurl = \"{}\"\nsuites = [\"trixie\"]\ncomponents = [\"main\"]\nsigned-by = \"archive.gpg\"\n\n[spec]\nvariant = \"essential\"\ninclude = [\"tool\"]\n",
            site.url()
        ),
    )
    .unwrap();
    let o = run(d, &["update", "--no-cache"]);
    assert!(o.status.success(), "{}", text(&o.stderr));

    let tree = d.join("tree");
    let o = run(d, &["build", "-p", "tree", "--no-cache", "--unpack-only"]);
    let err = text(&o.stderr);
    assert!(o.status.success(), "{err}");
    assert!(err.contains("unpacked 3 packages into tree"), "{err}");
    assert!(err.contains("not configured (--unpack-only)"), "{err}");
    assert_eq!(
        std::fs::read(tree.join("usr/bin/tool")).unwrap(),
        b"#!/bin/sh\n"
    );
    assert!(std::fs::symlink_metadata(tree.join("bin"))
        .unwrap()
        .file_type()
        .is_symlink());
    assert_eq!(
        std::fs::read(tree.join("etc/issue.dpkg-new")).unwrap(),
        b"Test GNU/Linux\n"
    );
    // Finished: not marked as incomplete.
    assert!(!tree.join(".rdebootstrap-incomplete").exists());
    // Without a cache, the downloads waited beside the tree, not in it,
    // and are gone.
    assert!(!tree.join("var/cache").exists());
    let beside: Vec<_> = std::fs::read_dir(d)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("rdebootstrap-debs"))
        .collect();
    assert!(beside.is_empty(), "{beside:?}");
    let status = std::fs::read_to_string(tree.join("var/lib/dpkg/status")).unwrap();
    assert_eq!(
        status.matches("Status: install ok unpacked\n").count(),
        3,
        "{status}"
    );
    assert!(
        status.contains("Conffiles:\n /etc/issue newconffile\n"),
        "{status}"
    );
    assert!(tree.join("var/lib/dpkg/info/libtool1:amd64.list").exists());
    assert!(tree.join("var/lib/dpkg/info/tool.list").exists());
    // Only what the spec asked for is manual for apt.
    let states = std::fs::read_to_string(tree.join("var/lib/apt/extended_states")).unwrap();
    assert_eq!(
        states,
        "Package: base-files\nArchitecture: amd64\nAuto-Installed: 1\n\nPackage: libtool1\nArchitecture: amd64\nAuto-Installed: 1\n"
    );

    // A directory that is not empty is refused.
    let o = run(d, &["build", "-p", "tree", "--no-cache", "--unpack-only"]);
    assert!(
        text(&o.stderr).contains("the target directory is not empty"),
        "{}",
        text(&o.stderr)
    );
    // So is a stale lock.
    let m = std::fs::read_to_string(d.join("Manifest.toml")).unwrap();
    std::fs::write(
        d.join("Manifest.toml"),
        m.replace("[\"tool\"]", "[\"tool\", \"libtool1\"]"),
    )
    .unwrap();
    let o = run(d, &["build", "-p", "tree2", "--no-cache", "--unpack-only"]);
    assert!(
        text(&o.stderr).contains("run 'rdebootstrap update'"),
        "{}",
        text(&o.stderr)
    );
    assert!(!d.join("tree2").exists());
}

/// `security.capability` granting cap_net_raw (VFS_CAP_REVISION_2).
const NET_RAW: [u8; 20] = [
    0x01, 0, 0, 0x02, 0, 0x20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
];

/// Rootless: `update` and `build --unpack-only` as unprivileged users made
/// for the test. Without subordinate ids, the tree is all the user's and
/// the owners, device nodes, fifos and capabilities are kept in its
/// ownership file; with them, owners are real (on the user's subordinate
/// ids) and only the nodes the tree cannot hold are kept.
#[test]
fn rootless_unpack_keeps_what_the_tree_cannot_hold() {
    use debrepo::ownership::{Entry, Kind};
    use std::os::unix::fs::MetadataExt;
    use testkit::users::test_user;
    let (Some(solo), Some(sub)) = (test_user("rdbt-solo", false), test_user("rdbt-sub", true))
    else {
        return;
    };
    let Some(site) = Served::start(
        "rootless-site",
        SuiteBuilder::new("trixie").package(
            // The mount points base-files ships: the owners are given in
            // the sandbox.
            DebBuilder::new("perms", "1", "amd64")
                .dir("./proc/")
                .dir("./sys/")
                .dir("./tmp/")
                .dir("./run/")
                .dir("./dev/")
                .char_device("./dev/null", 1, 3)
                .dir("./etc/")
                .file_mode("./etc/secret", 0o640, "s\n")
                .owner(0, 42, "root", "shadow")
                .dir("./usr/")
                .dir("./usr/bin/")
                .file_mode("./usr/bin/ping", 0o755, "ELF")
                .pax("SCHILY.xattr.security.capability", &NET_RAW)
                .file_mode("./usr/bin/tool", 0o2755, "ELF")
                .owner(0, 42, "root", "shadow")
                .dir("./var/")
                .fifo("./var/fifo"),
        ),
    ) else {
        return;
    };
    let rdeb = std::path::Path::new(env!("CARGO_BIN_EXE_rdebootstrap"));
    let helper = rdeb.with_file_name(debrepo::sandbox::HELPER);
    let entry = |path: &str, kind, mode, gid, device, cap: bool| Entry {
        path: path.into(),
        kind,
        mode,
        uid: 0,
        gid,
        device,
        xattrs: if cap {
            [(
                "security.capability".to_owned(),
                "AQAAAgAgAAAAAAAAAAAAAAAAAAA=".to_owned(),
            )]
            .into()
        } else {
            Default::default()
        },
    };
    // The package's /dev/null, and the rest of the /dev mmdebstrap leaves.
    let mut nodes: Vec<_> = debrepo::build::DEV
        .iter()
        .filter_map(|(name, e)| match e {
            debrepo::build::DevEntry::Char(major, minor) => Some(entry(
                &format!("/dev/{name}"),
                Kind::Char,
                0o666,
                0,
                Some((*major, *minor)),
                false,
            )),
            _ => None,
        })
        .collect();
    nodes.push(entry("/var/fifo", Kind::Fifo, 0o644, 0, None, false));
    for (user, subordinate) in [(solo, false), (sub, true)] {
        let work = TempDir::new("rootless");
        let d = work.path();
        let bin = d.join("bin");
        std::fs::create_dir(&bin).unwrap();
        let programs = testkit::users::copy_programs(&bin, &[rdeb, &helper]);
        site.write_keyring(&d.join("archive.gpg"));
        std::fs::write(
            d.join("Manifest.toml"),
            format!(
                "[[archive]]\nurl = \"{}\"\nsuites = [\"trixie\"]\ncomponents = [\"main\"]\nsigned-by = \"archive.gpg\"\n\n[spec]\ninclude = [\"perms\"]\n",
                site.url()
            ),
        )
        .unwrap();
        user.own(d);
        for args in [
            &["update", "--no-cache"][..],
            &["build", "-p", "tree", "--no-cache", "--unpack-only"],
        ] {
            let o = user
                .command(&programs[0])
                .args(args)
                .args(["--arch", "amd64"])
                .current_dir(d)
                .output()
                .unwrap();
            assert!(
                o.status.success(),
                "{}: {args:?}: {}",
                user.name,
                text(&o.stderr)
            );
        }
        let tree = d.join("tree");
        let kept = debrepo::ownership::read(&tree).unwrap();
        let meta = |p: &str| std::fs::symlink_metadata(tree.join(p)).unwrap();
        // Nodes are empty files standing in for them.
        assert!(meta("dev/null").is_file() && meta("dev/null").len() == 0);
        assert!(meta("var/fifo").is_file());
        let secret = meta("etc/secret");
        assert_eq!(secret.mode() & 0o7777, 0o640);
        assert_eq!(meta("usr/bin/tool").mode() & 0o7777, 0o2755);
        if subordinate {
            assert_eq!(kept, nodes, "{}", user.name);
            let start = testkit::users::subordinate_start("/etc/subgid", &user.name).unwrap();
            assert_eq!((secret.uid(), secret.gid()), (user.uid, start + 41));
            let cap = rustix::fs::lgetxattr(
                tree.join("usr/bin/ping"),
                "security.capability",
                &mut [0u8; 64][..],
            );
            assert!(cap.is_ok(), "{cap:?}");
        } else {
            let mut all = vec![
                entry("/etc/secret", Kind::File, 0o640, 42, None, false),
                entry("/usr/bin/ping", Kind::File, 0o755, 0, None, true),
                entry("/usr/bin/tool", Kind::File, 0o2755, 42, None, false),
            ];
            all.extend(nodes.clone());
            all.sort_by(|a, b| a.path.cmp(&b.path));
            assert_eq!(kept, all, "{}", user.name);
            assert_eq!((secret.uid(), secret.gid()), (user.uid, user.gid));
        }
        // Root can remove what the subordinate ids own.
        drop(work);
    }
}

const MARKER: &str = ".rdebootstrap-incomplete";

/// Packages shipping two mount points as links out of the tree, and a
/// base-files with the other mount points (and a file the rootless test
/// gives an owner to). Not /dev and /proc: base-files is unpacked first,
/// and a link where it put a directory is refused as it is unpacked; the
/// check before the sandbox is for the links that nothing else ships.
fn hostile_suite() -> SuiteBuilder {
    configurer(SuiteBuilder::new("trixie"))
        .package(
            DebBuilder::new("base-files", "13", "amd64")
                .field("Priority", "required")
                .dir("./sys/")
                .dir("./tmp/")
                .dir("./run/")
                .dir("./etc/")
                .file_mode("./etc/secret", 0o640, "s\n")
                .owner(0, 42, "root", "shadow"),
        )
        .package(DebBuilder::new("aaa-evil", "1", "amd64").symlink("./dev", "/proc/self/cwd"))
        .package(DebBuilder::new("aab-evil", "1", "amd64").symlink("./proc", "/"))
        .package(DebBuilder::new("plain", "1", "amd64").file("./plain", "p\n"))
}

/// Empty `dpkg` and `dash` packages: a spec holding them gets past
/// `build`'s check that its packages can be configured (and fails later,
/// in the sandbox, where the tree has no real dpkg).
fn configurer(suite: SuiteBuilder) -> SuiteBuilder {
    suite
        .package(DebBuilder::new("dpkg", "1", "amd64").dir("./usr/"))
        .package(DebBuilder::new("dash", "1", "amd64").dir("./usr/"))
}

fn plain_manifest(url: &str) -> String {
    format!(
        "[[archive]]\nurl = \"{url}\"\nsuites = [\"trixie\"]\ncomponents = [\"main\"]\nsigned-by = \"archive.gpg\"\n\n\
         [spec.plain]\ninclude = [\"plain\", \"dpkg\", \"dash\"]\n"
    )
}

fn hostile_manifest(url: &str) -> String {
    format!(
        "[[archive]]\nurl = \"{url}\"\nsuites = [\"trixie\"]\ncomponents = [\"main\"]\nsigned-by = \"archive.gpg\"\n\n\
         [spec.dev]\ninclude = [\"aaa-evil\", \"base-files\", \"dpkg\", \"dash\"]\n\n\
         [spec.proc]\ninclude = [\"aab-evil\", \"base-files\", \"dpkg\", \"dash\"]\n\n\
         [spec.plain]\ninclude = [\"plain\", \"dpkg\", \"dash\"]\n"
    )
}

/// A stand-in for the sandbox helper that records that it was started
/// (its pid in `started`), then waits `sleep` seconds and fails.
fn fake_helper(dir: &std::path::Path, started: &std::path::Path, sleep: u32) -> std::path::PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let helper = dir.join("fake-helper");
    std::fs::write(
        &helper,
        format!(
            "#!/bin/sh\necho $$ > '{}'\nsleep {sleep}\nexit 1\n",
            started.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&helper, std::fs::Permissions::from_mode(0o755)).unwrap();
    helper
}

fn names(dir: &std::path::Path) -> std::collections::BTreeSet<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect()
}

/// A package that sorts before base-files ships `./dev -> /proc/self/cwd`
/// (base-files then accepts the link for its `./dev/`, as dpkg does), or
/// `./proc -> /`: the build is refused, naming the package, before the
/// sandbox starts, and nothing appears in rdebootstrap's working
/// directory, the root directory or a victim directory.
#[test]
fn a_package_shipping_a_mount_point_as_a_link_is_refused_before_the_sandbox() {
    let Some(site) = required(
        Served::start("hostile-mounts", hostile_suite()),
        "gpg (for the test archive)",
    ) else {
        return;
    };
    let work = TempDir::new("hostile-mounts");
    let victim = TempDir::new("hostile-victim");
    std::fs::write(victim.path().join("zero"), "precious\n").unwrap();
    let d = work.path();
    site.write_keyring(&d.join("archive.gpg"));
    std::fs::write(d.join("Manifest.toml"), hostile_manifest(&site.url())).unwrap();
    std::fs::write(d.join("zero"), "precious\n").unwrap();
    let o = run(d, &["update", "--no-cache"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let started = victim.path().join("helper-started");
    let helper = fake_helper(d, &started, 0);

    for (spec, package, path, target) in [
        ("dev", "aaa-evil", "/dev", "/proc/self/cwd"),
        ("proc", "aab-evil", "/proc", "/"),
    ] {
        let (cwd, root, victim_before) = (
            testkit::tree_snapshot(d),
            names(std::path::Path::new("/")),
            testkit::tree_snapshot(victim.path()),
        );
        let tree = format!("tree-{spec}");
        let o = Command::new(env!("CARGO_BIN_EXE_rdebootstrap"))
            .args(["build", "-s", spec, "-p", &tree, "--no-cache", "-j", "1"])
            .args(["--arch", "amd64"])
            .env("RDEBOOTSTRAP_SANDBOX_HELPER", &helper)
            .current_dir(d)
            .output()
            .unwrap();
        let err = text(&o.stderr);
        assert!(!o.status.success(), "{err}");
        // (`/` comes back from the tar writer as `//`.)
        assert!(
            err.contains(&format!("{package}: ships {path} as a symbolic link to {target}"))
                && err.contains(&format!(
                    "; the sandbox mounts its own {path} there and refuses to follow links out of the tree"
                )),
            "{err}"
        );
        assert!(!started.exists(), "the sandbox helper was started");
        // Nothing new or changed outside the target.
        let mut after = testkit::tree_snapshot(d);
        after.retain(|p, _| p != &tree && !p.starts_with(&format!("{tree}/")));
        assert_eq!(after, cwd, "{spec}: the working directory changed");
        assert_eq!(names(std::path::Path::new("/")), root, "{spec}: / changed");
        assert_eq!(testkit::tree_snapshot(victim.path()), victim_before);
        // The tree says it is unfinished.
        assert!(d.join(&tree).join(MARKER).is_file(), "{spec}");
    }
}

/// The same refusal on the rootless path that gives the packages' owners
/// in the sandbox after `--unpack-only` (a user with subordinate ids).
#[test]
fn a_linked_mount_point_is_refused_before_giving_owners_rootless() {
    use testkit::users::test_user;
    let Some(user) = required(
        test_user("rdbt-mounts", true),
        "root, useradd, setpriv and newuidmap (for a user with subordinate ids)",
    ) else {
        return;
    };
    let Some(site) = required(
        Served::start("hostile-mounts-rootless", hostile_suite()),
        "gpg (for the test archive)",
    ) else {
        return;
    };
    let work = TempDir::new("hostile-mounts-rootless");
    let d = work.path();
    let bin = d.join("bin");
    std::fs::create_dir(&bin).unwrap();
    let programs = testkit::users::copy_programs(
        &bin,
        &[std::path::Path::new(env!("CARGO_BIN_EXE_rdebootstrap"))],
    );
    site.write_keyring(&d.join("archive.gpg"));
    std::fs::write(d.join("Manifest.toml"), hostile_manifest(&site.url())).unwrap();
    let started = d.join("helper-started");
    let helper = fake_helper(&bin, &started, 0);
    user.own(d);
    let before = testkit::tree_snapshot(d);
    let root = names(std::path::Path::new("/"));
    let mut o = None;
    for args in [
        &["update", "--no-cache"][..],
        &[
            "build",
            "-s",
            "dev",
            "-p",
            "tree",
            "--no-cache",
            "-j",
            "1",
            "--unpack-only",
        ],
    ] {
        o = Some(
            user.command(&programs[0])
                .args(args)
                .args(["--arch", "amd64"])
                .env("RDEBOOTSTRAP_SANDBOX_HELPER", &helper)
                .current_dir(d)
                .output()
                .unwrap(),
        );
    }
    let o = o.unwrap();
    let err = text(&o.stderr);
    assert!(!o.status.success(), "{err}");
    assert!(
        err.contains("aaa-evil: ships /dev as a symbolic link to /proc/self/cwd; the sandbox mounts its own /dev there and refuses to follow links out of the tree"),
        "{err}"
    );
    assert!(!started.exists(), "the sandbox helper was started");
    let mut after = testkit::tree_snapshot(d);
    after.retain(|p, _| p != "tree" && !p.starts_with("tree/") && !p.starts_with("Manifest."));
    let mut before = before;
    before.retain(|p, _| !p.starts_with("Manifest."));
    assert_eq!(after, before);
    assert_eq!(names(std::path::Path::new("/")), root);
    assert!(d.join("tree").join(MARKER).is_file());
}

/// A build that fails in the configure step leaves its target marked as
/// incomplete (and no policy-rc.d or staged preinst data); building into
/// it again is refused as an interrupted build.
#[test]
fn a_failed_build_leaves_its_target_marked_and_a_rerun_is_refused() {
    let Some(site) = required(
        Served::start(
            "interrupted",
            configurer(SuiteBuilder::new("trixie")).package(
                DebBuilder::new("plain", "1", "amd64")
                    .control_file("preinst", 0o755, "#!/bin/sh\nexit 0\n")
                    .file("./plain", "p\n"),
            ),
        ),
        "gpg (for the test archive)",
    ) else {
        return;
    };
    let work = TempDir::new("interrupted");
    let d = work.path();
    site.write_keyring(&d.join("archive.gpg"));
    std::fs::write(d.join("Manifest.toml"), plain_manifest(&site.url())).unwrap();
    let o = run(d, &["update", "--no-cache"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let started = d.join("helper-started");
    let helper = fake_helper(d, &started, 0);
    let build = |extra: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_rdebootstrap"))
            .args(["build", "-s", "plain", "-p", "tree", "--no-cache"])
            .args(extra)
            .args(["--arch", "amd64"])
            .env("RDEBOOTSTRAP_SANDBOX_HELPER", &helper)
            .current_dir(d)
            .output()
            .unwrap()
    };
    let o = build(&[]);
    assert!(!o.status.success(), "{}", text(&o.stderr));
    assert!(started.exists(), "the configure step did not run");
    let tree = d.join("tree");
    let marker = std::fs::read_to_string(tree.join(MARKER)).unwrap();
    assert!(marker.contains("incomplete"), "{marker}");
    assert!(tree.join("plain").exists());
    assert!(!tree.join("usr/sbin/policy-rc.d").exists());
    let staged: Vec<_> = names(&tree.join("var/lib/dpkg"))
        .into_iter()
        .filter(|n| n.starts_with("tmp.ci"))
        .collect();
    assert!(staged.is_empty(), "{staged:?}");

    for extra in [&[][..], &["--unpack-only"]] {
        let o = build(extra);
        let err = text(&o.stderr);
        assert!(!o.status.success(), "{err}");
        let dir = "tree";
        assert!(
            err.contains(&format!("{dir} holds an interrupted build (.rdebootstrap-incomplete marker): remove the directory (as root, or rootless without subordinate ids: rm -rf {dir}; rootless with subordinate ids: unshare --map-auto --map-root-user rm -rf {dir}) and build again")),
            "{err}"
        );
    }

    // A build that finishes leaves no marker.
    std::fs::remove_dir_all(&tree).unwrap();
    let o = build(&["--unpack-only"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(!tree.join(MARKER).exists());
}

/// SIGKILL of rdebootstrap while the sandbox runs the scripts leaves the
/// target marked as incomplete.
#[test]
fn a_killed_build_leaves_its_target_marked() {
    let Some(site) = required(
        Served::start(
            "killed",
            configurer(SuiteBuilder::new("trixie"))
                .package(DebBuilder::new("plain", "1", "amd64").file("./plain", "p\n")),
        ),
        "gpg (for the test archive)",
    ) else {
        return;
    };
    let work = TempDir::new("killed");
    let d = work.path();
    site.write_keyring(&d.join("archive.gpg"));
    std::fs::write(d.join("Manifest.toml"), plain_manifest(&site.url())).unwrap();
    let o = run(d, &["update", "--no-cache"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let started = d.join("helper-started");
    let helper = fake_helper(d, &started, 60);
    let mut child = Command::new(env!("CARGO_BIN_EXE_rdebootstrap"))
        .args(["build", "-s", "plain", "-p", "tree", "--no-cache"])
        .args(["--arch", "amd64"])
        .env("RDEBOOTSTRAP_SANDBOX_HELPER", &helper)
        .current_dir(d)
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let pid = loop {
        if let Some(pid) = std::fs::read_to_string(&started)
            .ok()
            .and_then(|s| s.trim().parse::<i32>().ok())
        {
            break pid;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the helper never started"
        );
        assert!(
            child.try_wait().unwrap().is_none(),
            "rdebootstrap ended first"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    child.kill().unwrap();
    child.wait().unwrap();
    // The stand-in does not die with its parent; the real helper does.
    let _ = Command::new("kill").arg(pid.to_string()).status();
    assert!(d.join("tree").join(MARKER).is_file());
    assert!(d.join("tree/plain").exists());
}

/// A spec without base-files has no mount points: they are made (not
/// through links), so the real sandbox starts and the build fails only
/// where it must, at the tree's missing dpkg, leaving the marker.
#[test]
fn missing_mount_points_are_made_for_the_sandbox() {
    use std::os::unix::fs::PermissionsExt;
    let helper = std::path::Path::new(env!("CARGO_BIN_EXE_rdebootstrap"))
        .with_file_name(debrepo::sandbox::HELPER);
    let Some(helper) = required(
        helper.is_file().then_some(helper),
        "the sandbox helper beside rdebootstrap (cargo build --workspace)",
    ) else {
        return;
    };
    let Some(site) = required(
        Served::start(
            "no-mount-points",
            configurer(SuiteBuilder::new("trixie"))
                .package(DebBuilder::new("plain", "1", "amd64").file("./plain", "p\n")),
        ),
        "gpg (for the test archive)",
    ) else {
        return;
    };
    let work = TempDir::new("no-mount-points");
    let d = work.path();
    site.write_keyring(&d.join("archive.gpg"));
    std::fs::write(d.join("Manifest.toml"), plain_manifest(&site.url())).unwrap();
    let o = run(d, &["update", "--no-cache"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let o = Command::new(env!("CARGO_BIN_EXE_rdebootstrap"))
        .args(["build", "-s", "plain", "-p", "tree", "--no-cache"])
        .args(["--arch", "amd64"])
        .env("RDEBOOTSTRAP_SANDBOX_HELPER", &helper)
        .current_dir(d)
        .output()
        .unwrap();
    let err = text(&o.stderr);
    assert!(!o.status.success(), "{err}");
    assert!(err.contains("dpkg --configure -a"), "{err}");
    assert!(!err.contains("missing in the tree"), "{err}");
    let tree = d.join("tree");
    for (name, mode) in [
        ("dev", 0o755),
        ("proc", 0o755),
        ("sys", 0o755),
        ("run", 0o755),
        ("tmp", 0o1777),
    ] {
        let meta = std::fs::symlink_metadata(tree.join(name)).unwrap();
        assert!(meta.is_dir(), "{name}");
        assert_eq!(meta.permissions().mode() & 0o7777, mode, "{name}");
    }
    assert!(tree.join(MARKER).is_file());
}

/// `meta = ["apt-lists:stage"]` with a signed archive and an
/// `allow-insecure` one (which also serves an InRelease): each is fetched
/// again as update fetched it, so both match the lock; the tree gets the
/// sources (the insecure one `Trusted: yes`), the keyring and the lists,
/// and a warning names the unverified suite. (apt itself in a built tree:
/// tests/aptlists.rs.)
#[test]
fn apt_lists_are_staged_as_locked_for_signed_and_insecure_archives() {
    let suite = || {
        SuiteBuilder::new("trixie")
            .package(DebBuilder::new("plain", "1", "amd64").file("./plain", "p\n"))
    };
    let Some(signed) = required(Served::start("lists-signed", suite()), "gpg") else {
        return;
    };
    let Some(insecure) = required(
        Served::start(
            "lists-insecure",
            SuiteBuilder::new("sid")
                .package(DebBuilder::new("other", "1", "amd64").file("./other", "o\n")),
        ),
        "gpg",
    ) else {
        return;
    };
    let work = TempDir::new("lists-work");
    let d = work.path();
    signed.write_keyring(&d.join("archive.gpg"));
    std::fs::write(
        d.join("Manifest.toml"),
        format!(
            "[[archive]]\nurl = \"{}\"\nsuites = [\"trixie\"]\ncomponents = [\"main\"]\nsigned-by = \"archive.gpg\"\n\n\
             [[archive]]\nurl = \"{}\"\nsuites = [\"sid\"]\ncomponents = [\"main\"]\nallow-insecure = true\n\n\
             [spec]\nvariant = \"custom\"\ninclude = [\"plain\", \"other\"]\nmeta = [\"apt-lists:stage\"]\n",
            signed.url(),
            insecure.url()
        ),
    )
    .unwrap();
    let o = run(d, &["update", "--no-cache"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let o = run(d, &["build", "-p", "tree", "--no-cache", "--unpack-only"]);
    let err = text(&o.stderr);
    assert!(o.status.success(), "{err}");
    assert!(
        err.contains(&format!(
            "{} sid: its lists are staged in the tree unverified",
            insecure.url()
        )),
        "{err}"
    );
    let tree = d.join("tree");
    let sources =
        std::fs::read_to_string(tree.join("etc/apt/sources.list.d/manifest.sources")).unwrap();
    assert!(sources.contains("Trusted: yes"), "{sources}");
    assert!(
        sources.contains("Signed-By: /etc/apt/keyrings/rdebootstrap-1.gpg"),
        "{sources}"
    );
    let lists: Vec<String> = std::fs::read_dir(tree.join("var/lib/apt/lists"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        lists.iter().any(|l| l.ends_with("_dists_trixie_InRelease")),
        "{lists:?}"
    );
    assert!(
        lists.iter().any(|l| l.ends_with("_dists_sid_Release")),
        "{lists:?}"
    );
    assert!(
        lists
            .iter()
            .any(|l| l.ends_with("_dists_sid_main_binary-amd64_Packages")),
        "{lists:?}"
    );
    // An unknown meta entry is an error naming the spec's line.
    let m = std::fs::read_to_string(d.join("Manifest.toml")).unwrap();
    std::fs::write(
        d.join("Manifest.toml"),
        m.replace("apt-lists:stage", "apt-lists:nope"),
    )
    .unwrap();
    let o = run(d, &["update", "--no-cache"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let o = run(d, &["build", "-p", "tree2", "--no-cache", "--unpack-only"]);
    let err = text(&o.stderr);
    assert!(
        err.contains("spec [spec] (line ") && err.contains("unknown meta entry 'apt-lists:nope'"),
        "{err}"
    );
}

/// A tree of an architecture this machine cannot run (x32: no qemu
/// handler matches it, and Debian's kernels leave its system calls off):
/// `build` refuses it before downloading anything, saying what to
/// install; `--unpack-only` runs no program of the tree and builds it.
#[test]
fn a_foreign_tree_needs_emulation_except_unpacked_only() {
    let deb = |name: &str| {
        DebBuilder::new(name, "1", "x32")
            .field("Essential", "yes")
            .field("Priority", "required")
            .dir("./usr/")
            .dir(&format!("./usr/share/{name}/"))
    };
    let Some(site) = Served::start(
        "foreign-site",
        SuiteBuilder::new("trixie")
            .package(deb("base-files"))
            .package(deb("dpkg"))
            .package(deb("dash")),
    ) else {
        return;
    };
    let work = TempDir::new("foreign-work");
    let d = work.path();
    site.write_keyring(&d.join("archive.gpg"));
    std::fs::write(
        d.join("Manifest.toml"),
        format!(
            "[[archive]]\nurl = \"{}\"\nsuites = [\"trixie\"]\ncomponents = [\"main\"]\nsigned-by = \"archive.gpg\"\n\n[spec]\nvariant = \"essential\"\n",
            site.url()
        ),
    )
    .unwrap();
    let x32 = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_rdebootstrap"))
            .args(args)
            .args(["--arch", "x32", "--no-cache"])
            .current_dir(d)
            .output()
            .unwrap()
    };
    let o = x32(&["update"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    site.server.clear_log();
    let o = x32(&["build", "-p", "tree"]);
    let err = text(&o.stderr);
    assert!(!o.status.success(), "{err}");
    assert!(
        err.contains("cannot run x32 programs")
            && err.contains("install qemu-user-static")
            && err.contains("arch-test x32")
            && err.contains("--unpack-only"),
        "{err}"
    );
    assert!(
        site.server.requests().is_empty(),
        "downloaded before refusing"
    );
    assert!(!d.join("tree").exists());
    let o = x32(&["build", "-p", "tree", "--unpack-only"]);
    let err = text(&o.stderr);
    assert!(o.status.success(), "{err}");
    assert!(err.contains("unpacked 3 packages into tree"), "{err}");
}

/// The second build unpacks from the data the first decoded (one entry
/// per package under `v1/decoded/`), with the same tree; a damaged entry
/// is not used but made again; `cache gc` and `cache clean` empty it.
#[test]
fn packages_are_decoded_once_and_the_cache_is_bounded() {
    let big: String = (0..20_000).map(|i| format!("line {i}\n")).collect();
    let Some(site) = Served::start(
        "decoded-site",
        SuiteBuilder::new("trixie")
            .package(
                DebBuilder::new("base-files", "13", "amd64")
                    .field("Essential", "yes")
                    .field("Priority", "required")
                    .dir("./usr/")
                    .dir("./usr/bin/")
                    .symlink("./bin", "usr/bin")
                    .file("./usr/share-big", big.as_bytes()),
            )
            .package(
                DebBuilder::new("tool", "1.0", "amd64")
                    .dir("./usr/")
                    .dir("./usr/bin/")
                    .file_mode("./usr/bin/tool", 0o755, "#!/bin/sh\necho tool\n")
                    .hardlink("./usr/bin/tool2", "./usr/bin/tool"),
            ),
    ) else {
        return;
    };
    let work = TempDir::new("decoded-work");
    let d = work.path();
    site.write_keyring(&d.join("archive.gpg"));
    std::fs::write(
        d.join("Manifest.toml"),
        format!(
            "[[archive]]\nurl = \"{}\"\nsuites = [\"trixie\"]\ncomponents = [\"main\"]\nsigned-by = \"archive.gpg\"\n\n[spec]\nvariant = \"essential\"\ninclude = [\"tool\"]\n",
            site.url()
        ),
    )
    .unwrap();
    let cache = d.join("cache");
    let c = cache.to_str().unwrap();
    let o = run(d, &["update", "--cache-dir", c]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let build = |tree: &str| {
        let o = run(d, &["build", "-p", tree, "--cache-dir", c, "--unpack-only"]);
        assert!(o.status.success(), "{}", text(&o.stderr));
        testkit::tree_snapshot(&d.join(tree))
    };
    let decoded = || {
        let mut v: Vec<std::path::PathBuf> = std::fs::read_dir(cache.join("v1/decoded"))
            .map(|shards| {
                shards
                    .flat_map(|s| std::fs::read_dir(s.unwrap().path()).unwrap())
                    .map(|e| e.unwrap().path())
                    .collect()
            })
            .unwrap_or_default();
        v.sort();
        v
    };
    let first = build("t1");
    let entries = decoded();
    assert_eq!(entries.len(), 2, "{entries:?}");
    // Kept compressed: the big file's package takes far less than it.
    let sizes: u64 = entries
        .iter()
        .map(|p| std::fs::metadata(p).unwrap().len())
        .sum();
    assert!(sizes < big.len() as u64 / 2, "{sizes}");
    assert_eq!(
        std::fs::read(d.join("t1/usr/bin/tool2")).unwrap(),
        b"#!/bin/sh\necho tool\n"
    );
    let stamps = |v: &[std::path::PathBuf]| -> Vec<std::time::SystemTime> {
        v.iter()
            .map(|p| std::fs::metadata(p).unwrap().modified().unwrap())
            .collect()
    };
    let before = stamps(&entries);
    std::thread::sleep(std::time::Duration::from_millis(20));
    // From the decoded data: the same tree, and each entry was used.
    assert_eq!(build("t2"), first);
    assert!(stamps(&entries).iter().zip(&before).all(|(a, b)| a > b));
    // Damaged: not used (the tree is still right), and made again.
    for p in &entries {
        let mut bytes = std::fs::read(p).unwrap();
        let mid = bytes.len() / 2;
        bytes[mid] ^= 0xff;
        std::fs::write(p, &bytes).unwrap();
    }
    let damaged: Vec<Vec<u8>> = entries.iter().map(|p| std::fs::read(p).unwrap()).collect();
    assert_eq!(build("t3"), first);
    let remade: Vec<Vec<u8>> = entries.iter().map(|p| std::fs::read(p).unwrap()).collect();
    assert_ne!(remade, damaged);
    assert_eq!(build("t4"), first);
    // gc to nothing decoded, then clean: the .debs go too.
    let o = run(d, &["cache", "gc", "--max-decoded", "0", "--cache-dir", c]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(
        text(&o.stderr).starts_with("removed 2 files"),
        "{}",
        text(&o.stderr)
    );
    assert!(decoded().is_empty());
    let o = run(d, &["cache", "clean", "--cache-dir", c]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let o = run(d, &["cache", "gc", "--cache-dir", c]);
    assert!(text(&o.stderr).contains("kept 0 "), "{}", text(&o.stderr));
    assert_eq!(build("t5"), first);
    let o = run(d, &["cache", "gc", "--no-cache"]);
    assert!(!o.status.success());
}
