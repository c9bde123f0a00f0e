//! First-run behaviour through the CLI: specs without a variant, specs
//! that cannot be configured, the tree left for a plain `chroot`, and
//! `rdebootstrap run` in a built tree.

use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::Path;
use std::process::{Command, Output};

use testkit::archive::{Served, SuiteBuilder};
use testkit::{required, DebBuilder, TempDir};

fn rdeb(dir: &Path, args: &[&str]) -> Output {
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

/// Write the manifest of `specs` over the archive at `url` in `d`, and
/// lock it.
fn lock(d: &Path, url: &str, specs: &str) {
    std::fs::write(d.join("Manifest.toml"), manifest(url, specs)).unwrap();
    let o = rdeb(d, &["update", "--no-cache"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
}

fn is_root() -> bool {
    // The effective uid, from /proc.
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(2).map(|u| u == "0"))
        })
        .unwrap_or(false)
}

/// An archive with an Essential package, empty dpkg and dash, and a
/// plain package.
fn suite() -> SuiteBuilder {
    SuiteBuilder::new("trixie")
        .package(
            DebBuilder::new("base-files", "13", "amd64")
                .field("Essential", "yes")
                .field("Priority", "required")
                .dir("./etc/")
                .dir("./usr/"),
        )
        .package(DebBuilder::new("dpkg", "1", "amd64").dir("./usr/"))
        .package(DebBuilder::new("dash", "1", "amd64").dir("./usr/"))
        .package(DebBuilder::new("plain", "1", "amd64").file("./plain", "p\n"))
}

fn manifest(url: &str, specs: &str) -> String {
    format!(
        "[[archive]]\nurl = \"{url}\"\nsuites = [\"trixie\"]\ncomponents = [\"main\"]\nsigned-by = \"archive.gpg\"\n\n{specs}"
    )
}

fn served(name: &str) -> Option<(Served, TempDir)> {
    let site = required(Served::start(name, suite()), "gpg (for the test archive)")?;
    let work = TempDir::new(name);
    site.write_keyring(&work.path().join("archive.gpg"));
    Some((site, work))
}

#[test]
fn a_named_spec_without_a_variant_gets_the_manifests_default() {
    let Some((site, work)) = served("variant-default") else {
        return;
    };
    let d = work.path();
    lock(
        d,
        &site.url(),
        "[spec]\nvariant = \"essential\"\n\n[spec.tools]\ninclude = [\"plain\"]\n\n\
             [spec.bare]\nvariant = \"custom\"\ninclude = [\"plain\"]\n",
    );
    let list = |spec: &str| {
        let o = rdeb(d, &["list", "-s", spec]);
        assert!(o.status.success(), "{}", text(&o.stderr));
        text(&o.stdout)
    };
    // [spec.tools] extends nothing and sets no variant: [spec]'s.
    assert_eq!(list("tools"), "base-files 13 amd64\nplain 1 amd64\n");
    // custom only when asked for.
    assert_eq!(list("bare"), "plain 1 amd64\n");
}

#[test]
fn a_spec_that_cannot_be_configured_fails_before_downloading() {
    let Some((site, work)) = served("not-configurable") else {
        return;
    };
    let d = work.path();
    lock(
        d,
        &site.url(),
        "[spec.bare]\ninclude = [\"plain\"]\n\n[spec.half]\ninclude = [\"plain\", \"dpkg\"]\n",
    );
    let cache = d.join("cache");
    let cache = cache.to_str().unwrap();
    let o = rdeb(
        d,
        &["build", "-s", "bare", "-p", "tree", "--cache-dir", cache],
    );
    let err = text(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains(
            "error: spec 'bare' cannot be configured: its locked packages have no dpkg and no /bin/sh (package dpkg, dash)"
        ) && err.contains("rdebootstrap require -s bare dpkg dash")
            && err.contains("--unpack-only"),
        "{err}"
    );
    // Nothing downloaded, no target made.
    assert!(!d.join("tree").exists());
    assert!(std::fs::read_dir(cache)
        .map(|mut r| r.next().is_none())
        .unwrap_or(true));
    let o = rdeb(d, &["build", "-s", "half", "-p", "tree", "--no-cache"]);
    let err = text(&o.stderr);
    assert!(
        err.contains(
            "spec 'half' cannot be configured: its locked packages have no /bin/sh (package dash)"
        ),
        "{err}"
    );
    // --unpack-only builds it.
    let o = rdeb(
        d,
        &[
            "build",
            "-s",
            "bare",
            "-p",
            "tree",
            "--no-cache",
            "--unpack-only",
        ],
    );
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(d.join("tree/plain").is_file());
}

