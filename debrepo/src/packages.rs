//! Binary package records of a `Packages` index (and of `.deb` control
//! files, which have the same fields).
//!
//! [`PackagesParser`] turns a whole decompressed index into typed
//! [`BinaryPackage`] records that borrow from the buffer: no copies, no
//! allocation per record. Relationship fields are checked as the record is
//! parsed and kept as text: [`BinaryPackage::relations`] parses one again
//! when asked, [`BinaryPackage::relation_names`] reads only its names. A
//! pass over a whole index (half a million relations in trixie's) so holds
//! no parsed relation, and a solve parses only the records it visits.
//! [`parse_index`] parses a large index on every core: an empty line
//! always ends a stanza, so the text is cut after empty lines into
//! independent pieces. Fields the record does not type stay reachable
//! through [`BinaryPackage::field`].
//!
//! Version fields are read laxly (dpkg's and apt's behaviour for indices),
//! relationship fields with the rules of [`crate::relation`].

use crate::deb822::{self, Comments, Event, Parser};
use crate::hash::{HexError, Sha256};
use crate::relation::{self, FieldKind, Relation, RelationError, Relations};
use crate::version::{Version, VersionError};

/// The `Multi-Arch` field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum MultiArch {
    #[default]
    No,
    Same,
    Foreign,
    Allowed,
}

/// The `Priority` field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Priority<'a> {
    Required,
    Important,
    Standard,
    Optional,
    Extra,
    Other(&'a str),
}

impl<'a> Priority<'a> {
    fn parse(s: &'a str) -> Self {
        match s {
            "required" => Priority::Required,
            "important" => Priority::Important,
            "standard" => Priority::Standard,
            "optional" => Priority::Optional,
            "extra" => Priority::Extra,
            other => Priority::Other(other),
        }
    }
}

/// One binary package record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BinaryPackage<'a> {
    pub name: &'a str,
    pub version: Version<'a>,
    pub architecture: &'a str,
    pub multi_arch: MultiArch,
    pub essential: bool,
    pub protected: bool,
    pub priority: Option<Priority<'a>>,
    pub section: Option<&'a str>,
    /// Source package name (the binary's own name if `Source` is absent).
    pub source: &'a str,
    /// Source version, when `Source` gives one in parentheses.
    pub source_version: Option<Version<'a>>,
    /// Where each of [`REL_KINDS`] is in `raw`: (start, length), length 0
    /// when absent; checked when the record was parsed (see the module).
    rel_text: [(u32, u32); 10],
    pub installed_size: Option<u64>,
    pub filename: Option<&'a str>,
    pub size: Option<u64>,
    pub sha256: Option<Sha256>,
    /// The raw description: synopsis line, then the long description.
    pub description: Option<&'a str>,
    /// The whole stanza as written, for other fields.
    pub raw: &'a str,
    /// 1-based line of the stanza in the input.
    pub line: u32,
}

