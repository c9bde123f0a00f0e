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
//! Not supported yet, and refused naming the line: fetching an
//! `[import.git]` (its table is parsed and checked, see
//! [`crate::manifest::GitImport`]) and an imported manifest that itself
//! has an `[import]`. What `rdebootstrap import` accepts is
//! [`source::ImportSource`].

use std::path::Path;

use super::{spec_label, Manifest, ManifestError};

pub mod source;

pub use source::{ImportSource, ACCEPTED_FORMS};

/// The pin of an imported manifest: the SRI blake3 hash of its bytes.
pub fn manifest_hash(bytes: &[u8]) -> String {
    crate::lock::blake3_sri(bytes)
}

/// What reading a git import needs: the git cache and the credentials
/// for `https://` remotes, by host.
#[derive(Debug, Clone)]
pub struct GitAccess {
    pub cache: crate::git::GitCache,
    pub auth: Option<crate::auth::Auth>,
}

/// Load what `m`'s `[import]` names into [`Manifest::imported`], after
/// checking its hash, its exported specs, and this manifest's specs
/// against them. Nothing to do without an `[import]`. A git import needs
/// `git` ([`GitAccess`]); without it, it is refused.
pub fn attach(m: &mut Manifest, git: Option<&GitAccess>) -> Result<(), ManifestError> {
    let Some(imp) = &m.import else {
        return Ok(());
    };
    let at = |line: usize, message: String| ManifestError {
        path: m.path.clone(),
        pos: Some((line, 1)),
        message,
        source: None,
    };
    let specs: String = imp.specs.iter().map(|s| format!(" --spec {s}")).collect();
    let (path, repin) = match &imp.git {
        Some(g) => {
            let Some(access) = git else {
                return Err(at(
                    g.line,
                    format!("[import.git]: {}: reading a git import needs git and the cache, which this command was not given", g.remote),
                ));
            };
            let path = fetch_git(access, g).map_err(|e| ManifestError {
                path: m.path.clone(),
                pos: Some((g.line, 1)),
                message: format!(
                    "[import.git]: cannot read {} at {} from {}",
                    g.path, g.rev, g.remote
                ),
                source: Some(Box::new(e)),
            })?;
            (path, git_url(g))
        }
        None => {
            let rel = imp
                .path
                .as_ref()
                .expect("the schema requires 'path' without [import.git]");
            (m.dir().join(rel), rel.display().to_string())
        }
    };
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
        return Err(at(
            imp.line,
            format!(
                "[import]: the imported manifest {} has hash {actual}, but this manifest pins {}: it changed since it was imported; if the change is wanted, re-pin it with 'rdebootstrap import {repin}{specs}'{or_locals} (then 'rdebootstrap update')",
                path.display(),
                imp.hash,
                or_locals = if imp.git.is_none() {
                    " or 'rdebootstrap update --locals'"
                } else {
                    ""
                },
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

/// The `git+` URL that imports `g` again at its `ref` (or `rev`).
pub fn git_url(g: &crate::manifest::GitImport) -> String {
    let (k, v) = match &g.reference {
        Some(r) => ("ref", r.as_str()),
        None => ("rev", g.rev.as_str()),
    };
    format!("'git+{}?{k}={v}#{}'", g.remote, g.path)
}

/// Fetch `g`'s manifest at its `rev` into the git cache with what it
/// reads from the repository (its locks, local .debs, keyrings and local
/// artifacts); the manifest's path in the extract.
pub fn fetch_git(
    access: &GitAccess,
    g: &crate::manifest::GitImport,
) -> Result<std::path::PathBuf, crate::git::GitError> {
    let credential = g
        .remote
        .host()
        .and_then(|h| access.auth.as_ref()?.get(h).cloned());
    let repo = access.cache.repo(&g.remote, credential)?;
    repo.fetch(&g.rev)?;
    extract_manifest(&repo, &g.rev, &g.path)
}

/// Extract the manifest at `path` and what it reads from the
/// repository; its path in the extract.
pub fn extract_manifest(
    repo: &crate::git::Repo,
    rev: &source::GitRev,
    path: &source::RepoPath,
) -> Result<std::path::PathBuf, crate::git::GitError> {
    use crate::git::{join_in_repo, GitError};
    let file = repo.extract(rev, path)?;
    let dir = path.parent();
    // Its locks: NAME.<arch>.lock next to it.
    let stem = path
        .as_str()
        .rsplit('/')
        .next()
        .and_then(|n| n.strip_suffix(".toml"))
        .unwrap_or("Manifest");
    for f in repo.list(rev, dir)? {
        let name = f.as_str().rsplit('/').next().unwrap_or("");
        if name.starts_with(&format!("{stem}.")) && name.ends_with(".lock") {
            repo.extract(rev, &f)?;
        }
    }
    // What it names by a relative path. A manifest that does not parse
    // is reported by the caller, with its line.
    let Ok(text) = std::fs::read_to_string(&file) else {
        return Ok(file);
    };
    let Ok(m) = Manifest::parse(&text, &file) else {
        return Ok(file);
    };
    let mut rels: Vec<String> = Vec::new();
    rels.extend(
        m.locals
            .iter()
            .map(|l| l.path.to_string_lossy().into_owned()),
    );
    rels.extend(m.archives.iter().filter_map(|a| match &a.signed_by {
        Some(crate::manifest::SignedBy::File(p)) => Some(p.to_string_lossy().into_owned()),
        _ => None,
    }));
    rels.extend(
        m.artifacts
            .values()
            .filter_map(|a| a.source.clone())
            .filter(|s| !s.contains("://")),
    );
    for rel in rels.iter().filter(|r| !r.starts_with('/')) {
        let p = join_in_repo(dir, rel).ok_or_else(|| GitError::Escapes {
            remote: repo.remote().to_string(),
            path: rel.clone(),
        })?;
        for f in repo.files(rev, &p)? {
            repo.extract(rev, &f)?;
        }
    }
    Ok(file)
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
    #[error(transparent)]
    Source(#[from] source::SourceError),
    #[error("'{given}' is a git import: it needs git and the cache")]
    GitNeedsAccess { given: String },
    #[error("cannot read the git import {given}")]
    Git {
        given: String,
        #[source]
        source: crate::git::GitError,
    },
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

/// Resolve a git import: fetch `src`'s commit (its `ref`, or `rev`
/// resolved) into the git cache and check the manifest there as [`pin`]
/// does. Returns what `[import.git]` holds and the `hash` to pin.
pub fn pin_git(
    access: &GitAccess,
    src: &source::GitSource,
    specs: &[String],
) -> Result<(source::GitPin, String), ImportEditError> {
    let given = format!("{}#{}", src.remote, src.path);
    let git_err = |source| ImportEditError::Git {
        given: given.clone(),
        source,
    };
    let credential = src
        .remote
        .host()
        .and_then(|h| access.auth.as_ref()?.get(h).cloned());
    let repo = access
        .cache
        .repo(&src.remote, credential)
        .map_err(git_err)?;
    let rev = repo.resolve(&src.want).map_err(git_err)?;
    repo.fetch(&rev).map_err(git_err)?;
    let file = extract_manifest(&repo, &rev, &src.path).map_err(git_err)?;
    let hash = pin(&file, specs)?;
    let reference = match &src.want {
        source::GitWant::Ref(r) => Some(r.clone()),
        source::GitWant::Rev(_) => None,
    };
    Ok((
        source::GitPin {
            remote: src.remote.clone(),
            rev,
            reference,
            path: src.path.clone(),
        },
        hash,
    ))
}

/// `update --locals` for `[import.git]`: resolve its `ref` again and,
/// when the branch or tag has moved off `rev`, the new `[import.git]` and
/// `hash` ([`pin_git`]). `None` when there is no `ref` or it has not
/// moved.
pub fn follow_ref(
    access: &GitAccess,
    g: &crate::manifest::GitImport,
    specs: &[String],
) -> Result<Option<(source::GitPin, String)>, ImportEditError> {
    let Some(reference) = &g.reference else {
        return Ok(None);
    };
    let src = source::GitSource {
        remote: g.remote.clone(),
        want: source::GitWant::Ref(reference.clone()),
        path: g.path.clone(),
    };
    let (pin, hash) = pin_git(access, &src, specs)?;
    Ok((pin.rev != g.rev).then_some((pin, hash)))
}

/// Where an import comes from, resolved: a local manifest, or a git one
/// fetched and pinned.
#[derive(Debug, Clone)]
pub enum Pinned {
    /// The local manifest (from a path or `file://`) and its `hash`.
    Path {
        path: std::path::PathBuf,
        hash: String,
    },
    /// `[import.git]` and the `hash`.
    Git { pin: source::GitPin, hash: String },
}

/// Parse `given` ([`ImportSource::parse`]) and pin it exporting `specs`:
/// a local manifest with [`pin`], a git one with [`pin_git`] (`git` must
/// be given then).
pub fn pin_source(
    given: &str,
    specs: &[String],
    git: Option<&GitAccess>,
) -> Result<Pinned, ImportEditError> {
    match ImportSource::parse(given)? {
        ImportSource::Path(path) => {
            let hash = pin(&path, specs)?;
            Ok(Pinned::Path { path, hash })
        }
        ImportSource::Git(src) => {
            let access = git.ok_or_else(|| ImportEditError::GitNeedsAccess {
                given: given.to_owned(),
            })?;
            let (pin, hash) = pin_git(access, &src, specs)?;
            Ok(Pinned::Git { pin, hash })
        }
    }
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
