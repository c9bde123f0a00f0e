//! `why` and `why-not`: what brought a package into a spec's lock, and
//! what keeps one out of it, told from the lock and the indices it was made
//! from (no solving).
//!
//! # The roots
//!
//! A spec's solve starts from its roots ([`spec_roots`]), in this order,
//! which is also the order ties are broken in:
//! 1. the spec's own `include`;
//! 2. the `include` of each ancestor it `extends`, the nearest first;
//! 3. the `include` of each imported spec it extends (nearest first), then
//!    what the imported lock pins for them (every package at its locked
//!    version, see [`crate::update`]);
//! 4. its variant's packages ([`variant_roots`]: `Essential: yes`, the
//!    `Priority` levels of the variant, and the names the variant adds,
//!    `apt` for minbase, `apt` and `build-essential` for buildd).
//!
//! # Why: the shortest chain
//!
//! The locked packages form a graph: a package has an edge to each locked
//! package that satisfies one of its `Pre-Depends` and `Depends` groups
//! (and `Recommends`, when the spec follows them: `recommends = true`;
//! otherwise the solver ignores Recommends and so does this walk). A group
//! `a | b` is satisfied by the first alternative that some locked package
//! satisfies, as apt takes the first alternative it can: by the package of
//! that name (in a version the relation admits) or by a package whose
//! `Provides` satisfies it (an unversioned Provides only an unversioned
//! relation; when the package of the relation's name is locked, it alone
//! satisfies the group, as a name that is a real package means that
//! package to apt). The roots are edges from the spec.
//!
//! [`why`] walks that graph breadth first from all roots at once and
//! returns the first chain that reaches the package: a shortest one. Ties
//! go, in order, to the root that comes first (the order above, then the
//! order of the requirements as written), then, at each package, to
//! `Pre-Depends` before `Depends` before `Recommends`, groups in written
//! order, and within a group to the package of the relation's name before
//! its providers, providers by name. So the answer is the same every time.
//!
//! If no chain reaches the package that way (a package the solver took for
//! a later alternative of a group whose first alternative is also in the
//! lock), the walk is done again letting a group lead to a locked package
//! satisfying any of its alternatives. A locked package that still has no
//! chain is reported as such ([`Why::steps`] empty).
//!
//! # Why not
//!
//! [`why_not`] lists every reason that holds for a package not in the lock
//! ([`Reason`]), checked against each of its candidates (each version and
//! architecture the indices have): the name is in no index at all (or is
//! only provided by others); the spec (or an ancestor) excludes it; a
//! locked package `Conflicts` with or `Breaks` it, or it with a locked
//! package; one of its `Pre-Depends`/`Depends` groups has no candidate in
//! any index; a group naming it is satisfied by another locked package; a
//! locked package only recommends or suggests it. When nothing required
//! it, [`Reason::NotRequired`] says so.
//!
//! Architecture qualifiers are honoured only when they name an
//! architecture (`foo:amd64`); `foo`, `foo:any` and `foo:native` match a
//! package of that name of any architecture in the lock.

use std::collections::{BTreeSet, HashSet, VecDeque};

use serde::Serialize;

use crate::manifest::{Manifest, ResolvedSpec, Variant};
use crate::packages::{BinaryPackage, Priority};
use crate::relation::{self, FieldKind, Relation, Relations};
use crate::solver::{provides_satisfying, Universe};
use crate::update::{variant_packages, Candidates, PrimaryPackage};

/// Where a root requirement of a spec comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum RootSource {
    /// An `include` of `spec` (the spec asked about, or one it extends).
    Include {
        spec: String,
        /// `spec` is a spec of the imported manifest.
        imported: bool,
    },
    /// The imported lock has the package for `spec`, an imported spec.
    ImportedLock { spec: String },
    /// The variant's set.
    Variant {
        variant: String,
        reason: VariantReason,
    },
}

