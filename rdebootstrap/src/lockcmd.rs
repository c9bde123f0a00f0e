//! `update` and `list`: from the manifest to the lock, and back out of it.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use debrepo::cache::Cache;
use debrepo::lock::Lock;
use debrepo::manifest::Manifest;
use debrepo::transport::{AuthProvider, Transport, TransportOptions};

use crate::Global;

#[derive(clap::Args)]
pub struct UpdateArgs {
    /// A vendor's mirror for `mirror = "VENDOR"` archives, as VENDOR=URL,
    /// e.g. debian-security=URL (default: `RDEBOOTSTRAP_MIRROR_<VENDOR>`,
    /// upper case with `-` as `_`, else the host's APT sources).
    #[arg(long = "mirror", value_name = "VENDOR=URL")]
    mirrors: Vec<String>,
    /// Fetch through the archives' snapshot templates: YYYYMMDDTHHMMSSZ or today.
    #[arg(long, value_parser = snapshot_arg)]
    snapshot: Option<String>,
    /// Do not check signatures (not recommended).
    #[arg(long)]
    no_verify: bool,
    /// Accept a Release file dated before the one the lock was made from
    /// (a mirror that is behind, an archive rolled back on purpose);
    /// without it such a Release is refused.
    #[arg(long)]
    allow_older_release: bool,
    /// First resolve `[import.git] ref` again and, when the branch or tag
    /// has moved, re-pin `rev` and `hash` in the manifest. (Refreshing
    /// local packages' and artifacts' hashes is not built yet.)
    #[arg(long)]
    locals: bool,
}

#[derive(clap::Args)]
pub struct ListArgs {
    /// The spec (default: the unnamed `[spec]`).
    #[arg(short, long, default_value = "")]
    spec: String,
    /// Print JSON for scripts.
    #[arg(long)]
    json: bool,
}

pub fn arch(global: &Global) -> Result<String> {
    match &global.arch {
        Some(a) if a.contains(',') => anyhow::bail!(
            "--arch {a}: this command takes one architecture (build --format oci takes several, for an image of several platforms)"
        ),
        Some(a) => Ok(a.clone()),
        None => Ok(debrepo::arch::host()
            .context("cannot tell this machine's Debian architecture: pass --arch")?
            .to_owned()),
    }
}

fn load_manifest(path: &Path) -> Result<Manifest> {
    Ok(Manifest::load(path)?)
}

/// Load the manifest at `path` and what it imports; a git import is
/// read with [`git_access`].
pub fn load_with_imports(path: &Path, global: &Global) -> Result<Manifest> {
    let own = Manifest::load_own(path)?;
    if own.import.as_ref().is_some_and(|i| i.git.is_some()) {
        let access = git_access(global, Some(own.dir()))?;
        return Ok(Manifest::load_with(path, Some(&access))?);
    }
    load_manifest(path)
}

/// The git cache (under the cache directory) and the credentials (`-a`,
/// else `auth.toml` in `auth_dir`) for reading a git import.
pub fn git_access(
    global: &Global,
    auth_dir: Option<&Path>,
) -> Result<debrepo::manifest::import::GitAccess> {
    if global.no_cache {
        bail!("a git import is read through the cache: drop --no-cache");
    }
    let dir = cache_dir(global, "")?;
    let auth = match &global.auth {
        Some(source) => match source.parse::<debrepo::auth::AuthSource>()? {
            debrepo::auth::AuthSource::File(p) => Some(debrepo::auth::Auth::from_file(&p)?),
            debrepo::auth::AuthSource::Vault(_) => {
                bail!("credentials for git imports come from an auth file; Vault is not supported for them yet")
            }
        },
        None => match auth_dir.map(|d| d.join("auth.toml")).filter(|f| f.exists()) {
            Some(f) => Some(debrepo::auth::Auth::from_file(&f)?),
            None => None,
        },
    };
    Ok(debrepo::manifest::import::GitAccess {
        cache: debrepo::git::GitCache::new(&dir)?,
        auth,
    })
}

/// The URL of each vendor archive the manifest names (`mirror = "..."`):
/// resolved by [`debrepo::mirror::resolve_for`] (`--mirror`, then
/// `RDEBOOTSTRAP_MIRROR_<VENDOR>`, then the host's APT sources); unless
/// `quiet`, one line per vendor on stderr says which URL and from where.
pub fn mirrors(
    manifest: &Manifest,
    given: &[String],
    quiet: bool,
) -> Result<HashMap<String, String>> {
    let flags = debrepo::mirror::parse_flags(given)?;
    let resolved = debrepo::mirror::resolve_for(manifest, &flags, Path::new("/etc/apt"));
    if !quiet {
        let vendors = debrepo::mirror::vendors(manifest);
        for line in debrepo::mirror::unused_flags(&vendors, &flags)
            .into_iter()
            .chain(debrepo::mirror::report(&resolved))
        {
            eprintln!("{line}");
        }
    }
    Ok(debrepo::mirror::urls(&resolved))
}

