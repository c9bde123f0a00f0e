//! The files of a package's control member: `control`, `conffiles`,
//! `md5sums`, maintainer scripts, `triggers`, `shlibs`, `symbols`, ...

use std::collections::BTreeMap;

use super::{ControlFileError, DebError};
use crate::deb822::{self, Comments, Stanza};
use crate::hash::Md5;
use crate::packages::{self, BinaryPackage};

/// The maintainer scripts dpkg runs, in the order it knows them.
pub const MAINTAINER_SCRIPTS: [&str; 5] = ["preinst", "postinst", "prerm", "postrm", "config"];

/// A `conffiles` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conffile<'a> {
    /// Absolute path in the installed system.
    pub path: &'a str,
    /// `remove-on-upgrade` (dpkg ≥ 1.20.1): delete the file on upgrade.
    pub remove_on_upgrade: bool,
}

/// A `triggers` directive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trigger<'a> {
    /// `interest`, `interest-await`, `interest-noawait`, `activate`,
    /// `activate-await` or `activate-noawait`.
    pub directive: &'a str,
    /// Trigger name (a file trigger is an absolute path).
    pub name: &'a str,
}

/// The control member's regular files, by name, with their modes.
#[derive(Debug, Clone)]
pub struct ControlFiles {
    member: String,
    files: BTreeMap<String, (u32, Vec<u8>)>,
}

const TRIGGER_DIRECTIVES: [&str; 6] = [
    "interest",
    "interest-await",
    "interest-noawait",
    "activate",
    "activate-await",
    "activate-noawait",
];

impl ControlFiles {
    pub(crate) fn new(member: String, files: BTreeMap<String, (u32, Vec<u8>)>) -> Self {
        ControlFiles { member, files }
    }

    fn err(&self, file: &str, source: ControlFileError) -> DebError {
        DebError::ControlFile {
            member: self.member.clone(),
            file: file.to_owned(),
            source: Box::new(source),
        }
    }

    fn text(&self, file: &str) -> Result<Option<&str>, DebError> {
        match self.files.get(file) {
            None => Ok(None),
            Some((_, data)) => std::str::from_utf8(data)
                .map(Some)
                .map_err(|_| self.err(file, ControlFileError::Utf8)),
        }
    }

