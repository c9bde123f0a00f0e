//! The command line itself: help texts, the manual page and completions,
//! what the editing verbs say, `--json` answers, and a closed standard
//! output (a broken pipe) ending quietly with status 0.

use std::path::Path;
use std::process::{Command, Output, Stdio};

use testkit::archive::{Served, SuiteBuilder};
use testkit::{DebBuilder, TempDir};

fn rdebootstrap() -> Command {
    Command::new(env!("CARGO_BIN_EXE_rdebootstrap"))
}

fn run(dir: &Path, args: &[&str]) -> Output {
    rdebootstrap().args(args).current_dir(dir).output().unwrap()
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

#[test]
fn help_is_true_and_tidy() {
    let d = TempDir::new("cli-help");
    let top = text(&run(d.path(), &["--help"]).stdout);
    assert!(!top.contains("not yet"), "{top}");
    assert!(top.contains("maintainer scripts in the sandbox"), "{top}");
    // Global options under their own heading, after the command's.
    let list = text(&run(d.path(), &["list", "--help"]).stdout);
    let (own, global) = list.split_once("Global options:").expect(&list);
    assert!(
        own.contains("--json") && !own.contains("--cache-dir"),
        "{list}"
    );
    assert!(
        global.contains("--cache-dir") && !global.contains("--json"),
        "{list}"
    );
    for cmd in [
        &["list"][..],
        &["build"],
        &["require"],
        &["forbid"],
        &["remove"],
        &["drop"],
        &["search"],
        &["spec", "hash"],
        &["archive", "add"],
        &["init"],
    ] {
        let o = run(d.path(), &[cmd, &["--help"]].concat());
        assert!(o.status.success(), "{cmd:?}");
        let help = text(&o.stdout);
        assert!(!help.contains("[default: \"\"]"), "{cmd:?}: {help}");
    }
}

#[test]
fn man_prints_the_page_and_completions_generate() {
    let d = TempDir::new("cli-man");
    let o = run(d.path(), &["man"]);
    assert!(o.status.success());
    let page =
        std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("../man/rdebootstrap.1")).unwrap();
    assert!(
        o.stdout == page,
        "rdebootstrap man differs from man/rdebootstrap.1"
    );
    for shell in ["bash", "zsh", "fish"] {
        let o = run(d.path(), &["completions", shell]);
        assert!(o.status.success(), "{shell}: {}", text(&o.stderr));
        let script = text(&o.stdout);
        assert!(
            script.contains("rdebootstrap") && script.contains("archive"),
            "{shell}"
        );
    }
    let o = run(d.path(), &["completions", "tcsh"]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn the_man_page_names_every_verb() {
    let page = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../man/rdebootstrap.1"),
    )
    .unwrap();
    // roff's `\-` is the verb's hyphen (why-not).
    let page = page.replace("\\-", "-");
    let synopsis = &page[page.find(".SH SYNOPSIS").unwrap()..page.find(".SH DESCRIPTION").unwrap()];
    let commands = &page[page.find(".SH COMMANDS").unwrap()..page.find(".SH OPTIONS").unwrap()];
    let d = TempDir::new("cli-verbs");
    let help = text(&run(d.path(), &["--help"]).stdout);
    let verbs: Vec<&str> = help
        .split_once("Commands:\n")
        .unwrap()
        .1
        .lines()
        .take_while(|l| l.starts_with("  "))
        .filter_map(|l| l.split_whitespace().next())
        .filter(|v| *v != "help")
        .collect();
    assert!(verbs.len() > 10, "{verbs:?}");
    for v in verbs {
        assert!(
            synopsis.contains(&format!("rdebootstrap {v}"))
                || synopsis.contains(&format!(" | {v}")),
            "the man page's SYNOPSIS lacks {v}"
        );
        assert!(
            commands.lines().any(|l| l.starts_with(".B")
                && l.split(|c: char| !c.is_ascii_alphanumeric() && c != '-')
                    .any(|w| w == v)),
            "the man page's COMMANDS lacks {v}"
        );
    }
    assert!(page.contains(".SH EXIT STATUS"));
}

#[test]
fn edit_verbs_say_what_they_did() {
    let work = TempDir::new("cli-edit");
    let d = work.path();
    let manifest = d.join("Manifest.toml");
    ok(
        d,
        &[
            "init",
            "--url",
            "http://127.0.0.1:9/debian",
            "--suite",
            "trixie",
            "-p",
            "curl",
            "--no-verify",
        ],
    );
    let err = ok(d, &["require", "vim", "curl"]);
    assert_eq!(
        err,
        "added vim to [spec]\ncurl is already required by [spec]\n"
    );
    let before = std::fs::read_to_string(&manifest).unwrap();
    let err = ok(d, &["require", "vim"]);
    assert_eq!(
        err,
        "vim is already required by [spec]\nnothing to change\n"
    );
    assert_eq!(std::fs::read_to_string(&manifest).unwrap(), before);
    let err = ok(d, &["require", "vim (>= 9)"]);
    assert_eq!(err, "changed vim to vim (>= 9) in [spec]\n");
    let err = ok(d, &["forbid", "-s", "web", "systemd"]);
    assert_eq!(err, "created [spec.web]\nforbade systemd in [spec.web]\n");
    let err = ok(d, &["forbid", "-s", "web", "systemd"]);
    assert!(err.ends_with("nothing to change\n"), "{err}");
    let err = ok(d, &["remove", "nano"]);
    assert_eq!(
        err,
        "nano is neither required nor forbidden by [spec]\nnothing to change\n"
    );
    let err = ok(d, &["drop", "-s", "web", "systemd"]);
    assert_eq!(err, "removed constraint systemd from [spec.web]\n");
    let err = ok(d, &["remove", "vim"]);
    assert_eq!(err, "removed vim (>= 9) from [spec]\n");
    // -q: nothing.
    assert_eq!(ok(d, &["-q", "require", "vim"]), "");

    // archive add: main unless a flat repository; a duplicate is nothing
    // to change.
    let err = ok(
        d,
        &[
            "archive",
            "add",
            "http://127.0.0.1:9/extra",
            "--suite",
            "stable",
            "--no-verify",
        ],
    );
    // (Nothing listens there: the check says so, and the archive is
    // written anyway.)
    assert!(
        err.contains("\nwarning: cannot check the archive now: ")
            && err.ends_with(
                "\nadded archive http://127.0.0.1:9/extra (suites stable; components main) to Manifest.toml\n"
            ),
        "{err}"
    );
    let m = std::fs::read_to_string(&manifest).unwrap();
    assert!(
        m.contains(
            "url = \"http://127.0.0.1:9/extra\"\nsuites = [\"stable\"]\ncomponents = [\"main\"]"
        ),
        "{m}"
    );
    let err = ok(
        d,
        &[
            "archive",
            "add",
            "http://127.0.0.1:9/extra",
            "--suite",
            "stable",
        ],
    );
    assert!(err.ends_with("already\nnothing to change\n"), "{err}");
    ok(
        d,
        &[
            "archive",
            "add",
            "http://127.0.0.1:9/flat",
            "--suite",
            "./",
            "--no-verify",
        ],
    );
    let m = std::fs::read_to_string(&manifest).unwrap();
    assert!(
        m.contains("url = \"http://127.0.0.1:9/flat\"\nsuites = [\"./\"]\n"),
        "{m}"
    );
    // Errors name the flag, never a position in a file never written.
    let before = std::fs::read_to_string(&manifest).unwrap();
    for (args, says) in [
        (
            &["--suite", "./", "--components", "main"][..],
            "--components:",
        ),
        (&["--suite", "stable,./"], "--suite stable,./:"),
        (&["--suite", ","], "--suite:"),
        (&["--suite", "stable", "--components", ","], "--components:"),
    ] {
        let o = run(
            d,
            &[&["archive", "add", "http://127.0.0.1:9/bad"][..], args].concat(),
        );
        assert_eq!(o.status.code(), Some(1), "{args:?}");
        let err = text(&o.stderr);
        assert!(
            err.starts_with(&format!("error: {says}")),
            "{args:?}: {err}"
        );
        assert!(!err.contains("Manifest.toml:"), "{args:?}: {err}");
    }
    assert_eq!(std::fs::read_to_string(&manifest).unwrap(), before);
}

/// Run with standard output a pipe whose reader has gone: the write fails
/// with EPIPE at once.
fn closed_stdout(dir: &Path, args: &[&str]) -> Output {
    let mut child = rdebootstrap()
        .args(args)
        .current_dir(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    child.wait_with_output().unwrap()
}

#[test]
fn inspect_into_a_closed_pipe() {
    let d = TempDir::new("cli-inspect-pipe");
    let deb = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/data/debs/mount_2.41.5-0+deb13u1_amd64.deb");
    let o = closed_stdout(d.path(), &["inspect", "deb", deb.to_str().unwrap()]);
    let err = text(&o.stderr);
    assert_eq!(o.status.code(), Some(0), "{err}");
    assert!(err.is_empty(), "{err}");
}

#[test]
fn json_answers_and_closed_pipes() {
    let mut suite = SuiteBuilder::new("trixie")
        .package(
            DebBuilder::new("base-files", "13", "amd64")
                .field("Essential", "yes")
                .field("Priority", "required"),
        )
        .package(DebBuilder::new("mount", "2.41", "amd64").field("Source", "util-linux"));
    // Enough to fill a pipe many times over.
    for i in 0..300 {
        suite = suite.package(
            DebBuilder::new(&format!("libutil{i:03}"), "2.41", "amd64")
                .field("Source", "util-linux"),
        );
    }
    let Some(site) = Served::start("cli-site", suite) else {
        return;
    };
    let work = TempDir::new("cli-json");
    let d = work.path();
    site.write_keyring(&d.join("archive.gpg"));
    let include: Vec<String> = (0..300).map(|i| format!("\"libutil{i:03}\"")).collect();
    std::fs::write(
        d.join("Manifest.toml"),
        format!(
            "[[archive]]\nurl = \"{}\"\nsuites = [\"trixie\"]\ncomponents = [\"main\"]\nsigned-by = \"archive.gpg\"\n\n[spec]\nvariant = \"custom\"\ninclude = [\"mount\", {}]\n",
            site.url(),
            include.join(", ")
        ),
    )
    .unwrap();
    let cache = d.join("cache");
    let cache = cache.to_str().unwrap();
    let g = ["--arch", "amd64", "--cache-dir", cache];
    ok(d, &[&["update"][..], &g].concat());

    let json = |args: &[&str]| -> serde_json::Value {
        let o = run(d, &[args, &g].concat());
        assert!(o.status.success(), "{args:?}: {}", text(&o.stderr));
        assert_eq!(text(&o.stdout).lines().count(), 1, "{args:?}: one document");
        serde_json::from_slice(&o.stdout).expect("JSON")
    };
    let list = json(&["list", "--json"]);
    assert_eq!(list.as_array().unwrap().len(), 301);
    assert_eq!(
        list[0],
        serde_json::json!({"name": "libutil000", "version": "2.41", "arch": "amd64"})
    );
    let found = json(&["search", "--json", "^mount$"]);
    assert_eq!(found[0]["name"], "mount");
    assert_eq!(found[0]["version"], "2.41");
    let all = json(&["search", "--json", "."]);
    let names: Vec<&str> = all
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(names, sorted, "search --json is ordered by name");
    let hash = json(&["spec", "hash", "--json"]);
    assert_eq!(hash["spec"], "");
    let plain = run(d, &[&["spec", "hash"][..], &g].concat());
    assert_eq!(
        hash["hash"].as_str().unwrap(),
        text(&plain.stdout).trim_end()
    );
    assert_eq!(json(&["spec", "list", "--json"])[0]["name"], "");
    assert_eq!(json(&["source", "--json", "mount"])["source"], "util-linux");
    assert_eq!(json(&["package", "--json", "mount"])[0]["version"], "2.41");

    // A closed standard output ends the command quietly, with status 0.
    for args in [
        &["list"][..],
        &["list", "--json"],
        &["search", "."],
        &["source", "util-linux"],
        &["package", "mount"],
        &["spec", "list"],
        &["man"],
        &["completions", "bash"],
    ] {
        let o = closed_stdout(d, &[args, &g].concat());
        let err = text(&o.stderr);
        assert_eq!(o.status.code(), Some(0), "{args:?}: {err}");
        assert!(
            !err.contains("panicked") && !err.contains("Broken pipe") && !err.contains("error"),
            "{args:?}: {err}"
        );
    }
}