/// The cache directory: `--cache-dir`, else the default one; the error
/// names the options that give one (`or_else`: another way out).
pub fn cache_dir(global: &Global, or_else: &str) -> Result<std::path::PathBuf> {
    match &global.cache_dir {
        Some(d) => Ok(d.clone()),
        None => Cache::default_dir().with_context(|| {
            format!("no cache directory: set XDG_CACHE_HOME or HOME, or pass --cache-dir{or_else}")
        }),
    }
}

/// The cache and the transport (limits, TLS, progress, credentials: `-a`,
/// else `auth.toml` in `auth_dir` if there is one) the global options ask for.
pub fn transport_and_cache(
    global: &Global,
    auth_dir: Option<&Path>,
) -> Result<(Transport, Option<Cache>)> {
    let cache = if global.no_cache {
        None
    } else {
        Some(Cache::open(cache_dir(global, " or --no-cache")?)?)
    };
    let progress = Arc::new(crate::progress::Terminal::new(global.quiet, global.debug));
    let mut transport = Transport::new(TransportOptions {
        downloads: global.downloads.max(1),
        insecure: global.insecure,
        ..TransportOptions::default()
    })?
    .with_progress(progress);
    let auth_file = auth_dir.map(|d| d.join("auth.toml"));
    match &global.auth {
        Some(source) => {
            transport = transport.with_auth(match source.parse::<debrepo::auth::AuthSource>()? {
                debrepo::auth::AuthSource::File(p) => {
                    AuthProvider::Static(debrepo::auth::Auth::from_file(&p)?)
                }
                debrepo::auth::AuthSource::Vault(p) => {
                    AuthProvider::Vault(debrepo::auth::Vault::from_env(&p)?)
                }
            })
        }
        None => {
            if let Some(f) = auth_file.filter(|f| f.exists()) {
                transport =
                    transport.with_auth(AuthProvider::Static(debrepo::auth::Auth::from_file(&f)?))
            }
        }
    }
    Ok((transport, cache))
}

/// The transport, cache and options of an update.
fn setup(
    manifest: &Manifest,
    global: &Global,
    mirrors_given: &[String],
    snapshot: Option<String>,
    no_verify: bool,
    quiet: bool,
) -> Result<(Transport, Option<Cache>, debrepo::update::UpdateOptions)> {
    let arch = arch(global)?;
    let (transport, cache) = transport_and_cache(global, Some(manifest.dir()))?;
    let opts = debrepo::update::UpdateOptions {
        arch,
        mirrors: mirrors(manifest, mirrors_given, quiet)?,
        snapshot,
        no_verify,
        now: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64),
        ..Default::default()
    };
    Ok((transport, cache, opts))
}

/// Fetch the manifest's archives as `update` does (for the query verbs).
pub fn fetch(manifest: &Manifest, global: &Global) -> Result<Vec<debrepo::update::FetchedArchive>> {
    Ok(fetch_checked(manifest, global, false)??)
}

/// Fetch the manifest's archives, signatures checked unless `no_verify`;
/// the library's error, for callers that tell its kinds apart.
pub fn fetch_checked(
    manifest: &Manifest,
    global: &Global,
    no_verify: bool,
) -> Result<Result<Vec<debrepo::update::FetchedArchive>, debrepo::update::Error>> {
    let (transport, cache, opts) = setup(manifest, global, &[], None, no_verify, true)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    Ok(runtime.block_on(debrepo::update::fetch_archives(
        manifest,
        &transport,
        cache.as_ref(),
        &opts,
    )))
}

/// `update --locals`: the manifest's hashes of what it names on disk
/// (local .debs, local and text artifacts) are set to that content's
/// hashes now, a path `[import]`'s hash to the imported manifest's, and
/// an `[import.git]` that follows a `ref` is re-pinned (rev and hash) when
/// the ref moved. The manifest is written once, comments kept.
fn refresh_locals(global: &Global) -> Result<()> {
    use debrepo::manifest::edit as medit;
    let path = &global.manifest;
    let say = |line: &str| {
        if !global.quiet {
            eprintln!("{line}");
        }
    };
    let text = crate::edit::read(path)?;
    let refreshed = medit::refresh_local_hashes(&text, path)?;
    for l in &refreshed.lines {
        say(l);
    }
    let mut text = refreshed.text;
    let mut changed = refreshed.changed;
    let own = Manifest::parse(&text, path)?;
    match own.import.as_ref() {
        None => {}
        Some(import) => match (&import.git, &import.path) {
            (Some(git), _) => match &git.reference {
                None => say(&format!(
                    "[import.git] follows no ref: rev {} stays",
                    git.rev
                )),
                Some(reference) => {
                    let access = git_access(global, Some(own.dir()))?;
                    match debrepo::manifest::import::follow_ref(&access, git, &import.specs)? {
                        None => say(&format!(
                            "[import.git] ref {reference} is still at {}",
                            git.rev
                        )),
                        Some((pin, hash)) => {
                            let edit = medit::set_import(
                                &text,
                                path,
                                medit::ImportedFrom::Git(&pin),
                                &hash,
                                &import.specs,
                            )?;
                            say(&format!(
                                "[import.git] ref {reference} moved: rev {} -> {}, hash {hash}",
                                git.rev, pin.rev
                            ));
                            text = edit.text;
                            changed = true;
                        }
                    }
                }
            },
            (None, Some(rel)) => {
                let hash = debrepo::manifest::import::pin(&own.dir().join(rel), &import.specs)?;
                if hash != import.hash {
                    let edit = medit::set_import(
                        &text,
                        path,
                        medit::ImportedFrom::Path(&rel.to_string_lossy()),
                        &hash,
                        &import.specs,
                    )?;
                    say(&format!(
                        "[import] {}: hash {} -> {hash}",
                        rel.display(),
                        import.hash
                    ));
                    text = edit.text;
                    changed = true;
                }
            }
            (None, None) => {}
        },
    }
    if changed {
        crate::edit::write(path, &text)?;
    } else {
        say("update --locals: every recorded hash is current");
    }
    Ok(())
}

