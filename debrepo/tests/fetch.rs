//! Fetching suites from signed test archives on a loopback server: the
//! happy path, the warm cache, fallbacks, and each failure as the user sees it.

use std::sync::Arc;
use std::time::Duration;

use debrepo::archive::{fetch_suite, FetchedSuite, SuiteRequest, Trust, UpdateError};
use debrepo::cache::Cache;
use debrepo::transport::{Transport, TransportOptions};
use debrepo::verify::{Keyring, PgpVerifier};
use debrepo::PackagesParser;
use testkit::archive::SuiteBuilder;
use testkit::gpg::{self, Gpg};
use testkit::http::{Fault, Server};
use testkit::{Comp, DebBuilder, TempDir};

const NOW: i64 = 1_789_200_000; // just after the test archives' Date

struct Fixture {
    _dir: TempDir,
    root: std::path::PathBuf,
    gpg: Gpg,
    key: String,
    server: Server,
    cache_dir: TempDir,
}

fn suite() -> SuiteBuilder {
    SuiteBuilder::new("trixie")
        .suite("stable")
        .package(DebBuilder::new("hello", "2.10-3", "amd64").field("Depends", "libc6 (>= 2.34)"))
        .package(DebBuilder::new("libc6", "2.41-12", "amd64").field("Multi-Arch", "same"))
        .package(DebBuilder::new("tzdata", "2025b-4", "all"))
}

fn fixture(builder: SuiteBuilder) -> Option<Fixture> {
    if !testkit::require(gpg::available(), "gpg") {
        return None;
    }
    let dir = TempDir::new("archive");
    let root = dir.path().join("debian");
    let gpg = Gpg::new();
    let key = gpg.key("Test Archive", "ed25519", "0", None);
    builder.write(&root, &gpg, &key);
    let server = Server::serve_dir(dir.path());
    Some(Fixture {
        root,
        gpg,
        key,
        server,
        cache_dir: TempDir::new("cache"),
        _dir: dir,
    })
}

impl Fixture {
    fn trust(&self) -> Trust {
        let keyring =
            Keyring::from_bytes(&self.gpg.export(&[&self.key], false), "test keyring").unwrap();
        Trust::Keys(Arc::new(PgpVerifier::new(keyring)))
    }
    fn request(&self, suite: &str) -> SuiteRequest {
        SuiteRequest {
            url: format!("{}/debian", self.server.url()),
            suite: suite.into(),
            components: vec!["main".into()],
            arch: "amd64".into(),
            foreign: Vec::new(),
            snapshot: false,
        }
    }
    fn cache(&self) -> Cache {
        Cache::open(self.cache_dir.path()).unwrap()
    }
    async fn fetch(&self, req: &SuiteRequest, trust: &Trust) -> Result<FetchedSuite, UpdateError> {
        let t = Transport::new(TransportOptions {
            retries: 1,
            backoff: Duration::from_millis(10),
            ..Default::default()
        })
        .unwrap();
        fetch_suite(&t, Some(&self.cache()), req, trust, NOW).await
    }
}

fn names(s: &FetchedSuite) -> Vec<String> {
    let text = std::str::from_utf8(&s.indices[0].data).unwrap();
    PackagesParser::new(text)
        .map(|p| p.unwrap().name.to_owned())
        .collect()
}

#[tokio::test]
async fn cold_then_warm() {
    let Some(f) = fixture(suite()) else { return };
    let s = f.fetch(&f.request("trixie"), &f.trust()).await.unwrap();
    assert_eq!(names(&s), ["hello", "libc6", "tzdata"]);
    assert_eq!(s.signer.as_ref().unwrap().signer, f.key);
    assert_eq!(s.release.codename.as_deref(), Some("trixie"));
    assert!(!s.indices[0].from_cache);
    // gz is cheaper to decode than xz; fetched by hash.
    let reqs: Vec<String> = f.server.requests().into_iter().map(|r| r.path).collect();
    assert_eq!(reqs[0], "/debian/dists/trixie/InRelease");
    assert!(
        reqs[1].starts_with("/debian/dists/trixie/main/binary-amd64/by-hash/SHA256/"),
        "{reqs:?}"
    );
    assert_eq!(reqs.len(), 2);
    // Warm: only InRelease goes over the wire; the suite name "stable"
    // (a symlink to the codename, as on real mirrors) works too.
    std::os::unix::fs::symlink("trixie", f.root.join("dists/stable")).unwrap();
    f.server.clear_log();
    let s2 = f.fetch(&f.request("stable"), &f.trust()).await.unwrap();
    assert!(s2.indices[0].from_cache);
    assert_eq!(s2.indices[0].data, s.indices[0].data);
    assert_eq!(f.server.requests().len(), 1);
}

