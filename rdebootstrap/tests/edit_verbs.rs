//! The manifest editing verbs beyond require/forbid/remove/archive add:
//! artifact add|remove, stage and spec artifact, spec extend, spec meta,
//! edit (with EDITOR set to a small script), edit env, edit script, deb
//! add and archive remove. Each says what it changed, keeps comments,
//! leaves the file alone when it fails, and names the flag at fault.

use std::path::Path;
use std::process::{Command, Output};

use debrepo::manifest::Manifest;
use testkit::{DebBuilder, TempDir};

const MANIFEST: &str = "# my manifest\n[[archive]]\nmirror = \"debian\" # the vendor mirror\nsuites = [\"trixie\"]\ncomponents = [\"main\"]\n\n[[archive]]\nurl = \"http://127.0.0.1:9/extra/\"\nsuites = [\"stable\"]\ncomponents = [\"main\"]\n\n# the base spec\n[spec]\nvariant = \"minbase\"\n\n[spec.tools]\ninclude = [\"tar\"] # keep tar\n\n[spec.extras]\ninclude = [\"rsync\"]\n";

fn rdebootstrap(dir: &Path, args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_rdebootstrap"));
    c.args(args).current_dir(dir).env_remove("VISUAL");
    c
}

fn run(dir: &Path, args: &[&str]) -> Output {
    rdebootstrap(dir, args).output().unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Run and expect success; its standard error.
fn ok(dir: &Path, args: &[&str]) -> String {
    let o = run(dir, args);
    assert!(o.status.success(), "{args:?}: {}", text(&o.stderr));
    text(&o.stderr)
}

/// Run and expect failure with the manifest left as it was; the error.
fn fails(dir: &Path, args: &[&str]) -> String {
    let before = std::fs::read(dir.join("Manifest.toml")).unwrap();
    let o = run(dir, args);
    assert_eq!(o.status.code(), Some(1), "{args:?}: {}", text(&o.stderr));
    assert_eq!(
        std::fs::read(dir.join("Manifest.toml")).unwrap(),
        before,
        "{args:?} changed the manifest"
    );
    text(&o.stderr)
}

fn setup(tag: &str) -> TempDir {
    let d = TempDir::new(tag);
    std::fs::write(d.path().join("Manifest.toml"), MANIFEST).unwrap();
    d
}

fn manifest(dir: &Path) -> (String, Manifest) {
    let p = dir.join("Manifest.toml");
    let t = std::fs::read_to_string(&p).unwrap();
    let m = Manifest::parse(&t, &p).unwrap();
    (t, m)
}

fn blake3_sri(data: &[u8]) -> String {
    debrepo::artifact::sri_blake3(data)
}

#[test]
fn artifact_add_infers_type_name_and_hash() {
    let d = setup("edit-artifacts");
    let p = d.path();
    std::fs::create_dir_all(p.join("files/etc")).unwrap();
    std::fs::write(p.join("files/app.conf"), "key=1\n").unwrap();
    std::fs::write(p.join("files/etc/a"), "a\n").unwrap();
    std::fs::write(p.join("files/root.tar.gz"), b"not really").unwrap();
    std::fs::write(p.join("motd"), "Welcome\nto the tree\n").unwrap();

    let e = ok(p, &["artifact", "add", "files/app.conf", "/etc/app.conf"]);
    assert!(
        e.contains("added file artifact 'app.conf' (files/app.conf to /etc/app.conf)"),
        "{e}"
    );
    ok(p, &["artifact", "add", "files/etc", "/etc/"]);
    ok(
        p,
        &["artifact", "add", "--no-unpack", "files/root.tar.gz", "/"],
    );
    ok(
        p,
        &["artifact", "add", "--name", "welcome", "@motd", "/etc/motd"],
    );
    let (t, m) = manifest(p);
    assert!(
        t.contains("# my manifest") && t.contains("# keep tar"),
        "{t}"
    );
    use debrepo::manifest::ArtifactKind::*;
    let a = &m.artifacts["app.conf"];
    assert_eq!((a.kind, a.target.as_str()), (File, "/etc/app.conf"));
    assert_eq!(a.hash.as_deref(), Some(blake3_sri(b"key=1\n").as_str()));
    assert_eq!(m.artifacts["etc"].kind, Dir);
    assert!(m.artifacts["etc"]
        .hash
        .as_deref()
        .is_some_and(|h| h.starts_with("blake3-")));
    let tar = &m.artifacts["root.tar.gz"];
    assert_eq!((tar.kind, tar.unpack), (Tar, false));
    let w = &m.artifacts["welcome"];
    assert_eq!(
        (w.kind, w.text.as_deref(), w.hash.as_deref()),
        (Text, Some("Welcome\nto the tree\n"), None)
    );

    // The same again changes nothing; a changed file changes the hash.
    let e = ok(p, &["artifact", "add", "files/app.conf", "/etc/app.conf"]);
    assert!(e.contains("nothing to change"), "{e}");
    std::fs::write(p.join("files/app.conf"), "key=2\n").unwrap();
    let e = ok(p, &["artifact", "add", "files/app.conf", "/etc/app.conf"]);
    assert!(e.contains("changed the hash of artifact 'app.conf'"), "{e}");
    // The name taken from another source: refused, naming --name.
    std::fs::create_dir_all(p.join("other")).unwrap();
    std::fs::write(p.join("other/app.conf"), "x").unwrap();
    let e = fails(p, &["artifact", "add", "other/app.conf", "/etc/app.conf"]);
    assert!(
        e.contains("--name") && e.contains("has an artifact 'app.conf'"),
        "{e}"
    );
    // Errors name the argument.
    let e = fails(p, &["artifact", "add", "nosuch", "/x"]);
    assert!(e.contains("SOURCE nosuch: cannot read it"), "{e}");
    let e = fails(
        p,
        &["artifact", "add", "--type", "dir", "files/app.conf", "/x"],
    );
    assert!(e.contains("--type dir"), "{e}");
    let e = fails(p, &["artifact", "add", "ftp://host/x", "/x"]);
    assert!(e.contains("SOURCE ftp://host/x"), "{e}");
    // -q silences.
    std::fs::write(p.join("quiet.txt"), "q").unwrap();
    let o = run(p, &["-q", "artifact", "add", "quiet.txt", "/q"]);
    assert!(
        o.status.success() && o.stderr.is_empty(),
        "{}",
        text(&o.stderr)
    );
}

#[test]
fn artifact_add_from_a_url_hashes_what_it_serves() {
    let d = setup("edit-artifact-url");
    let p = d.path();
    let served = TempDir::new("edit-artifact-served");
    std::fs::write(served.path().join("tool.tar.xz"), b"tarball bytes").unwrap();
    let server = testkit::http::Server::serve_dir(served.path());
    let url = format!("{}/tool.tar.xz", server.url());
    let e = ok(p, &["--no-cache", "artifact", "add", &url, "/opt/tool/"]);
    assert!(e.contains("added tar artifact 'tool.tar.xz'"), "{e}");
    let (_, m) = manifest(p);
    let a = &m.artifacts["tool.tar.xz"];
    assert_eq!(a.source.as_deref(), Some(url.as_str()));
    assert_eq!(
        a.hash.as_deref(),
        Some(blake3_sri(b"tarball bytes").as_str())
    );
    let e = fails(
        p,
        &[
            "--no-cache",
            "artifact",
            "add",
            &format!("{}/missing", server.url()),
            "/x",
        ],
    );
    assert!(e.contains("cannot fetch it"), "{e}");
}

#[test]
fn staging_and_removing_artifacts() {
    let d = setup("edit-stage");
    let p = d.path();
    std::fs::write(p.join("a.conf"), "a").unwrap();
    ok(p, &["artifact", "add", "a.conf", "/etc/a.conf"]);
    let e = ok(p, &["stage", "-s", "tools", "a.conf"]);
    assert!(e.contains("staged 'a.conf' in [spec.tools]"), "{e}");
    let e = ok(p, &["spec", "artifact", "add", "-s", "tools", "a.conf"]);
    assert!(e.contains("nothing to change"), "{e}");
    assert_eq!(manifest(p).1.specs["tools"].stage, ["a.conf"]);
    let e = fails(p, &["stage", "-s", "tools", "nosuch"]);
    assert!(e.contains("NAME nosuch: no artifact 'nosuch'"), "{e}");
    let e = fails(p, &["stage", "-s", "nosuch", "a.conf"]);
    assert!(e.contains("-s nosuch: no spec"), "{e}");
    // A staged artifact stays until unstaged.
    let e = fails(p, &["artifact", "remove", "a.conf"]);
    assert!(
        e.contains("staged by [spec.tools]") && e.contains("spec artifact remove -s tools a.conf"),
        "{e}"
    );
    let e = ok(p, &["spec", "artifact", "remove", "-s", "tools", "a.conf"]);
    assert!(e.contains("unstaged 'a.conf' from [spec.tools]"), "{e}");
    let e = ok(p, &["artifact", "remove", "a.conf"]);
    assert!(e.contains("removed artifact 'a.conf'"), "{e}");
    let (t, m) = manifest(p);
    assert!(m.artifacts.is_empty() && !t.contains("stage"), "{t}");
    let e = fails(p, &["artifact", "remove", "a.conf"]);
    assert!(e.contains("NAME a.conf: no artifact"), "{e}");
}

#[test]
fn spec_extend_and_meta() {
    let d = setup("edit-extend");
    let p = d.path();
    let e = ok(p, &["spec", "extend", "-s", "extras", "tools"]);
    assert!(e.contains("[spec.extras] extends tools now"), "{e}");
    assert!(manifest(p).0.contains("extends = \"tools\""));
    let e = fails(p, &["spec", "extend", "-s", "tools", "--add", "extras"]);
    assert!(e.contains("--add") && e.contains("cycle"), "{e}");
    let e = fails(p, &["spec", "extend", "-s", "extras", "--add", "nosuch"]);
    assert!(e.contains("--add nosuch: no spec"), "{e}");
    let e = fails(p, &["spec", "extend", "-s", "nosuch", "--clear"]);
    assert!(e.contains("-s nosuch"), "{e}");
    ok(p, &["require", "-s", "web", "nginx"]);
    ok(
        p,
        &[
            "spec", "extend", "-s", "web", "--add", "tools", "--add", "extras",
        ],
    );
    assert_eq!(manifest(p).1.specs["web"].extends, ["tools", "extras"]);
    let e = ok(p, &["spec", "extend", "-s", "web", "--remove", "tools"]);
    assert!(e.contains("extends extras now (was tools, extras)"), "{e}");
    let e = ok(p, &["spec", "extend", "-s", "web", "--clear"]);
    assert!(e.contains("extends no spec now"), "{e}");
    assert!(manifest(p).1.specs["web"].extends.is_empty());
    // Exactly one way of saying it.
    let o = run(p, &["spec", "extend", "-s", "web"]);
    assert_eq!(o.status.code(), Some(2));

    let e = ok(
        p,
        &["spec", "meta", "set", "-s", "tools", "apt-lists", "stage"],
    );
    assert!(
        e.contains("set meta apt-lists:stage in [spec.tools]"),
        "{e}"
    );
    let e = ok(
        p,
        &["spec", "meta", "set", "-s", "tools", "apt-lists:stage"],
    );
    assert!(e.contains("nothing to change"), "{e}");
    assert_eq!(manifest(p).1.specs["tools"].meta, ["apt-lists:stage"]);
    let e = fails(p, &["spec", "meta", "set", "-s", "tools", "bad key"]);
    assert!(e.contains("KEY: meta key 'bad key'"), "{e}");
    let e = ok(p, &["spec", "meta", "unset", "-s", "tools", "apt-lists"]);
    assert!(
        e.contains("removed meta apt-lists:stage from [spec.tools]"),
        "{e}"
    );
    assert!(manifest(p).1.specs["tools"].meta.is_empty());
}

/// An executable script in `dir` for EDITOR.
fn editor(dir: &Path, name: &str, body: &str) -> String {
    use std::os::unix::fs::PermissionsExt as _;
    let f = dir.join(name);
    std::fs::write(&f, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o755)).unwrap();
    f.display().to_string()
}

