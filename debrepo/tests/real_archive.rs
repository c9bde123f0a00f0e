//! End-to-end against the real Debian archive (opt-in: set
//! RDEBOOTSTRAP_E2E=1; `.ci/run` does). The mirror comes from
//! $DEBIAN_MIRROR, else from the host's APT sources; the signatures are
//! checked with the Debian keyring shipped in this repository.

use std::sync::Arc;

use debrepo::archive::{fetch_suite, SuiteRequest, Trust};
use debrepo::cache::Cache;
use debrepo::transport::{Transport, TransportOptions};
use debrepo::verify::{load_keyring, PgpVerifier};
use debrepo::PackagesParser;

fn mirror() -> String {
    if let Ok(m) = std::env::var("DEBIAN_MIRROR") {
        return m;
    }
    let sources = debrepo::aptsources::read_host(std::path::Path::new("/etc/apt"))
        .expect("the host's APT sources");
    debrepo::aptsources::mirror_for(
        &sources,
        &[
            "bookworm",
            "trixie",
            "sid",
            "stable",
            "testing",
            "bookworm-updates",
            "trixie-updates",
        ],
    )
    .expect("no Debian mirror in the host's APT sources: set DEBIAN_MIRROR")
    .to_owned()
}

#[tokio::test]
async fn real_debian_suites_verify_and_parse() {
    if std::env::var_os("RDEBOOTSTRAP_E2E").is_none() {
        eprintln!("end-to-end test against the real archive: set RDEBOOTSTRAP_E2E=1 to run it");
        return;
    }
    let mirror = mirror();
    let keyring = load_keyring(
        &std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("keyrings/debian-archive-keyring.gpg"),
    )
    .unwrap();
    let trust = Trust::Keys(Arc::new(PgpVerifier::new(keyring)));
    let cache_dir = testkit::TempDir::new("e2e-cache");
    let cache = Cache::open(cache_dir.path()).unwrap();
    let t = Transport::new(TransportOptions::default()).unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    for (suite, at_least) in [
        ("trixie", 50_000),
        ("bookworm", 50_000),
        ("bookworm-updates", 1),
    ] {
        let req = SuiteRequest {
            url: mirror.clone(),
            suite: suite.into(),
            components: vec!["main".into()],
            arch: "amd64".into(),
            foreign: Vec::new(),
            snapshot: false,
        };
        let s = fetch_suite(&t, Some(&cache), &req, &trust, now)
            .await
            .unwrap_or_else(|e| {
                panic!(
                    "{suite}: {e} ({:?})",
                    std::error::Error::source(&e).map(ToString::to_string)
                )
            });
        assert!(s.signer.is_some());
        let n = PackagesParser::from_bytes(&s.indices[0].data)
            .unwrap()
            .collect::<Result<Vec<_>, _>>()
            .unwrap()
            .len();
        assert!(n >= at_least, "{suite}: only {n} packages");
        eprintln!(
            "{suite}: {n} packages, signed by {}",
            s.signer.unwrap().signer
        );
        // A second update is served from the cache.
        let again = fetch_suite(&t, Some(&cache), &req, &trust, now)
            .await
            .unwrap();
        assert!(again.indices[0].from_cache);
    }
}
