//! `run`: a command in a built tree, in the sandbox the maintainer scripts
//! ran in.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Result};

use crate::Global;

#[derive(clap::Args)]
pub struct RunArgs {
    /// The built tree.
    #[arg(short, long)]
    path: PathBuf,
    /// Keep the host's network (the tree's /etc/resolv.conf is used).
    #[arg(long)]
    network: bool,
    /// Bind a host path into the tree: SRC:DST, or SRC:DST:ro for a
    /// read-only bind. DST is absolute inside the tree, reached without
    /// following symbolic links; a missing last component is made (an
    /// empty directory or file) and stays in the tree.
    #[arg(long = "bind", value_name = "SRC:DST[:ro]", value_parser = parse_bind)]
    binds: Vec<debrepo::configure::Bind>,
    /// The command and its arguments (a path inside the tree, or a name
    /// found on the sandbox's PATH), after `--`.
    #[arg(last = true, required = true, value_name = "CMD")]
    command: Vec<String>,
}

/// Run the command; its exit status is rdebootstrap's (128 + the signal
/// when it was killed).
pub fn run(args: RunArgs, _global: &Global) -> Result<ExitCode> {
    if std::fs::symlink_metadata(args.path.join(debrepo::build::INCOMPLETE)).is_ok() {
        bail!(
            "{} holds an unfinished build ({}): build it again first",
            args.path.display(),
            debrepo::build::INCOMPLETE
        );
    }
    if !args.path.join("usr").is_dir() {
        bail!("{}: not a built tree (no /usr)", args.path.display());
    }
    let options = debrepo::configure::ConfigureOptions {
        network: args.network,
        binds: args.binds,
        ..Default::default()
    };
    use std::os::fd::AsFd;
    let status = debrepo::configure::run(
        &args.path,
        &debrepo::sandbox::Sandbox::embedded()?,
        &options,
        args.command,
        std::io::stdin().as_fd().try_clone_to_owned()?,
        std::io::stdout().as_fd().try_clone_to_owned()?,
    )?;
    Ok(ExitCode::from(status.clamp(0, 255) as u8))
}

/// `SRC:DST`, `SRC:DST:ro` or `SRC:DST:rw`, checked as the flag is read
/// (a bad one is a usage error). A colon left in DST is refused: it is a
/// mistyped mode (`:RO`) far more often than a path, and taken as a path
/// it would bind writable what was meant read-only.
fn parse_bind(text: &str) -> std::result::Result<debrepo::configure::Bind, String> {
    let (rest, read_only) = match text.strip_suffix(":ro") {
        Some(r) => (r, true),
        None => (text.strip_suffix(":rw").unwrap_or(text), false),
    };
    let Some((source, target)) = rest.split_once(':') else {
        return Err("give SRC:DST (or SRC:DST:ro)".into());
    };
    if let Some((_, mode)) = target.rsplit_once(':') {
        return Err(format!(
            "{mode:?} is no mode: give SRC:DST, SRC:DST:ro or SRC:DST:rw (DST cannot hold a ':')"
        ));
    }
    if source.is_empty() || !target.starts_with('/') {
        return Err("the source must be given and the target absolute inside the tree".into());
    }
    let source = std::path::absolute(source).map_err(|e| format!("{source}: {e}"))?;
    if !source.exists() {
        return Err(format!("{} does not exist", source.display()));
    }
    Ok(debrepo::configure::Bind {
        source,
        target: target.to_owned(),
        read_only,
    })
}