#[tokio::test]
async fn by_hash_falls_back_to_the_plain_name() {
    let Some(f) = fixture(suite()) else { return };
    std::fs::remove_dir_all(f.root.join("dists/trixie/main/binary-amd64/by-hash")).unwrap();
    let s = f.fetch(&f.request("trixie"), &f.trust()).await.unwrap();
    assert_eq!(names(&s).len(), 3);
    assert!(
        f.server
            .hits("/debian/dists/trixie/main/binary-amd64/Packages.gz")
            == 1
    );
}

#[tokio::test]
async fn release_and_release_gpg_when_there_is_no_inrelease() {
    let Some(f) = fixture(suite().compressions(&[Comp::Xz])) else {
        return;
    };
    std::fs::remove_file(f.root.join("dists/trixie/InRelease")).unwrap();
    let s = f.fetch(&f.request("trixie"), &f.trust()).await.unwrap();
    assert!(s.signer.is_some());
    assert!(f.server.hits("/debian/dists/trixie/Release.gpg") == 1);
    // Neither InRelease nor Release.gpg: unsigned, refused unless allowed.
    std::fs::remove_file(f.root.join("dists/trixie/Release.gpg")).unwrap();
    let e = f.fetch(&f.request("trixie"), &f.trust()).await.unwrap_err();
    assert!(e.to_string().contains("the archive is not signed"), "{e}");
    let s = f
        .fetch(&f.request("trixie"), &Trust::AllowInsecure)
        .await
        .unwrap();
    assert!(s.signer.is_none());
}

#[tokio::test]
async fn tampered_or_untrusted_inrelease_is_refused() {
    let Some(f) = fixture(suite()) else { return };
    let path = f.root.join("dists/trixie/InRelease");
    let doc = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, doc.replace("Codename: trixie", "Codename: trixiE")).unwrap();
    let e = f.fetch(&f.request("trixie"), &f.trust()).await.unwrap_err();
    let msg = format!("{e}: {}", std::error::Error::source(&e).unwrap());
    assert!(
        msg.contains("/debian/dists/trixie/InRelease: signature check failed"),
        "{msg}"
    );
    assert!(msg.contains("does not match the signed text"), "{msg}");
    // --no-verify takes it anyway (and the suite check then fails on the
    // altered codename, naming both).
    let e = f
        .fetch(&f.request("trixie"), &Trust::NoVerify)
        .await
        .unwrap_err();
    assert!(
        e.to_string()
            .contains("is for stable (Suite) / trixiE (Codename)"),
        "{e}"
    );

    std::fs::write(&path, doc).unwrap();
    let other = Gpg::new();
    let stranger = other.key("Stranger", "ed25519", "0", None);
    let keyring = Keyring::from_bytes(&other.export(&[&stranger], true), "other").unwrap();
    let e = f
        .fetch(
            &f.request("trixie"),
            &Trust::Keys(Arc::new(PgpVerifier::new(keyring))),
        )
        .await
        .unwrap_err();
    assert!(matches!(e, UpdateError::Verify { .. }));
}

#[tokio::test]
async fn index_hash_mismatch_is_refused_and_not_cached() {
    let Some(f) = fixture(suite().by_hash(false).compressions(&[Comp::Gzip])) else {
        return;
    };
    let gz = f.root.join("dists/trixie/main/binary-amd64/Packages.gz");
    let mut data = std::fs::read(&gz).unwrap();
    let n = data.len();
    data[n / 2] ^= 0xff;
    std::fs::write(&gz, data).unwrap();
    let e = f.fetch(&f.request("trixie"), &f.trust()).await.unwrap_err();
    assert!(matches!(e, UpdateError::Mismatch { .. }));
    assert!(e.to_string().contains("Packages.gz: expected "), "{e}");
    assert!(std::fs::read_dir(f.cache_dir.path().join("v1/sha256"))
        .unwrap()
        .next()
        .is_none());
}

#[tokio::test]
async fn flat_repository_and_file_urls() {
    let Some(f) = fixture(suite().flat().compressions(&[Comp::Xz])) else {
        return;
    };
    let mut req = f.request("./");
    let s = f.fetch(&req, &f.trust()).await.unwrap();
    assert_eq!(names(&s).len(), 3);
    assert!(f.server.hits("/debian/InRelease") == 1);
    req.url = format!("file://{}", f.root.display());
    let s = f.fetch(&req, &f.trust()).await.unwrap();
    assert!(s.indices[0].from_cache);
}

