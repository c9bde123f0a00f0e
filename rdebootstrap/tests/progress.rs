//! Progress bars on a terminal: the CLI runs under util-linux `script`,
//! which gives it a pseudo-terminal and records what it drew. (Plain lines
//! on a pipe and silence with `-q` are tested in `inspect.rs`.)

use std::process::Command;

use testkit::archive::{Served, SuiteBuilder};
use testkit::{DebBuilder, TempDir};

fn site() -> Option<(Served, TempDir)> {
    let site = Served::start(
        "progress-site",
        SuiteBuilder::new("trixie")
            .package(DebBuilder::new("base-files", "13", "amd64").field("Essential", "yes")),
    )?;
    let work = TempDir::new("progress-work");
    site.write_keyring(&work.path().join("archive.gpg"));
    let manifest = format!(
        "[[archive]]\nurl = \"{}\"\nsuites = [\"trixie\"]\ncomponents = [\"main\"]\nsigned-by = \"archive.gpg\"\n\n[spec]\nvariant = \"essential\"\n",
        site.url()
    );
    std::fs::write(work.path().join("Manifest.toml"), manifest).unwrap();
    Some((site, work))
}

#[test]
fn bars_on_a_terminal() {
    if !testkit::require(
        Command::new("script").arg("--version").output().is_ok(),
        "script (package bsdutils)",
    ) {
        return;
    }
    let Some((_site, work)) = site() else { return };
    let typescript = work.path().join("typescript");
    let cmd = format!(
        "{} update --arch amd64 --no-cache",
        env!("CARGO_BIN_EXE_rdebootstrap")
    );
    let o = Command::new("script")
        .args(["-q", "-e", "-c", &cmd])
        .arg(&typescript)
        .current_dir(work.path())
        .env("COLUMNS", "100")
        .output()
        .unwrap();
    let drawn = String::from_utf8_lossy(&std::fs::read(&typescript).unwrap()).into_owned();
    assert!(o.status.success(), "{drawn}");
    // indicatif redraws by clearing the line (ESC [2K); a bar with a known
    // total is drawn with block characters; the plain "get URL" lines of a
    // pipe are not printed.
    assert!(drawn.contains("\x1b[2K"), "{drawn:?}");
    assert!(drawn.contains('█'), "{drawn:?}");
    assert!(!drawn.contains("get http"), "{drawn:?}");
    assert!(drawn.contains("wrote Manifest.amd64.lock"), "{drawn:?}");
}

#[test]
fn debug_lines_with_d() {
    let Some((site, work)) = site() else { return };
    let cache = work.path().join("cache");
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_rdebootstrap"))
            .args(args)
            .args(["--arch", "amd64", "--cache-dir", cache.to_str().unwrap()])
            .current_dir(work.path())
            .output()
            .unwrap()
    };
    let o = run(&["-d", "update"]);
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert!(o.status.success(), "{err}");
    let url = site.url();
    for want in [
        format!("debug: GET {url}/dists/trixie/InRelease: 200 over HTTP/1.1"),
        "debug: universe: 1 candidates for amd64".to_owned(),
        "debug: spec [spec]: 1 requirements, 1 packages chosen in".to_owned(),
    ] {
        assert!(err.contains(&want), "{want:?} not in\n{err}");
    }
    // A second run takes the index from the cache, and says so.
    std::fs::remove_file(work.path().join("Manifest.amd64.lock")).unwrap();
    let err = String::from_utf8_lossy(&run(&["-d", "update"]).stderr).into_owned();
    assert!(
        err.contains(&format!(
            "debug: {url}/dists/trixie/main/binary-amd64/Packages: from the cache"
        )),
        "{err}"
    );
    // Without -d, none of this.
    std::fs::remove_file(work.path().join("Manifest.amd64.lock")).unwrap();
    let err = String::from_utf8_lossy(&run(&["update"]).stderr).into_owned();
    assert!(!err.contains("debug:"), "{err}");
    // -q and -d contradict each other.
    let o = run(&["-q", "-d", "update"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("cannot be used with"));
}
