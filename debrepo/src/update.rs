//! `update`: from a manifest to a lock.
//!
//! 1. Each `[[archive]]` gets its URL ([`crate::origin::archive_url`]: its
//!    `url`, or the mirror the caller found for its vendor; through the
//!    snapshot template when a snapshot is asked for) and its trust (`signed-by`, else the vendor's shipped
//!    keyring, else an error saying how to add one).
//! 2. Every suite is fetched and verified ([`crate::archive::fetch_suite`]).
//! 3. All indices form one universe; archive priorities order candidates.
//! 4. Each spec is solved: its variant's packages (taken, as mmdebstrap
//!    does, from the native architecture of the primary suite: the first
//!    suite of the first archive), plus its includes, minus its excludes.
//! 5. Each spec's staged artifacts are recorded with their hashes
//!    ([`crate::artifact::lock_records`]; checked before anything is
//!    fetched, so a URL artifact without a hash fails at once).

use std::collections::HashMap;
use std::sync::Arc;

use crate::archive::{fetch_suite, snapshot_id, FetchedSuite, SuiteRequest, Trust, UpdateError};
use crate::cache::Cache;
use crate::lock::{spec_hash, Lock, LockedArchive, LockedLocal, LockedPackage, LockedSpec};
use crate::manifest::{spec_label, Manifest, SignedBy, SpecError, Variant};
use crate::origin::{archive_url, ArchiveSource, ArchiveUrlError, PackageOrigin};
use crate::packages::{BinaryPackage, PackagesParser, Priority};
use crate::solver::{solve, Request, SolveError, Universe};
use crate::transport::Transport;
use crate::vendor::Vendor;
use crate::verify::{load_keyring, Keyring, PgpVerifier, VerifyError};

/// Settings of an update.
#[derive(Debug, Clone, Default)]
pub struct UpdateOptions {
    /// Native architecture.
    pub arch: String,
    /// Mirror URLs for vendor names used with `mirror = "..."`.
    pub mirrors: HashMap<String, String>,
    /// A snapshot id (`YYYYMMDDTHHMMSSZ` or `today`) for archives with a
    /// `snapshots` template.
    pub snapshot: Option<String>,
    /// Skip signature checks (`--no-verify`).
    pub no_verify: bool,
    /// Unix seconds, for Valid-Until and `today`.
    pub now: i64,
}

