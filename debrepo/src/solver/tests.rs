use super::*;
use crate::packages::parse_all;

fn universe<'a>(archives: &[(i64, &'a str)]) -> Universe<'a> {
    let mut u = Universe::new("amd64");
    for (i, (prio, text)) in archives.iter().enumerate() {
        u.add(i, *prio, parse_all(text).unwrap());
    }
    u
}

fn req(install: &[&str], forbid: &[&str]) -> Request {
    Request {
        install: install.iter().map(|s| s.to_string()).collect(),
        forbid: forbid.iter().map(|s| s.to_string()).collect(),
        recommends: false,
        foreign: Vec::new(),
    }
}

fn names(sol: &[&Candidate<'_>]) -> Vec<String> {
    sol.iter()
        .map(|c| format!("{}={}", c.package.name, c.package.version))
        .collect()
}

fn check(sol: &[&Candidate<'_>]) {
    let pkgs: Vec<_> = sol.iter().map(|c| &c.package).collect();
    assert_eq!(validate("amd64", &pkgs), vec![], "{:?}", names(sol));
}

const BASE: &str = "Package: a
Version: 1
Architecture: amd64
Depends: b (>= 2)

Package: b
Version: 1
Architecture: all

Package: b
Version: 2
Architecture: all

Package: b
Version: 3
Architecture: arm64

Package: x
Version: 1
Architecture: amd64

Package: y
Version: 1
Architecture: amd64

Package: alt
Version: 1
Architecture: amd64
Depends: x | y

Package: z
Version: 1
Architecture: amd64
Conflicts: x
";

#[test]
fn versions_arch_and_alternatives() {
    let u = universe(&[(500, BASE)]);
    let r = req(&["a"], &[]);
    let s = solve(&u, &r).unwrap();
    check(&s);
    assert_eq!(names(&s), ["a=1", "b=2"], "b 3 is for arm64");
    // The first alternative is preferred...
    let r = req(&["alt"], &[]);
    assert_eq!(names(&solve(&u, &r).unwrap()), ["alt=1", "x=1"]);
    // ...unless it conflicts with something required.
    let r = req(&["alt", "z"], &[]);
    let s = solve(&u, &r).unwrap();
    check(&s);
    assert_eq!(names(&s), ["alt=1", "y=1", "z=1"]);
    // Forbidding a version.
    let r = req(&["b"], &["b (>= 2)"]);
    assert_eq!(names(&solve(&u, &r).unwrap()), ["b=1"]);
}

#[test]
fn archive_priority_beats_newer_versions() {
    let old = "Package: b\nVersion: 1\nArchitecture: all\n";
    let new = "Package: b\nVersion: 2\nArchitecture: all\n";
    let r = req(&["b"], &[]);
    let u = universe(&[(500, old), (500, new)]);
    assert_eq!(names(&solve(&u, &r).unwrap()), ["b=2"]);
    let u = universe(&[(900, old), (500, new)]);
    assert_eq!(names(&solve(&u, &r).unwrap()), ["b=1"]);
}

const VIRTUAL: &str = "Package: mailer
Version: 1
Architecture: amd64
Depends: mail-transport-agent

Package: exim
Version: 4
Architecture: amd64
Provides: mail-transport-agent
Conflicts: mail-transport-agent
Replaces: mail-transport-agent

Package: postfix
Version: 3
Architecture: amd64
Provides: mail-transport-agent
Conflicts: mail-transport-agent

Package: abi-user
Version: 1
Architecture: amd64
Depends: libfoo-abi (>= 2)

Package: foo-old
Version: 1
Architecture: amd64
Provides: libfoo-abi

Package: foo-new
Version: 1
Architecture: amd64
Provides: libfoo-abi (= 2)

Package: breaker
Version: 1
Architecture: amd64
Breaks: b (<< 2)

Package: b
Version: 1
Architecture: all

Package: b
Version: 2
Architecture: all
";

#[test]
fn provides_conflicts_and_breaks() {
    let u = universe(&[(500, VIRTUAL)]);
    // A virtual dependency takes one provider; providers that conflict
    // with the virtual name do not conflict with themselves.
    let r = req(&["mailer"], &[]);
    let s = solve(&u, &r).unwrap();
    check(&s);
    assert_eq!(s.len(), 2, "{:?}", names(&s));
    // Two providers of a name both conflicting with it: unsatisfiable.
    let r = req(&["exim", "postfix"], &[]);
    let e = solve(&u, &r).unwrap_err().to_string();
    assert!(e.contains("exim") && e.contains("postfix"), "{e}");
    // Only a versioned Provides satisfies a versioned dependency.
    let r = req(&["abi-user"], &[]);
    let s = solve(&u, &r).unwrap();
    check(&s);
    assert_eq!(names(&s), ["abi-user=1", "foo-new=1"]);
    // Breaks pushes to a version outside the broken range.
    let r = req(&["breaker", "b"], &[]);
    assert_eq!(names(&solve(&u, &r).unwrap()), ["b=2", "breaker=1"]);
}

#[test]
fn unsatisfiable_requests_name_the_packages() {
    let u = universe(&[(
        500,
        "Package: app\nVersion: 1\nArchitecture: amd64\nDepends: libmissing (>= 3)\n",
    )]);
    let r = req(&["app"], &[]);
    let e = solve(&u, &r).unwrap_err().to_string();
    assert!(e.starts_with("cannot satisfy the requirements:"), "{e}");
    assert!(e.contains("app") && e.contains("libmissing"), "{e}");
    let r = req(&["app ((("], &[]);
    assert!(matches!(solve(&u, &r), Err(SolveError::BadRequest { .. })));
}

#[test]
fn real_trixie_minbase_set_is_consistent() {
    let text = String::from_utf8(
        std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../tests/data/trixie/main/binary-amd64/Packages.xz"
        ))
        .map(|xz| crate::compression::read_all("Packages.xz", xz.as_slice()).unwrap())
        .unwrap(),
    )
    .unwrap();
    let pkgs = parse_all(&text).unwrap();
    // mmdebstrap's minbase: Essential, Priority: required, and apt.
    let primary: Vec<crate::update::PrimaryPackage<'_>> = pkgs.iter().map(Into::into).collect();
    let install =
        crate::update::variant_packages(&primary, "amd64", crate::manifest::Variant::Minbase);
    let mut u = Universe::new("amd64");
    u.add(0, 500, pkgs);
    let r = Request {
        install,
        forbid: vec![],
        recommends: false,
        foreign: Vec::new(),
    };
    let start = std::time::Instant::now();
    let s = solve(&u, &r).unwrap();
    eprintln!(
        "trixie minbase: {} packages, solved in {:?}",
        s.len(),
        start.elapsed()
    );
    check(&s);
    let got: Vec<&str> = s.iter().map(|c| c.package.name).collect();
    for must in [
        "apt",
        "base-files",
        "bash",
        "dpkg",
        "libc6",
        "coreutils",
        "perl-base",
    ] {
        assert!(got.contains(&must), "{must} missing from {got:?}");
    }
    assert!((60..=120).contains(&s.len()), "{} packages", s.len());
}

