//! An independent check of a solution, used by the tests: written without
//! the solver's encoding, from the rules as Debian Policy states them.

use std::collections::HashMap;

use crate::packages::BinaryPackage;
use crate::relation::Relation;

/// Something wrong with a set of packages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Violation {
    /// Two versions of one package.
    Duplicate(String),
    /// `package`'s dependency group is satisfied by nothing in the set.
    Unsatisfied { package: String, group: String },
    /// `package` conflicts with (or breaks) `other`.
    Conflict { package: String, other: String },
}

fn satisfies(p: &BinaryPackage<'_>, rel: &Relation<'_>) -> bool {
    let direct = p.name == rel.name
        && rel
            .version
            .as_ref()
            .is_none_or(|(op, v)| op.holds(&p.version, v));
    let provided = p.provides().iter().any(|pr| {
        pr.name == rel.name
            && match &rel.version {
                None => true,
                Some((op, v)) => pr.version.as_ref().is_some_and(|(_, pv)| op.holds(pv, v)),
            }
    });
    direct || provided
}

/// Check that every Depends and Pre-Depends group is satisfied, nothing
/// conflicts with or breaks anything else, and each name appears once.
pub fn validate(set: &[&BinaryPackage<'_>]) -> Vec<Violation> {
    let mut out = Vec::new();
    let mut seen: HashMap<&str, usize> = HashMap::new();
    for p in set {
        *seen.entry(p.name).or_default() += 1;
    }
    let mut dups: Vec<&str> = seen
        .iter()
        .filter(|(_, n)| **n > 1)
        .map(|(k, _)| *k)
        .collect();
    dups.sort_unstable();
    out.extend(dups.into_iter().map(|d| Violation::Duplicate(d.to_owned())));
    for p in set {
        for group in p.pre_depends().groups().chain(p.depends().groups()) {
            if !group
                .iter()
                .any(|rel| set.iter().any(|q| satisfies(q, rel)))
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
            for q in set {
                // A package does not conflict with itself (own name or Provides).
                if q.name != p.name && satisfies(q, rel) {
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
