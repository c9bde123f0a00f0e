//! Unpacking synthetic packages into a tree: layout, metadata, merged /usr,
//! hostile paths, conflicts and Replaces, conffiles, parallel determinism.

use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::Path;

use debrepo::deb::DebReader;
use debrepo::unpack::{Ownership, PackageInfo, UnpackError, Unpacker};
use testkit::{DebBuilder, TempDir};

fn is_root() -> bool {
    Ownership::for_this_process() == Ownership::Apply
}

/// Unpack `debs` (in this order, or in parallel) into `root`.
fn unpack_all(
    root: &Path,
    debs: &[DebBuilder],
    parallel: bool,
) -> Result<debrepo::unpack::Unpacked, UnpackError> {
    unpack_with(root, debs, parallel, false)
}

/// The same, with files created under their final names where free, as a
/// build unpacks (`Unpacker::with_direct_writes`).
fn unpack_with(
    root: &Path,
    debs: &[DebBuilder],
    parallel: bool,
    direct: bool,
) -> Result<debrepo::unpack::Unpacked, UnpackError> {
    unpack_owned(root, debs, parallel, direct, Ownership::for_this_process())
}

fn unpack_owned(
    root: &Path,
    debs: &[DebBuilder],
    parallel: bool,
    direct: bool,
    ownership: Ownership,
) -> Result<debrepo::unpack::Unpacked, UnpackError> {
    let bytes: Vec<Vec<u8>> = debs.iter().map(DebBuilder::build).collect();
    let infos = bytes
        .iter()
        .map(|b| {
            let r = DebReader::new(std::io::Cursor::new(b.as_slice())).unwrap();
            PackageInfo::from_control(r.control()).unwrap()
        })
        .collect();
    let u = Unpacker::new(root, ownership, infos)?.with_direct_writes(direct);
    let one = |i: usize| -> Result<(), UnpackError> {
        let mut r = DebReader::new(std::io::Cursor::new(bytes[i].as_slice())).unwrap();
        let mut data = r.data().unwrap();
        u.unpack(i, &mut data)
    };
    if parallel {
        std::thread::scope(|s| {
            let handles: Vec<_> = (0..bytes.len()).map(|i| s.spawn(move || one(i))).collect();
            handles.into_iter().try_for_each(|h| h.join().unwrap())
        })?;
    } else {
        (0..bytes.len()).try_for_each(one)?;
    }
    Ok(u.finish())
}

