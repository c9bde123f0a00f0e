//! A content-addressed file cache shared by processes.
//!
//! Layout (versioned, so a future change never misreads an old cache):
//! `<root>/v1/sha256/<first two hex digits>/<hex digest>` holds a file whose
//! SHA-256 is its name; `<root>/v1/tmp/` holds files being written.
//!
//! - Writes are atomic: data goes to a unique temporary file, is checked
//!   against the expected digest and size, synced, then renamed into place.
//!   A reader never sees a partial file; two processes writing the same
//!   entry both succeed (the rename is idempotent).
//! - Reads prove the entry intact by hashing it while reading; an entry that
//!   does not match its name is deleted and reported as missing, so the
//!   caller fetches it again.
//! - The same content is stored once, whatever mirror or snapshot it came
//!   from.
//! - A writer holds an exclusive `flock` on its `.part` file while it
//!   lives. Opening the cache removes the `.part` files nobody holds (left
//!   by a process that was interrupted or killed), so they never pile up.
//! - `<root>/v1/decoded/` keeps packages' data archives decoded once
//!   ([`decoded`]), derived from the .debs and bounded: [`Cache::gc`]
//!   removes the entries whose .deb is gone and the least recently used
//!   beyond a size ([`Cache::bound_decoded`] to [`DECODED_CAP`] after
//!   every build), and entries of
//!   either kind unused for a given time; [`Cache::clean`] empties the
//!   cache. Reads set an entry's modification time, the time of its last
//!   use.
//! - `<root>/v1/parsed/` keeps the record tables of `Packages` indices
//!   ([`parsed`]), so that an index is parsed once; [`Cache::gc`] removes
//!   those whose index is gone.

use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use sha2::{Digest as _, Sha256 as Hasher};

use crate::hash::Sha256;

pub mod decoded;
pub mod parsed;

pub use decoded::DecodedWriter;

const LAYOUT: &str = "v1";
/// The size the decoded entries are brought down to after a build
/// ([`Cache::gc`]'s `max_decoded`): several large images' worth.
pub const DECODED_CAP: u64 = 4 << 30;
/// A `.part` file younger than this is never removed by another process.
const STALE_AFTER: std::time::Duration = std::time::Duration::from_secs(60);

/// A cache failure, naming the file.
#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    #[error("cache {}: {what}", path.display())]
    Io {
        what: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("content does not match: expected SHA256 {expected} and {expected_size} bytes, got {actual} and {actual_size} bytes")]
    Mismatch {
        expected: Sha256,
        expected_size: u64,
        actual: Sha256,
        actual_size: u64,
    },
}

fn io_err<'a>(what: &'static str, path: &'a Path) -> impl FnOnce(io::Error) -> CacheError + 'a {
    move |source| CacheError::Io {
        what,
        path: path.to_owned(),
        source,
    }
}

/// The cache directory.
#[derive(Debug, Clone)]
pub struct Cache {
    root: PathBuf,
}

impl Cache {
    /// Use (and create) the cache at `root`.
    pub fn open(root: impl Into<PathBuf>) -> Result<Cache, CacheError> {
        let root = root.into();
        let cache = Cache { root };
        for dir in [cache.tmp_dir(), cache.root.join(LAYOUT).join("sha256")] {
            fs::create_dir_all(&dir).map_err(io_err("cannot create directory", &dir))?;
        }
        cache.remove_stale_parts();
        Ok(cache)
    }

