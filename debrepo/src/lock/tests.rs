use super::*;

fn sample() -> Lock {
    Lock {
        import: None,
        arch: "amd64".into(),
        archives: vec![LockedArchive {
            source: ArchiveSource::Mirror("debian".into()),
            suite: "trixie".into(),
            snapshot: Some("20250101T000000Z".into()),
            release_sha256: "ab".repeat(32),
            signer: Some("B8B80B5B623EAB6AD8775C45B7C5D7D6350947F8".into()),
        }],
        locals: vec![LockedLocal {
            path: "target/debian/mytool_0.1_amd64.deb".into(),
            size: 1234,
            sha256: "12".repeat(32),
        }],
        specs: vec![
            LockedSpec {
                name: "web".into(),
                hash: "blake3-x".into(),
                packages: vec![],
            },
            LockedSpec {
                name: String::new(),
                hash: "blake3-y".into(),
                packages: vec![
                    LockedPackage {
                        name: "mytool".into(),
                        version: "0.1".into(),
                        arch: "amd64".into(),
                        origin: PackageOrigin::Local(0),
                        path: "target/debian/mytool_0.1_amd64.deb".into(),
                        size: 1234,
                        sha256: "12".repeat(32),
                    },
                    LockedPackage {
                        name: "zlib1g".into(),
                        version: "1:1.3.dfsg+really1.3.1-1+b1".into(),
                        arch: "amd64".into(),
                        origin: PackageOrigin::Archive(0),
                        path: "pool/main/z/zlib/zlib1g_1.3.dfsg+really1.3.1-1+b1_amd64.deb".into(),
                        size: 88000,
                        sha256: "cd".repeat(32),
                    },
                    LockedPackage {
                        name: "apt".into(),
                        version: "3.0.3".into(),
                        arch: "amd64".into(),
                        origin: PackageOrigin::Archive(0),
                        path: "pool/main/a/apt/apt_3.0.3_amd64.deb".into(),
                        size: 1_500_000,
                        sha256: "ef".repeat(32),
                    },
                ],
            },
        ],
        artifacts: [(
            "web".to_owned(),
            vec![
                LockedArtifact {
                    imported: false,
                    name: "motd".into(),
                    source: None,
                    hash: "blake3-m".into(),
                },
                LockedArtifact {
                    imported: false,
                    name: "tool".into(),
                    source: Some("https://example.invalid/tool.tar.gz".into()),
                    hash: "sha256-t".into(),
                },
            ],
        )]
        .into(),
    }
}

#[test]
fn canonical_text_round_trips() {
    let lock = sample();
    let text = lock.to_text();
    assert!(text.starts_with(
        "# Written by rdebootstrap update; do not edit.\nversion = 2\narch = \"amd64\"\n"
    ));
    // Specs and packages sorted by name, whatever the input order.
    assert!(text.find("name = \"\"").unwrap() < text.find("name = \"web\"").unwrap());
    assert!(text.find("name = \"apt\"").unwrap() < text.find("name = \"zlib1g\"").unwrap());
    let back = Lock::parse(&text, Path::new("x.lock")).unwrap();
    assert_eq!(back.to_text(), text);
    assert_eq!(back.spec("").unwrap().packages.len(), 3);
    assert_eq!(back.locals[0].size, 1234);
    assert_eq!(back.artifacts, lock.artifacts);
    assert!(text.contains(
        "artifacts = [\n  { name = \"motd\", hash = \"blake3-m\" },\n  { name = \"tool\", source = \"https://example.invalid/tool.tar.gz\", hash = \"sha256-t\" },\n]\n"
    ));
    assert_eq!(back.artifacts_of("web")[1].hash, "sha256-t");
    assert!(back.artifacts_of("").is_empty());
    assert_eq!(
        back.archives[0].snapshot.as_deref(),
        Some("20250101T000000Z")
    );
}

#[test]
fn origins_keep_their_lock_text() {
    // A mirror archive, a URL archive and a local package: the text has
    // `mirror:VENDOR`, the URL, and the local's index after the archives.
    let mut lock = sample();
    lock.archives.push(LockedArchive {
        source: ArchiveSource::Url("http://archive.example/extra".into()),
        suite: "stable".into(),
        snapshot: None,
        release_sha256: "34".repeat(32),
        signer: None,
    });
    lock.specs[1].packages.push(LockedPackage {
        name: "extra".into(),
        version: "1".into(),
        arch: "all".into(),
        origin: PackageOrigin::Archive(1),
        path: "pool/e/extra_1_all.deb".into(),
        size: 10,
        sha256: "56".repeat(32),
    });
    let text = lock.to_text();
    assert!(text.contains("\n[[archive]]\nsource = \"mirror:debian\"\nsuite = \"trixie\"\n"));
    assert!(text.contains(
        "\n[[archive]]\nsource = \"http://archive.example/extra\"\nsuite = \"stable\"\n"
    ));
    assert!(text.contains("{ name = \"mytool\", version = \"0.1\", arch = \"amd64\", archive = 2, path = \"target/debian/mytool_0.1_amd64.deb\","));
    assert!(text.contains("{ name = \"extra\", version = \"1\", arch = \"all\", archive = 1, "));
    let back = Lock::parse(&text, Path::new("x.lock")).unwrap();
    assert_eq!(back.archives, lock.archives);
    assert_eq!(back.locals, lock.locals);
    assert_eq!(back.to_text(), text);
    let origin = |name: &str| {
        back.spec("")
            .unwrap()
            .packages
            .iter()
            .find(|p| p.name == name)
            .unwrap()
            .origin
    };
    assert_eq!(origin("mytool"), PackageOrigin::Local(0));
    assert_eq!(origin("extra"), PackageOrigin::Archive(1));
    assert_eq!(origin("apt"), PackageOrigin::Archive(0));
    assert_eq!(back.archives[0].source.vendor(), Some("debian"));
}