/// Why a variant brings a package in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "field", content = "value", rename_all = "kebab-case")]
pub enum VariantReason {
    /// `Essential: yes`.
    Essential,
    /// `Priority: required` (or important, standard).
    Priority(String),
    /// The variant adds it by name (`apt` for minbase).
    Named,
}

/// A requirement a spec's solve starts from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Root {
    /// In relation syntax (`curl`, `libc6 (>= 2.36)`, `a | b`).
    pub requirement: String,
    pub source: RootSource,
}

/// One locked package, as the walk names it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Pkg {
    pub name: String,
    pub version: String,
    pub arch: String,
}

impl Pkg {
    fn of(p: &BinaryPackage<'_>) -> Pkg {
        Pkg {
            name: p.name.to_owned(),
            version: p.version.to_string(),
            arch: p.architecture.to_owned(),
        }
    }
}

/// Who requires: the spec (a root), or a locked package through one of
/// its fields.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "by", rename_all = "kebab-case")]
pub enum Requirer {
    Spec { source: RootSource },
    Package { package: Pkg, field: String },
}

/// One link of a chain: `by` requires `group`, and `package` satisfies it
/// through the alternative `matched` (its name, or a name it provides).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Step {
    #[serde(flatten)]
    pub by: Requirer,
    /// The whole group as written (`bar | baz`).
    pub group: String,
    /// The alternative that is satisfied (`baz`).
    pub matched: String,
    /// The locked package satisfying it.
    pub package: Pkg,
    /// `package` satisfies `matched` by its `Provides`.
    pub provides: bool,
}

/// The answer of [`why`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct Why {
    pub package: Pkg,
    /// From a root to the package; empty when no chain reaches it.
    pub steps: Vec<Step>,
    /// The chain needed a group's later alternative whose first one is
    /// also in the lock (see the module docs).
    pub later_alternative: bool,
}

/// One reason a package is not in the lock ([`why_not`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "reason", rename_all = "kebab-case")]
pub enum Reason {
    /// No index has a package of this name or one providing it.
    NotInArchives { similar: Vec<String> },
    /// No package has this name; these provide it (`locked`: those in
    /// the lock).
    Virtual {
        providers: Vec<String>,
        locked: Vec<String>,
    },
    /// `exclude` of `spec` forbids it (`entry` as written).
    Excluded { spec: String, entry: String },
    /// A locked package's `Conflicts`/`Breaks` (`field`) relation
    /// `relation` hits the candidate `candidate`, or (`theirs` false) the
    /// candidate's hits the locked package.
    Conflict {
        candidate: Pkg,
        locked: Pkg,
        field: String,
        relation: String,
        /// The relation is the locked package's.
        theirs: bool,
    },
    /// A `Pre-Depends`/`Depends` group of `candidate` no package in the
    /// indices satisfies.
    UnmetDepends {
        candidate: Pkg,
        field: String,
        group: String,
    },
    /// `by` requires a group naming it (or a name it provides), already
    /// satisfied by the locked `satisfied_by`.
    #[serde(rename_all = "kebab-case")]
    SatisfiedOtherwise {
        #[serde(flatten)]
        by: Requirer,
        group: String,
        satisfied_by: Pkg,
    },
    /// A locked package recommends or suggests it (`field`); `followed`:
    /// the spec installs Recommends (so it could not be installed).
    WantedBy {
        package: Pkg,
        field: String,
        relation: String,
        followed: bool,
    },
    /// Nothing in the spec or the lock requires it.
    NotRequired,
}

/// The answer of [`why_not`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WhyNot {
    pub name: String,
    pub reasons: Vec<Reason>,
}