    /// Remove the `.part` files of writers that are gone. Another process
    /// may be writing one right now: a live writer holds an exclusive
    /// `flock` on its file (released by the kernel when the process dies,
    /// however it dies), so only files whose lock can be taken are removed.
    /// A file is also left alone in its first minute, which covers the
    /// moment between its creation and its writer taking the lock.
    fn remove_stale_parts(&self) {
        let Ok(dir) = fs::read_dir(self.tmp_dir()) else {
            return;
        };
        for entry in dir.flatten() {
            let path = entry.path();
            if path.extension().is_none_or(|e| e != "part") {
                continue;
            }
            let young = entry
                .metadata()
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| t.elapsed().ok())
                .is_none_or(|age| age < STALE_AFTER);
            if young {
                continue;
            }
            let Ok(file) = File::open(&path) else {
                continue;
            };
            if rustix::fs::flock(&file, rustix::fs::FlockOperation::NonBlockingLockExclusive)
                .is_ok()
            {
                // Held until the file is gone, so no writer can take it.
                let _ = fs::remove_file(&path);
            }
        }
    }

    /// `$XDG_CACHE_HOME/rdebootstrap`, else `~/.cache/rdebootstrap`.
    pub fn default_dir() -> Option<PathBuf> {
        let from_env = |k| {
            std::env::var_os(k)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
        };
        from_env("XDG_CACHE_HOME")
            .or_else(|| from_env("HOME").map(|h| h.join(".cache")))
            .map(|d| d.join("rdebootstrap"))
    }

    /// The cache's root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn tmp_dir(&self) -> PathBuf {
        self.root.join(LAYOUT).join("tmp")
    }

    /// Where the entry with this digest lives (whether present or not).
    pub fn path(&self, sha256: &Sha256) -> PathBuf {
        let hex = sha256.to_string();
        self.root
            .join(LAYOUT)
            .join("sha256")
            .join(&hex[..2])
            .join(hex)
    }

    /// The entry's bytes, proven intact by hashing, or `None` when absent
    /// (or found corrupt, in which case it is removed).
    pub fn read(&self, sha256: &Sha256, size: Option<u64>) -> Result<Option<Vec<u8>>, CacheError> {
        let path = self.path(sha256);
        let mut file = match File::open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io_err("cannot open", &path)(e)),
        };
        let len = file.metadata().map_err(io_err("cannot stat", &path))?.len();
        if size.is_some_and(|s| s != len) {
            self.discard(&path);
            return Ok(None);
        }
        let data = match read_hashed(&mut file, len) {
            Ok(Some((data, digest))) if digest == *sha256 => data,
            // Shorter or longer than it was, or other bytes.
            Ok(_) => {
                self.discard(&path);
                return Ok(None);
            }
            Err(e) => return Err(io_err("cannot read", &path)(e)),
        };
        touch(&path);
        Ok(Some(data))
    }

    /// True if an intact entry exists (hashes it; see [`Cache::read`]).
    pub fn contains(&self, sha256: &Sha256, size: Option<u64>) -> Result<bool, CacheError> {
        let path = self.path(sha256);
        let mut file = match File::open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
            Err(e) => return Err(io_err("cannot open", &path)(e)),
        };
        let mut h = Hasher::new();
        let n = io::copy(&mut file, &mut h).map_err(io_err("cannot read", &path))?;
        if size.is_some_and(|s| s != n) || Sha256::from(h.finalize()) != *sha256 {
            self.discard(&path);
            return Ok(false);
        }
        touch(&path);
        Ok(true)
    }

    fn discard(&self, path: &Path) {
        // Another process may have replaced or removed it meanwhile: fine.
        let _ = fs::remove_file(path);
    }

    /// Start writing an entry.
    pub fn writer(&self) -> Result<CacheWriter, CacheError> {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let name = format!(
            "{}-{}-{}.part",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.subsec_nanos())
        );
        let path = self.tmp_dir().join(name);
        let file = File::options()
            .write(true)
            .create_new(true)
            .open(&path)
            .map_err(io_err("cannot create", &path))?;
        // Held while this writer lives: see Cache::remove_stale_parts.
        if let Err(e) = rustix::fs::flock(&file, rustix::fs::FlockOperation::LockExclusive) {
            let _ = fs::remove_file(&path);
            return Err(io_err("cannot lock", &path)(e.into()));
        }
        Ok(CacheWriter {
            cache: self.clone(),
            file: Some(file),
            path,
            hasher: Hasher::new(),
            len: 0,
        })
    }

    /// Store `data`, which must have this digest and size.
    pub fn insert(
        &self,
        data: &[u8],
        sha256: &Sha256,
        size: Option<u64>,
    ) -> Result<PathBuf, CacheError> {
        let mut w = self.writer()?;
        w.write_all(data)
            .map_err(io_err("cannot write", &w.path.clone()))?;
        w.commit(sha256, size)
    }
}

/// Entries from this size on are hashed on a second thread as they are
/// read (a large index: reading and hashing take about as long).
const HASH_BESIDE_MIN: u64 = 8 << 20;

