//! Signature verification: the real trixie InRelease with the shipped
//! Debian keyring, and keys made at test time by GnuPG for every way a
//! signature must be refused.

use std::path::PathBuf;

use debrepo::verify::{load_keyring, Keyring, PgpVerifier, Problem, Verifier, VerifyError};
use testkit::gpg::{self, Gpg};

type Make = fn(&Keyring) -> Box<dyn Verifier>;

/// Every backend compiled in: the same tests must pass for each.
fn backends() -> Vec<(&'static str, Make)> {
    vec![
        ("rpgp", |k| Box::new(PgpVerifier::new(k.clone()))),
        #[cfg(feature = "gpgme")]
        ("gpgme", |k| {
            Box::new(debrepo::verify::GpgmeVerifier::new(k).unwrap())
        }),
    ]
}

fn shipped(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("keyrings")
        .join(name)
}

fn inrelease() -> String {
    std::fs::read_to_string(testkit::data_dir().join("trixie/InRelease")).unwrap()
}

fn problems(e: VerifyError) -> Vec<Problem> {
    match e {
        VerifyError::NoValidSignature(r) => r.into_iter().map(|r| r.problem).collect(),
        other => panic!("unexpected error: {other}"),
    }
}

#[test]
fn real_inrelease_verifies_with_shipped_keyring() {
    let keyring = load_keyring(&shipped("debian-archive-keyring.gpg")).unwrap();
    assert_eq!(keyring.len(), 9);
    let fprs = keyring.fingerprints();
    for (name, make) in backends() {
        let v = make(&keyring);
        let doc = inrelease();
        let (good, text) = v
            .verify_clearsigned(&doc)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(fprs.contains(&good.signer), "{name}: {good:?}");
        assert!(text.starts_with("Origin: Debian\n"));
        assert!(good.created > 1_750_000_000);

        // One changed byte in the signed text: every signature fails.
        let tampered = doc.replacen("Codename: trixie", "Codename: trixiE", 1);
        // (GnuPG stops at the first bad signature, rpgp reports all three.)
        let p = problems(v.verify_clearsigned(&tampered).unwrap_err());
        assert!(
            !p.is_empty() && p.iter().all(|p| *p == Problem::BadSignature),
            "{name}: {p:?}"
        );
    }
}

#[test]
fn real_inrelease_fails_with_other_vendors_keys_and_after_expiry() {
    let ubuntu = load_keyring(&shipped("ubuntu-archive-keyring.gpg")).unwrap();
    let e = PgpVerifier::new(ubuntu)
        .verify_clearsigned(&inrelease())
        .unwrap_err();
    assert!(
        e.to_string()
            .starts_with("no valid signature by a trusted key: signature by "),
        "{e}"
    );
    assert_eq!(problems(e), vec![Problem::UnknownKey; 3]);
    // In 2036 every Debian key in the keyring has expired (rpgp can be
    // asked to judge at another time; GnuPG always uses the clock).
    let debian = load_keyring(&shipped("debian-archive-keyring.gpg")).unwrap();
    let e = PgpVerifier::new(debian)
        .at_time(2_082_758_400)
        .verify_clearsigned(&inrelease())
        .unwrap_err();
    assert!(problems(e).iter().all(|p| matches!(p, Problem::Expired(_))));
}

#[test]
fn keyring_errors_name_the_source() {
    let e = Keyring::from_bytes(b"not a key", "inline key in Manifest.toml").unwrap_err();
    assert!(e.to_string().contains("inline key in Manifest.toml"), "{e}");
    let e = load_keyring(std::path::Path::new("/nonexistent/k.gpg")).unwrap_err();
    assert_eq!(e.to_string(), "cannot read keyring file /nonexistent/k.gpg");
}

const RELEASE: &str = "Origin: Test\nSuite: stable\nCodename: test\nDate: Sat, 12 Sep 2026 07:55:41 UTC\nSHA256:\n e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855 0 main/binary-amd64/Packages\n";

fn keyring(g: &Gpg, fprs: &[&str], armor: bool) -> Keyring {
    Keyring::from_bytes(&g.export(fprs, armor), "test keyring").unwrap()
}

fn verifier(g: &Gpg, fprs: &[&str], armor: bool) -> PgpVerifier {
    PgpVerifier::new(keyring(g, fprs, armor))
}