impl<'a> BinaryPackage<'a> {
    /// Any field of the stanza by name (case-insensitive), raw value.
    pub fn field(&self, name: &str) -> Option<&'a str> {
        let mut p = Parser::new(self.raw, Comments::Forbidden);
        while let Some(Ok(Event::Field(f))) = p.next_event() {
            if f.is(name) {
                return Some(f.value);
            }
        }
        None
    }

    /// The one-line synopsis of the description.
    pub fn synopsis(&self) -> Option<&'a str> {
        self.description.map(|d| d.split('\n').next().unwrap_or(""))
    }

    /// The relationship field of the given kind (empty for source-only
    /// kinds), parsed (see `rel_text`).
    pub fn relations(&self, kind: FieldKind) -> Relations<'a> {
        match REL_KINDS.iter().position(|&k| k == kind) {
            Some(i) if self.rel_text[i].1 > 0 => relation::parse(kind, self.rel_field(i))
                .expect("relationship fields are checked when the record is parsed"),
            _ => Relations::default(),
        }
    }

    /// The names and architecture qualifiers of a relationship field's
    /// alternatives, in order, read without parsing the rest (versions,
    /// restrictions): for a pass over a whole index.
    pub fn relation_names(&self, kind: FieldKind) -> relation::Names<'a> {
        let text = match REL_KINDS.iter().position(|&k| k == kind) {
            Some(i) => self.rel_field(i),
            None => "",
        };
        relation::Names::new(text)
    }

    /// True if every relationship field of both records reads the same.
    pub(crate) fn same_relations(&self, other: &BinaryPackage<'_>) -> bool {
        (0..REL_KINDS.len()).all(|i| self.rel_field(i) == other.rel_field(i))
    }

    /// The raw value of `REL_KINDS[i]` (empty when absent).
    fn rel_field(&self, i: usize) -> &'a str {
        let (start, len) = self.rel_text[i];
        &self.raw[start as usize..(start + len) as usize]
    }

    /// `Depends`.
    pub fn depends(&self) -> Relations<'a> {
        self.relations(FieldKind::Depends)
    }

    /// `Pre-Depends`.
    pub fn pre_depends(&self) -> Relations<'a> {
        self.relations(FieldKind::PreDepends)
    }

    /// `Recommends`.
    pub fn recommends(&self) -> Relations<'a> {
        self.relations(FieldKind::Recommends)
    }

    /// `Suggests`.
    pub fn suggests(&self) -> Relations<'a> {
        self.relations(FieldKind::Suggests)
    }

    /// `Enhances`.
    pub fn enhances(&self) -> Relations<'a> {
        self.relations(FieldKind::Enhances)
    }

    /// `Conflicts`.
    pub fn conflicts(&self) -> Relations<'a> {
        self.relations(FieldKind::Conflicts)
    }

    /// `Breaks`.
    pub fn breaks(&self) -> Relations<'a> {
        self.relations(FieldKind::Breaks)
    }

    /// `Replaces`.
    pub fn replaces(&self) -> Relations<'a> {
        self.relations(FieldKind::Replaces)
    }

    /// `Provides`.
    pub fn provides(&self) -> Relations<'a> {
        self.relations(FieldKind::Provides)
    }

    /// `Built-Using`.
    pub fn built_using(&self) -> Relations<'a> {
        self.relations(FieldKind::BuiltUsing)
    }
}

/// An error in a Packages index, placed by line and package.
///
/// The message holds what is wrong ([`PackageErrorKind`]); its source is
/// the kind's own source, so an error chain does not say it twice.
#[derive(Debug)]
pub struct PackagesError {
    pub line: u32,
    pub package: Option<String>,
    pub kind: PackageErrorKind,
}

impl std::fmt::Display for PackagesError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "line {}", self.line)?;
        if let Some(p) = &self.package {
            write!(f, " (package {p})")?;
        }
        write!(f, ": {}", self.kind)
    }
}

impl std::error::Error for PackagesError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        std::error::Error::source(&self.kind)
    }
}

