//! The build as a pipeline of named stages: from a manifest, its fresh
//! lock and a spec to a finished root tree. This is everything
//! `rdebootstrap build` does; the command line only parses flags, makes
//! the transport and renders the [`Progress`] events.
//!
//! 1. [`prepare`] checks everything that can be checked before anything
//!    is downloaded (the spec is locked, can be configured, asks only for
//!    what the build does; the target is new or empty) and marks the
//!    target incomplete.
//! 2. [`Prepared::fetch`] ([`Stage::Fetch`], the only async step):
//!    the packages, through the cache, several at once, each checked.
//! 2. [`Prepared::fetch`] also fetches the spec's artifacts
//!    ([`crate::artifact::fetch_all`]), first, and checks their hashes.
//! 3. [`Prepared::install`], synchronous: [`Stage::Unpack`],
//!    [`Stage::Database`], then, unless unpacking only,
//!    [`Stage::Configure`] (preinsts and `dpkg --configure -a` in the
//!    sandbox, with the spec's `build-env`; with an executor that hides
//!    the tree's `/tmp`, its essential part starts during the unpack,
//!    [`crate::build::unpack_staged`]), [`Stage::Artifacts`] (the
//!    spec's artifacts, ancestors' first; with `meta =
//!    ["apt-lists:stage"]`, apt's sources, keyrings and the locked lists
//!    too, [`crate::aptlists`], so that apt works inside without
//!    `apt-get update`) and [`Stage::Scripts`] (its
//!    build scripts, ancestors first), and [`Stage::Finish`] (what
//!    mmdebstrap leaves for a plain chroot, the ownership record, the
//!    incomplete marker removed). With `--unpack-only`, the artifacts
//!    are staged right after the database. With
//!    [`BuildOptions::output`], [`Stage::Output`] last: the tree written
//!    as a tar file ([`crate::output`]), atomically; when it fails the
//!    tree is marked incomplete again and no output is left. Then the
//!    software bills of materials of [`BuildOptions::sboms`]
//!    ([`crate::sbom`]), each written atomically.
//!
//! # Why artifacts are staged after configuration
//!
//! Artifacts are the manifest's last word on the tree, and the build
//! scripts' input. Staged before `dpkg --configure`, a file artifact at a
//! package's conffile would make dpkg ask whether to keep it (there is no
//! one to answer), and what maintainer scripts generate (`/etc/passwd`
//! entries, alternatives links, `/etc/ssl/certs`) would be written over
//! an artifact at the same path. Staged after, every artifact is in the
//! tree as the manifest says, and the build scripts, which run next, see
//! them (a script runs `update-ca-certificates` after a certificate is
//! staged), as mmdebstrap's customize hooks do.
//!
//! Each stage reports [`Progress::stage_start`], one
//! [`Progress::stage_item`] per package or script, and
//! [`Progress::stage_finish`]. A build that fails at any stage leaves the
//! target marked incomplete ([`crate::build::INCOMPLETE`]).

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::artifact::{FetchedArtifact, StagedRecord};
use crate::build::{BuildError, UnpackReport};
use crate::cache::Cache;
use crate::configure::{ConfigureError, ConfigureOptions};
use crate::lock::{Lock, LockedSpec};
use crate::manifest::{requirement_name, spec_label, Manifest, ResolvedSpec, SpecError};
use crate::progress::{Progress, Stage};
use crate::sandbox::{Executor, Output};
use crate::transport::Transport;

/// The `meta` entry that stages apt's sources and lists in the tree
/// ([`crate::aptlists`]).
pub const APT_LISTS: &str = "apt-lists:stage";

