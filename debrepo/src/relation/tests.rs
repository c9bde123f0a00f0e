use super::*;

fn deps(t: &str) -> Relations<'_> {
    parse(FieldKind::Depends, t).unwrap()
}

#[test]
fn groups_and_alternatives() {
    let r =
        deps("libc6 (>= 2.36), debconf (>= 0.5) | debconf-2.0,  foo:any ,bar:amd64 (<< 2:1.0~)");
    let groups: Vec<Vec<String>> = r
        .groups()
        .map(|g| g.iter().map(|r| r.to_string()).collect())
        .collect();
    assert_eq!(
        groups,
        [
            vec!["libc6 (>= 2.36)".to_string()],
            vec!["debconf (>= 0.5)".into(), "debconf-2.0".into()],
            vec!["foo:any".into()],
            vec!["bar:amd64 (<< 2:1.0~)".into()],
        ]
    );
    assert_eq!(r.len(), 4);
    let bar = r.iter().last().unwrap();
    assert_eq!(bar.arch_qualifier, Some("amd64"));
    let (op, v) = bar.version.unwrap();
    assert_eq!((op, v.epoch(), v.upstream()), (Op::Lt, 2, "1.0~"));
    assert_eq!(
        r.to_string(),
        "libc6 (>= 2.36), debconf (>= 0.5) | debconf-2.0, foo:any, bar:amd64 (<< 2:1.0~)"
    );
}

#[test]
fn operators() {
    let op = |t: &str| parse_one(FieldKind::Depends, t).unwrap().version.unwrap().0;
    assert_eq!(op("a (<< 1)"), Op::Lt);
    assert_eq!(op("a (<= 1)"), Op::Le);
    assert_eq!(op("a (= 1)"), Op::Eq);
    assert_eq!(op("a (>= 1)"), Op::Ge);
    assert_eq!(op("a (>> 1)"), Op::Gt);
    assert_eq!(op("a (< 1)"), Op::Le, "obsolete < means <=");
    assert_eq!(op("a (> 1)"), Op::Ge, "obsolete > means >=");
    assert_eq!(op("a(>=1)"), Op::Ge);
    assert_eq!(op("a\n (\t>=\n 1 )"), Op::Ge);
    let r = parse_one(FieldKind::Depends, "a (>= 1.0)").unwrap();
    assert!(r.version_matches(&Version::parse("1.0").unwrap()));
    assert!(r.version_matches(&Version::parse("1.0-0").unwrap()));
    assert!(!r.version_matches(&Version::parse("1.0~rc1").unwrap()));
}

#[test]
fn arch_lists_and_profiles() {
    let t = "gcc [amd64 i386] <!nocheck> <stage1 cross>, libfoo-dev [!hurd-any !kfreebsd-any], bar <!nodoc>";
    let r = parse(FieldKind::BuildDepends, t).unwrap();
    let v: Vec<_> = r.iter().collect();
    assert_eq!(v[0].arch_restriction, Some("amd64 i386"));
    assert!(v[0].applies_to_arch("amd64"));
    assert!(!v[0].applies_to_arch("arm64"));
    assert!(v[1].applies_to_arch("amd64"));
    assert!(!v[1].applies_to_arch("hurd-i386"));
    assert!(v[0].applies_to_profiles(&[]));
    assert!(!v[0].applies_to_profiles(&["nocheck"]));
    assert!(v[0].applies_to_profiles(&["nocheck", "stage1", "cross"]));
    assert!(!v[2].applies_to_profiles(&["nodoc"]));
    assert_eq!(r.to_string(), "gcc [amd64 i386] <!nocheck> <stage1 cross>, libfoo-dev [!hurd-any !kfreebsd-any], bar <!nodoc>");
}

#[test]
fn errors_name_field_and_text() {
    let e = parse(FieldKind::Depends, "good, bad (>= ), other").unwrap_err();
    assert_eq!(e.field, "Depends");
    assert_eq!(e.text, "bad (>= )");
    assert_eq!(e.kind, RelationErrorKind::MissingVersion);
    assert_eq!(
        e.to_string(),
        "Depends field: missing version in \"bad (>= )\""
    );
    let k = |f, t| parse(f, t).unwrap_err().kind;
    assert_eq!(
        k(FieldKind::Depends, "a (~= 1)"),
        RelationErrorKind::BadOperator
    );
    assert_eq!(
        k(FieldKind::Depends, "a (>= 1"),
        RelationErrorKind::Unclosed
    );
    assert_eq!(
        k(FieldKind::Depends, "a [amd64"),
        RelationErrorKind::Unclosed
    );
    assert_eq!(
        k(FieldKind::Depends, "a []"),
        RelationErrorKind::EmptyArchList
    );
    assert_eq!(
        k(FieldKind::Depends, "a [amd64 !i386]"),
        RelationErrorKind::MixedArchList
    );
    assert_eq!(k(FieldKind::Depends, "a <>"), RelationErrorKind::BadProfile);
    assert_eq!(
        k(FieldKind::Depends, "a | | b"),
        RelationErrorKind::EmptyAlternative
    );
    assert_eq!(k(FieldKind::Depends, "Ä"), RelationErrorKind::InvalidName);
    assert_eq!(k(FieldKind::Depends, "-a"), RelationErrorKind::InvalidName);
    assert_eq!(
        k(FieldKind::Depends, "a:"),
        RelationErrorKind::InvalidArchQualifier
    );
    assert_eq!(
        k(FieldKind::Depends, "a (>= 1) b"),
        RelationErrorKind::TrailingGarbage
    );
    assert!(matches!(
        k(FieldKind::Depends, "a (>= 1:)"),
        RelationErrorKind::BadVersion(_)
    ));
    assert_eq!(
        k(FieldKind::Conflicts, "a | b"),
        RelationErrorKind::AlternativesNotAllowed
    );
    assert_eq!(
        k(FieldKind::Breaks, "a | b"),
        RelationErrorKind::AlternativesNotAllowed
    );
    assert_eq!(
        k(FieldKind::Provides, "a (>= 1)"),
        RelationErrorKind::OnlyEquals
    );
    assert_eq!(
        k(FieldKind::BuiltUsing, "gcc (>= 1)"),
        RelationErrorKind::OnlyEquals
    );
    let e = parse(FieldKind::Provides, "x (>> 1)").unwrap_err();
    assert_eq!(
        e.to_string(),
        "Provides field: only exact versions ('=') are allowed in this field in \"x (>> 1)\""
    );
}

#[test]
fn provides_and_built_using() {
    let r = parse(
        FieldKind::Provides,
        "mail-transport-agent, libfoo-abi-2 (= 2.1)",
    )
    .unwrap();
    assert_eq!(r.len(), 2);
    assert!(r.iter().next().unwrap().version.is_none());
    parse(
        FieldKind::BuiltUsing,
        "gcc-14 (= 14.2.0-19), rustc (= 1.85.0+dfsg1-1)",
    )
    .unwrap();
}

#[test]
fn empty_and_trailing_comma() {
    assert!(deps("").is_empty());
    assert_eq!(deps("a, b,").len(), 2);
}
