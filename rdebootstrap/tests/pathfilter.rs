//! Path filters end to end on real Debian data (opt-in:
//! RDEBOOTSTRAP_E2E=1, as root; `.ci/run` sets it): trixie minbase with
//! `path-filters = ["docs"]` from the loopback partial mirror (see
//! [`testkit::mirror`]).
//!
//! - Adding the filters stales the lock; after `update` the build leaves
//!   under `/usr/share/doc` only the copyright files, the package
//!   directories and the symlinks dpkg keeps for them, and nothing under
//!   `/usr/share/info`; the filters are in the tree's dpkg configuration.
//! - `dpkg --verify` in the tree reports nothing but the files the filters
//!   left out (as `missing`: dpkg lists them in the package's `.list` and
//!   `md5sums`, and its verify does not consult the filters), and exactly
//!   what it reports in `mmdebstrap --variant=minbase` with the same rules
//!   as `--dpkgopt`s, whose `/usr/share/doc` and `/usr/share/info` hold the
//!   same paths as ours and whose `dpkg.cfg.d` has the same rules.
//! - `apt-get install hello` in the tree (its sources staged with
//!   `meta = ["apt-lists:stage"]`) filters hello's documentation too.

use crate::common;

use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Command, Output};

use crate::common::test_mirror;
use debrepo::pathfilter::{Preset, CONFIG_PATH};

/// Opted in, with what the tests need: else skipped (a failure under CI
/// or RDEBOOTSTRAP_E2E, which promise them).
fn enabled(what: &str) -> bool {
    common::e2e(what)
        && testkit::require(common::is_root(), "root (building trees as root)")
        && testkit::require(common::works("mmdebstrap", "--version"), "mmdebstrap")
}

fn run(dir: &Path, args: &[&str]) -> Output {
    Command::new(common::exe())
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap()
}

