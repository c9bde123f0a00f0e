//! Reading binary packages (deb(5)).
//!
//! A .deb is an ar archive (common format) of, in order: `debian-binary`
//! (format `2.x`), `control.tar[.gz|.xz|.zst]` and
//! `data.tar[.gz|.xz|.zst|.bz2|.lzma]`. Members whose names start with `_`
//! may sit between them and are skipped, as dpkg does.
//!
//! [`DebReader::new`] reads the first two members (the control data is
//! small and kept in memory, within [`CONTROL_FILE_CAP`] and
//! [`CONTROL_TOTAL_CAP`]); [`DebReader::data`] then streams the data
//! member's tar entries one by one, so the package is never held in memory.
//!
//! # What is refused
//!
//! A package is hostile input. What dpkg refuses, we refuse, with dpkg's
//! reason where it gives one (see `lib/dpkg/tarfn.c`, `src/main/archives.c`,
//! `src/main/unpack.c` and `lib/dpkg/triglib.c` in dpkg):
//!
//! - in both tar archives ([`TarError`]): bad header checksums and numeric
//!   fields, empty names, GNU long names or links over 4096 bytes, tar
//!   types dpkg does not know or support (GNU volume, multivolume, sparse
//!   and dumpdir headers, Solaris headers, PAX global headers, contiguous
//!   files, anything else), a stream that ends inside a header, inside an
//!   entry's data or inside its padding, or without its end-of-archive
//!   block; data on anything but a regular file;
//! - in names ([`Refusal`]): a newline ("newline not allowed in archive
//!   object name": it would split the name's line in dpkg's `.list`, so a
//!   package could claim, and later remove, any path); a `..` component
//!   (no package has one; it names a path outside the root);
//! - a hard link whose target is not a regular file earlier in the same
//!   archive (tar writes a file before its links; a link to anything else
//!   would reach a file of another package or of the host);
//! - in the control archive: anything but plain files at its top level
//!   (dpkg installs its top-level members as `info/` files and refuses
//!   directories: "package metadata contains directory"); absolute names
//!   and `..`; names over 100 bytes ("package has overly-long metadata
//!   file name"); a file over [`CONTROL_FILE_CAP`] or a control archive
//!   over [`CONTROL_TOTAL_CAP`], told before reading them;
//! - in `triggers`: names dpkg cannot classify ("invalid or unknown syntax
//!   in trigger name"): a file trigger (starting with `/`) with an empty
//!   component or a trailing slash, any other name that is not a legal
//!   package name or has a `_`, and characters outside printable ASCII.
//!
//! # What we accept beyond dpkg
//!
//! - PAX extended headers (`x`), which dpkg refuses ("unsupported PAX tar
//!   header type"): dpkg-deb never writes them, but packages built by other
//!   tools carry file capabilities (`SCHILY.xattr.security.capability`)
//!   and long names in them, and the tree needs the capabilities.
//! - Absolute entry names (`/usr/bin/x`) are taken relative to the root,
//!   as dpkg takes them (it strips leading `/` and `./`).

use std::collections::BTreeMap;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use crate::compression::{Checked, Compression};

mod ar;
mod control;
mod data;
pub(crate) mod tar;

use ar::ArReader;

pub use ar::Member as ArMember;
pub use control::{Conffile, ControlFiles, Trigger, MAINTAINER_SCRIPTS};
pub use data::{normalize, DataArchive, DataEntries, DataEntry, DataStream, EntryKind, EntryMeta};
pub use tar::TarError;

