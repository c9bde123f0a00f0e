//! Package relationship fields (Debian Policy §7): `Depends`, `Pre-Depends`,
//! `Recommends`, `Suggests`, `Enhances`, `Conflicts`, `Breaks`, `Replaces`,
//! `Provides`, `Built-Using` and the source `Build-*` fields.
//!
//! A field is a comma-separated list of groups; a group is a `|`-separated
//! list of alternatives; each alternative is
//! `name[:archqual] [(op version)] [[arch list]] [<profiles>...]`.
//! Parsing is zero-copy: a [`Relation`] borrows its parts from the field.
//! The obsolete operators `<` and `>` are read as `<=` and `>=`, as dpkg does.
//! Field-specific rules: alternatives only in the fields that allow them,
//! only `=` in `Provides` and `Built-Using`.

use std::fmt;

use crate::arch;
use crate::version::{Version, VersionError};

/// Which relationship field is parsed: decides what syntax is allowed and is
/// named in errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FieldKind {
    Depends,
    PreDepends,
    Recommends,
    Suggests,
    Enhances,
    Conflicts,
    Breaks,
    Replaces,
    Provides,
    BuiltUsing,
    BuildDepends,
    BuildDependsArch,
    BuildDependsIndep,
    BuildConflicts,
    BuildConflictsArch,
    BuildConflictsIndep,
}

impl FieldKind {
    /// The field's name as written in control files.
    pub fn name(self) -> &'static str {
        match self {
            FieldKind::Depends => "Depends",
            FieldKind::PreDepends => "Pre-Depends",
            FieldKind::Recommends => "Recommends",
            FieldKind::Suggests => "Suggests",
            FieldKind::Enhances => "Enhances",
            FieldKind::Conflicts => "Conflicts",
            FieldKind::Breaks => "Breaks",
            FieldKind::Replaces => "Replaces",
            FieldKind::Provides => "Provides",
            FieldKind::BuiltUsing => "Built-Using",
            FieldKind::BuildDepends => "Build-Depends",
            FieldKind::BuildDependsArch => "Build-Depends-Arch",
            FieldKind::BuildDependsIndep => "Build-Depends-Indep",
            FieldKind::BuildConflicts => "Build-Conflicts",
            FieldKind::BuildConflictsArch => "Build-Conflicts-Arch",
            FieldKind::BuildConflictsIndep => "Build-Conflicts-Indep",
        }
    }

    fn allows_alternatives(self) -> bool {
        matches!(
            self,
            FieldKind::Depends
                | FieldKind::PreDepends
                | FieldKind::Recommends
                | FieldKind::Suggests
                | FieldKind::Enhances
                | FieldKind::BuiltUsing
                | FieldKind::BuildDepends
                | FieldKind::BuildDependsArch
                | FieldKind::BuildDependsIndep
        )
    }

    fn only_equals(self) -> bool {
        matches!(self, FieldKind::Provides | FieldKind::BuiltUsing)
    }
}

/// A version comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Op {
    /// `<<`
    Lt,
    /// `<=` (also the obsolete `<`)
    Le,
    /// `=`
    Eq,
    /// `>=` (also the obsolete `>`)
    Ge,
    /// `>>`
    Gt,
}

impl Op {
    /// True if `candidate` compared with `bound` satisfies the operator.
    pub fn holds(self, candidate: &Version<'_>, bound: &Version<'_>) -> bool {
        use std::cmp::Ordering::*;
        let ord = candidate.cmp(bound);
        match self {
            Op::Lt => ord == Less,
            Op::Le => ord != Greater,
            Op::Eq => ord == Equal,
            Op::Ge => ord != Less,
            Op::Gt => ord == Greater,
        }
    }

    /// The canonical spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Op::Lt => "<<",
            Op::Le => "<=",
            Op::Eq => "=",
            Op::Ge => ">=",
            Op::Gt => ">>",
        }
    }
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One alternative: a package name with optional qualifiers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Relation<'a> {
    /// Package (or virtual package) name.
    pub name: &'a str,
    /// Architecture qualifier after `:` (`any`, `native`, or an architecture).
    pub arch_qualifier: Option<&'a str>,
    /// Version constraint.
    pub version: Option<(Op, Version<'a>)>,
    /// Inside of `[...]`, validated: all negated or none.
    pub arch_restriction: Option<&'a str>,
    /// The `<...> <...>` formulas, validated, as written.
    pub profiles: Option<&'a str>,
    first_in_group: bool,
}