/// `why` or `why-not` cannot answer.
#[derive(Debug, thiserror::Error)]
pub enum WhyError {
    #[error("{name} is not in the lock of spec {spec}: ask 'why-not {name}'")]
    NotLocked { name: String, spec: String },
    #[error("{name} {version} is in the lock of spec {spec}: ask 'why {name}'")]
    Locked {
        name: String,
        version: String,
        spec: String,
    },
    #[error("the lock has {name} {version} ({arch}), which no index has: the archives changed since the lock was made; run 'rdebootstrap update'")]
    NotInIndices {
        name: String,
        version: String,
        arch: String,
    },
    #[error("invalid requirement {text:?} of {what}")]
    BadRequirement {
        text: String,
        what: String,
        #[source]
        source: relation::RelationError,
    },
}

/// A spec's lock and what it was solved from, for [`why`] and
/// [`why_not`].
pub struct Context<'r, 'a> {
    /// The spec's label (`[spec]` or its name), for messages.
    pub spec: String,
    /// The locked packages' records.
    pub locked: Vec<&'r BinaryPackage<'a>>,
    /// [`spec_roots`].
    pub roots: Vec<Root>,
    /// `(spec, entry)` of every `exclude` along the chain.
    pub exclude: Vec<(String, String)>,
    /// The spec follows Recommends.
    pub recommends: bool,
}

impl<'r, 'a> Context<'r, 'a> {
    /// The context of the spec `resolved` whose lock is `locked`, from the
    /// universe it was solved from (`candidates`, made from the suites
    /// and local packages the lock was made from; `arch` the lock's).
    /// Every locked package must be in it ([`WhyError::NotInIndices`]).
    pub fn for_spec(
        manifest: &Manifest,
        resolved: &ResolvedSpec,
        locked: &crate::lock::LockedSpec,
        candidates: &'r Candidates<'a>,
        arch: &str,
    ) -> Result<Context<'r, 'a>, WhyError> {
        let mut by_name: std::collections::HashMap<&str, Vec<&'r BinaryPackage<'a>>> =
            Default::default();
        for c in candidates.universe.candidates() {
            by_name.entry(c.package.name).or_default().push(&c.package);
        }
        let mut records = Vec::new();
        for p in &locked.packages {
            let record = by_name
                .get(p.name.as_str())
                .into_iter()
                .flatten()
                .copied()
                .find(|c| c.architecture == p.arch && c.version.to_string() == p.version)
                .ok_or_else(|| WhyError::NotInIndices {
                    name: p.name.clone(),
                    version: p.version.clone(),
                    arch: p.arch.clone(),
                })?;
            records.push(record);
        }
        let variant = variant_roots(&candidates.primary, arch, resolved.variant);
        let pins = candidates.imported_pins_by_spec(&resolved.imported_chain, arch);
        Ok(Context {
            spec: crate::manifest::spec_label(&resolved.name),
            locked: records,
            roots: spec_roots(manifest, resolved, &pins, variant),
            exclude: spec_excludes(manifest, resolved),
            recommends: resolved.recommends,
        })
    }
}

/// The roots of a spec in tie-break order (see the module docs):
/// `variant` are its variant's ([`variant_roots`]), `imported_pins` the
/// packages the imported lock has for each imported spec, `(spec,
/// requirement)`.
pub fn spec_roots(
    manifest: &Manifest,
    resolved: &ResolvedSpec,
    imported_pins: &[(String, String)],
    variant: Vec<Root>,
) -> Vec<Root> {
    let mut roots = Vec::new();
    for name in resolved.chain.iter().rev() {
        if let Some(spec) = manifest.specs.get(name) {
            roots.extend(spec.include.iter().map(|r| Root {
                requirement: r.clone(),
                source: RootSource::Include {
                    spec: name.clone(),
                    imported: false,
                },
            }));
        }
    }
    if let Some(imported) = manifest.imported.as_deref() {
        for name in resolved.imported_chain.iter().rev() {
            if let Some(spec) = imported.specs.get(name) {
                roots.extend(spec.include.iter().map(|r| Root {
                    requirement: r.clone(),
                    source: RootSource::Include {
                        spec: name.clone(),
                        imported: true,
                    },
                }));
            }
        }
    }
    for name in resolved.imported_chain.iter().rev() {
        roots.extend(
            imported_pins
                .iter()
                .filter(|(s, _)| s == name)
                .map(|(_, r)| Root {
                    requirement: r.clone(),
                    source: RootSource::ImportedLock { spec: name.clone() },
                }),
        );
    }
    roots.extend(variant);
    roots
}

