//! `update`: from a manifest to a lock.
//!
//! [`update`] runs these steps; only the fetch is async, the others are
//! plain functions of what the steps before them gave:
//! 1. Each spec's staged artifacts are recorded with their hashes
//!    ([`crate::artifact::lock_records`]; checked before anything is
//!    fetched, so a URL artifact without a hash fails at once).
//! 2. [`read_locals`]: each `[[local]]` .deb is checked against its
//!    recorded hash and its control data read.
//! 3. [`fetch_archives`]: each `[[archive]]` gets its URL
//!    ([`crate::origin::archive_url`]: its `url`, or the mirror the caller
//!    found for its vendor; through the snapshot template when a snapshot
//!    is asked for) and its trust (`signed-by`, else the vendor's shipped
//!    keyring, else an error saying how to add one), and every suite is
//!    fetched and verified ([`crate::archive::fetch_suite`]).
//! 4. [`Candidates::new`]: all indices and local packages form one
//!    universe; archive priorities order candidates, local packages win.
//! 5. [`solve_specs`]: each spec is solved: its variant's packages (taken,
//!    as mmdebstrap does, from the native architecture of the primary
//!    suite: the first suite of the first archive), plus its includes,
//!    minus its excludes.
//! 6. [`assemble_lock`]: the archives, locals, specs and artifacts make
//!    the lock.
//!
//! An import (`[import]`, loaded and checked by
//! [`crate::manifest::Manifest::load`], see [`crate::manifest::import`])
//! adds a step between 3 and 4: the imported manifest's lock is read (it
//! must exist and be fresh, [`crate::lock::imported_lock`]), its local
//! .debs are read and its archives fetched at the snapshot its lock
//! records, and each fetched Release and local .deb must be the one that
//! lock was made from (else the error says to update the imported
//! manifest first). They join the universe before this manifest's
//! ([`ImportedUniverse`]); a spec extending imported specs requires every
//! package the imported lock has for them at its locked version (strict
//! additivity across the boundary). The lock keeps only this manifest's
//! archives and locals; imported packages are written by their origin in
//! the imported lock, and the lock records the import's fingerprint
//! ([`crate::lock::LockedImport`]).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use crate::archive::{fetch_suite, snapshot_id, FetchedSuite, SuiteRequest, Trust, UpdateError};
use crate::cache::Cache;
use crate::lock::{
    spec_hash, Lock, LockedArchive, LockedArtifact, LockedLocal, LockedPackage, LockedSpec,
};
use crate::manifest::{spec_label, Manifest, SignedBy, SpecError, Variant};
use crate::origin::{archive_url, ArchiveSource, ArchiveUrlError, PackageOrigin};
use crate::packages::{BinaryPackage, Priority};
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
    /// Unix seconds, for Valid-Until, a Release's Date and `today`.
    pub now: i64,
    /// The archives of the lock this update replaces (none: no check): a
    /// fetched Release dated before the one recorded for the same archive
    /// and suite is refused ([`Error::OlderRelease`], see
    /// [`check_not_older`]).
    pub locked_archives: Vec<LockedArchive>,
    /// Accept a Release older than the lock's (`--allow-older-release`).
    pub allow_older_release: bool,
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
    /// The snapshot asked for ([`UpdateOptions::snapshot`]) is no id.
    #[error("the snapshot to fetch")]
    SnapshotId(#[source] crate::archive::SnapshotError),
    /// A snapshot was asked for, but no archive has a `snapshots`
    /// template to fetch it through: it would change nothing.
    #[error("{manifest}: a snapshot was asked for, but no [[archive]] has a 'snapshots' template (a URL with {placeholder}) to fetch it through; add one, or fetch without a snapshot", placeholder = crate::archive::SNAPSHOT_PLACEHOLDER)]
    NoSnapshotTemplate { manifest: String },
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
    #[error(transparent)]
    ImportLock(#[from] crate::lock::ImportLockError),
    #[error("{lock} was made from {what}, which is not what {imported} gives now: run 'rdebootstrap update' in {dir} first, then here")]
    ImportMoved {
        lock: std::path::PathBuf,
        imported: std::path::PathBuf,
        dir: std::path::PathBuf,
        what: String,
    },
    #[error("{url}: the Release file of suite {suite} is dated {}, before the one the lock was made from ({}): the mirror is behind, or serves an old Release again (a replay); use an up-to-date mirror or wait for this one to catch up; to go back on purpose, fetch a snapshot (--snapshot) or pass --allow-older-release", crate::release::date::format(*date), crate::release::date::format(*recorded))]
    OlderRelease {
        /// The suite directory's URL.
        url: String,
        suite: String,
        /// The fetched Release's `Date`.
        date: i64,
        /// The `Date` of the Release the lock records.
        recorded: i64,
    },
    #[error("{url}: suite {suite} has a Release (sha256 {now}) other than the one the lock was made from ({locked}), and the cache does not hold that one: run 'rdebootstrap update'")]
    LockMoved {
        /// The suite directory's URL.
        url: String,
        suite: String,
        locked: String,
        now: String,
    },
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
        Some(id) => Some(snapshot_id(id, opts.now).map_err(Error::SnapshotId)?),
        None => None,
    };
    if snapshot.is_some() && manifest.archives.iter().all(|d| d.snapshots.is_none()) {
        return Err(Error::NoSnapshotTemplate { manifest: mname });
    }
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
    // (decl index, suite, snapshot) of each suite's task, in order.
    let mut wanted: Vec<(usize, String, Option<String>)> = Vec::new();
    let mut suites = tokio::task::JoinSet::new();
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
            let (transport, cache, trust, now) =
                (transport.clone(), cache.cloned(), trust.clone(), opts.now);
            let k = wanted.len();
            suites.spawn(async move {
                (
                    k,
                    fetch_suite(&transport, cache.as_ref(), &req, &trust, now).await,
                )
            });
            wanted.push((di, suite.clone(), snap.clone()));
        }
    }
    // Every suite at once (a round trip each to a remote mirror, and the
    // CPU of verifying and reading each): in manifest order afterwards,
    // and the first failure in that order is the one reported.
    let mut results: Vec<Option<Result<FetchedSuite, UpdateError>>> =
        (0..wanted.len()).map(|_| None).collect();
    while let Some(joined) = suites.join_next().await {
        let (k, r) = joined.unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()));
        results[k] = Some(r);
    }
    let mut fetched: Vec<FetchedArchive> = Vec::new();
    for ((decl, suite, snapshot), r) in wanted.into_iter().zip(results) {
        fetched.push(FetchedArchive {
            decl,
            suite,
            fetched: r.expect("every suite's task was joined")?,
            snapshot,
        });
    }
    Ok(fetched)
}

