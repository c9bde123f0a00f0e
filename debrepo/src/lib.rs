//! debrepo: Debian repository formats, dependency solving and root tree
//! building, the library behind `rdebootstrap`.
//!
//! The format layer is synchronous and does no I/O of its own: callers hand
//! in bytes or readers.
//!
//! - [`deb822`]: control data (stanzas and fields), zero-copy, round-trips;
//! - [`version`]: Debian versions with dpkg's parsing rules and order;
//! - [`relation`]: relationship fields (`Depends`, `Provides`, ...);
//! - [`arch`]: architecture names and wildcards;
//! - [`release`]: `Release`/`InRelease` files and their checksum tables;
//! - [`packages`]: typed records of `Packages` indices;
//! - [`compression`]: streaming decompression by file name;
//! - [`deb`]: reading `.deb` files: control data and a streamed data tar.

pub mod aptlists;
pub mod aptsources;
pub mod arch;
pub mod archive;
pub mod artifact;
pub mod auth;
pub mod build;
pub mod cache;
pub mod compression;
pub mod configure;
pub mod deb;
pub mod deb822;
pub mod dpkgdb;
pub mod emulation;
pub mod git;
pub mod hash;
pub mod lock;
pub mod manifest;
pub mod mirror;
pub mod oci;
pub mod origin;
pub mod output;
pub mod ownership;
pub mod packages;
pub mod pathfilter;
pub mod pipeline;
pub mod podman;
pub mod progress;
pub mod relation;
pub mod release;
pub mod sandbox;
pub mod sbom;
pub mod solver;
pub mod transport;
pub mod tree;
pub mod unpack;
pub mod update;
pub mod vendor;
pub mod verify;
pub mod version;
pub mod why;

pub use packages::{BinaryPackage, PackagesParser};
pub use version::{Version, VersionBuf};
