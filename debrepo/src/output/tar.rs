//! A built tree as one deterministic tar stream: the same tree (and the
//! same [`TarOptions`]) gives the same bytes on every run and machine,
//! built as root or rootless.
//!
//! # Format rules
//!
//! - **Order**: the root `./` first, then a depth-first walk with each
//!   directory's entries sorted bytewise by name, a directory before its
//!   contents (GNU tar's `--sort=name`, which mmdebstrap uses).
//! - **Names** as `tar -C DIR -c .` writes them (and `mmdebstrap
//!   --format=tar`): `./etc/passwd`, directories with a trailing slash
//!   (`./etc/`). A name or link target longer than 100 bytes is given in a
//!   PAX `path`/`linkpath` record (the ustar field holds its first 100
//!   bytes).
//! - **Headers**: POSIX ustar (`ustar\0`, version `00`) with PAX extended
//!   headers (`x`) only where needed, named `DIR/PaxHeaders/NAME` (GNU
//!   tar's `%d/PaxHeaders/%f`) and owned by 0:0, mode 0644, with the
//!   entry's time; records sorted by key. Numbers in octal; a size, uid or
//!   gid too large for its field goes into a PAX record. No atime, ctime
//!   or other time than the modification time, which is
//!   `min(mtime, SOURCE_DATE_EPOCH)` (negative times as 0). The stream
//!   ends with two zero blocks, padded to a multiple of 10240 bytes as
//!   tar's default blocking factor does.
//! - **Owners**: numeric uid and gid, with the user and group names the
//!   tree's own `/etc/passwd` and `/etc/group` give them (none when the
//!   tree has no name for an id).
//! - **Types**: regular files, directories, symbolic links, hard links
//!   (a regular file whose inode appeared before in the walk is a link to
//!   that first name), character and block devices, fifos. Sockets are
//!   left out (as tar does). A directory on another file system than the
//!   root's is written but not entered (`--one-file-system`).
//! - **Extended attributes** as PAX `SCHILY.xattr.NAME` records (GNU tar's
//!   `--xattrs`), sorted by name; `system.*` (ACLs, which tar writes only
//!   with `--acls`) and `security.selinux` (the host's labels, not the
//!   tree's) are left out.
//! - **`/dev`** is written as mmdebstrap writes it for a tarball, whatever
//!   the tree holds there: `./dev/` 0755, the device nodes of
//!   [`crate::build::DEV`] 0666, its links 0777 and directories 0755, all
//!   root's, with the time `SOURCE_DATE_EPOCH`.
//! - **The root** `./` is root's, mode 0755 (the target directory's own
//!   owner and mode are the builder's, not the tree's).
//! - **Left out**: the build's incomplete marker
//!   ([`crate::build::INCOMPLETE`]), the ownership file
//!   ([`crate::ownership::FILE`]) and its directory when nothing else is in
//!   it.
//!
//! # Rootless trees
//!
//! [`TarOptions::users`] says how the tree was built:
//! - [`Users::Host`] (as root): owners, modes, devices and attributes are
//!   the tree's;
//! - [`Users::Single`] (no subordinate ids): everything in the tree is the
//!   builder's and is written as root's, except what the ownership file
//!   lists: its owners, modes, device nodes and fifos (empty files in the
//!   tree) and extended attributes;
//! - [`Users::Subordinate`]: the builder's own ids are written as 0 and
//!   the subordinate ranges' ids as the ids inside (`start + k - 1` as
//!   `k`); the ownership file gives the device nodes and fifos. A file
//!   capability set inside (`security.capability` version 3, which names
//!   the namespace's root) is written as the version 2 a root build has.
//!
//! So the same lock built as root and rootless gives the same stream.

use std::collections::{BTreeMap, HashMap};
use std::ffi::OsString;
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use base64::Engine as _;

use crate::build::{DevEntry, DEV, INCOMPLETE};
use crate::ownership::{self, Kind};
use crate::sandbox::Users;