#[test]
fn files_directories_links_and_metadata() {
    let t = TempDir::new("unpack-basic");
    let deb = DebBuilder::new("basic", "1.0", "amd64")
        .dir("./usr/")
        .dir("./usr/bin/")
        .file_mode("./usr/bin/tool", 0o4755, "#!/bin/sh\necho hi\n")
        .hardlink("./usr/bin/tool2", "./usr/bin/tool")
        .symlink("./usr/bin/t", "tool")
        .dir("./var/")
        .dir("./var/mail/")
        .owner(0, 8, "root", "mail")
        .file("./var/mail/x", "mail")
        .owner(1000, 8, "someone", "mail")
        .fifo("./var/fifo")
        .char_device("./null", 1, 3)
        .file("./usr/bin/capped", "cap")
        .pax(
            "SCHILY.xattr.security.capability",
            &[
                1, 0, 0, 2, 0, 0x20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
            ],
        );
    let out = unpack_all(t.path(), &[deb], false).unwrap();
    let r = t.path();
    assert_eq!(
        std::fs::read(r.join("usr/bin/tool")).unwrap(),
        b"#!/bin/sh\necho hi\n"
    );
    let m = std::fs::metadata(r.join("usr/bin/tool")).unwrap();
    assert_eq!(m.permissions().mode() & 0o7777, 0o4755);
    assert_eq!(m.mtime(), 1_700_000_000);
    assert_eq!(
        m.ino(),
        std::fs::metadata(r.join("usr/bin/tool2")).unwrap().ino()
    );
    assert_eq!(
        std::fs::read_link(r.join("usr/bin/t")).unwrap(),
        Path::new("tool")
    );
    assert_eq!(
        out.lists[0],
        [
            "/.",
            "/usr",
            "/usr/bin",
            "/usr/bin/tool",
            "/usr/bin/tool2",
            "/usr/bin/t",
            "/var",
            "/var/mail",
            "/var/mail/x",
            "/var/fifo",
            "/null",
            "/usr/bin/capped"
        ]
    );
    // No temporaries left behind.
    let leftovers: Vec<_> = walk(r)
        .into_iter()
        .filter(|p| p.contains("rdebootstrap-tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    if is_root() {
        let x = std::fs::metadata(r.join("var/mail/x")).unwrap();
        assert_eq!((x.uid(), x.gid()), (1000, 8));
        assert_eq!(std::fs::metadata(r.join("var/mail")).unwrap().gid(), 8);
        let n = std::fs::symlink_metadata(r.join("null")).unwrap();
        assert!(n.file_type().is_char_device());
        assert_eq!(n.rdev(), rustix_dev(1, 3));
        assert!(std::fs::symlink_metadata(r.join("var/fifo"))
            .unwrap()
            .file_type()
            .is_fifo());
        assert!(out.recorded.is_empty());
        // The capability is set where the file system keeps security
        // attributes.
        let cap = xattr(&r.join("usr/bin/capped"), "security.capability");
        if let Some(cap) = cap {
            assert_eq!(cap[0], 1);
        }
    } else {
        let paths: Vec<_> = out
            .recorded
            .iter()
            .map(|x| x.path.to_str().unwrap().to_owned())
            .collect();
        assert!(
            paths.contains(&"var/mail/x".to_owned()) && paths.contains(&"null".to_owned()),
            "{paths:?}"
        );
    }
}

fn rustix_dev(major: u32, minor: u32) -> u64 {
    rustix::fs::makedev(major, minor)
}

fn xattr(path: &Path, name: &str) -> Option<Vec<u8>> {
    let mut buf = vec![0u8; 256];
    let n = rustix::fs::lgetxattr(path, name, &mut buf).ok()?;
    buf.truncate(n);
    Some(buf)
}

fn walk(root: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_owned()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let e = e.unwrap();
            let p = e.path();
            out.push(p.strip_prefix(root).unwrap().display().to_string());
            if e.file_type().unwrap().is_dir() {
                stack.push(p);
            }
        }
    }
    out.sort();
    out
}

#[test]
fn merged_usr_symlinks_are_followed_and_kept() {
    let t = TempDir::new("unpack-usrmerge");
    std::fs::create_dir_all(t.path().join("usr/bin")).unwrap();
    std::os::unix::fs::symlink("usr/bin", t.path().join("bin")).unwrap();
    let deb = DebBuilder::new("old-layout", "1", "amd64")
        .dir("./bin/")
        .file("./bin/sh", "shell");
    let other = DebBuilder::new("new-layout", "1", "amd64")
        .dir("./usr/bin/")
        .file("./usr/bin/sh", "another shell");
    unpack_all(t.path(), std::slice::from_ref(&deb), false).unwrap();
    let meta = std::fs::symlink_metadata(t.path().join("bin")).unwrap();
    assert!(meta.file_type().is_symlink(), "bin must stay a symlink");
    assert_eq!(
        std::fs::read(t.path().join("usr/bin/sh")).unwrap(),
        b"shell"
    );
    // /bin/sh and /usr/bin/sh are one file: two packages shipping them
    // conflict, in either order.
    for debs in [[deb.clone(), other.clone()], [other, deb]] {
        let t = TempDir::new("unpack-usrmerge2");
        std::fs::create_dir_all(t.path().join("usr/bin")).unwrap();
        std::os::unix::fs::symlink("usr/bin", t.path().join("bin")).unwrap();
        let e = unpack_all(t.path(), &debs, false).unwrap_err().to_string();
        assert!(e.contains("trying to overwrite") && e.contains("sh"), "{e}");
    }
}