impl<'a> Relation<'a> {
    /// True if `version` satisfies the version constraint (always without one).
    pub fn version_matches(&self, version: &Version<'_>) -> bool {
        self.version
            .as_ref()
            .is_none_or(|(op, v)| op.holds(version, v))
    }

    /// The architecture list as (negated, names).
    pub fn arch_list(&self) -> Option<(bool, impl Iterator<Item = &'a str>)> {
        let list = self.arch_restriction?;
        let negated = list.trim_start().starts_with('!');
        Some((
            negated,
            list.split_ascii_whitespace()
                .map(|a| a.strip_prefix('!').unwrap_or(a)),
        ))
    }

    /// True if the architecture list (if any) admits `host_arch`.
    pub fn applies_to_arch(&self, host_arch: &str) -> bool {
        match self.arch_list() {
            None => true,
            Some((negated, mut list)) => {
                let hit = list.any(|pat| arch::matches(host_arch, pat));
                hit != negated
            }
        }
    }

    /// True if the build-profile formulas (if any) hold with the given
    /// active profiles: any formula whose terms all hold.
    pub fn applies_to_profiles(&self, active: &[&str]) -> bool {
        let Some(p) = self.profiles else { return true };
        formulas(p).any(|terms| {
            terms
                .split_ascii_whitespace()
                .all(|term| match term.strip_prefix('!') {
                    Some(name) => !active.contains(&name),
                    None => active.contains(&term),
                })
        })
    }
}

fn formulas(p: &str) -> impl Iterator<Item = &str> {
    p.split('<').filter_map(|s| s.trim().strip_suffix('>'))
}

impl fmt::Display for Relation<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name)?;
        if let Some(q) = self.arch_qualifier {
            write!(f, ":{q}")?;
        }
        if let Some((op, v)) = &self.version {
            write!(f, " ({op} {v})")?;
        }
        if let Some(a) = self.arch_restriction {
            write!(
                f,
                " [{}]",
                a.split_ascii_whitespace().collect::<Vec<_>>().join(" ")
            )?;
        }
        if let Some(p) = self.profiles {
            for terms in formulas(p) {
                let terms: Vec<_> = terms.split_ascii_whitespace().collect();
                write!(f, " <{}>", terms.join(" "))?;
            }
        }
        Ok(())
    }
}

/// A parsed relationship field: groups of alternatives, in written order.
/// Stored flat (one allocation per field).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Relations<'a> {
    items: Vec<Relation<'a>>,
}

impl Relations<'static> {
    /// No relation at all.
    pub const EMPTY: Relations<'static> = Relations { items: Vec::new() };
}

impl<'a> Relations<'a> {
    /// A borrowed view (groups, iteration, printing).
    pub fn as_ref(&self) -> RelationsRef<'_, 'a> {
        RelationsRef { items: &self.items }
    }

    /// The groups of alternatives (each non-empty).
    pub fn groups(&self) -> impl Iterator<Item = &[Relation<'a>]> {
        self.as_ref().groups()
    }

    /// Every alternative of every group.
    pub fn iter(&self) -> impl Iterator<Item = &Relation<'a>> {
        self.items.iter()
    }

    /// True if there is no relation.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Number of groups.
    pub fn len(&self) -> usize {
        self.as_ref().len()
    }
}

impl fmt::Display for Relations<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.as_ref().fmt(f)
    }
}

/// A borrowed relationship field (see [`Relations`]); package records hand
/// these out from one shared list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RelationsRef<'s, 'a> {
    items: &'s [Relation<'a>],
}

impl<'s, 'a> RelationsRef<'s, 'a> {
    /// The groups of alternatives (each non-empty).
    pub fn groups(self) -> impl Iterator<Item = &'s [Relation<'a>]> {
        self.items.chunk_by(|_, next| !next.first_in_group)
    }

    /// Every alternative of every group.
    pub fn iter(self) -> std::slice::Iter<'s, Relation<'a>> {
        self.items.iter()
    }

    /// True if there is no relation.
    pub fn is_empty(self) -> bool {
        self.items.is_empty()
    }

    /// Number of groups.
    pub fn len(self) -> usize {
        self.items.iter().filter(|r| r.first_in_group).count()
    }
}