/// How to write a tree.
#[derive(Debug, Clone)]
pub struct TarOptions {
    /// Seconds since 1970: no entry is newer (`SOURCE_DATE_EPOCH`).
    pub source_date_epoch: u64,
    /// Who built the tree (see the module documentation).
    pub users: Users,
}

/// What was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TarReport {
    /// Entries (not counting PAX headers).
    pub entries: usize,
    /// Bytes of the (uncompressed) stream.
    pub bytes: u64,
}

/// Writing the stream failed.
#[derive(Debug, thiserror::Error)]
pub enum TarError {
    #[error("{}: cannot read it for the tar output", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("{}: changed while it was written to the tar output", path.display())]
    Changed { path: PathBuf },
    #[error("writing the tar output")]
    Write(#[source] io::Error),
    #[error(transparent)]
    Ownership(#[from] ownership::OwnershipError),
}

/// A tar entry's type flag.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Type {
    File,
    HardLink,
    Symlink,
    Char,
    Block,
    Dir,
    Fifo,
}

impl Type {
    fn flag(self) -> u8 {
        match self {
            Type::File => b'0',
            Type::HardLink => b'1',
            Type::Symlink => b'2',
            Type::Char => b'3',
            Type::Block => b'4',
            Type::Dir => b'5',
            Type::Fifo => b'6',
        }
    }
}

/// One entry's header data.
#[derive(Debug, Clone)]
struct Meta {
    kind: Type,
    mode: u32,
    uid: u32,
    gid: u32,
    mtime: u64,
    size: u64,
    link: Vec<u8>,
    device: (u32, u32),
    xattrs: BTreeMap<String, Vec<u8>>,
}

/// How the tree's ids become the output's.
#[derive(Debug, Clone, Copy)]
enum IdMap {
    AsIs,
    AllRoot,
    Sub {
        uid: u32,
        gid: u32,
        uids: (u32, u32),
        gids: (u32, u32),
    },
}

impl IdMap {
    fn of(users: &Users) -> IdMap {
        match users {
            Users::Host => IdMap::AsIs,
            Users::Single => IdMap::AllRoot,
            Users::Subordinate { uids, gids } => IdMap::Sub {
                uid: rustix::process::geteuid().as_raw(),
                gid: rustix::process::getegid().as_raw(),
                uids: (uids.start, uids.count),
                gids: (gids.start, gids.count),
            },
        }
    }

    fn map(own: u32, (start, count): (u32, u32), id: u32) -> u32 {
        if id == own {
            0
        } else if id >= start && id - start < count {
            id - start + 1
        } else {
            // Not an id of the namespace: nobody, as the kernel shows it.
            65534
        }
    }

    fn uid(self, id: u32) -> u32 {
        match self {
            IdMap::AsIs => id,
            IdMap::AllRoot => 0,
            IdMap::Sub { uid, uids, .. } => Self::map(uid, uids, id),
        }
    }