/// What is wrong with a record.
#[derive(Debug, thiserror::Error)]
pub enum PackageErrorKind {
    #[error("syntax error")]
    Syntax(#[source] deb822::Error),
    #[error("missing required field {0}")]
    Missing(&'static str),
    #[error("field {0} appears twice")]
    Duplicate(&'static str),
    #[error("invalid package name {0:?}")]
    BadName(String),
    #[error("invalid {field} {text:?}")]
    BadVersion {
        field: &'static str,
        text: String,
        #[source]
        source: VersionError,
    },
    #[error("invalid relationship")]
    BadRelation(#[source] RelationError),
    #[error("field {field}: expected a number, got {text:?}")]
    BadNumber { field: &'static str, text: String },
    #[error("field {field}: invalid value {text:?}")]
    BadValue { field: &'static str, text: String },
    #[error("invalid SHA256")]
    BadSha256(#[source] HexError),
}

impl PackageErrorKind {
    /// The field the error is about, if one.
    fn field(&self) -> Option<&'static str> {
        match self {
            PackageErrorKind::BadVersion { field, .. } => Some(if *field == "Version" {
                "Version"
            } else {
                "Source"
            }),
            PackageErrorKind::BadRelation(e) => Some(e.field),
            PackageErrorKind::BadNumber { field, .. }
            | PackageErrorKind::BadValue { field, .. } => Some(field),
            PackageErrorKind::BadSha256(_) => Some("SHA256"),
            PackageErrorKind::BadName(_) => Some("Package"),
            _ => None,
        }
    }
}

/// 1-based line of `field` within `stanza` (errors are rare: scan again).
fn field_line(stanza: &str, field: &str) -> Option<u32> {
    let mut p = Parser::new(stanza, Comments::Forbidden);
    while let Some(Ok(Event::Field(f))) = p.next_event() {
        if f.is(field) {
            return Some(f.line);
        }
    }
    None
}

/// Parses a buffer holding a whole Packages index (or a control file).
pub struct PackagesParser<'a> {
    parser: Parser<'a>,
    /// Where relationship fields are parsed to be checked.
    scratch: Vec<Relation<'a>>,
}

impl<'a> PackagesParser<'a> {
    /// Parse `text`.
    pub fn new(text: &'a str) -> Self {
        Self::over(Parser::new(text, Comments::Forbidden))
    }

    fn over(parser: Parser<'a>) -> Self {
        PackagesParser {
            parser,
            scratch: Vec::new(),
        }
    }

    /// Parse bytes, which must be UTF-8.
    pub fn from_bytes(bytes: &'a [u8]) -> Result<Self, PackagesError> {
        let parser = Parser::from_bytes(bytes, Comments::Forbidden).map_err(|e| PackagesError {
            line: e.line,
            package: None,
            kind: PackageErrorKind::Syntax(e),
        })?;
        Ok(Self::over(parser))
    }
}

impl<'a> Iterator for PackagesParser<'a> {
    type Item = Result<BinaryPackage<'a>, PackagesError>;

    fn next(&mut self) -> Option<Self::Item> {
        parse_record(&mut self.parser, &mut self.scratch)
    }
}

/// Indices smaller than this are parsed on the calling thread alone.
const PIECE_MIN: usize = 4 << 20;

/// Parse a whole index (UTF-8 bytes), handing each record to `each` in
/// the input's order.
///
/// A large index is cut after empty lines into one piece per available
/// core. The pieces after the first are parsed on their own threads while
/// the first is parsed here and handed over record by record, so what
/// `each` does overlaps with parsing, and no list of the first piece's
/// records is ever held. The error is the first one in input order, with
/// its line in the whole input; some of the records before it (none
/// after) may have been handed over.
pub fn parse_index<'a>(
    bytes: &'a [u8],
    each: impl FnMut(BinaryPackage<'a>),
) -> Result<(), PackagesError> {
    parse_pieces(bytes, piece_count(bytes.len()), each)
}

/// How many pieces an index of `len` bytes is parsed in.
fn piece_count(len: usize) -> usize {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    cores.min(len / PIECE_MIN).max(1)
}

/// A parser of the `k`-th piece of `bytes` cut at `bounds`, its lines
/// counted from the start of `bytes`.
fn piece_parser<'a>(
    bytes: &'a [u8],
    bounds: &[usize],
    k: usize,
) -> Result<PackagesParser<'a>, PackagesError> {
    let (start, end) = (bounds[k], bounds[k + 1]);
    let text = std::str::from_utf8(&bytes[start..end]).map_err(|e| {
        let (line, column) = deb822::position(bytes, start + e.valid_up_to());
        let kind = deb822::ErrorKind::InvalidUtf8;
        PackagesError {
            line,
            package: None,
            kind: PackageErrorKind::Syntax(deb822::Error { line, column, kind }),
        }
    })?;
    let lines_before = memchr::memchr_iter(b'\n', &bytes[..start]).count() as u32;
    Ok(PackagesParser::over(Parser::after_lines(
        text,
        Comments::Forbidden,
        lines_before,
    )))
}

/// [`parse_index`] in at most `pieces` pieces.
fn parse_pieces<'a>(
    bytes: &'a [u8],
    pieces: usize,
    mut each: impl FnMut(BinaryPackage<'a>),
) -> Result<(), PackagesError> {
    let bounds = piece_bounds(bytes, pieces, true);
    let piece = |k: usize| piece_parser(bytes, &bounds, k);
    std::thread::scope(|s| {
        let rest: Vec<_> = (1..bounds.len() - 1)
            .map(|k| s.spawn(move || piece(k)?.collect::<Result<Vec<_>, _>>()))
            .collect();
        for record in piece(0)? {
            each(record?);
        }
        for handle in rest {
            let records = handle
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic))?;
            records.into_iter().for_each(&mut each);
        }
        Ok(())
    })
}

/// Where to cut `bytes` into at most `pieces` pieces, each (but the last)
/// ending right after an empty line: the offsets from 0 to the length.
/// With `small_first`, the first piece is the smaller by half (for
/// [`parse_index`]: its records are handed over as it is parsed, and
/// handing over costs about what parsing does); else they are even.
fn piece_bounds(bytes: &[u8], pieces: usize, small_first: bool) -> Vec<usize> {
    let mut bounds = vec![0];
    // In halves of a piece: the first piece 1 (or 2), the others 2 each.
    let halves = 2 * pieces - usize::from(small_first);
    for k in 1..pieces {
        let at = bytes.len() * (2 * k - usize::from(small_first)) / halves;
        let from = at.max(*bounds.last().unwrap_or(&0));
        match memchr::memmem::find(&bytes[from..], b"\n\n") {
            Some(i) if from + i + 2 < bytes.len() => bounds.push(from + i + 2),
            _ => break,
        }
    }
    bounds.push(bytes.len());
    bounds
}

/// Parse all records of an index.
pub fn parse_all(text: &str) -> Result<Vec<BinaryPackage<'_>>, PackagesError> {
    PackagesParser::new(text).collect()
}