/// Every `exclude` of the spec and its ancestors, `(spec, entry)`, the
/// spec's own first.
pub fn spec_excludes(manifest: &Manifest, resolved: &ResolvedSpec) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for name in resolved.chain.iter().rev() {
        if let Some(spec) = manifest.specs.get(name) {
            out.extend(spec.exclude.iter().map(|e| (name.clone(), e.clone())));
        }
    }
    if let Some(imported) = manifest.imported.as_deref() {
        for name in resolved.imported_chain.iter().rev() {
            if let Some(spec) = imported.specs.get(name) {
                out.extend(spec.exclude.iter().map(|e| (name.clone(), e.clone())));
            }
        }
    }
    out
}

/// The variant's packages ([`variant_packages`]) as roots, each with the
/// reason the variant takes it.
pub fn variant_roots(primary: &[PrimaryPackage<'_>], arch: &str, variant: Variant) -> Vec<Root> {
    variant_packages(primary, arch, variant)
        .into_iter()
        .map(|name| {
            let record = primary.iter().find(|p| {
                p.name == name && (p.architecture == arch || p.architecture == crate::arch::ALL)
            });
            let reason = match record {
                Some(p) if p.essential => VariantReason::Essential,
                Some(PrimaryPackage {
                    priority: Some(prio),
                    ..
                }) if variant_priorities(variant).contains(prio) => {
                    VariantReason::Priority(priority_name(*prio).to_owned())
                }
                _ => VariantReason::Named,
            };
            Root {
                requirement: name,
                source: RootSource::Variant {
                    variant: variant.name().to_owned(),
                    reason,
                },
            }
        })
        .collect()
}

/// The `Priority` levels a variant takes (as [`variant_packages`] does).
fn variant_priorities(variant: Variant) -> &'static [Priority<'static>] {
    match variant {
        Variant::Custom | Variant::Essential | Variant::Buildd => &[],
        Variant::Required | Variant::Minbase => &[Priority::Required],
        Variant::Important => &[Priority::Required, Priority::Important],
        Variant::Standard => &[Priority::Required, Priority::Important, Priority::Standard],
    }
}

fn priority_name(p: Priority<'_>) -> &str {
    match p {
        Priority::Required => "required",
        Priority::Important => "important",
        Priority::Standard => "standard",
        Priority::Optional => "optional",
        Priority::Extra => "extra",
        Priority::Other(s) => s,
    }
}

/// The fields a walk follows, in tie-break order.
fn followed_fields(recommends: bool) -> Vec<FieldKind> {
    let mut f = vec![FieldKind::PreDepends, FieldKind::Depends];
    if recommends {
        f.push(FieldKind::Recommends);
    }
    f
}

fn field_of<'a>(p: &BinaryPackage<'a>, kind: FieldKind) -> Relations<'a> {
    p.relations(kind)
}

