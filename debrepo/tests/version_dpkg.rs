//! Differential test: our version order against dpkg's on pairs of real
//! versions from the trixie Packages index. All the pairs go through one
//! process of dpkg's own Perl implementation (`Dpkg::Version`, package
//! libdpkg-perl), a sample of them through `dpkg --compare-versions`
//! itself (one process each), which also checks that the two agree.
//! Without dpkg or libdpkg-perl the test is skipped, and fails under CI.

use std::cmp::Ordering;
use std::collections::BTreeSet;
use std::io::Write as _;
use std::process::{Command, Stdio};

use debrepo::{PackagesParser, Version};
use testkit::Rng;

const PAIRS: usize = 24_000;

/// How many of the pairs also go through the dpkg binary.
const DPKG_SAMPLE: usize = 400;

fn dpkg_available() -> bool {
    Command::new("dpkg")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

#[test]
fn versions_compare_like_dpkg() {
    let perl = Command::new("perl")
        .args(["-MDpkg::Version", "-e", "1"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !testkit::require(dpkg_available(), "dpkg")
        || !testkit::require(perl, "perl with Dpkg::Version (libdpkg-perl)")
    {
        return;
    }
    let index = testkit::trixie_packages();
    let text = std::str::from_utf8(&index).unwrap();
    // Every version string in the index: package versions, source versions
    // and versions in relationship fields.
    let mut set = BTreeSet::new();
    for pkg in PackagesParser::new(text) {
        let pkg = pkg.unwrap();
        set.insert(pkg.version.as_str());
        if let Some(v) = pkg.source_version {
            set.insert(v.as_str());
        }
        for rel in pkg
            .depends()
            .iter()
            .chain(pkg.breaks().iter())
            .chain(pkg.provides().iter())
        {
            if let Some((_, v)) = rel.version {
                set.insert(v.as_str());
            }
        }
    }
    let mut versions: Vec<Version<'_>> =
        set.iter().map(|s| Version::parse_lax(s).unwrap()).collect();
    assert!(
        versions.len() > 20_000,
        "only {} distinct versions",
        versions.len()
    );
    versions.sort();
    // Neighbours in our order (the hard cases), plus random pairs, plus
    // pairs spelled differently but equal-looking (same upstream).
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut pairs = Vec::with_capacity(PAIRS);
    for w in versions.windows(2).step_by(2).take(PAIRS / 2) {
        let (a, b) = if rng.next_u64() & 1 == 0 {
            (w[0], w[1])
        } else {
            (w[1], w[0])
        };
        pairs.push((a, b));
    }
    while pairs.len() < PAIRS {
        let a = versions[rng.below(versions.len() as u64) as usize];
        let b = versions[rng.below(versions.len() as u64) as usize];
        pairs.push((a, b));
    }
    let op = |a: &Version<'_>, b: &Version<'_>| match a.cmp(b) {
        Ordering::Less => "lt",
        Ordering::Equal => "eq",
        Ordering::Greater => "gt",
    };
    // Every pair through Dpkg::Version, one line each: "a op b" in, 1 when
    // dpkg agrees, 0 when not.
    let mut child = Command::new("perl")
        .args([
            "-MDpkg::Version",
            "-ne",
            "chomp; my ($a, $op, $b) = split / /; \
             my $c = version_compare($a, $b); \
             my %want = (lt => -1, eq => 0, gt => 1); \
             print(($c <=> 0) == $want{$op} ? \"1\\n\" : \"0\\n\");",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("run perl");
    let input: String = pairs
        .iter()
        .map(|(a, b)| format!("{a} {} {b}\n", op(a, b)))
        .collect();
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap().unwrap();
    assert!(out.status.success(), "perl failed");
    let verdicts: Vec<&str> = std::str::from_utf8(&out.stdout).unwrap().lines().collect();
    assert_eq!(verdicts.len(), pairs.len(), "one answer per pair");
    let mut mismatches: Vec<String> = pairs
        .iter()
        .zip(&verdicts)
        .filter(|(_, v)| **v != "1")
        .map(|((a, b), _)| format!("{a} {} {b} according to us, not to Dpkg::Version", op(a, b)))
        .collect();
    // A sample through dpkg itself: the C implementation agrees.
    for (a, b) in pairs.iter().step_by(pairs.len() / DPKG_SAMPLE) {
        let status = Command::new("dpkg")
            .args(["--compare-versions", a.as_str(), op(a, b), b.as_str()])
            .status()
            .expect("run dpkg");
        if !status.success() {
            mismatches.push(format!("{a} {} {b} according to us, not to dpkg", op(a, b)));
        }
    }
    assert!(
        mismatches.is_empty(),
        "{} mismatches:\n{}",
        mismatches.len(),
        mismatches.join("\n")
    );
    eprintln!("{} version pairs agree with dpkg", pairs.len());
}
