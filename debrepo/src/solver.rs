//! Dependency solving with resolvo, in Debian's terms.
//!
//! The universe is every candidate package of the indices (native
//! architecture and `all`). Each package name is a resolvo name; resolvo
//! requires every candidate of one version set to share its name, so:
//! - a dependency `foo (>= 1)` is a union of version sets: the real
//!   package `foo` with versions `>= 1`, and for each package `P` that
//!   provides `foo`, "the versions of `P` whose Provides satisfy `foo (>= 1)`"
//!   (an unversioned Provides satisfies only an unversioned dependency);
//! - an alternative group `a | b` is the union of its members' sets, in
//!   written order (the first alternative is preferred, as apt does);
//! - `Conflicts` and `Breaks` constrain each named package, real or
//!   providing, to versions that do not match; a package is never in
//!   conflict with itself through its own name or Provides.
//! - Pre-Depends are dependencies like Depends for choosing the set.
//!
//! Candidates of one name are tried by archive priority (higher first),
//! then newest version.

use std::cell::RefCell;
use std::collections::HashMap;
use std::fmt::{self, Display};

use resolvo::{
    Candidates, Condition, ConditionId, ConditionalRequirement, Dependencies, DependencyProvider,
    Interner, KnownDependencies, NameId, Problem, Requirement, SolvableId, Solver, SolverCache,
    StringId, UnsolvableOrCancelled, VersionSetId, VersionSetUnionId,
};

use crate::packages::BinaryPackage;
use crate::relation::{self, FieldKind, Op, Relation};
use crate::version::Version;

mod validate;

pub use validate::{validate, Violation};

/// A package the solver may choose.
#[derive(Debug, Clone)]
pub struct Candidate<'a> {
    pub package: BinaryPackage<'a>,
    /// Index of the archive it comes from.
    pub archive: usize,
    /// The archive's priority (higher wins).
    pub priority: i64,
}

/// A fast hasher for package names (the FxHash mixing step). Names come
/// from verified indices, so resistance to chosen collisions is not needed,
/// and SipHash was the largest cost of building a universe.
#[derive(Default, Clone, Copy)]
struct NameHasher(u64);

impl std::hash::Hasher for NameHasher {
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut w = [0u8; 8];
            w[..chunk.len()].copy_from_slice(chunk);
            self.0 = (self.0.rotate_left(5) ^ u64::from_le_bytes(w))
                .wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
        }
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

type NameMap<'a, V> = HashMap<&'a str, V, std::hash::BuildHasherDefault<NameHasher>>;

/// Everything the solver can choose from.
pub struct Universe<'a> {
    arch: String,
    candidates: Vec<Candidate<'a>>,
    by_name: NameMap<'a, Vec<usize>>,
    /// Virtual name → candidates providing it.
    providers: NameMap<'a, Vec<usize>>,
    /// Names taken by local packages: archive packages of these names are
    /// not considered.
    local_names: std::collections::HashSet<&'a str>,
}

impl<'a> Universe<'a> {
    /// An empty universe for the native architecture `arch`.
    pub fn new(arch: &str) -> Self {
        Universe {
            arch: arch.to_owned(),
            candidates: Vec::new(),
            by_name: NameMap::default(),
            providers: NameMap::default(),
            local_names: Default::default(),
        }
    }

    /// Add local packages (`[[local]]` .debs): they take absolute
    /// precedence, archive packages of the same names are not considered
    /// (add locals before archives). `origin` is recorded as the
    /// candidate's archive index.
    pub fn add_local(&mut self, origin: usize, package: BinaryPackage<'a>) {
        self.local_names.insert(package.name);
        self.add(origin, i64::MAX, [package]);
    }

