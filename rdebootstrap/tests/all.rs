//! The integration tests of `rdebootstrap`, one module per file of this
//! directory, in one test binary: one link and one harness instead of
//! one per file (the links were a fifth of CI's test build, and the
//! files ran one after another, a core idle at each one's tail).
//! The helpers of `common/` are one module shared by all of them.
//! Cargo.toml declares the targets (`autotests = false`);
//! [`every_test_file_is_built`] fails on a file that is in neither.

#[path = "aptlists.rs"]
mod aptlists;
#[path = "build.rs"]
mod build;
#[path = "cli.rs"]
mod cli;
mod common;
#[path = "edit_verbs.rs"]
mod edit_verbs;
#[path = "gitimport.rs"]
mod gitimport;
#[path = "import.rs"]
mod import;
#[path = "inspect.rs"]
mod inspect;
#[path = "layers.rs"]
mod layers;
#[path = "mirrors.rs"]
mod mirrors;
#[path = "mmdebstrap.rs"]
mod mmdebstrap;
#[path = "outputs.rs"]
mod outputs;
#[path = "pathfilter.rs"]
mod pathfilter;
#[path = "platforms.rs"]
mod platforms;
#[path = "progress.rs"]
mod progress;
#[path = "release_freshness.rs"]
mod release_freshness;
#[path = "run.rs"]
mod run;
#[path = "sbom.rs"]
mod sbom;
#[path = "ubuntu.rs"]
mod ubuntu;
#[path = "update.rs"]
mod update;
#[path = "why.rs"]
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
