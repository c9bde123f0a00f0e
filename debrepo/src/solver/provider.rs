//! The resolvo encoding of a [`Universe`]: names, version sets and the
//! dependency provider. See the parent module for the scheme.

use std::cell::RefCell;
use std::collections::HashMap;
use std::fmt::Display;

use resolvo::{
    Candidates, Condition, ConditionId, ConditionalRequirement, Dependencies, DependencyProvider,
    Interner, KnownDependencies, NameId, Requirement, SolvableId, SolverCache, StringId,
    VersionSetId, VersionSetUnionId,
};

use super::multiarch::{coinstallable, ArchRule, Slot};
use super::{provides_satisfying, Candidate, Universe};
use crate::relation::{Op, Relation};
use crate::version::Version;

type Constraint<'a> = Option<(Op, Version<'a>)>;

#[derive(Clone, PartialEq, Eq, Hash)]
pub(super) enum Set<'a> {
    /// Candidates of a name whose version satisfies the constraint and
    /// whose architecture the rule admits.
    Real(NameId, Constraint<'a>, ArchRule),
    /// Candidates of a name that provide `virt` satisfying the constraint,
    /// admitted by the rule.
    Provides(NameId, &'a str, Constraint<'a>, ArchRule),
    /// Candidates of a name (in another architecture slot) that may be
    /// installed beside a `Multi-Arch: same` package of this version; with
    /// `None`, none may.
    Beside(NameId, Option<Version<'a>>),
    /// Candidates of the inner set's name that it does not match.
    Not(Box<Set<'a>>),
}

impl Set<'_> {
    fn name(&self) -> NameId {
        match self {
            Set::Real(n, _, _) | Set::Provides(n, _, _, _) | Set::Beside(n, _) => *n,
            Set::Not(inner) => inner.name(),
        }
    }
}

pub(super) struct Provider<'u, 'a> {
    universe: &'u Universe<'a>,
    /// Architecture slots this request may use.
    allowed: Vec<bool>,
    names: RefCell<Vec<(&'a str, Slot)>>,
    name_ids: RefCell<HashMap<(&'a str, Slot), NameId>>,
    sets: RefCell<Vec<Set<'a>>>,
    set_ids: RefCell<HashMap<Set<'a>, VersionSetId>>,
    unions: RefCell<Vec<Vec<VersionSetId>>>,
}

fn constraint_text(c: &Constraint<'_>) -> String {
    match c {
        None => String::new(),
        Some((op, v)) => format!("({op} {v})"),
    }
}

impl<'u, 'a> Provider<'u, 'a> {
    pub(super) fn new(universe: &'u Universe<'a>, allowed: Vec<bool>) -> Self {
        Provider {
            universe,
            allowed,
            names: RefCell::default(),
            name_ids: RefCell::default(),
            sets: RefCell::default(),
            set_ids: RefCell::default(),
            unions: RefCell::default(),
        }
    }

    pub(super) fn name(&self, n: &'a str, slot: Slot) -> NameId {
        if let Some(id) = self.name_ids.borrow().get(&(n, slot)) {
            return *id;
        }
        let mut names = self.names.borrow_mut();
        let id = NameId::from_raw(names.len() as u32);
        names.push((n, slot));
        self.name_ids.borrow_mut().insert((n, slot), id);
        id
    }

    pub(super) fn set(&self, s: Set<'a>) -> VersionSetId {
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

    fn matches(&self, set: &Set<'a>, c: &Candidate<'a>) -> bool {
        let p = &c.package;
        match set {
            Set::Real(_, v, rule) => {
                rule.admits(c.slot, p) && v.as_ref().is_none_or(|(op, v)| op.holds(&p.version, v))
            }
            Set::Provides(_, virt, v, rule) => {
                rule.admits(c.slot, p) && provides_satisfying(p, virt, v)
            }
            Set::Beside(_, mine) => mine.as_ref().is_some_and(|v| {
                p.multi_arch == crate::packages::MultiArch::Same && p.version == *v
            }),
            Set::Not(inner) => !self.matches(inner, c),
        }
    }

    /// Slots to look at for a relation from `first`'s point of view: that
    /// slot first (the native or own architecture is preferred), then the
    /// others this request allows.
    fn slots(&self, first: Slot) -> impl Iterator<Item = Slot> + use<'_, 'u, 'a> {
        std::iter::once(first)
            .chain((0..self.allowed.len() as Slot).filter(move |&s| s != first))
            .filter(|&s| self.allowed[s as usize])
    }

    /// Candidate indices of `name` in `slot`.
    fn ids(&self, name: &'a str, slot: Slot) -> &'u [usize] {
        self.universe
            .by_name
            .get(&(name, slot))
            .map_or(&[], |ids| ids.as_slice())
    }

    /// `(provider name, slot)` of the candidates providing `virt` that
    /// `rule` admits, `first` slot first, then in apt's order of providers
    /// ([`super::apt::provider_key`]: Essential, Protected, Priority, then
    /// the later in apt's cache); `skip` excluded.
    fn providers(
        &self,
        virt: &str,
        rule: ArchRule,
        first: Slot,
        skip: &str,
    ) -> Vec<(&'a str, Slot)> {
        let mut found: Vec<(bool, Slot, _, &'a str)> = self
            .universe
            .providers
            .get(virt)
            .into_iter()
            .flatten()
            .filter(|&&i| {
                let c = &self.universe.candidates[i];
                self.allowed[c.slot as usize]
                    && c.package.name != skip
                    && rule.admits(c.slot, &c.package)
            })
            .map(|&i| {
                let c = &self.universe.candidates[i];
                (
                    c.slot != first,
                    c.slot,
                    super::apt::provider_key(self.universe, virt, i),
                    c.package.name,
                )
            })
            .collect();
        found.sort_unstable();
        let mut out: Vec<(&'a str, Slot)> = Vec::new();
        for (_, s, _, n) in found {
            if !out.contains(&(n, s)) {
                out.push((n, s));
            }
        }
        out
    }

    /// The requirement for one group of alternatives written by a package
    /// in slot `depender`.
    pub(super) fn requirement(&self, group: &[Relation<'a>], depender: Slot) -> Requirement {
        self.requirement_of(group, depender, false)
    }

    /// The requirement for one group of a request: as `apt-get install`
    /// reads a name, one that is a real package means that package, not
    /// what provides it.
    pub(super) fn request(&self, group: &[Relation<'a>]) -> Requirement {
        self.requirement_of(group, 0, true)
    }

    fn requirement_of(
        &self,
        group: &[Relation<'a>],
        depender: Slot,
        real_first: bool,
    ) -> Requirement {
        let mut sets = Vec::new();
        for alt in group {
            let c = alt.version;
            let rule =
                ArchRule::positive(alt.arch_qualifier, depender, |a| self.universe.slot_of(a));
            for s in self.slots(depender) {
                let admitted = rule.may_admit(s)
                    && self
                        .ids(alt.name, s)
                        .iter()
                        .any(|&i| rule.admits(s, &self.universe.candidates[i].package));
                if admitted {
                    sets.push(self.set(Set::Real(self.name(alt.name, s), c, rule)));
                }
            }
            let real = self
                .slots(depender)
                .any(|s| !self.ids(alt.name, s).is_empty());
            if real_first && real {
                continue;
            }
            for (pn, s) in self.providers(alt.name, rule, depender, "") {
                sets.push(self.set(Set::Provides(self.name(pn, s), alt.name, c, rule)));
            }
        }
        if sets.is_empty() {
            // Nothing is or provides any alternative: a set without
            // candidates, so the explanation names the missing package.
            let first = &group[0];
            let rule =
                ArchRule::positive(first.arch_qualifier, depender, |a| self.universe.slot_of(a));
            sets.push(self.set(Set::Real(
                self.name(first.name, depender),
                first.version,
                rule,
            )));
        }
        match sets.len() {
            1 => Requirement::Single(sets[0]),
            _ => Requirement::Union(self.union(sets)),
        }
    }

    /// Constraints excluding what `rel` (a Conflicts, Breaks or forbid)
    /// names; `owner` is exempt (a package never conflicts with itself).
    pub(super) fn negative(&self, rel: &Relation<'a>, owner: &str, out: &mut Vec<VersionSetId>) {
        let c = rel.version;
        let rule = ArchRule::negative(rel.arch_qualifier, |a| self.universe.slot_of(a));
        if rel.name != owner {
            for s in self.slots(0) {
                if rule.may_admit(s) && !self.ids(rel.name, s).is_empty() {
                    out.push(self.set(Set::Not(Box::new(Set::Real(
                        self.name(rel.name, s),
                        c,
                        rule,
                    )))));
                }
            }
        }
        for (pn, s) in self.providers(rel.name, rule, 0, owner) {
            out.push(self.set(Set::Not(Box::new(Set::Provides(
                self.name(pn, s),
                rel.name,
                c,
                rule,
            )))));
        }
    }

    /// Constraints keeping other architectures' instances of `c`'s name
    /// out unless they may sit beside it.
    fn beside(&self, c: &Candidate<'a>, out: &mut Vec<VersionSetId>) {
        for s in self.slots(c.slot).skip(1) {
            let others = self.ids(c.package.name, s);
            if others.is_empty() {
                continue;
            }
            let all_ok = others
                .iter()
                .all(|&i| coinstallable(&c.package, &self.universe.candidates[i].package));
            if !all_ok {
                let mine = (c.package.multi_arch == crate::packages::MultiArch::Same)
                    .then_some(c.package.version);
                out.push(self.set(Set::Beside(self.name(c.package.name, s), mine)));
            }
        }
    }
}

impl Interner for Provider<'_, '_> {
    type NameId = NameId;
    type SolvableId = SolvableId;

    fn display_solvable(&self, s: SolvableId) -> impl Display + '_ {
        let c = self.cand(s);
        format!(
            "{} {}",
            self.universe.display_name(c.package.name, c.slot),
            c.package.version
        )
    }

    fn display_merged_solvables(&self, solvables: &[SolvableId]) -> impl Display + '_ {
        let mut out = String::new();
        for (i, s) in solvables.iter().enumerate() {
            let c = self.cand(*s);
            if i == 0 {
                out.push_str(&self.universe.display_name(c.package.name, c.slot));
                out.push(' ');
            } else {
                out.push_str(" | ");
            }
            out.push_str(c.package.version.as_str());
        }
        out
    }

    fn display_name(&self, name: NameId) -> impl Display + '_ {
        let (n, s) = self.names.borrow()[name.into_raw() as usize];
        self.universe.display_name(n, s)
    }

    fn display_version_set(&self, vs: VersionSetId) -> impl Display + '_ {
        fn text(set: &Set<'_>) -> String {
            match set {
                Set::Real(_, c, _) => constraint_text(c),
                Set::Provides(_, virt, c, _) => format!("providing {virt} {}", constraint_text(c)),
                Set::Beside(_, Some(v)) => format!("(= {v}, Multi-Arch: same)"),
                Set::Beside(_, None) => "(none: not Multi-Arch: same)".into(),
                Set::Not(inner) => format!("not {}", text(inner)),
            }
        }
        text(&self.sets.borrow()[vs.0 as usize])
            .trim_end()
            .to_owned()
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
        let c = self.cand(s);
        self.name(c.package.name, c.slot)
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
            .filter(|&s| self.matches(&set, self.cand(s)) != inverse)
            .collect()
    }

    async fn get_candidates(&self, name: NameId) -> Option<Candidates<SolvableId>> {
        let (n, slot) = self.names.borrow()[name.into_raw() as usize];
        if !self.allowed[slot as usize] {
            return None;
        }
        let ids = self.universe.by_name.get(&(n, slot))?;
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
        let c = self.cand(s);
        let p = &c.package;
        let mut requirements = Vec::new();
        for group in p.pre_depends().groups().chain(p.depends().groups()) {
            requirements.push(ConditionalRequirement::from(
                self.requirement(group, c.slot),
            ));
        }
        let mut constrains = Vec::new();
        for rel in p.conflicts().iter().chain(p.breaks().iter()) {
            self.negative(rel, p.name, &mut constrains);
        }
        self.beside(c, &mut constrains);
        Dependencies::Known(KnownDependencies {
            requirements,
            constrains,
        })
    }
}