/// Parse exactly one record (a `.deb`'s control file).
pub fn parse_control(text: &str) -> Result<BinaryPackage<'_>, PackagesError> {
    let mut p = PackagesParser::new(text);
    let pkg = p.next().unwrap_or(Err(PackagesError {
        line: 1,
        package: None,
        kind: PackageErrorKind::Missing("Package"),
    }))?;
    if let Some(next) = p.next() {
        let line = next.map_or_else(|e| e.line, |n| n.line);
        return Err(PackagesError {
            line,
            package: Some(pkg.name.to_owned()),
            kind: PackageErrorKind::Syntax(deb822::Error {
                line,
                column: 1,
                kind: deb822::ErrorKind::MoreThanOneStanza,
            }),
        });
    }
    Ok(pkg)
}

// Bits for duplicate detection of typed fields.
const F_PACKAGE: u32 = 1 << 0;
const F_VERSION: u32 = 1 << 1;
const F_ARCH: u32 = 1 << 2;

#[derive(Default)]
struct Raw<'a> {
    name: Option<&'a str>,
    version: Option<&'a str>,
    arch: Option<&'a str>,
    rel: [Option<&'a str>; 10],
    multi_arch: Option<&'a str>,
    essential: Option<&'a str>,
    protected: Option<&'a str>,
    priority: Option<&'a str>,
    section: Option<&'a str>,
    source: Option<&'a str>,
    installed_size: Option<&'a str>,
    filename: Option<&'a str>,
    size: Option<&'a str>,
    sha256: Option<&'a str>,
    description: Option<&'a str>,
}

/// The relationship fields of binary packages, in the order records keep them.
pub const REL_KINDS: [FieldKind; 10] = [
    FieldKind::Depends,
    FieldKind::PreDepends,
    FieldKind::Recommends,
    FieldKind::Suggests,
    FieldKind::Enhances,
    FieldKind::Conflicts,
    FieldKind::Breaks,
    FieldKind::Replaces,
    FieldKind::Provides,
    FieldKind::BuiltUsing,
];

