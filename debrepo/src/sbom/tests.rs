use super::*;
use crate::lock::{LockedLocal, LockedPackage, LockedSpec};

const EPOCH: u64 = 1_700_000_000;

/// Machine-readable, two Files paragraphs, one with an exception.
const DEP5_LIBC: &str = "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: libc

Files: *
Copyright: someone
License: LGPL-2.1+

Files: tools/*
Copyright: someone else
License: GPL-2+ with OpenSSL exception
 Some text of the exception.

License: LGPL-2.1+
 The license's text.
";

const DEP5_PERL: &str = "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/

Files: *
Copyright: Larry
License: GPL-1+ or Artistic

Files: lib/*
Copyright: Larry
License: GPL-1+ or Artistic, and Expat
";

/// The text format the copyright files of old packages have.
const NOT_DEP5: &str = "This package was debianized by someone.\n\nIt is under the GPL.\n";

const STATUS_TEXT: &str = "Package: libc6
Status: install ok installed
Architecture: amd64
Multi-Arch: same
Source: glibc (2.41-12)
Version: 2.41-12+b1
Depends: libgcc-s1
Description: libc

Package: libgcc-s1
Status: install ok installed
Architecture: amd64
Multi-Arch: same
Source: gcc-14
Version: 14.2.0-19
Depends: gcc-14-base (= 14.2.0-19), libc6 (>= 2.35)
Description: gcc

Package: gcc-14-base
Status: install ok installed
Architecture: amd64
Multi-Arch: same
Source: gcc-14
Version: 14.2.0-19
Description: base

Package: libstdc++6
Status: install ok installed
Architecture: amd64
Multi-Arch: same
Source: gcc-14
Version: 14.2.0-19
Depends: libc6 (>= 2.36), libgcc-s1 (>= 4.3)
Description: c++

Package: mawk
Status: install ok installed
Architecture: amd64
Multi-Arch: foreign
Version: 1.3.4.20250131-1
Provides: awk
Pre-Depends: libc6 (>= 2.38)
Description: awk

Package: perl-base
Status: install ok installed
Architecture: amd64
Version: 5.40.1-6
Provides: perlapi-5.40.1
Pre-Depends: libc6 (>= 2.38), dpkg (>= 1.17.17)
Depends: gawk | awk
Description: perl

Package: tool
Status: install ok installed
Architecture: all
Version: 1:2.0
Depends: perlapi-5.40.1, nothere | mawk (>= 1.3), libc6 (>= 9)
Description: a local one

Package: gone
Status: deinstall ok config-files
Architecture: amd64
Version: 1.0
Description: removed, its conffiles left
";

fn pkg(name: &str, version: &str, arch: &str, archive: usize, sha: char) -> LockedPackage {
    LockedPackage {
        name: name.into(),
        version: version.into(),
        arch: arch.into(),
        // `archive` as the lock file counts: its one archive, then its locals.
        origin: match archive.checked_sub(1) {
            None => PackageOrigin::Archive(archive),
            Some(i) => PackageOrigin::Local(i),
        },
        path: format!("pool/main/{name}_{version}_{arch}.deb"),
        size: 1000,
        sha256: sha.to_string().repeat(64),
    }
}

fn lock() -> Lock {
    let mut artifacts = BTreeMap::new();
    artifacts.insert(
        "web".to_owned(),
        vec![
            LockedArtifact {
                imported: false,
                name: "app.conf".into(),
                source: Some("files/app.conf".into()),
                hash: crate::lock::blake3_sri(b"app"),
            },
            LockedArtifact {
                imported: false,
                name: "motd".into(),
                source: None,
                hash: "sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=".into(),
            },
        ],
    );
    Lock {
        import: None,
        arch: "amd64".into(),
        archives: vec![LockedArchive {
            source: ArchiveSource::Url("http://mirror.example.org/debian".into()),
            suite: "trixie".into(),
            snapshot: None,
            release_sha256: "ab".repeat(32),
            signer: Some("0123456789ABCDEF0123456789ABCDEF01234567".into()),
        }],
        locals: vec![LockedLocal {
            path: "debs/tool_2.0_all.deb".into(),
            size: 10,
            sha256: "7".repeat(64),
        }],
        specs: vec![LockedSpec {
            name: "web".into(),
            hash: crate::lock::blake3_sri(b"spec"),
            packages: vec![
                pkg("gcc-14-base", "14.2.0-19", "amd64", 0, '1'),
                pkg("libc6", "2.41-12+b1", "amd64", 0, '2'),
                pkg("libgcc-s1", "14.2.0-19", "amd64", 0, '3'),
                pkg("libstdc++6", "14.2.0-19", "amd64", 0, '4'),
                pkg("mawk", "1.3.4.20250131-1", "amd64", 0, '5'),
                pkg("perl-base", "5.40.1-6", "amd64", 0, '6'),
                pkg("tool", "1:2.0", "all", 1, '7'),
            ],
        }],
        artifacts,
    }
}

/// A tree with a status file, an os-release reached through a symlink,
/// and copyright files (one through a symlinked doc directory).
fn tree(t: &testkit::TempDir) -> PathBuf {
    let root = t.path().join("root");
    let put = |rel: &str, text: &str| {
        let p = root.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    };
    put(STATUS, STATUS_TEXT);
    put(
        "usr/lib/os-release",
        "PRETTY_NAME=\"Debian GNU/Linux 13 (trixie)\"\nNAME=\"Debian GNU/Linux\"\nVERSION_ID=\"13\"\nVERSION_CODENAME=trixie\nID=debian\n",
    );
    std::fs::create_dir_all(root.join("etc")).unwrap();
    std::os::unix::fs::symlink("../usr/lib/os-release", root.join("etc/os-release")).unwrap();
    put("usr/share/doc/libc6/copyright", DEP5_LIBC);
    put("usr/share/doc/perl-base/copyright", DEP5_PERL);
    put("usr/share/doc/mawk/copyright", NOT_DEP5);
    put(
        "usr/share/doc/gcc-14-base/copyright",
        "Format: https://example.invalid/dep5\n\nFiles: *\nCopyright: x\nLicense: GPL-3+\n",
    );
    // libgcc-s1's doc directory is gcc-14-base's, as in Debian.
    std::os::unix::fs::symlink("gcc-14-base", root.join("usr/share/doc/libgcc-s1")).unwrap();
    // A copyright symlink that points out of the tree reads inside it.
    std::fs::create_dir_all(root.join("usr/share/doc/libstdc++6")).unwrap();
    std::os::unix::fs::symlink(
        "/../../../../../../etc/hostname",
        root.join("usr/share/doc/libstdc++6/copyright"),
    )
    .unwrap();
    root
}

fn json_of(bytes: &[u8]) -> Value {
    serde_json::from_slice(bytes).unwrap()
}

fn render_both(root: &Path) -> (Vec<u8>, Vec<u8>) {
    let lock = lock();
    (
        render(root, &lock, "web", SbomFormat::Spdx, EPOCH).unwrap(),
        render(root, &lock, "web", SbomFormat::CycloneDx, EPOCH).unwrap(),
    )
}

#[test]
fn formats_from_names() {
    let f = |n: &str| SbomFormat::from_path(Path::new(n));
    assert_eq!(f("out/x.spdx.json").unwrap(), SbomFormat::Spdx);
    assert_eq!(f("x.cdx.json").unwrap(), SbomFormat::CycloneDx);
    for bad in ["x.json", ".spdx.json", "x.spdx", "x.cdx.json.tmp"] {
        let Err(e) = f(bad) else {
            panic!("{bad} accepted");
        };
        let msg = e.to_string();
        assert!(
            msg.contains(bad) && msg.contains(".spdx.json") && msg.contains(".cdx.json"),
            "{msg}"
        );
    }
}

#[test]
fn times_are_utc() {
    assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
    assert_eq!(rfc3339(EPOCH), "2023-11-14T22:13:20Z");
    assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
    assert_eq!(rfc3339(4_102_444_799), "2099-12-31T23:59:59Z");
}

#[test]
fn purls_and_ids_are_escaped() {
    assert_eq!(purl_escape("1:2.4.47-2+b1"), "1:2.4.47-2%2Bb1");
    assert_eq!(purl_escape("libstdc++6"), "libstdc%2B%2B6");
    assert_eq!(purl_escape("1.0~rc1"), "1.0~rc1");
    assert_eq!(spdx_id("libstdc++6"), "libstdc-2B-2B6");
    assert_eq!(
        license_ref("GPL-2+ with OpenSSL exception"),
        "LicenseRef-GPL-2plus-with-OpenSSL-exception"
    );
}

#[test]
fn download_locations_spdx_accepts() {
    for ok in [
        "http://mirror.example.org/debian/pool/x.deb",
        "https://user@mirror.example.com:8080/debian",
        "https://a.b-c.de",
    ] {
        assert!(spdx_download_location(ok), "{ok}");
    }
    for bad in [
        "http://127.0.0.1:45649/pool/x.deb",
        "http://localhost/debian",
        "http://mirror.example.invalid/debian",
        "https://example.org:port/",
        "ftp://example.org/",
        "mirror:debian",
        "files/app.conf",
    ] {
        assert!(!spdx_download_location(bad), "{bad}");
    }
}

#[test]
fn dep5_expressions() {
    let e = |s: &str| dep5_expression(s).map(|l| l.expression);
    assert_eq!(e("GPL-2+").as_deref(), Some("GPL-2.0-or-later"));
    assert_eq!(e("gpl-2").as_deref(), Some("GPL-2.0-only"));
    assert_eq!(e("Expat").as_deref(), Some("MIT"));
    assert_eq!(e("BSD-3-clause").as_deref(), Some("BSD-3-Clause"));
    assert_eq!(e("Apache-2.0").as_deref(), Some("Apache-2.0"));
    assert_eq!(e("GPL-2.0-or-later").as_deref(), Some("GPL-2.0-or-later"));
    assert_eq!(e("mit").as_deref(), Some("MIT"));
    assert_eq!(
        e("GPL-1+ or Artistic").as_deref(),
        Some("GPL-1.0-or-later OR Artistic-1.0-Perl")
    );
    // `and` binds tighter, as in SPDX.
    assert_eq!(
        e("GPL-2+ or BSD-3-clause and Expat").as_deref(),
        Some("GPL-2.0-or-later OR BSD-3-Clause AND MIT")
    );
    // A comma closes what precedes it.
    assert_eq!(
        e("GPL-2+ or BSD-3-clause, and Expat").as_deref(),
        Some("(GPL-2.0-or-later OR BSD-3-Clause) AND MIT")
    );
    assert_eq!(
        e("Zlib, and GPL-2+ or ISC").as_deref(),
        Some("Zlib AND (GPL-2.0-or-later OR ISC)")
    );
    assert_eq!(
        e("public-domain").as_deref(),
        Some("LicenseRef-public-domain")
    );
    assert_eq!(
        e("GPL-2+ with OpenSSL exception").as_deref(),
        Some("LicenseRef-GPL-2plus-with-OpenSSL-exception")
    );
    assert_eq!(
        e("MIT or public domain").as_deref(),
        Some("MIT OR LicenseRef-public-domain")
    );
    for bad in ["", "or GPL-2", "GPL-2 or", "GPL-2 and or MIT", ", MIT"] {
        assert_eq!(e(bad), None, "{bad:?}");
    }
    let one = dep5_expression("GPL-2+").unwrap();
    assert_eq!(one.single, Some(Single::Id("GPL-2.0-or-later".into())));
    let named = dep5_expression("public-domain").unwrap();
    assert_eq!(named.single, Some(Single::Name("public-domain".into())));
    assert_eq!(
        named.refs.into_iter().collect::<Vec<_>>(),
        [(
            "LicenseRef-public-domain".to_owned(),
            "public-domain".to_owned()
        )]
    );
}

#[test]
fn dep5_files() {
    let l = dep5_license(DEP5_LIBC).unwrap();
    // The stand-alone License paragraph is not a Files paragraph.
    assert_eq!(
        l.expression,
        "LGPL-2.1-or-later AND LicenseRef-GPL-2plus-with-OpenSSL-exception"
    );
    assert_eq!(l.single, None);
    let l = dep5_license(DEP5_PERL).unwrap();
    assert_eq!(
        l.expression,
        "((GPL-1.0-or-later OR Artistic-1.0-Perl) AND MIT) AND (GPL-1.0-or-later OR Artistic-1.0-Perl)"
    );
    assert!(dep5_license(NOT_DEP5).is_none());
    // A Files paragraph without a license: nothing is asserted.
    assert!(dep5_license("Format: x\n\nFiles: *\nCopyright: y\n").is_none());
    // No Files paragraph at all.
    assert!(dep5_license("Format: x\n").is_none());
}

#[test]
fn spdx_document() {
    let t = testkit::TempDir::new("sbom-spdx");
    let root = tree(&t);
    let (spdx, _) = render_both(&root);
    let doc = json_of(&spdx);
    assert_eq!(doc["spdxVersion"], "SPDX-2.3");
    assert_eq!(doc["creationInfo"]["created"], "2023-11-14T22:13:20Z");
    assert!(doc["documentNamespace"]
        .as_str()
        .unwrap()
        .starts_with("urn:uuid:"));
    let packages = doc["packages"].as_array().unwrap();
    let by_name = |n: &str| {
        packages
            .iter()
            .find(|p| p["name"] == n)
            .unwrap_or_else(|| panic!("no {n}"))
    };
    let libc = by_name("libc6");
    assert_eq!(libc["SPDXID"], "SPDXRef-Package-deb-libc6-amd64");
    assert_eq!(libc["versionInfo"], "2.41-12+b1");
    assert_eq!(
        libc["externalRefs"][0]["referenceLocator"],
        "pkg:deb/debian/libc6@2.41-12%2Bb1?arch=amd64&distro=trixie"
    );
    assert_eq!(libc["checksums"][0]["checksumValue"], "2".repeat(64));
    assert_eq!(
        libc["licenseDeclared"],
        "LGPL-2.1-or-later AND LicenseRef-GPL-2plus-with-OpenSSL-exception"
    );
    let url = "http://mirror.example.org/debian/pool/main/libc6_2.41-12+b1_amd64.deb";
    assert_eq!(libc["downloadLocation"], url);
    assert!(libc["sourceInfo"].as_str().unwrap().ends_with(&format!(
        "from the archive http://mirror.example.org/debian suite trixie, {url}"
    )));
    assert!(libc["sourceInfo"]
        .as_str()
        .unwrap()
        .contains("source package glibc version 2.41-12;"));
    // Through the symlinked doc directory.
    assert_eq!(by_name("libgcc-s1")["licenseDeclared"], "GPL-3.0-or-later");
    // Not machine-readable; a copyright symlink pointing out of the tree.
    assert_eq!(by_name("mawk")["licenseDeclared"], "NOASSERTION");
    assert_eq!(by_name("libstdc++6")["licenseDeclared"], "NOASSERTION");
    assert_eq!(
        by_name("libstdc++6")["SPDXID"],
        "SPDXRef-Package-deb-libstdc-2B-2B6-amd64"
    );
    // The source version defaults to the package's.
    assert!(by_name("mawk")["sourceInfo"]
        .as_str()
        .unwrap()
        .contains("source package mawk version 1.3.4.20250131-1;"));
    let tool = by_name("tool");
    assert_eq!(tool["downloadLocation"], "NOASSERTION");
    assert!(tool["sourceInfo"]
        .as_str()
        .unwrap()
        .contains("from the local .deb debs/tool_2.0_all.deb"));
    assert_eq!(
        tool["externalRefs"][0]["referenceLocator"],
        "pkg:deb/debian/tool@1:2.0?arch=all&distro=trixie"
    );
    assert!(packages.iter().all(|p| p["name"] != "gone"));
    // The artifacts, with their hashes in hex.
    let conf = by_name("app.conf");
    assert!(conf.get("checksums").is_none());
    assert!(conf["comment"]
        .as_str()
        .unwrap()
        .contains(&crate::lock::blake3_sri(b"app")));
    let motd = by_name("motd");
    assert_eq!(motd["checksums"][0]["algorithm"], "SHA256");
    assert_eq!(
        motd["checksums"][0]["checksumValue"],
        crate::hash::sha256(b"").to_string()
    );
    // The archive.
    let archive = &packages
        .iter()
        .find(|p| p["SPDXID"] == "SPDXRef-Archive-0")
        .unwrap();
    assert_eq!(archive["checksums"][0]["checksumValue"], "ab".repeat(32));
    assert!(archive["comment"]
        .as_str()
        .unwrap()
        .contains("0123456789ABCDEF0123456789ABCDEF01234567"));
    // Relationships.
    let rels: BTreeSet<(String, String, String)> = doc["relationships"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["spdxElementId"].as_str().unwrap().to_owned(),
                r["relationshipType"].as_str().unwrap().to_owned(),
                r["relatedSpdxElement"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let depends: BTreeSet<(String, String)> = rels
        .iter()
        .filter(|(_, k, _)| k == "DEPENDS_ON")
        .map(|(a, _, b)| {
            let short = |s: &str| {
                s.trim_start_matches("SPDXRef-Package-deb-")
                    .rsplit_once('-')
                    .unwrap()
                    .0
                    .to_owned()
            };
            (short(a), short(b))
        })
        .collect();
    let want: BTreeSet<(String, String)> = [
        ("libc6", "libgcc-s1"),
        ("libgcc-s1", "gcc-14-base"),
        ("libgcc-s1", "libc6"),
        ("libstdc-2B-2B6", "libc6"),
        ("libstdc-2B-2B6", "libgcc-s1"),
        ("mawk", "libc6"),
        // gawk is not there: awk, through mawk's Provides; dpkg is not there.
        ("perl-base", "libc6"),
        ("perl-base", "mawk"),
        // perlapi through Provides; the second alternative; libc6 (>= 9)
        // is not satisfied.
        ("tool", "perl-base"),
        ("tool", "mawk"),
    ]
    .iter()
    .map(|(a, b)| (a.to_string(), b.to_string()))
    .collect();
    assert_eq!(depends, want);
    assert!(rels.contains(&(
        "SPDXRef-DOCUMENT".into(),
        "DESCRIBES".into(),
        "SPDXRef-Tree".into()
    )));
    assert!(rels.contains(&(
        "SPDXRef-Tree".into(),
        "GENERATED_FROM".into(),
        "SPDXRef-Archive-0".into()
    )));
    assert!(rels.contains(&(
        "SPDXRef-Tree".into(),
        "CONTAINS".into(),
        "SPDXRef-Artifact-0-app.conf".into()
    )));
    // Every LicenseRef used is declared.
    let declared: Vec<&str> = doc["hasExtractedLicensingInfos"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["licenseId"].as_str().unwrap())
        .collect();
    assert_eq!(declared, ["LicenseRef-GPL-2plus-with-OpenSSL-exception"]);
}

#[test]
fn cyclonedx_document() {
    let t = testkit::TempDir::new("sbom-cdx");
    let root = tree(&t);
    let (_, cdx) = render_both(&root);
    let doc = json_of(&cdx);
    assert_eq!(doc["specVersion"], "1.6");
    assert_eq!(doc["metadata"]["timestamp"], "2023-11-14T22:13:20Z");
    let serial = doc["serialNumber"].as_str().unwrap();
    assert!(
        serial.starts_with("urn:uuid:") && serial.len() == 45,
        "{serial}"
    );
    assert_eq!(&serial[23..24], "5");
    let components = doc["components"].as_array().unwrap();
    let by_name = |n: &str| components.iter().find(|c| c["name"] == n).unwrap();
    let libc = by_name("libc6");
    let purl = "pkg:deb/debian/libc6@2.41-12%2Bb1?arch=amd64&distro=trixie";
    assert_eq!(libc["purl"], purl);
    assert_eq!(libc["bom-ref"], purl);
    assert_eq!(libc["hashes"][0]["content"], "2".repeat(64));
    assert_eq!(
        libc["licenses"][0]["expression"],
        "LGPL-2.1-or-later AND LicenseRef-GPL-2plus-with-OpenSSL-exception"
    );
    assert_eq!(
        by_name("libgcc-s1")["licenses"][0]["license"]["id"],
        "GPL-3.0-or-later"
    );
    assert!(by_name("mawk").get("licenses").is_none());
    let props = |c: &Value| -> BTreeMap<String, String> {
        c["properties"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| {
                (
                    p["name"].as_str().unwrap().to_owned(),
                    p["value"].as_str().unwrap().to_owned(),
                )
            })
            .collect()
    };
    assert_eq!(props(libc)["rdebootstrap:source-package"], "glibc");
    assert_eq!(props(libc)["rdebootstrap:source-version"], "2.41-12");
    let archive = components
        .iter()
        .find(|c| c["bom-ref"] == "archive:0")
        .unwrap();
    assert_eq!(archive["scope"], "excluded");
    assert_eq!(
        props(archive)["rdebootstrap:signer"],
        "0123456789ABCDEF0123456789ABCDEF01234567"
    );
    assert_eq!(by_name("app.conf")["hashes"][0]["alg"], "BLAKE3");
    assert_eq!(
        by_name("app.conf")["hashes"][0]["content"],
        blake3::hash(b"app").to_hex().as_str()
    );
    let deps: BTreeMap<&str, Vec<&str>> = doc["dependencies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["ref"].as_str().unwrap(),
                d["dependsOn"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|x| x.as_str().unwrap())
                    .collect(),
            )
        })
        .collect();
    assert_eq!(
        deps["pkg:deb/debian/perl-base@5.40.1-6?arch=amd64&distro=trixie"],
        [
            "pkg:deb/debian/libc6@2.41-12%2Bb1?arch=amd64&distro=trixie",
            "pkg:deb/debian/mawk@1.3.4.20250131-1?arch=amd64&distro=trixie"
        ]
    );
    // The tree holds every package and artifact, not the archive.
    assert_eq!(deps["tree"].len(), 7 + 2);
    assert!(!deps["tree"].contains(&"archive:0"));
}

/// Two renders, and two writes, are the same bytes; keys are sorted;
/// the arrays too.
#[test]
fn deterministic() {
    let t = testkit::TempDir::new("sbom-det");
    let root = tree(&t);
    let (a1, b1) = render_both(&root);
    let (a2, b2) = render_both(&root);
    assert_eq!(a1, a2);
    assert_eq!(b1, b2);
    assert!(a1.ends_with(b"}\n") && b1.ends_with(b"}\n"));
    let lock = lock();
    for (name, format, rendered) in [
        ("x.spdx.json", SbomFormat::Spdx, &a1),
        ("x.cdx.json", SbomFormat::CycloneDx, &b1),
    ] {
        let path = t.path().join(name);
        let r = write(&root, &lock, "web", format, &path, EPOCH).unwrap();
        assert_eq!(r.packages, 7);
        assert_eq!(&std::fs::read(&path).unwrap(), rendered);
        write(&root, &lock, "web", format, &path, EPOCH).unwrap();
        assert_eq!(&std::fs::read(&path).unwrap(), rendered);
    }
    let left: Vec<_> = std::fs::read_dir(t.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("rdebootstrap-tmp"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
    // The top level's keys in order, as written.
    for bytes in [&a1, &b1] {
        let text = std::str::from_utf8(bytes).unwrap();
        let keys: Vec<&str> = text
            .lines()
            .filter(|l| l.starts_with("  \""))
            .map(|l| l.trim().split('"').nth(1).unwrap())
            .collect();
        let mut want = keys.clone();
        want.sort();
        assert_eq!(keys, want);
    }
    // Another epoch, another spec hash: other bytes.
    let other = render(&root, &lock, "web", SbomFormat::Spdx, EPOCH + 1).unwrap();
    assert_ne!(other, a1);
    let mut changed = lock.clone();
    changed.specs[0].hash = crate::lock::blake3_sri(b"other");
    let other = render(&root, &changed, "web", SbomFormat::CycloneDx, EPOCH).unwrap();
    assert_ne!(
        json_of(&other)["serialNumber"],
        json_of(&b1)["serialNumber"]
    );
}

#[test]
fn errors_name_what_is_wrong() {
    let t = testkit::TempDir::new("sbom-err");
    let root = tree(&t);
    let lock = lock();
    let e = render(&root, &lock, "nope", SbomFormat::Spdx, EPOCH).unwrap_err();
    assert!(e.to_string().contains("no spec 'nope'"), "{e}");
    std::fs::remove_file(root.join(STATUS)).unwrap();
    let e = render(&root, &lock, "web", SbomFormat::Spdx, EPOCH).unwrap_err();
    assert!(e.to_string().contains("var/lib/dpkg/status"), "{e}");
    let e = write(
        &t.path().join("nothere"),
        &lock,
        "web",
        SbomFormat::Spdx,
        &t.path().join("x.spdx.json"),
        EPOCH,
    )
    .unwrap_err();
    assert!(matches!(e, SbomError::Tree { .. }), "{e}");
}

/// The reference validators accept both documents (they are installed
/// by `.ci/run`; elsewhere the test says it skips).
#[test]
fn validators_accept_them() {
    let Some(python) = testkit::sbomcheck::required_python() else {
        return;
    };
    let t = testkit::TempDir::new("sbom-validate");
    let root = tree(&t);
    let lock = lock();
    let spdx = t.path().join("x.spdx.json");
    let cdx = t.path().join("x.cdx.json");
    write(&root, &lock, "web", SbomFormat::Spdx, &spdx, EPOCH).unwrap();
    write(&root, &lock, "web", SbomFormat::CycloneDx, &cdx, EPOCH).unwrap();
    testkit::sbomcheck::validate_spdx(&python, &spdx).unwrap();
    testkit::sbomcheck::validate_cyclonedx(&python, &cdx).unwrap();
}
