use super::*;

fn signed(body: &str) -> String {
    format!("-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA512\n\n{body}-----BEGIN PGP SIGNATURE-----\n\niQ==\n=abcd\n-----END PGP SIGNATURE-----\n")
}

const BODY: &str = "Origin: Test\nLabel: Test\nSuite: stable\nCodename: trixie\nVersion: 13.1\nDate: Sat, 12 Sep 2026 07:55:41 UTC\nValid-Until: Sat, 19 Sep 2026 07:55:41 UTC\nAcquire-By-Hash: yes\nNo-Support-for-Architecture-all: Packages\nArchitectures: all amd64 arm64\nComponents: main contrib\nDescription: Test archive\nMD5Sum:\n d41d8cd98f00b204e9800998ecf8427e 0 main/binary-amd64/Packages\n d41d8cd98f00b204e9800998ecf8427e 0 main/binary-arm64/Packages\nSHA256:\n e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855 0 main/binary-amd64/Packages\n";

#[test]
fn fields_and_tables() {
    let doc = signed(BODY);
    let (r, cs) = Release::parse_inrelease(&doc).unwrap();
    assert_eq!(cs.headers, ["Hash: SHA512"]);
    assert_eq!(cs.text, BODY);
    assert!(cs.signature.starts_with("-----BEGIN PGP SIGNATURE-----\n"));
    assert!(cs.signature.ends_with("-----END PGP SIGNATURE-----"));
    assert_eq!(r.origin.as_deref(), Some("Test"));
    assert_eq!(r.suite.as_deref(), Some("stable"));
    assert_eq!(r.codename.as_deref(), Some("trixie"));
    assert_eq!(r.version.as_deref(), Some("13.1"));
    assert_eq!(r.date, Some(1789199741));
    assert_eq!(r.valid_until, Some(1789199741 + 7 * 86400));
    assert!(r.acquire_by_hash);
    assert!(r.no_support_for_architecture_all);
    assert_eq!(r.architectures, ["all", "amd64", "arm64"]);
    assert_eq!(r.components, ["main", "contrib"]);
    let amd64 = r.file("main/binary-amd64/Packages").unwrap();
    assert!(amd64.md5.is_some());
    assert!(matches!(
        amd64.trusted_digest(),
        Some(TrustedDigest::Sha256(_))
    ));
    // Known only by MD5: listed, never trusted.
    let arm64 = r.file("main/binary-arm64/Packages").unwrap();
    assert_eq!(arm64.trusted_digest(), None);
    assert!(!r.has_trusted("main/binary-arm64/Packages"));
}

#[test]
fn dash_escaping_and_signed_data() {
    let doc = signed("A: 1\n- -dash line  \nB: 2\n");
    let cs = clearsign::split(&doc).unwrap();
    assert_eq!(cs.text, "A: 1\n-dash line  \nB: 2\n");
    assert_eq!(cs.signed_data(), b"A: 1\r\n-dash line\r\nB: 2");
}

#[test]
fn clearsign_errors() {
    use ClearSignError::*;
    assert_eq!(clearsign::split("Origin: x\n"), Err(NotClearSigned));
    assert_eq!(
        clearsign::split(&format!("junk\n{}", signed("A: 1\n"))),
        Err(TextBeforeMessage(1))
    );
    assert_eq!(
        clearsign::split(&format!("\n{}", signed("A: 1\n"))).map(|c| c.headers.len()),
        Ok(1)
    );
    assert_eq!(
        clearsign::split(&format!("{}trailing\n", signed("A: 1\n"))),
        Err(TextAfterSignature(10))
    );
    assert_eq!(
        clearsign::split(&signed("-bad: 1\n")),
        Err(NotDashEscaped(4))
    );
    assert_eq!(
        clearsign::split("-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA256\n\nA: 1\n"),
        Err(MissingSignature)
    );
    assert_eq!(
        clearsign::split("-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA256\n\nA: 1\n-----BEGIN PGP SIGNATURE-----\nabc\n"),
        Err(UnterminatedSignature)
    );
    assert_eq!(
        clearsign::split("-----BEGIN PGP SIGNED MESSAGE-----\nbogus\n\nA: 1\n"),
        Err(BadArmorHeader(2))
    );
}

#[test]
fn field_errors() {
    let e = Release::parse("Suite: x\nDate: yesterday\n").unwrap_err();
    assert!(
        matches!(
            e,
            ReleaseError::Field {
                field: "Date",
                line: 2,
                ..
            }
        ),
        "{e:?}"
    );
    let e = Release::parse("SHA256:\n abc 12 main/x\n").unwrap_err();
    assert!(matches!(
        e,
        ReleaseError::Field {
            field: "SHA256",
            ..
        }
    ));
    let e = Release::parse(
        "SHA256:\n e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855 12\n",
    )
    .unwrap_err();
    assert!(matches!(
        e,
        ReleaseError::Field {
            source: FieldError::ChecksumLine(_),
            ..
        }
    ));
    let e = Release::parse("MD5Sum:\n d41d8cd98f00b204e9800998ecf8427e 1 a\nSHA256:\n e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855 2 a\n").unwrap_err();
    assert!(matches!(
        e,
        ReleaseError::Field {
            source: FieldError::SizeMismatch { .. },
            ..
        }
    ));
    assert!(matches!(Release::parse(""), Err(ReleaseError::Empty)));
    assert!(matches!(
        Release::parse("Acquire-By-Hash: maybe\n"),
        Err(ReleaseError::Field { .. })
    ));
}
