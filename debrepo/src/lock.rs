//! `Manifest.<arch>.lock`: what `update` resolved, so that `build` installs
//! exactly that.
//!
//! The format is TOML with a `version`; it is written canonically (archives
//! in manifest order, specs and packages sorted by name, one package per
//! line) so the same resolution always gives the same bytes, and
//! [`Lock::write_if_changed`] leaves the file alone when nothing changed.
//!
//! Staleness is semantic: each spec records a hash of what decides its
//! solution and its build (its resolved requirements, the archives, the
//! artifacts it stages, `build-env`, `build-script`, `meta` and the path
//! filters; see
//! [`spec_hash`]), so editing comments or whitespace in the manifest does
//! not make the lock stale, while a change to a spec stales that spec and
//! the specs extending it.
//!
//! Each spec also records the artifacts it stages, in staging order
//! (`artifacts = [{ name, source, hash }]`, see [`crate::artifact`]): the
//! hash a build checks a local artifact without a `hash` in the manifest
//! against.
//!
//! # Format changes
//!
//! `version` is [`FORMAT_VERSION`]; it changes whenever a lock written by
//! one release could be misread by another (a new table or key, a changed
//! meaning), and the lock is canonical, so there is exactly one text for
//! a resolution in each version. A reader accepts only its own version:
//! - a lock of a newer version (written by a newer rdebootstrap) is
//!   refused with a message to upgrade rdebootstrap; it is never
//!   rewritten by the older release;
//! - a lock of an older version is refused with a message to run
//!   `rdebootstrap update`, which re-resolves the manifest and writes the
//!   current version (there is no in-place migration: the lock is a cache
//!   of a resolution, and resolving again is the one migration that is
//!   always right).
//!
//! Releases reading version 1 predate this policy: they refuse a newer lock
//! saying that its version is not the supported one and to run
//! `rdebootstrap update`.
//!
//! Version 2 added the spec hash's coverage of artifacts, `stage`,
//! `build-env`, `build-script` and `meta`, and each spec's `artifacts`.
//!
//! Version 3 added imports (see [`crate::manifest::import`]): an
//! `[import]` table (`path` as the manifest gives it, and `fingerprint`,
//! [`import_fingerprint`] of the imported manifest's pin and its lock's
//! bytes), packages of the imported manifest written `imported = N` in
//! place of `archive = N` (`N` as the imported lock numbers its archives
//! and locals), and `imported = true` on the artifacts an imported
//! ancestor stages. The archives and locals of the lock stay this
//! manifest's own. Only a lock with an import is written as version 3; a
//! lock without one is written as version 2, the same text as before,
//! so locks of manifests without imports stay fresh and older releases
//! keep reading them; this release reads both (the one exception to
//! "a reader accepts only its own version", which holds again from the
//! next version on). A git import (`[import.git]`) is recorded with
//! `path` its path in the repository and `imported-git-rev`, the commit
//! it was read at: a lock whose `imported-git-rev` is not the manifest's
//! `[import.git] rev` is stale. `imported-git-rev` joined version 3
//! before any release wrote version 3, so it needs no new version.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::manifest::import::source::GitRev;
use crate::manifest::{Manifest, ResolvedSpec, SignedBy};
use crate::origin::{ArchiveSource, PackageOrigin};

/// The lock format this code reads and writes.
pub const FORMAT_VERSION: i64 = 3;

/// The version written for a lock without an import (the same text as
/// before [`FORMAT_VERSION`] 3, see the module docs).
pub const FORMAT_VERSION_WITHOUT_IMPORT: i64 = 2;

/// What the lock records of `[import]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockedImport {
    /// The manifest's `path`; for a git import, `[import.git] path` (the
    /// imported manifest's path in the repository).
    pub path: String,
    /// For a git import, the commit the imported manifest was read at
    /// (`imported-git-rev`); [`Lock::check_import`] compares it with
    /// `[import.git] rev`.
    pub git_rev: Option<crate::manifest::import::source::GitRev>,
    /// [`import_fingerprint`] when the lock was written.
    pub fingerprint: String,
}

