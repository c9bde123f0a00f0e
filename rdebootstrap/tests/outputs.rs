//! `build -o/--output`, end to end on real Debian data (opt-in:
//! RDEBOOTSTRAP_E2E=1, as root; `.ci/run` sets it): trixie minbase from a
//! loopback partial mirror (as in `mmdebstrap.rs`: the workplace's
//! `partial-mirror.py`, else the host's Debian mirror directly).
//!
//! - Two builds of one lock, run at the same time, give the same tar
//!   bytes; the compressed formats decompress to them.
//! - `mmdebstrap --variant=minbase --format=tar` of the same set with the
//!   same `SOURCE_DATE_EPOCH` lists the same paths, types, modes, owners,
//!   link targets and devices, apart from [`ONLY_MMDEBSTRAP`] and
//!   [`MMDEBSTRAP_DIFFERS`] (apt's leftovers: mmdebstrap runs apt inside).
//!   What else differs and is not compared:
//!   - the order: mmdebstrap writes its `/dev` entries first, then the rest
//!     sorted (`./` after `./dev/zero`); ours are all in one sorted walk;
//!   - user and group names: mmdebstrap's tar is `--numeric-owner` (no
//!     names), ours names ids from the tree's `/etc/passwd` and `/etc/group`;
//!   - directory times: mmdebstrap extracts the Essential packages with
//!     `tar`, which gives a directory the package's time after filling it;
//!     our directories that later entries land in have the build's time,
//!     so `SOURCE_DATE_EPOCH` (printed as a count, with the newest files
//!     never past the epoch in either);
//!   - contents (not compared; the tree comparison in `mmdebstrap.rs` lists
//!     the files that differ).
//! - Built rootless (with and without subordinate ids), the tar is the root
//!   build's, byte for byte (the entries are compared first, to name what
//!   differs).

use crate::common;

use crate::common::{rdeb, test_mirror};
use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;
use std::process::Command;

/// Opted in, with what the tests need: else skipped (a failure under CI
/// or RDEBOOTSTRAP_E2E, which promise them).
fn enabled(what: &str) -> bool {
    common::e2e(what)
        && testkit::require(common::is_root(), "root (building trees as root)")
        && testkit::require(common::works("mmdebstrap", "--version"), "mmdebstrap")
}

/// A work directory with a fresh lock of trixie minbase, and a cache.
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
    let cache = d.join("cache").display().to_string();
    rdeb(
        d,
        &["update", "-q", "--arch", "amd64", "--cache-dir", &cache],
    );
    (work, cache)
}

fn sha256(path: &Path) -> String {
    use sha2::Digest as _;
    let mut h = sha2::Sha256::new();
    std::io::copy(&mut std::fs::File::open(path).unwrap(), &mut h).unwrap();
    format!("{:x}", h.finalize())
}

/// Paths only mmdebstrap's tar has: what apt leaves when it runs inside,
/// the sources.list mmdebstrap writes, and the host's hostname and
/// resolv.conf, which mmdebstrap copies in and our outputs leave out (they
/// would make the bytes depend on the machine).
const ONLY_MMDEBSTRAP: &[&str] = &[
    "etc/apt/sources.list",
    "etc/hostname",
    "etc/resolv.conf",
    "run/lock",
    "var/cache/apt/archives/lock",
    "var/lib/apt/lists/lock",
];

/// Paths whose type, mode or owner differ: apt makes its `partial`
/// directories `_apt`'s, 0700, when it runs.
const MMDEBSTRAP_DIFFERS: &[&str] = &[
    "var/cache/apt/archives/partial",
    "var/lib/apt/lists/partial",
];

/// One entry of a tar as compared.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Listed {
    /// Type, mode, uid, gid, link target, device.
    what: String,
    mtime: u64,
    data: Vec<u8>,
    xattrs: BTreeMap<String, Vec<u8>>,
}

