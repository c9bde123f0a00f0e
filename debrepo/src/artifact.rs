//! Artifacts: files, tarballs, directories and inline text that a spec
//! stages into the tree (`[artifact."NAME"]`, `stage = [...]`).
//!
//! # Order
//!
//! [`plan`] lists what a spec stages: its ancestors first, in the
//! topological order of `extends` (depth first, parents in the order
//! `extends` lists them), then the spec itself; within a spec in `stage`
//! order; an artifact reached twice (a diamond) is staged once, where it is
//! first reached. A `stage` entry naming no `[artifact]` is refused when
//! the manifest is read.
//!
//! # Sources and hashes
//!
//! - `path = "..."` (relative to the manifest's folder, or absolute) and
//!   `file://` URLs are local sources; `http://` and `https://` URLs are
//!   fetched through [`Transport`] (credentials, retries, proxies as for
//!   the archives) and kept in the [`Cache`] under their hash (a
//!   `sha256-` artifact in the cache's own store, a `blake3-` one as a
//!   hard link to that entry under `v1/blake3/`), proven intact by
//!   hashing whenever it is used.
//! - Hashes are SRI strings: `blake3-<base64>` (what this tool computes,
//!   [`sri_blake3`], [`sri_blake3_of_path`]) or `sha256-<base64>`.
//! - A URL artifact must carry its `hash` in the manifest: without one,
//!   the download is hashed and the error gives the `hash = "..."` line to
//!   add. A local artifact may carry one; without it, `update` records
//!   the source's hash in the lock ([`lock_records`]), and a build checks
//!   the source against that, so a source changed since the lock was
//!   written fails until `rdebootstrap update` is run again.
//! - The hash is checked on every build ([`fetch_all`]), whether the
//!   content came from the cache, the network or the manifest's folder; a
//!   mismatch names the artifact and both hashes. A `text` artifact's
//!   hash, when given, is checked against its text. A `dir` artifact is
//!   hashed again as [`stage`] copies it, so a directory changed between
//!   the check and the copy fails the build.
//!
//! The hash of a file is the hash of its bytes. The hash of a directory
//! (type `dir`) is a tree hash, so that it does not depend on the order a
//! file system lists entries in: the hasher is fed
//! `rdebootstrap-tree-v1\n`, then one record per entry below the
//! directory (the directory itself excluded), sorted by relative path
//! (bytes, `/` separated):
//! `<kind> <mode> <len>:<path> <len>:<payload>\n`, where kind is `d`
//! (directory), `f` (regular file) or `l` (symlink), mode the permission
//! bits as four octal digits (`0000` for symlinks), `<len>` the decimal
//! byte length of the field after the colon, and the payload a file's
//! contents, a symlink's target, or empty for a directory. Entries of any
//! other type (devices, fifos, sockets) are refused.
//!
//! # Staging
//!
//! [`stage`] writes the fetched artifacts into a tree in [`plan`] order,
//! every path resolved inside the tree's root ([`Tree`]). Targets follow
//! the spec:
//!
//! | artifact                  | target          | result                          |
//! |---------------------------|-----------------|---------------------------------|
//! | `file`/`text` `name.ext`  | `/path/target`  | `/path/target`                  |
//! | `file`/`text` `name.ext`  | `/path/target/` | `/path/target/name.ext`         |
//! | `tar`, or `file` `x.tar`  | `/path/target`  | extracted under `/path/target`  |
//! | `dir`                     | `/path/target`  | copied under `/path/target`     |
//!
//! - A target that is not absolute gets a leading `/`; `..` in a target
//!   is refused. A `text` artifact with a trailing-`/` target is written
//!   under its artifact name.
//! - Unless `unpack = false`: a `file` whose name ends in `.gz`, `.xz`,
//!   `.bz2`, `.zst` or `.zstd` is decompressed and loses that extension
//!   (when its name comes from the source); a `file` named `.tar` (after
//!   decompression) is extracted like a `tar`; a `tar` is decompressed
//!   according to its first bytes. With `unpack = false` a `tar` is placed
//!   as a file, by the file rules.
//! - Modes: a local file keeps its permission bits, a downloaded file gets
//!   0644, a text artifact 0644; tar and directory entries keep theirs
//!   (a directory made gets its mode once the artifact is staged, so a
//!   read-only one still receives its files in a rootless build).
//!   Everything is owned by the building user, which is root in the tree
//!   (owners in tarballs are ignored, so nothing is recorded for a
//!   rootless build). Extended attributes and times are not kept.
//!
//! What may be replaced: a `file` or `text` artifact names its target, so
//! it replaces what is there (a package's file, a symlink; never a
//! directory). The entries of a `tar` or `dir` artifact may only add: an
//! existing directory (or a symlink to one, as `/lib` in a merged-/usr
//! tree) is merged into and keeps its mode, but an entry that would
//! replace an existing file or symlink is refused, naming both; to
//! replace a package's file, make it the target of a `file` artifact.
//!
//! Tarballs are read with the strict reader of [`crate::deb`] and checked
//! whole before anything is written: absolute names, `..` components,
//! newlines in names, device nodes and fifos are refused, as is an entry
//! written through a symlink the same archive creates (`link -> /etc`,
//! then `link/passwd`) or under a file it makes, a name given twice (but
//! for directories), and a hard link to anything but a regular file
//! earlier in the archive. Symlinks are created after every other entry,
//! so no write can follow one. Symlinks already in the tree (merged /usr,
//! a package's) are followed as dpkg follows them, resolved with the
//! tree as `/`, so nothing outside the tree is reached.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::ffi::{OsStr, OsString};
use std::fmt;
use std::fs::File;
use std::io::{self, Read};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use base64::Engine as _;
use rustix::fs::{AtFlags, FileType, Mode, OFlags};

use crate::cache::{Cache, CacheError};
use crate::compression::Compression;
use crate::deb::tar::{RawKind, TarReader};
use crate::deb::TarError;
use crate::lock::{Lock, LockedArtifact};
use crate::manifest::{spec_label, Artifact, ArtifactKind, Manifest, SpecError};
use crate::transport::{FetchError, Transport};
use crate::tree::Tree;

/// Format tag of the directory tree hash (see the module docs).
const TREE_HASH_TAG: &[u8] = b"rdebootstrap-tree-v1\n";

/// Name of the temporary file a staged file is written under.
const TMP_NAME: &str = ".rdebootstrap-artifact-tmp";

// ---------------------------------------------------------------------
// Hashes
// ---------------------------------------------------------------------

/// A hash algorithm an SRI string may name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HashAlgo {
    /// `blake3-...`: what this tool computes.
    Blake3,
    /// `sha256-...`: accepted.
    Sha256,
}

impl HashAlgo {
    /// The SRI prefix, without the dash.
    pub fn name(self) -> &'static str {
        match self {
            HashAlgo::Blake3 => "blake3",
            HashAlgo::Sha256 => "sha256",
        }
    }
}

/// A parsed SRI hash: algorithm and 32-byte digest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Sri {
    pub algo: HashAlgo,
    pub digest: [u8; 32],
}

/// An SRI string that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SriError {
    #[error("'{0}' is not an SRI hash (ALGO-BASE64, for example blake3-... or sha256-...)")]
    Form(String),
    #[error("'{0}': unsupported hash algorithm (use blake3 or sha256)")]
    Algo(String),
    #[error("'{0}': the digest is not base64 of 32 bytes")]
    Digest(String),
}

impl Sri {
    /// Parse `blake3-<base64>` or `sha256-<base64>`.
    pub fn parse(s: &str) -> Result<Sri, SriError> {
        let (algo, b64) = s
            .split_once('-')
            .ok_or_else(|| SriError::Form(s.to_owned()))?;
        let algo = match algo {
            "blake3" => HashAlgo::Blake3,
            "sha256" => HashAlgo::Sha256,
            _ => return Err(SriError::Algo(s.to_owned())),
        };
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(b64)
            .map_err(|_| SriError::Digest(s.to_owned()))?;
        let digest: [u8; 32] = bytes
            .try_into()
            .map_err(|_| SriError::Digest(s.to_owned()))?;
        Ok(Sri { algo, digest })
    }
}

