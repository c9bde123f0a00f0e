//! `build`: a fresh lock's spec into a root tree: download, unpack, dpkg
//! database, then the maintainer scripts in the sandbox helper.

use std::collections::HashSet;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result};
use debrepo::cache::Cache;
use debrepo::manifest::{requirement_name, spec_label};

use crate::Global;

#[derive(clap::Args)]
pub struct BuildArgs {
    /// The spec (default: the unnamed `[spec]`).
    #[arg(short, long, default_value = "")]
    spec: String,
    /// The directory to build in (new or empty); marked incomplete
    /// (`.rdebootstrap-incomplete`) until the build finishes.
    #[arg(short, long)]
    path: PathBuf,
    /// A vendor's mirror for `mirror = "VENDOR"` archives, as VENDOR=URL
    /// (default: `RDEBOOTSTRAP_MIRROR_<VENDOR>`, else the host's APT sources).
    #[arg(long = "mirror", value_name = "VENDOR=URL")]
    mirrors: Vec<String>,
    /// Packages unpacked at once (default: the number of CPUs).
    #[arg(short, long)]
    jobs: Option<usize>,
    /// Let maintainer scripts use the network (the host's resolv.conf is
    /// copied into the tree when it has none).
    #[arg(long)]
    network: bool,
    /// Stop after unpacking: packages unpacked, not configured (no
    /// maintainer script runs; `dpkg --configure -a` in the tree later
    /// finishes them, after each package's `preinst install`).
    #[arg(long)]
    unpack_only: bool,
    /// Run `update` first: lock the manifest afresh (the lock is rewritten
    /// only when it changes), so that a missing lock or one a mirror has
    /// moved past is not an error.
    #[arg(long)]
    update: bool,
}

pub fn build(args: BuildArgs, global: &Global) -> Result<()> {
    let started = Instant::now();
    if args.update {
        update_first(&args.mirrors, global)?;
    }
    let (manifest, lock, lock_path) = crate::lockcmd::fresh_lock(global)?;
    let spec = lock.spec(&args.spec).with_context(|| {
        format!(
            "{} has no spec {}",
            lock_path.display(),
            spec_label(&args.spec)
        )
    })?;
    let resolved = manifest.resolve(&args.spec)?;
    let manual: HashSet<String> = resolved
        .include
        .iter()
        .map(|r| requirement_name(r).to_owned())
        .collect();
    if !args.unpack_only {
        debrepo::build::check_configurable(spec)?;
    }
    debrepo::build::prepare_target(&args.path)?;
    let urls = debrepo::build::archive_urls(
        &manifest,
        &lock,
        // With --update, update has said where each mirror came from.
        &crate::lockcmd::mirrors(&manifest, &args.mirrors, global.quiet || args.update)?,
    )?;
    let (transport, cache) = crate::lockcmd::transport_and_cache(global, Some(manifest.dir()))?;
    // Without a cache, the .debs wait where apt keeps them, inside the
    // tree, and are removed after unpacking.
    let tree_cache = args.path.join("var/cache/apt/archives/rdebootstrap");
    let (cache, temporary) = match cache {
        Some(c) => (c, false),
        None => (Cache::open(&tree_cache)?, true),
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let debs = runtime.block_on(debrepo::build::download(
        &manifest, &lock, spec, &urls, &transport, &cache,
    ))?;
    let downloaded = started.elapsed();
    let jobs = args
        .jobs
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get()));
    let report = debrepo::build::unpack(
        &args.path,
        &spec.packages,
        &debs,
        &manual,
        &lock.arch,
        &resolved.foreign_architectures,
        jobs,
    )?;
    if temporary {
        std::fs::remove_dir_all(&tree_cache)
            .with_context(|| format!("cannot remove {}", tree_cache.display()))?;
    }
    let unpacked = started.elapsed();
    let log = || {
        if global.debug {
            std::process::Stdio::inherit()
        } else {
            std::process::Stdio::null()
        }
    };
    // Who root is in the sandbox (the default: see sandbox::users); without
    // root, what the tree cannot hold is kept in its ownership file.
    let mut options = debrepo::configure::ConfigureOptions {
        network: args.network,
        ..Default::default()
    };
    let users = options.users.clone();
    options.owners = debrepo::ownership::owners(&users, &report.unpacked.recorded);
    if args.unpack_only {
        if !options.owners.is_empty() {
            debrepo::configure::give_owners(
                &args.path,
                &debrepo::sandbox::Sandbox::embedded()?,
                &options,
                log(),
            )?;
        }
        let mut recorded = report.unpacked.recorded;
        recorded.extend(debrepo::build::finish_tree(&args.path)?);
        debrepo::build::record_ownership(&args.path, &users, &recorded, &[])?;
        debrepo::build::finish_target(&args.path)?;
        if !global.quiet {
            eprintln!(
                "unpacked {} packages into {} in {:.1?} (download {:.1?}, unpack {:.1?}); not configured (--unpack-only)",
                report.packages,
                args.path.display(),
                unpacked,
                downloaded,
                unpacked - downloaded
            );
        }
        return Ok(());
    }
    let sandbox = debrepo::sandbox::Sandbox::embedded()?;
    if args.network {
        let resolv = args.path.join("etc/resolv.conf");
        if std::fs::symlink_metadata(&resolv).is_err() {
            if let Ok(host) = std::fs::read("/etc/resolv.conf") {
                debrepo::tree::Tree::open(&args.path)?.write_file(
                    std::path::Path::new("etc/resolv.conf"),
                    &host,
                    0o644,
                )?;
            }
        }
    }
    let chowns =
        debrepo::configure::configure(&args.path, &report.controls, &sandbox, &options, log())?;
    let mut recorded = report.unpacked.recorded;
    recorded.extend(debrepo::build::finish_tree(&args.path)?);
    debrepo::build::record_ownership(&args.path, &users, &recorded, &chowns)?;
    debrepo::build::finish_target(&args.path)?;
    if !global.quiet {
        eprintln!(
            "built {} packages into {} in {:.1?} (download {:.1?}, unpack {:.1?}, configure {:.1?})",
            report.packages,
            args.path.display(),
            started.elapsed(),
            downloaded,
            unpacked - downloaded,
            started.elapsed() - unpacked
        );
    }
    Ok(())
}

/// `build --update`: `update` with the build's `--mirror` flags.
fn update_first(mirrors: &[String], global: &Global) -> Result<()> {
    use clap::{Args, FromArgMatches};
    let mut argv = vec!["update".to_owned()];
    argv.extend(mirrors.iter().map(|m| format!("--mirror={m}")));
    let matches = crate::lockcmd::UpdateArgs::augment_args(clap::Command::new("update"))
        .try_get_matches_from(argv)?;
    crate::lockcmd::update(
        crate::lockcmd::UpdateArgs::from_arg_matches(&matches)?,
        global,
    )
}