/// The fingerprint of an imported universe: blake3 (SRI) over the
/// imported manifest's pin (the `hash` of its bytes) and the bytes of its
/// lock for the architecture. A change to either makes a lock recording
/// another fingerprint stale.
pub fn import_fingerprint(manifest_hash: &str, lock_bytes: &[u8]) -> String {
    let mut framed = format!("manifest {manifest_hash}\nlock {}\n", lock_bytes.len()).into_bytes();
    framed.extend_from_slice(lock_bytes);
    blake3_sri(&framed)
}

/// The imported manifest's lock, as `update` and `build` read it.
#[derive(Debug, Clone)]
pub struct ImportedLock {
    pub lock: Lock,
    /// Where it was read.
    pub path: PathBuf,
    /// [`import_fingerprint`] of it and the imported manifest's pin.
    pub fingerprint: String,
}

/// The imported manifest's lock cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ImportLockError {
    #[error("{manifest}: the imported manifest has no lock {lock} for {arch}: run 'rdebootstrap update' in {dir} first")]
    Missing {
        manifest: PathBuf,
        lock: PathBuf,
        arch: String,
        dir: PathBuf,
    },
    #[error(transparent)]
    Unreadable(#[from] LockError),
    #[error("{lock} is out of date for the imported manifest {imported} (specs {}): run 'rdebootstrap update' in {dir} first", .specs.join(", "))]
    Stale {
        lock: PathBuf,
        imported: PathBuf,
        specs: Vec<String>,
        dir: PathBuf,
    },
    #[error("{imported}")]
    Spec {
        imported: PathBuf,
        #[source]
        source: Box<crate::manifest::SpecError>,
    },
    #[error("{lock} records another import ({recorded}) than the manifest's ({current}): the imported manifest or its lock changed; run 'rdebootstrap update'")]
    Changed {
        lock: PathBuf,
        recorded: String,
        current: String,
    },
}

/// Read the lock for `arch` of the manifest `manifest` imports (none
/// without an import loaded by [`Manifest::load`]); it must be fresh for
/// the imported manifest.
pub fn imported_lock(
    manifest: &Manifest,
    arch: &str,
) -> Result<Option<ImportedLock>, ImportLockError> {
    let (Some(imported), Some(import)) = (manifest.imported.as_deref(), &manifest.import) else {
        return Ok(None);
    };
    let path = imported.lock_path(arch);
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(ImportLockError::Missing {
                manifest: manifest.path.clone(),
                lock: path,
                arch: arch.to_owned(),
                dir: imported.dir().to_owned(),
            })
        }
        Err(e) => {
            return Err(LockError {
                path,
                message: "cannot read the imported manifest's lock".into(),
                source: Some(Box::new(e)),
            }
            .into())
        }
    };
    let text = String::from_utf8_lossy(&bytes);
    let lock = Lock::parse(&text, &path)?;
    let stale = lock
        .stale_specs(imported)
        .map_err(|source| ImportLockError::Spec {
            imported: imported.path.clone(),
            source: Box::new(source),
        })?;
    if !stale.is_empty() {
        return Err(ImportLockError::Stale {
            lock: path,
            imported: imported.path.clone(),
            specs: stale
                .iter()
                .map(|s| crate::manifest::spec_label(s))
                .collect(),
            dir: imported.dir().to_owned(),
        });
    }
    Ok(Some(ImportedLock {
        fingerprint: import_fingerprint(&import.hash, &bytes),
        lock,
        path,
    }))
}

