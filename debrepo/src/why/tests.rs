use std::path::Path;

use super::*;
use crate::packages::parse_all;

/// A small universe: alternatives, a virtual name with two providers,
/// Pre-Depends, an essential package, a recommendation, conflicts.
const INDEX: &str = "Package: base-files
Version: 13
Architecture: amd64
Essential: yes
Priority: required
Pre-Depends: libc6 (>= 2)

Package: libc6
Version: 2.41
Architecture: amd64
Priority: optional

Package: apt
Version: 3.0
Architecture: amd64
Priority: important
Depends: libapt (>= 3)

Package: libapt
Version: 3.0
Architecture: amd64

Package: curl
Version: 8.1
Architecture: amd64
Depends: libcurl3 | libcurl4
Recommends: ca-certificates
Suggests: curl-doc

Package: libcurl3
Version: 7.0
Architecture: amd64

Package: libcurl4
Version: 8.1
Architecture: amd64
Depends: libc6

Package: ca-certificates
Version: 2025
Architecture: all

Package: mailer
Version: 1
Architecture: amd64
Depends: mail-transport-agent

Package: exim4
Version: 4.98
Architecture: amd64
Provides: mail-transport-agent
Conflicts: mail-transport-agent

Package: postfix
Version: 3.9
Architecture: amd64
Provides: mail-transport-agent
Conflicts: mail-transport-agent

Package: broken
Version: 1
Architecture: amd64
Depends: nowhere (>= 2) | gone

Package: oldcurl
Version: 1
Architecture: amd64
Breaks: curl (<< 9)

Package: tool
Version: 2
Architecture: amd64
";

fn universe() -> Universe<'static> {
    let mut u = Universe::new("amd64");
    u.add(0, 500, parse_all(INDEX).unwrap());
    u
}

fn record<'u, 'a>(u: &'u Universe<'a>, name: &'u str) -> &'u BinaryPackage<'a> {
    &u.named(name).next().unwrap().package
}

fn root(requirement: &str, spec: &str) -> Root {
    Root {
        requirement: requirement.to_owned(),
        source: RootSource::Include {
            spec: spec.to_owned(),
            imported: false,
        },
    }
}

/// The lock a solve of `curl`, `mailer` (minbase-like: base-files
/// essential, apt) would give, exim4 chosen for the MTA.
fn context<'u, 'a>(u: &'u Universe<'a>, roots: Vec<Root>) -> Context<'u, 'a> {
    let locked = [
        "apt",
        "base-files",
        "curl",
        "exim4",
        "libapt",
        "libc6",
        "libcurl3",
        "libcurl4",
        "mailer",
    ];
    Context {
        spec: "[spec]".into(),
        locked: locked.iter().map(|n| record(u, n)).collect(),
        roots,
        exclude: vec![("".into(), "tool".into())],
        recommends: false,
    }
}

fn base_roots() -> Vec<Root> {
    vec![
        root("curl", ""),
        root("mailer", ""),
        Root {
            requirement: "base-files".into(),
            source: RootSource::Variant {
                variant: "minbase".into(),
                reason: VariantReason::Essential,
            },
        },
        Root {
            requirement: "apt".into(),
            source: RootSource::Variant {
                variant: "minbase".into(),
                reason: VariantReason::Named,
            },
        },
    ]
}

/// `by -> package` for each step, with the matched alternative.
fn chain(w: &Why) -> Vec<String> {
    w.steps
        .iter()
        .map(|s| {
            let by = match &s.by {
                Requirer::Spec { source } => match source {
                    RootSource::Include { spec, .. } => format!("include[{spec}]"),
                    RootSource::ImportedLock { spec } => format!("imported[{spec}]"),
                    RootSource::Variant { reason, .. } => format!("variant:{reason:?}"),
                },
                Requirer::Package { package, field } => format!("{} {field}", package.name),
            };
            format!(
                "{by}: {} => {}{} {}",
                s.group,
                s.matched,
                if s.provides { " (provided)" } else { "" },
                s.package.name
            )
        })
        .collect()
}

