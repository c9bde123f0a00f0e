//! Where archives and packages come from.
//!
//! - [`ArchiveSource`]: an archive is either a URL the manifest gives or
//!   a vendor whose mirror is found on the machine that runs `update` or
//!   `build` (`mirror = "debian"`).
//! - [`archive_url`]: the one place an archive's base URL is worked out:
//!   the URL or the vendor's mirror, or, for an archive pinned to a
//!   snapshot, its `snapshots` template filled in. `update` resolves the
//!   manifest's archives with it, `build` the lock's.
//! - [`PackageOrigin`]: a locked package comes from one of the lock's
//!   archives or is one of its local `.deb`s.
//!
//! The lock file keeps the text forms it always had (`source =
//! "mirror:VENDOR"`, and one `archive = N` index that counts the local
//! packages after the archives); [`crate::lock`] maps them to these types
//! when it reads and writes, and nothing else sees them.

use std::collections::HashMap;
use std::fmt;

use crate::archive::{snapshot_url, SnapshotError};
use crate::manifest::ArchiveDecl;

/// Where an archive is: the URL the manifest gives, or a vendor's mirror.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ArchiveSource {
    /// The manifest's `url`.
    Url(String),
    /// The manifest's `mirror`: a vendor name (`debian`, `ubuntu`,
    /// `debian-security`, ...) whose mirror the caller finds
    /// ([`crate::mirror`]).
    Mirror(String),
}

/// The prefix of a vendor mirror's source in the lock file.
const MIRROR_PREFIX: &str = "mirror:";

impl ArchiveSource {
    /// The source an `[[archive]]` declares (the manifest parser allows
    /// exactly one of `url` and `mirror`).
    pub fn of(decl: &ArchiveDecl) -> ArchiveSource {
        match (&decl.mirror, &decl.url) {
            (Some(v), _) => ArchiveSource::Mirror(v.clone()),
            (None, u) => ArchiveSource::Url(u.clone().unwrap_or_default()),
        }
    }

    /// Whether `decl` declares this source.
    pub fn is_declared_by(&self, decl: &ArchiveDecl) -> bool {
        match self {
            ArchiveSource::Mirror(v) => decl.mirror.as_ref() == Some(v),
            ArchiveSource::Url(u) => decl.mirror.is_none() && decl.url.as_ref() == Some(u),
        }
    }

    /// The vendor of a mirror source.
    pub fn vendor(&self) -> Option<&str> {
        match self {
            ArchiveSource::Mirror(v) => Some(v),
            ArchiveSource::Url(_) => None,
        }
    }

    /// Read the lock file's form: `mirror:VENDOR` or a URL.
    pub fn from_lock_text(text: &str) -> ArchiveSource {
        match text.strip_prefix(MIRROR_PREFIX) {
            Some(v) => ArchiveSource::Mirror(v.to_owned()),
            None => ArchiveSource::Url(text.to_owned()),
        }
    }
}

/// The lock file's form, which messages and SBOMs show too: the URL, or
/// `mirror:VENDOR`.
impl fmt::Display for ArchiveSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ArchiveSource::Url(u) => f.write_str(u),
            ArchiveSource::Mirror(v) => write!(f, "{MIRROR_PREFIX}{v}"),
        }
    }
}

/// An archive's URL cannot be worked out.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ArchiveUrlError {
    /// A vendor archive, and no mirror is known for the vendor.
    #[error("no mirror for vendor '{vendor}'")]
    NoMirror { vendor: String },
    /// Pinned to a snapshot, and the archive has no `snapshots` template.
    #[error("snapshot {id} asked for, and the archive has no snapshots template")]
    NoSnapshotTemplate { id: String },
    /// The template cannot be filled in.
    #[error("snapshot {id}")]
    Snapshot {
        id: String,
        #[source]
        source: SnapshotError,
    },
}

/// The base URL of an archive: for one pinned to `snapshot`, its
/// `snapshots` template filled in with the snapshot id (the source does
/// not matter then); otherwise its URL, or its vendor's mirror from
/// `mirrors` (by vendor name).
pub fn archive_url(
    source: &ArchiveSource,
    snapshot: Option<&str>,
    snapshots: Option<&str>,
    mirrors: &HashMap<String, String>,
) -> Result<String, ArchiveUrlError> {
    if let Some(id) = snapshot {
        let template =
            snapshots.ok_or_else(|| ArchiveUrlError::NoSnapshotTemplate { id: id.to_owned() })?;
        return snapshot_url(template, id).map_err(|source| ArchiveUrlError::Snapshot {
            id: id.to_owned(),
            source,
        });
    }
    match source {
        ArchiveSource::Url(u) => Ok(u.clone()),
        ArchiveSource::Mirror(v) => mirrors
            .get(v)
            .cloned()
            .ok_or_else(|| ArchiveUrlError::NoMirror { vendor: v.clone() }),
    }
}

/// The URL of a file in an archive: `path` (a pool path, relative to the
/// archive root) under the base URL `base` (with or without its trailing
/// slash).
pub fn pool_url(base: &str, path: &str) -> String {
    format!("{}/{}", base.trim_end_matches('/'), path)
}

