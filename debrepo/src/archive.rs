//! The layout of an APT archive and the checks apt makes on a verified
//! Release file before it uses any index.
//!
//! A suite lives under `dists/<suite>/` of the archive URL; a *flat*
//! repository (suite ending in `/`, `"/"` or `"./"` for the root) keeps its
//! Release and index files directly in that directory. Index files are
//! named relative to the suite directory, as the Release file lists them,
//! and are fetched by hash (`<dir>/by-hash/SHA256/<hex>`) when the archive
//! says `Acquire-By-Hash: yes`, falling back to the plain name.

pub mod fetch;
pub mod pool;

pub use fetch::{
    fetch_suite, FetchedIndex, FetchedSuite, RawRelease, SuiteRequest, Trust, UpdateError,
};
pub use pool::{fetch_to_cache, PoolError};

use crate::compression::Compression;
use crate::hash::Sha256;
use crate::release::{date, Release};

/// A problem with a suite's Release file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ArchiveError {
    #[error(
        "the Release file of {suite} lists no {path} with a SHA256 digest; check the suite's components and architectures"
    )]
    NoIndex { suite: String, path: String },
    #[error(
        "{url}: the Release file of {suite} expired on {} (Valid-Until); the mirror is out of date: use a current mirror, or pin a snapshot",
        date::format(*valid_until)
    )]
    Expired {
        /// The suite directory's URL.
        url: String,
        suite: String,
        valid_until: i64,
    },
    #[error(
        "{url}: the Release file of {suite} is dated {}, {} ahead of this machine's clock ({}); a Release file more than {MAX_FUTURE_SECS} s in the future is refused, as apt refuses it: check this machine's clock (and the mirror's)",
        date::format(*date),
        span(date - now),
        date::format(*now)
    )]
    NotYetValid {
        /// The suite directory's URL.
        url: String,
        suite: String,
        date: i64,
        now: i64,
    },
    #[error(
        "the Release file fetched for suite {requested} is for {} (Suite) / {} (Codename); the mirror serves another suite under this name",
        found_suite.as_deref().unwrap_or("-"),
        found_codename.as_deref().unwrap_or("-")
    )]
    WrongSuite {
        requested: String,
        found_suite: Option<String>,
        found_codename: Option<String>,
    },
}

/// Where one suite of an archive lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SuiteLocation {
    base: String,
    suite: String,
    flat: bool,
}

impl SuiteLocation {
    /// The suite `suite` of the archive at `url`. A suite ending in `/`
    /// means a flat repository (`"/"` and `"./"` are its root).
    pub fn new(url: &str, suite: &str) -> SuiteLocation {
        let mut base = url.to_owned();
        if !base.ends_with('/') {
            base.push('/');
        }
        SuiteLocation {
            base,
            suite: suite.to_owned(),
            flat: suite.ends_with('/'),
        }
    }

    /// True for a flat repository.
    pub fn is_flat(&self) -> bool {
        self.flat
    }

    /// The suite as named in the manifest.
    pub fn suite(&self) -> &str {
        &self.suite
    }

    /// The URL of the suite directory, ending in `/`.
    pub fn dir(&self) -> String {
        if self.flat {
            let sub = self.suite.trim_start_matches("./").trim_start_matches('/');
            format!("{}{}", self.base, sub)
        } else {
            format!("{}dists/{}/", self.base, self.suite)
        }
    }

    /// The URL of a file named relative to the suite directory.
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.dir(), path)
    }

    /// The URL of a file named relative to the archive root (a pool file).
    pub fn root_url(&self, path: &str) -> String {
        format!("{}{}", self.base, path.trim_start_matches('/'))
    }

    /// The path of the Packages index of `component` and `arch`, relative
    /// to the suite directory, without compression suffix. Flat
    /// repositories have a single index.
    pub fn packages_path(&self, component: &str, arch: &str) -> String {
        if self.flat {
            "Packages".to_owned()
        } else {
            format!("{component}/binary-{arch}/Packages")
        }
    }

    /// Check that a Release file is the one asked for: the suite name must
    /// be its Suite or Codename (flat repositories carry no such promise).
    pub fn check_suite(&self, release: &Release) -> Result<(), ArchiveError> {
        if self.flat {
            return Ok(());
        }
        let wanted = Some(self.suite.as_str());
        if release.suite.as_deref() == wanted || release.codename.as_deref() == wanted {
            return Ok(());
        }
        Err(ArchiveError::WrongSuite {
            requested: self.suite.clone(),
            found_suite: release.suite.clone(),
            found_codename: release.codename.clone(),
        })
    }
}

