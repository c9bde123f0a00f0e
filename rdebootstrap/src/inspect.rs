//! `rdebootstrap inspect`: read Debian formats with debrepo and print them,
//! the way dpkg-deb, apt-cache and dpkg --compare-versions would.

use std::io::{self, BufWriter, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use clap::Subcommand;
use debrepo::deb::{DebReader, EntryKind};
use debrepo::relation::Op;
use debrepo::release::Release;
use debrepo::{compression, PackagesParser, Version};

#[derive(Subcommand)]
pub enum Inspect {
    /// Show a .deb: control fields, conffiles, scripts and the file list.
    Deb {
        /// The .deb file.
        path: PathBuf,
        /// Show only the control data, not the file list.
        #[arg(long)]
        control_only: bool,
    },
    /// Parse a Packages index (.xz, .gz, .zst, .bz2, .lz4 or plain) and
    /// print a summary, or the records of the named packages.
    Index {
        /// The index file.
        path: PathBuf,
        /// Print these packages' records.
        #[arg(short, long = "package")]
        packages: Vec<String>,
    },
    /// Parse a Release or InRelease file (the signature is not verified).
    Release {
        /// The Release or InRelease file.
        path: PathBuf,
    },
    /// Fetch, verify and parse one suite of an archive (what `update` does
    /// for each suite), and summarize it.
    Archive(ArchiveArgs),
    /// Compare two versions like `dpkg --compare-versions A OP B`: exit
    /// status 0 if the relation holds, 1 if not, 2 for a bad version or
    /// operator. OP is lt, le, eq, ne, ge, gt or << <= = >= >>.
    Version {
        #[arg(value_parser = version_arg)]
        a: String,
        #[arg(value_parser = ["lt", "le", "eq", "ne", "ge", "gt", "<<", "<=", "=", ">=", ">>"])]
        op: String,
        #[arg(value_parser = version_arg)]
        b: String,
    },
}

#[derive(clap::Args)]
pub struct ArchiveArgs {
    /// Archive URL (http://, https://, file:// or a path).
    url: String,
    /// Suite or codename; a name ending in '/' is a flat repository.
    suite: String,
    /// Components (default: main).
    #[arg(short, long = "component")]
    components: Vec<String>,
    /// Trust this keyring file (.gpg or .asc).
    #[arg(long, value_name = "KEYRING", conflicts_with = "vendor")]
    signed_by: Option<PathBuf>,
    /// Trust a vendor's shipped keyring: debian or ubuntu.
    #[arg(long)]
    vendor: Option<String>,
    /// Do not check signatures (not recommended).
    #[arg(long, conflicts_with_all = ["signed_by", "vendor", "allow_insecure"])]
    no_verify: bool,
    /// Fetch the unsigned Release file (for unsigned archives).
    #[arg(short = 'K', long, conflicts_with_all = ["signed_by", "vendor"])]
    allow_insecure: bool,
}

pub fn run(cmd: Inspect, global: &crate::Global) -> Result<ExitCode> {
    let quiet = global.quiet;
    match cmd {
        Inspect::Archive(args) => archive(args, global).map(|()| ExitCode::SUCCESS),
        Inspect::Deb { path, control_only } => deb(path, control_only).map(|()| ExitCode::SUCCESS),
        Inspect::Index { path, packages } => {
            index(path, &packages, quiet).map(|()| ExitCode::SUCCESS)
        }
        Inspect::Release { path } => release(path).map(|()| ExitCode::SUCCESS),
        Inspect::Version { a, op, b } => version(&a, &op, &b),
    }
}

fn deb(path: PathBuf, control_only: bool) -> Result<()> {
    let mut reader = DebReader::open(&path)?;
    let out = io::stdout();
    let mut out = BufWriter::new(out.lock());
    let control = reader.control();
    writeln!(
        out,
        "format {} ({})",
        reader.format(),
        reader.control_member()
    )?;
    out.write_all(control.control_text()?.as_bytes())?;
    // Validate the record the way the rest of the pipeline reads it.
    control
        .package()
        .with_context(|| format!("{}: control file", path.display()))?;
    let conffiles = control.conffiles()?;
    if !conffiles.is_empty() {
        writeln!(out, "\nconffiles:")?;
        for c in conffiles {
            let flag = if c.remove_on_upgrade {
                " (remove-on-upgrade)"
            } else {
                ""
            };
            writeln!(out, "  {}{flag}", c.path)?;
        }
    }
    let scripts: Vec<_> = control
        .scripts()
        .map(|(n, d)| format!("{n} ({} bytes)", d.len()))
        .collect();
    if !scripts.is_empty() {
        writeln!(out, "\nmaintainer scripts: {}", scripts.join(", "))?;
    }
    for t in control.triggers()? {
        writeln!(out, "trigger: {} {}", t.directive, t.name)?;
    }
    if control_only {
        return Ok(out.flush()?);
    }
    writeln!(out, "\ndata:")?;
    let mut data = reader.data()?;
    for entry in data.entries()? {
        let entry = entry.with_context(|| format!("{}: data member", path.display()))?;
        let m = entry.meta();
        let kind = match m.kind {
            EntryKind::Regular => '-',
            EntryKind::Directory => 'd',
            EntryKind::Symlink => 'l',
            EntryKind::HardLink => 'h',
            EntryKind::CharDevice => 'c',
            EntryKind::BlockDevice => 'b',
            EntryKind::Fifo => 'p',
        };
        let owner = format!(
            "{}/{}",
            m.uname.clone().unwrap_or_else(|| m.uid.to_string()),
            m.gname.clone().unwrap_or_else(|| m.gid.to_string())
        );
        write!(
            out,
            "{kind}{:04o} {owner:>12} {:>9} /{}",
            m.mode,
            m.size,
            m.path.display()
        )?;
        match (&m.kind, &m.link_target) {
            (EntryKind::Symlink, Some(t)) => write!(out, " -> {}", t.display())?,
            (EntryKind::HardLink, Some(t)) => write!(out, " link to /{}", t.display())?,
            _ => {}
        }
        for (name, _) in &m.xattrs {
            write!(out, " [xattr {name}]")?;
        }
        writeln!(out)?;
    }
    Ok(out.flush()?)
}

fn index(path: PathBuf, names: &[String], quiet: bool) -> Result<()> {
    let file =
        std::fs::File::open(&path).with_context(|| format!("cannot open {}", path.display()))?;
    let start = Instant::now();
    let name = path.to_string_lossy();
    let bytes = compression::read_all(&name, file)
        .with_context(|| format!("cannot decompress {}", path.display()))?;
    let decompressed = start.elapsed();
    let start = Instant::now();
    let parser =
        PackagesParser::from_bytes(&bytes).with_context(|| format!("{}", path.display()))?;
    let mut count = 0usize;
    let mut out = BufWriter::new(io::stdout().lock());
    for pkg in parser {
        let pkg = pkg.with_context(|| format!("{}", path.display()))?;
        count += 1;
        if names.iter().any(|n| n == pkg.name) {
            writeln!(out, "{}\n", pkg.raw)?;
        }
    }
    let parsed = start.elapsed();
    if !quiet && names.is_empty() {
        writeln!(
            out,
            "{}, {} bytes; decompressed in {decompressed:.2?}, parsed in {parsed:.2?}",
            crate::output::count(count, "package", "packages"),
            bytes.len()
        )?;
    }
    Ok(out.flush()?)
}

fn release(path: PathBuf) -> Result<()> {
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("cannot read {}", path.display()))?;
    let r = if text.starts_with("-----BEGIN PGP SIGNED MESSAGE-----") {
        Release::parse_inrelease(&text).map(|(r, _)| r)
    } else {
        Release::parse(&text)
    }
    .with_context(|| format!("{}", path.display()))?;
    let show = |k: &str, v: &Option<String>| -> io::Result<()> {
        if let Some(v) = v {
            outln!("{k}: {v}")?;
        }
        Ok(())
    };
    show("Origin", &r.origin)?;
    show("Label", &r.label)?;
    show("Suite", &r.suite)?;
    show("Codename", &r.codename)?;
    show("Version", &r.version)?;
    if let Some(d) = r.date {
        outln!("Date: {d} (Unix time)")?;
    }
    if let Some(d) = r.valid_until {
        outln!("Valid-Until: {d} (Unix time)")?;
    }
    outln!("Architectures: {}", r.architectures.join(" "))?;
    outln!("Components: {}", r.components.join(" "))?;
    outln!(
        "Acquire-By-Hash: {}",
        if r.acquire_by_hash { "yes" } else { "no" }
    )?;
    let trusted = r
        .files
        .values()
        .filter(|f| f.trusted_digest().is_some())
        .count();
    outln!(
        "{} listed, {trusted} with a SHA-256 or SHA-512 digest",
        crate::output::count(r.files.len(), "file", "files")
    )?;
    Ok(())
}