#[test]
fn an_included_package_is_its_own_root() {
    let u = universe();
    let ctx = context(&u, base_roots());
    let w = why(&ctx, "curl").unwrap();
    assert_eq!(chain(&w), ["include[]: curl => curl curl"]);
    assert_eq!(w.package.version, "8.1");
}

#[test]
fn the_first_satisfied_alternative_is_named() {
    let u = universe();
    let ctx = context(&u, base_roots());
    let w = why(&ctx, "libcurl3").unwrap();
    assert_eq!(
        chain(&w),
        [
            "include[]: curl => curl curl",
            "curl Depends: libcurl3 | libcurl4 => libcurl3 libcurl3"
        ]
    );
    assert!(!w.later_alternative);
}

#[test]
fn a_later_alternative_also_in_the_lock_is_found_and_flagged() {
    let u = universe();
    let ctx = context(&u, base_roots());
    let w = why(&ctx, "libcurl4").unwrap();
    assert!(w.later_alternative);
    assert_eq!(
        chain(&w),
        [
            "include[]: curl => curl curl",
            "curl Depends: libcurl3 | libcurl4 => libcurl4 libcurl4"
        ]
    );
}

#[test]
fn a_virtual_name_leads_to_its_provider() {
    let u = universe();
    let ctx = context(&u, base_roots());
    let w = why(&ctx, "exim4").unwrap();
    assert_eq!(
        chain(&w),
        [
            "include[]: mailer => mailer mailer",
            "mailer Depends: mail-transport-agent => mail-transport-agent (provided) exim4"
        ]
    );
}

#[test]
fn pre_depends_from_an_essential_package_and_the_shortest_chain() {
    let u = universe();
    let ctx = context(&u, base_roots());
    // libc6 is reached through base-files (Pre-Depends, two steps) and
    // through curl -> libcurl4 (three, and a later alternative).
    let w = why(&ctx, "libc6").unwrap();
    assert_eq!(
        chain(&w),
        [
            "variant:Essential: base-files => base-files base-files",
            "base-files Pre-Depends: libc6 (>= 2) => libc6 (>= 2) libc6"
        ]
    );
}

#[test]
fn ties_go_to_the_first_root() {
    let u = universe();
    // curl required by both the spec and its parent: the spec's own
    // include comes first in spec_roots, and so wins.
    let mut roots = vec![root("curl", "child"), root("curl", "")];
    roots.extend(base_roots());
    let ctx = context(&u, roots);
    assert_eq!(
        chain(&why(&ctx, "curl").unwrap()),
        ["include[child]: curl => curl curl"]
    );
}

#[test]
fn variant_package_by_name() {
    let u = universe();
    let ctx = context(&u, base_roots());
    let w = why(&ctx, "libapt").unwrap();
    assert_eq!(
        chain(&w),
        [
            "variant:Named: apt => apt apt",
            "apt Depends: libapt (>= 3) => libapt (>= 3) libapt"
        ]
    );
}

#[test]
fn recommends_are_followed_only_when_the_spec_follows_them() {
    let u = universe();
    let mut ctx = context(&u, base_roots());
    ctx.locked.push(record(&u, "ca-certificates"));
    let w = why(&ctx, "ca-certificates").unwrap();
    assert!(w.steps.is_empty());
    ctx.recommends = true;
    let w = why(&ctx, "ca-certificates").unwrap();
    assert_eq!(
        chain(&w),
        [
            "include[]: curl => curl curl",
            "curl Recommends: ca-certificates => ca-certificates ca-certificates"
        ]
    );
}

#[test]
fn why_on_a_package_not_locked_points_at_why_not() {
    let u = universe();
    let ctx = context(&u, base_roots());
    let e = why(&ctx, "postfix").unwrap_err().to_string();
    assert_eq!(
        e,
        "postfix is not in the lock of spec [spec]: ask 'why-not postfix'"
    );
    let e = why_not(&ctx, &u, "curl").unwrap_err().to_string();
    assert_eq!(e, "curl 8.1 is in the lock of spec [spec]: ask 'why curl'");
}

