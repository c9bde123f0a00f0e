//! Release freshness on `update` (a Release from the future, an expired
//! one, one older than the lock's) and short answers on `update` and on
//! a build's downloads, against signed test archives on loopback.

use std::collections::HashMap;
use std::time::Duration;

use debrepo::archive::{ArchiveError, UpdateError};
use debrepo::cache::Cache;
use debrepo::lock::Lock;
use debrepo::manifest::Manifest;
use debrepo::progress::NoProgress;
use debrepo::transport::{Transport, TransportOptions};
use debrepo::update::{update, Error, UpdateOptions};
use testkit::archive::{Served, SuiteBuilder};
use testkit::http::Fault;
use testkit::{Comp, DebBuilder, TempDir};

/// The test archives' default Date.
const DATE: &str = "Sat, 12 Sep 2026 07:55:41 UTC";
const NOW: i64 = 1_789_200_000; // just after DATE
/// A Release three months older than DATE.
const OLDER: &str = "Fri, 12 Jun 2026 07:55:41 UTC";
const SNAPSHOT: &str = "20260612T080000Z";

fn suite(hello: &str) -> SuiteBuilder {
    SuiteBuilder::new("trixie")
        .by_hash(false)
        .compressions(&[Comp::Gzip])
        .package(
            DebBuilder::new("hello", hello, "amd64")
                .field("Depends", "libc6 (>= 2.34)")
                // Big enough for a body 100 bytes short to be short.
                .file("usr/share/doc/hello/notes", notes(4000)),
        )
        .package(
            DebBuilder::new("libc6", "2.41-12", "amd64").file("usr/lib/libc.notes", notes(3000)),
        )
        .package(DebBuilder::new("tzdata", "2025b-4", "all").file("usr/share/tz", notes(3000)))
}

/// Bytes that do not compress to nothing.
fn notes(n: usize) -> Vec<u8> {
    let mut x: u32 = 0x9e37_79b9;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            (x % 251) as u8
        })
        .collect()
}

struct Fixture {
    served: Served,
    _work: TempDir,
    cache: Cache,
    manifest: Manifest,
}

fn fixture(name: &str, builder: SuiteBuilder) -> Option<Fixture> {
    let served = Served::start(name, builder)?;
    let work = TempDir::new(name);
    served.write_keyring(&work.path().join("archive.gpg"));
    let text = format!(
        "[[archive]]\nurl = \"{}\"\nsnapshots = \"{}/snapshot/@SNAPSHOTID@/\"\nsuites = [\"trixie\"]\ncomponents = [\"main\"]\nsigned-by = \"archive.gpg\"\n\n[spec]\nvariant = \"custom\"\ninclude = [\"hello\", \"tzdata\"]\n",
        served.url(),
        served.server.url()
    );
    let path = work.path().join("Manifest.toml");
    std::fs::write(&path, text).unwrap();
    let manifest = Manifest::load(&path).unwrap();
    let cache = Cache::open(work.path().join("cache")).unwrap();
    Some(Fixture {
        served,
        _work: work,
        cache,
        manifest,
    })
}

fn transport() -> Transport {
    Transport::new(TransportOptions {
        retries: 2,
        backoff: Duration::from_millis(10),
        ..Default::default()
    })
    .unwrap()
}

fn opts(now: i64) -> UpdateOptions {
    UpdateOptions {
        arch: "amd64".into(),
        now,
        ..Default::default()
    }
}

impl Fixture {
    fn update(&self, opts: &UpdateOptions) -> Result<Lock, Error> {
        tokio::runtime::Runtime::new().unwrap().block_on(update(
            &self.manifest,
            &transport(),
            Some(&self.cache),
            opts,
        ))
    }

    /// Publish `builder` in place of the archive's suite, signed with the
    /// same key (an old Release replayed with its good signature).
    fn republish(&self, builder: SuiteBuilder) {
        builder.write(&self.served.root(), &self.served.gpg, &self.served.key);
    }

    fn suite_url(&self) -> String {
        format!("{}/dists/trixie/", self.served.url())
    }
}

fn version(lock: &Lock, name: &str) -> String {
    lock.spec("")
        .unwrap()
        .packages
        .iter()
        .find(|p| p.name == name)
        .unwrap()
        .version
        .clone()
}