/// mmdebstrap's /dev, fstab, and the host's hostname and resolv.conf.
#[test]
fn a_built_tree_has_dev_and_etc_as_mmdebstrap_leaves_them() {
    let Some((site, work)) = served("chroot-ready") else {
        return;
    };
    let d = work.path();
    std::fs::write(
        d.join("Manifest.toml"),
        manifest(&site.url(), "[spec]\ninclude = [\"plain\"]\n"),
    )
    .unwrap();
    // No lock yet: build --update makes it first.
    let o = rdeb(
        d,
        &[
            "build",
            "--update",
            "-p",
            "tree",
            "--no-cache",
            "--unpack-only",
        ],
    );
    let err = text(&o.stderr);
    assert!(o.status.success(), "{err}");
    assert!(err.contains("wrote Manifest.amd64.lock"), "{err}");
    assert!(d.join("Manifest.amd64.lock").is_file());
    let tree = d.join("tree");
    let root = is_root();
    for (name, major, minor) in [
        ("console", 5, 1),
        ("full", 1, 7),
        ("null", 1, 3),
        ("ptmx", 5, 2),
        ("random", 1, 8),
        ("tty", 5, 0),
        ("urandom", 1, 9),
        ("zero", 1, 5),
    ] {
        let m = std::fs::symlink_metadata(tree.join("dev").join(name)).unwrap();
        assert_eq!(m.permissions().mode() & 0o7777, 0o666, "{name}");
        if root {
            assert!(m.file_type().is_char_device(), "{name}");
            assert_eq!(m.rdev(), libc_makedev(major, minor), "{name}");
        } else {
            let own = std::fs::read_to_string(tree.join("var/lib/rdebootstrap/ownership")).unwrap();
            assert!(
                own.contains(&format!(
                    "{{\"path\":\"/dev/{name}\",\"type\":\"char\",\"mode\":\"0666\",\"uid\":0,\"gid\":0,\"device\":[{major},{minor}]}}"
                )),
                "{own}"
            );
        }
    }
    for (name, to) in [
        ("fd", "/proc/self/fd"),
        ("stdin", "/proc/self/fd/0"),
        ("stdout", "/proc/self/fd/1"),
        ("stderr", "/proc/self/fd/2"),
    ] {
        assert_eq!(
            std::fs::read_link(tree.join("dev").join(name)).unwrap(),
            Path::new(to)
        );
    }
    for name in ["pts", "shm"] {
        let m = std::fs::symlink_metadata(tree.join("dev").join(name)).unwrap();
        assert!(m.is_dir() && m.permissions().mode() & 0o7777 == 0o755);
    }
    assert_eq!(
        std::fs::read_to_string(tree.join("etc/fstab")).unwrap(),
        "# UNCONFIGURED FSTAB FOR BASE SYSTEM\n"
    );
    for f in ["etc/hostname", "etc/resolv.conf"] {
        if let Ok(host) = std::fs::read(Path::new("/").join(f)) {
            assert_eq!(std::fs::read(tree.join(f)).unwrap(), host, "{f}");
        }
    }
}

fn libc_makedev(major: u64, minor: u64) -> u64 {
    ((major & 0xfffff000) << 32)
        | ((major & 0xfff) << 8)
        | ((minor & 0xffffff00) << 12)
        | (minor & 0xff)
}

/// A tree of the host's shell and its libraries, as a build leaves one.
fn shell_tree(root: &Path) {
    testkit::chroot::copy_with_libraries(root, Path::new("/bin/sh"));
    std::fs::create_dir_all(root.join("usr")).unwrap();
}

fn sandbox_works() -> bool {
    // The sandbox needs user namespaces; as root it always has them here.
    required(
        is_root().then_some(()),
        "root (for the sandbox in run tests)",
    )
    .is_some()
}

