//! `search`, `package`, `source` (over the manifest's archives, fetched as
//! `update` fetches them; warm runs read the cache) and `spec list|hash`.

use anyhow::{bail, Context, Result};
use debrepo::packages::{BinaryPackage, PackagesParser};
use serde_json::json;

use crate::lockcmd;
use crate::Global;

#[derive(clap::Args)]
pub struct SearchArgs {
    /// A regular expression matched against names and descriptions.
    pattern: String,
    /// Print JSON for scripts.
    #[arg(long)]
    json: bool,
}

#[derive(clap::Args)]
pub struct NameArgs {
    /// A package name.
    name: String,
    /// Print JSON for scripts.
    #[arg(long)]
    json: bool,
}

#[derive(clap::Subcommand)]
pub enum SpecCmd {
    /// The specs of the manifest, with what they extend.
    List {
        /// Print JSON for scripts.
        #[arg(long)]
        json: bool,
    },
    /// The hash that decides whether a spec's lock is stale.
    Hash {
        /// The spec (default: the unnamed `[spec]`).
        spec: Option<String>,
        /// Print JSON for scripts: {"spec": NAME, "hash": HASH}.
        #[arg(long)]
        json: bool,
    },
    /// Stage artifacts in a spec, or stop staging them.
    #[command(subcommand)]
    Artifact(crate::editmore::SpecArtifactCmd),
    /// Set a spec's parents (extends): the whole list, --add, --remove or
    /// --clear.
    Extend(crate::editmore::ExtendArgs),
    /// Set or unset entries of a spec's meta list (apt-lists:stage).
    #[command(subcommand)]
    Meta(crate::editmore::MetaCmd),
}

/// Run `f` over every record of every fetched index, with the suite name:
/// the imported manifest's archives first, as update sees them.
fn with_records(global: &Global, f: &mut dyn FnMut(&str, &BinaryPackage<'_>)) -> Result<()> {
    let manifest = crate::lockcmd::load_with_imports(&global.manifest, global)?;
    let mut fetched = match manifest.imported.as_deref() {
        Some(imported) => lockcmd::fetch(imported, global)?,
        None => Vec::new(),
    };
    fetched.extend(lockcmd::fetch(&manifest, global)?);
    for a in &fetched {
        for idx in &a.fetched.indices {
            for p in PackagesParser::from_bytes(&idx.data)? {
                f(&a.suite, &p?);
            }
        }
    }
    Ok(())
}

pub fn search(args: SearchArgs, global: &Global) -> Result<()> {
    let re = regex::RegexBuilder::new(&args.pattern)
        .case_insensitive(true)
        .build()
        .with_context(|| format!("invalid regular expression '{}'", args.pattern))?;
    // Newest version of each matching name.
    let mut found: std::collections::BTreeMap<String, (String, String)> = Default::default();
    with_records(global, &mut |_, p| {
        if re.is_match(p.name) || p.description.is_some_and(|d| re.is_match(d)) {
            let newer = found.get(p.name).is_none_or(|(v, _)| {
                debrepo::Version::parse_lax(v).is_ok_and(|old| p.version > old)
            });
            if newer {
                found.insert(
                    p.name.to_owned(),
                    (p.version.to_string(), p.synopsis().unwrap_or("").to_owned()),
                );
            }
        }
    })?;
    if args.json {
        let v: Vec<_> = found
            .iter()
            .map(|(n, (ver, s))| json!({"name": n, "version": ver, "synopsis": s}))
            .collect();
        outln!("{}", serde_json::Value::Array(v))?;
    } else {
        for (n, (_, s)) in found {
            outln!("{n} - {s}")?;
        }
    }
    Ok(())
}

/// "; did you mean A, B?" from the names close to `name`, else the hint
/// to search.
fn did_you_mean<'a>(name: &str, names: impl IntoIterator<Item = &'a String>) -> String {
    let close = debrepo::solver::similar_names(name, names.into_iter().map(String::as_str), 5);
    if close.is_empty() {
        " (try 'rdebootstrap search')".to_owned()
    } else {
        format!("; did you mean {}?", close.join(", "))
    }
}

