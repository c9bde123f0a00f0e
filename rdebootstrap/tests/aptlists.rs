//! `meta = ["apt-lists:stage"]` (`debrepo::aptlists`) on a real tree, end to end (opt-in with the
//! other real-archive tests: RDEBOOTSTRAP_E2E=1, as root): a trixie
//! minbase tree with `meta = ["apt-lists:stage"]` built by the CLI from a
//! loopback partial mirror of the real archive (the workplace's
//! `partial-mirror.py`, found through `RDEBOOTSTRAP_PARTIAL_MIRROR_PY` or
//! `../shared/bench/` beside the checkout; without it, the host's Debian
//! mirror); then, in the tree, with no
//! network and no `apt-get update`, `apt-cache policy` knows the archive
//! and `apt-get install --simulate` of a package the tree lacks works. A
//! later `apt-get update` in the tree verifies the staged InRelease
//! against the staged `Signed-By` keyring.

use std::path::Path;
use std::process::{Command, Output};

/// The Debian mirror of the host's APT sources (or `$DEBIAN_MIRROR`).
fn host_mirror() -> Option<String> {
    if let Ok(m) = std::env::var("DEBIAN_MIRROR") {
        return Some(m);
    }
    let sources = debrepo::aptsources::read_host(Path::new("/etc/apt")).ok()?;
    debrepo::aptsources::vendor_mirror(&sources, "debian").map(str::to_owned)
}

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(2).map(|u| u == "0"))
        })
        .unwrap_or(false)
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Run rdebootstrap in `dir` with the Debian mirror set to `mirror`.
fn rdeb(dir: &Path, mirror: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_rdebootstrap"))
        .args(args)
        .current_dir(dir)
        .env("RDEBOOTSTRAP_MIRROR_DEBIAN", mirror)
        .output()
        .unwrap()
}

/// Run rdebootstrap; it must succeed. Returns stdout + stderr.
fn ok(dir: &Path, mirror: &str, args: &[&str]) -> String {
    let o = rdeb(dir, mirror, args);
    let (out, err) = (text(&o.stdout), text(&o.stderr));
    assert!(o.status.success(), "{args:?}: {out}{err}");
    out + &err
}