/// The suites `lock` was made from, for reading the lock back (`why`,
/// `why-not`): from the cache alone when it holds every locked Release
/// and the indices it lists ([`crate::archive::fetch::cached_suite`]; no
/// network), else fetched as [`fetch_archives`] fetches them, at the
/// lock's snapshot, each checked to be the Release the lock records
/// ([`Error::LockMoved`] if not). `opts.snapshot` is not used.
pub async fn locked_suites(
    manifest: &Manifest,
    lock: &Lock,
    transport: &Transport,
    cache: Option<&Cache>,
    opts: &UpdateOptions,
) -> Result<Vec<FetchedArchive>, Error> {
    if let Some(cache) = cache {
        if let Some(fetched) = cached_locked_suites(manifest, lock, cache, opts)? {
            transport
                .progress()
                .debug("the lock's Release files and indices: all from the cache");
            return Ok(fetched);
        }
    }
    let opts = UpdateOptions {
        snapshot: lock.archives.iter().find_map(|a| a.snapshot.clone()),
        no_verify: opts.no_verify || lock_skips_signatures(manifest, lock),
        ..opts.clone()
    };
    let fetched = fetch_archives(manifest, transport, cache, &opts).await?;
    for (f, locked) in fetched.iter().zip(&lock.archives) {
        let now = f.fetched.release_sha256.to_string();
        if now != locked.release_sha256 || f.suite != locked.suite {
            return Err(Error::LockMoved {
                url: f.fetched.location.dir(),
                suite: f.suite.clone(),
                locked: locked.release_sha256.clone(),
                now,
            });
        }
    }
    Ok(fetched)
}

