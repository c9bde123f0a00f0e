//! `Manifest.toml`: archives, local packages, artifacts, an optional import,
//! and specs.
//!
//! The file is read with toml_edit so that errors can name the file, line and
//! column, and so that later edits keep the user's layout. Unknown keys and
//! values of the wrong type are errors. Spec inheritance (`extends`) is
//! resolved by [`Manifest::resolve`]: strictly additive, parents in declared
//! order, cycles and unknown parents reported.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub mod edit;
pub mod import;
mod resolve;
mod schema;

pub use resolve::{ResolvedSpec, SpecError};

/// The package a requirement (`name`, `name:arch (>= 1)`, `name [arch]`) is
/// about.
pub fn requirement_name(req: &str) -> &str {
    let end = req
        .find(|c: char| c.is_whitespace() || c == '(' || c == ':' || c == '[')
        .unwrap_or(req.len());
    &req[..end]
}

/// How a spec is named in messages: `[spec]` for the unnamed one, else
/// `'name'`.
pub fn spec_label(name: &str) -> String {
    if name.is_empty() {
        "[spec]".into()
    } else {
        format!("'{name}'")
    }
}

/// What a spec installs implicitly, smallest first (mmdebstrap's variants).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Variant {
    /// Nothing but what the spec names.
    Custom,
    /// `Essential: yes` packages.
    Essential,
    /// Essential and `Priority: required`.
    Required,
    /// Required and apt.
    Minbase,
    /// Essential, apt and build-essential.
    Buildd,
    /// Required and `Priority: important`.
    Important,
    /// Important and `Priority: standard`.
    Standard,
}

impl Variant {
    /// The name used in manifests.
    pub fn name(self) -> &'static str {
        match self {
            Variant::Custom => "custom",
            Variant::Essential => "essential",
            Variant::Required => "required",
            Variant::Minbase => "minbase",
            Variant::Buildd => "buildd",
            Variant::Important => "important",
            Variant::Standard => "standard",
        }
    }

    /// Parse a variant name.
    pub fn from_name(s: &str) -> Option<Variant> {
        Some(match s {
            "custom" => Variant::Custom,
            "essential" => Variant::Essential,
            "required" => Variant::Required,
            "minbase" => Variant::Minbase,
            "buildd" => Variant::Buildd,
            "important" => Variant::Important,
            "standard" => Variant::Standard,
            _ => return None,
        })
    }

    /// True if every package `other` brings in, `self` brings in too (a
    /// child may not choose a variant that does not cover its parent's).
    pub fn covers(self, other: Variant) -> bool {
        use Variant::*;
        match (self, other) {
            (a, b) if a == b => true,
            (_, Custom) => true,
            (Custom, _) => false,
            (Buildd, Essential) => true,
            (Buildd, _) => false,
            (_, Buildd) => false,
            (a, b) => a >= b,
        }
    }
}

/// Where an archive's trusted keys come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignedBy {
    /// A keyring file, relative to the manifest's folder if not absolute.
    File(PathBuf),
    /// An armored key block written in the manifest.
    Inline(String),
}

/// An `[[archive]]` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArchiveDecl {
    /// The archive URL, or `None` when `mirror` names a vendor's mirror.
    pub url: Option<String>,
    /// A vendor name (`debian`, `ubuntu`, ...) whose mirror is looked up at
    /// update time.
    pub mirror: Option<String>,
    /// Snapshot URL template with `@SNAPSHOTID@`.
    pub snapshots: Option<String>,
    pub suites: Vec<String>,
    pub components: Vec<String>,
    pub signed_by: Option<SignedBy>,
    /// Higher wins over newer versions of lower priority archives.
    pub priority: i64,
    pub allow_insecure: bool,
    /// Line of the entry in the manifest.
    pub line: usize,
}

/// A `[[local]]` .deb.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalDeb {
    pub path: PathBuf,
    /// SRI hash (`sha256-...`), recorded by `deb add`.
    pub hash: Option<String>,
    pub line: usize,
}

/// An `[artifact."name"]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Artifact {
    /// `file`, `tar`, `dir` or `text`.
    pub kind: ArtifactKind,
    /// Target path in the tree.
    pub target: String,
    /// Source path or URL (not for `text`).
    pub source: Option<String>,
    /// Content of a `text` artifact.
    pub text: Option<String>,
    pub hash: Option<String>,
    /// Unpack archives and compressed files (default true).
    pub unpack: bool,
    pub line: usize,
}

/// Kinds of artifacts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArtifactKind {
    File,
    Tar,
    Dir,
    Text,
}

/// `[import]`: specs reused from another locked manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Import {
    pub path: Option<PathBuf>,
    pub git: Option<GitImport>,
    pub hash: String,
    pub specs: Vec<String>,
    pub line: usize,
}