/// Read exactly `len` bytes of `file` and their SHA-256; `None` when the
/// file does not hold exactly `len` bytes.
fn read_hashed(file: &mut File, len: u64) -> io::Result<Option<(Vec<u8>, Sha256)>> {
    const CHUNK: usize = 1 << 20;
    let mut data = vec![0u8; len as usize];
    let complete = |file: &mut File, r: io::Result<()>| match r {
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => Ok(false),
        Err(e) => Err(e),
        // Nothing may follow.
        Ok(()) => Ok(file.read(&mut [0u8; 1])? == 0),
    };
    if len < HASH_BESIDE_MIN {
        let r = file.read_exact(&mut data);
        return Ok(complete(file, r)?.then(|| {
            let digest = crate::hash::sha256(&data);
            (data, digest)
        }));
    }
    let (read, digest) = std::thread::scope(|s| {
        let (tx, rx) = std::sync::mpsc::sync_channel::<&[u8]>(8);
        let hasher = s.spawn(move || {
            let mut h = Hasher::new();
            for chunk in rx {
                h.update(chunk);
            }
            Sha256::from(h.finalize())
        });
        let mut read = Ok(());
        for chunk in data.chunks_mut(CHUNK) {
            read = file.read_exact(chunk);
            if read.is_err() || tx.send(chunk).is_err() {
                break;
            }
        }
        drop(tx);
        let digest = hasher
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        (read, digest)
    });
    Ok(complete(file, read)?.then_some((data, digest)))
}

/// Set `path`'s modification time to now: the time of its last use, for
/// [`Cache::gc`]. Best effort (a cache shared read-only still serves).
fn touch(path: &Path) {
    let omit = rustix::fs::Timespec {
        tv_sec: 0,
        tv_nsec: rustix::fs::UTIME_OMIT,
    };
    let now = rustix::fs::Timespec {
        tv_sec: 0,
        tv_nsec: rustix::fs::UTIME_NOW,
    };
    let _ = rustix::fs::utimensat(
        rustix::fs::CWD,
        path,
        &rustix::fs::Timestamps {
            last_access: omit,
            last_modification: now,
        },
        rustix::fs::AtFlags::empty(),
    );
}

/// What [`Cache::gc`] or [`Cache::clean`] removed and kept.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GcReport {
    /// Files removed, and their bytes.
    pub removed: u64,
    pub freed: u64,
    /// Files kept, and their bytes.
    pub kept: u64,
    pub kept_bytes: u64,
}

/// One file of the cache, as gc weighs it.
struct Entry {
    path: PathBuf,
    name: String,
    len: u64,
    used: std::time::SystemTime,
}

/// Whether `e` was last used longer than `max_age` ago.
fn unused_for(e: &Entry, max_age: Option<std::time::Duration>) -> bool {
    max_age.is_some_and(|age| e.used.elapsed().is_ok_and(|d| d > age))
}

/// Remove `e`, counting it in `report` (gone already: not counted).
fn remove(e: &Entry, report: &mut GcReport) {
    if fs::remove_file(&e.path).is_ok() {
        report.removed += 1;
        report.freed += e.len;
    }
}

/// The files two levels below `dir` (`<dir>/<xx>/<name>`).
fn entries(dir: &Path) -> Result<Vec<Entry>, CacheError> {
    let mut out = Vec::new();
    let shards = match fs::read_dir(dir) {
        Ok(d) => d,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(out),
        Err(e) => return Err(io_err("cannot list", dir)(e)),
    };
    for shard in shards {
        let shard = shard.map_err(io_err("cannot list", dir))?;
        let Ok(files) = fs::read_dir(shard.path()) else {
            continue;
        };
        for f in files.flatten() {
            let Ok(meta) = f.metadata() else { continue };
            if !meta.is_file() {
                continue;
            }
            out.push(Entry {
                path: f.path(),
                name: f.file_name().to_string_lossy().into_owned(),
                len: meta.len(),
                used: meta.modified().unwrap_or(std::time::UNIX_EPOCH),
            });
        }
    }
    Ok(out)
}

