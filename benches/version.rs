//! Version parsing and comparison on the distinct versions of the real
//! trixie index.

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use debrepo::{PackagesParser, Version};

fn versions(text: &str) -> Vec<&str> {
    let mut v: Vec<&str> = PackagesParser::new(text)
        .map(|p| p.unwrap().version.as_str())
        .collect();
    v.sort_unstable();
    v.dedup();
    v
}

fn bench(c: &mut Criterion) {
    let index = String::from_utf8(testkit::trixie_packages()).unwrap();
    let texts = versions(&index);
    let parsed: Vec<Version<'_>> = texts
        .iter()
        .map(|s| Version::parse_lax(s).unwrap())
        .collect();
    let mut g = c.benchmark_group("version");
    g.throughput(Throughput::Elements(texts.len() as u64));
    g.bench_function("parse", |b| {
        b.iter(|| {
            for s in &texts {
                black_box(Version::parse_lax(black_box(s)).unwrap());
            }
        })
    });
    g.throughput(Throughput::Elements(parsed.len() as u64 - 1));
    g.bench_function("compare_neighbours", |b| {
        b.iter(|| {
            let mut less = 0usize;
            for w in parsed.windows(2) {
                less += (black_box(&w[0]) < black_box(&w[1])) as usize;
            }
            less
        })
    });
    g.throughput(Throughput::Elements(parsed.len() as u64));
    g.bench_function("sort", |b| {
        b.iter_batched(
            || parsed.clone(),
            |mut v| {
                v.sort_unstable();
                v
            },
            criterion::BatchSize::LargeInput,
        )
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
