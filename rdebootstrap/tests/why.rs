//! `why` and `why-not` on a signed test archive served on loopback: the
//! chain that brought a package in (an inherited include, a virtual name,
//! an alternative, the variant's essential set), what keeps one out (a
//! conflict, an exclude, a recommendation not followed, a name no archive
//! has), JSON, a stale lock, and an answer from the cache alone once the
//! archive is gone.

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

fn suite() -> SuiteBuilder {
    SuiteBuilder::new("trixie")
        .package(
            DebBuilder::new("base-files", "13", "amd64")
                .field("Essential", "yes")
                .field("Priority", "required")
                .field("Pre-Depends", "libc6 (>= 2.36)"),
        )
        .package(DebBuilder::new("libc6", "2.41", "amd64").field("Priority", "optional"))
        .package(
            DebBuilder::new("apt", "3.0", "amd64")
                .field("Priority", "important")
                .field("Depends", "libapt (>= 3)"),
        )
        .package(DebBuilder::new("libapt", "3.0", "amd64"))
        .package(
            DebBuilder::new("curl", "8.1", "amd64")
                .field("Depends", "libcurl3t64 | libcurl4")
                .field("Recommends", "ca-certificates"),
        )
        .package(DebBuilder::new("libcurl4", "8.1", "amd64"))
        .package(DebBuilder::new("ca-certificates", "2025", "all"))
        .package(
            DebBuilder::new("mailer", "1", "amd64")
                .field("Depends", "default-mta | mail-transport-agent"),
        )
        .package(
            DebBuilder::new("exim4", "4.98", "amd64")
                .field("Provides", "default-mta, mail-transport-agent")
                .field("Conflicts", "mail-transport-agent"),
        )
        .package(
            DebBuilder::new("postfix", "3.9", "amd64")
                .field("Provides", "mail-transport-agent")
                .field("Conflicts", "mail-transport-agent"),
        )
        .package(DebBuilder::new("tool", "2", "amd64"))
}