impl fmt::Display for Sri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}-{}",
            self.algo.name(),
            base64::engine::general_purpose::STANDARD.encode(self.digest)
        )
    }
}

/// A streaming hasher for one [`HashAlgo`].
#[derive(Clone)]
pub enum Hasher {
    Blake3(Box<blake3::Hasher>),
    Sha256(sha2::Sha256),
}

impl Hasher {
    /// A fresh hasher.
    pub fn new(algo: HashAlgo) -> Hasher {
        match algo {
            HashAlgo::Blake3 => Hasher::Blake3(Box::default()),
            HashAlgo::Sha256 => Hasher::Sha256(sha2::Digest::new()),
        }
    }

    /// Feed bytes.
    pub fn update(&mut self, data: &[u8]) {
        match self {
            Hasher::Blake3(h) => {
                h.update(data);
            }
            Hasher::Sha256(h) => sha2::Digest::update(h, data),
        }
    }

    /// The digest.
    pub fn finish(self) -> Sri {
        match self {
            Hasher::Blake3(h) => Sri {
                algo: HashAlgo::Blake3,
                digest: *h.finalize().as_bytes(),
            },
            Hasher::Sha256(h) => Sri {
                algo: HashAlgo::Sha256,
                digest: sha2::Digest::finalize(h).into(),
            },
        }
    }
}

impl io::Write for Hasher {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.update(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// The blake3 SRI (`blake3-<base64>`) of `bytes`.
pub fn sri_blake3(bytes: &[u8]) -> String {
    crate::lock::blake3_sri(bytes)
}

/// The blake3 SRI of a source on disk: a file's bytes, or a directory's
/// tree hash (see the module docs). `path` itself is followed if it is a
/// symlink; symlinks inside a directory are hashed as links.
pub fn sri_blake3_of_path(path: &Path) -> Result<String, ArtifactError> {
    Ok(hash_path(path, HashAlgo::Blake3)?.to_string())
}

/// The hash of a file's bytes or a directory's tree.
pub fn hash_path(path: &Path, algo: HashAlgo) -> Result<Sri, ArtifactError> {
    let meta = std::fs::metadata(path).map_err(io_at("cannot read", path))?;
    if meta.is_dir() {
        let entries = walk_dir(path)?;
        tree_hash(path, &entries, algo)
    } else if meta.is_file() {
        let file = File::open(path).map_err(io_at("cannot open", path))?;
        hash_reader(&mut PosReader::new(&file), algo).map_err(io_at("cannot read", path))
    } else {
        Err(ArtifactError::Special {
            path: path.to_owned(),
        })
    }
}

fn hash_reader(r: &mut dyn Read, algo: HashAlgo) -> io::Result<Sri> {
    let mut h = Hasher::new(algo);
    io::copy(r, &mut h)?;
    Ok(h.finish())
}

// ---------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------

/// Why a tar or directory entry is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EntryRefusal {
    #[error("an absolute name")]
    Absolute,
    #[error("a '..' component")]
    DotDot,
    #[error("a newline in the name")]
    Newline,
    #[error("a {0}, which artifacts may not hold")]
    Special(&'static str),
    #[error("written through the symlink '{0}' that the same archive creates")]
    ThroughSymlink(String),
    #[error("under '{0}', which the same archive makes a file")]
    UnderFile(String),
    #[error("given twice in the archive")]
    Twice,
    #[error("a hard link to '{0}', which is not a regular file earlier in the archive")]
    HardLink(String),
}

/// An artifact could not be planned, fetched, checked or staged. Every
/// variant names the artifact (or the path) it is about.
#[derive(Debug, thiserror::Error)]
pub enum ArtifactError {
    #[error(transparent)]
    Spec(#[from] SpecError),
    #[error(
        "spec {} (line {line}) stages '{artifact}', which is not an [artifact] of the manifest",
        spec_label(spec)
    )]
    Unknown {
        spec: String,
        line: usize,
        artifact: String,
    },
    #[error("artifact '{name}' (line {line}): invalid hash")]
    BadHash {
        name: String,
        line: usize,
        #[source]
        source: SriError,
    },
    #[error("artifact '{name}' (line {line}): the URL {url} needs a hash in the manifest: add hash = \"{computed}\" (the hash of what it serves now)")]
    MissingHash {
        name: String,
        line: usize,
        url: String,
        computed: String,
    },
    #[error("artifact '{name}' ({source_name}): hash mismatch: the manifest says {expected}, the content has {actual}")]
    Mismatch {
        name: String,
        source_name: String,
        expected: String,
        actual: String,
    },
    #[error("artifact '{name}' ({source_name}) changed since the lock was written (the lock says {locked}, it now has {actual}): run 'rdebootstrap update'")]
    Changed {
        name: String,
        source_name: String,
        locked: String,
        actual: String,
    },
    #[error(
        "artifact '{name}' of spec {} is not in the lock: run 'rdebootstrap update'",
        spec_label(spec)
    )]
    NotLocked { name: String, spec: String },
    #[error("artifact '{name}' (line {line}): cannot fetch '{source_name}' (use a path relative to the manifest, file://, http:// or https://)")]
    Scheme {
        name: String,
        line: usize,
        source_name: String,
    },
    #[error(
        "artifact '{name}' (line {line}): a dir artifact needs a local path, not the URL {url}"
    )]
    UrlDir {
        name: String,
        line: usize,
        url: String,
    },
    #[error("artifact '{name}' (line {line}): {source_name} is a {found}, not a {expected} as its type says")]
    WrongType {
        name: String,
        line: usize,
        source_name: String,
        found: &'static str,
        expected: &'static str,
    },
    #[error("artifact '{name}': fetching {url}")]
    Fetch {
        name: String,
        url: String,
        #[source]
        source: FetchError,
    },
    #[error("artifact '{name}': the cache")]
    Cache {
        name: String,
        #[source]
        source: CacheError,
    },
    #[error("{}: {what}", path.display())]
    Io {
        what: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("{}: neither a regular file, a directory nor a symlink (devices, fifos and sockets are not staged)", path.display())]
    Special { path: PathBuf },
    #[error("{}: changed while it was read", path.display())]
    Unstable { path: PathBuf },
    #[error("artifact '{name}': {} changed after its hash was checked (it was {expected}, what was staged has {actual}): build again", path.display())]
    ChangedWhileStaged {
        name: String,
        path: PathBuf,
        expected: String,
        actual: String,
    },
    #[error("artifact '{name}' (line {line}): target '{target}': {reason}")]
    Target {
        name: String,
        line: usize,
        target: String,
        reason: &'static str,
    },
    #[error("artifact '{name}': entry '{entry}' refused: {reason}")]
    Entry {
        name: String,
        entry: String,
        reason: EntryRefusal,
    },
    #[error("artifact '{name}': reading the tarball")]
    Tar {
        name: String,
        #[source]
        source: TarError,
    },
    #[error("artifact '{name}': cannot decompress ({compression:?})")]
    Decompress {
        name: String,
        compression: Compression,
        #[source]
        source: io::Error,
    },
    #[error("artifact '{name}': {path} would replace the {existing} already in the tree; a {kind} artifact only adds files: make {path} the target of a file artifact to replace it")]
    Replace {
        name: String,
        kind: &'static str,
        path: String,
        existing: &'static str,
    },
    #[error("artifact '{name}': {path} is a directory in the tree; end the target with '/' to put the file into it")]
    IsDirectory { name: String, path: String },
    #[error("artifact '{name}': cannot write {path}")]
    Write {
        name: String,
        path: String,
        #[source]
        source: io::Error,
    },
}

