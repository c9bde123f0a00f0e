//! rdebootstrap: the command-line front end of debrepo.
//!
//! This file is the one place that decides exit codes: 0 on success, 1 when
//! a command fails (the error and its causes are printed), 2 for usage
//! errors (clap's own exit).

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod inspect;

/// Manifest-driven, locked Debian/Ubuntu root tree builder.
#[derive(Parser)]
#[command(name = "rdebootstrap", version, about, propagate_version = true)]
struct Cli {
    /// Print nothing but errors.
    #[arg(short, long, global = true)]
    quiet: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Read Debian formats: .deb files, Packages indices, Release files,
    /// versions.
    #[command(subcommand)]
    Inspect(inspect::Inspect),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Inspect(cmd) => inspect::run(cmd, cli.quiet),
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err}");
            for cause in err.chain().skip(1) {
                eprintln!("  caused by: {cause}");
            }
            ExitCode::FAILURE
        }
    }
}
