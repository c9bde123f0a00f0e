use super::*;

fn filters(rules: &[(Action, &str)]) -> PathFilters {
    let mut f = PathFilters::new();
    for (a, p) in rules {
        f.push(*a, p).unwrap();
    }
    f
}

fn docs() -> PathFilters {
    let mut f = PathFilters::new();
    f.push_preset(Preset::Docs);
    f
}

#[test]
fn star_and_question_mark_match_slashes_and_dots() {
    assert!(fnmatch("/usr/*/READ*", "/usr/share/doc/package/README"));
    assert!(fnmatch("/usr/share/doc/*", "/usr/share/doc/a/b/c"));
    assert!(fnmatch("/usr/share/doc/*", "/usr/share/doc/.hidden"));
    assert!(fnmatch("/usr?share", "/usr/share"));
    assert!(fnmatch("*", ""));
    assert!(!fnmatch("/usr/share/doc/*", "/usr/share/doc"));
    assert!(fnmatch("/a/**/b", "/a//b"));
    assert!(!fnmatch("/a/**/b", "/a/b"), "no recursive ** in fnmatch");
    assert!(fnmatch("/x/{a,b}", "/x/{a,b}"), "braces are literal");
    assert!(!fnmatch("/x/{a,b}", "/x/a"));
}

#[test]
fn brackets_escapes_and_classes() {
    assert!(fnmatch(
        "/usr/share/man/man[1-9]/*",
        "/usr/share/man/man8/x.8.gz"
    ));
    assert!(!fnmatch(
        "/usr/share/man/man[1-9]/*",
        "/usr/share/man/mans/x"
    ));
    assert!(fnmatch("/[!a]", "/b") && !fnmatch("/[!a]", "/a"));
    assert!(fnmatch("/[^a]", "/b") && !fnmatch("/[^a]", "/a"));
    assert!(fnmatch("/[]]", "/]") && fnmatch("/[!]]", "/x") && !fnmatch("/[!]]", "/]"));
    assert!(fnmatch("/[a-]", "/-"));
    assert!(
        fnmatch("/a[/]b", "/a/b"),
        "a bracket matches '/' without flags"
    );
    assert!(fnmatch("/\\*", "/*") && !fnmatch("/\\*", "/x"));
    assert!(fnmatch("/[\\]]", "/]"));
    assert!(fnmatch("/[[:digit:]x]", "/7") && fnmatch("/[[:digit:]x]", "/x"));
    assert!(!fnmatch("/[[:upper:]]", "/a"));
    assert!(fnmatch("/é?", "/éü"), "characters, not bytes");
}

/// The matcher agrees with the C library's `fnmatch(3)` (no flags, the
/// C locale a test process runs in) on a set of patterns and paths.
#[test]
fn agrees_with_the_c_library() {
    let patterns = [
        "/usr/share/doc/*",
        "/usr/share/doc/*/copyright",
        "/usr/*/READ*",
        "*/copyright",
        "*",
        "?",
        "/usr/share/man/man[1-9]/*",
        "/usr/share/locale/*/LC_MESSAGES/*.mo",
        "/[!u]*",
        "/[^u]*",
        "/usr/lib/locale/C.utf8/*",
        "/a/**/b",
        "/x/{a,b}",
        "/\\*",
        "/[]a]*",
        "/[a-c-]",
        "/[[:alpha:]][[:digit:]]",
        "/usr/share/doc/*.gz",
        "*.[ch]",
        "/usr/share/i18n/locales/C",
    ];
    let names = [
        "",
        "/",
        "/usr",
        "/usr/share/doc",
        "/usr/share/doc/",
        "/usr/share/doc/dpkg",
        "/usr/share/doc/dpkg/copyright",
        "/usr/share/doc/dpkg/changelog.Debian.gz",
        "/usr/share/doc/package/README",
        "/usr/share/man/man1/ls.1.gz",
        "/usr/share/man/de/man1/ls.1.gz",
        "/usr/share/locale/de/LC_MESSAGES/dpkg.mo",
        "/usr/lib/locale/C.utf8/LC_CTYPE",
        "/a//b",
        "/a/b",
        "/a/x/y/b",
        "/x/{a,b}",
        "/x/a",
        "/*",
        "/]",
        "/-",
        "/b",
        "/a7",
        "/src/x.c",
        "/usr/share/i18n/locales/C",
        "/etc/.hidden",
    ];
    for p in patterns {
        check(p).unwrap();
        let cp = std::ffi::CString::new(p).unwrap();
        for n in names {
            let cn = std::ffi::CString::new(n).unwrap();
            // SAFETY: both are NUL-terminated strings that outlive the call.
            let c = unsafe { libc::fnmatch(cp.as_ptr(), cn.as_ptr(), 0) } == 0;
            assert_eq!(fnmatch(p, n), c, "fnmatch({p:?}, {n:?})");
        }
    }
}

