//! OCI image layouts and archives: byte-identical for the same inputs, and
//! accepted by skopeo and umoci (which CI installs; without CI the tests
//! that need them skip).

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;

use debrepo::oci::{
    rfc3339, write_archive, write_layout, ImageConfig, ImageDigests, LayerSource, OciError,
    ANNOTATION_LOCK_HASH, ANNOTATION_SPEC_HASH,
};
use testkit::TempDir;

const EPOCH: i64 = 1_700_000_000;

/// A layer tar with a directory, files, a symlink and an executable,
/// written deterministically.
fn layer_tar(files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    let header = |path: &str, kind: tar::EntryType, mode: u32, size: u64| {
        let mut h = tar::Header::new_gnu();
        h.set_path(path).unwrap();
        h.set_entry_type(kind);
        h.set_mode(mode);
        h.set_size(size);
        h.set_uid(0);
        h.set_gid(0);
        h.set_mtime(EPOCH as u64);
        h
    };
    let mut dirs: Vec<String> = Vec::new();
    for (path, data) in files {
        if let Some((dir, _)) = path.rsplit_once('/') {
            if !dirs.iter().any(|d| d == dir) {
                dirs.push(dir.to_owned());
                let mut h = header(&format!("{dir}/"), tar::EntryType::Directory, 0o755, 0);
                h.set_cksum();
                b.append(&h, std::io::empty()).unwrap();
            }
        }
        let mode = if path.contains("bin/") { 0o755 } else { 0o644 };
        let mut h = header(path, tar::EntryType::Regular, mode, data.len() as u64);
        h.set_cksum();
        b.append(&h, *data).unwrap();
    }
    let mut h = header("usr/lib/os-release", tar::EntryType::Symlink, 0o777, 0);
    h.set_link_name("../../etc/os-release").unwrap();
    h.set_cksum();
    b.append(&h, std::io::empty()).unwrap();
    b.into_inner().unwrap()
}

fn base_tar() -> Vec<u8> {
    layer_tar(&[
        ("etc/os-release", b"PRETTY_NAME=\"test\"\n"),
        ("etc/hostname", b"oci-test\n"),
        ("usr/bin/hello", b"#!/bin/sh\necho hello\n"),
    ])
}

fn config(arch: &str) -> ImageConfig {
    let mut c = ImageConfig::new(arch, EPOCH);
    c.lock_hash = Some("lock-0123".into());
    c.spec_hash = Some("spec-4567".into());
    c.annotations
        .insert("org.opencontainers.image.title".into(), "test".into());
    c.labels.insert("b".into(), "2".into());
    c.labels.insert("a".into(), "1".into());
    c.cmd = Some(vec!["/bin/sh".into()]);
    c
}

/// Every file under `root` with its bytes.
fn files(root: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![root.to_owned()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            let rel = p.strip_prefix(root).unwrap().display().to_string();
            if p.is_dir() {
                stack.push(p);
                out.insert(rel + "/", Vec::new());
            } else {
                out.insert(rel, std::fs::read(&p).unwrap());
            }
        }
    }
    out
}

fn sha256_hex(data: &[u8]) -> String {
    debrepo::hash::sha256(data).to_string()
}

fn json(path: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

fn blob(layout: &Path, digest: &str) -> PathBuf {
    layout
        .join("blobs/sha256")
        .join(digest.strip_prefix("sha256:").unwrap_or(digest))
}

/// Nothing but `keep` is left in `dir` (no temporary names).
fn only(dir: &Path, keep: &[&str]) {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, keep, "in {}", dir.display());
}

