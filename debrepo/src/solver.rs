//! Dependency solving with resolvo, in Debian's terms.
//!
//! The universe is every candidate package of the indices: the native
//! architecture, `all`, and any foreign architectures asked for. Each
//! package name, per architecture slot (see [`multiarch`]), is a resolvo
//! name; resolvo requires every candidate of one version set to share its
//! name, so:
//! - a dependency `foo (>= 1)` is a union of version sets: the real
//!   package `foo` with versions `>= 1`, and for each package `P` that
//!   provides `foo`, "the versions of `P` whose Provides satisfy `foo (>= 1)`"
//!   (an unversioned Provides satisfies only an unversioned dependency);
//! - an alternative group `a | b` is the union of its members' sets, in
//!   written order (the first alternative is preferred, as apt does);
//! - `Conflicts` and `Breaks` constrain each named package, real or
//!   providing, to versions that do not match; a package is never in
//!   conflict with itself through its own name or Provides.
//! - Pre-Depends are dependencies like Depends for choosing the set;
//! - instances of one name in several architectures exclude each other
//!   unless all are `Multi-Arch: same` with one version.
//!
//! Candidates of one name are tried by archive priority (higher first),
//! then newest version; a requested name that is a real package is that
//! package (its providers do not stand in for it), and the providers of
//! a name are tried in apt's order (see [`apt`]).
//!
//! Before resolvo, [`solve`] replays apt's own marking ([`apt`]): when it
//! ends in a consistent set, that set is the answer, so the choices where
//! several sets would do (alternatives, providers, what is already
//! satisfied) are apt's. Only where apt would need its problem resolver,
//! or with foreign architectures, does resolvo search.

use std::collections::HashMap;
use std::fmt;

use resolvo::{ConditionalRequirement, Problem, Solver, UnsolvableOrCancelled};

use crate::packages::BinaryPackage;
use crate::relation::{self, FieldKind, Op, Relation};
use crate::version::Version;

pub mod apt;
pub mod multiarch;
mod provider;
mod validate;

use multiarch::Slot;
use provider::{Provider, Set};

pub use validate::{validate, Violation};

/// A package the solver may choose.
#[derive(Debug, Clone)]
pub struct Candidate<'a> {
    pub package: BinaryPackage<'a>,
    /// Index of the archive it comes from.
    pub archive: usize,
    /// The archive's priority (higher wins).
    pub priority: i64,
    /// Architecture slot: 0 for native and `all`, then the foreign ones.
    pub slot: Slot,
}

/// A fast hasher for package names (the FxHash mixing step). Names come
/// from verified indices, so resistance to chosen collisions is not needed,
/// and SipHash was the largest cost of building a universe.
#[derive(Default, Clone, Copy)]
pub(crate) struct NameHasher(u64);

impl std::hash::Hasher for NameHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mix = |h: u64, w: u64| (h.rotate_left(5) ^ w).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let w = u64::from_le_bytes(chunk.try_into().expect("8 bytes"));
            self.0 = mix(self.0, w);
        }
        // The tail, one byte at a time: no call to copy a few bytes.
        let tail = chunks.remainder();
        if !tail.is_empty() {
            let w = tail
                .iter()
                .rev()
                .fold(0u64, |w, &b| (w << 8) | u64::from(b));
            self.0 = mix(self.0, w);
        }
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

pub(crate) type FastMap<K, V> = HashMap<K, V, std::hash::BuildHasherDefault<NameHasher>>;

/// Candidates of one name: most names have one, kept without an
/// allocation of its own (68,000 fewer in trixie's universe, made and
/// freed on every update).
type Ids = smallvec::SmallVec<[usize; 1]>;

