//! `update` and `list` on a signed test archive served on loopback.

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

#[test]
fn update_writes_a_lock_that_list_reads_and_staleness_is_semantic() {
    let Some(site) = Served::start(
        "update-site",
        SuiteBuilder::new("trixie")
            .package(
                DebBuilder::new("base-files", "13", "amd64")
                    .field("Essential", "yes")
                    .field("Priority", "required"),
            )
            .package(
                DebBuilder::new("apt", "3.0", "amd64")
                    .field("Priority", "required")
                    .field("Depends", "libapt (>= 3)"),
            )
            .package(DebBuilder::new("libapt", "3.0", "amd64"))
            .package(
                DebBuilder::new("curl", "8.1", "amd64").field("Depends", "libcurl4 | libcurl3"),
            )
            .package(DebBuilder::new("libcurl3", "7.0", "amd64"))
            .package(DebBuilder::new("libcurl4", "8.1", "amd64"))
            .package(DebBuilder::new("vim", "9.1", "amd64")),
    ) else {
        return;
    };

    let work = TempDir::new("update-work");
    site.write_keyring(&work.path().join("archive.gpg"));
    let manifest = format!(
        "[[archive]]\nurl = \"{}/debian\"\nsuites = [\"trixie\"]\ncomponents = [\"main\"]\nsigned-by = \"archive.gpg\"\n\n[spec]\nvariant = \"minbase\"\ninclude = [\"curl\"]\n",
        site.server.url()
    );
    std::fs::write(work.path().join("Manifest.toml"), &manifest).unwrap();
    let cache = work.path().join("cache");
    let cache = cache.to_str().unwrap();
    let o = run(
        work.path(),
        &["update", "--arch", "amd64", "--cache-dir", cache],
    );
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(
        text(&o.stderr).contains("wrote Manifest.amd64.lock (1 spec, 5 packages)"),
        "{}",
        text(&o.stderr)
    );
    let lock = std::fs::read_to_string(work.path().join("Manifest.amd64.lock")).unwrap();
    assert!(lock.contains("signer = \""), "{lock}");

    let o = run(work.path(), &["list", "--arch", "amd64"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert_eq!(
        text(&o.stdout),
        "apt 3.0 amd64\nbase-files 13 amd64\ncurl 8.1 amd64\nlibapt 3.0 amd64\nlibcurl4 8.1 amd64\n"
    );
    let o = run(work.path(), &["list", "--arch", "amd64", "--json"]);
    assert!(
        text(&o.stdout).starts_with("[{\"arch\":\"amd64\",\"name\":\"apt\""),
        "{}",
        text(&o.stdout)
    );

    // Unchanged: the lock is not rewritten.
    let before = std::fs::metadata(work.path().join("Manifest.amd64.lock"))
        .unwrap()
        .modified()
        .unwrap();
    let o = run(
        work.path(),
        &["update", "--arch", "amd64", "--cache-dir", cache],
    );
    assert!(
        text(&o.stderr).contains("unchanged: Manifest.amd64.lock"),
        "{}",
        text(&o.stderr)
    );
    assert_eq!(
        std::fs::metadata(work.path().join("Manifest.amd64.lock"))
            .unwrap()
            .modified()
            .unwrap(),
        before
    );

    // A comment does not stale the lock; a new requirement does.
    std::fs::write(
        work.path().join("Manifest.toml"),
        format!("# my tree\n{manifest}"),
    )
    .unwrap();
    assert!(run(work.path(), &["list", "--arch", "amd64"])
        .status
        .success());
    std::fs::write(
        work.path().join("Manifest.toml"),
        manifest.replace("[\"curl\"]", "[\"curl\", \"vim\"]"),
    )
    .unwrap();
    let o = run(work.path(), &["list", "--arch", "amd64"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o.stderr).contains(
            "is out of date for [spec] (the manifest changed): run 'rdebootstrap update'"
        ),
        "{}",
        text(&o.stderr)
    );

    // A requirement nothing satisfies: the spec and the package are named.
    std::fs::write(
        work.path().join("Manifest.toml"),
        manifest.replace("[\"curl\"]", "[\"nonexistent\"]"),
    )
    .unwrap();
    let o = run(
        work.path(),
        &["update", "--arch", "amd64", "--cache-dir", cache],
    );
    assert_eq!(o.status.code(), Some(1));
    let err = text(&o.stderr);
    assert!(
        err.contains("error: spec [spec]") && err.contains("nonexistent"),
        "{err}"
    );
    // No keyring and no vendor: say how to add one.
    std::fs::write(
        work.path().join("Manifest.toml"),
        manifest.replace("signed-by = \"archive.gpg\"\n", ""),
    )
    .unwrap();
    let o = run(
        work.path(),
        &["update", "--arch", "amd64", "--cache-dir", cache],
    );
    assert!(
        text(&o.stderr).contains("no key to verify"),
        "{}",
        text(&o.stderr)
    );
}

#[test]
fn init_and_editing_verbs() {
    let work = TempDir::new("init");
    let d = work.path();
    // A vendor preset: the mirror by name, updates and security suites.
    // (The mirror is given by the environment, so the test does not depend
    // on the host's APT sources.)
    let o = Command::new(env!("CARGO_BIN_EXE_rdebootstrap"))
        .args(["init", "debian", "--package", "curl"])
        .env("RDEBOOTSTRAP_MIRROR_DEBIAN", "http://127.0.0.1:9/debian")
        .current_dir(d)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o.stderr));
    let m = std::fs::read_to_string(d.join("Manifest.toml")).unwrap();
    assert!(
        m.contains("mirror = \"debian\"")
            && m.contains("\"trixie-updates\"")
            && m.contains("mirror = \"debian-security\""),
        "{m}"
    );
    assert!(
        m.contains("variant = \"minbase\"") && m.contains("include = [\"curl\"]"),
        "{m}"
    );
    // Never overwrite.
    let o = run(d, &["init", "debian"]);
    assert!(
        text(&o.stderr).contains("exists already"),
        "{}",
        text(&o.stderr)
    );
    // Edits keep comments.
    let with_comment = format!("# mine\n{m}");
    std::fs::write(d.join("Manifest.toml"), &with_comment).unwrap();
    // An entry that names no package is refused, the file left as it was.
    for verb in ["require", "forbid"] {
        let o = run(d, &[verb, "vim", " "]);
        assert!(
            !o.status.success() && text(&o.stderr).contains("it names no package"),
            "{verb}: {}",
            text(&o.stderr)
        );
    }
    // forbid takes what 'exclude' reads (no alternatives), so the manifest
    // stays readable.
    let o = run(d, &["forbid", "a | b"]);
    assert!(
        !o.status.success() && text(&o.stderr).contains("alternatives"),
        "{}",
        text(&o.stderr)
    );
    assert_eq!(
        std::fs::read_to_string(d.join("Manifest.toml")).unwrap(),
        with_comment
    );
    assert!(run(d, &["require", "vim", "git (>= 1:2.40)"])
        .status
        .success());
    assert!(run(d, &["forbid", "-s", "web", "systemd-hwe (= 255.5-1)"])
        .status
        .success());
    assert!(run(d, &["drop", "curl"]).status.success());
    // Removing what is not there changes nothing, and says so.
    let o = run(d, &["remove", "nano"]);
    assert!(o.status.success());
    assert_eq!(
        text(&o.stderr),
        "nano is neither required nor forbidden by [spec]\nnothing to change\n"
    );
    assert!(run(
        d,
        &[
            "archive",
            "add",
            "http://127.0.0.1:9/extra",
            "--suite",
            "stable",
            "--components",
            "main,contrib",
            "--no-verify"
        ]
    )
    .status
    .success());
    let m = std::fs::read_to_string(d.join("Manifest.toml")).unwrap();
    assert!(m.starts_with("# mine\n"), "{m}");
    assert!(
        m.contains("include = [\"vim\", \"git (>= 1:2.40)\"]"),
        "{m}"
    );
    assert!(
        m.contains("[spec.web]") && m.contains("exclude = [\"systemd-hwe (= 255.5-1)\"]"),
        "{m}"
    );
    assert!(m.contains("url = \"http://127.0.0.1:9/extra\""), "{m}");
    // Unknown presets and incomplete explicit archives explain themselves.
    let other = TempDir::new("init-other");
    // (Presets whose mirror the host does not know: tests/mirrors.rs.)
    let o = run(other.path(), &["init", "devuan"]);
    assert!(
        text(&o.stderr).contains("no Devuan archive keyring ships with rdebootstrap")
            && text(&o.stderr).contains("pass --signed-by KEYRING"),
        "{}",
        text(&o.stderr)
    );
    assert!(!other.path().join("Manifest.toml").exists());
    let o = run(
        other.path(),
        &[
            "init",
            "devuan",
            "--url",
            "http://127.0.0.1:9/merged",
            "--signed-by",
            "devuan.gpg",
            "--no-verify",
        ],
    );
    assert!(o.status.success(), "{}", text(&o.stderr));
    let m = std::fs::read_to_string(other.path().join("Manifest.toml")).unwrap();
    assert!(
        m.contains("suites = [\"excalibur\", \"excalibur-updates\", \"excalibur-security\"]")
            && m.contains("signed-by = \"devuan.gpg\""),
        "{m}"
    );
    std::fs::remove_file(other.path().join("Manifest.toml")).unwrap();
    let o = run(other.path(), &["init", "gentoo"]);
    assert!(
        text(&o.stderr).contains("no preset for vendor 'gentoo'"),
        "{}",
        text(&o.stderr)
    );
    let o = run(other.path(), &["init", "--url", "http://127.0.0.1:9/x"]);
    assert!(
        text(&o.stderr).contains("--url URL --suite SUITE"),
        "{}",
        text(&o.stderr)
    );
    let o = run(other.path(), &["require", "vim"]);
    assert!(
        text(&o.stderr).contains("create one with 'rdebootstrap init'"),
        "{}",
        text(&o.stderr)
    );
}

