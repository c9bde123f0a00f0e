//! Build the solver universe from a decompressed Packages file ten times
//! (a harness for profiling `Universe::add`; `cargo bench --bench solver`
//! is the measurement of record).
fn main() {
    let path = std::env::args()
        .nth(1)
        .expect("usage: universe_profile PACKAGES");
    let bytes = std::fs::read(&path).expect("read");
    let text = std::str::from_utf8(&bytes).expect("UTF-8");
    let pkgs = debrepo::packages::parse_all(text).expect("parse");
    let start = std::time::Instant::now();
    let mut n = 0;
    for _ in 0..10 {
        let mut u = debrepo::solver::Universe::new("amd64");
        u.add(0, 500, pkgs.iter().cloned());
        n = u.candidates().len();
    }
    eprintln!(
        "{n} candidates, {:?} per build (clone included)",
        start.elapsed() / 10
    );
}
