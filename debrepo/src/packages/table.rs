//! A parsed `Packages` index, kept: the record table.
//!
//! Parsing trixie's 57 MB index (68,830 records, every relationship field
//! checked) is most of the CPU time of a warm `update`, yet an index whose
//! SHA-256 is known never changes. The first parse of an index makes a
//! [`RecordTable`]: for every record, where each of its fields lies in the
//! index and what the parser made of it (the version's parts, numbers, the
//! digest, flags), in entries of one size. Later runs rebuild the records
//! from the table and the index, without parsing
//! ([`RecordTable::records`]); they are equal to what
//! [`parse_index`] gives.
//!
//! Format, little-endian: a [`HEADER`]-byte header (a magic, the format
//! number, the entry size, the index's length, the record count, the name
//! count, and the version of this crate, so that a table is made again by
//! a program whose parser may read records differently), then one
//! [`ENTRY`]-byte entry per record, in the index's order, then the names
//! apt meets reading the records, each once in order of first appearance
//! (a span each: the universe numbers names from them, see
//! `Universe::index_listed`). A field is a span of the index (start,
//! length; the length `u32::MAX` when the field is absent). A table is
//! checked against its index before use ([`RecordTable::from_bytes`]):
//! every record within the index, every field within its record, every tag
//! known; a table that fails is not used. Each record's text is checked to
//! be UTF-8 as it is read, once. A format change raises
//! [`FORMAT`].

use super::{
    parse_index, piece_bounds, piece_count, piece_parser, BinaryPackage, MultiArch, PackagesError,
    Priority,
};
use crate::solver::apt::record_names;
use crate::solver::FastMap;
use crate::version::Version;

/// The magic a table starts with.
const MAGIC: &[u8; 8] = b"RDBPKTAB";
/// The format number; raised with any change of the layout.
pub const FORMAT: u32 = 2;
/// The header's size.
pub const HEADER: usize = 56;
/// One record's entry size.
pub const ENTRY: usize = 240;
/// The length of an absent field's span.
const ABSENT: u32 = u32::MAX;

// Where an entry's fields are (see `encode`).
const O_RAW: usize = 0;
const O_LINE: usize = 8;
const O_NAME: usize = 12;
const O_VERSION: usize = 20; // span, epoch, upstream start and end
const O_ARCH: usize = 40;
const O_SOURCE: usize = 48;
const O_SOURCE_VERSION: usize = 56; // as O_VERSION
const O_SECTION: usize = 76;
const O_FILENAME: usize = 84;
const O_DESCRIPTION: usize = 92;
const O_PRIORITY: usize = 100; // the span of an unknown priority
const O_REL: usize = 108; // 10 × (start in raw, length)
const O_INSTALLED_SIZE: usize = 188;
const O_SIZE: usize = 196;
const O_SHA256: usize = 204;
const O_FLAGS: usize = 236;

// Flags.
const F_MULTI_ARCH: u16 = 0b11;
const F_ESSENTIAL: u16 = 1 << 2;
const F_PROTECTED: u16 = 1 << 3;
const F_PRIORITY_SHIFT: u16 = 4; // 3 bits: 0 none, 1..=5 known, 6 other
const F_INSTALLED_SIZE: u16 = 1 << 7;
const F_SIZE: u16 = 1 << 8;
const F_SHA256: u16 = 1 << 9;

/// The header this build writes and accepts, but for the lengths.
fn header(index_len: u64, count: u64, names: u64) -> [u8; HEADER] {
    let mut h = [0u8; HEADER];
    h[..8].copy_from_slice(MAGIC);
    h[8..12].copy_from_slice(&FORMAT.to_le_bytes());
    h[12..16].copy_from_slice(&(ENTRY as u32).to_le_bytes());
    h[16..24].copy_from_slice(&index_len.to_le_bytes());
    h[24..32].copy_from_slice(&count.to_le_bytes());
    h[32..40].copy_from_slice(&names.to_le_bytes());
    let version = env!("CARGO_PKG_VERSION").as_bytes();
    let n = version.len().min(HEADER - 40);
    h[40..40 + n].copy_from_slice(&version[..n]);
    h
}