#[test]
fn run_gives_the_commands_output_and_exit_status() {
    if !sandbox_works() {
        return;
    }
    let work = TempDir::new("run-status");
    let tree = work.path().join("tree");
    shell_tree(&tree);
    let o = rdeb(
        work.path(),
        &[
            "run",
            "-p",
            "tree",
            "--",
            "/bin/sh",
            "-c",
            "echo out; echo err >&2; exit 7",
        ],
    );
    let (out, err) = (text(&o.stdout), text(&o.stderr));
    assert_eq!(o.status.code(), Some(7), "{out}{err}");
    // Its standard output is ours, its standard error ours too.
    assert_eq!(out, "out\n", "{err}");
    assert!(err.contains("err\n"), "{err}");
    // It reads our standard input: a pipe through the tree.
    let mut child = Command::new(env!("CARGO_BIN_EXE_rdebootstrap"))
        .args(["run", "-p", "tree", "--", "/bin/sh", "-c"])
        .arg("while read l; do echo \"got $l\"; done")
        .current_dir(work.path())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), b"one\ntwo\n").unwrap();
    let o = child.wait_with_output().unwrap();
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert_eq!(text(&o.stdout), "got one\ngot two\n", "{}", text(&o.stderr));
    let o = rdeb(
        work.path(),
        &["run", "-p", "tree", "--", "/bin/sh", "-c", "exit 0"],
    );
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    // It runs in the tree, as root of the sandbox.
    let o = rdeb(
        work.path(),
        &[
            "run",
            "-p",
            "tree",
            "--",
            "/bin/sh",
            "-c",
            "echo hello > /from-inside",
        ],
    );
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert_eq!(
        std::fs::read_to_string(tree.join("from-inside")).unwrap(),
        "hello\n"
    );
}

#[test]
fn run_refuses_an_unfinished_tree_and_a_missing_command() {
    let work = TempDir::new("run-refuse");
    let tree = work.path().join("tree");
    shell_tree(&tree);
    std::fs::write(tree.join(".rdebootstrap-incomplete"), "").unwrap();
    let o = rdeb(work.path(), &["run", "-p", "tree", "--", "/bin/sh"]);
    let err = text(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("unfinished build"), "{err}");
    let o = rdeb(work.path(), &["run", "-p", "tree"]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o.stderr));
}

