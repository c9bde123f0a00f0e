//! Where a manifest's vendor archives (`mirror = "debian"`,
//! `mirror = "debian-security"`, ...) are fetched from: the one place that
//! decides it, for `update` and `build` alike.
//!
//! Each vendor name is looked up, first match wins, in
//!
//! 1. `--mirror VENDOR=URL` (the caller's flags);
//! 2. the environment variable [`env_var`]`(VENDOR)`:
//!    `RDEBOOTSTRAP_MIRROR_` and the vendor name in upper case with `-` as
//!    `_` (`debian-security` → `RDEBOOTSTRAP_MIRROR_DEBIAN_SECURITY`);
//! 3. the host's APT sources ([`crate::aptsources::vendor_source`]).
//!
//! A vendor found nowhere is left out; `update` and `build` then fail
//! naming the flag and the variable to set.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use crate::aptsources::{self, AptSource};
use crate::manifest::Manifest;

/// The environment variable naming `vendor`'s mirror:
/// `RDEBOOTSTRAP_MIRROR_` + the name in upper case, `-` (and any other
/// character not allowed in a variable name) as `_`.
pub fn env_var(vendor: &str) -> String {
    let name: String = vendor
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect();
    format!("RDEBOOTSTRAP_MIRROR_{name}")
}

/// Where a mirror URL came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MirrorOrigin {
    /// `--mirror VENDOR=URL`.
    Flag,
    /// The environment variable of this name.
    Env(String),
    /// The host's APT sources: the file and line of the entry.
    Host(String),
}

impl fmt::Display for MirrorOrigin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MirrorOrigin::Flag => write!(f, "--mirror"),
            MirrorOrigin::Env(v) => write!(f, "{v}"),
            MirrorOrigin::Host(at) => write!(f, "the host's APT sources, {at}"),
        }
    }
}

/// A vendor's mirror and where it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mirror {
    pub url: String,
    pub origin: MirrorOrigin,
}

/// A `--mirror` value that is not `VENDOR=URL`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("--mirror {0}: expected VENDOR=URL, e.g. debian=http://127.0.0.1:8080/debian or debian-security=http://127.0.0.1:8080/debian-security")]
pub struct BadMirrorFlag(pub String);

/// Split `--mirror` values (`VENDOR=URL`).
pub fn parse_flags(given: &[String]) -> Result<Vec<(String, String)>, BadMirrorFlag> {
    given
        .iter()
        .map(|g| match g.split_once('=') {
            Some((v, u)) if !v.is_empty() && !u.is_empty() => Ok((v.to_owned(), u.to_owned())),
            _ => Err(BadMirrorFlag(g.clone())),
        })
        .collect()
}

/// The vendor names a manifest's archives use (`mirror = "..."`), in
/// order, once each.
pub fn vendors(manifest: &Manifest) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    // The imported manifest's archives come first in the effective list.
    let imported = manifest.imported.iter().flat_map(|m| &m.archives);
    for a in imported.chain(&manifest.archives) {
        if let Some(v) = &a.mirror {
            if !out.contains(v) {
                out.push(v.clone());
            }
        }
    }
    out
}

/// The mirror of each of `vendors`: from `flags`, else the variable
/// [`env_var`] read through `env`, else the `host` APT sources. Vendors
/// found nowhere are missing from the result.
pub fn resolve(
    vendors: &[String],
    flags: &[(String, String)],
    env: &dyn Fn(&str) -> Option<String>,
    host: &[AptSource],
) -> BTreeMap<String, Mirror> {
    let mut out = BTreeMap::new();
    for v in vendors {
        let found = if let Some((_, u)) = flags.iter().rev().find(|(fv, _)| fv == v) {
            Some(Mirror {
                url: u.clone(),
                origin: MirrorOrigin::Flag,
            })
        } else if let Some(u) = env(&env_var(v)).filter(|u| !u.is_empty()) {
            Some(Mirror {
                url: u,
                origin: MirrorOrigin::Env(env_var(v)),
            })
        } else {
            aptsources::vendor_source(host, v).and_then(|s| {
                Some(Mirror {
                    url: s.uris.first()?.clone(),
                    origin: MirrorOrigin::Host(s.origin.clone()),
                })
            })
        };
        if let Some(m) = found {
            out.insert(v.clone(), m);
        }
    }
    out
}

/// [`resolve`] for a manifest's vendors, with the process environment and
/// the APT sources under `etc_apt` (`/etc/apt`; unreadable sources count
/// as none).
pub fn resolve_for(
    manifest: &Manifest,
    flags: &[(String, String)],
    etc_apt: &Path,
) -> BTreeMap<String, Mirror> {
    let host = aptsources::read_host(etc_apt).unwrap_or_default();
    resolve(
        &vendors(manifest),
        flags,
        &|name| std::env::var(name).ok(),
        &host,
    )
}

/// One line per vendor saying where its archives are fetched from, for
/// `update` and `build` to print: `mirror debian-security:
/// URL (from RDEBOOTSTRAP_MIRROR_DEBIAN_SECURITY)`. A `VENDOR-security`
/// taken from the host while `VENDOR` was given explicitly gets a warning:
/// the two archives then come from different places.
pub fn report(mirrors: &BTreeMap<String, Mirror>) -> Vec<String> {
    let mut out = Vec::new();
    for (v, m) in mirrors {
        let mut line = format!("mirror {v}: {} (from {})", m.url, m.origin);
        if let (MirrorOrigin::Host(_), Some(base)) = (&m.origin, v.strip_suffix("-security")) {
            if let Some(b) = mirrors.get(base).filter(|b| b.origin != m.origin) {
                if !matches!(b.origin, MirrorOrigin::Host(_)) {
                    line.push_str(&format!(
                        "; warning: {base} is from {}, set {v} too (--mirror {v}=URL or {})",
                        b.origin,
                        env_var(v)
                    ));
                }
            }
        }
        out.push(line);
    }
    out
}

