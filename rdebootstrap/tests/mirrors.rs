//! Vendor mirrors (`mirror = "debian"`, `mirror = "debian-security"`):
//! given by flag or variable, said where they came from; presets whose
//! mirror the host does not know; a preset with `--url` keeps its keyring;
//! an unknown package gets candidates.

use std::path::Path;
use std::process::{Command, Output};

use testkit::archive::{Served, SuiteBuilder};
use testkit::{DebBuilder, TempDir};

const VARS: [&str; 4] = [
    "RDEBOOTSTRAP_MIRROR_DEBIAN",
    "RDEBOOTSTRAP_MIRROR_DEBIAN_SECURITY",
    "RDEBOOTSTRAP_MIRROR_UBUNTU",
    "RDEBOOTSTRAP_MIRROR_DEVUAN",
];

/// rdebootstrap in `dir` with `env` set and every other mirror variable
/// unset.
fn run_env(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_rdebootstrap"));
    c.args(args).current_dir(dir);
    for v in VARS {
        c.env_remove(v);
    }
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().unwrap()
}

fn run(dir: &Path, args: &[&str]) -> Output {
    run_env(dir, args, &[])
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn host_knows(vendor: &str) -> bool {
    debrepo::aptsources::read_host(Path::new("/etc/apt"))
        .map(|s| debrepo::aptsources::vendor_mirror(&s, vendor).is_some())
        .unwrap_or(false)
}

/// A Debian-like pair: the main archive and a separate security archive,
/// each signed by its own key.
fn sites() -> Option<(Served, Served)> {
    let main = Served::start(
        "mirrors-main",
        SuiteBuilder::new("trixie")
            .package(
                DebBuilder::new("base-files", "13", "amd64")
                    .field("Essential", "yes")
                    .field("Priority", "required"),
            )
            .package(DebBuilder::new("apt", "3.0", "amd64").field("Priority", "required"))
            .package(DebBuilder::new("curl", "8.1", "amd64"))
            .package(DebBuilder::new("cups", "2.4", "amd64"))
            .package(DebBuilder::new("libcurl4", "8.1", "amd64")),
    )?;
    let security = Served::start(
        "mirrors-security",
        SuiteBuilder::new("trixie-security").package(DebBuilder::new(
            "curl",
            "8.1+deb13u1",
            "amd64",
        )),
    )?;
    Some((main, security))
}

const MANIFEST: &str = "[[archive]]\nmirror = \"debian\"\nsuites = [\"trixie\"]\ncomponents = [\"main\"]\nsigned-by = \"main.gpg\"\n\n[[archive]]\nmirror = \"debian-security\"\nsuites = [\"trixie-security\"]\ncomponents = [\"main\"]\nsigned-by = \"security.gpg\"\n\n[spec]\nvariant = \"minbase\"\ninclude = [\"curl\"]\n";

#[test]
fn every_vendor_archive_by_flag_or_variable_and_said_where_from() {
    let Some((main, security)) = sites() else {
        return;
    };
    let work = TempDir::new("mirrors-work");
    let d = work.path();
    main.write_keyring(&d.join("main.gpg"));
    security.write_keyring(&d.join("security.gpg"));
    std::fs::write(d.join("Manifest.toml"), MANIFEST).unwrap();
    let cache = d.join("cache");
    let cache = cache.to_str().unwrap();
    let flag = format!("debian={}", main.url());
    let base = ["update", "--arch", "amd64", "--cache-dir", cache];

    // The flag for debian, the variable for debian-security.
    let mut args = base.to_vec();
    args.extend(["--mirror", &flag]);
    let o = run_env(
        d,
        &args,
        &[("RDEBOOTSTRAP_MIRROR_DEBIAN_SECURITY", &security.url())],
    );
    let err = text(&o.stderr);
    assert!(o.status.success(), "{err}");
    assert!(
        err.contains(&format!("mirror debian: {} (from --mirror)\n", main.url())),
        "{err}"
    );
    assert!(
        err.contains(&format!(
            "mirror debian-security: {} (from RDEBOOTSTRAP_MIRROR_DEBIAN_SECURITY)\n",
            security.url()
        )),
        "{err}"
    );
    assert_eq!(err.matches("mirror debian:").count(), 1, "{err}");
    // The security archive was used: its curl wins.
    let o = run(d, &["list", "--arch", "amd64"]);
    assert!(
        text(&o.stdout).contains("curl 8.1+deb13u1 amd64"),
        "{}",
        text(&o.stdout)
    );

    // Both by flag; the flag wins over the variable; -q says nothing.
    let sflag = format!("debian-security={}", security.url());
    let mut args = base.to_vec();
    args.extend(["--mirror", &flag, "--mirror", &sflag]);
    let o = run_env(
        d,
        &args,
        &[("RDEBOOTSTRAP_MIRROR_DEBIAN", "http://127.0.0.1:9/nothing")],
    );
    let err = text(&o.stderr);
    assert!(o.status.success(), "{err}");
    assert!(
        err.contains(&format!("mirror debian: {} (from --mirror)", main.url()))
            && err.contains(&format!(
                "mirror debian-security: {} (from --mirror)",
                security.url()
            )),
        "{err}"
    );
    args.push("-q");
    let o = run(d, &args);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert_eq!(text(&o.stderr), "");

    // Both by variable.
    let o = run_env(
        d,
        &base,
        &[
            ("RDEBOOTSTRAP_MIRROR_DEBIAN", &main.url()),
            ("RDEBOOTSTRAP_MIRROR_DEBIAN_SECURITY", &security.url()),
        ],
    );
    let err = text(&o.stderr);
    assert!(o.status.success(), "{err}");
    assert!(
        err.contains("(from RDEBOOTSTRAP_MIRROR_DEBIAN)")
            && err.contains("(from RDEBOOTSTRAP_MIRROR_DEBIAN_SECURITY)"),
        "{err}"
    );

    // A flag for a vendor the manifest does not use is pointed out.
    let mut args = base.to_vec();
    args.extend([
        "--mirror",
        &flag,
        "--mirror",
        &sflag,
        "--mirror",
        "debain=http://127.0.0.1:9/x",
    ]);
    let o = run(d, &args);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(
        text(&o.stderr).contains("warning: --mirror debain=...: the manifest has no archive with mirror = \"debain\" (its vendor archives: debian, debian-security)"),
        "{}",
        text(&o.stderr)
    );

    // build says it too, once, before downloading (the tree itself is
    // not the point here: only the lines before the first download).
    let tree = d.join("tree");
    let mut args = vec![
        "build",
        "--arch",
        "amd64",
        "--cache-dir",
        cache,
        "--unpack-only",
        "-p",
        tree.to_str().unwrap(),
    ];
    args.extend(["--mirror", &flag, "--mirror", &sflag]);
    let o = run(d, &args);
    let err = text(&o.stderr);
    assert_eq!(
        err.matches(&format!("mirror debian: {} (from --mirror)\n", main.url()))
            .count(),
        1,
        "{err}"
    );
    assert_eq!(err.matches("mirror debian-security: ").count(), 1, "{err}");

    // An unknown package gets the nearest names of the index.
    std::fs::write(
        d.join("Manifest.toml"),
        MANIFEST.replace("[\"curl\"]", "[\"cur\"]"),
    )
    .unwrap();
    let mut args = base.to_vec();
    args.extend(["--mirror", &flag, "--mirror", &sflag, "-q"]);
    let o = run(d, &args);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o.stderr)
            .contains("no package named \"cur\" in the archives; did you mean curl, cups?"),
        "{}",
        text(&o.stderr)
    );

    // So do the query verbs (their mirrors from the variables).
    let both = [
        ("RDEBOOTSTRAP_MIRROR_DEBIAN", main.url()),
        ("RDEBOOTSTRAP_MIRROR_DEBIAN_SECURITY", security.url()),
    ];
    let both: Vec<(&str, &str)> = both.iter().map(|(k, v)| (*k, v.as_str())).collect();
    for verb in ["package", "source"] {
        let o = run_env(
            d,
            &[verb, "cur", "--arch", "amd64", "--cache-dir", cache],
            &both,
        );
        assert_eq!(o.status.code(), Some(1));
        assert!(
            text(&o.stderr)
                .contains("named 'cur' in the manifest's archives; did you mean curl, cups?"),
            "{verb}: {}",
            text(&o.stderr)
        );
    }

    // A malformed flag names the form.
    let o = run(d, &["update", "--mirror", "debian"]);
    assert!(
        text(&o.stderr).contains("--mirror debian: expected VENDOR=URL"),
        "{}",
        text(&o.stderr)
    );
}

