//! `cache gc` and `cache clean`: keep the download cache bounded.

use anyhow::{bail, Result};
use debrepo::cache::{Cache, GcReport};

use crate::Global;

#[derive(clap::Subcommand)]
pub enum CacheCmd {
    /// Remove what is no longer needed: entries unused for --older-than
    /// days (.debs, indices, artifacts, decoded data), decoded data whose
    /// .deb is gone, and the least recently used decoded data beyond
    /// --max-decoded (builds bring it down to 4096 MiB themselves).
    Gc(GcArgs),
    /// Remove every entry (with --decoded, only the decoded data: the
    /// packages' data archives kept decompressed for faster unpacking).
    Clean(CleanArgs),
    /// Print the cache's directory.
    Dir,
}

#[derive(clap::Args)]
pub struct GcArgs {
    /// Remove entries not used for this many days.
    #[arg(long, value_name = "DAYS")]
    older_than: Option<u64>,
    /// Keep at most this many MiB of decoded data.
    #[arg(long, value_name = "MIB", default_value_t = debrepo::cache::DECODED_CAP >> 20)]
    max_decoded: u64,
}

#[derive(clap::Args)]
pub struct CleanArgs {
    /// Only the decoded data.
    #[arg(long)]
    decoded: bool,
}

fn open(global: &Global) -> Result<Cache> {
    if global.no_cache {
        bail!("--no-cache leaves no cache to work on: drop it (the cache is --cache-dir DIR, or the default one)");
    }
    Ok(Cache::open(crate::lockcmd::cache_dir(global, "")?)?)
}

fn say(global: &Global, r: GcReport) {
    if !global.quiet {
        eprintln!(
            "removed {} files ({:.1} MiB); kept {} ({:.1} MiB)",
            r.removed,
            r.freed as f64 / (1 << 20) as f64,
            r.kept,
            r.kept_bytes as f64 / (1 << 20) as f64
        );
    }
}

pub fn cache(cmd: CacheCmd, global: &Global) -> Result<()> {
    let cache = open(global)?;
    match cmd {
        CacheCmd::Gc(a) => {
            let age = a
                .older_than
                .map(|d| std::time::Duration::from_secs(d.saturating_mul(86_400)));
            say(
                global,
                cache.gc(age, a.max_decoded.saturating_mul(1 << 20))?,
            );
        }
        CacheCmd::Clean(a) => say(global, cache.clean(a.decoded)?),
        CacheCmd::Dir => {
            use std::io::Write as _;
            writeln!(std::io::stdout().lock(), "{}", cache.root().display())?;
        }
    }
    Ok(())
}