fn parse_record<'a>(
    p: &mut Parser<'a>,
    scratch: &mut Vec<Relation<'a>>,
) -> Option<Result<BinaryPackage<'a>, PackagesError>> {
    let mut raw = Raw::default();
    let mut seen = 0u32;
    let mut start = None;
    let mut line = 0;
    loop {
        let before = p.offset();
        let ev = match p.next_event()? {
            Ok(ev) => ev,
            Err(e) => {
                return Some(Err(PackagesError {
                    line: e.line,
                    package: raw.name.map(str::to_owned),
                    kind: PackageErrorKind::Syntax(e),
                }))
            }
        };
        match ev {
            Event::Field(f) => {
                if start.is_none() {
                    start = Some(before);
                    line = f.line;
                }
                if let Err(kind) = assign(&mut raw, &mut seen, f.name, f.value) {
                    return Some(Err(PackagesError {
                        line: f.line,
                        package: raw.name.map(str::to_owned),
                        kind,
                    }));
                }
            }
            Event::Comment(_) => {}
            Event::EndOfStanza => {
                let text = p.text();
                let end = p.offset().min(text.len());
                let stanza = text[start.unwrap_or(end)..end].trim_end_matches(['\n', ' ', '\t']);
                let name = raw.name;
                return Some(build(raw, stanza, line, scratch).map_err(|kind| {
                    PackagesError {
                        line: kind
                            .field()
                            .and_then(|f| field_line(stanza, f))
                            .map_or(line, |l| line + l - 1),
                        package: name.map(str::to_owned),
                        kind,
                    }
                }));
            }
        }
    }
}

/// Store a field's value in its slot. Names are compared case-insensitively,
/// but canonical spelling is tried first; dispatch on length and first
/// letter keeps this to about one comparison per field.
#[inline]
fn assign<'a>(
    raw: &mut Raw<'a>,
    seen: &mut u32,
    name: &'a str,
    value: &'a str,
) -> Result<(), PackageErrorKind> {
    let eq = |s: &str| name == s || name.eq_ignore_ascii_case(s);
    let first = name.as_bytes()[0].to_ascii_lowercase();
    let slot: &mut Option<&'a str> = match (name.len(), first) {
        (4, b's') if eq("Size") => &mut raw.size,
        (6, b's') if eq("SHA256") => &mut raw.sha256,
        (6, b's') if eq("Source") => &mut raw.source,
        (6, b'b') if eq("Breaks") => &mut raw.rel[6],
        (7, b'p') if eq("Package") => {
            dup(seen, F_PACKAGE, "Package")?;
            &mut raw.name
        }
        (7, b'v') if eq("Version") => {
            dup(seen, F_VERSION, "Version")?;
            &mut raw.version
        }
        (7, b'd') if eq("Depends") => &mut raw.rel[0],
        (7, b's') if eq("Section") => &mut raw.section,
        (8, b'p') if eq("Priority") => &mut raw.priority,
        (8, b'p') if eq("Provides") => &mut raw.rel[8],
        (8, b'f') if eq("Filename") => &mut raw.filename,
        (8, b'r') if eq("Replaces") => &mut raw.rel[7],
        (8, b's') if eq("Suggests") => &mut raw.rel[3],
        (8, b'e') if eq("Enhances") => &mut raw.rel[4],
        (9, b'c') if eq("Conflicts") => &mut raw.rel[5],
        (9, b'e') if eq("Essential") => &mut raw.essential,
        (9, b'p') if eq("Protected") => &mut raw.protected,
        (10, b'm') if eq("Multi-Arch") => &mut raw.multi_arch,
        (10, b'r') if eq("Recommends") => &mut raw.rel[2],
        (11, b'p') if eq("Pre-Depends") => &mut raw.rel[1],
        (11, b'd') if eq("Description") => &mut raw.description,
        (11, b'b') if eq("Built-Using") => &mut raw.rel[9],
        (12, b'a') if eq("Architecture") => {
            dup(seen, F_ARCH, "Architecture")?;
            &mut raw.arch
        }
        (14, b'i') if eq("Installed-Size") => &mut raw.installed_size,
        _ => return Ok(()),
    };
    *slot = Some(value);
    Ok(())
}