impl Cache {
    /// Bring the cache down: remove the entries (.debs, indices, artifacts,
    /// decoded data and record tables) unused for longer than `max_age`,
    /// then the decoded entries whose .deb is gone, then the least recently
    /// used decoded entries until those left take at most `max_decoded`
    /// bytes, then the record tables whose index is gone.
    /// Another process may be using an entry meanwhile: a .deb removed
    /// under a build is fetched again, a decoded entry is decoded again.
    pub fn gc(
        &self,
        max_age: Option<std::time::Duration>,
        max_decoded: u64,
    ) -> Result<GcReport, CacheError> {
        let mut report = GcReport::default();
        for e in entries(&self.root.join(LAYOUT).join("sha256"))? {
            if unused_for(&e, max_age) {
                remove(&e, &mut report);
            } else {
                report.kept += 1;
                report.kept_bytes += e.len;
            }
        }
        self.gc_decoded(max_age, max_decoded, &mut report)?;
        for e in entries(&self.root.join(LAYOUT).join(parsed::DIR))? {
            if unused_for(&e, max_age) || self.is_orphan(&e.name) {
                remove(&e, &mut report);
            } else {
                report.kept += 1;
                report.kept_bytes += e.len;
            }
        }
        Ok(report)
    }

    /// Bound the decoded data only (what a build does after it, without
    /// looking at every other entry): [`Cache::gc`]'s second half.
    pub fn bound_decoded(&self, max_decoded: u64) -> Result<GcReport, CacheError> {
        let mut report = GcReport::default();
        self.gc_decoded(None, max_decoded, &mut report)?;
        Ok(report)
    }

    /// Where an entry derived from the entry with this digest lives in
    /// `dir` (decoded data, record tables): named by that digest.
    fn derived_path(&self, dir: &str, of: &Sha256) -> PathBuf {
        let hex = of.to_string();
        self.root.join(LAYOUT).join(dir).join(&hex[..2]).join(hex)
    }

    /// Whether a derived entry named `name` has lost the entry it was
    /// derived from (or is not an entry at all).
    fn is_orphan(&self, name: &str) -> bool {
        match name.parse::<Sha256>() {
            Ok(of) => !self.path(&of).exists(),
            Err(_) => true,
        }
    }

    fn gc_decoded(
        &self,
        max_age: Option<std::time::Duration>,
        max_decoded: u64,
        report: &mut GcReport,
    ) -> Result<(), CacheError> {
        let mut decoded = Vec::new();
        for e in entries(&self.root.join(LAYOUT).join(decoded::DIR))? {
            if unused_for(&e, max_age) || self.is_orphan(&e.name) {
                remove(&e, report);
            } else {
                decoded.push(e);
            }
        }
        // Newest first: keep while they fit.
        decoded.sort_by(|a, b| b.used.cmp(&a.used).then_with(|| a.name.cmp(&b.name)));
        let mut total = 0u64;
        for e in decoded {
            if total + e.len > max_decoded {
                remove(&e, report);
            } else {
                total += e.len;
                report.kept += 1;
                report.kept_bytes += e.len;
            }
        }
        Ok(())
    }

    /// Remove every entry (and the `.part` files of writers that are
    /// gone); with `decoded_only`, only the decoded data.
    pub fn clean(&self, decoded_only: bool) -> Result<GcReport, CacheError> {
        let mut report = GcReport::default();
        let mut dirs = vec![self.root.join(LAYOUT).join(decoded::DIR)];
        if !decoded_only {
            dirs.push(self.root.join(LAYOUT).join("sha256"));
            dirs.push(self.root.join(LAYOUT).join(parsed::DIR));
        }
        for dir in dirs {
            for e in entries(&dir)? {
                remove(&e, &mut report);
            }
        }
        self.remove_stale_parts();
        Ok(report)
    }
}

/// An entry being written; dropped without [`CacheWriter::commit`], it
/// leaves nothing behind.
pub struct CacheWriter {
    cache: Cache,
    file: Option<File>,
    path: PathBuf,
    hasher: Hasher,
    len: u64,
}

impl CacheWriter {
    /// Bytes written so far.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// True if nothing was written yet.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Check the content against the expected digest and size, then move
    /// it into place. On a mismatch nothing is stored.
    pub fn commit(mut self, sha256: &Sha256, size: Option<u64>) -> Result<PathBuf, CacheError> {
        let actual = Sha256::from(std::mem::take(&mut self.hasher).finalize());
        let file = self.file.take().expect("file open until commit");
        if actual != *sha256 || size.is_some_and(|s| s != self.len) {
            drop(file);
            let _ = fs::remove_file(&self.path);
            return Err(CacheError::Mismatch {
                expected: *sha256,
                expected_size: size.unwrap_or(self.len),
                actual,
                actual_size: self.len,
            });
        }
        file.sync_all().map_err(io_err("cannot sync", &self.path))?;
        drop(file);
        let dest = self.cache.path(sha256);
        let dir = dest.parent().expect("entries live in a directory");
        fs::create_dir_all(dir).map_err(io_err("cannot create directory", dir))?;
        fs::rename(&self.path, &dest).map_err(io_err("cannot move into place", &dest))?;
        Ok(dest)
    }
}

