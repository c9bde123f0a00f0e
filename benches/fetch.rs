//! Fetch + verify + parse the real trixie main/binary-amd64 index from a
//! loopback mirror (the real InRelease and Packages.xz of tests/data, served
//! by the test server), cold (empty cache) and warm (nothing changed).

use std::sync::Arc;

use criterion::{criterion_group, criterion_main, Criterion};
use debrepo::archive::{fetch_suite, SuiteRequest, Trust};
use debrepo::cache::Cache;
use debrepo::transport::{Transport, TransportOptions};
use debrepo::verify::{load_keyring, PgpVerifier};
use debrepo::PackagesParser;

fn mirror() -> (testkit::TempDir, testkit::http::Server) {
    let dir = testkit::TempDir::new("bench-mirror");
    let suite = dir.path().join("debian/dists/trixie/main/binary-amd64");
    std::fs::create_dir_all(&suite).unwrap();
    let data = testkit::data_dir().join("trixie");
    std::fs::copy(
        data.join("InRelease"),
        dir.path().join("debian/dists/trixie/InRelease"),
    )
    .unwrap();
    std::fs::copy(
        data.join("main/binary-amd64/Packages.xz"),
        suite.join("Packages.xz"),
    )
    .unwrap();
    let server = testkit::http::Server::serve_dir(dir.path());
    (dir, server)
}

fn update(
    rt: &tokio::runtime::Runtime,
    t: &Transport,
    cache: &Cache,
    req: &SuiteRequest,
    trust: &Trust,
) -> usize {
    rt.block_on(async {
        let now = 1_790_000_000;
        let s = fetch_suite(t, Some(cache), req, trust, now).await.unwrap();
        let idx = &s.indices[0];
        PackagesParser::from_bytes(&idx.data)
            .unwrap()
            .map(|p| p.unwrap().name.len())
            .sum()
    })
}

fn bench(c: &mut Criterion) {
    let (_dir, server) = mirror();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let keyring = load_keyring(
        &std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("keyrings/debian-archive-keyring.gpg"),
    )
    .unwrap();
    let trust = Trust::Keys(Arc::new(PgpVerifier::new(keyring)));
    let req = SuiteRequest {
        url: format!("{}/debian", server.url()),
        suite: "trixie".into(),
        components: vec!["main".into()],
        arch: "amd64".into(),
        foreign: Vec::new(),
        snapshot: false,
    };
    let t = Transport::new(TransportOptions::default()).unwrap();
    let mut g = c.benchmark_group("update_trixie_main_amd64");
    g.sample_size(10);
    g.bench_function("cold", |b| {
        b.iter_batched(
            || testkit::TempDir::new("bench-cache"),
            |dir| {
                let cache = Cache::open(dir.path()).unwrap();
                update(&rt, &t, &cache, &req, &trust)
            },
            criterion::BatchSize::PerIteration,
        )
    });
    let warm_dir = testkit::TempDir::new("bench-cache-warm");
    let warm = Cache::open(warm_dir.path()).unwrap();
    update(&rt, &t, &warm, &req, &trust);
    g.bench_function("warm", |b| b.iter(|| update(&rt, &t, &warm, &req, &trust)));
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
