//! `[import]`: another locked manifest reused by this one.
//!
//! ```toml
//! [import]
//! path = "../system/Manifest.toml"   # relative to this manifest's folder
//! hash = "blake3-..."                # of the imported manifest's bytes
//! specs = ["base"]                   # the imported specs this one may extend
//! ```
//!
//! [`attach`] (run by [`Manifest::load`]) reads the imported manifest,
//! checks its bytes against `hash` (a mismatch is an error naming both
//! files and the re-pinning command) and keeps it in
//! [`Manifest::imported`]. What it brings:
//! - its archives come before this manifest's in the effective archive
//!   list, and its `[[local]]` .debs join the package universe; their
//!   paths (and keyrings, and artifact sources) stay anchored at the
//!   imported manifest's folder;
//! - the specs named in `specs` (the exported ones) may be named in this
//!   manifest's `extends`. An exported spec keeps its name, so a spec of
//!   this manifest may not have the name of an exported one, and an
//!   `extends` naming an imported spec that is not exported is an error
//!   listing the exported ones. The imported specs' own ancestors stay
//!   the imported manifest's business: their names never meet this
//!   manifest's;
//! - an imported spec stages its own manifest's artifacts
//!   ([`crate::manifest::ResolvedSpec::imported_stage`]); this manifest's
//!   `stage` entries name only this manifest's artifacts, so two artifacts
//!   of the same name in the two manifests are distinct.
//!
//! Not supported yet, and refused naming the line: `[import.git]` (git
//! imports) and an imported manifest that itself has an `[import]`.

use std::path::Path;

use super::{spec_label, Manifest, ManifestError};

/// What `rdebootstrap import` accepts today, for messages refusing other
/// forms.
pub const ACCEPTED_FORMS: &str =
    "a path to the imported Manifest.toml, relative to this manifest's folder or absolute";

/// The pin of an imported manifest: the SRI blake3 hash of its bytes.
pub fn manifest_hash(bytes: &[u8]) -> String {
    crate::lock::blake3_sri(bytes)
}

/// Load what `m`'s `[import]` names into [`Manifest::imported`], after
/// checking its hash, its exported specs, and this manifest's specs
/// against them. Nothing to do without an `[import]`.
pub fn attach(m: &mut Manifest) -> Result<(), ManifestError> {
    let Some(imp) = &m.import else {
        return Ok(());
    };
    let at = |line: usize, message: String| ManifestError {
        path: m.path.clone(),
        pos: Some((line, 1)),
        message,
        source: None,
    };
    if let Some(git) = &imp.git {
        return Err(at(
            git.line,
            format!("[import.git]: git imports are not built yet; import a manifest by 'path' for now ({ACCEPTED_FORMS})"),
        ));
    }
    let rel = imp
        .path
        .as_ref()
        .expect("the schema requires 'path' without [import.git]");
    let path = m.dir().join(rel);
    let bytes = std::fs::read(&path).map_err(|e| ManifestError {
        path: m.path.clone(),
        pos: Some((imp.line, 1)),
        message: format!(
            "[import]: cannot read the imported manifest {}",
            path.display()
        ),
        source: Some(Box::new(e)),
    })?;
    let actual = manifest_hash(&bytes);
    if actual != imp.hash {
        let specs: String = imp.specs.iter().map(|s| format!(" --spec {s}")).collect();
        return Err(at(
            imp.line,
            format!(
                "[import]: the imported manifest {} has hash {actual}, but this manifest pins {}: it changed since it was imported; if the change is wanted, re-pin it with 'rdebootstrap import {}{specs}' (then 'rdebootstrap update')",
                path.display(),
                imp.hash,
                rel.display()
            ),
        ));
    }
    let text = String::from_utf8(bytes).map_err(|e| ManifestError {
        path: path.clone(),
        pos: None,
        message: "the imported manifest is not UTF-8".into(),
        source: Some(Box::new(e)),
    })?;
    let imported = Manifest::parse(&text, &path)?;
    if let Some(nested) = &imported.import {
        return Err(at(
            imp.line,
            format!(
                "[import]: {} itself has an [import] (line {}); nested imports are not supported: import the manifest it imports directly, or copy what it needs",
                path.display(),
                nested.line
            ),
        ));
    }
    let named: Vec<String> = imported
        .specs
        .keys()
        .filter(|k| !k.is_empty())
        .map(|k| spec_label(k))
        .collect();
    for s in &imp.specs {
        if s.is_empty() || !imported.specs.contains_key(s) {
            return Err(at(
                imp.line,
                format!(
                    "[import]: 'specs' names {}, which {} does not define as a named spec (it defines: {})",
                    spec_label(s),
                    path.display(),
                    if named.is_empty() { "none".to_owned() } else { named.join(", ") }
                ),
            ));
        }
    }
    for (name, spec) in &m.specs {
        if imp.specs.contains(name) {
            return Err(at(
                spec.line,
                format!(
                    "[spec.{name}] has the name of the imported spec {} ([import] at line {} exports it, and imported specs keep their names): rename this spec",
                    spec_label(name),
                    imp.line
                ),
            ));
        }
        for parent in &spec.extends {
            if !m.specs.contains_key(parent)
                && !imp.specs.contains(parent)
                && imported.specs.contains_key(parent)
            {
                return Err(at(
                    spec.line,
                    format!(
                        "spec {} extends {}, which the imported manifest defines but [import] does not export (exported: {}): add it to [import] 'specs'",
                        spec_label(name),
                        spec_label(parent),
                        if imp.specs.is_empty() {
                            "none".to_owned()
                        } else {
                            imp.specs.iter().map(|s| spec_label(s)).collect::<Vec<_>>().join(", ")
                        }
                    ),
                ));
            }
        }
    }
    m.imported = Some(Box::new(imported));
    Ok(())
}