#[test]
fn written_only_when_changed() {
    let dir = std::env::temp_dir().join(format!("debrepo-lock-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("Manifest.amd64.lock");
    let lock = sample();
    assert!(lock.write_if_changed(&path).unwrap());
    let before = std::fs::metadata(&path).unwrap().modified().unwrap();
    std::thread::sleep(std::time::Duration::from_millis(20));
    assert!(!lock.write_if_changed(&path).unwrap());
    assert_eq!(
        std::fs::metadata(&path).unwrap().modified().unwrap(),
        before
    );
    assert_eq!(
        Lock::load(&path).unwrap(),
        Lock::parse(&lock.to_text(), &path).unwrap()
    );
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn bad_locks_say_what_to_do() {
    let e = Lock::parse("version = 7\narch = \"amd64\"\n", Path::new("M.amd64.lock")).unwrap_err();
    assert_eq!(
        e.to_string(),
        "M.amd64.lock: lock format version 7 was written by a newer rdebootstrap (this one reads versions 2 and 3): upgrade rdebootstrap"
    );
    let e = Lock::parse("version = 1\narch = \"amd64\"\n", Path::new("M.amd64.lock")).unwrap_err();
    assert_eq!(
        e.to_string(),
        "M.amd64.lock: lock format version 1 is older than the versions 2 and 3 this rdebootstrap reads: run 'rdebootstrap update' to rewrite it"
    );
    let e = Lock::load(Path::new("/nonexistent/M.amd64.lock")).unwrap_err();
    assert!(e
        .to_string()
        .contains("run 'rdebootstrap update' to create it"));
    let text = sample().to_text().replace(
        "archive = 0, path = \"pool/main/a",
        "archive = 2, path = \"pool/main/a",
    );
    let e = Lock::parse(&text, Path::new("M.lock")).unwrap_err();
    assert!(e.to_string().contains("names archive 2"), "{e}");
}

#[test]
fn staleness_is_semantic() {
    let text = "[[archive]]\nmirror = \"debian\"\nsuites = [\"trixie\"]\ncomponents = [\"main\"]\n\n[spec.base]\ninclude = [\"curl\", \"git\"]\n\n[spec.web]\nextends = \"base\"\ninclude = [\"nginx\"]\n";
    let m = Manifest::parse(text, Path::new("Manifest.toml")).unwrap();
    let lock = Lock {
        import: None,
        arch: "amd64".into(),
        archives: vec![],
        locals: vec![],
        specs: m
            .spec_names()
            .into_iter()
            .map(|n| LockedSpec {
                hash: spec_hash(&m, &m.resolve(&n).unwrap()),
                name: n,
                packages: vec![],
            })
            .collect(),
        artifacts: Default::default(),
    };
    assert!(lock.stale_specs(&m).unwrap().is_empty());
    // Comments, whitespace and order of includes change nothing.
    let edited = text
        .replace("[spec.base]\n", "# the base\n[spec.base]   \n")
        .replace("[\"curl\", \"git\"]", "[ \"git\",\"curl\" ]");
    let m2 = Manifest::parse(&edited, Path::new("Manifest.toml")).unwrap();
    assert!(lock.stale_specs(&m2).unwrap().is_empty());
    // A change to base stales base and web (which extends it), not others.
    let changed = text.replace("\"git\"]", "\"git\", \"vim\"]").replace(
        "[spec.web]",
        "[spec.other]\ninclude = [\"x\"]\n\n[spec.web]",
    );
    let m3 = Manifest::parse(&changed, Path::new("Manifest.toml")).unwrap();
    assert_eq!(lock.stale_specs(&m3).unwrap(), ["base", "other", "web"]);
    // Changing an archive stales every spec.
    let m4 = Manifest::parse(
        &text.replace("[\"main\"]", "[\"main\", \"contrib\"]"),
        Path::new("Manifest.toml"),
    )
    .unwrap();
    assert_eq!(lock.stale_specs(&m4).unwrap(), ["base", "web"]);
}

#[test]
fn the_build_half_of_a_spec_is_in_its_hash() {
    let text = r#"
[artifact."motd"]
type = "text"
target = "/etc/motd"
text = "hello\n"
[artifact."tool"]
type = "file"
target = "/usr/local/bin/"
url = "https://example.invalid/tool"
hash = "sha256-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="
[spec.base]
include = ["curl"]
stage = ["motd"]
build-env = { A = "1" }
build-script = "echo base"
[spec.web]
extends = "base"
stage = ["tool"]
meta = ["apt-lists:stage"]
[spec.other]
include = ["x"]
"#;
    let hashes = |t: &str| -> Vec<String> {
        let m = Manifest::parse(t, Path::new("Manifest.toml")).unwrap();
        ["base", "web", "other"]
            .iter()
            .map(|n| spec_hash(&m, &m.resolve(n).unwrap()))
            .collect()
    };
    let before = hashes(text);
    // Each change stales the specs that see it, and only those.
    for (from, to, stale) in [
        ("hello\\n", "bye\\n", &["base", "web"][..]),
        ("\"/etc/motd\"", "\"/etc/issue\"", &["base", "web"]),
        ("\"/usr/local/bin/\"", "\"/opt/\"", &["web"]),
        ("AAAAAAAA=", "AAAAAAAE=", &["web"]),
        (
            "https://example.invalid/tool",
            "https://example.invalid/tool2",
            &["web"],
        ),
        ("url = \"https", "unpack = false\nurl = \"https", &["web"]),
        ("stage = [\"tool\"]", "stage = []", &["web"]),
        ("A = \"1\"", "A = \"2\"", &["base", "web"]),
        ("echo base", "echo changed", &["base", "web"]),
        ("meta = [\"apt-lists:stage\"]", "", &["web"]),
    ] {
        assert!(text.contains(from), "{from}");
        let after = hashes(&text.replace(from, to));
        let changed: Vec<&str> = ["base", "web", "other"]
            .iter()
            .zip(before.iter().zip(&after))
            .filter(|(_, (b, a))| b != a)
            .map(|(n, _)| *n)
            .collect();
        assert_eq!(changed, stale, "{from} -> {to}");
    }
}

#[test]
fn a_lock_with_an_import_is_version_3_and_reads_back() {
    let mut lock = sample();
    // Without an import: version 2, as before.
    assert!(lock.to_text().contains("\nversion = 2\n"));
    lock.import = Some(LockedImport {
        path: "../base/Manifest.toml".into(),
        git_rev: None,
        fingerprint: import_fingerprint("blake3-pin", b"lock bytes"),
    });
    let spec = &mut lock.specs[1];
    spec.packages[0].origin = PackageOrigin::Imported(3);
    let name = spec.name.clone();
    lock.artifacts
        .entry(name)
        .or_default()
        .push(LockedArtifact {
            name: "motd".into(),
            source: None,
            hash: "blake3-x".into(),
            imported: true,
        });
    let text = lock.to_text();
    assert!(text.contains("\nversion = 3\n"), "{text}");
    assert!(
        text.contains("\n[import]\npath = \"../base/Manifest.toml\"\nfingerprint = \"blake3-"),
        "{text}"
    );
    assert!(text.contains(", imported = 3, path = "), "{text}");
    assert!(
        text.contains("{ name = \"motd\", hash = \"blake3-x\", imported = true },"),
        "{text}"
    );
    let back = Lock::parse(&text, Path::new("M.lock")).unwrap();
    assert_eq!(back.import, lock.import);
    assert_eq!(back.artifacts, lock.artifacts);
    assert_eq!(
        back.spec("")
            .unwrap()
            .packages
            .iter()
            .find(|p| p.name == "mytool")
            .unwrap()
            .origin,
        PackageOrigin::Imported(3)
    );
    assert_eq!(back.to_text(), text);
    // The fingerprint changes with either part.
    assert_ne!(
        import_fingerprint("blake3-pin", b"lock bytes"),
        import_fingerprint("blake3-pin2", b"lock bytes")
    );
    assert_ne!(
        import_fingerprint("blake3-pin", b"lock bytes"),
        import_fingerprint("blake3-pin", b"lock bytes2")
    );
    // Version 2 has no [import].
    let e = Lock::parse(
        &text.replace("version = 3", "version = 2"),
        Path::new("M.lock"),
    )
    .unwrap_err();
    assert!(
        e.to_string().contains("an [import] in a lock of version 2"),
        "{e}"
    );
}

#[test]
fn a_git_import_records_its_commit() {
    use crate::manifest::import::source::GitRev;
    let mut lock = sample();
    let rev = GitRev::parse("0123456789abcdef0123456789abcdef01234567").unwrap();
    lock.import = Some(LockedImport {
        path: "system/Manifest.toml".into(),
        git_rev: Some(rev.clone()),
        fingerprint: import_fingerprint("blake3-pin", b"lock bytes"),
    });
    let text = lock.to_text();
    assert!(
        text.contains(&format!("\n[import]\npath = \"system/Manifest.toml\"\nimported-git-rev = \"{rev}\"\nfingerprint = \"blake3-")),
        "{text}"
    );
    let back = Lock::parse(&text, Path::new("M.lock")).unwrap();
    assert_eq!(back.import, lock.import);
    let bad = text.replace(rev.as_str(), "abc");
    let e = Lock::parse(&bad, Path::new("M.lock"))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("'imported-git-rev': 'abc' is not a full commit id"),
        "{e}"
    );
}
