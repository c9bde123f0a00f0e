//! Reading real trixie .debs: control data, and the data stream checked
//! against the package's own md5sums and against dpkg-deb's listing.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;

use debrepo::deb::{DebReader, EntryKind, EntryMeta};
use md5::{Digest, Md5};

fn debs() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = ["debs", "debs/repacked"]
        .iter()
        .flat_map(|d| std::fs::read_dir(testkit::data_dir().join(d)).unwrap())
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "deb"))
        .collect();
    v.sort();
    assert!(v.len() >= 12, "{v:?}");
    v
}

fn deb(name: &str) -> PathBuf {
    testkit::data_dir().join("debs").join(name)
}

/// Every data entry with the MD5 of its contents (regular files).
type Entries = Vec<(EntryMeta, Option<[u8; 16]>)>;
type FileDeb = DebReader<std::io::BufReader<std::fs::File>>;

/// Read every entry, hashing regular files.
fn read_all(path: &Path) -> (FileDeb, Entries) {
    let mut reader = DebReader::open(path).unwrap();
    let mut out = Vec::new();
    {
        let mut data = reader.data().unwrap();
        for entry in data.entries().unwrap() {
            let mut entry = entry.unwrap();
            let digest = if entry.meta().kind == EntryKind::Regular {
                let mut h = Md5::new();
                let mut buf = Vec::new();
                entry.read_to_end(&mut buf).unwrap();
                assert_eq!(buf.len() as u64, entry.meta().size);
                h.update(&buf);
                Some(h.finalize().into())
            } else {
                None
            };
            out.push((entry.meta().clone(), digest));
        }
    }
    (reader, out)
}

#[test]
fn every_file_matches_its_md5sums() {
    for path in debs() {
        let (reader, entries) = read_all(&path);
        let sums = reader.control().md5sums().unwrap();
        assert!(!sums.is_empty(), "{}", path.display());
        let mut ours: BTreeMap<_, _> = entries
            .iter()
            .filter_map(|(m, d)| d.map(|d| (m.path.to_str().unwrap().to_owned(), d)))
            .collect();
        // md5sums lists hard links under their own names, with the content
        // of the file they link to.
        for (m, _) in entries
            .iter()
            .filter(|(m, _)| m.kind == EntryKind::HardLink)
        {
            let target = m.link_target.as_ref().unwrap().to_str().unwrap();
            let d = ours[target];
            ours.insert(m.path.to_str().unwrap().to_owned(), d);
        }
        for (digest, file) in &sums {
            assert_eq!(
                ours.get(*file),
                Some(&digest.0),
                "{}: {file}",
                path.display()
            );
        }
        // The control stanza parses both generically and as a typed record.
        let pkg = reader.control().package().unwrap();
        let stanza = reader.control().stanza().unwrap();
        assert_eq!(stanza.get("Package"), Some(pkg.name));
        assert_eq!(reader.format(), "2.0");
    }
}

/// Compare with `dpkg-deb --contents` (tar's verbose listing).
#[test]
fn listing_matches_dpkg_deb() {
    if !testkit::require(
        Command::new("dpkg-deb").arg("--version").output().is_ok(),
        "dpkg-deb",
    ) {
        return;
    }
    for path in debs() {
        let out = Command::new("dpkg-deb")
            .arg("--contents")
            .arg(&path)
            .output()
            .unwrap();
        assert!(out.status.success());
        let listing = String::from_utf8(out.stdout).unwrap();
        let (_, entries) = read_all(&path);
        let lines: Vec<&str> = listing.lines().collect();
        assert_eq!(lines.len(), entries.len(), "{}", path.display());
        for (line, (meta, _)) in lines.iter().zip(&entries) {
            let f: Vec<&str> = line.split_whitespace().collect();
            let (perms, owner, size, name) = (f[0], f[1], f[2], f[5]);
            let kind = match perms.as_bytes()[0] {
                b'-' => EntryKind::Regular,
                b'd' => EntryKind::Directory,
                b'l' => EntryKind::Symlink,
                b'h' => EntryKind::HardLink,
                b'c' => EntryKind::CharDevice,
                b'b' => EntryKind::BlockDevice,
                b'p' => EntryKind::Fifo,
                other => panic!("{line}: type {other}"),
            };
            assert_eq!(meta.kind, kind, "{line}");
            assert_eq!(mode_string(meta.mode), &perms[1..], "{line}");
            let owner_ours = format!(
                "{}/{}",
                meta.uname.as_deref().unwrap(),
                meta.gname.as_deref().unwrap()
            );
            assert_eq!(owner_ours, owner, "{line}");
            if kind == EntryKind::Regular {
                assert_eq!(meta.size.to_string(), size, "{line}");
            }
            let expected = name.trim_start_matches("./").trim_end_matches('/');
            assert_eq!(meta.path, Path::new(expected), "{line}");
            match kind {
                EntryKind::Symlink => {
                    assert_eq!(meta.link_target.as_deref(), Some(Path::new(f[7])), "{line}")
                }
                EntryKind::HardLink => assert_eq!(
                    meta.link_target.as_deref(),
                    Some(Path::new(f[8].trim_start_matches("./"))),
                    "{line}"
                ),
                _ => assert!(meta.link_target.is_none()),
            }
        }
    }
}

fn mode_string(mode: u32) -> String {
    let mut s = String::new();
    for (i, c) in "rwxrwxrwx".chars().enumerate() {
        let bit = 1 << (8 - i);
        s.push(if mode & bit != 0 { c } else { '-' });
    }
    let mut b: Vec<char> = s.chars().collect();
    let special = |b: &mut Vec<char>, idx: usize, set: bool, lower: char, upper: char| {
        if set {
            b[idx] = if b[idx] == 'x' { lower } else { upper };
        }
    };
    special(&mut b, 2, mode & 0o4000 != 0, 's', 'S');
    special(&mut b, 5, mode & 0o2000 != 0, 's', 'S');
    special(&mut b, 8, mode & 0o1000 != 0, 't', 'T');
    b.into_iter().collect()
}

