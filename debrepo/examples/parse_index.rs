//! Parse a decompressed Packages file five times and print the time per
//! pass and the sizes of the record types: a quick harness for profiling the
//! parser with perf (`cargo bench` is the measurement of record).
fn main() {
    let path = std::env::args()
        .nth(1)
        .expect("usage: parse_index PACKAGES");
    let bytes = std::fs::read(&path).expect("read");
    let start = std::time::Instant::now();
    let mut n = 0;
    let mut groups = 0;
    for _ in 0..5 {
        n = 0;
        groups = 0;
        for p in debrepo::PackagesParser::from_bytes(&bytes).unwrap() {
            groups += p.unwrap().depends().len();
            n += 1;
        }
    }
    eprintln!(
        "{n} records ({groups} Depends groups), {:?} per pass",
        start.elapsed() / 5
    );
    eprintln!(
        "sizes: BinaryPackage {} Relation {} Version {}",
        std::mem::size_of::<debrepo::BinaryPackage>(),
        std::mem::size_of::<debrepo::relation::Relation>(),
        std::mem::size_of::<debrepo::Version>()
    );
}