#[test]
fn same_inputs_give_byte_identical_layouts() {
    let t = TempDir::new("oci-same");
    let tar = base_tar();
    let tar_path = t.path().join("layer.tar");
    std::fs::write(&tar_path, &tar).unwrap();

    let a = write_layout(
        &t.path().join("a"),
        &[LayerSource::from_path(&tar_path)],
        &config("amd64"),
    )
    .unwrap();
    let b = write_layout(
        &t.path().join("b"),
        &[LayerSource::from_reader(std::io::Cursor::new(tar.clone()))],
        &config("amd64"),
    )
    .unwrap();
    let tar2 = tar.clone();
    let c = write_layout(
        &t.path().join("c"),
        &[LayerSource::from_writer(move |w| Ok(w.write_all(&tar2)?))],
        &config("amd64"),
    )
    .unwrap();
    assert_eq!(a, b);
    assert_eq!(a, c);
    let fa = files(&t.path().join("a"));
    assert_eq!(fa, files(&t.path().join("b")));
    assert_eq!(fa, files(&t.path().join("c")));
    only(t.path(), &["a", "b", "c", "layer.tar"]);

    // Every blob is named by its digest; the layer is the tar, gzipped.
    for (name, data) in &fa {
        if let Some(hex) = name.strip_prefix("blobs/sha256/").filter(|h| !h.is_empty()) {
            assert_eq!(hex, sha256_hex(data), "{name}");
        }
    }
    assert_eq!(a.layers.len(), 1);
    let layer = &a.layers[0];
    assert_eq!(layer.diff_id.to_string(), sha256_hex(&tar));
    assert_eq!(layer.tar_size, tar.len() as u64);
    let gz = std::fs::read(blob(&t.path().join("a"), &layer.blob.oci_digest())).unwrap();
    assert_eq!(gz.len() as u64, layer.blob.size);
    // gzip header: no name, no mtime.
    assert_eq!(&gz[3..8], &[0, 0, 0, 0, 0]);
    let mut back = Vec::new();
    flate2::read::GzDecoder::new(&gz[..])
        .read_to_end(&mut back)
        .unwrap();
    assert_eq!(back, tar);

    // The JSON documents.
    let dir = t.path().join("a");
    assert_eq!(
        std::fs::read_to_string(dir.join("oci-layout")).unwrap(),
        r#"{"imageLayoutVersion":"1.0.0"}"#
    );
    let index = json(&dir.join("index.json"));
    assert_eq!(index["schemaVersion"], 2);
    let m = &index["manifests"][0];
    assert_eq!(m["digest"], a.manifest.oci_digest());
    assert_eq!(
        m["annotations"]["org.opencontainers.image.ref.name"],
        "latest"
    );
    assert_eq!(m["platform"]["architecture"], "amd64");
    let manifest = json(&blob(&dir, &a.manifest.oci_digest()));
    assert_eq!(manifest["config"]["digest"], a.config.oci_digest());
    assert_eq!(
        manifest["layers"][0]["mediaType"],
        "application/vnd.oci.image.layer.v1.tar+gzip"
    );
    let ann = &manifest["annotations"];
    assert_eq!(
        ann["org.opencontainers.image.created"],
        "2023-11-14T22:13:20Z"
    );
    assert_eq!(ann[ANNOTATION_LOCK_HASH], "lock-0123");
    assert_eq!(ann[ANNOTATION_SPEC_HASH], "spec-4567");
    assert_eq!(ann["org.opencontainers.image.title"], "test");
    let cfg = json(&blob(&dir, &a.config.oci_digest()));
    assert_eq!(cfg["architecture"], "amd64");
    assert_eq!(cfg["os"], "linux");
    assert_eq!(cfg["created"], rfc3339(EPOCH));
    assert!(cfg["config"]["Env"][0]
        .as_str()
        .unwrap()
        .starts_with("PATH=/usr/local/sbin:"));
    assert_eq!(cfg["config"]["Labels"]["a"], "1");
    assert_eq!(
        cfg["rootfs"]["diff_ids"][0],
        format!("sha256:{}", sha256_hex(&tar))
    );
    assert_eq!(cfg["history"][0]["created"], rfc3339(EPOCH));
    assert_eq!(cfg["history"][0]["created_by"], "rdebootstrap");
    // Keys are sorted (whatever map the types keep).
    let text =
        String::from_utf8(std::fs::read(blob(&dir, &a.config.oci_digest())).unwrap()).unwrap();
    assert!(text.find("\"architecture\"").unwrap() < text.find("\"config\"").unwrap());
    assert!(text.find("\"a\":\"1\"").unwrap() < text.find("\"b\":\"2\"").unwrap());

    // Another epoch changes the config and manifest, not the layer.
    let mut later = config("amd64");
    later.source_date_epoch += 86_400;
    let d = write_layout(
        &t.path().join("d"),
        &[LayerSource::from_path(&tar_path)],
        &later,
    )
    .unwrap();
    assert_eq!(d.layers, a.layers);
    assert_ne!(d.config, a.config);
}

