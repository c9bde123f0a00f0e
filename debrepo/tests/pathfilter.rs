//! Path filters compared with dpkg itself: the same packages go through
//! `dpkg --root A --path-exclude ... --path-include ... --unpack` and
//! through [`Unpacker::with_filters`] + [`dpkgdb::write_unpacked`] into
//! B; the trees (what is left out, which directories and symlinks stay),
//! the `.list` and `md5sums` files dpkg records, and what `dpkg --verify`
//! then reports must be the same.

use std::path::{Path, PathBuf};
use std::process::Command;

use debrepo::deb::DebReader;
use debrepo::dpkgdb::{self, DbPackage};
use debrepo::pathfilter::{PathFilters, Preset};
use debrepo::unpack::{Ownership, PackageInfo, Unpacker};
use md5::{Digest as _, Md5};
use testkit::{tree_snapshot, DebBuilder, TempDir};

/// A package built by dpkg-deb from `files` (paths, and contents or
/// `->` a symlink target), with an `md5sums` when `sums` is set: its
/// names start with `./` as in every Debian package, which dpkg's
/// filters expect (see the module documentation of
/// `debrepo::pathfilter`).
fn build(dir: &Path, name: &str, files: &[(&str, &str)], sums: bool) -> PathBuf {
    let src = dir.join(format!("{name}-src"));
    std::fs::create_dir_all(src.join("DEBIAN")).unwrap();
    std::fs::write(
        src.join("DEBIAN/control"),
        format!("Package: {name}\nVersion: 1\nArchitecture: all\nMaintainer: Nobody <nobody@example.invalid>\nDescription: path filter test\n"),
    )
    .unwrap();
    let mut md5sums = String::new();
    for (path, data) in files {
        let at = src.join(path);
        std::fs::create_dir_all(at.parent().unwrap()).unwrap();
        if let Some(target) = data.strip_prefix("->") {
            std::os::unix::fs::symlink(target, &at).unwrap();
        } else if path.ends_with('/') {
            std::fs::create_dir_all(&at).unwrap();
        } else {
            std::fs::write(&at, data).unwrap();
            md5sums.push_str(&format!("{:x}  {path}\n", Md5::digest(data.as_bytes())));
        }
    }
    if sums {
        std::fs::write(src.join("DEBIAN/md5sums"), md5sums).unwrap();
    }
    let deb = dir.join(format!("{name}.deb"));
    let o = Command::new("dpkg-deb")
        .args(["--root-owner-group", "-Zgzip", "-b"])
        .arg(&src)
        .arg(&deb)
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "dpkg-deb: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    deb
}

fn packages(dir: &Path) -> Vec<PathBuf> {
    vec![
        build(
            dir,
            "docpkg",
            &[
                ("usr/share/doc/docpkg/copyright", "license\n"),
                ("usr/share/doc/docpkg/README", "read me\n"),
                ("usr/share/doc/docpkg/examples/ex.sh", "echo\n"),
                ("usr/share/doc/docpkg-extra", "->docpkg"),
                ("usr/share/man/man1/docpkg.1.gz", "man\n"),
                ("usr/share/man/man1/alias.1.gz", "->docpkg.1.gz"),
                ("usr/share/locale/de/LC_MESSAGES/docpkg.mo", "mo\n"),
                ("usr/share/locale/locale.alias", "alias\n"),
                ("usr/share/info/docpkg.info.gz", "info\n"),
                ("usr/bin/docpkg", "#!/bin/sh\n"),
            ],
            true,
        ),
        // dpkg makes the md5sums of a package without one from what it
        // wrote.
        build(
            dir,
            "nosums",
            &[
                ("usr/share/doc/nosums/copyright", "c\n"),
                ("usr/share/doc/nosums/NEWS", "news\n"),
                ("usr/lib/nosums/data", "d\n"),
            ],
            false,
        ),
    ]
}