/// One piece's part of a table being made.
struct Piece<'a> {
    entries: Vec<u8>,
    count: u64,
    /// The names apt meets in the piece, each once, in order.
    names: Vec<&'a str>,
}

/// The records of one index, parsed once (see the module).
#[derive(Clone)]
pub struct RecordTable {
    bytes: Vec<u8>,
}

impl std::fmt::Debug for RecordTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "RecordTable({} records)", self.len())
    }
}

impl RecordTable {
    /// Parse `index` (a whole `Packages` index, UTF-8) into a table.
    /// `None` for an index of 4 GiB or more, which spans cannot describe
    /// (it is parsed on every use instead).
    pub fn build(index: &[u8]) -> Result<Option<RecordTable>, PackagesError> {
        Self::build_in(index, piece_count(index.len()))
    }

    /// [`RecordTable::build`] in at most `pieces` pieces.
    fn build_in(index: &[u8], pieces: usize) -> Result<Option<RecordTable>, PackagesError> {
        if u32::try_from(index.len()).is_err() {
            return parse_index(index, drop).map(|()| None);
        }
        // Each piece is parsed and encoded on its own thread: no list of
        // records is held, only the entries.
        let bounds = piece_bounds(index, pieces, false);
        let encode_piece = |k: usize| -> Result<Option<Piece<'_>>, PackagesError> {
            let (start, end) = (bounds[k], bounds[k + 1]);
            // About one record per 830 bytes in Debian's indices.
            let mut out = Vec::with_capacity((end - start) / 800 * ENTRY);
            let mut count = 0;
            let mut seen: FastMap<&str, ()> = FastMap::default();
            let mut names = Vec::new();
            for p in piece_parser(index, &bounds, k)? {
                let p = p?;
                // A field not within the index (none is, by the parser's
                // making): no table rather than a wrong one.
                if !encode(index, &p, &mut out) {
                    return Ok(None);
                }
                count += 1;
                record_names(&p, |name| {
                    if seen.insert(name, ()).is_none() {
                        names.push(name);
                    }
                });
            }
            Ok(Some(Piece {
                entries: out,
                count,
                names,
            }))
        };
        let pieces = std::thread::scope(|s| {
            let rest: Vec<_> = (1..bounds.len() - 1)
                .map(|k| s.spawn(move || encode_piece(k)))
                .collect();
            let first = encode_piece(0);
            std::iter::once(first)
                .chain(rest.into_iter().map(|h| {
                    h.join()
                        .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
                }))
                .collect::<Vec<_>>()
        });
        // The first error in input order; no table if a piece made none.
        let parts: Vec<Option<Piece<'_>>> = pieces.into_iter().collect::<Result<_, _>>()?;
        let Some(parts) = parts.into_iter().collect::<Option<Vec<_>>>() else {
            return Ok(None);
        };
        // The names of the whole index in order of first appearance: each
        // piece's, less those an earlier piece met.
        let mut seen: FastMap<&str, ()> = FastMap::default();
        let mut names = Vec::new();
        for part in &parts {
            for &name in &part.names {
                if seen.insert(name, ()).is_none() {
                    let Some(span) = span_of(index, name) else {
                        return Ok(None);
                    };
                    names.push(span);
                }
            }
        }
        let count: u64 = parts.iter().map(|p| p.count).sum();
        let mut bytes = Vec::with_capacity(HEADER + count as usize * ENTRY + names.len() * 8);
        bytes.extend_from_slice(&header(index.len() as u64, count, names.len() as u64));
        for part in parts {
            bytes.extend_from_slice(&part.entries);
        }
        for (start, len) in names {
            bytes.extend_from_slice(&start.to_le_bytes());
            bytes.extend_from_slice(&len.to_le_bytes());
        }
        Ok(Some(RecordTable { bytes }))
    }

    /// A table read back ([`RecordTable::as_bytes`]), checked against the
    /// index it was made from: `None` unless it is whole, of this format
    /// and this crate's version, and every record it describes lies within
    /// `index`.
    pub fn from_bytes(bytes: Vec<u8>, index: &[u8]) -> Option<RecordTable> {
        let count = u64::from_le_bytes(bytes.get(24..32)?.try_into().ok()?);
        let names = u64::from_le_bytes(bytes.get(32..40)?.try_into().ok()?);
        let expected = header(index.len() as u64, count, names);
        let size = (count as u128) * ENTRY as u128 + (names as u128) * 8 + HEADER as u128;
        if bytes.get(..HEADER)? != expected || bytes.len() as u128 != size {
            return None;
        }
        let table = RecordTable { bytes };
        let names_fit = table
            .name_spans()
            .all(|(start, len)| len > 0 && start as u64 + len as u64 <= index.len() as u64);
        (names_fit && table.entries().all(|e| fits(e, index.len()))).then_some(table)
    }

    /// The table as stored.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The number of records.
    pub fn len(&self) -> usize {
        self.bytes.get(24..32).map_or(0, |c| {
            u64::from_le_bytes(c.try_into().expect("8 bytes")) as usize
        })
    }

    /// Where the names section starts.
    fn names_start(&self) -> usize {
        HEADER + self.len() * ENTRY
    }

    fn name_spans(&self) -> impl Iterator<Item = (u32, u32)> + '_ {
        self.bytes
            .get(self.names_start()..)
            .unwrap_or_default()
            .chunks_exact(8)
            .map(|c| (get_u32(c, 0), get_u32(c, 4)))
    }

    /// The names apt meets reading the index's records, each once, in
    /// order of first appearance (see [`crate::solver::apt`]'s cache
    /// order), borrowing from `index`; `None` if one is not UTF-8 (a table
    /// written to, as for [`RecordTable::records`]).
    pub fn names<'a>(&self, index: &'a [u8]) -> Option<Vec<&'a str>> {
        self.name_spans()
            .map(|(start, len)| {
                let bytes = index.get(start as usize..start as usize + len as usize)?;
                std::str::from_utf8(bytes).ok()
            })
            .collect()
    }

    /// True if the index holds no record.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn entries(&self) -> std::slice::ChunksExact<'_, u8> {
        self.bytes
            .get(HEADER..self.names_start())
            .unwrap_or_default()
            .chunks_exact(ENTRY)
    }

    /// The records, in the index's order, borrowing from `index`. Each
    /// record's text is checked to be UTF-8 as it is read.
    ///
    /// Panics if `index` is not the index the table was made from (by
    /// [`RecordTable::build`]) or checked against (by
    /// [`RecordTable::from_bytes`]): a table read back that fits its index
    /// fails here only if it was written to.
    pub fn records<'s, 'a>(
        &'s self,
        index: &'a [u8],
    ) -> impl ExactSizeIterator<Item = BinaryPackage<'a>> + 's
    where
        'a: 's,
    {
        assert_eq!(
            self.bytes.get(16..24),
            Some(&(index.len() as u64).to_le_bytes()[..]),
            "a record table used with another index"
        );
        self.entries()
            .map(move |e| decode(e, index).expect("a record table used with another index"))
    }
}