/// Whether fetching the suites a lock was made from skips signatures:
/// only when a suite was locked without one though its archive is signed
/// (`update --no-verify`); allow-insecure archives are fetched as update
/// fetched them (their unsigned Release). Each suite is then checked to be
/// the locked Release by its hash.
pub fn lock_skips_signatures(manifest: &Manifest, lock: &Lock) -> bool {
    lock.archives.iter().any(|a| {
        a.signer.is_none()
            && !manifest
                .archives
                .iter()
                .any(|d| d.allow_insecure && a.source.is_declared_by(d))
    })
}

/// [`locked_suites`] from the cache; `None` if anything is missing.
fn cached_locked_suites(
    manifest: &Manifest,
    lock: &Lock,
    cache: &Cache,
    opts: &UpdateOptions,
) -> Result<Option<Vec<FetchedArchive>>, Error> {
    let mut out = Vec::new();
    for a in &lock.archives {
        let Some(di) = manifest
            .archives
            .iter()
            .position(|d| a.source.is_declared_by(d) && d.suites.contains(&a.suite))
        else {
            return Ok(None);
        };
        let decl = &manifest.archives[di];
        let Ok(sha) = a.release_sha256.parse::<crate::hash::Sha256>() else {
            return Ok(None);
        };
        // The URL only names the suite in messages: the lock's source
        // stands in for a vendor mirror not configured here.
        let url = archive_url(
            &a.source,
            a.snapshot.as_deref(),
            decl.snapshots.as_deref(),
            &opts.mirrors,
        )
        .unwrap_or_else(|_| a.source.to_string());
        let req = SuiteRequest {
            url,
            suite: a.suite.clone(),
            components: if decl.components.is_empty() {
                vec!["main".to_owned()]
            } else {
                decl.components.clone()
            },
            arch: lock.arch.clone(),
            foreign: manifest.foreign_architectures(),
            snapshot: a.snapshot.is_some(),
        };
        match crate::archive::fetch::cached_suite(cache, &req, &sha)? {
            Some(fetched) => out.push(FetchedArchive {
                decl: di,
                suite: a.suite.clone(),
                fetched,
                snapshot: a.snapshot.clone(),
            }),
            None => return Ok(None),
        }
    }
    Ok(Some(out))
}

/// Fetch every archive of `manifest` and solve every spec into a lock.
///
/// The steps, each but the fetch synchronous: [`crate::artifact::lock_records`],
/// [`read_locals`], [`fetch_archives`], [`Candidates::new`],
/// [`solve_specs`], [`assemble_lock`].
pub async fn update(
    manifest: &Manifest,
    transport: &Transport,
    cache: Option<&Cache>,
    opts: &UpdateOptions,
) -> Result<Lock, Error> {
    let imported_lock = crate::lock::imported_lock(manifest, &opts.arch)?;
    // Artifacts first: a URL without a hash or a local source that does
    // not match the manifest fails before the archives are fetched; so
    // does a local .deb.
    let artifacts = crate::artifact::lock_records(manifest, transport).await?;
    let locals = read_locals(manifest)?;
    let imported_parts = match (manifest.imported.as_deref(), &imported_lock) {
        (Some(imported), Some(il)) => {
            let ilocals = read_locals(imported)?;
            // At the imported lock's snapshot, whatever this update asks.
            let iopts = UpdateOptions {
                snapshot: il.lock.archives.iter().find_map(|a| a.snapshot.clone()),
                ..opts.clone()
            };
            let ifetched = fetch_archives(imported, transport, cache, &iopts).await?;
            check_imported(imported, il, &ifetched, &ilocals)?;
            Some((imported, il, ifetched, ilocals))
        }
        _ => None,
    };
    let fetched = fetch_archives(manifest, transport, cache, opts).await?;
    check_not_older(
        manifest,
        &fetched,
        cache,
        opts,
        transport.progress().as_ref(),
    )?;
    let imported_universe = imported_parts
        .as_ref()
        .map(|(manifest, il, fetched, locals)| ImportedUniverse {
            manifest,
            lock: &il.lock,
            fetched,
            locals,
        });
    let candidates =
        Candidates::with_import(manifest, &opts.arch, imported_universe, &fetched, &locals)?;
    transport.progress().debug(&format!(
        "universe: {} candidates for {}",
        candidates.universe.candidates().len(),
        candidates.universe.architectures().join(", ")
    ));
    let specs = solve_specs(
        manifest,
        &candidates,
        &locals,
        &opts.arch,
        transport.progress().as_ref(),
    )?;
    let mut lock = assemble_lock(manifest, &opts.arch, &fetched, locals, specs, artifacts);
    lock.import = match (&manifest.import, &imported_lock) {
        (Some(import), Some(il)) => Some(crate::lock::LockedImport {
            path: match (&import.git, &import.path) {
                (Some(g), _) => g.path.to_string(),
                (None, Some(p)) => p.display().to_string(),
                (None, None) => String::new(),
            },
            git_rev: import.git.as_ref().map(|g| g.rev.clone()),
            fingerprint: il.fingerprint.clone(),
        }),
        _ => None,
    };
    Ok(lock)
}