/// Everything the solver can choose from.
pub struct Universe<'a> {
    /// The native architecture, then the foreign ones.
    arches: Vec<String>,
    candidates: Vec<Candidate<'a>>,
    by_name: FastMap<(&'a str, Slot), Ids>,
    /// Virtual name → candidates providing it.
    providers: FastMap<&'a str, Ids>,
    /// Names taken by local packages: archive packages of these names are
    /// not considered.
    local_names: std::collections::HashSet<&'a str>,
    /// apt's number of each candidate's name (see [`apt`]), made when
    /// first needed.
    apt_order: std::sync::OnceLock<Vec<u32>>,
    /// How many candidates, from the first, came from indices that list
    /// the names apt meets reading them (see [`Universe::index_listed`]);
    /// `None` once one did not.
    listed: Option<usize>,
    /// apt's numbering of the names those indices list, when given
    /// ([`Universe::set_listed_order`]).
    listed_order: Option<FastMap<&'a str, u32>>,
    /// Since the last [`Universe::mark`], a record was not added as a new
    /// candidate and its names may not have been met (another
    /// architecture, a local package's name, a copy whose relationships
    /// differ).
    skipped: bool,
}

/// Where the candidates stood before an index was added
/// ([`Universe::mark`]).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Mark(usize);

impl<'a> Universe<'a> {
    /// An empty universe for the native architecture `arch`.
    pub fn new(arch: &str) -> Self {
        Self::with_foreign(arch, &[])
    }

    /// An empty universe for the native architecture `arch` and these
    /// foreign architectures (as `dpkg --add-architecture` adds them).
    pub fn with_foreign(arch: &str, foreign: &[String]) -> Self {
        let mut arches = vec![arch.to_owned()];
        for f in foreign {
            if !arches.contains(f) && f != crate::arch::ALL {
                arches.push(f.clone());
            }
        }
        Universe {
            arches,
            candidates: Vec::new(),
            by_name: FastMap::default(),
            providers: FastMap::default(),
            local_names: Default::default(),
            apt_order: std::sync::OnceLock::new(),
            listed: Some(0),
            listed_order: None,
            skipped: false,
        }
    }

    /// The slot of an architecture name (`all` is native), if the
    /// universe has it.
    pub fn slot_of(&self, arch: &str) -> Option<Slot> {
        if arch == crate::arch::ALL {
            return Some(0);
        }
        self.arches
            .iter()
            .position(|a| a == arch)
            .map(|i| i as Slot)
    }

    /// `name` for the native slot, `name:arch` for a foreign one.
    pub fn display_name(&self, name: &str, slot: Slot) -> String {
        match slot {
            0 => name.to_owned(),
            s => format!("{name}:{}", self.arches[s as usize]),
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
        self.reserve(packages.size_hint().0);
        for p in packages {
            self.add_one(archive, priority, p);
        }
    }

    /// Room for `more` candidates.
    pub fn reserve(&mut self, more: usize) {
        self.candidates.reserve(more);
        self.by_name.reserve(more);
        // About one virtual name for every four packages in Debian.
        self.providers.reserve(more / 4);
    }

    /// [`Universe::add`] for one package.
    pub fn add_one(&mut self, archive: usize, priority: i64, p: BinaryPackage<'a>) {
        self.apt_order.take();
        let Some(slot) = self.slot_of(p.architecture) else {
            self.skipped = true;
            return;
        };
        if priority != i64::MAX && self.local_names.contains(p.name) {
            self.skipped = true;
            return;
        }
        let same = self.by_name.get(&(p.name, slot)).and_then(|ids| {
            ids.iter().copied().find(|&i| {
                self.candidates[i].package.version == p.version
                    && self.candidates[i].package.architecture == p.architecture
            })
        });
        if let Some(i) = same {
            // A copy (a point release's version also in -updates, say)
            // whose relationships read the same brings no name apt's
            // numbering has not met at the copy already there.
            if !self.candidates[i].package.same_relations(&p) {
                self.skipped = true;
            }
            if self.candidates[i].priority < priority {
                self.candidates[i] = Candidate {
                    package: p,
                    archive,
                    priority,
                    slot,
                };
            }
            return;
        }
        let i = self.candidates.len();
        self.by_name.entry((p.name, slot)).or_default().push(i);
        // Names only: the versions are read when a solve asks.
        for (prov, _) in p.relation_names(FieldKind::Provides) {
            let list = self.providers.entry(prov).or_default();
            if list.last() != Some(&i) {
                list.push(i);
            }
        }
        self.candidates.push(Candidate {
            package: p,
            archive,
            priority,
            slot,
        });
    }

    /// Before the records of one index are added: see
    /// [`Universe::index_listed`].
    pub(crate) fn mark(&mut self) -> Mark {
        self.skipped = false;
        Mark(self.candidates.len())
    }

    /// After the records of one index were added (since `mark`): whether
    /// the index lists the names apt meets reading them
    /// ([`crate::packages::RecordTable::names`]). When every candidate
    /// came from such indices, each record a new candidate (or a copy
    /// whose relationships read the same), apt's numbering is the one
    /// [`Universe::set_listed_order`] gives, made from the lists instead of
    /// reading every relationship field again.
    pub(crate) fn index_listed(&mut self, mark: Mark, listed: bool) {
        self.listed = match self.listed {
            Some(n) if n == mark.0 && listed && !self.skipped => Some(self.candidates.len()),
            _ => None,
        };
    }

    /// apt's numbering of the names listed by the indices added so far
    /// (see [`Universe::index_listed`]), in their order:
    /// [`apt::number_listed`] of their lists.
    pub(crate) fn set_listed_order(&mut self, order: FastMap<&'a str, u32>) {
        self.apt_order.take();
        self.listed_order = Some(order);
    }

    /// [`Universe::set_listed_order`]'s numbering, when every candidate
    /// came from the indices it was made from.
    fn listed_order(&self) -> Option<&FastMap<&'a str, u32>> {
        match self.listed {
            Some(n) if n == self.candidates.len() => self.listed_order.as_ref(),
            _ => None,
        }
    }

