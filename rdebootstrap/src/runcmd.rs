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
        ..Default::default()
    };
    let status = debrepo::configure::run(
        &args.path,
        &debrepo::sandbox::Sandbox::embedded()?,
        &options,
        args.command,
        std::process::Stdio::inherit(),
    )?;
    Ok(ExitCode::from(status.clamp(0, 255) as u8))
}