/// Refuse a Release file past its `Valid-Until` (apt's
/// `Acquire::Check-Valid-Until`), unless the archive is pinned to a
/// snapshot: a snapshot's Release files are expired by nature (with apt
/// one writes `check-valid-until=no` for them). `url` (the suite
/// directory) and `suite` name it in the error.
pub fn check_valid_until(
    release: &Release,
    url: &str,
    suite: &str,
    now: i64,
    snapshot: bool,
) -> Result<(), ArchiveError> {
    match release.valid_until {
        Some(t) if !snapshot && now > t => Err(ArchiveError::Expired {
            url: url.to_owned(),
            suite: suite.to_owned(),
            valid_until: t,
        }),
        _ => Ok(()),
    }
}

/// How far, in seconds, a Release file's `Date` may lie ahead of this
/// machine's clock: apt's default `Acquire::Max-FutureTime`.
pub const MAX_FUTURE_SECS: i64 = 10;

/// Refuse a Release file whose `Date` is more than [`MAX_FUTURE_SECS`]
/// ahead of `now`, as apt does (`Acquire::Check-Date`): a file from the
/// future means a wrong clock here or on the mirror, and a Valid-Until
/// computed from it means nothing. Snapshots too: their Release files keep
/// the date they were made, which is never in the future. A Release file
/// without a `Date` passes (apt only warns about it).
pub fn check_date(release: &Release, url: &str, suite: &str, now: i64) -> Result<(), ArchiveError> {
    match release.date {
        Some(d) if d > now.saturating_add(MAX_FUTURE_SECS) => Err(ArchiveError::NotYetValid {
            url: url.to_owned(),
            suite: suite.to_owned(),
            date: d,
            now,
        }),
        _ => Ok(()),
    }
}

/// A span of seconds as apt prints it: `30d 0h 0min 5s`, `2h 0min 0s`,
/// `11s`.
pub fn span(secs: i64) -> String {
    let s = secs.max(0);
    let (d, h, m, s) = (s / 86400, s % 86400 / 3600, s % 3600 / 60, s % 60);
    if d > 0 {
        format!("{d}d {h}h {m}min {s}s")
    } else if h > 0 {
        format!("{h}h {m}min {s}s")
    } else if m > 0 {
        format!("{m}min {s}s")
    } else {
        format!("{s}s")
    }
}

/// The placeholder of snapshot URL templates.
pub const SNAPSHOT_PLACEHOLDER: &str = "@SNAPSHOTID@";

/// A snapshot id that is not `YYYYMMDDTHHMMSSZ` or `today`, or a template
/// without the placeholder.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SnapshotError {
    #[error(
        "invalid snapshot id {0:?}: expected YYYYMMDDTHHMMSSZ (e.g. 20241007T030925Z) or 'today'"
    )]
    BadId(String),
    #[error("snapshot URL template {0:?} lacks the {SNAPSHOT_PLACEHOLDER} placeholder")]
    NoPlaceholder(String),
}

/// Resolve a snapshot id: `today` is today's date at 00:00:00 UTC (given
/// `now` in Unix seconds); an explicit `YYYYMMDDTHHMMSSZ` is checked and kept.
pub fn snapshot_id(id: &str, now: i64) -> Result<String, SnapshotError> {
    if id == "today" {
        let (y, m, d, ..) = date::parts(now);
        return Ok(format!("{y:04}{m:02}{d:02}T000000Z"));
    }
    let bad = || SnapshotError::BadId(id.to_owned());
    let b = id.as_bytes();
    let shape = b.len() == 16
        && b[8] == b'T'
        && b[15] == b'Z'
        && b[..8].iter().chain(&b[9..15]).all(u8::is_ascii_digit);
    if !shape {
        return Err(bad());
    }
    let n = |r: std::ops::Range<usize>| id[r].parse::<u32>().map_err(|_| bad());
    date::from_parts(
        n(0..4)? as i64,
        n(4..6)?,
        n(6..8)?,
        n(9..11)?,
        n(11..13)?,
        n(13..15)?,
    )
    .ok_or_else(bad)?;
    Ok(id.to_owned())
}

/// Fill a snapshot URL template (`https://snapshot.example/archive/debian/@SNAPSHOTID@/`).
pub fn snapshot_url(template: &str, id: &str) -> Result<String, SnapshotError> {
    if !template.contains(SNAPSHOT_PLACEHOLDER) {
        return Err(SnapshotError::NoPlaceholder(template.into()));
    }
    Ok(template.replace(SNAPSHOT_PLACEHOLDER, id))
}

