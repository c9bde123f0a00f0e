//! A streaming reader of ar archives in the common format used by .deb:
//! the magic `!<arch>\n`, then per member a 60-byte header
//! (name 16, mtime 12, uid 6, gid 6, mode 8, size 10, `` `\n ``) and the
//! data, padded to an even length.

use std::io::{self, Read};

const MAGIC: &[u8; 8] = b"!<arch>\n";

/// A member header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub name: String,
    pub size: u64,
}

/// Reads members in order; the reader itself reads the current member.
pub struct ArReader<R> {
    inner: R,
    remaining: u64,
    pad: bool,
    started: bool,
}

fn invalid(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg)
}

impl<R: Read> ArReader<R> {
    pub fn new(inner: R) -> Self {
        ArReader {
            inner,
            remaining: 0,
            pad: false,
            started: false,
        }
    }

    /// Skip what is left of the current member and read the next header;
    /// `None` at the end of the archive.
    pub fn next_member(&mut self) -> io::Result<Option<Member>> {
        if !self.started {
            let mut magic = [0u8; 8];
            self.inner.read_exact(&mut magic).map_err(|e| {
                if e.kind() == io::ErrorKind::UnexpectedEof {
                    invalid("file too short for an ar archive".into())
                } else {
                    e
                }
            })?;
            if &magic != MAGIC {
                return Err(invalid("no '!<arch>' magic at the start".into()));
            }
            self.started = true;
        }
        let skip = self.remaining + u64::from(self.pad);
        io::copy(&mut (&mut self.inner).take(skip), &mut io::sink())?;
        self.remaining = 0;
        self.pad = false;
        let mut header = [0u8; 60];
        let mut got = 0;
        while got < header.len() {
            match self.inner.read(&mut header[got..]) {
                Ok(0) if got == 0 => return Ok(None),
                Ok(0) => return Err(invalid("truncated member header".into())),
                Ok(n) => got += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        if &header[58..60] != b"`\n" {
            return Err(invalid("corrupt member header (bad terminator)".into()));
        }
        let name = String::from_utf8_lossy(&header[..16])
            .trim_end_matches(' ')
            .trim_end_matches('/')
            .to_owned();
        let size_text = std::str::from_utf8(&header[48..58])
            .map(str::trim)
            .unwrap_or("");
        let size: u64 = size_text
            .parse()
            .map_err(|_| invalid(format!("member {name:?}: bad size field {size_text:?}")))?;
        self.remaining = size;
        self.pad = size % 2 == 1;
        Ok(Some(Member { name, size }))
    }
}

impl<R: Read> Read for ArReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.remaining == 0 || buf.is_empty() {
            return Ok(0);
        }
        let max = buf
            .len()
            .min(self.remaining.min(usize::MAX as u64) as usize);
        let n = self.inner.read(&mut buf[..max])?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "archive ends inside a member",
            ));
        }
        self.remaining -= n as u64;
        Ok(n)
    }
}