/// What to build, and how.
#[derive(Debug, Clone)]
pub struct BuildOptions {
    /// The spec (`""` for the unnamed `[spec]`).
    pub spec: String,
    /// The directory to build in: new or empty.
    pub target: PathBuf,
    /// Base URL of each vendor's mirror, for `mirror = "VENDOR"` archives
    /// (see [`crate::mirror`]).
    pub mirrors: HashMap<String, String>,
    /// Packages unpacked at once.
    pub jobs: usize,
    /// Stop after unpacking: no maintainer script or build script runs.
    pub unpack_only: bool,
    /// The sandbox's network, hostname and users. Its `env` is replaced
    /// by the spec's `build-env`, its `owners` by what unpacking left.
    pub sandbox: ConfigureOptions,
    /// Where the scripts' output goes: this process's standard error
    /// (true), or nowhere (a failing script's error still ends with its
    /// standard error).
    pub show_script_output: bool,
    /// Also write the finished tree as a file ([`Stage::Output`]). Without
    /// a `SOURCE_DATE_EPOCH`, the newest modification time of the locked
    /// packages' files is used ([`crate::output`]).
    pub output: Option<crate::output::OutputOptions>,
    /// Software bills of materials of the finished tree to write, each
    /// a file and its format ([`crate::sbom`]), after the output, timed
    /// with the build's `SOURCE_DATE_EPOCH`.
    pub sboms: Vec<(PathBuf, crate::sbom::SbomFormat)>,
    /// `SOURCE_DATE_EPOCH`: the time the scripts are given (shadow's
    /// password-change days, for one) and the newest time of an output.
    /// `None`: the output's own, else the newest modification time of the
    /// locked packages' files, a value of the lock
    /// ([`crate::output`]). A `build-env` entry of the spec wins for the
    /// scripts.
    pub source_date_epoch: Option<u64>,
    /// For an OCI output with one layer per spec: the trees of the spec's
    /// ancestors, base first, each built on its own (see
    /// [`crate::output::layers`]); this build's tree is the last layer.
    /// Empty: one layer.
    pub parent_layers: Vec<crate::output::layers::LayerTree>,
    /// Copy the host's `/etc/hostname` and `/etc/resolv.conf` into the
    /// finished tree, as mmdebstrap does (true by default). A tree made
    /// for an output leaves them out: its bytes must be the same on every
    /// machine, and container runtimes give an image their own. A
    /// `resolv.conf` copied for `network` is then removed after the
    /// scripts, unless a package or a script put its own there meanwhile.
    pub host_files: bool,
}

impl BuildOptions {
    /// Build `spec` into `target`, with defaults for the rest: as many
    /// unpack threads as CPUs, no network, scripts' output shown.
    pub fn new(spec: &str, target: &Path) -> BuildOptions {
        BuildOptions {
            spec: spec.to_owned(),
            target: target.to_owned(),
            mirrors: HashMap::new(),
            jobs: std::thread::available_parallelism().map_or(2, |n| n.get()),
            unpack_only: false,
            sandbox: ConfigureOptions::default(),
            show_script_output: true,
            output: None,
            sboms: Vec::new(),
            source_date_epoch: None,
            parent_layers: Vec::new(),
            host_files: true,
        }
    }
}