impl PartialEq<Relations<'_>> for RelationsRef<'_, '_> {
    fn eq(&self, other: &Relations<'_>) -> bool {
        self.items == other.items.as_slice()
    }
}

impl fmt::Display for RelationsRef<'_, '_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, group) in self.groups().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            for (j, r) in group.iter().enumerate() {
                if j > 0 {
                    f.write_str(" | ")?;
                }
                write!(f, "{r}")?;
            }
        }
        Ok(())
    }
}

/// A relationship field that could not be parsed: names the field, the
/// offending relation text and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field} field: {kind} in {text:?}")]
pub struct RelationError {
    pub field: &'static str,
    pub text: String,
    pub kind: RelationErrorKind,
}

/// What is wrong with a relation.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RelationErrorKind {
    #[error("missing package name")]
    MissingName,
    #[error("invalid package name")]
    InvalidName,
    #[error("invalid architecture qualifier")]
    InvalidArchQualifier,
    #[error("unknown version operator")]
    BadOperator,
    #[error("missing version")]
    MissingVersion,
    #[error("invalid version")]
    BadVersion(#[source] VersionError),
    #[error("unclosed '(' '[' or '<'")]
    Unclosed,
    #[error("empty architecture list")]
    EmptyArchList,
    #[error("architecture list mixes negated and plain architectures")]
    MixedArchList,
    #[error("invalid build profile formula")]
    BadProfile,
    #[error("alternatives ('|') are not allowed in this field")]
    AlternativesNotAllowed,
    #[error("only exact versions ('=') are allowed in this field")]
    OnlyEquals,
    #[error("empty alternative")]
    EmptyAlternative,
    #[error("unexpected text after relation")]
    TrailingGarbage,
}

/// True if `name` is a valid package name by dpkg's rule: an alphanumeric
/// first character, then alphanumerics or `+ - . _`.
pub fn is_valid_package_name(name: &str) -> bool {
    let b = name.as_bytes();
    !b.is_empty() && b[0].is_ascii_alphanumeric() && b.iter().all(|&c| NAME_CHAR[c as usize])
}

/// Bytes allowed in package names.
static NAME_CHAR: [bool; 256] = {
    let mut t = [false; 256];
    let mut c = 0;
    while c < 256 {
        let b = c as u8;
        t[c] = b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.' | b'_');
        c += 1;
    }
    t
};

/// Parse a relationship field's value.
///
/// One pass over the text: each alternative is parsed where it stands and
/// the separator after it decides what follows.
pub fn parse(field: FieldKind, text: &str) -> Result<Relations<'_>, RelationError> {
    let mut items = Vec::with_capacity(estimate(text));
    parse_into(field, text, &mut items)?;
    Ok(Relations { items })
}

/// An upper bound of the number of alternatives in `text`.
pub(crate) fn estimate(text: &str) -> usize {
    memchr::memchr2_iter(b',', b'|', text.as_bytes()).count() + 1
}

/// Where the package name that starts at `i` ends.
fn name_end(b: &[u8], mut i: usize) -> usize {
    while i < b.len() && NAME_CHAR[b[i] as usize] {
        i += 1;
    }
    i
}

/// Where the architecture qualifier that starts at `i` (after the `:`)
/// ends.
fn qualifier_end(b: &[u8], mut i: usize) -> usize {
    while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'-') {
        i += 1;
    }
    i
}

/// The name and architecture qualifier of each alternative of a
/// relationship field that has been checked (see
/// [`crate::packages::BinaryPackage::relation_names`]): what parsing
/// would give as `name` and `arch_qualifier`, without the rest.
#[derive(Clone)]
pub struct Names<'a> {
    text: &'a str,
    pos: usize,
}

impl<'a> Names<'a> {
    pub(crate) fn new(text: &'a str) -> Self {
        Names { text, pos: 0 }
    }
}

impl<'a> Iterator for Names<'a> {
    type Item = (&'a str, Option<&'a str>);