/// Refuse a fetched Release dated before the one the lock recorded for
/// the same archive and suite (`opts.locked_archives`), as apt never takes
/// a Release older than the one it has: a mirror that went back, or an old
/// Release replayed with its still good signature, would otherwise lock
/// older versions without a word.
///
/// The lock names the Release it was made from by its SHA256; its `Date`
/// comes from the cache, where [`fetch_suite`] keeps every Release it
/// accepted. Without a cache, or with one that lacks that Release (made on
/// another machine, or cleaned), there is nothing to compare with and the
/// check is skipped (said on the debug channel). Not checked for a suite
/// fetched at a snapshot (going back is what a snapshot is asked for), nor
/// with `opts.allow_older_release` (then a warning says what was allowed).
pub fn check_not_older(
    manifest: &Manifest,
    fetched: &[FetchedArchive],
    cache: Option<&Cache>,
    opts: &UpdateOptions,
    progress: &dyn crate::progress::Progress,
) -> Result<(), Error> {
    for f in fetched {
        let source = ArchiveSource::of(&manifest.archives[f.decl]);
        let Some(locked) = opts
            .locked_archives
            .iter()
            .find(|a| a.source == source && a.suite == f.suite)
        else {
            continue;
        };
        let url = f.fetched.location.dir();
        if f.snapshot.is_some() || f.fetched.release_sha256.to_string() == locked.release_sha256 {
            continue;
        }
        let Some(date) = f.fetched.release.date else {
            continue;
        };
        let recorded = match cache {
            Some(cache) => cached_release_date(cache, &locked.release_sha256),
            None => None,
        };
        let Some(recorded) = recorded else {
            progress.debug(&format!(
                "{url}: the Release the lock records (sha256 {}) is not in the cache: cannot check that the fetched one is not older",
                locked.release_sha256
            ));
            continue;
        };
        if date >= recorded {
            continue;
        }
        let older = Error::OlderRelease {
            url,
            suite: f.suite.clone(),
            date,
            recorded,
        };
        if opts.allow_older_release {
            progress.warn(&format!("--allow-older-release: {older}"));
            continue;
        }
        return Err(older);
    }
    Ok(())
}

/// The `Date` of a Release document (InRelease or Release) the cache holds
/// under `sha256` (hex); `None` if it is not there or not readable.
fn cached_release_date(cache: &Cache, sha256: &str) -> Option<i64> {
    let sha: crate::hash::Sha256 = sha256.parse().ok()?;
    let bytes = cache.read(&sha, None).ok()??;
    let text = String::from_utf8(bytes).ok()?;
    let release = if text.starts_with("-----BEGIN PGP SIGNED MESSAGE-----") {
        crate::release::Release::parse_inrelease(&text).ok()?.0
    } else {
        crate::release::Release::parse(&text).ok()?
    };
    release.date
}

