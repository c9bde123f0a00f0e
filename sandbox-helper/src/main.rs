//! rdebootstrap-sandbox-helper: the sandbox helper as a program of its
//! own, for embedders of debrepo that do not run it from their own
//! executable (rdebootstrap does: see `sandbox_protocol::helper`).

fn main() -> std::process::ExitCode {
    sandbox_protocol::helper::main(&[], std::env::args().skip(1).collect())
}