fn archive(args: ArchiveArgs, global: &crate::Global) -> Result<()> {
    use std::sync::Arc;

    use debrepo::archive::{fetch_suite, SuiteRequest, Trust};
    use debrepo::verify::{load_keyring, PgpVerifier};

    let trust = if args.no_verify {
        Trust::NoVerify
    } else if args.allow_insecure {
        Trust::AllowInsecure
    } else {
        let keyring = match (&args.signed_by, &args.vendor) {
            (Some(path), _) => load_keyring(path)?,
            (None, Some(v)) => v.parse::<debrepo::vendor::Vendor>()?.keyring()?,
            (None, None) => bail!(
                "no keyring for {}: pass --signed-by KEYRING or --vendor debian|ubuntu (or --allow-insecure for an unsigned archive)",
                args.url
            ),
        };
        Trust::Keys(Arc::new(PgpVerifier::new(keyring)))
    };
    let arch = crate::lockcmd::arch(global)?;
    let (transport, cache) = crate::lockcmd::transport_and_cache(global, None)?;
    let req = SuiteRequest {
        url: args.url.clone(),
        suite: args.suite.clone(),
        components: if args.components.is_empty() {
            vec!["main".into()]
        } else {
            args.components
        },
        arch,
        foreign: Vec::new(),
        snapshot: false,
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let suite = runtime.block_on(fetch_suite(&transport, cache.as_ref(), &req, &trust, now))?;
    let r = &suite.release;
    outln!(
        "{} {} (Suite {}, Codename {}, Version {})",
        r.origin.as_deref().unwrap_or("-"),
        args.suite,
        r.suite.as_deref().unwrap_or("-"),
        r.codename.as_deref().unwrap_or("-"),
        r.version.as_deref().unwrap_or("-")
    )?;
    match &suite.signer {
        Some(v) => outln!("signed by {} (key {})", v.signer, v.signing_key)?,
        None => outln!("signature not checked")?,
    }
    for idx in &suite.indices {
        let n = PackagesParser::from_bytes(&idx.data)?.count();
        let component = if idx.component.is_empty() {
            "(flat)"
        } else {
            &idx.component
        };
        outln!(
            "{component}/{}: {}, {} bytes, {}",
            idx.arch,
            crate::output::count(n, "package", "packages"),
            idx.data.len(),
            if idx.from_cache {
                "from the cache"
            } else {
                "downloaded"
            }
        )?;
    }
    Ok(())
}

/// A version `inspect version` compares: bad syntax is a usage error
/// (exit status 2), as `dpkg --compare-versions` has it.
fn version_arg(text: &str) -> std::result::Result<String, String> {
    Version::parse_lax(text)
        .map(|_| text.to_owned())
        .map_err(|e| format!("bad syntax: {e}"))
}

fn version(a: &str, op: &str, b: &str) -> Result<ExitCode> {
    let va = Version::parse_lax(a).with_context(|| format!("version '{a}' has bad syntax"))?;
    let vb = Version::parse_lax(b).with_context(|| format!("version '{b}' has bad syntax"))?;
    let holds = match op {
        "lt" | "<<" => Op::Lt.holds(&va, &vb),
        "le" | "<=" => Op::Le.holds(&va, &vb),
        "eq" | "=" => Op::Eq.holds(&va, &vb),
        "ne" => !Op::Eq.holds(&va, &vb),
        "ge" | ">=" => Op::Ge.holds(&va, &vb),
        "gt" | ">>" => Op::Gt.holds(&va, &vb),
        other => unreachable!("clap admits only the operators above, not {other:?}"),
    };
    Ok(if holds {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
