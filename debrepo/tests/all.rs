//! The integration tests of `debrepo`, one module per file of this
//! directory, in one test binary: one link instead of one per file (the
//! workspace's 45 integration test binaries were a fifth of CI's test build;
//! as one binary per crate their build takes about a quarter of that).
//! The tests take about as long as before: two run at a time either way.
//! `auth.rs` and `proxy.rs` set process-wide environment variables (the
//! vault's address, `http_proxy`) and `verify.rs` is also built with the
//! `gpgme` feature by itself (`.ci/run`), so those three stay binaries of
//! their own.
//! Cargo.toml declares the targets (`autotests = false`);
//! [`every_test_file_is_built`] fails on a file that is in neither.

mod aptlists;
mod artifacts;
mod deb_real;
mod deb_synthetic;
mod dpkgdb;
mod fetch;
mod freshness;
mod hostile;
mod oci;
mod pathfilter;
mod real_archive;
mod real_index;
mod solver_apt;
mod solver_properties;
mod tls;
mod transport;
mod unpack;
mod version_dpkg;
mod why_real;

/// Every `tests/*.rs` is a module here or a `[[test]]` of its own.
#[test]
fn every_test_file_is_built() {
    testkit::assert_every_test_file_is_built(
        env!("CARGO_MANIFEST_DIR"),
        include_str!("all.rs"),
        include_str!("../Cargo.toml"),
    );
}
