//! `build --layers spec`, end to end on real Debian data (opt-in:
//! RDEBOOTSTRAP_E2E=1, as root, with skopeo and umoci; `.ci/run` sets it
//! up): trixie from the loopback partial mirror of `outputs.rs`, with
//! three specs, `base` (minbase) and `hello` and `curl`, each extending
//! `base` with one package.
//!
//! - `base`'s own image has one layer; `hello`'s and `curl`'s layered
//!   images (an `oci` layout and an `oci-archive`) have two, the first of
//!   which is `base`'s layer, digest for digest; the second holds the
//!   spec's package and not what `base` already has. The configs list one
//!   diff id (the uncompressed layer's SHA-256) and one history entry per
//!   layer.
//! - Two layered builds of one spec, run at the same time, give the same
//!   manifest digest.
//! - skopeo reads both kinds; `umoci unpack` of the layered `hello` gives
//!   the directory build of `hello` (paths, types, modes, owners, link
//!   counts, file contents, link targets; `/dev` and times aside, see
//!   [`compare_with_tree`]), and exactly what it gives for `hello`'s flat
//!   image, times included.
//! - `--layers spec` is refused for a tar output and for a spec with two
//!   parents, before anything is built.
//! - Podman, where it can run a container (required under CI), runs
//!   `curl --version` from the layered `curl` archive.

use crate::common;

use crate::common::{test_mirror, works};
use std::collections::BTreeMap;
use std::io::Read;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// Opted in, with what the tests need: else skipped (a failure under CI
/// or RDEBOOTSTRAP_E2E, which promise them).
fn enabled(what: &str) -> bool {
    common::e2e(what)
        && testkit::require(common::is_root(), "root (building trees as root)")
        && testkit::require(works("skopeo", "--version"), "skopeo")
        && testkit::require(works("umoci", "--version"), "umoci")
}

fn run(dir: &Path, program: impl AsRef<std::ffi::OsStr>, args: &[&str]) -> std::process::Output {
    let program = program.as_ref();
    let o = Command::new(program)
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| panic!("{}: {e}", program.to_string_lossy()));
    assert!(
        o.status.success(),
        "{} {args:?}: {}",
        program.to_string_lossy(),
        String::from_utf8_lossy(&o.stderr)
    );
    o
}

fn rdeb(dir: &Path, args: &[&str]) -> std::process::Output {
    run(dir, common::exe(), args)
}

/// The specs: a minbase and two that add one package each to it.
const SPECS: &str = r#"
[spec.base]
variant = "minbase"

[spec.hello]
extends = "base"
include = ["hello"]

[spec.curl]
extends = "base"
include = ["curl"]
"#;