    /// apt's numbering of the universe's names: the order in which apt
    /// would create its packages reading the indices (see [`apt`]).
    fn cache_order(&self) -> &[u32] {
        self.apt_order.get_or_init(|| apt::cache_order(self))
    }

    /// All candidates.
    pub fn candidates(&self) -> &[Candidate<'a>] {
        &self.candidates
    }

    /// Candidates named `name`, of every architecture.
    pub fn named<'s>(&'s self, name: &'s str) -> impl Iterator<Item = &'s Candidate<'a>> + 's {
        (0..self.arches.len() as Slot)
            .filter_map(move |s| self.by_name.get(&(name, s)))
            .flatten()
            .map(|&i| &self.candidates[i])
    }

    /// The native architecture.
    pub fn arch(&self) -> &str {
        &self.arches[0]
    }

    /// The native architecture, then the foreign ones.
    pub fn architectures(&self) -> &[String] {
        &self.arches
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
    #[error("architecture {arch:?} is not among the universe's ({known}): add it to the spec's foreign-architectures")]
    UnknownArchitecture { arch: String, known: String },
    #[error(
        "no package named {name:?} in the archives{}",
        did_you_mean(candidates)
    )]
    UnknownPackage {
        name: String,
        /// Names from the universe close to `name`, best first.
        candidates: Vec<String>,
    },
    #[error("the requested packages {first} and {second} cannot be installed together: {reason}")]
    ConflictingRequests {
        first: String,
        second: String,
        /// Which of them conflicts with (or breaks) the other.
        reason: String,
    },
    #[error("invalid requirement {text:?}")]
    BadRequest {
        text: String,
        #[source]
        source: relation::RelationError,
    },
}

fn did_you_mean(candidates: &[String]) -> String {
    if candidates.is_empty() {
        String::new()
    } else {
        format!("; did you mean {}?", candidates.join(", "))
    }
}

/// Edit distance (insertions, deletions, substitutions) of two names.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != *cb)).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}

impl Universe<'_> {
    /// True if a package of this name, or one providing it, is in the
    /// universe (of any architecture).
    pub fn knows(&self, name: &str) -> bool {
        self.providers.contains_key(name)
            || (0..self.arches.len() as Slot).any(|s| self.by_name.contains_key(&(name, s)))
    }

    /// Up to `n` names of the universe (packages and what they provide)
    /// close to `name`, as [`similar_names`] chooses them.
    pub fn similar_names(&self, name: &str, n: usize) -> Vec<String> {
        similar_names(
            name,
            self.by_name
                .keys()
                .map(|(k, _)| *k)
                .chain(self.providers.keys().copied()),
            n,
        )
    }
}