    fn gid(self, id: u32) -> u32 {
        match self {
            IdMap::AsIs => id,
            IdMap::AllRoot => 0,
            IdMap::Sub { gid, gids, .. } => Self::map(gid, gids, id),
        }
    }
}

/// Write the tree at `root` to `out` as a tar stream (see the module
/// documentation); `out` is not flushed.
pub fn write(root: &Path, opts: &TarOptions, out: &mut dyn Write) -> Result<TarReport, TarError> {
    let owned = ownership::read(root)?
        .into_iter()
        .map(|e| (e.path.trim_start_matches('/').as_bytes().to_vec(), e))
        .collect();
    let root_meta = std::fs::symlink_metadata(root).map_err(|source| TarError::Read {
        path: root.to_owned(),
        source,
    })?;
    let mut w = Walker {
        root_dev: root_meta.dev(),
        epoch: opts.source_date_epoch,
        ids: IdMap::of(&opts.users),
        users: names(root, "etc/passwd"),
        groups: names(root, "etc/group"),
        owned,
        links: HashMap::new(),
        out: Out {
            out,
            bytes: 0,
            entries: 0,
        },
    };
    let top = Meta {
        kind: Type::Dir,
        mode: 0o755,
        uid: 0,
        gid: 0,
        mtime: root_meta.mtime().max(0).min(w.epoch as i64) as u64,
        size: 0,
        link: Vec::new(),
        device: (0, 0),
        xattrs: w.xattrs(root, Type::Dir)?,
    };
    w.emit(b"./", &top, None)?;
    w.walk(b"", root)?;
    w.out.finish()?;
    Ok(TarReport {
        entries: w.out.entries,
        bytes: w.out.bytes,
    })
}

/// Id to name from the tree's `passwd` or `group` (first name wins).
fn names(root: &Path, rel: &str) -> HashMap<u32, String> {
    let text = crate::tree::Tree::open(root)
        .and_then(|t| t.read(Path::new(rel), 16 << 20))
        .unwrap_or_default();
    let mut map = HashMap::new();
    for line in String::from_utf8_lossy(&text).lines() {
        let f: Vec<&str> = line.split(':').collect();
        if let (Some(name), Some(id)) = (f.first(), f.get(2).and_then(|i| i.parse().ok())) {
            map.entry(id).or_insert_with(|| (*name).to_owned());
        }
    }
    map
}

struct Out<'a> {
    out: &'a mut dyn Write,
    bytes: u64,
    entries: usize,
}

impl Out<'_> {
    fn put(&mut self, data: &[u8]) -> Result<(), TarError> {
        self.out.write_all(data).map_err(TarError::Write)?;
        self.bytes += data.len() as u64;
        Ok(())
    }

    fn pad(&mut self) -> Result<(), TarError> {
        let rest = (512 - self.bytes % 512) % 512;
        self.put(&[0; 512][..rest as usize])
    }

    fn finish(&mut self) -> Result<(), TarError> {
        self.put(&[0; 1024])?;
        let rest = (10240 - self.bytes % 10240) % 10240;
        self.put(&vec![0; rest as usize])
    }
}

struct Walker<'a> {
    root_dev: u64,
    epoch: u64,
    ids: IdMap,
    users: HashMap<u32, String>,
    groups: HashMap<u32, String>,
    owned: BTreeMap<Vec<u8>, ownership::Entry>,
    /// (device, inode) of files with several links: their first name.
    links: HashMap<(u64, u64), Vec<u8>>,
    out: Out<'a>,
}