#[test]
fn init_with_an_explicit_archive_then_update() {
    let Some(site) = Served::start(
        "init-site",
        SuiteBuilder::new("trixie")
            .package(DebBuilder::new("base-files", "13", "amd64").field("Essential", "yes"))
            .package(DebBuilder::new("apt", "3.0", "amd64"))
            .package(DebBuilder::new("hello", "2.10", "amd64")),
    ) else {
        return;
    };
    let work = TempDir::new("init-work");
    let d = work.path();
    site.write_keyring(&d.join("archive.gpg"));
    let url = site.url();
    let o = run(
        d,
        &[
            "init",
            "--url",
            &url,
            "--suite",
            "trixie",
            "--components",
            "main",
            "--signed-by",
            "archive.gpg",
        ],
    );
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(run(d, &["require", "hello"]).status.success());
    let cache = d.join("cache");
    let update = |extra: &[&str]| {
        let base = [
            "update",
            "--arch",
            "amd64",
            "--cache-dir",
            cache.to_str().unwrap(),
        ];
        run(d, &[&base[..], extra].concat())
    };
    // A snapshot that no archive has a template for is refused, not
    // ignored; a bad snapshot id is a usage error.
    for (id, code, says) in [
        (
            "20200101T000000Z",
            1,
            "a snapshot was asked for, but no [[archive]] has a 'snapshots' template",
        ),
        ("yesterday", 2, "invalid snapshot id \"yesterday\""),
    ] {
        let o = update(&["--snapshot", id]);
        let err = text(&o.stderr);
        assert_eq!(o.status.code(), Some(code), "{err}");
        assert!(err.contains(says), "{err}");
        assert!(!d.join("Manifest.amd64.lock").exists());
    }
    let o = update(&[]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let o = run(d, &["list", "--arch", "amd64"]);
    assert_eq!(
        text(&o.stdout),
        "apt 3.0 amd64\nbase-files 13 amd64\nhello 2.10 amd64\n"
    );
}

#[test]
fn local_debs_win_and_are_locked_with_their_hash() {
    let Some(site) = Served::start(
        "local-site",
        SuiteBuilder::new("trixie")
            .package(DebBuilder::new("mytool", "9.0", "amd64"))
            .package(DebBuilder::new("libdep", "1.0", "amd64")),
    ) else {
        return;
    };
    let work = TempDir::new("local-work");
    let d = work.path();
    site.write_keyring(&d.join("archive.gpg"));
    std::fs::create_dir_all(d.join("target")).unwrap();
    DebBuilder::new("mytool", "0.1", "amd64")
        .field("Depends", "libdep")
        .write_to(&d.join("target"), "mytool_0.1_amd64");
    let manifest = format!(
        "[[archive]]\nurl = \"{}/debian\"\nsuites = [\"trixie\"]\ncomponents = [\"main\"]\nsigned-by = \"archive.gpg\"\n\n[[local]]\npath = \"target/mytool_0.1_amd64.deb\"\n\n[spec]\ninclude = [\"mytool\"]\n",
        site.server.url()
    );
    std::fs::write(d.join("Manifest.toml"), &manifest).unwrap();
    let cache = d.join("cache");
    let o = run(
        d,
        &[
            "update",
            "--arch",
            "amd64",
            "--cache-dir",
            cache.to_str().unwrap(),
        ],
    );
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert_eq!(
        text(&run(d, &["list", "--arch", "amd64"]).stdout),
        "libdep 1.0 amd64\nmytool 0.1 amd64\n"
    );
    let lock = std::fs::read_to_string(d.join("Manifest.amd64.lock")).unwrap();
    assert!(
        lock.contains("[[local]]\npath = \"target/mytool_0.1_amd64.deb\""),
        "{lock}"
    );
    // A recorded hash that does not match is refused, saying what to do.
    std::fs::write(
        d.join("Manifest.toml"),
        manifest.replace(
            "path = \"target/mytool_0.1_amd64.deb\"\n",
            "path = \"target/mytool_0.1_amd64.deb\"\nhash = \"sha256-AAAA\"\n",
        ),
    )
    .unwrap();
    let o = run(
        d,
        &[
            "update",
            "--arch",
            "amd64",
            "--cache-dir",
            cache.to_str().unwrap(),
        ],
    );
    let err = text(&o.stderr);
    assert!(
        err.contains("[[local]] at line")
            && err.contains("the manifest says sha256-AAAA")
            && err.contains("rdebootstrap update --locals"),
        "{err}"
    );

    // update --locals records what is on disk now: the .deb's hash, and a
    // local and a text artifact's (in the algorithm each hash names),
    // comments kept; then it locks.
    std::fs::write(d.join("motd"), "changed\n").unwrap();
    let sha256 = |b: &[u8]| {
        let mut h = debrepo::artifact::Hasher::new(debrepo::artifact::HashAlgo::Sha256);
        h.update(b);
        h.finish().to_string()
    };
    let old_note = sha256(b"old text");
    let with_artifacts = format!(
        "# my tree\n{}\n[artifact.\"motd\"]\ntype = \"file\"\ntarget = \"/etc/motd\"\npath = \"motd\"\nhash = \"{}\"\n\n[artifact.\"note\"]\ntype = \"text\"\ntarget = \"/etc/note\"\ntext = \"new text\"\nhash = \"{old_note}\"\n",
        std::fs::read_to_string(d.join("Manifest.toml")).unwrap(),
        debrepo::artifact::sri_blake3(b"old\n")
    )
    .replace("include = [\"mytool\"]", "include = [\"mytool\"]\nstage = [\"motd\", \"note\"]");
    std::fs::write(d.join("Manifest.toml"), &with_artifacts).unwrap();
    let o = run(
        d,
        &[
            "update",
            "--locals",
            "--arch",
            "amd64",
            "--cache-dir",
            cache.to_str().unwrap(),
        ],
    );
    let err = text(&o.stderr);
    assert!(o.status.success(), "{err}");
    let deb = std::fs::read(d.join("target/mytool_0.1_amd64.deb")).unwrap();
    let deb_hash = debrepo::manifest::edit::local_deb_hash(&deb);
    let motd_hash = debrepo::artifact::sri_blake3(b"changed\n");
    let note_hash = sha256(b"new text");
    for line in [
        format!("local target/mytool_0.1_amd64.deb: hash sha256-AAAA -> {deb_hash}"),
        format!(
            "artifact 'motd': hash {} -> {motd_hash}",
            debrepo::artifact::sri_blake3(b"old\n")
        ),
        format!("artifact 'note': hash {old_note} -> {note_hash}"),
        "wrote".to_owned(),
    ] {
        assert!(err.contains(&line), "{line} not in {err}");
    }
    let m = std::fs::read_to_string(d.join("Manifest.toml")).unwrap();
    assert!(m.starts_with("# my tree\n"), "{m}");
    for h in [&deb_hash, &motd_hash, &note_hash] {
        assert!(m.contains(&format!("hash = \"{h}\"")), "{h} not in {m}");
    }
    // A second run finds every hash current.
    let o = run(
        d,
        &[
            "update",
            "--locals",
            "--arch",
            "amd64",
            "--cache-dir",
            cache.to_str().unwrap(),
        ],
    );
    let err = text(&o.stderr);
    assert!(
        o.status.success() && err.contains("every recorded hash is current"),
        "{err}"
    );
}

#[test]
fn search_package_source_and_spec() {
    let Some(site) = Served::start(
        "query-site",
        SuiteBuilder::new("trixie")
            .package(
                DebBuilder::new("curl", "8.1-1", "amd64")
                    .field("Source", "curl")
                    .field(
                        "Description",
                        "command line tool for transferring data with URL syntax",
                    ),
            )
            .package(DebBuilder::new("libcurl4", "8.1-1", "amd64").field("Source", "curl"))
            .package(
                DebBuilder::new("wget", "1.25-1", "amd64")
                    .field("Description", "retrieves files from the web"),
            ),
    ) else {
        return;
    };
    let work = TempDir::new("query-work");
    let d = work.path();
    site.write_keyring(&d.join("archive.gpg"));
    std::fs::write(
        d.join("Manifest.toml"),
        format!(
            "[[archive]]\nurl = \"{}/debian\"\nsuites = [\"trixie\"]\ncomponents = [\"main\"]\nsigned-by = \"archive.gpg\"\n\n[spec.base]\ninclude = [\"curl\"]\n\n[spec.web]\nextends = \"base\"\nvariant = \"minbase\"\n",
            site.server.url()
        ),
    )
    .unwrap();
    let cache = d.join("cache");
    let c = cache.to_str().unwrap();
    let o = run(
        d,
        &[
            "search",
            "url syntax|web",
            "--arch",
            "amd64",
            "--cache-dir",
            c,
            "-q",
        ],
    );
    assert_eq!(text(&o.stdout), "curl - command line tool for transferring data with URL syntax\nwget - retrieves files from the web\n", "{}", text(&o.stderr));
    let o = run(
        d,
        &["package", "wget", "--arch", "amd64", "--cache-dir", c, "-q"],
    );
    assert!(
        text(&o.stdout).starts_with("# suite trixie\nPackage: wget\nVersion: 1.25-1\n"),
        "{}",
        text(&o.stdout)
    );
    let o = run(
        d,
        &["package", "nope", "--arch", "amd64", "--cache-dir", c, "-q"],
    );
    assert!(text(&o.stderr).contains("no package named 'nope'"));
    let o = run(
        d,
        &[
            "source",
            "libcurl4",
            "--arch",
            "amd64",
            "--cache-dir",
            c,
            "-q",
        ],
    );
    assert_eq!(
        text(&o.stdout),
        "Source: curl\n  curl (8.1-1)\n  libcurl4 (8.1-1)\n"
    );
    let o = run(d, &["spec", "list"]);
    assert_eq!(
        text(&o.stdout),
        "base (custom)\nweb (minbase) extends base\n"
    );
    let o = run(d, &["spec", "hash", "web"]);
    assert!(
        text(&o.stdout).starts_with("blake3-"),
        "{}",
        text(&o.stdout)
    );
    let o = run(d, &["spec", "list", "--json"]);
    assert!(
        text(&o.stdout).contains("\"extends\":[\"base\"]"),
        "{}",
        text(&o.stdout)
    );
}

#[test]
fn foreign_architectures_through_update_and_list() {
    let Some(site) = Served::start(
        "multiarch-site",
        SuiteBuilder::new("trixie")
            .package(DebBuilder::new("libc6", "2.41", "amd64").field("Multi-Arch", "same"))
            .package(DebBuilder::new("libc6", "2.41", "i386").field("Multi-Arch", "same"))
            .package(
                DebBuilder::new("tool", "1", "i386").field("Depends", "libc6 (>= 2.40), helper"),
            )
            .package(DebBuilder::new("helper", "1", "all").field("Multi-Arch", "foreign"))
            .package(DebBuilder::new("native-app", "1", "amd64").field("Depends", "libc6")),
    ) else {
        return;
    };
    let work = TempDir::new("multiarch-work");
    let d = work.path();
    site.write_keyring(&d.join("archive.gpg"));
    let archive = format!(
        "[[archive]]\nurl = \"{}\"\nsuites = [\"trixie\"]\ncomponents = [\"main\"]\nsigned-by = \"archive.gpg\"\n\n",
        site.url()
    );
    let cache = d.join("cache");
    let update = || {
        run(
            d,
            &[
                "update",
                "--arch",
                "amd64",
                "--cache-dir",
                cache.to_str().unwrap(),
            ],
        )
    };
    // Without the architecture, an i386 package cannot be had.
    std::fs::write(
        d.join("Manifest.toml"),
        format!("{archive}[spec]\ninclude = [\"native-app\", \"tool:i386\"]\n"),
    )
    .unwrap();
    let o = update();
    assert!(!o.status.success());
    assert!(text(&o.stderr).contains("tool"), "{}", text(&o.stderr));
    // With it, both libc6 instances (Multi-Arch: same) are locked.
    std::fs::write(
        d.join("Manifest.toml"),
        format!("{archive}[spec]\nforeign-architectures = [\"i386\"]\ninclude = [\"native-app\", \"tool:i386\"]\n"),
    )
    .unwrap();
    let o = update();
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert_eq!(
        text(&run(d, &["list", "--arch", "amd64"]).stdout),
        "helper 1 all\nlibc6 2.41 amd64\nlibc6 2.41 i386\nnative-app 1 amd64\ntool 1 i386\n"
    );
    let lock = std::fs::read_to_string(d.join("Manifest.amd64.lock")).unwrap();
    assert!(
        lock.contains("path = \"pool/main/l/libc6/libc6_2.41_i386.deb\""),
        "{lock}"
    );
    // An architecture dpkg does not know is refused where it is written.
    std::fs::write(
        d.join("Manifest.toml"),
        format!("{archive}[spec]\nforeign-architectures = [\"x86\"]\n"),
    )
    .unwrap();
    let err = text(&update().stderr);
    assert!(
        err.contains("Manifest.toml:8:26:")
            && err.contains(
                "'x86' in [spec] foreign-architectures is not an architecture dpkg knows"
            ),
        "{err}"
    );
}

#[test]
fn update_checks_the_import_before_fetching() {
    let work = TempDir::new("import-work");
    let d = work.path();
    let app = d.join("app");
    std::fs::create_dir_all(&app).unwrap();
    let write_app = |hash: &str| {
        std::fs::write(
            app.join("Manifest.toml"),
            format!("[[archive]]\nurl = \"http://127.0.0.1:9/debian\"\nsuites = [\"trixie\"]\ncomponents = [\"main\"]\nsigned-by = \"k.gpg\"\n\n[import]\npath = \"../base/Manifest.toml\"\nhash = \"{hash}\"\n\n[spec]\ninclude = [\"curl\"]\n"),
        )
        .unwrap()
    };
    write_app("blake3-x");
    let update = || run(&app, &["update", "--arch", "amd64", "--no-cache"]);
    // The imported manifest is read (and must be there).
    let err = text(&update().stderr);
    assert!(
        err.contains("Manifest.toml:7:1: [import]: cannot read the imported manifest"),
        "{err}"
    );
    // A wrong pin names both files, both hashes and how to re-pin.
    std::fs::create_dir_all(d.join("base")).unwrap();
    let base = "[spec.base]\ninclude = [\"bash\"]\n";
    std::fs::write(d.join("base/Manifest.toml"), base).unwrap();
    let err = text(&update().stderr);
    assert!(
        err.contains("base/Manifest.toml has hash blake3-")
            && err.contains("but this manifest pins blake3-x")
            && err.contains("'rdebootstrap import ../base/Manifest.toml'"),
        "{err}"
    );
    // The imported manifest must be locked first.
    write_app(&debrepo::manifest::import::manifest_hash(base.as_bytes()));
    let o = update();
    assert!(!o.status.success());
    let err = text(&o.stderr);
    assert!(
        err.contains("the imported manifest has no lock ../base/Manifest.amd64.lock for amd64: run 'rdebootstrap update' in ../base first"),
        "{err}"
    );
    assert!(!app.join("Manifest.amd64.lock").exists());
}

#[test]
fn archive_add_and_init_check_the_archive_before_writing_it() {
    let Some(site) = Served::start(
        "check-site",
        SuiteBuilder::new("trixie").package(DebBuilder::new("hello", "2.10", "amd64")),
    ) else {
        return;
    };
    let Some(stranger) = Served::start(
        "check-stranger",
        SuiteBuilder::new("trixie").package(DebBuilder::new("hello", "2.10", "amd64")),
    ) else {
        return;
    };
    let work = TempDir::new("check-work");
    let d = work.path();
    site.write_keyring(&d.join("archive.gpg"));
    stranger.write_keyring(&d.join("other.gpg"));
    let manifest = d.join("Manifest.toml");
    std::fs::write(&manifest, "[spec]\nvariant = \"custom\"\n").unwrap();
    let cache = d.join("cache");
    let cache = cache.to_str().unwrap();
    let url = site.url();
    let add = |extra: &[&str]| {
        run(
            d,
            &[
                &["--cache-dir", cache, "archive", "add", &url, "--suite"][..],
                extra,
            ]
            .concat(),
        )
    };
    let unchanged =
        || std::fs::read_to_string(&manifest).unwrap() == "[spec]\nvariant = \"custom\"\n";

    // A key that did not sign the archive: refused, nothing written.
    let o = add(&["trixie", "--signed-by", "other.gpg"]);
    let err = text(&o.stderr);
    assert!(
        !o.status.success() && err.contains("signature does not check"),
        "{err}"
    );
    assert!(err.contains(&url), "{err}");
    assert!(unchanged());
    // A suite the archive does not have: refused, naming the URL.
    let o = add(&["sid", "--signed-by", "archive.gpg"]);
    let err = text(&o.stderr);
    assert!(
        !o.status.success() && err.contains(&format!("{url}/dists/sid/")),
        "{err}"
    );
    assert!(unchanged());
    // A component it does not have.
    let o = add(&[
        "trixie",
        "--components",
        "contrib",
        "--signed-by",
        "archive.gpg",
    ]);
    assert!(!o.status.success(), "{}", text(&o.stderr));
    assert!(unchanged());
    // --no-verify checks all but the signature.
    let o = add(&["trixie", "--signed-by", "other.gpg", "--no-verify"]);
    let err = text(&o.stderr);
    assert!(o.status.success(), "{err}");
    assert!(err.contains("signature not checked (--no-verify)"), "{err}");
    assert!(!unchanged());
    // The right key: checked, and the signer named.
    std::fs::write(&manifest, "[spec]\nvariant = \"custom\"\n").unwrap();
    let o = add(&["trixie", "--signed-by", "archive.gpg"]);
    let err = text(&o.stderr);
    assert!(o.status.success(), "{err}");
    assert!(
        err.contains(&format!("checked {url} suite trixie: signed by ")),
        "{err}"
    );
    // An archive that cannot be reached now is written, with a warning.
    let o = run(
        d,
        &[
            "archive",
            "add",
            "http://127.0.0.1:9/gone",
            "--suite",
            "trixie",
            "--signed-by",
            "archive.gpg",
        ],
    );
    let err = text(&o.stderr);
    assert!(o.status.success(), "{err}");
    assert!(
        err.contains("warning: cannot check the archive now"),
        "{err}"
    );
    assert!(std::fs::read_to_string(&manifest)
        .unwrap()
        .contains("127.0.0.1:9/gone"));

    // init --url checks as archive add does; --no-verify needs --url.
    std::fs::remove_file(&manifest).unwrap();
    let o = run(
        d,
        &[
            "init",
            "--url",
            &url,
            "--suite",
            "trixie",
            "--signed-by",
            "other.gpg",
        ],
    );
    assert!(
        !o.status.success() && text(&o.stderr).contains("signature does not check"),
        "{}",
        text(&o.stderr)
    );
    assert!(!manifest.exists());
    let o = run(
        d,
        &[
            "init",
            "--url",
            &url,
            "--suite",
            "trixie",
            "--signed-by",
            "other.gpg",
            "--no-verify",
        ],
    );
    assert!(o.status.success(), "{}", text(&o.stderr));
    std::fs::remove_file(&manifest).unwrap();
    let o = run(d, &["init", "debian", "--no-verify"]);
    assert!(
        !o.status.success() && text(&o.stderr).contains("--url"),
        "{}",
        text(&o.stderr)
    );
}

/// The suites of a manifest are fetched at once: while the first suite's
/// InRelease is held up, the second suite's is asked for; the lock is
/// still in manifest order, the same bytes as one made with no delay.
#[test]
fn suites_are_fetched_at_once_and_locked_in_order() {
    let Some(site) = Served::start(
        "update-suites",
        SuiteBuilder::new("trixie")
            .package(
                DebBuilder::new("base-files", "13", "amd64")
                    .field("Essential", "yes")
                    .field("Priority", "required"),
            )
            .package(DebBuilder::new("apt", "3.0", "amd64").field("Priority", "required")),
    ) else {
        return;
    };
    SuiteBuilder::new("trixie-updates")
        .package(DebBuilder::new("hello", "2.10", "amd64"))
        .write(&site.root(), &site.gpg, &site.key);
    let work = TempDir::new("update-suites-work");
    site.write_keyring(&work.path().join("archive.gpg"));
    let manifest = format!(
        "[[archive]]\nurl = \"{}\"\nsuites = [\"trixie\", \"trixie-updates\"]\n\
         components = [\"main\"]\nsigned-by = \"archive.gpg\"\n\n\
         [spec]\nvariant = \"minbase\"\ninclude = [\"hello\"]\n",
        site.url()
    );
    std::fs::write(work.path().join("Manifest.toml"), &manifest).unwrap();
    let update = |cache: &str| {
        let o = run(
            work.path(),
            &["update", "--arch", "amd64", "--cache-dir", cache],
        );
        assert!(o.status.success(), "{}", text(&o.stderr));
        std::fs::read(work.path().join("Manifest.amd64.lock")).unwrap()
    };
    let plain = update(work.path().join("cache1").to_str().unwrap());
    std::fs::remove_file(work.path().join("Manifest.amd64.lock")).unwrap();

    // The first suite's InRelease: headers, then nothing for a second,
    // then the connection closes (the transport asks again).
    site.server.clear_log();
    site.server.fault(
        "/debian/dists/trixie/InRelease",
        testkit::http::Fault::Stall(0, std::time::Duration::from_secs(1)),
    );
    let held = update(work.path().join("cache2").to_str().unwrap());
    let log: Vec<String> = site.server.requests().into_iter().map(|r| r.path).collect();
    let first = |pred: &dyn Fn(&str) -> bool| {
        log.iter()
            .position(|p| pred(p))
            .unwrap_or_else(|| panic!("not asked for: {log:?}"))
    };
    let updates_inrelease = first(&|p| p == "/debian/dists/trixie-updates/InRelease");
    let trixie_after_inrelease =
        first(&|p| p.starts_with("/debian/dists/trixie/") && !p.ends_with("/InRelease"));
    let trixie_inreleases: Vec<usize> = (0..log.len())
        .filter(|&i| log[i] == "/debian/dists/trixie/InRelease")
        .collect();
    assert!(trixie_inreleases.len() >= 2, "{log:?}");
    assert!(
        updates_inrelease < trixie_inreleases[1] && updates_inrelease < trixie_after_inrelease,
        "trixie-updates waited for trixie: {log:?}"
    );
    assert_eq!(held, plain, "the same lock");
}
