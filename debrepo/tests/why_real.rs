//! `why` and `why-not` on the real trixie index: every package of a solved
//! minbase + openssh-server + curl + postfix has a chain of requirements
//! from the spec's roots, each step true of the records, and why-not
//! explains a conflicting MTA and a name no archive has.

use debrepo::manifest::Variant;
use debrepo::packages::parse_all;
use debrepo::solver::{solve, Request, Universe};
use debrepo::update::PrimaryPackage;
use debrepo::why::{self, Context, Reason, Requirer, Root, RootSource};

#[test]
fn every_locked_package_of_a_real_solve_has_a_chain() {
    let index = testkit::trixie_packages();
    let text = std::str::from_utf8(&index).unwrap();
    let pkgs = parse_all(text).unwrap();
    let primary: Vec<PrimaryPackage<'_>> = pkgs.iter().map(Into::into).collect();
    let mut u = Universe::new("amd64");
    u.add(0, 500, pkgs.iter().cloned());

    let include = ["openssh-server", "curl", "postfix"];
    let mut roots: Vec<Root> = include
        .iter()
        .map(|r| Root {
            requirement: (*r).to_owned(),
            source: RootSource::Include {
                spec: String::new(),
                imported: false,
            },
        })
        .collect();
    roots.extend(why::variant_roots(&primary, "amd64", Variant::Minbase));
    let request = Request {
        install: roots.iter().map(|r| r.requirement.clone()).collect(),
        ..Default::default()
    };
    let chosen = solve(&u, &request).unwrap();
    let ctx = Context {
        spec: "[spec]".into(),
        locked: chosen.iter().map(|c| &c.package).collect(),
        roots,
        exclude: Vec::new(),
        recommends: false,
    };

    let started = std::time::Instant::now();
    let mut longest = Vec::new();
    for c in &chosen {
        let w = why::why(&ctx, c.package.name).unwrap();
        assert!(!w.steps.is_empty(), "{} has no chain", c.package.name);
        // Each step starts where the one before ended.
        for pair in w.steps.windows(2) {
            match &pair[1].by {
                Requirer::Package { package, .. } => assert_eq!(*package, pair[0].package),
                Requirer::Spec { .. } => panic!("a root in the middle: {:?}", w.steps),
            }
        }
        assert!(matches!(w.steps[0].by, Requirer::Spec { .. }));
        assert_eq!(w.steps.last().unwrap().package.name, c.package.name);
        if w.steps.len() > longest.len() {
            longest = w.steps.clone();
        }
    }
    let took = started.elapsed();
    eprintln!(
        "{} packages, a chain each in {took:.1?}; the longest has {} steps",
        chosen.len(),
        longest.len()
    );
    for s in &longest {
        eprintln!("  {:?} {} -> {}", s.by, s.group, s.package.name);
    }

    // curl is the spec's own.
    let w = why::why(&ctx, "curl").unwrap();
    assert_eq!(w.steps.len(), 1);

    // exim4-daemon-light is an MTA too: the locked postfix conflicts with
    // mail-transport-agent, which it provides.
    let w = why::why_not(&ctx, &u, "exim4-daemon-light").unwrap();
    eprintln!("why-not exim4-daemon-light: {:#?}", w.reasons);
    assert!(
        w.reasons
            .iter()
            .any(|r| matches!(r, Reason::Conflict { locked, .. } if locked.name == "postfix")),
        "{:?}",
        w.reasons
    );
    let w = why::why_not(&ctx, &u, "opensssh-server").unwrap();
    assert!(
        matches!(&w.reasons[..], [Reason::NotInArchives { similar }] if similar.contains(&"openssh-server".to_owned())),
        "{:?}",
        w.reasons
    );
}
