//! Software bills of materials of a built tree: SPDX 2.3 JSON
//! (`NAME.spdx.json`) and CycloneDX 1.6 JSON (`NAME.cdx.json`), written by
//! [`write()`] after the build.
//!
//! # What they hold
//!
//! The packages are the ones the tree's dpkg database
//! (`var/lib/dpkg/status`) lists as present (any state but
//! `not-installed` and `config-files`), which after a build are the
//! lock's, plus whatever the build scripts installed. For each:
//! - name, version and architecture; the source package and its version
//!   (`Source:`, else the package's own);
//! - a package URL of the `deb` type,
//!   `pkg:deb/VENDOR/NAME@VERSION?arch=ARCH&distro=CODENAME`: the vendor is
//!   the tree's `os-release` `ID` (`etc/os-release`, else
//!   `usr/lib/os-release`; without one, the vendor of a `mirror:VENDOR`
//!   archive of the lock, else `debian`), the distro its
//!   `VERSION_CODENAME` (else `ID-VERSION_ID`, else none), as the
//!   package-URL specification's `deb` type shows them; the name, version
//!   and qualifier values are percent-encoded except for letters, digits,
//!   `.`, `-`, `_`, `~` and `:` (so `+` is `%2B`);
//! - the SHA256 of its `.deb`, from the lock (a package the lock does not
//!   have has none), and where it came from (the archive, or the local
//!   `.deb`);
//! - the licenses its `/usr/share/doc/NAME/copyright` declares when that
//!   file is machine-readable (a first paragraph with `Format:`, the
//!   `copyright-format` of DEP-5): the `License:` short names of the
//!   `Files` paragraphs, as an SPDX license expression (see below), else
//!   `NOASSERTION` (SPDX) or no license (CycloneDX);
//! - the packages it depends on: for each alternative group of its
//!   `Depends` and `Pre-Depends`, the first alternative that a present
//!   package satisfies, by its name or through `Provides` (version and
//!   architecture checked as dpkg would, loosely: a package of the same
//!   architecture, `all`, or `Multi-Arch: foreign`/`allowed` as
//!   qualified).
//!
//! Besides the packages: the artifacts the spec staged (the lock's
//! `artifacts_of(spec)`: name, source and SRI hash, as hex `BLAKE3` or
//! `SHA256` checksums), and the archives with the SHA256 of the
//! `InRelease` file the lock was made from and the fingerprint of its
//! signer. In SPDX, a `blake3-` artifact hash is only in the package's
//! comment, as its SRI string: SPDX's reference validator (`spdx-tools`)
//! takes SPDX 2.3's "at least 256 bits" for BLAKE3 as 256 hex digits,
//! and refuses the 32-byte digest the lock has.
//!
//! In SPDX, the tree is the package `SPDXRef-Tree` that the document
//! describes, which `CONTAINS` every package and artifact and is
//! `GENERATED_FROM` each archive (an SPDX package with the `InRelease`
//! checksum, its signer in the comment); packages `DEPENDS_ON` packages.
//! Artifacts are SPDX packages too (purpose `FILE`): an SPDX 2.3 file must
//! have a SHA1 checksum, which the lock does not record. A package's
//! `downloadLocation` is its `.deb`'s URL when its archive is an `http(s)`
//! URL whose host is a name SPDX's grammar accepts (a last label of 2 to
//! 5 letters: not an address, nor `localhost`), else `NOASSERTION`; the
//! URL is in `sourceInfo` either way. In CycloneDX the
//! tree is the metadata's component (`operating-system`), packages are
//! `library` components whose `bom-ref` is their package URL, artifacts
//! `file` components, archives `data` components of scope `excluded` (not
//! in the tree); `dependencies` holds the tree's (every component in it)
//! and the packages'. Details without a field of their own are
//! `rdebootstrap:`-named properties (CycloneDX) or text (SPDX
//! `sourceInfo` and `comment`).
//!
//! # Licenses
//!
//! A `License:` line is DEP-5's expression: short names joined by `or`
//! and `and` (`and` binding tighter, as SPDX's `AND`), a comma before
//! `and`/`or` closing what precedes it, and `NAME with X exception`. Each
//! short name that is an SPDX license (DEP-5's names such as `GPL-2+`,
//! `LGPL-2.1`, `BSD-3-clause` or `Expat` translated: `GPL-2.0-or-later`,
//! `LGPL-2.1-only`, `BSD-3-Clause`, `MIT`; or a name already spelled as
//! an SPDX identifier, from a list of the common ones) becomes it; any
//! other, or one with an exception, becomes `LicenseRef-` and the name
//! with every character but letters, digits, `.` and `-` replaced (`+`
//! by `plus`, others by `-`), which the SPDX document declares in
//! `hasExtractedLicensingInfos`. The package's expression is the
//! distinct expressions of its `Files` paragraphs joined by `AND`
//! (parenthesized where needed), in sorted order; a `Files` paragraph
//! without a usable `License:` makes it `NOASSERTION`.
//!
//! # Determinism
//!
//! The same lock and tree give the same bytes: the time is the build's
//! `SOURCE_DATE_EPOCH`; the SPDX `documentNamespace` and the CycloneDX
//! `serialNumber` are `urn:uuid:` UUIDs made from the SHA256 of the
//! lock's text, the spec's hash and the spec's name (a name-based UUID,
//! version 5 in form); every array is sorted, objects' keys are in
//! sorted order (`serde_json`'s map), the JSON is pretty-printed with two
//! spaces and ends with a newline. Files are written under a temporary
//! name beside the path (`.NAME.rdebootstrap-tmp.PID`), synced and renamed
//! onto it.
//!
//! Paths of the tree are opened inside it ([`Tree`]): a symlink never
//! leads out of it.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::io;
use std::path::{Path, PathBuf};

use serde_json::{json, Value};

use crate::deb822::{self, Comments};
use crate::lock::{Lock, LockedArchive, LockedArtifact};
use crate::origin::{ArchiveSource, PackageOrigin};
use crate::relation::{self, FieldKind};
use crate::tree::Tree;
use crate::version::Version;

/// The dpkg database's status file, in the tree.
const STATUS: &str = "var/lib/dpkg/status";

/// The largest status file read.
const STATUS_LIMIT: u64 = 1 << 30;

/// The largest copyright file read.
const COPYRIGHT_LIMIT: u64 = 64 << 20;

/// The prefix of the CycloneDX properties this module names.
const PROPERTY: &str = "rdebootstrap:";

