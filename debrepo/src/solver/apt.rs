//! apt's own choices, replayed: the packages `apt-get install` would mark
//! for a request, as mmdebstrap runs it, computed by following the rules
//! of apt's marking (apt-pkg's `pkgDepCache::MarkInstall`, apt 2.6 to
//! 3.0, the default solver). When that marking ends in a consistent set,
//! it is the solution; when it leaves anything broken (where apt would
//! call its problem resolver) the caller lets resolvo search instead.
//!
//! # The run, as mmdebstrap makes it
//! The requested packages marked `Essential: yes` are installed first, as
//! mmdebstrap's essential stage (an `apt-get install` on an empty status);
//! the rest are then installed with those recorded as installed, as
//! mmdebstrap's second `apt-get install`. Each stage is one
//! `apt-get install`:
//! 1. every requested package is marked (its candidate, without its
//!    dependencies) and protected: nothing may unmark it;
//! 2. then each is marked again with its dependencies, in the order they
//!    were requested (apt-get keeps its command line's order). This order
//!    matters: what an earlier request brings in satisfies a later one's
//!    alternatives. mmdebstrap gives apt its `--include` names first, then
//!    a pattern (`?priority(required)`…), whose matches come in the order
//!    of apt's package hash table; the request's own order stands in for
//!    both here.
//!
//! A requested name that is a real package means that package (even if
//! another requested package provides the name); a virtual name with one
//! provider means that provider (apt refuses a virtual name with several:
//! those requests are left to resolvo).
//!
//! # Marking a package with its dependencies
//! The package is marked first, then each of its dependency groups
//! (Pre-Depends and Depends; Recommends when asked for, whose failure is
//! not the package's) in written order, depth first:
//! - a group already satisfied by a marked or installed package — the
//!   real one or one that provides the name — adds nothing;
//! - otherwise the possible solutions are, alternative by alternative in
//!   written order, the candidates that satisfy it (the real package, and
//!   each package whose candidate provides the name with a satisfying
//!   version), each alternative's sorted by apt's `CompareProviders`:
//!   1. protected (requested) packages;
//!   2. installed packages;
//!   3. the real package of the name (its own group);
//!   4. `Essential: yes` packages;
//!   5. `Protected: yes` (`Important`) packages;
//!   6. higher `Priority` (required, important, standard, optional,
//!      extra; a package without a Priority sorts before all of them);
//!   7. and when all that ties, the package apt created **later** in its
//!      cache (a higher package id) — apt's own processing order;
//! - the first solution that can be marked (recursively, with its own
//!   dependencies) is taken; one that cannot is unmarked again (what it
//!   marked meanwhile stays, as in apt).
//!
//! Before its dependencies, a package's Conflicts and Breaks are applied:
//! a marked package they name is unmarked again unless it is protected, in
//! which case the package cannot be marked. A package being marked is
//! protected while its dependencies are marked, so nothing below it can
//! unmark it. A requested package's dependency with a single solution is
//! protected too.
//!
//! # apt's cache order
//! apt numbers packages in the order it first meets their names while it
//! reads the indices: each stanza's own name, then the names in its
//! Pre-Depends, Depends, Conflicts, Breaks, Recommends, Suggests,
//! Replaces, Enhances and Provides, in that order (a Conflicts, Breaks or
//! Replaces creates no package unless the name was never seen; `name:any`
//! creates none). That number is the last tie-break between providers, so
//! the same index gives the same choice, but an index reordered (or
//! another archive read first) may change it. The universe's candidates,
//! in the order they were added, stand for the indices. An index's record
//! table lists those names once, in that order
//! ([`crate::packages::RecordTable::names`]): when every candidate came
//! from such an index, the numbering is made from the lists
//! (the same numbers) instead of reading every
//! relationship field of the universe again.
//!
//! # Not replayed
//! apt's problem resolver (`pkgProblemResolver`), foreign architectures,
//! and requests with alternatives: those go to resolvo.

use std::collections::HashSet;

use super::multiarch::ArchRule;
use super::{provides_satisfying, Candidate, FastMap, Request, Universe};
use crate::packages::{BinaryPackage, Priority};
use crate::relation::{self, FieldKind, Relation};

