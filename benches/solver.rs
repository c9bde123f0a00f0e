//! Solving mmdebstrap's minbase request (Essential, Priority: required,
//! apt) on the real trixie main/amd64 index; the universe is built once,
//! and for the first solve, for each run.

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use debrepo::packages::parse_all;
use debrepo::solver::{solve, Request, Universe};

fn bench(c: &mut Criterion) {
    let index = testkit::trixie_packages();
    let text = std::str::from_utf8(&index).unwrap();
    let pkgs = parse_all(text).unwrap();
    // mmdebstrap's minbase: Essential, Priority: required, and apt.
    let primary: Vec<debrepo::update::PrimaryPackage<'_>> = pkgs.iter().map(Into::into).collect();
    let install =
        debrepo::update::variant_packages(&primary, "amd64", debrepo::manifest::Variant::Minbase);
    let request = Request {
        install,
        forbid: Vec::new(),
        recommends: false,
        foreign: Vec::new(),
    };
    let mut g = c.benchmark_group("solver");
    g.sample_size(20);
    // Records are moved into the universe (as `update` does); the clone is
    // the benchmark's own setup.
    g.bench_function("universe_trixie_main_amd64", |b| {
        b.iter_batched(
            || pkgs.clone(),
            |records| {
                let mut u = Universe::new("amd64");
                u.add(0, 500, records);
                u.candidates().len()
            },
            criterion::BatchSize::LargeInput,
        )
    });
    let mut u = Universe::new("amd64");
    u.add(0, 500, pkgs.iter().cloned());
    g.bench_function("solve_minbase_trixie", |b| {
        b.iter(|| solve(black_box(&u), &request).unwrap().len())
    });
    // The first solve on a universe also numbers its packages as apt's
    // cache does (the last tie-break between providers), once.
    g.bench_function("first_solve_minbase_trixie", |b| {
        b.iter_batched(
            || {
                let mut u = Universe::new("amd64");
                u.add(0, 500, pkgs.iter().cloned());
                u
            },
            // The universe is returned, so dropping it is not timed.
            |u| {
                let n = solve(black_box(&u), &request).unwrap().len();
                (u, n)
            },
            criterion::BatchSize::LargeInput,
        )
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