/// An update failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{manifest}, archive at line {line}: no mirror for vendor '{vendor}': pass --mirror {vendor}=URL, set {}, or configure it in the host's APT sources", crate::mirror::env_var(vendor))]
    NoMirror {
        manifest: String,
        line: usize,
        vendor: String,
    },
    #[error("{manifest}, archive at line {line}: no key to verify {url}: add signed-by = \"KEYRING\" (or an armored key), or use mirror = \"debian\"|\"ubuntu\" for a vendor's shipped keyring")]
    NoKeys {
        manifest: String,
        line: usize,
        url: String,
    },
    #[error("{manifest}, archive at line {line}: keyring")]
    Keyring {
        manifest: String,
        line: usize,
        #[source]
        source: VerifyError,
    },
    #[error("{manifest}, archive at line {line}: snapshot")]
    Snapshot {
        manifest: String,
        line: usize,
        #[source]
        source: crate::archive::SnapshotError,
    },
    #[error("{manifest}, [[local]] at line {line}: {path}: {message}")]
    Local {
        manifest: String,
        line: usize,
        path: String,
        message: String,
    },
    #[error("{manifest}, [import] at line {line}: imports are read and checked but not applied yet, so the lock would miss the imported archives and specs: remove [import] (copy what it brings in) until import support lands")]
    ImportUnsupported { manifest: String, line: usize },
    #[error(transparent)]
    Fetch(#[from] UpdateError),
    #[error("{url}: invalid Packages index")]
    Index {
        url: String,
        #[source]
        source: crate::packages::PackagesError,
    },
    #[error(transparent)]
    Spec(#[from] SpecError),
    #[error(transparent)]
    Artifact(#[from] crate::artifact::ArtifactError),
    #[error("spec {spec}")]
    Solve {
        spec: String,
        #[source]
        source: SolveError,
    },
}

/// One fetched suite of a manifest's archive.
#[derive(Debug, Clone)]
pub struct FetchedArchive {
    /// Index of the `[[archive]]` in the manifest.
    pub decl: usize,
    pub suite: String,
    pub fetched: FetchedSuite,
    pub snapshot: Option<String>,
}

/// Fetch and verify every suite of every archive of `manifest`.
pub async fn fetch_archives(
    manifest: &Manifest,
    transport: &Transport,
    cache: Option<&Cache>,
    opts: &UpdateOptions,
) -> Result<Vec<FetchedArchive>, Error> {
    let mname = manifest.path.display().to_string();
    let snapshot = match &opts.snapshot {
        Some(id) => Some(snapshot_id(id, opts.now).map_err(|source| Error::Snapshot {
            manifest: mname.clone(),
            line: 0,
            source,
        })?),
        None => None,
    };
    // Every vendor archive's mirror is known before anything is fetched.
    for decl in &manifest.archives {
        if let (None, Some(v)) = (&decl.url, &decl.mirror) {
            if !opts.mirrors.contains_key(v) {
                return Err(Error::NoMirror {
                    manifest: mname.clone(),
                    line: decl.line,
                    vendor: v.clone(),
                });
            }
        }
    }
    // (decl index, suite, fetched)
    let mut fetched: Vec<FetchedArchive> = Vec::new();
    for (di, decl) in manifest.archives.iter().enumerate() {
        // The requested snapshot, for the archives that have a template.
        let snap = snapshot.clone().filter(|_| decl.snapshots.is_some());
        let url = archive_url(
            &ArchiveSource::of(decl),
            snap.as_deref(),
            decl.snapshots.as_deref(),
            &opts.mirrors,
        )
        .map_err(|e| match e {
            ArchiveUrlError::NoMirror { vendor } => Error::NoMirror {
                manifest: mname.clone(),
                line: decl.line,
                vendor,
            },
            ArchiveUrlError::Snapshot { source, .. } => Error::Snapshot {
                manifest: mname.clone(),
                line: decl.line,
                source,
            },
            ArchiveUrlError::NoSnapshotTemplate { .. } => {
                unreachable!("a snapshot is asked for only with a template")
            }
        })?;
        let trust = if opts.no_verify {
            Trust::NoVerify
        } else if decl.allow_insecure {
            Trust::AllowInsecure
        } else {
            let kerr = |source| Error::Keyring {
                manifest: mname.clone(),
                line: decl.line,
                source,
            };
            let keyring: Keyring = match (&decl.signed_by, &decl.mirror) {
                (Some(SignedBy::File(p)), _) => {
                    load_keyring(&manifest.dir().join(p)).map_err(kerr)?
                }
                (Some(SignedBy::Inline(k)), _) => {
                    Keyring::from_bytes(k.as_bytes(), &format!("the key in {mname}"))
                        .map_err(kerr)?
                }
                (None, Some(v)) => match v.strip_suffix("-security").unwrap_or(v).parse::<Vendor>()
                {
                    Ok(vendor) => vendor.keyring().map_err(kerr)?,
                    Err(_) => {
                        return Err(Error::NoKeys {
                            manifest: mname.clone(),
                            line: decl.line,
                            url: url.clone(),
                        })
                    }
                },
                (None, None) => {
                    return Err(Error::NoKeys {
                        manifest: mname.clone(),
                        line: decl.line,
                        url: url.clone(),
                    })
                }
            };
            Trust::Keys(Arc::new(PgpVerifier::new(keyring)))
        };
        let components = if decl.components.is_empty() {
            vec!["main".to_owned()]
        } else {
            decl.components.clone()
        };
        for suite in &decl.suites {
            let req = SuiteRequest {
                url: url.clone(),
                suite: suite.clone(),
                components: components.clone(),
                arch: opts.arch.clone(),
                foreign: manifest.foreign_architectures(),
                snapshot: snap.is_some(),
            };
            let s = fetch_suite(transport, cache, &req, &trust, opts.now).await?;
            fetched.push(FetchedArchive {
                decl: di,
                suite: suite.clone(),
                fetched: s,
                snapshot: snap.clone(),
            });
        }
    }
    Ok(fetched)
}

/// Fetch every archive of `manifest` and solve every spec into a lock.
pub async fn update(
    manifest: &Manifest,
    transport: &Transport,
    cache: Option<&Cache>,
    opts: &UpdateOptions,
) -> Result<Lock, Error> {
    let mname = manifest.path.display().to_string();
    if let Some(import) = &manifest.import {
        // Refused rather than ignored: a lock without what the import
        // brings would look complete and be wrong.
        return Err(Error::ImportUnsupported {
            manifest: mname,
            line: import.line,
        });
    }
    // Artifacts first: a URL without a hash or a local source that does
    // not match the manifest fails before the archives are fetched.
    let artifacts = crate::artifact::lock_records(manifest, transport).await?;
    let fetched = fetch_archives(manifest, transport, cache, opts).await?;
    // Local .debs: checked against their recorded hash, control data read.
    let mut locals = Vec::new();
    let mut controls = Vec::new();
    for l in &manifest.locals {
        let path = manifest.dir().join(&l.path);
        let fail = |message: String| Error::Local {
            manifest: mname.clone(),
            line: l.line,
            path: path.display().to_string(),
            message,
        };
        let bytes = std::fs::read(&path).map_err(|e| fail(format!("cannot read it ({e})")))?;
        let digest = crate::hash::sha256(&bytes);
        if let Some(want) = &l.hash {
            use base64::Engine as _;
            let have = format!(
                "sha256-{}",
                base64::engine::general_purpose::STANDARD.encode(digest.as_bytes())
            );
            if *want != have {
                return Err(fail(format!("its hash is {have}, the manifest says {want}; if the file was rebuilt, update the hash")));
            }
        }
        let reader = crate::deb::DebReader::new(bytes.as_slice())
            .map_err(|e| fail(format!("not a usable .deb ({e})")))?;
        let text = reader
            .control()
            .control_text()
            .map_err(|e| fail(format!("no control data ({e})")))?
            .to_owned();
        controls.push(text);
        locals.push(LockedLocal {
            path: l.path.display().to_string(),
            size: bytes.len() as u64,
            sha256: digest.to_string(),
        });
    }

    // One universe over every index; archive index = locked archive index,
    // local packages after the archives.
    let mut universe = Universe::with_foreign(&opts.arch, &manifest.foreign_architectures());
    for (i, text) in controls.iter().enumerate() {
        let mut pkg = crate::packages::parse_control(text).map_err(|source| Error::Index {
            url: manifest
                .dir()
                .join(&manifest.locals[i].path)
                .display()
                .to_string(),
            source,
        })?;
        pkg.filename = None;
        universe.add_local(fetched.len() + i, pkg);
    }
    let mut primary: Vec<PrimaryPackage<'_>> = Vec::new();
    for (ai, f) in fetched.iter().enumerate() {
        let s = &f.fetched;
        for idx in &s.indices {
            let url = s
                .location
                .url(&s.location.packages_path(&idx.component, &idx.arch));
            let pkgs: Vec<BinaryPackage<'_>> = PackagesParser::from_bytes(&idx.data)
                .and_then(|p| p.collect())
                .map_err(|source| Error::Index { url, source })?;
            if ai == 0 {
                primary.extend(pkgs.iter().map(PrimaryPackage::from));
            }
            universe.add(ai, manifest.archives[f.decl].priority, pkgs);
        }
    }

    transport.progress().debug(&format!(
        "universe: {} candidates for {}",
        universe.candidates().len(),
        universe.architectures().join(", ")
    ));
    let n_archives = fetched.len();
    let mut lock = Lock {
        arch: opts.arch.clone(),
        archives: fetched
            .iter()
            .map(|f| LockedArchive {
                source: ArchiveSource::of(&manifest.archives[f.decl]),
                suite: f.suite.clone(),
                snapshot: f.snapshot.clone(),
                release_sha256: f.fetched.release_sha256.to_string(),
                signer: f.fetched.signer.as_ref().map(|v| v.signer.clone()),
            })
            .collect(),
        locals,
        specs: Vec::new(),
        artifacts,
    };
    for name in manifest.spec_names() {
        let resolved = manifest.resolve(&name)?;
        let mut install = variant_packages(&primary, &opts.arch, resolved.variant);
        install.extend(resolved.include.iter().cloned());
        let request = Request {
            install,
            forbid: resolved.exclude.clone(),
            recommends: resolved.recommends,
            foreign: resolved.foreign_architectures.clone(),
        };
        let started = std::time::Instant::now();
        let chosen = solve(&universe, &request).map_err(|source| Error::Solve {
            spec: spec_label(&name),
            source,
        })?;
        transport.progress().debug(&format!(
            "spec {}: {} requirements, {} packages chosen in {:.1?}",
            spec_label(&name),
            request.install.len(),
            chosen.len(),
            started.elapsed()
        ));
        let packages = chosen
            .iter()
            .map(|c| {
                // Local packages carry their file's identity, archive
                // packages their index record's.
                let origin = match c.archive.checked_sub(n_archives) {
                    Some(i) => PackageOrigin::Local(i),
                    None => PackageOrigin::Archive(c.archive),
                };
                let (path, size, sha256) = match origin {
                    PackageOrigin::Local(i) => {
                        let l = &lock.locals[i];
                        (l.path.clone(), l.size, l.sha256.clone())
                    }
                    PackageOrigin::Archive(_) => (
                        c.package.filename.unwrap_or_default().to_owned(),
                        c.package.size.unwrap_or(0),
                        c.package.sha256.map(|h| h.to_string()).unwrap_or_default(),
                    ),
                };
                LockedPackage {
                    name: c.package.name.to_owned(),
                    version: c.package.version.to_string(),
                    arch: c.package.architecture.to_owned(),
                    origin,
                    path,
                    size,
                    sha256,
                }
            })
            .collect();
        lock.specs.push(LockedSpec {
            hash: spec_hash(manifest, &resolved),
            name,
            packages,
        });
    }
    Ok(lock)
}

/// What variant selection needs of a primary-suite record (kept instead of
/// a copy of the whole record).
#[derive(Debug, Clone, Copy)]
pub struct PrimaryPackage<'a> {
    pub name: &'a str,
    pub architecture: &'a str,
    pub essential: bool,
    pub priority: Option<Priority<'a>>,
}

impl<'a> From<&BinaryPackage<'a>> for PrimaryPackage<'a> {
    fn from(p: &BinaryPackage<'a>) -> Self {
        PrimaryPackage {
            name: p.name,
            architecture: p.architecture,
            essential: p.essential,
            priority: p.priority,
        }
    }
}