fn put_u32(e: &mut [u8], at: usize, v: u32) {
    e[at..at + 4].copy_from_slice(&v.to_le_bytes());
}

fn get_u32(e: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(e[at..at + 4].try_into().expect("4 bytes"))
}

fn get_u64(e: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(e[at..at + 8].try_into().expect("8 bytes"))
}

/// Where `s` lies in `index`, or `None` when it is not a part of it. An
/// empty string is any empty span.
fn span_of(index: &[u8], s: &str) -> Option<(u32, u32)> {
    if s.is_empty() {
        return Some((0, 0));
    }
    let start = (s.as_ptr() as usize).checked_sub(index.as_ptr() as usize)?;
    if start.checked_add(s.len())? > index.len() {
        return None;
    }
    Some((u32::try_from(start).ok()?, u32::try_from(s.len()).ok()?))
}

fn put_span(e: &mut [u8], at: usize, index: &[u8], s: Option<&str>) -> Option<()> {
    let (start, len) = match s {
        Some(s) => span_of(index, s)?,
        None => (0, ABSENT),
    };
    put_u32(e, at, start);
    put_u32(e, at + 4, len);
    Some(())
}

fn put_version(e: &mut [u8], at: usize, index: &[u8], v: Option<&Version<'_>>) -> Option<()> {
    let Some(v) = v else {
        return put_span(e, at, index, None);
    };
    let (text, epoch, up_start, up_end) = v.raw_parts();
    put_span(e, at, index, Some(text))?;
    put_u32(e, at + 8, epoch);
    put_u32(e, at + 12, up_start);
    put_u32(e, at + 16, up_end);
    Some(())
}