#[test]
fn archives_are_byte_identical_and_sorted() {
    let t = TempDir::new("oci-archive-same");
    let tar = base_tar();
    let write = |name: &str| {
        let path = t.path().join(name);
        let tar = tar.clone();
        let d = write_archive(
            &path,
            &[LayerSource::from_reader(std::io::Cursor::new(tar))],
            &config("arm64"),
        )
        .unwrap();
        (d, std::fs::read(&path).unwrap())
    };
    let (da, a) = write("a.oci.tar");
    let (db, b) = write("b.oci.tar");
    assert_eq!(da, db);
    assert_eq!(a, b, "two archives of the same inputs differ");
    only(t.path(), &["a.oci.tar", "b.oci.tar"]);

    let mut ar = tar::Archive::new(&a[..]);
    let mut names = Vec::new();
    for e in ar.entries().unwrap() {
        let e = e.unwrap();
        let h = e.header();
        assert_eq!(h.uid().unwrap(), 0);
        assert_eq!(h.gid().unwrap(), 0);
        assert_eq!(h.mtime().unwrap(), EPOCH as u64);
        names.push(e.path().unwrap().display().to_string());
    }
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(names, sorted);
    assert_eq!(names.first().map(String::as_str), Some("blobs/"));
    assert!(names.contains(&format!("blobs/sha256/{}", da.manifest.digest)));
    assert_eq!(names.last().map(String::as_str), Some("oci-layout"));
    assert_eq!(names.len(), 2 + 3 + 2);
}

#[test]
fn per_layer_blobs_are_shared_between_images() {
    let t = TempDir::new("oci-share");
    let base = base_tar();
    let child = layer_tar(&[("etc/motd", b"child\n")]);
    let one = write_layout(
        &t.path().join("base"),
        &[LayerSource::from_reader(std::io::Cursor::new(base.clone()))],
        &config("amd64"),
    )
    .unwrap();
    let two = write_layout(
        &t.path().join("child"),
        &[
            LayerSource::from_reader(std::io::Cursor::new(base)),
            LayerSource::from_reader(std::io::Cursor::new(child))
                .with_history("rdebootstrap spec child", Some("child".into())),
        ],
        &config("amd64"),
    )
    .unwrap();
    assert_eq!(two.layers.len(), 2);
    assert_eq!(two.layers[0], one.layers[0]);
    assert_ne!(two.layers[1].blob, one.layers[0].blob);
    let cfg = json(&blob(&t.path().join("child"), &two.config.oci_digest()));
    assert_eq!(cfg["history"][1]["created_by"], "rdebootstrap spec child");
    assert_eq!(cfg["history"][1]["comment"], "child");
    assert_eq!(cfg["rootfs"]["diff_ids"].as_array().unwrap().len(), 2);
}

#[test]
fn platforms_follow_go_names() {
    let t = TempDir::new("oci-arch");
    for (deb, arch, variant) in [
        ("armhf", "arm", Some("v7")),
        ("i386", "386", None),
        ("ppc64el", "ppc64le", None),
        ("s390x", "s390x", None),
        ("riscv64", "riscv64", None),
        ("arm64", "arm64", None),
    ] {
        let dir = t.path().join(deb);
        let d = write_layout(&dir, &[], &config(deb)).unwrap();
        let cfg = json(&blob(&dir, &d.config.oci_digest()));
        assert_eq!(cfg["architecture"], arch, "{deb}");
        assert_eq!(cfg["variant"].as_str(), variant, "{deb}");
        let index = json(&dir.join("index.json"));
        assert_eq!(index["manifests"][0]["platform"]["architecture"], arch);
        assert_eq!(
            index["manifests"][0]["platform"]["variant"].as_str(),
            variant
        );
    }
    let err = write_layout(&t.path().join("x"), &[], &config("hurd-i386")).unwrap_err();
    assert!(matches!(err, OciError::UnknownArch { ref arch } if arch == "hurd-i386"));
    assert!(!t.path().join("x").exists());
}