#[test]
fn conffiles_and_scripts() {
    let r = DebReader::open(deb("netbase_6.5_all.deb")).unwrap();
    let c = r.control();
    let conffiles: Vec<_> = c.conffiles().unwrap().into_iter().map(|c| c.path).collect();
    assert_eq!(
        conffiles,
        [
            "/etc/ethertypes",
            "/etc/protocols",
            "/etc/rpc",
            "/etc/services"
        ]
    );
    let scripts: Vec<_> = c.scripts().map(|(n, _)| n).collect();
    assert_eq!(scripts, ["postinst", "postrm"]);
    assert!(c.script("postinst").unwrap().starts_with(b"#!"));
    assert_eq!(c.mode("postinst").map(|m| m & 0o111), Some(0o111));
    let pkg = c.package().unwrap();
    assert_eq!((pkg.name, pkg.architecture), ("netbase", "all"));

    let r = DebReader::open(deb("debconf_1.5.91_all.deb")).unwrap();
    let names: Vec<_> = r.control().scripts().map(|(n, _)| n).collect();
    assert_eq!(names, ["postinst", "config"]);
    assert!(r.control().templates().is_some());

    let r = DebReader::open(deb("login_4.16.0-2+really2.41.5-0+deb13u1_amd64.deb")).unwrap();
    let names: Vec<_> = r.control().scripts().map(|(n, _)| n).collect();
    assert_eq!(names, ["preinst", "postinst", "prerm", "postrm"]);
    assert_eq!(r.control().package().unwrap().version.epoch(), 1);
    assert_eq!(r.control_member(), "control.tar.xz");
}

#[test]
fn triggers_shlibs_symbols() {
    let r = DebReader::open(deb("libattr1_2.5.2-3_amd64.deb")).unwrap();
    let t = r.control().triggers().unwrap();
    assert_eq!(t.len(), 1);
    assert_eq!(
        (t[0].directive, t[0].name),
        ("activate-noawait", "ldconfig")
    );
    assert!(std::str::from_utf8(r.control().shlibs().unwrap())
        .unwrap()
        .contains("libattr 1 libattr1"));
    assert!(r.control().symbols().unwrap().len() > 100);
    let r = DebReader::open(deb("debianutils_5.23.2_amd64.deb")).unwrap();
    let t = r.control().triggers().unwrap();
    assert_eq!(
        (t[0].directive, t[0].name),
        ("interest-noawait", "/usr/share/debianutils/shells.d")
    );
}

fn find<'a>(entries: &'a Entries, path: &str) -> &'a EntryMeta {
    &entries
        .iter()
        .find(|(m, _)| m.path == Path::new(path))
        .unwrap_or_else(|| panic!("{path}"))
        .0
}

#[test]
fn links_setuid_setgid_owners() {
    let (_, e) = read_all(&deb("login_4.16.0-2+really2.41.5-0+deb13u1_amd64.deb"));
    assert_eq!(
        e[0].0.path,
        Path::new(""),
        "the root entry './' is the empty path"
    );
    assert_eq!(e[0].0.kind, EntryKind::Directory);
    let sg = find(&e, "usr/bin/sg");
    assert_eq!(
        (sg.kind, sg.link_target.as_deref()),
        (EntryKind::Symlink, Some(Path::new("newgrp")))
    );
    assert_eq!(find(&e, "usr/bin/newgrp").mode, 0o4755);

    let (_, e) = read_all(&deb("mount_2.41.5-0+deb13u1_amd64.deb"));
    assert_eq!(find(&e, "usr/bin/mount").mode, 0o4755);
    assert_eq!(find(&e, "usr/bin/umount").mode, 0o4755);

    let (_, e) = read_all(&deb("unzip_6.0-29+deb13u1_amd64.deb"));
    let z = find(&e, "usr/bin/zipinfo");
    assert_eq!(
        (z.kind, z.link_target.as_deref()),
        (EntryKind::HardLink, Some(Path::new("usr/bin/unzip")))
    );

    let (_, e) = read_all(&deb("liblockfile-bin_1.17-2_amd64.deb"));
    let d = find(&e, "usr/bin/dotlockfile");
    assert_eq!(
        (d.mode, d.gid, d.gname.as_deref()),
        (0o2755, 8, Some("mail"))
    );
}

#[test]
fn every_compression_of_one_package_reads_the_same() {
    let listing = |name: &str| {
        let path = if name.contains("repacked") {
            testkit::data_dir().join(name)
        } else {
            deb(name)
        };
        let (r, e) = read_all(&path);
        let ctrl = r.control().control_text().unwrap().to_owned();
        (
            r.control_member().to_owned(),
            ctrl,
            e.into_iter()
                .map(|(m, d)| (m.path, m.kind, m.mode, d))
                .collect::<Vec<_>>(),
        )
    };
    let (member, ctrl, base) = listing("hostname_3.25_amd64.deb");
    assert_eq!(member, "control.tar.xz");
    for (name, m) in [
        (
            "debs/repacked/hostname_3.25_amd64.zstd.deb",
            "control.tar.zst",
        ),
        (
            "debs/repacked/hostname_3.25_amd64.gzip.deb",
            "control.tar.gz",
        ),
        ("debs/repacked/hostname_3.25_amd64.none.deb", "control.tar"),
    ] {
        let (member, c, e) = listing(name);
        assert_eq!(member, m);
        assert_eq!(c, ctrl, "{name}");
        assert_eq!(e, base, "{name}");
    }
}