/// `[import.git]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GitImport {
    /// The repository (`https://`, `http://`, `ssh://` or `file://`).
    pub remote: import::source::GitRemote,
    /// The pinned commit.
    pub rev: import::source::GitRev,
    /// The branch or tag `update --locals` follows, if any.
    pub reference: Option<String>,
    /// The imported manifest's path in the repository.
    pub path: import::source::RepoPath,
    /// Line of the `[import.git]` table.
    pub line: usize,
}

/// A `[spec]` (named `""`) or `[spec.NAME]` table, as written.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Spec {
    pub extends: Vec<String>,
    /// Package requirements (relation syntax: `name`, `name (>= 1.0)`, ...).
    pub include: Vec<String>,
    /// Forbidden packages or versions.
    pub exclude: Vec<String>,
    pub variant: Option<Variant>,
    pub recommends: Option<bool>,
    /// Foreign architectures (as `dpkg --add-architecture`): their
    /// packages become candidates, for `name:arch` requirements and for
    /// `Multi-Arch` dependencies.
    pub foreign_architectures: Vec<String>,
    pub stage: Vec<String>,
    pub build_env: BTreeMap<String, String>,
    pub build_script: Option<String>,
    pub meta: Vec<String>,
    /// The spec's own path filters (`path-filters` presets, then
    /// `path-exclude`, then `path-include`; see [`crate::pathfilter`]).
    pub path_filters: crate::pathfilter::PathFilters,
    pub line: usize,
}

/// A parsed manifest.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Manifest {
    /// The file it was read from.
    pub path: PathBuf,
    pub archives: Vec<ArchiveDecl>,
    pub locals: Vec<LocalDeb>,
    pub artifacts: BTreeMap<String, Artifact>,
    pub import: Option<Import>,
    /// Specs by name; the unnamed `[spec]` is `""`.
    pub specs: BTreeMap<String, Spec>,
    /// The manifest `[import]` names, loaded and checked against its
    /// `hash` by [`Manifest::load`] (see [`import`]); `None` when there is
    /// no import or the manifest was only parsed.
    pub imported: Option<Box<Manifest>>,
}

/// A manifest that cannot be used: file, line and column, and what is wrong.
#[derive(Debug, thiserror::Error)]
#[error("{}{}: {message}", path.display(), pos.map(|(l, c)| format!(":{l}:{c}")).unwrap_or_default())]
pub struct ManifestError {
    pub path: PathBuf,
    /// 1-based line and column.
    pub pos: Option<(usize, usize)>,
    pub message: String,
    #[source]
    pub source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

impl Manifest {
    /// Read and check a manifest file, and the manifest its `[import]`
    /// names (see [`import`]).
    /// A git import is refused: see [`Manifest::load_with`].
    pub fn load(path: &Path) -> Result<Manifest, ManifestError> {
        Manifest::load_with(path, None)
    }

    /// [`Manifest::load`], reading a git import with `git`.
    pub fn load_with(
        path: &Path,
        git: Option<&import::GitAccess>,
    ) -> Result<Manifest, ManifestError> {
        let mut m = Manifest::load_own(path)?;
        import::attach(&mut m, git)?;
        Ok(m)
    }

    /// Read and check a manifest file without loading what its
    /// `[import]` names (for edits, such as re-pinning the import).
    pub fn load_own(path: &Path) -> Result<Manifest, ManifestError> {
        let text = std::fs::read_to_string(path).map_err(|e| ManifestError {
            path: path.to_owned(),
            pos: None,
            message: "cannot read the manifest".into(),
            source: Some(Box::new(e)),
        })?;
        Manifest::parse(&text, path)
    }

    /// Parse manifest text; `path` names it in errors.
    pub fn parse(text: &str, path: &Path) -> Result<Manifest, ManifestError> {
        schema::parse(text, path)
    }

    /// The folder relative paths are resolved against.
    pub fn dir(&self) -> &Path {
        self.path.parent().unwrap_or(Path::new("."))
    }

    /// The lock file path: `NAME.toml` gives `NAME.<arch>.lock`.
    pub fn lock_path(&self, arch: &str) -> PathBuf {
        let stem = self
            .path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "Manifest".into());
        self.dir().join(format!("{stem}.{arch}.lock"))
    }

    /// Every foreign architecture any spec names, sorted (the indices to
    /// fetch and the universe to build; each spec uses its own).
    pub fn foreign_architectures(&self) -> Vec<String> {
        let set: std::collections::BTreeSet<&String> = self
            .specs
            .values()
            .flat_map(|s| &s.foreign_architectures)
            .collect();
        set.into_iter().cloned().collect()
    }
}

#[cfg(test)]
mod tests;