#[test]
fn nothing_is_written_outside_the_tree() {
    let outside = TempDir::new("unpack-outside");
    let victim = outside.path().join("victim");
    std::fs::write(&victim, "untouched").unwrap();
    let t = TempDir::new("unpack-hostile");
    let root = t.path().join("root");
    std::fs::create_dir(&root).unwrap();
    let abs = outside.path().display().to_string();
    // Through a symlink whose target does not exist in the tree, nothing
    // can be written (dpkg fails the same way), and nothing leaks out.
    let dangling = DebBuilder::new("dangling", "1", "amd64")
        .symlink("./escape", &abs)
        .file("./escape/victim", "pwned");
    let e = unpack_all(&root, &[dangling], false)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("/escape/victim: cannot open its directory in the tree"),
        "{e}"
    );
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "untouched");
    // Where the target exists inside the tree, writes land there: a
    // symlink to the outside directory (absolute and relative), then files
    // written through it; an absolute entry path.
    let root = t.path().join("root2");
    std::fs::create_dir_all(root.join(abs.trim_start_matches('/'))).unwrap();
    let deb = DebBuilder::new("hostile", "1", "amd64")
        .symlink("./escape", &abs)
        .file("./escape/victim", "pwned")
        .symlink("./up", "../../../../../../../..")
        .file(&format!("./up{abs}/victim"), "pwned too")
        .file(&format!("{abs}/victim2"), "absolute");
    unpack_all(&root, &[deb], false).unwrap();
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "untouched");
    assert!(!outside.path().join("victim2").exists());
    // What the links pointed to was taken inside the root.
    let inside = root.join(abs.trim_start_matches('/'));
    assert_eq!(
        std::fs::read_to_string(inside.join("victim")).unwrap(),
        "pwned too"
    );
    assert!(std::fs::symlink_metadata(root.join("escape"))
        .unwrap()
        .file_type()
        .is_symlink());
    assert_eq!(
        std::fs::read_to_string(inside.join("victim2")).unwrap(),
        "absolute"
    );
    // `..` in a path is refused; a hard link only reaches a file earlier in
    // the same archive.
    for (deb, why) in [
        (
            DebBuilder::new("dotdot", "1", "amd64").file("./../../victim", "pwned"),
            "'..' not allowed in archive object name",
        ),
        (
            DebBuilder::new("link", "1", "amd64").hardlink("./stolen", "../../victim"),
            "which is not a file earlier in the archive",
        ),
    ] {
        let e = unpack_all(&root, &[deb], false).unwrap_err();
        let mut text = e.to_string();
        let mut cause = std::error::Error::source(&e);
        while let Some(c) = cause {
            text = format!("{text}: {c}");
            cause = c.source();
        }
        assert!(text.contains(why), "{text}");
    }
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "untouched");
}