#[test]
fn apt_works_in_a_staged_tree_without_update() {
    if std::env::var_os("RDEBOOTSTRAP_E2E").is_none() {
        eprintln!(
            "apt in a staged tree on the real archive: set RDEBOOTSTRAP_E2E=1 (as root) to run it"
        );
        return;
    }
    if !testkit::require(is_root(), "root (the tree is built and apt runs as root)") {
        return;
    }
    let Some(upstream) = testkit::required(
        host_mirror(),
        "a Debian mirror (DEBIAN_MIRROR or the host's APT sources)",
    ) else {
        return;
    };
    if !testkit::require(
        testkit::gpg::available(),
        "gpg (to armor the Debian keyring)",
    ) {
        return;
    }
    // The loopback partial mirror (see testkit::mirror), else the host's.
    let m = testkit::mirror::or_upstream(
        &Path::new(env!("CARGO_TARGET_TMPDIR")).join("partial-mirror"),
        &upstream,
    );

    let work = testkit::TempDir::new("aptlists-e2e");
    let d = work.path();
    // A vendor archive: its URL is the mirror the build resolves, its
    // keyring the binary one shipped with debrepo; and an archive with an
    // armored signed-by keyring (the same keys, exported by gpg).
    let gpg = testkit::gpg::Gpg::new();
    let binary = debrepo::vendor::Vendor::Debian.keyring_bytes();
    gpg.run(&["--import"], binary);
    let armored = gpg.export(&[], true);
    assert!(armored.starts_with(b"-----BEGIN PGP PUBLIC KEY BLOCK-----"));
    std::fs::write(d.join("debian-archive-keyring.asc"), &armored).unwrap();
    std::fs::write(
        d.join("Manifest.toml"),
        format!(
            "[[archive]]\nmirror = \"debian\"\nsuites = [\"trixie\"]\ncomponents = [\"main\"]\n\n\
             [[archive]]\nurl = \"{m}\"\nsuites = [\"trixie-updates\"]\ncomponents = [\"main\"]\n\
             signed-by = \"debian-archive-keyring.asc\"\n\n\
             [spec]\nvariant = \"minbase\"\nmeta = [\"apt-lists:stage\"]\n"
        ),
    )
    .unwrap();
    let cache = d.join("cache");
    let cache = cache.to_str().unwrap();
    ok(
        d,
        &m,
        &["update", "-q", "--arch", "amd64", "--cache-dir", cache],
    );
    ok(
        d,
        &m,
        &[
            "build",
            "-q",
            "--arch",
            "amd64",
            "--cache-dir",
            cache,
            "-p",
            "tree",
        ],
    );
    let tree = d.join("tree");
    assert!(
        !tree.join("usr/bin/hello").exists(),
        "hello is not in minbase"
    );

    // meta = ["apt-lists:stage"]: the build staged the sources, the
    // keyrings and the lists it locked.
    let lists: Vec<String> = std::fs::read_dir(tree.join("var/lib/apt/lists"))
        .unwrap()
        .map(|e| {
            format!(
                "var/lib/apt/lists/{}",
                e.unwrap().file_name().to_string_lossy()
            )
        })
        .collect();
    let sources =
        std::fs::read_to_string(tree.join("etc/apt/sources.list.d/manifest.sources")).unwrap();
    assert!(sources.contains(&format!("URIs: {m}")), "{sources}");
    assert!(
        sources.contains("Signed-By: /etc/apt/keyrings/rdebootstrap-1.gpg"),
        "{sources}"
    );
    assert!(
        sources.contains("Signed-By: /etc/apt/keyrings/rdebootstrap-2.asc"),
        "{sources}"
    );
    assert_eq!(
        std::fs::read(tree.join("etc/apt/keyrings/rdebootstrap-1.gpg")).unwrap(),
        binary
    );
    assert_eq!(
        std::fs::read(tree.join("etc/apt/keyrings/rdebootstrap-2.asc")).unwrap(),
        armored
    );
    // The names are apt's: the InRelease as the loopback URL gives it.
    let host_part = m
        .split_once("://")
        .unwrap()
        .1
        .trim_end_matches('/')
        .replace('/', "_");
    let inrelease = format!("var/lib/apt/lists/{host_part}_dists_trixie_InRelease");
    assert!(lists.contains(&inrelease), "{inrelease} not in {lists:?}");
    assert!(lists
        .iter()
        .any(|p| p.ends_with("_dists_trixie_main_binary-amd64_Packages")));

    // Inside, with no network and no apt-get update.
    let policy = ok(d, &m, &["run", "-p", "tree", "--", "apt-cache", "policy"]);
    assert!(
        policy.contains(&format!("{m} trixie/main amd64 Packages"))
            || policy.contains(&format!(
                "{} trixie/main amd64 Packages",
                m.trim_end_matches('/')
            )),
        "{policy}"
    );
    assert!(policy.contains("o=Debian"), "{policy}");
    assert!(
        policy.contains("trixie-updates/main amd64 Packages"),
        "{policy}"
    );
    assert!(
        !policy
            .lines()
            .any(|l| l.starts_with("W:") || l.starts_with("E:")),
        "{policy}"
    );
    let hello = ok(
        d,
        &m,
        &["run", "-p", "tree", "--", "apt-cache", "policy", "hello"],
    );
    assert!(!hello.contains("Candidate: (none)"), "{hello}");
    assert!(hello.contains("Candidate:"), "{hello}");
    let sim = ok(
        d,
        &m,
        &[
            "run",
            "-p",
            "tree",
            "--",
            "apt-get",
            "install",
            "--simulate",
            "-y",
            "hello",
        ],
    );
    eprintln!("{policy}{hello}{sim}");
    assert!(sim.contains("Inst hello "), "{sim}");
    assert!(!sim.contains("WARNING"), "unauthenticated? {sim}");
    assert!(
        !sim.lines()
            .any(|l| l.starts_with("W:") || l.starts_with("E:")),
        "{sim}"
    );

    // A later apt-get update verifies the staged sources with the staged
    // keyrings, binary and armored, and leaves the InRelease as it was.
    let before = std::fs::read(tree.join(&inrelease)).unwrap();
    let update = ok(
        d,
        &m,
        &["run", "--network", "-p", "tree", "--", "apt-get", "update"],
    );
    assert!(
        !update
            .lines()
            .any(|l| l.starts_with("W:") || l.starts_with("E:")),
        "{update}"
    );
    assert!(update.contains("trixie-updates InRelease"), "{update}");
    assert_eq!(std::fs::read(tree.join(&inrelease)).unwrap(), before);
}
