//! Differential test: for mmdebstrap's minbase request (Essential,
//! Priority: required, apt) on the real trixie index, our solver chooses
//! exactly the packages and versions `apt-get install --simulate` chooses
//! from the same index. Skipped where apt-get is not installed.

use std::process::Command;

use debrepo::packages::parse_all;
use debrepo::solver::{solve, validate, Request, Universe};

#[test]
fn minbase_matches_apt() {
    if Command::new("apt-get").arg("--version").output().is_err() {
        eprintln!("apt-get not found: skipping");
        return;
    }
    let index = testkit::trixie_packages();
    let text = std::str::from_utf8(&index).unwrap();
    let pkgs = parse_all(text).unwrap();
    // mmdebstrap's minbase: Essential, Priority: required, and apt.
    let primary: Vec<debrepo::update::PrimaryPackage<'_>> = pkgs.iter().map(Into::into).collect();
    let install =
        debrepo::update::variant_packages(&primary, "amd64", debrepo::manifest::Variant::Minbase);

    // apt, on the same index, with an empty dpkg status.
    let dir = testkit::TempDir::new("apt-sim");
    let d = dir.path();
    for sub in [
        "lists/partial",
        "cache/archives/partial",
        "etc/apt.conf.d",
        "etc/preferences.d",
        "etc/sources.list.d",
    ] {
        std::fs::create_dir_all(d.join(sub)).unwrap();
    }
    std::fs::write(d.join("status"), "").unwrap();
    std::fs::write(
        d.join("etc/sources.list.d/test.list"),
        "deb [trusted=yes] file:/nonexistent trixie main\n",
    )
    .unwrap();
    std::fs::write(
        d.join("lists/_nonexistent_dists_trixie_main_binary-amd64_Packages"),
        &index,
    )
    .unwrap();
    let opt = |k: &str, v: &std::path::Path| format!("-o{k}={}", v.display());
    let out = Command::new("apt-get")
        .arg(opt("Dir::State::status", &d.join("status")))
        .arg(opt("Dir::State::Lists", &d.join("lists")))
        .arg(opt("Dir::Cache", &d.join("cache")))
        .arg(opt("Dir::Etc", &d.join("etc")))
        .arg(opt("Dir::Etc::SourceParts", &d.join("etc/sources.list.d")))
        .args([
            "-oDir::Etc::SourceList=/dev/null",
            "-oAPT::Architecture=amd64",
            "-oAPT::Architectures::=amd64",
        ])
        .args([
            "-oAPT::Install-Recommends=false",
            "-oDebug::NoLocking=1",
            "install",
            "--simulate",
        ])
        .args(&install)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "apt-get: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut apt: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.strip_prefix("Inst "))
        .map(|l| {
            let mut w = l.split_whitespace();
            let name = w.next().unwrap();
            let version = w.next().unwrap().trim_start_matches('(');
            format!("{name}={version}")
        })
        .collect();
    apt.sort();

    let mut u = Universe::new("amd64");
    u.add(0, 500, pkgs);
    let request = Request {
        install,
        forbid: Vec::new(),
        recommends: false,
        foreign: Vec::new(),
    };
    let set = solve(&u, &request).unwrap();
    let chosen: Vec<_> = set.iter().map(|c| &c.package).collect();
    assert_eq!(validate("amd64", &chosen), vec![]);
    let mut ours: Vec<String> = set
        .iter()
        .map(|c| format!("{}={}", c.package.name, c.package.version))
        .collect();
    ours.sort();
    assert_eq!(ours, apt);
    assert!(ours.len() > 50);
    eprintln!("{} packages, identical to apt's choice", ours.len());
}
