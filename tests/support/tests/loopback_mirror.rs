//! The `loopback-mirror` executable: its usage, and a failing
//! `partial-mirror.py` failing it (CI reports its exit status).

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