impl Walker<'_> {
    fn clamp(&self, mtime: i64) -> u64 {
        (mtime.max(0) as u64).min(self.epoch)
    }

    fn read_err(path: &Path) -> impl FnOnce(io::Error) -> TarError + '_ {
        move |source| TarError::Read {
            path: path.to_owned(),
            source,
        }
    }

    /// The entries of directory `rel` (at `abs`), sorted.
    fn walk(&mut self, rel: &[u8], abs: &Path) -> Result<(), TarError> {
        let mut names: Vec<OsString> = std::fs::read_dir(abs)
            .map_err(Self::read_err(abs))?
            .map(|e| e.map(|e| e.file_name()))
            .collect::<io::Result<_>>()
            .map_err(Self::read_err(abs))?;
        if rel.is_empty() && !names.iter().any(|n| n == "dev") {
            names.push("dev".into());
        }
        names.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
        for name in names {
            let mut path = rel.to_vec();
            if !path.is_empty() {
                path.push(b'/');
            }
            path.extend_from_slice(name.as_bytes());
            if path == INCOMPLETE.as_bytes() || path == ownership::FILE.as_bytes() {
                continue;
            }
            if path == b"dev" {
                self.dev()?;
                continue;
            }
            let child = abs.join(&name);
            let st = std::fs::symlink_metadata(&child).map_err(Self::read_err(&child))?;
            let ft = st.file_type();
            if path == ownership_dir() && ft.is_dir() && only_ownership(&child) {
                continue;
            }
            let meta = match self.meta(&path, &child, &st)? {
                Some(m) => m,
                None => continue,
            };
            let mut name = b"./".to_vec();
            name.extend_from_slice(&path);
            if meta.kind == Type::Dir {
                name.push(b'/');
            }
            if meta.kind == Type::File && meta.size > 0 {
                let mut file = std::fs::OpenOptions::new()
                    .read(true)
                    .custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32)
                    .open(&child)
                    .map_err(Self::read_err(&child))?;
                self.emit(&name, &meta, Some((&mut file, &child)))?;
            } else {
                self.emit(&name, &meta, None)?;
            }
            if meta.kind == Type::Dir && ft.is_dir() && st.dev() == self.root_dev {
                self.walk(&path, &child)?;
            }
        }
        Ok(())
    }

    /// The header data of `path`; `None` for what a tar does not hold.
    fn meta(
        &mut self,
        path: &[u8],
        abs: &Path,
        st: &std::fs::Metadata,
    ) -> Result<Option<Meta>, TarError> {
        use std::os::unix::fs::FileTypeExt;
        let ft = st.file_type();
        let kind = if ft.is_dir() {
            Type::Dir
        } else if ft.is_symlink() {
            Type::Symlink
        } else if ft.is_file() {
            Type::File
        } else if ft.is_char_device() {
            Type::Char
        } else if ft.is_block_device() {
            Type::Block
        } else if ft.is_fifo() {
            Type::Fifo
        } else {
            return Ok(None);
        };
        let rdev = st.rdev();
        let mut m = Meta {
            kind,
            mode: st.mode() & 0o7777,
            uid: self.ids.uid(st.uid()),
            gid: self.ids.gid(st.gid()),
            mtime: self.clamp(st.mtime()),
            size: if kind == Type::File { st.len() } else { 0 },
            link: Vec::new(),
            device: match kind {
                Type::Char | Type::Block => {
                    (rustix::fs::major(rdev as _), rustix::fs::minor(rdev as _))
                }
                _ => (0, 0),
            },
            xattrs: self.xattrs(abs, kind)?,
        };
        if kind == Type::Symlink {
            m.link = std::fs::read_link(abs)
                .map_err(Self::read_err(abs))?
                .into_os_string()
                .into_vec();
        }
        if let Some(e) = self.owned.get(path) {
            m.uid = e.uid;
            m.gid = e.gid;
            m.mode = e.mode & 0o7777;
            if kind == Type::File {
                // A device node or fifo is an empty file standing in for it.
                let special = match e.kind {
                    Kind::Char => Some(Type::Char),
                    Kind::Block => Some(Type::Block),
                    Kind::Fifo => Some(Type::Fifo),
                    _ => None,
                };
                if let Some(t) = special {
                    m.kind = t;
                    m.size = 0;
                    m.device = e.device.unwrap_or((0, 0));
                }
            }
            for (k, v) in &e.xattrs {
                if let Ok(v) = base64::engine::general_purpose::STANDARD.decode(v) {
                    if kept_xattr(k) {
                        m.xattrs.insert(k.clone(), v);
                    }
                }
            }
        }
        if m.kind == Type::File && st.nlink() > 1 {
            let key = (st.dev(), st.ino());
            if let Some(first) = self.links.get(&key) {
                m.kind = Type::HardLink;
                m.size = 0;
                m.link = b"./".iter().chain(first).copied().collect();
            } else {
                self.links.insert(key, path.to_vec());
            }
        }
        Ok(Some(m))
    }

    /// The extended attributes of `abs` that go into the output.
    fn xattrs(&self, abs: &Path, kind: Type) -> Result<BTreeMap<String, Vec<u8>>, TarError> {
        let mut out = BTreeMap::new();
        if !matches!(kind, Type::File | Type::Dir | Type::Symlink) {
            return Ok(out);
        }
        let mut list = vec![0u8; 4096];
        let n = loop {
            match rustix::fs::llistxattr(abs, &mut list) {
                Ok(n) => break n,
                Err(rustix::io::Errno::RANGE) => list.resize(list.len() * 4, 0),
                Err(rustix::io::Errno::NOTSUP) => return Ok(out),
                Err(e) => return Err(Self::read_err(abs)(e.into())),
            }
        };
        for name in list[..n].split(|&b| b == 0).filter(|s| !s.is_empty()) {
            let Ok(name) = std::str::from_utf8(name) else {
                continue;
            };
            if !kept_xattr(name) {
                continue;
            }
            let mut value = vec![0u8; 256];
            let len = loop {
                match rustix::fs::lgetxattr(abs, name, &mut value) {
                    Ok(n) => break Some(n),
                    Err(rustix::io::Errno::RANGE) => value.resize(value.len() * 4, 0),
                    Err(rustix::io::Errno::NODATA) => break None,
                    Err(e) => return Err(Self::read_err(abs)(e.into())),
                }
            };
            if let Some(len) = len {
                value.truncate(len);
                if name == "security.capability" && matches!(self.ids, IdMap::Sub { .. }) {
                    value = capability_v2(value);
                }
                out.insert(name.to_owned(), value);
            }
        }
        Ok(out)
    }

    /// `/dev` as mmdebstrap writes it into a tarball.
    fn dev(&mut self) -> Result<(), TarError> {
        let base = Meta {
            kind: Type::Dir,
            mode: 0o755,
            uid: 0,
            gid: 0,
            mtime: self.epoch,
            size: 0,
            link: Vec::new(),
            device: (0, 0),
            xattrs: BTreeMap::new(),
        };
        self.emit(b"./dev/", &base, None)?;
        for (name, entry) in DEV {
            let mut m = base.clone();
            let mut path = format!("./dev/{name}").into_bytes();
            match entry {
                DevEntry::Char(major, minor) => {
                    m.kind = Type::Char;
                    m.mode = 0o666;
                    m.device = (*major, *minor);
                }
                DevEntry::Link(to) => {
                    m.kind = Type::Symlink;
                    m.mode = 0o777;
                    m.link = to.as_bytes().to_vec();
                }
                DevEntry::Dir => path.push(b'/'),
            }
            self.emit(&path, &m, None)?;
        }
        Ok(())
    }

    /// Write one entry: its PAX header when needed, its header, and the
    /// `size` bytes of `data`.
    fn emit(
        &mut self,
        name: &[u8],
        m: &Meta,
        data: Option<(&mut File, &Path)>,
    ) -> Result<(), TarError> {
        let mut pax: BTreeMap<String, Vec<u8>> = BTreeMap::new();
        for (k, v) in &m.xattrs {
            pax.insert(format!("SCHILY.xattr.{k}"), v.clone());
        }
        if name.len() > 100 {
            pax.insert("path".into(), name.to_vec());
        }
        if m.link.len() > 100 {
            pax.insert("linkpath".into(), m.link.clone());
        }
        if m.size > 0o777_7777_7777 {
            pax.insert("size".into(), m.size.to_string().into_bytes());
        }
        if m.uid > 0o777_7777 {
            pax.insert("uid".into(), m.uid.to_string().into_bytes());
        }
        if m.gid > 0o777_7777 {
            pax.insert("gid".into(), m.gid.to_string().into_bytes());
        }
        let uname = self.users.get(&m.uid).map_or(&[][..], |n| n.as_bytes());
        let gname = self.groups.get(&m.gid).map_or(&[][..], |n| n.as_bytes());
        if uname.len() > 32 {
            pax.insert("uname".into(), uname.to_vec());
        }
        if gname.len() > 32 {
            pax.insert("gname".into(), gname.to_vec());
        }
        if !pax.is_empty() {
            let mut records = Vec::new();
            for (k, v) in &pax {
                records.extend_from_slice(&pax_record(k, v));
            }
            let ph = Meta {
                kind: Type::File,
                mode: 0o644,
                uid: 0,
                gid: 0,
                mtime: m.mtime,
                size: records.len() as u64,
                link: Vec::new(),
                device: (0, 0),
                xattrs: BTreeMap::new(),
            };
            let header = header(&pax_name(name), &ph, b'x', b"", b"");
            self.out.put(&header)?;
            self.out.put(&records)?;
            self.out.pad()?;
        }
        let header = header(name, m, m.kind.flag(), uname, gname);
        self.out.put(&header)?;
        self.out.entries += 1;
        if let Some((file, path)) = data {
            let mut left = m.size;
            let mut buf = vec![0u8; 256 << 10];
            while left > 0 {
                let want = left.min(buf.len() as u64) as usize;
                let n = file.read(&mut buf[..want]).map_err(Self::read_err(path))?;
                if n == 0 {
                    return Err(TarError::Changed {
                        path: path.to_owned(),
                    });
                }
                self.out.put(&buf[..n])?;
                left -= n as u64;
            }
            self.out.pad()?;
        }
        Ok(())
    }
}