#[test]
fn why_not_unknown_names_and_virtuals() {
    let u = universe();
    let ctx = context(&u, base_roots());
    let w = why_not(&ctx, &u, "curly").unwrap();
    assert_eq!(
        w.reasons,
        [Reason::NotInArchives {
            similar: vec!["curl".into()]
        }]
    );
    let w = why_not(&ctx, &u, "mail-transport-agent").unwrap();
    assert_eq!(
        w.reasons[0],
        Reason::Virtual {
            providers: vec!["exim4".into(), "postfix".into()],
            locked: vec!["exim4".into()],
        }
    );
}

#[test]
fn why_not_a_conflicting_provider() {
    let u = universe();
    let ctx = context(&u, base_roots());
    let w = why_not(&ctx, &u, "postfix").unwrap();
    let pkg = |n: &str, v: &str| Pkg {
        name: n.into(),
        version: v.into(),
        arch: "amd64".into(),
    };
    assert_eq!(
        w.reasons,
        [
            Reason::Conflict {
                candidate: pkg("postfix", "3.9"),
                locked: pkg("exim4", "4.98"),
                field: "Conflicts".into(),
                relation: "mail-transport-agent".into(),
                theirs: true,
            },
            Reason::Conflict {
                candidate: pkg("postfix", "3.9"),
                locked: pkg("exim4", "4.98"),
                field: "Conflicts".into(),
                relation: "mail-transport-agent".into(),
                theirs: false,
            },
            Reason::SatisfiedOtherwise {
                by: Requirer::Package {
                    package: pkg("mailer", "1"),
                    field: "Depends".into()
                },
                group: "mail-transport-agent".into(),
                satisfied_by: pkg("exim4", "4.98"),
            },
        ]
    );
}

#[test]
fn why_not_breaks_excluded_unmet_and_only_recommended() {
    let u = universe();
    let ctx = context(&u, base_roots());
    let w = why_not(&ctx, &u, "oldcurl").unwrap();
    assert!(
        matches!(&w.reasons[0], Reason::Conflict { field, relation, theirs: false, locked, .. }
            if field == "Breaks" && relation == "curl (<< 9)" && locked.name == "curl"),
        "{:?}",
        w.reasons
    );
    assert_eq!(w.reasons.last(), Some(&Reason::NotRequired));

    let w = why_not(&ctx, &u, "tool").unwrap();
    assert_eq!(
        w.reasons,
        [
            Reason::Excluded {
                spec: "".into(),
                entry: "tool".into()
            },
            Reason::NotRequired
        ]
    );

    let w = why_not(&ctx, &u, "broken").unwrap();
    assert!(
        matches!(&w.reasons[0], Reason::UnmetDepends { group, field, .. }
            if group == "nowhere (>= 2) | gone" && field == "Depends"),
        "{:?}",
        w.reasons
    );

    let w = why_not(&ctx, &u, "ca-certificates").unwrap();
    assert!(
        matches!(&w.reasons[..], [Reason::WantedBy { package, field, followed: false, .. }, Reason::NotRequired]
            if package.name == "curl" && field == "Recommends"),
        "{:?}",
        w.reasons
    );
}