/// The packages a variant brings in, from the primary suite's index
/// (native architecture and `all`), as mmdebstrap selects them.
pub fn variant_packages(
    primary: &[PrimaryPackage<'_>],
    arch: &str,
    variant: Variant,
) -> Vec<String> {
    let native =
        |p: &&PrimaryPackage<'_>| p.architecture == arch || p.architecture == crate::arch::ALL;
    let prio =
        |p: &PrimaryPackage<'_>, set: &[Priority<'_>]| p.priority.is_some_and(|x| set.contains(&x));
    let mut out: Vec<String> = primary
        .iter()
        .filter(native)
        .filter(|p| match variant {
            Variant::Custom => false,
            Variant::Essential | Variant::Buildd => p.essential,
            Variant::Required | Variant::Minbase => p.essential || prio(p, &[Priority::Required]),
            Variant::Important => {
                p.essential || prio(p, &[Priority::Required, Priority::Important])
            }
            Variant::Standard => {
                p.essential
                    || prio(
                        p,
                        &[Priority::Required, Priority::Important, Priority::Standard],
                    )
            }
        })
        .map(|p| p.name.to_owned())
        .collect();
    match variant {
        Variant::Minbase => out.push("apt".into()),
        Variant::Buildd => out.extend(["apt".to_owned(), "build-essential".to_owned()]),
        _ => {}
    }
    out.sort();
    out.dedup();
    out
}
