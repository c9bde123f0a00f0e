//! `loopback-mirror DIR`: make (or complete) the end-to-end tests' partial
//! mirror of the real archive in DIR ([`testkit::mirror::make`]), from
//! `DEBIAN_MIRROR` or the host's APT sources, without serving it. CI runs
//! it while it compiles, so that the first test to need the mirror does
//! not wait for the download; a test still completes it first.

fn main() {
    let mut args = std::env::args_os().skip(1);
    let (Some(dir), None) = (args.next(), args.next()) else {
        eprintln!("usage: loopback-mirror DIR");
        std::process::exit(2);
    };
    let upstream = std::env::var("DEBIAN_MIRROR").ok();
    if testkit::mirror::make(std::path::Path::new(&dir), upstream.as_deref()).is_none() {
        eprintln!(
            "loopback-mirror: the workplace's partial-mirror.py is not beside the checkout \
             (../shared/bench/): set RDEBOOTSTRAP_PARTIAL_MIRROR_PY to its path"
        );
        std::process::exit(1);
    }
}