pub fn package(args: NameArgs, global: &Global) -> Result<()> {
    let mut records = Vec::new();
    let mut names = std::collections::BTreeSet::new();
    with_records(global, &mut |suite, p| {
        if p.name == args.name {
            records.push((suite.to_owned(), p.version.to_string(), p.raw.to_owned()));
        } else if records.is_empty() {
            names.insert(p.name.to_owned());
        }
    })?;
    if records.is_empty() {
        bail!(
            "no package named '{}' in the manifest's archives{}",
            args.name,
            did_you_mean(&args.name, &names)
        );
    }
    if args.json {
        let v: Vec<_> = records
            .iter()
            .map(|(s, ver, raw)| json!({"suite": s, "version": ver, "record": raw}))
            .collect();
        outln!("{}", serde_json::Value::Array(v))?;
    } else {
        for (i, (suite, _, raw)) in records.iter().enumerate() {
            if i > 0 {
                outln!()?;
            }
            outln!("# suite {suite}\n{raw}")?;
        }
    }
    Ok(())
}

pub fn source(args: NameArgs, global: &Global) -> Result<()> {
    // The source of NAME (a source name, or a binary's source), then its binaries.
    let mut sources: std::collections::BTreeMap<
        String,
        std::collections::BTreeSet<(String, String)>,
    > = Default::default();
    let mut binary_source: Option<String> = None;
    let mut names = std::collections::BTreeSet::new();
    with_records(global, &mut |_, p| {
        if binary_source.is_none() {
            names.insert(p.name.to_owned());
        }
        let version = p.source_version.unwrap_or(p.version).to_string();
        sources
            .entry(p.source.to_owned())
            .or_default()
            .insert((p.name.to_owned(), version));
        if p.name == args.name && binary_source.is_none() {
            binary_source = Some(p.source.to_owned());
        }
    })?;
    let name = if sources.contains_key(&args.name) {
        args.name.clone()
    } else {
        binary_source.with_context(|| {
            format!(
                "no source or binary package named '{}' in the manifest's archives{}",
                args.name,
                did_you_mean(&args.name, names.iter().chain(sources.keys()))
            )
        })?
    };
    let binaries = &sources[&name];
    if args.json {
        let v: Vec<_> = binaries
            .iter()
            .map(|(b, v)| json!({"binary": b, "source-version": v}))
            .collect();
        outln!("{}", json!({"source": name, "binaries": v}))?;
    } else {
        outln!("Source: {name}")?;
        for (b, v) in binaries {
            outln!("  {b} ({v})")?;
        }
    }
    Ok(())
}

pub fn spec(cmd: SpecCmd, global: &Global) -> Result<()> {
    let manifest = crate::lockcmd::load_with_imports(&global.manifest, global)?;
    let label = |n: &str| {
        if n.is_empty() {
            "[spec]".to_owned()
        } else {
            n.to_owned()
        }
    };
    match cmd {
        SpecCmd::Artifact(c) => return crate::editmore::spec_artifact(c, global),
        SpecCmd::Extend(a) => return crate::editmore::extend(a, global),
        SpecCmd::Meta(c) => return crate::editmore::meta(c, global),
        SpecCmd::List { json } => {
            let mut rows = Vec::new();
            for name in manifest.spec_names() {
                let r = manifest.resolve(&name)?;
                rows.push((
                    name.clone(),
                    manifest.specs[&name].extends.clone(),
                    r.variant.name(),
                ));
            }
            if json {
                let v: Vec<_> = rows
                    .iter()
                    .map(|(n, e, v)| json!({"name": n, "extends": e, "variant": v}))
                    .collect();
                outln!("{}", serde_json::Value::Array(v))?;
            } else {
                for (n, e, v) in rows {
                    let ext = if e.is_empty() {
                        String::new()
                    } else {
                        format!(" extends {}", e.join(", "))
                    };
                    outln!("{} ({v}){ext}", label(&n))?;
                }
            }
        }
        SpecCmd::Hash { spec, json } => {
            let name = spec.unwrap_or_default();
            let r = manifest.resolve(&name)?;
            let hash = debrepo::lock::spec_hash(&manifest, &r);
            if json {
                outln!("{}", json!({"spec": name, "hash": hash}))?;
            } else {
                outln!("{hash}")?;
            }
        }
    }
    Ok(())
}