/// An SBOM's format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SbomFormat {
    /// SPDX 2.3, JSON (`.spdx.json`).
    Spdx,
    /// CycloneDX 1.6, JSON (`.cdx.json`).
    CycloneDx,
}

impl SbomFormat {
    /// The media type of the format's documents (an OCI referrer's
    /// `artifactType`).
    pub fn media_type(self) -> &'static str {
        match self {
            SbomFormat::Spdx => "application/spdx+json",
            SbomFormat::CycloneDx => "application/vnd.cyclonedx+json",
        }
    }

    /// The ending of an SPDX SBOM's name.
    pub const SPDX_ENDING: &'static str = ".spdx.json";
    /// The ending of a CycloneDX SBOM's name.
    pub const CYCLONEDX_ENDING: &'static str = ".cdx.json";

    /// The ending of this format's names.
    pub fn ending(self) -> &'static str {
        match self {
            SbomFormat::Spdx => Self::SPDX_ENDING,
            SbomFormat::CycloneDx => Self::CYCLONEDX_ENDING,
        }
    }

    /// The format `path`'s name asks for, by its ending.
    pub fn from_path(path: &Path) -> Result<SbomFormat, SbomError> {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy())
            .unwrap_or_default();
        let stem = |ending: &str| name.len() > ending.len() && name.ends_with(ending);
        if stem(Self::SPDX_ENDING) {
            Ok(SbomFormat::Spdx)
        } else if stem(Self::CYCLONEDX_ENDING) {
            Ok(SbomFormat::CycloneDx)
        } else {
            Err(SbomError::UnknownFormat {
                path: path.to_owned(),
            })
        }
    }

    /// `SPDX 2.3` or `CycloneDX 1.6`.
    pub fn name(self) -> &'static str {
        match self {
            SbomFormat::Spdx => "SPDX 2.3",
            SbomFormat::CycloneDx => "CycloneDX 1.6",
        }
    }
}

impl std::fmt::Display for SbomFormat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// An SBOM that cannot be made.
#[derive(Debug, thiserror::Error)]
pub enum SbomError {
    #[error(
        "{}: the SBOM's format is not known from its name: name it NAME{} (SPDX 2.3) or NAME{} (CycloneDX 1.6)",
        path.display(),
        SbomFormat::SPDX_ENDING,
        SbomFormat::CYCLONEDX_ENDING
    )]
    UnknownFormat { path: PathBuf },
    #[error("the lock has no spec {}", crate::manifest::spec_label(spec))]
    NotLocked { spec: String },
    #[error("{}: cannot open the tree to describe it", root.display())]
    Tree {
        root: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("{}: cannot read {}", root.display(), path)]
    Read {
        root: PathBuf,
        path: String,
        #[source]
        source: io::Error,
    },
    #[error("{}: {}", root.display(), STATUS)]
    Status {
        root: PathBuf,
        #[source]
        source: deb822::Error,
    },
    #[error("{}: cannot write the SBOM", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

/// What [`write()`] wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SbomReport {
    pub path: PathBuf,
    pub format: SbomFormat,
    /// Packages described.
    pub packages: usize,
    /// Bytes written.
    pub bytes: u64,
}

/// Describe the tree at `root`, built from `spec` of `lock`, as `format`
/// at `path` (replaced atomically), timed `epoch` (the build's
/// `SOURCE_DATE_EPOCH`).
pub fn write(
    root: &Path,
    lock: &Lock,
    spec: &str,
    format: SbomFormat,
    path: &Path,
    epoch: u64,
) -> Result<SbomReport, SbomError> {
    let inventory = Inventory::read(root, lock, spec)?;
    let bytes = inventory.render(format, epoch);
    write_atomically(path, &bytes)?;
    Ok(SbomReport {
        path: path.to_owned(),
        format,
        packages: inventory.packages.len(),
        bytes: bytes.len() as u64,
    })
}

/// The bytes [`write()`] would write.
pub fn render(
    root: &Path,
    lock: &Lock,
    spec: &str,
    format: SbomFormat,
    epoch: u64,
) -> Result<Vec<u8>, SbomError> {
    Ok(Inventory::read(root, lock, spec)?.render(format, epoch))
}

// ---------------------------------------------------------------------
// What the tree holds
// ---------------------------------------------------------------------

/// Where a package's `.deb` came from.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Origin {
    /// Index into the lock's archives.
    Archive(usize),
    /// A local `.deb`, by its path as the manifest gives it.
    Local(String),
    /// From the imported manifest's archives or local `.deb`s (its own
    /// lock tells which; no download location is given here).
    Imported,
}

/// One present package.
#[derive(Debug, Clone)]
struct Package {
    name: String,
    version: String,
    arch: String,
    multi_arch: String,
    source: String,
    source_version: String,
    /// From the lock.
    sha256: Option<String>,
    origin: Option<Origin>,
    /// Pool path, for a package of an archive.
    pool_path: Option<String>,
    license: Option<License>,
    depends: String,
    pre_depends: String,
    provides: String,
    /// Indices into the inventory's packages.
    depends_on: BTreeSet<usize>,
}

/// The os-release facts the SBOMs use.
#[derive(Debug, Clone, Default)]
struct OsRelease {
    id: Option<String>,
    version_id: Option<String>,
    codename: Option<String>,
    pretty_name: Option<String>,
}

#[derive(Debug)]
struct Inventory {
    spec: String,
    spec_hash: String,
    lock_sha256: String,
    arch: String,
    os: OsRelease,
    vendor: String,
    distro: Option<String>,
    /// Sorted by name, then architecture.
    packages: Vec<Package>,
    artifacts: Vec<LockedArtifact>,
    archives: Vec<LockedArchive>,
}

