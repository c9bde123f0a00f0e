//! Debian package versions (deb-version(7)): `[epoch:]upstream[-revision]`.
//!
//! Parsing follows dpkg's rules. Some defects are hard errors (empty version,
//! embedded spaces, a bad epoch, an empty upstream or revision); others dpkg
//! only warns about (upstream not starting with a digit, characters outside
//! the allowed sets). [`Version::parse`] rejects both, as dpkg does for a
//! package being built or installed; [`Version::parse_lax`] accepts the
//! second kind, as dpkg does for its database, `--compare-versions` and as
//! apt does for indices.
//!
//! Ordering is dpkg's: epochs numerically, then upstream and revision each by
//! alternating runs. Non-digit runs compare character by character where `~`
//! sorts before everything (even the end of the string), letters before
//! non-letters; digit runs compare as numbers of any length. As a consequence
//! `1.0` equals `1.0-0` and `1.01` equals `1.1`; `Eq` and `Hash` follow that
//! order, not the spelling.

use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};

/// Why a version string was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VersionError {
    #[error("version string is empty")]
    Empty,
    #[error("version string has embedded spaces")]
    EmbeddedSpaces,
    #[error("epoch in version is empty")]
    EpochEmpty,
    #[error("epoch in version is not number")]
    EpochNotNumber,
    #[error("epoch in version is negative")]
    EpochNegative,
    #[error("epoch in version is too big")]
    EpochTooBig,
    #[error("nothing after colon in version number")]
    NothingAfterColon,
    #[error("revision number is empty")]
    RevisionEmpty,
    #[error("version number is empty")]
    UpstreamEmpty,
    // The following are only warnings for dpkg in lax mode.
    #[error("version number does not start with digit")]
    NotStartingWithDigit,
    #[error("invalid character in version number")]
    InvalidCharInUpstream,
    #[error("invalid character in revision number")]
    InvalidCharInRevision,
}

impl VersionError {
    /// True for defects dpkg reports only as warnings in lax mode.
    pub fn is_warning(&self) -> bool {
        matches!(
            self,
            VersionError::NotStartingWithDigit
                | VersionError::InvalidCharInUpstream
                | VersionError::InvalidCharInRevision
        )
    }
}

/// A parsed version borrowing its text. Kept small (32 bytes): the parts
/// are offsets into the text.
#[derive(Clone, Copy)]
pub struct Version<'a> {
    text: &'a str,
    epoch: u32,
    /// Start of the upstream part (after the epoch's colon).
    up_start: u32,
    /// End of the upstream part; the revision follows after one `-`.
    up_end: u32,
}

impl fmt::Debug for Version<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Version({:?})", self.text)
    }
}

impl<'a> Version<'a> {
    /// Parse strictly: warnings are errors too.
    pub fn parse(s: &'a str) -> Result<Self, VersionError> {
        let (v, warning) = Self::parse_inner(s)?;
        match warning {
            Some(w) => Err(w),
            None => Ok(v),
        }
    }

    /// Parse like dpkg in lax mode: only hard errors are refused.
    pub fn parse_lax(s: &'a str) -> Result<Self, VersionError> {
        Self::parse_inner(s).map(|(v, _)| v)
    }

    /// Parse, returning the version and dpkg's warning if it would give one.
    pub fn parse_with_warning(s: &'a str) -> Result<(Self, Option<VersionError>), VersionError> {
        Self::parse_inner(s)
    }

