//! `build`: a fresh lock's spec into a root tree, through the library's
//! pipeline ([`debrepo::pipeline`]); this module parses the flags and
//! renders the stages' progress.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::Result;

use crate::Global;

#[derive(clap::Args, Clone)]
pub struct BuildArgs {
    /// The spec (default: the unnamed `[spec]`).
    #[arg(short, long, default_value = "")]
    spec: String,
    /// The directory to build in (new or empty); marked incomplete
    /// (`.rdebootstrap-incomplete`) until the build finishes. With
    /// `--output` and no `--path`, a temporary directory beside the
    /// output, removed afterwards.
    #[arg(short, long, required_unless_present = "output")]
    path: Option<PathBuf>,
    /// Also write the tree as a file, deterministically (mtimes clamped to
    /// `SOURCE_DATE_EPOCH`, by default the newest file time of the locked
    /// packages), atomically; its format from its extension (`.tar`,
    /// `.tar.gz`, `.tar.xz`, `.tar.zst`) unless `--format` says.
    #[arg(short, long, value_name = "FILE")]
    output: Option<PathBuf>,
    /// The output's format: tar, tar.gz, tar.xz, tar.zst, oci (an OCI
    /// image layout directory) or oci-archive (that directory as a tar).
    #[arg(long, value_name = "FORMAT", requires = "output", value_parser = parse_format)]
    format: Option<debrepo::output::Format>,
    /// The layers of an OCI image: `single` (the whole tree as one
    /// layer), or `spec` (one layer per spec of the `extends` chain, base
    /// first, each its difference from its parent; each ancestor is built
    /// on its own first, so a base layer is byte for byte the base spec's
    /// own image's layer).
    #[arg(long, value_enum, default_value_t = Layers::Single, requires = "output")]
    layers: Layers,
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
    /// Also write a software bill of materials of the built tree to FILE
    /// (repeatable): SPDX 2.3 JSON when its name ends in `.spdx.json`,
    /// CycloneDX 1.6 JSON when it ends in `.cdx.json`. It lists the
    /// installed packages (versions, source packages, package URLs, the
    /// .debs' SHA256, the licenses of machine-readable copyright files,
    /// dependencies), the staged artifacts and the archives; the same lock
    /// gives the same bytes (timed `SOURCE_DATE_EPOCH`). With several
    /// architectures, one per platform: `NAME.ARCH.spdx.json`.
    #[arg(long = "sbom", value_name = "FILE")]
    sboms: Vec<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Layers {
    Single,
    Spec,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Executor {
    Sandbox,
    Podman,
}

fn parse_format(name: &str) -> Result<debrepo::output::Format, String> {
    debrepo::output::Format::from_name(name).ok_or_else(|| {
        let names: Vec<_> = debrepo::output::Format::ALL
            .iter()
            .map(|f| f.name())
            .collect();
        format!("unknown format (known: {})", names.join(", "))
    })
}

/// `SOURCE_DATE_EPOCH` from the environment, if set.
fn source_date_epoch() -> Result<Option<u64>> {
    match std::env::var("SOURCE_DATE_EPOCH") {
        Ok(v) if !v.is_empty() => v.trim().parse().map(Some).map_err(|_| {
            anyhow::anyhow!(
                "SOURCE_DATE_EPOCH={v:?}: not a number of seconds since 1970 (unset it to use the lock's default)"
            )
        }),
        _ => Ok(None),
    }
}

/// The build's directory when only `--output` is given: beside the
/// output, removed when the build is done (or failed).
struct TempTree(PathBuf);

impl Drop for TempTree {
    fn drop(&mut self) {
        if std::fs::remove_dir_all(&self.0).is_err() && self.0.exists() {
            // Rootless with subordinate ids, the files are those ids'.
            let _ = std::process::Command::new("unshare")
                .args(["--map-auto", "--map-root-user", "rm", "-rf", "--"])
                .arg(&self.0)
                .stderr(std::process::Stdio::null())
                .status();
        }
    }
}

pub fn build(args: BuildArgs, global: &Global) -> Result<()> {
    let arches: Vec<String> = global
        .arch
        .as_deref()
        .map(|a| a.split(',').map(str::to_owned).collect())
        .unwrap_or_default();
    if arches.len() > 1 {
        return build_platforms(args, global, &arches);
    }
    build_one(args, global).map(drop)
}

/// `build --arch A,B,… --format oci|oci-archive -o OUT`: each
/// architecture built on its own from its own lock (`Manifest.A.lock`),
/// into an OCI layout beside `OUT`, then one image for all the platforms
/// ([`debrepo::oci::write_platforms`]).
fn build_platforms(args: BuildArgs, global: &Global, arches: &[String]) -> Result<()> {
    use debrepo::output::Format;
    let started = Instant::now();
    let Some(out) = args.output.clone() else {
        anyhow::bail!(
            "--arch {} builds one image for several platforms: give --output DIR with --format oci (or FILE with --format oci-archive)",
            arches.join(",")
        );
    };
    let format = args.format.or_else(|| Format::from_path(&out));
    let archive = match format {
        Some(Format::Oci) => false,
        Some(Format::OciArchive) => true,
        _ => anyhow::bail!(
            "--arch {}: an image for several platforms is an OCI image: give --format oci or oci-archive",
            arches.join(",")
        ),
    };
    if args.path.is_some() {
        anyhow::bail!(
            "--arch {}: each platform's tree is built beside the output and removed; --path names one tree",
            arches.join(",")
        );
    }
    let mut seen = std::collections::BTreeSet::new();
    for a in arches {
        if a.is_empty() || !seen.insert(a.as_str()) {
            anyhow::bail!("--arch {}: each architecture once", arches.join(","));
        }
    }
    // Each platform's SBOM names, checked before the first is built.
    let sboms = arches
        .iter()
        .map(|arch| platform_sboms(&args.sboms, arch))
        .collect::<Result<Vec<_>>>()?;
    for paths in &sboms {
        sbom_files(paths)?;
    }
    let mut dirs = Vec::new();
    let mut _temps = Vec::new();
    let mut epoch = 0;
    for (arch, sboms) in arches.iter().zip(sboms) {
        let dir = temp_beside(&out, &format!("platform-{arch}"));
        _temps.push(TempTree(dir.clone()));
        let mut one = args.clone();
        one.output = Some(dir.clone());
        one.format = Some(Format::Oci);
        one.sboms = sboms;
        let mut g = global.clone();
        g.arch = Some(arch.clone());
        if !global.quiet {
            eprintln!("platform {arch}:");
        }
        let report = build_one(one, &g)?;
        epoch = epoch.max(report.output.map_or(0, |o| o.source_date_epoch));
        dirs.push(dir);
    }
    let epoch = source_date_epoch()?.unwrap_or(epoch);
    let index = debrepo::oci::write_platforms(
        &out,
        &dirs,
        archive,
        debrepo::oci::DEFAULT_REF_NAME,
        i64::try_from(epoch).unwrap_or(i64::MAX),
    )?;
    if !global.quiet {
        eprintln!(
            "built an image for {} into {} (index {}) in {:.1?}",
            arches.join(", "),
            out.display(),
            index.oci_digest(),
            started.elapsed()
        );
    }
    Ok(())
}

fn build_one(args: BuildArgs, global: &Global) -> Result<debrepo::pipeline::BuildReport> {
    let started = Instant::now();
    let output = match &args.output {
        Some(path) => {
            let format = match args.format {
                Some(f) => f,
                None => debrepo::output::Format::from_path(path).ok_or_else(|| {
                    anyhow::anyhow!(
                        "{}: the output's format is not known from its name: name it .tar, .tar.gz, .tar.xz, .tar.zst, .oci (a layout directory) or .oci.tar, or give --format",
                        path.display()
                    )
                })?,
            };
            // Known before anything is downloaded.
            let parent = match path.parent() {
                Some(p) if !p.as_os_str().is_empty() => p,
                _ => std::path::Path::new("."),
            };
            if !parent.is_dir() {
                anyhow::bail!(
                    "{}: no directory {} to write the output in",
                    path.display(),
                    parent.display()
                );
            }
            // An OCI layout is a directory (replaced as a whole).
            if path.is_dir() && format != debrepo::output::Format::Oci {
                anyhow::bail!("{}: a directory, not a file to write", path.display());
            }
            Some(debrepo::output::OutputOptions {
                path: path.clone(),
                format,
                source_date_epoch: source_date_epoch()?,
            })
        }
        None => None,
    };
    let sboms = sbom_files(&args.sboms)?;
    if args.update {
        update_first(&args.mirrors, global)?;
    }
    let (manifest, lock, lock_path) = crate::lockcmd::fresh_lock(global)?;
    let (target, _temp) = match (&args.path, &output) {
        (Some(p), _) => (p.clone(), None),
        (None, Some(out)) => {
            let dir = temp_beside(&out.path, "tree");
            (dir.clone(), Some(TempTree(dir)))
        }
        (None, None) => anyhow::bail!("give --path DIR or --output FILE"),
    };
    let mirrors = crate::lockcmd::mirrors(&manifest, &args.mirrors, global.quiet || args.update)?;
    let epoch = source_date_epoch()?;
    let options = |spec: &str, target: &std::path::Path| {
        let mut opts = debrepo::pipeline::BuildOptions::new(spec, target);
        opts.source_date_epoch = epoch;
        // With --update, update has said where each mirror came from.
        opts.mirrors = mirrors.clone();
        if let Some(jobs) = args.jobs {
            opts.jobs = jobs;
        }
        opts.unpack_only = args.unpack_only;
        // -q prints nothing but errors: the scripts' output is dropped,
        // and a failing script's error still ends with its own.
        opts.show_script_output = !global.quiet;
        opts.sandbox.network = args.network;
        // An output's bytes do not depend on the machine.
        opts.host_files = args.output.is_none();
        opts
    };
    // Found before anything is downloaded.
    let parents = match args.layers {
        Layers::Single => Vec::new(),
        Layers::Spec => layer_parents(&manifest, &args.spec, output.as_ref())?,
    };
    let executor: Box<dyn debrepo::sandbox::Executor> = match args.executor {
        Executor::Sandbox => Box::new(debrepo::sandbox::Sandbox::embedded()?),
        Executor::Podman => Box::new(debrepo::podman::Podman::find()?),
    };
    let progress = crate::progress::Terminal::new(global.quiet, global.debug);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    // Made after the first build is prepared: what cannot be built is
    // refused before the cache is touched.
    let transport_and_cache = std::cell::OnceCell::new();
    let run = |opts: debrepo::pipeline::BuildOptions| -> Result<debrepo::pipeline::BuildReport> {
        let build = debrepo::pipeline::prepare(&manifest, &lock, &lock_path, opts)?;
        if transport_and_cache.get().is_none() {
            let made = crate::lockcmd::transport_and_cache(global, Some(manifest.dir()))?;
            let _ = transport_and_cache.set(made);
        }
        let (transport, cache) = transport_and_cache.get().expect("made above");
        let fetched = runtime.block_on(build.fetch(transport, cache.as_ref(), &progress))?;
        Ok(build.install(fetched, executor.as_ref(), &progress)?)
    };
    // Each ancestor's tree, built on its own, for its layer.
    let mut layer_trees = Vec::new();
    let mut _parent_dirs = Vec::new();
    for (i, parent) in parents.iter().enumerate() {
        let out = output.as_ref().expect("layers need an output");
        let dir = temp_beside(&out.path, &format!("layer-tree-{i}"));
        _parent_dirs.push(TempTree(dir.clone()));
        if !global.quiet {
            eprintln!(
                "building spec {} on its own, for its layer",
                debrepo::manifest::spec_label(parent)
            );
        }
        let opts = options(parent, &dir);
        let users = opts.sandbox.users.clone();
        let report = run(opts)?;
        layer_trees.push(debrepo::output::layers::LayerTree {
            spec: parent.clone(),
            root: dir,
            users,
            source_date_epoch: report.source_date_epoch,
        });
    }
    let mut opts = options(&args.spec, &target);
    opts.output = output;
    opts.sboms = sboms;
    opts.parent_layers = layer_trees;
    let report = run(opts)?;
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
        let into = match (&report.output, &args.path) {
            (Some(out), Some(dir)) => format!(
                "{} and {} ({}, {} bytes, SOURCE_DATE_EPOCH={})",
                dir.display(),
                out.path.display(),
                out.format,
                out.bytes,
                out.source_date_epoch
            ),
            (Some(out), None) => format!(
                "{} ({}, {} bytes, SOURCE_DATE_EPOCH={})",
                out.path.display(),
                out.format,
                out.bytes,
                out.source_date_epoch
            ),
            (None, dir) => dir.as_deref().unwrap_or(&target).display().to_string(),
        };
        let into = match report.sboms.as_slice() {
            [] => into,
            sboms => {
                let files: Vec<String> = sboms
                    .iter()
                    .map(|s| format!("{} ({})", s.path.display(), s.format))
                    .collect();
                let what = if files.len() == 1 { "SBOM" } else { "SBOMs" };
                format!("{into}, {what} {}", files.join(" and "))
            }
        };
        if report.configured {
            eprintln!(
                "built {n} {packages}{scripts} into {into} in {:.1?}",
                started.elapsed()
            );
        } else {
            eprintln!(
                "unpacked {n} {packages} into {into} in {:.1?}; not configured (--unpack-only)",
                started.elapsed()
            );
        }
    }
    Ok(report)
}

/// A directory name beside the output `path`, for this process.
fn temp_beside(path: &std::path::Path, what: &str) -> PathBuf {
    let name = path
        .file_name()
        .map_or_else(|| "output".into(), |n| n.to_string_lossy().into_owned());
    path.with_file_name(format!(
        ".{name}.rdebootstrap-{what}.{}",
        std::process::id()
    ))
}

/// `--layers spec`: the ancestors of `spec`, base first, each built for
/// its own layer; refused unless the output is an OCI image and each spec
/// of the chain extends at most one spec (a layer is the difference from
/// one parent).
fn layer_parents(
    manifest: &debrepo::manifest::Manifest,
    spec: &str,
    output: Option<&debrepo::output::OutputOptions>,
) -> Result<Vec<String>> {
    use debrepo::output::Format;
    match output.map(|o| o.format) {
        Some(Format::Oci | Format::OciArchive) => {}
        other => anyhow::bail!(
            "--layers spec makes an OCI image's layers: give --output with --format oci or oci-archive{}",
            other.map_or_else(String::new, |f| format!(" (not {f})"))
        ),
    }
    let resolved = manifest.resolve(spec)?;
    if let (Some(import), false) = (&manifest.import, resolved.imported_chain.is_empty()) {
        anyhow::bail!(
            "{}: --layers spec is not built yet for a spec extending imported specs ([import] at line {}): build without --layers for now",
            manifest.path.display(),
            import.line
        );
    }
    let chain = resolved.chain;
    for (k, name) in chain.iter().enumerate() {
        let own = manifest.resolve(name)?.chain;
        if own != chain[..=k] {
            anyhow::bail!(
                "{}: --layers spec needs a single line of specs, each extending at most one, but the chain of spec {} is {} and spec {} has {}",
                manifest.path.display(),
                debrepo::manifest::spec_label(spec),
                chain.iter().map(|s| debrepo::manifest::spec_label(s)).collect::<Vec<_>>().join(" -> "),
                debrepo::manifest::spec_label(name),
                own.iter().map(|s| debrepo::manifest::spec_label(s)).collect::<Vec<_>>().join(" -> "),
            );
        }
    }
    Ok(chain[..chain.len() - 1].to_vec())
}

/// With several architectures, each platform's SBOM: `NAME.ARCH.spdx.json`
/// for `--sbom NAME.spdx.json` (likewise `.cdx.json`). The platform's image
/// holds its own as a referrer.
fn platform_sboms(paths: &[PathBuf], arch: &str) -> Result<Vec<PathBuf>> {
    paths
        .iter()
        .map(|path| {
            use std::os::unix::ffi::{OsStrExt, OsStringExt};
            let ending = debrepo::sbom::SbomFormat::from_path(path)?.ending();
            // By bytes: a name that is not UTF-8 keeps its own bytes.
            let name = path.file_name().expect("a format's ending").as_bytes();
            let mut platform = name[..name.len() - ending.len()].to_vec();
            platform.extend_from_slice(format!(".{arch}{ending}").as_bytes());
            Ok(path.with_file_name(std::ffi::OsString::from_vec(platform)))
        })
        .collect()
}

/// The `--sbom` files with their formats, checked before anything is
/// downloaded: a known ending, a directory to write in, not a directory.
fn sbom_files(paths: &[PathBuf]) -> Result<Vec<(PathBuf, debrepo::sbom::SbomFormat)>> {
    let mut out = Vec::new();
    for path in paths {
        let format = debrepo::sbom::SbomFormat::from_path(path)?;
        let parent = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => std::path::Path::new("."),
        };
        if !parent.is_dir() {
            anyhow::bail!(
                "{}: no directory {} to write the SBOM in",
                path.display(),
                parent.display()
            );
        }
        if path.is_dir() {
            anyhow::bail!("{}: a directory, not a file to write", path.display());
        }
        out.push((path.clone(), format));
    }
    Ok(out)
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