impl Inventory {
    fn read(root: &Path, lock: &Lock, spec: &str) -> Result<Inventory, SbomError> {
        let locked = lock.spec(spec).ok_or_else(|| SbomError::NotLocked {
            spec: spec.to_owned(),
        })?;
        let tree = Tree::open(root).map_err(|source| SbomError::Tree {
            root: root.to_owned(),
            source,
        })?;
        let read_err = |path: &str, source| SbomError::Read {
            root: root.to_owned(),
            path: path.to_owned(),
            source,
        };
        let status = tree
            .read(Path::new(STATUS), STATUS_LIMIT)
            .map_err(|e| read_err(STATUS, e))?;
        let status = String::from_utf8_lossy(&status);
        let stanzas =
            deb822::parse(&status, Comments::Forbidden).map_err(|source| SbomError::Status {
                root: root.to_owned(),
                source,
            })?;
        let by_key: BTreeMap<(&str, &str), &crate::lock::LockedPackage> = locked
            .packages
            .iter()
            .map(|p| ((p.name.as_str(), p.arch.as_str()), p))
            .collect();
        let mut packages = Vec::new();
        for s in &stanzas {
            let state = s.get("Status").unwrap_or("");
            if matches!(
                state.split_ascii_whitespace().nth(2),
                None | Some("not-installed" | "config-files")
            ) {
                continue;
            }
            let (Some(name), Some(version)) = (s.get("Package"), s.get("Version")) else {
                continue;
            };
            let arch = s.get("Architecture").unwrap_or("");
            let (source, source_version) = match s.get("Source") {
                Some(src) => match src.split_once('(') {
                    Some((n, v)) => (n.trim(), v.trim().trim_end_matches(')').trim()),
                    None => (src.trim(), version),
                },
                None => (name, version),
            };
            let field = |f: &str| s.field(f).map(|f| f.folded()).unwrap_or_default();
            let from_lock = by_key.get(&(name, arch));
            let origin = from_lock.map(|p| match p.origin {
                PackageOrigin::Archive(i) => Origin::Archive(i),
                PackageOrigin::Local(i) => Origin::Local(
                    lock.locals
                        .get(i)
                        .map_or_else(|| p.path.clone(), |l| l.path.clone()),
                ),
                PackageOrigin::Imported(_) => Origin::Imported,
            });
            let copyright = format!("usr/share/doc/{name}/copyright");
            let license = match read_inside(&tree, Path::new(&copyright), COPYRIGHT_LIMIT) {
                Ok(Some(text)) => dep5_license(&String::from_utf8_lossy(&text)),
                Ok(None) => None,
                Err(e) => return Err(read_err(&copyright, e)),
            };
            packages.push(Package {
                name: name.to_owned(),
                version: version.to_owned(),
                arch: arch.to_owned(),
                multi_arch: s.get("Multi-Arch").unwrap_or("no").to_owned(),
                source: source.to_owned(),
                source_version: source_version.to_owned(),
                sha256: from_lock.map(|p| p.sha256.clone()),
                pool_path: from_lock
                    .filter(|p| matches!(p.origin, PackageOrigin::Archive(_)))
                    .map(|p| p.path.clone()),
                origin,
                license,
                depends: field("Depends"),
                pre_depends: field("Pre-Depends"),
                provides: field("Provides"),
                depends_on: BTreeSet::new(),
            });
        }
        packages.sort_by(|a, b| (&a.name, &a.arch).cmp(&(&b.name, &b.arch)));
        packages.dedup_by(|a, b| (&a.name, &a.arch) == (&b.name, &b.arch));
        resolve_dependencies(&mut packages);
        let os = os_release(&tree);
        let vendor = os
            .id
            .clone()
            .or_else(|| {
                lock.archives
                    .iter()
                    .find_map(|a| a.source.vendor().map(str::to_owned))
            })
            .unwrap_or_else(|| "debian".to_owned())
            .to_ascii_lowercase();
        let distro = os.codename.clone().or_else(|| {
            let (id, v) = (os.id.as_ref()?, os.version_id.as_ref()?);
            Some(format!("{}-{v}", id.to_ascii_lowercase()))
        });
        Ok(Inventory {
            spec: spec.to_owned(),
            spec_hash: locked.hash.clone(),
            lock_sha256: crate::hash::sha256(lock.to_text().as_bytes()).to_string(),
            arch: lock.arch.clone(),
            os,
            vendor,
            distro,
            packages,
            artifacts: lock.artifacts_of(spec).to_vec(),
            archives: lock.archives.clone(),
        })
    }

    fn render(&self, format: SbomFormat, epoch: u64) -> Vec<u8> {
        let doc = match format {
            SbomFormat::Spdx => self.spdx(epoch),
            SbomFormat::CycloneDx => self.cyclonedx(epoch),
        };
        let mut out = serde_json::to_vec_pretty(&doc).expect("JSON values serialize");
        out.push(b'\n');
        out
    }

    /// The package URL of `p`.
    fn purl(&self, p: &Package) -> String {
        let mut s = format!(
            "pkg:deb/{}/{}@{}?arch={}",
            purl_escape(&self.vendor),
            purl_escape(&p.name.to_ascii_lowercase()),
            purl_escape(&p.version),
            purl_escape(&p.arch)
        );
        if let Some(d) = &self.distro {
            let _ = write!(s, "&distro={}", purl_escape(d));
        }
        s
    }

    /// A name-based UUID (version 5 in form) of the lock, the spec and
    /// `what`.
    fn uuid(&self, what: &str) -> String {
        let h = crate::hash::sha256(
            format!(
                "{what}\n{}\n{}\n{}\n",
                self.lock_sha256, self.spec_hash, self.spec
            )
            .as_bytes(),
        );
        let mut b: [u8; 16] = h.as_bytes()[..16].try_into().expect("16 bytes");
        b[6] = (b[6] & 0x0f) | 0x50;
        b[8] = (b[8] & 0x3f) | 0x80;
        let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
        format!(
            "{}-{}-{}-{}-{}",
            &hex[..8],
            &hex[8..12],
            &hex[12..16],
            &hex[16..20],
            &hex[20..]
        )
    }

    fn tree_name(&self) -> String {
        let label = crate::manifest::spec_label(&self.spec);
        match &self.os.pretty_name {
            Some(os) => format!("{label} ({os}, {})", self.arch),
            None => format!("{label} ({})", self.arch),
        }
    }

    fn origin_text(&self, p: &Package) -> String {
        match &p.origin {
            Some(Origin::Archive(i)) => match self.archives.get(*i) {
                Some(a) => format!("from the archive {} suite {}", a.source, a.suite),
                None => "from an archive".to_owned(),
            },
            Some(Origin::Local(path)) => format!("from the local .deb {path}"),
            Some(Origin::Imported) => "from the imported manifest".to_owned(),
            None => "not in the lock".to_owned(),
        }
    }

    /// Where `p`'s `.deb` can be downloaded, when its archive is a URL.
    fn download_url(&self, p: &Package) -> Option<String> {
        let (Some(Origin::Archive(i)), Some(path)) = (&p.origin, &p.pool_path) else {
            return None;
        };
        let a = self.archives.get(*i)?;
        // As the lock alone tells it: not through a mirror or a snapshot.
        let base =
            crate::origin::archive_url(&a.source, a.snapshot.as_deref(), None, &Default::default())
                .ok()?;
        (base.starts_with("http://") || base.starts_with("https://"))
            .then(|| crate::origin::pool_url(&base, path))
    }