fn io_at<'a>(what: &'static str, path: &'a Path) -> impl FnOnce(io::Error) -> ArtifactError + 'a {
    move |source| ArtifactError::Io {
        what,
        path: path.to_owned(),
        source,
    }
}

// ---------------------------------------------------------------------
// Planning
// ---------------------------------------------------------------------

/// An artifact a spec stages, in staging order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedArtifact {
    pub name: String,
    /// The spec whose `stage` first names it.
    pub spec: String,
    pub artifact: Artifact,
    /// True for an artifact of the imported manifest (staged by an
    /// imported ancestor; see [`crate::manifest::import`]): its name is
    /// in that manifest's artifact table and its local source is relative
    /// to that manifest's folder.
    pub imported: bool,
}

impl PlannedArtifact {
    /// The manifest that defines the artifact: `manifest` or its import.
    pub fn owner<'m>(&self, manifest: &'m Manifest) -> &'m Manifest {
        match (self.imported, manifest.imported.as_deref()) {
            (true, Some(imported)) => imported,
            _ => manifest,
        }
    }
}

/// The artifacts spec `spec` stages, in order: ancestors first
/// (topological over `extends`, `extends` order breaking ties; the
/// imported ancestors', from the imported manifest, before this
/// manifest's), each spec's `stage` in order, each artifact once.
pub fn plan(manifest: &Manifest, spec: &str) -> Result<Vec<PlannedArtifact>, ArtifactError> {
    let resolved = manifest.resolve(spec)?;
    let mut out = Vec::new();
    let mut sources: Vec<(&Manifest, &[String], bool)> = Vec::new();
    if let Some(imported) = manifest.imported.as_deref() {
        sources.push((imported, &resolved.imported_chain, true));
    }
    sources.push((manifest, &resolved.chain, false));
    for (owner, chain, imported) in sources {
        let mut seen = HashSet::new();
        for s in chain {
            let decl = &owner.specs[s];
            for name in &decl.stage {
                if !seen.insert(name.as_str()) {
                    continue;
                }
                let artifact = owner
                    .artifacts
                    .get(name)
                    .ok_or_else(|| ArtifactError::Unknown {
                        spec: s.clone(),
                        line: decl.line,
                        artifact: name.clone(),
                    })?;
                out.push(PlannedArtifact {
                    name: name.clone(),
                    spec: s.clone(),
                    artifact: artifact.clone(),
                    imported,
                });
            }
        }
    }
    Ok(out)
}

/// Where an artifact's content comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// Inline `text`.
    Text,
    /// A local file or directory (a path, or a `file://` URL).
    Local(PathBuf),
    /// An `http(s)://` URL.
    Url(String),
}

/// Where `artifact`'s content comes from, local paths resolved against
/// the manifest's folder.
pub fn source_of(
    manifest: &Manifest,
    name: &str,
    artifact: &Artifact,
) -> Result<Source, ArtifactError> {
    let Some(src) = &artifact.source else {
        return Ok(Source::Text);
    };
    let source = if src.starts_with("http://") || src.starts_with("https://") {
        Source::Url(src.clone())
    } else if src.starts_with("file://") {
        // `file://x` names x relative to the manifest, as a path does.
        Source::Local(
            manifest
                .dir()
                .join(crate::transport::local_path(src).unwrap_or_default()),
        )
    } else if src.contains("://") {
        return Err(ArtifactError::Scheme {
            name: name.to_owned(),
            line: artifact.line,
            source_name: src.clone(),
        });
    } else {
        Source::Local(manifest.dir().join(src))
    };
    if let (Source::Url(url), ArtifactKind::Dir) = (&source, artifact.kind) {
        return Err(ArtifactError::UrlDir {
            name: name.to_owned(),
            line: artifact.line,
            url: url.clone(),
        });
    }
    Ok(source)
}

fn manifest_hash(name: &str, a: &Artifact) -> Result<Option<Sri>, ArtifactError> {
    a.hash
        .as_deref()
        .map(|h| {
            Sri::parse(h).map_err(|source| ArtifactError::BadHash {
                name: name.to_owned(),
                line: a.line,
                source,
            })
        })
        .transpose()
}

// ---------------------------------------------------------------------
// Lock records
// ---------------------------------------------------------------------

/// The lock's record of each artifact every spec of `manifest` stages,
/// by spec name (specs staging nothing left out), in staging order; for
/// `update`. URL artifacts record the
/// manifest's hash (one without a hash is an error giving the hash to
/// add, computed by downloading it); local ones the hash of the source
/// as it is now (checked against the manifest's when it has one); text
/// ones the blake3 of their text. Each artifact is hashed once.
pub async fn lock_records(
    manifest: &Manifest,
    transport: &Transport,
) -> Result<BTreeMap<String, Vec<LockedArtifact>>, ArtifactError> {
    let mut done: HashMap<(bool, String), LockedArtifact> = HashMap::new();
    let mut out = BTreeMap::new();
    for spec in manifest.spec_names() {
        let mut records = Vec::new();
        for p in plan(manifest, &spec)? {
            let key = (p.imported, p.name.clone());
            if let Some(r) = done.get(&key) {
                records.push(r.clone());
                continue;
            }
            let r = lock_record(manifest, &p, transport).await?;
            done.insert(key, r.clone());
            records.push(r);
        }
        if !records.is_empty() {
            out.insert(spec, records);
        }
    }
    Ok(out)
}

async fn lock_record(
    manifest: &Manifest,
    p: &PlannedArtifact,
    transport: &Transport,
) -> Result<LockedArtifact, ArtifactError> {
    let a = &p.artifact;
    let want = manifest_hash(&p.name, a)?;
    let hash = match source_of(p.owner(manifest), &p.name, a)? {
        Source::Text => {
            let text = a.text.as_deref().unwrap_or_default();
            check_text(&p.name, text, want)?
        }
        Source::Url(url) => match want {
            Some(w) => w,
            None => return Err(missing_hash(p, &url, transport).await),
        },
        Source::Local(path) => {
            check_kind(&p.name, a, &path)?;
            let actual = hash_path(&path, want.map_or(HashAlgo::Blake3, |w| w.algo))?;
            if let Some(w) = want {
                if w != actual {
                    return Err(mismatch(&p.name, &path.display().to_string(), w, actual));
                }
            }
            actual
        }
    };
    Ok(LockedArtifact {
        name: p.name.clone(),
        source: a.source.clone(),
        hash: hash.to_string(),
        imported: p.imported,
    })
}

fn check_text(name: &str, text: &str, want: Option<Sri>) -> Result<Sri, ArtifactError> {
    let mut h = Hasher::new(want.map_or(HashAlgo::Blake3, |w| w.algo));
    h.update(text.as_bytes());
    let actual = h.finish();
    match want {
        Some(w) if w != actual => Err(mismatch(name, "text", w, actual)),
        _ => Ok(actual),
    }
}

fn mismatch(name: &str, source: &str, expected: Sri, actual: Sri) -> ArtifactError {
    ArtifactError::Mismatch {
        name: name.to_owned(),
        source_name: source.to_owned(),
        expected: expected.to_string(),
        actual: actual.to_string(),
    }
}

/// The error for a URL artifact without a hash: the download's blake3,
/// to add (or the download's failure).
async fn missing_hash(p: &PlannedArtifact, url: &str, transport: &Transport) -> ArtifactError {
    let mut buf = Vec::new();
    match transport.fetch(url, &mut buf, None).await {
        Ok(_) => ArtifactError::MissingHash {
            name: p.name.clone(),
            line: p.artifact.line,
            url: url.to_owned(),
            computed: sri_blake3(&buf),
        },
        Err(source) => ArtifactError::Fetch {
            name: p.name.clone(),
            url: url.to_owned(),
            source,
        },
    }
}