/// The largest control file (`md5sums`, a script, ...) read into memory.
///
/// The largest real one is far below: trixie's largest `md5sums` would be
/// 12,106,384 bytes (texlive-fonts-extra, 103,808 files), computed from
/// trixie's main `Contents-amd64.gz` and `Contents-all.gz` as, per
/// package, the sum over its files of 32 + 2 + path length + 1 (one
/// `md5sums` line each); the next are sumo-doc (10.1 MB) and
/// papirus-icon-theme (9.5 MB). The real package's control.tar.xz (read
/// from the first 16 MiB of texlive-fonts-extra_2024.20250309-2_all.deb)
/// has exactly that `md5sums`, beside a 22,813-byte `control`. Scripts,
/// `templates`, `symbols` and `shlibs` are far smaller. The cap is over
/// five times the largest.
pub const CONTROL_FILE_CAP: u64 = 64 << 20;
/// The largest control archive, all its files together, read into memory
/// (twice [`CONTROL_FILE_CAP`]: room for a large `md5sums` and large
/// `templates` or `symbols` beside it). A package at this cap takes
/// `update` and `build` to about 150 MB peak RSS; a 1 GiB `md5sums` is
/// refused from its header, at about 21 MB.
pub const CONTROL_TOTAL_CAP: u64 = 128 << 20;

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
    #[error("member {member}: invalid tar archive")]
    Tar {
        member: String,
        #[source]
        source: TarError,
    },
    #[error("member {member}: entry '{}' refused", path.escape_debug())]
    Entry {
        member: String,
        path: String,
        #[source]
        reason: Refusal,
    },
    #[error("member {member}: {file} is {size} bytes, more than the {cap} bytes a control file may have")]
    ControlFileTooBig {
        member: String,
        file: String,
        size: u64,
        cap: u64,
    },
    #[error("member {member}: its files are more than the {cap} bytes a control archive may hold (at {file}, {total} bytes)")]
    ControlTooBig {
        member: String,
        file: String,
        total: u64,
        cap: u64,
    },
}

