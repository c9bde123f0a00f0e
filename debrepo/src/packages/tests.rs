use super::*;

const TWO: &str = "Package: foo
Source: foo-src (1.2-1)
Version: 1:1.2-1+b1
Architecture: amd64
Multi-Arch: same
Essential: yes
Protected: yes
Priority: required
Section: libs
Installed-Size: 42
Pre-Depends: libc6 (>= 2.36)
Depends: bar | baz (>= 2), qux:any
Provides: foo-abi (= 3), virt
Breaks: old (<< 1)
Filename: pool/main/f/foo/foo_1.2-1+b1_amd64.deb
Size: 1234
SHA256: e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
Description: the foo library
 It does foo.
X-Custom: kept

Package: bar
Version: 2.0
Architecture: all
";

#[test]
fn typed_fields() {
    let all = parse_all(TWO).unwrap();
    assert_eq!(all.len(), 2);
    let p = &all[0];
    assert_eq!(p.name, "foo");
    assert_eq!(
        (
            p.version.epoch(),
            p.version.upstream(),
            p.version.revision()
        ),
        (1, "1.2", "1+b1")
    );
    assert_eq!(p.architecture, "amd64");
    assert_eq!(p.multi_arch, MultiArch::Same);
    assert!(p.essential && p.protected);
    assert_eq!(p.priority, Some(Priority::Required));
    assert_eq!(p.section, Some("libs"));
    assert_eq!(p.source, "foo-src");
    assert_eq!(p.source_version.unwrap().as_str(), "1.2-1");
    assert_eq!(p.installed_size, Some(42));
    assert_eq!(p.pre_depends().to_string(), "libc6 (>= 2.36)");
    assert_eq!(p.depends().groups().count(), 2);
    assert_eq!(p.provides().len(), 2);
    assert_eq!(p.breaks().to_string(), "old (<< 1)");
    assert!(p.conflicts().is_empty());
    assert_eq!(p.size, Some(1234));
    assert_eq!(p.filename, Some("pool/main/f/foo/foo_1.2-1+b1_amd64.deb"));
    assert_eq!(
        p.sha256.unwrap().to_string(),
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    );
    assert_eq!(p.synopsis(), Some("the foo library"));
    assert_eq!(p.field("x-custom"), Some("kept"));
    assert_eq!(p.line, 1);
    assert!(p.raw.starts_with("Package: foo\n") && p.raw.ends_with("X-Custom: kept"));
    let b = &all[1];
    assert_eq!(
        (b.source, b.multi_arch, b.essential, b.line),
        ("bar", MultiArch::No, false, 22)
    );
}

#[test]
fn errors_name_line_and_package() {
    let e = parse_all("Package: a\nVersion: 1\nArchitecture: all\n\nPackage: b\nVersion: 1\nArchitecture: all\nDepends: c (>= )\n").unwrap_err();
    assert_eq!(e.line, 8);
    assert_eq!(e.package.as_deref(), Some("b"));
    assert!(matches!(e.kind, PackageErrorKind::BadRelation(_)));
    assert_eq!(e.to_string(), "line 8 (package b): invalid relationship");
    let e = parse_all("Package: a\nArchitecture: all\n").unwrap_err();
    assert!(matches!(e.kind, PackageErrorKind::Missing("Version")));
    let e = parse_all("Package: a\nVersion: :1\nArchitecture: all\n").unwrap_err();
    assert!(matches!(e.kind, PackageErrorKind::BadVersion { .. }));
    let e = parse_all("Package: a\nVersion: 1\nArchitecture: all\nSize: lots\n").unwrap_err();
    assert!(matches!(
        e.kind,
        PackageErrorKind::BadNumber { field: "Size", .. }
    ));
    let e = parse_all("Package: a\nVersion: 1\nArchitecture: all\nMulti-Arch: sometimes\n")
        .unwrap_err();
    assert!(matches!(
        e.kind,
        PackageErrorKind::BadValue {
            field: "Multi-Arch",
            ..
        }
    ));
    let e = parse_all("Package: a\nPackage: b\n").unwrap_err();
    assert!(matches!(e.kind, PackageErrorKind::Duplicate("Package")));
    assert_eq!(e.line, 2);
    let e = parse_all("Package: a b\nVersion: 1\nArchitecture: all\n").unwrap_err();
    assert!(matches!(e.kind, PackageErrorKind::BadName(_)));
}