    /// Add the packages of one archive's index. Packages of other
    /// architectures are skipped; a package already present with the same
    /// version keeps the copy of the higher-priority archive.
    pub fn add(
        &mut self,
        archive: usize,
        priority: i64,
        packages: impl IntoIterator<Item = BinaryPackage<'a>>,
    ) {
        let packages = packages.into_iter();
        let more = packages.size_hint().0;
        self.candidates.reserve(more);
        self.by_name.reserve(more);
        for p in packages {
            if p.architecture != self.arch && p.architecture != crate::arch::ALL {
                continue;
            }
            if priority != i64::MAX && self.local_names.contains(p.name) {
                continue;
            }
            let same = self.by_name.get(p.name).and_then(|ids| {
                ids.iter().copied().find(|&i| {
                    self.candidates[i].package.version == p.version
                        && self.candidates[i].package.architecture == p.architecture
                })
            });
            if let Some(i) = same {
                if self.candidates[i].priority < priority {
                    self.candidates[i] = Candidate {
                        package: p,
                        archive,
                        priority,
                    };
                }
                continue;
            }
            let i = self.candidates.len();
            self.by_name.entry(p.name).or_default().push(i);
            for prov in p.provides().iter() {
                let list = self.providers.entry(prov.name).or_default();
                if list.last() != Some(&i) {
                    list.push(i);
                }
            }
            self.candidates.push(Candidate {
                package: p,
                archive,
                priority,
            });
        }
    }

    /// All candidates.
    pub fn candidates(&self) -> &[Candidate<'a>] {
        &self.candidates
    }

    /// Candidates named `name`.
    pub fn named(&self, name: &str) -> impl Iterator<Item = &Candidate<'a>> {
        self.by_name
            .get(name)
            .into_iter()
            .flatten()
            .map(|&i| &self.candidates[i])
    }

    /// The native architecture.
    pub fn arch(&self) -> &str {
        &self.arch
    }
}

