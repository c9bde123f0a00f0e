//! Spec inheritance: strictly additive, multi-parent, in declaration order.
//!
//! The ancestors of a spec are ordered depth first, parents in the order
//! `extends` lists them, each ancestor once, the spec itself last: a
//! topological order with declaration order breaking ties. Packages,
//! staged artifacts and meta entries accumulate along it; build scripts run
//! in it; `build-env` is overridden by the spec itself but two ancestors may
//! not disagree on a key it does not set; the variant may only grow. A
//! spec none of whose chain sets `variant` gets the manifest's default,
//! the unnamed `[spec]`'s variant (`custom` when that sets none either).
//! Path filters accumulate too, ancestors' rules first, so a spec's own
//! rules decide over what it inherits (dpkg's last matching rule wins).
//!
//! A parent exported by `[import]` (see [`super::import`]) is resolved in
//! the imported manifest, with its own ancestors there; those imported
//! ancestors come first (an imported spec never extends one of this
//! manifest), then this manifest's, and everything accumulates over both.

use std::collections::{BTreeMap, BTreeSet};

use super::{requirement_name, spec_label, Manifest, Spec, Variant};

/// A spec with everything it inherits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedSpec {
    /// `""` for the unnamed `[spec]`.
    pub name: String,
    /// Ancestors of this manifest in topological order, the spec itself
    /// last.
    pub chain: Vec<String>,
    /// Ancestors in the imported manifest (see
    /// [`crate::manifest::import`]): the exported specs this spec extends
    /// and their own ancestors there, in topological order. They come
    /// before [`ResolvedSpec::chain`] (an imported spec never extends one
    /// of this manifest), so everything accumulates over
    /// `imported_chain` then `chain`.
    pub imported_chain: Vec<String>,
    pub include: Vec<String>,
    pub exclude: Vec<String>,
    pub variant: Variant,
    pub recommends: bool,
    /// Foreign architectures of the spec and its ancestors.
    pub foreign_architectures: Vec<String>,
    /// Artifacts of this manifest to stage, in order.
    pub stage: Vec<String>,
    /// Artifacts of the imported manifest its specs in
    /// [`ResolvedSpec::imported_chain`] stage, in order, staged before
    /// [`ResolvedSpec::stage`].
    pub imported_stage: Vec<String>,
    pub build_env: BTreeMap<String, String>,
    pub meta: Vec<String>,
    /// `(spec, script)` in the order they run.
    pub build_scripts: Vec<(String, String)>,
    /// The path filters of the ancestors then the spec's own, in chain
    /// order (a later rule decides over an earlier one).
    pub path_filters: crate::pathfilter::PathFilters,
}

/// A spec that cannot be resolved.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SpecError {
    #[error("no spec {} in the manifest (defined: {})", spec_label(.0), .1.join(", "))]
    Unknown(String, Vec<String>),
    #[error(
        "spec {} extends {}, which is not defined",
        spec_label(child),
        spec_label(parent)
    )]
    UnknownParent { child: String, parent: String },
    #[error("specs extend each other in a cycle: {}", .0.iter().map(|s| spec_label(s)).collect::<Vec<_>>().join(" -> "))]
    Cycle(Vec<String>),
    #[error(
        "spec {} lists {} twice in 'extends'",
        spec_label(spec),
        spec_label(parent)
    )]
    DuplicateParent { spec: String, parent: String },
    #[error("requested to remove packages from ancestor specs: {}", .0.join(", "))]
    RemovesFromAncestor(Vec<String>),
    #[error("spec {} sets variant {} which does not cover variant {} of its ancestor {}", spec_label(spec), child.name(), parent.name(), spec_label(ancestor))]
    ShrinksVariant {
        spec: String,
        child: Variant,
        ancestor: String,
        parent: Variant,
    },
    #[error("ancestors {} and {} of spec {} set {what} '{key}' to different values; set it in {} itself", spec_label(first), spec_label(second), spec_label(spec), spec_label(spec))]
    Conflict {
        spec: String,
        what: &'static str,
        key: String,
        first: String,
        second: String,
    },
}

fn push_unique(list: &mut Vec<String>, items: &[String]) {
    for i in items {
        if !list.contains(i) {
            list.push(i.clone());
        }
    }
}

impl Manifest {
    /// Names of all specs (`""` for `[spec]`).
    pub fn spec_names(&self) -> Vec<String> {
        self.specs.keys().cloned().collect()
    }