fn ownership_dir() -> &'static [u8] {
    Path::new(ownership::FILE)
        .parent()
        .expect("a parent")
        .as_os_str()
        .as_bytes()
}

/// Whether the directory holds nothing but the ownership file.
fn only_ownership(dir: &Path) -> bool {
    let file = Path::new(ownership::FILE).file_name().expect("a name");
    std::fs::read_dir(dir).is_ok_and(|entries| entries.flatten().all(|e| e.file_name() == file))
}

fn kept_xattr(name: &str) -> bool {
    !name.starts_with("system.") && name != "security.selinux"
}

/// A file capability as a root build has it: version 3 (set inside a user
/// namespace, naming its root) becomes version 2.
fn capability_v2(mut value: Vec<u8>) -> Vec<u8> {
    const REVISION_MASK: u32 = 0xff00_0000;
    const V3: u32 = 0x0300_0000;
    const V2: u32 = 0x0200_0000;
    if value.len() == 24 {
        let magic = u32::from_le_bytes(value[..4].try_into().expect("4 bytes"));
        if magic & REVISION_MASK == V3 {
            let magic = (magic & !REVISION_MASK) | V2;
            value[..4].copy_from_slice(&magic.to_le_bytes());
            value.truncate(20);
        }
    }
    value
}

/// A whiteout entry named `name` (`./DIR/.wh.NAME`, see
/// [`super::layers`]): an empty regular file, root's, mode 0644, with
/// the time `mtime`, written as [`write`] writes entries.
pub(crate) fn whiteout(name: &[u8], mtime: u64) -> Vec<u8> {
    let m = Meta {
        kind: Type::File,
        mode: 0o644,
        uid: 0,
        gid: 0,
        mtime,
        size: 0,
        link: Vec::new(),
        device: (0, 0),
        xattrs: BTreeMap::new(),
    };
    let mut out = Vec::new();
    if name.len() > 100 {
        let records = pax_record("path", name);
        let ph = Meta {
            size: records.len() as u64,
            ..m.clone()
        };
        out.extend_from_slice(&header(&pax_name(name), &ph, b'x', b"", b""));
        out.extend_from_slice(&records);
        out.resize(out.len().div_ceil(512) * 512, 0);
    }
    out.extend_from_slice(&header(name, &m, Type::File.flag(), b"root", b"root"));
    out
}