fn rdeb(dir: &Path, args: &[&str]) -> String {
    let o = run(dir, args);
    assert!(
        o.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// `dpkg --verify` in a tree, through chroot, its lines sorted.
fn verify(tree: &Path) -> Vec<String> {
    let o = Command::new("chroot")
        .arg(tree)
        .args(["dpkg", "--verify"])
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "dpkg --verify: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let mut lines: Vec<String> = String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(str::to_owned)
        .collect();
    lines.sort();
    lines
}

/// What the docs preset leaves out: a file under /usr/share/doc other
/// than a copyright file, or anything under /usr/share/info.
fn filtered_doc(path: &str) -> bool {
    (path.starts_with("/usr/share/doc/") && !path.ends_with("/copyright"))
        || path.starts_with("/usr/share/info/")
}

/// Every line is a `missing` file the docs preset leaves out.
fn only_filtered(lines: &[String]) {
    for l in lines {
        let path = l.strip_prefix("missing     ").unwrap_or_else(|| {
            panic!("dpkg --verify reports more than filtered files: {l:?}\n{lines:#?}")
        });
        assert!(filtered_doc(path), "missing but not filtered: {l:?}");
    }
}

/// Paths (relative, `/`-joined) under `dir` of `tree`, each with its type.
fn walk(tree: &Path, dir: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut stack = vec![tree.join(dir)];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd {
            let p = e.unwrap().path();
            let rel = p.strip_prefix(tree).unwrap().display().to_string();
            let m = std::fs::symlink_metadata(&p).unwrap();
            let kind = if m.is_dir() {
                stack.push(p.clone());
                "dir".to_owned()
            } else if m.file_type().is_symlink() {
                format!("-> {}", std::fs::read_link(&p).unwrap().display())
            } else {
                "file".to_owned()
            };
            out.insert(format!("{rel} {kind}"));
        }
    }
    out
}

/// Hermetic: `build --unpack-only` of synthetic packages from a signed
/// loopback archive applies the manifest's filters (preset first, then the
/// spec's own) and writes them into the tree; an unknown preset is refused
/// naming its line.
#[test]
fn build_applies_the_manifests_filters() {
    use testkit::archive::{Served, SuiteBuilder};
    use testkit::DebBuilder;
    let Some(site) = Served::start(
        "pathfilter-site",
        SuiteBuilder::new("trixie")
            .package(
                DebBuilder::new("base-files", "13", "amd64")
                    .field("Essential", "yes")
                    .field("Priority", "required")
                    .dir("./usr/")
                    .dir("./usr/share/")
                    .dir("./usr/share/doc/")
                    .dir("./usr/share/doc/base-files/")
                    .file("./usr/share/doc/base-files/copyright", "c\n")
                    .file("./usr/share/doc/base-files/README", "r\n"),
            )
            .package(
                DebBuilder::new("docpkg", "1.0", "amd64")
                    .dir("./usr/")
                    .dir("./usr/share/")
                    .dir("./usr/share/man/")
                    .dir("./usr/share/man/man1/")
                    .file("./usr/share/man/man1/docpkg.1.gz", "m")
                    .dir("./usr/share/info/")
                    .file("./usr/share/info/docpkg.info.gz", "i")
                    .dir("./usr/share/doc/")
                    .dir("./usr/share/doc/docpkg/")
                    .file("./usr/share/doc/docpkg/copyright", "c\n")
                    .file("./usr/share/doc/docpkg/NEWS", "n\n"),
            ),
    ) else {
        return;
    };
    let work = testkit::TempDir::new("pathfilter-build");
    let d = work.path();
    site.write_keyring(&d.join("archive.gpg"));
    let manifest = |filters: &str| {
        format!(
            "[[archive]]\nurl = \"{}\"\nsuites = [\"trixie\"]\ncomponents = [\"main\"]\nsigned-by = \"archive.gpg\"\n\n[spec]\nvariant = \"essential\"\ninclude = [\"docpkg\"]\n{filters}",
            site.url()
        )
    };
    let m = d.join("Manifest.toml");
    std::fs::write(&m, manifest("path-filters = [\"docs\", \"manuals\"]\n")).unwrap();
    let o = run(d, &["update", "--no-cache", "--arch", "amd64"]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        !o.status.success() && err.contains("Manifest.toml:10:25:") && err.contains("'manuals'"),
        "{err}"
    );
    std::fs::write(
        &m,
        manifest(
            "path-filters = [\"docs\"]\npath-exclude = [\"/usr/share/man/*\"]\npath-include = [\"/usr/share/doc/*/NEWS\"]\n",
        ),
    )
    .unwrap();
    rdeb(d, &["update", "--no-cache", "--arch", "amd64"]);
    rdeb(
        d,
        &[
            "build",
            "-q",
            "--arch",
            "amd64",
            "--no-cache",
            "--unpack-only",
            "-p",
            "tree",
        ],
    );
    let tree = d.join("tree");
    let exists = |p: &str| std::fs::symlink_metadata(tree.join(p)).is_ok();
    for p in [
        "usr/share/doc/base-files/copyright",
        "usr/share/doc/docpkg/copyright",
        "usr/share/doc/docpkg/NEWS",
        "usr/share/man",
        "usr/share/info",
    ] {
        assert!(exists(p), "{p} is missing");
    }
    for p in [
        "usr/share/doc/base-files/README",
        "usr/share/man/man1",
        "usr/share/info/docpkg.info.gz",
    ] {
        assert!(!exists(p), "{p} is not filtered");
    }
    let config = std::fs::read_to_string(tree.join(CONFIG_PATH)).unwrap();
    let rules: Vec<&str> = config.lines().filter(|l| !l.starts_with('#')).collect();
    assert_eq!(
        rules,
        [
            "path-exclude=/usr/share/doc/*",
            "path-include=/usr/share/doc/*/copyright",
            "path-exclude=/usr/share/info/*",
            "path-exclude=/usr/share/man/*",
            "path-include=/usr/share/doc/*/NEWS",
        ]
    );
    let list = std::fs::read_to_string(tree.join("var/lib/dpkg/info/docpkg.list")).unwrap();
    assert!(
        list.contains("/usr/share/man/man1/docpkg.1.gz\n"),
        "dpkg lists what it filtered: {list}"
    );
}

#[test]
fn docs_filtered_trixie_minbase() {
    if !enabled("docs_filtered_trixie_minbase") {
        return;
    }
    let m = test_mirror();
    let work = testkit::TempDir::new("pathfilter-e2e");
    let d = work.path();
    std::fs::set_permissions(d, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    rdeb(
        d,
        &[
            "init",
            "--url",
            &m,
            "--suite",
            "trixie",
            "--components",
            "main",
            "--signed-by",
            "/usr/share/keyrings/debian-archive-keyring.gpg",
        ],
    );
    let cache = d.join("cache").display().to_string();
    let update = ["update", "-q", "--arch", "amd64", "--cache-dir", &cache];
    rdeb(d, &update);
    let lock = d.join("Manifest.amd64.lock");
    let before = std::fs::read_to_string(&lock).unwrap();

    // The filters stale the lock.
    let manifest = d.join("Manifest.toml");
    let text = std::fs::read_to_string(&manifest).unwrap();
    assert!(
        text.contains("[spec]\n") && !text.contains("meta ="),
        "{text}"
    );
    std::fs::write(
        &manifest,
        text.replace(
            "[spec]\n",
            "[spec]\npath-filters = [\"docs\"]\nmeta = [\"apt-lists:stage\"]\n",
        ),
    )
    .unwrap();
    let build = [
        "build",
        "-q",
        "--arch",
        "amd64",
        "--cache-dir",
        &cache,
        "-p",
        "tree",
    ];
    let stale = run(d, &build);
    assert!(
        !stale.status.success() && String::from_utf8_lossy(&stale.stderr).contains("out of date"),
        "{}",
        String::from_utf8_lossy(&stale.stderr)
    );
    rdeb(d, &update);
    assert_ne!(std::fs::read_to_string(&lock).unwrap(), before);
    rdeb(d, &build);
    let tree = d.join("tree");

    // The configuration dpkg and apt read inside.
    let config = std::fs::read_to_string(tree.join(CONFIG_PATH)).unwrap();
    let rules: Vec<String> = Preset::Docs
        .rules()
        .iter()
        .map(|r| format!("{}={}", r.action.option(), r.pattern))
        .collect();
    let written: Vec<&str> = config.lines().filter(|l| !l.starts_with('#')).collect();
    assert_eq!(written, rules);

    // Under /usr/share/doc: directories, the copyright files, and the
    // symlinks dpkg keeps (an include's prefix covers them).
    let docs = walk(&tree, "usr/share/doc");
    let mut copyrights = 0;
    for e in &docs {
        let (path, kind) = e.split_once(' ').unwrap();
        match kind {
            "dir" => {}
            "file" => {
                assert!(path.ends_with("/copyright"), "{path} is not filtered");
                copyrights += 1;
            }
            // dpkg keeps every symlink the include's prefix covers,
            // dangling ones too (`base-files/FAQ -> README`).
            _ => assert!(kind.starts_with("-> "), "{e}"),
        }
    }
    assert!(copyrights > 50, "{copyrights} copyright files");
    for p in [
        "usr/share/doc/dpkg/copyright",
        "usr/share/doc/apt/copyright",
    ] {
        assert!(tree.join(p).is_file(), "{p}");
    }
    assert!(!tree.join("usr/share/doc/apt/changelog.gz").exists());
    let info = walk(&tree, "usr/share/info");
    // Only directories, and the index install-info makes (no package
    // ships it).
    assert!(
        info.iter()
            .all(|e| e.ends_with(" dir") || e == "usr/share/info/dir file"),
        "{info:#?}"
    );

    // dpkg --verify: only the filtered files, as missing.
    let ours = verify(&tree);
    assert!(ours.len() > 100, "{} lines", ours.len());
    only_filtered(&ours);

    // mmdebstrap with the same rules: the same documentation paths and
    // the same report.
    let mm = d.join("mmdebstrap");
    let mut cmd = Command::new("mmdebstrap");
    cmd.arg("--variant=minbase");
    for r in &rules {
        cmd.arg(format!("--dpkgopt={r}"));
    }
    let o = cmd
        .arg("trixie")
        .arg(&mm)
        .arg(format!("deb {m} trixie main"))
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "mmdebstrap: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let theirs_config =
        std::fs::read_to_string(mm.join("etc/dpkg/dpkg.cfg.d/99mmdebstrap")).unwrap();
    let theirs_rules: Vec<&str> = theirs_config
        .lines()
        .filter(|l| l.starts_with("path-"))
        .collect();
    assert_eq!(theirs_rules, rules);
    for dir in ["usr/share/doc", "usr/share/info"] {
        let (a, b) = (walk(&mm, dir), walk(&tree, dir));
        let only_mm: Vec<_> = a.difference(&b).collect();
        let only_ours: Vec<_> = b.difference(&a).collect();
        assert!(
            only_mm.is_empty() && only_ours.is_empty(),
            "{dir}: mmdebstrap only: {only_mm:#?}\nours only: {only_ours:#?}"
        );
    }
    assert_eq!(verify(&mm), ours, "dpkg --verify: mmdebstrap's, ours");

    // apt-get install in the tree filters too.
    assert!(
        !tree.join("usr/bin/hello").exists(),
        "hello is not in minbase"
    );
    rdeb(
        d,
        &[
            "run",
            "--network",
            "-p",
            "tree",
            "--",
            "apt-get",
            "install",
            "-y",
            "-q",
            "hello",
        ],
    );
    assert!(tree.join("usr/bin/hello").is_file());
    assert!(tree.join("usr/share/doc/hello/copyright").is_file());
    let hello_docs: Vec<_> = walk(&tree, "usr/share/doc/hello").into_iter().collect();
    assert_eq!(hello_docs, ["usr/share/doc/hello/copyright file"]);
    assert!(!tree.join("usr/share/info/hello.info.gz").exists());
    let list = std::fs::read_to_string(tree.join("var/lib/dpkg/info/hello.list")).unwrap();
    assert!(list.contains("/usr/share/info/hello.info.gz\n"), "{list}");
    only_filtered(&verify(&tree));
}