#[test]
fn a_vendor_archive_found_nowhere_names_the_flag_and_the_variable() {
    let work = TempDir::new("mirrors-none");
    let d = work.path();
    // A vendor name no host source serves.
    std::fs::write(
        d.join("Manifest.toml"),
        MANIFEST.replace("\"debian-security\"", "\"example-security\""),
    )
    .unwrap();
    let o = run(
        d,
        &[
            "update",
            "--arch",
            "amd64",
            "--no-cache",
            "--mirror",
            "debian=http://127.0.0.1:9/debian",
        ],
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o.stderr).contains("no mirror for vendor 'example-security': pass --mirror example-security=URL, set RDEBOOTSTRAP_MIRROR_EXAMPLE_SECURITY, or configure it in the host's APT sources"),
        "{}",
        text(&o.stderr)
    );
}

#[test]
fn presets_init_without_host_sources_and_update_says_what_to_set() {
    // ubuntu: init succeeds whatever the host serves.
    let work = TempDir::new("mirrors-ubuntu");
    let d = work.path();
    let o = run(d, &["init", "ubuntu"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let m = std::fs::read_to_string(d.join("Manifest.toml")).unwrap();
    assert!(m.contains("mirror = \"ubuntu\""), "{m}");
    if !host_knows("ubuntu") {
        assert!(
            text(&o.stderr).contains("note: no ubuntu mirror in the host's APT sources: give update --mirror ubuntu=URL or set RDEBOOTSTRAP_MIRROR_UBUNTU"),
            "{}",
            text(&o.stderr)
        );
        let o = run(d, &["update", "--arch", "amd64", "--no-cache"]);
        assert_eq!(o.status.code(), Some(1));
        assert!(
            text(&o.stderr).contains(
                "no mirror for vendor 'ubuntu': pass --mirror ubuntu=URL, set RDEBOOTSTRAP_MIRROR_UBUNTU"
            ),
            "{}",
            text(&o.stderr)
        );
    }

    // devuan: no keyring ships, so --signed-by is asked for at init...
    let work = TempDir::new("mirrors-devuan");
    let d = work.path();
    let o = run(d, &["init", "devuan"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o.stderr).contains("pass --signed-by KEYRING"),
        "{}",
        text(&o.stderr)
    );
    assert!(!d.join("Manifest.toml").exists());
    // ...and with it, init succeeds without a host source.
    std::fs::write(d.join("devuan.gpg"), b"").unwrap();
    let o = run(d, &["init", "devuan", "--signed-by", "devuan.gpg"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    if !host_knows("devuan") {
        let o = run(d, &["update", "--arch", "amd64", "--no-cache"]);
        assert!(
            text(&o.stderr).contains(
                "no mirror for vendor 'devuan': pass --mirror devuan=URL, set RDEBOOTSTRAP_MIRROR_DEVUAN"
            ),
            "{}",
            text(&o.stderr)
        );
    }
}

#[test]
fn a_preset_with_url_keeps_its_keyring() {
    let work = TempDir::new("mirrors-url");
    let d = work.path();
    let o = run(d, &["init", "ubuntu", "--url", "http://127.0.0.1:9/ubuntu"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let m = std::fs::read_to_string(d.join("Manifest.toml")).unwrap();
    assert!(
        m.contains("signed-by = \"ubuntu-archive-keyring.gpg\""),
        "{m}"
    );
    assert_eq!(
        std::fs::read(d.join("ubuntu-archive-keyring.gpg")).unwrap(),
        debrepo::vendor::Vendor::Ubuntu.keyring_bytes()
    );
    // Both Debian archives name the keyring; a different file of that
    // name is not overwritten.
    let work = TempDir::new("mirrors-url-debian");
    let d = work.path();
    let o = run(d, &["init", "debian", "--url", "http://127.0.0.1:9/debian"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let m = std::fs::read_to_string(d.join("Manifest.toml")).unwrap();
    assert_eq!(
        m.matches("signed-by = \"debian-archive-keyring.gpg\"")
            .count(),
        2,
        "{m}"
    );
    std::fs::remove_file(d.join("Manifest.toml")).unwrap();
    std::fs::write(d.join("debian-archive-keyring.gpg"), b"mine").unwrap();
    let o = run(d, &["init", "debian", "--url", "http://127.0.0.1:9/debian"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o.stderr).contains("is not the keyring rdebootstrap ships for debian"),
        "{}",
        text(&o.stderr)
    );
    assert_eq!(
        std::fs::read(d.join("debian-archive-keyring.gpg")).unwrap(),
        b"mine"
    );
}

/// No "caused by" line says what the line before it said.
fn assert_no_repeated_cause(stderr: &str) {
    let lines: Vec<&str> = stderr.lines().collect();
    for w in lines.windows(2) {
        if let Some(cause) = w[1].trim_start().strip_prefix("caused by: ") {
            assert!(!w[0].contains(cause), "repeated cause:\n{stderr}");
        }
    }
}

#[test]
fn relative_auth_files_run_their_commands_from_their_folder() {
    let Some(site) = Served::start(
        "auth-rel",
        SuiteBuilder::new("trixie")
            .package(DebBuilder::new("base-files", "13", "amd64").field("Essential", "yes"))
            .package(DebBuilder::new("apt", "3.0", "amd64")),
    ) else {
        return;
    };
    let work = TempDir::new("auth-rel-work");
    let d = work.path();
    site.write_keyring(&d.join("archive.gpg"));
    std::fs::write(
        d.join("Manifest.toml"),
        format!("[[archive]]\nurl = \"{}\"\nsuites = [\"trixie\"]\ncomponents = [\"main\"]\nsigned-by = \"archive.gpg\"\n\n[spec]\nvariant = \"minbase\"\n", site.url()),
    )
    .unwrap();
    let host = site.server.url().trim_start_matches("http://").to_owned();
    let auth = |cmd: &str| {
        format!("[[auth]]\nhost = \"{host}\"\nlogin = \"me\"\npassword.cmd = \"{cmd}\"\n")
    };
    std::fs::write(d.join("pw"), "secret\n").unwrap();
    std::fs::write(d.join("c.toml"), auth("cat pw")).unwrap();
    let update = ["update", "--arch", "amd64", "--no-cache", "-q"];
    // -a with a bare relative name.
    let mut args = update.to_vec();
    args.extend(["-a", "c.toml"]);
    let o = run(d, &args);
    assert!(o.status.success(), "{}", text(&o.stderr));
    // The default auth.toml beside the manifest (Manifest.toml, relative).
    std::fs::write(d.join("auth.toml"), auth("cat pw")).unwrap();
    let o = run(d, &update);
    assert!(o.status.success(), "{}", text(&o.stderr));
    // A command that fails: said once, not repeated as its cause.
    std::fs::write(d.join("auth.toml"), auth("exit 3")).unwrap();
    let o = run(d, &update);
    assert_eq!(o.status.code(), Some(1));
    let err = text(&o.stderr);
    assert!(
        err.contains("auth.toml, line 1 (host ") && err.contains("command for 'password' failed"),
        "{err}"
    );
    assert_no_repeated_cause(&err);
    // A command that cannot run in a folder that is gone is said once
    // with its OS cause.
    std::fs::write(d.join("auth.toml"), "[[auth]]\nhost = 1\n").unwrap();
    let o = run(d, &update);
    assert_eq!(o.status.code(), Some(1));
    assert_no_repeated_cause(&text(&o.stderr));
}

#[test]
fn a_bad_keyring_is_explained_without_repeating_a_cause() {
    let work = TempDir::new("bad-keyring");
    let d = work.path();
    std::fs::write(
        d.join("Manifest.toml"),
        "[[archive]]\nurl = \"http://127.0.0.1:9/debian\"\nsuites = [\"trixie\"]\ncomponents = [\"main\"]\nsigned-by = \"k.gpg\"\n\n[spec]\n",
    )
    .unwrap();
    std::fs::write(d.join("k.gpg"), "junk\n").unwrap();
    let o = run(d, &["update", "--arch", "amd64", "--no-cache", "-q"]);
    assert_eq!(o.status.code(), Some(1));
    let err = text(&o.stderr);
    assert!(err.contains("cannot read keyring k.gpg"), "{err}");
    assert_no_repeated_cause(&err);
}
