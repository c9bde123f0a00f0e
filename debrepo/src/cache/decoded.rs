//! Packages' data archives, decoded once.
//!
//! Most of a warm build's unpacking time is spent decompressing the
//! `data.tar.xz` members of the same .debs again. The first build that
//! unpacks a package keeps its decompressed tar stream here, recompressed
//! with zstd at a fast level (about ten times faster to decode than xz);
//! later builds unpack from it.
//!
//! Layout, under the cache's versioned root: `decoded/<first two hex
//! digits>/<hex SHA-256 of the .deb>`, one zstd frame holding the whole
//! decompressed data member, then 32 bytes: the SHA-256 of the frame.
//!
//! - The key is the .deb's own SHA-256, which the build has checked against
//!   the lock before it gets here, so an entry is the decoding of exactly
//!   the locked package.
//! - An entry is proven intact before it is used: its frame is hashed and
//!   compared with its trailer (a truncated or damaged entry is removed and
//!   the .deb is decoded again). The trailer guards against damage, not
//!   against someone who may write the cache directory, who could change
//!   the .debs' entries just as well and is trusted as the user is.
//! - Entries are written like the cache's other files (a locked `.part`
//!   file renamed into place), but not synced: a damaged one fails its
//!   check and is made again.
//! - Each use sets the entry's modification time, so that
//!   [`Cache::gc`](super::Cache::gc) removes the least recently used first.

use std::fs::File;
use std::io::{self, Read, Seek, Write};
use std::path::PathBuf;

use sha2::{Digest as _, Sha256 as Hasher};

use super::{io_err, Cache, CacheError, CacheWriter};
use crate::hash::Sha256;

/// The zstd level of entries: one of zstd's fast levels, as compressing
/// is on a cold build's path. Against level 1, on the developer set's
/// data (420 MB of tar): compressing 1.5x and decoding 1.4x faster, for
/// entries a quarter larger (a cold unpack 4.7 s -> 4.35 s, a warm one
/// 0.1 s less CPU).
const LEVEL: i32 = -3;
/// The trailer: the SHA-256 of the frame before it.
const TRAILER: u64 = 32;

/// The directory of decoded entries.
pub(super) const DIR: &str = "decoded";

impl Cache {
    /// Where the decoded data member of the .deb with this digest lives.
    pub fn decoded_path(&self, deb: &Sha256) -> PathBuf {
        self.derived_path(DIR, deb)
    }

    /// The decoded data member of the .deb with this digest, checked
    /// intact, as a stream of the tar archive; `None` when there is none
    /// (or it was damaged, and has been removed).
    pub fn open_decoded(
        &self,
        deb: &Sha256,
    ) -> Result<Option<Box<dyn Read + Send + 'static>>, CacheError> {
        let path = self.decoded_path(deb);
        let mut file = match File::open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io_err("cannot open", &path)(e)),
        };
        let len = file.metadata().map_err(io_err("cannot stat", &path))?.len();
        let Some(frame) = len.checked_sub(TRAILER) else {
            self.discard(&path);
            return Ok(None);
        };
        let mut hasher = Hasher::new();
        io::copy(&mut (&mut file).take(frame), &mut hasher)
            .map_err(io_err("cannot read", &path))?;
        let mut trailer = [0u8; TRAILER as usize];
        file.read_exact(&mut trailer)
            .map_err(io_err("cannot read", &path))?;
        if hasher.finalize().as_slice() != trailer {
            self.discard(&path);
            return Ok(None);
        }
        file.rewind().map_err(io_err("cannot read", &path))?;
        // Most recently used: what gc keeps longest.
        super::touch(&path);
        let decoder = zstd::stream::read::Decoder::new(file.take(frame))
            .map_err(io_err("cannot read", &path))?;
        Ok(Some(Box::new(decoder)))
    }

    /// Start keeping a decoded data member.
    pub fn decoded_writer(&self) -> Result<DecodedWriter, CacheError> {
        let part = self.writer()?;
        let path = part.path.clone();
        let encoder = zstd::stream::write::Encoder::new(part, LEVEL)
            .map_err(io_err("cannot write", &path))?;
        Ok(DecodedWriter {
            encoder: Some(encoder),
        })
    }
}

/// A decoded data member being kept. Writing never fails: a write error
/// (a full disk) only means nothing is kept, and the build goes on.
/// Dropped without [`DecodedWriter::commit`], it leaves nothing behind.
pub struct DecodedWriter {
    encoder: Option<zstd::stream::write::Encoder<'static, CacheWriter>>,
}

impl DecodedWriter {
    /// Add the next bytes of the decompressed member.
    pub fn feed(&mut self, data: &[u8]) {
        if let Some(e) = &mut self.encoder {
            if e.write_all(data).is_err() {
                self.encoder = None;
            }
        }
    }

    /// Keep what was fed as the decoded data member of the .deb with this
    /// digest; false when a write failed earlier and nothing is kept.
    pub fn commit(mut self, deb: &Sha256) -> Result<bool, CacheError> {
        let Some(encoder) = self.encoder.take() else {
            return Ok(false);
        };
        let path = encoder.get_ref().path.clone();
        let mut part = encoder.finish().map_err(io_err("cannot write", &path))?;
        let trailer = part.digest();
        part.write_all(trailer.as_bytes())
            .map_err(io_err("cannot write", &path))?;
        let dest = part.cache.decoded_path(deb);
        part.persist(&dest)?;
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, SystemTime};

