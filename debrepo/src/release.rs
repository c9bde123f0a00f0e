//! `Release` and `InRelease` files: the signed description of an archive
//! suite and the checksums of every index file in it.
//!
//! Only SHA-256 and SHA-512 are trusted to identify a file; `MD5Sum` and
//! `SHA1` tables are read (a file listed only there is still known) but
//! [`IndexFile::trusted_digest`] never returns them, as apt no longer does.

use std::collections::BTreeMap;

use crate::deb822::{self, Comments};
use crate::hash::{Md5, Sha1, Sha256, Sha512};

pub mod clearsign;
pub mod date;

pub use clearsign::{ClearSignError, ClearSigned};

/// An error in a Release file.
#[derive(Debug, thiserror::Error)]
pub enum ReleaseError {
    #[error("not a valid InRelease file")]
    ClearSign(#[source] ClearSignError),
    #[error("syntax error")]
    Syntax(#[source] deb822::Error),
    #[error("a Release file holds one stanza, this one has none")]
    Empty,
    #[error("line {line}: field {field}")]
    Field {
        field: &'static str,
        line: u32,
        #[source]
        source: FieldError,
    },
}

/// What is wrong with a field of a Release file.
#[derive(Debug, thiserror::Error)]
pub enum FieldError {
    #[error("bad date")]
    Date(#[source] date::DateError),
    #[error("expected 'yes' or 'no', got {0:?}")]
    Bool(String),
    #[error("checksum line {0:?} is not '<hash> <size> <path>'")]
    ChecksumLine(String),
    #[error("bad digest")]
    Digest(#[source] crate::hash::HexError),
    #[error("size of {path} is {size} here but {other} in another checksum table")]
    SizeMismatch { path: String, size: u64, other: u64 },
}

/// One file listed in the checksum tables.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IndexFile {
    pub size: u64,
    pub md5: Option<Md5>,
    pub sha1: Option<Sha1>,
    pub sha256: Option<Sha256>,
    pub sha512: Option<Sha512>,
}

/// A digest strong enough to identify a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrustedDigest {
    Sha256(Sha256),
    Sha512(Sha512),
}

impl IndexFile {
    /// The strongest digest that may be trusted: SHA-512, else SHA-256;
    /// never MD5 or SHA-1.
    pub fn trusted_digest(&self) -> Option<TrustedDigest> {
        self.sha512
            .map(TrustedDigest::Sha512)
            .or(self.sha256.map(TrustedDigest::Sha256))
    }
}

/// A parsed Release file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Release {
    pub origin: Option<String>,
    pub label: Option<String>,
    pub suite: Option<String>,
    pub codename: Option<String>,
    pub version: Option<String>,
    pub description: Option<String>,
    /// `Date`, Unix seconds.
    pub date: Option<i64>,
    /// `Valid-Until`, Unix seconds.
    pub valid_until: Option<i64>,
    pub architectures: Vec<String>,
    pub components: Vec<String>,
    pub acquire_by_hash: bool,
    /// `No-Support-for-Architecture-all: Packages`: `all` packages are listed
    /// in every architecture's Packages, not in a `binary-all` index.
    pub no_support_for_architecture_all: bool,
    /// Files of the checksum tables by path relative to the suite directory.
    pub files: BTreeMap<String, IndexFile>,
}

impl Release {
    /// Parse an InRelease file: split it, then parse its signed text.
    /// Returns the parts of the clear-signed document too.
    pub fn parse_inrelease(doc: &str) -> Result<(Release, ClearSigned<'_>), ReleaseError> {
        let signed = clearsign::split(doc).map_err(ReleaseError::ClearSign)?;
        let release = Release::parse(&signed.text)?;
        Ok((release, signed))
    }

