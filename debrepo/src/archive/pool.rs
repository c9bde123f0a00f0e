//! Fetching pool files (.debs) into the cache, checked against the size and
//! SHA256 the lock or the index gives. A file that does not match is
//! refused and never enters the cache.

use std::path::PathBuf;

use crate::cache::{Cache, CacheError};
use crate::hash::Sha256;
use crate::transport::{FetchError, Transport};

/// A pool file could not be had.
#[derive(Debug, thiserror::Error)]
pub enum PoolError {
    #[error(transparent)]
    Fetch(#[from] FetchError),
    #[error("{url}: the download does not match the index (expected {expected_size} bytes with SHA256 {expected}); it was not kept")]
    Mismatch {
        url: String,
        expected: Sha256,
        expected_size: u64,
        #[source]
        source: CacheError,
    },
    #[error("cache")]
    Cache(#[from] CacheError),
}

/// The cached path of the file with this digest, downloading it from `url`
/// first if the cache does not hold it intact.
pub async fn fetch_to_cache(
    transport: &Transport,
    cache: &Cache,
    url: &str,
    sha256: &Sha256,
    size: u64,
) -> Result<PathBuf, PoolError> {
    if cache.contains(sha256, Some(size))? {
        return Ok(cache.path(sha256));
    }
    let mut writer = cache.writer()?;
    // Longer than the index says: FetchError::TooLarge, with the expected
    // size and the bytes received when it was stopped; shorter: resumed or
    // retried like a dropped connection (FetchError::Truncated when the
    // retries run out), never handed to the hash check. Dropping the
    // writer removes the partial file.
    transport.fetch_sized(url, &mut writer, size).await?;
    writer
        .commit(sha256, Some(size))
        .map_err(|source| match source {
            CacheError::Mismatch { .. } => PoolError::Mismatch {
                url: url.to_owned(),
                expected: *sha256,
                expected_size: size,
                source,
            },
            other => PoolError::Cache(other),
        })
}