#[test]
fn gpg_made_signatures_verify_ed25519_and_rsa() {
    if !testkit::require(gpg::available(), "gpg") {
        return;
    }
    let g = Gpg::new();
    for algo in ["ed25519", "rsa2048"] {
        let fpr = g.key(&format!("Archive {algo}"), algo, "0", None);
        for (armor, (name, make)) in [false, true]
            .into_iter()
            .flat_map(|a| backends().into_iter().map(move |b| (a, b)))
        {
            let v = make(&keyring(&g, &[&fpr], armor));
            let doc = g.clearsign(&fpr, RELEASE, &[]);
            let (good, text) = v
                .verify_clearsigned(&doc)
                .unwrap_or_else(|e| panic!("{name} {algo}: {e}"));
            assert_eq!(good.signer, fpr);
            assert_ne!(good.signing_key, fpr, "made by the signing subkey");
            assert_eq!(text, RELEASE);
            let sig = g.detach_sign(&fpr, RELEASE.as_bytes(), &[]);
            v.verify_detached(RELEASE.as_bytes(), &sig).unwrap();
            // The detached signature does not cover other bytes.
            let e = v.verify_detached(b"Origin: Evil\n", &sig).unwrap_err();
            assert_eq!(problems(e), vec![Problem::BadSignature]);
        }
    }
}

#[test]
fn untrusted_expired_revoked_and_weak_are_refused() {
    if !testkit::require(gpg::available(), "gpg") {
        return;
    }
    let g = Gpg::new();
    let trusted = g.key("Trusted", "ed25519", "0", None);
    let other = g.key("Other", "ed25519", "0", None);
    let old = g.key("Expired", "ed25519", "1d", Some("20200101T000000"));
    let old_doc = g.clearsign(&old, RELEASE, &["--faked-system-time", "20200101T120000!"]);
    let revoked = g.key("Revoked", "ed25519", "0", None);
    let revoked_doc = g.clearsign(&revoked, RELEASE, &[]);
    g.revoke(&revoked);
    let sub_revoked = g.key("Subkey Revoked", "ed25519", "0", None);
    let sub_revoked_doc = g.clearsign(&sub_revoked, RELEASE, &[]);
    g.revoke_subkey(&sub_revoked);
    let sha1_doc = g.clearsign(&trusted, RELEASE, &["--digest-algo", "SHA1"]);
    assert!(sha1_doc.contains("Hash: SHA1"), "{sha1_doc}");
    let small = g.key("Small", "rsa1024", "0", None);
    let small_doc = g.clearsign(&small, RELEASE, &[]);
    let both = g.clearsign(&other, RELEASE, &["--local-user", &trusted]);
    let untrusted_doc = g.clearsign(&other, RELEASE, &[]);

    for (name, make) in backends() {
        let v = make(&keyring(&g, &[&trusted], false));
        // A key that is not in the keyring.
        assert_eq!(
            problems(v.verify_clearsigned(&untrusted_doc).unwrap_err()),
            vec![Problem::UnknownKey],
            "{name}"
        );
        // A key made in 2020 that expired a day later, signed while valid.
        let e = make(&keyring(&g, &[&old], false))
            .verify_clearsigned(&old_doc)
            .unwrap_err();
        assert!(e.to_string().contains("expired"), "{name}: {e}");
        assert!(matches!(problems(e)[..], [Problem::Expired(_)]), "{name}");
        // A revoked key; a revoked signing subkey.
        let e = make(&keyring(&g, &[&revoked], false))
            .verify_clearsigned(&revoked_doc)
            .unwrap_err();
        assert_eq!(problems(e), vec![Problem::Revoked], "{name}");
        let e = make(&keyring(&g, &[&sub_revoked], false))
            .verify_clearsigned(&sub_revoked_doc)
            .unwrap_err();
        assert_eq!(problems(e), vec![Problem::Revoked], "{name}");
        // A SHA-1 signature.
        let p = problems(v.verify_clearsigned(&sha1_doc).unwrap_err());
        assert!(
            matches!(&p[..], [Problem::Weak(w)] if w.to_lowercase().contains("sha1")),
            "{name}: {p:?}"
        );
        // A 1024-bit RSA key.
        let p = problems(
            make(&keyring(&g, &[&small], false))
                .verify_clearsigned(&small_doc)
                .unwrap_err(),
        );
        assert!(
            matches!(&p[..], [Problem::Weak(w)] if w.contains("1024")),
            "{name}: {p:?}"
        );
        // Two signatures, one by an unknown key: the good one suffices.
        let (good, _) = v.verify_clearsigned(&both).unwrap();
        assert_eq!(good.signer, trusted, "{name}");
    }
    // Judged before the expiry the expired key's signature is good: it is
    // the date that decides (rpgp takes a time to judge at).
    let noon = 1_577_880_000 + 3600;
    verifier(&g, &[&old], false)
        .at_time(noon)
        .verify_clearsigned(&old_doc)
        .unwrap();
}

#[test]
fn malformed_documents() {
    let v = PgpVerifier::new(load_keyring(&shipped("debian-archive-keyring.gpg")).unwrap());
    assert!(matches!(
        v.verify_clearsigned("Origin: x\n"),
        Err(VerifyError::NotClearSigned(_))
    ));
    let doc = "-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA256\n\nA: 1\n-----BEGIN PGP SIGNATURE-----\n\nnot base64 !!\n-----END PGP SIGNATURE-----\n";
    let e = v.verify_clearsigned(doc).unwrap_err();
    assert!(matches!(&problems(e)[..], [Problem::Unreadable(_)]));
}
