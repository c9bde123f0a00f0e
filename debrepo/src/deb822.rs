//! Control data in the deb822 format (deb822(5)): stanzas of `Name: value`
//! fields separated by empty lines.
//!
//! The parser works on a borrowed buffer and never copies: a [`Field`] holds
//! slices of the input, its value (first line, then each continuation line
//! with its leading white space) and its raw text, so that [`Stanza::write`]
//! reproduces the input byte for byte.
//!
//! Rules, as dpkg applies them:
//! - field names are matched case-insensitively; they may not start with `#`
//!   or `-` and may not contain white space or control characters;
//! - leading white space of a value is dropped, trailing white space too;
//! - a line of spaces and tabs only separates stanzas like an empty line;
//! - a field may appear once per stanza;
//! - `#` comment lines exist only where a format allows them (source package
//!   control files, deb822 `.sources`): they are ignored, also in the middle of
//!   a multi-line field, and do not end it. Elsewhere a `#` line is an error.

mod reader;
pub use reader::{ReadError, StanzaReader};

/// A parse error, located by 1-based line and column in the input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}, column {column}: {kind}")]
pub struct Error {
    pub line: u32,
    pub column: u32,
    pub kind: ErrorKind,
}

/// What is wrong with a line of control data.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ErrorKind {
    #[error("invalid UTF-8")]
    InvalidUtf8,
    #[error("field line has no ':' after the field name")]
    MissingColon,
    #[error("empty field name")]
    EmptyFieldName,
    #[error("invalid character {0:?} in field name")]
    InvalidFieldName(char),
    #[error("continuation line outside of a field")]
    ContinuationOutsideField,
    #[error("field {0:?} appears twice in one stanza")]
    DuplicateField(String),
    #[error("comment lines are not allowed in this kind of control file")]
    CommentNotAllowed,
    #[error("a second stanza where only one is allowed")]
    MoreThanOneStanza,
}

/// One field of a stanza, borrowed from the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Field<'a> {
    /// The name as written (compare with [`Field::is`]).
    pub name: &'a str,
    /// The raw value: first line (leading white space removed), then every
    /// continuation line with its own leading white space, joined by `\n`.
    pub value: &'a str,
    /// Everything after the colon up to the end of the value, untouched
    /// (leading and trailing white space kept): what the writer writes.
    pub raw: &'a str,
    /// 1-based line of the field name.
    pub line: u32,
}

impl<'a> Field<'a> {
    /// True if the field is called `name` (ASCII case-insensitive).
    pub fn is(&self, name: &str) -> bool {
        self.name.eq_ignore_ascii_case(name)
    }

    /// The value's lines: the first one as is, the continuation lines with
    /// one leading space or tab removed. Comment lines are skipped.
    pub fn lines(&self) -> impl Iterator<Item = &'a str> {
        value_lines(self.value)
    }

    /// The value folded onto one line: lines joined by single spaces, each
    /// trimmed (the form of simple and folded fields such as `Depends`).
    pub fn folded(&self) -> String {
        let mut out = String::with_capacity(self.value.len());
        for line in self.lines() {
            let line = line.trim();
            if line.is_empty() {
                continue;
            }
            if !out.is_empty() {
                out.push(' ');
            }
            out.push_str(line);
        }
        out
    }
}

fn value_lines(value: &str) -> impl Iterator<Item = &str> {
    let mut first = true;
    value.split('\n').filter_map(move |line| {
        if std::mem::take(&mut first) {
            return Some(line);
        }
        if line.starts_with('#') {
            return None;
        }
        Some(line.strip_prefix([' ', '\t']).unwrap_or(line))
    })
}

/// An item of a stanza in written order, for round-tripping.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Item<'a> {
    Field(Field<'a>),
    /// A whole comment line, `#` included.
    Comment(&'a str),
}

/// One stanza (paragraph): its fields in the order written.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stanza<'a> {
    items: Vec<Item<'a>>,
    line: u32,
}

impl<'a> Stanza<'a> {
    /// 1-based line of the stanza's first field (0 if it has none).
    pub fn line(&self) -> u32 {
        self.line
    }

    /// Fields in written order.
    pub fn fields(&self) -> impl Iterator<Item = &Field<'a>> {
        self.items.iter().filter_map(|i| match i {
            Item::Field(f) => Some(f),
            Item::Comment(_) => None,
        })
    }

    /// Fields and comments in written order.
    pub fn items(&self) -> &[Item<'a>] {
        &self.items
    }

    /// The field called `name` (case-insensitive).
    pub fn field(&self, name: &str) -> Option<&Field<'a>> {
        self.fields().find(|f| f.is(name))
    }

    /// The raw value of the field called `name` (case-insensitive).
    pub fn get(&self, name: &str) -> Option<&'a str> {
        self.field(name).map(|f| f.value)
    }

    /// Number of fields.
    pub fn len(&self) -> usize {
        self.fields().count()
    }

    /// True if the stanza has no field.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Append the stanza in canonical form (no trailing empty line).
    pub fn write(&self, out: &mut String) {
        for item in &self.items {
            match item {
                Item::Field(f) => {
                    out.push_str(f.name);
                    out.push(':');
                    out.push_str(f.raw);
                    out.push('\n');
                }
                Item::Comment(c) => {
                    out.push_str(c);
                    out.push('\n');
                }
            }
        }
    }
}

