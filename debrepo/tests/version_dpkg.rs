//! Differential test: our version order against `dpkg --compare-versions`
//! on pairs of real versions from the trixie Packages index. Skipped (with a
//! message) where dpkg is not installed.

use std::cmp::Ordering;
use std::collections::BTreeSet;
use std::process::Command;

use debrepo::{PackagesParser, Version};
use testkit::Rng;

const PAIRS: usize = 24_000;

fn dpkg_available() -> bool {
    Command::new("dpkg")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

#[test]
fn versions_compare_like_dpkg() {
    if !dpkg_available() {
        eprintln!("dpkg not found: skipping the differential version test");
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
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get()) * 2;
    let chunk = pairs.len().div_ceil(workers);
    let mismatches: Vec<String> = std::thread::scope(|s| {
        let handles: Vec<_> = pairs
            .chunks(chunk)
            .map(|part| {
                s.spawn(move || {
                    let mut bad = Vec::new();
                    for (a, b) in part {
                        // One call suffices: lt, eq and gt exclude each other.
                        let op = match a.cmp(b) {
                            Ordering::Less => "lt",
                            Ordering::Equal => "eq",
                            Ordering::Greater => "gt",
                        };
                        let status = Command::new("dpkg")
                            .args(["--compare-versions", a.as_str(), op, b.as_str()])
                            .status()
                            .expect("run dpkg");
                        if !status.success() {
                            bad.push(format!("{a} {op} {b} according to us, not to dpkg"));
                        }
                    }
                    bad
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect()
    });
    assert!(
        mismatches.is_empty(),
        "{} mismatches:\n{}",
        mismatches.len(),
        mismatches.join("\n")
    );
    eprintln!("{} version pairs agree with dpkg", pairs.len());
}