/// Check that what was fetched and read of the imported manifest is what
/// its lock was made from: the same suites at the same Release, the same
/// local .debs.
fn check_imported(
    imported: &Manifest,
    il: &crate::lock::ImportedLock,
    fetched: &[FetchedArchive],
    locals: &[LocalPackage],
) -> Result<(), Error> {
    let moved = |what: String| Error::ImportMoved {
        lock: il.path.clone(),
        imported: imported.path.clone(),
        dir: imported.dir().to_owned(),
        what,
    };
    if fetched.len() != il.lock.archives.len() {
        return Err(moved(format!(
            "{} archive suites (the manifest has {})",
            il.lock.archives.len(),
            fetched.len()
        )));
    }
    for (f, a) in fetched.iter().zip(&il.lock.archives) {
        if f.suite != a.suite || f.fetched.release_sha256.to_string() != a.release_sha256 {
            return Err(moved(format!(
                "suite {} of {} at Release sha256 {}",
                a.suite, a.source, a.release_sha256
            )));
        }
    }
    if locals.len() != il.lock.locals.len()
        || locals
            .iter()
            .zip(&il.lock.locals)
            .any(|(l, r)| l.locked != *r)
    {
        return Err(moved("other local .debs".into()));
    }
    Ok(())
}

/// A `[[local]]` .deb as [`read_locals`] found it.
#[derive(Debug, Clone)]
pub struct LocalPackage {
    /// What the lock records of it.
    pub locked: LockedLocal,
    /// Its control data (`control` of its control archive).
    pub control: String,
}

/// Read every `[[local]]` .deb of `manifest`: each is checked against the
/// hash the manifest records, and its control data read.
pub fn read_locals(manifest: &Manifest) -> Result<Vec<LocalPackage>, Error> {
    let mname = manifest.path.display().to_string();
    let mut locals = Vec::new();
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
                return Err(fail(format!("its hash is {have}, the manifest says {want}; if the file was rebuilt, record its new hash with 'rdebootstrap update --locals'")));
            }
        }
        let reader = crate::deb::DebReader::new(bytes.as_slice())
            .map_err(|e| fail(format!("not a usable .deb ({e})")))?;
        let control = reader
            .control()
            .control_text()
            .map_err(|e| fail(format!("no control data ({e})")))?
            .to_owned();
        locals.push(LocalPackage {
            locked: LockedLocal {
                path: l.path.display().to_string(),
                size: bytes.len() as u64,
                sha256: digest.to_string(),
            },
            control,
        });
    }
    Ok(locals)
}

/// What an import brings to the universe: the imported manifest, its
/// lock, and its fetched suites and local packages (checked against that
/// lock).
#[derive(Clone, Copy)]
pub struct ImportedUniverse<'a> {
    pub manifest: &'a Manifest,
    pub lock: &'a Lock,
    pub fetched: &'a [FetchedArchive],
    pub locals: &'a [LocalPackage],
}

/// What the specs are solved from: one universe over every fetched index
/// and every local package, and the primary suite's records for variant
/// selection.
///
/// Universe indices, mapped to origins by [`Candidates::origin`]: the
/// imported suites, this manifest's suites, the imported local packages,
/// this manifest's local packages.
pub struct Candidates<'a> {
    pub universe: Universe<'a>,
    /// The records of the primary suite (the first suite of the first
    /// archive, the imported manifest's when there is an import), for
    /// [`variant_packages`].
    pub primary: Vec<PrimaryPackage<'a>>,
    /// The origin of each universe index.
    origins: Vec<PackageOrigin>,
    /// The import, if any.
    imported: Option<ImportedUniverse<'a>>,
}

