//! A strict, streaming reader of the tar archives inside a .deb.
//!
//! It decodes headers as dpkg's `lib/dpkg/tarfn.c` does and refuses what
//! dpkg refuses, with dpkg's wording: bad checksums and numeric fields,
//! empty names, GNU long names beyond a bound, GNU volume/multivolume/
//! sparse/dumpdir and Solaris headers, PAX global headers, unknown types.
//! It is stricter than dpkg where dpkg's leniency would let two readers
//! see different archives: an entry's data and padding must be complete,
//! the archive must end with its end-of-archive block (dpkg also takes an
//! archive cut at a block boundary, which cannot then be told from a
//! complete one), and only regular files may carry data.
//!
//! Beyond dpkg it accepts PAX extended headers (`x`): dpkg-deb never writes
//! them, but other tools building packages do, for long names and for
//! extended attributes such as file capabilities
//! (`SCHILY.xattr.security.capability`), which dpkg would refuse outright.
//! Their `path`, `linkpath`, `size`, `uid`, `gid`, `uname`, `gname`,
//! `mtime` and `SCHILY.xattr.*` records are honoured (as GNU tar honours
//! them, so that both read the same archive); others are ignored.

use std::io::{self, Read};

const BLOCK: usize = 512;
/// GNU long names and link targets: `PATH_MAX`, far above any real path
/// (dpkg reads any size into memory; we bound it).
pub(crate) const MAX_LONG_NAME: u64 = 4096;
/// A PAX extended header: a few names and attributes, never near this.
pub(crate) const MAX_PAX: u64 = 1 << 20;

