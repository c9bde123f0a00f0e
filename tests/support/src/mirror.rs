//! The loopback partial mirror of the real Debian archive that the
//! end-to-end tests build from: the workplace's `partial-mirror.py`
//! (`RDEBOOTSTRAP_PARTIAL_MIRROR_PY`, or `../shared/bench/` beside the
//! checkout) copies, still signed, the closure of [`PACKAGES`] in
//! [`SUITES`] (main, amd64), and trixie's minbase and `hello` for arm64,
//! from an upstream mirror into a directory that outlives the run (the
//! script only adds what is missing), served on loopback for the life of
//! the test process.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// The packages whose closure the mirror holds: the developer set the
/// mmdebstrap comparison uses, and `hello` (a package minbase lacks, for
/// the checks that apt works inside a tree).
pub const PACKAGES: &[&str] = &[
    "build-essential",
    "git",
    "python3",
    "ca-certificates",
    "openssh-client",
    "curl",
    "hello",
];

/// The "server" set of the benchmarks (`benches/`, minbase plus a
/// script-heavy server image whose scripts create system users and
/// groups with dynamic ids); the mirror holds its closure too.
pub const SERVER: &[&str] = &[
    "systemd",
    "systemd-sysv",
    "dbus",
    "openssh-server",
    "sudo",
    "locales",
    "man-db",
    "iproute2",
    "iputils-ping",
    "cron",
    "rsyslog",
    "less",
    "vim-tiny",
    "ca-certificates",
    "curl",
    "python3",
    "netbase",
    "ifupdown",
    "isc-dhcp-client",
    "tzdata",
    "adduser",
    "passwd",
    "procps",
    "kmod",
    "udev",
    "e2fsprogs",
    "logrotate",
];

/// The suites it holds.
pub const SUITES: &[&str] = &["trixie", "trixie-updates", "bookworm", "bookworm-updates"];

/// The script that makes partial mirrors, if this machine has it.
pub fn partial_mirror_script() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("RDEBOOTSTRAP_PARTIAL_MIRROR_PY") {
        return Some(p.into());
    }
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/bench/partial-mirror.py");
    p.exists().then_some(p)
}

/// How long a completed mirror is taken as it is: the test binaries of
/// one run (CI makes the mirror first, then runs them one after the
/// other) do not each check every file again (9 s each). Longer, and the
/// script runs again, to follow the upstream suites.
const FRESH_FOR: std::time::Duration = std::time::Duration::from_secs(3600);

/// The file that records the last completed [`make`] in its directory:
/// what was asked (the script, the suites, the packages), its mtime
/// when. Not the upstream: every Debian mirror holds the same archive,
/// and CI's `loopback-mirror` (the mirror the script finds in the host's
/// APT sources) and the tests (the same mirror, named) ask for it
/// differently.
const STAMP: &str = ".testkit-complete";

/// Make (or complete) the partial mirror in `dir` from `upstream` (or,
/// when `None`, the mirror the script finds in the host's APT sources):
/// [`PACKAGES`] and [`SERVER`] in [`SUITES`], and trixie's minbase and
/// `hello` for arm64. A mirror completed by the same script less than an
/// hour ago is taken as it is, whatever its upstream. `None` when the
/// script is not available; panics when it fails.
pub fn make(dir: &Path, upstream: Option<&str>) -> Option<()> {
    let script = partial_mirror_script()?;
    let request = format!(
        "{}\n{}\n{}\n",
        script.display(),
        SUITES.join(" "),
        [PACKAGES, SERVER].concat().join(" ")
    );
    let stamp = dir.join(STAMP);
    let fresh = std::fs::metadata(&stamp)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| t.elapsed().ok())
        .is_some_and(|age| age < FRESH_FOR);
    if fresh && std::fs::read_to_string(&stamp).ok().as_deref() == Some(request.as_str()) {
        return Some(());
    }
    // Not complete until the script has run again.
    let _ = std::fs::remove_file(&stamp);
    let packages = crate::TempDir::new("partial-mirror-list");
    let list = packages.path().join("packages.txt");
    std::fs::write(&list, [PACKAGES, SERVER].concat().join("\n") + "\n").unwrap();
    let run = |args: &[&str], list: &Path, what: &str| {
        let mut cmd = Command::new("python3");
        cmd.arg(&script)
            .arg(dir)
            .args(args)
            .arg("--packages")
            .arg(list);
        if let Some(u) = upstream {
            cmd.env("DEBIAN_MIRROR", u);
        }
        let o = cmd.output().unwrap();
        assert!(
            o.status.success(),
            "{what}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    };
    let suites: Vec<&str> = SUITES.iter().flat_map(|s| ["--suite", s]).collect();
    run(&suites, &list, "partial-mirror.py");
    // arm64 too, for the foreign-architecture tests: trixie's minbase and
    // hello (beside amd64's, under the same Release).
    let arm64 = packages.path().join("arm64.txt");
    std::fs::write(&arm64, "hello\n").unwrap();
    run(
        &["--suite", "trixie", "--arch", "arm64"],
        &arm64,
        "partial-mirror.py --arch arm64",
    );
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(&stamp, request).unwrap();
    Some(())
}

/// The loopback mirror's URL, made in `dir` from `upstream` on first use
/// ([`make`]); `None` when the script is not available. One per process:
/// later calls return the first one's URL.
pub fn loopback(dir: &Path, upstream: &str) -> Option<String> {
    static SERVED: OnceLock<Option<(crate::http::Server, String)>> = OnceLock::new();
    SERVED
        .get_or_init(|| {
            make(dir, Some(upstream))?;
            let server = crate::http::Server::serve_dir(dir);
            let url = server.url();
            eprintln!("loopback partial mirror of the real archive at {url}");
            Some((server, url))
        })
        .as_ref()
        .map(|(_, url)| url.clone())
}

/// [`loopback`], else `upstream` itself (saying so).
pub fn or_upstream(dir: &Path, upstream: &str) -> String {
    loopback(dir, upstream).unwrap_or_else(|| {
        eprintln!("partial-mirror.py not found: reading the host's Debian mirror directly");
        upstream.to_owned()
    })
}
