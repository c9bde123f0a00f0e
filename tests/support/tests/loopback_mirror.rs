//! The `loopback-mirror` executable: its usage, and a failing
//! `partial-mirror.py` failing it (CI reports its exit status), and a
//! mirror completed within the run not checked again.

use std::process::Command;

fn run(args: &[&str], script: &str) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_loopback-mirror"))
        .args(args)
        .env("RDEBOOTSTRAP_PARTIAL_MIRROR_PY", script)
        .output()
        .unwrap()
}

#[test]
fn it_takes_one_directory() {
    for args in [&[][..], &["a", "b"][..]] {
        let o = run(args, "/nonexistent/partial-mirror.py");
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        assert!(String::from_utf8_lossy(&o.stderr).contains("usage: loopback-mirror DIR"));
    }
}

#[test]
fn a_failing_script_fails_it() {
    let dir = testkit::TempDir::new("loopback-mirror");
    let o = run(
        &[dir.path().join("mirror").to_str().unwrap()],
        "/nonexistent/partial-mirror.py",
    );
    assert!(!o.status.success());
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("partial-mirror.py"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
}

#[test]
fn a_completed_mirror_is_not_checked_again_within_the_run() {
    let dir = testkit::TempDir::new("loopback-mirror");
    // A stand-in for partial-mirror.py: python3 runs it; it records each
    // run in a file beside the mirror.
    let script = dir.path().join("partial-mirror.py");
    let runs = dir.path().join("runs");
    std::fs::write(
        &script,
        format!("open({:?}, 'a').write('run\\n')\n", runs.to_str().unwrap()),
    )
    .unwrap();
    let mirror = dir.path().join("mirror");
    let count = || {
        std::fs::read_to_string(&runs)
            .unwrap_or_default()
            .lines()
            .count()
    };
    let make = |script: &std::path::Path, upstream: &str| {
        let o = Command::new(env!("CARGO_BIN_EXE_loopback-mirror"))
            .arg(&mirror)
            .env("RDEBOOTSTRAP_PARTIAL_MIRROR_PY", script)
            .env("DEBIAN_MIRROR", upstream)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    };
    // The amd64 suites, then arm64.
    make(&script, "http://127.0.0.1:1/debian");
    assert_eq!(count(), 2);
    make(&script, "http://127.0.0.1:1/debian");
    assert_eq!(count(), 2, "a mirror just completed is taken as it is");
    make(&script, "http://127.0.0.1:2/debian");
    assert_eq!(count(), 2, "whatever mirror of the archive it came from");
    // Another script: run again.
    let other = dir.path().join("other-partial-mirror.py");
    std::fs::copy(&script, &other).unwrap();
    make(&other, "http://127.0.0.1:1/debian");
    assert_eq!(count(), 4, "another script runs again");
}