/// Up to `n` of `names` close to `name`, for "did you mean": names that
/// start with it first (shortest first), then those a few edits away
/// (nearest first); ties by name, so the answer is always the same.
pub fn similar_names<'n>(
    name: &str,
    names: impl IntoIterator<Item = &'n str>,
    n: usize,
) -> Vec<String> {
    let limit = (name.chars().count() / 3).max(2);
    let mut names: Vec<&str> = names.into_iter().collect();
    names.sort_unstable();
    names.dedup();
    let mut scored: Vec<(usize, usize, &str)> = names
        .into_iter()
        .filter(|c| *c != name)
        .filter_map(|c| {
            if c.starts_with(name) {
                Some((0, c.len() - name.len(), c))
            } else {
                let d = edit_distance(name, c);
                (d <= limit).then_some((1, d, c))
            }
        })
        .collect();
    scored.sort_unstable();
    scored
        .into_iter()
        .take(n)
        .map(|(_, _, c)| c.to_owned())
        .collect()
}

/// What to solve for.
#[derive(Debug, Clone, Default)]
pub struct Request {
    /// Requirements in relation syntax (`curl`, `libc6 (>= 2.36)`, `a | b`).
    /// A name that is a real package means that package. The order counts
    /// as apt-get's command line does: each requested package gets its
    /// dependencies in turn, so what an earlier one brings in may satisfy
    /// a later one's alternatives (see [`apt`]).
    pub install: Vec<String>,
    /// Forbidden packages or versions (`foo`, `foo (<< 2)`).
    pub forbid: Vec<String>,
    /// Also install what the chosen packages recommend, where possible.
    pub recommends: bool,
    /// Foreign architectures whose packages may be chosen (each must be
    /// one of the universe's); empty for the native architecture only.
    pub foreign: Vec<String>,
}