/// Where a locked package comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PackageOrigin {
    /// Index into the lock's archives ([`crate::lock::Lock::archives`]).
    Archive(usize),
    /// Index into the lock's local `.deb`s ([`crate::lock::Lock::locals`]).
    Local(usize),
    /// An archive or local package of the imported manifest (see
    /// [`crate::manifest::import`]), by its origin in the imported
    /// manifest's lock written as that lock writes it (its `archive = N`,
    /// see [`PackageOrigin::lock_index`]); written `imported = N`.
    Imported(usize),
}

impl PackageOrigin {
    /// The lock file's `archive = N`: an archive's index, or for a local
    /// package `n_archives` plus its index among the locals; for an
    /// imported package, its `imported = N` (an index in the imported
    /// lock's numbering).
    pub fn lock_index(self, n_archives: usize) -> usize {
        match self {
            PackageOrigin::Archive(i) | PackageOrigin::Imported(i) => i,
            PackageOrigin::Local(i) => n_archives + i,
        }
    }

    /// Read the lock file's `archive = N` of a lock with `n_archives`
    /// archives and `n_locals` locals; `None` when it is past both.
    pub fn from_lock_index(
        index: usize,
        n_archives: usize,
        n_locals: usize,
    ) -> Option<PackageOrigin> {
        match index.checked_sub(n_archives) {
            None => Some(PackageOrigin::Archive(index)),
            Some(i) if i < n_locals => Some(PackageOrigin::Local(i)),
            Some(_) => None,
        }
    }
}

/// As messages name it: `archive N` or `local package N` (indices from 0).
impl fmt::Display for PackageOrigin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PackageOrigin::Archive(i) => write!(f, "archive {i}"),
            PackageOrigin::Local(i) => write!(f, "local package {i}"),
            PackageOrigin::Imported(i) => write!(f, "imported package origin {i}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mirrors() -> HashMap<String, String> {
        HashMap::from([("debian".to_owned(), "http://deb.example/debian/".to_owned())])
    }

    #[test]
    fn url_of_an_archive() {
        let url = ArchiveSource::Url("http://archive.example/debian".into());
        let vendor = ArchiveSource::Mirror("debian".into());
        let template = Some("http://snap.example/archive/debian/@SNAPSHOTID@/");
        // No snapshot: the URL or the vendor's mirror; a template does not matter.
        assert_eq!(
            archive_url(&url, None, template, &mirrors()).unwrap(),
            "http://archive.example/debian"
        );
        assert_eq!(
            archive_url(&vendor, None, None, &mirrors()).unwrap(),
            "http://deb.example/debian/"
        );
        assert_eq!(
            archive_url(&vendor, None, None, &HashMap::new()),
            Err(ArchiveUrlError::NoMirror {
                vendor: "debian".into()
            })
        );
        // A snapshot: the template filled in, for a URL and for a vendor
        // without a known mirror alike.
        for source in [&url, &vendor] {
            assert_eq!(
                archive_url(source, Some("20241007T030925Z"), template, &HashMap::new()).unwrap(),
                "http://snap.example/archive/debian/20241007T030925Z/"
            );
        }
        assert_eq!(
            archive_url(&url, Some("20241007T030925Z"), None, &mirrors()),
            Err(ArchiveUrlError::NoSnapshotTemplate {
                id: "20241007T030925Z".into()
            })
        );
        assert!(matches!(
            archive_url(&url, Some("x"), Some("http://snap.example/"), &mirrors()),
            Err(ArchiveUrlError::Snapshot { .. })
        ));
        assert_eq!(
            pool_url("http://deb.example/debian/", "pool/main/h/hello.deb"),
            "http://deb.example/debian/pool/main/h/hello.deb"
        );
        assert_eq!(
            pool_url("http://deb.example/debian", "pool/x.deb"),
            "http://deb.example/debian/pool/x.deb"
        );
    }

    #[test]
    fn lock_text_of_sources() {
        for (text, source) in [
            ("mirror:debian", ArchiveSource::Mirror("debian".into())),
            (
                "mirror:debian-security",
                ArchiveSource::Mirror("debian-security".into()),
            ),
            (
                "http://archive.example/debian",
                ArchiveSource::Url("http://archive.example/debian".into()),
            ),
        ] {
            assert_eq!(ArchiveSource::from_lock_text(text), source);
            assert_eq!(source.to_string(), text);
        }
        assert_eq!(
            ArchiveSource::Mirror("ubuntu".into()).vendor(),
            Some("ubuntu")
        );
        assert_eq!(
            ArchiveSource::Url("http://x.example/".into()).vendor(),
            None
        );
    }

    #[test]
    fn lock_index_of_origins() {
        // Two archives, one local: 0 and 1 are archives, 2 the local, 3 nothing.
        assert_eq!(
            PackageOrigin::from_lock_index(1, 2, 1),
            Some(PackageOrigin::Archive(1))
        );
        assert_eq!(
            PackageOrigin::from_lock_index(2, 2, 1),
            Some(PackageOrigin::Local(0))
        );
        assert_eq!(PackageOrigin::from_lock_index(3, 2, 1), None);
        assert_eq!(PackageOrigin::Local(0).lock_index(2), 2);
        assert_eq!(PackageOrigin::Archive(1).lock_index(2), 1);
        // The order of the old indices: archives first, then locals.
        assert!(PackageOrigin::Archive(5) < PackageOrigin::Local(0));
    }
}
