//! Fetching one suite: its verified Release file and its Packages indices.
//!
//! 1. `InRelease` is fetched and verified; if the archive has none,
//!    `Release` and its detached `Release.gpg`.
//! 2. The Release file must name the suite asked for, be dated no more
//!    than [`super::MAX_FUTURE_SECS`] ahead of the clock, and be within its
//!    `Valid-Until` (not checked for snapshots). It is kept in the cache
//!    (by its SHA256, which the lock records), so that a later `update`
//!    can tell the date of the Release a lock was made from.
//! 3. Each index is identified by the digest of its decompressed content
//!    (Release files list it): if the cache holds it intact, nothing else
//!    is fetched. Otherwise the cheapest variant to decode is fetched, by
//!    hash when the archive offers it (the plain name on 404), its size and
//!    SHA256 are checked against the Release file, and it is decompressed,
//!    checked again and cached.

use std::sync::Arc;

use super::{check_date, check_valid_until, choose_index, ArchiveError, IndexFile, SuiteLocation};
use crate::cache::{Cache, CacheError};
use crate::hash::Sha256;
use crate::packages::RecordTable;
use crate::release::{clearsign, Release, ReleaseError};
use crate::transport::{FetchError, Transport};
use crate::verify::{Verified, Verifier, VerifyError};

/// How a suite's Release file is trusted.
#[derive(Clone)]
pub enum Trust {
    /// Verify `InRelease` (or `Release` with `Release.gpg`) with these keys.
    Keys(Arc<dyn Verifier>),
    /// `--no-verify`: fetch the signed files but do not check signatures.
    NoVerify,
    /// `allow-insecure`: fetch the unsigned `Release`.
    AllowInsecure,
}

/// One suite to fetch.
#[derive(Debug, Clone)]
pub struct SuiteRequest {
    /// Archive URL (or the snapshot URL already filled in).
    pub url: String,
    pub suite: String,
    /// Ignored for flat repositories.
    pub components: Vec<String>,
    /// Native architecture.
    pub arch: String,
    /// Foreign architectures whose indices are fetched too, where the
    /// suite has them (a flat repository's one index serves them all).
    pub foreign: Vec<String>,
    /// Pinned to a snapshot: `Valid-Until` is not enforced.
    pub snapshot: bool,
}

/// A fetched, checked suite.
#[derive(Debug, Clone)]
pub struct FetchedSuite {
    pub location: SuiteLocation,
    pub release: Release,
    /// SHA256 of the Release document as fetched (InRelease or Release).
    pub release_sha256: Sha256,
    /// The good signature (none with [`Trust::NoVerify`] or
    /// [`Trust::AllowInsecure`]).
    pub signer: Option<Verified>,
    /// The Release document exactly as the archive served it (apt keeps
    /// and re-verifies the signed file itself).
    pub raw: RawRelease,
    pub indices: Vec<FetchedIndex>,
}

/// The bytes of a suite's Release document as fetched.
#[derive(Clone)]
pub enum RawRelease {
    /// `InRelease`: the clear-signed Release file.
    InRelease(Vec<u8>),
    /// `Release`, with the detached `Release.gpg` when it was fetched
    /// (not with [`Trust::AllowInsecure`] or [`Trust::NoVerify`]).
    Release {
        release: Vec<u8>,
        signature: Option<Vec<u8>>,
    },
}

impl std::fmt::Debug for RawRelease {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RawRelease::InRelease(b) => write!(f, "InRelease({} bytes)", b.len()),
            RawRelease::Release { release, signature } => write!(
                f,
                "Release({} bytes, signature: {:?})",
                release.len(),
                signature.as_ref().map(Vec::len)
            ),
        }
    }
}

/// One decompressed Packages index.
#[derive(Clone)]
pub struct FetchedIndex {
    pub component: String,
    pub arch: String,
    /// SHA256 of the decompressed content.
    pub sha256: Sha256,
    pub data: Vec<u8>,
    /// Taken from the cache, not the network.
    pub from_cache: bool,
    /// The index's records parsed once, when there is a cache to keep
    /// them in (see [`crate::cache::parsed`]); `None` when the index is to
    /// be parsed.
    pub table: Option<RecordTable>,
}

impl std::fmt::Debug for FetchedIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FetchedIndex")
            .field("component", &self.component)
            .field("arch", &self.arch)
            .field("sha256", &self.sha256)
            .field("bytes", &self.data.len())
            .field("from_cache", &self.from_cache)
            .field("table", &self.table)
            .finish()
    }
}