/// Append `Name: value\n`; a value that starts with a line break (an empty
/// first line, as in `Conffiles:`) is written without the space.
pub fn write_field(out: &mut String, name: &str, value: &str) {
    out.push_str(name);
    out.push(':');
    if !value.is_empty() && !value.starts_with('\n') {
        out.push(' ');
    }
    out.push_str(value);
    out.push('\n');
}

/// Write stanzas separated by empty lines: the canonical form of a file.
pub fn write_stanzas<'s, 'a: 's>(stanzas: impl IntoIterator<Item = &'s Stanza<'a>>) -> String {
    let mut out = String::new();
    for (i, s) in stanzas.into_iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        s.write(&mut out);
    }
    out
}

/// Something the parser met: a field, a comment or the end of a stanza.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event<'a> {
    Field(Field<'a>),
    Comment(&'a str),
    /// The stanza that was open ended (empty line or end of input).
    EndOfStanza,
}

/// Whether `#` comment lines are allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Comments {
    /// Binary control files, Packages, Release, the dpkg database.
    #[default]
    Forbidden,
    /// Source package control files and deb822 `.sources` lists.
    Allowed,
}

/// A pull parser over control data, yielding [`Event`]s without allocating.
#[derive(Debug, Clone)]
pub struct Parser<'a> {
    text: &'a str,
    pos: usize,
    line: u32,
    comments: Comments,
    in_stanza: bool,
}

impl<'a> Parser<'a> {
    /// Parse UTF-8 bytes; invalid UTF-8 is reported with its position.
    pub fn from_bytes(bytes: &'a [u8], comments: Comments) -> Result<Self, Error> {
        match std::str::from_utf8(bytes) {
            Ok(text) => Ok(Self::new(text, comments)),
            Err(e) => {
                let (line, column) = position(bytes, e.valid_up_to());
                Err(Error {
                    line,
                    column,
                    kind: ErrorKind::InvalidUtf8,
                })
            }
        }
    }

    /// Parse text.
    pub fn new(text: &'a str, comments: Comments) -> Self {
        Parser {
            text,
            pos: 0,
            line: 0,
            comments,
            in_stanza: false,
        }
    }

    /// Parse text that follows `lines_before` lines of a larger input:
    /// lines (and so errors and records) are numbered as in that input.
    pub fn after_lines(text: &'a str, comments: Comments, lines_before: u32) -> Self {
        Parser {
            line: lines_before,
            ..Self::new(text, comments)
        }
    }

