//! rdebootstrap: the command-line front end of debrepo.
//!
//! This file is the one place that decides exit codes: 0 on success, 1 when
//! a command fails (the error and its causes are printed), 2 for usage
//! errors (clap's own exit); standard output closed under a command (a
//! broken pipe, as in `rdebootstrap list | head -1`) is a quiet 0.

// Answers go through `outln!`, which returns a closed pipe as an error
// instead of panicking as `println!` does.
#![deny(clippy::print_stdout)]

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, CommandFactory, FromArgMatches, Parser, Subcommand};

#[macro_use]
mod output;
mod buildcmd;
mod cachecmd;
mod docs;
mod edit;
mod editmore;
mod inspect;
mod lockcmd;
mod progress;
mod query;
mod runcmd;
mod whycmd;

/// Manifest-driven, locked Debian/Ubuntu root tree builder.
#[derive(Parser)]
#[command(name = "rdebootstrap", version, about, propagate_version = true)]
struct Cli {
    #[command(flatten)]
    global: Global,
    #[command(subcommand)]
    command: Command,
}

/// Options every command understands.
#[derive(Args, Clone)]
#[command(next_help_heading = "Global options")]
pub struct Global {
    /// Print nothing but errors.
    #[arg(short, long, global = true, conflicts_with = "debug")]
    pub quiet: bool,
    /// Print details for debugging: each request and its answer, where
    /// indices came from, solver figures (rdebootstrap's own output only).
    #[arg(short, long, global = true)]
    pub debug: bool,
    /// Downloads at once (at most 4 from one host).
    #[arg(
        short = 'n',
        long,
        global = true,
        default_value_t = 20,
        value_name = "N"
    )]
    pub downloads: usize,
    /// Do not check TLS certificates (not recommended).
    #[arg(short = 'k', long, global = true)]
    pub insecure: bool,
    /// Cache directory (default: $XDG_CACHE_HOME/rdebootstrap or ~/.cache/rdebootstrap).
    #[arg(long, global = true, value_name = "DIR")]
    pub cache_dir: Option<PathBuf>,
    /// Do not use a cache.
    #[arg(long, global = true, conflicts_with = "cache_dir")]
    pub no_cache: bool,
    /// Credentials: file:PATH, PATH, or vault:MOUNT/PATH (default: auth.toml
    /// next to the manifest, if present).
    #[arg(short = 'a', long, global = true, value_name = "SOURCE")]
    pub auth: Option<String>,
    /// The manifest.
    #[arg(
        short = 'm',
        long,
        global = true,
        default_value = "Manifest.toml",
        value_name = "PATH"
    )]
    pub manifest: PathBuf,
    /// Target architecture (default: this machine's). `build` with an
    /// OCI output takes a list (`amd64,arm64`): one image for all of
    /// them, each locked in its own `Manifest.ARCH.lock`.
    #[arg(long, global = true)]
    pub arch: Option<String>,
}

#[derive(Subcommand)]
enum Command {
    /// Read Debian formats and archives: .deb files, Packages indices,
    /// Release files, versions, suites.
    #[command(subcommand)]
    Inspect(inspect::Inspect),
    /// Write a new manifest from a vendor preset or an archive URL.
    Init(edit::InitArgs),
    /// Add or replace `[import]`: build on another locked manifest (a path
    /// to it), pinning its hash and exporting the named specs.
    Import(editmore::ImportArgs),
    /// Add package requirements to a spec.
    Require(edit::SpecItems),
    /// Add constraints (forbidden packages or versions) to a spec.
    Forbid(edit::SpecItems),
    /// Remove requirements or constraints from a spec.
    #[command(alias = "drop")]
    Remove(edit::SpecItems),
    /// Manage the manifest's archives.
    #[command(subcommand)]
    Archive(edit::ArchiveCmd),
    /// Manage the manifest's artifacts (files, tarballs, directories and
    /// texts the specs stage into the tree).
    #[command(subcommand)]
    Artifact(editmore::ArtifactCmd),
    /// Stage artifacts in a spec (as `spec artifact add`).
    Stage(editmore::StageArgs),
    /// Record local .deb packages.
    #[command(subcommand)]
    Deb(editmore::DebCmd),
    /// Edit the manifest in $EDITOR (checked before it replaces the file),
    /// or a spec's build-env or build-script.
    Edit(editmore::EditArgs),
    /// Fetch and verify the archives, solve every spec, write the lock
    /// (`Manifest.<arch>.lock`; left untouched when nothing changed).
    Update(lockcmd::UpdateArgs),
    /// Print a spec's locked packages: NAME VERSION ARCH, sorted by name.
    List(lockcmd::ListArgs),
    /// Why a package is in a spec's lock: the shortest chain of
    /// requirements from the spec (its includes, its ancestors', its
    /// variant's set) through Depends and Pre-Depends.
    Why(whycmd::WhyArgs),
    /// Why a package is not in a spec's lock: not in the archives,
    /// excluded, in conflict with a locked package, unmet dependencies, or
    /// nothing requires it.
    WhyNot(whycmd::WhyArgs),
    /// Search package names and descriptions in the manifest's archives.
    Search(query::SearchArgs),
    /// Show the full records of a package in the manifest's archives.
    Package(query::NameArgs),
    /// Show a source package and its binaries.
    Source(query::NameArgs),
    /// Inspect and edit the manifest's specs.
    #[command(subcommand)]
    Spec(query::SpecCmd),
    /// Build a spec's locked packages into a directory: download, unpack,
    /// write the dpkg database, run the maintainer scripts in the sandbox.
    Build(buildcmd::BuildArgs),
    /// Run a command in a built tree, in the build's sandbox (as root or
    /// rootless; no network unless --network); its exit status is
    /// rdebootstrap's.
    Run(runcmd::RunArgs),
    /// Keep the download cache bounded: `gc` removes what is unused,
    /// `clean` everything.
    #[command(subcommand)]
    Cache(cachecmd::CacheCmd),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    Completions(docs::CompletionsArgs),
    /// Print the manual page (roff): `rdebootstrap man > rdebootstrap.1`.
    Man,
}