/// Why an archive entry is refused.
#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    #[error("newline not allowed in archive object name")]
    Newline,
    #[error("'..' not allowed in archive object name")]
    DotDot,
    #[error("hard link to '{}', which is not a file earlier in the archive", target.escape_debug())]
    HardLinkTarget { target: String },
    #[error("package metadata contains directory '{}'", dir.escape_debug())]
    ControlDirectory { dir: String },
    #[error("control member with an absolute name: only plain files at the top level of the control archive are allowed")]
    ControlAbsolute,
    #[error("control member is a {kind}, not a plain file")]
    ControlNotFile { kind: &'static str },
    #[error("package has overly-long metadata file name ({len} bytes, at most {max})")]
    ControlNameTooLong { len: usize, max: usize },
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
    #[error("line {line}: invalid or unknown syntax in trigger name '{}': {reason}", name.escape_debug())]
    TriggerName {
        line: usize,
        name: String,
        reason: &'static str,
    },
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
    checked: Checked,
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
        // std's 8 KiB buffer: a build holds every package's reader from
        // its control data to its unpack (64 KiB each was 11 MB of a
        // developer image's peak RSS). The data member's decoders read
        // through buffers of their own (xz, lzma and bzip2 8 KiB, gzip
        // 32 KiB, zstd 128 KiB; an uncompressed tar 64 KiB at a time), as
        // large as this one or larger, which this one passes straight to
        // the file.
        DebReader::new(io::BufReader::new(file)).map_err(|e| fail(DebFileErrorKind::Deb(e)))
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
        let files = read_control_tar(&name, compression, &mut archive)?;
        let control = ControlFiles::new(name.clone(), files);
        // Refused here, before anything is unpacked, as dpkg refuses them
        // while reading the package.
        control.triggers()?;
        Ok(DebReader {
            archive,
            format: version,
            control_member: name,
            control,
            checked: Checked::No,
        })
    }

    /// The caller has proven the whole .deb against a SHA-256 (the lock's,
    /// or a signed index's): the data member's own checksums are not
    /// computed again ([`Checked::BySha256`]).
    pub fn proven_by_sha256(mut self) -> Self {
        self.checked = Checked::BySha256;
        self
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

    /// Take the control files out, leaving the data member to stream
    /// ([`DebReader::control`] is empty from then on).
    pub fn take_control(&mut self) -> ControlFiles {
        let empty = ControlFiles::new(self.control_member.clone(), Default::default());
        std::mem::replace(&mut self.control, empty)
    }

    /// Start streaming the data member. Call once.
    pub fn data(&mut self) -> Result<DataArchive<'_>, DebError> {
        let (name, stream) = self.data_stream()?;
        Ok(DataArchive::new(name, stream))
    }

    /// The data member's name and its decompressed stream. Call once.
    pub fn data_stream(&mut self) -> Result<(String, DataStream<'_>), DebError> {
        let name = next_required(&mut self.archive, "data.tar")?;
        let compression = tar_compression(&name, "data.tar", DATA_COMPRESSIONS)
            .ok_or_else(|| DebError::UnknownCompression(name.clone()))?;
        let reader = compression
            .decoder_checked(&mut self.archive, self.checked)
            .map_err(|source| DebError::Member {
                member: name.clone(),
                source,
            })?;
        Ok((name, reader))
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

/// dpkg's longest control file name (`MAXCONTROLFILENAME`).
const MAX_CONTROL_NAME: usize = 100;

/// The control archive's files, within the caps, refusing anything but
/// plain files at its top level.
fn read_control_tar<Rd: Read + Send>(
    member: &str,
    compression: Compression,
    input: Rd,
) -> Result<BTreeMap<String, (u32, Vec<u8>)>, DebError> {
    let io_err = |source| DebError::Member {
        member: member.to_owned(),
        source,
    };
    let tar_err = |source| DebError::Tar {
        member: member.to_owned(),
        source,
    };
    let mut tar = tar::TarReader::new(compression.decoder(input).map_err(io_err)?);
    let mut files = BTreeMap::new();
    let mut total: u64 = 0;
    while let Some(entry) = tar.next_entry().map_err(tar_err)? {
        let shown = String::from_utf8_lossy(&entry.name).into_owned();
        let refuse = |reason| DebError::Entry {
            member: member.to_owned(),
            path: shown.clone(),
            reason,
        };
        data::check_name(&entry.name).map_err(refuse)?;
        if entry.name.starts_with(b"/") {
            return Err(refuse(Refusal::ControlAbsolute));
        }
        let mut name = entry.name.as_slice();
        while let Some(rest) = name.strip_prefix(b"./") {
            name = rest;
        }
        let trimmed = name.strip_suffix(b"/").unwrap_or(name);
        if trimmed.is_empty() || trimmed == b"." {
            // The archive's own top directory.
            if entry.kind == tar::RawKind::Directory {
                continue;
            }
            return Err(refuse(Refusal::ControlNotFile {
                kind: raw_kind_name(entry.kind),
            }));
        }
        if let Some(slash) = name.iter().position(|&b| b == b'/') {
            let dir = String::from_utf8_lossy(&name[..slash]).into_owned();
            return Err(refuse(Refusal::ControlDirectory { dir }));
        }
        match entry.kind {
            tar::RawKind::File => {}
            tar::RawKind::Directory => {
                let dir = String::from_utf8_lossy(trimmed).into_owned();
                return Err(refuse(Refusal::ControlDirectory { dir }));
            }
            other => {
                return Err(refuse(Refusal::ControlNotFile {
                    kind: raw_kind_name(other),
                }))
            }
        }
        if name.len() > MAX_CONTROL_NAME {
            return Err(refuse(Refusal::ControlNameTooLong {
                len: name.len(),
                max: MAX_CONTROL_NAME,
            }));
        }
        let name = String::from_utf8_lossy(name).into_owned();
        // Told from the header, before a byte of it is read.
        if entry.size > CONTROL_FILE_CAP {
            return Err(DebError::ControlFileTooBig {
                member: member.to_owned(),
                file: name,
                size: entry.size,
                cap: CONTROL_FILE_CAP,
            });
        }
        total += entry.size;
        if total > CONTROL_TOTAL_CAP {
            return Err(DebError::ControlTooBig {
                member: member.to_owned(),
                file: name,
                total,
                cap: CONTROL_TOTAL_CAP,
            });
        }
        let mut buf = vec![0u8; entry.size as usize];
        let mut got = 0;
        while got < buf.len() {
            got += tar.read_data(&mut buf[got..]).map_err(tar_err)?;
        }
        tar.finish_entry().map_err(tar_err)?;
        files.insert(name, (entry.mode, buf));
    }
    Ok(files)
}

fn raw_kind_name(k: tar::RawKind) -> &'static str {
    match k {
        tar::RawKind::File => "file",
        tar::RawKind::HardLink => "hard link",
        tar::RawKind::Symlink => "symbolic link",
        tar::RawKind::CharDevice => "character device",
        tar::RawKind::BlockDevice => "block device",
        tar::RawKind::Directory => "directory",
        tar::RawKind::Fifo => "fifo",
    }
}
