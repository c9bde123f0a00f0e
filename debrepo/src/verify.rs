//! OpenPGP verification of archive metadata (`InRelease`, or `Release` with
//! `Release.gpg`).
//!
//! A [`Verifier`] checks signatures against a [`Keyring`] of trusted keys,
//! as apt does with `Signed-By`: at least one good signature by a trusted
//! key is required. A signature counts only if
//! - it is cryptographically valid for the signed bytes;
//! - its key (the primary key or a signing subkey bound to it, with the
//!   subkey's back-signature) is in the keyring, has a valid self-signature,
//!   is neither revoked nor expired now, and was not expired when the
//!   signature was made;
//! - its algorithms are not weak: digests MD5, SHA-1 and RIPEMD-160 are
//!   refused, as are RSA, DSA and ElGamal keys under 2048 bits (apt's and
//!   sqv's policy).
//!
//! [`PgpVerifier`] is the pure-Rust backend (rpgp), always built. With the
//! cargo feature `gpgme`, `GpgmeVerifier` checks signatures with the
//! system's GnuPG through libgpgme instead. Both implement [`Verifier`] and
//! pass the same test suite.

use std::fmt;
use std::path::{Path, PathBuf};

#[cfg(feature = "gpgme")]
mod gpgme;
mod keyring;
mod rpgp;

#[cfg(feature = "gpgme")]
pub use self::gpgme::GpgmeVerifier;
pub use keyring::Keyring;
pub use rpgp::PgpVerifier;

/// A good signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// Fingerprint of the trusted primary key (uppercase hex).
    pub signer: String,
    /// Fingerprint of the key that made the signature (a subkey, or the
    /// primary key itself).
    pub signing_key: String,
    /// When the signature was made, Unix seconds.
    pub created: i64,
}

/// Why one signature was not accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// No key in the keyring made it.
    UnknownKey,
    /// The signature does not match the signed text.
    BadSignature,
    /// The key was revoked.
    Revoked,
    /// The key expired (Unix seconds).
    Expired(i64),
    /// The key's binding or self-signature is missing or invalid.
    InvalidKey(String),
    /// The key is not allowed to sign.
    NotSigningKey,
    /// A weak digest or key algorithm.
    Weak(String),
    /// The signature packet could not be read.
    Unreadable(String),
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Problem::UnknownKey => f.write_str("made by a key that is not in the trusted keyring"),
            Problem::BadSignature => f.write_str("does not match the signed text (altered?)"),
            Problem::Revoked => f.write_str("made by a revoked key"),
            Problem::Expired(t) => write!(f, "made by a key that expired at {t} (Unix time)"),
            Problem::InvalidKey(why) => {
                write!(f, "made by a key without a valid self-signature: {why}")
            }
            Problem::NotSigningKey => f.write_str("made by a key not allowed to sign"),
            Problem::Weak(what) => write!(f, "uses a weak algorithm: {what}"),
            Problem::Unreadable(why) => write!(f, "cannot be read: {why}"),
        }
    }
}

/// One refused signature: which key it names and why it was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejected {
    /// Issuer fingerprint or key ID as the signature names it.
    pub issuer: String,
    pub problem: Problem,
}

impl fmt::Display for Rejected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "signature by {} {}", self.issuer, self.problem)
    }
}

/// Verification failed.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error("keyring {source_name} holds no usable key")]
    EmptyKeyring { source_name: String },
    #[error("cannot read keyring {source_name}")]
    BadKeyring {
        source_name: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error("cannot read keyring file {}", path.display())]
    KeyringFile {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("not a clear-signed document")]
    NotClearSigned(#[source] crate::release::ClearSignError),
    #[error("no signature found")]
    NoSignature,
    #[error("no valid signature by a trusted key: {}", list(.0))]
    NoValidSignature(Vec<Rejected>),
}

fn list(r: &[Rejected]) -> String {
    r.iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

/// Checks signatures of archive metadata against trusted keys.
pub trait Verifier: Send + Sync {
    /// Verify a clear-signed document (an InRelease file) and return the
    /// good signature and the signed text.
    fn verify_clearsigned(&self, document: &str) -> Result<(Verified, String), VerifyError>;

    /// Verify a detached signature (`Release.gpg`) of `data` (`Release`).
    fn verify_detached(&self, data: &[u8], signature: &[u8]) -> Result<Verified, VerifyError>;
}

/// Read a keyring file (binary `.gpg`/`.pgp` or armored `.asc`).
pub fn load_keyring(path: &Path) -> Result<Keyring, VerifyError> {
    let bytes = std::fs::read(path).map_err(|source| VerifyError::KeyringFile {
        path: path.to_owned(),
        source,
    })?;
    Keyring::from_bytes(&bytes, &path.display().to_string())
}