/// Append `p`'s entry to `out`; false (and nothing appended) when one of
/// its fields is not a part of `index`.
fn encode(index: &[u8], p: &BinaryPackage<'_>, out: &mut Vec<u8>) -> bool {
    let mut e = [0u8; ENTRY];
    let filled = (|| {
        put_span(&mut e, O_RAW, index, Some(p.raw))?;
        put_u32(&mut e, O_LINE, p.line);
        put_span(&mut e, O_NAME, index, Some(p.name))?;
        put_version(&mut e, O_VERSION, index, Some(&p.version))?;
        put_span(&mut e, O_ARCH, index, Some(p.architecture))?;
        put_span(&mut e, O_SOURCE, index, Some(p.source))?;
        put_version(&mut e, O_SOURCE_VERSION, index, p.source_version.as_ref())?;
        put_span(&mut e, O_SECTION, index, p.section)?;
        put_span(&mut e, O_FILENAME, index, p.filename)?;
        put_span(&mut e, O_DESCRIPTION, index, p.description)?;
        let (priority, other) = match p.priority {
            None => (0, None),
            Some(Priority::Required) => (1, None),
            Some(Priority::Important) => (2, None),
            Some(Priority::Standard) => (3, None),
            Some(Priority::Optional) => (4, None),
            Some(Priority::Extra) => (5, None),
            Some(Priority::Other(s)) => (6, Some(s)),
        };
        put_span(&mut e, O_PRIORITY, index, other)?;
        for (k, (start, len)) in p.rel_text.iter().enumerate() {
            put_u32(&mut e, O_REL + 8 * k, *start);
            put_u32(&mut e, O_REL + 8 * k + 4, *len);
        }
        let mut flags = match p.multi_arch {
            MultiArch::No => 0,
            MultiArch::Same => 1,
            MultiArch::Foreign => 2,
            MultiArch::Allowed => 3,
        } | (priority << F_PRIORITY_SHIFT);
        if p.essential {
            flags |= F_ESSENTIAL;
        }
        if p.protected {
            flags |= F_PROTECTED;
        }
        if let Some(n) = p.installed_size {
            flags |= F_INSTALLED_SIZE;
            e[O_INSTALLED_SIZE..O_INSTALLED_SIZE + 8].copy_from_slice(&n.to_le_bytes());
        }
        if let Some(n) = p.size {
            flags |= F_SIZE;
            e[O_SIZE..O_SIZE + 8].copy_from_slice(&n.to_le_bytes());
        }
        if let Some(d) = &p.sha256 {
            flags |= F_SHA256;
            e[O_SHA256..O_SHA256 + 32].copy_from_slice(d.as_bytes());
        }
        e[O_FLAGS..O_FLAGS + 2].copy_from_slice(&flags.to_le_bytes());
        Some(())
    })();
    if filled.is_some() {
        out.extend_from_slice(&e);
    }
    filled.is_some()
}

