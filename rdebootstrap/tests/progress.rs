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
    if Command::new("script").arg("--version").output().is_err() {
        eprintln!("util-linux script not found: skipping");
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