#[tokio::test]
async fn valid_until_and_snapshots() {
    let Some(f) = fixture(suite().valid_until("Sat, 12 Sep 2026 07:59:00 UTC")) else {
        return;
    };
    let e = f.fetch(&f.request("trixie"), &f.trust()).await.unwrap_err();
    assert!(
        e.to_string()
            .contains("expired on Sat, 12 Sep 2026 07:59:00 UTC"),
        "{e}"
    );
    let mut req = f.request("trixie");
    req.snapshot = true;
    f.fetch(&req, &f.trust()).await.unwrap();
}

#[tokio::test]
async fn server_trouble_is_retried() {
    let Some(f) = fixture(suite()) else { return };
    f.server
        .fault("/debian/dists/trixie/InRelease", Fault::Status(500));
    f.fetch(&f.request("trixie"), &f.trust()).await.unwrap();
    assert_eq!(f.server.hits("/debian/dists/trixie/InRelease"), 2);
}

#[tokio::test]
async fn missing_component_names_the_index() {
    let Some(f) = fixture(suite()) else { return };
    let mut req = f.request("trixie");
    req.components = vec!["contrib".into()];
    let e = f.fetch(&req, &f.trust()).await.unwrap_err();
    assert!(
        e.to_string()
            .contains("lists no contrib/binary-amd64/Packages"),
        "{e}"
    );
}

#[tokio::test]
async fn debs_are_cached_only_when_they_match() {
    use debrepo::archive::{fetch_to_cache, PoolError};
    use debrepo::hash::Sha256;
    let Some(f) = fixture(suite()) else { return };
    let s = f.fetch(&f.request("trixie"), &f.trust()).await.unwrap();
    let text = std::str::from_utf8(&s.indices[0].data).unwrap().to_owned();
    let hello = PackagesParser::new(&text)
        .map(|p| p.unwrap())
        .find(|p| p.name == "hello")
        .unwrap();
    let (filename, sha, size) = (
        hello.filename.unwrap(),
        hello.sha256.unwrap(),
        hello.size.unwrap(),
    );
    let url = s.location.root_url(filename);
    let t = Transport::new(TransportOptions::default()).unwrap();
    let cache = f.cache();
    let path = fetch_to_cache(&t, &cache, &url, &sha, size).await.unwrap();
    assert_eq!(
        std::fs::read(&path).unwrap(),
        std::fs::read(f.root.join(filename)).unwrap()
    );
    // Cached: no second request.
    f.server.clear_log();
    fetch_to_cache(&t, &cache, &url, &sha, size).await.unwrap();
    assert!(f.server.requests().is_empty());
    // A file on the mirror that does not match the index is refused and not kept.
    let other = f.root.join("pool/main/t/tzdata/tzdata_2025b-4_all.deb");
    let wrong: Sha256 = "00".repeat(32).parse().unwrap();
    let e = fetch_to_cache(
        &t,
        &cache,
        &format!(
            "{}/debian/pool/main/t/tzdata/tzdata_2025b-4_all.deb",
            f.server.url()
        ),
        &wrong,
        std::fs::metadata(&other).unwrap().len(),
    )
    .await
    .unwrap_err();
    assert!(matches!(e, PoolError::Mismatch { .. }));
    assert!(e.to_string().contains("does not match the index"), "{e}");
    assert!(!cache.path(&wrong).exists());
    // A corrupted transfer is refused the same way.
    f.server.fault(
        "/debian/pool/main/l/libc6/libc6_2.41-12_amd64.deb",
        Fault::Corrupt,
    );
    let libc = PackagesParser::new(&text)
        .map(|p| p.unwrap())
        .find(|p| p.name == "libc6")
        .unwrap();
    let e = fetch_to_cache(
        &t,
        &cache,
        &s.location.root_url(libc.filename.unwrap()),
        &libc.sha256.unwrap(),
        libc.size.unwrap(),
    )
    .await
    .unwrap_err();
    assert!(matches!(e, PoolError::Mismatch { .. }));
    assert!(!cache.path(&libc.sha256.unwrap()).exists());
    // Longer than the index says: stopped, reported with the real figures
    // (the expected size, the bytes received when stopped), not kept.
    let tz = f.root.join("pool/main/t/tzdata/tzdata_2025b-4_all.deb");
    let real = std::fs::metadata(&tz).unwrap().len();
    let e = fetch_to_cache(
        &t,
        &cache,
        &format!(
            "{}/debian/pool/main/t/tzdata/tzdata_2025b-4_all.deb",
            f.server.url()
        ),
        &wrong,
        real - 100,
    )
    .await
    .unwrap_err();
    let PoolError::Fetch(debrepo::transport::FetchError::TooLarge {
        limit, received, ..
    }) = e
    else {
        panic!("{e}")
    };
    assert_eq!(limit, real - 100);
    assert!(received > limit && received <= real, "{received} of {real}");
    let tmp = cache.root().join("v1/tmp");
    assert!(
        std::fs::read_dir(tmp).unwrap().next().is_none(),
        "no .part left"
    );
}