/// True if candidate `p` provides `rel.name` in a way that satisfies `rel`'s
/// version constraint (an unversioned Provides satisfies no versioned one).
pub fn provides_satisfying(
    p: &BinaryPackage<'_>,
    name: &str,
    c: &Option<(Op, Version<'_>)>,
) -> bool {
    p.provides().iter().any(|pr| {
        pr.name == name
            && match c {
                None => true,
                Some((op, v)) => pr.version.as_ref().is_some_and(|(_, pv)| op.holds(pv, v)),
            }
    })
}

/// A solving problem that has no solution, explained.
#[derive(Debug, thiserror::Error)]
pub enum SolveError {
    #[error("cannot satisfy the requirements:\n{0}")]
    Unsatisfiable(String),
    #[error("invalid requirement {text:?}")]
    BadRequest {
        text: String,
        #[source]
        source: relation::RelationError,
    },
}

#[derive(Clone, PartialEq, Eq, Hash)]
enum Set<'a> {
    /// Candidates of `name` whose version satisfies the constraint.
    Real(NameId, Option<(Op, Version<'a>)>),
    /// Candidates of `name` that provide `virt` satisfying the constraint.
    Provides(NameId, &'a str, Option<(Op, Version<'a>)>),
    /// Candidates of the inner set's name that it does not match.
    Not(Box<Set<'a>>),
}

impl Set<'_> {
    fn name(&self) -> NameId {
        match self {
            Set::Real(n, _) | Set::Provides(n, _, _) => *n,
            Set::Not(inner) => inner.name(),
        }
    }
}

struct Provider<'u, 'a> {
    universe: &'u Universe<'a>,
    /// NameId → the package name, and the solvables (candidate indices).
    names: RefCell<Vec<&'a str>>,
    name_ids: RefCell<HashMap<&'a str, NameId>>,
    sets: RefCell<Vec<Set<'a>>>,
    set_ids: RefCell<HashMap<Set<'a>, VersionSetId>>,
    unions: RefCell<Vec<Vec<VersionSetId>>>,
}

fn constraint_text(c: &Option<(Op, Version<'_>)>) -> String {
    match c {
        None => String::new(),
        Some((op, v)) => format!("({op} {v})"),
    }
}

impl<'u, 'a> Provider<'u, 'a> {
    fn new(universe: &'u Universe<'a>) -> Self {
        Provider {
            universe,
            names: RefCell::default(),
            name_ids: RefCell::default(),
            sets: RefCell::default(),
            set_ids: RefCell::default(),
            unions: RefCell::default(),
        }
    }

    fn name(&self, n: &'a str) -> NameId {
        if let Some(id) = self.name_ids.borrow().get(n) {
            return *id;
        }
        let mut names = self.names.borrow_mut();
        let id = NameId::from_raw(names.len() as u32);
        names.push(n);
        self.name_ids.borrow_mut().insert(n, id);
        id
    }

    fn set(&self, s: Set<'a>) -> VersionSetId {
        if let Some(id) = self.set_ids.borrow().get(&s) {
            return *id;
        }
        let mut sets = self.sets.borrow_mut();
        let id = VersionSetId(sets.len() as u32);
        sets.push(s.clone());
        self.set_ids.borrow_mut().insert(s, id);
        id
    }

    fn union(&self, members: Vec<VersionSetId>) -> VersionSetUnionId {
        let mut unions = self.unions.borrow_mut();
        unions.push(members);
        VersionSetUnionId(unions.len() as u32 - 1)
    }

    fn cand(&self, s: SolvableId) -> &Candidate<'a> {
        &self.universe.candidates[s.into_raw() as usize]
    }

    fn matches(&self, set: &Set<'a>, p: &BinaryPackage<'a>) -> bool {
        match set {
            Set::Real(_, c) => c.as_ref().is_none_or(|(op, v)| op.holds(&p.version, v)),
            Set::Provides(_, virt, c) => provides_satisfying(p, virt, c),
            Set::Not(inner) => !self.matches(inner, p),
        }
    }

    /// The requirement for one group of alternatives.
    fn requirement(&self, group: &[Relation<'a>]) -> Requirement {
        let mut sets = Vec::new();
        for alt in group {
            let c = alt.version;
            if self.universe.by_name.contains_key(alt.name) {
                sets.push(self.set(Set::Real(self.name(alt.name), c)));
            }
            let mut provider_names: Vec<&'a str> = self
                .universe
                .providers
                .get(alt.name)
                .into_iter()
                .flatten()
                .map(|&i| self.universe.candidates[i].package.name)
                .collect();
            provider_names.sort_unstable();
            provider_names.dedup();
            for pn in provider_names {
                sets.push(self.set(Set::Provides(self.name(pn), alt.name, c)));
            }
        }
        if sets.is_empty() {
            // Nothing is or provides any alternative: a set without
            // candidates, so the explanation names the missing package.
            let first = &group[0];
            sets.push(self.set(Set::Real(self.name(first.name), first.version)));
        }
        match sets.len() {
            1 => Requirement::Single(sets[0]),
            _ => Requirement::Union(self.union(sets)),
        }
    }

    fn conflicts(&self, owner: &BinaryPackage<'a>, out: &mut Vec<VersionSetId>) {
        for rel in owner.conflicts().iter().chain(owner.breaks().iter()) {
            let c = rel.version;
            if rel.name != owner.name && self.universe.by_name.contains_key(rel.name) {
                out.push(self.set(Set::Not(Box::new(Set::Real(self.name(rel.name), c)))));
            }
            let mut provider_names: Vec<&'a str> = self
                .universe
                .providers
                .get(rel.name)
                .into_iter()
                .flatten()
                .map(|&i| self.universe.candidates[i].package.name)
                .filter(|&n| n != owner.name)
                .collect();
            provider_names.sort_unstable();
            provider_names.dedup();
            for pn in provider_names {
                out.push(self.set(Set::Not(Box::new(Set::Provides(
                    self.name(pn),
                    rel.name,
                    c,
                )))));
            }
        }
    }
}

impl Interner for Provider<'_, '_> {
    type NameId = NameId;
    type SolvableId = SolvableId;

    fn display_solvable(&self, s: SolvableId) -> impl Display + '_ {
        let p = &self.cand(s).package;
        format!("{} {}", p.name, p.version)
    }

    fn display_merged_solvables(&self, solvables: &[SolvableId]) -> impl Display + '_ {
        let mut out = String::new();
        for (i, s) in solvables.iter().enumerate() {
            let p = &self.cand(*s).package;
            if i == 0 {
                out.push_str(p.name);
                out.push(' ');
            } else {
                out.push_str(" | ");
            }
            out.push_str(p.version.as_str());
        }
        out
    }

    fn display_name(&self, name: NameId) -> impl Display + '_ {
        self.names.borrow()[name.into_raw() as usize].to_owned()
    }

    fn display_version_set(&self, vs: VersionSetId) -> impl Display + '_ {
        match &self.sets.borrow()[vs.0 as usize] {
            Set::Real(_, c) => constraint_text(c),
            Set::Provides(_, virt, c) => format!("providing {virt} {}", constraint_text(c))
                .trim_end()
                .to_owned(),
            Set::Not(inner) => match inner.as_ref() {
                Set::Real(_, c) => format!("not {}", constraint_text(c)).trim_end().to_owned(),
                Set::Provides(_, virt, c) => format!("not providing {virt} {}", constraint_text(c))
                    .trim_end()
                    .to_owned(),
                Set::Not(_) => "(double negation)".into(),
            },
        }
    }

    fn display_string(&self, _s: StringId) -> impl Display + '_ {
        // The provider interns no strings (no excluded candidates, no
        // unknown dependencies).
        ""
    }

    fn version_set_name(&self, vs: VersionSetId) -> NameId {
        self.sets.borrow()[vs.0 as usize].name()
    }

    fn solvable_name(&self, s: SolvableId) -> NameId {
        self.name(self.cand(s).package.name)
    }

    fn version_sets_in_union(&self, u: VersionSetUnionId) -> impl Iterator<Item = VersionSetId> {
        self.unions.borrow()[u.0 as usize].clone().into_iter()
    }

    fn resolve_condition(&self, _condition: ConditionId) -> Condition {
        // No requirement this provider builds carries a condition.
        unreachable!("the Debian provider creates no conditional requirements")
    }
}