impl Manifest {
    /// The imported manifest, when spec `name` is one it exports and this
    /// manifest does not define.
    pub fn exporter_of(&self, name: &str) -> Option<&Manifest> {
        if self.specs.contains_key(name) {
            return None;
        }
        let imp = self.import.as_ref()?;
        imp.specs
            .iter()
            .any(|s| s == name)
            .then_some(self.imported.as_deref())
            .flatten()
    }

    /// The folder of the imported manifest, which its relative paths are
    /// resolved against.
    pub fn imported_dir(&self) -> Option<&Path> {
        self.imported.as_deref().map(Manifest::dir)
    }
}

/// Why an import cannot be written (`rdebootstrap import`, `init
/// --import`).
#[derive(Debug, thiserror::Error)]
pub enum ImportEditError {
    #[error("'{given}' is not a form of import built yet: git imports (git+https://, git+http://, git+ssh://, git+file://) and file:// URLs come later; accepted today: {ACCEPTED_FORMS}")]
    UnsupportedForm { given: String },
    #[error("cannot read the manifest to import, {path}")]
    Read {
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Manifest(#[from] ManifestError),
    #[error("{path} itself has an [import] (line {line}); nested imports are not supported: import the manifest it imports directly")]
    Nested {
        path: std::path::PathBuf,
        line: usize,
    },
    #[error("{path} has no named spec {} to export (it defines: {})", spec_label(name), if defined.is_empty() { "none".to_owned() } else { defined.join(", ") })]
    NoSpec {
        path: std::path::PathBuf,
        name: String,
        defined: Vec<String>,
    },
}

/// Refuse what is not a path to a manifest: any `SCHEME://` form
/// (`file://`, `git+...://`) and `git+...` spellings.
pub fn check_form(given: &str) -> Result<(), ImportEditError> {
    if given.contains("://") || given.starts_with("git+") {
        return Err(ImportEditError::UnsupportedForm {
            given: given.to_owned(),
        });
    }
    Ok(())
}

/// Read the manifest at `path` to import it exporting `specs`: it must
/// parse, have no `[import]` of its own, and define each of `specs` as a
/// named spec. Returns the `hash` to pin.
pub fn pin(path: &Path, specs: &[String]) -> Result<String, ImportEditError> {
    let bytes = std::fs::read(path).map_err(|source| ImportEditError::Read {
        path: path.to_owned(),
        source,
    })?;
    let text = String::from_utf8_lossy(&bytes);
    let m = Manifest::parse(&text, path)?;
    if let Some(i) = &m.import {
        return Err(ImportEditError::Nested {
            path: path.to_owned(),
            line: i.line,
        });
    }
    for s in specs {
        if s.is_empty() || !m.specs.contains_key(s) {
            return Err(ImportEditError::NoSpec {
                path: path.to_owned(),
                name: s.clone(),
                defined: m
                    .specs
                    .keys()
                    .filter(|k| !k.is_empty())
                    .map(|k| spec_label(k))
                    .collect(),
            });
        }
    }
    Ok(manifest_hash(&bytes))
}