#[test]
fn the_last_matching_rule_decides() {
    use Action::{Exclude as E, Include as I};
    let f = filters(&[(E, "/usr/share/doc/*"), (I, "/usr/share/doc/*/copyright")]);
    assert!(f.skips("/usr/share/doc/dpkg/README", false));
    assert!(!f.skips("/usr/share/doc/dpkg/copyright", false));
    assert!(!f.skips("/usr/bin/dpkg", false));
    // The other order: the exclude comes last and wins.
    let f = filters(&[(I, "/usr/share/doc/*/copyright"), (E, "/usr/share/doc/*")]);
    assert!(f.skips("/usr/share/doc/dpkg/copyright", false));
    // An include re-opens what an earlier exclude took, and a later
    // exclude takes it again.
    let f = filters(&[
        (E, "/usr/share/doc/*"),
        (I, "/usr/share/doc/dpkg/*"),
        (E, "/usr/share/doc/dpkg/*.gz"),
    ]);
    assert!(!f.skips("/usr/share/doc/dpkg/README", false));
    assert!(f.skips("/usr/share/doc/dpkg/changelog.gz", false));
    assert!(f.skips("/usr/share/doc/apt/README", false));
    // An include alone changes nothing.
    assert!(!filters(&[(I, "/usr/*")]).skips("/usr/bin", true));
    assert!(!PathFilters::new().skips("/usr/share/doc/x", false));
}

#[test]
fn an_include_below_keeps_directories_and_symlinks() {
    let f = docs();
    // The package directories stay for the copyright files; so do the
    // symlinks a package ships in their place.
    assert!(!f.skips("/usr/share/doc/dpkg", true));
    assert!(!f.skips("/usr/share/doc/libfoo1", true));
    // Files and deeper directories too: dpkg compares the include's
    // literal prefix only ("/usr/share/doc").
    assert!(!f.skips("/usr/share/doc/dpkg/examples", true));
    assert!(f.skips("/usr/share/doc/dpkg/examples/x", false));
    // The info pages have no include: their directories go too.
    assert!(f.skips("/usr/share/info/dir", false));
    assert!(f.skips("/usr/share/info/sub", true));
    // An include starting with a wildcard keeps every excluded directory.
    use Action::{Exclude as E, Include as I};
    let f = filters(&[(E, "/opt/*"), (I, "*/keep")]);
    assert!(!f.skips("/opt/a", true));
    assert!(f.skips("/opt/a/file", false));
    // Trailing slashes of the prefix do not count.
    let f = filters(&[(E, "/opt/*"), (I, "/opt/a/")]);
    assert!(!f.skips("/opt/a", true));
    // The prefix is text: /opt/ab shares it with /opt/a.
    assert!(!f.skips("/opt/ab", true));
    assert!(f.skips("/opt/b", true));
}

#[test]
fn presets() {
    for p in Preset::ALL {
        assert_eq!(Preset::from_name(p.name()), Some(p));
        for r in p.rules() {
            check(&r.pattern).unwrap();
        }
    }
    assert_eq!(Preset::from_name("doc"), None);
    let mut f = PathFilters::new();
    f.push_preset(Preset::Man);
    assert!(f.skips("/usr/share/man/man1/ls.1.gz", false));
    assert!(f.skips("/usr/share/man/man1", true));
    assert!(!f.skips("/usr/share/man", true));
    let mut f = PathFilters::new();
    f.push_preset(Preset::Locales);
    assert!(f.skips("/usr/share/locale/de/LC_MESSAGES/apt.mo", false));
    assert!(!f.skips("/usr/share/locale/locale.alias", false));
    assert!(f.skips("/usr/share/i18n/locales/de_DE", false));
    assert!(!f.skips("/usr/share/i18n/locales/C", false));
    assert!(!f.skips("/usr/lib/locale/C.utf8", true));
    assert!(!f.skips("/usr/lib/locale/C.utf8/LC_CTYPE", false));
    assert!(f.skips("/usr/lib/locale/de_DE.utf8/LC_CTYPE", false));
}

#[test]
fn refused_patterns() {
    let problem = |p: &str| check(p).unwrap_err().problem;
    assert_eq!(problem(""), PatternProblem::Empty);
    assert_eq!(problem("usr/share/doc/*"), PatternProblem::NotAbsolute);
    assert_eq!(problem("\\/usr"), PatternProblem::NotAbsolute);
    assert_eq!(problem("/usr\n/x"), PatternProblem::Control);
    assert_eq!(problem("/usr/share/doc/* "), PatternProblem::Space);
    assert_eq!(problem("/usr/x\\"), PatternProblem::TrailingBackslash);
    assert_eq!(problem("/usr/[ab"), PatternProblem::Unterminated(5));
    assert_eq!(problem("/[]"), PatternProblem::Unterminated(1));
    assert_eq!(problem("/[[.a.]]"), PatternProblem::Collating);
    assert_eq!(problem("/[[=a=]]"), PatternProblem::Collating);
    assert_eq!(
        problem("/[[:letter:]]"),
        PatternProblem::UnknownClass("letter".into())
    );
    assert_eq!(
        problem(&format!("/{}", "a".repeat(MAX_PATTERN))),
        PatternProblem::TooLong
    );
    let e = PathFilters::new().push(Action::Exclude, "doc").unwrap_err();
    assert!(e.to_string().contains("\"doc\""), "{e}");
    assert!(
        !fnmatch("/[ab", "/[ab"),
        "a refused pattern matches nothing"
    );
}

#[test]
fn dpkg_configuration() {
    use Action::{Exclude as E, Include as I};
    let f = filters(&[(E, "/usr/share/doc/*"), (I, "/usr/share/doc/*/copyright")]);
    let text = f.dpkg_config();
    let lines: Vec<&str> = text.lines().filter(|l| !l.starts_with('#')).collect();
    assert_eq!(
        lines,
        [
            "path-exclude=/usr/share/doc/*",
            "path-include=/usr/share/doc/*/copyright"
        ]
    );
    // dpkg reads only names of letters, digits, '-' and '_'.
    let name = CONFIG_PATH.rsplit('/').next().unwrap();
    assert!(name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
}
