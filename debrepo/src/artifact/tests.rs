use super::*;

use std::os::unix::fs::PermissionsExt;

fn manifest(dir: &Path, text: &str) -> Manifest {
    Manifest::parse(text, &dir.join("Manifest.toml")).unwrap()
}

fn artifact(kind: ArtifactKind, source: Option<&str>, target: &str, unpack: bool) -> Artifact {
    Artifact {
        kind,
        target: target.into(),
        source: source.map(str::to_owned),
        text: (kind == ArtifactKind::Text).then(|| "text\n".to_owned()),
        hash: None,
        unpack,
        line: 1,
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn transport() -> Transport {
    Transport::new(crate::transport::TransportOptions::default()).unwrap()
}

#[test]
fn sri_parses_and_prints() {
    let b = sri_blake3(b"hello");
    assert_eq!(
        b,
        format!(
            "blake3-{}",
            base64::engine::general_purpose::STANDARD.encode(blake3::hash(b"hello").as_bytes())
        )
    );
    let s = Sri::parse(&b).unwrap();
    assert_eq!(s.algo, HashAlgo::Blake3);
    assert_eq!(s.to_string(), b);
    let sha = format!(
        "sha256-{}",
        base64::engine::general_purpose::STANDARD.encode(crate::hash::sha256(b"hello").as_bytes())
    );
    assert_eq!(Sri::parse(&sha).unwrap().algo, HashAlgo::Sha256);
    let mut h = Hasher::new(HashAlgo::Sha256);
    h.update(b"hel");
    h.update(b"lo");
    assert_eq!(h.finish().to_string(), sha);
    assert!(matches!(Sri::parse("blake3"), Err(SriError::Form(_))));
    assert!(matches!(Sri::parse("md5-AAAA"), Err(SriError::Algo(_))));
    assert!(matches!(
        Sri::parse("sha256-AAAA"),
        Err(SriError::Digest(_))
    ));
    assert!(matches!(Sri::parse("blake3-!!"), Err(SriError::Digest(_))));
}

#[test]
fn path_hashes_files_and_trees_deterministically() {
    let t = testkit::TempDir::new("artifact-hash");
    let file = t.path().join("f");
    std::fs::write(&file, b"content").unwrap();
    assert_eq!(sri_blake3_of_path(&file).unwrap(), sri_blake3(b"content"));

    // Two trees with the same content, made in different orders.
    let make = |name: &str, reverse: bool| {
        let root = t.path().join(name);
        std::fs::create_dir(&root).unwrap();
        let mut steps: Vec<Box<dyn Fn()>> = vec![
            Box::new({
                let root = root.clone();
                move || {
                    std::fs::create_dir_all(root.join("a/b")).unwrap();
                    std::fs::write(root.join("a/b/x"), b"x").unwrap();
                }
            }),
            Box::new({
                let root = root.clone();
                move || std::fs::write(root.join("a.txt"), b"a").unwrap()
            }),
            Box::new({
                let root = root.clone();
                move || std::os::unix::fs::symlink("a/b/x", root.join("link")).unwrap()
            }),
        ];
        if reverse {
            steps.reverse();
        }
        for s in steps {
            s();
        }
        for p in ["a", "a/b"] {
            std::fs::set_permissions(root.join(p), std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        for p in ["a/b/x", "a.txt"] {
            std::fs::set_permissions(root.join(p), std::fs::Permissions::from_mode(0o644)).unwrap();
        }
        root
    };
    let one = make("one", false);
    let two = make("two", true);
    let h1 = sri_blake3_of_path(&one).unwrap();
    assert_eq!(h1, sri_blake3_of_path(&two).unwrap());
    assert!(h1.starts_with("blake3-"));
    // The tree hash as documented, by hand.
    let mut want = blake3::Hasher::new();
    want.update(b"rdebootstrap-tree-v1\n");
    for rec in [
        &b"d 0755 1:a 0:\n"[..],
        b"f 0644 5:a.txt 1:a\n",
        b"d 0755 3:a/b 0:\n",
        b"f 0644 5:a/b/x 1:x\n",
        b"l 0000 4:link 5:a/b/x\n",
    ] {
        want.update(rec);
    }
    assert_eq!(
        h1,
        format!(
            "blake3-{}",
            base64::engine::general_purpose::STANDARD.encode(want.finalize().as_bytes())
        )
    );
    // Mode, content and link target all count.
    std::fs::set_permissions(two.join("a.txt"), std::fs::Permissions::from_mode(0o755)).unwrap();
    let h2 = sri_blake3_of_path(&two).unwrap();
    assert_ne!(h1, h2);
    std::fs::write(two.join("a/b/x"), b"y").unwrap();
    assert_ne!(h2, sri_blake3_of_path(&two).unwrap());
    // Special files are refused.
    rustix::fs::mknodat(
        rustix::fs::CWD,
        one.join("fifo"),
        FileType::Fifo,
        Mode::from_bits_truncate(0o644),
        0,
    )
    .unwrap();
    assert!(matches!(
        sri_blake3_of_path(&one),
        Err(ArtifactError::Special { .. })
    ));
}

const CHAIN: &str = r#"
[artifact."a1"]
type = "text"
target = "/a1"
text = "a1"
[artifact."a2"]
type = "text"
target = "/a2"
text = "a2"
[artifact."b"]
type = "text"
target = "/b"
text = "b"
[artifact."c"]
type = "text"
target = "/c"
text = "c"
[artifact."d"]
type = "text"
target = "/d"
text = "d"
[spec.a]
stage = ["a2", "a1"]
[spec.b]
extends = "a"
stage = ["b", "a1"]
[spec.c]
extends = "a"
stage = ["c", "b"]
[spec.d]
extends = ["c", "b"]
stage = ["d", "a2"]
"#;

#[test]
fn plan_is_topological_each_artifact_once() {
    let t = testkit::TempDir::new("artifact-plan");
    let m = manifest(t.path(), CHAIN);
    let names = |spec: &str| -> Vec<(String, String)> {
        plan(&m, spec)
            .unwrap()
            .into_iter()
            .map(|p| (p.name, p.spec))
            .collect()
    };
    let pairs = |v: &[(&str, &str)]| -> Vec<(String, String)> {
        v.iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    };
    assert_eq!(names("a"), pairs(&[("a2", "a"), ("a1", "a")]));
    // The diamond: a, then c (extends order), then b, then d.
    assert_eq!(
        names("d"),
        pairs(&[("a2", "a"), ("a1", "a"), ("c", "c"), ("b", "c"), ("d", "d")])
    );
    // The same order as the resolved spec's stage list.
    let resolved: Vec<String> = m.resolve("d").unwrap().stage;
    assert_eq!(
        names("d").into_iter().map(|p| p.0).collect::<Vec<_>>(),
        resolved
    );
    // An unknown name is refused when the manifest is read.
    let e = Manifest::parse(
        "[spec.x]\nstage = [\"nosuch\"]\n",
        &t.path().join("Manifest.toml"),
    )
    .unwrap_err();
    assert!(
        e.to_string().contains(":2:10: [spec.x] stages 'nosuch'"),
        "{e}"
    );
    // plan says so too for a manifest built by hand.
    let mut m2 = m.clone();
    m2.specs.get_mut("b").unwrap().stage.push("nosuch".into());
    assert_eq!(
        plan(&m2, "d").unwrap_err().to_string(),
        format!(
            "spec 'b' (line {}) stages 'nosuch', which is not an [artifact] of the manifest",
            m.specs["b"].line
        )
    );
}

#[test]
fn target_rules() {
    use ArtifactKind::*;
    // (kind, source, target, unpack, resolved target)
    let table: &[(ArtifactKind, Option<&str>, &str, bool, &str)] = &[
        (
            File,
            Some("files/tool.sh"),
            "/usr/bin/tool",
            true,
            "/usr/bin/tool",
        ),
        (
            File,
            Some("files/tool.sh"),
            "/usr/bin/",
            true,
            "/usr/bin/tool.sh",
        ),
        (
            File,
            Some("files/tool.sh"),
            "usr/bin/",
            true,
            "/usr/bin/tool.sh",
        ),
        (
            File,
            Some("files/tool.sh"),
            "usr/bin/tool",
            true,
            "/usr/bin/tool",
        ),
        (File, Some("files/tool.sh"), "/", true, "/tool.sh"),
        (File, Some("a.conf.gz"), "/etc/", true, "/etc/a.conf"),
        (File, Some("a.conf.gz"), "/etc/", false, "/etc/a.conf.gz"),
        (File, Some("a.conf.zstd"), "/etc/", true, "/etc/a.conf"),
        (File, Some("a.conf.gz"), "/etc/b.conf", true, "/etc/b.conf"),
        (
            File,
            Some("https://h.invalid/d/x.bin?v=1"),
            "/opt/",
            true,
            "/opt/x.bin",
        ),
        (File, Some("file:///srv/x.bin"), "/opt/", true, "/opt/x.bin"),
        (File, Some("rootfs.tar.xz"), "/srv", true, "/srv"),
        (
            File,
            Some("rootfs.tar.xz"),
            "/srv/",
            false,
            "/srv/rootfs.tar.xz",
        ),
        (Tar, Some("rootfs.tgz"), "/srv", true, "/srv"),
        (Tar, Some("rootfs.tgz"), "/srv/", true, "/srv"),
        (Tar, Some("rootfs.tgz"), "/srv/", false, "/srv/rootfs.tgz"),
        (Dir, Some("tree"), "/opt/app", true, "/opt/app"),
        (Dir, Some("tree"), "/opt/app/", true, "/opt/app"),
        (Dir, Some("tree"), "opt/app", true, "/opt/app"),
        (Text, None, "/etc/motd", true, "/etc/motd"),
        (Text, None, "etc/motd", true, "/etc/motd"),
        (Text, None, "/etc/", true, "/etc/NAME"),
        (Text, None, "/etc/./x//y", true, "/etc/x/y"),
    ];
    for (kind, source, target, unpack, want) in table {
        let a = artifact(*kind, *source, target, *unpack);
        assert_eq!(
            resolve_target("NAME", &a).unwrap(),
            *want,
            "{kind:?} {source:?} {target} unpack={unpack}"
        );
    }
    let bad = |kind, source: Option<&str>, target: &str| {
        resolve_target("NAME", &artifact(kind, source, target, true))
            .unwrap_err()
            .to_string()
    };
    assert_eq!(
        bad(Text, None, "/etc/../x"),
        "artifact 'NAME' (line 1): target '/etc/../x': '..' is not allowed in a target"
    );
    assert!(bad(File, Some("https://h.invalid/"), "/opt/").contains("no file name"));
}

#[test]
fn sources_are_classified() {
    let t = testkit::TempDir::new("artifact-source");
    let m = manifest(t.path(), "");
    let a = |s: &str| artifact(ArtifactKind::File, Some(s), "/x", true);
    assert_eq!(
        source_of(&m, "n", &a("files/x")).unwrap(),
        Source::Local(t.path().join("files/x"))
    );
    assert_eq!(
        source_of(&m, "n", &a("file:///srv/a%20b")).unwrap(),
        Source::Local(PathBuf::from("/srv/a b"))
    );
    assert_eq!(
        source_of(&m, "n", &a("file://files/x")).unwrap(),
        Source::Local(t.path().join("files/x"))
    );
    assert_eq!(
        source_of(&m, "n", &a("https://h.invalid/x")).unwrap(),
        Source::Url("https://h.invalid/x".into())
    );
    assert!(source_of(&m, "n", &a("ftp://h.invalid/x"))
        .unwrap_err()
        .to_string()
        .contains("cannot fetch 'ftp://h.invalid/x'"));
    let dir = artifact(ArtifactKind::Dir, Some("http://h.invalid/d"), "/x", true);
    assert!(matches!(
        source_of(&m, "n", &dir),
        Err(ArtifactError::UrlDir { .. })
    ));
}

fn gz(data: &[u8]) -> Vec<u8> {
    use std::io::Write as _;
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

fn tarball(entries: &[(&str, Option<&[u8]>, u32)]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (path, data, mode) in entries {
        let mut h = tar::Header::new_gnu();
        h.set_mode(*mode);
        match data {
            Some(d) => {
                h.set_entry_type(tar::EntryType::Regular);
                h.set_size(d.len() as u64);
                b.append_data(&mut h, path, *d).unwrap();
            }
            None => {
                h.set_entry_type(tar::EntryType::Directory);
                h.set_size(0);
                b.append_data(&mut h, path, io::empty()).unwrap();
            }
        }
    }
    b.into_inner().unwrap()
}

fn mode_of(p: &Path) -> u32 {
    std::fs::symlink_metadata(p).unwrap().mode() & 0o7777
}

#[test]
fn fetch_and_stage_local_artifacts() {
    let t = testkit::TempDir::new("artifact-stage");
    let files = t.path().join("files");
    std::fs::create_dir_all(files.join("tree/sub")).unwrap();
    std::fs::write(files.join("tool.sh"), b"#!/bin/sh\n").unwrap();
    std::fs::set_permissions(
        files.join("tool.sh"),
        std::fs::Permissions::from_mode(0o755),
    )
    .unwrap();
    std::fs::write(files.join("app.conf.gz"), gz(b"key = 1\n")).unwrap();
    std::fs::write(
        files.join("bundle.tar.gz"),
        gz(&tarball(&[
            ("./opt/", None, 0o755),
            ("./opt/bundle/", None, 0o750),
            ("./opt/bundle/run", Some(b"run"), 0o4755),
        ])),
    )
    .unwrap();
    std::fs::write(files.join("tree/sub/data"), b"data").unwrap();
    std::fs::set_permissions(
        files.join("tree/sub"),
        std::fs::Permissions::from_mode(0o700),
    )
    .unwrap();
    std::os::unix::fs::symlink("sub/data", files.join("tree/link")).unwrap();
    let text = r#"
[artifact."motd"]
type = "text"
target = "etc/motd"
text = "hello\n"
[artifact."tool"]
type = "file"
path = "files/tool.sh"
target = "/usr/local/bin/"
[artifact."conf"]
type = "file"
path = "files/app.conf.gz"
target = "/etc/app/"
[artifact."bundle"]
type = "file"
path = "files/bundle.tar.gz"
target = "/"
[artifact."tree"]
type = "dir"
path = "files/tree"
target = "/srv/tree"
[spec]
stage = ["motd", "tool", "conf", "bundle", "tree"]
"#;
    let m = manifest(t.path(), text);
    let rt = runtime();
    // Not in a lock, and the manifest gives no hashes: update first.
    let e = rt
        .block_on(fetch_all(&m, "", &Lock::default(), &transport(), None))
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "artifact 'tool' of spec [spec] is not in the lock: run 'rdebootstrap update'"
    );
    let records = rt.block_on(lock_records(&m, &transport())).unwrap();
    assert_eq!(records[""].len(), 5);
    assert_eq!(records[""][0].hash, sri_blake3(b"hello\n"));
    assert_eq!(records[""][0].source, None);
    assert_eq!(
        records[""][1].hash,
        sri_blake3_of_path(&files.join("tool.sh")).unwrap()
    );
    let lock = Lock {
        artifacts: records,
        ..Lock::default()
    };
    let fetched = rt
        .block_on(fetch_all(&m, "", &lock, &transport(), None))
        .unwrap();
    let root = t.path().join("root");
    std::fs::create_dir_all(root.join("etc")).unwrap();
    // A package's file, which a file artifact may replace.
    std::fs::write(root.join("etc/motd"), b"package motd\n").unwrap();
    let staged = stage(&root, &fetched).unwrap();
    let targets: Vec<&str> = staged.iter().map(|s| s.target.as_str()).collect();
    assert_eq!(
        targets,
        [
            "/etc/motd",
            "/usr/local/bin/tool.sh",
            "/etc/app/app.conf",
            "/",
            "/srv/tree"
        ]
    );
    assert_eq!(std::fs::read(root.join("etc/motd")).unwrap(), b"hello\n");
    assert_eq!(mode_of(&root.join("etc/motd")), 0o644);
    assert_eq!(mode_of(&root.join("usr/local/bin/tool.sh")), 0o755);
    assert_eq!(
        std::fs::read(root.join("etc/app/app.conf")).unwrap(),
        b"key = 1\n"
    );
    assert_eq!(std::fs::read(root.join("opt/bundle/run")).unwrap(), b"run");
    assert_eq!(mode_of(&root.join("opt/bundle/run")), 0o4755);
    assert_eq!(mode_of(&root.join("opt/bundle")), 0o750);
    assert_eq!(
        std::fs::read(root.join("srv/tree/sub/data")).unwrap(),
        b"data"
    );
    assert_eq!(mode_of(&root.join("srv/tree/sub")), 0o700);
    assert_eq!(
        std::fs::read_link(root.join("srv/tree/link")).unwrap(),
        Path::new("sub/data")
    );
    assert_eq!(
        staged[3].paths,
        ["/opt", "/opt/bundle", "/opt/bundle/run"],
        "/opt did not exist, so the archive's entry made it"
    );
    assert!(!root.join(TMP_NAME).exists());

    // Staging again: file and text artifacts replace, a tarball's or a
    // directory's entries do not.
    let e = stage(&root, &fetched[3..4]).unwrap_err();
    assert_eq!(
        e.to_string(),
        "artifact 'bundle': /opt/bundle/run would replace the file already in the tree; a file artifact only adds files: make /opt/bundle/run the target of a file artifact to replace it"
    );
    let e = stage(&root, &fetched[4..5]).unwrap_err();
    assert!(
        e.to_string()
            .starts_with("artifact 'tree': /srv/tree/sub/data would replace the file already in the tree; a dir artifact only adds files"),
        "{e}"
    );
    stage(&root, &fetched[..3]).unwrap();

    // A changed local source: the lock's hash no longer matches.
    std::fs::write(files.join("tool.sh"), b"#!/bin/sh\nexit 1\n").unwrap();
    let e = rt
        .block_on(fetch_all(&m, "", &lock, &transport(), None))
        .unwrap_err();
    assert!(
        e.to_string().starts_with(&format!(
            "artifact 'tool' ({}) changed since the lock was written (the lock says blake3-",
            files.join("tool.sh").display()
        )) && e.to_string().ends_with("): run 'rdebootstrap update'"),
        "{e}"
    );
}

#[test]
fn hash_mismatch_names_the_artifact_and_both_hashes() {
    let t = testkit::TempDir::new("artifact-mismatch");
    std::fs::write(t.path().join("f"), b"actual").unwrap();
    let wrong = sri_blake3(b"expected");
    let m = manifest(
        t.path(),
        &format!(
            "[artifact.\"f\"]\ntype = \"file\"\npath = \"f\"\ntarget = \"/f\"\nhash = \"{wrong}\"\n[spec]\nstage = [\"f\"]\n"
        ),
    );
    let rt = runtime();
    let want = format!(
        "artifact 'f' ({}): hash mismatch: the manifest says {wrong}, the content has {}",
        t.path().join("f").display(),
        sri_blake3(b"actual")
    );
    let e = rt
        .block_on(fetch_all(&m, "", &Lock::default(), &transport(), None))
        .unwrap_err();
    assert_eq!(e.to_string(), want);
    // update says the same.
    let e = rt.block_on(lock_records(&m, &transport())).unwrap_err();
    assert_eq!(e.to_string(), want);
    // A sha256 hash is checked as sha256.
    let sha = format!(
        "sha256-{}",
        base64::engine::general_purpose::STANDARD.encode(crate::hash::sha256(b"actual").as_bytes())
    );
    let m = manifest(
        t.path(),
        &format!(
            "[artifact.\"f\"]\ntype = \"file\"\npath = \"f\"\ntarget = \"/f\"\nhash = \"{sha}\"\n[spec]\nstage = [\"f\"]\n"
        ),
    );
    let f = rt
        .block_on(fetch_all(&m, "", &Lock::default(), &transport(), None))
        .unwrap();
    assert_eq!(f[0].hash, sha);
    // A text artifact's hash is checked against its text.
    let m = manifest(
        t.path(),
        &format!(
            "[artifact.\"t\"]\ntype = \"text\"\ntext = \"x\"\ntarget = \"/t\"\nhash = \"{wrong}\"\n[spec]\nstage = [\"t\"]\n"
        ),
    );
    let e = rt
        .block_on(fetch_all(&m, "", &Lock::default(), &transport(), None))
        .unwrap_err();
    assert!(
        e.to_string().starts_with(&format!(
            "artifact 't' (text): hash mismatch: the manifest says {wrong}"
        )),
        "{e}"
    );
}

#[test]
fn wrong_types_are_refused() {
    let t = testkit::TempDir::new("artifact-types");
    std::fs::create_dir(t.path().join("d")).unwrap();
    std::fs::write(t.path().join("f"), b"f").unwrap();
    let m = manifest(
        t.path(),
        "[artifact.\"a\"]\ntype = \"file\"\npath = \"d\"\ntarget = \"/x\"\n[artifact.\"b\"]\ntype = \"dir\"\npath = \"f\"\ntarget = \"/y\"\n[spec.a]\nstage = [\"a\"]\n[spec.b]\nstage = [\"b\"]\n",
    );
    let rt = runtime();
    let e = rt.block_on(lock_records(&m, &transport())).unwrap_err();
    assert!(
        e.to_string()
            .ends_with("is a directory, not a file as its type says"),
        "{e}"
    );
    let mut m2 = m.clone();
    m2.specs.remove("a");
    let e = rt.block_on(lock_records(&m2, &transport())).unwrap_err();
    assert!(
        e.to_string()
            .ends_with("is a file, not a directory as its type says"),
        "{e}"
    );
}

#[test]
fn a_file_target_that_is_a_directory_is_refused() {
    let t = testkit::TempDir::new("artifact-isdir");
    let m = manifest(
        t.path(),
        "[artifact.\"t\"]\ntype = \"text\"\ntext = \"x\"\ntarget = \"/etc\"\n[spec]\nstage = [\"t\"]\n",
    );
    let f = runtime()
        .block_on(fetch_all(&m, "", &Lock::default(), &transport(), None))
        .unwrap();
    let root = t.path().join("root");
    std::fs::create_dir_all(root.join("etc")).unwrap();
    assert_eq!(
        stage(&root, &f).unwrap_err().to_string(),
        "artifact 't': /etc is a directory in the tree; end the target with '/' to put the file into it"
    );
}

#[test]
fn a_directory_changed_after_its_check_is_not_staged_silently() {
    let t = testkit::TempDir::new("artifact-dir-race");
    std::fs::create_dir_all(t.path().join("d")).unwrap();
    std::fs::write(t.path().join("d/f"), b"checked").unwrap();
    let hash = sri_blake3_of_path(&t.path().join("d")).unwrap();
    let m = manifest(
        t.path(),
        &format!(
            "[artifact.\"d\"]\ntype = \"dir\"\npath = \"d\"\ntarget = \"/srv/d\"\nhash = \"{hash}\"\n[spec]\nstage = [\"d\"]\n"
        ),
    );
    let f = runtime()
        .block_on(fetch_all(&m, "", &Lock::default(), &transport(), None))
        .unwrap();
    std::fs::write(t.path().join("d/f"), b"swapped").unwrap();
    let root = t.path().join("root");
    std::fs::create_dir(&root).unwrap();
    let e = stage(&root, &f).unwrap_err().to_string();
    assert!(
        e.starts_with(&format!(
            "artifact 'd': {} changed after its hash was checked (it was {hash}, what was staged has blake3-",
            t.path().join("d").display()
        )),
        "{e}"
    );
}

#[test]
fn every_compression_is_unpacked_unless_asked_not_to() {
    use testkit::Comp;
    let t = testkit::TempDir::new("artifact-comp");
    let tar = tarball(&[("etc/x.conf", Some(b"x = 1\n"), 0o600)]);
    let mut text = String::new();
    let mut names = Vec::new();
    for c in [Comp::Gzip, Comp::Xz, Comp::Zstd, Comp::Bzip2] {
        for ext in [c.suffix(), if c == Comp::Zstd { ".zstd" } else { "" }] {
            if ext.is_empty() {
                continue;
            }
            let tag = &ext[1..];
            std::fs::write(
                t.path().join(format!("f-{tag}.txt{ext}")),
                c.compress(b"plain\n"),
            )
            .unwrap();
            std::fs::write(t.path().join(format!("t-{tag}.tar{ext}")), c.compress(&tar)).unwrap();
            for (name, path, target, unpack) in [
                (
                    format!("f-{tag}"),
                    format!("f-{tag}.txt{ext}"),
                    format!("/f/{tag}/"),
                    true,
                ),
                (
                    format!("k-{tag}"),
                    format!("f-{tag}.txt{ext}"),
                    format!("/k/{tag}/"),
                    false,
                ),
                (
                    format!("t-{tag}"),
                    format!("t-{tag}.tar{ext}"),
                    format!("/t/{tag}"),
                    true,
                ),
            ] {
                text += &format!(
                    "[artifact.\"{name}\"]\ntype = \"file\"\npath = \"{path}\"\ntarget = \"{target}\"\nunpack = {unpack}\n"
                );
                names.push(name);
            }
        }
    }
    // A tar artifact is decompressed by its bytes, whatever its name.
    std::fs::write(t.path().join("blob"), Comp::Xz.compress(&tar)).unwrap();
    text += "[artifact.\"by-magic\"]\ntype = \"tar\"\npath = \"blob\"\ntarget = \"/m\"\n";
    names.push("by-magic".into());
    text += &format!("[spec]\nstage = {names:?}\n");
    let m = manifest(t.path(), &text);
    let rt = runtime();
    let lock = Lock {
        artifacts: rt.block_on(lock_records(&m, &transport())).unwrap(),
        ..Lock::default()
    };
    let f = rt
        .block_on(fetch_all(&m, "", &lock, &transport(), None))
        .unwrap();
    let root = t.path().join("root");
    std::fs::create_dir(&root).unwrap();
    stage(&root, &f).unwrap();
    for tag in ["gz", "xz", "zst", "zstd", "bz2"] {
        assert_eq!(
            std::fs::read(root.join(format!("f/{tag}/f-{tag}.txt"))).unwrap(),
            b"plain\n",
            "{tag}"
        );
        assert_eq!(
            std::fs::read(root.join(format!("k/{tag}/f-{tag}.txt.{tag}"))).unwrap(),
            std::fs::read(t.path().join(format!("f-{tag}.txt.{tag}"))).unwrap(),
            "{tag}: kept as it is"
        );
        let x = root.join(format!("t/{tag}/etc/x.conf"));
        assert_eq!(std::fs::read(&x).unwrap(), b"x = 1\n", "{tag}");
        assert_eq!(mode_of(&x), 0o600);
    }
    assert_eq!(
        std::fs::read(root.join("m/etc/x.conf")).unwrap(),
        b"x = 1\n"
    );
}