/// Solve `request` in `universe`; returns the chosen candidates sorted by
/// name: apt's own choice where its marking ends consistent (see [`apt`]),
/// else resolvo's. Two requested real packages that cannot be installed
/// together are [`SolveError::ConflictingRequests`].
///
/// With `recommends`, as apt does: the Recommends of every chosen package
/// are added (the first installable alternative preferred), then those of
/// what they bring in; a recommendation that cannot be installed with the
/// rest is left out.
pub fn solve<'u, 'a>(
    universe: &'u Universe<'a>,
    request: &'a Request,
) -> Result<Vec<&'u Candidate<'a>>, SolveError> {
    // A requirement none of whose alternatives the universe has is
    // reported by name, with the nearest names, before solving.
    for text in &request.install {
        let Ok(rels) = relation::parse(FieldKind::Depends, text) else {
            continue; // reported by solve_with
        };
        for group in rels.groups() {
            if let Some(first) = group.first() {
                if !group.iter().any(|r| universe.knows(r.name)) {
                    return Err(SolveError::UnknownPackage {
                        name: first.name.to_owned(),
                        candidates: universe.similar_names(first.name, 5),
                    });
                }
            }
        }
    }
    if let Some(chosen) = apt::solve(universe, request) {
        return Ok(chosen);
    }
    conflicting_requests(universe, request)?;
    let mut chosen = solve_with(universe, request, &[])?;
    if !request.recommends {
        return Ok(chosen);
    }
    let mut extra: Vec<(Vec<Relation<'a>>, Slot)> = Vec::new();
    // Groups are identified by their candidate (where it lives in the
    // universe) and their place in its field.
    let mut tried = std::collections::HashSet::new();
    loop {
        let mut pending: Vec<(Vec<Relation<'a>>, Slot)> = Vec::new();
        for c in &chosen {
            let recommends = c.package.recommends();
            for (k, g) in recommends.groups().enumerate() {
                if tried.insert((std::ptr::from_ref(*c) as usize, k)) {
                    pending.push((g.to_vec(), c.slot));
                }
            }
        }
        if pending.is_empty() {
            return Ok(chosen);
        }
        for group in pending {
            let mut attempt = extra.clone();
            attempt.push(group);
            let view: Vec<(&[Relation<'a>], Slot)> =
                attempt.iter().map(|(g, s)| (g.as_slice(), *s)).collect();
            if let Ok(solution) = solve_with(universe, request, &view) {
                extra = attempt;
                chosen = solution;
            }
        }
    }
}

/// Fails if two requested real packages cannot be installed together
/// (every version of one conflicts with, or breaks, every version of the
/// other, or is broken by it): a request names the real package, so
/// nothing else can stand in for either.
fn conflicting_requests(universe: &Universe<'_>, request: &Request) -> Result<(), SolveError> {
    let mut named: Vec<(String, Vec<&Candidate<'_>>)> = Vec::new();
    for text in &request.install {
        let Ok(rels) = relation::parse(FieldKind::Depends, text) else {
            continue;
        };
        for group in rels.groups() {
            let [rel] = group else { continue };
            let versions: Vec<&Candidate<'_>> = universe
                .by_name
                .get(&(rel.name, 0))
                .into_iter()
                .flatten()
                .map(|&i| &universe.candidates[i])
                .filter(|c| {
                    rel.version
                        .as_ref()
                        .is_none_or(|(op, v)| op.holds(&c.package.version, v))
                })
                .collect();
            if !versions.is_empty() && !named.iter().any(|(n, _)| *n == rel.name) {
                named.push((rel.name.to_owned(), versions));
            }
        }
    }
    for (i, (a, va)) in named.iter().enumerate() {
        for (b, vb) in &named[i + 1..] {
            let mut reason = None;
            let all_clash = va.iter().all(|x| {
                vb.iter().all(|y| {
                    let clash = validate(universe.arch(), &[&x.package, &y.package])
                        .into_iter()
                        .find_map(|v| match v {
                            Violation::Conflict { package, other } => Some(format!(
                                "{package} declares Conflicts or Breaks against {other}"
                            )),
                            _ => None,
                        });
                    let hit = clash.is_some();
                    reason = reason.take().or(clash);
                    hit
                })
            });
            if all_clash {
                return Err(SolveError::ConflictingRequests {
                    first: a.clone(),
                    second: b.clone(),
                    reason: reason.unwrap_or_default(),
                });
            }
        }
    }
    Ok(())
}

fn solve_with<'u, 'a>(
    universe: &'u Universe<'a>,
    request: &'a Request,
    extra: &[(&[Relation<'a>], Slot)],
) -> Result<Vec<&'u Candidate<'a>>, SolveError> {
    let mut allowed = vec![false; universe.arches.len()];
    allowed[0] = true;
    for arch in &request.foreign {
        match universe.slot_of(arch) {
            Some(s) => allowed[s as usize] = true,
            None => {
                return Err(SolveError::UnknownArchitecture {
                    arch: arch.clone(),
                    known: universe.arches.join(", "),
                })
            }
        }
    }
    let provider = Provider::new(universe, allowed.clone());
    let mut requirements = Vec::new();
    for (group, slot) in extra {
        requirements.push(ConditionalRequirement::from(
            provider.requirement(group, *slot),
        ));
    }
    for text in &request.install {
        let rels =
            relation::parse(FieldKind::Depends, text).map_err(|source| SolveError::BadRequest {
                text: text.clone(),
                source,
            })?;
        for group in rels.groups() {
            requirements.push(ConditionalRequirement::from(provider.request(group)));
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
        // A forbid names real packages (of every architecture, unless
        // qualified), not what provides them.
        for rel in rels.iter() {
            let rule = multiarch::ArchRule::negative(rel.arch_qualifier, |a| universe.slot_of(a));
            for s in 0..allowed.len() as Slot {
                if allowed[s as usize]
                    && rule.may_admit(s)
                    && universe.by_name.contains_key(&(rel.name, s))
                {
                    constraints.push(provider.set(Set::Not(Box::new(Set::Real(
                        provider.name(rel.name, s),
                        rel.version,
                        rule,
                    )))));
                }
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
            out.sort_by(|a, b| {
                (a.package.name, &universe.arches[a.slot as usize])
                    .cmp(&(b.package.name, &universe.arches[b.slot as usize]))
            });
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
            self.arches.join(", ")
        )
    }
}

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_apt;
#[cfg(test)]
mod tests_multiarch;
