use super::*;
use std::collections::hash_map::DefaultHasher;

fn data(name: &str) -> String {
    let path = format!(
        "{}/../tests/data/versions/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// Rows of a TSV file, skipping comments; a row right after a comment that
/// starts with `# LENIENT` is marked (dpkg's current parser rejects it).
fn rows(text: &str) -> Vec<(bool, Vec<&str>)> {
    let mut out = Vec::new();
    let mut lenient = false;
    for line in text.lines() {
        if line.starts_with('#') {
            if line.starts_with("# LENIENT") {
                lenient = true;
            }
            continue;
        }
        if line.is_empty() {
            continue;
        }
        out.push((std::mem::take(&mut lenient), line.split('\t').collect()));
    }
    out
}

fn hash_of(v: &Version<'_>) -> u64 {
    let mut h = DefaultHasher::new();
    v.hash(&mut h);
    h.finish()
}

fn check_compare_file(name: &str) -> usize {
    let text = data(name);
    let mut checked = 0;
    for (lenient, row) in rows(&text) {
        let [a, b, r] = row[..] else {
            panic!("{name}: bad row {row:?}")
        };
        if lenient {
            assert!(
                Version::parse_lax(a).is_err() || Version::parse_lax(b).is_err(),
                "{name}: row marked lenient parses: {a} {b}"
            );
            continue;
        }
        let expected = match r {
            "-1" => Ordering::Less,
            "0" => Ordering::Equal,
            "1" => Ordering::Greater,
            _ => panic!("{name}: bad result {r}"),
        };
        let va = Version::parse_lax(a).unwrap_or_else(|e| panic!("{name}: {a:?}: {e}"));
        let vb = Version::parse_lax(b).unwrap_or_else(|e| panic!("{name}: {b:?}: {e}"));
        assert_eq!(va.cmp(&vb), expected, "{name}: compare({a:?}, {b:?})");
        assert_eq!(
            vb.cmp(&va),
            expected.reverse(),
            "{name}: compare({b:?}, {a:?})"
        );
        if expected == Ordering::Equal {
            assert_eq!(va, vb);
            assert_eq!(
                hash_of(&va),
                hash_of(&vb),
                "{name}: hash({a:?}) != hash({b:?})"
            );
        }
        checked += 1;
    }
    checked
}

#[test]
fn dpkg_compare_vectors() {
    assert!(check_compare_file("compare-dpkg.tsv") >= 50);
}

#[test]
fn apt_compare_vectors() {
    assert!(check_compare_file("compare-apt.tsv") >= 60);
}

#[test]
fn dpkg_validity_vectors() {
    let text = data("validity.tsv");
    let mut counts = [0; 3];
    for (_, row) in rows(&text) {
        let (kind, v, note) = (row[0], row[1], row.get(2).copied().unwrap_or(""));
        match kind {
            "valid" => {
                Version::parse(v).unwrap_or_else(|e| panic!("{v:?} should be valid: {e}"));
                counts[0] += 1;
            }
            "invalid" => {
                let e = Version::parse_lax(v).expect_err(v);
                assert!(!e.is_warning(), "{v:?}: {e}");
                assert!(
                    note.starts_with(&e.to_string()),
                    "{v:?}: got {e:?}, dpkg says {note:?}"
                );
                counts[1] += 1;
            }
            "warn" => {
                let e = Version::parse(v).expect_err(v);
                assert!(e.is_warning(), "{v:?}: {e}");
                assert!(
                    note.starts_with(&e.to_string()),
                    "{v:?}: got {e:?}, dpkg says {note:?}"
                );
                Version::parse_lax(v).unwrap_or_else(|e| panic!("{v:?} lax: {e}"));
                counts[2] += 1;
            }
            other => panic!("bad kind {other}"),
        }
    }
    assert!(counts.iter().all(|&c| c > 10), "{counts:?}");
}

#[test]
fn dpkg_parse_vectors() {
    let text = data("parse.tsv");
    let all = rows(&text);
    assert!(all.len() >= 10);
    for (_, row) in all {
        let v = Version::parse(row[0]).unwrap();
        assert_eq!(v.epoch().to_string(), row[1], "{row:?}");
        assert_eq!(v.upstream(), row[2], "{row:?}");
        assert_eq!(v.revision(), row.get(3).copied().unwrap_or(""), "{row:?}");
    }
}

#[test]
fn whitespace_and_tabs_are_trimmed() {
    let v = Version::parse("\t 1:2.0-3 \t").unwrap();
    assert_eq!((v.epoch(), v.upstream(), v.revision()), (1, "2.0", "3"));
    assert_eq!(v.as_str(), "1:2.0-3");
}

#[test]
fn order_basics() {
    let v = |s| Version::parse(s).unwrap();
    assert!(v("1.0~rc1") < v("1.0"));
    assert!(v("1.0~~") < v("1.0~"));
    assert!(v("1.0") < v("1.0+b1"));
    assert!(v("1.0") < v("1.0a"));
    assert!(v("1.0a") < v("1.0+"));
    assert_eq!(v("1.0"), v("1.0-0"));
    assert_eq!(v("1.01"), v("1.1"));
    assert!(v("1:0.1") > v("99999"));
    assert!(v("1.123456789012345678901234567890") > v("1.123456789012345678901234567889"));
    assert!(v("1.00000000000000000000000000000000002") > v("1.1"));
}

#[test]
fn owned_versions() {
    let a = VersionBuf::parse("2:1.0-1").unwrap();
    let b: VersionBuf = "2:1.0-1.1".parse().unwrap();
    assert!(a < b);
    assert_eq!(a.as_version().upstream(), "1.0");
    assert_eq!(a.as_version().revision(), "1");
    assert_eq!(
        VersionBuf::parse("1.0").unwrap().as_version().revision(),
        ""
    );
    assert_eq!(a.to_string(), "2:1.0-1");
}
