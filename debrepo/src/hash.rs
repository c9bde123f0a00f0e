//! Fixed-size digests written as lowercase hex (SHA-256, SHA-512, MD5).

use std::fmt;

/// A digest of `N` bytes.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Digest<const N: usize>(pub [u8; N]);

/// A SHA-256 digest.
pub type Sha256 = Digest<32>;
/// A SHA-512 digest.
pub type Sha512 = Digest<64>;
/// An MD5 digest (parsed for completeness; never trusted on its own).
pub type Md5 = Digest<16>;
/// A SHA-1 digest (parsed for completeness; never trusted on its own).
pub type Sha1 = Digest<20>;

/// A hex digest of the wrong length or with a non-hex character.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("expected {expected} hex digits, got {text:?}")]
pub struct HexError {
    pub expected: usize,
    pub text: String,
}

/// The SHA-256 of `data`.
pub fn sha256(data: &[u8]) -> Sha256 {
    use sha2::Digest as _;
    Digest(sha2::Sha256::digest(data).into())
}

impl From<sha2::digest::Output<sha2::Sha256>> for Sha256 {
    fn from(out: sha2::digest::Output<sha2::Sha256>) -> Self {
        Digest(out.into())
    }
}

impl<const N: usize> Digest<N> {
    /// Parse `2*N` hex digits (either case).
    pub fn from_hex(s: &str) -> Result<Self, HexError> {
        let err = || HexError {
            expected: 2 * N,
            text: s.to_owned(),
        };
        let b = s.as_bytes();
        if b.len() != 2 * N {
            return Err(err());
        }
        let mut out = [0u8; N];
        // Accumulate an "invalid" bit instead of branching per digit.
        let mut bad = 0u8;
        for (o, pair) in out.iter_mut().zip(b.chunks_exact(2)) {
            let (hi, lo) = (HEX[pair[0] as usize], HEX[pair[1] as usize]);
            bad |= (hi | lo) & 0x80;
            *o = (hi << 4) | (lo & 0x0f);
        }
        if bad != 0 {
            return Err(err());
        }
        Ok(Digest(out))
    }

    /// The digest's bytes.
    pub fn as_bytes(&self) -> &[u8; N] {
        &self.0
    }
}

/// Hex digit values; 0x80 marks a non-hex byte.
static HEX: [u8; 256] = {
    let mut t = [0x80u8; 256];
    let mut i = 0;
    while i < 10 {
        t[b'0' as usize + i] = i as u8;
        i += 1;
    }
    let mut i = 0;
    while i < 6 {
        t[b'a' as usize + i] = 10 + i as u8;
        t[b'A' as usize + i] = 10 + i as u8;
        i += 1;
    }
    t
};

impl<const N: usize> fmt::Display for Digest<N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in &self.0 {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

impl<const N: usize> fmt::Debug for Digest<N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Digest({self})")
    }
}

impl<const N: usize> std::str::FromStr for Digest<N> {
    type Err = HexError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::from_hex(s)
    }
}