/// Path (without `./` and a trailing slash) to entry, in stream order.
fn list(tar: &[u8]) -> Vec<(String, Listed)> {
    let mut a = tar::Archive::new(tar);
    let mut out = Vec::new();
    for e in a.entries().unwrap() {
        let mut e = e.unwrap();
        let xattrs = e
            .pax_extensions()
            .unwrap()
            .into_iter()
            .flatten()
            .filter_map(|x| {
                let x = x.unwrap();
                let k = x.key().unwrap().strip_prefix("SCHILY.xattr.")?.to_owned();
                Some((k, x.value_bytes().to_vec()))
            })
            .collect();
        let h = e.header().clone();
        let path = String::from_utf8(e.path_bytes().to_vec()).unwrap();
        let path = path.trim_start_matches("./").trim_end_matches('/');
        let path = if path.is_empty() { "." } else { path }.to_owned();
        let kind = h.entry_type().as_byte() as char;
        let device = match kind {
            '3' | '4' => format!(
                " {},{}",
                h.device_major().unwrap().unwrap(),
                h.device_minor().unwrap().unwrap()
            ),
            _ => String::new(),
        };
        let link = e
            .link_name_bytes()
            .map(|l| format!(" -> {}", String::from_utf8_lossy(&l)))
            .unwrap_or_default();
        let mut data = Vec::new();
        e.read_to_end(&mut data).unwrap();
        out.push((
            path,
            Listed {
                what: format!(
                    "{kind} {:04o} {}:{}{link}{device}",
                    h.mode().unwrap(),
                    h.uid().unwrap(),
                    h.gid().unwrap()
                ),
                mtime: h.mtime().unwrap(),
                data,
                xattrs,
            },
        ));
    }
    out
}

fn decompress(path: &Path) -> Vec<u8> {
    let name = path.to_str().unwrap();
    let mut out = Vec::new();
    debrepo::compression::Compression::from_path(name)
        .decoder(std::fs::File::open(path).unwrap())
        .unwrap()
        .read_to_end(&mut out)
        .unwrap();
    out
}

