//! The integration tests of `debrepo`, one module per file of this
//! directory, in one test binary: one link and one harness instead of
//! one per file (the links were a fifth of CI's test build, and the
//! files ran one after another, a core idle at each one's tail).
//! `auth.rs` and `proxy.rs` set process-wide environment variables (the
//! vault's address, `http_proxy`) and `verify.rs` is also built with the
//! `gpgme` feature by itself (`.ci/run`), so those three stay binaries of
//! their own.
//! Cargo.toml declares the targets (`autotests = false`);
//! [`every_test_file_is_built`] fails on a file that is in neither.

#[path = "aptlists.rs"]
mod aptlists;
#[path = "artifacts.rs"]
mod artifacts;
#[path = "deb_real.rs"]
mod deb_real;
#[path = "deb_synthetic.rs"]
mod deb_synthetic;
#[path = "dpkgdb.rs"]
mod dpkgdb;
#[path = "fetch.rs"]
mod fetch;
#[path = "freshness.rs"]
mod freshness;
#[path = "hostile.rs"]
mod hostile;
#[path = "oci.rs"]
mod oci;
#[path = "pathfilter.rs"]
mod pathfilter;
#[path = "real_archive.rs"]
mod real_archive;
#[path = "real_index.rs"]
mod real_index;
#[path = "solver_apt.rs"]
mod solver_apt;
#[path = "solver_properties.rs"]
mod solver_properties;
#[path = "tls.rs"]
mod tls;
#[path = "transport.rs"]
mod transport;
#[path = "unpack.rs"]
mod unpack;
#[path = "version_dpkg.rs"]
mod version_dpkg;
#[path = "why_real.rs"]
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