    // -----------------------------------------------------------------
    // SPDX 2.3
    // -----------------------------------------------------------------

    fn spdx(&self, epoch: u64) -> Value {
        let id = |p: &Package| {
            format!(
                "SPDXRef-Package-deb-{}-{}",
                spdx_id(&p.name),
                spdx_id(&p.arch)
            )
        };
        let mut packages = Vec::new();
        let mut relationships = Vec::new();
        let mut refs: BTreeMap<String, String> = BTreeMap::new();
        let rel = |a: &str, kind: &str, b: &str| json!({"spdxElementId": a, "relationshipType": kind, "relatedSpdxElement": b});
        relationships.push(rel("SPDXRef-DOCUMENT", "DESCRIBES", "SPDXRef-Tree"));
        let mut tree = json!({
            "SPDXID": "SPDXRef-Tree",
            "name": self.tree_name(),
            "downloadLocation": "NOASSERTION",
            "filesAnalyzed": false,
            "primaryPackagePurpose": "OPERATING-SYSTEM",
            "licenseConcluded": "NOASSERTION",
            "licenseDeclared": "NOASSERTION",
            "copyrightText": "NOASSERTION",
            "comment": format!(
                "A root tree built by rdebootstrap from spec {} of a lock for {} (lock SHA256 {}, spec hash {}).",
                crate::manifest::spec_label(&self.spec), self.arch, self.lock_sha256, self.spec_hash
            ),
        });
        if let Some(v) = self.os.version_id.as_ref().or(self.os.codename.as_ref()) {
            tree["versionInfo"] = json!(v);
        }
        packages.push(tree);
        for p in &self.packages {
            let mut pkg = json!({
                "SPDXID": id(p),
                "name": p.name,
                "versionInfo": p.version,
                "downloadLocation": self.download_url(p).filter(|u| spdx_download_location(u)).unwrap_or_else(|| "NOASSERTION".to_owned()),
                "filesAnalyzed": false,
                "licenseConcluded": "NOASSERTION",
                "licenseDeclared": p.license.as_ref().map_or("NOASSERTION", |l| l.expression.as_str()),
                "copyrightText": "NOASSERTION",
                "externalRefs": [{
                    "referenceCategory": "PACKAGE-MANAGER",
                    "referenceType": "purl",
                    "referenceLocator": self.purl(p),
                }],
                "sourceInfo": match self.download_url(p) {
                    Some(url) => format!(
                        "built from the source package {} version {}; architecture {}; {}, {url}",
                        p.source, p.source_version, p.arch, self.origin_text(p)
                    ),
                    None => format!(
                        "built from the source package {} version {}; architecture {}; {}",
                        p.source, p.source_version, p.arch, self.origin_text(p)
                    ),
                },
            });
            if let Some(sha) = &p.sha256 {
                pkg["checksums"] = json!([{"algorithm": "SHA256", "checksumValue": sha}]);
            }
            if let Some(l) = &p.license {
                for (r, name) in &l.refs {
                    refs.entry(r.clone()).or_insert_with(|| name.clone());
                }
            }
            packages.push(pkg);
            relationships.push(rel("SPDXRef-Tree", "CONTAINS", &id(p)));
            for &d in &p.depends_on {
                relationships.push(rel(&id(p), "DEPENDS_ON", &id(&self.packages[d])));
            }
        }
        for (i, a) in self.artifacts.iter().enumerate() {
            let aid = format!("SPDXRef-Artifact-{i}-{}", spdx_id(&a.name));
            let mut pkg = json!({
                "SPDXID": aid,
                "name": a.name,
                "downloadLocation": a.source.as_deref().filter(|s| spdx_download_location(s)).unwrap_or("NOASSERTION"),
                "filesAnalyzed": false,
                "primaryPackagePurpose": "FILE",
                "licenseConcluded": "NOASSERTION",
                "licenseDeclared": "NOASSERTION",
                "copyrightText": "NOASSERTION",
                "comment": match &a.source {
                    Some(s) => format!("An artifact staged by the spec, from {s} (hash {}).", a.hash),
                    None => format!("A text artifact staged by the spec (hash {}).", a.hash),
                },
            });
            // A BLAKE3 digest stays in the comment (see the module
            // documentation).
            if let Some((SriAlgo::Sha256, hex)) = sri_hex(&a.hash) {
                pkg["checksums"] = json!([{"algorithm": "SHA256", "checksumValue": hex}]);
            }
            packages.push(pkg);
            relationships.push(rel("SPDXRef-Tree", "CONTAINS", &aid));
        }
        for (i, a) in self.archives.iter().enumerate() {
            let aid = format!("SPDXRef-Archive-{i}");
            let mut pkg = json!({
                "SPDXID": aid,
                "name": format!("{} {}", a.source, a.suite),
                "versionInfo": a.snapshot.clone().unwrap_or_else(|| a.suite.clone()),
                "downloadLocation": match &a.source { ArchiveSource::Url(u) if spdx_download_location(u) && a.snapshot.is_none() => u.as_str(), _ => "NOASSERTION" },
                "filesAnalyzed": false,
                "primaryPackagePurpose": "OTHER",
                "licenseConcluded": "NOASSERTION",
                "licenseDeclared": "NOASSERTION",
                "copyrightText": "NOASSERTION",
                "checksums": [{"algorithm": "SHA256", "checksumValue": a.release_sha256}],
                "comment": archive_text(a),
            });
            if let Some(s) = &a.snapshot {
                pkg["sourceInfo"] = json!(format!("the snapshot {s}"));
            }
            packages.push(pkg);
            relationships.push(rel("SPDXRef-Tree", "GENERATED_FROM", &aid));
        }
        let key = |v: &Value, k: &str| v[k].as_str().unwrap_or("").to_owned();
        packages.sort_by_key(|p| key(p, "SPDXID"));
        relationships.sort_by_key(|r| {
            (
                key(r, "spdxElementId"),
                key(r, "relationshipType"),
                key(r, "relatedSpdxElement"),
            )
        });
        relationships.dedup();
        let mut doc = json!({
            "spdxVersion": "SPDX-2.3",
            "dataLicense": "CC0-1.0",
            "SPDXID": "SPDXRef-DOCUMENT",
            "name": format!("rdebootstrap {}", self.tree_name()),
            "documentNamespace": format!("urn:uuid:{}", self.uuid("spdx")),
            "creationInfo": {
                "created": rfc3339(epoch),
                "creators": [format!("Tool: debrepo-{}", env!("CARGO_PKG_VERSION"))],
            },
            "packages": packages,
            "relationships": relationships,
        });
        if !refs.is_empty() {
            doc["hasExtractedLicensingInfos"] = refs
                .iter()
                .map(|(r, name)| {
                    json!({
                        "licenseId": r,
                        "name": name,
                        "extractedText": format!(
                            "The license short name \"{name}\" of machine-readable Debian copyright files (not an SPDX license identifier); its text is in the copyright file of each package that names it, /usr/share/doc/PACKAGE/copyright."
                        ),
                    })
                })
                .collect();
        }
        doc
    }

