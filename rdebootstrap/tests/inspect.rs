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
    // A bad operator or version is dpkg's exit status 2, not a "no".
    let o = run(&["inspect", "version", "1", "~", "2"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("'~'"), "{}", stderr(&o));
    let o = run(&["inspect", "version", "1.0-", "lt", "2"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("revision number is empty"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn inspect_archive_fetches_verifies_and_reports_progress() {
    use testkit::archive::{Served, SuiteBuilder};
    use testkit::http::Fault;
    use testkit::{DebBuilder, TempDir};
    let suite = SuiteBuilder::new("trixie")
        .package(DebBuilder::new("hello", "1.0-1", "amd64"))
        .package(DebBuilder::new("world", "2.0-1", "all"));
    let Some(site) = Served::start("cli-archive", suite) else {
        return;
    };
    let keyring = site.dir.path().join("archive.gpg");
    site.write_keyring(&keyring);
    let server = &site.server;
    server.fault("/debian/dists/trixie/InRelease", Fault::Status(503));
    let cache = TempDir::new("cli-cache");
    let url = format!("{}/debian", server.url());
    let args = |extra: &[&str]| {
        let mut v = vec![
            "inspect",
            "archive",
            &url,
            "trixie",
            "--arch",
            "amd64",
            "--signed-by",
            keyring.to_str().unwrap(),
            "--cache-dir",
            cache.path().to_str().unwrap(),
        ];
        v.extend_from_slice(extra);
        v.into_iter().map(str::to_owned).collect::<Vec<_>>()
    };
    let run_owned = |a: Vec<String>| {
        let refs: Vec<&str> = a.iter().map(String::as_str).collect();
        run(&refs)
    };
    let o = run_owned(args(&[]));
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("main/amd64: 2 packages"),
        "{}",
        stdout(&o)
    );
    assert!(stdout(&o).contains("downloaded"));
    let err = stderr(&o);
    assert!(
        err.contains(&format!("get {url}/dists/trixie/InRelease")),
        "{err}"
    );
    assert!(err.contains("retry 1 of "), "{err}");
    // Warm and quiet: from the cache, nothing on stderr.
    let o = run_owned(args(&["-q"]));
    assert!(o.status.success());
    assert!(stdout(&o).contains("from the cache"));
    assert_eq!(stderr(&o), "");
    // No keyring: say how to give one.
    let o = run(&["inspect", "archive", &url, "trixie"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("pass --signed-by KEYRING or --vendor debian|ubuntu"));
}
