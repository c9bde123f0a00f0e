//! An independent check of a solution, used by the tests: written without
//! the solver's encoding, from the rules as Debian Policy and dpkg state
//! them (architectures by name; `all` counts as native).

use std::collections::HashMap;

use crate::packages::{BinaryPackage, MultiArch};
use crate::relation::{Relation, Relations};

/// Something wrong with a set of packages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Violation {
    /// Instances of one package that may not be installed together.
    Duplicate(String),
    /// `package`'s dependency group is satisfied by nothing in the set.
    Unsatisfied { package: String, group: String },
    /// `package` conflicts with (or breaks) `other`.
    Conflict { package: String, other: String },
}

fn effective<'a>(p: &BinaryPackage<'a>, native: &'a str) -> &'a str {
    if p.architecture == crate::arch::ALL {
        native
    } else {
        p.architecture
    }
}

/// Does `p`, whose Provides are `provides`, match `rel` by name and version?
fn version_and_name(p: &BinaryPackage<'_>, provides: &Relations<'_>, rel: &Relation<'_>) -> bool {
    let direct = p.name == rel.name
        && rel
            .version
            .as_ref()
            .is_none_or(|(op, v)| op.holds(&p.version, v));
    let provided = provides.iter().any(|pr| {
        pr.name == rel.name
            && match &rel.version {
                None => true,
                Some((op, v)) => pr.version.as_ref().is_some_and(|(_, pv)| op.holds(pv, v)),
            }
    });
    direct || provided
}

/// Does `q` satisfy dependency `rel` written by a package of architecture
/// `from` (already mapped from `all` to native)?
fn satisfies(
    (q, provides): (&BinaryPackage<'_>, &Relations<'_>),
    rel: &Relation<'_>,
    from: &str,
    native: &str,
) -> bool {
    let arch = effective(q, native);
    let arch_ok = match rel.arch_qualifier {
        None => arch == from || q.multi_arch == MultiArch::Foreign,
        Some("any") => q.multi_arch == MultiArch::Allowed,
        Some("native") => arch == native,
        Some(a) => arch == a,
    };
    arch_ok && version_and_name(q, provides, rel)
}

/// Is `q` hit by Conflicts/Breaks `rel`?
fn hit(
    (q, provides): (&BinaryPackage<'_>, &Relations<'_>),
    rel: &Relation<'_>,
    native: &str,
) -> bool {
    let arch = effective(q, native);
    let arch_ok = match rel.arch_qualifier {
        None | Some("any") => true,
        Some("native") => arch == native,
        Some(a) => arch == a,
    };
    arch_ok && version_and_name(q, provides, rel)
}

/// Check that every Depends and Pre-Depends group is satisfied, nothing
/// conflicts with or breaks anything else, and a name appears more than
/// once only as `Multi-Arch: same` instances of one version in distinct
/// architectures. `native` is the native architecture.
pub fn validate(native: &str, set: &[&BinaryPackage<'_>]) -> Vec<Violation> {
    let mut out = Vec::new();
    let mut seen: HashMap<&str, Vec<&BinaryPackage<'_>>> = HashMap::new();
    for p in set {
        seen.entry(p.name).or_default().push(p);
    }
    let mut dups: Vec<&str> = seen
        .iter()
        .filter(|(_, v)| {
            let mut arches: Vec<&str> = v.iter().map(|p| effective(p, native)).collect();
            arches.sort_unstable();
            arches.dedup();
            v.len() > 1
                && (arches.len() != v.len()
                    || v.iter()
                        .any(|p| p.multi_arch != MultiArch::Same || p.version != v[0].version))
        })
        .map(|(k, _)| *k)
        .collect();
    dups.sort_unstable();
    out.extend(dups.into_iter().map(|d| Violation::Duplicate(d.to_owned())));
    // Each package's Provides, parsed once for the whole check.
    let provides: Vec<Relations<'_>> = set.iter().map(|q| q.provides()).collect();
    let with_provides = || set.iter().map(|q| &**q).zip(&provides);
    for p in set {
        let from = effective(p, native);
        for group in p.pre_depends().groups().chain(p.depends().groups()) {
            if !group
                .iter()
                .any(|rel| with_provides().any(|q| satisfies(q, rel, from, native)))
            {
                let text = group
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(" | ");
                out.push(Violation::Unsatisfied {
                    package: p.name.to_owned(),
                    group: text,
                });
            }
        }
        for rel in p.conflicts().iter().chain(p.breaks().iter()) {
            for (q, prov) in with_provides() {
                // A package does not conflict with itself (own name or Provides).
                if q.name != p.name && hit((q, prov), rel, native) {
                    out.push(Violation::Conflict {
                        package: p.name.to_owned(),
                        other: q.name.to_owned(),
                    });
                }
            }
        }
    }
    out
}