    // -----------------------------------------------------------------
    // CycloneDX 1.6
    // -----------------------------------------------------------------

    fn cyclonedx(&self, epoch: u64) -> Value {
        let prop =
            |name: &str, value: &str| json!({"name": format!("{PROPERTY}{name}"), "value": value});
        let mut components = Vec::new();
        let mut dependencies = Vec::new();
        let mut in_tree = Vec::new();
        for p in &self.packages {
            let purl = self.purl(p);
            let mut props = vec![
                prop("architecture", &p.arch),
                prop("source-package", &p.source),
                prop("source-version", &p.source_version),
                prop("origin", &self.origin_text(p)),
            ];
            if let Some(Origin::Archive(i)) = &p.origin {
                props.push(prop("archive", &format!("archive:{i}")));
            }
            props.sort_by_key(|v| v["name"].as_str().unwrap_or("").to_owned());
            let mut c = json!({
                "type": "library",
                "bom-ref": purl,
                "name": p.name,
                "version": p.version,
                "purl": purl,
                "properties": props,
            });
            if let Some(sha) = &p.sha256 {
                c["hashes"] = json!([{"alg": "SHA-256", "content": sha}]);
            }
            if let Some(l) = &p.license {
                c["licenses"] = l.cyclonedx();
            }
            if let Some(url) = self.download_url(p) {
                c["externalReferences"] = json!([{"type": "distribution", "url": url}]);
            }
            components.push(c);
            in_tree.push(purl.clone());
            let mut on: Vec<String> = p
                .depends_on
                .iter()
                .map(|&d| self.purl(&self.packages[d]))
                .collect();
            on.sort();
            dependencies.push(json!({"ref": purl, "dependsOn": on}));
        }
        for a in &self.artifacts {
            let r = format!("artifact:{}", a.name);
            let mut props = vec![prop("sri", &a.hash)];
            if let Some(s) = &a.source {
                props.push(prop("source", s));
            }
            let mut c = json!({
                "type": "file",
                "bom-ref": r,
                "name": a.name,
                "properties": props,
            });
            if let Some((algo, hex)) = sri_hex(&a.hash) {
                let alg = match algo {
                    SriAlgo::Blake3 => "BLAKE3",
                    SriAlgo::Sha256 => "SHA-256",
                };
                c["hashes"] = json!([{"alg": alg, "content": hex}]);
            }
            components.push(c);
            in_tree.push(r);
        }
        for (i, a) in self.archives.iter().enumerate() {
            let mut props = vec![
                prop("source", &a.source.to_string()),
                prop("suite", &a.suite),
            ];
            if let Some(s) = &a.snapshot {
                props.push(prop("snapshot", s));
            }
            if let Some(s) = &a.signer {
                props.push(prop("signer", s));
            }
            props.sort_by_key(|v| v["name"].as_str().unwrap_or("").to_owned());
            components.push(json!({
                "type": "data",
                "bom-ref": format!("archive:{i}"),
                "name": format!("{} {}", a.source, a.suite),
                "version": a.snapshot.clone().unwrap_or_else(|| a.suite.clone()),
                "scope": "excluded",
                "description": archive_text(a),
                "hashes": [{"alg": "SHA-256", "content": a.release_sha256}],
                "properties": props,
            }));
        }
        in_tree.sort();
        dependencies.push(json!({"ref": "tree", "dependsOn": in_tree}));
        let key = |v: &Value, k: &str| v[k].as_str().unwrap_or("").to_owned();
        components.sort_by_key(|c| key(c, "bom-ref"));
        dependencies.sort_by_key(|d| key(d, "ref"));
        let mut tree = json!({
            "type": "operating-system",
            "bom-ref": "tree",
            "name": self.tree_name(),
            "properties": [
                prop("architecture", &self.arch),
                prop("lock-sha256", &self.lock_sha256),
                prop("spec", &self.spec),
                prop("spec-hash", &self.spec_hash),
            ],
        });
        if let Some(v) = self.os.version_id.as_ref().or(self.os.codename.as_ref()) {
            tree["version"] = json!(v);
        }
        json!({
            "bomFormat": "CycloneDX",
            "specVersion": "1.6",
            "serialNumber": format!("urn:uuid:{}", self.uuid("cyclonedx")),
            "version": 1,
            "metadata": {
                "timestamp": rfc3339(epoch),
                "tools": {"components": [{
                    "type": "library",
                    "name": "debrepo",
                    "version": env!("CARGO_PKG_VERSION"),
                }]},
                "component": tree,
            },
            "components": components,
            "dependencies": dependencies,
        })
    }
}

fn archive_text(a: &LockedArchive) -> String {
    let signer = match &a.signer {
        Some(fpr) => format!("signed by the OpenPGP key {fpr}"),
        None => "not verified".to_owned(),
    };
    format!(
        "The archive {} suite {}: its InRelease (SHA256 {}) as locked, {signer}.",
        a.source, a.suite, a.release_sha256
    )
}