/// The end of a stream of `written` bytes: two zero blocks, padded to a
/// multiple of 10240 bytes (tar's default blocking factor).
pub(crate) fn trailer(written: u64) -> Vec<u8> {
    let end = (written + 1024).div_ceil(10240) * 10240;
    vec![0u8; (end - written) as usize]
}

/// `DIR/PaxHeaders/NAME` for the entry `name` (GNU tar's
/// `%d/PaxHeaders/%f`), at most 100 bytes.
fn pax_name(name: &[u8]) -> Vec<u8> {
    let trimmed = name.strip_suffix(b"/").unwrap_or(name);
    let (dir, base) = match trimmed.iter().rposition(|&b| b == b'/') {
        Some(i) => (&trimmed[..i], &trimmed[i + 1..]),
        None => (&b"."[..], trimmed),
    };
    let mut out = dir.to_vec();
    out.extend_from_slice(b"/PaxHeaders/");
    out.extend_from_slice(base);
    out.truncate(100);
    out
}

/// One PAX record: `LEN KEY=VALUE\n`, LEN counting itself.
fn pax_record(key: &str, value: &[u8]) -> Vec<u8> {
    let rest = key.len() + value.len() + 3;
    let mut len = rest + 1;
    while len != rest + len.to_string().len() {
        len = rest + len.to_string().len();
    }
    let mut out = format!("{len} {key}=").into_bytes();
    out.extend_from_slice(value);
    out.push(b'\n');
    out
}

