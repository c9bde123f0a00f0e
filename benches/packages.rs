//! Parsing the full real trixie `main/binary-amd64/Packages` index (56 MB,
//! decompressed beforehand: decompression is measured on its own).

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use debrepo::deb822::{Comments, Parser};
use debrepo::PackagesParser;

fn bench(c: &mut Criterion) {
    let bytes = testkit::trixie_packages();
    let xz =
        std::fs::read(testkit::data_dir().join("trixie/main/binary-amd64/Packages.xz")).unwrap();
    let mut g = c.benchmark_group("packages");
    g.sample_size(20);
    g.throughput(Throughput::Bytes(bytes.len() as u64));
    // The floor: touching every byte once.
    g.bench_function("byte_scan_newlines", |b| {
        b.iter(|| memchr::memchr_iter(b'\n', black_box(&bytes)).count())
    });
    g.bench_function("utf8_validate", |b| {
        b.iter(|| std::str::from_utf8(black_box(&bytes)).is_ok())
    });
    g.bench_function("deb822_stanzas", |b| {
        b.iter(|| {
            let p = Parser::from_bytes(black_box(&bytes), Comments::Forbidden).unwrap();
            p.map(|s| s.unwrap().len()).sum::<usize>()
        })
    });
    g.bench_function("typed_records", |b| {
        b.iter(|| {
            PackagesParser::from_bytes(black_box(&bytes))
                .unwrap()
                .map(|p| p.unwrap().depends().len())
                .sum::<usize>()
        })
    });
    g.bench_function("typed_records_collect", |b| {
        b.iter(|| {
            let v: Vec<_> = PackagesParser::from_bytes(black_box(&bytes))
                .unwrap()
                .map(Result::unwrap)
                .collect();
            v.len()
        })
    });
    g.finish();
    let mut g = c.benchmark_group("decompress");
    g.sample_size(10);
    g.throughput(Throughput::Bytes(bytes.len() as u64));
    g.bench_function("packages_xz", |b| {
        b.iter(|| {
            debrepo::compression::read_all("Packages.xz", black_box(xz.as_slice()))
                .unwrap()
                .len()
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