/// The command line as parsed, documented and completed: an empty default
/// (`-s`: the unnamed `[spec]`) is not shown as `[default: ""]`.
fn command() -> clap::Command {
    fn tidy(mut cmd: clap::Command) -> clap::Command {
        let names: Vec<String> = cmd
            .get_subcommands()
            .map(|c| c.get_name().to_owned())
            .collect();
        for name in names {
            cmd = cmd.mut_subcommand(name, tidy);
        }
        cmd.mut_args(|a| {
            if a.get_default_values() == [""] {
                a.hide_default_value(true)
            } else {
                a
            }
        })
    }
    tidy(Cli::command())
}

fn main() -> ExitCode {
    // The sandbox helper runs from this same executable: first thing,
    // while the process has one thread.
    if let Some(code) = debrepo::sandbox::helper_if_asked() {
        return code;
    }
    let cli = Cli::from_arg_matches(&command().get_matches()).unwrap_or_else(|e| e.exit());
    let result = match cli.command {
        Command::Inspect(cmd) => inspect::run(cmd, &cli.global),
        Command::Init(args) => edit::init(args, &cli.global).map(|()| ExitCode::SUCCESS),
        Command::Import(args) => editmore::import(args, &cli.global).map(|()| ExitCode::SUCCESS),
        Command::Require(args) => {
            edit::require(args, &cli.global, "include").map(|()| ExitCode::SUCCESS)
        }
        Command::Forbid(args) => {
            edit::require(args, &cli.global, "exclude").map(|()| ExitCode::SUCCESS)
        }
        Command::Remove(args) => edit::remove(args, &cli.global).map(|()| ExitCode::SUCCESS),
        Command::Archive(cmd) => edit::archive(cmd, &cli.global).map(|()| ExitCode::SUCCESS),
        Command::Artifact(cmd) => editmore::artifact(cmd, &cli.global).map(|()| ExitCode::SUCCESS),
        Command::Stage(args) => {
            editmore::stage(args, &cli.global, true).map(|()| ExitCode::SUCCESS)
        }
        Command::Deb(cmd) => editmore::deb(cmd, &cli.global).map(|()| ExitCode::SUCCESS),
        Command::Edit(args) => editmore::edit(args, &cli.global).map(|()| ExitCode::SUCCESS),
        Command::Update(args) => lockcmd::update(args, &cli.global).map(|()| ExitCode::SUCCESS),
        Command::Search(args) => query::search(args, &cli.global).map(|()| ExitCode::SUCCESS),
        Command::Package(args) => query::package(args, &cli.global).map(|()| ExitCode::SUCCESS),
        Command::Source(args) => query::source(args, &cli.global).map(|()| ExitCode::SUCCESS),
        Command::Spec(cmd) => query::spec(cmd, &cli.global).map(|()| ExitCode::SUCCESS),
        Command::List(args) => lockcmd::list(args, &cli.global).map(|()| ExitCode::SUCCESS),
        Command::Why(args) => whycmd::why(args, &cli.global).map(|()| ExitCode::SUCCESS),
        Command::WhyNot(args) => whycmd::why_not(args, &cli.global).map(|()| ExitCode::SUCCESS),
        Command::Build(args) => buildcmd::build(args, &cli.global).map(|()| ExitCode::SUCCESS),
        Command::Run(args) => runcmd::run(args, &cli.global),
        Command::Cache(cmd) => cachecmd::cache(cmd, &cli.global).map(|()| ExitCode::SUCCESS),
        Command::Completions(args) => docs::completions(args).map(|()| ExitCode::SUCCESS),
        Command::Man => docs::man().map(|()| ExitCode::SUCCESS),
    };
    match result {
        Ok(code) => code,
        // The reader of our output has all it wanted.
        Err(err) if output::is_broken_pipe(&err) => ExitCode::SUCCESS,
        Err(err) => {
            let mut last = err.to_string();
            eprintln!("error: {last}");
            for cause in err.chain().skip(1) {
                // A cause that repeats what the line before said (some
                // libraries' errors wrap one that says the same) is left out.
                let text = cause.to_string();
                if !last.contains(&text) {
                    eprintln!("  caused by: {text}");
                }
                last = text;
            }
            ExitCode::FAILURE
        }
    }
}