#[tokio::test]
async fn snapshot_urls_and_expired_release_files() {
    use debrepo::archive::{snapshot_id, snapshot_url};
    if !gpg::available() {
        return;
    }
    // A snapshot archive: served under /archive/debian/<id>/, its Release
    // file long expired, as snapshots' are.
    let dir = TempDir::new("snapshot");
    let g = Gpg::new();
    let key = g.key("Snapshot Archive", "ed25519", "0", None);
    let id = snapshot_id("20250101T000000Z", 0).unwrap();
    suite().valid_until("Wed, 08 Jan 2025 00:00:00 UTC").write(
        &dir.path().join("archive/debian").join(&id),
        &g,
        &key,
    );
    let server = Server::serve_dir(dir.path());
    let template = format!("{}/archive/debian/@SNAPSHOTID@/", server.url());
    let keyring = Keyring::from_bytes(&g.export(&[&key], false), "test keyring").unwrap();
    let trust = Trust::Keys(Arc::new(PgpVerifier::new(keyring)));
    let mut req = SuiteRequest {
        url: snapshot_url(&template, &id).unwrap(),
        suite: "trixie".into(),
        components: vec!["main".into()],
        arch: "amd64".into(),
        foreign: Vec::new(),
        snapshot: true,
    };
    let t = Transport::new(TransportOptions::default()).unwrap();
    let s = fetch_suite(&t, None, &req, &trust, NOW).await.unwrap();
    assert_eq!(names(&s).len(), 3);
    assert_eq!(
        server.hits(&format!("/archive/debian/{id}/dists/trixie/InRelease")),
        1
    );
    // The same archive not marked as a snapshot: Valid-Until applies.
    req.snapshot = false;
    let e = fetch_suite(&t, None, &req, &trust, NOW).await.unwrap_err();
    assert!(
        e.to_string()
            .contains("expired on Wed, 08 Jan 2025 00:00:00 UTC"),
        "{e}"
    );
}

#[tokio::test]
async fn refused_connections_are_retried_then_reported() {
    // Bind and drop a listener: the port is (very likely) closed now.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let t = Transport::new(TransportOptions {
        retries: 2,
        backoff: Duration::from_millis(5),
        ..Default::default()
    })
    .unwrap();
    let url = format!("http://127.0.0.1:{port}/x");
    let e = t.get(&url).await.unwrap_err();
    assert!(
        e.to_string().starts_with(&format!("{url}: request failed")),
        "{e}"
    );
}

#[tokio::test]
async fn index_records_are_parsed_once_and_kept() {
    let Some(f) = fixture(suite()) else { return };
    let req = f.request("trixie");
    let parsed = |s: &FetchedSuite| -> Vec<String> {
        let idx = &s.indices[0];
        idx.table
            .as_ref()
            .expect("a record table")
            .records(&idx.data)
            .map(|p| format!("{} {} {}", p.name, p.version, p.depends()))
            .collect()
    };
    // Cold: the table is made and kept beside the index.
    let s = f.fetch(&req, &f.trust()).await.unwrap();
    let sha = s.indices[0].sha256;
    let expect = [
        "hello 2.10-3 libc6 (>= 2.34)",
        "libc6 2.41-12 ",
        "tzdata 2025b-4 ",
    ];
    assert_eq!(parsed(&s), expect);
    let path = f.cache().parsed_path(&sha);
    let kept = std::fs::read(&path).unwrap();
    // Warm: read back, the same records.
    let s = f.fetch(&req, &f.trust()).await.unwrap();
    assert!(s.indices[0].from_cache);
    assert_eq!(parsed(&s), expect);
    // Damaged, or intact but not a table of this index: made again.
    let mut damaged = kept.clone();
    damaged[60] ^= 1;
    std::fs::write(&path, &damaged).unwrap();
    assert_eq!(parsed(&f.fetch(&req, &f.trust()).await.unwrap()), expect);
    assert_eq!(std::fs::read(&path).unwrap(), kept);
    f.cache().keep_parsed(&sha, b"not a table").unwrap();
    assert_eq!(parsed(&f.fetch(&req, &f.trust()).await.unwrap()), expect);
    assert_eq!(std::fs::read(&path).unwrap(), kept);
    // Without a cache there is nothing to keep it in: the index is parsed
    // where it is used.
    let t = Transport::new(TransportOptions::default()).unwrap();
    let s = fetch_suite(&t, None, &req, &f.trust(), NOW).await.unwrap();
    assert!(s.indices[0].table.is_none());
}
