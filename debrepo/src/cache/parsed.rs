//! `Packages` indices, parsed once: their record tables.
//!
//! Layout, under the cache's versioned root: `parsed/<first two hex
//! digits>/<hex SHA-256 of the index>`, the index's
//! [`RecordTable`](crate::packages::RecordTable) bytes, then 32 bytes: the
//! BLAKE3 hash of those bytes (several times faster than SHA-256 here, and
//! a table is checked on every warm `update`).
//!
//! - The key is the index's own SHA-256, the one its signed Release file
//!   gives, and the table is used only beside the index read back and
//!   verified under that digest; the table itself is checked against that
//!   index as it is loaded (every field within it).
//! - The trailer proves an entry intact before use (a damaged one is
//!   removed, and the index parsed again). As for decoded data, it guards
//!   against damage, not against someone who may write the cache
//!   directory, who is trusted as the user is.
//! - Entries are written like decoded data (a locked `.part` file renamed
//!   into place, not synced); each use sets the entry's modification time.
//!   [`Cache::gc`](super::Cache::gc) removes an entry whose index is gone,
//!   or unused for its `max_age`.

use std::fs;
use std::io::{self, Write};
use std::path::PathBuf;

use super::{io_err, Cache, CacheError};
use crate::hash::Sha256;

/// The trailer: the BLAKE3 hash of the table before it.
const TRAILER: usize = 32;

/// The directory of parsed entries.
pub(super) const DIR: &str = "parsed";

impl Cache {
    /// Where the record table of the index with this digest lives.
    pub fn parsed_path(&self, index: &Sha256) -> PathBuf {
        self.derived_path(DIR, index)
    }

    /// The record table kept for the index with this digest, proven
    /// intact (not yet checked against the index: see
    /// [`RecordTable::from_bytes`](crate::packages::RecordTable::from_bytes));
    /// `None` when there is none, or it was damaged and has been removed.
    pub fn read_parsed(&self, index: &Sha256) -> Result<Option<Vec<u8>>, CacheError> {
        let path = self.parsed_path(index);
        let mut bytes = match fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io_err("cannot read", &path)(e)),
        };
        let Some(body) = bytes.len().checked_sub(TRAILER) else {
            self.discard(&path);
            return Ok(None);
        };
        if blake3::hash(&bytes[..body]).as_bytes()[..] != bytes[body..] {
            self.discard(&path);
            return Ok(None);
        }
        bytes.truncate(body);
        super::touch(&path);
        Ok(Some(bytes))
    }

    /// Drop the record table kept for this index (one that did not fit
    /// its index).
    pub fn discard_parsed(&self, index: &Sha256) {
        self.discard(&self.parsed_path(index));
    }

    /// Keep `table` as the record table of the index with this digest.
    pub fn keep_parsed(&self, index: &Sha256, table: &[u8]) -> Result<(), CacheError> {
        let mut part = self.writer()?;
        let path = part.path.clone();
        part.write_all(table)
            .and_then(|()| part.write_all(blake3::hash(table).as_bytes()))
            .map_err(io_err("cannot write", &path))?;
        part.persist(&self.parsed_path(index))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tmp() -> PathBuf {
        let d = std::env::temp_dir().join(format!(
            "debrepo-parsed-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        let _ = fs::remove_dir_all(&d);
        d
    }

    #[test]
    fn kept_read_back_damage_caught_orphans_collected() {
        let root = tmp();
        let c = Cache::open(&root).unwrap();
        let index = b"Package: a\nVersion: 1\nArchitecture: all\n";
        let sha = crate::hash::sha256(index);
        assert_eq!(c.read_parsed(&sha).unwrap(), None);
        c.keep_parsed(&sha, b"table bytes").unwrap();
        assert_eq!(c.read_parsed(&sha).unwrap().unwrap(), b"table bytes");
        // Damaged: missed and removed.
        let path = c.parsed_path(&sha);
        let mut bytes = fs::read(&path).unwrap();
        bytes[0] ^= 1;
        fs::write(&path, &bytes).unwrap();
        assert_eq!(c.read_parsed(&sha).unwrap(), None);
        assert!(!path.exists());
        // Shorter than a trailer.
        fs::write(&path, b"short").unwrap();
        assert_eq!(c.read_parsed(&sha).unwrap(), None);
        // gc keeps a table whose index is there, removes one whose is not.
        c.insert(index, &sha, None).unwrap();
        c.keep_parsed(&sha, b"table bytes").unwrap();
        let other = crate::hash::sha256(b"gone");
        c.keep_parsed(&other, b"t").unwrap();
        c.gc(None, u64::MAX).unwrap();
        assert!(c.parsed_path(&sha).exists());
        assert!(!c.parsed_path(&other).exists());
        // clean removes every table.
        c.clean(false).unwrap();
        assert!(!c.parsed_path(&sha).exists());
        let _ = fs::remove_dir_all(&root);
    }
}