/// Warnings for `--mirror` flags naming a vendor none of `vendors` is (a
/// misspelt `debain=URL` would otherwise be ignored while the host's
/// mirror is used).
pub fn unused_flags(vendors: &[String], flags: &[(String, String)]) -> Vec<String> {
    let mut out = Vec::new();
    for (v, _) in flags {
        let line = format!(
            "warning: --mirror {v}=...: the manifest has no archive with mirror = \"{v}\" (its vendor archives: {})",
            if vendors.is_empty() {
                "none".to_owned()
            } else {
                vendors.join(", ")
            }
        );
        if !vendors.contains(v) && !out.contains(&line) {
            out.push(line);
        }
    }
    out
}

/// The URLs alone, as [`crate::update::UpdateOptions::mirrors`] and
/// [`crate::build::archive_urls`] take them.
pub fn urls(mirrors: &BTreeMap<String, Mirror>) -> std::collections::HashMap<String, String> {
    mirrors
        .iter()
        .map(|(v, m)| (v.clone(), m.url.clone()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variable_names() {
        assert_eq!(env_var("debian"), "RDEBOOTSTRAP_MIRROR_DEBIAN");
        assert_eq!(
            env_var("debian-security"),
            "RDEBOOTSTRAP_MIRROR_DEBIAN_SECURITY"
        );
        assert_eq!(env_var("ubuntu"), "RDEBOOTSTRAP_MIRROR_UBUNTU");
        assert_eq!(env_var("my.vendor"), "RDEBOOTSTRAP_MIRROR_MY_VENDOR");
    }

    fn host() -> Vec<AptSource> {
        aptsources::parse_sources(
            "Types: deb\nURIs: http://host.invalid/debian\nSuites: trixie trixie-updates\nComponents: main\n\nTypes: deb\nURIs: http://host.invalid/debian-security\nSuites: trixie-security\nComponents: main\n",
            "/etc/apt/sources.list.d/debian.sources",
        )
        .unwrap()
    }

    #[test]
    fn flag_then_variable_then_host() {
        let vendors = vec!["debian".to_owned(), "debian-security".to_owned()];
        let env = |name: &str| match name {
            "RDEBOOTSTRAP_MIRROR_DEBIAN" => Some("http://env.invalid/debian".to_owned()),
            "RDEBOOTSTRAP_MIRROR_DEBIAN_SECURITY" => Some("http://env.invalid/sec".to_owned()),
            _ => None,
        };
        let none = |_: &str| None;
        let flags = vec![("debian".to_owned(), "http://flag.invalid/debian".to_owned())];
        let m = resolve(&vendors, &flags, &env, &host());
        assert_eq!(m["debian"].url, "http://flag.invalid/debian");
        assert_eq!(m["debian"].origin, MirrorOrigin::Flag);
        assert_eq!(m["debian-security"].url, "http://env.invalid/sec");
        assert_eq!(
            m["debian-security"].origin,
            MirrorOrigin::Env("RDEBOOTSTRAP_MIRROR_DEBIAN_SECURITY".into())
        );
        let m = resolve(&vendors, &[], &none, &host());
        assert_eq!(m["debian"].url, "http://host.invalid/debian");
        assert_eq!(
            m["debian-security"].url,
            "http://host.invalid/debian-security"
        );
        assert_eq!(
            report(&m),
            [
                "mirror debian: http://host.invalid/debian (from the host's APT sources, /etc/apt/sources.list.d/debian.sources:1)",
                "mirror debian-security: http://host.invalid/debian-security (from the host's APT sources, /etc/apt/sources.list.d/debian.sources:6)",
            ]
        );
        // Nowhere: left out, for the caller's error.
        let m = resolve(&["ubuntu".to_owned()], &[], &none, &host());
        assert!(m.is_empty());
    }

    #[test]
    fn a_security_archive_left_to_the_host_is_pointed_out() {
        let vendors = vec!["debian".to_owned(), "debian-security".to_owned()];
        let flags = vec![("debian".to_owned(), "http://flag.invalid/debian".to_owned())];
        let m = resolve(&vendors, &flags, &|_| None, &host());
        let r = report(&m);
        assert_eq!(
            r[0],
            "mirror debian: http://flag.invalid/debian (from --mirror)"
        );
        assert!(
            r[1].ends_with("; warning: debian is from --mirror, set debian-security too (--mirror debian-security=URL or RDEBOOTSTRAP_MIRROR_DEBIAN_SECURITY)"),
            "{}",
            r[1]
        );
    }

    #[test]
    fn flags_for_no_archive_are_pointed_out() {
        let vendors = vec!["debian".to_owned(), "debian-security".to_owned()];
        let flags = parse_flags(&[
            "debain=http://x.invalid/".into(),
            "debian=http://y.invalid/".into(),
        ])
        .unwrap();
        assert_eq!(
            unused_flags(&vendors, &flags),
            ["warning: --mirror debain=...: the manifest has no archive with mirror = \"debain\" (its vendor archives: debian, debian-security)"]
        );
        assert!(unused_flags(&vendors, &flags[1..]).is_empty());
    }

    #[test]
    fn flags_parse() {
        assert_eq!(
            parse_flags(&["debian-security=http://x.invalid/s".into()]).unwrap(),
            [("debian-security".into(), "http://x.invalid/s".into())]
        );
        let e = parse_flags(&["debian".into()]).unwrap_err();
        assert!(e
            .to_string()
            .starts_with("--mirror debian: expected VENDOR=URL"));
    }
}