/// Whether the URL `s` is a download location as SPDX 2.3's grammar has
/// it (and its reference validator checks): `http(s)://`, a host name
/// whose last label is 2 to 5 letters, an optional port and path. An
/// address (`127.0.0.1`) or a one-label name is not, and is given as
/// `NOASSERTION` (the URL stays in `sourceInfo`).
fn spdx_download_location(s: &str) -> bool {
    let Some(rest) = s
        .strip_prefix("http://")
        .or_else(|| s.strip_prefix("https://"))
    else {
        return false;
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = match host_port.rsplit_once(':') {
        Some((h, port))
            if !port.is_empty() && port.len() <= 5 && port.bytes().all(|b| b.is_ascii_digit()) =>
        {
            h
        }
        Some(_) => return false,
        None => host_port,
    };
    let labels: Vec<&str> = host.split('.').collect();
    let tld = labels.last().copied().unwrap_or("");
    labels.len() >= 2
        && labels.iter().all(|l| {
            !l.is_empty()
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
        && (2..=5).contains(&tld.len())
        && tld.bytes().all(|b| b.is_ascii_alphabetic())
}

/// The two SRI algorithms of artifacts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SriAlgo {
    Blake3,
    Sha256,
}

/// `ALGO-BASE64` as the algorithm and lowercase hex.
fn sri_hex(sri: &str) -> Option<(SriAlgo, String)> {
    let parsed = crate::artifact::Sri::parse(sri).ok()?;
    let algo = match parsed.algo {
        crate::artifact::HashAlgo::Blake3 => SriAlgo::Blake3,
        crate::artifact::HashAlgo::Sha256 => SriAlgo::Sha256,
    };
    Some((
        algo,
        parsed.digest.iter().map(|b| format!("{b:02x}")).collect(),
    ))
}

/// Percent-encode a package-URL component: all but letters, digits and
/// `.-_~:`.
fn purl_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b".-_~:".contains(&b) {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// A string usable in an SPDX element id (letters, digits, `.`, `-`):
/// `+` as `-2B` (package names are lowercase, so this cannot collide with
/// another name), anything else as `-`.
fn spdx_id(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            c if c.is_ascii_alphanumeric() || c == '.' || c == '-' => out.push(c),
            '+' => out.push_str("-2B"),
            _ => out.push('-'),
        }
    }
    out
}

/// `epoch` as `YYYY-MM-DDTHH:MM:SSZ`.
fn rfc3339(epoch: u64) -> String {
    let days = (epoch / 86_400) as i64;
    let secs = epoch % 86_400;
    // Days since 1970-01-01 to a proleptic Gregorian date, by 400-year eras.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

/// The file `rel` of the tree, following symlinks inside it; `None` when
/// it is not there or not a regular file.
fn read_inside(tree: &Tree, rel: &Path, limit: u64) -> io::Result<Option<Vec<u8>>> {
    let fd = match tree.open_path(rel, false) {
        Ok(fd) => fd,
        Err(e)
            if e == rustix::io::Errno::NOENT
                || e == rustix::io::Errno::NOTDIR
                || e == rustix::io::Errno::LOOP =>
        {
            return Ok(None)
        }
        Err(e) => return Err(e.into()),
    };
    let st = rustix::fs::fstat(&fd)?;
    if rustix::fs::FileType::from_raw_mode(st.st_mode) != rustix::fs::FileType::RegularFile {
        return Ok(None);
    }
    // The path as resolved inside the tree has no symlink left.
    let resolved = tree.canonical(&fd, rel);
    tree.read(&resolved, limit).map(Some)
}

/// The os-release of the tree (`etc/os-release`, else
/// `usr/lib/os-release`).
fn os_release(tree: &Tree) -> OsRelease {
    let text = ["etc/os-release", "usr/lib/os-release"]
        .iter()
        .find_map(|p| read_inside(tree, Path::new(p), 1 << 20).ok().flatten());
    let Some(text) = text else {
        return OsRelease::default();
    };
    let mut os = OsRelease::default();
    for line in String::from_utf8_lossy(&text).lines() {
        let Some((k, v)) = line.trim().split_once('=') else {
            continue;
        };
        let v = v.trim();
        let v = v
            .strip_prefix('"')
            .and_then(|v| v.strip_suffix('"'))
            .or_else(|| v.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')))
            .unwrap_or(v)
            .replace("\\\"", "\"")
            .replace("\\\\", "\\");
        if v.is_empty() {
            continue;
        }
        match k.trim() {
            "ID" => os.id = Some(v),
            "VERSION_ID" => os.version_id = Some(v),
            "VERSION_CODENAME" => os.codename = Some(v),
            "PRETTY_NAME" => os.pretty_name = Some(v),
            _ => {}
        }
    }
    os
}

// ---------------------------------------------------------------------
// Dependencies
// ---------------------------------------------------------------------

/// Fill each package's `depends_on`: per group of `Depends` and
/// `Pre-Depends`, the first alternative a present package satisfies.
fn resolve_dependencies(packages: &mut [Package]) {
    // Name to the packages that are it, then those providing it (with the
    // provided version, if any).
    let mut real: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    let mut provided: BTreeMap<&str, Vec<(usize, Option<&str>)>> = BTreeMap::new();
    let parsed_provides: Vec<_> = packages
        .iter()
        .map(|p| relation::parse(FieldKind::Provides, &p.provides).ok())
        .collect();
    for (i, p) in packages.iter().enumerate() {
        real.entry(p.name.as_str()).or_default().push(i);
        if let Some(rels) = &parsed_provides[i] {
            for r in rels.iter() {
                provided
                    .entry(r.name)
                    .or_default()
                    .push((i, r.version.map(|(_, v)| v.as_str())));
            }
        }
    }
    let mut edges = Vec::new();
    for (i, p) in packages.iter().enumerate() {
        let mut on = BTreeSet::new();
        for (kind, text) in [
            (FieldKind::Depends, &p.depends),
            (FieldKind::PreDepends, &p.pre_depends),
        ] {
            let Ok(rels) = relation::parse(kind, text) else {
                continue;
            };
            for group in rels.groups() {
                let hit = group.iter().find_map(|r| {
                    let arch_ok = |c: &Package| arch_admits(p, c, r.arch_qualifier);
                    let by_name = real.get(r.name).into_iter().flatten().copied().find(|&c| {
                        let cand = &packages[c];
                        arch_ok(cand)
                            && Version::parse_lax(&cand.version)
                                .is_ok_and(|v| r.version_matches(&v))
                    });
                    by_name.or_else(|| {
                        provided
                            .get(r.name)
                            .into_iter()
                            .flatten()
                            .find(|(c, v)| {
                                arch_ok(&packages[*c])
                                    && match (&r.version, v) {
                                        (None, _) => true,
                                        (Some(_), None) => false,
                                        (Some(_), Some(v)) => Version::parse_lax(v)
                                            .is_ok_and(|v| r.version_matches(&v)),
                                    }
                            })
                            .map(|(c, _)| *c)
                    })
                });
                if let Some(c) = hit.filter(|&c| c != i) {
                    on.insert(c);
                }
            }
        }
        edges.push(on);
    }
    for (p, on) in packages.iter_mut().zip(edges) {
        p.depends_on = on;
    }
}

/// Whether `cand` can satisfy a dependency of `dep` with the
/// architecture qualifier `qualifier`, as dpkg's Multi-Arch rules have it
/// (loosely: no cross-architecture check beyond these).
fn arch_admits(dep: &Package, cand: &Package, qualifier: Option<&str>) -> bool {
    let same = cand.arch == dep.arch || cand.arch == "all" || dep.arch == "all";
    match qualifier {
        Some("any") => same || cand.multi_arch == "allowed" || cand.multi_arch == "foreign",
        Some("native") | None => same || cand.multi_arch == "foreign",
        Some(a) => cand.arch == a,
    }
}

// ---------------------------------------------------------------------
// Licenses
// ---------------------------------------------------------------------

/// A package's declared license.
#[derive(Debug, Clone, PartialEq, Eq)]
struct License {
    /// The SPDX license expression.
    expression: String,
    /// Whether it is one license (an SPDX id, or a reference).
    single: Option<Single>,
    /// The `LicenseRef-`s used, with the short name each stands for.
    refs: BTreeMap<String, String>,
}

/// A license expression of one term.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Single {
    Id(String),
    /// The short name, as the copyright file spells it.
    Name(String),
}

impl License {
    fn cyclonedx(&self) -> Value {
        match &self.single {
            Some(Single::Id(id)) => {
                json!([{"license": {"id": id, "acknowledgement": "declared"}}])
            }
            Some(Single::Name(name)) => {
                json!([{"license": {"name": name, "acknowledgement": "declared"}}])
            }
            None => json!([{"expression": self.expression, "acknowledgement": "declared"}]),
        }
    }
}

/// DEP-5 short names (lowercase) and the SPDX identifiers they are.
const DEP5_TO_SPDX: &[(&str, &str)] = &[
    ("agpl-3", "AGPL-3.0-only"),
    ("agpl-3+", "AGPL-3.0-or-later"),
    ("agpl-3.0", "AGPL-3.0-only"),
    ("agpl-3.0+", "AGPL-3.0-or-later"),
    ("apache-1.0", "Apache-1.0"),
    ("apache-1.1", "Apache-1.1"),
    ("apache-2", "Apache-2.0"),
    ("apache-2.0", "Apache-2.0"),
    ("artistic", "Artistic-1.0-Perl"),
    ("artistic-1.0", "Artistic-1.0"),
    ("artistic-2.0", "Artistic-2.0"),
    ("bsd-2-clause", "BSD-2-Clause"),
    ("bsd-3-clause", "BSD-3-Clause"),
    ("bsd-4-clause", "BSD-4-Clause"),
    ("cc0", "CC0-1.0"),
    ("cc0-1.0", "CC0-1.0"),
    ("expat", "MIT"),
    ("gfdl-1.2", "GFDL-1.2-only"),
    ("gfdl-1.2+", "GFDL-1.2-or-later"),
    ("gfdl-1.3", "GFDL-1.3-only"),
    ("gfdl-1.3+", "GFDL-1.3-or-later"),
    ("gpl-1", "GPL-1.0-only"),
    ("gpl-1+", "GPL-1.0-or-later"),
    ("gpl-2", "GPL-2.0-only"),
    ("gpl-2+", "GPL-2.0-or-later"),
    ("gpl-2.0", "GPL-2.0-only"),
    ("gpl-2.0+", "GPL-2.0-or-later"),
    ("gpl-3", "GPL-3.0-only"),
    ("gpl-3+", "GPL-3.0-or-later"),
    ("gpl-3.0", "GPL-3.0-only"),
    ("gpl-3.0+", "GPL-3.0-or-later"),
    ("lgpl-2", "LGPL-2.0-only"),
    ("lgpl-2+", "LGPL-2.0-or-later"),
    ("lgpl-2.0", "LGPL-2.0-only"),
    ("lgpl-2.0+", "LGPL-2.0-or-later"),
    ("lgpl-2.1", "LGPL-2.1-only"),
    ("lgpl-2.1+", "LGPL-2.1-or-later"),
    ("lgpl-3", "LGPL-3.0-only"),
    ("lgpl-3+", "LGPL-3.0-or-later"),
    ("lgpl-3.0", "LGPL-3.0-only"),
    ("lgpl-3.0+", "LGPL-3.0-or-later"),
    ("mpl-1.1", "MPL-1.1"),
    ("mpl-2.0", "MPL-2.0"),
    ("psf-2", "PSF-2.0"),
    ("zlib", "Zlib"),
];

/// Common SPDX license identifiers, as SPDX spells them: a short name
/// that is one of these (in any case) is taken as it.
const SPDX_IDS: &[&str] = &[
    "0BSD",
    "AGPL-3.0-only",
    "AGPL-3.0-or-later",
    "Apache-1.0",
    "Apache-1.1",
    "Apache-2.0",
    "Artistic-1.0",
    "Artistic-1.0-Perl",
    "Artistic-2.0",
    "Beerware",
    "BSD-1-Clause",
    "BSD-2-Clause",
    "BSD-3-Clause",
    "BSD-4-Clause",
    "BSL-1.0",
    "bzip2-1.0.6",
    "CC-BY-3.0",
    "CC-BY-4.0",
    "CC-BY-SA-3.0",
    "CC-BY-SA-4.0",
    "CC0-1.0",
    "CDDL-1.0",
    "curl",
    "EPL-1.0",
    "EPL-2.0",
    "FTL",
    "GFDL-1.2-only",
    "GFDL-1.2-or-later",
    "GFDL-1.3-only",
    "GFDL-1.3-or-later",
    "GPL-1.0-only",
    "GPL-1.0-or-later",
    "GPL-2.0-only",
    "GPL-2.0-or-later",
    "GPL-3.0-only",
    "GPL-3.0-or-later",
    "ISC",
    "LGPL-2.0-only",
    "LGPL-2.0-or-later",
    "LGPL-2.1-only",
    "LGPL-2.1-or-later",
    "LGPL-3.0-only",
    "LGPL-3.0-or-later",
    "Libpng",
    "libpng-2.0",
    "MIT",
    "MIT-0",
    "MPL-1.1",
    "MPL-2.0",
    "NTP",
    "OFL-1.1",
    "OpenSSL",
    "PSF-2.0",
    "Python-2.0",
    "Sleepycat",
    "Unicode-DFS-2016",
    "Unlicense",
    "WTFPL",
    "X11",
    "Zlib",
];

/// The SPDX identifier a DEP-5 short name is, if any.
fn spdx_license(name: &str) -> Option<&'static str> {
    let lower = name.to_ascii_lowercase();
    DEP5_TO_SPDX
        .iter()
        .find(|(k, _)| *k == lower)
        .map(|(_, v)| *v)
        .or_else(|| {
            SPDX_IDS
                .iter()
                .find(|id| id.eq_ignore_ascii_case(name))
                .copied()
        })
}

/// `LicenseRef-` and `name` made an idstring.
fn license_ref(name: &str) -> String {
    let mut out = String::from("LicenseRef-");
    for c in name.chars() {
        match c {
            c if c.is_ascii_alphanumeric() || c == '.' || c == '-' => out.push(c),
            '+' => out.push_str("plus"),
            _ => out.push('-'),
        }
    }
    out
}

/// One token of a DEP-5 `License:` line.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Word(String),
    And,
    Or,
    Comma,
}