/// A snapshot id as `--snapshot` takes it: a bad one is a usage error.
fn snapshot_arg(id: &str) -> std::result::Result<String, String> {
    debrepo::archive::snapshot_id(id, 0)
        .map(|_| id.to_owned())
        .map_err(|e| e.to_string())
}

pub fn update(args: UpdateArgs, global: &Global) -> Result<()> {
    if args.locals {
        refresh_locals(global)?;
    }
    let manifest = load_with_imports(&global.manifest, global)?;
    // With a snapshot, an archive without a template is fetched as it is
    // now: said, not silently (none with one at all is an error).
    if args.snapshot.is_some() && !global.quiet {
        let some = manifest.archives.iter().any(|d| d.snapshots.is_some());
        for decl in manifest
            .archives
            .iter()
            .filter(|d| some && d.snapshots.is_none())
        {
            eprintln!(
                "{}, archive at line {}: no 'snapshots' template: fetched as it is now, not at the snapshot",
                manifest.path.display(),
                decl.line
            );
        }
    }
    let (transport, cache, mut opts) = setup(
        &manifest,
        global,
        &args.mirrors,
        args.snapshot,
        args.no_verify,
        global.quiet,
    )?;
    let arch = opts.arch.clone();
    // The lock this update replaces: no Release older than its own is
    // taken. A lock that cannot be read (none yet, an older format) has
    // nothing to compare with.
    opts.locked_archives = Lock::load(&manifest.lock_path(&arch))
        .map(|l| l.archives)
        .unwrap_or_default();
    opts.allow_older_release = args.allow_older_release;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let lock = runtime.block_on(debrepo::update::update(
        &manifest,
        &transport,
        cache.as_ref(),
        &opts,
    ))?;
    let path = manifest.lock_path(&arch);
    let wrote = lock.write_if_changed(&path)?;
    if !global.quiet {
        let total: usize = lock.specs.iter().map(|s| s.packages.len()).sum();
        eprintln!(
            "{} {} ({}, {})",
            if wrote { "wrote" } else { "unchanged:" },
            path.display(),
            crate::output::count(lock.specs.len(), "spec", "specs"),
            crate::output::count(total, "package", "packages"),
        );
    }
    Ok(())
}

pub fn fresh_lock(global: &Global) -> Result<(Manifest, Lock, PathBuf)> {
    let manifest = load_with_imports(&global.manifest, global)?;
    let path = manifest.lock_path(&arch(global)?);
    let lock = Lock::load(&path)?;
    let imported = debrepo::lock::imported_lock(&manifest, &lock.arch)?;
    lock.check_import(&manifest, imported.as_ref(), &path)?;
    let stale = lock.stale_specs(&manifest)?;
    if !stale.is_empty() {
        let names: Vec<String> = stale
            .iter()
            .map(|s| {
                if s.is_empty() {
                    "[spec]".to_owned()
                } else {
                    s.clone()
                }
            })
            .collect();
        bail!(
            "{} is out of date for {} (the manifest changed): run 'rdebootstrap update'",
            path.display(),
            names.join(", ")
        );
    }
    Ok((manifest, lock, path))
}

pub fn list(args: ListArgs, global: &Global) -> Result<()> {
    let (_, lock, path) = fresh_lock(global)?;
    let spec = lock.spec(&args.spec).with_context(|| {
        format!(
            "{} has no spec {}",
            path.display(),
            if args.spec.is_empty() {
                "[spec]".into()
            } else {
                format!("'{}'", args.spec)
            }
        )
    })?;
    let mut pkgs: Vec<_> = spec.packages.iter().collect();
    pkgs.sort();
    if args.json {
        let items: Vec<serde_json::Value> = pkgs
            .iter()
            .map(|p| serde_json::json!({"name": p.name, "version": p.version, "arch": p.arch}))
            .collect();
        outln!("{}", serde_json::Value::Array(items))?;
    } else {
        for p in pkgs {
            outln!("{} {} {}", p.name, p.version, p.arch)?;
        }
    }
    Ok(())
}
