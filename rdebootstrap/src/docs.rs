//! `completions` and `man`: shell completions from the command's own
//! definition (clap_complete) and the manual page built into the binary, so
//! that both install without a source tree or `make`.

use std::io::Write;

use anyhow::Result;
use clap_complete::Shell;

/// The manual page, `man/rdebootstrap.1`.
pub const MAN_PAGE: &str = include_str!("../../man/rdebootstrap.1");

#[derive(clap::Args)]
pub struct CompletionsArgs {
    /// The shell to complete for.
    shell: Shell,
}

/// Print the completion script for a shell.
pub fn completions(args: CompletionsArgs) -> Result<()> {
    // Generated into memory first: clap_complete panics on write errors,
    // and stdout may be a closed pipe.
    let mut script = Vec::new();
    clap_complete::generate(
        args.shell,
        &mut crate::command(),
        "rdebootstrap",
        &mut script,
    );
    Ok(std::io::stdout().lock().write_all(&script)?)
}

/// Print the manual page (roff).
pub fn man() -> Result<()> {
    Ok(std::io::stdout().lock().write_all(MAN_PAGE.as_bytes())?)
}