/// The terms of license expressions as they are read: the references
/// made and each term's license.
#[derive(Debug, Default)]
struct Terms {
    refs: BTreeMap<String, String>,
    singles: Vec<Single>,
}

impl Terms {
    /// The SPDX form of the short name in `words` (emptied); `None` when
    /// there is none.
    fn take(&mut self, words: &mut Vec<String>) -> Option<String> {
        if words.is_empty() {
            return None;
        }
        let name = words.join(" ");
        words.clear();
        match spdx_license(&name) {
            Some(id) if !name.contains(' ') => {
                self.singles.push(Single::Id(id.to_owned()));
                Some(id.to_owned())
            }
            _ => {
                let r = license_ref(&name);
                self.refs.entry(r.clone()).or_insert_with(|| name.clone());
                self.singles.push(Single::Name(name));
                Some(r)
            }
        }
    }
}

/// An expression being built: its text, and whether it has an operator.
#[derive(Debug, Default)]
struct Expr {
    text: String,
    compound: bool,
}

impl Expr {
    /// Append `term`, joined by `op` when there is one.
    fn push(&mut self, op: Option<&str>, term: &str) {
        if let Some(op) = op {
            let _ = write!(self.text, " {op} ");
            self.compound = true;
        }
        self.text.push_str(term);
    }