fn with_editor(dir: &Path, ed: &str, args: &[&str]) -> Output {
    rdebootstrap(dir, args).env("EDITOR", ed).output().unwrap()
}

#[test]
fn edit_checks_the_result_and_keeps_the_old_file() {
    let d = setup("edit-editor");
    let p = d.path();
    let good = editor(p, "good.sh", "sed -i 's/rsync/rsync\", \"less/' \"$1\"");
    let o = with_editor(p, &good, &["edit"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(text(&o.stderr).contains("wrote Manifest.toml"));
    assert_eq!(manifest(p).1.specs["extras"].include, ["rsync", "less"]);

    let before = std::fs::read(p.join("Manifest.toml")).unwrap();
    let bad = editor(p, "bad.sh", "echo 'nonsense = 1' >> \"$1\"");
    let o = with_editor(p, &bad, &["edit"]);
    assert_eq!(o.status.code(), Some(1));
    let err = text(&o.stderr);
    assert!(
        err.contains("the manifest is unchanged") && err.contains("unknown key 'nonsense'"),
        "{err}"
    );
    assert_eq!(std::fs::read(p.join("Manifest.toml")).unwrap(), before);
    // The rejected text is kept where the error says.
    let kept = err
        .split("kept in ")
        .nth(1)
        .and_then(|r| r.lines().next())
        .unwrap()
        .trim();
    assert!(std::fs::read_to_string(kept)
        .unwrap()
        .contains("nonsense = 1"));
    std::fs::remove_file(kept).unwrap();

    let o = with_editor(p, "true", &["edit"]);
    assert!(text(&o.stderr).contains("nothing to change"));
    let o = with_editor(p, "false", &["edit"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o.stderr).contains("the manifest is unchanged"));
    // A manifest that does not parse can be mended with edit.
    std::fs::write(p.join("Manifest.toml"), "[spec]\nbroken = 1\n").unwrap();
    let mend = editor(
        p,
        "mend.sh",
        "sed -i 's/^broken = 1$/include = [\"vim\"]/' \"$1\"",
    );
    let o = with_editor(p, &mend, &["edit"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert_eq!(manifest(p).1.specs[""].include, ["vim"]);
    // VISUAL when EDITOR is not set.
    let o = rdebootstrap(p, &["edit"])
        .env_remove("EDITOR")
        .env("VISUAL", &good)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o.stderr));
}

#[test]
fn edit_env_and_script() {
    let d = setup("edit-env");
    let p = d.path();
    let add = editor(
        p,
        "env.sh",
        "printf 'LANG=C.UTF-8\\nOPTS=a b=c\\n' >> \"$1\"",
    );
    let o = with_editor(p, &add, &["edit", "env", "-s", "tools"]);
    let e = text(&o.stderr);
    assert!(o.status.success(), "{e}");
    assert!(
        e.contains("set LANG=C.UTF-8 in the build-env of [spec.tools]"),
        "{e}"
    );
    let env = manifest(p).1.specs["tools"].build_env.clone();
    assert_eq!(env["OPTS"], "a b=c");
    // The editor sees the current values; dropping a line drops the key.
    let drop = editor(
        p,
        "drop.sh",
        "grep -q '^OPTS=a b=c$' \"$1\" && sed -i '/^OPTS=/d' \"$1\"",
    );
    let o = with_editor(p, &drop, &["edit", "env", "-s", "tools"]);
    assert!(
        text(&o.stderr).contains("removed OPTS from the build-env"),
        "{}",
        text(&o.stderr)
    );
    let before = std::fs::read(p.join("Manifest.toml")).unwrap();
    let bad = editor(p, "badenv.sh", "echo 'no equals sign' >> \"$1\"");
    let o = with_editor(p, &bad, &["edit", "env", "-s", "tools"]);
    assert_eq!(o.status.code(), Some(1));
    let err = text(&o.stderr);
    assert!(err.contains("is not KEY=VALUE"), "{err}");
    assert_eq!(std::fs::read(p.join("Manifest.toml")).unwrap(), before);
    if let Some(kept) = err.split("kept in ").nth(1).and_then(|r| r.lines().next()) {
        let _ = std::fs::remove_file(kept.trim());
    }
    let o = with_editor(p, "true", &["edit", "env", "-s", "nosuch"]);
    assert!(text(&o.stderr).contains("-s nosuch"), "{}", text(&o.stderr));

    let script = editor(
        p,
        "script.sh",
        "printf 'set -e\\necho hi > /etc/hi\\n' > \"$1\"",
    );
    let o = with_editor(p, &script, &["edit", "script", "-s", "extras"]);
    assert!(text(&o.stderr).contains("added a build-script to [spec.extras]"));
    let (t, m) = manifest(p);
    assert_eq!(
        m.specs["extras"].build_script.as_deref(),
        Some("set -e\necho hi > /etc/hi\n")
    );
    assert!(t.contains("build-script = '''\nset -e\n"), "{t}");
    let empty = editor(p, "empty.sh", ": > \"$1\"");
    let o = with_editor(p, &empty, &["edit", "script", "-s", "extras"]);
    assert!(text(&o.stderr).contains("removed the build-script"));
    assert!(manifest(p).1.specs["extras"].build_script.is_none());
}

#[test]
fn deb_add_and_archive_remove() {
    let d = setup("edit-deb");
    let p = d.path();
    std::fs::create_dir_all(p.join("debs")).unwrap();
    let deb = DebBuilder::new("hello", "1.0-1", "amd64").write_to(&p.join("debs"), "hello");
    // A symbolic link is recorded as the link.
    std::os::unix::fs::symlink("hello.deb", p.join("debs/current.deb")).unwrap();
    let e = ok(p, &["deb", "add", "debs/current.deb"]);
    assert!(e.contains("added local debs/current.deb"), "{e}");
    std::fs::write(p.join("Manifest.toml"), MANIFEST).unwrap();
    let bytes = std::fs::read(&deb).unwrap();
    // Given by an absolute path inside the manifest's folder: recorded
    // relative to it.
    let e = ok(p, &["deb", "add", &deb.display().to_string()]);
    assert!(
        e.contains("added local debs/hello.deb") && e.contains("hello 1.0-1"),
        "{e}"
    );
    let (_, m) = manifest(p);
    assert_eq!(m.locals[0].path, Path::new("debs/hello.deb"));
    assert_eq!(
        m.locals[0].hash.as_deref(),
        Some(debrepo::manifest::edit::local_deb_hash(&bytes).as_str())
    );
    assert!(m.locals[0].hash.as_deref().unwrap().starts_with("sha256-"));
    let e = ok(p, &["deb", "add", "debs/hello.deb"]);
    assert!(e.contains("nothing to change"), "{e}");
    std::fs::write(p.join("debs/junk.deb"), "junk").unwrap();
    let e = fails(p, &["deb", "add", "debs/junk.deb"]);
    assert!(e.contains("PATH debs/junk.deb: not a .deb"), "{e}");
    // A manifest elsewhere: the path is relative to its folder.
    std::fs::create_dir_all(p.join("sub")).unwrap();
    std::fs::write(p.join("sub/Manifest.toml"), MANIFEST).unwrap();
    ok(
        p,
        &["-m", "sub/Manifest.toml", "deb", "add", "debs/hello.deb"],
    );
    let t = std::fs::read_to_string(p.join("sub/Manifest.toml")).unwrap();
    assert!(t.contains("path = \"../debs/hello.deb\""), "{t}");

    let e = ok(p, &["archive", "remove", "http://127.0.0.1:9/extra"]);
    assert!(
        e.contains("removed archive http://127.0.0.1:9/extra/ (suites stable)"),
        "{e}"
    );
    let (t, m) = manifest(p);
    assert_eq!(m.archives.len(), 1);
    assert!(t.contains("# the vendor mirror"), "{t}");
    let e = fails(p, &["archive", "remove", "http://127.0.0.1:9/extra"]);
    assert!(
        e.contains("URL http://127.0.0.1:9/extra: no archive"),
        "{e}"
    );
    let e = ok(p, &["archive", "remove", "debian"]);
    assert!(e.contains("removed archive mirror debian"), "{e}");
}

#[test]
fn help_of_the_verbs_is_tidy() {
    let d = TempDir::new("edit-help");
    for cmd in [
        &["artifact", "add"][..],
        &["artifact", "remove"],
        &["stage"],
        &["spec", "artifact", "add"],
        &["spec", "artifact", "remove"],
        &["spec", "extend"],
        &["spec", "meta", "set"],
        &["spec", "meta", "unset"],
        &["edit"],
        &["edit", "env"],
        &["edit", "script"],
        &["deb", "add"],
        &["archive", "remove"],
    ] {
        let o = run(d.path(), &[cmd, &["--help"]].concat());
        assert!(o.status.success(), "{cmd:?}");
        let help = text(&o.stdout);
        assert!(!help.contains("[default: \"\"]"), "{cmd:?}: {help}");
    }
}

/// What artifact add writes (a manifest in another folder than the current
/// one: paths recorded relative to it) is what the artifact staging code
/// accepts: each source found and its hash matching.
#[test]
fn added_artifacts_check_as_update_checks_them() {
    let d = TempDir::new("edit-artifact-check");
    let p = d.path();
    std::fs::create_dir_all(p.join("project")).unwrap();
    std::fs::write(p.join("project/Manifest.toml"), MANIFEST).unwrap();
    std::fs::create_dir_all(p.join("files/tree/sub")).unwrap();
    std::fs::write(p.join("files/app.conf"), "key=1\n").unwrap();
    std::fs::write(p.join("files/tree/sub/x"), "x\n").unwrap();
    std::fs::write(p.join("files/issue"), "Debian\n").unwrap();
    let m = ["-m", "project/Manifest.toml"];
    ok(
        p,
        &[&m[..], &["artifact", "add", "files/app.conf", "/etc/"]].concat(),
    );
    ok(
        p,
        &[&m[..], &["artifact", "add", "files/tree", "/opt/tree"]].concat(),
    );
    ok(
        p,
        &[&m[..], &["artifact", "add", "@files/issue", "/etc/issue"]].concat(),
    );
    ok(
        p,
        &[
            &m[..],
            &["stage", "-s", "tools", "app.conf", "tree", "issue"],
        ]
        .concat(),
    );
    let path = p.join("project/Manifest.toml");
    let manifest = Manifest::load(&path).unwrap();
    assert_eq!(
        manifest.artifacts["app.conf"].source.as_deref(),
        Some("../files/app.conf")
    );
    let transport =
        debrepo::transport::Transport::new(debrepo::transport::TransportOptions::default())
            .unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let records = runtime
        .block_on(debrepo::artifact::lock_records(&manifest, &transport))
        .unwrap();
    let names: Vec<&str> = records["tools"].iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, ["app.conf", "tree", "issue"]);
    for r in &records["tools"] {
        if let Some(h) = &manifest.artifacts[&r.name].hash {
            assert_eq!(&r.hash, h, "{}", r.name);
        }
    }
}