#[test]
fn two_builds_give_one_tar_and_it_lists_as_mmdebstraps() {
    if !enabled("tar outputs of trixie minbase") {
        return;
    }
    let (work, cache) = locked_trixie("e2e-outputs");
    let d = work.path();
    let build = |args: &[&str]| {
        let mut all = vec!["build", "-q", "--arch", "amd64", "--cache-dir", &cache];
        all.extend(args);
        let at = std::time::Instant::now();
        rdeb(d, &all);
        at.elapsed()
    };
    // Every build at once, sharing one .deb cache (a build mostly waits on
    // one maintainer script at a time); the same bytes all the same.
    let builds: &[&[&str]] = &[
        &["-p", "tree", "-o", "one.tar"],
        &["-o", "two.tar"],
        &["-o", "root.tar.gz"],
        &["-o", "root.zst", "--format", "tar.zst"],
        &["-o", "image.oci"],
        &["-o", "image.oci.tar"],
        &["-o", "again.oci.tar"],
    ];
    let took = common::at_once(builds, |args| build(args));
    // With -p the tree stays; with -o alone nothing is left but the file.
    let names: Vec<String> = std::fs::read_dir(d)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('.'))
        .collect();
    assert!(names.is_empty(), "left beside the output: {names:?}");
    let (one, two) = (d.join("one.tar"), d.join("two.tar"));
    assert_eq!(sha256(&one), sha256(&two), "two builds, two tars");
    let ours = std::fs::read(&one).unwrap();
    eprintln!(
        "tar: {} bytes, sha256 {}, build with it {:.1?}",
        ours.len(),
        sha256(&one),
        took[0]
    );
    // The compressed formats: the same tar inside, named by extension or
    // by --format.
    for (file, took) in [("root.tar.gz", took[2]), ("root.zst", took[3])] {
        let path = d.join(file);
        assert_eq!(decompress(&path), ours, "{file}");
        eprintln!(
            "{file}: {} bytes, build with it {took:.1?}",
            std::fs::metadata(&path).unwrap().len()
        );
    }
    // OCI images: one layer, whose uncompressed bytes are the tar's; the
    // layout and the archive of two builds are the same bytes, and skopeo
    // reads both.
    assert_eq!(
        sha256(&d.join("image.oci.tar")),
        sha256(&d.join("again.oci.tar")),
        "two builds, two oci-archives"
    );
    let json = |p: &Path| -> serde_json::Value {
        serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap()
    };
    let blob = |digest: &str| {
        d.join("image.oci/blobs/sha256")
            .join(digest.trim_start_matches("sha256:"))
    };
    let index = json(&d.join("image.oci/index.json"));
    let manifest = json(&blob(index["manifests"][0]["digest"].as_str().unwrap()));
    let config = json(&blob(manifest["config"]["digest"].as_str().unwrap()));
    assert_eq!(
        config["rootfs"]["diff_ids"][0].as_str().unwrap(),
        format!("sha256:{}", sha256(&one)),
        "the image's layer is the tar output"
    );
    assert_eq!(config["architecture"], "amd64");
    for reference in [
        format!("oci:{}", d.join("image.oci").display()),
        format!("oci-archive:{}", d.join("image.oci.tar").display()),
    ] {
        let o = Command::new("skopeo")
            .args(["inspect", &reference])
            .output()
            .expect("skopeo (apt-get install skopeo)");
        let out = String::from_utf8_lossy(&o.stdout);
        assert!(
            o.status.success(),
            "{reference}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        assert!(out.contains("\"Architecture\": \"amd64\""), "{out}");
    }

    // A build that fails leaves no output and nothing beside it.
    let manifest = d.join("Manifest.toml");
    let mut text = std::fs::read_to_string(&manifest).unwrap();
    text += "\n[spec.broken]\nbuild-script = \"echo about to fail >&2; exit 3\"\n";
    std::fs::write(&manifest, text).unwrap();
    rdeb(
        d,
        &["update", "-q", "--arch", "amd64", "--cache-dir", &cache],
    );
    let o = Command::new(common::exe())
        .args(["build", "-q", "--arch", "amd64", "--cache-dir", &cache])
        .args(["-s", "broken", "-o", "broken.tar"])
        .current_dir(d)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        !o.status.success() && err.contains("exit status 3"),
        "{err}"
    );
    let names: Vec<String> = std::fs::read_dir(d)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('.') || n.starts_with("broken"))
        .collect();
    assert!(names.is_empty(), "left by a failed build: {names:?}");

    let entries = list(&ours);
    let epoch = entries
        .iter()
        .find(|(p, _)| p == "dev")
        .expect("./dev/")
        .1
        .mtime;
    assert!(entries.iter().all(|(_, e)| e.mtime <= epoch));
    // Sorted: a directory's entries by name, after it.
    let paths: Vec<&str> = entries.iter().map(|(p, _)| p.as_str()).collect();
    let mut sorted = paths.clone();
    sorted.sort_by(|a, b| {
        let key = |p: &str| -> Vec<Vec<u8>> {
            if p == "." {
                Vec::new()
            } else {
                p.split('/').map(|c| c.as_bytes().to_vec()).collect()
            }
        };
        key(a).cmp(&key(b))
    });
    assert_eq!(paths, sorted);

    let theirs_path = d.join("mmdebstrap.tar");
    let at = std::time::Instant::now();
    let o = Command::new("mmdebstrap")
        .args([
            "--variant=minbase",
            "--mode=root",
            "--architectures=amd64",
            "--format=tar",
            "trixie",
        ])
        .arg(&theirs_path)
        .arg(format!("deb {} trixie main", test_mirror()))
        .env("SOURCE_DATE_EPOCH", epoch.to_string())
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "mmdebstrap: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    eprintln!(
        "mmdebstrap --format=tar: {} bytes in {:.1?}",
        std::fs::metadata(&theirs_path).unwrap().len(),
        at.elapsed()
    );
    let theirs: BTreeMap<String, Listed> = list(&std::fs::read(&theirs_path).unwrap())
        .into_iter()
        .collect();
    let ours: BTreeMap<String, Listed> = entries.into_iter().collect();
    let mut differ = Vec::new();
    let mut times = 0;
    for (p, t) in &theirs {
        match ours.get(p) {
            None if ONLY_MMDEBSTRAP.contains(&p.as_str()) => {}
            None => differ.push(format!("{p}: only mmdebstrap's ({})", t.what)),
            Some(o) => {
                if o.what != t.what && !MMDEBSTRAP_DIFFERS.contains(&p.as_str()) {
                    differ.push(format!("{p}: mmdebstrap {}, ours {}", t.what, o.what));
                }
                if o.xattrs != t.xattrs {
                    differ.push(format!("{p}: xattrs {:?}, ours {:?}", t.xattrs, o.xattrs));
                }
                times += usize::from(o.mtime != t.mtime);
            }
        }
    }
    for p in ours.keys() {
        if !theirs.contains_key(p) {
            differ.push(format!("{p}: only ours"));
        }
    }
    assert!(
        differ.is_empty(),
        "{} differences from mmdebstrap's tar:\n{}",
        differ.len(),
        differ.join("\n")
    );
    eprintln!(
        "{} entries as mmdebstrap's tar lists them apart from the documented list; {times} times differ (directories)",
        ours.len()
    );
}