/// A work directory with a fresh lock of trixie with [`SPECS`], and a
/// cache.
fn locked_trixie(tag: &str) -> (testkit::TempDir, String) {
    let work = testkit::TempDir::new(tag);
    let d = work.path();
    std::fs::set_permissions(d, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    rdeb(
        d,
        &[
            "init",
            "--url",
            &test_mirror(),
            "--suite",
            "trixie",
            "--components",
            "main",
            "--signed-by",
            "/usr/share/keyrings/debian-archive-keyring.gpg",
        ],
    );
    let manifest = d.join("Manifest.toml");
    let text = std::fs::read_to_string(&manifest).unwrap() + SPECS;
    std::fs::write(&manifest, text).unwrap();
    let cache = d.join("cache").display().to_string();
    rdeb(
        d,
        &["update", "-q", "--arch", "amd64", "--cache-dir", &cache],
    );
    (work, cache)
}

fn sha256(data: &[u8]) -> String {
    use sha2::Digest as _;
    format!("{:x}", sha2::Sha256::digest(data))
}

fn json(p: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(p).unwrap())
        .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// One layer of an image: its blob's digest and size, and its
/// uncompressed tar.
struct Layer {
    digest: String,
    size: u64,
    tar: Vec<u8>,
}

/// What an OCI layout holds, read through its index.
struct Image {
    manifest_digest: String,
    ref_name: String,
    layers: Vec<Layer>,
}

/// Read the layout `dir` and check what holds for any of our images: one
/// manifest, the blobs' digests, as many diff ids (each the uncompressed
/// layer's SHA-256) and history entries as layers.
fn read_image(dir: &Path) -> Image {
    let blob = |digest: &str| -> Vec<u8> {
        let hex = digest.strip_prefix("sha256:").expect("a sha256 digest");
        let data = std::fs::read(dir.join("blobs/sha256").join(hex)).unwrap();
        assert_eq!(sha256(&data), hex, "{}: blob {digest}", dir.display());
        data
    };
    let index = json(&dir.join("index.json"));
    let manifests = index["manifests"].as_array().unwrap();
    assert_eq!(manifests.len(), 1, "{}: {index}", dir.display());
    let manifest_digest = manifests[0]["digest"].as_str().unwrap().to_owned();
    let ref_name = manifests[0]["annotations"]["org.opencontainers.image.ref.name"]
        .as_str()
        .expect("a ref name in index.json")
        .to_owned();
    let manifest: serde_json::Value = serde_json::from_slice(&blob(&manifest_digest)).unwrap();
    let config: serde_json::Value =
        serde_json::from_slice(&blob(manifest["config"]["digest"].as_str().unwrap())).unwrap();
    let mut layers = Vec::new();
    for l in manifest["layers"].as_array().unwrap() {
        assert_eq!(
            l["mediaType"],
            "application/vnd.oci.image.layer.v1.tar+gzip",
            "{}",
            dir.display()
        );
        let digest = l["digest"].as_str().unwrap().to_owned();
        let data = blob(&digest);
        assert_eq!(l["size"].as_u64(), Some(data.len() as u64));
        let mut tar = Vec::new();
        debrepo::compression::Compression::Gzip
            .decoder(data.as_slice())
            .unwrap()
            .read_to_end(&mut tar)
            .unwrap();
        layers.push(Layer {
            digest,
            size: data.len() as u64,
            tar,
        });
    }
    let diff_ids: Vec<String> = config["rootfs"]["diff_ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d.as_str().unwrap().to_owned())
        .collect();
    let expected: Vec<String> = layers
        .iter()
        .map(|l| format!("sha256:{}", sha256(&l.tar)))
        .collect();
    assert_eq!(diff_ids, expected, "{}: diff ids", dir.display());
    let history = config["history"].as_array().unwrap();
    assert_eq!(
        history.len(),
        layers.len(),
        "{}: history {history:?}",
        dir.display()
    );
    assert!(
        history.iter().all(|h| h.get("empty_layer").is_none()),
        "{history:?}"
    );
    assert_eq!(config["architecture"], "amd64");
    Image {
        manifest_digest,
        ref_name,
        layers,
    }
}

/// A layer's entry names (without `./` and a trailing slash).
fn names(tar: &[u8]) -> Vec<String> {
    let mut a = tar::Archive::new(tar);
    a.entries()
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            let p = String::from_utf8(e.path_bytes().to_vec()).unwrap();
            p.trim_start_matches("./").trim_end_matches('/').to_owned()
        })
        .collect()
}

/// One path of a tree as compared: everything but the time, and the time.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Node {
    /// Type (and link count, device number, contents' hash or link
    /// target), mode, owner.
    what: String,
    /// Modification time (seconds, nanoseconds).
    mtime: (i64, i64),
}

/// Every path under `root` (relative, `""` for the root itself).
fn walk(root: &Path) -> BTreeMap<String, Node> {
    let mut out = BTreeMap::new();
    let mut stack = vec![root.to_owned()];
    while let Some(p) = stack.pop() {
        let m = std::fs::symlink_metadata(&p).unwrap();
        let t = m.file_type();
        let kind = if t.is_dir() {
            for e in std::fs::read_dir(&p).unwrap() {
                stack.push(e.unwrap().path());
            }
            "d".to_owned()
        } else if t.is_symlink() {
            format!("l -> {}", std::fs::read_link(&p).unwrap().display())
        } else if t.is_file() {
            format!(
                "f {} links {}",
                sha256(&std::fs::read(&p).unwrap()),
                m.nlink()
            )
        } else if t.is_char_device() || t.is_block_device() {
            let c = if t.is_char_device() { 'c' } else { 'b' };
            let r = m.rdev();
            format!("{c} {},{}", rustix::fs::major(r), rustix::fs::minor(r))
        } else if t.is_fifo() {
            "p".to_owned()
        } else {
            "s".to_owned()
        };
        let rel = p.strip_prefix(root).unwrap().display().to_string();
        out.insert(
            rel,
            Node {
                what: format!("{kind} {:04o} {}:{}", m.mode() & 0o7777, m.uid(), m.gid()),
                mtime: (m.mtime(), m.mtime_nsec()),
            },
        );
    }
    out
}

