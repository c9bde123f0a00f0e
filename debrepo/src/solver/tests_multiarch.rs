//! Multi-Arch: foreign architectures, qualifiers and co-installation.

use super::*;
use crate::packages::parse_all;

const ARCHIVE: &str = "Package: libc6
Version: 2.41
Architecture: amd64
Multi-Arch: same

Package: libc6
Version: 2.41
Architecture: i386
Multi-Arch: same

Package: libc6
Version: 2.40
Architecture: i386
Multi-Arch: same

Package: tool
Version: 1
Architecture: i386
Depends: libc6 (>= 2.40), python3:any, base-tool

Package: base-tool
Version: 1
Architecture: amd64
Multi-Arch: foreign

Package: base-tool
Version: 2
Architecture: i386
Multi-Arch: foreign

Package: python3
Version: 3.13
Architecture: amd64
Multi-Arch: allowed

Package: python3
Version: 3.13
Architecture: i386
Multi-Arch: allowed

Package: plain
Version: 1
Architecture: amd64

Package: plain
Version: 1
Architecture: i386

Package: wants-any
Version: 1
Architecture: amd64
Depends: plain:any

Package: data
Version: 1
Architecture: all

Package: data-foreign
Version: 1
Architecture: all
Multi-Arch: foreign

Package: needs-data
Version: 1
Architecture: i386
Depends: data

Package: needs-data-foreign
Version: 1
Architecture: i386
Depends: data-foreign

Package: killer
Version: 1
Architecture: amd64
Conflicts: victim

Package: victim
Version: 1
Architecture: i386

Package: wants-i386
Version: 1
Architecture: amd64
Depends: libc6:i386

Package: wants-native
Version: 1
Architecture: i386
Depends: plain:native

Package: virtual-user
Version: 1
Architecture: i386
Depends: mta

Package: native-mta
Version: 1
Architecture: amd64
Provides: mta

Package: foreign-mta
Version: 1
Architecture: amd64
Multi-Arch: foreign
Provides: mta
";

fn universe() -> Universe<'static> {
    let mut u = Universe::with_foreign("amd64", &["i386".to_owned()]);
    u.add(0, 500, parse_all(ARCHIVE).unwrap());
    u
}

fn req(install: &[&str], forbid: &[&str]) -> Request {
    Request {
        install: install.iter().map(|s| s.to_string()).collect(),
        forbid: forbid.iter().map(|s| s.to_string()).collect(),
        recommends: false,
        foreign: vec!["i386".into()],
    }
}

/// `name:arch=version`, checked by the independent validator.
fn solved(u: &Universe<'_>, r: &Request) -> Vec<String> {
    let s = solve(u, r).unwrap_or_else(|e| panic!("{e}"));
    let pkgs: Vec<_> = s.iter().map(|c| &c.package).collect();
    assert_eq!(validate("amd64", &pkgs), vec![]);
    s.iter()
        .map(|c| {
            format!(
                "{}:{}={}",
                c.package.name, c.package.architecture, c.package.version
            )
        })
        .collect()
}

fn unsat(u: &Universe<'_>, r: &Request) -> String {
    match solve(u, r) {
        Err(SolveError::Unsatisfiable(why)) => why,
        other => panic!("expected no solution, got {other:?}"),
    }
}

#[test]
fn a_foreign_package_and_its_dependencies() {
    let u = universe();
    let s = solved(&u, &req(&["tool:i386"], &[]));
    // libc6 from its own architecture, the foreign base-tool from either
    // (it is Multi-Arch: foreign), python3:any from either (allowed).
    assert!(s.contains(&"tool:i386=1".to_owned()), "{s:?}");
    assert!(s.contains(&"libc6:i386=2.41".to_owned()), "{s:?}");
    assert!(!s.iter().any(|p| p.starts_with("libc6:amd64")), "{s:?}");
    assert_eq!(s.iter().filter(|p| p.starts_with("base-tool:")).count(), 1);
    assert_eq!(s.iter().filter(|p| p.starts_with("python3:")).count(), 1);
}