fn check_kind(name: &str, a: &Artifact, path: &Path) -> Result<(), ArtifactError> {
    let meta = std::fs::metadata(path).map_err(io_at("cannot read the artifact", path))?;
    let (found, expected) = match (a.kind, meta.is_dir()) {
        (ArtifactKind::Dir, false) => ("file", "directory"),
        (ArtifactKind::File | ArtifactKind::Tar, true) => ("directory", "file"),
        _ => return Ok(()),
    };
    Err(ArtifactError::WrongType {
        name: name.to_owned(),
        line: a.line,
        source_name: path.display().to_string(),
        found,
        expected,
    })
}

// ---------------------------------------------------------------------
// Fetching
// ---------------------------------------------------------------------

/// Bytes of a fetched file: an open file (the cache's entry, or the
/// local source) or memory (downloaded without a cache).
#[derive(Debug, Clone)]
pub enum Blob {
    File(Arc<File>),
    Bytes(Arc<Vec<u8>>),
}

impl Blob {
    /// A reader from the start (independent of other readers).
    pub fn reader(&self) -> Box<dyn Read + Send + '_> {
        match self {
            Blob::File(f) => Box::new(PosReader::new(f)),
            Blob::Bytes(b) => Box::new(b.as_slice()),
        }
    }
}

/// Reads a file from offset 0 with `pread`, sharing no file offset.
struct PosReader<'f> {
    file: &'f File,
    pos: u64,
}

impl<'f> PosReader<'f> {
    fn new(file: &'f File) -> Self {
        PosReader { file, pos: 0 }
    }
}

impl Read for PosReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.file.read_at(buf, self.pos)?;
        self.pos += n as u64;
        Ok(n)
    }
}

/// The content of a fetched artifact.
#[derive(Debug, Clone)]
pub enum Content {
    Text(String),
    /// A file; `mode` is the local source's permission bits (0644 for a
    /// download).
    File {
        blob: Blob,
        mode: u32,
    },
    /// A local directory, checked against its tree hash when fetched.
    Dir(PathBuf),
}

/// An artifact fetched and checked against its hash, ready for [`stage`].
#[derive(Debug, Clone)]
pub struct FetchedArtifact {
    pub name: String,
    /// The spec whose `stage` names it first.
    pub spec: String,
    pub artifact: Artifact,
    /// The verified hash (SRI).
    pub hash: String,
    pub content: Content,
}

/// Fetch every artifact spec `spec` stages (see [`plan`]) and check each
/// against its hash: the manifest's, else the one `lock` recorded for a
/// local source (see the module docs). URLs are downloaded concurrently
/// through `transport` and kept in `cache` under their hash (an intact
/// cached copy is not downloaded again; without a cache the download is
/// held in memory). Local files are opened and hashed here, so the bytes
/// staged are the bytes checked; local directories are hashed here, and
/// [`stage`] hashes again what it copies (a directory changed between
/// the two fails the staging).
///
/// Returns the artifacts in staging order. Errors name the artifact: a
/// hash mismatch gives both hashes; a URL without a hash gives the hash
/// to add; a local source without a hash in the manifest that the lock
/// does not know, or that changed since, says to run `rdebootstrap
/// update`.
pub async fn fetch_all(
    manifest: &Manifest,
    spec: &str,
    lock: &Lock,
    transport: &Transport,
    cache: Option<&Cache>,
) -> Result<Vec<FetchedArtifact>, ArtifactError> {
    let planned = plan(manifest, spec)?;
    let locked = lock.artifacts_of(spec);
    let mut out: Vec<Option<FetchedArtifact>> = vec![None; planned.len()];
    let mut tasks = tokio::task::JoinSet::new();
    for (i, p) in planned.into_iter().enumerate() {
        let want = manifest_hash(&p.name, &p.artifact)?;
        match source_of(p.owner(manifest), &p.name, &p.artifact)? {
            Source::Text => {
                let text = p.artifact.text.clone().unwrap_or_default();
                let hash = check_text(&p.name, &text, want)?;
                out[i] = Some(FetchedArtifact {
                    hash: hash.to_string(),
                    content: Content::Text(text),
                    name: p.name,
                    spec: p.spec,
                    artifact: p.artifact,
                });
            }
            Source::Local(path) => {
                let record = locked
                    .iter()
                    .find(|r| r.name == p.name && r.imported == p.imported);
                let (expected, from_lock) = match (want, record) {
                    (Some(w), _) => (w, false),
                    (None, Some(r)) => (
                        Sri::parse(&r.hash).map_err(|source| ArtifactError::BadHash {
                            name: p.name.clone(),
                            line: p.artifact.line,
                            source,
                        })?,
                        true,
                    ),
                    (None, None) => {
                        return Err(ArtifactError::NotLocked {
                            name: p.name,
                            spec: spec.to_owned(),
                        })
                    }
                };
                check_kind(&p.name, &p.artifact, &path)?;
                let (actual, content) = if p.artifact.kind == ArtifactKind::Dir {
                    (hash_path(&path, expected.algo)?, Content::Dir(path.clone()))
                } else {
                    let file = File::open(&path).map_err(io_at("cannot open", &path))?;
                    let meta = file.metadata().map_err(io_at("cannot read", &path))?;
                    let actual = hash_reader(&mut PosReader::new(&file), expected.algo)
                        .map_err(io_at("cannot read", &path))?;
                    let blob = Blob::File(Arc::new(file));
                    (
                        actual,
                        Content::File {
                            blob,
                            mode: meta.mode() & 0o7777,
                        },
                    )
                };
                if actual != expected {
                    let source_name = path.display().to_string();
                    return Err(if from_lock {
                        ArtifactError::Changed {
                            name: p.name,
                            source_name,
                            locked: expected.to_string(),
                            actual: actual.to_string(),
                        }
                    } else {
                        mismatch(&p.name, &source_name, expected, actual)
                    });
                }
                out[i] = Some(FetchedArtifact {
                    hash: expected.to_string(),
                    content,
                    name: p.name,
                    spec: p.spec,
                    artifact: p.artifact,
                });
            }
            Source::Url(url) => {
                let Some(expected) = want else {
                    return Err(missing_hash(&p, &url, transport).await);
                };
                let (transport, cache) = (transport.clone(), cache.cloned());
                tasks.spawn(async move {
                    let r = fetch_url(&transport, cache.as_ref(), &p.name, &url, expected).await;
                    (i, p, expected, r)
                });
            }
        }
    }
    while let Some(joined) = tasks.join_next().await {
        let (i, p, expected, r) = joined.expect("artifact download task");
        out[i] = Some(FetchedArtifact {
            hash: expected.to_string(),
            content: Content::File {
                blob: r?,
                mode: 0o644,
            },
            name: p.name,
            spec: p.spec,
            artifact: p.artifact,
        });
    }
    Ok(out
        .into_iter()
        .map(|a| a.expect("every artifact"))
        .collect())
}

/// Where the cache keeps a download by its blake3: a hard link to its
/// SHA256 entry, `<cache>/v1/blake3/<2 hex>/<hex>`.
fn blake3_entry(cache: &Cache, digest: &[u8; 32]) -> PathBuf {
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    cache
        .root()
        .join("v1")
        .join("blake3")
        .join(&hex[..2])
        .join(hex)
}

/// A cache entry holding content with this hash, proven by hashing it.
fn cached(cache: &Cache, expected: &Sri) -> Option<File> {
    let path = match expected.algo {
        HashAlgo::Sha256 => cache.path(&crate::hash::Digest(expected.digest)),
        HashAlgo::Blake3 => blake3_entry(cache, &expected.digest),
    };
    let file = File::open(&path).ok()?;
    match hash_reader(&mut PosReader::new(&file), expected.algo) {
        Ok(h) if h == *expected => Some(file),
        _ => {
            // Corrupt or unreadable: fetched again.
            let _ = std::fs::remove_file(&path);
            None
        }
    }
}