    /// `self OP other`, each parenthesized if it has an operator.
    fn join(self, op: &str, other: Expr) -> Expr {
        let wrap = |e: Expr| {
            if e.compound {
                format!("({})", e.text)
            } else {
                e.text
            }
        };
        Expr {
            text: format!("{} {op} {}", wrap(self), wrap(other)),
            compound: true,
        }
    }
}

/// The SPDX expression of a DEP-5 `License:` line (its first line), with
/// the references it uses and whether it is one term; `None` when it is
/// not an expression (empty, or an operator without a name beside it).
fn dep5_expression(line: &str) -> Option<License> {
    let mut tokens = Vec::new();
    for (i, part) in line.split(',').enumerate() {
        if i > 0 {
            tokens.push(Token::Comma);
        }
        for w in part.split_whitespace() {
            tokens.push(if w.eq_ignore_ascii_case("and") {
                Token::And
            } else if w.eq_ignore_ascii_case("or") {
                Token::Or
            } else {
                Token::Word(w.to_owned())
            });
        }
    }
    let mut terms = Terms::default();
    // The expression so far (the groups before the last comma), the group
    // being read, the operator joining it to the expression, the operator
    // before the next term, and the words of that term.
    let mut done: Option<Expr> = None;
    let mut group = Expr::default();
    let mut join: Option<&str> = None;
    let mut pending: Option<&str> = None;
    let mut words = Vec::new();
    let mut after_comma = false;
    for t in tokens {
        let op = match t {
            Token::Word(w) => {
                words.push(w);
                after_comma = false;
                continue;
            }
            Token::And => "AND",
            Token::Or => "OR",
            Token::Comma => {
                let term = terms.take(&mut words)?;
                group.push(pending.take(), &term);
                // A comma without `and`/`or` after it is taken as `and`.
                let g = std::mem::take(&mut group);
                done = Some(match done {
                    None => g,
                    Some(d) => d.join(join.take().unwrap_or("AND"), g),
                });
                after_comma = true;
                continue;
            }
        };
        if after_comma {
            join = Some(op);
            after_comma = false;
            continue;
        }
        let term = terms.take(&mut words)?;
        group.push(pending.take(), &term);
        pending = Some(op);
    }
    let term = terms.take(&mut words)?;
    group.push(pending.take(), &term);
    let expr = match done {
        None => group,
        Some(d) => d.join(join.unwrap_or("AND"), group),
    };
    let single = if terms.singles.len() == 1 {
        terms.singles.pop()
    } else {
        None
    };
    Some(License {
        expression: expr.text,
        single,
        refs: terms.refs,
    })
}

/// The license a machine-readable copyright file declares: its `Files`
/// paragraphs' `License:` lines joined by `AND`; `None` when the file is
/// not machine-readable or a `Files` paragraph has no usable license.
fn dep5_license(text: &str) -> Option<License> {
    let stanzas = deb822::parse(text, Comments::Allowed).ok()?;
    let header = stanzas.first()?;
    header
        .get("Format")
        .or_else(|| header.get("Format-Specification"))?;
    let mut parts: BTreeMap<String, License> = BTreeMap::new();
    for s in stanzas.iter().filter(|s| s.get("Files").is_some()) {
        let line = s.get("License")?.lines().next()?.trim();
        let l = dep5_expression(line)?;
        parts.insert(l.expression.clone(), l);
    }
    match parts.len() {
        0 => None,
        1 => parts.into_values().next(),
        _ => {
            let mut refs = BTreeMap::new();
            let mut joined = Vec::new();
            for (e, l) in parts {
                refs.extend(l.refs);
                joined.push(if l.single.is_some() {
                    e
                } else {
                    format!("({e})")
                });
            }
            Some(License {
                expression: joined.join(" AND "),
                single: None,
                refs,
            })
        }
    }
}

// ---------------------------------------------------------------------
// Writing
// ---------------------------------------------------------------------

/// Write `bytes` at `path` through a temporary file beside it.
fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), SbomError> {
    use std::io::Write as _;
    let err = |source| SbomError::Write {
        path: path.to_owned(),
        source,
    };
    let name = path
        .file_name()
        .ok_or_else(|| err(io::Error::other("not a file name")))?;
    let tmp = path.with_file_name(format!(
        ".{}.rdebootstrap-tmp.{}",
        name.to_string_lossy(),
        std::process::id()
    ));
    // One left by a killed process that had this process's id is stale.
    let _ = std::fs::remove_file(&tmp);
    let done = (|| {
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if let Err(e) = done {
        let _ = std::fs::remove_file(&tmp);
        return Err(err(e));
    }
    Ok(())
}

#[cfg(test)]
mod tests;