    fn parse_inner(s: &'a str) -> Result<(Self, Option<VersionError>), VersionError> {
        let is_blank = |c: u8| c == b' ' || c == b'\t';
        let s = s.trim_start_matches([' ', '\t']);
        let b = s.as_bytes();
        if b.is_empty() {
            return Err(VersionError::Empty);
        }
        // One pass: the end of the version, the first colon, the last hyphen.
        let mut end = b.len();
        let mut colon = None;
        let mut hyphen = None;
        for (i, &c) in b.iter().enumerate() {
            match c {
                b' ' | b'\t' => {
                    end = i;
                    break;
                }
                b':' if colon.is_none() => colon = Some(i),
                b'-' => hyphen = Some(i),
                _ => {}
            }
        }
        if !b[end..].iter().all(|&c| is_blank(c)) {
            return Err(VersionError::EmbeddedSpaces);
        }
        let text = &s[..end];
        let (epoch, up_start) = match colon {
            Some(colon) => {
                let epoch = parse_epoch(&text[..colon])?;
                if colon + 1 == text.len() {
                    return Err(VersionError::NothingAfterColon);
                }
                (epoch, colon + 1)
            }
            None => (0, 0),
        };
        let up_end = match hyphen {
            Some(h) if h >= up_start => {
                if h + 1 == text.len() {
                    return Err(VersionError::RevisionEmpty);
                }
                h
            }
            _ => text.len(),
        };
        let upstream = &b[up_start..up_end];
        if upstream.is_empty() {
            return Err(VersionError::UpstreamEmpty);
        }
        let revision = b.get(up_end + 1..end).unwrap_or(&[]);
        let warning = if !upstream[0].is_ascii_digit() {
            Some(VersionError::NotStartingWithDigit)
        } else if !upstream[1..]
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'+' | b'~' | b':'))
        {
            Some(VersionError::InvalidCharInUpstream)
        } else if !revision
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'+' | b'~'))
        {
            Some(VersionError::InvalidCharInRevision)
        } else {
            None
        };
        Ok((
            Version {
                text,
                epoch,
                up_start: up_start as u32,
                up_end: up_end as u32,
            },
            warning,
        ))
    }

    /// The epoch (0 when absent).
    pub fn epoch(&self) -> u32 {
        self.epoch
    }

    /// The upstream part.
    pub fn upstream(&self) -> &'a str {
        &self.text[self.up_start as usize..self.up_end as usize]
    }

    /// The Debian revision ("" when absent).
    pub fn revision(&self) -> &'a str {
        self.text.get(self.up_end as usize + 1..).unwrap_or("")
    }

    /// The version as written (without surrounding white space).
    pub fn as_str(&self) -> &'a str {
        self.text
    }

    /// What the version is made of: its text, epoch and where its
    /// upstream part is (for [`crate::packages::table`]).
    pub(crate) fn raw_parts(&self) -> (&'a str, u32, u32, u32) {
        (self.text, self.epoch, self.up_start, self.up_end)
    }

    /// The version [`Version::raw_parts`] described, or `None` when the
    /// upstream part is not within the text.
    pub(crate) fn from_raw_parts(
        text: &'a str,
        epoch: u32,
        up_start: u32,
        up_end: u32,
    ) -> Option<Self> {
        text.get(up_start as usize..up_end as usize)?;
        Some(Version {
            text,
            epoch,
            up_start,
            up_end,
        })
    }

    /// An owned copy.
    pub fn to_owned(&self) -> VersionBuf {
        VersionBuf::from_version(self)
    }
}

fn parse_epoch(s: &str) -> Result<u32, VersionError> {
    // strtol semantics: an optional sign, then digits.
    let (negative, digits) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let n = digits.bytes().take_while(u8::is_ascii_digit).count();
    if n == 0 {
        return Err(VersionError::EpochEmpty);
    }
    if n != digits.len() {
        return Err(VersionError::EpochNotNumber);
    }
    let value: u64 = digits.trim_start_matches('0').parse().unwrap_or(
        if digits.trim_start_matches('0').is_empty() {
            0
        } else {
            u64::MAX
        },
    );
    if negative && value != 0 {
        return Err(VersionError::EpochNegative);
    }
    if value > i32::MAX as u64 {
        return Err(VersionError::EpochTooBig);
    }
    Ok(value as u32)
}

/// dpkg's weight of a non-digit character; the end of the string is 0.
#[inline]
fn order(c: Option<u8>) -> i32 {
    match c {
        None => 0,
        Some(c) if c.is_ascii_digit() => 0,
        Some(c) if c.is_ascii_alphabetic() => c as i32,
        Some(b'~') => -1,
        Some(c) => c as i32 + 256,
    }
}