fn group_text(group: &[Relation<'_>]) -> String {
    group
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(" | ")
}

/// True if the relation's architecture qualifier admits `arch`.
fn arch_admits(rel: &Relation<'_>, arch: &str) -> bool {
    match rel.arch_qualifier {
        None | Some("any") | Some("native") => true,
        Some(q) => q == arch || arch == crate::arch::ALL,
    }
}

/// Does `p` satisfy `rel`: `Some(false)` by its name, `Some(true)` by its
/// Provides.
fn satisfies(p: &BinaryPackage<'_>, rel: &Relation<'_>) -> Option<bool> {
    if !arch_admits(rel, p.architecture) {
        return None;
    }
    if p.name == rel.name && rel.version_matches(&p.version) {
        Some(false)
    } else if provides_satisfying(p, rel.name, &rel.version) {
        Some(true)
    } else {
        None
    }
}

/// An edge of the walk: the group's text, the matched alternative, the
/// target (index into the locked list), whether by Provides.
struct Edge {
    group: String,
    matched: String,
    target: usize,
    provides: bool,
}

impl<'r, 'a> Context<'r, 'a> {
    /// The locked packages satisfying `group`: with `first_only` (the
    /// first pass), only those of its first alternative that any locked
    /// package satisfies, and of those the real package when it is locked
    /// (a name that is a real package is that package), else every locked
    /// provider; without, every locked package satisfying any alternative.
    /// The real package before providers, providers by name.
    fn edges(&self, group: &[Relation<'_>], first_only: bool) -> Vec<Edge> {
        let text = group_text(group);
        let mut out = Vec::new();
        for rel in group {
            let mut hits: Vec<(bool, &str, usize)> = self
                .locked
                .iter()
                .enumerate()
                .filter_map(|(i, p)| satisfies(p, rel).map(|prov| (prov, p.name, i)))
                .collect();
            hits.sort();
            if first_only && hits.first().is_some_and(|(provides, _, _)| !provides) {
                hits.retain(|(provides, _, _)| !provides);
            }
            let found = !hits.is_empty();
            out.extend(hits.into_iter().map(|(provides, _, target)| Edge {
                group: text.clone(),
                matched: rel.to_string(),
                target,
                provides,
            }));
            if found && first_only {
                break;
            }
        }
        out
    }

    fn parse_root<'t>(&self, root: &'t Root) -> Result<relation::Relations<'t>, WhyError> {
        relation::parse(FieldKind::Depends, &root.requirement).map_err(|source| {
            WhyError::BadRequirement {
                text: root.requirement.clone(),
                what: format!("spec {}", self.spec),
                source,
            }
        })
    }

    /// Breadth-first from the roots; the chain to the locked package
    /// `target`, if one reaches it.
    fn walk(&self, target: usize, first_only: bool) -> Result<Option<Vec<Step>>, WhyError> {
        // For each locked package reached: the step that reached it and
        // the package it came from (None: a root).
        let mut reached: Vec<Option<(Step, Option<usize>)>> = vec![None; self.locked.len()];
        let mut queue = VecDeque::new();
        for root in &self.roots {
            let rels = self.parse_root(root)?;
            for group in rels.groups() {
                for e in self.edges(group, first_only) {
                    if reached[e.target].is_none() {
                        reached[e.target] = Some((
                            Step {
                                by: Requirer::Spec {
                                    source: root.source.clone(),
                                },
                                group: e.group,
                                matched: e.matched,
                                package: Pkg::of(self.locked[e.target]),
                                provides: e.provides,
                            },
                            None,
                        ));
                        queue.push_back(e.target);
                    }
                }
            }
        }
        let fields = followed_fields(self.recommends);
        while let Some(at) = queue.pop_front() {
            if at == target {
                break;
            }
            let p = self.locked[at];
            for &kind in &fields {
                for group in field_of(p, kind).groups() {
                    for e in self.edges(group, first_only) {
                        if reached[e.target].is_none() {
                            reached[e.target] = Some((
                                Step {
                                    by: Requirer::Package {
                                        package: Pkg::of(p),
                                        field: kind.name().to_owned(),
                                    },
                                    group: e.group,
                                    matched: e.matched,
                                    package: Pkg::of(self.locked[e.target]),
                                    provides: e.provides,
                                },
                                Some(at),
                            ));
                            queue.push_back(e.target);
                        }
                    }
                }
            }
        }
        let mut steps = Vec::new();
        let mut at = Some(target);
        while let Some(i) = at {
            let Some((step, from)) = &reached[i] else {
                return Ok(None);
            };
            steps.push(step.clone());
            at = *from;
        }
        steps.reverse();
        Ok(Some(steps))
    }
}