#[test]
fn outputs_are_atomic() {
    let t = TempDir::new("oci-atomic");
    let out = t.path().join("img");
    let first = write_layout(
        &out,
        &[LayerSource::from_reader(std::io::Cursor::new(base_tar()))],
        &config("amd64"),
    )
    .unwrap();

    // A failing layer leaves the existing layout as it was, and no
    // temporary names.
    let before = files(&out);
    let err = write_layout(
        &out,
        &[LayerSource::from_writer(|w| {
            w.write_all(b"partial")?;
            Err("the tree went away".into())
        })],
        &config("amd64"),
    )
    .unwrap_err();
    assert!(
        matches!(err, OciError::LayerWrite { index: 0, .. }),
        "{err:?}"
    );
    assert_eq!(files(&out), before);
    only(t.path(), &["img"]);

    // A reader is read once.
    let once = LayerSource::from_reader(std::io::Cursor::new(base_tar()));
    write_layout(
        &t.path().join("once"),
        std::slice::from_ref(&once),
        &config("amd64"),
    )
    .unwrap();
    let err = write_layout(&t.path().join("twice"), &[once], &config("amd64")).unwrap_err();
    assert!(matches!(err, OciError::ReaderUsed { index: 0 }), "{err:?}");
    std::fs::remove_dir_all(t.path().join("once")).unwrap();

    // A missing layer file.
    let err = write_layout(
        &t.path().join("missing"),
        &[LayerSource::from_path(t.path().join("nope.tar"))],
        &config("amd64"),
    )
    .unwrap_err();
    assert!(
        matches!(err, OciError::LayerRead { index: 0, .. }),
        "{err:?}"
    );
    only(t.path(), &["img"]);

    // An existing layout is replaced whole.
    let child = layer_tar(&[("etc/motd", b"replaced\n")]);
    let second = write_layout(
        &out,
        &[LayerSource::from_reader(std::io::Cursor::new(child))],
        &config("amd64"),
    )
    .unwrap();
    assert_ne!(first.manifest, second.manifest);
    assert!(!blob(&out, &first.layers[0].blob.oci_digest()).exists());
    assert!(blob(&out, &second.layers[0].blob.oci_digest()).exists());
    only(t.path(), &["img"]);

    // Anything else is not.
    let other = t.path().join("home");
    std::fs::create_dir(&other).unwrap();
    std::fs::write(other.join("precious"), b"x").unwrap();
    let err = write_layout(&other, &[], &config("amd64")).unwrap_err();
    assert!(matches!(err, OciError::TargetNotLayout { .. }), "{err:?}");
    assert!(other.join("precious").exists());
    let err = write_archive(&other, &[], &config("amd64")).unwrap_err();
    assert!(matches!(err, OciError::TargetIsDir { .. }), "{err:?}");
    // An empty directory is fine.
    let empty = t.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    write_layout(&empty, &[], &config("amd64")).unwrap();
    assert!(empty.join("oci-layout").exists());
    only(t.path(), &["empty", "home", "img"]);

    // An archive replaces a file, and a failed one leaves it.
    let file = t.path().join("img.oci.tar");
    std::fs::write(&file, b"old").unwrap();
    let err = write_archive(
        &file,
        &[LayerSource::from_writer(|_| Err("no".into()))],
        &config("amd64"),
    )
    .unwrap_err();
    assert!(matches!(err, OciError::LayerWrite { .. }), "{err:?}");
    assert_eq!(std::fs::read(&file).unwrap(), b"old");
    write_archive(&file, &[], &config("amd64")).unwrap();
    assert_ne!(std::fs::read(&file).unwrap(), b"old");
    only(t.path(), &["empty", "home", "img", "img.oci.tar"]);
}