    /// Parse the text of a Release file (unsigned, or the signed text).
    pub fn parse(text: &str) -> Result<Release, ReleaseError> {
        let stanza = deb822::parse_one(text, Comments::Forbidden).map_err(ReleaseError::Syntax)?;
        if stanza.is_empty() {
            return Err(ReleaseError::Empty);
        }
        let mut r = Release::default();
        for f in stanza.fields() {
            let fail = |field: &'static str, source| ReleaseError::Field {
                field,
                line: f.line,
                source,
            };
            let text = || Some(f.folded());
            let words = || {
                f.value
                    .split_ascii_whitespace()
                    .map(str::to_owned)
                    .collect()
            };
            let name = f.name.to_ascii_lowercase();
            match name.as_str() {
                "origin" => r.origin = text(),
                "label" => r.label = text(),
                "suite" => r.suite = text(),
                "codename" => r.codename = text(),
                "version" => r.version = text(),
                "description" => r.description = text(),
                "date" => {
                    r.date =
                        Some(date::parse(f.value).map_err(|e| fail("Date", FieldError::Date(e)))?)
                }
                "valid-until" => {
                    r.valid_until = Some(
                        date::parse(f.value)
                            .map_err(|e| fail("Valid-Until", FieldError::Date(e)))?,
                    )
                }
                "architectures" => r.architectures = words(),
                "components" => r.components = words(),
                "acquire-by-hash" => {
                    r.acquire_by_hash = yes_no(f.value).map_err(|e| fail("Acquire-By-Hash", e))?
                }
                "no-support-for-architecture-all" => {
                    r.no_support_for_architecture_all = f.value.trim() == "Packages"
                }
                "md5sum" => table(&mut r.files, f.value, |e, d| {
                    e.md5 = Some(d.parse().map_err(FieldError::Digest)?);
                    Ok(())
                })
                .map_err(|e| fail("MD5Sum", e))?,
                "sha1" => table(&mut r.files, f.value, |e, d| {
                    e.sha1 = Some(d.parse().map_err(FieldError::Digest)?);
                    Ok(())
                })
                .map_err(|e| fail("SHA1", e))?,
                "sha256" => table(&mut r.files, f.value, |e, d| {
                    e.sha256 = Some(d.parse().map_err(FieldError::Digest)?);
                    Ok(())
                })
                .map_err(|e| fail("SHA256", e))?,
                "sha512" => table(&mut r.files, f.value, |e, d| {
                    e.sha512 = Some(d.parse().map_err(FieldError::Digest)?);
                    Ok(())
                })
                .map_err(|e| fail("SHA512", e))?,
                _ => {}
            }
        }
        Ok(r)
    }

    /// The entry for `path` (relative to the suite directory).
    pub fn file(&self, path: &str) -> Option<&IndexFile> {
        self.files.get(path)
    }

    /// True if the file is known by a trusted digest.
    pub fn has_trusted(&self, path: &str) -> bool {
        self.file(path)
            .and_then(IndexFile::trusted_digest)
            .is_some()
    }
}

fn yes_no(v: &str) -> Result<bool, FieldError> {
    match v.trim() {
        "yes" => Ok(true),
        "no" => Ok(false),
        other => Err(FieldError::Bool(other.to_owned())),
    }
}

fn table(
    files: &mut BTreeMap<String, IndexFile>,
    value: &str,
    mut set: impl FnMut(&mut IndexFile, &str) -> Result<(), FieldError>,
) -> Result<(), FieldError> {
    for line in value.lines() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let mut parts = line.split_ascii_whitespace();
        let (Some(digest), Some(size), Some(path), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(FieldError::ChecksumLine(line.to_owned()));
        };
        let size: u64 = size
            .parse()
            .map_err(|_| FieldError::ChecksumLine(line.to_owned()))?;
        let is_new = !files.contains_key(path);
        let entry = files.entry(path.to_owned()).or_default();
        if !is_new && entry.size != size {
            return Err(FieldError::SizeMismatch {
                path: path.to_owned(),
                size,
                other: entry.size,
            });
        }
        entry.size = size;
        set(entry, digest)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests;