/// A `--bind` that is not SRC:DST[:ro|:rw] is a usage error before
/// anything runs: a mistyped mode (`:RO`) is not taken as part of the
/// target, which would bind writable what was meant read-only.
#[test]
fn a_bad_bind_is_a_usage_error() {
    let work = TempDir::new("run-bad-bind");
    let tree = work.path().join("tree");
    shell_tree(&tree);
    std::fs::create_dir(work.path().join("src")).unwrap();
    for (bind, says) in [
        ("src:/mnt/b:RO", "\"RO\" is no mode"),
        ("src:/mnt/b:bogus", "\"bogus\" is no mode"),
        ("src", "give SRC:DST"),
        ("src:mnt", "absolute"),
        ("missing:/mnt", "does not exist"),
    ] {
        let o = rdeb(
            work.path(),
            &["run", "-p", "tree", "--bind", bind, "--", "/bin/true"],
        );
        let err = text(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{bind}: {err}");
        assert!(err.contains(bind) && err.contains(says), "{bind}: {err}");
    }
    assert!(!tree.join("mnt").exists());
}

#[test]
fn run_binds_host_paths_into_the_tree() {
    if !sandbox_works() {
        return;
    }
    let work = TempDir::new("run-bind");
    let tree = work.path().join("tree");
    shell_tree(&tree);
    let shared = work.path().join("shared");
    std::fs::create_dir(&shared).unwrap();
    std::fs::write(shared.join("in"), "from the host\n").unwrap();
    let ro = work.path().join("ro");
    std::fs::create_dir(&ro).unwrap();
    std::fs::create_dir(tree.join("srv")).unwrap();
    let o = rdeb(
        work.path(),
        &[
            "run",
            "-p",
            "tree",
            "--bind",
            "shared:/mnt",
            "--bind",
            "ro:/srv/ro:ro",
            "--",
            "/bin/sh",
            "-c",
            "read l < /mnt/in && echo \"$l, back\" > /mnt/out && ! echo x 2>/dev/null > /srv/ro/x",
        ],
    );
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert_eq!(
        std::fs::read_to_string(shared.join("out")).unwrap(),
        "from the host, back\n"
    );
    assert!(!ro.join("x").exists());
    // The missing targets were made inside the tree, and stay there empty.
    assert!(tree.join("mnt").is_dir() && !tree.join("mnt/in").exists());
    assert!(tree.join("srv/ro").is_dir());
    // A target whose parent is missing is not made.
    let o = rdeb(
        work.path(),
        &[
            "run",
            "-p",
            "tree",
            "--bind",
            "ro:/opt/x/y",
            "--",
            "/bin/sh",
            "-c",
            "true",
        ],
    );
    assert_eq!(o.status.code(), Some(1), "{}", text(&o.stderr));
    assert!(!tree.join("opt").exists());
}

#[test]
fn run_refuses_a_symlinked_bind_target() {
    if !sandbox_works() {
        return;
    }
    let work = TempDir::new("run-bind-link");
    let tree = work.path().join("tree");
    shell_tree(&tree);
    let outside = work.path().join("outside");
    std::fs::create_dir(&outside).unwrap();
    std::os::unix::fs::symlink(&outside, tree.join("mnt")).unwrap();
    std::fs::create_dir(tree.join("real")).unwrap();
    std::os::unix::fs::symlink("real", tree.join("via")).unwrap();
    let shared = work.path().join("shared");
    std::fs::create_dir(&shared).unwrap();
    for target in ["/mnt", "/mnt/x", "/via/x"] {
        let o = rdeb(
            work.path(),
            &[
                "run",
                "-p",
                "tree",
                "--bind",
                &format!("shared:{target}"),
                "--",
                "/bin/sh",
                "-c",
                "touch /bound",
            ],
        );
        let err = text(&o.stderr);
        assert_eq!(o.status.code(), Some(1), "{target}: {err}");
        assert!(
            err.contains("is a symbolic link, or is reached through one"),
            "{target}: {err}"
        );
        assert!(!tree.join("bound").exists(), "{target}: the command ran");
    }
    // Nothing made outside the tree or through the links.
    assert_eq!(std::fs::read_dir(&outside).unwrap().count(), 0);
    assert_eq!(std::fs::read_dir(tree.join("real")).unwrap().count(), 0);
    // The sandbox's own mounts are not bind targets.
    let o = rdeb(
        work.path(),
        &[
            "run",
            "-p",
            "tree",
            "--bind",
            "shared:/proc/x",
            "--",
            "/bin/sh",
            "-c",
            "true",
        ],
    );
    assert!(
        text(&o.stderr).contains("not a place to bind to"),
        "{}",
        text(&o.stderr)
    );
}

/// `run` as unprivileged users (made for the test), with and without
/// subordinate ids: the same sandbox, exit status, output and binds.
#[test]
fn run_works_rootless() {
    let rdeb = Path::new(env!("CARGO_BIN_EXE_rdebootstrap"));
    for (name, subordinate) in [("rdbt-solo", false), ("rdbt-sub", true)] {
        let Some(user) = testkit::users::test_user(name, subordinate) else {
            return;
        };
        let work = TempDir::new("run-rootless");
        let d = work.path();
        let bin = d.join("bin");
        std::fs::create_dir(&bin).unwrap();
        let programs = testkit::users::copy_programs(&bin, &[rdeb]);
        let tree = d.join("tree");
        shell_tree(&tree);
        let shared = d.join("shared");
        std::fs::create_dir(&shared).unwrap();
        user.own(d);
        let o = user
            .command(&programs[0])
            .args(["run", "-p", "tree", "--bind", "shared:/mnt", "--"])
            .args(["/bin/sh", "-c", "echo out; echo in > /mnt/f; exit 5"])
            .current_dir(d)
            .output()
            .unwrap();
        let err = text(&o.stderr);
        assert_eq!(o.status.code(), Some(5), "{name}: {err}");
        assert_eq!(text(&o.stdout), "out\n", "{name}: {err}");
        assert_eq!(
            std::fs::read_to_string(shared.join("f")).unwrap(),
            "in\n",
            "{name}"
        );
        // Owners given inside: on disk with subordinate ids, in the
        // ownership file without them (as a build's scripts' are).
        testkit::chroot::copy_with_libraries(&tree, Path::new("/bin/chown"));
        let o = user
            .command(&programs[0])
            .args(["run", "-p", "tree", "--", "/bin/sh", "-c"])
            .arg("echo x > /owned && chown 7:8 /owned")
            .current_dir(d)
            .output()
            .unwrap();
        assert!(o.status.success(), "{name}: {}", text(&o.stderr));
        let file = std::fs::read_to_string(tree.join("var/lib/rdebootstrap/ownership"));
        if subordinate {
            let base = std::fs::metadata(tree.join("usr")).unwrap();
            let owned = std::fs::metadata(tree.join("owned")).unwrap();
            // Inside ids 7 and 8: subordinate ids on disk, not the user's.
            assert!(
                owned.uid() != base.uid() && owned.gid() != base.gid(),
                "{name}: {}:{}",
                owned.uid(),
                owned.gid()
            );
            assert!(file.is_err(), "{name}: {file:?}");
        } else {
            let file = file.unwrap();
            assert!(
                file.contains(r#"{"path":"/owned","type":"file","mode":"0644","uid":7,"gid":8}"#),
                "{name}: {file}"
            );
        }
    }
}