impl Lock {
    /// Check that the lock records the import `manifest` has now (`current`
    /// as [`imported_lock`] read it): the same path and fingerprint, or no
    /// import on either side. `lock_path` is named in the error.
    pub fn check_import(
        &self,
        manifest: &Manifest,
        current: Option<&ImportedLock>,
        lock_path: &Path,
    ) -> Result<(), ImportLockError> {
        let now = manifest.import.as_ref().zip(current).map(|(i, c)| {
            let path = match (&i.path, &i.git) {
                (_, Some(g)) => g.path.to_string(),
                (Some(p), None) => p.display().to_string(),
                (None, None) => String::new(),
            };
            (
                path,
                c.fingerprint.clone(),
                i.git.as_ref().map(|g| g.rev.clone()),
            )
        });
        let recorded = self
            .import
            .as_ref()
            .map(|i| (i.path.clone(), i.fingerprint.clone(), i.git_rev.clone()));
        if now == recorded {
            return Ok(());
        }
        let show = |(p, f, r): (String, String, Option<GitRev>)| match r {
            Some(r) => format!("path {p}, imported-git-rev {r}, fingerprint {f}"),
            None => format!("path {p}, fingerprint {f}"),
        };
        Err(ImportLockError::Changed {
            lock: lock_path.to_owned(),
            recorded: recorded.map_or_else(|| "none".to_owned(), show),
            current: now.map_or_else(|| "none".to_owned(), show),
        })
    }
}

/// A locked archive (one suite).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockedArchive {
    /// The manifest's `url` or vendor mirror (written `mirror:<vendor>`).
    pub source: ArchiveSource,
    pub suite: String,
    pub snapshot: Option<String>,
    /// SHA256 (hex) of the InRelease or Release file that was used.
    pub release_sha256: String,
    /// Fingerprint of the key that signed it (none when not verified).
    pub signer: Option<String>,
}

/// A locked local .deb (`[[local]]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockedLocal {
    /// Path as the manifest gives it (relative to the manifest's folder).
    pub path: String,
    pub size: u64,
    pub sha256: String,
}

/// A locked package.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct LockedPackage {
    pub name: String,
    pub version: String,
    pub arch: String,
    /// One of [`Lock::archives`] or [`Lock::locals`] (written as one
    /// `archive` index that counts the locals after the archives, see
    /// [`PackageOrigin::lock_index`]).
    pub origin: PackageOrigin,
    /// Pool path relative to the archive root.
    pub path: String,
    pub size: u64,
    pub sha256: String,
}

/// A staged artifact as the lock records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockedArtifact {
    pub name: String,
    /// The manifest's `url` or `path` (`None` for a `text` artifact).
    pub source: Option<String>,
    /// SRI hash: the manifest's, or for a local source without one, the
    /// source's when the lock was written.
    pub hash: String,
    /// An artifact of the imported manifest (staged by an imported
    /// ancestor); written `imported = true`.
    pub imported: bool,
}

/// A locked spec.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockedSpec {
    /// `""` for `[spec]`.
    pub name: String,
    /// The semantic hash of the spec when it was solved.
    pub hash: String,
    pub packages: Vec<LockedPackage>,
}

/// A lock file.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Lock {
    pub arch: String,
    /// The import's record (version 3; see the module docs).
    pub import: Option<LockedImport>,
    pub archives: Vec<LockedArchive>,
    pub locals: Vec<LockedLocal>,
    pub specs: Vec<LockedSpec>,
    /// The artifacts each spec stages, by spec name, in staging order
    /// (written in the spec's table; see [`Lock::artifacts_of`]).
    pub artifacts: std::collections::BTreeMap<String, Vec<LockedArtifact>>,
}

/// A lock that cannot be read.
#[derive(Debug, thiserror::Error)]
#[error("{}: {message}", path.display())]
pub struct LockError {
    pub path: PathBuf,
    pub message: String,
    #[source]
    pub source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04X}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The SRI form of a BLAKE3 hash: `blake3-<base64>`.
