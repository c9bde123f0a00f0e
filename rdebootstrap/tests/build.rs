//! `build --unpack-only` on a signed test archive served on loopback:
//! download, unpack, dpkg database. (Synthetic packages have no dpkg to
//! configure them with; full builds of real packages are compared with
//! mmdebstrap in `mmdebstrap.rs`.)

use std::process::{Command, Output};

use testkit::archive::{Served, SuiteBuilder};
use testkit::{DebBuilder, TempDir};

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
    // Without a cache, the downloads did not stay in the tree.
    assert!(!tree.join("var/cache/apt/archives/rdebootstrap").exists());
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
    let o = run(d, &["build", "-p", "tree", "--no-cache"]);
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
    let nodes = vec![
        entry("/dev/null", Kind::Char, 0o666, 0, Some((1, 3)), false),
        entry("/var/fifo", Kind::Fifo, 0o644, 0, None, false),
    ];
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
