//! Reading binary packages (deb(5)).
//!
//! A .deb is an ar archive (common format) of, in order: `debian-binary`
//! (format `2.x`), `control.tar[.gz|.xz|.zst]` and
//! `data.tar[.gz|.xz|.zst|.bz2|.lzma]`. Members whose names start with `_`
//! may sit between them and are skipped, as dpkg does.
//!
//! [`DebReader::new`] reads the first two members (the control data is
//! small and kept in memory); [`DebReader::data`] then streams the data
//! member's tar entries one by one, so the package is never held in memory.

use std::collections::BTreeMap;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use crate::compression::Compression;

mod ar;
mod control;
mod data;

use ar::ArReader;

pub use ar::Member as ArMember;
pub use control::{Conffile, ControlFiles, Trigger, MAINTAINER_SCRIPTS};
pub use data::{normalize, DataArchive, DataEntries, DataEntry, DataStream, EntryKind, EntryMeta};

/// An error reading a .deb.
#[derive(Debug, thiserror::Error)]
pub enum DebError {
    #[error("not a .deb: not an ar archive")]
    NotAnArchive(#[source] io::Error),
    #[error("not a .deb: expected member {expected}, found {}", found.as_deref().unwrap_or("the end of the archive"))]
    UnexpectedMember {
        expected: &'static str,
        found: Option<String>,
    },
    #[error("unsupported .deb format version {0:?} (only 2.x is supported)")]
    UnsupportedFormat(String),
    #[error("member {0}: unknown compression")]
    UnknownCompression(String),
    #[error("reading member {member}")]
    Member {
        member: String,
        #[source]
        source: io::Error,
    },
    #[error("control member {member}: {file} is not valid")]
    ControlFile {
        member: String,
        file: String,
        #[source]
        source: Box<ControlFileError>,
    },
    #[error("control member has no 'control' file")]
    NoControlFile,
    #[error("data entry {path:?} has unsupported tar type {kind}")]
    UnsupportedEntry { path: PathBuf, kind: u8 },
}

/// A malformed file inside the control member.
#[derive(Debug, thiserror::Error)]
pub enum ControlFileError {
    #[error("not UTF-8")]
    Utf8,
    #[error("line {line}: {message}")]
    Line { line: usize, message: &'static str },
    #[error("invalid control data")]
    Package(#[source] crate::packages::PackagesError),
    #[error("invalid control data")]
    Syntax(#[source] crate::deb822::Error),
}

/// A .deb that could not be opened or read, with its path.
#[derive(Debug, thiserror::Error)]
#[error("{}", path.display())]
pub struct DebFileError {
    pub path: PathBuf,
    #[source]
    pub source: DebFileErrorKind,
}

/// Why a .deb file failed.
#[derive(Debug, thiserror::Error)]
pub enum DebFileErrorKind {
    #[error("cannot open")]
    Open(#[source] io::Error),
    #[error("invalid package")]
    Deb(#[source] DebError),
}

/// Reader over one .deb.
pub struct DebReader<R: Read> {
    archive: ArReader<R>,
    format: String,
    control_member: String,
    control: ControlFiles,
}

impl DebReader<io::BufReader<std::fs::File>> {
    /// Open a .deb file and read its control data.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, DebFileError> {
        let path = path.as_ref();
        let fail = |source| DebFileError {
            path: path.to_owned(),
            source,
        };
        let file = std::fs::File::open(path).map_err(|e| fail(DebFileErrorKind::Open(e)))?;
        DebReader::new(io::BufReader::with_capacity(1 << 16, file))
            .map_err(|e| fail(DebFileErrorKind::Deb(e)))
    }
}

/// Split `base.tar[.ext]` into its compression, or fail.
fn tar_compression(name: &str, base: &str, allowed: &[Compression]) -> Option<Compression> {
    let rest = name.strip_prefix(base)?;
    let c = if rest.is_empty() {
        Compression::None
    } else {
        Compression::from_extension(rest.strip_prefix('.')?)?
    };
    allowed.contains(&c).then_some(c)
}

const CONTROL_COMPRESSIONS: &[Compression] = &[
    Compression::None,
    Compression::Gzip,
    Compression::Xz,
    Compression::Zstd,
];
const DATA_COMPRESSIONS: &[Compression] = &[
    Compression::None,
    Compression::Gzip,
    Compression::Xz,
    Compression::Zstd,
    Compression::Bzip2,
    Compression::Lzma,
];

impl<R: Read + Send> DebReader<R> {
    /// Read `debian-binary` and the control member.
    pub fn new(input: R) -> Result<Self, DebError> {
        let mut archive = ArReader::new(input);
        let first = archive.next_member().map_err(DebError::NotAnArchive)?;
        match first {
            Some(m) if m.name == "debian-binary" => {}
            other => {
                return Err(DebError::UnexpectedMember {
                    expected: "debian-binary",
                    found: other.map(|m| m.name),
                })
            }
        }
        let mut format = String::new();
        (&mut archive)
            .take(64)
            .read_to_string(&mut format)
            .map_err(|source| DebError::Member {
                member: "debian-binary".into(),
                source,
            })?;
        let version = format.lines().next().unwrap_or("").trim().to_owned();
        if !version.starts_with("2.") {
            return Err(DebError::UnsupportedFormat(version));
        }
        let name = next_required(&mut archive, "control.tar")?;
        let compression = tar_compression(&name, "control.tar", CONTROL_COMPRESSIONS)
            .ok_or_else(|| DebError::UnknownCompression(name.clone()))?;
        let files =
            read_control_tar(compression, &mut archive).map_err(|source| DebError::Member {
                member: name.clone(),
                source,
            })?;
        Ok(DebReader {
            archive,
            format: version,
            control_member: name.clone(),
            control: ControlFiles::new(name, files),
        })
    }

    /// The format version from `debian-binary` (`2.0`).
    pub fn format(&self) -> &str {
        &self.format
    }

    /// The control member's name (`control.tar.xz`, ...).
    pub fn control_member(&self) -> &str {
        &self.control_member
    }

    /// The files of the control member.
    pub fn control(&self) -> &ControlFiles {
        &self.control
    }

    /// Take the control files, dropping the rest of the package.
    pub fn into_control(self) -> ControlFiles {
        self.control
    }

    /// Start streaming the data member. Call once.
    pub fn data(&mut self) -> Result<DataArchive<'_>, DebError> {
        let name = next_required(&mut self.archive, "data.tar")?;
        let compression = tar_compression(&name, "data.tar", DATA_COMPRESSIONS)
            .ok_or_else(|| DebError::UnknownCompression(name.clone()))?;
        let reader = compression
            .decoder(&mut self.archive)
            .map_err(|source| DebError::Member {
                member: name.clone(),
                source,
            })?;
        Ok(DataArchive::new(name, reader))
    }
}

/// Advance to the next member that does not start with `_` (those are
/// skipped, as dpkg does); it must start with `prefix`. Returns its name.
fn next_required<R: Read>(
    archive: &mut ArReader<R>,
    prefix: &'static str,
) -> Result<String, DebError> {
    loop {
        let member = archive.next_member().map_err(|source| DebError::Member {
            member: prefix.to_owned(),
            source,
        })?;
        match member {
            Some(m) if m.name.starts_with('_') => continue,
            Some(m) if m.name.starts_with(prefix) => return Ok(m.name),
            other => {
                return Err(DebError::UnexpectedMember {
                    expected: prefix,
                    found: other.map(|m| m.name),
                })
            }
        }
    }
}

fn read_control_tar<Rd: Read + Send>(
    compression: Compression,
    input: Rd,
) -> io::Result<BTreeMap<String, (u32, Vec<u8>)>> {
    let mut tar = tar::Archive::new(compression.decoder(input)?);
    let mut files = BTreeMap::new();
    for entry in tar.entries()? {
        let mut entry = entry?;
        if !matches!(
            entry.header().entry_type(),
            tar::EntryType::Regular | tar::EntryType::Continuous
        ) {
            continue;
        }
        let path = entry.path()?;
        let name = path
            .to_string_lossy()
            .trim_start_matches("./")
            .trim_start_matches('/')
            .to_owned();
        let mode = entry.header().mode()?;
        let mut buf = Vec::with_capacity(entry.size().min(1 << 24) as usize);
        entry.read_to_end(&mut buf)?;
        files.insert(name, (mode, buf));
    }
    Ok(files)
}