impl<'a> Candidates<'a> {
    /// Parse every fetched index and every local package's control data
    /// into one universe; archive priorities order the candidates, local
    /// packages come before any archive's.
    pub fn new(
        manifest: &Manifest,
        arch: &str,
        fetched: &'a [FetchedArchive],
        locals: &'a [LocalPackage],
    ) -> Result<Candidates<'a>, Error> {
        Candidates::with_import(manifest, arch, None, fetched, locals)
    }

    /// [`Candidates::new`] with what an import brings, before this
    /// manifest's archives.
    pub fn with_import(
        manifest: &Manifest,
        arch: &str,
        imported: Option<ImportedUniverse<'a>>,
        fetched: &'a [FetchedArchive],
        locals: &'a [LocalPackage],
    ) -> Result<Candidates<'a>, Error> {
        let mut foreign = manifest.foreign_architectures();
        if let Some(i) = &imported {
            foreign.extend(i.manifest.foreign_architectures());
            foreign.sort();
            foreign.dedup();
        }
        let mut universe = Universe::with_foreign(arch, &foreign);
        let mut origins = Vec::new();
        // (manifest, suites, origin of the k-th suite)
        let mut suites: Vec<(&Manifest, &'a [FetchedArchive], bool)> = Vec::new();
        let mut local_sets: Vec<(&Manifest, &'a [LocalPackage], bool)> = Vec::new();
        if let Some(i) = &imported {
            suites.push((i.manifest, i.fetched, true));
            local_sets.push((i.manifest, i.locals, true));
        }
        suites.push((manifest, fetched, false));
        local_sets.push((manifest, locals, false));
        let mut primary: Vec<PrimaryPackage<'a>> = Vec::new();
        // apt's numbering of names, from the lists the record tables keep,
        // made on another thread while the universe is built; used only if
        // every candidate came from a listed index (see
        // `Universe::index_listed`).
        let listed: Option<Vec<Vec<&'a str>>> = suites
            .iter()
            .flat_map(|(_, list, _)| list.iter())
            .flat_map(|f| &f.fetched.indices)
            .map(|idx| idx.table.as_ref().and_then(|t| t.names(&idx.data)))
            .collect();
        std::thread::scope(|scope| -> Result<(), Error> {
            let numbering = listed.as_ref().map(|lists| {
                scope.spawn(|| crate::solver::apt::number_listed(lists.iter().map(Vec::as_slice)))
            });
            for (owner, list, is_imported) in suites.iter().copied() {
                for (k, f) in list.iter().enumerate() {
                    let index = origins.len();
                    origins.push(if is_imported {
                        PackageOrigin::Imported(k)
                    } else {
                        PackageOrigin::Archive(k)
                    });
                    let s = &f.fetched;
                    for idx in &s.indices {
                        let url = s
                            .location
                            .url(&s.location.packages_path(&idx.component, &idx.arch));
                        let priority = owner.archives[f.decl].priority;
                        // Room for as many records as the index holds (or
                        // about as many: trixie's average 830 bytes), so
                        // nothing is rehashed as it grows.
                        let room = idx.table.as_ref().map_or(idx.data.len() / 640, |t| t.len());
                        universe.reserve(room);
                        let mark = universe.mark();
                        let mut each = |p: BinaryPackage<'a>| {
                            if index == 0 {
                                primary.push(PrimaryPackage::from(&p));
                            }
                            universe.add_one(index, priority, p);
                        };
                        match &idx.table {
                            // Parsed before: the records from the table.
                            Some(table) => table.records(&idx.data).for_each(each),
                            // Records go into the universe as they are parsed:
                            // no list of a whole index is held beside it.
                            None => {
                                crate::packages::parse_index(&idx.data, &mut each)
                                    .map_err(|source| Error::Index { url, source })?;
                            }
                        }
                        universe.index_listed(mark, listed.is_some());
                    }
                }
            }
            if let Some(handle) = numbering {
                let order = handle
                    .join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
                universe.set_listed_order(order);
            }
            Ok(())
        })?;
        for (owner, list, is_imported) in local_sets {
            for (k, l) in list.iter().enumerate() {
                let index = origins.len();
                origins.push(match (is_imported, &imported) {
                    (true, Some(i)) => PackageOrigin::Imported(
                        PackageOrigin::Local(k).lock_index(i.lock.archives.len()),
                    ),
                    _ => PackageOrigin::Local(k),
                });
                let mut pkg =
                    crate::packages::parse_control(&l.control).map_err(|source| Error::Index {
                        url: owner.dir().join(&l.locked.path).display().to_string(),
                        source,
                    })?;
                pkg.filename = None;
                universe.add_local(index, pkg);
            }
        }
        Ok(Candidates {
            universe,
            primary,
            origins,
            imported,
        })
    }

    /// Where a candidate of universe index `index` comes from.
    pub fn origin(&self, index: usize) -> PackageOrigin {
        self.origins[index]
    }

    /// The imported local package of an imported origin, if it is one.
    fn imported_local(&self, origin: PackageOrigin) -> Option<&'a LocalPackage> {
        let (PackageOrigin::Imported(k), Some(i)) = (origin, &self.imported) else {
            return None;
        };
        match PackageOrigin::from_lock_index(k, i.lock.archives.len(), i.lock.locals.len()) {
            Some(PackageOrigin::Local(j)) => i.locals.get(j),
            _ => None,
        }
    }

    /// The requirements pinning what the imported lock has for the
    /// imported specs in `chain`: each package at its locked version.
    fn imported_pins(&self, chain: &[String], arch: &str) -> Vec<String> {
        let mut pins: Vec<String> = self
            .imported_pins_by_spec(chain, arch)
            .into_iter()
            .map(|(_, pin)| pin)
            .collect();
        pins.sort();
        pins.dedup();
        pins
    }

    /// The imported lock's pins for the specs of `chain`, each with the imported
    /// spec whose lock has it, `(spec, requirement)`, in `chain` order.
    pub fn imported_pins_by_spec(&self, chain: &[String], arch: &str) -> Vec<(String, String)> {
        let Some(i) = &self.imported else {
            return Vec::new();
        };
        chain
            .iter()
            .filter_map(|name| i.lock.spec(name).map(|s| (name, s)))
            .flat_map(|(name, s)| s.packages.iter().map(move |p| (name, p)))
            .map(|(name, p)| {
                let pin = if p.arch == arch || p.arch == crate::arch::ALL {
                    format!("{} (= {})", p.name, p.version)
                } else {
                    format!("{}:{} (= {})", p.name, p.arch, p.version)
                };
                (name.clone(), pin)
            })
            .collect()
    }
}