impl DependencyProvider for Provider<'_, '_> {
    async fn filter_candidates(
        &self,
        candidates: &[SolvableId],
        vs: VersionSetId,
        inverse: bool,
    ) -> Vec<SolvableId> {
        let set = self.sets.borrow()[vs.0 as usize].clone();
        candidates
            .iter()
            .copied()
            .filter(|&s| self.matches(&set, &self.cand(s).package) != inverse)
            .collect()
    }

    async fn get_candidates(&self, name: NameId) -> Option<Candidates<SolvableId>> {
        let n = self.names.borrow()[name.into_raw() as usize];
        let ids = self.universe.by_name.get(n)?;
        Some(Candidates {
            candidates: ids
                .iter()
                .map(|&i| SolvableId::from_raw(i as u32))
                .collect(),
            hint_dependencies_available: resolvo::HintDependenciesAvailable::All,
            ..Candidates::default()
        })
    }

    async fn sort_candidates(&self, _solver: &SolverCache<Self>, solvables: &mut [SolvableId]) {
        solvables.sort_by(|a, b| {
            let (a, b) = (self.cand(*a), self.cand(*b));
            b.priority
                .cmp(&a.priority)
                .then_with(|| b.package.version.cmp(&a.package.version))
                .then_with(|| a.archive.cmp(&b.archive))
        });
    }

    async fn get_dependencies(&self, s: SolvableId) -> Dependencies {
        let p = &self.cand(s).package;
        let mut requirements = Vec::new();
        for group in p.pre_depends().groups().chain(p.depends().groups()) {
            requirements.push(ConditionalRequirement::from(self.requirement(group)));
        }
        let mut constrains = Vec::new();
        self.conflicts(p, &mut constrains);
        Dependencies::Known(KnownDependencies {
            requirements,
            constrains,
        })
    }
}