const RECOMMENDS: &str = "Package: app
Version: 1
Architecture: amd64
Recommends: helper, missing-thing, fancy | plain

Package: helper
Version: 1
Architecture: amd64
Recommends: helper-data

Package: helper-data
Version: 1
Architecture: all

Package: fancy
Version: 1
Architecture: amd64
Conflicts: app

Package: plain
Version: 1
Architecture: amd64
";

#[test]
fn recommends_only_when_asked_and_only_what_fits() {
    let u = universe(&[(500, RECOMMENDS)]);
    let r = req(&["app"], &[]);
    assert_eq!(names(&solve(&u, &r).unwrap()), ["app=1"]);
    let r = Request {
        recommends: true,
        foreign: Vec::new(),
        ..req(&["app"], &[])
    };
    let s = solve(&u, &r).unwrap();
    check(&s);
    // helper and what it recommends; 'plain' because 'fancy' conflicts;
    // the missing recommendation is left out.
    assert_eq!(names(&s), ["app=1", "helper=1", "helper-data=1", "plain=1"]);
}

#[test]
fn local_packages_take_absolute_precedence() {
    let archive = "Package: tool\nVersion: 9.0\nArchitecture: amd64\n\nPackage: lib\nVersion: 1\nArchitecture: amd64\n";
    let local = "Package: tool\nVersion: 0.1\nArchitecture: amd64\nDepends: lib\n";
    let mut u = Universe::new("amd64");
    for p in parse_all(local).unwrap() {
        u.add_local(7, p);
    }
    u.add(0, 500, parse_all(archive).unwrap());
    let r = req(&["tool"], &[]);
    let s = solve(&u, &r).unwrap();
    assert_eq!(names(&s), ["lib=1", "tool=0.1"]);
    assert_eq!(
        s.iter().find(|c| c.package.name == "tool").unwrap().archive,
        7
    );
    // Even a version constraint only the archive meets does not bring it back.
    let r = req(&["tool (>= 1)"], &[]);
    assert!(solve(&u, &r).is_err());
}

#[test]
fn an_unknown_package_gets_the_nearest_names() {
    const NAMES: &str = "Package: curl
Version: 8
Architecture: amd64

Package: cups
Version: 2
Architecture: amd64

Package: libcurl4
Version: 8
Architecture: amd64

Package: mail-transport
Version: 1
Architecture: amd64
Provides: mail-transport-agent

Package: zsh
Version: 5
Architecture: amd64
";
    let u = universe(&[(500, NAMES)]);
    let r = req(&["cur"], &[]);
    let e = solve(&u, &r).unwrap_err();
    assert_eq!(
        e.to_string(),
        "no package named \"cur\" in the archives; did you mean curl, cups?"
    );
    // Provided names count as known and as candidates; an alternative
    // the universe has is enough.
    let r = req(&["mail-transport-agen"], &[]);
    assert!(solve(&u, &r)
        .unwrap_err()
        .to_string()
        .ends_with("did you mean mail-transport-agent, mail-transport?"));
    let r = req(&["mail-transport-agent", "nothing-like-it | zsh"], &[]);
    assert!(solve(&u, &r).is_ok());
    let r = req(&["qqqqqqqq"], &[]);
    assert_eq!(
        solve(&u, &r).unwrap_err().to_string(),
        "no package named \"qqqqqqqq\" in the archives"
    );
}