/// Download sink hashing with blake3 and SHA256 while writing.
struct TeeSink<S> {
    inner: S,
    blake3: Box<blake3::Hasher>,
    sha256: sha2::Sha256,
}

impl<S: crate::transport::Sink> TeeSink<S> {
    fn new(inner: S) -> Self {
        TeeSink {
            inner,
            blake3: Box::default(),
            sha256: sha2::Digest::new(),
        }
    }

    fn digests(&self) -> (Sri, [u8; 32]) {
        let b = Sri {
            algo: HashAlgo::Blake3,
            digest: *self.blake3.finalize().as_bytes(),
        };
        (b, sha2::Digest::finalize(self.sha256.clone()).into())
    }
}

impl<S: crate::transport::Sink> crate::transport::Sink for TeeSink<S> {
    fn write(&mut self, data: &[u8]) -> io::Result<()> {
        self.blake3.update(data);
        sha2::Digest::update(&mut self.sha256, data);
        self.inner.write(data)
    }
    fn len(&self) -> u64 {
        self.inner.len()
    }
    fn reset(&mut self) -> io::Result<()> {
        *self.blake3 = blake3::Hasher::default();
        self.sha256 = sha2::Digest::new();
        self.inner.reset()
    }
}

async fn fetch_url(
    transport: &Transport,
    cache: Option<&Cache>,
    name: &str,
    url: &str,
    expected: Sri,
) -> Result<Blob, ArtifactError> {
    let fetch_err = |source| ArtifactError::Fetch {
        name: name.to_owned(),
        url: url.to_owned(),
        source,
    };
    let cache_err = |source| ArtifactError::Cache {
        name: name.to_owned(),
        source,
    };
    let pick = |(b3, sha): (Sri, [u8; 32])| match expected.algo {
        HashAlgo::Blake3 => (b3, sha),
        HashAlgo::Sha256 => (
            Sri {
                algo: HashAlgo::Sha256,
                digest: sha,
            },
            sha,
        ),
    };
    let Some(cache) = cache else {
        let mut sink = TeeSink::new(Vec::new());
        transport
            .fetch(url, &mut sink, None)
            .await
            .map_err(fetch_err)?;
        let (actual, _) = pick(sink.digests());
        if actual != expected {
            return Err(mismatch(name, url, expected, actual));
        }
        return Ok(Blob::Bytes(Arc::new(sink.inner)));
    };
    if let Some(f) = cached(cache, &expected) {
        return Ok(Blob::File(Arc::new(f)));
    }
    let mut sink = TeeSink::new(cache.writer().map_err(cache_err)?);
    transport
        .fetch(url, &mut sink, None)
        .await
        .map_err(fetch_err)?;
    let (actual, sha) = pick(sink.digests());
    if actual != expected {
        // Dropping the writer leaves nothing in the cache.
        return Err(mismatch(name, url, expected, actual));
    }
    let stored = sink
        .inner
        .commit(&crate::hash::Digest(sha), None)
        .map_err(cache_err)?;
    if expected.algo == HashAlgo::Blake3 {
        let entry = blake3_entry(cache, &expected.digest);
        if let Some(dir) = entry.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        // Best effort: without the link, the next build downloads again.
        let _ = std::fs::hard_link(&stored, &entry);
    }
    let file = File::open(&stored).map_err(io_at("cannot open", &stored))?;
    // The entry is what was checked, unless it was swapped meanwhile.
    match hash_reader(&mut PosReader::new(&file), expected.algo) {
        Ok(h) if h == expected => Ok(Blob::File(Arc::new(file))),
        Ok(h) => Err(mismatch(name, url, expected, h)),
        Err(e) => Err(io_at("cannot read", &stored)(e)),
    }
}

// ---------------------------------------------------------------------
// Staging
// ---------------------------------------------------------------------

/// What [`stage`] did with one artifact.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StagedRecord {
    pub name: String,
    /// The spec whose `stage` names it first.
    pub spec: String,
    /// The manifest's `url` or `path`; `None` for text.
    pub source: Option<String>,
    /// The verified hash (SRI).
    pub hash: String,
    /// The target as resolved (absolute in the tree): the file written,
    /// or the directory extracted or copied under.
    pub target: String,
    /// Every path written, absolute in the tree, in the order written.
    pub paths: Vec<String>,
}

/// Stage `fetched` (from [`fetch_all`], in its order) into the tree at
/// `tree_root`, by the rules of the module docs. Synchronous; every path
/// is resolved inside the root. Stops at the first error; the artifacts
/// before it are staged. A tarball refused for what it holds (names,
/// types, links) has written nothing; one refused for what the tree
/// holds (an entry that would replace a file) may have written the
/// entries before.
pub fn stage(
    tree_root: &Path,
    fetched: &[FetchedArtifact],
) -> Result<Vec<StagedRecord>, ArtifactError> {
    let tree = Tree::open(tree_root).map_err(io_at("cannot open the tree", tree_root))?;
    fetched.iter().map(|f| stage_one(&tree, f)).collect()
}

/// A target split into its directory part and whether it names a folder.
fn parse_target(name: &str, a: &Artifact) -> Result<(PathBuf, bool), ArtifactError> {
    let bad = |reason| ArtifactError::Target {
        name: name.to_owned(),
        line: a.line,
        target: a.target.clone(),
        reason,
    };
    if a.target.contains('\0') {
        return Err(bad("a NUL byte in the path"));
    }
    let into = a.target.ends_with('/') || a.target.is_empty();
    let mut rel = PathBuf::new();
    for c in a.target.split('/') {
        match c {
            "" | "." => {}
            ".." => return Err(bad("'..' is not allowed in a target")),
            c => rel.push(c),
        }
    }
    Ok((rel, into))
}

/// The last component of a source (a path or URL), for trailing-`/`
/// targets.
fn source_file_name(source: &str) -> Option<String> {
    let s = if source.contains("://") {
        let s = source.split(['?', '#']).next().unwrap_or("");
        let after_scheme = s.split_once("://").map_or(s, |(_, r)| r);
        // No file name in a bare host.
        after_scheme.split_once('/').map_or("", |(_, p)| p)
    } else {
        source
    };
    let last = s.rsplit('/').next().unwrap_or("");
    (!last.is_empty() && last != "." && last != "..").then(|| last.to_owned())
}

/// Compressions the spec names for automatic unpacking, by extension.
fn unpack_extension(name: &str) -> Option<(Compression, &str)> {
    let (stem, ext) = name.rsplit_once('.')?;
    let c = match ext {
        "gz" => Compression::Gzip,
        "xz" => Compression::Xz,
        "bz2" => Compression::Bzip2,
        "zst" | "zstd" => Compression::Zstd,
        _ => return None,
    };
    (!stem.is_empty()).then_some((c, stem))
}

/// What staging does with an artifact.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Action {
    /// Write one file; `name` is the file name for a trailing-`/` target.
    File {
        name: Option<String>,
        compression: Compression,
    },
    /// Extract a tarball under the target.
    Extract { compression: Option<Compression> },
    /// Copy a directory under the target.
    CopyDir,
}

fn action(name: &str, a: &Artifact) -> Action {
    let src_name = a.source.as_deref().and_then(source_file_name);
    match a.kind {
        ArtifactKind::Text => Action::File {
            name: Some(name.to_owned()),
            compression: Compression::None,
        },
        ArtifactKind::Dir => Action::CopyDir,
        ArtifactKind::Tar if a.unpack => Action::Extract { compression: None },
        ArtifactKind::Tar => Action::File {
            name: src_name,
            compression: Compression::None,
        },
        ArtifactKind::File => {
            let Some(file) = src_name else {
                return Action::File {
                    name: None,
                    compression: Compression::None,
                };
            };
            if !a.unpack {
                return Action::File {
                    name: Some(file),
                    compression: Compression::None,
                };
            }
            let (compression, stem) = unpack_extension(&file).unwrap_or((Compression::None, &file));
            if stem.ends_with(".tar") {
                Action::Extract {
                    compression: Some(compression),
                }
            } else {
                Action::File {
                    name: Some(stem.to_owned()),
                    compression,
                }
            }
        }
    }
}