    /// The spec `name` with everything it inherits.
    pub fn resolve(&self, name: &str) -> Result<ResolvedSpec, SpecError> {
        let mut chain = Vec::new();
        let mut path = Vec::new();
        let mut roots = Vec::new();
        self.visit(name, &mut chain, &mut path, &mut roots)?;
        let mut imported_chain = Vec::new();
        if let Some(imported) = self.imported.as_deref() {
            for root in &roots {
                imported.visit(root, &mut imported_chain, &mut Vec::new(), &mut Vec::new())?;
            }
        }
        let imported_specs: Vec<(&String, &Spec)> = match self.imported.as_deref() {
            Some(imported) => imported_chain
                .iter()
                .map(|n| (n, &imported.specs[n]))
                .collect(),
            None => Vec::new(),
        };
        let own_specs: Vec<(&String, &Spec)> = chain.iter().map(|n| (n, &self.specs[n])).collect();
        let specs: Vec<(&String, &Spec)> =
            imported_specs.iter().chain(&own_specs).copied().collect();
        let (own_name, own) = *specs.last().expect("a spec resolves to itself at least");

        // Packages: a spec may not exclude what an ancestor includes.
        let mut include = Vec::new();
        let mut exclude = Vec::new();
        let ancestors = &specs[..specs.len() - 1];
        let inherited: BTreeSet<&str> = ancestors
            .iter()
            .flat_map(|(_, s)| s.include.iter().map(|r| requirement_name(r)))
            .collect();
        let removed: Vec<String> = own
            .exclude
            .iter()
            .filter(|e| !e.contains('(') && inherited.contains(requirement_name(e)))
            .cloned()
            .collect();
        if !removed.is_empty() {
            return Err(SpecError::RemovesFromAncestor(removed));
        }
        for (_, s) in &specs {
            push_unique(&mut include, &s.include);
            push_unique(&mut exclude, &s.exclude);
        }

        // Variant: the largest along the chain; a spec that sets one must
        // cover every ancestor's.
        let mut variant = Variant::Custom;
        let mut from = String::new();
        for (n, s) in &specs {
            if let Some(v) = s.variant {
                if !v.covers(variant) {
                    return Err(SpecError::ShrinksVariant {
                        spec: (*n).clone(),
                        child: v,
                        ancestor: from,
                        parent: variant,
                    });
                }
                variant = v;
                from = (*n).clone();
            }
        }
        // The manifest's default: a spec none of whose chain sets a
        // variant gets the unnamed [spec]'s (custom only when asked for,
        // or when [spec] itself sets none).
        if specs.iter().all(|(_, s)| s.variant.is_none()) {
            if let Some(v) = self.specs.get("").and_then(|s| s.variant) {
                variant = v;
            }
        }

        // build-env: each spec's own values win over what it inherits;
        // its parents must agree on what it does not set.
        let build_env = self
            .build_env_of(own_name)?
            .into_iter()
            .map(|(k, (v, _))| (k, v))
            .collect();
        let mut meta = Vec::new();
        let mut stage = Vec::new();
        let mut imported_stage = Vec::new();
        for (_, s) in &imported_specs {
            push_unique(&mut imported_stage, &s.stage);
        }
        let mut foreign_architectures = Vec::new();
        let mut build_scripts = Vec::new();
        let mut path_filters = crate::pathfilter::PathFilters::new();
        for (_, s) in &own_specs {
            push_unique(&mut stage, &s.stage);
        }
        for (n, s) in &specs {
            path_filters.extend(&s.path_filters);
            push_unique(&mut meta, &s.meta);
            push_unique(&mut foreign_architectures, &s.foreign_architectures);
            if let Some(script) = &s.build_script {
                build_scripts.push(((*n).clone(), script.clone()));
            }
        }
        Ok(ResolvedSpec {
            name: own_name.clone(),
            recommends: specs.iter().any(|(_, s)| s.recommends == Some(true)),
            foreign_architectures,
            chain,
            imported_chain,
            include,
            exclude,
            variant,
            stage,
            imported_stage,
            build_env,
            meta,
            build_scripts,
            path_filters,
        })
    }

    /// The effective `build-env` of spec `name`: its parents' (which must
    /// agree on every key the spec does not set), then its own on top;
    /// each value with the spec that set it.
    fn build_env_of(&self, name: &str) -> Result<BTreeMap<String, (String, String)>, SpecError> {
        let spec = &self.specs[name];
        let mut env: BTreeMap<String, (String, String)> = BTreeMap::new();
        for parent in &spec.extends {
            // An exported imported parent's environment is its own
            // manifest's.
            let parent_env = match self.exporter_of(parent) {
                Some(imported) => imported.build_env_of(parent)?,
                None => self.build_env_of(parent)?,
            };
            for (k, (v, from)) in parent_env {
                if spec.build_env.contains_key(&k) {
                    continue;
                }
                match env.get(&k) {
                    Some((old, first)) if *old != v => {
                        return Err(SpecError::Conflict {
                            spec: name.to_owned(),
                            what: "build-env",
                            key: k,
                            first: first.clone(),
                            second: from,
                        })
                    }
                    _ => {
                        env.insert(k, (v, from));
                    }
                }
            }
        }
        for (k, v) in &spec.build_env {
            env.insert(k.clone(), (v.clone(), name.to_owned()));
        }
        Ok(env)
    }

    fn visit(
        &self,
        name: &str,
        chain: &mut Vec<String>,
        path: &mut Vec<String>,
        imported_roots: &mut Vec<String>,
    ) -> Result<(), SpecError> {
        if chain.iter().any(|c| c == name) || imported_roots.iter().any(|c| c == name) {
            return Ok(());
        }
        // A parent exported by the import: resolved in its own manifest.
        if !path.is_empty() && self.exporter_of(name).is_some() {
            imported_roots.push(name.to_owned());
            return Ok(());
        }
        if let Some(i) = path.iter().position(|p| p == name) {
            let mut cycle = path[i..].to_vec();
            cycle.push(name.to_owned());
            return Err(SpecError::Cycle(cycle));
        }
        let spec = self.specs.get(name).ok_or_else(|| match path.last() {
            Some(child) => SpecError::UnknownParent {
                child: child.clone(),
                parent: name.to_owned(),
            },
            None => SpecError::Unknown(
                name.to_owned(),
                self.specs.keys().map(|k| spec_label(k)).collect(),
            ),
        })?;
        let mut seen = BTreeSet::new();
        for p in &spec.extends {
            if !seen.insert(p) {
                return Err(SpecError::DuplicateParent {
                    spec: name.to_owned(),
                    parent: p.clone(),
                });
            }
        }
        path.push(name.to_owned());
        for p in &spec.extends {
            self.visit(p, chain, path, imported_roots)?;
        }
        path.pop();
        chain.push(name.to_owned());
        Ok(())
    }
}