    /// The input.
    pub fn text(&self) -> &'a str {
        self.text
    }

    /// Byte offset of the next unread line.
    pub fn offset(&self) -> usize {
        self.pos
    }

    /// Line number (1-based) of the last line read.
    pub fn line(&self) -> u32 {
        self.line
    }

    fn error(&self, line: u32, column: u32, kind: ErrorKind) -> Error {
        Error { line, column, kind }
    }

    /// Read the next line: (start, end without newline); advances.
    #[inline]
    fn take_line(&mut self) -> (usize, usize) {
        let bytes = self.text.as_bytes();
        let start = self.pos;
        let end = memchr::memchr(b'\n', &bytes[start..]).map_or(bytes.len(), |i| start + i);
        self.pos = (end + 1).min(bytes.len());
        self.line += 1;
        (start, end)
    }

    /// The next event, or `None` at the end of the input.
    pub fn next_event(&mut self) -> Option<Result<Event<'a>, Error>> {
        let bytes = self.text.as_bytes();
        loop {
            if self.pos >= bytes.len() {
                if std::mem::take(&mut self.in_stanza) {
                    return Some(Ok(Event::EndOfStanza));
                }
                return None;
            }
            let (start, end) = self.take_line();
            let line = &bytes[start..end];
            match line.first() {
                None => {}
                Some(b' ' | b'\t') => {
                    if line.iter().all(|&b| b == b' ' || b == b'\t') {
                        // A blank line: separates stanzas.
                    } else {
                        return Some(Err(self.error(
                            self.line,
                            1,
                            ErrorKind::ContinuationOutsideField,
                        )));
                    }
                }
                Some(b'#') => {
                    if self.comments == Comments::Forbidden {
                        return Some(Err(self.error(self.line, 1, ErrorKind::CommentNotAllowed)));
                    }
                    self.in_stanza = true;
                    return Some(Ok(Event::Comment(&self.text[start..end])));
                }
                Some(_) => {
                    self.in_stanza = true;
                    return Some(self.field(start, end));
                }
            }
            if std::mem::take(&mut self.in_stanza) {
                return Some(Ok(Event::EndOfStanza));
            }
        }
    }

    fn field(&mut self, start: usize, end: usize) -> Result<Event<'a>, Error> {
        let bytes = self.text.as_bytes();
        let line_no = self.line;
        let line = &bytes[start..end];
        let colon = memchr::memchr(b':', line)
            .ok_or_else(|| self.error(line_no, (line.len() + 1) as u32, ErrorKind::MissingColon))?;
        if colon == 0 {
            return Err(self.error(line_no, 1, ErrorKind::EmptyFieldName));
        }
        let name = &self.text[start..start + colon];
        // Printable ASCII without ':' (already excluded), not starting with '-'.
        let bad = name
            .bytes()
            .position(|c| !c.is_ascii_graphic())
            .or((name.as_bytes()[0] == b'-').then_some(0));
        if let Some(i) = bad {
            let c = name[i..].chars().next().unwrap_or('?');
            return Err(self.error(line_no, i as u32 + 1, ErrorKind::InvalidFieldName(c)));
        }
        let raw_start = start + colon + 1;
        let mut vstart = raw_start;
        while vstart < end && matches!(bytes[vstart], b' ' | b'\t') {
            vstart += 1;
        }
        let mut vend = end;
        // Continuation lines (and, where allowed, comments inside the value).
        loop {
            match bytes.get(self.pos) {
                Some(b' ' | b'\t') => {
                    let save = (self.pos, self.line);
                    let (s, e) = self.take_line();
                    if bytes[s..e].iter().all(|&b| b == b' ' || b == b'\t') {
                        // A blank line ends the stanza; leave it for next_event.
                        (self.pos, self.line) = save;
                        break;
                    }
                    vend = e;
                }
                Some(b'#') if self.comments == Comments::Allowed => {
                    // Comment lines belong to the value only if a
                    // continuation line follows them.
                    let save = (self.pos, self.line);
                    while bytes.get(self.pos) == Some(&b'#') {
                        self.take_line();
                    }
                    if !matches!(bytes.get(self.pos), Some(b' ' | b'\t')) {
                        (self.pos, self.line) = save;
                        break;
                    }
                }
                _ => break,
            }
        }
        if vstart > vend {
            vstart = vend;
        }
        let value = self.text[vstart..vend].trim_end_matches([' ', '\t', '\r']);
        Ok(Event::Field(Field {
            name,
            value,
            raw: &self.text[raw_start..vend],
            line: line_no,
        }))
    }

    /// The next stanza, or `None` at the end of the input.
    pub fn next_stanza(&mut self) -> Option<Result<Stanza<'a>, Error>> {
        let mut stanza = Stanza::default();
        loop {
            match self.next_event()? {
                Err(e) => return Some(Err(e)),
                Ok(Event::Field(f)) => {
                    if stanza.line == 0 {
                        stanza.line = f.line;
                    }
                    if stanza.field(f.name).is_some() {
                        return Some(Err(self.error(
                            f.line,
                            1,
                            ErrorKind::DuplicateField(f.name.to_owned()),
                        )));
                    }
                    stanza.items.push(Item::Field(f));
                }
                Ok(Event::Comment(c)) => stanza.items.push(Item::Comment(c)),
                Ok(Event::EndOfStanza) => return Some(Ok(stanza)),
            }
        }
    }
}

impl<'a> Iterator for Parser<'a> {
    type Item = Result<Stanza<'a>, Error>;
    fn next(&mut self) -> Option<Self::Item> {
        self.next_stanza()
    }
}

/// Parse all stanzas of `text`.
pub fn parse(text: &str, comments: Comments) -> Result<Vec<Stanza<'_>>, Error> {
    Parser::new(text, comments).collect()
}

/// Parse exactly one stanza (a binary package's `control` file, say).
/// Empty input gives an empty stanza.
pub fn parse_one(text: &str, comments: Comments) -> Result<Stanza<'_>, Error> {
    let mut p = Parser::new(text, comments);
    let first = p.next_stanza().transpose()?.unwrap_or_default();
    if let Some(next) = p.next_stanza().transpose()? {
        return Err(Error {
            line: next.line(),
            column: 1,
            kind: ErrorKind::MoreThanOneStanza,
        });
    }
    Ok(first)
}

/// 1-based line and column of byte offset `at`.
pub fn position(bytes: &[u8], at: usize) -> (u32, u32) {
    let at = at.min(bytes.len());
    let before = &bytes[..at];
    let line = memchr::memchr_iter(b'\n', before).count() as u32 + 1;
    let col_start = memchr::memrchr(b'\n', before).map_or(0, |i| i + 1);
    (line, (at - col_start) as u32 + 1)
}

/// Format a list of fields as one stanza (for building control data).
pub fn format_fields<'s>(fields: impl IntoIterator<Item = (&'s str, &'s str)>) -> String {
    let mut out = String::new();
    for (name, value) in fields {
        write_field(&mut out, name, value);
    }
    out
}

#[cfg(test)]
mod tests;
