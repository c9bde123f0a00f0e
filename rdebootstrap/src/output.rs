//! The verbs' answers on standard output.
//!
//! `println!` panics when standard output is a closed pipe (`rdebootstrap
//! list | head -1`). The verbs write through `outln!` instead, which
//! returns the `io::Error`; `main` turns a broken pipe into a quiet exit 0,
//! as other Unix tools end. SIGPIPE stays ignored (Rust's default), so
//! nothing process-wide changes.

/// `println!` that returns `std::io::Result<()>` instead of panicking.
macro_rules! outln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        writeln!(std::io::stdout().lock(), $($arg)*)
    }};
}

/// Whether `err` is standard output closed under us (a broken pipe):
/// the reader has all it wanted, so that is a success.
pub fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.downcast_ref::<std::io::Error>()
        .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
}

/// `n` and the noun, singular or plural: "1 spec", "2 specs".
pub fn count(n: usize, one: &str, many: &str) -> String {
    if n == 1 {
        format!("{n} {one}")
    } else {
        format!("{n} {many}")
    }
}
