//! .debs made by the test suite (no dpkg-deb): every compression, every
//! entry kind, PAX records, and malformed packages.

use std::io::Read;
use std::path::Path;

use debrepo::deb::{DebError, DebReader, EntryKind, EntryMeta};
use testkit::{Comp, DebBuilder};

fn sample() -> DebBuilder {
    DebBuilder::new("sample", "1:2.0-1", "amd64")
        .field("Depends", "libc6 (>= 2.36)")
        .control_file(
            "conffiles",
            0o644,
            "/etc/sample.conf\nremove-on-upgrade /etc/old.conf\n",
        )
        .control_file("postinst", 0o755, "#!/bin/sh\nexit 0\n")
        .control_file(
            "md5sums",
            0o644,
            "d41d8cd98f00b204e9800998ecf8427e  etc/sample.conf\n",
        )
        .dir("./etc/")
        .file("./etc/sample.conf", "")
        .dir("./usr/")
        .dir("./usr/bin/")
        .file_mode("./usr/bin/tool", 0o4755, b"\x7fELF binary".to_vec())
        .pax(
            "SCHILY.xattr.security.capability",
            b"\x01\x00\x00\x02\x00\x20\x00\x00",
        )
        .symlink("./usr/bin/alias", "tool")
        .hardlink("./usr/bin/tool2", "./usr/bin/tool")
        .dir("./dev/")
        .char_device("./dev/null", 1, 3)
        .block_device("./dev/loop0", 7, 0)
        .fifo("./dev/pipe")
        .file_mode("./var/mail-spool", 0o2775, "x")
        .owner(0, 8, "root", "mail")
}

fn read(bytes: &[u8]) -> Result<(Vec<EntryMeta>, Vec<Vec<u8>>), DebError> {
    let mut r = DebReader::new(bytes)?;
    let mut data = r.data()?;
    let mut metas = Vec::new();
    let mut contents = Vec::new();
    for e in data.entries()? {
        let mut e = e?;
        let mut buf = Vec::new();
        e.read_to_end(&mut buf).unwrap();
        metas.push(e.meta().clone());
        contents.push(buf);
    }
    Ok((metas, contents))
}

#[test]
fn every_compression_combination() {
    for control in Comp::CONTROL {
        for data in Comp::ALL {
            let deb = sample()
                .control_compression(control)
                .data_compression(data)
                .build();
            let r = DebReader::new(deb.as_slice()).unwrap();
            assert_eq!(
                r.control_member(),
                format!("control.tar{}", control.suffix())
            );
            assert_eq!(r.control().package().unwrap().name, "sample");
            let (metas, contents) =
                read(&deb).unwrap_or_else(|e| panic!("{control:?}/{data:?}: {e}"));
            assert_eq!(
                metas.len(),
                sample().entries().len(),
                "{control:?}/{data:?}"
            );
            let tool = metas
                .iter()
                .position(|m| m.path == Path::new("usr/bin/tool"))
                .unwrap();
            assert_eq!(contents[tool], b"\x7fELF binary");
        }
    }
}

#[test]
fn entry_metadata() {
    let (metas, _) = read(&sample().build()).unwrap();
    let get = |p: &str| {
        metas
            .iter()
            .find(|m| m.path == Path::new(p))
            .unwrap_or_else(|| panic!("{p}"))
    };
    assert_eq!(metas[0].path, Path::new(""));
    let tool = get("usr/bin/tool");
    assert_eq!(
        (tool.kind, tool.mode, tool.size),
        (EntryKind::Regular, 0o4755, 11)
    );
    assert_eq!(tool.mtime, 1_700_000_000);
    assert_eq!(
        tool.xattrs,
        vec![(
            "security.capability".to_string(),
            b"\x01\x00\x00\x02\x00\x20\x00\x00".to_vec()
        )]
    );
    let alias = get("usr/bin/alias");
    assert_eq!(
        (alias.kind, alias.link_target.as_deref()),
        (EntryKind::Symlink, Some(Path::new("tool")))
    );
    let t2 = get("usr/bin/tool2");
    assert_eq!(
        (t2.kind, t2.link_target.as_deref()),
        (EntryKind::HardLink, Some(Path::new("usr/bin/tool")))
    );
    assert_eq!(t2.size, 0);
    let null = get("dev/null");
    assert_eq!(
        (null.kind, null.device),
        (EntryKind::CharDevice, Some((1, 3)))
    );
    let l = get("dev/loop0");
    assert_eq!((l.kind, l.device), (EntryKind::BlockDevice, Some((7, 0))));
    assert_eq!(get("dev/pipe").kind, EntryKind::Fifo);
    let spool = get("var/mail-spool");
    assert_eq!(
        (spool.mode, spool.gid, spool.gname.as_deref()),
        (0o2775, 8, Some("mail"))
    );
    assert_eq!(get("etc").kind, EntryKind::Directory);
}