impl CacheWriter {
    /// The SHA-256 of what was written so far.
    pub(crate) fn digest(&self) -> Sha256 {
        Sha256::from(self.hasher.clone().finalize())
    }

    /// Move what was written to `dest`, unchecked and unsynced (for
    /// entries that carry their own check, [`decoded`]).
    pub(crate) fn persist(mut self, dest: &Path) -> Result<(), CacheError> {
        let file = self.file.take().expect("file open until persisted");
        drop(file);
        let dir = dest.parent().expect("entries live in a directory");
        let moved = fs::create_dir_all(dir)
            .map_err(io_err("cannot create directory", dir))
            .and_then(|()| {
                fs::rename(&self.path, dest).map_err(io_err("cannot move into place", dest))
            });
        if moved.is_err() {
            let _ = fs::remove_file(&self.path);
        }
        moved
    }
}

impl crate::transport::Sink for CacheWriter {
    fn write(&mut self, data: &[u8]) -> io::Result<()> {
        self.write_all(data)
    }

    fn len(&self) -> u64 {
        self.len
    }

    fn reset(&mut self) -> io::Result<()> {
        use std::io::Seek;
        let f = self.file.as_mut().expect("open");
        f.set_len(0)?;
        f.seek(io::SeekFrom::Start(0))?;
        self.hasher = Hasher::new();
        self.len = 0;
        Ok(())
    }
}

impl Write for CacheWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.file.as_mut().expect("open").write(buf)?;
        self.hasher.update(&buf[..n]);
        self.len += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.as_mut().expect("open").flush()
    }
}

