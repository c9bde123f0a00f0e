//! The integration tests of `rdebootstrap`, one module per file of this
//! directory, in one test binary: one link instead of one per file (the
//! workspace's 45 integration test binaries were a fifth of CI's test build;
//! as one binary per crate their build takes about a quarter of that).
//! The tests take about as long as before: two run at a time either way.
//! The helpers of `common/` are one module shared by all of them.
//! Cargo.toml declares the targets (`autotests = false`);
//! [`every_test_file_is_built`] fails on a file that is in neither.

mod aptlists;
mod build;
mod cli;
mod common;
mod edit_verbs;
mod gitimport;
mod import;
mod inspect;
mod layers;
mod mirrors;
mod mmdebstrap;
mod outputs;
mod pathfilter;
mod platforms;
mod progress;
mod release_freshness;
mod run;
mod sbom;
mod ubuntu;
mod update;
mod why;

/// Every `tests/*.rs` is a module here or a `[[test]]` of its own.
#[test]
fn every_test_file_is_built() {
    testkit::assert_every_test_file_is_built(
        env!("CARGO_MANIFEST_DIR"),
        include_str!("all.rs"),
        include_str!("../Cargo.toml"),
    );
}