#[test]
fn roots_of_an_inherited_spec_and_its_variant() {
    let m = Manifest::parse(
        "[spec]\nvariant = \"minbase\"\ninclude = [\"mailer\"]\nexclude = [\"tool\"]\n\n[spec.web]\nextends = \"\"\ninclude = [\"curl\"]\n",
        Path::new("dir/Manifest.toml"),
    )
    .unwrap();
    let resolved = m.resolve("web").unwrap();
    let u = universe();
    let primary: Vec<PrimaryPackage<'_>> = u
        .candidates()
        .iter()
        .map(|c| PrimaryPackage::from(&c.package))
        .collect();
    let variant = variant_roots(&primary, "amd64", resolved.variant);
    assert_eq!(
        variant
            .iter()
            .map(|r| format!("{} {:?}", r.requirement, r.source))
            .collect::<Vec<_>>(),
        [
            "apt Variant { variant: \"minbase\", reason: Named }",
            "base-files Variant { variant: \"minbase\", reason: Essential }",
        ]
    );
    let roots = spec_roots(&m, &resolved, &[], variant);
    let ctx = Context {
        spec: "web".into(),
        exclude: spec_excludes(&m, &resolved),
        recommends: resolved.recommends,
        ..context(&u, roots)
    };
    assert_eq!(
        chain(&why(&ctx, "exim4").unwrap()),
        [
            "include[]: mailer => mailer mailer",
            "mailer Depends: mail-transport-agent => mail-transport-agent (provided) exim4"
        ]
    );
    assert_eq!(
        chain(&why(&ctx, "curl").unwrap()),
        ["include[web]: curl => curl curl"]
    );
    assert_eq!(
        why_not(&ctx, &u, "tool").unwrap().reasons[0],
        Reason::Excluded {
            spec: "".into(),
            entry: "tool".into()
        }
    );
}

#[test]
fn an_included_virtual_name_satisfied_by_a_provider() {
    let u = universe();
    let mut roots = base_roots();
    roots.push(root("mail-transport-agent", ""));
    let ctx = context(&u, roots);
    let w = why_not(&ctx, &u, "mail-transport-agent").unwrap();
    assert!(
        w.reasons.iter().any(|r| matches!(r, Reason::SatisfiedOtherwise { by: Requirer::Spec { .. }, satisfied_by, .. } if satisfied_by.name == "exim4")),
        "{:?}",
        w.reasons
    );
    assert!(!w.reasons.contains(&Reason::NotRequired));
}

#[test]
fn a_real_package_satisfies_its_name_before_a_locked_provider() {
    let index = "Package: busybox
Version: 1
Architecture: amd64

Package: busybox-static
Version: 1
Architecture: amd64
Provides: busybox

Package: rescue
Version: 1
Architecture: amd64
Depends: busybox-static
";
    let mut u = Universe::new("amd64");
    u.add(0, 500, parse_all(index).unwrap());
    let ctx = Context {
        spec: "[spec]".into(),
        locked: ["busybox", "busybox-static", "rescue"]
            .iter()
            .map(|n| record(&u, n))
            .collect(),
        roots: vec![root("busybox", ""), root("rescue", "")],
        exclude: Vec::new(),
        recommends: false,
    };
    assert_eq!(
        chain(&why(&ctx, "busybox-static").unwrap()),
        [
            "include[]: rescue => rescue rescue",
            "rescue Depends: busybox-static => busybox-static busybox-static"
        ]
    );
}

#[test]
fn a_followed_recommendation_left_out() {
    let u = universe();
    let mut ctx = context(&u, base_roots());
    ctx.recommends = true;
    let w = why_not(&ctx, &u, "ca-certificates").unwrap();
    assert!(
        matches!(&w.reasons[..], [Reason::WantedBy { package, followed: true, .. }, Reason::NotRequired]
            if package.name == "curl"),
        "{:?}",
        w.reasons
    );
}

#[test]
fn an_imported_spec_pins_come_before_the_variant() {
    let m = Manifest::parse(
        "[spec]\ninclude = [\"curl\"]\n",
        Path::new("dir/Manifest.toml"),
    )
    .unwrap();
    let mut resolved = m.resolve("").unwrap();
    // As an import gives it: the imported spec `base` this spec extends.
    resolved.imported_chain = vec!["base".into()];
    let pins = vec![("base".to_owned(), "libapt (= 3.0)".to_owned())];
    let roots = spec_roots(&m, &resolved, &pins, base_roots().split_off(2));
    assert_eq!(
        roots
            .iter()
            .map(|r| r.requirement.as_str())
            .collect::<Vec<_>>(),
        ["curl", "libapt (= 3.0)", "base-files", "apt"]
    );
    let u = universe();
    let ctx = context(&u, roots);
    assert_eq!(
        chain(&why(&ctx, "libapt").unwrap()),
        ["imported[base]: libapt (= 3.0) => libapt (= 3.0) libapt"]
    );
}
