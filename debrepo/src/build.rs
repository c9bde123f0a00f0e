//! `build`: from a locked spec to a root tree.
//!
//! 1. [`download`]: every package of the spec, through the cache, several
//!    at once; each is checked against the lock's size and SHA256 (local
//!    .debs against their recorded hash), and decoded into the cache
//!    while the others download ([`ahead`]).
//! 2. [`unpack`]: the .debs unpacked into the tree on several threads
//!    ([`crate::unpack`]; base-files first and alone, so that its
//!    `bin -> usr/bin` links are there before any path goes through
//!    them), skipping what the spec's path filters exclude and writing
//!    the filters into the tree's dpkg configuration
//!    ([`crate::pathfilter`]), then the dpkg database written with every
//!    package unpacked ([`crate::dpkgdb`]). [`unpack_staged`] does it in
//!    two steps, running the essential set's configuration while the
//!    rest is unpacked into a stage ([`crate::unpack::Unpacker::stage_into`])
//!    and merged in.
//!
//! 3. [`crate::configure::configure`] then runs the maintainer scripts in
//!    the sandbox helper ([`check_configurable`] first tells, before
//!    anything is downloaded, whether the spec's packages can be
//!    configured at all).
//! 4. [`finish_tree`] leaves what mmdebstrap leaves for a plain `chroot`:
//!    `/dev`'s nodes and links, `/etc/fstab`, the host's `/etc/hostname`
//!    and `/etc/resolv.conf`.
//!
//! A tree being built holds [`INCOMPLETE`] at its root from
//! [`prepare_target`] until [`finish_target`], so a build that failed or
//! was killed cannot pass for a finished one, and is not built over.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use crate::archive::pool::{fetch_to_cache, PoolError};
use crate::cache::{Cache, DecodedWriter};
use crate::deb::{DataArchive, DebError, DebFileError, DebFileErrorKind, DebReader};
use crate::dpkgdb::{self, DbError, DbPackage};
use crate::hash::Sha256;
use crate::lock::{Lock, LockedPackage, LockedSpec};
use crate::manifest::Manifest;
use crate::origin::{archive_url, pool_url, ArchiveSource, ArchiveUrlError, PackageOrigin};
use crate::pathfilter::PathFilters;
use crate::progress::{Progress, Stage};
use crate::transport::Transport;
use crate::unpack::{Ownership, PackageInfo, UnpackError, Unpacked, Unpacker};

pub mod ahead;

/// How many bytes of control files (maintainer scripts, md5sums, ...) a
/// build holds at most, over all its packages: twice what one package may
/// have ([`crate::deb::CONTROL_TOTAL_CAP`]); the largest single
/// `md5sums` in trixie is 12 MB (see [`crate::deb::CONTROL_FILE_CAP`]).
pub const CONTROL_BUDGET: u64 = 2 * crate::deb::CONTROL_TOTAL_CAP;