fn verify(root: &Path) -> String {
    let o = Command::new("dpkg")
        .arg(format!("--root={}", root.display()))
        .arg("--verify")
        .output()
        .unwrap();
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn filtered_unpack_matches_dpkg() {
    let dpkg = ["dpkg", "dpkg-deb"]
        .iter()
        .all(|t| Command::new(t).arg("--version").output().is_ok());
    let root = Ownership::for_this_process() == Ownership::Apply;
    if !testkit::require(dpkg && root, "dpkg, dpkg-deb and root") {
        return;
    }
    let work = TempDir::new("pathfilter");
    let debs = packages(work.path());
    let mut filters = PathFilters::new();
    for p in [Preset::Docs, Preset::Man, Preset::Locales] {
        filters.push_preset(p);
    }

    // A: dpkg itself, with the same rules in the same order.
    let a = work.path().join("a");
    for d in ["var/lib/dpkg/info", "var/lib/dpkg/updates"] {
        std::fs::create_dir_all(a.join(d)).unwrap();
    }
    std::fs::write(a.join("var/lib/dpkg/status"), "").unwrap();
    let o = Command::new("dpkg")
        .arg(format!("--root={}", a.display()))
        .args(
            filters
                .rules()
                .iter()
                .map(|r| format!("--{}={}", r.action.option(), r.pattern)),
        )
        .args(["--force-architecture", "--force-depends", "--unpack"])
        .args(&debs)
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "dpkg: {}",
        String::from_utf8_lossy(&o.stderr)
    );

    // B: us.
    let b = work.path().join("b");
    std::fs::create_dir_all(&b).unwrap();
    let readers: Vec<_> = debs.iter().map(|p| DebReader::open(p).unwrap()).collect();
    let infos = readers
        .iter()
        .map(|r| PackageInfo::from_control(r.control()).unwrap())
        .collect();
    let u = Unpacker::new(&b, Ownership::Apply, infos)
        .unwrap()
        .with_filters(filters.clone());
    let mut controls = Vec::new();
    for (i, mut r) in readers.into_iter().enumerate() {
        u.unpack(i, &mut r.data().unwrap()).unwrap();
        controls.push(r.into_control());
    }
    let unpacked = u.finish();
    let db = DbPackage::all(&controls, &unpacked, |_| true);
    dpkgdb::write_unpacked(&b, "amd64", &[], &db).unwrap();

    let (mut sa, mut sb) = (tree_snapshot(&a), tree_snapshot(&b));
    for p in [
        "var/lib/dpkg/status-old",
        "var/lib/dpkg/arch",
        "var/lib/dpkg/arch-native",
        "var/lib/dpkg/triggers",
        "var/lib/dpkg/triggers/Unincorp",
        "var/lib/dpkg/triggers/File",
        "var/lib/dpkg/triggers/Lock",
        "var/lib/dpkg/lock",
        "var/lib/dpkg/lock-frontend",
        "var/lib/dpkg/info/format",
        "var/lib/apt",
        "var/lib/apt/extended_states",
    ] {
        sa.remove(p);
        sb.remove(p);
    }
    let only_a: Vec<_> = sa.iter().filter(|(k, v)| sb.get(*k) != Some(v)).collect();
    let only_b: Vec<_> = sb.iter().filter(|(k, v)| sa.get(*k) != Some(v)).collect();
    assert!(
        only_a.is_empty() && only_b.is_empty(),
        "dpkg only: {only_a:#?}\nours only: {only_b:#?}"
    );
    // The filters did something, as dpkg does it.
    let has = |p: &str| sb.contains_key(p);
    assert!(has("usr/share/doc/docpkg/copyright") && !has("usr/share/doc/docpkg/README"));
    assert!(
        has("usr/share/doc/docpkg/examples"),
        "a directory under an include's prefix stays"
    );
    assert!(has("usr/share/doc/docpkg-extra"), "so does a symlink");
    assert!(!has("usr/share/man/man1") && has("usr/share/man"));
    assert!(has("usr/share/locale/locale.alias") && !has("usr/share/locale/de"));
    for f in [
        "docpkg.list",
        "docpkg.md5sums",
        "nosums.list",
        "nosums.md5sums",
    ] {
        let read = |r: &Path| std::fs::read_to_string(r.join("var/lib/dpkg/info").join(f)).unwrap();
        assert_eq!(read(&a), read(&b), "{f}");
    }
    let list = std::fs::read_to_string(b.join("var/lib/dpkg/info/docpkg.list")).unwrap();
    assert!(
        list.contains("/usr/share/doc/docpkg/README\n"),
        "dpkg lists filtered paths"
    );
    let sums = std::fs::read_to_string(b.join("var/lib/dpkg/info/nosums.md5sums")).unwrap();
    assert!(!sums.contains("NEWS") && sums.contains("copyright"));
    // dpkg --verify reports the filtered files as missing, on both.
    let (va, vb) = (verify(&a), verify(&b));
    assert_eq!(va, vb);
    assert!(
        vb.contains("missing     /usr/share/doc/docpkg/README\n"),
        "{vb}"
    );
    assert!(vb.lines().all(|l| l.starts_with("missing ")), "{vb}");
}

/// A filter that leaves out a directory whose files are not left out
/// fails the unpack, as it fails dpkg's.
#[test]
fn a_file_below_a_filtered_directory_fails() {
    let work = TempDir::new("pathfilter-dir");
    let deb = DebBuilder::new("p", "1", "all")
        .field("Description", "d")
        .dir("./opt/")
        .dir("./opt/p/")
        .file("./opt/p/f", "f")
        .write_to(work.path(), "p");
    let root = work.path().join("root");
    std::fs::create_dir_all(&root).unwrap();
    let mut r = DebReader::open(&deb).unwrap();
    let info = PackageInfo::from_control(r.control()).unwrap();
    let mut filters = PathFilters::new();
    filters
        .push(debrepo::pathfilter::Action::Exclude, "/opt/p")
        .unwrap();
    let u = Unpacker::new(&root, Ownership::for_this_process(), vec![info])
        .unwrap()
        .with_filters(filters);
    let e = u.unpack(0, &mut r.data().unwrap()).unwrap_err();
    assert!(e.to_string().contains("/opt/p/f"), "{e}");
    assert!(!root.join("opt/p").exists());
}
