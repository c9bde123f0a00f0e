//! Path filters: dpkg's `--path-exclude` and `--path-include` for a spec.
//!
//! A spec's filters are an ordered list of rules, each an exclude or an
//! include with a glob pattern, applied as dpkg applies them when it
//! unpacks a package (`src/main/filters.c` of dpkg, and `dpkg(1)`):
//!
//! - a pattern is matched against the entry's absolute path (`/usr/...`,
//!   no trailing slash; dpkg takes the archive's name without its first
//!   character, which is that path for the `./usr/...` names dpkg-deb
//!   writes, and matches a name written without `./` with its first
//!   letter missing: this module matches the path the entry is unpacked
//!   at, whatever the archive's spelling) with `fnmatch(3)` and no flags:
//!   `*` and `?` match
//!   `/` and a leading `.` too, `[...]` is a bracket expression (`!` or `^`
//!   negates, ranges, POSIX classes such as `[:digit:]`), and `\` quotes
//!   the next character (see [`fnmatch`]);
//! - every rule is tried in order and the **last one that matches
//!   decides**: an exclude skips the entry, an include keeps it; an entry
//!   no rule matches is kept;
//! - an excluded **directory or symlink** is kept all the same when some
//!   include's literal prefix (its text up to the first `*`, `?`, `[` or
//!   `\`, trailing slashes removed) is a prefix of the entry's path: so
//!   `path-exclude=/usr/share/doc/*` with `path-include=/usr/share/doc/*/copyright`
//!   keeps every `/usr/share/doc/PKG` directory (and the
//!   `/usr/share/doc/PKG -> OTHER` symlinks) for the copyright files to
//!   land in. The prefix is compared as text, so it brings back more than
//!   it needs to (`/usr/share/docs` as well), as dpkg does; an include
//!   starting with a wildcard brings back every excluded directory and
//!   symlink.
//!
//! What dpkg records of a filtered entry, the unpacker records too (see
//! [`crate::unpack`]): the path stays in the package's `info/<pkg>.list`
//! and in the `md5sums` the package ships, while an `md5sums` dpkg makes
//! for a package without one has only the files it wrote. So `dpkg
//! --verify` reports each filtered file as `missing`, exactly as it does on
//! a system installed by dpkg with the same options (dpkg's verify does not
//! consult the filters), and reports nothing else.
//!
//! The filters are written into the tree as [`CONFIG_PATH`] in dpkg's
//! configuration syntax ([`PathFilters::dpkg_config`]), so the dpkg and
//! apt runs inside the tree later filter the packages they install the
//! same way.
//!
//! # Patterns this module refuses
//!
//! dpkg takes any text, but some patterns never match a path or mean
//! something other than they seem; they are refused ([`PatternError`])
//! rather than written into a tree where they would silently do nothing:
//! an empty pattern, one not starting with `/` or a wildcard (`*`, `?`,
//! `[`; dpkg's paths are absolute), control characters (the configuration
//! file is line based), leading or trailing white space (dpkg's
//! configuration reader strips it), a trailing lone `\` (never matches),
//! an unterminated `[` (glibc then takes `[` literally, except when a
//! character of the would-be set matches), collating symbols and
//! equivalence classes (`[.x.]`, `[=x=]`), unknown character classes, and
//! patterns longer than [`MAX_PATTERN`] bytes (dpkg's configuration
//! lines are limited).
//!
//! # Presets
//!
//! [`Preset`]s are named rule lists (`docs`, `man`, `locales`); see
//! [`Preset::rules`] for what each holds.

use std::fmt::Write as _;

/// Where the filters are written in the tree, relative to its root.
/// dpkg reads the files of `dpkg.cfg.d` whose names are letters, digits,
/// `-` and `_` only, in sorted order.
pub const CONFIG_PATH: &str = "etc/dpkg/dpkg.cfg.d/rdebootstrap-path-filters";

/// The longest pattern accepted, in bytes: dpkg reads its configuration
/// files in lines of at most 1023 characters, and the option name and the
/// newline take the rest.
pub const MAX_PATTERN: usize = 1000;

/// Whether a rule removes or brings back what it matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    /// `path-exclude`: matching entries are not unpacked.
    Exclude,
    /// `path-include`: matching entries are unpacked after all.
    Include,
}

impl Action {
    /// dpkg's option name: `path-exclude` or `path-include`.
    pub fn option(self) -> &'static str {
        match self {
            Action::Exclude => "path-exclude",
            Action::Include => "path-include",
        }
    }
}