/// apt's package numbering for the universe: for each candidate, the
/// number of its name.
pub(super) fn cache_order(u: &Universe<'_>) -> Vec<u32> {
    if let Some(ids) = u.listed_order() {
        return u.candidates.iter().map(|c| ids[c.package.name]).collect();
    }
    let ids = names_order(u);
    u.candidates.iter().map(|c| ids[c.package.name]).collect()
}

/// apt's numbering of names from the indices' lists of the names it meets
/// in each ([`crate::packages::RecordTable::names`]), the indices in the
/// order the universe adds them.
pub(crate) fn number_listed<'a, 'l>(
    lists: impl IntoIterator<Item = &'l [&'a str]>,
) -> FastMap<&'a str, u32>
where
    'a: 'l,
{
    let mut ids: FastMap<&'a str, u32> = FastMap::default();
    for list in lists {
        ids.reserve(list.len());
        for &name in list {
            let n = ids.len() as u32;
            ids.entry(name).or_insert(n);
        }
    }
    ids
}

/// The numbers of the names of `u`'s candidates, in the order apt first
/// meets them. The second half of the candidates is read on another thread,
/// and its names that the first half did not have are numbered after.
pub(super) fn names_order<'a>(u: &Universe<'a>) -> FastMap<&'a str, u32> {
    let half = u.candidates.len() / 2;
    if half < 4096 {
        return first_seen(&u.candidates);
    }
    std::thread::scope(|s| {
        let later = s.spawn(|| {
            let ids = first_seen(&u.candidates[half..]);
            let mut names: Vec<(&'a str, u32)> = ids.into_iter().collect();
            names.sort_unstable_by_key(|&(_, n)| n);
            names
        });
        let mut ids = first_seen(&u.candidates[..half]);
        let names = later
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        ids.reserve(names.len());
        for (name, _) in names {
            let n = ids.len() as u32;
            ids.entry(name).or_insert(n);
        }
        ids
    })
}

/// The names of `candidates` (theirs and those their relationships name)
/// numbered in the order of their first appearance.
pub(super) fn first_seen<'a>(candidates: &[Candidate<'a>]) -> FastMap<&'a str, u32> {
    let mut ids: FastMap<&'a str, u32> = FastMap::default();
    ids.reserve(candidates.len() * 2);
    for c in candidates {
        record_names(&c.package, |name| {
            let n = ids.len() as u32;
            ids.entry(name).or_insert(n);
        });
    }
    ids
}

/// The names apt meets reading one record, in order (see "apt's cache
/// order" above; a name may come more than once): its own, then those of
/// its relationship fields, read from the fields' text (no relation is
/// parsed for this).
pub(crate) fn record_names<'a>(p: &BinaryPackage<'a>, mut meet: impl FnMut(&'a str)) {
    meet(p.name);
    let kinds = [
        (FieldKind::PreDepends, true),
        (FieldKind::Depends, true),
        (FieldKind::Conflicts, false),
        (FieldKind::Breaks, false),
        (FieldKind::Recommends, true),
        (FieldKind::Suggests, true),
        (FieldKind::Replaces, false),
        (FieldKind::Enhances, true),
    ];
    for (kind, positive) in kinds {
        for (name, qualifier) in p.relation_names(kind) {
            // `name:any` creates no package.
            if !positive || qualifier != Some("any") {
                meet(name);
            }
        }
    }
    for (name, _) in p.relation_names(FieldKind::Provides) {
        if name != p.name {
            meet(name);
        }
    }
}

/// apt's number for a `Priority` (lower is more important; none is 0).
fn priority_rank(p: &BinaryPackage<'_>) -> u8 {
    match p.priority {
        None => 0,
        Some(Priority::Required) => 1,
        Some(Priority::Important) => 2,
        Some(Priority::Standard) => 3,
        Some(Priority::Optional) => 4,
        Some(Priority::Extra) | Some(Priority::Other(_)) => 5,
    }
}

/// The sort key of apt's `CompareProviders` for a candidate of `target`,
/// without the marking state (protected, installed): smaller is preferred.
pub(super) fn provider_key(
    u: &Universe<'_>,
    target: &str,
    i: usize,
) -> (bool, bool, bool, u8, std::cmp::Reverse<u32>) {
    let p = &u.candidates[i].package;
    (
        p.name != target,
        !p.essential,
        !p.protected,
        priority_rank(p),
        std::cmp::Reverse(u.cache_order()[i]),
    )
}

