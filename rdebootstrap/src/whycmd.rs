//! `why` and `why-not`: what brought a package into a spec's lock, and
//! what keeps one out ([`debrepo::why`]), read from the lock and the
//! suites it was made from (from the cache when it has them, else fetched
//! and checked to be the locked ones: [`debrepo::update::locked_suites`]).

use anyhow::{Context as _, Result};
use debrepo::update::{Candidates, FetchedArchive, LocalPackage};
use debrepo::why::{self, Pkg, Reason, Requirer, RootSource, Step, VariantReason};
use serde_json::json;

use crate::lockcmd;
use crate::Global;

#[derive(clap::Args)]
pub struct WhyArgs {
    /// A package name (NAME or NAME:ARCH).
    package: String,
    /// The spec (default: the unnamed `[spec]`).
    #[arg(short, long, default_value = "")]
    spec: String,
    /// Print JSON for scripts.
    #[arg(long)]
    json: bool,
}

/// What the walk needs: the fresh lock's spec and the universe it was
/// solved from.
struct Loaded {
    manifest: debrepo::manifest::Manifest,
    lock: debrepo::lock::Lock,
    path: std::path::PathBuf,
    fetched: Vec<FetchedArchive>,
    locals: Vec<LocalPackage>,
    imported: Option<(
        debrepo::lock::ImportedLock,
        Vec<FetchedArchive>,
        Vec<LocalPackage>,
    )>,
}

fn load(global: &Global) -> Result<Loaded> {
    let (manifest, lock, path) = lockcmd::fresh_lock(global)?;
    let (transport, cache) = lockcmd::transport_and_cache(global, Some(manifest.dir()))?;
    let opts = debrepo::update::UpdateOptions {
        arch: lock.arch.clone(),
        mirrors: lockcmd::mirrors(&manifest, &[], true)?,
        now: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64),
        ..Default::default()
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let imported = match (
        manifest.imported.as_deref(),
        debrepo::lock::imported_lock(&manifest, &lock.arch)?,
    ) {
        (Some(imported), Some(il)) => {
            let fetched = runtime.block_on(debrepo::update::locked_suites(
                imported,
                &il.lock,
                &transport,
                cache.as_ref(),
                &opts,
            ))?;
            let locals = debrepo::update::read_locals(imported)?;
            Some((il, fetched, locals))
        }
        _ => None,
    };
    let fetched = runtime.block_on(debrepo::update::locked_suites(
        &manifest,
        &lock,
        &transport,
        cache.as_ref(),
        &opts,
    ))?;
    let locals = debrepo::update::read_locals(&manifest)?;
    Ok(Loaded {
        manifest,
        lock,
        path,
        fetched,
        locals,
        imported,
    })
}