/// Updating a suite failed.
#[derive(Debug, thiserror::Error)]
pub enum UpdateError {
    #[error(transparent)]
    Fetch(#[from] FetchError),
    #[error("{url}: signature check failed")]
    Verify {
        url: String,
        #[source]
        source: VerifyError,
    },
    #[error("{url}: no InRelease and no Release.gpg: the archive is not signed (set allow-insecure = true only if you trust the network path)")]
    Unsigned { url: String },
    #[error("{url}: not a valid Release file")]
    Release {
        url: String,
        #[source]
        source: ReleaseError,
    },
    #[error("{url}: not UTF-8")]
    NotText { url: String },
    #[error(transparent)]
    Archive(#[from] ArchiveError),
    #[error("{url}: expected {expected_size} bytes with SHA256 {expected}, got {size} bytes with SHA256 {actual}; the mirror may be in the middle of a sync, try again later")]
    Mismatch {
        url: String,
        expected: Sha256,
        expected_size: u64,
        actual: Sha256,
        size: u64,
    },
    #[error("{url}: cannot decompress")]
    Decompress {
        url: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{suite}: the Release file lists {path} but the mirror serves none of its variants")]
    IndexMissing { suite: String, path: String },
    #[error("cache")]
    Cache(#[from] CacheError),
}

/// Fetch and check `req` as `trust` says, using `cache` for indices.
pub async fn fetch_suite(
    transport: &Transport,
    cache: Option<&Cache>,
    req: &SuiteRequest,
    trust: &Trust,
    now: i64,
) -> Result<FetchedSuite, UpdateError> {
    let location = SuiteLocation::new(&req.url, &req.suite);
    let (release, release_sha256, signer, raw_release) =
        fetch_release(transport, &location, trust).await?;
    location.check_suite(&release)?;
    check_date(&release, &location.dir(), &req.suite, now)?;
    check_valid_until(&release, &location.dir(), &req.suite, now, req.snapshot)?;
    let mut indices = Vec::new();
    for (component, arch) in index_plan(req, &location, &release) {
        let (component, arch) = (component.as_str(), arch.as_str());
        let base = location.packages_path(component, arch);
        let choice = choose_index(&release, &req.suite, &base)?;
        if let (Some(cache), Some((size, sha))) = (cache, choice.uncompressed) {
            if let Some(data) = cache.read(&sha, Some(size))? {
                transport
                    .progress()
                    .debug(&format!("{}: from the cache ({sha})", location.url(&base)));
                let (data, table) = with_table(Some(cache), sha, data).await;
                indices.push(FetchedIndex {
                    component: component.to_owned(),
                    arch: arch.to_owned(),
                    sha256: sha,
                    data,
                    from_cache: true,
                    table,
                });
                continue;
            }
        }
        let (variant, raw) =
            fetch_variant(transport, &location, &req.suite, &base, &choice.variants).await?;
        let url = location.url(&variant.path);
        let compression = variant.compression;
        let data = tokio::task::spawn_blocking(move || {
            crate::compression::read_all_with(compression, raw.as_slice())
        })
        .await
        .expect("decompression task")
        .map_err(|source| UpdateError::Decompress {
            url: url.clone(),
            source,
        })?;
        let sha = crate::hash::sha256(&data);
        if let Some((size, expected)) = choice.uncompressed {
            if expected != sha || size != data.len() as u64 {
                return Err(UpdateError::Mismatch {
                    url: format!("{url} (decompressed)"),
                    expected,
                    expected_size: size,
                    actual: sha,
                    size: data.len() as u64,
                });
            }
        }
        if let Some(cache) = cache {
            cache.insert(&data, &sha, Some(data.len() as u64))?;
        }
        let (data, table) = with_table(cache, sha, data).await;
        indices.push(FetchedIndex {
            component: component.to_owned(),
            arch: arch.to_owned(),
            sha256: sha,
            data,
            table,
            from_cache: false,
        });
    }
    // Kept once the whole suite was had: what a later update compares
    // the Date of a newly fetched Release with (the lock names it by its
    // SHA256).
    if let Some(cache) = cache {
        let doc = match &raw_release {
            RawRelease::InRelease(b) | RawRelease::Release { release: b, .. } => b,
        };
        let size = Some(doc.len() as u64);
        if !cache.contains(&release_sha256, size)? {
            cache.insert(doc, &release_sha256, size)?;
        }
    }
    Ok(FetchedSuite {
        location,
        release,
        release_sha256,
        signer,
        raw: raw_release,
        indices,
    })
}

/// The (component, architecture) pairs whose indices `req` takes from a
/// suite with this Release: each component (one, `""`, for a flat
/// repository) with the native architecture, then the foreign ones the
/// suite lists (one it does not list is skipped, as apt skips it).
fn index_plan(
    req: &SuiteRequest,
    location: &SuiteLocation,
    release: &Release,
) -> Vec<(String, String)> {
    let components: Vec<&str> = if location.is_flat() {
        vec![""]
    } else {
        req.components.iter().map(String::as_str).collect()
    };
    let mut arches = vec![req.arch.as_str()];
    if !location.is_flat() {
        arches.extend(req.foreign.iter().map(String::as_str).filter(|a| {
            release.architectures.is_empty() || release.architectures.iter().any(|r| r == a)
        }));
    }
    components
        .iter()
        .flat_map(|c| {
            arches
                .iter()
                .map(move |a| ((*c).to_owned(), (*a).to_owned()))
        })
        .collect()
}

/// The suite `req` as [`fetch_suite`] had it, from the cache alone: the
/// Release document the cache holds under `release_sha256` (the digest a
/// lock records; [`fetch_suite`] keeps every Release it accepts) and each
/// index that Release lists, by the digest of its content. `Ok(None)` when
/// the cache lacks any of them; nothing is fetched.
///
/// The signature is not checked again, nor the dates: the document is the
/// one named by its digest, checked when it was fetched (`signer` is
/// `None`).
pub fn cached_suite(
    cache: &Cache,
    req: &SuiteRequest,
    release_sha256: &Sha256,
) -> Result<Option<FetchedSuite>, UpdateError> {
    let location = SuiteLocation::new(&req.url, &req.suite);
    let Some(doc) = cache.read(release_sha256, None)? else {
        return Ok(None);
    };
    let url = location.url("InRelease");
    let text = std::str::from_utf8(&doc).map_err(|_| UpdateError::NotText { url: url.clone() })?;
    let (release, raw) = if text.starts_with("-----BEGIN PGP SIGNED MESSAGE-----") {
        let release = Release::parse_inrelease(text)
            .map_err(|source| UpdateError::Release {
                url: url.clone(),
                source,
            })?
            .0;
        (release, RawRelease::InRelease(doc.clone()))
    } else {
        let release = Release::parse(text).map_err(|source| UpdateError::Release {
            url: location.url("Release"),
            source,
        })?;
        (
            release,
            RawRelease::Release {
                release: doc.clone(),
                signature: None,
            },
        )
    };
    let mut indices = Vec::new();
    for (component, arch) in index_plan(req, &location, &release) {
        let base = location.packages_path(&component, &arch);
        let choice = choose_index(&release, &req.suite, &base)?;
        let Some((size, sha)) = choice.uncompressed else {
            return Ok(None);
        };
        let Some(data) = cache.read(&sha, Some(size))? else {
            return Ok(None);
        };
        let table = record_table(cache, &sha, &data);
        indices.push(FetchedIndex {
            component,
            arch,
            sha256: sha,
            data,
            from_cache: true,
            table,
        });
    }
    Ok(Some(FetchedSuite {
        location,
        release,
        release_sha256: *release_sha256,
        signer: None,
        raw,
        indices,
    }))
}

/// The record table of an index that has a cache: the one kept for it,
/// else one made now and kept. `None` when the index does not parse (the
/// universe's own parse then says why).
fn record_table(cache: &Cache, sha: &Sha256, data: &[u8]) -> Option<RecordTable> {
    if let Ok(Some(bytes)) = cache.read_parsed(sha) {
        match RecordTable::from_bytes(bytes, data) {
            Some(table) => return Some(table),
            None => cache.discard_parsed(sha),
        }
    }
    let table = RecordTable::build(data).ok()??;
    // Not kept (a full disk): made again next time.
    let _ = cache.keep_parsed(sha, table.as_bytes());
    Some(table)
}

/// [`record_table`] off the runtime's threads.
async fn with_table(
    cache: Option<&Cache>,
    sha: Sha256,
    data: Vec<u8>,
) -> (Vec<u8>, Option<RecordTable>) {
    let Some(cache) = cache.cloned() else {
        return (data, None);
    };
    tokio::task::spawn_blocking(move || {
        let table = record_table(&cache, &sha, &data);
        (data, table)
    })
    .await
    .expect("record table task")
}

async fn fetch_release(
    transport: &Transport,
    location: &SuiteLocation,
    trust: &Trust,
) -> Result<(Release, Sha256, Option<Verified>, RawRelease), UpdateError> {
    let in_url = location.url("InRelease");
    let rel_url = location.url("Release");
    let text = |url: &str, bytes: Vec<u8>| {
        String::from_utf8(bytes).map_err(|_| UpdateError::NotText {
            url: url.to_owned(),
        })
    };
    let parse = |url: &str, text: &str| {
        Release::parse(text).map_err(|source| UpdateError::Release {
            url: url.to_owned(),
            source,
        })
    };
    match trust {
        Trust::AllowInsecure => {
            transport.progress().warn(&format!(
                "{rel_url}: allow-insecure: the Release file is not checked against any signature"
            ));
            let bytes = transport.get(&rel_url).await?;
            let sha = crate::hash::sha256(&bytes);
            let raw = RawRelease::Release {
                release: bytes.clone(),
                signature: None,
            };
            let t = text(&rel_url, bytes)?;
            Ok((parse(&rel_url, &t)?, sha, None, raw))
        }
        Trust::NoVerify => {
            transport.progress().warn(&format!(
                "{in_url}: --no-verify: signatures are not checked"
            ));
            if let Some(bytes) = transport.get_optional(&in_url).await? {
                let sha = crate::hash::sha256(&bytes);
                let raw = RawRelease::InRelease(bytes.clone());
                let t = text(&in_url, bytes)?;
                let parts = clearsign::split(&t).map_err(|e| UpdateError::Release {
                    url: in_url.clone(),
                    source: ReleaseError::ClearSign(e),
                })?;
                return Ok((parse(&in_url, &parts.text)?, sha, None, raw));
            }
            let bytes = transport.get(&rel_url).await?;
            let sha = crate::hash::sha256(&bytes);
            let raw = RawRelease::Release {
                release: bytes.clone(),
                signature: None,
            };
            let t = text(&rel_url, bytes)?;
            Ok((parse(&rel_url, &t)?, sha, None, raw))
        }
        Trust::Keys(verifier) => {
            if let Some(bytes) = transport.get_optional(&in_url).await? {
                let sha = crate::hash::sha256(&bytes);
                let raw = RawRelease::InRelease(bytes.clone());
                let t = text(&in_url, bytes)?;
                let (good, signed) =
                    verifier
                        .verify_clearsigned(&t)
                        .map_err(|source| UpdateError::Verify {
                            url: in_url.clone(),
                            source,
                        })?;
                return Ok((parse(&in_url, &signed)?, sha, Some(good), raw));
            }
            let bytes = transport.get(&rel_url).await?;
            let sig_url = location.url("Release.gpg");
            let Some(sig) = transport.get_optional(&sig_url).await? else {
                return Err(UpdateError::Unsigned {
                    url: location.dir(),
                });
            };
            let good =
                verifier
                    .verify_detached(&bytes, &sig)
                    .map_err(|source| UpdateError::Verify {
                        url: sig_url.clone(),
                        source,
                    })?;
            let sha = crate::hash::sha256(&bytes);
            let raw = RawRelease::Release {
                release: bytes.clone(),
                signature: Some(sig),
            };
            let t = text(&rel_url, bytes)?;
            Ok((parse(&rel_url, &t)?, sha, Some(good), raw))
        }
    }
}

/// Fetch the first variant the mirror serves (by hash first, then by
/// name), checked against the Release file.
async fn fetch_variant<'v>(
    transport: &Transport,
    location: &SuiteLocation,
    suite: &str,
    base: &str,
    variants: &'v [IndexFile],
) -> Result<(&'v IndexFile, Vec<u8>), UpdateError> {
    for v in variants {
        let paths = v.by_hash.iter().chain(std::iter::once(&v.path));
        for path in paths {
            let url = location.url(path);
            let mut buf = Vec::with_capacity(v.size as usize);
            // A transfer that ends short of the size is resumed or retried
            // by the transport; only a complete one is hashed.
            match transport.fetch_sized(&url, &mut buf, v.size).await {
                Ok(_) => {}
                Err(e) if e.is_not_found() => continue,
                Err(e) => return Err(e.into()),
            }
            let sha = crate::hash::sha256(&buf);
            if sha != v.sha256 || buf.len() as u64 != v.size {
                return Err(UpdateError::Mismatch {
                    url,
                    expected: v.sha256,
                    expected_size: v.size,
                    actual: sha,
                    size: buf.len() as u64,
                });
            }
            return Ok((v, buf));
        }
    }
    Err(UpdateError::IndexMissing {
        suite: suite.to_owned(),
        path: base.to_owned(),
    })
}