#[test]
fn rootless_builds_write_the_root_builds_tar() {
    if !enabled("tar outputs of rootless builds") {
        return;
    }
    let (Some(solo), Some(sub)) = (
        testkit::users::test_user("rdbt-osolo", false),
        testkit::users::test_user("rdbt-osub", true),
    ) else {
        return;
    };
    let (work, cache) = locked_trixie("e2e-outputs-rootless");
    let d = work.path();
    rdeb(
        d,
        &[
            "build",
            "-q",
            "--arch",
            "amd64",
            "--cache-dir",
            &cache,
            "-o",
            "root.tar",
        ],
    );
    let reference: BTreeMap<String, Listed> = list(&std::fs::read(d.join("root.tar")).unwrap())
        .into_iter()
        .collect();
    let bin = d.join("bin");
    std::fs::create_dir(&bin).unwrap();
    let rdebootstrap = &common::exe();
    let programs = testkit::users::copy_programs(
        &bin,
        &[
            rdebootstrap,
            // The separate helper, from the workspace's test build.
            &Path::new(env!("CARGO_BIN_EXE_rdebootstrap")).with_file_name(debrepo::sandbox::HELPER),
        ],
    );
    for user in [sub, solo] {
        let mine = d.join(&user.name);
        std::fs::create_dir(&mine).unwrap();
        for f in ["Manifest.toml", "Manifest.amd64.lock"] {
            std::fs::copy(d.join(f), mine.join(f)).unwrap();
        }
        user.own(&mine);
        let o = user
            .command(&programs[0])
            .args([
                "build",
                "-q",
                "--arch",
                "amd64",
                "--no-cache",
                "-p",
                "tree",
                "-o",
                "out.tar",
            ])
            .current_dir(&mine)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(o.status.success(), "{}: {err}", user.name);
        let ours = list(&std::fs::read(mine.join("out.tar")).unwrap());
        let mut differ = Vec::new();
        for (p, e) in &ours {
            match reference.get(p) {
                Some(r) if r == e => {}
                Some(r) => differ.push(format!(
                    "{p}: root {} {} {:?}, {} {} {} {:?}",
                    r.what, r.mtime, r.xattrs, user.name, e.what, e.mtime, e.xattrs
                )),
                None => differ.push(format!("{p}: only {}'s", user.name)),
            }
        }
        for p in reference.keys() {
            if !ours.iter().any(|(q, _)| q == p) {
                differ.push(format!("{p}: only the root build's"));
            }
        }
        assert!(
            differ.is_empty(),
            "{}: {} differences from the root build's tar:\n{}",
            user.name,
            differ.len(),
            differ.join("\n")
        );
        assert_eq!(
            sha256(&mine.join("out.tar")),
            sha256(&d.join("root.tar")),
            "{}",
            user.name
        );
        // With -o alone the tree beside the output is removed, also when
        // its files are the subordinate ids'.
        let o = user
            .command(&programs[0])
            .args([
                "build",
                "-q",
                "--arch",
                "amd64",
                "--no-cache",
                "-o",
                "only.tar",
            ])
            .current_dir(&mine)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(o.status.success(), "{}: {err}", user.name);
        assert_eq!(
            sha256(&mine.join("only.tar")),
            sha256(&d.join("root.tar")),
            "{}",
            user.name
        );
        let left: Vec<String> = std::fs::read_dir(&mine)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with('.'))
            .collect();
        assert!(left.is_empty(), "{}: left {left:?}", user.name);
        eprintln!(
            "{}: the root build's tar, byte for byte ({} entries)",
            user.name,
            ours.len()
        );
    }
}

/// What is wrong with `-o` is said before the manifest is even read.
#[test]
fn bad_outputs_are_refused_first() {
    let work = testkit::TempDir::new("outputs-refused");
    let d = work.path();
    std::fs::create_dir(d.join("dir.tar")).unwrap();
    let fails = |args: &[&str], says: &str| {
        let o = Command::new(common::exe())
            .arg("build")
            .args(args)
            .current_dir(d)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(!o.status.success() && err.contains(says), "{args:?}: {err}");
    };
    fails(&["-o", "nowhere/root.tar"], "no directory nowhere to write");
    fails(&["-o", "dir.tar"], "a directory, not a file");
    fails(&["-o", "root.img"], "not known from its name");
    fails(
        &["-o", "x.tar", "--format", "zip"],
        "unknown format (known: tar, tar.gz",
    );
    fails(&["-p", "tree", "--format", "tar"], "--output");
    fails(&[], "--path");
    // Nothing was made.
    let mut names: Vec<String> = std::fs::read_dir(d)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["dir.tar"]);
}