/// Load, build the universe and the spec's context, and run `f` on them.
fn with_context<T>(
    args: &WhyArgs,
    global: &Global,
    f: impl FnOnce(&why::Context<'_, '_>, &Candidates<'_>) -> Result<T>,
) -> Result<T> {
    let l = load(global)?;
    let spec = l.lock.spec(&args.spec).with_context(|| {
        format!(
            "{} has no spec {}",
            l.path.display(),
            debrepo::manifest::spec_label(&args.spec)
        )
    })?;
    let resolved = l.manifest.resolve(&args.spec)?;
    let imported = match (&l.imported, l.manifest.imported.as_deref()) {
        (Some((il, fetched, locals)), Some(manifest)) => Some(debrepo::update::ImportedUniverse {
            manifest,
            lock: &il.lock,
            fetched,
            locals,
        }),
        _ => None,
    };
    let candidates =
        Candidates::with_import(&l.manifest, &l.lock.arch, imported, &l.fetched, &l.locals)?;
    let ctx = why::Context::for_spec(&l.manifest, &resolved, spec, &candidates, &l.lock.arch)?;
    f(&ctx, &candidates)
}

pub fn why(args: WhyArgs, global: &Global) -> Result<()> {
    let answer = with_context(&args, global, |ctx, _| {
        Ok((why::why(ctx, &args.package)?, ctx.spec.clone()))
    })?;
    let (w, spec) = answer;
    if args.json {
        let mut v = serde_json::to_value(&w)?;
        v["spec"] = json!(args.spec);
        outln!("{v}")?;
        return Ok(());
    }
    let p = &w.package;
    if w.steps.is_empty() {
        outln!(
            "{} {} ({}) is in the lock of spec {spec}, but no chain of requirements leads to it",
            p.name,
            p.version,
            p.arch
        )?;
        return Ok(());
    }
    outln!(
        "{} {} ({}) is in the lock of spec {spec} because:",
        p.name,
        p.version,
        p.arch
    )?;
    for (i, step) in w.steps.iter().enumerate() {
        outln!("{}. {}", i + 1, step_line(step))?;
    }
    if w.later_alternative {
        outln!("(an earlier alternative of a group on the way is in the lock too; the solver took this one as well)")?;
    }
    Ok(())
}

pub fn why_not(args: WhyArgs, global: &Global) -> Result<()> {
    let (w, spec) = with_context(&args, global, |ctx, candidates| {
        Ok((
            why::why_not(ctx, &candidates.universe, &args.package)?,
            ctx.spec.clone(),
        ))
    })?;
    if args.json {
        let mut v = serde_json::to_value(&w)?;
        v["spec"] = json!(args.spec);
        outln!("{v}")?;
        return Ok(());
    }
    outln!("{} is not in the lock of spec {spec}:", w.name)?;
    for r in &w.reasons {
        outln!("- {}", reason_line(r, &w.name))?;
    }
    Ok(())
}

fn pkg(p: &Pkg) -> String {
    format!("{} {}", p.name, p.version)
}

fn spec_name(spec: &str, imported: bool) -> String {
    let label = debrepo::manifest::spec_label(spec);
    if imported {
        format!("imported spec {label}")
    } else {
        format!("spec {label}")
    }
}

/// Who requires, as the start of a line: `spec [spec] includes`,
/// `curl 8.1 Depends:`.
fn requirer(by: &Requirer) -> String {
    match by {
        Requirer::Spec { source } => match source {
            RootSource::Include { spec, imported } => {
                format!("{} includes", spec_name(spec, *imported))
            }
            RootSource::ImportedLock { spec } => {
                format!("the imported lock of {} has", spec_name(spec, true))
            }
            RootSource::Variant { variant, reason } => match reason {
                VariantReason::Essential => format!("variant {variant} takes (Essential: yes)"),
                VariantReason::Priority(p) => format!("variant {variant} takes (Priority: {p})"),
                VariantReason::Named => format!("variant {variant} adds"),
            },
        },
        Requirer::Package { package, field } => format!("{} {field}:", pkg(package)),
    }
}

fn step_line(s: &Step) -> String {
    let how = if s.provides {
        format!(", provided by {}", s.package.name)
    } else if s.group != s.matched {
        format!(", satisfied by {}", s.package.name)
    } else {
        String::new()
    };
    format!("{} {}{how}", requirer(&s.by), s.group)
}

fn reason_line(r: &Reason, name: &str) -> String {
    match r {
        Reason::NotInArchives { similar } => {
            let hint = if similar.is_empty() {
                String::new()
            } else {
                format!("; did you mean {}?", similar.join(", "))
            };
            format!("no index of the lock's archives has a package named {name} or one providing it{hint} (try 'rdebootstrap search')")
        }
        Reason::Virtual { providers, locked } => {
            let in_lock = if locked.is_empty() {
                "none of them is in the lock".to_owned()
            } else {
                format!("in the lock: {}", locked.join(", "))
            };
            format!(
                "{name} is a virtual package, provided by {} ({in_lock})",
                providers.join(", ")
            )
        }
        Reason::Excluded { spec, entry } => {
            format!("{} excludes it (exclude: {entry})", spec_name(spec, false))
        }
        Reason::Conflict {
            candidate,
            locked,
            field,
            relation,
            theirs: true,
        } => format!(
            "{} (in the lock) {field}: {relation}, which {} matches",
            pkg(locked),
            pkg(candidate)
        ),
        Reason::Conflict {
            candidate,
            locked,
            field,
            relation,
            theirs: false,
        } => format!(
            "{} {field}: {relation}, which {} (in the lock) matches",
            pkg(candidate),
            pkg(locked)
        ),
        Reason::UnmetDepends {
            candidate,
            field,
            group,
        } => format!(
            "{} {field}: {group}, which no package in the archives satisfies",
            pkg(candidate)
        ),
        Reason::SatisfiedOtherwise {
            by,
            group,
            satisfied_by,
        } => format!(
            "{} {group}, satisfied by {} (in the lock)",
            requirer(by),
            pkg(satisfied_by)
        ),
        Reason::WantedBy {
            package,
            field,
            relation,
            followed,
        } => {
            let note = match (field.as_str(), followed) {
                ("Recommends", true) => {
                    "the spec follows Recommends, but it could not be installed with the rest"
                }
                ("Recommends", false) => {
                    "the spec does not follow Recommends (recommends = true would)"
                }
                _ => "Suggests are never followed",
            };
            format!("{} (in the lock) {field}: {relation}; {note}", pkg(package))
        }
        Reason::NotRequired => "nothing in the spec or its lock requires it".to_owned(),
    }
}
