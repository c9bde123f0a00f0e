//! Streaming the data member's tar entries with their metadata, refusing
//! what dpkg refuses (see the module docs of [`crate::deb`]).

use std::cell::RefCell;
use std::collections::HashSet;
use std::ffi::OsStr;
use std::io::{self, Read};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use super::tar::{RawEntry, RawKind, TarError, TarReader};
use super::{DebError, Refusal};

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
    tar: RefCell<TarReader<DataStream<'a>>>,
}

impl<'a> DataArchive<'a> {
    /// A data member from its decompressed stream (`member` names it in
    /// errors), as [`crate::deb::DebReader::data`] makes it.
    pub fn new(member: String, stream: DataStream<'a>) -> Self {
        DataArchive {
            member,
            tar: RefCell::new(TarReader::new(stream)),
        }
    }

    /// The member's name (`data.tar.xz`, ...).
    pub fn member(&self) -> &str {
        &self.member
    }

    /// Read the rest of the member to its end, after the entries (a
    /// decoder checks its stream's checksum there).
    pub fn drain(&self) -> Result<(), DebError> {
        self.tar
            .borrow_mut()
            .drain()
            .map(drop)
            .map_err(|source| DebError::Member {
                member: self.member.clone(),
                source,
            })
    }

    /// Iterate over the entries in archive order. Call once.
    pub fn entries(&mut self) -> Result<DataEntries<'_, 'a>, DebError> {
        Ok(DataEntries {
            member: &self.member,
            tar: &self.tar,
            files: HashSet::new(),
            done: false,
        })
    }
}

/// Iterator over data entries; it stops at the first error.
pub struct DataEntries<'e, 'a> {
    member: &'e str,
    tar: &'e RefCell<TarReader<DataStream<'a>>>,
    /// Regular files so far: the only targets a hard link may have.
    files: HashSet<PathBuf>,
    done: bool,
}

impl<'e, 'a> Iterator for DataEntries<'e, 'a> {
    type Item = Result<DataEntry<'e, 'a>, DebError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let raw = self.tar.borrow_mut().next_entry();
        let result = match raw {
            Ok(None) => {
                self.done = true;
                return None;
            }
            Ok(Some(raw)) => self.check(raw),
            Err(source) => Err(DebError::Tar {
                member: self.member.to_owned(),
                source,
            }),
        };
        self.done = result.is_err();
        Some(result.map(|meta| DataEntry {
            meta,
            member: self.member,
            tar: self.tar,
        }))
    }
}

impl DataEntries<'_, '_> {
    /// dpkg's checks of an entry (`tarobject` in `src/main/archives.c`),
    /// and ours.
    fn check(&mut self, raw: RawEntry) -> Result<EntryMeta, DebError> {
        let refuse = |raw: &RawEntry, reason| DebError::Entry {
            member: self.member.to_owned(),
            path: String::from_utf8_lossy(&raw.name).into_owned(),
            reason,
        };
        check_name(&raw.name).map_err(|r| refuse(&raw, r))?;
        let path = normalize(Path::new(OsStr::from_bytes(&raw.name)));
        let kind = match raw.kind {
            RawKind::File => EntryKind::Regular,
            RawKind::Directory => EntryKind::Directory,
            RawKind::Symlink => EntryKind::Symlink,
            RawKind::HardLink => EntryKind::HardLink,
            RawKind::CharDevice => EntryKind::CharDevice,
            RawKind::BlockDevice => EntryKind::BlockDevice,
            RawKind::Fifo => EntryKind::Fifo,
        };
        let link_target = match kind {
            EntryKind::Symlink => Some(PathBuf::from(OsStr::from_bytes(&raw.link))),
            EntryKind::HardLink => {
                // dpkg links to whatever the path is in its root; we only
                // to a file this archive wrote, so a link can never reach
                // a file of another package or of the host.
                let target = normalize(Path::new(OsStr::from_bytes(&raw.link)));
                if !self.files.contains(&target) {
                    let target = String::from_utf8_lossy(&raw.link).into_owned();
                    return Err(refuse(&raw, Refusal::HardLinkTarget { target }));
                }
                Some(target)
            }
            _ => None,
        };
        if kind == EntryKind::Regular {
            self.files.insert(path.clone());
        }
        Ok(EntryMeta {
            kind,
            path,
            link_target,
            mode: raw.mode,
            uid: raw.uid,
            gid: raw.gid,
            uname: raw.uname,
            gname: raw.gname,
            mtime: raw.mtime,
            size: if kind == EntryKind::Regular {
                raw.size
            } else {
                0
            },
            device: matches!(kind, EntryKind::CharDevice | EntryKind::BlockDevice)
                .then_some(raw.device),
            xattrs: raw.xattrs,
        })
    }
}

/// Refuse a name with a newline (it would split its `.list` line, as dpkg
/// says) or a `..` component (no package has one; it names a path outside
/// the root).
pub(crate) fn check_name(name: &[u8]) -> Result<(), Refusal> {
    if name.contains(&b'\n') {
        return Err(Refusal::Newline);
    }
    if name.split(|&b| b == b'/').any(|c| c == b"..") {
        return Err(Refusal::DotDot);
    }
    Ok(())
}

/// One entry: its metadata, and for regular files a reader of its contents.
pub struct DataEntry<'e, 'a> {
    meta: EntryMeta,
    member: &'e str,
    tar: &'e RefCell<TarReader<DataStream<'a>>>,
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

impl DataEntry<'_, '_> {
    /// The entry's metadata.
    pub fn meta(&self) -> &EntryMeta {
        &self.meta
    }

    /// Take the metadata, dropping the contents.
    pub fn into_meta(self) -> EntryMeta {
        self.meta
    }

    /// Read the rest of the entry and its padding: once this succeeds, the
    /// entry is complete in the archive, and may be given its final name.
    pub fn finish(&mut self) -> Result<(), DebError> {
        self.tar
            .borrow_mut()
            .finish_entry()
            .map_err(|source| DebError::Tar {
                member: self.member.to_owned(),
                source,
            })
    }

    /// The data member's name.
    pub fn member(&self) -> &str {
        self.member
    }

    /// The [`DebError`] for an error its reader returned.
    pub fn read_error(&self, e: io::Error) -> DebError {
        DebError::Tar {
            member: self.member.to_owned(),
            source: TarError::from_io(e),
        }
    }
}

impl Read for DataEntry<'_, '_> {
    /// The contents of a regular file (nothing for other kinds). A stream
    /// that ends early is an error (`UnexpectedEof`), never a short file;
    /// [`DataEntry::read_error`] turns it back into a [`DebError`].
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.tar
            .borrow_mut()
            .read_data(buf)
            .map_err(TarError::into_io)
    }
}