pub fn blake3_sri(data: &[u8]) -> String {
    use base64::Engine as _;
    format!(
        "blake3-{}",
        base64::engine::general_purpose::STANDARD.encode(blake3::hash(data).as_bytes())
    )
}

/// The semantic hash of a spec, in a canonical text form: its resolved
/// requirements, variant and Recommends setting, and every archive
/// declaration (what can change the solution); and what its build does
/// beyond the packages, all resolved through `extends`: the artifacts it
/// stages in staging order (name, type, target, source, hash, unpack,
/// text), `build-env`, the build scripts in the order they run,
/// `meta`, and the path filters in the order dpkg is given them (presets
/// expanded, so a preset that changes in a new release stales the lock).
pub fn spec_hash(manifest: &Manifest, spec: &ResolvedSpec) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "variant {}", spec.variant.name());
    let _ = writeln!(s, "recommends {}", spec.recommends);
    // Only when set, so that locks made before the key existed stay fresh.
    let mut foreign = spec.foreign_architectures.clone();
    foreign.sort();
    for f in foreign {
        let _ = writeln!(s, "foreign-architecture {f}");
    }
    let mut include = spec.include.clone();
    include.sort();
    let mut exclude = spec.exclude.clone();
    exclude.sort();
    for i in include {
        let _ = writeln!(s, "include {i}");
    }
    for e in exclude {
        let _ = writeln!(s, "exclude {e}");
    }
    for a in &manifest.archives {
        let _ = writeln!(
            s,
            "archive {:?} {:?} {:?} {:?} {:?} {} {}",
            a.url, a.mirror, a.snapshots, a.suites, a.components, a.priority, a.allow_insecure
        );
        match &a.signed_by {
            Some(SignedBy::File(p)) => {
                let _ = writeln!(s, "signed-by file {}", p.display());
            }
            Some(SignedBy::Inline(k)) => {
                let _ = writeln!(s, "signed-by inline {k}");
            }
            None => {}
        }
    }
    for l in &manifest.locals {
        let _ = writeln!(s, "local {} {:?}", l.path.display(), l.hash);
    }
    // The import's pin covers everything of the imported manifest (its
    // lock is covered by the lock's import fingerprint); only when there
    // is one, so that locks without imports stay fresh.
    if let Some(i) = &manifest.import {
        let _ = writeln!(s, "import {:?} {:?} {:?}", i.path, i.hash, i.specs);
        if let Some(g) = &i.git {
            let _ = writeln!(
                s,
                "import-git {:?} {:?} {:?} {:?}",
                g.remote.as_str(),
                g.rev.as_str(),
                g.reference,
                g.path.as_str()
            );
        }
    }
    // The build half: `{:?}` quotes and escapes, so fields cannot run
    // into each other.
    for name in &spec.stage {
        match manifest.artifacts.get(name) {
            Some(a) => {
                let _ = writeln!(
                    s,
                    "artifact {name:?} {:?} {:?} {:?} {:?} {} {:?}",
                    a.kind, a.target, a.source, a.hash, a.unpack, a.text
                );
            }
            None => {
                let _ = writeln!(s, "artifact {name:?} undefined");
            }
        }
    }
    for (k, v) in &spec.build_env {
        let _ = writeln!(s, "build-env {k:?} {v:?}");
    }
    for (from, script) in &spec.build_scripts {
        let _ = writeln!(s, "build-script {from:?} {script:?}");
    }
    let mut meta = spec.meta.clone();
    meta.sort();
    for m in meta {
        let _ = writeln!(s, "meta {m:?}");
    }
    // In order (the last matching rule decides), presets expanded; only
    // when there are any, so that locks of specs without filters stay
    // fresh.
    for r in spec.path_filters.rules() {
        let _ = writeln!(s, "{} {:?}", r.action.option(), r.pattern);
    }
    blake3_sri(s.as_bytes())
}