/// What to solve for.
#[derive(Debug, Clone, Default)]
pub struct Request {
    /// Requirements in relation syntax (`curl`, `libc6 (>= 2.36)`, `a | b`).
    pub install: Vec<String>,
    /// Forbidden packages or versions (`foo`, `foo (<< 2)`).
    pub forbid: Vec<String>,
    /// Also install what the chosen packages recommend, where possible.
    pub recommends: bool,
}

/// Solve `request` in `universe`; returns the chosen candidates sorted by
/// name.
///
/// With `recommends`, as apt does: the Recommends of every chosen package
/// are added (the first installable alternative preferred), then those of
/// what they bring in; a recommendation that cannot be installed with the
/// rest is left out.
pub fn solve<'u, 'a>(
    universe: &'u Universe<'a>,
    request: &'a Request,
) -> Result<Vec<&'u Candidate<'a>>, SolveError> {
    let mut chosen = solve_with(universe, request, &[])?;
    if !request.recommends {
        return Ok(chosen);
    }
    let mut extra: Vec<&'u [Relation<'a>]> = Vec::new();
    // Groups are identified by where they live in the universe.
    let mut tried = std::collections::HashSet::new();
    loop {
        let pending: Vec<&'u [Relation<'a>]> = chosen
            .iter()
            .flat_map(|c| c.package.recommends().groups())
            .filter(|g| tried.insert(g.as_ptr() as usize))
            .collect();
        if pending.is_empty() {
            return Ok(chosen);
        }
        for group in pending {
            let mut attempt = extra.clone();
            attempt.push(group);
            if let Ok(solution) = solve_with(universe, request, &attempt) {
                extra = attempt;
                chosen = solution;
            }
        }
    }
}

fn solve_with<'u, 'a>(
    universe: &'u Universe<'a>,
    request: &'a Request,
    extra: &[&[Relation<'a>]],
) -> Result<Vec<&'u Candidate<'a>>, SolveError> {
    let provider = Provider::new(universe);
    let mut requirements = Vec::new();
    for group in extra {
        requirements.push(ConditionalRequirement::from(provider.requirement(group)));
    }
    for text in &request.install {
        let rels =
            relation::parse(FieldKind::Depends, text).map_err(|source| SolveError::BadRequest {
                text: text.clone(),
                source,
            })?;
        for group in rels.groups() {
            requirements.push(ConditionalRequirement::from(provider.requirement(group)));
        }
    }
    let mut constraints = Vec::new();
    for text in &request.forbid {
        let rels = relation::parse(FieldKind::Conflicts, text).map_err(|source| {
            SolveError::BadRequest {
                text: text.clone(),
                source,
            }
        })?;
        for rel in rels.iter() {
            if universe.by_name.contains_key(rel.name) {
                constraints.push(provider.set(Set::Not(Box::new(Set::Real(
                    provider.name(rel.name),
                    rel.version,
                )))));
            }
        }
    }
    let problem = Problem::new()
        .requirements(requirements)
        .constraints(constraints);
    let mut solver = Solver::new(provider);
    match solver.solve(problem) {
        Ok(ids) => {
            let mut out: Vec<&Candidate<'a>> = ids
                .into_iter()
                .map(|s| &universe.candidates[s.into_raw() as usize])
                .collect();
            out.sort_by(|a, b| a.package.name.cmp(b.package.name));
            Ok(out)
        }
        Err(UnsolvableOrCancelled::Unsolvable(conflict)) => Err(SolveError::Unsatisfiable(
            conflict.display_user_friendly(&solver).to_string(),
        )),
        Err(UnsolvableOrCancelled::Cancelled(_)) => {
            Err(SolveError::Unsatisfiable("cancelled".into()))
        }
    }
}

impl fmt::Debug for Universe<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Universe({} candidates for {})",
            self.candidates.len(),
            self.arch
        )
    }
}

#[cfg(test)]
mod tests;