#[test]
fn a_release_from_the_future_is_refused() {
    let Some(f) = fixture("fresh-future", suite("2.10-3")) else {
        return;
    };
    // The clock 30 days before the archive's Date.
    let date = debrepo::release::date::parse(DATE).unwrap();
    let e = f.update(&opts(date - 30 * 86400)).unwrap_err();
    assert!(
        matches!(
            e,
            Error::Fetch(UpdateError::Archive(ArchiveError::NotYetValid { .. }))
        ),
        "{e:?}"
    );
    assert_eq!(
        e.to_string(),
        format!(
            "{}: the Release file of trixie is dated {DATE}, 30d 0h 0min 0s ahead of this machine's clock (Thu, 13 Aug 2026 07:55:41 UTC); a Release file more than 10 s in the future is refused, as apt refuses it: check this machine's clock (and the mirror's)",
            f.suite_url()
        )
    );
    // Within apt's 10 s allowance it is taken.
    f.update(&opts(date - 10)).unwrap();
    // A snapshot is refused the same way (its Date is its own).
    let snap = f.served.dir.path().join("snapshot").join(SNAPSHOT);
    suite("2.10-3").write(&snap, &f.served.gpg, &f.served.key);
    let mut o = opts(date - 11);
    o.snapshot = Some(SNAPSHOT.into());
    let e = f.update(&o).unwrap_err();
    assert!(
        e.to_string().contains("11s ahead of this machine's clock"),
        "{e}"
    );
}

#[test]
fn an_expired_release_is_refused_unless_fetched_at_a_snapshot() {
    let until = "Sat, 19 Sep 2026 07:55:41 UTC";
    let Some(f) = fixture("fresh-expired", suite("2.10-3").valid_until(until)) else {
        return;
    };
    let week = 7 * 86400;
    f.update(&opts(NOW)).unwrap();
    let e = f.update(&opts(NOW + week + 1)).unwrap_err();
    assert_eq!(
        e.to_string(),
        format!(
            "{}: the Release file of trixie expired on {until} (Valid-Until); the mirror is out of date: use a current mirror, or pin a snapshot",
            f.suite_url()
        )
    );
    // A snapshot's Release files are expired by nature: not checked.
    let snap = f.served.dir.path().join("snapshot").join(SNAPSHOT);
    suite("2.10-3")
        .valid_until(until)
        .write(&snap, &f.served.gpg, &f.served.key);
    let mut o = opts(NOW + week + 1);
    o.snapshot = Some(SNAPSHOT.into());
    f.update(&o).unwrap();
}

#[test]
fn a_release_older_than_the_locks_is_refused_on_update() {
    let Some(f) = fixture("fresh-older", suite("2.10-3")) else {
        return;
    };
    let lock = f.update(&opts(NOW)).unwrap();
    assert_eq!(version(&lock, "hello"), "2.10-3");
    let with_lock = UpdateOptions {
        locked_archives: lock.archives.clone(),
        ..opts(NOW)
    };
    // The same Release again, and a newer one, are fine.
    f.update(&with_lock).unwrap();
    // An older Release, validly signed: refused, naming the suite's URL,
    // the suite, both dates and what to do.
    f.republish(suite("2.9-1").date(OLDER));
    let e = f.update(&with_lock).unwrap_err();
    assert!(matches!(e, Error::OlderRelease { .. }), "{e:?}");
    assert_eq!(
        e.to_string(),
        format!(
            "{}: the Release file of suite trixie is dated {OLDER}, before the one the lock was made from ({DATE}): the mirror is behind, or serves an old Release again (a replay); use an up-to-date mirror or wait for this one to catch up; to go back on purpose, fetch a snapshot (--snapshot) or pass --allow-older-release",
            f.suite_url()
        )
    );
    // Without a lock to compare with (a first update), it is taken.
    assert_eq!(version(&f.update(&opts(NOW)).unwrap(), "hello"), "2.9-1");
    // Asked for: taken, the lock goes back.
    let allowed = UpdateOptions {
        allow_older_release: true,
        ..with_lock.clone()
    };
    assert_eq!(version(&f.update(&allowed).unwrap(), "hello"), "2.9-1");
    // Going back through a snapshot is what a snapshot is for.
    let snap = f.served.dir.path().join("snapshot").join(SNAPSHOT);
    suite("2.9-1")
        .date(OLDER)
        .write(&snap, &f.served.gpg, &f.served.key);
    let at_snapshot = UpdateOptions {
        snapshot: Some(SNAPSHOT.into()),
        ..with_lock.clone()
    };
    let back = f.update(&at_snapshot).unwrap();
    assert_eq!(version(&back, "hello"), "2.9-1");
    assert_eq!(back.archives[0].snapshot.as_deref(), Some(SNAPSHOT));
    // A newer Release than the lock's is taken.
    f.republish(suite("2.11-1").date("Sat, 12 Sep 2026 07:59:00 UTC"));
    assert_eq!(version(&f.update(&with_lock).unwrap(), "hello"), "2.11-1");
}

