//! The host's APT source lists: deb822 `.sources` files (sources.list(5),
//! "DEB822-STYLE FORMAT") and one-line `sources.list` entries. rdebootstrap
//! reads them to find a vendor's mirror when a manifest names it without a
//! URL, so no mirror host is ever written into a manifest or the code.

use std::path::{Path, PathBuf};

use crate::deb822::{self, Comments};

/// One source entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AptSource {
    /// `deb`, `deb-src`.
    pub types: Vec<String>,
    pub uris: Vec<String>,
    pub suites: Vec<String>,
    pub components: Vec<String>,
    /// `Signed-By` (a keyring path or an inline key block).
    pub signed_by: Option<String>,
    /// `Enabled: no` turns an entry off.
    pub enabled: bool,
    /// File and line it came from.
    pub origin: String,
}

/// A source list that could not be read.
#[derive(Debug, thiserror::Error)]
pub enum SourcesError {
    #[error("cannot read {}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{name}: syntax error")]
    Syntax {
        name: String,
        #[source]
        source: deb822::Error,
    },
    #[error("{name}, line {line}: {message}")]
    Line {
        name: String,
        line: usize,
        message: &'static str,
    },
}

fn words(v: Option<&str>) -> Vec<String> {
    v.map(|v| v.split_ascii_whitespace().map(str::to_owned).collect())
        .unwrap_or_default()
}

/// Parse a deb822 `.sources` file.
pub fn parse_sources(text: &str, name: &str) -> Result<Vec<AptSource>, SourcesError> {
    let stanzas =
        deb822::parse(text, Comments::Allowed).map_err(|source| SourcesError::Syntax {
            name: name.to_owned(),
            source,
        })?;
    Ok(stanzas
        .iter()
        .filter(|s| s.field("Types").is_some())
        .map(|s| AptSource {
            types: words(s.get("Types")),
            uris: words(s.get("URIs")),
            suites: words(s.get("Suites")),
            components: words(s.get("Components")),
            signed_by: s.get("Signed-By").map(str::to_owned),
            enabled: s.get("Enabled").is_none_or(|v| v.trim() != "no"),
            origin: format!("{name}:{}", s.line()),
        })
        .collect())
}

/// Parse a one-line-style `sources.list`.
pub fn parse_list(text: &str, name: &str) -> Result<Vec<AptSource>, SourcesError> {
    let mut out = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = raw.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        let bad = |message| SourcesError::Line {
            name: name.to_owned(),
            line: i + 1,
            message,
        };
        let (kind, rest) = line
            .split_once(char::is_whitespace)
            .ok_or_else(|| bad("expected 'deb URI SUITE [COMPONENT...]'"))?;
        let mut rest = rest.trim_start();
        let mut signed_by = None;
        if let Some(opts) = rest.strip_prefix('[') {
            let (opts, after) = opts
                .split_once(']')
                .ok_or_else(|| bad("unclosed '[' in options"))?;
            for opt in opts.split_ascii_whitespace() {
                if let Some(v) = opt.strip_prefix("signed-by=") {
                    signed_by = Some(v.to_owned());
                }
            }
            rest = after.trim_start();
        }
        let mut parts = rest.split_ascii_whitespace();
        let (Some(uri), Some(suite)) = (parts.next(), parts.next()) else {
            return Err(bad("expected 'deb URI SUITE [COMPONENT...]'"));
        };
        out.push(AptSource {
            types: vec![kind.to_owned()],
            uris: vec![uri.to_owned()],
            suites: vec![suite.to_owned()],
            components: parts.map(str::to_owned).collect(),
            signed_by,
            enabled: true,
            origin: format!("{name}:{}", i + 1),
        });
    }
    Ok(out)
}

/// Every source of the APT configuration under `etc_apt` (`/etc/apt`):
/// `sources.list`, then `sources.list.d/*.list` and `*.sources` in name order.
pub fn read_host(etc_apt: &Path) -> Result<Vec<AptSource>, SourcesError> {
    let read = |p: &Path| {
        std::fs::read_to_string(p).map_err(|source| SourcesError::Read {
            path: p.to_owned(),
            source,
        })
    };
    let mut out = Vec::new();
    let main = etc_apt.join("sources.list");
    if main.exists() {
        out.extend(parse_list(&read(&main)?, &main.display().to_string())?);
    }
    let dir = etc_apt.join("sources.list.d");
    let mut files: Vec<PathBuf> = match std::fs::read_dir(&dir) {
        Ok(rd) => rd.filter_map(|e| e.ok().map(|e| e.path())).collect(),
        Err(_) => Vec::new(),
    };
    files.sort();
    for f in files {
        let name = f.display().to_string();
        match f.extension().and_then(|e| e.to_str()) {
            Some("list") => out.extend(parse_list(&read(&f)?, &name)?),
            Some("sources") => out.extend(parse_sources(&read(&f)?, &name)?),
            _ => {}
        }
    }
    Ok(out)
}

/// The first enabled binary (`deb`) source whose URI is not a security
/// archive and which serves one of `suites`; its URI.
pub fn mirror_for<'a>(sources: &'a [AptSource], suites: &[&str]) -> Option<&'a str> {
    sources
        .iter()
        .filter(|s| s.enabled && s.types.iter().any(|t| t == "deb"))
        .filter(|s| !s.uris.iter().any(|u| u.contains("security")))
        .filter(|s| s.suites.iter().any(|x| suites.contains(&x.as_str())))
        .find_map(|s| s.uris.first().map(String::as_str))
}

