//! Parse a decompressed Packages file given on the command line; prints the
//! record count and time. Used for profiling the parser.
fn main() {
    let path = std::env::args()
        .nth(1)
        .expect("usage: parse_index PACKAGES");
    let bytes = std::fs::read(&path).expect("read");
    let start = std::time::Instant::now();
    let mut n = 0;
    for _ in 0..5 {
        n = debrepo::PackagesParser::from_bytes(&bytes)
            .unwrap()
            .map(|p| p.unwrap().depends().len())
            .count();
    }
    eprintln!("{n} records, {:?} per pass", start.elapsed() / 5);
    eprintln!(
        "sizes: BinaryPackage {} Relation {} Version {}",
        std::mem::size_of::<debrepo::BinaryPackage>(),
        std::mem::size_of::<debrepo::relation::Relation>(),
        std::mem::size_of::<debrepo::Version>()
    );
}
#[allow(dead_code)]
fn sizes() {}