/// The sandbox helper with the steps' clock moved: reads the request line,
/// adds libfaketime (bound read-only into the sandbox's own `/tmp`, so the
/// tree never holds it) and its settings to every step's environment, and
/// runs the real helper (`$REAL_HELPER __sandbox-helper ARGS`) with it.
/// `NO_FAKE_STAT`: the files' times are left alone (libfaketime would
/// shift what `stat` reports, and tools that copy times would write the
/// shifted ones): only the clock moves.
const FAKE_CLOCK_HELPER: &str = r#"#!/usr/bin/python3
import json, os, subprocess, sys, threading
lib = os.environ["FAKETIME_LIB"]
req = json.loads(sys.stdin.buffer.readline())
req["env"] = [kv for kv in req["env"] if kv[0] not in ("LD_PRELOAD", "FAKETIME")]
req["env"] += [["LD_PRELOAD", "/tmp/libfaketime.so.1"], ["FAKETIME", os.environ["FAKE_OFFSET"]],
               ["FAKETIME_DONT_FAKE_MONOTONIC", "1"], ["NO_FAKE_STAT", "1"]]
req["binds"] = req.get("binds", []) + [{"source": lib, "target": "/tmp/libfaketime.so.1", "read_only": True}]
fds = [fd for fd in (3, 4) if os.path.exists(f"/proc/self/fd/{fd}")]
p = subprocess.Popen([os.environ["REAL_HELPER"], "__sandbox-helper"] + sys.argv[1:],
                     stdin=subprocess.PIPE, pass_fds=fds)
p.stdin.write((json.dumps(req) + "\n").encode())
p.stdin.flush()
# The helper's events go straight to rdebootstrap: this process keeps no
# copy of the pipe, and passes on the end of its standard input.
os.close(1)
for fd in fds:
    os.close(fd)
def relay():
    while sys.stdin.buffer.read1(65536):
        pass
    p.stdin.close()
threading.Thread(target=relay, daemon=True).start()
sys.exit(p.wait())
"#;

#[test]
fn a_build_days_later_writes_the_same_bytes() {
    if !enabled("a tar of trixie minbase with the clock days ahead") {
        return;
    }
    let lib = Path::new("/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1");
    if !testkit::require(lib.is_file(), "libfaketime (apt-get install libfaketime)") {
        return;
    }
    let (work, cache) = locked_trixie("e2e-clock");
    let d = work.path();
    let helper = d.join("fake-clock-helper");
    std::fs::write(&helper, FAKE_CLOCK_HELPER).unwrap();
    std::fs::set_permissions(&helper, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let later = |args: &[&str]| {
        let o = Command::new(common::exe())
            .args(args)
            .current_dir(d)
            .env("RDEBOOTSTRAP_SANDBOX_HELPER", &helper)
            .env("REAL_HELPER", common::exe())
            .env("FAKETIME_LIB", lib)
            .env("FAKE_OFFSET", "+3d")
            .env_remove("SOURCE_DATE_EPOCH")
            .output()
            .unwrap();
        assert!(
            o.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        o
    };
    let base = ["build", "-q", "--arch", "amd64", "--cache-dir", &cache];
    let mut today = base.to_vec();
    today.extend(["-o", "today.tar"]);
    rdeb(d, &today);
    let mut ahead = base.to_vec();
    ahead.extend(["-p", "tree", "-o", "ahead.tar"]);
    later(&ahead);
    // The scripts did see the moved clock.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let o = later(&["run", "-p", "tree", "--", "date", "+%s"]);
    let inside: u64 = String::from_utf8_lossy(&o.stdout).trim().parse().unwrap();
    assert!(
        inside >= now + 2 * 86_400,
        "the clock inside is {inside}, now is {now}: not moved"
    );
    let (a, b) = (d.join("today.tar"), d.join("ahead.tar"));
    if sha256(&a) != sha256(&b) {
        let one: BTreeMap<String, Listed> = list(&std::fs::read(&a).unwrap()).into_iter().collect();
        let two: BTreeMap<String, Listed> = list(&std::fs::read(&b).unwrap()).into_iter().collect();
        let differ: Vec<&String> = one
            .keys()
            .chain(two.keys())
            .filter(|p| one.get(*p) != two.get(*p))
            .collect();
        panic!("a build three days later differs in: {differ:?}");
    }
    eprintln!(
        "the same tar ({}) with the scripts' clock three days ahead",
        sha256(&a)
    );
}