struct Sim<'s, 'u, 'a> {
    u: &'u Universe<'a>,
    forbid: &'s [Relation<'a>],
    recommends: bool,
    /// Candidate per name (slot 0); `None` when there is none, or it was
    /// discarded.
    cand: FastMap<&'a str, Option<usize>>,
    /// Marked for install (or installed): name → candidate index.
    marked: FastMap<&'a str, usize>,
    installed: HashSet<&'a str>,
    protected: HashSet<&'a str>,
    /// Something happened that apt would leave to its problem resolver.
    abort: bool,
}

impl<'u, 'a> Sim<'_, 'u, 'a> {
    fn cand(&mut self, name: &'a str) -> Option<usize> {
        if let Some(c) = self.cand.get(name) {
            return *c;
        }
        let best = self
            .u
            .by_name
            .get(&(name, 0))
            .into_iter()
            .flatten()
            .copied()
            .filter(|&i| !self.forbidden(&self.u.candidates[i].package))
            .min_by(|&a, &b| {
                let (a, b) = (&self.u.candidates[a], &self.u.candidates[b]);
                b.priority
                    .cmp(&a.priority)
                    .then_with(|| b.package.version.cmp(&a.package.version))
                    .then_with(|| a.archive.cmp(&b.archive))
            });
        self.cand.insert(name, best);
        best
    }

    fn forbidden(&self, p: &BinaryPackage<'_>) -> bool {
        self.forbid.iter().any(|f| {
            f.name == p.name
                && f.version
                    .as_ref()
                    .is_none_or(|(op, v)| op.holds(&p.version, v))
        })
    }

    fn pkg(&self, i: usize) -> &BinaryPackage<'a> {
        &self.u.candidates[i].package
    }

    fn rule(&self, rel: &Relation<'_>) -> ArchRule {
        ArchRule::positive(rel.arch_qualifier, 0, |a| self.u.slot_of(a))
    }

    fn real_matches(&self, rel: &Relation<'_>, c: &Candidate<'_>) -> bool {
        self.rule(rel).admits(c.slot, &c.package)
            && rel
                .version
                .as_ref()
                .is_none_or(|(op, v)| op.holds(&c.package.version, v))
    }

    /// True if the marked set satisfies `rel`.
    fn satisfied(&self, rel: &Relation<'a>) -> bool {
        if let Some(&i) = self.marked.get(rel.name) {
            if self.real_matches(rel, &self.u.candidates[i]) {
                return true;
            }
        }
        let rule = self.rule(rel);
        self.u
            .providers
            .get(rel.name)
            .into_iter()
            .flatten()
            .any(|&i| {
                let c = &self.u.candidates[i];
                c.slot == 0
                    && self.marked.get(c.package.name) == Some(&i)
                    && rule.admits(c.slot, &c.package)
                    && provides_satisfying(&c.package, rel.name, &rel.version)
            })
    }

    /// The candidates satisfying `rel` (real, then providers), in apt's
    /// order; with `negative`, any architecture.
    fn solutions(&mut self, rel: &Relation<'a>, negative: bool) -> Vec<usize> {
        let rule = if negative {
            ArchRule::Any
        } else {
            self.rule(rel)
        };
        let mut out = Vec::new();
        if let Some(i) = self.cand(rel.name) {
            let c = &self.u.candidates[i];
            let version_ok = rel
                .version
                .as_ref()
                .is_none_or(|(op, v)| op.holds(&c.package.version, v));
            if rule.admits(c.slot, &c.package) && version_ok {
                out.push(i);
            }
        }
        let providers: &[usize] = self
            .u
            .providers
            .get(rel.name)
            .map_or(&[], |ids| ids.as_slice());
        for &i in providers {
            let c = &self.u.candidates[i];
            if c.slot != 0 || c.package.name == rel.name {
                continue;
            }
            if self.cand(c.package.name) == Some(i)
                && rule.admits(c.slot, &c.package)
                && provides_satisfying(&c.package, rel.name, &rel.version)
                && !out.contains(&i)
            {
                out.push(i);
            }
        }
        out.sort_by_cached_key(|&i| {
            let p = self.pkg(i);
            (
                !self.protected.contains(p.name),
                !self.installed.contains(p.name),
                provider_key(self.u, rel.name, i),
            )
        });
        out
    }

    /// apt's `MarkInstall`.
    fn mark_install(
        &mut self,
        name: &'a str,
        auto_inst: bool,
        from_user: bool,
        depth: u32,
    ) -> bool {
        // apt gives up below 3000 levels; so deep a chain is left to
        // resolvo here, before the stack could run out.
        if depth > 500 {
            self.abort = true;
        }
        if self.abort {
            return false;
        }
        let protected = self.protected.contains(name);
        let is_marked = self.marked.contains_key(name);
        if !from_user && !is_marked && protected {
            return false;
        }
        let Some(ci) = self.cand(name) else {
            return false;
        };
        if !protected && (self.installed.contains(name) || is_marked) {
            return true;
        }
        let fail_early = !protected && !from_user;
        let mut has_failed = false;
        if from_user {
            self.marked.insert(name, ci);
        }
        let u = self.u;
        let p: &'u BinaryPackage<'a> = &u.candidates[ci].package;
        let mut to_install: Vec<(Vec<Relation<'a>>, bool)> = Vec::new();
        if auto_inst {
            let (pre, deps, recs) = (p.pre_depends(), p.depends(), p.recommends());
            let critical = pre.groups().chain(deps.groups());
            let groups: Vec<(&[Relation<'a>], bool)> = critical
                .map(|g| (g, true))
                .chain(
                    recs.groups()
                        .filter(|_| self.recommends)
                        .map(|g| (g, false)),
                )
                .collect();
            for (g, c) in groups {
                if protected || !g.iter().any(|r| self.satisfied(r)) {
                    to_install.push((g.to_vec(), c));
                }
            }
            // Conflicts and Breaks.
            let mut failed_remove = false;
            'neg: for rel in p.conflicts().iter().chain(p.breaks().iter()) {
                for t in self.solutions(rel, true) {
                    let tn = self.pkg(t).name;
                    if tn == name {
                        continue;
                    }
                    if self.installed.contains(tn) {
                        if self.pkg(t).essential {
                            failed_remove = true;
                        } else {
                            self.abort = true;
                            return false;
                        }
                    } else if self.marked.contains_key(tn) {
                        if self.protected.contains(tn) {
                            failed_remove = true;
                        } else {
                            self.marked.remove(tn);
                        }
                    } else if protected {
                        self.cand.insert(tn, None);
                        self.protected.insert(tn);
                    }
                    if failed_remove && fail_early {
                        break 'neg;
                    }
                }
            }
            if failed_remove {
                if fail_early {
                    return false;
                }
                has_failed = true;
            }
        }
        if !from_user {
            self.marked.insert(name, ci);
        }
        if !auto_inst {
            return !has_failed;
        }
        // Protected while its dependencies are marked.
        let scoped = !protected && self.protected.insert(name);
        let mut failed = false;
        for (group, critical) in to_install {
            let satisfied = group.iter().any(|r| self.satisfied(r));
            if satisfied && !protected {
                continue;
            }
            if satisfied {
                if !critical {
                    continue;
                }
                let mut all: Vec<usize> = Vec::new();
                for r in &group {
                    for s in self.solutions(r, false) {
                        if !all.contains(&s) {
                            all.push(s);
                        }
                    }
                }
                if all.len() != 1 {
                    continue;
                }
                let sn = self.pkg(all[0]).name;
                if self.protected.contains(sn) {
                    continue;
                }
                self.protected.insert(sn);
                if !self.mark_install(sn, true, false, depth + 1) {
                    failed = true;
                }
                continue;
            }
            let mut sols: Vec<usize> = Vec::new();
            for r in &group {
                for s in self.solutions(r, false) {
                    if sols.last() != Some(&s) {
                        sols.push(s);
                    }
                }
            }
            let mut found = false;
            for &s in &sols {
                let sn = self.pkg(s).name;
                if self.cand(sn) != Some(s) {
                    continue;
                }
                if protected && critical && sols.len() == 1 {
                    if !self.mark_install(sn, false, false, depth + 1) {
                        continue;
                    }
                    self.protected.insert(sn);
                }
                if !self.mark_install(sn, true, false, depth + 1) {
                    continue;
                }
                found = true;
                break;
            }
            if !found && critical {
                failed = true;
                if !protected && !from_user {
                    break;
                }
            }
        }
        if scoped {
            self.protected.remove(name);
        }
        if failed {
            if fail_early {
                self.marked.remove(name);
                return false;
            }
            has_failed = true;
        }
        !has_failed
    }

    /// One `apt-get install` of these packages (candidate indices).
    fn install(&mut self, requested: &[usize]) {
        let mut names: Vec<&'a str> = Vec::new();
        for &i in requested {
            let n = self.pkg(i).name;
            if !names.contains(&n) {
                names.push(n);
            }
        }
        for &n in &names {
            self.protected.insert(n);
            self.mark_install(n, false, true, 0);
        }
        for &n in &names {
            self.mark_install(n, true, true, 0);
        }
    }
}

/// The packages apt would install for `request`, if its marking ends in a
/// consistent set; `None` when it would not (or the request is one apt's
/// `install` does not take), for resolvo to solve.
pub(super) fn solve<'u, 'a>(
    u: &'u Universe<'a>,
    request: &'a Request,
) -> Option<Vec<&'u Candidate<'a>>> {
    if !request.foreign.is_empty() {
        return None;
    }
    let mut forbid = Vec::new();
    for text in &request.forbid {
        forbid.extend(
            relation::parse(FieldKind::Conflicts, text)
                .ok()?
                .iter()
                .cloned(),
        );
    }
    let mut sim = Sim {
        u,
        forbid: &forbid,
        recommends: request.recommends,
        cand: FastMap::default(),
        marked: FastMap::default(),
        installed: HashSet::new(),
        protected: HashSet::new(),
        abort: false,
    };
    // Each request names one package.
    let mut requested = Vec::new();
    for text in &request.install {
        let rels = relation::parse(FieldKind::Depends, text).ok()?;
        for group in rels.groups() {
            let [rel] = group else {
                return None;
            };
            let ci = match sim.cand(rel.name) {
                Some(_) => {
                    // A version asked for: the newest that satisfies it.
                    let best = u
                        .by_name
                        .get(&(rel.name, 0))?
                        .iter()
                        .copied()
                        .filter(|&i| {
                            sim.real_matches(rel, &u.candidates[i])
                                && !sim.forbidden(&u.candidates[i].package)
                        })
                        .min_by(|&a, &b| {
                            let (a, b) = (&u.candidates[a], &u.candidates[b]);
                            b.priority
                                .cmp(&a.priority)
                                .then_with(|| b.package.version.cmp(&a.package.version))
                                .then_with(|| a.archive.cmp(&b.archive))
                        })?;
                    sim.cand.insert(rel.name, Some(best));
                    best
                }
                None => match sim.solutions(rel, false).as_slice() {
                    [one] => *one,
                    _ => return None,
                },
            };
            requested.push(ci);
        }
    }
    let (stage1, stage2): (Vec<usize>, Vec<usize>) = requested
        .iter()
        .partition(|&&i| u.candidates[i].package.essential);
    if !stage1.is_empty() {
        sim.install(&stage1);
        sim.installed = sim.marked.keys().copied().collect();
        sim.protected.clear();
    }
    sim.install(&stage2);
    if sim.abort {
        return None;
    }
    // Every request marked, every dependency met, nothing in conflict.
    if requested
        .iter()
        .any(|&i| sim.marked.get(u.candidates[i].package.name) != Some(&i))
    {
        return None;
    }
    let mut out: Vec<&'u Candidate<'a>> = sim.marked.values().map(|&i| &u.candidates[i]).collect();
    out.sort_by(|a, b| a.package.name.cmp(b.package.name));
    let chosen: Vec<&BinaryPackage<'a>> = out.iter().map(|c| &c.package).collect();
    if !super::validate(u.arch(), &chosen).is_empty() {
        return None;
    }
    Some(out)
}
