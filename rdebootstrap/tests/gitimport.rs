//! Git imports over `git+file://`: a locked base manifest (a signed
//! loopback archive, a local .deb, a file artifact) committed to a bare
//! repository made here, imported by a downstream manifest with its own
//! archive; `import`, `init --import`, `update`, `build --unpack-only`,
//! `update --locals` after the branch moves, and a tampered pin; the
//! same over a git smart-HTTP server on loopback HTTPS with a token; and
//! (opt-in, RDEBOOTSTRAP_E2E, as root) a real trixie minbase imported that
//! way and built into a working tree.

use crate::common;

use std::path::Path;
use std::process::{Command, Output};

use testkit::archive::{Served, SuiteBuilder};
use testkit::{DebBuilder, TempDir};

fn run(dir: &Path, cache: &Path, args: &[&str]) -> Output {
    Command::new(common::exe())
        .args(args)
        .args(["--arch", "amd64", "--cache-dir"])
        .arg(cache)
        .current_dir(dir)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
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

/// Run git in `dir` without the user's configuration; its output.
fn git(dir: &Path, args: &[&str]) -> String {
    let o = Command::new("git")
        .args([
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@127.0.0.1",
            "-c",
            "init.defaultBranch=main",
        ])
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .output()
        .unwrap();
    assert!(o.status.success(), "git {args:?}: {}", text(&o.stderr));
    text(&o.stdout).trim().to_owned()
}

fn has_git() -> bool {
    Command::new("git")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

#[test]
fn a_downstream_manifest_builds_on_a_git_import() {
    if !testkit::require(has_git(), "git") {
        return;
    }
    let Some(base_site) = Served::start(
        "gitimport-base-site",
        SuiteBuilder::new("trixie")
            .package(
                DebBuilder::new("base-files", "13", "amd64")
                    .field("Essential", "yes")
                    .field("Priority", "required")
                    .dir("./etc/")
                    .file("./etc/issue", "Test\n"),
            )
            .package(
                DebBuilder::new("tool", "1.0", "amd64")
                    .dir("./usr/")
                    .dir("./usr/bin/")
                    .file_mode("./usr/bin/tool", 0o755, "tool 1.0\n"),
            ),
    ) else {
        return;
    };
    let Some(app_site) = Served::start(
        "gitimport-app-site",
        SuiteBuilder::new("trixie").package(
            DebBuilder::new("app", "1.0", "amd64")
                .field("Depends", "tool")
                .dir("./usr/")
                .dir("./usr/bin/")
                .file_mode("./usr/bin/app", 0o755, "app\n"),
        ),
    ) else {
        return;
    };
    let work = TempDir::new("gitimport-work");
    let cache = work.path().join("cache");
    let upstream = work.path().join("upstream.git");
    let base = work.path().join("base");
    let app = work.path().join("app");
    std::fs::create_dir_all(base.join("system/debs")).unwrap();
    std::fs::create_dir_all(base.join("system/files")).unwrap();
    std::fs::create_dir_all(&app).unwrap();
    std::fs::create_dir_all(&cache).unwrap();
    git(work.path(), &["init", "--quiet", "--bare", "upstream.git"]);
    // Serve blobs on demand, so the clone is a partial one.
    git(&upstream, &["config", "uploadpack.allowFilter", "true"]);
    git(
        &upstream,
        &["config", "uploadpack.allowAnySHA1InWant", "true"],
    );
    git(&base, &["init", "--quiet"]);
    let sys = base.join("system");
    base_site.write_keyring(&sys.join("archive.gpg"));
    app_site.write_keyring(&app.join("archive.gpg"));
    DebBuilder::new("basetool", "0.1", "amd64")
        .dir("./usr/")
        .dir("./usr/bin/")
        .file_mode("./usr/bin/basetool", 0o755, "basetool\n")
        .write_to(&sys.join("debs"), "basetool");
    std::fs::write(sys.join("files/motd"), "base\n").unwrap();
    // A file the manifest does not name: never extracted.
    std::fs::write(base.join("README"), "not imported\n").unwrap();
    let base_manifest = |extra: &str| {
        format!(
            "[[archive]]\nurl = \"{}\"\nsuites = [\"trixie\"]\ncomponents = [\"main\"]\nsigned-by = \"archive.gpg\"\n\n[[local]]\npath = \"debs/basetool.deb\"\n\n[artifact.\"motd\"]\ntype = \"file\"\ntarget = \"/etc/motd\"\npath = \"files/motd\"\n\n[spec.base]\nvariant = \"essential\"\ninclude = [\"tool\", \"basetool\"]\nstage = [\"motd\"]\n\n[spec.extra]\nextends = [\"base\"]\n{extra}",
            base_site.url()
        )
    };
    std::fs::write(sys.join("Manifest.toml"), base_manifest("")).unwrap();
    ok(run(&sys, &cache, &["update"]));
    git(&base, &["add", "-A"]);
    git(&base, &["commit", "--quiet", "-m", "base"]);
    let rev1 = git(&base, &["rev-parse", "HEAD"]);
    git(
        &base,
        &[
            "push",
            "--quiet",
            upstream.to_str().unwrap(),
            "HEAD:refs/heads/main",
        ],
    );

    let url = format!(
        "git+file://{}?ref=main#system/Manifest.toml",
        upstream.display()
    );
    std::fs::write(
        app.join("Manifest.toml"),
        format!(
            "# The app image.\n[[archive]]\nurl = \"{}\"\nsuites = [\"trixie\"]\ncomponents = [\"main\"]\nsigned-by = \"archive.gpg\"\n\n[spec.web]\nextends = [\"base\"]\ninclude = [\"app\"]\n",
            app_site.url()
        ),
    )
    .unwrap();
    let err = ok(run(
        &app,
        &cache,
        &["import", &url, "--spec", "base", "--spec", "extra"],
    ));
    assert!(
        err.contains(&format!("system/Manifest.toml at {rev1} in file://")),
        "{err}"
    );
    let manifest = std::fs::read_to_string(app.join("Manifest.toml")).unwrap();
    let pin1 = debrepo::manifest::import::manifest_hash(base_manifest("").as_bytes());
    assert!(
        manifest.contains(&format!(
            "[import]\nhash = \"{pin1}\"\nspecs = [\"base\", \"extra\"]\n\n[import.git]\nremote = \"file://{}\"\nrev = \"{rev1}\"\nref = \"main\"\npath = \"system/Manifest.toml\"\n",
            upstream.display()
        )),
        "{manifest}"
    );
    // The cache: a partial bare clone and an extract of what is read.
    let remote_dirs: Vec<_> = std::fs::read_dir(cache.join("git"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(remote_dirs.len(), 1, "{remote_dirs:?}");
    let remote_dir = &remote_dirs[0];
    assert!(remote_dir.join("repo.git/HEAD").is_file());
    let extract = remote_dir.join("revs").join(&rev1);
    for f in [
        "system/Manifest.toml",
        "system/Manifest.amd64.lock",
        "system/debs/basetool.deb",
        "system/files/motd",
        "system/archive.gpg",
    ] {
        assert!(extract.join(f).is_file(), "{f} not extracted");
    }
    assert!(!extract.join("README").exists());
    // A partial clone: the blob of the file not read was never fetched.
    let readme = git(&base, &["rev-parse", "HEAD:README"]);
    let missing = git(
        &remote_dir.join("repo.git"),
        &["rev-list", "--objects", "--missing=print", &rev1],
    );
    assert!(
        missing.lines().any(|l| l == format!("?{readme}")),
        "{missing}"
    );

    // init --import takes the same URL.
    let err = ok(run(
        &app,
        &cache,
        &[
            "init", "-m", "New.toml", "--import", &url, "--spec", "base", "-p", "app",
        ],
    ));
    assert!(err.contains("wrote"), "{err}");
    let new = std::fs::read_to_string(app.join("New.toml")).unwrap();
    assert!(
        new.contains(&format!(
            "rev = \"{rev1}\"\nref = \"main\"\npath = \"system/Manifest.toml\"\n"
        )) && new.contains("extends = [\"base\"]"),
        "{new}"
    );

    ok(run(&app, &cache, &["update"]));
    let lock = std::fs::read_to_string(app.join("Manifest.amd64.lock")).unwrap();
    assert!(
        lock.contains(&format!(
            "\n[import]\npath = \"system/Manifest.toml\"\nimported-git-rev = \"{rev1}\"\nfingerprint = \"blake3-"
        )),
        "{lock}"
    );
    let err = ok(run(
        &app,
        &cache,
        &["build", "-s", "web", "-p", "tree", "--unpack-only"],
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

    // The branch moves: the pin holds until update --locals.
    std::fs::write(
        sys.join("Manifest.toml"),
        base_manifest("include = [\"base-files\"]\n"),
    )
    .unwrap();
    ok(run(&sys, &cache, &["update"]));
    git(
        &base,
        &["commit", "--quiet", "-a", "-m", "extra includes base-files"],
    );
    let rev2 = git(&base, &["rev-parse", "HEAD"]);
    git(
        &base,
        &[
            "push",
            "--quiet",
            upstream.to_str().unwrap(),
            "HEAD:refs/heads/main",
        ],
    );
    ok(run(&app, &cache, &["update"]));
    let manifest = std::fs::read_to_string(app.join("Manifest.toml")).unwrap();
    assert!(
        manifest.contains(&format!("rev = \"{rev1}\"")),
        "{manifest}"
    );
    let err = ok(run(&app, &cache, &["update", "--locals"]));
    assert!(
        err.contains(&format!(
            "[import.git] ref main moved: rev {rev1} -> {rev2}"
        )),
        "{err}"
    );
    let pin2 = debrepo::manifest::import::manifest_hash(
        base_manifest("include = [\"base-files\"]\n").as_bytes(),
    );
    let manifest = std::fs::read_to_string(app.join("Manifest.toml")).unwrap();
    assert!(
        manifest.contains(&format!("hash = \"{pin2}\""))
            && manifest.contains(&format!("rev = \"{rev2}\""))
            && manifest.starts_with("# The app image.\n"),
        "{manifest}"
    );
    let lock = std::fs::read_to_string(app.join("Manifest.amd64.lock")).unwrap();
    assert!(
        lock.contains(&format!("imported-git-rev = \"{rev2}\"")),
        "{lock}"
    );
    let err = ok(run(&app, &cache, &["update", "--locals"]));
    assert!(
        err.contains(&format!("[import.git] ref main is still at {rev2}")),
        "{err}"
    );

    // A lock recording another commit than [import.git] rev is stale.
    let old_lock = lock.replace(&rev2, &rev1);
    std::fs::write(app.join("Manifest.amd64.lock"), &old_lock).unwrap();
    let err = fails(run(
        &app,
        &cache,
        &["build", "-s", "web", "-p", "tree2", "--unpack-only"],
    ));
    assert!(
        err.contains(&format!("imported-git-rev {rev1}"))
            && err.contains("run 'rdebootstrap update'"),
        "{err}"
    );
    ok(run(&app, &cache, &["update"]));

    // A tampered pin: the hash error gives the command to re-pin.
    let tampered = manifest.replace(&pin2, &pin1);
    std::fs::write(app.join("Manifest.toml"), tampered).unwrap();
    let err = fails(run(
        &app,
        &cache,
        &["build", "-s", "web", "-p", "tree3", "--unpack-only"],
    ));
    assert!(
        err.contains(&format!("but this manifest pins {pin1}"))
            && err.contains(&format!(
                "re-pin it with 'rdebootstrap import '{url}' --spec base --spec extra'"
            )),
        "{err}"
    );
}

/// Every process's command line, joined.
fn all_cmdlines() -> Vec<u8> {
    let mut out = Vec::new();
    if let Ok(dir) = std::fs::read_dir("/proc") {
        for e in dir.flatten() {
            if let Ok(c) = std::fs::read(e.path().join("cmdline")) {
                out.extend_from_slice(&c);
                out.push(b'\n');
            }
        }
    }
    out
}

/// Whether `needle` is in any file under `dir`.
fn found_in_files(dir: &Path, needle: &[u8]) -> Option<std::path::PathBuf> {
    for e in std::fs::read_dir(dir).ok()?.flatten() {
        let p = e.path();
        let ft = e.file_type().unwrap();
        if ft.is_dir() {
            if let Some(f) = found_in_files(&p, needle) {
                return Some(f);
            }
        } else if ft.is_file() {
            let bytes = std::fs::read(&p).unwrap();
            if bytes.windows(needle.len()).any(|w| w == needle) {
                return Some(p);
            }
        }
    }
    None
}

#[test]
fn a_git_import_over_https_with_a_token() {
    if !testkit::require(has_git(), "git") {
        return;
    }
    let token = "tok-5e3c7a1b9d0f-never-on-argv";
    let work = TempDir::new("gitimport-https");
    let served = work.path().join("served");
    let base = work.path().join("base");
    let app = work.path().join("app");
    let cache = work.path().join("cache");
    for d in [&served, &base.join("system/debs"), &app, &cache] {
        std::fs::create_dir_all(d).unwrap();
    }
    git(&served, &["init", "--quiet", "--bare", "upstream.git"]);
    git(&base, &["init", "--quiet"]);
    let sys = base.join("system");
    DebBuilder::new("basetool", "0.1", "amd64")
        .dir("./usr/")
        .write_to(&sys.join("debs"), "basetool");
    let manifest =
        "[[local]]\npath = \"debs/basetool.deb\"\n\n[spec.base]\ninclude = [\"basetool\"]\n";
    std::fs::write(sys.join("Manifest.toml"), manifest).unwrap();
    std::fs::write(sys.join("Manifest.amd64.lock"), "# a lock\n").unwrap();
    git(&base, &["add", "-A"]);
    git(&base, &["commit", "--quiet", "-m", "base"]);
    git(&base, &["tag", "v1"]);
    let rev = git(&base, &["rev-parse", "HEAD"]);
    let upstream = served.join("upstream.git");
    git(
        &base,
        &[
            "push",
            "--quiet",
            upstream.to_str().unwrap(),
            "HEAD:refs/heads/main",
            "v1",
        ],
    );
    // Git's dumb HTTP protocol, from the static server.
    git(&upstream, &["update-server-info"]);

    let pki = testkit::tls::Pki::new();
    let ca = work.path().join("ca.pem");
    std::fs::write(&ca, &pki.ca_pem).unwrap();
    let server = testkit::http::Server::serve_dir_tls(&served, &pki, false);
    server.require_auth(testkit::http::Auth::Bearer(token.to_owned()));
    std::fs::write(
        app.join("auth.toml"),
        format!("[[auth]]\nhost = \"127.0.0.1\"\ntoken = \"{token}\"\n"),
    )
    .unwrap();
    std::fs::write(
        app.join("Manifest.toml"),
        "[spec.web]\nextends = [\"base\"]\n",
    )
    .unwrap();
    let url = format!(
        "git+{}/upstream.git?rev=v1#system/Manifest.toml",
        server.url()
    );

    // Sample every process's argv while rdebootstrap and its gits run.
    let mut child = Command::new(common::exe())
        .args(["import", &url, "--spec", "base", "--cache-dir"])
        .arg(&cache)
        .current_dir(&app)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_SSL_CAINFO", &ca)
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut samples = 0;
    loop {
        let argv = all_cmdlines();
        samples += 1;
        assert!(
            !argv.windows(token.len()).any(|w| w == token.as_bytes()),
            "the token is on a command line"
        );
        if child.try_wait().unwrap().is_some() {
            break;
        }
    }
    let o = child.wait_with_output().unwrap();
    let err = text(&o.stderr);
    assert!(o.status.success(), "{err}");
    assert!(samples > 1, "{samples}");
    let m = std::fs::read_to_string(app.join("Manifest.toml")).unwrap();
    assert!(
        m.contains(&format!(
            "[import.git]\nremote = \"{}/upstream.git\"\nrev = \"{rev}\"\npath = \"system/Manifest.toml\"\n",
            server.url()
        )),
        "{m}"
    );
    // The server saw the token; the cache never holds it.
    let reqs = server.requests();
    assert!(!reqs.is_empty());
    assert!(
        reqs.iter()
            .all(|r| r.authorization.as_deref() == Some(&format!("Bearer {token}"))),
        "{reqs:?}"
    );
    assert_eq!(found_in_files(&cache, token.as_bytes()), None);
    let remote_dir = std::fs::read_dir(cache.join("git"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    for f in [
        "system/Manifest.toml",
        "system/Manifest.amd64.lock",
        "system/debs/basetool.deb",
    ] {
        assert!(remote_dir.join("revs").join(&rev).join(f).is_file(), "{f}");
    }

    // Without the credential, the server refuses git, and the error says
    // what failed.
    std::fs::remove_file(app.join("auth.toml")).unwrap();
    let o = Command::new(common::exe())
        .args([
            "import",
            &url.replace("rev=v1", "ref=main"),
            "--spec",
            "base",
            "--cache-dir",
        ])
        .arg(&cache)
        .current_dir(&app)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_SSL_CAINFO", &ca)
        .output()
        .unwrap();
    let err = fails(o);
    assert!(err.contains("git ls-remote failed"), "{err}");
}

/// Run rdebootstrap in `dir`, sampling every process's command line until
/// it exits; fails if `secret` shows up on any of them.
fn run_watched(dir: &Path, cache: &Path, ca: &Path, secret: &str, args: &[&str]) -> Output {
    let child = Command::new(common::exe())
        .args(args)
        .args(["--arch", "amd64", "--cache-dir"])
        .arg(cache)
        .current_dir(dir)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_SSL_CAINFO", ca)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut child = child;
    loop {
        let argv = all_cmdlines();
        assert!(
            !argv.windows(secret.len()).any(|w| w == secret.as_bytes()),
            "the token is on a command line while running {args:?}"
        );
        if child.try_wait().unwrap().is_some() {
            break;
        }
    }
    child.wait_with_output().unwrap()
}

/// The end-to-end case over the network: a base manifest (an
/// archive, a local .deb, a file artifact) on a git smart-HTTP server
/// (`git http-backend`) over loopback HTTPS that wants a bearer token from
/// `auth.toml`; the downstream imports two of its specs, locks and builds,
/// and the token is never on a command line or in the cache.
#[test]
fn a_git_import_over_smart_https_with_a_token_builds() {
    if !testkit::require(has_git(), "git") {
        return;
    }
    let Some(base_site) = Served::start(
        "gitimport-smart-site",
        SuiteBuilder::new("trixie")
            .package(
                DebBuilder::new("base-files", "13", "amd64")
                    .field("Essential", "yes")
                    .field("Priority", "required")
                    .dir("./etc/")
                    .file("./etc/issue", "Test\n"),
            )
            .package(
                DebBuilder::new("tool", "1.0", "amd64")
                    .dir("./usr/")
                    .dir("./usr/bin/")
                    .file_mode("./usr/bin/tool", 0o755, "tool 1.0\n"),
            ),
    ) else {
        return;
    };
    let token = "tok-8a41c09e77d2-smart-never-on-argv";
    let work = TempDir::new("gitimport-smart");
    let projects = work.path().join("projects");
    let base = work.path().join("base");
    let app = work.path().join("app");
    let cache = work.path().join("cache");
    let sys = base.join("system");
    for d in [
        &projects,
        &sys.join("debs"),
        &sys.join("files"),
        &app,
        &cache,
    ] {
        std::fs::create_dir_all(d).unwrap();
    }
    git(&projects, &["init", "--quiet", "--bare", "upstream.git"]);
    let upstream = projects.join("upstream.git");
    git(&upstream, &["config", "uploadpack.allowFilter", "true"]);
    git(
        &upstream,
        &["config", "uploadpack.allowAnySHA1InWant", "true"],
    );
    git(&base, &["init", "--quiet"]);
    base_site.write_keyring(&sys.join("archive.gpg"));
    DebBuilder::new("basetool", "0.1", "amd64")
        .dir("./usr/")
        .dir("./usr/bin/")
        .file_mode("./usr/bin/basetool", 0o755, "basetool\n")
        .write_to(&sys.join("debs"), "basetool");
    std::fs::write(sys.join("files/motd"), "base\n").unwrap();
    std::fs::write(base.join("README"), "not imported\n").unwrap();
    std::fs::write(
        sys.join("Manifest.toml"),
        format!(
            "[[archive]]\nurl = \"{}\"\nsuites = [\"trixie\"]\ncomponents = [\"main\"]\nsigned-by = \"archive.gpg\"\n\n[[local]]\npath = \"debs/basetool.deb\"\n\n[artifact.\"motd\"]\ntype = \"file\"\ntarget = \"/etc/motd\"\npath = \"files/motd\"\n\n[spec.base]\nvariant = \"essential\"\nstage = [\"motd\"]\n\n[spec.tools]\nextends = [\"base\"]\ninclude = [\"tool\", \"basetool\"]\n",
            base_site.url()
        ),
    )
    .unwrap();
    ok(run(&sys, &cache, &["update"]));
    git(&base, &["add", "-A"]);
    git(&base, &["commit", "--quiet", "-m", "base"]);
    let rev = git(&base, &["rev-parse", "HEAD"]);
    git(
        &base,
        &[
            "push",
            "--quiet",
            upstream.to_str().unwrap(),
            "HEAD:refs/heads/main",
        ],
    );

    let pki = testkit::tls::Pki::new();
    let ca = work.path().join("ca.pem");
    std::fs::write(&ca, &pki.ca_pem).unwrap();
    let server = testkit::http::Server::git_http_backend_tls(&projects, &pki);
    server.require_auth(testkit::http::Auth::Bearer(token.to_owned()));
    std::fs::write(
        app.join("auth.toml"),
        format!("[[auth]]\nhost = \"127.0.0.1\"\ntoken = \"{token}\"\n"),
    )
    .unwrap();
    std::fs::write(
        app.join("Manifest.toml"),
        "[spec.web]\nextends = [\"base\", \"tools\"]\n",
    )
    .unwrap();
    let url = format!(
        "git+{}/upstream.git?ref=main#system/Manifest.toml",
        server.url()
    );
    let watched = |args: &[&str]| run_watched(&app, &cache, &ca, token, args);
    ok(watched(&[
        "import", &url, "--spec", "base", "--spec", "tools",
    ]));
    let m = std::fs::read_to_string(app.join("Manifest.toml")).unwrap();
    assert!(
        m.contains(&format!(
            "[import.git]\nremote = \"{}/upstream.git\"\nrev = \"{rev}\"\nref = \"main\"\n",
            server.url()
        )),
        "{m}"
    );
    ok(watched(&["update"]));
    // The lock and the cache's extract are the base's; the build needs the
    // local .deb and the artifact from the repository, both fetched over
    // HTTPS.
    let err = ok(watched(&[
        "build",
        "-s",
        "web",
        "-p",
        "tree",
        "--unpack-only",
    ]));
    assert!(err.contains("unpacked 3 packages into tree"), "{err}");
    let tree = app.join("tree");
    assert_eq!(std::fs::read(tree.join("etc/issue")).unwrap(), b"Test\n");
    assert_eq!(
        std::fs::read(tree.join("usr/bin/tool")).unwrap(),
        b"tool 1.0\n"
    );
    assert_eq!(
        std::fs::read(tree.join("usr/bin/basetool")).unwrap(),
        b"basetool\n"
    );
    assert_eq!(std::fs::read(tree.join("etc/motd")).unwrap(), b"base\n");

    // Git spoke the smart protocol, every request carried the token, and
    // the clone is partial: the blob nobody read was never sent.
    let reqs = server.requests();
    assert!(
        reqs.iter()
            .any(|r| r.path == "/upstream.git/git-upload-pack" && r.status == 200),
        "{reqs:?}"
    );
    assert!(
        reqs.iter()
            .all(|r| r.authorization.as_deref() == Some(&format!("Bearer {token}"))),
        "{reqs:?}"
    );
    assert_eq!(found_in_files(&cache, token.as_bytes()), None);
    let remote_dir = std::fs::read_dir(cache.join("git"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let readme = git(&base, &["rev-parse", "HEAD:README"]);
    let missing = git(
        &remote_dir.join("repo.git"),
        &["rev-list", "--objects", "--missing=print", &rev],
    );
    assert!(
        missing.lines().any(|l| l == format!("?{readme}")),
        "{missing}"
    );

    // Without the credential the server refuses git, and the error says
    // which git step failed.
    std::fs::remove_file(app.join("auth.toml")).unwrap();
    let err = fails(watched(&["update", "--locals"]));
    assert!(err.contains("git ls-remote failed"), "{err}");
}

/// The case on real data: a base manifest (trixie minbase from the
/// loopback partial mirror, a `[[local]]` .deb, a staged file artifact)
/// committed to a repository on a smart-HTTP server that wants a token;
/// a downstream manifest extends two of its specs, adds its own local
/// .deb, artifact and a package of the imported archive, and builds a
/// full tree (maintainer scripts run): dpkg's database in it has both
/// manifests' packages and `dpkg --audit` is clean.
#[test]
fn a_real_minbase_imported_over_smart_https_builds_a_working_tree() {
    if !(common::e2e("a git import of a real minbase")
        && testkit::require(common::is_root(), "root (building trees as root)")
        && testkit::require(has_git(), "git"))
    {
        return;
    }
    let mirror = common::test_mirror();
    let token = "tok-31f7e0c2a9b4-minbase-never-on-argv";
    let work = TempDir::new("gitimport-minbase");
    std::fs::set_permissions(
        work.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let projects = work.path().join("projects");
    let base = work.path().join("base");
    let sys = base.join("system");
    let app = work.path().join("app");
    let cache = work.path().join("cache");
    for d in [
        &projects,
        &sys.join("debs"),
        &sys.join("files"),
        &app,
        &cache,
    ] {
        std::fs::create_dir_all(d).unwrap();
    }
    git(&projects, &["init", "--quiet", "--bare", "upstream.git"]);
    let upstream = projects.join("upstream.git");
    git(&upstream, &["config", "uploadpack.allowFilter", "true"]);
    git(
        &upstream,
        &["config", "uploadpack.allowAnySHA1InWant", "true"],
    );
    git(&base, &["init", "--quiet"]);
    DebBuilder::new("basetool", "0.1", "amd64")
        .dir("./usr/")
        .dir("./usr/bin/")
        .file_mode("./usr/bin/basetool", 0o755, "basetool\n")
        .write_to(&sys.join("debs"), "basetool");
    std::fs::write(sys.join("files/motd"), "the base system\n").unwrap();
    std::fs::write(
        sys.join("Manifest.toml"),
        format!(
            "[[archive]]\nurl = \"{mirror}\"\nsuites = [\"trixie\"]\ncomponents = [\"main\"]\nsigned-by = \"/usr/share/keyrings/debian-archive-keyring.gpg\"\n\n[[local]]\npath = \"debs/basetool.deb\"\n\n[artifact.\"motd\"]\ntype = \"file\"\ntarget = \"/etc/motd\"\npath = \"files/motd\"\n\n[spec.base]\nvariant = \"minbase\"\nstage = [\"motd\"]\n\n[spec.tools]\nextends = [\"base\"]\ninclude = [\"basetool\"]\n"
        ),
    )
    .unwrap();
    ok(run(&sys, &cache, &["update", "-q"]));
    git(&base, &["add", "-A"]);
    git(&base, &["commit", "--quiet", "-m", "base"]);
    git(
        &base,
        &[
            "push",
            "--quiet",
            upstream.to_str().unwrap(),
            "HEAD:refs/heads/main",
        ],
    );

    let pki = testkit::tls::Pki::new();
    let ca = work.path().join("ca.pem");
    std::fs::write(&ca, &pki.ca_pem).unwrap();
    let server = testkit::http::Server::git_http_backend_tls(&projects, &pki);
    server.require_auth(testkit::http::Auth::Bearer(token.to_owned()));
    std::fs::write(
        app.join("auth.toml"),
        format!("[[auth]]\nhost = \"127.0.0.1\"\ntoken = \"{token}\"\n"),
    )
    .unwrap();
    DebBuilder::new("apptool", "1.0", "amd64")
        .field("Depends", "basetool, hello")
        .dir("./usr/")
        .dir("./usr/bin/")
        .file_mode("./usr/bin/apptool", 0o755, "apptool\n")
        .write_to(&app, "apptool");
    std::fs::write(
        app.join("Manifest.toml"),
        "[[local]]\npath = \"apptool.deb\"\n\n[artifact.\"app.conf\"]\ntype = \"text\"\ntarget = \"/etc/app.conf\"\ntext = \"app=1\\n\"\n\n[spec.web]\nextends = [\"base\", \"tools\"]\ninclude = [\"apptool\"]\nstage = [\"app.conf\"]\n",
    )
    .unwrap();
    let url = format!(
        "git+{}/upstream.git?ref=main#system/Manifest.toml",
        server.url()
    );
    let watched = |args: &[&str]| run_watched(&app, &cache, &ca, token, args);
    ok(watched(&[
        "import", &url, "--spec", "base", "--spec", "tools",
    ]));
    ok(watched(&["update"]));
    let err = ok(watched(&["build", "-s", "web", "-p", "tree"]));
    assert!(err.contains("built "), "{err}");
    let tree = app.join("tree");
    let o = Command::new("chroot")
        .arg(&tree)
        .args(["dpkg-query", "-W", "-f", "${Package} ${Status}\n"])
        .output()
        .unwrap();
    let installed = text(&o.stdout);
    assert!(o.status.success(), "{}", text(&o.stderr));
    for p in ["base-files", "dpkg", "apt", "basetool", "apptool", "hello"] {
        assert!(
            installed
                .lines()
                .any(|l| l == format!("{p} install ok installed")),
            "{p} not installed: {installed}"
        );
    }
    assert!(
        installed
            .lines()
            .all(|l| l.ends_with(" install ok installed")),
        "{installed}"
    );
    let audit = Command::new("chroot")
        .arg(&tree)
        .args(["dpkg", "--audit"])
        .output()
        .unwrap();
    assert!(
        audit.status.success() && audit.stdout.is_empty(),
        "dpkg --audit: {}{}",
        text(&audit.stdout),
        text(&audit.stderr)
    );
    assert_eq!(
        std::fs::read(tree.join("etc/motd")).unwrap(),
        b"the base system\n"
    );
    assert_eq!(
        std::fs::read(tree.join("etc/app.conf")).unwrap(),
        b"app=1\n"
    );
    assert_eq!(found_in_files(&cache, token.as_bytes()), None);
}
