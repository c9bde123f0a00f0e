//! `build --unpack-only` on a signed test archive served on loopback:
//! download, unpack, dpkg database. (Synthetic packages have no dpkg to
//! configure them with; full builds of real packages are compared with
//! mmdebstrap in `mmdebstrap.rs`.)

use std::process::{Command, Output};

use testkit::archive::{Served, SuiteBuilder};
use testkit::{DebBuilder, TempDir};

fn run(dir: &std::path::Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_rdebootstrap"))
        .args(args)
        .args(["--arch", "amd64"])
        .current_dir(dir)
        .output()
        .unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn build_unpacks_the_locked_packages_and_writes_the_dpkg_database() {
    let Some(site) = Served::start(
        "build-site",
        SuiteBuilder::new("trixie")
            .package(
                DebBuilder::new("base-files", "13", "amd64")
                    .field("Essential", "yes")
                    .field("Priority", "required")
                    .control_file("conffiles", 0o644, "/etc/issue\n")
                    .dir("./etc/")
                    .file("./etc/issue", "Test GNU/Linux\n")
                    .dir("./usr/")
                    .dir("./usr/bin/")
                    .symlink("./bin", "usr/bin"),
            )
            .package(
                DebBuilder::new("tool", "1.0", "amd64")
                    .field("Depends", "libtool1")
                    .dir("./usr/")
                    .dir("./usr/bin/")
                    .file_mode("./usr/bin/tool", 0o755, "#!/bin/sh\n"),
            )
            .package(
                DebBuilder::new("libtool1", "1.0", "amd64")
                    .field("Multi-Arch", "same")
                    .dir("./usr/")
                    .dir("./usr/lib/")
                    .file("./usr/lib/libtool.so.1", "ELF"),
            ),
    ) else {
        return;
    };
    let work = TempDir::new("build-work");
    let d = work.path();
    site.write_keyring(&d.join("archive.gpg"));
    std::fs::write(
        d.join("Manifest.toml"),
        format!(
            "[[archive]]\nurl = \"{}\"\nsuites = [\"trixie\"]\ncomponents = [\"main\"]\nsigned-by = \"archive.gpg\"\n\n[spec]\nvariant = \"essential\"\ninclude = [\"tool\"]\n",
            site.url()
        ),
    )
    .unwrap();
    let o = run(d, &["update", "--no-cache"]);
    assert!(o.status.success(), "{}", text(&o.stderr));

    let tree = d.join("tree");
    let o = run(d, &["build", "-p", "tree", "--no-cache", "--unpack-only"]);
    let err = text(&o.stderr);
    assert!(o.status.success(), "{err}");
    assert!(err.contains("unpacked 3 packages into tree"), "{err}");
    assert!(err.contains("not configured (--unpack-only)"), "{err}");
    assert_eq!(
        std::fs::read(tree.join("usr/bin/tool")).unwrap(),
        b"#!/bin/sh\n"
    );
    assert!(std::fs::symlink_metadata(tree.join("bin"))
        .unwrap()
        .file_type()
        .is_symlink());
    assert_eq!(
        std::fs::read(tree.join("etc/issue.dpkg-new")).unwrap(),
        b"Test GNU/Linux\n"
    );
    // Without a cache, the downloads did not stay in the tree.
    assert!(!tree.join("var/cache/apt/archives/rdebootstrap").exists());
    let status = std::fs::read_to_string(tree.join("var/lib/dpkg/status")).unwrap();
    assert_eq!(
        status.matches("Status: install ok unpacked\n").count(),
        3,
        "{status}"
    );
    assert!(
        status.contains("Conffiles:\n /etc/issue newconffile\n"),
        "{status}"
    );
    assert!(tree.join("var/lib/dpkg/info/libtool1:amd64.list").exists());
    assert!(tree.join("var/lib/dpkg/info/tool.list").exists());
    // Only what the spec asked for is manual for apt.
    let states = std::fs::read_to_string(tree.join("var/lib/apt/extended_states")).unwrap();
    assert_eq!(
        states,
        "Package: base-files\nArchitecture: amd64\nAuto-Installed: 1\n\nPackage: libtool1\nArchitecture: amd64\nAuto-Installed: 1\n"
    );

    // A directory that is not empty is refused.
    let o = run(d, &["build", "-p", "tree", "--no-cache"]);
    assert!(
        text(&o.stderr).contains("the target directory is not empty"),
        "{}",
        text(&o.stderr)
    );
    // So is a stale lock.
    let m = std::fs::read_to_string(d.join("Manifest.toml")).unwrap();
    std::fs::write(
        d.join("Manifest.toml"),
        m.replace("[\"tool\"]", "[\"tool\", \"libtool1\"]"),
    )
    .unwrap();
    let o = run(d, &["build", "-p", "tree2", "--no-cache", "--unpack-only"]);
    assert!(
        text(&o.stderr).contains("run 'rdebootstrap update'"),
        "{}",
        text(&o.stderr)
    );
    assert!(!d.join("tree2").exists());
}
