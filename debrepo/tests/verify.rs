//! Signature verification: the real trixie InRelease with the shipped
//! Debian keyring, and keys made at test time by GnuPG for every way a
//! signature must be refused.

use std::path::PathBuf;

use debrepo::verify::{load_keyring, Keyring, PgpVerifier, Problem, Verifier, VerifyError};
use testkit::gpg::{self, Gpg};

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
    let v = PgpVerifier::new(keyring);
    let doc = inrelease();
    let (good, text) = v.verify_clearsigned(&doc).unwrap();
    assert!(fprs.contains(&good.signer), "{good:?}");
    assert!(text.starts_with("Origin: Debian\n"));
    assert!(good.created > 1_750_000_000);

    // One changed byte in the signed text: every signature fails.
    let tampered = doc.replacen("Codename: trixie", "Codename: trixiE", 1);
    let p = problems(v.verify_clearsigned(&tampered).unwrap_err());
    assert_eq!(p, vec![Problem::BadSignature; 3]);
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
    // In 2036 every Debian key in the keyring has expired.
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

fn verifier(g: &Gpg, fprs: &[&str], armor: bool) -> PgpVerifier {
    PgpVerifier::new(Keyring::from_bytes(&g.export(fprs, armor), "test keyring").unwrap())
}

#[test]
fn gpg_made_signatures_verify_ed25519_and_rsa() {
    if !gpg::available() {
        eprintln!("gpg not found: skipping");
        return;
    }
    let g = Gpg::new();
    for algo in ["ed25519", "rsa2048"] {
        let fpr = g.key(&format!("Archive {algo}"), algo, "0", None);
        for armor in [false, true] {
            let v = verifier(&g, &[&fpr], armor);
            let doc = g.clearsign(&fpr, RELEASE, &[]);
            let (good, text) = v
                .verify_clearsigned(&doc)
                .unwrap_or_else(|e| panic!("{algo}: {e}"));
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
    if !gpg::available() {
        eprintln!("gpg not found: skipping");
        return;
    }
    let g = Gpg::new();
    let trusted = g.key("Trusted", "ed25519", "0", None);
    let other = g.key("Other", "ed25519", "0", None);
    let v = verifier(&g, &[&trusted], false);

    // A key that is not in the keyring.
    let doc = g.clearsign(&other, RELEASE, &[]);
    assert_eq!(
        problems(v.verify_clearsigned(&doc).unwrap_err()),
        vec![Problem::UnknownKey]
    );

    // A key made in 2020 that expired a day later; signed while still valid.
    let old = g.key("Expired", "ed25519", "1d", Some("20200101T000000"));
    let doc = g.clearsign(&old, RELEASE, &["--faked-system-time", "20200101T120000!"]);
    let v_old = verifier(&g, &[&old], false);
    let e = v_old.verify_clearsigned(&doc).unwrap_err();
    assert!(e.to_string().contains("expired"), "{e}");
    assert!(matches!(problems(e)[..], [Problem::Expired(_)]));
    // Judged before the expiry the same signature is good: it is the date.
    let noon = 1_577_880_000 + 3600;
    verifier(&g, &[&old], false)
        .at_time(noon)
        .verify_clearsigned(&doc)
        .unwrap();

    // A revoked key.
    let revoked = g.key("Revoked", "ed25519", "0", None);
    let doc = g.clearsign(&revoked, RELEASE, &[]);
    g.revoke(&revoked);
    let e = verifier(&g, &[&revoked], false)
        .verify_clearsigned(&doc)
        .unwrap_err();
    assert_eq!(problems(e), vec![Problem::Revoked]);

    // A revoked signing subkey (the primary key is still good).
    let sub_revoked = g.key("Subkey Revoked", "ed25519", "0", None);
    let doc = g.clearsign(&sub_revoked, RELEASE, &[]);
    g.revoke_subkey(&sub_revoked);
    let e = verifier(&g, &[&sub_revoked], false)
        .verify_clearsigned(&doc)
        .unwrap_err();
    assert_eq!(problems(e), vec![Problem::Revoked]);

    // A SHA-1 signature.
    let doc = g.clearsign(&trusted, RELEASE, &["--digest-algo", "SHA1"]);
    assert!(doc.contains("Hash: SHA1"), "{doc}");
    let p = problems(v.verify_clearsigned(&doc).unwrap_err());
    assert!(
        matches!(&p[..], [Problem::Weak(w)] if w.contains("Sha1")),
        "{p:?}"
    );

    // A 1024-bit RSA key.
    let small = g.key("Small", "rsa1024", "0", None);
    let doc = g.clearsign(&small, RELEASE, &[]);
    let e = verifier(&g, &[&small], false)
        .verify_clearsigned(&doc)
        .unwrap_err();
    let p = problems(e);
    assert!(
        matches!(&p[..], [Problem::Weak(w)] if w.contains("1024")),
        "{p:?}"
    );

    // Two signatures, one by an unknown key: the good one suffices.
    let both = g.clearsign(&other, RELEASE, &["--local-user", &trusted]);
    let (good, _) = v.verify_clearsigned(&both).unwrap();
    assert_eq!(good.signer, trusted);
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