/// Where `a` is written in the tree (relative to the root) and whether it
/// is a directory to extract or copy under, by the target rules.
fn destination(name: &str, a: &Artifact) -> Result<(PathBuf, bool), ArtifactError> {
    let (rel, into) = parse_target(name, a)?;
    match action(name, a) {
        Action::Extract { .. } | Action::CopyDir => Ok((rel, true)),
        Action::File { name: file, .. } => {
            if into || rel.as_os_str().is_empty() {
                let file = file
                    .filter(|f| !f.contains('/') && f != "." && f != "..")
                    .ok_or_else(|| ArtifactError::Target {
                        name: name.to_owned(),
                        line: a.line,
                        target: a.target.clone(),
                        reason: "there is no file name to put into this directory: name the file in the target",
                    })?;
                Ok((rel.join(file), false))
            } else {
                Ok((rel, false))
            }
        }
    }
}

/// The absolute form of `target` as [`stage`] resolves it (a file's path,
/// or the directory a tar or dir artifact goes under), for messages and
/// tests.
pub fn resolve_target(name: &str, a: &Artifact) -> Result<String, ArtifactError> {
    let (rel, _) = destination(name, a)?;
    Ok(abs(&rel))
}

fn abs(rel: &Path) -> String {
    format!("/{}", rel.display())
}

fn stage_one(tree: &Tree, f: &FetchedArtifact) -> Result<StagedRecord, ArtifactError> {
    let a = &f.artifact;
    let (dest, _) = destination(&f.name, a)?;
    let mut w = Writer {
        tree,
        name: &f.name,
        paths: Vec::new(),
        modes: Vec::new(),
    };
    let kind_name = match a.kind {
        ArtifactKind::Tar => "tar",
        ArtifactKind::Dir => "dir",
        ArtifactKind::File => "file",
        ArtifactKind::Text => "text",
    };
    match (action(&f.name, a), &f.content) {
        (Action::File { .. }, Content::Text(text)) => {
            w.replace_file(&dest, 0o644, &mut text.as_bytes())?;
        }
        (Action::File { compression, .. }, Content::File { blob, mode }) => {
            let mut r =
                compression
                    .decoder(blob.reader())
                    .map_err(|source| ArtifactError::Decompress {
                        name: f.name.clone(),
                        compression,
                        source,
                    })?;
            w.replace_file(&dest, *mode, &mut r)?;
        }
        (Action::Extract { compression }, Content::File { blob, .. }) => {
            let compression = match compression {
                Some(c) => c,
                None => {
                    let mut head = [0u8; 8];
                    let n = read_up_to(&mut blob.reader(), &mut head).map_err(|source| {
                        ArtifactError::Decompress {
                            name: f.name.clone(),
                            compression: Compression::None,
                            source,
                        }
                    })?;
                    Compression::from_magic(&head[..n])
                }
            };
            let open = || -> Result<TarReader<Box<dyn Read + Send + '_>>, ArtifactError> {
                let r = compression.decoder(blob.reader()).map_err(|source| {
                    ArtifactError::Decompress {
                        name: f.name.clone(),
                        compression,
                        source,
                    }
                })?;
                Ok(TarReader::new(r))
            };
            // Checked whole first: a refused archive writes nothing.
            extract(&mut w, &dest, kind_name, open()?, false)?;
            extract(&mut w, &dest, kind_name, open()?, true)?;
        }
        (Action::CopyDir, Content::Dir(path)) => {
            let expected = Sri::parse(&f.hash).map_err(|source| ArtifactError::BadHash {
                name: f.name.clone(),
                line: a.line,
                source,
            })?;
            copy_dir(&mut w, &dest, path, expected)?;
        }
        (action, content) => unreachable!(
            "artifact '{}': {action:?} of {content:?} (fetch_all gives each kind its content)",
            f.name
        ),
    }
    w.finish()?;
    Ok(StagedRecord {
        name: f.name.clone(),
        spec: f.spec.clone(),
        source: a.source.clone(),
        hash: f.hash.clone(),
        target: abs(&dest),
        paths: w.paths,
    })
}

fn read_up_to(r: &mut dyn Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// One entry of a tarball or a source directory, relative to the
/// directory it goes under.
#[derive(Debug)]
enum EntryKind {
    Dir,
    File,
    Symlink(PathBuf),
    HardLink(PathBuf),
}

/// The checks every entry passes before anything is written: names, and
/// the archive's own structure (duplicates, links).
#[derive(Default)]
struct Checker {
    /// Paths seen, and whether each is a directory.
    seen: HashMap<PathBuf, bool>,
    symlinks: HashSet<PathBuf>,
    files: HashSet<PathBuf>,
}

/// A name from an archive, checked: relative, no `..`, no newline;
/// `./`, `.` and empty components dropped.
fn entry_path(raw: &[u8]) -> Result<PathBuf, EntryRefusal> {
    if raw.first() == Some(&b'/') {
        return Err(EntryRefusal::Absolute);
    }
    if raw.contains(&b'\n') {
        return Err(EntryRefusal::Newline);
    }
    let mut p = PathBuf::new();
    for c in raw.split(|&b| b == b'/') {
        match c {
            b"" | b"." => {}
            b".." => return Err(EntryRefusal::DotDot),
            c => p.push(OsStr::from_bytes(c)),
        }
    }
    Ok(p)
}

impl Checker {
    fn check(&mut self, path: &Path, kind: &EntryKind) -> Result<(), EntryRefusal> {
        for anc in path.ancestors().skip(1) {
            if self.symlinks.contains(anc) {
                return Err(EntryRefusal::ThroughSymlink(anc.display().to_string()));
            }
            if self.seen.get(anc) == Some(&false) {
                return Err(EntryRefusal::UnderFile(anc.display().to_string()));
            }
        }
        let is_dir = matches!(kind, EntryKind::Dir);
        if let Some(was_dir) = self.seen.insert(path.to_owned(), is_dir) {
            if !(was_dir && is_dir) {
                return Err(EntryRefusal::Twice);
            }
        }
        match kind {
            EntryKind::Symlink(_) => {
                self.symlinks.insert(path.to_owned());
            }
            EntryKind::File => {
                self.files.insert(path.to_owned());
            }
            EntryKind::HardLink(t) if !self.files.contains(t) => {
                return Err(EntryRefusal::HardLink(t.display().to_string()));
            }
            _ => {}
        }
        Ok(())
    }
}

/// Read a tarball's entries; with `write`, extract them under `dest`,
/// else only check them.
fn extract<R: Read>(
    w: &mut Writer<'_>,
    dest: &Path,
    kind_name: &'static str,
    mut tar: TarReader<R>,
    write: bool,
) -> Result<(), ArtifactError> {
    let name = w.name;
    let tar_err = |source| ArtifactError::Tar {
        name: name.to_owned(),
        source,
    };
    let mut checker = Checker::default();
    let mut links: Vec<(PathBuf, PathBuf)> = Vec::new();
    if write {
        w.make_dir(dest, None, kind_name)?;
    }
    while let Some(raw) = tar.next_entry().map_err(tar_err)? {
        let shown = String::from_utf8_lossy(&raw.name).into_owned();
        let refuse = |reason| ArtifactError::Entry {
            name: name.to_owned(),
            entry: shown.clone(),
            reason,
        };
        let path = entry_path(&raw.name).map_err(refuse)?;
        let kind = match raw.kind {
            RawKind::File => EntryKind::File,
            RawKind::Directory => EntryKind::Dir,
            RawKind::Symlink => EntryKind::Symlink(PathBuf::from(OsString::from_vec(raw.link))),
            RawKind::HardLink => EntryKind::HardLink(entry_path(&raw.link).map_err(refuse)?),
            RawKind::CharDevice => return Err(refuse(EntryRefusal::Special("character device"))),
            RawKind::BlockDevice => return Err(refuse(EntryRefusal::Special("block device"))),
            RawKind::Fifo => return Err(refuse(EntryRefusal::Special("fifo"))),
        };
        if path.as_os_str().is_empty() {
            // The directory extracted under: its mode is the tree's.
            if matches!(kind, EntryKind::Dir) {
                continue;
            }
            return Err(refuse(EntryRefusal::Twice));
        }
        checker.check(&path, &kind).map_err(refuse)?;
        if !write {
            continue;
        }
        let at = dest.join(&path);
        match kind {
            EntryKind::Dir => w.make_dir(&at, Some(raw.mode), kind_name)?,
            EntryKind::File => {
                let mut data = TarData(&mut tar);
                w.add_file(&at, raw.mode, &mut data, kind_name)
                    .map_err(|e| match e {
                        ArtifactError::Write { source, .. }
                            if source.get_ref().is_some_and(|i| i.is::<TarError>()) =>
                        {
                            tar_err(TarError::from_io(source))
                        }
                        e => e,
                    })?;
            }
            EntryKind::HardLink(t) => w.hard_link(&dest.join(t), &at, kind_name)?,
            EntryKind::Symlink(t) => links.push((at, t)),
        }
    }
    for (at, target) in links {
        w.symlink(&at, &target, kind_name)?;
    }
    Ok(())
}

/// The current tar entry's data as a reader.
struct TarData<'t, R>(&'t mut TarReader<R>);