/// One rule: an action and its glob.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Rule {
    pub action: Action,
    pub pattern: String,
}

/// A pattern that cannot be used as a path filter.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("path filter {pattern:?}: {problem}")]
pub struct PatternError {
    pub pattern: String,
    pub problem: PatternProblem,
}

/// What is wrong with a pattern (see the module documentation).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PatternProblem {
    #[error("the pattern is empty")]
    Empty,
    #[error("it must start with '/' or a wildcard ('*', '?', '['): dpkg matches absolute paths")]
    NotAbsolute,
    #[error("control characters (newlines, tabs, ...) cannot be written to dpkg's configuration")]
    Control,
    #[error("leading or trailing white space would be stripped by dpkg's configuration reader")]
    Space,
    #[error("a trailing '\\' quotes nothing: the pattern would never match")]
    TrailingBackslash,
    #[error("'[' at byte {0} is not closed by ']' (write '\\[' for a literal bracket)")]
    Unterminated(usize),
    #[error("collating symbols and equivalence classes ('[.' and '[=' in a bracket expression) are not supported")]
    Collating,
    #[error("unknown character class '[:{0}:]' (use alnum, alpha, blank, cntrl, digit, graph, lower, print, punct, space, upper or xdigit)")]
    UnknownClass(String),
    #[error("longer than {MAX_PATTERN} bytes")]
    TooLong,
}

/// Named rule lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Preset {
    /// Documentation but the copyright files.
    Docs,
    /// Manual pages.
    Man,
    /// Translations and locale data, but the C locale's.
    Locales,
}

impl Preset {
    /// Every preset, in the order of their names.
    pub const ALL: [Preset; 3] = [Preset::Docs, Preset::Locales, Preset::Man];

    /// The name used in manifests.
    pub fn name(self) -> &'static str {
        match self {
            Preset::Docs => "docs",
            Preset::Man => "man",
            Preset::Locales => "locales",
        }
    }

    /// The preset called `name`.
    pub fn from_name(name: &str) -> Option<Preset> {
        Preset::ALL.into_iter().find(|p| p.name() == name)
    }

    /// The rules, in order:
    ///
    /// - `docs`: exclude `/usr/share/doc/*`, include
    ///   `/usr/share/doc/*/copyright` (the licenses stay), exclude
    ///   `/usr/share/info/*`;
    /// - `man`: exclude `/usr/share/man/*`;
    /// - `locales`: exclude `/usr/share/locale/*`, include
    ///   `/usr/share/locale/locale.alias`; exclude `/usr/share/i18n/locales/*`,
    ///   include `/usr/share/i18n/locales/C`; exclude `/usr/lib/locale/*`,
    ///   include `/usr/lib/locale/C.utf8/*` (the C and C.UTF-8 locales
    ///   stay usable and buildable).
    pub fn rules(self) -> Vec<Rule> {
        use Action::{Exclude as E, Include as I};
        let list: &[(Action, &str)] = match self {
            Preset::Docs => &[
                (E, "/usr/share/doc/*"),
                (I, "/usr/share/doc/*/copyright"),
                (E, "/usr/share/info/*"),
            ],
            Preset::Man => &[(E, "/usr/share/man/*")],
            Preset::Locales => &[
                (E, "/usr/share/locale/*"),
                (I, "/usr/share/locale/locale.alias"),
                (E, "/usr/share/i18n/locales/*"),
                (I, "/usr/share/i18n/locales/C"),
                (E, "/usr/lib/locale/*"),
                (I, "/usr/lib/locale/C.utf8/*"),
            ],
        };
        list.iter()
            .map(|&(action, pattern)| Rule {
                action,
                pattern: pattern.to_owned(),
            })
            .collect()
    }
}

/// An ordered list of rules; the last matching rule decides.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct PathFilters {
    rules: Vec<Rule>,
}

impl PathFilters {
    /// No rules: every entry is unpacked.
    pub fn new() -> PathFilters {
        PathFilters::default()
    }

    /// Append a rule after checking its pattern.
    pub fn push(&mut self, action: Action, pattern: &str) -> Result<(), PatternError> {
        check(pattern)?;
        self.rules.push(Rule {
            action,
            pattern: pattern.to_owned(),
        });
        Ok(())
    }

    /// Append a preset's rules.
    pub fn push_preset(&mut self, preset: Preset) {
        self.rules.extend(preset.rules());
    }