/// Paths of the directory build that an image leaves out: the rootless
/// build's ownership file and the incomplete marker (under
/// `var/lib/rdebootstrap`, if a build leaves it).
fn not_in_images(p: &str) -> bool {
    p == "var/lib/rdebootstrap" || p.starts_with("var/lib/rdebootstrap/")
}

/// The unpacked image `unpacked` against the directory build `tree`, apart
/// from times (the tar clamps them to `SOURCE_DATE_EPOCH`) and `/dev`: the
/// tar output writes mmdebstrap's `/dev` (its device nodes and links),
/// whatever the tree holds there, and `umoci unpack` makes of device nodes
/// what it can; so below `/dev` only names and types are compared, and
/// only those the tree has must be in the image. Returns the differences.
fn compare_with_tree(
    tree: &BTreeMap<String, Node>,
    unpacked: &BTreeMap<String, Node>,
) -> Vec<String> {
    let dev = |p: &str| p.starts_with("dev/");
    let mut differ = Vec::new();
    for (p, t) in tree {
        if not_in_images(p) {
            continue;
        }
        match unpacked.get(p) {
            None => differ.push(format!("{p}: only the tree's ({})", t.what)),
            Some(u) if dev(p) => {
                if u.what[..1] != t.what[..1] {
                    differ.push(format!("{p}: tree {}, image {}", t.what, u.what));
                }
            }
            Some(u) if u.what != t.what => {
                differ.push(format!("{p}: tree {}, image {}", t.what, u.what))
            }
            Some(_) => {}
        }
    }
    for (p, u) in unpacked {
        if !tree.contains_key(p) && !dev(p) {
            differ.push(format!("{p}: only the image's ({})", u.what));
        }
    }
    differ
}

/// `umoci unpack` of `image` (a layout) into `bundle`; its `rootfs`.
fn umoci_unpack(d: &Path, image: &Image, layout: &str, bundle: &str) -> PathBuf {
    let at = std::time::Instant::now();
    run(
        d,
        "umoci",
        &[
            "unpack",
            "--image",
            &format!("{layout}:{}", image.ref_name),
            bundle,
        ],
    );
    eprintln!("umoci unpack {layout}: {:.1?}", at.elapsed());
    d.join(bundle).join("rootfs")
}