    /// Names of all files, sorted.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.files.keys().map(String::as_str)
    }

    /// A file's bytes.
    pub fn file(&self, name: &str) -> Option<&[u8]> {
        self.files.get(name).map(|(_, d)| d.as_slice())
    }

    /// A file's permission bits.
    pub fn mode(&self, name: &str) -> Option<u32> {
        self.files.get(name).map(|(m, _)| *m)
    }

    /// The `control` file's text.
    pub fn control_text(&self) -> Result<&str, DebError> {
        self.text("control")?.ok_or(DebError::NoControlFile)
    }

    /// The `control` file as a stanza (every field, in order).
    pub fn stanza(&self) -> Result<Stanza<'_>, DebError> {
        deb822::parse_one(self.control_text()?, Comments::Forbidden)
            .map_err(|e| self.err("control", ControlFileError::Syntax(e)))
    }

    /// The `control` file as a typed package record.
    pub fn package(&self) -> Result<BinaryPackage<'_>, DebError> {
        packages::parse_control(self.control_text()?)
            .map_err(|e| self.err("control", ControlFileError::Package(e)))
    }

    /// The `conffiles` entries (empty if there is none).
    pub fn conffiles(&self) -> Result<Vec<Conffile<'_>>, DebError> {
        let Some(text) = self.text("conffiles")? else {
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() {
                continue;
            }
            let (flag, path) = match line.split_once(char::is_whitespace) {
                Some((flag, path)) if !flag.starts_with('/') => (Some(flag), path.trim()),
                _ => (None, line),
            };
            let bad = |message| {
                self.err(
                    "conffiles",
                    ControlFileError::Line {
                        line: i + 1,
                        message,
                    },
                )
            };
            let remove_on_upgrade = match flag {
                None => false,
                Some("remove-on-upgrade") => true,
                Some(_) => return Err(bad("unknown conffile flag")),
            };
            if !path.starts_with('/') {
                return Err(bad("conffile path is not absolute"));
            }
            out.push(Conffile {
                path,
                remove_on_upgrade,
            });
        }
        Ok(out)
    }

    /// The `md5sums` entries: digest and path relative to the root.
    pub fn md5sums(&self) -> Result<Vec<(Md5, &str)>, DebError> {
        let Some(text) = self.text("md5sums")? else {
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        for (i, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let bad = |message| {
                self.err(
                    "md5sums",
                    ControlFileError::Line {
                        line: i + 1,
                        message,
                    },
                )
            };
            let digest = line
                .get(..32)
                .and_then(|h| Md5::from_hex(h).ok())
                .ok_or_else(|| bad("expected 32 hex digits"))?;
            let path = line[32..].trim_start_matches([' ', '*']);
            if path.is_empty() || !line[32..].starts_with(' ') {
                return Err(bad("expected two spaces and a path after the digest"));
            }
            out.push((digest, path.trim_start_matches('/')));
        }
        Ok(out)
    }

    /// A maintainer script (`preinst`, `postinst`, `prerm`, `postrm`, `config`).
    pub fn script(&self, name: &str) -> Option<&[u8]> {
        MAINTAINER_SCRIPTS
            .contains(&name)
            .then(|| self.file(name))
            .flatten()
    }

    /// The maintainer scripts present, in [`MAINTAINER_SCRIPTS`] order.
    pub fn scripts(&self) -> impl Iterator<Item = (&'static str, &[u8])> {
        MAINTAINER_SCRIPTS
            .iter()
            .filter_map(|&n| self.file(n).map(|d| (n, d)))
    }

    /// The `triggers` directives (blank lines and lines starting with `#`
    /// ignored, as dpkg reads them). Names dpkg cannot classify are
    /// refused, as dpkg refuses them (`lib/dpkg/triglib.c`): they would
    /// otherwise name files under `triggers/`.
    pub fn triggers(&self) -> Result<Vec<Trigger<'_>>, DebError> {
        let Some(text) = self.text("triggers")? else {
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let mut words = line.split_whitespace();
            let (Some(directive), Some(name), None) = (words.next(), words.next(), words.next())
            else {
                return Err(self.err(
                    "triggers",
                    ControlFileError::Line {
                        line: i + 1,
                        message: "expected '<directive> <trigger-name>'",
                    },
                ));
            };
            if !TRIGGER_DIRECTIVES.contains(&directive) {
                return Err(self.err(
                    "triggers",
                    ControlFileError::Line {
                        line: i + 1,
                        message: "unknown trigger directive",
                    },
                ));
            }
            if let Err(reason) = check_trigger_name(name) {
                return Err(self.err(
                    "triggers",
                    ControlFileError::TriggerName {
                        line: i + 1,
                        name: name.to_owned(),
                        reason,
                    },
                ));
            }
            out.push(Trigger { directive, name });
        }
        Ok(out)
    }

    /// The `shlibs` file.
    pub fn shlibs(&self) -> Option<&[u8]> {
        self.file("shlibs")
    }

    /// The `symbols` file.
    pub fn symbols(&self) -> Option<&[u8]> {
        self.file("symbols")
    }

    /// The debconf `templates` file.
    pub fn templates(&self) -> Option<&[u8]> {
        self.file("templates")
    }
}

/// dpkg's checks of a trigger name (`trig_name_is_invalid`, then
/// `trig_classify_byname`): printable ASCII; a file trigger is an absolute
/// path without empty components or a trailing slash; any other is a legal
/// package name without `_`. dpkg ignores an unclassifiable name in an
/// `activate` directive and refuses it in an `interest`; we refuse both,
/// as no package has one.
pub(crate) fn check_trigger_name(name: &str) -> Result<(), &'static str> {
    if name.is_empty() {
        return Err("empty trigger names are not permitted");
    }
    if name.bytes().any(|c| c <= b' ' || c >= 0o177) {
        return Err("trigger name contains invalid character");
    }
    if let Some(path) = name.strip_prefix('/') {
        if path.split('/').any(str::is_empty) {
            return Err("a file trigger may not have an empty component or a trailing slash");
        }
        return Ok(());
    }
    let mut chars = name.chars();
    let legal = chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || "-+.".contains(c));
    if !legal {
        return Err("not a file trigger (starting with '/') nor a legal package name without '_'");
    }
    Ok(())
}