/// `name` on PATH.
fn tool(name: &str) -> Option<PathBuf> {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join(name))
            .find(|p| p.is_file())
    });
    testkit::required(found, name)
}

fn run(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn two_layer_image(dir: &Path, arch: &str) -> ImageDigests {
    write_layout(
        dir,
        &[
            LayerSource::from_reader(std::io::Cursor::new(base_tar())),
            LayerSource::from_reader(std::io::Cursor::new(layer_tar(&[
                ("etc/motd", b"from the child layer\n"),
                ("etc/hostname", b"child\n"),
            ]))),
        ],
        &config(arch),
    )
    .unwrap()
}

#[test]
fn skopeo_inspects_layout_and_archive() {
    let Some(skopeo) = tool("skopeo") else {
        return;
    };
    let t = TempDir::new("oci-skopeo");
    for (deb, arch) in [("amd64", "amd64"), ("armhf", "arm")] {
        let dir = t.path().join(deb);
        let d = two_layer_image(&dir, deb);
        let out = run(Command::new(&skopeo)
            .arg("inspect")
            .arg(format!("oci:{}", dir.display())));
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v["Architecture"], arch, "{out}");
        assert_eq!(v["Os"], "linux", "{out}");
        assert_eq!(v["Digest"], d.manifest.oci_digest(), "{out}");
        assert_eq!(v["Layers"].as_array().unwrap().len(), 2, "{out}");
        assert_eq!(v["Layers"][0], d.layers[0].blob.oci_digest(), "{out}");
        let created = v["Created"].as_str().unwrap();
        assert!(created.starts_with("2023-11-14T22:13:20"), "{out}");
        let out = run(Command::new(&skopeo)
            .args(["inspect", "--config"])
            .arg(format!("oci:{}:latest", dir.display())));
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v["architecture"], arch, "{out}");
    }

    let file = t.path().join("img.oci.tar");
    let d = write_archive(
        &file,
        &[LayerSource::from_reader(std::io::Cursor::new(base_tar()))],
        &config("arm64"),
    )
    .unwrap();
    let out = run(Command::new(&skopeo)
        .arg("inspect")
        .arg(format!("oci-archive:{}", file.display())));
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["Architecture"], "arm64", "{out}");
    assert_eq!(v["Os"], "linux", "{out}");
    assert_eq!(v["Digest"], d.manifest.oci_digest(), "{out}");

    // A real client copies it out, verifying every blob's digest.
    let copy = t.path().join("copy");
    run(Command::new(&skopeo)
        .args(["--insecure-policy", "copy", "--quiet"])
        .arg(format!("oci-archive:{}", file.display()))
        .arg(format!("dir:{}", copy.display())));
    assert!(copy.join(d.layers[0].blob.digest.to_string()).is_file());
}

