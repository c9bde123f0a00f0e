//! Reading real .debs: control member, then the whole data stream.

use std::io::Read;

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use debrepo::deb::DebReader;

fn read_deb(bytes: &[u8]) -> u64 {
    let mut r = DebReader::new(bytes).unwrap();
    let mut total = r.control().package().unwrap().installed_size.unwrap_or(0);
    let mut data = r.data().unwrap();
    let mut buf = vec![0u8; 1 << 16];
    for e in data.entries().unwrap() {
        let mut e = e.unwrap();
        loop {
            let n = e.read(&mut buf).unwrap();
            if n == 0 {
                break;
            }
            total += n as u64;
        }
    }
    total
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("deb");
    for name in [
        "debconf_1.5.91_all.deb",
        "login_4.16.0-2+really2.41.5-0+deb13u1_amd64.deb",
        "repacked/hostname_3.25_amd64.zstd.deb",
    ] {
        let bytes = std::fs::read(testkit::data_dir().join("debs").join(name)).unwrap();
        g.throughput(Throughput::Bytes(bytes.len() as u64));
        g.bench_function(name, |b| b.iter(|| read_deb(black_box(&bytes))));
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