#[test]
fn short_answers_are_resumed_on_update_and_on_build_downloads() {
    let Some(f) = fixture("fresh-short", suite("2.10-3")) else {
        return;
    };
    let server = &f.served.server;
    let inrelease = "/debian/dists/trixie/InRelease";
    let index = "/debian/dists/trixie/main/binary-amd64/Packages.gz";
    let size = |p: &str| {
        std::fs::metadata(f.served.dir.path().join(p.trim_start_matches('/')))
            .unwrap()
            .len()
    };
    assert!(size(inrelease) > 200 && size(index) > 200);
    // InRelease 100 bytes short of its Content-Length, then a chunked
    // answer that ends cleanly 100 bytes short; the index likewise.
    server.fault(inrelease, Fault::ShortBy(100));
    server.fault(inrelease, Fault::ShortChunked(100));
    server.fault(index, Fault::ShortChunked(100));
    let lock = f.update(&opts(NOW)).unwrap();
    assert!(lock.archives[0].signer.is_some());
    assert_eq!(server.hits(inrelease), 3);
    assert_eq!(server.hits(index), 2);
    let ranged: Vec<_> = server
        .requests()
        .into_iter()
        .filter(|r| r.range.is_some())
        .map(|r| (r.path, r.status))
        .collect();
    assert_eq!(
        ranged,
        [
            (inrelease.to_owned(), 206),
            (inrelease.to_owned(), 206),
            (index.to_owned(), 206)
        ]
    );

    // The build's downloads: one .deb short of its Content-Length, one a
    // clean chunked answer 100 bytes short, one served whole but 100 bytes
    // shorter than the index says.
    let spec = lock.spec("").unwrap().clone();
    let path_of = |name: &str| {
        let p = spec.packages.iter().find(|p| p.name == name).unwrap();
        assert!(p.size > 1000, "{} is {} bytes", p.name, p.size);
        format!("/debian/{}", p.path)
    };
    server.fault(&path_of("hello"), Fault::ShortBy(100));
    server.fault(&path_of("libc6"), Fault::ShortChunked(100));
    server.fault(&path_of("tzdata"), Fault::Truncated(100));
    server.clear_log();
    let urls = debrepo::build::archive_urls(&f.manifest, &lock, &HashMap::new()).unwrap();
    let debs = tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(debrepo::build::download(
            &f.manifest,
            &lock,
            None,
            &spec,
            &urls,
            &transport(),
            &f.cache,
            0,
            &NoProgress,
        ))
        .unwrap();
    assert_eq!(debs.len(), 3);
    for (p, deb) in spec.packages.iter().zip(&debs) {
        let bytes = std::fs::read(deb).unwrap();
        assert_eq!(bytes.len() as u64, p.size, "{}", p.name);
        assert_eq!(
            debrepo::hash::sha256(&bytes).to_string(),
            p.sha256,
            "{}",
            p.name
        );
        assert_eq!(server.hits(&path_of(&p.name)), 2, "{}", p.name);
    }

    // Short every time: the error says so with the figures; the short
    // bytes never reach the signature check.
    for _ in 0..3 {
        server.fault(inrelease, Fault::ShortChunked(100));
    }
    f.served.server.without_ranges();
    let e = f.update(&opts(NOW)).unwrap_err();
    let full = size(inrelease);
    assert_eq!(
        e.to_string(),
        format!(
            "{}/dists/trixie/InRelease: the transfer ended early: {} of {full} bytes received",
            f.served.url(),
            full - 100
        )
    );
}