    fn next(&mut self) -> Option<Self::Item> {
        let b = self.text.as_bytes();
        loop {
            skip_space(b, &mut self.pos);
            let start = self.pos;
            if start >= b.len() {
                return None;
            }
            let mut i = name_end(b, start);
            let name = &self.text[start..i];
            let mut qualifier = None;
            if b.get(i) == Some(&b':') {
                let s = i + 1;
                i = qualifier_end(b, s);
                qualifier = Some(&self.text[s..i]);
            }
            // The rest of the alternative: a version in parentheses,
            // restrictions in brackets, up to the next ',' or '|'.
            loop {
                match b.get(i) {
                    None => break,
                    Some(b',' | b'|') => {
                        i += 1;
                        break;
                    }
                    Some(&open @ (b'(' | b'[' | b'<')) => {
                        let close = match open {
                            b'(' => b')',
                            b'[' => b']',
                            _ => b'>',
                        };
                        i = memchr::memchr(close, &b[i..]).map_or(b.len(), |p| i + p + 1);
                    }
                    Some(_) => i += 1,
                }
            }
            self.pos = i;
            if !name.is_empty() {
                return Some((name, qualifier));
            }
        }
    }
}

/// Parse a field, appending its alternatives to `items`.
pub(crate) fn parse_into<'a>(
    field: FieldKind,
    text: &'a str,
    items: &mut Vec<Relation<'a>>,
) -> Result<(), RelationError> {
    let b = text.as_bytes();
    let mut pos = 0;
    let mut first = true;
    loop {
        skip_space(b, &mut pos);
        match b.get(pos) {
            None => break,
            // An empty group (a trailing comma, say) is tolerated.
            Some(b',') if first => {
                pos += 1;
                continue;
            }
            _ => {}
        }
        let start = pos;
        let mut rel = parse_at(field, text, &mut pos)?;
        rel.first_in_group = first;
        items.push(rel);
        match b.get(pos) {
            None => break,
            Some(b',') => first = true,
            Some(b'|') => {
                if !field.allows_alternatives() {
                    return Err(error(
                        field,
                        group_text(text, start),
                        RelationErrorKind::AlternativesNotAllowed,
                    ));
                }
                first = false;
                let mut next = pos + 1;
                skip_space(b, &mut next);
                if matches!(b.get(next), None | Some(b',' | b'|')) {
                    return Err(error(
                        field,
                        group_text(text, start),
                        RelationErrorKind::EmptyAlternative,
                    ));
                }
            }
            Some(_) => {
                return Err(error(
                    field,
                    alt_text(text, start),
                    RelationErrorKind::TrailingGarbage,
                ))
            }
        }
        pos += 1;
    }
    Ok(())
}

/// The alternative starting at `start` (up to the next `,` or `|`).
fn alt_text(text: &str, start: usize) -> &str {
    let end =
        memchr::memchr2(b',', b'|', &text.as_bytes()[start..]).map_or(text.len(), |i| start + i);
    &text[start..end]
}

/// The group starting at `start` (up to the next `,`).
fn group_text(text: &str, start: usize) -> &str {
    let end = memchr::memchr(b',', &text.as_bytes()[start..]).map_or(text.len(), |i| start + i);
    &text[start..end]
}

fn error(field: FieldKind, text: &str, kind: RelationErrorKind) -> RelationError {
    RelationError {
        field: field.name(),
        text: text.trim().to_owned(),
        kind,
    }
}

#[inline]
fn skip_space(b: &[u8], i: &mut usize) {
    while *i < b.len() && matches!(b[*i], b' ' | b'\t' | b'\n' | b'\r') {
        *i += 1;
    }
}

/// Parse a single alternative written alone.
pub fn parse_one(field: FieldKind, text: &str) -> Result<Relation<'_>, RelationError> {
    let mut pos = 0;
    skip_space(text.as_bytes(), &mut pos);
    if pos == text.len() {
        return Err(error(field, text, RelationErrorKind::EmptyAlternative));
    }
    let rel = parse_at(field, text, &mut pos)?;
    if pos != text.len() {
        return Err(error(field, text, RelationErrorKind::TrailingGarbage));
    }
    Ok(rel)
}