/// Whether an entry's spans lie where they must: the record within an
/// index of `len` bytes, every field within the record, the version's
/// upstream part within the version; its tags known. What this leaves to
/// [`decode`] (the record's text being UTF-8, fields on character
/// boundaries) holds for any table [`RecordTable::build`] made of the
/// index, which the trailer of its cache entry proves it is.
fn fits(e: &[u8], len: usize) -> bool {
    let (raw_start, raw_len) = (get_u32(e, O_RAW) as u64, get_u32(e, O_RAW + 4) as u64);
    let raw_end = raw_start + raw_len;
    let within = |at: usize, required: bool| {
        let (start, n) = (get_u32(e, at) as u64, get_u32(e, at + 4));
        match n {
            ABSENT => !required,
            0 => true,
            n => start >= raw_start && start + n as u64 <= raw_end,
        }
    };
    let version = |at: usize, required: bool| {
        let n = get_u32(e, at + 4);
        within(at, required)
            && (n == ABSENT || {
                let (up_start, up_end) = (get_u32(e, at + 12), get_u32(e, at + 16));
                up_start <= up_end && up_end <= n
            })
    };
    let flags = u16::from_le_bytes([e[O_FLAGS], e[O_FLAGS + 1]]);
    let priority = (flags >> F_PRIORITY_SHIFT) & 0b111;
    let other_priority = get_u32(e, O_PRIORITY + 4) != ABSENT;
    raw_len != ABSENT as u64
        && raw_end <= len as u64
        && (0..10).all(|k| {
            let (start, n) = (get_u32(e, O_REL + 8 * k), get_u32(e, O_REL + 8 * k + 4));
            start as u64 + n as u64 <= raw_len
        })
        && within(O_NAME, true)
        && version(O_VERSION, true)
        && within(O_ARCH, true)
        && within(O_SOURCE, true)
        && version(O_SOURCE_VERSION, false)
        && [O_SECTION, O_FILENAME, O_DESCRIPTION, O_PRIORITY]
            .iter()
            .all(|&at| within(at, false))
        && priority <= 6
        && (priority == 6) == other_priority
}

/// The field at `at`, a part of the record `raw` that starts at
/// `raw_start` in the index: `Some(None)` when absent, `None` when the
/// span is not within the record or not on character boundaries.
fn get_span<'a>(e: &[u8], at: usize, raw_start: u32, raw: &'a str) -> Option<Option<&'a str>> {
    let (start, len) = (get_u32(e, at), get_u32(e, at + 4));
    if len == ABSENT {
        return Some(None);
    }
    if len == 0 {
        return Some(Some(""));
    }
    let rel = start.checked_sub(raw_start)? as usize;
    raw.get(rel..rel.checked_add(len as usize)?).map(Some)
}

fn get_version<'a>(
    e: &[u8],
    at: usize,
    raw_start: u32,
    raw: &'a str,
) -> Option<Option<Version<'a>>> {
    let Some(text) = get_span(e, at, raw_start, raw)? else {
        return Some(None);
    };
    let v = Version::from_raw_parts(
        text,
        get_u32(e, at + 8),
        get_u32(e, at + 12),
        get_u32(e, at + 16),
    )?;
    Some(Some(v))
}