/// A malformed tar stream.
#[derive(Debug, thiserror::Error)]
pub enum TarError {
    #[error("reading the tar stream")]
    Io(#[source] io::Error),
    #[error("partially read tar header")]
    PartialHeader,
    #[error("the tar archive ends without its end-of-archive block (truncated)")]
    NoEnd,
    #[error("'{path}': the archive ends inside its data ({missing} bytes missing)")]
    TruncatedData { path: String, missing: u64 },
    #[error("cannot skip padding for file '{path}': unexpected end of file")]
    TruncatedPadding { path: String },
    #[error("invalid tar header {field} field")]
    Field { field: &'static str },
    #[error("invalid tar header checksum")]
    Checksum,
    #[error("invalid tar header with empty name field")]
    EmptyName,
    #[error("tar entry long name or link is too big ({size} bytes, at most {max})")]
    LongName { size: u64, max: u64 },
    #[error("PAX extended header too big ({size} bytes, at most {max})")]
    PaxTooBig { size: u64, max: u64 },
    #[error("invalid PAX extended header record")]
    PaxRecord,
    #[error("unsupported {family} tar header type '{kind}'")]
    Unsupported { family: &'static str, kind: char },
    #[error("unknown tar header type '{kind}'")]
    Unknown { kind: char },
    #[error("'{path}': a tar entry of type '{kind}' with data ({size} bytes)")]
    DataOnNonFile { path: String, kind: char, size: u64 },
    #[error("an extended header is not followed by an entry")]
    DanglingExtension,
}

impl TarError {
    /// As an `io::Error`, for readers; [`TarError::from_io`] takes it back.
    pub(crate) fn into_io(self) -> io::Error {
        let kind = match self {
            TarError::Io(e) => return e,
            TarError::TruncatedData { .. } | TarError::TruncatedPadding { .. } => {
                io::ErrorKind::UnexpectedEof
            }
            _ => io::ErrorKind::InvalidData,
        };
        io::Error::new(kind, self)
    }

    /// The error an entry's reader returned: ours, or an I/O error.
    pub(crate) fn from_io(e: io::Error) -> TarError {
        if e.get_ref().is_some_and(|i| i.is::<TarError>()) {
            match e.into_inner().map(|i| i.downcast::<TarError>()) {
                Some(Ok(t)) => *t,
                _ => unreachable!("checked above"),
            }
        } else {
            TarError::Io(e)
        }
    }
}

/// A tar entry type, as far as a package may use it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RawKind {
    File,
    HardLink,
    Symlink,
    CharDevice,
    BlockDevice,
    Directory,
    Fifo,
}

/// One entry's header, long names and PAX records applied.
#[derive(Debug, Clone)]
pub(crate) struct RawEntry {
    pub kind: RawKind,
    pub name: Vec<u8>,
    pub link: Vec<u8>,
    pub mode: u32,
    pub uid: u64,
    pub gid: u64,
    pub uname: Option<String>,
    pub gname: Option<String>,
    pub mtime: u64,
    pub size: u64,
    pub device: (u32, u32),
    pub xattrs: Vec<(String, Vec<u8>)>,
}

/// Reads entries in order; [`TarReader::read_data`] reads the current
/// entry's data.
pub(crate) struct TarReader<R> {
    inner: R,
    remaining: u64,
    padding: u64,
    current: String,
    ended: bool,
}

#[derive(Default)]
struct Pax {
    path: Option<Vec<u8>>,
    linkpath: Option<Vec<u8>>,
    size: Option<u64>,
    uid: Option<u64>,
    gid: Option<u64>,
    uname: Option<String>,
    gname: Option<String>,
    mtime: Option<u64>,
    xattrs: Vec<(String, Vec<u8>)>,
}

/// A numeric header field: octal as dpkg's `tar_atol8` reads it (leading
/// spaces, digits, then only NULs or spaces), or GNU base-256.
fn number(field: &[u8], name: &'static str) -> Result<u64, TarError> {
    let bad = || TarError::Field { field: name };
    if field.first().is_some_and(|b| b & 0x80 != 0) {
        // Base-256, positive only (0x80 marker); negative is 0xff.
        if field[0] != 0x80 {
            return Err(bad());
        }
        let mut n: u64 = 0;
        for &b in &field[1..] {
            n = n.checked_mul(256).ok_or_else(bad)? | u64::from(b);
        }
        return Ok(n);
    }
    let mut i = 0;
    while i < field.len() && field[i] == b' ' {
        i += 1;
    }
    if i == field.len() {
        return Err(bad());
    }
    let mut n: u64 = 0;
    while i < field.len() && field[i] != 0 && field[i] != b' ' {
        let d = field[i];
        if !(b'0'..=b'7').contains(&d) {
            return Err(bad());
        }
        n = n
            .checked_mul(8)
            .and_then(|n| n.checked_add(u64::from(d - b'0')))
            .ok_or_else(bad)?;
        i += 1;
    }
    if field[i..].iter().any(|&b| b != 0 && b != b' ') {
        return Err(bad());
    }
    Ok(n)
}

/// Bytes up to the first NUL.
fn cstr(field: &[u8]) -> &[u8] {
    let end = field.iter().position(|&b| b == 0).unwrap_or(field.len());
    &field[..end]
}

fn text(field: &[u8]) -> Option<String> {
    let s = cstr(field);
    (!s.is_empty()).then(|| String::from_utf8_lossy(s).into_owned())
}

fn checksum_ok(h: &[u8; BLOCK]) -> Result<bool, TarError> {
    let want = number(&h[148..156], "checksum")?;
    let sum: u64 = h
        .iter()
        .enumerate()
        .map(|(i, &b)| {
            if (148..156).contains(&i) {
                32
            } else {
                u64::from(b)
            }
        })
        .sum();
    Ok(sum == want)
}

impl<R: Read> TarReader<R> {
    pub(crate) fn new(inner: R) -> Self {
        TarReader {
            inner,
            remaining: 0,
            padding: 0,
            current: String::new(),
            ended: false,
        }
    }

    /// Read a whole block; `None` at a clean end of the stream.
    fn block(&mut self) -> Result<Option<[u8; BLOCK]>, TarError> {
        let mut b = [0u8; BLOCK];
        let mut got = 0;
        while got < BLOCK {
            match self.inner.read(&mut b[got..]) {
                Ok(0) if got == 0 => return Ok(None),
                Ok(0) => return Err(TarError::PartialHeader),
                Ok(n) => got += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(TarError::Io(e)),
            }
        }
        Ok(Some(b))
    }

    /// The data of an extension header (long name, PAX), at most `max`.
    fn extension(&mut self, size: u64) -> Result<Vec<u8>, TarError> {
        let mut data = Vec::with_capacity(size as usize);
        let mut left = size;
        while left > 0 {
            let b = self.block()?.ok_or(TarError::PartialHeader)?;
            let take = left.min(BLOCK as u64) as usize;
            data.extend_from_slice(&b[..take]);
            left -= take as u64;
        }
        Ok(data)
    }

    /// Read the stream to its end (what follows the archive's end blocks
    /// too), discarding it.
    pub(crate) fn drain(&mut self) -> io::Result<u64> {
        io::copy(&mut self.inner, &mut io::sink())
    }

    /// Read what is left of the current entry's data (discarded) and its
    /// padding; an error if the stream ends first. The entry is complete
    /// once this returns.
    pub(crate) fn finish_entry(&mut self) -> Result<(), TarError> {
        let mut buf = [0u8; 8192];
        while self.remaining > 0 {
            let n = self.read_data(&mut buf)?;
            debug_assert!(n > 0);
        }
        while self.padding > 0 {
            let want = self.padding.min(buf.len() as u64) as usize;
            match self.inner.read(&mut buf[..want]) {
                Ok(0) => {
                    return Err(TarError::TruncatedPadding {
                        path: self.current.clone(),
                    })
                }
                Ok(n) => self.padding -= n as u64,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(TarError::Io(e)),
            }
        }
        Ok(())
    }

    /// Read the current entry's data; 0 at its end, an error if the stream
    /// ends before.
    pub(crate) fn read_data(&mut self, buf: &mut [u8]) -> Result<usize, TarError> {
        if self.remaining == 0 || buf.is_empty() {
            return Ok(0);
        }
        let max = buf
            .len()
            .min(self.remaining.min(usize::MAX as u64) as usize);
        loop {
            match self.inner.read(&mut buf[..max]) {
                Ok(0) => {
                    return Err(TarError::TruncatedData {
                        path: self.current.clone(),
                        missing: self.remaining,
                    })
                }
                Ok(n) => {
                    self.remaining -= n as u64;
                    return Ok(n);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(TarError::Io(e)),
            }
        }
    }

    /// The next entry, after finishing the current one; `None` after the
    /// end-of-archive block, once the rest of the stream has been read (so
    /// that a compressed stream's own integrity check runs, as dpkg reads
    /// its pipe to the end).
    pub(crate) fn next_entry(&mut self) -> Result<Option<RawEntry>, TarError> {
        if self.ended {
            return Ok(None);
        }
        self.finish_entry()?;
        let mut long_name: Option<Vec<u8>> = None;
        let mut long_link: Option<Vec<u8>> = None;
        let mut pax: Option<Pax> = None;
        loop {
            let h = self.block()?.ok_or(TarError::NoEnd)?;
            if h.iter().all(|&b| b == 0) {
                if long_name.is_some() || long_link.is_some() || pax.is_some() {
                    return Err(TarError::DanglingExtension);
                }
                self.ended = true;
                io::copy(&mut self.inner, &mut io::sink()).map_err(TarError::Io)?;
                return Ok(None);
            }
            if !checksum_ok(&h)? {
                return Err(TarError::Checksum);
            }
            let ustar = &h[257..263] == b"ustar\0";
            let mut name = cstr(&h[..100]).to_vec();
            if ustar && h[345] != 0 {
                let mut full = cstr(&h[345..500]).to_vec();
                full.push(b'/');
                full.extend_from_slice(&name);
                name = full;
            }
            let typeflag = h[156];
            let size = number(&h[124..136], "size")?;
            match typeflag {
                b'L' | b'K' => {
                    if size > MAX_LONG_NAME {
                        return Err(TarError::LongName {
                            size,
                            max: MAX_LONG_NAME,
                        });
                    }
                    let data = cstr(&self.extension(size)?).to_vec();
                    if typeflag == b'L' {
                        long_name = Some(data);
                    } else {
                        long_link = Some(data);
                    }
                    continue;
                }
                b'x' => {
                    if size > MAX_PAX {
                        return Err(TarError::PaxTooBig { size, max: MAX_PAX });
                    }
                    let data = self.extension(size)?;
                    pax = Some(parse_pax(&data)?);
                    continue;
                }
                _ => {}
            }
            let mut e = RawEntry {
                kind: RawKind::File,
                name: long_name.take().unwrap_or(name),
                link: long_link
                    .take()
                    .unwrap_or_else(|| cstr(&h[157..257]).to_vec()),
                mode: (number(&h[100..108], "mode")? & 0o7777) as u32,
                uid: number(&h[108..116], "uid")?,
                gid: number(&h[116..124], "gid")?,
                uname: text(&h[265..297]),
                gname: text(&h[297..329]),
                mtime: number(&h[136..148], "mtime")?,
                size,
                device: (0, 0),
                xattrs: Vec::new(),
            };
            if let Some(p) = pax.take() {
                e.name = p.path.unwrap_or(e.name);
                e.link = p.linkpath.unwrap_or(e.link);
                e.size = p.size.unwrap_or(e.size);
                e.uid = p.uid.unwrap_or(e.uid);
                e.gid = p.gid.unwrap_or(e.gid);
                e.uname = p.uname.or(e.uname);
                e.gname = p.gname.or(e.gname);
                e.mtime = p.mtime.unwrap_or(e.mtime);
                e.xattrs = p.xattrs;
            }
            if e.name.is_empty() {
                return Err(TarError::EmptyName);
            }
            e.kind = match typeflag {
                // Pre-ANSI ustar: a "file" named with a trailing slash.
                b'0' | 0 if e.name.ends_with(b"/") => RawKind::Directory,
                b'0' | 0 => RawKind::File,
                b'1' => RawKind::HardLink,
                b'2' => RawKind::Symlink,
                b'3' => RawKind::CharDevice,
                b'4' => RawKind::BlockDevice,
                b'5' => RawKind::Directory,
                b'6' => RawKind::Fifo,
                b'V' | b'M' | b'S' | b'D' => {
                    return Err(TarError::Unsupported {
                        family: "GNU",
                        kind: typeflag as char,
                    })
                }
                b'X' | b'A' => {
                    return Err(TarError::Unsupported {
                        family: "Solaris",
                        kind: typeflag as char,
                    })
                }
                b'g' => {
                    return Err(TarError::Unsupported {
                        family: "PAX",
                        kind: 'g',
                    })
                }
                other => {
                    return Err(TarError::Unknown {
                        kind: other as char,
                    })
                }
            };
            self.current = String::from_utf8_lossy(&e.name).into_owned();
            if e.kind != RawKind::File && e.size != 0 {
                // dpkg reads data only for files; a reader that skips it
                // elsewhere would see other entries than dpkg does.
                return Err(TarError::DataOnNonFile {
                    path: self.current.clone(),
                    kind: typeflag as char,
                    size: e.size,
                });
            }
            if matches!(e.kind, RawKind::CharDevice | RawKind::BlockDevice) {
                let major = number(&h[329..337], "devmajor")?;
                let minor = number(&h[337..345], "devminor")?;
                let (Ok(major), Ok(minor)) = (u32::try_from(major), u32::try_from(minor)) else {
                    return Err(TarError::Field { field: "devmajor" });
                };
                e.device = (major, minor);
            }
            self.remaining = e.size;
            self.padding = (BLOCK as u64 - e.size % BLOCK as u64) % BLOCK as u64;
            return Ok(Some(e));
        }
    }
}

/// PAX records: `<length> <key>=<value>\n`, the length counting the whole
/// record.
fn parse_pax(mut data: &[u8]) -> Result<Pax, TarError> {
    let mut pax = Pax::default();
    while !data.is_empty() {
        let space = data
            .iter()
            .position(|&b| b == b' ')
            .ok_or(TarError::PaxRecord)?;
        let len: usize = std::str::from_utf8(&data[..space])
            .ok()
            .and_then(|s| s.parse().ok())
            .ok_or(TarError::PaxRecord)?;
        if len <= space + 1 || len > data.len() || data[len - 1] != b'\n' {
            return Err(TarError::PaxRecord);
        }
        let record = &data[space + 1..len - 1];
        data = &data[len..];
        let eq = record
            .iter()
            .position(|&b| b == b'=')
            .ok_or(TarError::PaxRecord)?;
        let key = std::str::from_utf8(&record[..eq]).map_err(|_| TarError::PaxRecord)?;
        let value = &record[eq + 1..];
        let num = || -> Result<u64, TarError> {
            std::str::from_utf8(value)
                .ok()
                .and_then(|v| v.split('.').next())
                .and_then(|v| v.parse().ok())
                .ok_or(TarError::PaxRecord)
        };
        let string = || String::from_utf8_lossy(value).into_owned();
        match key {
            "path" => pax.path = Some(value.to_vec()),
            "linkpath" => pax.linkpath = Some(value.to_vec()),
            "size" => pax.size = Some(num()?),
            "uid" => pax.uid = Some(num()?),
            "gid" => pax.gid = Some(num()?),
            "mtime" => pax.mtime = Some(num()?),
            "uname" => pax.uname = Some(string()),
            "gname" => pax.gname = Some(string()),
            k => {
                if let Some(name) = k.strip_prefix("SCHILY.xattr.") {
                    pax.xattrs.push((name.to_owned(), value.to_vec()));
                }
            }
        }
    }
    Ok(pax)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_as_dpkg_reads_them() {
        assert_eq!(number(b"0000644\0", "mode").unwrap(), 0o644);
        assert_eq!(number(b"  644 \0\0", "mode").unwrap(), 0o644);
        assert_eq!(number(b"\0\0\0\0", "mode").unwrap(), 0);
        assert!(number(b"    ", "mode").is_err());
        assert!(number(b"0008", "mode").is_err());
        assert!(number(b"07 7", "mode").is_err());
        assert_eq!(number(&[0x80, 0, 1, 0], "size").unwrap(), 256);
        assert!(number(&[0xff, 0xff], "size").is_err());
    }

    #[test]
    fn pax_records() {
        let p = parse_pax(b"16 path=a/b/c/d\n20 SCHILY.xattr.k=v\n").unwrap();
        assert_eq!(p.path.as_deref(), Some(&b"a/b/c/d"[..]));
        assert_eq!(p.xattrs, vec![("k".to_owned(), b"v".to_vec())]);
        assert!(parse_pax(b"99 path=x\n").is_err());
        assert!(parse_pax(b"x path=x\n").is_err());
    }
}