/// Why the locked package `name` is in the lock: the shortest chain from
/// a root (see the module docs). `name` may be `name:arch`.
pub fn why(ctx: &Context<'_, '_>, name: &str) -> Result<Why, WhyError> {
    let (bare, arch) = split_arch(name);
    let Some(target) = ctx
        .locked
        .iter()
        .position(|p| p.name == bare && arch.is_none_or(|a| a == p.architecture))
    else {
        return Err(WhyError::NotLocked {
            name: name.to_owned(),
            spec: ctx.spec.clone(),
        });
    };
    let package = Pkg::of(ctx.locked[target]);
    if let Some(steps) = ctx.walk(target, true)? {
        return Ok(Why {
            package,
            steps,
            later_alternative: false,
        });
    }
    let steps = ctx.walk(target, false)?;
    Ok(Why {
        package,
        later_alternative: steps.is_some(),
        steps: steps.unwrap_or_default(),
    })
}

fn split_arch(name: &str) -> (&str, Option<&str>) {
    match name.split_once(':') {
        Some((n, a)) => (n, Some(a)),
        None => (name, None),
    }
}

/// Why `name` is not in the lock: every [`Reason`] that holds, in the
/// order of [`Reason`]'s variants.
pub fn why_not(
    ctx: &Context<'_, '_>,
    universe: &Universe<'_>,
    name: &str,
) -> Result<WhyNot, WhyError> {
    let (bare, arch) = split_arch(name);
    if let Some(p) = ctx
        .locked
        .iter()
        .find(|p| p.name == bare && arch.is_none_or(|a| a == p.architecture))
    {
        return Err(WhyError::Locked {
            name: name.to_owned(),
            version: p.version.to_string(),
            spec: ctx.spec.clone(),
        });
    }
    let mut reasons = Vec::new();
    let candidates: Vec<&BinaryPackage<'_>> = universe
        .named(bare)
        .map(|c| &c.package)
        .filter(|p| arch.is_none_or(|a| a == p.architecture))
        .collect();
    if candidates.is_empty() {
        let providers: BTreeSet<String> = universe
            .candidates()
            .iter()
            .filter(|c| c.package.provides().iter().any(|r| r.name == bare))
            .map(|c| c.package.name.to_owned())
            .collect();
        if providers.is_empty() {
            reasons.push(Reason::NotInArchives {
                similar: universe.similar_names(bare, 5),
            });
            return Ok(WhyNot {
                name: name.to_owned(),
                reasons,
            });
        }
        let locked = ctx
            .locked
            .iter()
            .filter(|p| p.provides().iter().any(|r| r.name == bare))
            .map(|p| p.name.to_owned())
            .collect();
        reasons.push(Reason::Virtual {
            providers: providers.into_iter().collect(),
            locked,
        });
    }

    // Excluded.
    for (spec, entry) in &ctx.exclude {
        let rels = relation::parse(FieldKind::Conflicts, entry).map_err(|source| {
            WhyError::BadRequirement {
                text: entry.clone(),
                what: format!("spec {}", ctx.spec),
                source,
            }
        })?;
        let hit = rels.iter().any(|r| {
            r.name == bare
                && (candidates.is_empty()
                    || candidates
                        .iter()
                        .any(|c| arch_admits(r, c.architecture) && r.version_matches(&c.version)))
        });
        if hit {
            reasons.push(Reason::Excluded {
                spec: spec.clone(),
                entry: entry.clone(),
            });
        }
    }

    // Conflicts and Breaks, both ways.
    let mut seen = HashSet::new();
    for c in &candidates {
        for l in &ctx.locked {
            for kind in [FieldKind::Conflicts, FieldKind::Breaks] {
                for r in field_of(l, kind).iter() {
                    if l.name != c.name && satisfies(c, r).is_some() {
                        let reason = Reason::Conflict {
                            candidate: Pkg::of(c),
                            locked: Pkg::of(l),
                            field: kind.name().to_owned(),
                            relation: r.to_string(),
                            theirs: true,
                        };
                        if seen.insert(format!("{reason:?}")) {
                            reasons.push(reason);
                        }
                    }
                }
                for r in field_of(c, kind).iter() {
                    if l.name != c.name && satisfies(l, r).is_some() {
                        let reason = Reason::Conflict {
                            candidate: Pkg::of(c),
                            locked: Pkg::of(l),
                            field: kind.name().to_owned(),
                            relation: r.to_string(),
                            theirs: false,
                        };
                        if seen.insert(format!("{reason:?}")) {
                            reasons.push(reason);
                        }
                    }
                }
            }
        }
    }

    // Dependencies no index can meet.
    for c in &candidates {
        for kind in [FieldKind::PreDepends, FieldKind::Depends] {
            for group in field_of(c, kind).groups() {
                let met = group.iter().any(|r| {
                    universe
                        .named(r.name)
                        .any(|o| satisfies(&o.package, r).is_some())
                        || universe
                            .candidates()
                            .iter()
                            .any(|o| satisfies(&o.package, r) == Some(true))
                });
                if !met {
                    reasons.push(Reason::UnmetDepends {
                        candidate: Pkg::of(c),
                        field: kind.name().to_owned(),
                        group: group_text(group),
                    });
                }
            }
        }
    }

    // Requirements naming it that something else in the lock satisfies;
    // Recommends and Suggests naming it.
    let names_it =
        |r: &Relation<'_>| r.name == bare || candidates.iter().any(|c| satisfies(c, r).is_some());
    let mut required = false;
    for root in &ctx.roots {
        let rels = ctx.parse_root(root)?;
        for group in rels.groups() {
            if group.iter().any(names_it) {
                required = true;
                if let Some(e) = ctx.edges(group, true).into_iter().next() {
                    reasons.push(Reason::SatisfiedOtherwise {
                        by: Requirer::Spec {
                            source: root.source.clone(),
                        },
                        group: e.group,
                        satisfied_by: Pkg::of(ctx.locked[e.target]),
                    });
                }
            }
        }
    }
    let fields = followed_fields(ctx.recommends);
    for l in &ctx.locked {
        for &kind in &fields {
            for group in field_of(l, kind).groups() {
                if !group.iter().any(names_it) {
                    continue;
                }
                match ctx.edges(group, true).into_iter().next() {
                    Some(e) => {
                        required = true;
                        reasons.push(Reason::SatisfiedOtherwise {
                            by: Requirer::Package {
                                package: Pkg::of(l),
                                field: kind.name().to_owned(),
                            },
                            group: e.group,
                            satisfied_by: Pkg::of(ctx.locked[e.target]),
                        });
                    }
                    // A followed recommendation the solver had to leave
                    // out (a Depends here would make the lock invalid).
                    None => reasons.push(Reason::WantedBy {
                        package: Pkg::of(l),
                        field: kind.name().to_owned(),
                        relation: group_text(group),
                        followed: true,
                    }),
                }
            }
        }
    }
    for l in &ctx.locked {
        for kind in [FieldKind::Recommends, FieldKind::Suggests] {
            if kind == FieldKind::Recommends && ctx.recommends {
                continue; // a requirement, above
            }
            for group in field_of(l, kind).groups() {
                if group.iter().any(names_it) {
                    reasons.push(Reason::WantedBy {
                        package: Pkg::of(l),
                        field: kind.name().to_owned(),
                        relation: group_text(group),
                        followed: false,
                    });
                }
            }
        }
    }
    if !required {
        reasons.push(Reason::NotRequired);
    }
    Ok(WhyNot {
        name: name.to_owned(),
        reasons,
    })
}

#[cfg(test)]
mod tests;