/// A build step failed.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error("the lock's archive {source_name} is a vendor mirror, and no mirror for '{vendor}' is known: pass --mirror {vendor}=URL, set {}, or configure it in the host's APT sources", crate::mirror::env_var(vendor))]
    NoMirror {
        source_name: ArchiveSource,
        vendor: String,
    },
    #[error("the lock's archive {source_name} was locked at snapshot {id}, but the manifest has no snapshots template for it: run 'rdebootstrap update'")]
    NoSnapshotTemplate {
        source_name: ArchiveSource,
        id: String,
    },
    #[error(
        "{package}: the lock names {origin}, which it does not have: run 'rdebootstrap update'"
    )]
    BadArchive {
        package: String,
        origin: PackageOrigin,
    },
    #[error("{package}: invalid SHA256 {sha256:?} in the lock: run 'rdebootstrap update'")]
    BadHash { package: String, sha256: String },
    #[error("{path}: local package changed since the lock was written (expected {expected}, {size} bytes): run 'rdebootstrap update'")]
    LocalChanged {
        path: PathBuf,
        expected: String,
        size: u64,
    },
    #[error("{path}: cannot read the local package")]
    Local {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{package}: download")]
    Download {
        package: String,
        #[source]
        source: Box<PoolError>,
    },
    #[error("{0}: the target directory is not empty: give a new or empty directory")]
    NotEmpty(PathBuf),
    #[error("{0} holds an interrupted build ({INCOMPLETE} marker): remove the directory (as root, or rootless without subordinate ids: rm -rf {0}; rootless with subordinate ids: unshare --map-auto --map-root-user rm -rf {0}) and build again")]
    Interrupted(PathBuf),
    #[error("{path}: cannot create the target directory")]
    Target {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: the packages' control files come to more than {cap} bytes, more than a build holds: no real package set is near this")]
    ControlBudget { path: PathBuf, cap: u64 },
    #[error("{}", not_configurable(spec, missing))]
    NotConfigurable {
        /// The spec as messages name it (`[spec]`, `'name'`).
        spec: String,
        /// What is missing and the package that gives it.
        missing: Vec<(&'static str, &'static str)>,
    },
    #[error("reading a package")]
    Deb(#[from] DebFileError),
    #[error(transparent)]
    Unpack(#[from] UnpackError),
    #[error(transparent)]
    Db(#[from] DbError),
    #[error("{path}: cannot write the path filters")]
    PathFilters {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// The base URL of each locked archive ([`crate::origin::archive_url`]):
/// its URL, or the vendor's mirror, through the manifest's snapshot
/// template when it was locked at a snapshot.
pub fn archive_urls(
    manifest: &Manifest,
    lock: &Lock,
    mirrors: &HashMap<String, String>,
) -> Result<Vec<String>, BuildError> {
    lock.archives
        .iter()
        .map(|a| {
            let template = manifest
                .archives
                .iter()
                .find(|d| a.source.is_declared_by(d))
                .and_then(|d| d.snapshots.as_deref());
            archive_url(&a.source, a.snapshot.as_deref(), template, mirrors).map_err(|e| match e {
                ArchiveUrlError::NoMirror { vendor } => BuildError::NoMirror {
                    source_name: a.source.clone(),
                    vendor,
                },
                ArchiveUrlError::NoSnapshotTemplate { id }
                | ArchiveUrlError::Snapshot { id, .. } => BuildError::NoSnapshotTemplate {
                    source_name: a.source.clone(),
                    id,
                },
            })
        })
        .collect()
}

/// What a build needs of an import to find the imported packages: the
/// imported manifest, its lock (whose numbering an imported package's
/// origin uses) and its archives' URLs ([`archive_urls`] of them).
#[derive(Debug, Clone, Copy)]
pub struct ImportedSources<'a> {
    pub manifest: &'a Manifest,
    pub lock: &'a Lock,
    pub urls: &'a [String],
}

/// Download (or find in the cache) every package of `spec`; returns the
/// .deb paths in the spec's package order. Imported packages come from
/// the imported manifest's archives and local .debs (`imported`).
///
/// With `decode_ahead` threads, the data member of each .deb downloaded
/// is decoded into `cache`'s decoded entries while the others download,
/// for [`unpack`] to read (see [`ahead`]); give none when `unpack` will
/// not read `cache`'s decoded entries.
#[allow(clippy::too_many_arguments)]
pub async fn download(
    manifest: &Manifest,
    lock: &Lock,
    imported: Option<ImportedSources<'_>>,
    spec: &LockedSpec,
    urls: &[String],
    transport: &Transport,
    cache: &Cache,
    decode_ahead: usize,
    progress: &dyn Progress,
) -> Result<Vec<PathBuf>, BuildError> {
    let ahead = ahead::DecodeAhead::start(cache, decode_ahead);
    let mut tasks = tokio::task::JoinSet::new();
    let mut out: Vec<Option<PathBuf>> = vec![None; spec.packages.len()];
    for (i, p) in spec.packages.iter().enumerate() {
        let label = format!("{} {} {}", p.name, p.version, p.arch);
        let sha256: Sha256 = p.sha256.parse().map_err(|_| BuildError::BadHash {
            package: label.clone(),
            sha256: p.sha256.clone(),
        })?;
        let missing = || BuildError::BadArchive {
            package: label.clone(),
            origin: p.origin,
        };
        let base = match p.origin {
            PackageOrigin::Local(l) => {
                let local = lock.locals.get(l).ok_or_else(missing)?;
                out[i] = Some(check_local(manifest, &local.path, &sha256, p.size)?);
                continue;
            }
            PackageOrigin::Archive(a) => urls.get(a).ok_or_else(missing)?,
            PackageOrigin::Imported(k) => {
                let imp = imported.ok_or_else(missing)?;
                let (n_archives, n_locals) = (imp.lock.archives.len(), imp.lock.locals.len());
                match PackageOrigin::from_lock_index(k, n_archives, n_locals) {
                    Some(PackageOrigin::Archive(a)) => imp.urls.get(a).ok_or_else(missing)?,
                    Some(PackageOrigin::Local(l)) => {
                        // Anchored at the imported manifest's folder.
                        let local = &imp.lock.locals[l];
                        out[i] = Some(check_local(imp.manifest, &local.path, &sha256, p.size)?);
                        continue;
                    }
                    _ => return Err(missing()),
                }
            }
        };
        let url = pool_url(base, &p.path);
        let (transport, cache, size) = (transport.clone(), cache.clone(), p.size);
        tasks.spawn(async move {
            let started = Instant::now();
            let r = fetch_to_cache(&transport, &cache, &url, &sha256, size).await;
            (i, label, sha256, r, started.elapsed())
        });
    }
    while let Some(joined) = tasks.join_next().await {
        let (i, label, sha256, r, took) = joined.expect("download task");
        progress.stage_item(Stage::Fetch, &label, took);
        let path = r.map_err(|source| BuildError::Download {
            package: label,
            source: Box::new(source),
        })?;
        ahead.add(path.clone(), sha256);
        out[i] = Some(path);
    }
    ahead.finish().await;
    Ok(out.into_iter().map(|p| p.expect("every package")).collect())
}

fn check_local(
    manifest: &Manifest,
    rel: &str,
    sha256: &Sha256,
    size: u64,
) -> Result<PathBuf, BuildError> {
    let path = manifest.dir().join(rel);
    let bytes = std::fs::read(&path).map_err(|source| BuildError::Local {
        path: path.clone(),
        source,
    })?;
    if bytes.len() as u64 != size || crate::hash::sha256(&bytes) != *sha256 {
        return Err(BuildError::LocalChanged {
            path,
            expected: sha256.to_string(),
            size,
        });
    }
    Ok(path)
}

/// What [`unpack`] did.
#[derive(Debug)]
pub struct UnpackReport {
    pub packages: usize,
    /// Each package's control files, in the spec's order (for
    /// [`crate::configure::configure`]).
    pub controls: Vec<crate::deb::ControlFiles>,
    /// Rootless: metadata the tree could not hold (see [`Unpacked`]).
    pub unpacked: Unpacked,
    /// The unpack and the database, without the time spent waiting for
    /// what ran beside them ([`unpack_staged`]).
    pub took: std::time::Duration,
}

/// The marker file at the root of a tree whose build has not finished.
pub const INCOMPLETE: &str = ".rdebootstrap-incomplete";

pub(crate) const INCOMPLETE_TEXT: &str =
    "This tree is incomplete: rdebootstrap is building it, or a build of it \
     failed or was interrupted. Remove the directory and build again.\n";

/// Make sure `root` is a new or empty directory to build in, and mark it
/// as incomplete ([`INCOMPLETE`]) until [`finish_target`].
pub fn prepare_target(root: &Path) -> Result<(), BuildError> {
    match std::fs::read_dir(root) {
        Ok(mut entries) => {
            if std::fs::symlink_metadata(root.join(INCOMPLETE)).is_ok() {
                return Err(BuildError::Interrupted(root.to_owned()));
            }
            if entries.next().is_some() {
                return Err(BuildError::NotEmpty(root.to_owned()));
            }
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => std::fs::create_dir_all(root)
            .map_err(|source| BuildError::Target {
                path: root.to_owned(),
                source,
            })?,
        Err(source) => {
            return Err(BuildError::Target {
                path: root.to_owned(),
                source,
            })
        }
    }
    std::fs::write(root.join(INCOMPLETE), INCOMPLETE_TEXT).map_err(|source| BuildError::Target {
        path: root.join(INCOMPLETE),
        source,
    })
}

/// The build of `root` is finished: remove its [`INCOMPLETE`] marker (the
/// last step of a successful build). Through the tree, so that a link a
/// package put in its place is removed, not followed.
pub fn finish_target(root: &Path) -> Result<(), BuildError> {
    let target = |source| BuildError::Target {
        path: root.join(INCOMPLETE),
        source,
    };
    crate::tree::Tree::open(root)
        .map_err(target)?
        .remove_file(Path::new(INCOMPLETE))
        .map_err(target)
}

/// The dpkg architectures of a tree.
#[derive(Debug, Clone, Copy)]
pub struct Arches<'a> {
    /// The native one (`dpkg --print-architecture`).
    pub native: &'a str,
    /// Foreign ones, as `dpkg --add-architecture` adds them.
    pub foreign: &'a [String],
}

/// Unpack `debs` (the spec's packages, in `packages` order) into `root`
/// (see [`prepare_target`]) with `jobs` threads, and write the dpkg
/// database: every package unpacked, those named in `manual` marked as
/// requested for apt, the rest automatic. Reports the
/// [`Stage::Unpack`] and [`Stage::Database`] stages to `progress`.
///
/// What `filters` exclude is skipped as dpkg skips it, and when there are
/// filters they are written to [`crate::pathfilter::CONFIG_PATH`] for the
/// dpkg runs that follow in the tree.
///
/// `debs` are taken as [`download`] gives them: each proven against its
/// package's SHA-256, so their data members' own checksums (xz's CRC-64)
/// are not computed again ([`crate::compression::Checked::BySha256`]).
#[allow(clippy::too_many_arguments)]
pub fn unpack(
    root: &Path,
    packages: &[LockedPackage],
    debs: &[PathBuf],
    manual: &HashSet<String>,
    arches: Arches<'_>,
    filters: &PathFilters,
    jobs: usize,
    decoded: Option<&Cache>,
    progress: &dyn Progress,
) -> Result<UnpackReport, BuildError> {
    let none: Option<&Early<'_, ()>> = None;
    let (report, _) = unpack_staged(
        root, packages, debs, manual, arches, filters, jobs, decoded, progress, none,
    )?;
    Ok(report)
}

/// What [`unpack_staged`] runs in the tree, on the calling thread, while
/// the packages after the essential set are unpacked beside it: given
/// every package's control files and what is unpacked so far (the
/// essential set, with its database; its newest time and recorded
/// metadata, without the lists). The build's runs the essential set's
/// part of the configuration ([`crate::configure::Part::Essential`]).
pub type Early<'a, T> = dyn Fn(&[crate::deb::ControlFiles], &Unpacked) -> T + Sync + 'a;

/// Where the staged packages are unpacked: in the tree's `/tmp`, on
/// which the sandbox mounts its own, so the essential set's scripts
/// cannot see it; in the tree's file system, so merging is renames.
const STAGE: &str = "tmp/.rdebootstrap-stage";

/// [`STAGE`]'s name in `/tmp`.
const STAGE_NAME: &str = ".rdebootstrap-stage";

/// [`unpack`], and with `early`, in two steps when the build has an
/// essential set and other packages: the essential set is unpacked and
/// its database written; then `early` runs while the other packages are
/// unpacked into a stage ([`crate::unpack::Unpacker::stage_into`]), merged
/// into the tree when both are done, and added to the database
/// ([`dpkgdb::add_unpacked`]). `early`'s result comes back when it ran
/// (`None`: one step, as [`unpack`]).
#[allow(clippy::too_many_arguments)]
pub fn unpack_staged<T>(
    root: &Path,
    packages: &[LockedPackage],
    debs: &[PathBuf],
    manual: &HashSet<String>,
    arches: Arches<'_>,
    filters: &PathFilters,
    jobs: usize,
    decoded: Option<&Cache>,
    progress: &dyn Progress,
    early: Option<&Early<'_, T>>,
) -> Result<(UnpackReport, Option<T>), BuildError> {
    let Arches { native, foreign } = arches;
    let unpack_started = Instant::now();
    progress.stage_start(Stage::Unpack, debs.len());
    // Every package's control files are held until configure: their sum
    // is bounded too, not only each package's.
    let mut readers = Vec::with_capacity(debs.len());
    let mut held = 0u64;
    for path in debs {
        // Proven by download() against the lock's SHA-256.
        let r = DebReader::open(path)?.proven_by_sha256();
        let c = r.control();
        held += c
            .names()
            .filter_map(|n| c.file(n))
            .map(|f| f.len() as u64)
            .sum::<u64>();
        if held > CONTROL_BUDGET {
            return Err(BuildError::ControlBudget {
                path: path.clone(),
                cap: CONTROL_BUDGET,
            });
        }
        readers.push(r);
    }
    let mut infos = readers
        .iter()
        .zip(debs)
        .map(|(r, path)| {
            PackageInfo::from_control(r.control())
                .map_err(|source| BuildError::Deb(deb_error(path, source)))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let pkgs: Vec<_> = readers
        .iter()
        .filter_map(|r| r.control().package().ok())
        .collect();
    let essential = if pkgs.len() == readers.len() {
        crate::configure::essential_set(&pkgs)
    } else {
        vec![false; readers.len()]
    };
    let one_arch_per_name = one_arch_per_name(&pkgs);
    drop(pkgs);
    for (i, info) in infos.iter_mut().enumerate() {
        // mmdebstrap extracts the essential set with its conffiles in place.
        info.conffiles_in_place = essential[i];
    }
    // Two steps only with an essential set and something else, and only
    // when each name is one package: the essential set follows
    // dependencies by name, and with `libc6:amd64` and `libc6:i386` it
    // could take the foreign one and leave the native one staged, out of
    // its scripts' reach.
    let two_steps = early.is_some()
        && one_arch_per_name
        && essential.iter().any(|&e| e)
        && !essential.iter().all(|&e| e);
    // The control files, held from here on (the readers keep the data).
    let controls: Vec<crate::deb::ControlFiles> =
        readers.iter_mut().map(DebReader::take_control).collect();
    // The target is marked unfinished until the build ends (INCOMPLETE):
    // files go straight to their names.
    let mut unpacker = Unpacker::new(root, Ownership::for_this_process(), infos)?
        .with_filters(filters.clone())
        .with_direct_writes(true);
    // The filters for the dpkg runs that follow, with the database (over
    // a package's file of the same name, as dpkg's own configuration).
    let write_filters = || -> Result<(), BuildError> {
        if filters.is_empty() {
            return Ok(());
        }
        let rel = Path::new(crate::pathfilter::CONFIG_PATH);
        crate::tree::Tree::open(root)
            .and_then(|t| t.write_file(rel, filters.dpkg_config().as_bytes(), 0o644))
            .map_err(|source| BuildError::PathFilters {
                path: root.join(rel),
                source,
            })
    };
    let slots: Vec<std::sync::Mutex<Option<DebReader<std::io::BufReader<std::fs::File>>>>> =
        readers
            .into_iter()
            .map(|r| std::sync::Mutex::new(Some(r)))
            .collect();
    // One package's data member (decoded once: from the cache, or decoded
    // now and kept on the way) into the tree.
    let unpack_one = |unpacker: &Unpacker, i: usize| -> Result<(), BuildError> {
        let started = Instant::now();
        let mut reader = slots[i].lock().expect("slot").take().expect("once");
        let p = &packages[i];
        let sha256: Option<Sha256> = p.sha256.parse().ok();
        // Only for .debs the cache holds: a local .deb's entry would be
        // an orphan, removed by the next gc.
        let key = decoded
            .zip(sha256)
            .filter(|(cache, sha)| debs[i] == cache.path(sha));
        // An entry that cannot be read is decoded again.
        let cached = match key {
            Some((cache, sha)) => cache.open_decoded(&sha).unwrap_or(None),
            None => None,
        };
        let mut keep = match (key, &cached) {
            (Some((cache, _)), None) => cache.decoded_writer().ok(),
            _ => None,
        };
        let (member, stream) = reader
            .data_stream()
            .map_err(|source| deb_error(&debs[i], source))?;
        let stream: crate::deb::DataStream<'_> = match (cached, keep.as_mut(), stream) {
            (Some(cached), _, _) => cached,
            (None, Some(sink), inner) => Box::new(Tee { inner, sink }),
            (None, None, inner) => inner,
        };
        let mut data = DataArchive::new(member, stream);
        unpacker.unpack(i, &mut data)?;
        // To its end: the whole member is kept, and the decoder checks
        // its stream there.
        data.drain().map_err(|source| deb_error(&debs[i], source))?;
        drop(data);
        if let (Some(w), Some((_, sha))) = (keep, key) {
            // Not kept (a full disk): decoded again next time.
            let _ = w.commit(&sha);
        }
        progress.stage_item(
            Stage::Unpack,
            &format!("{} {} {}", p.name, p.version, p.arch),
            started.elapsed(),
        );
        Ok(())
    };
    // Packages at once, on `jobs` workers, in archive order (largest
    // first balanced no better: measured), while `beside` runs on this
    // thread. The workers are this thread's: each new thread takes a
    // malloc arena, and those the previous workers left (with their
    // decoders' memory) go to the next workers, not to `beside`.
    // When the last worker ended: the unpack's own time, without the
    // wait for what ran beside it.
    let workers_done = std::sync::Mutex::new(Instant::now());
    let unpack_all_beside =
        |unpacker: &Unpacker, list: &[usize], beside: &mut dyn FnMut()| -> Result<(), BuildError> {
            let next = AtomicUsize::new(0);
            // After a failure, no worker starts another package.
            let failed = std::sync::atomic::AtomicBool::new(false);
            std::thread::scope(|s| -> Result<(), BuildError> {
                let workers: Vec<_> = (0..jobs.max(1).min(list.len().max(1)))
                    .map(|_| {
                        s.spawn(|| -> Result<(), BuildError> {
                            while let Some(&i) = list.get(next.fetch_add(1, Ordering::Relaxed)) {
                                if failed.load(Ordering::Relaxed) {
                                    break;
                                }
                                unpack_one(unpacker, i).inspect_err(|_| {
                                    failed.store(true, Ordering::Relaxed);
                                })?;
                            }
                            *workers_done.lock().expect("time") = Instant::now();
                            Ok(())
                        })
                    })
                    .collect();
                beside();
                for w in workers {
                    w.join().expect("unpack worker")?;
                }
                Ok(())
            })
        };
    let unpack_all =
        |unpacker: &Unpacker, list: &[usize]| unpack_all_beside(unpacker, list, &mut || {});
    // The package that ships the tree's top-level links (trixie's
    // base-files: `bin -> usr/bin`, ...) first and alone: the paths of
    // the others are resolved through them, so a package that ships
    // `/bin/x` must not find a real `/bin` made before the link, or the
    // link's place taken, depending on which worker came first.
    let (first, rest): (Vec<usize>, Vec<usize>) =
        (0..debs.len()).partition(|&i| packages[i].name == LAYOUT_PACKAGE);
    for &i in &first {
        unpack_one(&unpacker, i)?;
    }
    let is_manual = |i: usize| manual.contains(&packages[i].name);
    fn db_of<'a>(
        controls: &'a [crate::deb::ControlFiles],
        unpacked: &'a Unpacked,
        manual: &dyn Fn(usize) -> bool,
        which: impl Fn(usize) -> bool,
    ) -> Vec<DbPackage<'a>> {
        DbPackage::all(controls, unpacked, manual)
            .into_iter()
            .enumerate()
            .filter(|(i, _)| which(*i))
            .map(|(_, p)| p)
            .collect()
    }
    let mut early_result = None;
    let mut staged = false;
    let mut unpack_took = None;
    if let (Some(early), true) = (early, two_steps) {
        let (now, later): (Vec<usize>, Vec<usize>) = rest.iter().partition(|&&i| essential[i]);
        unpack_all(&unpacker, &now)?;
        // The stage's place: a real /tmp (the configuration refuses any
        // other) and a name nothing took.
        let tree = crate::tree::Tree::open(root).map_err(|source| BuildError::Target {
            path: root.to_owned(),
            source,
        })?;
        let stage_made = tree
            .lstat(Path::new("tmp"))
            .is_ok_and(|st| rustix::fs::FileType::from_raw_mode(st.st_mode).is_dir())
            && tree.open_path(Path::new("tmp"), true).is_ok_and(|tmp| {
                rustix::fs::mkdirat(
                    &tmp,
                    STAGE_NAME,
                    rustix::fs::Mode::from_bits_truncate(0o700),
                )
                .is_ok()
            });
        // Without /proc (a chroot), in one step after all.
        let stage_ready = stage_made && unpacker.stage_into(&root.join(STAGE)).is_ok();
        let remove_stage = || {
            tree.remove_dir_all(Path::new(STAGE))
                .map_err(|source| BuildError::Target {
                    path: root.join(STAGE),
                    source,
                })
        };
        if stage_made && !stage_ready {
            remove_stage()?;
        }
        if stage_ready {
            staged = true;
            let so_far = unpacker.snapshot();
            let db = db_of(&controls, &so_far, &is_manual, |i| essential[i]);
            write_filters()?;
            dpkgdb::write_unpacked(root, native, foreign, &db)?;
            drop(db);
            // What `early` reads of it: the times and the recorded owners.
            let so_far = Unpacked {
                lists: Vec::new(),
                md5sums: Vec::new(),
                ..so_far
            };
            let mut result = None;
            let unpacked = unpack_all_beside(&unpacker, &later, &mut || {
                result = Some(early(&controls, &so_far));
            });
            early_result = result;
            unpacked?;
            let merging = Instant::now();
            unpacker.merge_stage()?;
            remove_stage()?;
            // The configuration beside it is not the unpack's time.
            let done = *workers_done.lock().expect("time");
            unpack_took = Some(done.duration_since(unpack_started) + merging.elapsed());
        } else {
            unpack_all(&unpacker, &later)?;
        }
    } else {
        unpack_all(&unpacker, &rest)?;
    }
    let unpacked = unpacker.finish();
    // The database is a stage of its own: the unpack stage ends here.
    let unpack_took = unpack_took.unwrap_or_else(|| unpack_started.elapsed());
    progress.stage_finish(Stage::Unpack, unpack_took);
    let started = Instant::now();
    progress.stage_start(Stage::Database, controls.len());
    write_filters()?;
    if staged {
        let earlier = db_of(&controls, &unpacked, &is_manual, |i| essential[i]);
        let added = db_of(&controls, &unpacked, &is_manual, |i| !essential[i]);
        dpkgdb::add_unpacked(root, native, &earlier, &added)?;
    } else {
        let db = DbPackage::all(&controls, &unpacked, is_manual);
        dpkgdb::write_unpacked(root, native, foreign, &db)?;
    }
    progress.stage_finish(Stage::Database, started.elapsed());
    Ok((
        UnpackReport {
            packages: debs.len(),
            controls,
            unpacked,
            took: unpack_took + started.elapsed(),
        },
        early_result,
    ))
}

/// True if no package name comes in more than one architecture.
fn one_arch_per_name(pkgs: &[crate::packages::BinaryPackage<'_>]) -> bool {
    let mut seen = HashSet::new();
    pkgs.iter().all(|p| seen.insert(p.name))
}

/// A data member's stream that also feeds what it reads to a
/// [`DecodedWriter`].
struct Tee<'a, 'w> {
    inner: crate::deb::DataStream<'a>,
    sink: &'w mut DecodedWriter,
}

impl std::io::Read for Tee<'_, '_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.sink.feed(&buf[..n]);
        Ok(n)
    }
}

/// The package that ships a tree's top directories and, on a merged-/usr
/// suite, its `bin -> usr/bin` links: unpacked before any other.
const LAYOUT_PACKAGE: &str = "base-files";

fn deb_error(path: &Path, source: DebError) -> DebFileError {
    DebFileError {
        path: path.to_owned(),
        source: DebFileErrorKind::Deb(source),
    }
}

/// What configuring needs of a spec's packages: `dpkg` (which runs the
/// maintainer scripts) and `/bin/sh` (which runs most of them, from
/// `dash` on Debian and Ubuntu), as `(what, package)`.
pub const CONFIGURE_NEEDS: &[(&str, &str)] = &[("dpkg", "dpkg"), ("/bin/sh", "dash")];

/// Refuse, before anything is downloaded, a spec whose locked packages
/// cannot be configured ([`CONFIGURE_NEEDS`] missing), naming what is
/// missing; `--unpack-only` builds such a spec.
pub fn check_configurable(spec: &LockedSpec) -> Result<(), BuildError> {
    let missing: Vec<(&'static str, &'static str)> = CONFIGURE_NEEDS
        .iter()
        .filter(|(_, package)| !spec.packages.iter().any(|p| p.name == *package))
        .copied()
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    Err(BuildError::NotConfigurable {
        spec: crate::manifest::spec_label(&spec.name),
        missing,
    })
}

fn not_configurable(spec: &str, missing: &[(&str, &str)]) -> String {
    let what: Vec<String> = missing.iter().map(|(w, _)| format!("no {w}")).collect();
    let packages: Vec<&str> = missing.iter().map(|(_, p)| *p).collect();
    let option = match spec.strip_prefix('\'').and_then(|s| s.strip_suffix('\'')) {
        Some(name) => format!(" -s {name}"),
        None => String::new(),
    };
    format!(
        "spec {spec} cannot be configured: its locked packages have {} (package {}): \
         give the spec a variant (variant = \"minbase\"), add them \
         (rdebootstrap require{option} {}), or build with --unpack-only",
        what.join(" and "),
        packages.join(", "),
        packages.join(" ")
    )
}

/// One entry of the `/dev` mmdebstrap leaves in a tree.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DevEntry {
    /// A character device (major, minor), mode 0666.
    Char(u32, u32),
    /// A symbolic link to this target.
    Link(&'static str),
    /// A directory, mode 0755.
    Dir,
}

/// The `/dev` mmdebstrap leaves in a tree (its `@devfiles`), made by
/// [`finish_tree`].
pub const DEV: &[(&str, DevEntry)] = &[
    ("console", DevEntry::Char(5, 1)),
    ("fd", DevEntry::Link("/proc/self/fd")),
    ("full", DevEntry::Char(1, 7)),
    ("null", DevEntry::Char(1, 3)),
    ("ptmx", DevEntry::Char(5, 2)),
    ("pts", DevEntry::Dir),
    ("random", DevEntry::Char(1, 8)),
    ("shm", DevEntry::Dir),
    ("stderr", DevEntry::Link("/proc/self/fd/2")),
    ("stdin", DevEntry::Link("/proc/self/fd/0")),
    ("stdout", DevEntry::Link("/proc/self/fd/1")),
    ("tty", DevEntry::Char(5, 0)),
    ("urandom", DevEntry::Char(1, 9)),
    ("zero", DevEntry::Char(1, 5)),
];

/// The `/etc/fstab` mmdebstrap writes when the packages leave none.
pub const FSTAB: &str = "# UNCONFIGURED FSTAB FOR BASE SYSTEM\n";

/// Leave the tree at `root` usable with a plain `chroot`, as mmdebstrap
/// leaves its trees: [`DEV`] in `/dev` (as root the device nodes; without
/// root, empty files standing in for them, returned as records for
/// [`record_ownership`]), [`FSTAB`] as `/etc/fstab`, and the host's
/// `/etc/hostname` and `/etc/resolv.conf` copied in when `host_files`
/// (their content, the mode of a regular file, else 0644; left out of
/// trees written as outputs, whose bytes must not depend on the machine).
/// Nothing the packages or scripts left is replaced; every path is made
/// inside the tree, never through a link.
pub fn finish_tree(
    root: &Path,
    host_files: bool,
) -> Result<Vec<crate::unpack::Recorded>, BuildError> {
    use rustix::fs::{AtFlags, FileType, Mode};
    let target = |rel: &str| {
        let path = root.join(rel);
        move |source: std::io::Error| BuildError::Target { path, source }
    };
    let tree = crate::tree::Tree::open(root).map_err(target(""))?;
    let dev = tree
        .make_dirs(Path::new("dev"))
        .map_err(|e| target("dev")(e.into()))?;
    let as_root = rustix::process::geteuid().is_root();
    let mut recorded = Vec::new();
    for (name, entry) in DEV {
        let rel = format!("dev/{name}");
        let here = rustix::fs::statat(&dev, *name, AtFlags::SYMLINK_NOFOLLOW);
        if here.is_ok() {
            continue;
        }
        let made: rustix::io::Result<()> = match entry {
            DevEntry::Dir => rustix::fs::mkdirat(&dev, *name, Mode::from_bits_truncate(0o755))
                .and_then(|()| {
                    rustix::fs::chmodat(
                        &dev,
                        *name,
                        Mode::from_bits_truncate(0o755),
                        AtFlags::empty(),
                    )
                }),
            DevEntry::Link(to) => rustix::fs::symlinkat(*to, &dev, *name),
            DevEntry::Char(major, minor) => {
                let node = as_root
                    && rustix::fs::mknodat(
                        &dev,
                        *name,
                        FileType::CharacterDevice,
                        Mode::from_bits_truncate(0o666),
                        rustix::fs::makedev(*major, *minor),
                    )
                    .is_ok();
                if !node {
                    // Without root (or where mknod is refused): an empty
                    // file standing in for the node, recorded.
                    let fd = rustix::fs::openat(
                        &dev,
                        *name,
                        rustix::fs::OFlags::CREATE
                            | rustix::fs::OFlags::EXCL
                            | rustix::fs::OFlags::WRONLY
                            | rustix::fs::OFlags::NOFOLLOW
                            | rustix::fs::OFlags::CLOEXEC,
                        Mode::from_bits_truncate(0o644),
                    )
                    .map_err(|e| target(&rel)(e.into()))?;
                    let st = rustix::fs::fstat(&fd).map_err(|e| target(&rel)(e.into()))?;
                    recorded.push(crate::unpack::Recorded {
                        path: PathBuf::from(&rel),
                        kind: crate::deb::EntryKind::CharDevice,
                        mode: 0o666,
                        uid: 0,
                        gid: 0,
                        device: Some((*major, *minor)),
                        xattrs: Vec::new(),
                        inode: st.st_ino,
                    });
                }
                rustix::fs::chmodat(
                    &dev,
                    *name,
                    Mode::from_bits_truncate(0o666),
                    AtFlags::empty(),
                )
            }
        };
        made.map_err(|e| target(&rel)(e.into()))?;
    }
    if !tree.exists(Path::new("etc/fstab")) {
        tree.write_file(Path::new("etc/fstab"), FSTAB.as_bytes(), 0o644)
            .map_err(target("etc/fstab"))?;
    }
    for rel in ["etc/hostname", "etc/resolv.conf"] {
        if !host_files {
            break;
        }
        let host = Path::new("/").join(rel);
        if tree.exists(Path::new(rel)) {
            continue;
        }
        let Ok(data) = std::fs::read(&host) else {
            continue;
        };
        let mode = match std::fs::symlink_metadata(&host) {
            Ok(m) if m.file_type().is_file() => {
                std::os::unix::fs::PermissionsExt::mode(&m.permissions()) & 0o7777
            }
            _ => 0o644,
        };
        tree.write_file(Path::new(rel), &data, mode)
            .map_err(target(rel))?;
    }
    Ok(recorded)
}

/// Keep what the tree at `root`, built as `users`, could not hold (see
/// [`crate::ownership`]); returns how many paths that is.
pub fn record_ownership(
    root: &Path,
    users: &crate::sandbox::Users,
    recorded: &[crate::unpack::Recorded],
    chowns: &[crate::sandbox::Chown],
) -> Result<usize, BuildError> {
    let target = |source| BuildError::Target {
        path: root.join(crate::ownership::FILE),
        source,
    };
    let tree = crate::tree::Tree::open(root).map_err(target)?;
    let entries = crate::ownership::entries(&tree, users, recorded, chowns);
    crate::ownership::write(&tree, &entries).map_err(target)?;
    Ok(entries.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Packages shipping `/bin/...` before base-files in the lock (as in a
    /// suite half-way to merged /usr): base-files' `bin -> usr/bin` is
    /// laid first whatever the workers, so their files land in `/usr/bin`.
    #[test]
    fn a_name_in_two_architectures_is_found() {
        let control = |name: &str, arch: &str| {
            let text = format!("Package: {name}\nVersion: 1\nArchitecture: {arch}\n");
            crate::deb::ControlFiles::new(
                "control.tar".into(),
                [("control".to_owned(), (0o644, text.into_bytes()))].into(),
            )
        };
        let one = [control("libc6", "amd64"), control("bash", "amd64")];
        let two = [
            control("libc6", "amd64"),
            control("libc6", "i386"),
            control("bash", "amd64"),
        ];
        let pkgs = |c: &[crate::deb::ControlFiles]| -> bool {
            let p: Vec<_> = c.iter().map(|c| c.package().unwrap()).collect();
            one_arch_per_name(&p)
        };
        assert!(pkgs(&one));
        assert!(!pkgs(&two));
    }

    #[test]
    fn the_layout_package_is_unpacked_first() {
        let t = testkit::TempDir::new("layout-first");
        let mut debs = Vec::new();
        let mut packages = Vec::new();
        let mut add = |deb: testkit::DebBuilder, name: &str| {
            let path = t.path().join(format!("{name}.deb"));
            std::fs::write(&path, deb.build()).unwrap();
            debs.push(path);
            packages.push(locked(name));
        };
        for i in 0..6 {
            let name = format!("old{i}");
            let deb = testkit::DebBuilder::new(&name, "1", "amd64")
                .dir("./bin/")
                .file(&format!("./bin/tool{i}"), "tool");
            add(deb, &name);
        }
        let base = testkit::DebBuilder::new("base-files", "1", "amd64")
            .dir("./usr/")
            .dir("./usr/bin/")
            .symlink("./bin", "usr/bin");
        add(base, "base-files");
        for jobs in [1, 2, 4] {
            let root = t.path().join(format!("tree{jobs}"));
            std::fs::create_dir(&root).unwrap();
            unpack(
                &root,
                &packages,
                &debs,
                &HashSet::new(),
                Arches {
                    native: "amd64",
                    foreign: &[],
                },
                &PathFilters::default(),
                jobs,
                None,
                &crate::progress::NoProgress,
            )
            .unwrap();
            let bin = std::fs::symlink_metadata(root.join("bin")).unwrap();
            assert!(bin.file_type().is_symlink(), "jobs {jobs}: /bin is a link");
            for i in 0..6 {
                assert!(
                    root.join(format!("usr/bin/tool{i}")).is_file(),
                    "jobs {jobs}"
                );
            }
        }
    }

    #[test]
    fn finish_tree_never_writes_through_links() {
        let t = testkit::TempDir::new("finish-links");
        let outside = t.path().join("outside");
        std::fs::create_dir(&outside).unwrap();
        let root = t.path().join("tree");
        std::fs::create_dir_all(root.join("etc")).unwrap();
        // A package's links: /dev and /etc/fstab pointing out of the tree.
        std::os::unix::fs::symlink(&outside, root.join("dev")).unwrap();
        std::os::unix::fs::symlink(outside.join("fstab"), root.join("etc/fstab")).unwrap();
        let _ = finish_tree(&root, true);
        assert_eq!(std::fs::read_dir(&outside).unwrap().count(), 0);
        // The links are left as they are: nothing replaced.
        assert!(std::fs::symlink_metadata(root.join("etc/fstab"))
            .unwrap()
            .file_type()
            .is_symlink());
    }

    /// A locked amd64 package of version 1 (no pool path, size or digest).
    fn locked(name: &str) -> LockedPackage {
        LockedPackage {
            name: name.into(),
            version: "1".into(),
            arch: "amd64".into(),
            origin: PackageOrigin::Archive(0),
            path: String::new(),
            size: 0,
            sha256: String::new(),
        }
    }

    #[test]
    fn a_spec_without_dpkg_or_a_shell_cannot_be_configured() {
        let package = locked;
        let mut spec = LockedSpec {
            name: "tools".into(),
            hash: String::new(),
            packages: vec![package("git")],
        };
        assert_eq!(
            check_configurable(&spec).unwrap_err().to_string(),
            "spec 'tools' cannot be configured: its locked packages have no dpkg and no /bin/sh \
             (package dpkg, dash): give the spec a variant (variant = \"minbase\"), add them \
             (rdebootstrap require -s tools dpkg dash), or build with --unpack-only"
        );
        spec.packages.extend([package("dpkg"), package("dash")]);
        check_configurable(&spec).unwrap();
    }

    #[test]
    fn an_unfinished_target_is_marked_and_refused() {
        let t = testkit::TempDir::new("incomplete");
        let root = t.path().join("tree");
        prepare_target(&root).unwrap();
        assert!(root.join(INCOMPLETE).is_file());
        match prepare_target(&root) {
            Err(e @ BuildError::Interrupted(_)) => assert!(
                e.to_string().starts_with(&format!(
                    "{} holds an interrupted build (.rdebootstrap-incomplete marker): remove the directory",
                    root.display()
                )),
                "{e}"
            ),
            other => panic!("{other:?}"),
        }
        finish_target(&root).unwrap();
        assert_eq!(std::fs::read_dir(&root).unwrap().count(), 0);
        // Finished and empty again: it may be built in.
        prepare_target(&root).unwrap();
        std::fs::write(root.join("other"), "").unwrap();
        finish_target(&root).unwrap();
        assert!(matches!(
            prepare_target(&root),
            Err(BuildError::NotEmpty(_))
        ));
    }
}