/// Compare two upstream or revision strings as dpkg does.
pub fn compare_part(a: &str, b: &str) -> Ordering {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let (mut i, mut j) = (0, 0);
    let digit = |s: &[u8], k: usize| s.get(k).is_some_and(u8::is_ascii_digit);
    while i < a.len() || j < b.len() {
        while (i < a.len() && !digit(a, i)) || (j < b.len() && !digit(b, j)) {
            let ac = order(a.get(i).copied());
            let bc = order(b.get(j).copied());
            if ac != bc {
                return ac.cmp(&bc);
            }
            i += 1;
            j += 1;
        }
        while a.get(i) == Some(&b'0') {
            i += 1;
        }
        while b.get(j) == Some(&b'0') {
            j += 1;
        }
        let mut first_diff = Ordering::Equal;
        while digit(a, i) && digit(b, j) {
            if first_diff == Ordering::Equal {
                first_diff = a[i].cmp(&b[j]);
            }
            i += 1;
            j += 1;
        }
        if digit(a, i) {
            return Ordering::Greater;
        }
        if digit(b, j) {
            return Ordering::Less;
        }
        if first_diff != Ordering::Equal {
            return first_diff;
        }
    }
    Ordering::Equal
}

impl Ord for Version<'_> {
    fn cmp(&self, other: &Self) -> Ordering {
        self.epoch
            .cmp(&other.epoch)
            .then_with(|| compare_part(self.upstream(), other.upstream()))
            .then_with(|| compare_part(self.revision(), other.revision()))
    }
}

impl PartialOrd for Version<'_> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for Version<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Version<'_> {}

/// Feed a part in a form where strings equal by dpkg's order are equal:
/// digit runs by value (leading zeros dropped), and a zero-valued digit run
/// at the very end left out, since comparing treats it like no run at all.
fn hash_part<H: Hasher>(s: &str, state: &mut H) {
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i].is_ascii_digit() {
            while i < b.len() && b[i] == b'0' {
                i += 1;
            }
            let start = i;
            while i < b.len() && b[i].is_ascii_digit() {
                i += 1;
            }
            if start == i && i == b.len() {
                break;
            }
            state.write(&b[start..i]);
            state.write_u8(0xff);
        } else {
            state.write_u8(b[i]);
            i += 1;
        }
    }
    state.write_u8(0xfe);
}

impl Hash for Version<'_> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.epoch.hash(state);
        hash_part(self.upstream(), state);
        hash_part(self.revision(), state);
    }
}

impl fmt::Display for Version<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.text)
    }
}

/// An owned version, for keeping past the input's lifetime.
#[derive(Clone)]
pub struct VersionBuf {
    text: Box<str>,
    epoch: u32,
    up_start: u32,
    up_end: u32,
}

impl VersionBuf {
    /// Parse strictly (see [`Version::parse`]).
    pub fn parse(s: &str) -> Result<Self, VersionError> {
        Version::parse(s).map(|v| Self::from_version(&v))
    }

    /// Parse laxly (see [`Version::parse_lax`]).
    pub fn parse_lax(s: &str) -> Result<Self, VersionError> {
        Version::parse_lax(s).map(|v| Self::from_version(&v))
    }

    fn from_version(v: &Version<'_>) -> Self {
        VersionBuf {
            text: v.text.into(),
            epoch: v.epoch,
            up_start: v.up_start,
            up_end: v.up_end,
        }
    }

    /// Borrow as a [`Version`].
    pub fn as_version(&self) -> Version<'_> {
        Version {
            text: &self.text,
            epoch: self.epoch,
            up_start: self.up_start,
            up_end: self.up_end,
        }
    }

    /// The version as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

impl fmt::Debug for VersionBuf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "VersionBuf({:?})", &*self.text)
    }
}

impl fmt::Display for VersionBuf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl Ord for VersionBuf {
    fn cmp(&self, other: &Self) -> Ordering {
        self.as_version().cmp(&other.as_version())
    }
}

impl PartialOrd for VersionBuf {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for VersionBuf {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for VersionBuf {}

impl Hash for VersionBuf {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_version().hash(state)
    }
}

impl std::str::FromStr for VersionBuf {
    type Err = VersionError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

#[cfg(test)]
mod tests;
