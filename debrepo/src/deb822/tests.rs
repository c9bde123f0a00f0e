use super::*;

#[test]
fn fields_continuations_and_case() {
    let text = "Package: foo\nversion:  1.0 \nDescription: short\n long line\n .\n  indented\n\nPackage: bar\n";
    let stanzas = parse(text, Comments::Forbidden).unwrap();
    assert_eq!(stanzas.len(), 2);
    let s = &stanzas[0];
    assert_eq!(s.get("PACKAGE"), Some("foo"));
    assert_eq!(s.get("Version"), Some("1.0"));
    let d = s.field("description").unwrap();
    assert_eq!(d.value, "short\n long line\n .\n  indented");
    assert_eq!(
        d.lines().collect::<Vec<_>>(),
        ["short", "long line", ".", " indented"]
    );
    assert_eq!(d.line, 3);
    assert_eq!(stanzas[1].line(), 8);
    let names: Vec<_> = s.fields().map(|f| f.name).collect();
    assert_eq!(names, ["Package", "version", "Description"]);
}

#[test]
fn empty_first_line_and_folding() {
    let s = parse_one(
        "Conffiles:\n /etc/a 123\n /etc/b 456\nDepends: a,\n b\n",
        Comments::Forbidden,
    )
    .unwrap();
    assert_eq!(s.get("Conffiles"), Some("\n /etc/a 123\n /etc/b 456"));
    assert_eq!(s.field("Depends").unwrap().folded(), "a, b");
    let mut out = String::new();
    s.write(&mut out);
    assert_eq!(
        out,
        "Conffiles:\n /etc/a 123\n /etc/b 456\nDepends: a,\n b\n"
    );
}

#[test]
fn blank_lines_with_spaces_separate() {
    let s = parse("A: 1\n \t\nB: 2\n\n\n", Comments::Forbidden).unwrap();
    assert_eq!(s.len(), 2);
}

#[test]
fn comments() {
    let text = "# head\nSource: x\n# between\nBuild-Depends: a,\n# inside\n b\n";
    assert_eq!(
        parse(text, Comments::Forbidden).unwrap_err(),
        Error {
            line: 1,
            column: 1,
            kind: ErrorKind::CommentNotAllowed
        }
    );
    let s = parse_one(text, Comments::Allowed).unwrap();
    let f = s.field("build-depends").unwrap();
    assert_eq!(f.lines().collect::<Vec<_>>(), ["a,", "b"]);
    assert_eq!(f.folded(), "a, b");
    assert_eq!(s.items().len(), 4);
    let mut out = String::new();
    s.write(&mut out);
    assert_eq!(out, text);
}

#[test]
fn several_comment_lines_inside_a_field() {
    let text = "Build-Depends: a,\n# one\n# two\n b\n# after\nX: y\n";
    let s = parse_one(text, Comments::Allowed).unwrap();
    assert_eq!(s.field("Build-Depends").unwrap().folded(), "a, b");
    assert_eq!(s.get("X"), Some("y"));
    assert!(matches!(s.items()[1], Item::Comment("# after")));
}

#[test]
fn errors_have_positions() {
    let e = |t: &str| parse(t, Comments::Forbidden).unwrap_err();
    assert_eq!(
        (e("A: 1\nnocolon\n").line, e("A: 1\nnocolon\n").kind),
        (2, ErrorKind::MissingColon)
    );
    assert_eq!(e("A: 1\nnocolon\n").column, 8);
    assert_eq!(e(" cont\n").kind, ErrorKind::ContinuationOutsideField);
    assert_eq!(e("A: 1\n\n cont\n").line, 3);
    assert_eq!(e(": x\n").kind, ErrorKind::EmptyFieldName);
    assert_eq!(e("Ba d: x\n").kind, ErrorKind::InvalidFieldName(' '));
    assert_eq!(e("Ba d: x\n").column, 3);
    assert_eq!(e("-A: x\n").kind, ErrorKind::InvalidFieldName('-'));
    assert_eq!(
        e("A: 1\nB: 2\na: 3\n"),
        Error {
            line: 3,
            column: 1,
            kind: ErrorKind::DuplicateField("a".into())
        }
    );
    let bad = b"A: 1\nB: \xff\n";
    let err = Parser::from_bytes(bad, Comments::Forbidden).unwrap_err();
    assert_eq!(
        (err.line, err.column, &err.kind),
        (2, 4, &ErrorKind::InvalidUtf8)
    );
    assert_eq!(err.to_string(), "line 2, column 4: invalid UTF-8");
    assert_eq!(
        parse_one("A: 1\n\nB: 2\n", Comments::Forbidden)
            .unwrap_err()
            .kind,
        ErrorKind::MoreThanOneStanza
    );
}

#[test]
fn no_trailing_newline_and_crlf_values() {
    let s = parse_one("A: 1\nB: two\r", Comments::Forbidden).unwrap();
    assert_eq!(s.get("B"), Some("two"));
    assert!(parse("", Comments::Forbidden).unwrap().is_empty());
    assert!(parse("\n\n", Comments::Forbidden).unwrap().is_empty());
}

#[test]
fn writer_keeps_spacing() {
    let text = "A:  spaced  \nB:tight\nC:\n x \n";
    let s = parse_one(text, Comments::Forbidden).unwrap();
    assert_eq!(s.get("A"), Some("spaced"));
    assert_eq!(s.get("B"), Some("tight"));
    let mut out = String::new();
    s.write(&mut out);
    assert_eq!(out, text);
}

#[test]
fn streaming_reader() {
    let text = "\n\nA: 1\n b\n\n\nA: 2\n";
    let mut r = StanzaReader::new(text.as_bytes());
    let (line, s) = r.next_stanza().unwrap().unwrap();
    assert_eq!((line, s), (3, "A: 1\n b\n"));
    let (line, s) = r.next_stanza().unwrap().unwrap();
    assert_eq!((line, s), (7, "A: 2\n"));
    assert!(r.next_stanza().unwrap().is_none());
}

#[test]
fn event_parser() {
    let mut p = Parser::new("A: 1\n\nB: 2", Comments::Forbidden);
    let mut evs = Vec::new();
    while let Some(e) = p.next_event() {
        evs.push(e.unwrap());
    }
    assert!(matches!(
        evs[0],
        Event::Field(Field {
            name: "A",
            value: "1",
            raw: " 1",
            line: 1
        })
    ));
    assert_eq!(evs[1], Event::EndOfStanza);
    assert!(matches!(evs[2], Event::Field(Field { name: "B", .. })));
    assert_eq!(evs[3], Event::EndOfStanza);
    assert_eq!(evs.len(), 4);
}