#[test]
fn layered_images_share_the_base_layer_and_unpack_to_the_tree() {
    if !enabled("layered OCI images of trixie specs") {
        return;
    }
    let (work, cache) = locked_trixie("e2e-layers");
    let d = work.path();
    let build = |args: &[&str]| -> Duration {
        let mut all = vec!["build", "-q", "--arch", "amd64", "--cache-dir", &cache];
        all.extend(args);
        let at = std::time::Instant::now();
        rdeb(d, &all);
        let took = at.elapsed();
        eprintln!("build {args:?}: {took:.1?}");
        took
    };

    // Every build of the test at once, sharing one .deb cache (a build
    // mostly waits on one maintainer script at a time):
    // 1. the base's own image, and two children layered on it;
    // 2. a second layered build of hello;
    // 4. hello's flat image.
    let builds: &[&[&str]] = &[
        &["-s", "base", "-o", "base.oci"],
        &[
            "-s",
            "hello",
            "-o",
            "hello.oci",
            "--layers",
            "spec",
            "-p",
            "hello-tree",
        ],
        &["-s", "curl", "-o", "curl.oci.tar", "--layers", "spec"],
        &["-s", "hello", "-o", "again.oci", "--layers", "spec"],
        &["-s", "hello", "-o", "flat.oci"],
    ];
    common::at_once(builds, |args| build(args));
    // Nothing is left beside the outputs: no parent trees, no streams.
    let left: Vec<String> = std::fs::read_dir(d)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('.'))
        .collect();
    assert!(left.is_empty(), "left beside the outputs: {left:?}");
    let curl_layout = d.join("curl-layout");
    std::fs::create_dir(&curl_layout).unwrap();
    tar::Archive::new(std::fs::File::open(d.join("curl.oci.tar")).unwrap())
        .unpack(&curl_layout)
        .unwrap();

    let base = read_image(&d.join("base.oci"));
    let hello = read_image(&d.join("hello.oci"));
    let curl = read_image(&curl_layout);
    assert_eq!(base.layers.len(), 1, "base: one layer");
    let base_entries = names(&base.layers[0].tar);
    eprintln!(
        "base: layer {} ({} bytes gzip, {} bytes tar, {} entries)",
        base.layers[0].digest,
        base.layers[0].size,
        base.layers[0].tar.len(),
        base_entries.len()
    );
    for (spec, image, program) in [
        ("hello", &hello, "usr/bin/hello"),
        ("curl", &curl, "usr/bin/curl"),
    ] {
        assert_eq!(image.layers.len(), 2, "{spec}: two layers");
        assert_eq!(
            image.layers[0].digest, base.layers[0].digest,
            "{spec}: the first layer is base's"
        );
        let top = &image.layers[1];
        let entries = names(&top.tar);
        let whiteouts = entries
            .iter()
            .filter(|p| p.rsplit('/').next().unwrap().starts_with(".wh."))
            .count();
        eprintln!(
            "{spec}: layer 2 {} ({} bytes gzip, {} bytes tar, {} entries of which {whiteouts} whiteouts)",
            top.digest,
            top.size,
            top.tar.len(),
            entries.len()
        );
        // The spec's package is in its layer; what base has and the
        // package leaves alone is not.
        assert!(entries.iter().any(|p| p == program), "{spec}: no {program}");
        assert!(
            !entries.iter().any(|p| p == "usr/bin/dpkg"),
            "{spec}: its layer repeats base's usr/bin/dpkg"
        );
        assert!(
            entries.len() * 4 < base_entries.len(),
            "{spec}: {} entries in its layer, {} in base's",
            entries.len(),
            base_entries.len()
        );
    }

    // 2. Reproducible: a second layered build of hello, the same manifest.
    let again = read_image(&d.join("again.oci"));
    assert_eq!(
        again.manifest_digest, hello.manifest_digest,
        "two layered builds of hello"
    );
    eprintln!("hello: manifest {} twice", hello.manifest_digest);

    // 3. skopeo reads the layout and the archive.
    let o = run(
        d,
        "skopeo",
        &["inspect", &format!("oci:hello.oci:{}", hello.ref_name)],
    );
    let inspected: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let layers: Vec<&str> = inspected["Layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l.as_str().unwrap())
        .collect();
    let ours: Vec<&str> = hello.layers.iter().map(|l| l.digest.as_str()).collect();
    assert_eq!(layers, ours, "skopeo inspect's layers");
    run(
        d,
        "skopeo",
        &["copy", "oci-archive:curl.oci.tar", "dir:curl-dir"],
    );
    for l in &curl.layers {
        let hex = l.digest.trim_start_matches("sha256:");
        assert!(
            d.join("curl-dir").join(hex).is_file(),
            "skopeo copy: no {hex}"
        );
    }

    // 4. umoci applies the layers: the directory build of hello, and what
    // hello's flat image gives, times and all.
    let layered_root = umoci_unpack(d, &hello, "hello.oci", "hello-bundle");
    let tree = walk(&d.join("hello-tree"));
    let layered = walk(&layered_root);
    let differ = compare_with_tree(&tree, &layered);
    assert!(
        differ.is_empty(),
        "{} differences of the unpacked layers from the tree:\n{}",
        differ.len(),
        differ.join("\n")
    );
    let in_dev = |t: &BTreeMap<String, Node>| t.keys().filter(|p| p.starts_with("dev/")).count();
    eprintln!(
        "hello: the layers unpack to the tree ({} paths; under /dev the tree has {}, the image {})",
        layered.len(),
        in_dev(&tree),
        in_dev(&layered)
    );
    let flat = read_image(&d.join("flat.oci"));
    assert_eq!(flat.layers.len(), 1, "flat: one layer");
    let flat_root = umoci_unpack(d, &flat, "flat.oci", "flat-bundle");
    let flat = walk(&flat_root);
    let mut differ = Vec::new();
    for (p, f) in &flat {
        match layered.get(p) {
            Some(l) if l == f => {}
            l => differ.push(format!("{p}: flat {f:?}, layered {l:?}")),
        }
    }
    for p in layered.keys() {
        if !flat.contains_key(p) {
            differ.push(format!("{p}: only the layered image's"));
        }
    }
    assert!(
        differ.is_empty(),
        "{} differences of the layered image from the flat one, unpacked:\n{}",
        differ.len(),
        differ.join("\n")
    );
    eprintln!(
        "hello: layered and flat images unpack alike, times included ({} paths)",
        flat.len()
    );

    // 5. Refused before anything is built: a tar output, and a spec with
    // two parents.
    let refused = |dir: &Path, args: &[&str], says: &[&str]| {
        let o = Command::new(common::exe())
            .args(["build", "-q", "--arch", "amd64", "--cache-dir", &cache])
            .args(args)
            .current_dir(dir)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(!o.status.success(), "{args:?} was not refused: {err}");
        for s in says {
            assert!(err.contains(s), "{args:?}: no {s:?} in {err}");
        }
        assert!(!err.contains("building spec"), "{args:?}: {err}");
    };
    refused(
        d,
        &["-s", "hello", "-o", "x.tar", "--layers", "spec"],
        &["--layers spec", "oci", "(not tar)"],
    );
    assert!(!d.join("x.tar").exists());
    let both = d.join("both");
    std::fs::create_dir(&both).unwrap();
    for f in ["Manifest.toml", "Manifest.amd64.lock"] {
        std::fs::copy(d.join(f), both.join(f)).unwrap();
    }
    let manifest = both.join("Manifest.toml");
    let text = std::fs::read_to_string(&manifest).unwrap()
        + "\n[spec.both]\nextends = [\"hello\", \"curl\"]\n";
    std::fs::write(&manifest, text).unwrap();
    rdeb(
        &both,
        &["update", "-q", "--arch", "amd64", "--cache-dir", &cache],
    );
    refused(
        &both,
        &["-s", "both", "-o", "both.oci", "--layers", "spec"],
        &["single line of specs", "chain of spec 'both'"],
    );
    let left: Vec<String> = std::fs::read_dir(&both)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('.') || n.starts_with("both"))
        .collect();
    assert!(left.is_empty(), "left by a refused build: {left:?}");

    // 6. A real client runs the layered image: podman, in storage of its
    // own, with a containers.conf where it cannot start a container as it
    // comes (see `podman_executor_builds_the_sandboxs_tree` in
    // `mmdebstrap.rs`).
    let conf = d.join("containers.conf");
    std::fs::write(
        &conf,
        "[containers]\ndefault_ulimits = [\"nofile=1024:1024\", \"nproc=1000:1000\"]\n\n[engine]\nruntime = \"runc\"\n",
    )
    .unwrap();
    let storage = d.join("podman");
    // Podman refuses a run root longer than 50 characters.
    let runroot = testkit::TempDir::new("pr");
    let podman = |conf: Option<&Path>, args: &[&str]| {
        let mut c = Command::new("podman");
        c.arg("--root")
            .arg(storage.join("root"))
            .arg("--runroot")
            .arg(runroot.path())
            .args(["--storage-driver", "vfs"])
            .args(args)
            .current_dir(d);
        if let Some(conf) = conf {
            c.env("CONTAINERS_CONF", conf);
        }
        c.output()
    };
    let curl_version = |conf: Option<&Path>| {
        podman(
            conf,
            &[
                "run",
                "--rm",
                "--network",
                "none",
                "oci-archive:curl.oci.tar",
                "curl",
                "--version",
            ],
        )
    };
    let at = std::time::Instant::now();
    let mut o = curl_version(None);
    let mut with = "as it comes";
    if !o.as_ref().is_ok_and(|o| o.status.success()) {
        o = curl_version(Some(&conf));
        with = "with the test's containers.conf";
    }
    let ran = o.as_ref().is_ok_and(|o| o.status.success());
    if let Ok(o) = &o {
        if !ran {
            eprintln!("podman: {}", String::from_utf8_lossy(&o.stderr));
        }
    }
    if testkit::require(
        ran,
        "podman that can run a container (apt-get install podman runc)",
    ) {
        let out = String::from_utf8_lossy(&o.as_ref().unwrap().stdout).into_owned();
        assert!(out.starts_with("curl "), "curl --version: {out}");
        eprintln!(
            "podman ({with}) run curl.oci.tar curl --version ({:.1?}): {}",
            at.elapsed(),
            out.lines().next().unwrap_or("")
        );
    }
}