/// Release names of each vendor, to recognise its mirrors in APT sources
/// (a mirror serves all releases, so the host's release need not match).
const VENDOR_SUITES: &[(&str, &[&str])] = &[
    (
        "debian",
        &[
            "buster",
            "bullseye",
            "bookworm",
            "trixie",
            "forky",
            "duke",
            "sid",
            "oldoldstable",
            "oldstable",
            "stable",
            "testing",
            "unstable",
            "experimental",
        ],
    ),
    (
        "ubuntu",
        &[
            "bionic", "focal", "jammy", "lunar", "mantic", "noble", "oracular", "plucky",
            "questing", "resolute", "devel",
        ],
    ),
    // Devuan's release names only: its generic names (stable, ...) are
    // Debian's too.
    (
        "devuan",
        &[
            "beowulf",
            "chimaera",
            "daedalus",
            "excalibur",
            "freia",
            "ceres",
        ],
    ),
];

/// The mirror URI of `vendor` (`debian`, `ubuntu`, `devuan`) among the host's
/// sources: the first enabled `deb` entry, not a security archive, whose
/// suites are that vendor's releases (with or without `-updates` etc.).
///
/// `VENDOR-security` (`debian-security`) finds the vendor's security
/// archive instead: an entry serving its `-security` suites.
pub fn vendor_mirror<'a>(sources: &'a [AptSource], vendor: &str) -> Option<&'a str> {
    vendor_source(sources, vendor).and_then(|s| s.uris.first().map(String::as_str))
}

/// The source entry [`vendor_mirror`] takes its URI from (its `origin`
/// says where it is written).
pub fn vendor_source<'a>(sources: &'a [AptSource], vendor: &str) -> Option<&'a AptSource> {
    let (base, security) = match vendor.strip_suffix("-security") {
        Some(b) => (b, true),
        None => (vendor, false),
    };
    let names = VENDOR_SUITES.iter().find(|(v, _)| *v == base)?.1;
    let serves = |x: &String| {
        names.contains(&x.split('-').next().unwrap_or(x)) && x.ends_with("-security") == security
    };
    sources
        .iter()
        .filter(|s| s.enabled && s.types.iter().any(|t| t == "deb"))
        .filter(|s| security || !s.uris.iter().any(|u| u.contains("security")))
        .filter(|s| s.suites.iter().any(serves))
        .find(|s| !s.uris.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    const SOURCES: &str = "# comment\nTypes: deb\nURIs: http://mirror.invalid/debian\nSuites: bookworm bookworm-updates\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n\nTypes: deb\nURIs: http://mirror.invalid/debian-security\nSuites: bookworm-security\nComponents: main\n\nTypes: deb-src\nURIs: http://src.invalid/debian\nSuites: bookworm\nComponents: main\nEnabled: no\n";

    #[test]
    fn deb822_sources() {
        let s = parse_sources(SOURCES, "debian.sources").unwrap();
        assert_eq!(s.len(), 3);
        assert_eq!(s[0].suites, ["bookworm", "bookworm-updates"]);
        assert_eq!(
            s[0].signed_by.as_deref(),
            Some("/usr/share/keyrings/debian-archive-keyring.gpg")
        );
        assert_eq!(s[0].origin, "debian.sources:2");
        assert!(!s[2].enabled);
        assert_eq!(
            mirror_for(&s, &["bookworm"]),
            Some("http://mirror.invalid/debian")
        );
        assert_eq!(mirror_for(&s, &["bookworm-security"]), None);
        assert_eq!(mirror_for(&s, &["jammy"]), None);
        assert_eq!(
            vendor_mirror(&s, "debian"),
            Some("http://mirror.invalid/debian")
        );
        assert_eq!(vendor_mirror(&s, "ubuntu"), None);
        assert_eq!(vendor_mirror(&s, "devuan"), None);
        assert_eq!(
            vendor_mirror(&s, "debian-security"),
            Some("http://mirror.invalid/debian-security")
        );
        let devuan = parse_sources(
            "Types: deb\nURIs: http://devuan.invalid/merged\nSuites: excalibur excalibur-updates excalibur-security\nComponents: main\n",
            "devuan.sources",
        )
        .unwrap();
        assert_eq!(
            vendor_mirror(&devuan, "devuan"),
            Some("http://devuan.invalid/merged")
        );
        assert_eq!(vendor_mirror(&devuan, "debian"), None);
    }

    #[test]
    fn one_line_sources() {
        let text = "deb [arch=amd64 signed-by=/k.gpg] http://a.invalid/debian trixie main contrib\n# deb http://b.invalid x y\ndeb-src http://a.invalid/debian trixie main\n";
        let s = parse_list(text, "sources.list").unwrap();
        assert_eq!(s.len(), 2);
        assert_eq!(s[0].components, ["main", "contrib"]);
        assert_eq!(s[0].signed_by.as_deref(), Some("/k.gpg"));
        assert_eq!(s[1].types, ["deb-src"]);
        let e = parse_list("deb http://x.invalid\n", "sources.list").unwrap_err();
        assert_eq!(
            e.to_string(),
            "sources.list, line 1: expected 'deb URI SUITE [COMPONENT...]'"
        );
    }
}