#[test]
fn umoci_unpacks_the_files() {
    let Some(umoci) = tool("umoci") else {
        return;
    };
    let t = TempDir::new("oci-umoci");
    let dir = t.path().join("image");
    two_layer_image(&dir, "amd64");
    let bundle = t.path().join("bundle");
    run(Command::new(&umoci)
        .args(["unpack", "--rootless", "--image"])
        .arg(format!("{}:latest", dir.display()))
        .arg(&bundle));
    let rootfs = bundle.join("rootfs");
    let read = |p: &str| std::fs::read(rootfs.join(p)).unwrap();
    assert_eq!(read("etc/os-release"), b"PRETTY_NAME=\"test\"\n");
    assert_eq!(read("etc/hostname"), b"child\n");
    assert_eq!(read("etc/motd"), b"from the child layer\n");
    assert_eq!(read("usr/bin/hello"), b"#!/bin/sh\necho hello\n");
    assert_eq!(
        std::fs::read_link(rootfs.join("usr/lib/os-release")).unwrap(),
        Path::new("../../etc/os-release")
    );
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(rootfs.join("usr/bin/hello"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o755);
    // The runtime config umoci derives from the image config.
    let rt = json(&bundle.join("config.json"));
    let env = rt["process"]["env"].as_array().unwrap();
    assert!(env.iter().any(|e| e.as_str().unwrap().starts_with("PATH=")));
}

#[test]
fn podman_loads_the_archive() {
    let Some(podman) = tool("podman") else {
        return;
    };
    let t = TempDir::new("oci-podman");
    let file = t.path().join("img.oci.tar");
    let d = write_archive(
        &file,
        &[LayerSource::from_reader(std::io::Cursor::new(base_tar()))],
        &config("amd64"),
    )
    .unwrap();
    // A storage of its own, removed with the directory.
    let podman = |args: &[&str]| {
        run(Command::new(&podman)
            .arg("--root")
            .arg(t.path().join("root"))
            .arg("--runroot")
            .arg(t.path().join("run"))
            .args(["--storage-driver", "vfs", "--cgroup-manager", "cgroupfs"])
            .args(args))
    };
    let out = podman(&["load", "--quiet", "--input", file.to_str().unwrap()]);
    assert!(out.contains("Loaded image"), "{out}");
    let out = podman(&["image", "inspect", &d.config.digest.to_string()]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v[0]["Architecture"], "amd64", "{out}");
    assert_eq!(v[0]["Os"], "linux", "{out}");
    assert_eq!(v[0]["Labels"]["a"], "1", "{out}");
    assert_eq!(
        v[0]["RootFS"]["Layers"][0],
        format!("sha256:{}", d.layers[0].diff_id),
        "{out}"
    );
    podman(&["image", "rm", "--all", "--force"]);
}

/// Every path of a tree with its type, permission bits, content (or link
/// target) and hard-link count, as compared after unpacking.
fn walk(root: &Path) -> BTreeMap<String, String> {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let mut out = BTreeMap::new();
    let mut todo = vec![root.to_owned()];
    while let Some(dir) = todo.pop() {
        for e in std::fs::read_dir(&dir).unwrap() {
            let p = e.unwrap().path();
            let rel = p.strip_prefix(root).unwrap().display().to_string();
            if rel == "dev" || rel.starts_with("dev/") {
                continue;
            }
            let m = std::fs::symlink_metadata(&p).unwrap();
            let what = if m.is_dir() {
                todo.push(p.clone());
                "dir".to_owned()
            } else if m.file_type().is_symlink() {
                format!("link {}", std::fs::read_link(&p).unwrap().display())
            } else {
                format!(
                    "file {} nlink {}",
                    sha256_hex(&std::fs::read(&p).unwrap()),
                    m.nlink()
                )
            };
            out.insert(rel, format!("{what} {:o}", m.permissions().mode() & 0o7777));
        }
    }
    out
}

/// A layered image of two trees (`debrepo::output::layers`), unpacked by
/// umoci, is the upper tree: changed, added and removed files, a removed
/// directory, a directory replaced by a file and the reverse, long names
/// (PAX) for an added file and a whiteout, a changed hard-linked file.
#[test]
fn layered_trees_unpack_to_the_upper_tree() {
    use debrepo::output::layers::{write_image, LayerTree};
    use debrepo::output::{Format, ImageInfo, OutputOptions};
    let Some(umoci) = tool("umoci") else {
        return;
    };
    let t = TempDir::new("oci-layered");
    let (lower, upper) = (t.path().join("lower"), t.path().join("upper"));
    let put = |root: &Path, rel: &str, data: &str| {
        let p = root.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, data).unwrap();
    };
    let long_dir = format!("usr/share/{}", "long-directory-name-".repeat(5));
    for root in [&lower, &upper] {
        put(root, "etc/same", "same\n");
        put(root, "etc/changed", "before\n");
        put(root, "etc/removed", "x\n");
        put(root, "var/gone/a/b", "x\n");
        put(root, "opt/was-dir/inner", "x\n");
        put(root, "opt/was-file", "x\n");
        put(root, "usr/bin/tool", "v1\n");
        std::fs::hard_link(root.join("usr/bin/tool"), root.join("usr/bin/tool2")).unwrap();
        put(root, &format!("{long_dir}/removed-with-a-long-name"), "x\n");
        std::os::unix::fs::symlink("same", root.join("etc/link")).unwrap();
    }
    put(&upper, "etc/changed", "after\n");
    std::fs::remove_file(upper.join("etc/removed")).unwrap();
    std::fs::remove_dir_all(upper.join("var/gone")).unwrap();
    std::fs::remove_dir_all(upper.join("opt/was-dir")).unwrap();
    put(&upper, "opt/was-dir", "a file now\n");
    std::fs::remove_file(upper.join("opt/was-file")).unwrap();
    put(&upper, "opt/was-file/inside", "a directory now\n");
    std::fs::remove_file(upper.join("usr/bin/tool2")).unwrap();
    put(&upper, "usr/bin/tool", "v2\n");
    std::fs::hard_link(upper.join("usr/bin/tool"), upper.join("usr/bin/tool2")).unwrap();
    std::fs::remove_file(upper.join(format!("{long_dir}/removed-with-a-long-name"))).unwrap();
    put(
        &upper,
        &format!("{long_dir}/added-with-a-long-name"),
        "new\n",
    );
    std::fs::remove_file(upper.join("etc/link")).unwrap();
    std::os::unix::fs::symlink("changed", upper.join("etc/link")).unwrap();

    let tree = |root: &Path, spec: &str| LayerTree {
        spec: spec.into(),
        root: root.to_owned(),
        users: debrepo::sandbox::Users::Host,
        source_date_epoch: EPOCH as u64,
    };
    let image = t.path().join("image.oci");
    let report = write_image(
        &[tree(&lower, "base"), tree(&upper, "child")],
        &OutputOptions {
            path: image.clone(),
            format: Format::Oci,
            source_date_epoch: None,
        },
        &ImageInfo {
            arch: "amd64".into(),
            lock_hash: None,
            spec_hash: None,
            referrers: Vec::new(),
        },
    )
    .unwrap();
    assert_eq!(report.format, Format::Oci);
    // Nothing but the image is left beside it.
    only(t.path(), &["image.oci", "lower", "upper"]);
    let bundle = t.path().join("bundle");
    run(Command::new(&umoci)
        .args(["unpack", "--rootless", "--image"])
        .arg(format!("{}:latest", image.display()))
        .arg(&bundle));
    let (want, got) = (walk(&upper), walk(&bundle.join("rootfs")));
    let differ: Vec<_> = want
        .keys()
        .chain(got.keys())
        .filter(|k| want.get(*k) != got.get(*k))
        .map(|k| format!("{k}: tree {:?}, unpacked {:?}", want.get(k), got.get(k)))
        .collect();
    assert!(differ.is_empty(), "{}", differ.join("\n"));
    // The child's layer holds only what changed: two whiteouts at the top
    // of what was removed, none below them.
    let index = json(&image.join("index.json"));
    let manifest = json(&blob(
        &image,
        index["manifests"][0]["digest"].as_str().unwrap(),
    ));
    let layer = blob(&image, manifest["layers"][1]["digest"].as_str().unwrap());
    let mut tar_bytes = Vec::new();
    flate2::read::GzDecoder::new(std::fs::File::open(layer).unwrap())
        .read_to_end(&mut tar_bytes)
        .unwrap();
    let mut names: Vec<String> = tar::Archive::new(&tar_bytes[..])
        .entries()
        .unwrap()
        .map(|e| e.unwrap().path().unwrap().display().to_string())
        .filter(|n| n.contains(".wh."))
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "./etc/.wh.removed".to_owned(),
            format!("./{long_dir}/.wh.removed-with-a-long-name"),
            "./var/.wh.gone".to_owned(),
        ]
    );
}