#[test]
fn why_and_why_not_explain_the_lock() {
    let Some(site) = Served::start("why-site", suite()) else {
        return;
    };
    let work = TempDir::new("why-work");
    site.write_keyring(&work.path().join("archive.gpg"));
    let manifest = format!(
        "[[archive]]\nurl = \"{}\"\nsuites = [\"trixie\"]\ncomponents = [\"main\"]\nsigned-by = \"archive.gpg\"\n\n\
         [spec]\nvariant = \"minbase\"\ninclude = [\"mailer\"]\nexclude = [\"tool\"]\n\n\
         [spec.web]\nextends = \"\"\ninclude = [\"curl\"]\n",
        site.url()
    );
    std::fs::write(work.path().join("Manifest.toml"), &manifest).unwrap();
    let cache = work.path().join("cache");
    let cache = cache.to_str().unwrap();
    let rd = |args: &[&str]| {
        let mut all = vec!["--arch", "amd64", "--cache-dir", cache];
        all.extend_from_slice(args);
        run(work.path(), &all)
    };
    let o = rd(&["update"]);
    assert!(o.status.success(), "{}", text(&o.stderr));

    // An inherited include, through the first alternative the lock has.
    let o = rd(&["why", "libcurl4", "-s", "web"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert_eq!(
        text(&o.stdout),
        "libcurl4 8.1 (amd64) is in the lock of spec 'web' because:\n\
         1. spec 'web' includes curl\n\
         2. curl 8.1 Depends: libcurl3t64 | libcurl4, satisfied by libcurl4\n"
    );
    // The parent's include, and a virtual name provided.
    let o = rd(&["why", "exim4", "-s", "web"]);
    assert_eq!(
        text(&o.stdout),
        "exim4 4.98 (amd64) is in the lock of spec 'web' because:\n\
         1. spec [spec] includes mailer\n\
         2. mailer 1 Depends: default-mta | mail-transport-agent, provided by exim4\n"
    );
    // The variant's essential set, then Pre-Depends.
    let o = rd(&["why", "libc6"]);
    assert_eq!(
        text(&o.stdout),
        "libc6 2.41 (amd64) is in the lock of spec [spec] because:\n\
         1. variant minbase takes (Essential: yes) base-files\n\
         2. base-files 13 Pre-Depends: libc6 (>= 2.36)\n"
    );
    let o = rd(&["why", "libapt"]);
    assert!(
        text(&o.stdout)
            .contains("1. variant minbase adds apt\n2. apt 3.0 Depends: libapt (>= 3)\n"),
        "{}",
        text(&o.stdout)
    );
    let o = rd(&["why", "libc6", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["package"]["name"], "libc6");
    assert_eq!(v["steps"][0]["by"], "spec");
    assert_eq!(v["steps"][0]["source"]["kind"], "variant");
    assert_eq!(v["steps"][1]["by"], "package");
    assert_eq!(v["steps"][1]["field"], "Pre-Depends");
    assert_eq!(v["later-alternative"], false);

    // Not in the lock.
    let o = rd(&["why", "postfix"]);
    assert!(!o.status.success());
    assert!(
        text(&o.stderr)
            .contains("postfix is not in the lock of spec [spec]: ask 'why-not postfix'"),
        "{}",
        text(&o.stderr)
    );
    let o = rd(&["why-not", "postfix"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert_eq!(
        text(&o.stdout),
        "postfix is not in the lock of spec [spec]:\n\
         - exim4 4.98 (in the lock) Conflicts: mail-transport-agent, which postfix 3.9 matches\n\
         - postfix 3.9 Conflicts: mail-transport-agent, which exim4 4.98 (in the lock) matches\n\
         - mailer 1 Depends: default-mta | mail-transport-agent, satisfied by exim4 4.98 (in the lock)\n"
    );
    let o = rd(&["why-not", "tool"]);
    assert_eq!(
        text(&o.stdout),
        "tool is not in the lock of spec [spec]:\n\
         - spec [spec] excludes it (exclude: tool)\n\
         - nothing in the spec or its lock requires it\n"
    );
    let o = rd(&["why-not", "ca-certificates", "-s", "web"]);
    assert_eq!(
        text(&o.stdout),
        "ca-certificates is not in the lock of spec 'web':\n\
         - curl 8.1 (in the lock) Recommends: ca-certificates; the spec does not follow Recommends (recommends = true would)\n\
         - nothing in the spec or its lock requires it\n"
    );
    let o = rd(&["why-not", "curly", "-s", "web", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["reasons"][0]["reason"], "not-in-archives");
    assert_eq!(v["reasons"][0]["similar"][0], "curl");
    let o = rd(&["why-not", "curly"]);
    assert!(
        text(&o.stdout).contains("did you mean curl? (try 'rdebootstrap search')"),
        "{}",
        text(&o.stdout)
    );
    let o = rd(&["why-not", "curl", "-s", "web"]);
    assert!(!o.status.success());
    assert!(
        text(&o.stderr).contains("curl 8.1 is in the lock of spec 'web': ask 'why curl'"),
        "{}",
        text(&o.stderr)
    );

    // With an empty cache the locked suites are fetched (and checked to
    // be the locked ones).
    let empty = work.path().join("empty-cache");
    let o = run(
        work.path(),
        &[
            "--arch",
            "amd64",
            "--cache-dir",
            empty.to_str().unwrap(),
            "why",
            "libapt",
        ],
    );
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(text(&o.stdout).contains("2. apt 3.0 Depends: libapt (>= 3)\n"));

    // From the cache alone: the archive is gone.
    drop(site);
    let o = rd(&["--debug", "why", "exim4"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(text(&o.stdout).contains("provided by exim4"));
    assert!(
        text(&o.stderr).contains("Release files and indices: all from the cache"),
        "{}",
        text(&o.stderr)
    );

    // A stale lock is an error that says to update.
    std::fs::write(
        work.path().join("Manifest.toml"),
        manifest.replace("include = [\"curl\"]", "include = [\"curl\", \"tool\"]"),
    )
    .unwrap();
    let o = rd(&["why", "curl", "-s", "web"]);
    assert!(!o.status.success());
    assert!(
        text(&o.stderr).contains("run 'rdebootstrap update'"),
        "{}",
        text(&o.stderr)
    );
}