impl<R: Read> Read for TarData<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.read_data(buf).map_err(TarError::into_io)
    }
}

/// A source directory's entries, sorted by relative path (parents before
/// their children).
struct DirEntry {
    rel: PathBuf,
    kind: EntryKind,
    mode: u32,
    size: u64,
}

fn walk_dir(root: &Path) -> Result<Vec<DirEntry>, ArtifactError> {
    fn walk(root: &Path, rel: &Path, out: &mut Vec<DirEntry>) -> Result<(), ArtifactError> {
        let dir = root.join(rel);
        for e in std::fs::read_dir(&dir).map_err(io_at("cannot list", &dir))? {
            let e = e.map_err(io_at("cannot list", &dir))?;
            let rel = rel.join(e.file_name());
            let path = root.join(&rel);
            let meta = std::fs::symlink_metadata(&path).map_err(io_at("cannot read", &path))?;
            let ft = meta.file_type();
            let kind = if ft.is_dir() {
                EntryKind::Dir
            } else if ft.is_file() {
                EntryKind::File
            } else if ft.is_symlink() {
                EntryKind::Symlink(std::fs::read_link(&path).map_err(io_at("cannot read", &path))?)
            } else {
                return Err(ArtifactError::Special { path });
            };
            let is_dir = matches!(kind, EntryKind::Dir);
            out.push(DirEntry {
                rel: rel.clone(),
                kind,
                mode: if ft.is_symlink() {
                    0
                } else {
                    meta.mode() & 0o7777
                },
                size: meta.len(),
            });
            if is_dir {
                walk(root, &rel, out)?;
            }
        }
        Ok(())
    }
    let mut out = Vec::new();
    walk(root, Path::new(""), &mut out)?;
    out.sort_by(|a, b| {
        a.rel
            .as_os_str()
            .as_bytes()
            .cmp(b.rel.as_os_str().as_bytes())
    });
    Ok(out)
}

fn tree_hash(root: &Path, entries: &[DirEntry], algo: HashAlgo) -> Result<Sri, ArtifactError> {
    tree_records(root, entries, algo, |_, _| Ok(()))
}

/// Feed the tree hash's records of `entries` (see the module docs) to a
/// hasher, calling `each` on every entry in order with a reader of its
/// contents (empty but for regular files), whose bytes are hashed as
/// `each` reads them (what it leaves is read after it).
fn tree_records(
    root: &Path,
    entries: &[DirEntry],
    algo: HashAlgo,
    mut each: impl FnMut(&DirEntry, &mut dyn Read) -> Result<(), ArtifactError>,
) -> Result<Sri, ArtifactError> {
    let mut h = Hasher::new(algo);
    h.update(TREE_HASH_TAG);
    for e in entries {
        let path = e.rel.as_os_str().as_bytes();
        let (kind, payload_len) = match &e.kind {
            EntryKind::Dir => ('d', 0),
            EntryKind::File => ('f', e.size),
            EntryKind::Symlink(t) => ('l', t.as_os_str().len() as u64),
            EntryKind::HardLink(_) => unreachable!("directories are walked without hard links"),
        };
        h.update(format!("{kind} {:04o} {}:", e.mode, path.len()).as_bytes());
        h.update(path);
        h.update(format!(" {payload_len}:").as_bytes());
        match &e.kind {
            EntryKind::File => {
                let full = root.join(&e.rel);
                let file = File::open(&full).map_err(io_at("cannot open", &full))?;
                let mut tee = Tee {
                    inner: PosReader::new(&file).take(e.size + 1),
                    hasher: &mut h,
                    read: 0,
                };
                each(e, &mut tee)?;
                io::copy(&mut tee, &mut io::sink()).map_err(io_at("cannot read", &full))?;
                if tee.read != e.size {
                    return Err(ArtifactError::Unstable { path: full });
                }
            }
            EntryKind::Symlink(t) => {
                h.update(t.as_os_str().as_bytes());
                each(e, &mut io::empty())?;
            }
            _ => each(e, &mut io::empty())?,
        }
        h.update(b"\n");
    }
    Ok(h.finish())
}

/// A reader feeding what it reads to a hasher.
struct Tee<'h, R> {
    inner: R,
    hasher: &'h mut Hasher,
    read: u64,
}

impl<R: Read> Read for Tee<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.read += n as u64;
        Ok(n)
    }
}

/// Copy the directory `src` under `dest`, hashing what is copied as it
/// is read: a source changed since [`fetch_all`] checked it fails here.
fn copy_dir(
    w: &mut Writer<'_>,
    dest: &Path,
    src: &Path,
    expected: Sri,
) -> Result<(), ArtifactError> {
    let entries = walk_dir(src)?;
    let mut checker = Checker::default();
    for e in &entries {
        checker
            .check(&e.rel, &e.kind)
            .map_err(|reason| ArtifactError::Entry {
                name: w.name.to_owned(),
                entry: e.rel.display().to_string(),
                reason,
            })?;
    }
    w.make_dir(dest, None, "dir")?;
    let mut links = Vec::new();
    let actual = tree_records(src, &entries, expected.algo, |e, data| {
        let at = dest.join(&e.rel);
        match &e.kind {
            EntryKind::Dir => w.make_dir(&at, Some(e.mode), "dir"),
            EntryKind::File => w.add_file(&at, e.mode, data, "dir"),
            EntryKind::Symlink(t) => {
                links.push((at, t.clone()));
                Ok(())
            }
            EntryKind::HardLink(_) => unreachable!("directories are walked without hard links"),
        }
    })?;
    if actual != expected {
        return Err(ArtifactError::ChangedWhileStaged {
            name: w.name.to_owned(),
            path: src.to_owned(),
            expected: expected.to_string(),
            actual: actual.to_string(),
        });
    }
    for (at, t) in links {
        w.symlink(&at, &t, "dir")?;
    }
    Ok(())
}

