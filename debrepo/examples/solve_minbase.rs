//! Solve mmdebstrap's minbase request (Essential, Priority: required, apt)
//! against a Packages file and print `name=version`, one per line, sorted:
//! for comparing with `apt-get install --simulate` on the same index.
fn main() {
    let path = std::env::args()
        .nth(1)
        .expect("usage: solve_minbase PACKAGES[.xz]");
    let file = std::fs::File::open(&path).expect("open");
    let bytes = debrepo::compression::read_all(&path, file).expect("read");
    let text = std::str::from_utf8(&bytes).expect("UTF-8");
    let pkgs = debrepo::packages::parse_all(text).expect("parse");
    // mmdebstrap's minbase: Essential, Priority: required, and apt.
    let primary: Vec<debrepo::update::PrimaryPackage<'_>> = pkgs.iter().map(Into::into).collect();
    let install =
        debrepo::update::variant_packages(&primary, "amd64", debrepo::manifest::Variant::Minbase);
    let mut u = debrepo::solver::Universe::new("amd64");
    u.add(0, 500, pkgs);
    let request = debrepo::solver::Request {
        install,
        forbid: Vec::new(),
        recommends: false,
        foreign: Vec::new(),
    };
    let start = std::time::Instant::now();
    let set = debrepo::solver::solve(&u, &request).expect("solve");
    eprintln!("{} packages in {:?}", set.len(), start.elapsed());
    for c in set {
        println!("{}={}", c.package.name, c.package.version);
    }
}