/// One way to fetch an index: a compressed (or plain) variant the Release
/// file lists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexFile {
    /// Path relative to the suite directory (`main/binary-amd64/Packages.xz`).
    pub path: String,
    /// Path to fetch by hash, when the archive offers it.
    pub by_hash: Option<String>,
    pub compression: Compression,
    pub size: u64,
    pub sha256: Sha256,
}

/// An index as the Release file describes it: the variants to try in order
/// of preference, and the digest of the decompressed content when listed
/// (it identifies the index in the cache whatever the compression).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndexChoice {
    pub variants: Vec<IndexFile>,
    pub uncompressed: Option<(u64, Sha256)>,
}

/// Order of preference of index compressions: cheapest to decode first,
/// the uncompressed file last (mirrors often list it but do not serve it,
/// and it is the largest download).
pub const INDEX_PREFERENCE: [Compression; 6] = [
    Compression::Zstd,
    Compression::Lz4,
    Compression::Gzip,
    Compression::Xz,
    Compression::Bzip2,
    Compression::None,
];

/// The variants of the index `base` (`main/binary-amd64/Packages`) that the
/// Release file lists with a SHA256 digest, best first.
pub fn choose_index(
    release: &Release,
    suite: &str,
    base: &str,
) -> Result<IndexChoice, ArchiveError> {
    let dir = base.rsplit_once('/').map_or("", |(d, _)| d);
    let mut variants = Vec::new();
    for c in INDEX_PREFERENCE {
        let path = format!("{base}{}", c.extension());
        let Some(entry) = release.file(&path) else {
            continue;
        };
        let Some(sha256) = entry.sha256 else { continue };
        let by_hash = release.acquire_by_hash.then(|| {
            if dir.is_empty() {
                format!("by-hash/SHA256/{sha256}")
            } else {
                format!("{dir}/by-hash/SHA256/{sha256}")
            }
        });
        variants.push(IndexFile {
            path,
            by_hash,
            compression: c,
            size: entry.size,
            sha256,
        });
    }
    if variants.is_empty() {
        return Err(ArchiveError::NoIndex {
            suite: suite.to_owned(),
            path: base.to_owned(),
        });
    }
    let uncompressed = release
        .file(base)
        .and_then(|e| e.sha256.map(|h| (e.size, h)));
    Ok(IndexChoice {
        variants,
        uncompressed,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const REL: &str = "Suite: stable\nCodename: trixie\nAcquire-By-Hash: yes\nValid-Until: Sat, 12 Sep 2026 07:55:41 UTC\nSHA256:\n 1111111111111111111111111111111111111111111111111111111111111111 100 main/binary-amd64/Packages\n 2222222222222222222222222222222222222222222222222222222222222222 20 main/binary-amd64/Packages.xz\n 3333333333333333333333333333333333333333333333333333333333333333 30 main/binary-amd64/Packages.gz\nMD5Sum:\n 44444444444444444444444444444444 10 main/binary-amd64/Packages.bz2\n";

    #[test]
    fn snapshots() {
        assert_eq!(
            snapshot_id("20241007T030925Z", 0).unwrap(),
            "20241007T030925Z"
        );
        assert_eq!(
            snapshot_id("today", 1_789_199_741).unwrap(),
            "20260912T000000Z"
        );
        for bad in [
            "2024-10-07",
            "20241307T000000Z",
            "20241007T030925",
            "20240230T000000Z",
            "yesterday",
        ] {
            let e = snapshot_id(bad, 0).unwrap_err();
            assert!(
                e.to_string().contains("expected YYYYMMDDTHHMMSSZ"),
                "{bad}: {e}"
            );
        }
        assert_eq!(
            snapshot_url(
                "http://snap.invalid/archive/debian/@SNAPSHOTID@/",
                "20241007T030925Z"
            )
            .unwrap(),
            "http://snap.invalid/archive/debian/20241007T030925Z/"
        );
        assert!(snapshot_url("http://snap.invalid/debian/", "x").is_err());
    }

    #[test]
    fn locations() {
        let s = SuiteLocation::new("http://127.0.0.1:8080/debian", "trixie");
        assert_eq!(
            s.url("InRelease"),
            "http://127.0.0.1:8080/debian/dists/trixie/InRelease"
        );
        assert_eq!(
            s.root_url("pool/main/a/a.deb"),
            "http://127.0.0.1:8080/debian/pool/main/a/a.deb"
        );
        assert_eq!(
            s.packages_path("main", "amd64"),
            "main/binary-amd64/Packages"
        );
        let flat = SuiteLocation::new("file:///srv/repo/", "/");
        assert!(flat.is_flat());
        assert_eq!(flat.url("InRelease"), "file:///srv/repo/InRelease");
        assert_eq!(flat.packages_path("main", "amd64"), "Packages");
        assert_eq!(
            SuiteLocation::new("http://h/r", "./").url("Release"),
            "http://h/r/Release"
        );
        assert_eq!(
            SuiteLocation::new("http://h/r", "sub/").url("Release"),
            "http://h/r/sub/Release"
        );
    }

    #[test]
    fn index_variants_best_first_with_by_hash() {
        let r = Release::parse(REL).unwrap();
        let c = choose_index(&r, "trixie", "main/binary-amd64/Packages").unwrap();
        let names: Vec<_> = c.variants.iter().map(|v| v.path.as_str()).collect();
        // gz before xz (cheaper to decode), plain last, bz2 only by MD5: not offered.
        assert_eq!(
            names,
            [
                "main/binary-amd64/Packages.gz",
                "main/binary-amd64/Packages.xz",
                "main/binary-amd64/Packages"
            ]
        );
        assert_eq!(
            c.variants[0].by_hash.as_deref(),
            Some("main/binary-amd64/by-hash/SHA256/3333333333333333333333333333333333333333333333333333333333333333")
        );
        assert_eq!(c.variants[0].size, 30);
        assert_eq!(c.uncompressed.unwrap().0, 100);
        let e = choose_index(&r, "trixie", "contrib/binary-amd64/Packages").unwrap_err();
        assert_eq!(
            e.to_string(),
            "the Release file of trixie lists no contrib/binary-amd64/Packages with a SHA256 digest; check the suite's components and architectures"
        );
    }

    #[test]
    fn suite_and_validity_checks() {
        let r = Release::parse(REL).unwrap();
        SuiteLocation::new("http://h/", "trixie")
            .check_suite(&r)
            .unwrap();
        SuiteLocation::new("http://h/", "stable")
            .check_suite(&r)
            .unwrap();
        let e = SuiteLocation::new("http://h/", "bookworm")
            .check_suite(&r)
            .unwrap_err();
        assert!(
            e.to_string()
                .contains("is for stable (Suite) / trixie (Codename)"),
            "{e}"
        );
        SuiteLocation::new("http://h/", "./")
            .check_suite(&r)
            .unwrap();
        let t = r.valid_until.unwrap();
        check_valid_until(&r, "http://h/dists/trixie/", "trixie", t - 1, false).unwrap();
        let e =
            check_valid_until(&r, "http://h/dists/trixie/", "trixie", t + 1, false).unwrap_err();
        assert!(
            e.to_string().starts_with(
                "http://h/dists/trixie/: the Release file of trixie expired on Sat, 12 Sep 2026 07:55:41 UTC"
            ),
            "{e}"
        );
        check_valid_until(&r, "http://h/dists/trixie/", "trixie", t + 1, true).unwrap();
    }

    #[test]
    fn dates_in_the_future_beyond_the_skew_are_refused() {
        let r = Release::parse("Codename: trixie\nDate: Sat, 12 Sep 2026 07:55:41 UTC\n").unwrap();
        let d = r.date.unwrap();
        let url = "http://h/dists/trixie/";
        check_date(&r, url, "trixie", d).unwrap();
        // apt's allowance: up to 10 s ahead of the clock.
        check_date(&r, url, "trixie", d - MAX_FUTURE_SECS).unwrap();
        let e = check_date(&r, url, "trixie", d - MAX_FUTURE_SECS - 1).unwrap_err();
        assert!(
            e.to_string().contains("11s ahead of this machine's clock"),
            "{e}"
        );
        let e = check_date(&r, url, "trixie", d - 30 * 86400).unwrap_err();
        assert_eq!(
            e.to_string(),
            "http://h/dists/trixie/: the Release file of trixie is dated Sat, 12 Sep 2026 07:55:41 UTC, 30d 0h 0min 0s ahead of this machine's clock (Thu, 13 Aug 2026 07:55:41 UTC); a Release file more than 10 s in the future is refused, as apt refuses it: check this machine's clock (and the mirror's)"
        );
        // No Date: nothing to check.
        check_date(
            &Release::parse("Codename: trixie\n").unwrap(),
            url,
            "trixie",
            0,
        )
        .unwrap();
        assert_eq!(span(3 * 3600 + 5), "3h 0min 5s");
        assert_eq!(span(61), "1min 1s");
    }
}
