//! Helpers shared by the end-to-end tests on real Debian data: where the
//! archive is, whether the tests are opted in, running the binary.
//!
//! `tests/all.rs` declares it once for every test file; not every file uses
//! every helper.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The rdebootstrap executable the end-to-end tests run:
/// `RDEBOOTSTRAP_TEST_EXE` when set, else this test build's.
///
/// `.ci/run` points it at the release build that README's first command
/// has just made from the same checkout: the tree builds on real data
/// spend most of their time in our unpacking and index parsing, which
/// run several times faster optimized, and CI compiles that build
/// anyway. The hermetic tests keep the debug build (and its overflow
/// checks).
pub fn exe() -> PathBuf {
    static EXE: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    EXE.get_or_init(|| match std::env::var_os("RDEBOOTSTRAP_TEST_EXE") {
        Some(p) => {
            let p = PathBuf::from(p);
            assert!(
                p.is_absolute() && p.is_file(),
                "RDEBOOTSTRAP_TEST_EXE={}: not an absolute path of an executable",
                p.display()
            );
            eprintln!("the end-to-end tests run {}", p.display());
            p
        }
        None => PathBuf::from(env!("CARGO_BIN_EXE_rdebootstrap")),
    })
    .clone()
}

/// The Debian mirror: `DEBIAN_MIRROR`, else the host's APT sources.
pub fn mirror() -> String {
    if let Ok(m) = std::env::var("DEBIAN_MIRROR") {
        return m;
    }
    let sources =
        debrepo::aptsources::read_host(Path::new("/etc/apt")).expect("the host's APT sources");
    debrepo::aptsources::vendor_mirror(&sources, "debian")
        .expect("no Debian mirror in the host's APT sources: set DEBIAN_MIRROR")
        .to_owned()
}

/// The loopback partial mirror of [`testkit::mirror`] (made once per
/// target directory), else [`mirror`].
pub fn test_mirror() -> String {
    testkit::mirror::or_upstream(
        &Path::new(env!("CARGO_TARGET_TMPDIR")).join("partial-mirror"),
        &mirror(),
    )
}

/// Whether the end-to-end tests are opted in (`RDEBOOTSTRAP_E2E`, which
/// `.ci/run` sets); says how to opt in when not.
pub fn e2e(what: &str) -> bool {
    if std::env::var_os("RDEBOOTSTRAP_E2E").is_none() {
        eprintln!("{what}: set RDEBOOTSTRAP_E2E=1 to run it");
        return false;
    }
    true
}

/// Whether this process runs as root.
pub fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// Whether `program arg` runs and succeeds.
pub fn works(program: &str, arg: &str) -> bool {
    Command::new(program)
        .arg(arg)
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Run rdebootstrap in `dir`; fails the test (with its stderr) unless it
/// succeeds.
pub fn rdeb(dir: &Path, args: &[&str]) -> Output {
    let o = Command::new(exe())
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    o
}

/// `f` of every item, each on its own thread, all at once: the builds of a
/// test that share one .deb cache (a build mostly waits on one maintainer
/// script at a time, so one alone leaves a core idle). The results come in
/// the items' order; a panic in one is the test's panic.
pub fn at_once<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    std::thread::scope(|s| {
        let running: Vec<_> = items
            .iter()
            .map(|item| {
                let f = &f;
                s.spawn(move || f(item))
            })
            .collect();
        running
            .into_iter()
            .map(|r| r.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
            .collect()
    })
}