/// An index of `n` stanzas, some with continuation lines and extra empty
/// lines between them.
fn index_of(n: usize) -> String {
    let mut s = String::new();
    for i in 0..n {
        s.push_str(&format!(
            "Package: p{i}\nVersion: 1.{i}\nArchitecture: all\nDepends: p{}\nDescription: x\n more\n .\n end\n\n",
            i + 1
        ));
        if i % 7 == 0 {
            s.push('\n');
        }
    }
    s
}

#[test]
fn an_index_in_pieces_is_the_index_in_one() {
    let text = index_of(100);
    let whole = parse_all(&text).unwrap();
    for pieces in [1, 2, 3, 8, 200] {
        let mut got = Vec::new();
        parse_pieces(text.as_bytes(), pieces, |p| got.push(p)).unwrap();
        assert_eq!(got.len(), whole.len(), "{pieces} pieces");
        for (a, b) in got.iter().zip(&whole) {
            assert_eq!((a.name, a.line, a.raw), (b.name, b.line, b.raw));
            assert_eq!(a.depends().to_string(), b.depends().to_string());
        }
    }
    let bounds = piece_bounds(text.as_bytes(), 3, true);
    assert_eq!(bounds.len(), 4, "{bounds:?}");
    assert!(bounds[1..3].iter().all(|&b| text[..b].ends_with("\n\n")));
}

#[test]
fn an_error_in_a_later_piece_has_its_line_in_the_whole_index() {
    let mut text = index_of(60);
    // In p50's stanza, in the last of three pieces.
    let at = text.find("\nVersion: 1.50\n").unwrap() + 1;
    assert!(at > piece_bounds(text.as_bytes(), 3, true)[2]);
    let line = text[..at].matches('\n').count() as u32 + 1;
    text.insert_str(at, "no colon here\n");
    let whole = parse_all(&text).unwrap_err();
    let mut handed = 0;
    let err = parse_pieces(text.as_bytes(), 3, |_| handed += 1).unwrap_err();
    assert_eq!((err.line, err.package.clone()), (whole.line, whole.package));
    assert_eq!((err.line, err.package.as_deref()), (line, Some("p50")));
    // Only records before the bad one were handed over.
    assert!(handed <= 50, "{handed}");

    // Invalid UTF-8 in the second piece: its line and column in the whole.
    let mut bytes = index_of(60).into_bytes();
    let at = bytes.len() / 2 + 10;
    bytes[at] = 0xff;
    let (line, column) = deb822::position(&bytes, at);
    let err = parse_pieces(&bytes, 2, |_| {}).unwrap_err();
    assert_eq!(err.line, line);
    match err.kind {
        PackageErrorKind::Syntax(e) => assert_eq!((e.line, e.column), (line, column)),
        other => panic!("{other:?}"),
    }
}

#[test]
fn relation_names_skip_versions_restrictions_and_empty_groups() {
    let text = "Package: p\nVersion: 1\nArchitecture: amd64\n\
                Depends: , a:any (>= 1:2|3), b [!amd64 !i386] <!nocheck> <cross> | c:native,\n \
                d-e.f+g (<< 2) ,\n";
    let p = parse_control(text).unwrap();
    let names: Vec<_> = p.relation_names(FieldKind::Depends).collect();
    let parsed: Vec<_> = p
        .depends()
        .iter()
        .map(|r| (r.name, r.arch_qualifier))
        .collect();
    assert_eq!(names, parsed);
    assert_eq!(
        names,
        [
            ("a", Some("any")),
            ("b", None),
            ("c", Some("native")),
            ("d-e.f+g", None)
        ]
    );
    assert_eq!(p.relation_names(FieldKind::Breaks).count(), 0);
}