/// Solve every spec of `manifest`: its variant's packages from the primary
/// suite, plus its includes, minus its excludes. Local packages carry
/// their file's identity (`locals`, as [`read_locals`] gave them, in the
/// order [`Candidates::new`] was given them), archive packages their index
/// record's.
pub fn solve_specs(
    manifest: &Manifest,
    candidates: &Candidates<'_>,
    locals: &[LocalPackage],
    arch: &str,
    progress: &dyn crate::progress::Progress,
) -> Result<Vec<LockedSpec>, Error> {
    let mut specs = Vec::new();
    for name in manifest.spec_names() {
        let resolved = manifest.resolve(&name)?;
        let mut install = variant_packages(&candidates.primary, arch, resolved.variant);
        install.extend(resolved.include.iter().cloned());
        install.extend(candidates.imported_pins(&resolved.imported_chain, arch));
        let request = Request {
            install,
            forbid: resolved.exclude.clone(),
            recommends: resolved.recommends,
            foreign: resolved.foreign_architectures.clone(),
        };
        let started = std::time::Instant::now();
        let chosen = solve(&candidates.universe, &request).map_err(|source| Error::Solve {
            spec: spec_label(&name),
            source,
        })?;
        progress.debug(&format!(
            "spec {}: {} requirements, {} packages chosen in {:.1?}",
            spec_label(&name),
            request.install.len(),
            chosen.len(),
            started.elapsed()
        ));
        let packages = chosen
            .iter()
            .map(|c| {
                let origin = candidates.origin(c.archive);
                let local = match origin {
                    PackageOrigin::Local(i) => Some(&locals[i]),
                    o => candidates.imported_local(o),
                };
                let (path, size, sha256) = match local {
                    Some(l) => {
                        let l = &l.locked;
                        (l.path.clone(), l.size, l.sha256.clone())
                    }
                    None => (
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
        specs.push(LockedSpec {
            hash: spec_hash(manifest, &resolved),
            name,
            packages,
        });
    }
    Ok(specs)
}

/// The lock of an update: the fetched suites as its archives (with the
/// manifest's source of each, and the snapshot and Release they were
/// fetched at), the local packages, the solved specs and the artifacts'
/// records.
pub fn assemble_lock(
    manifest: &Manifest,
    arch: &str,
    fetched: &[FetchedArchive],
    locals: Vec<LocalPackage>,
    specs: Vec<LockedSpec>,
    artifacts: BTreeMap<String, Vec<LockedArtifact>>,
) -> Lock {
    Lock {
        arch: arch.to_owned(),
        import: None,
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
        locals: locals.into_iter().map(|l| l.locked).collect(),
        specs,
        artifacts,
    }
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

#[cfg(test)]
mod tests;