#[test]
fn control_files() {
    let deb = sample().build();
    let r = DebReader::new(deb.as_slice()).unwrap();
    let c = r.control();
    let conf = c.conffiles().unwrap();
    assert_eq!(conf.len(), 2);
    assert_eq!(
        (conf[0].path, conf[0].remove_on_upgrade),
        ("/etc/sample.conf", false)
    );
    assert_eq!(
        (conf[1].path, conf[1].remove_on_upgrade),
        ("/etc/old.conf", true)
    );
    assert_eq!(c.md5sums().unwrap()[0].1, "etc/sample.conf");
    assert_eq!(c.script("postinst"), Some(&b"#!/bin/sh\nexit 0\n"[..]));
    assert_eq!(
        c.script("control"),
        None,
        "control is not a maintainer script"
    );
    assert_eq!(
        c.names().collect::<Vec<_>>(),
        ["conffiles", "control", "md5sums", "postinst"]
    );
    let pkg = c.package().unwrap();
    assert_eq!(pkg.version.epoch(), 1);
    assert_eq!(pkg.depends().to_string(), "libc6 (>= 2.36)");
}

#[test]
fn long_paths_and_pax_owner() {
    let long = format!("./usr/share/{}/file", "d".repeat(150));
    let deb = DebBuilder::new("long", "1", "all")
        .file(&long, "x")
        .pax("uname", b"someone")
        .pax("uid", b"4242")
        .symlink("./usr/share/link", &format!("../{}", "t".repeat(140)))
        .build();
    let (metas, _) = read(&deb).unwrap();
    assert_eq!(metas[1].path, Path::new(&long[2..]));
    assert_eq!(
        (metas[1].uid, metas[1].uname.as_deref()),
        (4242, Some("someone"))
    );
    assert_eq!(
        metas[2]
            .link_target
            .as_ref()
            .unwrap()
            .to_str()
            .unwrap()
            .len(),
        143
    );
}

#[test]
fn underscore_members_are_skipped() {
    let deb = sample()
        .extra_member(1, "_gpgorigin", b"signature")
        .extra_member(2, "_extra", b"x")
        .extra_member(3, "trailing", b"ignored")
        .build();
    let (metas, _) = read(&deb).unwrap();
    assert!(!metas.is_empty());
}

#[test]
fn malformed_packages() {
    let err = |bytes: &[u8]| DebReader::new(bytes).err().expect("an error");
    assert!(matches!(err(b""), DebError::NotAnArchive(_)));
    assert!(matches!(
        err(b"PK\x03\x04 a zip file"),
        DebError::NotAnArchive(_)
    ));
    assert_eq!(
        err(b"PK\x03\x04 a zip file").to_string(),
        "not a .deb: not an ar archive"
    );
    let e = err(&sample().format("3.0\n").build());
    assert!(
        matches!(&e, DebError::UnsupportedFormat(v) if v == "3.0"),
        "{e}"
    );
    let e = err(&sample().extra_member(0, "other", b"x").build());
    assert!(
        matches!(&e, DebError::UnexpectedMember { expected: "debian-binary", found: Some(n) } if n == "other")
    );
    assert_eq!(
        e.to_string(),
        "not a .deb: expected member debian-binary, found other"
    );
    let e = err(&sample().extra_member(1, "data.tar.xz", b"x").build());
    assert!(matches!(
        e,
        DebError::UnexpectedMember {
            expected: "control.tar",
            ..
        }
    ));
    // Truncated in the middle of the data member.
    let deb = sample().data_compression(Comp::None).build();
    let cut = &deb[..deb.len() - 700];
    let mut r = DebReader::new(cut).unwrap();
    let mut data = r.data().unwrap();
    let failed = data
        .entries()
        .map(|it| it.into_iter().any(|e| e.is_err()))
        .unwrap_or(true);
    assert!(failed, "a truncated data member must fail");
    // Corrupt compressed data.
    let deb = sample().data_compression(Comp::Xz).build();
    let mut bad = deb.clone();
    let n = bad.len();
    bad[n - 100] ^= 0xff;
    assert!(read(&bad).is_err());
    // Asking for the data member twice.
    let deb = sample().build();
    let mut r = DebReader::new(deb.as_slice()).unwrap();
    assert!(r.data().is_ok());
    assert!(matches!(
        r.data().err(),
        Some(DebError::UnexpectedMember {
            expected: "data.tar",
            found: None
        })
    ));
}

#[test]
fn unknown_member_compression_is_named() {
    // Rename the data member to an unsupported compression by rebuilding with
    // an extra member in its place.
    let base = sample().build();
    let bytes = replace_member_name(&base, "data.tar.xz", "data.tar.rar");
    let mut r = DebReader::new(bytes.as_slice()).unwrap();
    let e = r.data().err().unwrap();
    assert_eq!(e.to_string(), "member data.tar.rar: unknown compression");
}

fn replace_member_name(deb: &[u8], from: &str, to: &str) -> Vec<u8> {
    let mut out = deb.to_vec();
    let pos = out
        .windows(from.len())
        .position(|w| w == from.as_bytes())
        .unwrap();
    out[pos..pos + to.len()].copy_from_slice(to.as_bytes());
    out
}

#[test]
fn missing_control_file() {
    // A control member without a control file: the reader opens (the data
    // is still readable), asking for the control data fails clearly.
    let deb = sample().no_control_file().build();
    let r = DebReader::new(deb.as_slice()).unwrap();
    assert!(matches!(
        r.control().control_text(),
        Err(DebError::NoControlFile)
    ));
}
