//! Path imports: a downstream manifest extending a locked base manifest's
//! exported spec, each with its own signed archive served on loopback, a
//! local .deb and a staged artifact; `update` and `build --unpack-only`.

use std::path::Path;
use std::process::{Command, Output};

use testkit::archive::{Served, SuiteBuilder};
use testkit::{DebBuilder, TempDir};

fn run(dir: &Path, args: &[&str]) -> Output {
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

fn ok(o: Output) -> String {
    let err = text(&o.stderr);
    assert!(o.status.success(), "{err}");
    err
}

fn fails(o: Output) -> String {
    assert!(!o.status.success(), "{}", text(&o.stderr));
    text(&o.stderr)
}

fn blake3_sri(bytes: &[u8]) -> String {
    debrepo::manifest::import::manifest_hash(bytes)
}

#[test]
fn a_downstream_manifest_builds_on_an_imported_one() {
    let tool = |v: &str| {
        DebBuilder::new("tool", v, "amd64")
            .dir("./usr/")
            .dir("./usr/bin/")
            .file_mode("./usr/bin/tool", 0o755, format!("tool {v}\n"))
    };
    let Some(base_site) = Served::start(
        "import-base-site",
        SuiteBuilder::new("trixie")
            .package(
                DebBuilder::new("base-files", "13", "amd64")
                    .field("Essential", "yes")
                    .field("Priority", "required")
                    .dir("./etc/")
                    .file("./etc/issue", "Test\n"),
            )
            .package(tool("1.0")),
    ) else {
        return;
    };
    // The downstream archive has a newer tool: the downstream keeps the
    // imported lock's.
    let Some(app_site) = Served::start(
        "import-app-site",
        SuiteBuilder::new("trixie").package(tool("2.0")).package(
            DebBuilder::new("app", "1.0", "amd64")
                .field("Depends", "tool")
                .dir("./usr/")
                .dir("./usr/bin/")
                .file_mode("./usr/bin/app", 0o755, "app\n"),
        ),
    ) else {
        return;
    };
    let work = TempDir::new("import-work");
    let base = work.path().join("base");
    let app = work.path().join("app");
    std::fs::create_dir_all(base.join("debs")).unwrap();
    std::fs::create_dir_all(&app).unwrap();
    base_site.write_keyring(&base.join("archive.gpg"));
    app_site.write_keyring(&app.join("archive.gpg"));
    DebBuilder::new("basetool", "0.1", "amd64")
        .dir("./usr/")
        .dir("./usr/bin/")
        .file_mode("./usr/bin/basetool", 0o755, "basetool\n")
        .write_to(&base.join("debs"), "basetool");
    let base_manifest = format!(
        "[[archive]]\nurl = \"{}\"\nsuites = [\"trixie\"]\ncomponents = [\"main\"]\nsigned-by = \"archive.gpg\"\n\n[[local]]\npath = \"debs/basetool.deb\"\n\n[artifact.\"motd\"]\ntype = \"text\"\ntarget = \"/etc/motd\"\ntext = \"base\\n\"\n\n[spec.base]\nvariant = \"essential\"\ninclude = [\"tool\", \"basetool\"]\nstage = [\"motd\"]\n",
        base_site.url()
    );
    std::fs::write(base.join("Manifest.toml"), &base_manifest).unwrap();
    let app_manifest = |pin: &str| {
        format!(
            "# The app image.\n[[archive]]\nurl = \"{}\"\nsuites = [\"trixie\"]\ncomponents = [\"main\"]\nsigned-by = \"archive.gpg\"\n\n[import]\npath = \"../base/Manifest.toml\"\nhash = \"{pin}\"\nspecs = [\"base\"]\n\n[artifact.\"motd\"]\ntype = \"text\"\ntarget = \"/etc/motd.app\"\ntext = \"app\\n\"\n\n[spec.web]\nextends = [\"base\"]\ninclude = [\"app\"]\nstage = [\"motd\"]\n",
            app_site.url()
        )
    };
    let pin = blake3_sri(base_manifest.as_bytes());
    std::fs::write(app.join("Manifest.toml"), app_manifest(&pin)).unwrap();

    // No imported lock yet: update it there first.
    let err = fails(run(&app, &["update", "--no-cache"]));
    assert!(
        err.contains("the imported manifest has no lock")
            && err.contains("run 'rdebootstrap update' in"),
        "{err}"
    );
    ok(run(&base, &["update", "--no-cache"]));
    let err = ok(run(&app, &["update", "--no-cache"]));
    assert!(
        err.contains("wrote Manifest.amd64.lock (1 spec, 4 packages)"),
        "{err}"
    );
    let lock = std::fs::read_to_string(app.join("Manifest.amd64.lock")).unwrap();
    assert!(lock.contains("\nversion = 3\n"), "{lock}");
    assert!(
        lock.contains("\n[import]\npath = \"../base/Manifest.toml\"\nfingerprint = \"blake3-"),
        "{lock}"
    );
    // Only this manifest's archive and no local of its own.
    assert_eq!(lock.matches("[[archive]]").count(), 1, "{lock}");
    assert!(!lock.contains("[[local]]"), "{lock}");
    // The imported packages at the imported lock's versions, by their
    // origin there (archive 0, the local after it); app from this archive.
    assert!(
        lock.contains("{ name = \"tool\", version = \"1.0\", arch = \"amd64\", imported = 0,"),
        "{lock}"
    );
    assert!(
        lock.contains("{ name = \"basetool\", version = \"0.1\", arch = \"amd64\", imported = 1,"),
        "{lock}"
    );
    assert!(
        lock.contains("{ name = \"base-files\", version = \"13\", arch = \"amd64\", imported = 0,"),
        "{lock}"
    );
    assert!(
        lock.contains("{ name = \"app\", version = \"1.0\", arch = \"amd64\", archive = 0,"),
        "{lock}"
    );
    // Both artifacts named motd, the imported one marked.
    assert!(
        lock.contains("{ name = \"motd\", hash = \"blake3-")
            && lock.contains(", imported = true },"),
        "{lock}"
    );
    // The base's own lock is version 2, as before imports.
    let base_lock = std::fs::read_to_string(base.join("Manifest.amd64.lock")).unwrap();
    assert!(base_lock.contains("\nversion = 2\n"), "{base_lock}");

    let err = ok(run(
        &app,
        &[
            "build",
            "-s",
            "web",
            "-p",
            "tree",
            "--no-cache",
            "--unpack-only",
        ],
    ));
    assert!(err.contains("unpacked 4 packages into tree"), "{err}");
    let tree = app.join("tree");
    assert_eq!(
        std::fs::read(tree.join("usr/bin/tool")).unwrap(),
        b"tool 1.0\n"
    );
    assert_eq!(std::fs::read(tree.join("usr/bin/app")).unwrap(), b"app\n");
    assert_eq!(
        std::fs::read(tree.join("usr/bin/basetool")).unwrap(),
        b"basetool\n"
    );
    assert_eq!(std::fs::read(tree.join("etc/motd")).unwrap(), b"base\n");
    assert_eq!(std::fs::read(tree.join("etc/motd.app")).unwrap(), b"app\n");

    // The query verbs see the imported archives too.
    let o = run(&app, &["search", "--json", "^(tool|app)$"]);
    let found = text(&o.stdout);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(
        found.contains("\"app\"") && found.contains("\"tool\""),
        "{found}"
    );
    let o = run(&app, &["package", "--json", "tool"]);
    let versions = text(&o.stdout);
    assert!(
        versions.contains("\"1.0\"") && versions.contains("\"2.0\""),
        "{versions}"
    );

    // Layers per spec are not built across an import yet: refused.
    let err = fails(run(
        &app,
        &[
            "build",
            "-s",
            "web",
            "-o",
            "img",
            "--format",
            "oci",
            "--layers",
            "spec",
            "--no-cache",
        ],
    ));
    assert!(
        err.contains("--layers spec is not built yet for a spec extending imported specs ([import] at line 8)"),
        "{err}"
    );
    assert!(!app.join("img").exists());

    // A changed imported lock makes this lock stale until update.
    let mut changed = base_lock.clone();
    changed.push_str("# changed\n");
    std::fs::write(base.join("Manifest.amd64.lock"), changed).unwrap();
    let err = fails(run(
        &app,
        &[
            "build",
            "-s",
            "web",
            "-p",
            "tree2",
            "--no-cache",
            "--unpack-only",
        ],
    ));
    assert!(
        err.contains("records another import")
            && err.contains("the imported manifest or its lock changed; run 'rdebootstrap update'"),
        "{err}"
    );
    assert!(!app.join("tree2").exists());
    let err = fails(run(&app, &["list", "-s", "web"]));
    assert!(err.contains("run 'rdebootstrap update'"), "{err}");
    ok(run(&app, &["update", "--no-cache"]));
    ok(run(
        &app,
        &[
            "build",
            "-s",
            "web",
            "-p",
            "tree2",
            "--no-cache",
            "--unpack-only",
        ],
    ));

    // A tampered imported manifest breaks the pin, naming both files and
    // the way to re-pin.
    std::fs::write(
        base.join("Manifest.toml"),
        base_manifest.replace("\"base\\n\"", "\"evil\\n\""),
    )
    .unwrap();
    for args in [
        &["update", "--no-cache"][..],
        &[
            "build",
            "-s",
            "web",
            "-p",
            "tree3",
            "--no-cache",
            "--unpack-only",
        ][..],
    ] {
        let err = fails(run(&app, args));
        assert!(
            err.contains("Manifest.toml:")
                && err.contains("[import]: the imported manifest ")
                && err.contains(&format!("but this manifest pins {pin}"))
                && err.contains("'rdebootstrap import ../base/Manifest.toml --spec base'"),
            "{err}"
        );
    }
    assert!(!app.join("tree3").exists());

    // update --locals re-pins a changed path import, as `import` would;
    // the imported manifest's own lock must then be brought up to date
    // before this one can be.
    let err = fails(run(&app, &["update", "--locals", "--no-cache"]));
    let pin2 = blake3_sri(
        base_manifest
            .replace("\"base\\n\"", "\"evil\\n\"")
            .as_bytes(),
    );
    assert!(
        err.contains(&format!(
            "[import] ../base/Manifest.toml: hash {pin} -> {pin2}"
        )),
        "{err}"
    );
    let m = std::fs::read_to_string(app.join("Manifest.toml")).unwrap();
    assert!(
        m.starts_with("# The app image.\n") && m.contains(&format!("hash = \"{pin2}\"")),
        "{m}"
    );
    ok(run(&base, &["update", "--no-cache"]));
    let err = ok(run(&app, &["update", "--locals", "--no-cache"]));
    assert!(
        err.contains("every recorded hash is current") && err.contains("wrote"),
        "{err}"
    );
}

#[test]
fn import_and_init_import_write_the_pin() {
    let work = TempDir::new("import-edit");
    let base = work.path().join("base");
    let app = work.path().join("app");
    std::fs::create_dir_all(&base).unwrap();
    std::fs::create_dir_all(&app).unwrap();
    let base_text = "[spec.base]\ninclude = [\"bash\"]\n\n[spec.extra]\nextends = [\"base\"]\n";
    std::fs::write(base.join("Manifest.toml"), base_text).unwrap();
    let pin = blake3_sri(base_text.as_bytes());

    // init --import: [import] and a [spec] extending the exported specs.
    let err = ok(run(
        &app,
        &[
            "init",
            "--import",
            "../base/Manifest.toml",
            "--spec",
            "base",
            "-p",
            "vim",
        ],
    ));
    assert!(
        err.contains("wrote Manifest.toml; next: rdebootstrap update"),
        "{err}"
    );
    let text = std::fs::read_to_string(app.join("Manifest.toml")).unwrap();
    assert_eq!(
        text,
        format!("# Written by rdebootstrap init. Lock it with 'rdebootstrap update'.\n\n[import]\npath = \"../base/Manifest.toml\"\nhash = \"{pin}\"\nspecs = [\"base\"]\n\n[spec]\nextends = [\"base\"]\ninclude = [\"vim\"]\n")
    );
    // It loads: update gets as far as the imported lock.
    let err = fails(run(&app, &["update", "--no-cache"]));
    assert!(err.contains("the imported manifest has no lock"), "{err}");

    // import replaces [import] in place, comments kept, and re-pins.
    let edited = text.replace("[import]\n", "# the base system\n[import] # pinned\n");
    std::fs::write(app.join("Manifest.toml"), &edited).unwrap();
    let base_text2 = format!("{base_text}# changed\n");
    std::fs::write(base.join("Manifest.toml"), &base_text2).unwrap();
    let pin2 = blake3_sri(base_text2.as_bytes());
    let err = fails(run(&app, &["list"]));
    assert!(
        err.contains(&format!("but this manifest pins {pin}")),
        "{err}"
    );
    let err = ok(run(
        &app,
        &[
            "import",
            "../base/Manifest.toml",
            "--spec",
            "base",
            "--spec",
            "extra",
        ],
    ));
    assert!(
        err.contains(&format!(
            "replaced [import] of ../base/Manifest.toml ({pin2}), exporting base, extra"
        )),
        "{err}"
    );
    let text = std::fs::read_to_string(app.join("Manifest.toml")).unwrap();
    assert!(
        text.contains(&format!("# the base system\n[import] # pinned\npath = \"../base/Manifest.toml\"\nhash = \"{pin2}\"\nspecs = [\"base\", \"extra\"]\n")),
        "{text}"
    );
    assert!(
        text.starts_with("# Written by rdebootstrap init."),
        "{text}"
    );
    // Again: nothing to change.
    let err = ok(run(
        &app,
        &[
            "import",
            "../base/Manifest.toml",
            "--spec",
            "base",
            "--spec",
            "extra",
        ],
    ));
    assert!(err.contains("nothing to change"), "{err}");
    // The same manifest as a file:// URL: an absolute path, as when the
    // path is given absolute; then back.
    let abs = base.join("Manifest.toml");
    let url = format!("file://{}", abs.display());
    let err = ok(run(
        &app,
        &["import", &url, "--spec", "base", "--spec", "extra"],
    ));
    assert!(
        err.contains(&format!("replaced [import] of {} ({pin2})", abs.display())),
        "{err}"
    );
    ok(run(
        &app,
        &[
            "import",
            "../base/Manifest.toml",
            "--spec",
            "base",
            "--spec",
            "extra",
        ],
    ));

    // A spec the imported manifest does not have.
    let err = fails(run(
        &app,
        &["import", "../base/Manifest.toml", "--spec", "nosuch"],
    ));
    assert!(
        err.contains("has no named spec 'nosuch' to export (it defines: 'base', 'extra')"),
        "{err}"
    );
    // Forms that are not one of the six: refused up front with the list.
    for form in [
        "git@127.0.0.1:base.git",
        "https://127.0.0.1/base.git?rev=v1#Manifest.toml",
        "127.0.0.1/base?rev=v1#Manifest.toml",
        "git+https://127.0.0.1/base.git#Manifest.toml",
    ] {
        for args in [
            vec!["import", form, "--spec", "base"],
            vec!["init", "-m", "New.toml", "--import", form, "--spec", "base"],
        ] {
            let err = fails(run(&app, &args));
            assert!(
                err.contains(&format!("'{form}' is not an accepted import source"))
                    && err.contains("accepted: a local path to a Manifest.toml"),
                "{err}"
            );
        }
    }
    // A git URL needs the cache (git imports are tested in gitimport.rs).
    let form = "git+file:///srv/git/base.git?ref=main#Manifest.toml";
    let err = fails(run(&app, &["import", form, "--spec", "base", "--no-cache"]));
    assert!(
        err.contains("a git import is read through the cache: drop --no-cache"),
        "{err}"
    );
    // A file:// URL is a path.
    let err = fails(run(
        &app,
        &[
            "import",
            "file:///srv/nosuch/Manifest.toml",
            "--spec",
            "base",
        ],
    ));
    assert!(
        err.contains("cannot read the manifest to import, /srv/nosuch/Manifest.toml"),
        "{err}"
    );
    assert!(!app.join("New.toml").exists());
    // [import.git] in a manifest: read through the cache only.
    std::fs::write(
        app.join("Manifest.toml"),
        format!(
            "[import]\nhash = \"{pin2}\"\n\n[import.git]\nremote = \"https://127.0.0.1/base.git\"\nrev = \"{}\"\npath = \"Manifest.toml\"\n",
            "0".repeat(40)
        ),
    )
    .unwrap();
    let err = fails(run(&app, &["update", "--no-cache"]));
    assert!(
        err.contains("a git import is read through the cache: drop --no-cache"),
        "{err}"
    );
}
