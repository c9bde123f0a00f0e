//! The `inspect` commands, run as a user would run them.

use std::process::{Command, Output};

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_rdebootstrap"))
        .args(args)
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
        .output()
        .unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn inspect_deb_lists_control_and_files() {
    let o = run(&[
        "inspect",
        "deb",
        "tests/data/debs/unzip_6.0-29+deb13u1_amd64.deb",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.contains("Package: unzip\n"));
    assert!(out.contains("/usr/bin/zipinfo link to /usr/bin/unzip"));
    let o = run(&[
        "inspect",
        "deb",
        "--control-only",
        "tests/data/debs/netbase_6.5_all.deb",
    ]);
    let out = stdout(&o);
    assert!(out.contains("  /etc/services\n"));
    assert!(out.contains("maintainer scripts: postinst"));
    assert!(!out.contains("data:"));
}

#[test]
fn bad_input_names_the_file_and_fails() {
    let o = run(&["inspect", "deb", "Cargo.toml"]);
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert!(err.contains("error: Cargo.toml"), "{err}");
    assert!(err.contains("not a .deb"), "{err}");
    let o = run(&["inspect", "deb", "no/such.deb"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("no/such.deb"));
    let o = run(&["inspect", "nonsense"]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn inspect_index_and_release() {
    let o = run(&[
        "inspect",
        "index",
        "tests/data/trixie/main/binary-amd64/Packages.xz",
        "-p",
        "bash",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).starts_with("Package: bash\n"));
    let o = run(&[
        "inspect",
        "index",
        "tests/data/trixie/main/binary-amd64/Packages.xz",
    ]);
    assert!(stdout(&o).contains(" packages, 56620099 bytes"));
    let o = run(&["inspect", "release", "tests/data/trixie/InRelease"]);
    assert!(stdout(&o).contains("Codename: trixie\n"));
}

#[test]
fn inspect_version_exit_status_is_dpkgs() {
    assert_eq!(
        run(&["inspect", "version", "1.0~rc1", "lt", "1.0"])
            .status
            .code(),
        Some(0)
    );
    assert_eq!(
        run(&["inspect", "version", "1.0", "eq", "1.0-0"])
            .status
            .code(),
        Some(0)
    );
    assert_eq!(
        run(&["inspect", "version", "2:1", "<<", "1:9"])
            .status
            .code(),
        Some(1)
    );
    let o = run(&["inspect", "version", "1", "~", "2"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("unknown operator"));
    let o = run(&["inspect", "version", "1.0-", "lt", "2"]);
    assert!(
        stderr(&o).contains("revision number is empty"),
        "{}",
        stderr(&o)
    );
}