/// A build failed.
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    #[error("{} has no spec {}: run 'rdebootstrap update'", lock.display(), spec_label(spec))]
    NotLocked { lock: PathBuf, spec: String },
    #[error(transparent)]
    Spec(#[from] SpecError),
    #[error(transparent)]
    Sbom(#[from] crate::sbom::SbomError),
    #[error("one layer per spec is an OCI image's (--format oci or oci-archive), not {}", .format.map_or_else(|| "a directory".to_owned(), |f| format!("--format {f}")))]
    LayersNeedImage {
        format: Option<crate::output::Format>,
    },
    #[error("{}, spec {} (line {line}): {what} is not built yet, and a build that quietly did less than the manifest asks would mislead: remove it from the spec (and its ancestors) for now", manifest.display(), spec_label(spec))]
    NotBuilt {
        manifest: PathBuf,
        spec: String,
        line: usize,
        what: String,
    },
    #[error(transparent)]
    ImportLock(#[from] crate::lock::ImportLockError),
    /// The scripts would run programs of an architecture this machine
    /// cannot run.
    #[error(transparent)]
    Emulation(#[from] crate::emulation::EmulationError),
    #[error(transparent)]
    Build(#[from] BuildError),
    #[error(transparent)]
    Configure(#[from] ConfigureError),
    #[error(transparent)]
    Cache(#[from] crate::cache::CacheError),
    #[error(transparent)]
    Artifact(#[from] crate::artifact::ArtifactError),
    #[error("{}, spec {} (line {line}): unknown meta entry '{entry}' (known: {APT_LISTS})", manifest.display(), spec_label(spec))]
    UnknownMeta {
        manifest: PathBuf,
        spec: String,
        line: usize,
        entry: String,
    },
    #[error("apt lists for the tree ({APT_LISTS})")]
    Lists(#[source] crate::update::Error),
    #[error("{url} {suite}: the mirror's Release file is not the one locked (lock: {locked}, now: {now}), so its lists would not match the tree: run 'rdebootstrap update'")]
    ReleaseMoved {
        url: String,
        suite: String,
        locked: String,
        now: String,
    },
    #[error(transparent)]
    AptLists(#[from] crate::aptlists::AptListsError),
    #[error("artifact '{name}' (line {line}): its target is the build's incomplete marker (/{}), which the build removes when it finishes: choose another target", crate::build::INCOMPLETE)]
    MarkerTarget { name: String, line: usize },
    #[error(transparent)]
    Output(#[from] crate::output::OutputError),
    #[error("{}: cannot remove the packages downloaded for the build", path.display())]
    Cleanup {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// A build whose checks passed and whose target is marked incomplete.
pub struct Prepared<'a> {
    manifest: &'a Manifest,
    lock: &'a Lock,
    /// The imported manifest's lock and its archives' URLs.
    imported: Option<(crate::lock::ImportedLock, Vec<String>)>,
    spec: &'a LockedSpec,
    resolved: ResolvedSpec,
    urls: Vec<String>,
    opts: BuildOptions,
}

/// The packages of a [`Prepared`] build, downloaded.
pub struct Fetched {
    debs: Vec<PathBuf>,
    artifacts: Vec<FetchedArtifact>,
    /// The archives' suites as locked, for `meta = ["apt-lists:stage"]`.
    lists: Option<Vec<crate::update::FetchedArchive>>,
    /// The cache used when there was no other, beside the target; removed
    /// once the packages are unpacked, or when the build fails.
    temporary: Option<TempCache>,
    /// The cache the build was given (none with a temporary one), which
    /// keeps the packages' data decoded ([`crate::cache::decoded`]).
    cache: Option<Cache>,
    took: Duration,
}

/// What a finished build did.
#[derive(Debug, Clone)]
pub struct BuildReport {
    /// Packages installed (or unpacked only).
    pub packages: usize,
    /// Whether the maintainer scripts ran.
    pub configured: bool,
    /// Build scripts run.
    pub scripts: usize,
    /// Artifacts staged, in the order they were.
    pub artifacts: Vec<StagedRecord>,
    /// Each stage that ran, with its time, in order (the configure stage
    /// may start before the unpack stage ends: their times overlap).
    pub stages: Vec<(Stage, Duration)>,
    /// The output written ([`BuildOptions::output`]).
    pub output: Option<crate::output::OutputReport>,
    /// The SBOMs written ([`BuildOptions::sboms`]), in their order.
    pub sboms: Vec<crate::sbom::SbomReport>,
    /// The `SOURCE_DATE_EPOCH` the scripts were given (see
    /// [`BuildOptions::source_date_epoch`]).
    pub source_date_epoch: u64,
}

/// Check what can be checked before downloading, and mark `opts.target`
/// incomplete. `lock` must be fresh for `manifest` (see
/// [`Lock::stale_specs`]); `lock_path` is named in errors.
pub fn prepare<'a>(
    manifest: &'a Manifest,
    lock: &'a Lock,
    lock_path: &Path,
    opts: BuildOptions,
) -> Result<Prepared<'a>, PipelineError> {
    let spec = lock
        .spec(&opts.spec)
        .ok_or_else(|| PipelineError::NotLocked {
            lock: lock_path.to_owned(),
            spec: opts.spec.clone(),
        })?;
    // The import the lock was made with must be the one the manifest has
    // now: the imported manifest (its pin checked when it was loaded) and
    // its lock, whose archives and local .debs the imported packages come
    // from.
    let imported_lock = crate::lock::imported_lock(manifest, &lock.arch)?;
    lock.check_import(manifest, imported_lock.as_ref(), lock_path)?;
    let resolved = manifest.resolve(&opts.spec)?;
    if !opts.parent_layers.is_empty() {
        let format = opts.output.as_ref().map(|o| o.format);
        if !matches!(
            format,
            Some(crate::output::Format::Oci | crate::output::Format::OciArchive)
        ) {
            return Err(PipelineError::LayersNeedImage { format });
        }
    }
    // Nothing asked of the build is left undone: what is not built yet
    // is refused, naming where it was asked for.
    let imported_specs = manifest
        .imported
        .as_deref()
        .map(|m| (m, &resolved.imported_chain));
    let own_specs = Some((manifest, &resolved.chain));
    for (owner, name) in imported_specs
        .into_iter()
        .chain(own_specs)
        .flat_map(|(m, chain)| chain.iter().map(move |n| (m, n)))
    {
        let s = &owner.specs[name];
        let not_built = |what: String| PipelineError::NotBuilt {
            manifest: owner.path.clone(),
            spec: name.clone(),
            line: s.line,
            what,
        };
        if let Some(m) = s.meta.iter().find(|m| m.as_str() != APT_LISTS) {
            return Err(PipelineError::UnknownMeta {
                manifest: owner.path.clone(),
                spec: name.clone(),
                line: s.line,
                entry: m.clone(),
            });
        }
        if imported_lock.is_some() && s.meta.iter().any(|m| m.as_str() == APT_LISTS) {
            return Err(not_built(format!(
                "'{APT_LISTS}' on a manifest with an [import] (the imported archives' lists)"
            )));
        }
        if imported_lock.is_some() && !opts.parent_layers.is_empty() {
            return Err(not_built(
                "a layered build (--layers) of a manifest with an [import]".into(),
            ));
        }
        if opts.unpack_only && s.build_script.is_some() {
            return Err(not_built(
                "a build-script with --unpack-only (scripts run in a configured tree)".into(),
            ));
        }
    }
    if !opts.unpack_only {
        crate::build::check_configurable(spec)?;
        // A foreign tree's scripts run its own programs: the machine must
        // be able to run them (natively or through binfmt_misc).
        crate::emulation::check(&lock.arch)?;
        // Build scripts run with bash: known now, not after the downloads.
        if let Some((script_spec, _)) = resolved.build_scripts.first() {
            if !spec.packages.iter().any(|p| p.name == "bash") {
                return Err(ConfigureError::NoBash {
                    spec: script_spec.clone(),
                }
                .into());
            }
        }
    }
    // The incomplete marker is the build's, not a place for an artifact.
    for p in crate::artifact::plan(manifest, &opts.spec)? {
        if crate::artifact::resolve_target(&p.name, &p.artifact)?
            == format!("/{}", crate::build::INCOMPLETE)
        {
            return Err(PipelineError::MarkerTarget {
                name: p.name,
                line: p.artifact.line,
            });
        }
    }
    // An image needs a platform OCI names: known before building.
    if let Some(out) = &opts.output {
        if matches!(
            out.format,
            crate::output::Format::Oci | crate::output::Format::OciArchive
        ) && crate::oci::go_platform(&lock.arch).is_none()
        {
            return Err(
                crate::output::OutputError::Oci(crate::oci::OciError::UnknownArch {
                    arch: lock.arch.clone(),
                })
                .into(),
            );
        }
    }
    let urls = crate::build::archive_urls(manifest, lock, &opts.mirrors)?;
    let imported = match (manifest.imported.as_deref(), imported_lock) {
        (Some(m), Some(il)) => {
            let urls = crate::build::archive_urls(m, &il.lock, &opts.mirrors)?;
            Some((il, urls))
        }
        _ => None,
    };
    crate::build::prepare_target(&opts.target)?;
    Ok(Prepared {
        manifest,
        lock,
        imported,
        spec,
        resolved,
        urls,
        opts,
    })
}

impl Prepared<'_> {
    /// The spec as the manifest resolves it.
    pub fn resolved(&self) -> &ResolvedSpec {
        &self.resolved
    }

    /// [`Stage::Fetch`]: download every package (or find it in `cache`;
    /// without one, the packages wait in a directory beside the target
    /// until they are unpacked, and it is removed whatever happens).
    pub async fn fetch(
        &self,
        transport: &Transport,
        cache: Option<&Cache>,
        progress: &dyn Progress,
    ) -> Result<Fetched, PipelineError> {
        let started = Instant::now();
        progress.stage_start(Stage::Fetch, self.spec.packages.len());
        // Without a cache, one for this build beside the target.
        let (owned, temporary) = match cache {
            Some(_) => (None, None),
            None => {
                let dir = TempCache::beside(&self.opts.target);
                (Some(Cache::open(&dir.0)?), Some(dir))
            }
        };
        let cache = cache.or(owned.as_ref()).expect("a cache");
        // The artifacts first: a wrong hash fails the build before the
        // packages are downloaded.
        let artifacts = crate::artifact::fetch_all(
            self.manifest,
            &self.opts.spec,
            self.lock,
            transport,
            Some(cache),
        )
        .await?;
        for a in &artifacts {
            progress.stage_item(
                Stage::Fetch,
                &format!("artifact {}", a.name),
                Duration::ZERO,
            );
        }
        let lists = if self.resolved.meta.iter().any(|m| m == APT_LISTS) {
            Some(self.fetch_lists(transport, Some(cache)).await?)
        } else {
            None
        };
        let imported = match (self.manifest.imported.as_deref(), &self.imported) {
            (Some(manifest), Some((il, urls))) => Some(crate::build::ImportedSources {
                manifest,
                lock: &il.lock,
                urls,
            }),
            _ => None,
        };
        let debs = crate::build::download(
            self.manifest,
            self.lock,
            imported,
            self.spec,
            &self.urls,
            transport,
            cache,
            // Only a kept cache's decoded entries are read by the unpack.
            if owned.is_none() { self.opts.jobs } else { 0 },
            progress,
        )
        .await?;
        let took = started.elapsed();
        progress.stage_finish(Stage::Fetch, took);
        Ok(Fetched {
            debs,
            artifacts,
            lists,
            temporary,
            cache: owned.is_none().then(|| cache.clone()),
            took,
        })
    }

    /// The archives' Release files and indices, as `update` fetches
    /// them, each checked to be the one locked.
    async fn fetch_lists(
        &self,
        transport: &Transport,
        cache: Option<&Cache>,
    ) -> Result<Vec<crate::update::FetchedArchive>, PipelineError> {
        let opts = crate::update::UpdateOptions {
            arch: self.lock.arch.clone(),
            mirrors: self.opts.mirrors.clone(),
            snapshot: self.lock.archives.iter().find_map(|a| a.snapshot.clone()),
            // The lock says what was trusted (each suite is checked
            // against its locked Release hash below).
            no_verify: crate::update::lock_skips_signatures(self.manifest, self.lock),
            now: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs() as i64),
            // Each suite must be the locked one (checked below).
            ..Default::default()
        };
        let fetched = crate::update::fetch_archives(self.manifest, transport, cache, &opts)
            .await
            .map_err(PipelineError::Lists)?;
        for (i, (f, locked)) in fetched.iter().zip(&self.lock.archives).enumerate() {
            let now = f.fetched.release_sha256.to_string();
            if now != locked.release_sha256 {
                return Err(PipelineError::ReleaseMoved {
                    url: self.urls.get(i).cloned().unwrap_or_default(),
                    suite: f.suite.clone(),
                    locked: locked.release_sha256.clone(),
                    now,
                });
            }
        }
        Ok(fetched)
    }

    /// The stages after [`Stage::Fetch`], the scripts run by `executor`
    /// ([`crate::sandbox::Sandbox`] or [`crate::podman::Podman`]).
    pub fn install(
        self,
        fetched: Fetched,
        executor: &dyn Executor,
        progress: &dyn Progress,
    ) -> Result<BuildReport, PipelineError> {
        let root = self.opts.target.clone();
        let report = self.install_stages(fetched, executor, progress);
        if report.is_err() {
            // A script may have removed the marker: a failed build must
            // not look finished.
            if let Ok(tree) = crate::tree::Tree::open(&root) {
                let _ = tree.write_file(
                    Path::new(crate::build::INCOMPLETE),
                    crate::build::INCOMPLETE_TEXT.as_bytes(),
                    0o644,
                );
            }
        }
        report
    }

    fn install_stages(
        self,
        fetched: Fetched,
        executor: &dyn Executor,
        progress: &dyn Progress,
    ) -> Result<BuildReport, PipelineError> {
        let opts = &self.opts;
        let root = opts.target.as_path();
        let mut stages = vec![(Stage::Fetch, fetched.took)];
        let manual: HashSet<String> = self
            .resolved
            .include
            .iter()
            .map(|r| requirement_name(r).to_owned())
            .collect();
        let log = || {
            if opts.show_script_output {
                Output::Shown
            } else {
                Output::Hidden
            }
        };
        // The scripts' settings, for what is unpacked so far: without
        // root, what the tree cannot hold is given inside the sandbox or
        // kept in its ownership file.
        let options_for = |unpacked: &crate::unpack::Unpacked| {
            let epoch = opts
                .source_date_epoch
                .or_else(|| opts.output.as_ref().and_then(|o| o.source_date_epoch))
                .unwrap_or(unpacked.newest_mtime);
            let mut options = opts.sandbox.clone();
            options.env = self.resolved.build_env.clone();
            options
                .env
                .entry("SOURCE_DATE_EPOCH".to_owned())
                .or_insert_with(|| epoch.to_string());
            options.owners = crate::ownership::owners(&options.users, &unpacked.recorded);
            (epoch, options)
        };
        // The essential set is configured while the rest is unpacked
        // beside the tree, where the scripts cannot see it (the
        // executor's own /tmp hides the stage).
        // Its error, when the unpack beside it fails too (whose error the
        // build returns): reported as a warning, not lost.
        let early_failed = std::sync::Mutex::new(None::<String>);
        let early = |controls: &[crate::deb::ControlFiles],
                     unpacked: &crate::unpack::Unpacked|
         -> Result<EarlyDone, PipelineError> {
            // The configure stage starts here, beside the unpack.
            let started = Instant::now();
            progress.stage_start(Stage::Configure, controls.len());
            let (_, options) = options_for(unpacked);
            let run = || -> Result<EarlyDone, PipelineError> {
                let copied_resolv_conf = match options.network {
                    true => resolv_conf_from_host(root)?,
                    false => None,
                };
                let chowns = crate::configure::configure_part(
                    root,
                    controls,
                    crate::configure::Part::Essential,
                    executor,
                    &options,
                    log(),
                    progress,
                )?;
                Ok(EarlyDone {
                    started,
                    copied_resolv_conf,
                    chowns,
                    given: options.owners.iter().map(|o| o.path.clone()).collect(),
                })
            };
            run().inspect_err(|e| {
                *early_failed.lock().expect("early") = Some(error_chain(e));
            })
        };
        let early: Option<&crate::build::Early<'_, _>> =
            (!opts.unpack_only && executor.hides_tmp()).then_some(&early);
        let staged = crate::build::unpack_staged(
            root,
            &self.spec.packages,
            &fetched.debs,
            &manual,
            crate::build::Arches {
                native: &self.lock.arch,
                foreign: &self.resolved.foreign_architectures,
            },
            &self.resolved.path_filters,
            opts.jobs,
            fetched.cache.as_ref(),
            progress,
            early,
        );
        let (report, early) = match staged {
            Ok(done) => done,
            Err(e) => {
                if let Some(also) = early_failed.lock().expect("early").take() {
                    progress.warn(&format!(
                        "the essential set's configuration, run beside the unpack, failed too: {also}"
                    ));
                }
                return Err(e.into());
            }
        };
        let report: UnpackReport = report;
        let early = early.transpose()?;
        if let Some(dir) = &fetched.temporary {
            dir.remove()?;
        }
        if let Some(cache) = &fetched.cache {
            // The decoded data is bounded (it is made again when needed).
            let _ = cache.bound_decoded(crate::cache::DECODED_CAP);
        }
        stages.push((Stage::Unpack, report.took));
        let (epoch, mut options) = options_for(&report.unpacked);
        let users = options.users.clone();
        let mut chowns = Vec::new();
        let mut copied_resolv_conf = None;
        let early_ran = early.is_some();
        let mut configure_started = None;
        if let Some(done) = early {
            // The essential set's owners were given before its scripts.
            let given: HashSet<String> = done.given.into_iter().collect();
            options.owners.retain(|o| !given.contains(&o.path));
            copied_resolv_conf = done.copied_resolv_conf;
            chowns = done.chowns;
            configure_started = Some(done.started);
        }
        let mut scripts = 0;
        let staged;
        if opts.unpack_only {
            if !options.owners.is_empty() {
                crate::configure::give_owners(root, executor, &options, log())?;
            }
            staged = self.stage_artifacts(&fetched, progress, &mut stages)?;
        } else {
            let at = match configure_started {
                Some(at) => at,
                None => {
                    progress.stage_start(Stage::Configure, report.controls.len());
                    Instant::now()
                }
            };
            if options.network && copied_resolv_conf.is_none() {
                copied_resolv_conf = resolv_conf_from_host(root)?;
            }
            let part = if early_ran {
                crate::configure::Part::Rest
            } else {
                crate::configure::Part::All
            };
            chowns.extend(crate::configure::configure_part(
                root,
                &report.controls,
                part,
                executor,
                &options,
                log(),
                progress,
            )?);
            let took = at.elapsed();
            progress.stage_finish(Stage::Configure, took);
            stages.push((Stage::Configure, took));
            staged = self.stage_artifacts(&fetched, progress, &mut stages)?;
            if !self.resolved.build_scripts.is_empty() {
                let at = Instant::now();
                scripts = self.resolved.build_scripts.len();
                progress.stage_start(Stage::Scripts, scripts);
                // The owners were given while configuring.
                options.owners.clear();
                chowns.extend(crate::configure::build_scripts(
                    root,
                    &self.resolved.build_scripts,
                    executor,
                    &options,
                    log(),
                    progress,
                )?);
                let took = at.elapsed();
                progress.stage_finish(Stage::Scripts, took);
                stages.push((Stage::Scripts, took));
            }
        }
        let at = Instant::now();
        progress.stage_start(Stage::Finish, 0);
        if !opts.unpack_only {
            crate::configure::remove_build_records(root)?;
        }
        let mut recorded = report.unpacked.recorded;
        if let (Some(copy), false) = (copied_resolv_conf, opts.host_files) {
            // Only the copy: a package unpacked beside the essential set's
            // scripts, or a script, may have put its own there since.
            let rel = Path::new("etc/resolv.conf");
            crate::tree::Tree::open(root)
                .and_then(|t| match t.lstat(rel) {
                    Ok(st) if CopiedFile::of(&st) == copy => t.remove_file(rel),
                    _ => Ok(()),
                })
                .map_err(|source| BuildError::Target {
                    path: root.join(rel),
                    source,
                })?;
        }
        recorded.extend(crate::build::finish_tree(root, opts.host_files)?);
        crate::build::record_ownership(root, &users, &recorded, &chowns)?;
        crate::build::finish_target(root)?;
        let took = at.elapsed();
        progress.stage_finish(Stage::Finish, took);
        stages.push((Stage::Finish, took));
        let output = match &opts.output {
            Some(out) => {
                let at = Instant::now();
                progress.stage_start(Stage::Output, 0);
                let written = match out.format {
                    crate::output::Format::Oci | crate::output::Format::OciArchive => {
                        let image = crate::output::ImageInfo {
                            arch: self.lock.arch.clone(),
                            lock_hash: Some(
                                crate::hash::sha256(self.lock.to_text().as_bytes()).to_string(),
                            ),
                            spec_hash: Some(self.spec.hash.clone()),
                            // The SBOMs asked for, in the image too.
                            referrers: opts
                                .sboms
                                .iter()
                                .map(|(_, format)| {
                                    crate::sbom::render(root, self.lock, &opts.spec, *format, epoch)
                                        .map(|data| crate::oci::Referrer {
                                            media_type: format.media_type().to_owned(),
                                            data,
                                            annotations: Default::default(),
                                        })
                                })
                                .collect::<Result<Vec<_>, _>>()?,
                        };
                        if opts.parent_layers.is_empty() {
                            crate::output::write_image(root, &users, out, epoch, &image)?
                        } else {
                            let mut trees = opts.parent_layers.clone();
                            trees.push(crate::output::layers::LayerTree {
                                spec: self.spec.name.clone(),
                                root: root.to_owned(),
                                users: users.clone(),
                                source_date_epoch: epoch,
                            });
                            crate::output::layers::write_image(&trees, out, &image)?
                        }
                    }
                    _ => crate::output::write(root, &users, out, epoch)?,
                };
                let took = at.elapsed();
                progress.stage_finish(Stage::Output, took);
                stages.push((Stage::Output, took));
                Some(written)
            }
            None => None,
        };
        let sboms = opts
            .sboms
            .iter()
            .map(|(path, format)| {
                crate::sbom::write(root, self.lock, &opts.spec, *format, path, epoch)
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(BuildReport {
            packages: report.packages,
            configured: !opts.unpack_only,
            scripts,
            artifacts: staged,
            stages,
            output,
            sboms,
            source_date_epoch: epoch,
        })
    }
}

impl Prepared<'_> {
    /// [`Stage::Artifacts`]: stage the fetched artifacts, and apt's
    /// sources and lists when the spec's `meta` asks (nothing to stage:
    /// the stage is skipped).
    fn stage_artifacts(
        &self,
        fetched: &Fetched,
        progress: &dyn Progress,
        stages: &mut Vec<(Stage, Duration)>,
    ) -> Result<Vec<StagedRecord>, PipelineError> {
        let root = self.opts.target.as_path();
        let items = fetched.artifacts.len() + usize::from(fetched.lists.is_some());
        if items == 0 {
            return Ok(Vec::new());
        }
        let at = Instant::now();
        progress.stage_start(Stage::Artifacts, items);
        let mut staged = Vec::with_capacity(fetched.artifacts.len());
        for a in &fetched.artifacts {
            let one = Instant::now();
            staged.extend(crate::artifact::stage(root, std::slice::from_ref(a))?);
            progress.stage_item(Stage::Artifacts, &a.name, one.elapsed());
        }
        if let Some(lists) = &fetched.lists {
            let one = Instant::now();
            let done = crate::aptlists::stage(root, self.manifest, &self.urls, lists)?;
            for suite in &done.unverified {
                progress.warn(&format!(
                    "{suite}: its lists are staged in the tree unverified (locked without a signature check), and apt there trusts them"
                ));
            }
            progress.stage_item(Stage::Artifacts, APT_LISTS, one.elapsed());
        }
        let took = at.elapsed();
        progress.stage_finish(Stage::Artifacts, took);
        stages.push((Stage::Artifacts, took));
        Ok(staged)
    }
}

/// A package cache for one build, in a directory beside its target (not
/// in the tree, whose modes it would set), removed when dropped.
struct TempCache(PathBuf);

impl TempCache {
    fn beside(target: &Path) -> TempCache {
        let name = target
            .file_name()
            .map_or_else(|| "tree".into(), |n| n.to_string_lossy().into_owned());
        TempCache(
            target.with_file_name(format!(".{name}.rdebootstrap-debs.{}", std::process::id())),
        )
    }

    fn remove(&self) -> Result<(), PipelineError> {
        match std::fs::remove_dir_all(&self.0) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(source) => Err(PipelineError::Cleanup {
                path: self.0.clone(),
                source,
            }),
        }
    }
}

impl Drop for TempCache {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// An error with its causes, one line.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut line = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        line.push_str(": ");
        line.push_str(&c.to_string());
        cause = c.source();
    }
    line
}

/// What the essential set's configuration, run beside the unpack, leaves
/// for the rest of the build.
struct EarlyDone {
    /// When the configure stage started.
    started: Instant,
    /// The host's resolv.conf copied in (removed at the end if it is
    /// still there).
    copied_resolv_conf: Option<CopiedFile>,
    /// The scripts' changes of owner.
    chowns: Vec<crate::sandbox::Chown>,
    /// The paths whose owners were given before the scripts.
    given: Vec<String>,
}

/// A file the build put in the tree, as it left it: the same inode with
/// the same change time (a script that removed it and wrote its own may
/// have been given the freed inode number).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct CopiedFile {
    inode: u64,
    changed: (i64, i64),
}

impl CopiedFile {
    // The fields' types differ between architectures.
    #[allow(clippy::unnecessary_cast)]
    fn of(st: &rustix::fs::Stat) -> Self {
        CopiedFile {
            inode: st.st_ino,
            changed: (st.st_ctime as i64, st.st_ctime_nsec as i64),
        }
    }
}

/// With the network, scripts resolve names with the host's
/// `/etc/resolv.conf` when the tree has none: copy it into the tree;
/// the copy if it did.
fn resolv_conf_from_host(root: &Path) -> Result<Option<CopiedFile>, PipelineError> {
    let tree = crate::tree::Tree::open(root).map_err(|source| BuildError::Target {
        path: root.to_owned(),
        source,
    })?;
    let rel = Path::new("etc/resolv.conf");
    if tree.lstat(rel).is_err() {
        if let Ok(host) = std::fs::read("/etc/resolv.conf") {
            return tree
                .write_file(rel, &host, 0o644)
                .and_then(|()| tree.lstat(rel))
                .map(|st| Some(CopiedFile::of(&st)))
                .map_err(|source| {
                    BuildError::Target {
                        path: root.join(rel),
                        source,
                    }
                    .into()
                });
        }
    }
    Ok(None)
}