impl Drop for CacheWriter {
    fn drop(&mut self) {
        if self.file.take().is_some() {
            let _ = fs::remove_file(&self.path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sha(data: &[u8]) -> Sha256 {
        crate::hash::sha256(data)
    }

    fn tmp() -> PathBuf {
        let p = std::env::temp_dir().join(format!(
            "debrepo-cache-{}-{}",
            std::process::id(),
            rand_suffix()
        ));
        let _ = fs::remove_dir_all(&p);
        p
    }

    fn rand_suffix() -> u64 {
        static N: AtomicU64 = AtomicU64::new(0);
        N.fetch_add(1, Ordering::Relaxed)
    }

    #[test]
    fn insert_read_and_layout() {
        let root = tmp();
        let c = Cache::open(&root).unwrap();
        let data = b"hello cache";
        let h = sha(data);
        assert_eq!(c.read(&h, None).unwrap(), None);
        let p = c.insert(data, &h, Some(11)).unwrap();
        let hex = h.to_string();
        assert_eq!(p, root.join("v1/sha256").join(&hex[..2]).join(&hex));
        assert_eq!(c.read(&h, Some(11)).unwrap().as_deref(), Some(&data[..]));
        assert!(c.contains(&h, None).unwrap());
        // Inserting again is harmless.
        c.insert(data, &h, None).unwrap();
        assert!(
            fs::read_dir(root.join("v1/tmp")).unwrap().next().is_none(),
            "no temporary left"
        );
        fs::remove_dir_all(root).unwrap();
    }

    /// Entries of both sizes (hashed after reading, and beside it): intact
    /// ones are read, and one cut, grown or changed is removed and missed.
    #[test]
    fn damaged_entries_of_any_size_are_missed_and_removed() {
        let root = tmp();
        let c = Cache::open(&root).unwrap();
        for len in [1000, HASH_BESIDE_MIN as usize + 12_345] {
            let data: Vec<u8> = (0..len).map(|i| (i * 31 % 251) as u8).collect();
            let h = sha(&data);
            type Damage = fn(&mut Vec<u8>);
            let damages: [(&str, Damage); 3] = [
                ("cut", |d| d.truncate(d.len() - 1)),
                ("grown", |d| d.push(0)),
                ("changed", |d| {
                    let i = d.len() - 2;
                    d[i] ^= 1
                }),
            ];
            for (what, damage) in damages {
                let path = c.insert(&data, &h, None).unwrap();
                assert_eq!(c.read(&h, None).unwrap().as_deref(), Some(&data[..]));
                let mut bad = data.clone();
                damage(&mut bad);
                fs::write(&path, &bad).unwrap();
                assert_eq!(c.read(&h, None).unwrap(), None, "{len} {what}");
                assert!(!path.exists(), "{len} {what}: removed");
            }
        }
        fs::remove_dir_all(root).unwrap();
    }

    #[test]
    fn mismatches_store_nothing() {
        let root = tmp();
        let c = Cache::open(&root).unwrap();
        let h = sha(b"expected");
        let e = c.insert(b"something else", &h, None).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("content does not match: expected SHA256"),
            "{e}"
        );
        let e = c.insert(b"expected", &h, Some(9)).unwrap_err();
        assert!(matches!(
            e,
            CacheError::Mismatch {
                expected_size: 9,
                actual_size: 8,
                ..
            }
        ));
        assert!(!c.path(&h).exists());
        assert!(fs::read_dir(root.join("v1/tmp")).unwrap().next().is_none());
        // An abandoned writer leaves nothing either.
        let mut w = c.writer().unwrap();
        w.write_all(b"partial").unwrap();
        drop(w);
        assert!(fs::read_dir(root.join("v1/tmp")).unwrap().next().is_none());
        fs::remove_dir_all(root).unwrap();
    }

    #[test]
    fn corrupt_entries_are_dropped() {
        let root = tmp();
        let c = Cache::open(&root).unwrap();
        let h = sha(b"good data");
        let p = c.insert(b"good data", &h, None).unwrap();
        fs::write(&p, b"bad data!").unwrap();
        assert_eq!(c.read(&h, None).unwrap(), None);
        assert!(!p.exists(), "a corrupt entry is deleted");
        c.insert(b"good data", &h, None).unwrap();
        fs::write(&p, b"short").unwrap();
        assert!(!c.contains(&h, Some(9)).unwrap());
        assert!(!p.exists());
        fs::remove_dir_all(root).unwrap();
    }

    #[test]
    fn concurrent_writers_of_one_entry() {
        let root = tmp();
        let c = Cache::open(&root).unwrap();
        let data = vec![7u8; 1 << 20];
        let h = sha(&data);
        std::thread::scope(|s| {
            for _ in 0..8 {
                s.spawn(|| c.insert(&data, &h, Some(data.len() as u64)).unwrap());
            }
        });
        assert_eq!(c.read(&h, None).unwrap().unwrap(), data);
        fs::remove_dir_all(root).unwrap();
    }

    #[test]
    fn stale_part_files_are_removed_live_ones_kept() {
        let root = tmp();
        let c = Cache::open(&root).unwrap();
        let tmp_dir = root.join("v1/tmp");
        let old = std::time::SystemTime::now() - std::time::Duration::from_secs(3600);
        // Left by a killed process: old, nobody holds it.
        let stale = tmp_dir.join("1-0-0.part");
        fs::write(&stale, b"half a download").unwrap();
        File::options()
            .write(true)
            .open(&stale)
            .unwrap()
            .set_modified(old)
            .unwrap();
        // Fresh: maybe a writer that has not locked it yet.
        let fresh = tmp_dir.join("2-0-0.part");
        fs::write(&fresh, b"just started").unwrap();
        // A live writer's, old but locked.
        let mut live = c.writer().unwrap();
        live.write_all(b"slow download").unwrap();
        File::options()
            .write(true)
            .open(&live.path)
            .unwrap()
            .set_modified(old)
            .unwrap();
        Cache::open(&root).unwrap();
        assert!(!stale.exists(), "a stale .part is removed");
        assert!(fresh.exists(), "a young .part is kept");
        assert!(live.path.exists(), "a live writer's .part is kept");
        let h = sha(b"slow download");
        live.commit(&h, Some(13)).unwrap();
        assert!(c.contains(&h, Some(13)).unwrap());
        fs::remove_dir_all(root).unwrap();
    }

    #[test]
    fn default_dir_follows_xdg() {
        // Only checks the shape; the environment is the process's own.
        if let Some(d) = Cache::default_dir() {
            assert!(d.ends_with("rdebootstrap"));
        }
    }
}
