//! `update` refuses a Release older than the one its lock was made from
//! (an old Release replayed with its good signature), says what to do,
//! leaves the lock alone, and takes it with `--allow-older-release`.

use std::process::{Command, Output};

use testkit::archive::{Served, SuiteBuilder};
use testkit::{DebBuilder, TempDir};

fn run(dir: &std::path::Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_rdebootstrap"))
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn suite(hello: &str) -> SuiteBuilder {
    SuiteBuilder::new("trixie").package(DebBuilder::new("hello", hello, "amd64"))
}

#[test]
fn an_older_release_than_the_locks_is_refused_until_allowed() {
    let Some(site) = Served::start("freshness-site", suite("2.10-3")) else {
        return;
    };
    let work = TempDir::new("freshness-work");
    site.write_keyring(&work.path().join("archive.gpg"));
    let manifest = format!(
        "[[archive]]\nurl = \"{}\"\nsuites = [\"trixie\"]\ncomponents = [\"main\"]\nsigned-by = \"archive.gpg\"\n\n[spec]\nvariant = \"custom\"\ninclude = [\"hello\"]\n",
        site.url()
    );
    std::fs::write(work.path().join("Manifest.toml"), &manifest).unwrap();
    let cache = work.path().join("cache");
    let update = |extra: &[&str]| {
        let mut args = vec!["update", "--arch", "amd64", "--cache-dir"];
        args.push(cache.to_str().unwrap());
        args.extend_from_slice(extra);
        run(work.path(), &args)
    };
    let o = update(&[]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let lock_path = work.path().join("Manifest.amd64.lock");
    let lock = std::fs::read_to_string(&lock_path).unwrap();
    assert!(lock.contains("version = \"2.10-3\""), "{lock}");

    // The archive goes back to an older Release, validly signed.
    suite("2.9-1")
        .date("Fri, 12 Jun 2026 07:55:41 UTC")
        .write(&site.root(), &site.gpg, &site.key);
    let o = update(&[]);
    assert!(!o.status.success());
    let err = text(&o.stderr);
    assert!(
        err.contains(&format!(
            "{}/dists/trixie/: the Release file of suite trixie is dated Fri, 12 Jun 2026 07:55:41 UTC, before the one the lock was made from (Sat, 12 Sep 2026 07:55:41 UTC)",
            site.url()
        )),
        "{err}"
    );
    assert!(
        err.contains("fetch a snapshot (--snapshot) or pass --allow-older-release"),
        "{err}"
    );
    assert_eq!(std::fs::read_to_string(&lock_path).unwrap(), lock);

    let o = update(&["--allow-older-release"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(
        text(&o.stderr).contains("--allow-older-release: "),
        "{}",
        text(&o.stderr)
    );
    let lock = std::fs::read_to_string(&lock_path).unwrap();
    assert!(lock.contains("version = \"2.9-1\""), "{lock}");
    // The lock now records the older Release: a plain update takes it.
    let o = update(&[]);
    assert!(o.status.success(), "{}", text(&o.stderr));
}