#[test]
fn multi_arch_same_instances_share_a_version() {
    let u = universe();
    assert_eq!(
        solved(&u, &req(&["libc6:amd64", "libc6:i386"], &[])),
        ["libc6:amd64=2.41", "libc6:i386=2.41"]
    );
    let why = unsat(&u, &req(&["libc6:amd64", "libc6:i386 (<< 2.41)"], &[]));
    assert!(why.contains("libc6"), "{why}");
    // Without Multi-Arch: same, one architecture only.
    let why = unsat(&u, &req(&["plain:amd64", "plain:i386"], &[]));
    assert!(why.contains("plain"), "{why}");
}

#[test]
fn qualifiers() {
    let u = universe();
    // :any needs Multi-Arch: allowed.
    let why = unsat(&u, &req(&["wants-any"], &[]));
    assert!(why.contains("plain"), "{why}");
    // An explicit architecture.
    assert_eq!(
        solved(&u, &req(&["wants-i386"], &[])),
        ["libc6:i386=2.41", "wants-i386:amd64=1"]
    );
    // :native from a foreign package.
    assert_eq!(
        solved(&u, &req(&["wants-native:i386"], &[])),
        ["plain:amd64=1", "wants-native:i386=1"]
    );
}

#[test]
fn architecture_all_counts_as_native() {
    let u = universe();
    let why = unsat(&u, &req(&["needs-data:i386"], &[]));
    assert!(why.contains("data"), "{why}");
    assert_eq!(
        solved(&u, &req(&["needs-data-foreign:i386"], &[])),
        ["data-foreign:all=1", "needs-data-foreign:i386=1"]
    );
}

#[test]
fn provides_follow_the_providers_multi_arch() {
    let u = universe();
    assert_eq!(
        solved(&u, &req(&["virtual-user:i386"], &[])),
        ["foreign-mta:amd64=1", "virtual-user:i386=1"]
    );
    let r = req(&["virtual-user:i386"], &["foreign-mta"]);
    assert!(unsat(&u, &r).contains("mta"));
}

#[test]
fn conflicts_and_forbids_cross_architectures() {
    let u = universe();
    let why = unsat(&u, &req(&["killer", "victim:i386"], &[]));
    assert!(why.contains("victim"), "{why}");
    // A forbid without a qualifier covers every architecture...
    unsat(&u, &req(&["wants-i386"], &["libc6"]));
    // ...with one, only that architecture.
    unsat(&u, &req(&["wants-i386"], &["libc6:i386"]));
    assert_eq!(
        solved(&u, &req(&["wants-i386"], &["libc6:amd64"])),
        ["libc6:i386=2.41", "wants-i386:amd64=1"]
    );
}

#[test]
fn the_native_architecture_is_preferred() {
    let u = universe();
    // base-tool 2 (i386) is newer, but a native dependency takes the
    // native one, as apt does.
    let r = req(&["base-tool"], &[]);
    assert_eq!(solved(&u, &r), ["base-tool:amd64=1"]);
}

#[test]
fn foreign_architectures_must_be_asked_for() {
    let u = universe();
    let mut r = req(&["tool:i386"], &[]);
    r.foreign.clear();
    assert!(unsat(&u, &r).contains("tool"));
    r.foreign = vec!["arm64".into()];
    let e = solve(&u, &r).unwrap_err().to_string();
    assert!(e.contains("\"arm64\"") && e.contains("amd64, i386"), "{e}");
    // Only the native architecture: foreign packages are not candidates.
    let mut u = Universe::new("amd64");
    u.add(0, 500, parse_all(ARCHIVE).unwrap());
    r.foreign.clear();
    r.install = vec!["libc6".into()];
    assert_eq!(solve(&u, &r).unwrap().len(), 1);
}