/// Parse the alternative at `*pos` (white space skipped); leaves `*pos` on
/// the `,`/`|` after it, or at the end.
fn parse_at<'a>(
    field: FieldKind,
    text: &'a str,
    pos: &mut usize,
) -> Result<Relation<'a>, RelationError> {
    let b = text.as_bytes();
    let start = *pos;
    let err = |kind| error(field, alt_text(text, start), kind);
    let mut i = name_end(b, start);
    let name = &text[start..i];
    let delimited = matches!(
        b.get(i),
        None | Some(b' ' | b'\t' | b'\n' | b'\r' | b'(' | b':' | b'[' | b'<' | b',' | b'|')
    );
    if name.is_empty() && delimited {
        return Err(err(if matches!(b.get(i), None | Some(b',' | b'|')) {
            RelationErrorKind::EmptyAlternative
        } else {
            RelationErrorKind::MissingName
        }));
    }
    if !delimited || !b[start].is_ascii_alphanumeric() {
        return Err(err(RelationErrorKind::InvalidName));
    }
    let mut arch_qualifier = None;
    if b.get(i) == Some(&b':') {
        let s = i + 1;
        i = qualifier_end(b, s);
        if s == i {
            return Err(err(RelationErrorKind::InvalidArchQualifier));
        }
        arch_qualifier = Some(&text[s..i]);
    }
    skip_space(b, &mut i);
    let mut version = None;
    if b.get(i) == Some(&b'(') {
        i += 1;
        let close = memchr::memchr(b')', &b[i..])
            .map(|p| p + i)
            .ok_or_else(|| err(RelationErrorKind::Unclosed))?;
        skip_space(b, &mut i);
        let (op, len) = match (b.get(i), b.get(i + 1)) {
            (Some(b'<'), Some(b'<')) => (Op::Lt, 2),
            (Some(b'<'), Some(b'=')) => (Op::Le, 2),
            (Some(b'>'), Some(b'>')) => (Op::Gt, 2),
            (Some(b'>'), Some(b'=')) => (Op::Ge, 2),
            (Some(b'='), _) => (Op::Eq, 1),
            (Some(b'<'), _) => (Op::Le, 1),
            (Some(b'>'), _) => (Op::Ge, 1),
            _ => return Err(err(RelationErrorKind::BadOperator)),
        };
        if i + len > close {
            return Err(err(RelationErrorKind::BadOperator));
        }
        let vtext = text[i + len..close].trim_matches(|c: char| c.is_ascii_whitespace());
        if vtext.is_empty() {
            return Err(err(RelationErrorKind::MissingVersion));
        }
        if field.only_equals() && op != Op::Eq {
            return Err(err(RelationErrorKind::OnlyEquals));
        }
        let v = Version::parse_lax(vtext).map_err(|e| err(RelationErrorKind::BadVersion(e)))?;
        version = Some((op, v));
        i = close + 1;
        skip_space(b, &mut i);
    }
    let mut arch_restriction = None;
    if b.get(i) == Some(&b'[') {
        let close = memchr::memchr(b']', &b[i..])
            .map(|p| p + i)
            .ok_or_else(|| err(RelationErrorKind::Unclosed))?;
        let inner = &text[i + 1..close];
        let mut negs = inner.split_ascii_whitespace().map(|a| a.starts_with('!'));
        let first = negs
            .next()
            .ok_or_else(|| err(RelationErrorKind::EmptyArchList))?;
        if negs.any(|n| n != first) {
            return Err(err(RelationErrorKind::MixedArchList));
        }
        arch_restriction = Some(inner);
        i = close + 1;
        skip_space(b, &mut i);
    }
    let mut profiles = None;
    if b.get(i) == Some(&b'<') {
        let s = i;
        while b.get(i) == Some(&b'<') {
            let close = memchr::memchr(b'>', &b[i..])
                .map(|p| p + i)
                .ok_or_else(|| err(RelationErrorKind::Unclosed))?;
            let terms = &text[i + 1..close];
            let valid = !terms.trim().is_empty()
                && terms.split_ascii_whitespace().all(|t| {
                    let t = t.strip_prefix('!').unwrap_or(t);
                    !t.is_empty()
                        && t.bytes()
                            .all(|c| c.is_ascii_alphanumeric() || b"+-._".contains(&c))
                });
            if !valid {
                return Err(err(RelationErrorKind::BadProfile));
            }
            i = close + 1;
            skip_space(b, &mut i);
        }
        profiles = Some(text[s..i].trim_end());
    }
    *pos = i;
    Ok(Relation {
        name,
        arch_qualifier,
        version,
        arch_restriction,
        profiles,
        first_in_group: true,
    })
}

#[cfg(test)]
mod tests;
