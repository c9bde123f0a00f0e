//! Artifacts end to end in the library: hostile tarballs refused with
//! nothing written (inside the tree or out of it), and URL artifacts
//! fetched from a loopback server through the transport and the cache.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use debrepo::artifact::{fetch_all, lock_records, sri_blake3, sri_blake3_of_path, stage};
use debrepo::cache::Cache;
use debrepo::lock::Lock;
use debrepo::manifest::Manifest;
use debrepo::transport::{Transport, TransportOptions};
use testkit::http::Server;
use testkit::{DebBuilder, TempDir};

/// Every path under `root` with its type, size and target: what a test
/// compares before and after.
fn snapshot(root: &Path) -> BTreeMap<PathBuf, String> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<PathBuf, String>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for e in entries.flatten() {
            let p = e.path();
            let m = std::fs::symlink_metadata(&p).unwrap();
            let desc = if m.file_type().is_symlink() {
                format!("link {}", std::fs::read_link(&p).unwrap().display())
            } else if m.is_dir() {
                "dir".to_owned()
            } else {
                format!("file {}", m.len())
            };
            out.insert(p.strip_prefix(root).unwrap().to_owned(), desc);
            if m.is_dir() {
                walk(root, &p, out);
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(root, root, &mut out);
    out
}

fn transport() -> Transport {
    Transport::new(TransportOptions {
        retries: 0,
        ..TransportOptions::default()
    })
    .unwrap()
}

struct Arena {
    _dir: TempDir,
    project: PathBuf,
    root: PathBuf,
    outside: PathBuf,
}

fn arena(tag: &str) -> Arena {
    let dir = TempDir::new(tag);
    let project = dir.path().join("project");
    let root = dir.path().join("root");
    let outside = dir.path().join("outside");
    for d in [&project, &root.join("opt/app"), &outside] {
        std::fs::create_dir_all(d).unwrap();
    }
    std::fs::write(outside.join("victim"), b"untouched").unwrap();
    std::fs::write(root.join("opt/app/existing"), b"package file").unwrap();
    Arena {
        _dir: dir,
        project,
        root,
        outside,
    }
}

/// Stage `tar` (bytes of a tarball) as a `tar` artifact under /opt/app.
fn stage_tar(a: &Arena, tar: &[u8]) -> Result<(), String> {
    let path = a.project.join("hostile.tar");
    std::fs::write(&path, tar).unwrap();
    let hash = sri_blake3_of_path(&path).unwrap();
    let text = format!(
        "[artifact.\"hostile\"]\ntype = \"tar\"\npath = \"hostile.tar\"\ntarget = \"/opt/app\"\nhash = \"{hash}\"\n[spec]\nstage = [\"hostile\"]\n"
    );
    let m = Manifest::parse(&text, &a.project.join("Manifest.toml")).unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let fetched = rt
        .block_on(fetch_all(&m, "", &Lock::default(), &transport(), None))
        .map_err(|e| e.to_string())?;
    stage(&a.root, &fetched)
        .map(|_| ())
        .map_err(|e| e.to_string())
}

#[test]
fn hostile_tarballs_are_refused_with_nothing_written() {
    // A harmless entry first: the archive is checked whole before any
    // write, so not even it is written.
    let ok = || DebBuilder::new("x", "1", "all").file("./ok", "fine");
    let cases: Vec<(&str, DebBuilder, &str)> = vec![
        (
            "dotdot",
            ok().file("../../outside/victim", "pwned"),
            "entry '../../outside/victim' refused: a '..' component",
        ),
        (
            "dotdot-inside",
            ok().file("./a/../../x", "pwned"),
            "entry './a/../../x' refused: a '..' component",
        ),
        (
            "absolute",
            ok().file("/etc/passwd", "pwned"),
            "entry '/etc/passwd' refused: an absolute name",
        ),
        (
            "symlink-then-write",
            ok().symlink("./esc", "/").file("./esc/etc/passwd", "pwned"),
            "entry 'esc/etc/passwd' refused: written through the symlink 'esc' that the same archive creates",
        ),
        (
            "symlink-dir-then-write",
            ok().symlink("./esc", "../../../outside")
                .file("./esc/victim", "pwned"),
            "entry 'esc/victim' refused: written through the symlink 'esc'",
        ),
        (
            "symlink-then-dir",
            ok().symlink("./esc", "/tmp").dir("./esc/sub/"),
            "entry 'esc/sub/' refused: written through the symlink 'esc'",
        ),
        (
            "char-device",
            ok().char_device("./null", 1, 3),
            "entry 'null' refused: a character device, which artifacts may not hold",
        ),
        (
            "block-device",
            ok().block_device("./sda", 8, 0),
            "entry 'sda' refused: a block device",
        ),
        (
            "fifo",
            ok().fifo("./pipe"),
            "entry 'pipe' refused: a fifo",
        ),
        (
            "hardlink-out",
            ok().hardlink("./h", "../outside/victim"),
            "entry './h' refused: a '..' component",
        ),
        (
            "hardlink-to-tree",
            ok().hardlink("./h", "existing"),
            "entry 'h' refused: a hard link to 'existing', which is not a regular file earlier in the archive",
        ),
        (
            "under-a-file",
            ok().file("./ok/sub", "x"),
            "entry 'ok/sub' refused: under 'ok', which the same archive makes a file",
        ),
        (
            "twice",
            ok().file("./ok", "again"),
            "entry 'ok' refused: given twice in the archive",
        ),
    ];
    for (tag, deb, why) in cases {
        let a = arena(&format!("hostile-{tag}"));
        let before_root = snapshot(&a.root);
        let before_outside = snapshot(&a.outside);
        let e = stage_tar(&a, &deb.data_tar()).expect_err(tag);
        assert!(
            e.starts_with("artifact 'hostile': ") && e.contains(why),
            "{tag}: {e}"
        );
        assert_eq!(snapshot(&a.root), before_root, "{tag}: the tree changed");
        assert_eq!(
            snapshot(&a.outside),
            before_outside,
            "{tag}: outside the tree changed"
        );
        assert_eq!(
            std::fs::read(a.outside.join("victim")).unwrap(),
            b"untouched"
        );
    }
}

#[test]
fn symlinks_already_in_the_tree_are_followed_inside_it() {
    // A link planted in the tree pointing at the host's path: the entry
    // lands inside the tree, as the link resolves with the tree as root.
    let a = arena("hostile-planted");
    std::os::unix::fs::symlink(&a.outside, a.root.join("opt/app/planted")).unwrap();
    let inside = a.root.join(a.outside.strip_prefix("/").unwrap());
    std::fs::create_dir_all(&inside).unwrap();
    let before_outside = snapshot(&a.outside);
    let tar = DebBuilder::new("x", "1", "all")
        .file("./planted/new", "contained")
        .data_tar();
    stage_tar(&a, &tar).unwrap();
    assert_eq!(snapshot(&a.outside), before_outside);
    assert_eq!(std::fs::read(inside.join("new")).unwrap(), b"contained");
    // A well-formed tarball with links and modes is extracted whole.
    let a = arena("tar-good");
    let tar = DebBuilder::new("x", "1", "all")
        .dir("./bin/")
        .file_mode("./bin/tool", 0o755, "#!/bin/sh\n")
        .hardlink("./bin/tool2", "./bin/tool")
        .symlink("./bin/t", "tool")
        .data_tar();
    stage_tar(&a, &tar).unwrap();
    let bin = a.root.join("opt/app/bin");
    assert_eq!(std::fs::read(bin.join("tool2")).unwrap(), b"#!/bin/sh\n");
    assert_eq!(
        std::fs::read_link(bin.join("t")).unwrap(),
        Path::new("tool")
    );
    use std::os::unix::fs::MetadataExt;
    let m = std::fs::metadata(bin.join("tool")).unwrap();
    assert_eq!((m.mode() & 0o7777, m.nlink()), (0o755, 2));
    // A read-only directory gets its files, then its mode.
    let a = arena("tar-ro");
    let mut b = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(tar::EntryType::Directory);
    h.set_mode(0o555);
    h.set_size(0);
    b.append_data(&mut h, "ro/", std::io::empty()).unwrap();
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(tar::EntryType::Regular);
    h.set_mode(0o644);
    h.set_size(1);
    b.append_data(&mut h, "ro/inside", &b"x"[..]).unwrap();
    stage_tar(&a, &b.into_inner().unwrap()).unwrap();
    let ro = a.root.join("opt/app/ro");
    assert_eq!(std::fs::read(ro.join("inside")).unwrap(), b"x");
    assert_eq!(std::fs::metadata(&ro).unwrap().mode() & 0o7777, 0o555);
    std::fs::set_permissions(&ro, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn url_artifacts_through_a_loopback_server_and_the_cache() {
    let a = arena("url");
    let served = a.project.join("served");
    std::fs::create_dir_all(&served).unwrap();
    std::fs::write(served.join("tool"), b"#!/bin/sh\necho tool\n").unwrap();
    let server = Server::serve_dir(&served);
    let url = format!("{}/tool", server.url());
    let good = sri_blake3(b"#!/bin/sh\necho tool\n");
    let manifest = |hash: Option<&str>| {
        let hash = hash
            .map(|h| format!("hash = \"{h}\"\n"))
            .unwrap_or_default();
        Manifest::parse(
            &format!(
                "[artifact.\"tool\"]\ntype = \"file\"\nurl = \"{url}\"\ntarget = \"/usr/local/bin/\"\n{hash}[spec]\nstage = [\"tool\"]\n"
            ),
            &a.project.join("Manifest.toml"),
        )
        .unwrap()
    };
    let t = transport();
    let cache = Cache::open(a.project.join("cache")).unwrap();

    // Without a hash: refused by update and build, giving the hash to add.
    let m = manifest(None);
    let want = format!(
        "artifact 'tool' (line 1): the URL {url} needs a hash in the manifest: add hash = \"{good}\" (the hash of what it serves now)"
    );
    assert_eq!(lock_records(&m, &t).await.unwrap_err().to_string(), want);
    let e = fetch_all(&m, "", &Lock::default(), &t, Some(&cache))
        .await
        .unwrap_err();
    assert_eq!(e.to_string(), want);

    // With it: the lock records the manifest's hash without a download.
    let m = manifest(Some(&good));
    server.clear_log();
    let records = lock_records(&m, &t).await.unwrap();
    assert_eq!(records[""][0].hash, good);
    assert_eq!(records[""][0].source.as_deref(), Some(url.as_str()));
    assert_eq!(server.hits("/tool"), 0);

    // Downloaded once into the cache, then served from it.
    let f = fetch_all(&m, "", &Lock::default(), &t, Some(&cache))
        .await
        .unwrap();
    assert_eq!(server.hits("/tool"), 1);
    let f2 = fetch_all(&m, "", &Lock::default(), &t, Some(&cache))
        .await
        .unwrap();
    assert_eq!(server.hits("/tool"), 1, "the second build uses the cache");
    let staged = stage(&a.root, &f).unwrap();
    assert_eq!(staged[0].target, "/usr/local/bin/tool");
    assert_eq!(staged[0].hash, good);
    assert_eq!(
        std::fs::read(a.root.join("usr/local/bin/tool")).unwrap(),
        b"#!/bin/sh\necho tool\n"
    );
    use std::os::unix::fs::MetadataExt;
    assert_eq!(
        std::fs::metadata(a.root.join("usr/local/bin/tool"))
            .unwrap()
            .mode()
            & 0o7777,
        0o644
    );
    drop(f2);

    // Without a cache it is held in memory; checked all the same.
    let f = fetch_all(&m, "", &Lock::default(), &t, None).await.unwrap();
    assert_eq!(server.hits("/tool"), 2);
    drop(f);

    // The server now serves something else: the hash is checked on every
    // build, the cached copy is still the right one, a fresh download is
    // refused and not kept.
    std::fs::write(served.join("tool"), b"#!/bin/sh\nrm -rf /\n").unwrap();
    fetch_all(&m, "", &Lock::default(), &t, Some(&cache))
        .await
        .unwrap();
    let e = fetch_all(&m, "", &Lock::default(), &t, None)
        .await
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        format!(
            "artifact 'tool' ({url}): hash mismatch: the manifest says {good}, the content has {}",
            sri_blake3(b"#!/bin/sh\nrm -rf /\n")
        )
    );
    let other = Cache::open(a.project.join("cache2")).unwrap();
    fetch_all(&m, "", &Lock::default(), &t, Some(&other))
        .await
        .unwrap_err();
    assert_eq!(
        snapshot(&a.project.join("cache2"))
            .keys()
            .filter(|p| p.to_string_lossy().contains("blake3/")
                || p.to_string_lossy().contains("sha256/"))
            .filter(|p| p.components().count() == 4)
            .count(),
        0,
        "nothing stored: {:?}",
        snapshot(&a.project.join("cache2"))
    );

    // A sha256 hash, and a tarball from a URL.
    let tar = DebBuilder::new("x", "1", "all")
        .file("./etc/app.conf", "k = v\n")
        .data_tar();
    std::fs::write(served.join("app.tar"), &tar).unwrap();
    let sha = {
        use base64::Engine as _;
        format!(
            "sha256-{}",
            base64::engine::general_purpose::STANDARD
                .encode(debrepo::hash::sha256(&tar).as_bytes())
        )
    };
    let m = Manifest::parse(
        &format!(
            "[artifact.\"app\"]\ntype = \"tar\"\nurl = \"{}/app.tar\"\ntarget = \"/\"\nhash = \"{sha}\"\n[spec]\nstage = [\"app\"]\n",
            server.url()
        ),
        &a.project.join("Manifest.toml"),
    )
    .unwrap();
    let f = fetch_all(&m, "", &Lock::default(), &t, Some(&cache))
        .await
        .unwrap();
    assert!(
        cache.contains(&debrepo::hash::sha256(&tar), None).unwrap(),
        "a sha256 artifact shares the cache's store"
    );
    stage(&a.root, &f).unwrap();
    assert_eq!(
        std::fs::read(a.root.join("etc/app.conf")).unwrap(),
        b"k = v\n"
    );
}