    /// Append another list's rules (already checked).
    pub fn extend(&mut self, other: &PathFilters) {
        self.rules.extend(other.rules.iter().cloned());
    }

    /// The rules in the order dpkg is given them.
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// True if there are no rules.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// Whether dpkg skips the entry at `path` (absolute, `/usr/...`, no
    /// trailing slash); `dir_or_symlink` says whether the entry is a
    /// directory or a symlink, which an include below it keeps.
    pub fn skips(&self, path: &str, dir_or_symlink: bool) -> bool {
        let mut skip = false;
        for r in &self.rules {
            if fnmatch(&r.pattern, path) {
                skip = r.action == Action::Exclude;
            }
        }
        if !(skip && dir_or_symlink) {
            return skip;
        }
        !self
            .rules
            .iter()
            .filter(|r| r.action == Action::Include)
            .any(|r| path.as_bytes().starts_with(literal_prefix(&r.pattern)))
    }

    /// The filters as a file of `dpkg.cfg.d` (see [`CONFIG_PATH`]): one
    /// `path-exclude=`/`path-include=` line per rule, in order, after a
    /// comment naming where they come from.
    pub fn dpkg_config(&self) -> String {
        let mut out = String::from(
            "# Path filters of the spec this tree was built from, written by\n\
             # rdebootstrap; dpkg applies them to every package it unpacks.\n",
        );
        for r in &self.rules {
            let _ = writeln!(out, "{}={}", r.action.option(), r.pattern);
        }
        out
    }
}

/// The part of an include pattern before its first wildcard, trailing
/// slashes removed (dpkg's test for bringing back directories).
fn literal_prefix(pattern: &str) -> &[u8] {
    let b = pattern.as_bytes();
    let mut len = b
        .iter()
        .position(|c| matches!(c, b'*' | b'?' | b'[' | b'\\'))
        .unwrap_or(b.len());
    while len > 0 && b[len - 1] == b'/' {
        len -= 1;
    }
    &b[..len]
}

const CLASSES: [&str; 12] = [
    "alnum", "alpha", "blank", "cntrl", "digit", "graph", "lower", "print", "punct", "space",
    "upper", "xdigit",
];

/// Check that `pattern` can be a path filter (see the module
/// documentation for what is refused).
pub fn check(pattern: &str) -> Result<(), PatternError> {
    let err = |problem| {
        Err(PatternError {
            pattern: pattern.to_owned(),
            problem,
        })
    };
    if pattern.is_empty() {
        return err(PatternProblem::Empty);
    }
    if pattern.len() > MAX_PATTERN {
        return err(PatternProblem::TooLong);
    }
    if pattern.chars().any(char::is_control) {
        return err(PatternProblem::Control);
    }
    if pattern.starts_with(char::is_whitespace) || pattern.ends_with(char::is_whitespace) {
        return err(PatternProblem::Space);
    }
    if !pattern.starts_with(['/', '*', '?', '[']) {
        return err(PatternProblem::NotAbsolute);
    }
    match parse(pattern) {
        Ok(_) => Ok(()),
        Err(problem) => err(problem),
    }
}