#[test]
fn shared_paths_conflict_unless_replaced() {
    let a = DebBuilder::new("a", "1", "amd64")
        .dir("./etc/")
        .file("./etc/shared", "from a")
        .symlink("./etc/link", "shared");
    let b = DebBuilder::new("b", "2", "amd64")
        .dir("./etc/")
        .file("./etc/shared", "from b")
        .symlink("./etc/link", "shared");
    let t = TempDir::new("unpack-conflict");
    let e = unpack_all(t.path(), &[a.clone(), b.clone()], false)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains(
            "b:amd64 2: trying to overwrite /etc/shared, which is also in package a:amd64 1"
        ),
        "{e}"
    );
    // With Replaces the replacing package wins, whatever the order; the
    // same symlink in both is fine.
    let b = b.field("Replaces", "a (<< 2)");
    for (debs, b_index) in [([a.clone(), b.clone()], 1), ([b.clone(), a.clone()], 0)] {
        for (parallel, direct) in [(false, false), (true, false), (false, true), (true, true)] {
            let t = TempDir::new("unpack-replaces");
            let out = unpack_with(t.path(), &debs, parallel, direct).unwrap();
            // No temporary left.
            let names = walk(t.path());
            assert!(
                !names.iter().any(|n| n.contains("rdebootstrap-")),
                "{names:?}"
            );
            assert_eq!(
                std::fs::read(t.path().join("etc/shared")).unwrap(),
                b"from b"
            );
            assert!(out.lists[b_index].contains(&"/etc/shared".to_owned()));
            assert!(!out.lists[1 - b_index].contains(&"/etc/shared".to_owned()));
            let with_link = out
                .lists
                .iter()
                .filter(|l| l.contains(&"/etc/link".to_owned()))
                .count();
            assert_eq!(with_link, 1, "{:?}", out.lists);
        }
    }
    // A versioned Replaces that does not match is no Replaces.
    let b = DebBuilder::new("b", "2", "amd64")
        .file("./etc/shared", "from b")
        .field("Replaces", "a (<< 1)");
    let t = TempDir::new("unpack-replaces-version");
    assert!(unpack_all(t.path(), &[a, b], false).is_err());
}

#[test]
fn conffiles_are_staged_as_dpkg_new() {
    let deb = DebBuilder::new("conf", "1", "all")
        .control_file("conffiles", 0o644, "/etc/conf.conf\n")
        .dir("./etc/")
        .file("./etc/conf.conf", "setting=1\n")
        .file("./etc/plain", "not a conffile\n");
    let t = TempDir::new("unpack-conffiles");
    let out = unpack_all(t.path(), &[deb], false).unwrap();
    assert!(!t.path().join("etc/conf.conf").exists());
    assert_eq!(
        std::fs::read(t.path().join("etc/conf.conf.dpkg-new")).unwrap(),
        b"setting=1\n"
    );
    assert!(t.path().join("etc/plain").exists());
    assert!(out.lists[0].contains(&"/etc/conf.conf".to_owned()));
}

#[test]
fn parallel_unpacking_gives_the_sequential_tree() {
    let debs: Vec<DebBuilder> = (0..12)
        .map(|i| {
            let mut d = DebBuilder::new(&format!("p{i}"), "1", "amd64")
                .dir("./usr/")
                .dir("./usr/share/")
                .dir(&format!("./usr/share/p{i}/"));
            for j in 0..50 {
                d = d.file(&format!("./usr/share/p{i}/f{j}"), format!("{i}/{j}"));
            }
            d.symlink("./usr/share/common-link", "p0")
        })
        .collect();
    let seq = TempDir::new("unpack-seq");
    let par = TempDir::new("unpack-par");
    let direct = TempDir::new("unpack-direct");
    let a = unpack_all(seq.path(), &debs, false).unwrap();
    let b = unpack_all(par.path(), &debs, true).unwrap();
    let c = unpack_with(direct.path(), &debs, true, true).unwrap();
    assert_eq!(walk(seq.path()), walk(par.path()));
    assert_eq!(walk(seq.path()), walk(direct.path()));
    assert_eq!(a.lists, b.lists);
    assert_eq!(a.lists, c.lists);
    assert_eq!(walk(seq.path()).len(), 2 + 12 * 51 + 1);
}

/// An entry cut short by the end of the archive is not left in the tree,
/// written under a temporary or (direct) under its own name; the entries
/// before it are whole.
#[test]
fn a_truncated_entry_is_not_left_behind() {
    let big: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
    let full = DebBuilder::new("cut", "1", "amd64")
        .dir("./usr/")
        .file("./usr/first", "whole")
        .file("./usr/big", big);
    let len = full.data_tar().len();
    let cut = full.truncate_data_tar(len / 2);
    for direct in [false, true] {
        let t = TempDir::new("unpack-cut");
        let e = unpack_with(t.path(), std::slice::from_ref(&cut), false, direct).unwrap_err();
        assert!(e.to_string().contains("cut"), "{e}");
        assert_eq!(std::fs::read(t.path().join("usr/first")).unwrap(), b"whole");
        assert_eq!(walk(t.path()).len(), 2, "{:?}", walk(t.path()));
    }
}