/// The record an entry describes, or `None` when it does not describe
/// one of `index`.
/// Each record's text is checked to be UTF-8 here, once; its fields are
/// parts of it.
fn decode<'a>(e: &[u8], index: &'a [u8]) -> Option<BinaryPackage<'a>> {
    let flags = u16::from_le_bytes([e[O_FLAGS], e[O_FLAGS + 1]]);
    let (raw_start, raw_len) = (get_u32(e, O_RAW), get_u32(e, O_RAW + 4));
    let raw = index.get(raw_start as usize..(raw_start as usize).checked_add(raw_len as usize)?)?;
    let raw = std::str::from_utf8(raw).ok()?;
    let field = |at| get_span(e, at, raw_start, raw);
    let version = |at| get_version(e, at, raw_start, raw);
    let mut rel_text = [(0u32, 0u32); 10];
    for (k, slot) in rel_text.iter_mut().enumerate() {
        let (start, len) = (get_u32(e, O_REL + 8 * k), get_u32(e, O_REL + 8 * k + 4));
        // Within the record's text, on character boundaries.
        raw.get(start as usize..(start as usize).checked_add(len as usize)?)?;
        *slot = (start, len);
    }
    let other = field(O_PRIORITY)?;
    let priority = match ((flags >> F_PRIORITY_SHIFT) & 0b111, other) {
        (0, None) => None,
        (1, None) => Some(Priority::Required),
        (2, None) => Some(Priority::Important),
        (3, None) => Some(Priority::Standard),
        (4, None) => Some(Priority::Optional),
        (5, None) => Some(Priority::Extra),
        (6, Some(s)) => Some(Priority::Other(s)),
        _ => return None,
    };
    let number = |flag: u16, at: usize| (flags & flag != 0).then(|| get_u64(e, at));
    Some(BinaryPackage {
        name: field(O_NAME)??,
        version: version(O_VERSION)??,
        architecture: field(O_ARCH)??,
        multi_arch: match flags & F_MULTI_ARCH {
            0 => MultiArch::No,
            1 => MultiArch::Same,
            2 => MultiArch::Foreign,
            _ => MultiArch::Allowed,
        },
        essential: flags & F_ESSENTIAL != 0,
        protected: flags & F_PROTECTED != 0,
        priority,
        section: field(O_SECTION)?,
        source: field(O_SOURCE)??,
        source_version: version(O_SOURCE_VERSION)?,
        rel_text,
        installed_size: number(F_INSTALLED_SIZE, O_INSTALLED_SIZE),
        filename: field(O_FILENAME)?,
        size: number(F_SIZE, O_SIZE),
        sha256: (flags & F_SHA256 != 0)
            .then(|| crate::hash::Digest(e[O_SHA256..O_SHA256 + 32].try_into().expect("32 bytes"))),
        description: field(O_DESCRIPTION)?,
        raw,
        line: get_u32(e, O_LINE),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_from_the_table_equal_the_parsed_ones() {
        let idx = "Package: a\nVersion: 1:2.0-3\nArchitecture: amd64\nMulti-Arch: same\n\
Essential: yes\nPriority: required\nSection: libs\nSource: asrc (1:2.0-1)\n\
Depends: b (>= 1), c | d\nProvides: e (= 1)\nInstalled-Size: 12\nFilename: pool/a.deb\n\
Size: 34\nSHA256: 0000000000000000000000000000000000000000000000000000000000000001\n\
Description: the a\n long text\n\nPackage: b\nVersion: 1\nArchitecture: all\n\
Priority: weird\nProtected: yes\nMulti-Arch: foreign\n\nPackage: c\nVersion: 0\nArchitecture: all\n";
        let parsed = super::super::parse_all(idx).unwrap();
        let table = RecordTable::build(idx.as_bytes()).unwrap().unwrap();
        assert_eq!(table.len(), 3);
        let again: Vec<_> = table.records(idx.as_bytes()).collect();
        assert_eq!(again, parsed);
        // The names apt meets, each once, in order.
        assert_eq!(
            table.names(idx.as_bytes()).unwrap(),
            ["a", "b", "c", "d", "e"]
        );
        // Read back from its bytes, it is the same.
        let back = RecordTable::from_bytes(table.as_bytes().to_vec(), idx.as_bytes()).unwrap();
        assert_eq!(back.names(idx.as_bytes()), table.names(idx.as_bytes()));
        assert_eq!(back.records(idx.as_bytes()).collect::<Vec<_>>(), parsed);
        assert_eq!(again[0].depends().to_string(), "b (>= 1), c | d");
    }

    #[test]
    fn a_table_of_another_index_or_damaged_is_refused() {
        let idx = "Package: a\nVersion: 1\nArchitecture: all\nDepends: b\n";
        let table = RecordTable::build(idx.as_bytes()).unwrap().unwrap();
        let bytes = table.as_bytes().to_vec();
        // Another index of another length.
        assert!(RecordTable::from_bytes(bytes.clone(), b"Package: b\n").is_none());
        // Truncated, or a record count that does not match.
        assert!(
            RecordTable::from_bytes(bytes[..bytes.len() - 1].to_vec(), idx.as_bytes()).is_none()
        );
        let mut wrong = bytes.clone();
        wrong[24] = 2;
        assert!(RecordTable::from_bytes(wrong, idx.as_bytes()).is_none());
        // A span beyond the index.
        let mut wrong = bytes.clone();
        wrong[HEADER + O_NAME..HEADER + O_NAME + 4].copy_from_slice(&1000u32.to_le_bytes());
        assert!(RecordTable::from_bytes(wrong, idx.as_bytes()).is_none());
        // A name beyond the index, or empty.
        let names_at = HEADER + ENTRY;
        let mut wrong = bytes.clone();
        wrong[names_at..names_at + 4].copy_from_slice(&1000u32.to_le_bytes());
        assert!(RecordTable::from_bytes(wrong, idx.as_bytes()).is_none());
        let mut wrong = bytes.clone();
        wrong[names_at + 4..names_at + 8].copy_from_slice(&0u32.to_le_bytes());
        assert!(RecordTable::from_bytes(wrong, idx.as_bytes()).is_none());
        // An unknown priority tag.
        let mut wrong = bytes.clone();
        wrong[HEADER + O_FLAGS] |= 7 << F_PRIORITY_SHIFT;
        assert!(RecordTable::from_bytes(wrong, idx.as_bytes()).is_none());
        // Another format.
        let mut wrong = bytes.clone();
        wrong[8] ^= 1;
        assert!(RecordTable::from_bytes(wrong, idx.as_bytes()).is_none());
        // A field beyond its record, or a version's upstream part beyond
        // the version.
        let idx2 = "Package: a\nVersion: 1\nArchitecture: all\nDescription: é\n\nPackage: b\nVersion: 1\nArchitecture: all\n";
        let t2 = RecordTable::build(idx2.as_bytes()).unwrap().unwrap();
        let mut wrong = t2.as_bytes().to_vec();
        let at = HEADER + O_DESCRIPTION + 4;
        let len = get_u32(&wrong, at);
        wrong[at..at + 4].copy_from_slice(&(len + 3).to_le_bytes());
        assert!(RecordTable::from_bytes(wrong, idx2.as_bytes()).is_none());
        let mut wrong = t2.as_bytes().to_vec();
        let at = HEADER + O_VERSION + 16;
        wrong[at..at + 4].copy_from_slice(&2u32.to_le_bytes());
        assert!(RecordTable::from_bytes(wrong, idx2.as_bytes()).is_none());
        // Unchanged, it is taken.
        assert!(RecordTable::from_bytes(bytes, idx.as_bytes()).is_some());
    }

    #[test]
    #[should_panic(expected = "a record table used with another index")]
    fn a_table_written_to_fit_but_off_a_character_boundary_stops() {
        let idx = "Package: a\nVersion: 1\nArchitecture: all\nDescription: é\n";
        let table = RecordTable::build(idx.as_bytes()).unwrap().unwrap();
        let mut wrong = table.as_bytes().to_vec();
        let at = HEADER + O_DESCRIPTION + 4;
        let len = get_u32(&wrong, at);
        wrong[at..at + 4].copy_from_slice(&(len - 1).to_le_bytes());
        let wrong = RecordTable::from_bytes(wrong, idx.as_bytes()).unwrap();
        wrong.records(idx.as_bytes()).for_each(drop);
    }

    #[test]
    fn pieces_make_one_table_and_the_first_error_is_reported() {
        let mut idx = String::new();
        for i in 0..40 {
            idx.push_str(&format!(
                "Package: p{i}\nVersion: {i}\nArchitecture: all\nDepends: p{}\n\n",
                i + 1
            ));
        }
        let parsed = super::super::parse_all(&idx).unwrap();
        for pieces in [1, 2, 3, 7] {
            let table = RecordTable::build_in(idx.as_bytes(), pieces)
                .unwrap()
                .unwrap();
            assert_eq!(table.records(idx.as_bytes()).collect::<Vec<_>>(), parsed);
        }
        // Errors in the second and the last piece: the first, with its line
        // in the whole index.
        let bad = idx
            .replace("Depends: p21\n", "Depends: (\n")
            .replace("Depends: p40\n", "Depends: )\n");
        let err = RecordTable::build_in(bad.as_bytes(), 3).unwrap_err();
        assert_eq!(err.line, 20 * 5 + 4);
    }

    #[test]
    fn a_bad_index_makes_no_table() {
        let err = RecordTable::build(b"Package: a\nVersion: 1\nArchitecture: all\nDepends: (\n")
            .unwrap_err();
        assert_eq!(err.line, 4);
    }
}