    fn tmp(tag: &str) -> PathBuf {
        let p = std::env::temp_dir().join(format!("debrepo-decoded-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        p
    }

    fn keep(c: &Cache, deb: &Sha256, data: &[u8]) {
        let mut w = c.decoded_writer().unwrap();
        for chunk in data.chunks(1000) {
            w.feed(chunk);
        }
        assert!(w.commit(deb).unwrap());
    }

    fn read(c: &Cache, deb: &Sha256) -> Option<Vec<u8>> {
        c.open_decoded(deb).unwrap().map(|mut r| {
            let mut v = Vec::new();
            r.read_to_end(&mut v).unwrap();
            v
        })
    }

    #[test]
    fn kept_once_read_back_and_damage_is_caught() {
        let root = tmp("roundtrip");
        let c = Cache::open(&root).unwrap();
        let deb = crate::hash::sha256(b"a .deb");
        let data: Vec<u8> = (0..100_000u32)
            .flat_map(|i| (i % 251).to_le_bytes())
            .collect();
        assert_eq!(read(&c, &deb), None);
        keep(&c, &deb, &data);
        let hex = deb.to_string();
        let path = root.join("v1/decoded").join(&hex[..2]).join(&hex);
        assert_eq!(c.decoded_path(&deb), path);
        assert_eq!(read(&c, &deb).as_deref(), Some(&data[..]));
        // Compressed, with a 32-byte trailer; nothing left in tmp.
        let len = std::fs::metadata(&path).unwrap().len();
        assert!(len < data.len() as u64 / 4, "{len}");
        assert!(std::fs::read_dir(root.join("v1/tmp"))
            .unwrap()
            .next()
            .is_none());
        // One flipped byte, or a cut: the entry is removed, not used.
        let mut bytes = std::fs::read(&path).unwrap();
        bytes[10] ^= 1;
        std::fs::write(&path, &bytes).unwrap();
        assert_eq!(read(&c, &deb), None);
        assert!(!path.exists());
        keep(&c, &deb, &data);
        let bytes = std::fs::read(&path).unwrap();
        std::fs::write(&path, &bytes[..bytes.len() - 1]).unwrap();
        assert_eq!(read(&c, &deb), None);
        std::fs::write(&path, b"short").unwrap();
        assert_eq!(read(&c, &deb), None);
        // A writer dropped without commit leaves nothing.
        let mut w = c.decoded_writer().unwrap();
        w.feed(b"partial");
        drop(w);
        assert!(std::fs::read_dir(root.join("v1/tmp"))
            .unwrap()
            .next()
            .is_none());
        assert!(!path.exists());
        let _ = std::fs::remove_dir_all(&root);
    }

    #[test]
    fn gc_removes_orphans_then_the_least_recently_used() {
        let root = tmp("gc");
        let c = Cache::open(&root).unwrap();
        let mut debs = Vec::new();
        for i in 0..4u8 {
            let bytes = vec![i; 100];
            let h = crate::hash::sha256(&bytes);
            c.insert(&bytes, &h, None).unwrap();
            // Incompressible, so that sizes are predictable.
            let data: Vec<u8> = (0..20_000u32)
                .map(|n| (n.wrapping_mul(2_654_435_761).rotate_left(u32::from(i)) >> 13) as u8)
                .collect();
            keep(&c, &h, &data);
            debs.push(h);
        }
        // Last used: 0 long ago, 1 less, 2 and 3 now.
        let set = |h: &Sha256, ago: u64| {
            let f = std::fs::File::options()
                .write(true)
                .open(c.decoded_path(h))
                .unwrap();
            f.set_modified(SystemTime::now() - Duration::from_secs(ago))
                .unwrap();
        };
        set(&debs[0], 3000);
        set(&debs[1], 2000);
        // .deb 3 is gone: its decoded entry is an orphan.
        std::fs::remove_file(c.path(&debs[3])).unwrap();
        let one = std::fs::metadata(c.decoded_path(&debs[1])).unwrap().len();
        let r = c.gc(None, 2 * one + one / 2).unwrap();
        assert_eq!(r.removed, 2, "{r:?}");
        assert!(!c.decoded_path(&debs[3]).exists());
        assert!(!c.decoded_path(&debs[0]).exists());
        assert!(c.decoded_path(&debs[1]).exists() && c.decoded_path(&debs[2]).exists());
        // By age: the .debs too.
        let r = c.gc(Some(Duration::from_secs(1000)), u64::MAX).unwrap();
        assert_eq!(r.removed, 1, "{r:?}");
        assert!(!c.decoded_path(&debs[1]).exists());
        // A read is a use: it refreshes the time.
        set(&debs[2], 5000);
        assert!(read(&c, &debs[2]).is_some());
        c.gc(Some(Duration::from_secs(1000)), u64::MAX).unwrap();
        assert!(c.decoded_path(&debs[2]).exists());
        // clean: the decoded data only, then everything.
        let r = c.clean(true).unwrap();
        assert_eq!(r.removed, 1);
        assert!(c.contains(&debs[0], None).unwrap());
        let r = c.clean(false).unwrap();
        assert_eq!(r.removed, 3);
        assert!(!c.contains(&debs[0], None).unwrap());
        let _ = std::fs::remove_dir_all(&root);
    }
}