/// Writes into the tree for one artifact, recording what it wrote.
struct Writer<'t> {
    tree: &'t Tree,
    name: &'t str,
    paths: Vec<String>,
    /// Directories made with more permissions than their own, until
    /// [`Writer::finish`].
    modes: Vec<(PathBuf, u32)>,
}

fn type_name(mode: rustix::fs::RawMode) -> &'static str {
    match FileType::from_raw_mode(mode) {
        FileType::RegularFile => "file",
        FileType::Directory => "directory",
        FileType::Symlink => "symlink",
        FileType::Fifo => "fifo",
        FileType::Socket => "socket",
        FileType::CharacterDevice => "character device",
        FileType::BlockDevice => "block device",
        FileType::Unknown => "file of unknown type",
    }
}

impl Writer<'_> {
    fn write_err(&self, rel: &Path) -> impl FnOnce(io::Error) -> ArtifactError + '_ {
        let path = abs(rel);
        move |source| ArtifactError::Write {
            name: self.name.to_owned(),
            path,
            source,
        }
    }

    /// The parent directory of `rel` (created as needed) and its name.
    fn parent(&self, rel: &Path) -> Result<(OwnedFd, OsString), ArtifactError> {
        let name = rel.file_name().ok_or_else(|| {
            self.write_err(rel)(io::Error::new(
                io::ErrorKind::InvalidInput,
                "the root of the tree is not a file",
            ))
        })?;
        let dir = self
            .tree
            .make_dirs(rel.parent().unwrap_or(Path::new("")))
            .map_err(|e| self.write_err(rel)(e.into()))?;
        Ok((dir, name.to_owned()))
    }

    /// The type of what is at `name` in `dir`, not following a symlink.
    fn existing(dir: &OwnedFd, name: &OsStr) -> io::Result<Option<rustix::fs::RawMode>> {
        match rustix::fs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW) {
            Ok(st) => Ok(Some(st.st_mode)),
            Err(e) if e == rustix::io::Errno::NOENT => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// A directory at `rel`: an existing one (or a symlink to one) is
    /// kept as it is; a missing one is made with `mode` (0755 without).
    fn make_dir(
        &mut self,
        rel: &Path,
        mode: Option<u32>,
        kind: &'static str,
    ) -> Result<(), ArtifactError> {
        if self.tree.open_path(rel, true).is_ok() {
            return Ok(());
        }
        let (dir, name) = self.parent(rel)?;
        if let Some(m) = Self::existing(&dir, &name).map_err(self.write_err(rel))? {
            return Err(ArtifactError::Replace {
                name: self.name.to_owned(),
                kind,
                path: abs(rel),
                existing: type_name(m),
            });
        }
        // Writable by its owner until the artifact is staged (a 0555
        // directory of a tarball still gets its files without root); its
        // own mode is set at the end, by `finish`.
        let mode = mode.unwrap_or(0o755) & 0o7777;
        let open = Mode::from_bits_truncate(mode | 0o700);
        rustix::fs::mkdirat(&dir, &name, open)
            .and_then(|()| rustix::fs::chmodat(&dir, &name, open, AtFlags::empty()))
            .map_err(|e| self.write_err(rel)(e.into()))?;
        self.paths.push(abs(rel));
        if mode | 0o700 != mode {
            self.modes.push((rel.to_owned(), mode));
        }
        Ok(())
    }

    /// Give the directories made their own modes, deepest first.
    fn finish(&mut self) -> Result<(), ArtifactError> {
        while let Some((rel, mode)) = self.modes.pop() {
            let (dir, name) = self.parent(&rel)?;
            rustix::fs::chmodat(
                &dir,
                &name,
                Mode::from_bits_truncate(mode),
                AtFlags::empty(),
            )
            .map_err(|e| self.write_err(&rel)(e.into()))?;
        }
        Ok(())
    }

    /// A file at `rel` from a tar or dir artifact: it may not replace
    /// anything.
    fn add_file(
        &mut self,
        rel: &Path,
        mode: u32,
        data: &mut dyn Read,
        kind: &'static str,
    ) -> Result<(), ArtifactError> {
        let (dir, name) = self.parent(rel)?;
        if let Some(m) = Self::existing(&dir, &name).map_err(self.write_err(rel))? {
            return Err(ArtifactError::Replace {
                name: self.name.to_owned(),
                kind,
                path: abs(rel),
                existing: type_name(m),
            });
        }
        self.write_at(&dir, &name, rel, mode, data)
    }

    /// The file a file or text artifact names: it replaces a file or
    /// symlink there, never a directory.
    fn replace_file(
        &mut self,
        rel: &Path,
        mode: u32,
        data: &mut dyn Read,
    ) -> Result<(), ArtifactError> {
        let (dir, name) = self.parent(rel)?;
        if let Some(m) = Self::existing(&dir, &name).map_err(self.write_err(rel))? {
            if FileType::from_raw_mode(m) == FileType::Directory {
                return Err(ArtifactError::IsDirectory {
                    name: self.name.to_owned(),
                    path: abs(rel),
                });
            }
        }
        self.write_at(&dir, &name, rel, mode, data)
    }

    /// Write under a temporary name, then rename into place.
    fn write_at(
        &mut self,
        dir: &OwnedFd,
        name: &OsStr,
        rel: &Path,
        mode: u32,
        data: &mut dyn Read,
    ) -> Result<(), ArtifactError> {
        let _ = rustix::fs::unlinkat(dir, TMP_NAME, AtFlags::empty());
        let written = (|| -> io::Result<()> {
            let fd = rustix::fs::openat(
                dir,
                TMP_NAME,
                OFlags::CREATE | OFlags::EXCL | OFlags::WRONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
                Mode::from_bits_truncate(0o600),
            )?;
            let mut file = File::from(fd);
            io::copy(data, &mut file)?;
            rustix::fs::fchmod(file.as_fd(), Mode::from_bits_truncate(mode & 0o7777))?;
            rustix::fs::renameat(dir, TMP_NAME, dir, name)?;
            Ok(())
        })();
        if let Err(e) = written {
            let _ = rustix::fs::unlinkat(dir, TMP_NAME, AtFlags::empty());
            return Err(self.write_err(rel)(e));
        }
        self.paths.push(abs(rel));
        Ok(())
    }

    fn hard_link(
        &mut self,
        from: &Path,
        rel: &Path,
        kind: &'static str,
    ) -> Result<(), ArtifactError> {
        let (src_dir, src_name) = self.parent(from)?;
        let (dir, name) = self.parent(rel)?;
        if let Some(m) = Self::existing(&dir, &name).map_err(self.write_err(rel))? {
            return Err(ArtifactError::Replace {
                name: self.name.to_owned(),
                kind,
                path: abs(rel),
                existing: type_name(m),
            });
        }
        rustix::fs::linkat(&src_dir, &src_name, &dir, &name, AtFlags::empty())
            .map_err(|e| self.write_err(rel)(e.into()))?;
        self.paths.push(abs(rel));
        Ok(())
    }

    fn symlink(
        &mut self,
        rel: &Path,
        target: &Path,
        kind: &'static str,
    ) -> Result<(), ArtifactError> {
        let (dir, name) = self.parent(rel)?;
        if let Some(m) = Self::existing(&dir, &name).map_err(self.write_err(rel))? {
            let same = FileType::from_raw_mode(m) == FileType::Symlink
                && rustix::fs::readlinkat(&dir, &name, Vec::new())
                    .is_ok_and(|t| t.as_bytes() == target.as_os_str().as_bytes());
            if same {
                return Ok(());
            }
            return Err(ArtifactError::Replace {
                name: self.name.to_owned(),
                kind,
                path: abs(rel),
                existing: type_name(m),
            });
        }
        rustix::fs::symlinkat(target, &dir, &name).map_err(|e| self.write_err(rel)(e.into()))?;
        self.paths.push(abs(rel));
        Ok(())
    }
}

#[cfg(test)]
mod tests;