#[inline]
fn dup(seen: &mut u32, bit: u32, name: &'static str) -> Result<(), PackageErrorKind> {
    if *seen & bit != 0 {
        return Err(PackageErrorKind::Duplicate(name));
    }
    *seen |= bit;
    Ok(())
}

fn number(field: &'static str, v: Option<&str>) -> Result<Option<u64>, PackageErrorKind> {
    v.map(|s| {
        s.parse().map_err(|_| PackageErrorKind::BadNumber {
            field,
            text: s.to_owned(),
        })
    })
    .transpose()
}

fn yes_no(field: &'static str, v: Option<&str>) -> Result<bool, PackageErrorKind> {
    match v {
        None | Some("no") => Ok(false),
        Some("yes") => Ok(true),
        Some(other) => Err(PackageErrorKind::BadValue {
            field,
            text: other.to_owned(),
        }),
    }
}

fn build<'a>(
    raw: Raw<'a>,
    stanza: &'a str,
    line: u32,
    scratch: &mut Vec<Relation<'a>>,
) -> Result<BinaryPackage<'a>, PackageErrorKind> {
    let name = raw.name.ok_or(PackageErrorKind::Missing("Package"))?;
    if !relation::is_valid_package_name(name) {
        return Err(PackageErrorKind::BadName(name.to_owned()));
    }
    let vtext = raw.version.ok_or(PackageErrorKind::Missing("Version"))?;
    let version = Version::parse_lax(vtext).map_err(|source| PackageErrorKind::BadVersion {
        field: "Version",
        text: vtext.to_owned(),
        source,
    })?;
    let architecture = raw.arch.ok_or(PackageErrorKind::Missing("Architecture"))?;
    let multi_arch = match raw.multi_arch {
        None | Some("no") => MultiArch::No,
        Some("same") => MultiArch::Same,
        Some("foreign") => MultiArch::Foreign,
        Some("allowed") => MultiArch::Allowed,
        Some(other) => {
            return Err(PackageErrorKind::BadValue {
                field: "Multi-Arch",
                text: other.to_owned(),
            })
        }
    };
    let (source, source_version) = match raw.source {
        None => (name, None),
        Some(s) => match s.split_once('(') {
            None => (s.trim(), None),
            Some((src, ver)) => {
                let v = ver.trim_end().strip_suffix(')').unwrap_or(ver).trim();
                let v = Version::parse_lax(v).map_err(|source| PackageErrorKind::BadVersion {
                    field: "Source version",
                    text: v.to_owned(),
                    source,
                })?;
                (src.trim(), Some(v))
            }
        },
    };
    // Every relationship field is checked now and kept as text (see
    // `rel_text`).
    let mut rel_text = [(0u32, 0u32); 10];
    for (i, text) in raw.rel.iter().enumerate() {
        if let Some(text) = text {
            scratch.clear();
            relation::parse_into(REL_KINDS[i], text, scratch)
                .map_err(PackageErrorKind::BadRelation)?;
            // Field values are slices of the stanza.
            let start = text.as_ptr() as usize - stanza.as_ptr() as usize;
            rel_text[i] = (start as u32, text.len() as u32);
        }
    }
    let sha256 = raw
        .sha256
        .map(Sha256::from_hex)
        .transpose()
        .map_err(PackageErrorKind::BadSha256)?;
    Ok(BinaryPackage {
        name,
        version,
        architecture,
        multi_arch,
        essential: yes_no("Essential", raw.essential)?,
        protected: yes_no("Protected", raw.protected)?,
        priority: raw.priority.map(Priority::parse),
        section: raw.section,
        source,
        source_version,
        rel_text,
        installed_size: number("Installed-Size", raw.installed_size)?,
        filename: raw.filename,
        size: number("Size", raw.size)?,
        sha256,
        description: raw.description,
        raw: stanza,
        line,
    })
}

pub mod table;

pub use table::RecordTable;

#[cfg(test)]
mod tests;
