//! `build`: a fresh lock's spec into a root tree, through the library's
//! pipeline ([`debrepo::pipeline`]); this module parses the flags and
//! renders the stages' progress.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::Result;

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
    /// What runs the maintainer scripts and build scripts: rdebootstrap's
    /// own sandbox, or podman (`podman run --rootfs`, with podman's own
    /// configuration).
    #[arg(long, value_enum, default_value_t = Executor::Sandbox)]
    executor: Executor,
    /// Run `update` first: lock the manifest afresh (the lock is rewritten
    /// only when it changes), so that a missing lock or one a mirror has
    /// moved past is not an error.
    #[arg(long)]
    update: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Executor {
    Sandbox,
    Podman,
}

pub fn build(args: BuildArgs, global: &Global) -> Result<()> {
    let started = Instant::now();
    if args.update {
        update_first(&args.mirrors, global)?;
    }
    let (manifest, lock, lock_path) = crate::lockcmd::fresh_lock(global)?;
    let mut opts = debrepo::pipeline::BuildOptions::new(&args.spec, &args.path);
    // With --update, update has said where each mirror came from.
    opts.mirrors = crate::lockcmd::mirrors(&manifest, &args.mirrors, global.quiet || args.update)?;
    if let Some(jobs) = args.jobs {
        opts.jobs = jobs;
    }
    opts.unpack_only = args.unpack_only;
    opts.sandbox.network = args.network;
    // Found before anything is downloaded.
    let executor: Box<dyn debrepo::sandbox::Executor> = match args.executor {
        Executor::Sandbox => Box::new(debrepo::sandbox::Sandbox::embedded()?),
        Executor::Podman => Box::new(debrepo::podman::Podman::find()?),
    };
    let build = debrepo::pipeline::prepare(&manifest, &lock, &lock_path, opts)?;
    let (transport, cache) = crate::lockcmd::transport_and_cache(global, Some(manifest.dir()))?;
    let progress = crate::progress::Terminal::new(global.quiet, global.debug);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let fetched = runtime.block_on(build.fetch(&transport, cache.as_ref(), &progress))?;
    let report = build.install(fetched, executor.as_ref(), &progress)?;
    if !global.quiet {
        let n = report.packages;
        let packages = if n == 1 { "package" } else { "packages" };
        let mut extras = Vec::new();
        match report.artifacts.len() {
            0 => {}
            1 => extras.push("1 artifact".to_owned()),
            k => extras.push(format!("{k} artifacts")),
        }
        match report.scripts {
            0 => {}
            1 => extras.push("1 build script".to_owned()),
            k => extras.push(format!("{k} build scripts")),
        }
        let scripts = match extras.len() {
            0 => String::new(),
            _ => format!(" and {}", extras.join(" and ")),
        };
        if report.configured {
            eprintln!(
                "built {n} {packages}{scripts} into {} in {:.1?}",
                args.path.display(),
                started.elapsed()
            );
        } else {
            eprintln!(
                "unpacked {n} {packages} into {} in {:.1?}; not configured (--unpack-only)",
                args.path.display(),
                started.elapsed()
            );
        }
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