/// A parsed pattern element.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Char(char),
    Any,
    Star,
    Set { negated: bool, items: Vec<Item> },
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Item {
    Char(char),
    Range(char, char),
    Class(&'static str),
}

fn parse(pattern: &str) -> Result<Vec<Token>, PatternProblem> {
    let p: Vec<(usize, char)> = pattern.char_indices().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < p.len() {
        let (at, c) = p[i];
        i += 1;
        match c {
            '*' => out.push(Token::Star),
            '?' => out.push(Token::Any),
            '\\' => {
                let &(_, q) = p.get(i).ok_or(PatternProblem::TrailingBackslash)?;
                i += 1;
                out.push(Token::Char(q));
            }
            '[' => {
                let (token, next) = bracket(&p, i).ok_or(PatternProblem::Unterminated(at))??;
                out.push(token);
                i = next;
            }
            c => out.push(Token::Char(c)),
        }
    }
    Ok(out)
}

/// A bracket expression whose body starts at `i` (after `[`): the token
/// and the index after its `]`; `None` when it is not closed.
#[allow(clippy::type_complexity)]
fn bracket(p: &[(usize, char)], mut i: usize) -> Option<Result<(Token, usize), PatternProblem>> {
    let negated = matches!(p.get(i), Some((_, '!' | '^')));
    if negated {
        i += 1;
    }
    let mut items = Vec::new();
    let mut first = true;
    loop {
        let &(_, c) = p.get(i)?;
        i += 1;
        if c == ']' && !first {
            return Some(Ok((Token::Set { negated, items }, i)));
        }
        first = false;
        let lo = match c {
            '\\' => {
                let &(_, q) = p.get(i)?;
                i += 1;
                q
            }
            '[' if matches!(p.get(i), Some((_, '.' | '='))) => {
                return Some(Err(PatternProblem::Collating))
            }
            '[' if matches!(p.get(i), Some((_, ':'))) => {
                let start = i + 1;
                let mut j = start;
                while j + 1 < p.len() && !(p[j].1 == ':' && p[j + 1].1 == ']') {
                    j += 1;
                }
                if j + 1 >= p.len() {
                    return None;
                }
                let name: String = p[start..j].iter().map(|&(_, c)| c).collect();
                let Some(class) = CLASSES.iter().find(|k| **k == name) else {
                    return Some(Err(PatternProblem::UnknownClass(name)));
                };
                items.push(Item::Class(class));
                i = j + 2;
                continue;
            }
            c => c,
        };
        // A range: `lo-hi`, unless the '-' is the set's last character.
        if matches!(p.get(i), Some((_, '-'))) && !matches!(p.get(i + 1), None | Some((_, ']'))) {
            let mut j = i + 1;
            let mut hi = p[j].1;
            j += 1;
            if hi == '\\' {
                hi = p.get(j)?.1;
                j += 1;
            } else if hi == '[' && matches!(p.get(j), Some((_, '.' | '=' | ':'))) {
                return Some(Err(PatternProblem::Collating));
            }
            items.push(Item::Range(lo, hi));
            i = j;
        } else {
            items.push(Item::Char(lo));
        }
    }
}

fn class_has(class: &str, c: char) -> bool {
    if !c.is_ascii() {
        return false;
    }
    let b = c as u8;
    match class {
        "alnum" => b.is_ascii_alphanumeric(),
        "alpha" => b.is_ascii_alphabetic(),
        "blank" => b == b' ' || b == b'\t',
        "cntrl" => b.is_ascii_control(),
        "digit" => b.is_ascii_digit(),
        "graph" => b.is_ascii_graphic(),
        "lower" => b.is_ascii_lowercase(),
        "print" => b.is_ascii_graphic() || b == b' ',
        "punct" => b.is_ascii_punctuation(),
        "space" => b.is_ascii_whitespace() || b == 0x0b,
        "upper" => b.is_ascii_uppercase(),
        "xdigit" => b.is_ascii_hexdigit(),
        _ => false,
    }
}

fn token_matches(t: &Token, c: char) -> bool {
    match t {
        Token::Char(x) => *x == c,
        Token::Any => true,
        Token::Star => unreachable!("stars are matched by the caller"),
        Token::Set { negated, items } => {
            let hit = items.iter().any(|i| match i {
                Item::Char(x) => *x == c,
                Item::Range(lo, hi) => *lo <= c && c <= *hi,
                Item::Class(k) => class_has(k, c),
            });
            hit != *negated
        }
    }
}

/// `fnmatch(pattern, name, 0)` as glibc has it, for the patterns
/// [`check`] accepts (a pattern it refuses matches nothing): `*` matches
/// any text, `/` and leading dots included; `?` any one character;
/// brackets one character of a set; ranges compare code points (glibc's
/// order in the C and UTF-8 locales), classes are ASCII's.
pub fn fnmatch(pattern: &str, name: &str) -> bool {
    let Ok(tokens) = parse(pattern) else {
        return false;
    };
    let s: Vec<char> = name.chars().collect();
    let (mut ti, mut si) = (0, 0);
    // Where the last star was and the text position it resumes at.
    let mut star: Option<(usize, usize)> = None;
    loop {
        if ti < tokens.len() {
            if tokens[ti] == Token::Star {
                star = Some((ti, si));
                ti += 1;
                continue;
            }
            if si < s.len() && token_matches(&tokens[ti], s[si]) {
                ti += 1;
                si += 1;
                continue;
            }
        } else if si == s.len() {
            return true;
        }
        // Mismatch: the last star takes one more character.
        match star {
            Some((st, ss)) if ss < s.len() => {
                star = Some((st, ss + 1));
                ti = st + 1;
                si = ss + 1;
            }
            _ => return false,
        }
    }
}

#[cfg(test)]
mod tests;