/// Run as root (as CI does), the rootless path is checked too: these tests
/// run again as `nobody` through util-linux `setpriv`, where ownership and
/// device nodes are recorded instead of applied.
#[test]
fn rootless_as_an_unprivileged_user() {
    if std::env::var_os("RDEBOOTSTRAP_UNPACK_CHILD").is_some()
        || !testkit::require(is_root(), "root (to run the tests as another user)")
    {
        return;
    }
    if std::process::Command::new("setpriv")
        .arg("--version")
        .output()
        .is_err()
    {
        testkit::require(false, "setpriv (util-linux)");
        return;
    }
    // A copy nobody can run, wherever the checkout lives.
    let dir = TempDir::new("unpack-rootless-bin");
    let me = dir.path().join("unpack-tests");
    std::fs::copy(std::env::current_exe().unwrap(), &me).unwrap();
    for p in [dir.path(), me.as_path()] {
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let o = std::process::Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(&me)
        .arg("--test-threads=1")
        .arg("--exact")
        // This file's tests (one module of tests/all.rs), by full name.
        .args(
            [
                "files_directories_links_and_metadata",
                "nothing_is_written_outside_the_tree",
                "shared_paths_conflict_unless_replaced",
                "conffiles_are_staged_as_dpkg_new",
            ]
            .map(|t| format!("{}::{t}", module_path!().split_once("::").unwrap().1)),
        )
        .env("RDEBOOTSTRAP_UNPACK_CHILD", "1")
        .env("TMPDIR", "/tmp")
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success(),
        "{out}\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(out.contains("test result: ok. 4 passed"), "{out}");
}

#[test]
fn essential_conffiles_can_also_be_put_in_place() {
    let deb = DebBuilder::new("login", "1", "amd64")
        .field("Essential", "yes")
        .control_file("conffiles", 0o644, "/etc/login.defs\n")
        .dir("./etc/")
        .file_mode("./etc/login.defs", 0o640, "PASS_MAX_DAYS 99999\n");
    let bytes = deb.build();
    let mut r = DebReader::new(std::io::Cursor::new(bytes.as_slice())).unwrap();
    let mut info = PackageInfo::from_control(r.control()).unwrap();
    info.conffiles_in_place = true;
    let t = TempDir::new("unpack-in-place");
    // Written under the final names at once, as a build writes them.
    let u = Unpacker::new(t.path(), Ownership::for_this_process(), vec![info])
        .unwrap()
        .with_direct_writes(true);
    u.unpack(0, &mut r.data().unwrap()).unwrap();
    let out = u.finish();
    for f in ["etc/login.defs", "etc/login.defs.dpkg-new"] {
        let p = t.path().join(f);
        assert_eq!(std::fs::read(&p).unwrap(), b"PASS_MAX_DAYS 99999\n", "{f}");
        assert_eq!(
            std::fs::metadata(&p).unwrap().permissions().mode() & 0o777,
            0o640
        );
    }
    assert_eq!(
        out.lists[0]
            .iter()
            .filter(|p| *p == "/etc/login.defs")
            .count(),
        1
    );
}

/// Unpack `first` into `root`, then `later` into a stage in `root/tmp`
/// (with `between` run on the tree meanwhile, as the essential set's
/// scripts run), and merge it in.
fn unpack_staged(
    root: &Path,
    ownership: Ownership,
    first: &[DebBuilder],
    later: &[DebBuilder],
    between: impl FnOnce(&Path),
) -> Result<debrepo::unpack::Unpacked, UnpackError> {
    let all: Vec<DebBuilder> = first.iter().chain(later).cloned().collect();
    let bytes: Vec<Vec<u8>> = all.iter().map(DebBuilder::build).collect();
    let infos = bytes
        .iter()
        .map(|b| {
            let r = DebReader::new(std::io::Cursor::new(b.as_slice())).unwrap();
            PackageInfo::from_control(r.control()).unwrap()
        })
        .collect();
    let mut u = Unpacker::new(root, ownership, infos)?.with_direct_writes(true);
    let one = |u: &Unpacker, i: usize| -> Result<(), UnpackError> {
        let mut r = DebReader::new(std::io::Cursor::new(bytes[i].as_slice())).unwrap();
        let mut data = r.data().unwrap();
        u.unpack(i, &mut data)
    };
    (0..first.len()).try_for_each(|i| one(&u, i))?;
    std::fs::create_dir_all(root.join("tmp/stage")).unwrap();
    u.stage_into(&root.join("tmp/stage"))?;
    between(root);
    (first.len()..all.len()).try_for_each(|i| one(&u, i))?;
    u.merge_stage()?;
    std::fs::remove_dir_all(root.join("tmp/stage")).unwrap();
    Ok(u.finish())
}

#[test]
fn a_staged_unpack_merges_into_the_tree_of_one_unpack() {
    // The essential part: merged-/usr links (also one below the top),
    // shared directories, a file the rest replaces.
    let layout = DebBuilder::new("layout", "1", "amd64")
        .dir("./tmp/")
        .dir("./usr/")
        .dir("./usr/bin/")
        .dir("./usr/lib/")
        .symlink("./bin", "usr/bin")
        .symlink("./lib", "usr/lib")
        .dir("./usr/share/")
        .dir("./usr/share/real/")
        .symlink("./usr/share/alias", "real");
    let ess = DebBuilder::new("ess", "1", "amd64")
        .dir("./etc/")
        .file("./etc/shared", "from ess")
        .file("./etc/kept", "ess keeps this")
        .dir("./usr/share/doc/")
        .dir("./usr/share/doc/ess/")
        .file("./usr/share/doc/ess/copyright", "ess");
    // The rest: through the links, into shared and new directories, a
    // replaced file, a file a script made meanwhile.
    let rest = DebBuilder::new("rest", "2", "amd64")
        .field("Replaces", "ess")
        .dir("./bin/")
        .file("./bin/tool", "tool")
        .dir("./usr/share/alias/")
        .file("./usr/share/alias/data", "through a lower link")
        .dir("./etc/")
        .file("./etc/shared", "from rest")
        .file("./etc/made-by-a-script", "shipped")
        .dir("./usr/share/doc/")
        .dir("./usr/share/doc/rest/")
        .file("./usr/share/doc/rest/copyright", "rest")
        .dir("./opt/")
        .dir("./opt/new/")
        .dir("./opt/new/deep/")
        .file("./opt/new/deep/file", "deep");
    let other = DebBuilder::new("other", "1", "amd64")
        .dir("./usr/")
        .dir("./usr/lib/")
        .file("./usr/lib/libother.so", "lib")
        .dir("./lib/")
        .file("./lib/libold.so", "through /lib");
    let first = [layout.clone(), ess.clone()];
    let later = [rest.clone(), other.clone()];
    let staged = TempDir::new("unpack-staged");
    let out = unpack_staged(
        staged.path(),
        Ownership::for_this_process(),
        &first,
        &later,
        |root| {
            std::fs::write(root.join("etc/made-by-a-script"), "made").unwrap();
        },
    )
    .unwrap();
    let once = TempDir::new("unpack-once");
    let all: Vec<DebBuilder> = first.iter().chain(&later).cloned().collect();
    let reference = unpack_with(once.path(), &all, false, true).unwrap();
    std::fs::write(once.path().join("etc/made-by-a-script"), "shipped").unwrap();
    // The same tree, modes and owners included (directories' times aside),
    // and the same lists.
    assert_eq!(
        testkit::tree_snapshot(staged.path()),
        testkit::tree_snapshot(once.path())
    );
    assert_eq!(out.lists, reference.lists);
    assert!(std::fs::symlink_metadata(staged.path().join("bin"))
        .unwrap()
        .file_type()
        .is_symlink());
    assert_eq!(
        std::fs::read(staged.path().join("usr/share/real/data")).unwrap(),
        b"through a lower link"
    );
    assert_eq!(
        std::fs::read(staged.path().join("etc/shared")).unwrap(),
        b"from rest"
    );
    assert!(!out.lists[1].contains(&"/etc/shared".to_owned()));
}

#[test]
fn a_staged_unpack_refuses_a_directory_where_the_tree_has_a_file() {
    let tmp = || DebBuilder::new("first", "1", "amd64").dir("./tmp/");
    let later = || DebBuilder::new("later", "1", "amd64");
    // (first, later, what a script does between, the error)
    type Case = (DebBuilder, DebBuilder, fn(&Path), &'static str);
    let cases: [Case; 4] = [
        // The rest ships a directory where the tree has a file...
        (
            tmp().dir("./opt/").file("./opt/thing", "a file"),
            later()
                .dir("./opt/")
                .dir("./opt/thing/")
                .file("./opt/thing/inside", "x"),
            |_| {},
            "later:amd64 1: /opt/thing: cannot put a directory where the tree has a file",
        ),
        // ...or a file where a script made a directory.
        (
            tmp(),
            later().dir("./srv/").file("./srv/data", "file"),
            |root| std::fs::create_dir_all(root.join("srv/data")).unwrap(),
            "later:amd64 1: /srv/data: cannot put a file where the tree has a directory",
        ),
        // What a staged package ships inside the stage itself would be
        // lost with it.
        (
            tmp(),
            later()
                .dir("./tmp/")
                .dir("./tmp/stage/")
                .file("./tmp/stage/hidden", "x"),
            |_| {},
            "later:amd64 1: /tmp/stage: inside the directory the build unpacks into first",
        ),
        // A link a script made would lead the merge into the stage, and
        // the file would be lost with it.
        (
            tmp().dir("./var/"),
            later()
                .dir("./var/")
                .dir("./var/x/")
                .file("./var/x/file", "x"),
            |root| std::os::unix::fs::symlink("/tmp/stage", root.join("var/x")).unwrap(),
            "later:amd64 1: /var/x: a link made by a maintainer script leads it into",
        ),
    ];
    for (first, later, between, expected) in cases {
        let t = TempDir::new("unpack-staged-clash");
        let e = unpack_staged(
            t.path(),
            Ownership::for_this_process(),
            &[first],
            &[later],
            between,
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains(expected), "{e}");
    }
}

/// A directory several packages make at once gets its time before any
/// entry goes into it: every one that has entries has a time of the
/// unpack, never the packages' own (which a child made between the
/// directory and its time would leave, as it did in a build once).
#[test]
fn shared_directories_are_timed_before_their_entries_go_in() {
    let shipped = 1_700_000_000;
    let debs: Vec<DebBuilder> = (0..16)
        .map(|i| {
            let mut d = DebBuilder::new(&format!("p{i}"), "1", "amd64")
                .dir("./usr/")
                .dir("./usr/share/")
                .dir("./usr/share/locale/");
            for l in 0..40 {
                d = d
                    .dir(&format!("./usr/share/locale/l{l}/"))
                    .dir(&format!("./usr/share/locale/l{l}/LC_MESSAGES/"))
                    .file(
                        &format!("./usr/share/locale/l{l}/LC_MESSAGES/p{i}.mo"),
                        "mo",
                    );
            }
            d
        })
        .collect();
    for round in 0..4 {
        let t = TempDir::new("unpack-dir-times");
        unpack_with(t.path(), &debs, true, true).unwrap();
        let locale = t.path().join("usr/share/locale");
        for l in 0..40 {
            for dir in [format!("l{l}"), format!("l{l}/LC_MESSAGES")] {
                let mtime = std::fs::metadata(locale.join(&dir)).unwrap().mtime();
                assert!(
                    mtime > shipped,
                    "round {round}: /usr/share/locale/{dir} has the shipped time {mtime}"
                );
            }
        }
    }
}

/// Rootless, a staged package's directory that the tree already has keeps
/// the tree's owner, as in one unpack: the record made for the stage's
/// copy is dropped, and the tar would not give the tree's directory the
/// staged package's owner.
#[test]
fn a_staged_directory_merged_into_the_trees_keeps_the_trees_owner_when_recorded() {
    let first = DebBuilder::new("first", "1", "amd64")
        .dir("./tmp/")
        .dir("./var/")
        .dir("./var/shared/");
    let later = DebBuilder::new("later", "1", "amd64")
        .dir("./var/")
        .dir("./var/shared/")
        .owner(5, 5, "five", "five")
        .file("./var/shared/file", "x")
        .owner(7, 7, "seven", "seven")
        .dir("./var/new/")
        .owner(6, 6, "six", "six");
    let owners = |u: &debrepo::unpack::Unpacked| -> Vec<(String, u64, u64)> {
        u.recorded
            .iter()
            .map(|r| (r.path.display().to_string(), r.uid, r.gid))
            .collect()
    };
    let t = TempDir::new("unpack-staged-owner");
    let staged = unpack_staged(
        t.path(),
        Ownership::Record,
        std::slice::from_ref(&first),
        std::slice::from_ref(&later),
        |_| {},
    )
    .unwrap();
    let once = TempDir::new("unpack-once-owner");
    let once = unpack_owned(
        once.path(),
        &[first, later],
        false,
        false,
        Ownership::Record,
    )
    .unwrap();
    let expected = vec![
        ("var/new".to_owned(), 6, 6),
        ("var/shared/file".to_owned(), 7, 7),
    ];
    assert_eq!(owners(&once), expected);
    assert_eq!(owners(&staged), expected);
}

/// Rootless, the owner recorded for a file another package replaced is
/// the replacing package's (the last written), as root would leave it.
#[test]
fn a_replaced_files_recorded_owner_is_the_replacing_packages() {
    let old = DebBuilder::new("old", "1", "amd64")
        .dir("./usr/")
        .file("./usr/x", "old")
        .owner(5, 5, "five", "five");
    let new = DebBuilder::new("new", "1", "amd64")
        .field("Replaces", "old")
        .dir("./usr/")
        .file("./usr/x", "new")
        .owner(7, 7, "seven", "seven");
    let t = TempDir::new("unpack-replaced-owner");
    let out = unpack_owned(t.path(), &[old, new], false, false, Ownership::Record).unwrap();
    let x: Vec<(u64, u64)> = out
        .recorded
        .iter()
        .filter(|r| r.path == Path::new("usr/x"))
        .map(|r| (r.uid, r.gid))
        .collect();
    assert_eq!(x, [(7, 7)]);
    assert_eq!(std::fs::read(t.path().join("usr/x")).unwrap(), b"new");
}

/// A directory whose name leaves no room for the temporary's suffix is
/// made in place, as dpkg makes it.
#[test]
fn a_directory_with_a_name_of_250_bytes_is_made() {
    let long = "d".repeat(250);
    let deb = DebBuilder::new("long", "1", "amd64")
        .dir("./srv/")
        .dir(&format!("./srv/{long}/"))
        .file(&format!("./srv/{long}/f"), "x");
    let t = TempDir::new("unpack-long-dir");
    unpack_with(t.path(), &[deb], false, true).unwrap();
    let dir = t.path().join("srv").join(&long);
    assert_eq!(std::fs::metadata(&dir).unwrap().mode() & 0o7777, 0o755);
    assert_eq!(std::fs::read_dir(t.path().join("srv")).unwrap().count(), 1);
}