impl Lock {
    /// The canonical text of the lock.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        out.push_str("# Written by rdebootstrap update; do not edit.\n");
        let version = if self.import.is_some() {
            FORMAT_VERSION
        } else {
            FORMAT_VERSION_WITHOUT_IMPORT
        };
        let _ = writeln!(out, "version = {version}");
        let _ = writeln!(out, "arch = {}", quote(&self.arch));
        if let Some(i) = &self.import {
            out.push_str("\n[import]\n");
            let _ = writeln!(out, "path = {}", quote(&i.path));
            if let Some(r) = &i.git_rev {
                let _ = writeln!(out, "imported-git-rev = {}", quote(r.as_str()));
            }
            let _ = writeln!(out, "fingerprint = {}", quote(&i.fingerprint));
        }
        for a in &self.archives {
            out.push_str("\n[[archive]]\n");
            let _ = writeln!(out, "source = {}", quote(&a.source.to_string()));
            let _ = writeln!(out, "suite = {}", quote(&a.suite));
            if let Some(s) = &a.snapshot {
                let _ = writeln!(out, "snapshot = {}", quote(s));
            }
            let _ = writeln!(out, "release-sha256 = {}", quote(&a.release_sha256));
            if let Some(s) = &a.signer {
                let _ = writeln!(out, "signer = {}", quote(s));
            }
        }
        for l in &self.locals {
            out.push_str("\n[[local]]\n");
            let _ = writeln!(out, "path = {}", quote(&l.path));
            let _ = writeln!(out, "size = {}", l.size);
            let _ = writeln!(out, "sha256 = {}", quote(&l.sha256));
        }
        let mut specs: Vec<&LockedSpec> = self.specs.iter().collect();
        specs.sort_by(|a, b| a.name.cmp(&b.name));
        for s in specs {
            out.push_str("\n[[spec]]\n");
            let _ = writeln!(out, "name = {}", quote(&s.name));
            let _ = writeln!(out, "hash = {}", quote(&s.hash));
            let arts = self.artifacts_of(&s.name);
            if !arts.is_empty() {
                out.push_str("artifacts = [\n");
                for a in arts {
                    let source = a
                        .source
                        .as_ref()
                        .map(|src| format!(", source = {}", quote(src)))
                        .unwrap_or_default();
                    let imported = if a.imported { ", imported = true" } else { "" };
                    let _ = writeln!(
                        out,
                        "  {{ name = {}{source}, hash = {}{imported} }},",
                        quote(&a.name),
                        quote(&a.hash)
                    );
                }
                out.push_str("]\n");
            }
            let mut pkgs: Vec<&LockedPackage> = s.packages.iter().collect();
            pkgs.sort();
            out.push_str("packages = [\n");
            for p in pkgs {
                let origin = match p.origin {
                    PackageOrigin::Imported(i) => format!("imported = {i}"),
                    o => format!("archive = {}", o.lock_index(self.archives.len())),
                };
                let _ = writeln!(
                    out,
                    "  {{ name = {}, version = {}, arch = {}, {origin}, path = {}, size = {}, sha256 = {} }},",
                    quote(&p.name),
                    quote(&p.version),
                    quote(&p.arch),
                    quote(&p.path),
                    p.size,
                    quote(&p.sha256)
                );
            }
            out.push_str("]\n");
        }
        out
    }

    /// Write the lock to `path` unless the file already holds exactly this
    /// text; atomically (temporary file, then rename). Returns whether it
    /// wrote.
    pub fn write_if_changed(&self, path: &Path) -> Result<bool, LockError> {
        let text = self.to_text();
        if std::fs::read_to_string(path).is_ok_and(|old| old == text) {
            return Ok(false);
        }
        let fail = |message: &str, e: std::io::Error| LockError {
            path: path.to_owned(),
            message: message.to_owned(),
            source: Some(Box::new(e)),
        };
        let tmp = path.with_extension(format!("lock.tmp.{}", std::process::id()));
        std::fs::write(&tmp, &text).map_err(|e| fail("cannot write the lock", e))?;
        std::fs::rename(&tmp, path).map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            fail("cannot move the new lock into place", e)
        })?;
        Ok(true)
    }

    /// Read a lock file.
    pub fn load(path: &Path) -> Result<Lock, LockError> {
        let text = std::fs::read_to_string(path).map_err(|e| LockError {
            path: path.to_owned(),
            message: "cannot read the lock (run 'rdebootstrap update' to create it)".into(),
            source: Some(Box::new(e)),
        })?;
        Lock::parse(&text, path)
    }

    /// Parse lock text; `path` names it in errors.
    pub fn parse(text: &str, path: &Path) -> Result<Lock, LockError> {
        let bad = |message: String| LockError {
            path: path.to_owned(),
            message,
            source: None,
        };
        let doc = toml_edit::Document::parse(text).map_err(|e| LockError {
            path: path.to_owned(),
            message: "not valid TOML".into(),
            source: Some(Box::new(e)),
        })?;
        let root = doc.as_table();
        let version = root.get("version").and_then(|v| v.as_integer());
        match version {
            Some(FORMAT_VERSION | FORMAT_VERSION_WITHOUT_IMPORT) => {}
            Some(v) if v > FORMAT_VERSION => {
                return Err(bad(format!(
                    "lock format version {v} was written by a newer rdebootstrap (this one reads versions {FORMAT_VERSION_WITHOUT_IMPORT} and {FORMAT_VERSION}): upgrade rdebootstrap"
                )))
            }
            _ => {
                return Err(bad(format!(
                    "lock format version {} is older than the versions {FORMAT_VERSION_WITHOUT_IMPORT} and {FORMAT_VERSION} this rdebootstrap reads: run 'rdebootstrap update' to rewrite it",
                    version.map_or("(none)".to_owned(), |v| v.to_string())
                )))
            }
        }
        let s = |t: &dyn toml_edit::TableLike, k: &str| {
            t.get(k).and_then(|v| v.as_str()).map(str::to_owned)
        };
        let need = |t: &dyn toml_edit::TableLike, k: &str, what: &str| {
            s(t, k).ok_or_else(|| bad(format!("{what} lacks '{k}'")))
        };
        let mut lock = Lock {
            arch: need(root, "arch", "the lock")?,
            ..Lock::default()
        };
        if let Some(t) = root.get("import").and_then(|i| i.as_table_like()) {
            if version != Some(FORMAT_VERSION) {
                return Err(bad(format!(
                    "an [import] in a lock of version {FORMAT_VERSION_WITHOUT_IMPORT}: run 'rdebootstrap update' to rewrite it"
                )));
            }
            lock.import = Some(LockedImport {
                path: need(t, "path", "[import]")?,
                git_rev: s(t, "imported-git-rev")
                    .map(|r| {
                        GitRev::parse(&r)
                            .map_err(|e| bad(format!("[import] 'imported-git-rev': {e}")))
                    })
                    .transpose()?,
                fingerprint: need(t, "fingerprint", "[import]")?,
            });
        }
        if let Some(arr) = root.get("archive").and_then(|i| i.as_array_of_tables()) {
            for t in arr.iter() {
                lock.archives.push(LockedArchive {
                    source: ArchiveSource::from_lock_text(&need(t, "source", "an [[archive]]")?),
                    suite: need(t, "suite", "an [[archive]]")?,
                    snapshot: s(t, "snapshot"),
                    release_sha256: need(t, "release-sha256", "an [[archive]]")?,
                    signer: s(t, "signer"),
                });
            }
        }
        if let Some(arr) = root.get("local").and_then(|i| i.as_array_of_tables()) {
            for t in arr.iter() {
                lock.locals.push(LockedLocal {
                    path: need(t, "path", "a [[local]]")?,
                    size: t
                        .get("size")
                        .and_then(|v| v.as_integer())
                        .ok_or_else(|| bad("a [[local]] lacks 'size'".into()))?
                        as u64,
                    sha256: need(t, "sha256", "a [[local]]")?,
                });
            }
        }
        if let Some(arr) = root.get("spec").and_then(|i| i.as_array_of_tables()) {
            for t in arr.iter() {
                let name = s(t, "name").ok_or_else(|| bad("a [[spec]] lacks 'name'".into()))?;
                let mut packages = Vec::new();
                let list = t
                    .get("packages")
                    .and_then(|p| p.as_array())
                    .ok_or_else(|| bad(format!("spec '{name}' lacks 'packages'")))?;
                for v in list.iter() {
                    let p = v.as_inline_table().ok_or_else(|| {
                        bad(format!("spec '{name}': a package is not an inline table"))
                    })?;
                    let what = format!("a package of spec '{name}'");
                    let int = |k: &str| {
                        p.get(k)
                            .and_then(|v| v.as_integer())
                            .ok_or_else(|| bad(format!("{what} lacks '{k}'")))
                    };
                    let package = need(p, "name", &what)?;
                    let origin = if p.contains_key("imported") && lock.import.is_some() {
                        PackageOrigin::Imported(int("imported")? as usize)
                    } else {
                        let index = int("archive")? as usize;
                        PackageOrigin::from_lock_index(
                            index,
                            lock.archives.len(),
                            lock.locals.len(),
                        )
                        .ok_or_else(|| {
                            bad(format!(
                                "package {package} of spec '{name}' names archive {index} which the lock does not have"
                            ))
                        })?
                    };
                    packages.push(LockedPackage {
                        name: package,
                        version: need(p, "version", &what)?,
                        arch: need(p, "arch", &what)?,
                        origin,
                        path: need(p, "path", &what)?,
                        size: int("size")? as u64,
                        sha256: need(p, "sha256", &what)?,
                    });
                }
                if let Some(arts) = t.get("artifacts") {
                    let list = arts.as_array().ok_or_else(|| {
                        bad(format!("spec '{name}': 'artifacts' is not an array"))
                    })?;
                    let mut records = Vec::new();
                    for v in list.iter() {
                        let a = v.as_inline_table().ok_or_else(|| {
                            bad(format!("spec '{name}': an artifact is not an inline table"))
                        })?;
                        let what = format!("an artifact of spec '{name}'");
                        records.push(LockedArtifact {
                            name: need(a, "name", &what)?,
                            source: s(a, "source"),
                            hash: need(a, "hash", &what)?,
                            imported: a.get("imported").and_then(|v| v.as_bool()) == Some(true),
                        });
                    }
                    lock.artifacts.insert(name.clone(), records);
                }
                lock.specs.push(LockedSpec {
                    hash: need(t, "hash", &format!("spec '{name}'"))?,
                    name,
                    packages,
                });
            }
        }
        Ok(lock)
    }

    /// The artifacts spec `name` stages, as locked (empty if none).
    pub fn artifacts_of(&self, name: &str) -> &[LockedArtifact] {
        self.artifacts.get(name).map_or(&[], Vec::as_slice)
    }

    /// The locked spec `name`.
    pub fn spec(&self, name: &str) -> Option<&LockedSpec> {
        self.specs.iter().find(|s| s.name == name)
    }

    /// Specs of the manifest whose lock entry is missing or whose hash no
    /// longer matches (they and their descendants need a new solve).
    pub fn stale_specs(
        &self,
        manifest: &Manifest,
    ) -> Result<Vec<String>, crate::manifest::SpecError> {
        let mut out = Vec::new();
        for name in manifest.spec_names() {
            let resolved = manifest.resolve(&name)?;
            let fresh = self
                .spec(&name)
                .is_some_and(|s| s.hash == spec_hash(manifest, &resolved));
            if !fresh {
                out.push(name);
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests;
