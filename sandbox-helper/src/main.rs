//! rdebootstrap-sandbox-helper: the namespace sandbox in which rdebootstrap
//! will run maintainer scripts (user, mount, PID, UTS and IPC namespaces).
//!
//! The helper is driven by debrepo over a typed, versioned protocol; that
//! arrives with the `build` work. Until then this binary only answers
//! `--version` and refuses anything else, so that nothing pretends to be
//! sandboxed.

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("--version") => {
            println!("rdebootstrap-sandbox-helper {}", env!("CARGO_PKG_VERSION"));
            ExitCode::SUCCESS
        }
        _ => {
            eprintln!("rdebootstrap-sandbox-helper: the sandbox is not implemented yet; it is started by 'rdebootstrap build'");
            ExitCode::from(2)
        }
    }
}
