//! Streaming the data member's tar entries with their metadata.

use std::io::{self, Read};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use super::DebError;

/// The decompressed data member.
pub type DataStream<'a> = Box<dyn Read + Send + 'a>;

/// What a data entry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EntryKind {
    Regular,
    Directory,
    Symlink,
    /// A hard link to an earlier entry ([`EntryMeta::link_target`]).
    HardLink,
    CharDevice,
    BlockDevice,
    Fifo,
}

/// An entry's metadata, from its tar header and PAX records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryMeta {
    pub kind: EntryKind,
    /// Path relative to the root: no leading `./` or `/`, no trailing `/`;
    /// the root directory itself is the empty path.
    pub path: PathBuf,
    /// Symlink target as written, or a hard link's target normalized like
    /// `path`.
    pub link_target: Option<PathBuf>,
    /// Permission bits including setuid, setgid and sticky.
    pub mode: u32,
    pub uid: u64,
    pub gid: u64,
    pub uname: Option<String>,
    pub gname: Option<String>,
    /// Modification time, seconds since the Unix epoch.
    pub mtime: u64,
    /// Size of the file data (0 but for regular files).
    pub size: u64,
    /// Device numbers of character and block devices.
    pub device: Option<(u32, u32)>,
    /// Extended attributes from PAX `SCHILY.xattr.*` records, by name
    /// (`security.capability`).
    pub xattrs: Vec<(String, Vec<u8>)>,
}

/// The data member as a tar archive.
pub struct DataArchive<'a> {
    member: String,
    tar: tar::Archive<DataStream<'a>>,
}

impl<'a> DataArchive<'a> {
    pub(crate) fn new(member: String, stream: DataStream<'a>) -> Self {
        DataArchive {
            member,
            tar: tar::Archive::new(stream),
        }
    }

    /// The member's name (`data.tar.xz`, ...).
    pub fn member(&self) -> &str {
        &self.member
    }

    /// Iterate over the entries in archive order. Call once.
    pub fn entries(&mut self) -> Result<DataEntries<'_, 'a>, DebError> {
        let member = self.member.clone();
        let entries = self.tar.entries().map_err(|source| DebError::Member {
            member: member.clone(),
            source,
        })?;
        Ok(DataEntries { member, entries })
    }
}

/// Iterator over data entries.
pub struct DataEntries<'e, 'a> {
    member: String,
    entries: tar::Entries<'e, DataStream<'a>>,
}

impl<'e, 'a> Iterator for DataEntries<'e, 'a> {
    type Item = Result<DataEntry<'e, 'a>, DebError>;

    fn next(&mut self) -> Option<Self::Item> {
        let entry = match self.entries.next()? {
            Ok(e) => e,
            Err(source) => {
                return Some(Err(DebError::Member {
                    member: self.member.clone(),
                    source,
                }))
            }
        };
        Some(DataEntry::new(entry).map_err(|e| match e {
            MetaError::Io(source) => DebError::Member {
                member: self.member.clone(),
                source,
            },
            MetaError::Unsupported { path, kind } => DebError::UnsupportedEntry { path, kind },
        }))
    }
}

/// One entry: its metadata, and for regular files a reader of its contents.
pub struct DataEntry<'e, 'a> {
    meta: EntryMeta,
    inner: tar::Entry<'e, DataStream<'a>>,
}

enum MetaError {
    Io(io::Error),
    Unsupported { path: PathBuf, kind: u8 },
}

impl From<io::Error> for MetaError {
    fn from(e: io::Error) -> Self {
        MetaError::Io(e)
    }
}

/// Drop leading `./` and `/` and a trailing `/`; `.` is the root.
pub fn normalize(path: &Path) -> PathBuf {
    let mut s = path.as_os_str().as_bytes();
    loop {
        if let Some(rest) = s.strip_prefix(b"./") {
            s = rest;
        } else if let Some(rest) = s.strip_prefix(b"/") {
            s = rest;
        } else {
            break;
        }
    }
    while let Some(rest) = s.strip_suffix(b"/") {
        s = rest;
    }
    if s == b"." {
        s = b"";
    }
    PathBuf::from(std::ffi::OsStr::from_bytes(s))
}

impl<'e, 'a> DataEntry<'e, 'a> {
    fn new(mut inner: tar::Entry<'e, DataStream<'a>>) -> Result<Self, MetaError> {
        let header = inner.header();
        let raw_type = header.entry_type();
        let path = normalize(&inner.path()?);
        let kind = match raw_type {
            tar::EntryType::Regular | tar::EntryType::Continuous => EntryKind::Regular,
            tar::EntryType::Directory => EntryKind::Directory,
            tar::EntryType::Symlink => EntryKind::Symlink,
            tar::EntryType::Link => EntryKind::HardLink,
            tar::EntryType::Char => EntryKind::CharDevice,
            tar::EntryType::Block => EntryKind::BlockDevice,
            tar::EntryType::Fifo => EntryKind::Fifo,
            other => {
                return Err(MetaError::Unsupported {
                    path,
                    kind: other.as_byte(),
                })
            }
        };
        let mode = header.mode()? & 0o7777;
        let mut uid = header.uid()?;
        let mut gid = header.gid()?;
        let mut mtime = header.mtime()?;
        let mut uname = header.username().ok().flatten().map(str::to_owned);
        let mut gname = header.groupname().ok().flatten().map(str::to_owned);
        let device = match kind {
            EntryKind::CharDevice | EntryKind::BlockDevice => Some((
                header.device_major()?.unwrap_or(0),
                header.device_minor()?.unwrap_or(0),
            )),
            _ => None,
        };
        let link_target = match kind {
            EntryKind::Symlink => inner.link_name()?.map(|p| p.into_owned()),
            EntryKind::HardLink => inner.link_name()?.map(|p| normalize(&p)),
            _ => None,
        };
        let mut xattrs = Vec::new();
        if let Some(pax) = inner.pax_extensions()? {
            for ext in pax {
                let ext = ext?;
                let Ok(key) = ext.key() else { continue };
                let value = ext.value_bytes();
                let text = || std::str::from_utf8(value).ok();
                match key {
                    "uid" => uid = text().and_then(|v| v.parse().ok()).unwrap_or(uid),
                    "gid" => gid = text().and_then(|v| v.parse().ok()).unwrap_or(gid),
                    "uname" => uname = text().map(str::to_owned),
                    "gname" => gname = text().map(str::to_owned),
                    "mtime" => {
                        mtime = text()
                            .and_then(|v| v.split('.').next())
                            .and_then(|v| v.parse().ok())
                            .unwrap_or(mtime)
                    }
                    k => {
                        if let Some(name) = k.strip_prefix("SCHILY.xattr.") {
                            xattrs.push((name.to_owned(), value.to_vec()));
                        }
                    }
                }
            }
        }
        let size = if kind == EntryKind::Regular {
            inner.size()
        } else {
            0
        };
        Ok(DataEntry {
            meta: EntryMeta {
                kind,
                path,
                link_target,
                mode,
                uid,
                gid,
                uname,
                gname,
                mtime,
                size,
                device,
                xattrs,
            },
            inner,
        })
    }

    /// The entry's metadata.
    pub fn meta(&self) -> &EntryMeta {
        &self.meta
    }

    /// Take the metadata, dropping the contents.
    pub fn into_meta(self) -> EntryMeta {
        self.meta
    }
}

impl Read for DataEntry<'_, '_> {
    /// The contents of a regular file (nothing for other kinds).
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.read(buf)
    }
}