/// A ustar header block.
fn header(name: &[u8], m: &Meta, flag: u8, uname: &[u8], gname: &[u8]) -> [u8; 512] {
    let mut h = [0u8; 512];
    fn put(h: &mut [u8; 512], at: usize, len: usize, value: &[u8]) {
        let n = value.len().min(len);
        h[at..at + n].copy_from_slice(&value[..n]);
    }
    fn octal(h: &mut [u8; 512], at: usize, len: usize, value: u64) {
        // Digits, then a NUL; a value too large (given in a PAX record) as 0.
        let digits = len - 1;
        let text = format!("{value:0digits$o}");
        let text = if text.len() > digits {
            "0".repeat(digits)
        } else {
            text
        };
        put(h, at, digits, text.as_bytes());
    }
    put(&mut h, 0, 100, name);
    octal(&mut h, 100, 8, u64::from(m.mode));
    octal(&mut h, 108, 8, u64::from(m.uid));
    octal(&mut h, 116, 8, u64::from(m.gid));
    octal(&mut h, 124, 12, m.size);
    octal(&mut h, 136, 12, m.mtime);
    h[156] = flag;
    put(&mut h, 157, 100, &m.link);
    put(&mut h, 257, 6, b"ustar\0");
    put(&mut h, 263, 2, b"00");
    put(&mut h, 265, 32, uname);
    put(&mut h, 297, 32, gname);
    octal(&mut h, 329, 8, u64::from(m.device.0));
    octal(&mut h, 337, 8, u64::from(m.device.1));
    h[148..156].fill(b' ');
    let sum: u32 = h.iter().map(|&b| u32::from(b)).sum();
    put(&mut h, 148, 8, format!("{sum:06o}\0 ").as_bytes());
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pax_records_count_their_own_length() {
        assert_eq!(pax_record("path", b"x"), b"9 path=x\n");
        assert_eq!(pax_record("path", &[b'a'; 90]).len(), 99);
        assert_eq!(pax_record("path", &[b'a'; 91]).len(), 101);
        let long = vec![b'a'; 95];
        let r = pax_record("path", &long);
        let len: usize = std::str::from_utf8(&r[..r.iter().position(|&b| b == b' ').unwrap()])
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(len, r.len());
        assert_eq!(pax_name(b"./usr/bin/ping"), b"./usr/bin/PaxHeaders/ping");
        assert_eq!(pax_name(b"./etc/"), b"./PaxHeaders/etc");
    }

    #[test]
    fn capabilities_of_a_namespace_become_version_2() {
        let mut v3 = 0x0300_0001u32.to_le_bytes().to_vec();
        v3.extend_from_slice(&[1; 16]);
        v3.extend_from_slice(&100000u32.to_le_bytes());
        let v2 = capability_v2(v3);
        assert_eq!(v2.len(), 20);
        assert_eq!(&v2[..4], &0x0200_0001u32.to_le_bytes());
        assert_eq!(&v2[4..], &[1; 16]);
    }
}
