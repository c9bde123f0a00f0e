//! Decoding packages while the others download.
//!
//! A cold build's CPU is mostly idle until its last .deb has arrived; the
//! unpack then decompresses every data member (xz, most of a cold
//! unpack's time). `DecodeAhead` takes each .deb as its download is
//! checked and decodes its data member into the cache's decoded entry
//! ([`crate::cache::decoded`]), which the unpack then reads as a warm
//! build does. When the downloads end it takes no more: a package it has
//! not reached is decoded by the unpack, as before, and the unpack waits
//! only for the packages being decoded at that moment.
//!
//! Nothing here can change the tree: an entry is the decoding of the
//! .deb the lock names (its digest was checked), proven intact when the
//! unpack opens it, and a package this fails on (a damaged or hostile
//! data member) is simply left to the unpack, which reports the error.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::{Arc, Mutex};

use crate::cache::Cache;
use crate::deb::DebReader;
use crate::hash::Sha256;

/// Workers decoding the .debs handed to them, until [`DecodeAhead::finish`].
pub(super) struct DecodeAhead {
    jobs: Option<Sender<(PathBuf, Sha256)>>,
    stop: Arc<AtomicBool>,
    workers: Vec<std::thread::JoinHandle<()>>,
}

impl DecodeAhead {
    /// `workers` threads (none: nothing is decoded ahead).
    pub(super) fn start(cache: &Cache, workers: usize) -> DecodeAhead {
        let (tx, rx) = channel::<(PathBuf, Sha256)>();
        let rx = Arc::new(Mutex::new(rx));
        let stop = Arc::new(AtomicBool::new(false));
        let workers = (0..workers)
            .map(|_| {
                let (rx, stop, cache) = (rx.clone(), stop.clone(), cache.clone());
                std::thread::spawn(move || work(&cache, &rx, &stop))
            })
            .collect();
        DecodeAhead {
            jobs: Some(tx),
            stop,
            workers,
        }
    }

    /// Decode the .deb at `deb` (in the cache, its digest `sha256`
    /// checked) when a worker is free.
    pub(super) fn add(&self, deb: PathBuf, sha256: Sha256) {
        if let Some(jobs) = &self.jobs {
            // A worker that has stopped leaves the package to the unpack.
            let _ = jobs.send((deb, sha256));
        }
    }

    /// Take no more packages, and wait for those being decoded.
    pub(super) async fn finish(mut self) {
        let workers = self.stop_taking();
        // Joined off the async workers: a join blocks.
        let _ = tokio::task::spawn_blocking(move || {
            for w in workers {
                let _ = w.join();
            }
        })
        .await;
    }

    fn stop_taking(&mut self) -> Vec<std::thread::JoinHandle<()>> {
        self.stop.store(true, Ordering::Relaxed);
        self.jobs = None;
        std::mem::take(&mut self.workers)
    }
}

impl Drop for DecodeAhead {
    /// A failed download: the workers end after the package they are on.
    fn drop(&mut self) {
        self.stop_taking();
    }
}

fn work(cache: &Cache, jobs: &Mutex<Receiver<(PathBuf, Sha256)>>, stop: &AtomicBool) {
    loop {
        let job = jobs
            .lock()
            .map_err(|_| ())
            .and_then(|rx| rx.recv().map_err(|_| ()));
        let Ok((deb, sha256)) = job else {
            return;
        };
        if stop.load(Ordering::Relaxed) {
            return;
        }
        decode(cache, &deb, &sha256);
    }
}

/// Keep the decoded data member of `deb` in the cache, unless it is there
/// already; on any failure keep nothing.
fn decode(cache: &Cache, deb: &Path, sha256: &Sha256) -> Option<()> {
    if cache.decoded_path(sha256).exists() {
        return Some(());
    }
    // Handed over once its download matched the lock's SHA-256.
    let mut reader = DebReader::open(deb).ok()?.proven_by_sha256();
    let (_, inner) = reader.data_stream().ok()?;
    let mut kept = cache.decoded_writer().ok()?;
    // The unpack's tee, read to the member's end (where the decoder checks
    // its stream) with nothing else to write to.
    let mut tee = super::Tee {
        inner,
        sink: &mut kept,
    };
    std::io::copy(&mut tee, &mut std::io::sink()).ok()?;
    drop(tee);
    kept.commit(sha256).ok()?.then_some(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read as _;

    /// A cache in a new directory (removed with it).
    fn cache(tag: &str) -> (testkit::TempDir, Cache) {
        let dir = testkit::TempDir::new(tag);
        let cache = Cache::open(dir.path()).unwrap();
        (dir, cache)
    }

    /// `bytes` stored in `cache`: the .deb's path there, and its digest.
    fn stored(cache: &Cache, bytes: &[u8]) -> (PathBuf, Sha256) {
        let sha = crate::hash::sha256(bytes);
        let path = cache.insert(bytes, &sha, Some(bytes.len() as u64)).unwrap();
        (path, sha)
    }

    /// A .deb with one file in its data member, compressed with `c`.
    fn deb(c: testkit::Comp) -> Vec<u8> {
        testkit::DebBuilder::new("p", "1", "all")
            .file("./hello", "hello")
            .data_compression(c)
            .build()
    }

    fn decoded(cache: &Cache, sha: &Sha256) -> Option<Vec<u8>> {
        cache.open_decoded(sha).unwrap().map(|mut r| {
            let mut v = Vec::new();
            r.read_to_end(&mut v).unwrap();
            v
        })
    }

    #[tokio::test]
    async fn debs_handed_over_are_decoded_into_the_cache() {
        let (_dir, cache) = cache("ahead-decode");
        let (path, sha) = stored(&cache, &deb(testkit::Comp::Xz));
        let ahead = DecodeAhead::start(&cache, 2);
        ahead.add(path.clone(), sha);
        // While the downloads go on (finishing drops what no worker took).
        let waited = std::time::Instant::now();
        while !cache.decoded_path(&sha).exists() {
            assert!(waited.elapsed().as_secs() < 30, "not decoded");
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        ahead.finish().await;
        let tar = decoded(&cache, &sha).expect("decoded");
        let mut reader = DebReader::open(&path).unwrap();
        let (_, mut stream) = reader.data_stream().unwrap();
        let mut want = Vec::new();
        stream.read_to_end(&mut want).unwrap();
        assert_eq!(tar, want);
    }

    #[test]
    fn a_damaged_member_keeps_nothing() {
        let (dir, cache) = cache("ahead-damaged");
        let mut bytes = deb(testkit::Comp::Xz);
        // A byte of the xz stream's middle flipped: the decoder fails.
        let at = bytes.len() - 40;
        bytes[at] ^= 0x55;
        let (path, sha) = stored(&cache, &bytes);
        assert_eq!(decode(&cache, &path, &sha), None);
        assert_eq!(decoded(&cache, &sha), None);
        assert!(std::fs::read_dir(dir.path().join("v1/tmp"))
            .unwrap()
            .next()
            .is_none());
    }

    #[tokio::test]
    async fn without_workers_nothing_is_decoded() {
        let (_dir, cache) = cache("ahead-none");
        let (path, sha) = stored(&cache, &deb(testkit::Comp::None));
        let none = DecodeAhead::start(&cache, 0);
        none.add(path, sha);
        none.finish().await;
        assert_eq!(decoded(&cache, &sha), None);
    }
}
