//! The pure-Rust verification backend, on rpgp (the `pgp` crate).
//!
//! rpgp checks the cryptography; which keys and signatures are acceptable is
//! decided here (see the module documentation of [`super`]). Only
//! self-signatures count for a key's validity: third-party certifications
//! are ignored, as they say nothing about the archive.

use pgp::composed::{Deserializable, DetachedSignature, SignedPublicKey, SignedPublicSubKey};
use pgp::crypto::hash::HashAlgorithm;
use pgp::crypto::public_key::PublicKeyAlgorithm;
use pgp::packet::{Signature, SignatureType};
use pgp::ser::Serialize;
use pgp::types::{KeyDetails, PublicParams};

use super::keyring::hex_upper;
use super::{Keyring, Problem, Rejected, Verified, Verifier, VerifyError};
use crate::release::clearsign;

/// Verifies with rpgp against a keyring.
pub struct PgpVerifier {
    keyring: Keyring,
    now: Option<i64>,
}

impl PgpVerifier {
    /// A verifier trusting the keys of `keyring`.
    pub fn new(keyring: Keyring) -> Self {
        PgpVerifier { keyring, now: None }
    }

    /// Judge expiry at this time (Unix seconds) instead of the clock's.
    pub fn at_time(mut self, now: i64) -> Self {
        self.now = Some(now);
        self
    }

    fn now(&self) -> i64 {
        self.now.unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs() as i64)
        })
    }

    /// Check every signature; the first good one wins, else all problems.
    fn check_all(&self, signatures: &[Signature], data: &[u8]) -> Result<Verified, VerifyError> {
        if signatures.is_empty() {
            return Err(VerifyError::NoSignature);
        }
        let mut rejected = Vec::new();
        for sig in signatures {
            match self.check(sig, data) {
                Ok(v) => return Ok(v),
                Err(problem) => rejected.push(Rejected {
                    issuer: issuer_name(sig),
                    problem,
                }),
            }
        }
        Err(VerifyError::NoValidSignature(rejected))
    }

    fn check(&self, sig: &Signature, data: &[u8]) -> Result<Verified, Problem> {
        let now = self.now();
        let created = sig
            .created()
            .map(|t| t.as_secs() as i64)
            .ok_or_else(|| Problem::Unreadable("no creation time".into()))?;
        let mut last = Problem::UnknownKey;
        for primary in &self.keyring.keys {
            let candidates = signing_candidates(primary, sig);
            for cand in candidates {
                let result = match cand {
                    Candidate::Primary => self.check_with(sig, data, primary, None, created, now),
                    Candidate::Subkey(sub) => {
                        self.check_with(sig, data, primary, Some(sub), created, now)
                    }
                };
                match result {
                    Ok(v) => return Ok(v),
                    Err(p) => last = p,
                }
            }
        }
        Err(last)
    }

    fn check_with(
        &self,
        sig: &Signature,
        data: &[u8],
        primary: &SignedPublicKey,
        sub: Option<&SignedPublicSubKey>,
        created: i64,
        now: i64,
    ) -> Result<Verified, Problem> {
        // The digest is named in the packet: refuse a weak one before the
        // cryptography (rpgp would only say "invalid").
        if let Some(h) = sig.hash_alg() {
            if matches!(
                h,
                HashAlgorithm::Md5 | HashAlgorithm::Sha1 | HashAlgorithm::Ripemd160
            ) {
                return Err(Problem::Weak(format!("digest {h:?}")));
            }
        }
        let ok = match sub {
            Some(s) => sig.verify(&s.key, data),
            None => sig.verify(&primary.primary_key, data),
        };
        ok.map_err(|_| Problem::BadSignature)?;
        let primary_expiry = primary_validity(primary)?;
        strong_enough(&primary.primary_key)?;
        let mut expiry = primary_expiry;
        match sub {
            Some(s) => {
                strong_enough(&s.key)?;
                let (sub_expiry, can_sign) = subkey_validity(primary, s)?;
                if !can_sign {
                    return Err(Problem::NotSigningKey);
                }
                expiry = min_expiry(expiry, sub_expiry);
            }
            None => {
                if !primary_can_sign(primary) {
                    return Err(Problem::NotSigningKey);
                }
            }
        }
        if let Some(t) = expiry {
            if now >= t || created >= t {
                return Err(Problem::Expired(t));
            }
        }
        let signing = match sub {
            Some(s) => hex_upper(s.key.fingerprint().as_bytes()),
            None => hex_upper(primary.primary_key.fingerprint().as_bytes()),
        };
        Ok(Verified {
            signer: hex_upper(primary.primary_key.fingerprint().as_bytes()),
            signing_key: signing,
            created,
        })
    }
}

enum Candidate<'k> {
    Primary,
    Subkey(&'k SignedPublicSubKey),
}

/// The keys of `primary` that the signature names as its issuer.
fn signing_candidates<'k>(primary: &'k SignedPublicKey, sig: &Signature) -> Vec<Candidate<'k>> {
    let fprs = sig.issuer_fingerprint();
    let ids = sig.issuer_key_id();
    let named = |k: &dyn KeyDetails| {
        fprs.iter().any(|f| **f == k.fingerprint()) || ids.iter().any(|i| **i == k.legacy_key_id())
    };
    let mut out = Vec::new();
    if named(&primary.primary_key) {
        out.push(Candidate::Primary);
    }
    for s in &primary.public_subkeys {
        if named(&s.key) {
            out.push(Candidate::Subkey(s));
        }
    }
    out
}

fn issuer_name(sig: &Signature) -> String {
    if let Some(f) = sig.issuer_fingerprint().first() {
        return hex_upper(f.as_bytes());
    }
    match sig.issuer_key_id().first() {
        Some(id) => hex_upper(id.as_ref()),
        None => "an unnamed key".into(),
    }
}

fn is_self_issued(sig: &Signature, key: &impl KeyDetails) -> bool {
    let fprs = sig.issuer_fingerprint();
    let ids = sig.issuer_key_id();
    (fprs.is_empty() && ids.is_empty())
        || fprs.iter().any(|f| **f == key.fingerprint())
        || ids.iter().any(|i| **i == key.legacy_key_id())
}

fn created_secs(sig: &Signature) -> i64 {
    sig.created().map_or(0, |t| t.as_secs() as i64)
}

/// Expiry (absolute) from a key's creation time and a self-signature.
fn expiry_of(key: &impl KeyDetails, sig: &Signature) -> Option<i64> {
    sig.key_expiration_time()
        .map(|d| d.as_secs())
        .filter(|&d| d != 0)
        .map(|d| key.created_at().as_secs() as i64 + d as i64)
}

fn min_expiry(a: Option<i64>, b: Option<i64>) -> Option<i64> {
    match (a, b) {
        (Some(x), Some(y)) => Some(x.min(y)),
        (x, None) => x,
        (None, y) => y,
    }
}

/// Check the primary key: not revoked, a valid self-signature (the newest
/// one decides the expiry). Returns its expiry.
fn primary_validity(k: &SignedPublicKey) -> Result<Option<i64>, Problem> {
    let pk = &k.primary_key;
    for rev in &k.details.revocation_signatures {
        if rev.verify_key(pk).is_ok() {
            return Err(Problem::Revoked);
        }
    }
    let mut newest: Option<&Signature> = None;
    let self_sigs = k
        .details
        .users
        .iter()
        .flat_map(|u| {
            u.signatures
                .iter()
                .filter(|s| is_self_issued(s, pk))
                .filter(move |s| {
                    s.verify_certification(pk, pgp::types::Tag::UserId, &u.id)
                        .is_ok()
                })
        })
        .chain(
            k.details
                .direct_signatures
                .iter()
                .filter(|s| is_self_issued(s, pk) && s.verify_key(pk).is_ok()),
        );
    for s in self_sigs {
        if newest.is_none_or(|n| created_secs(s) > created_secs(n)) {
            newest = Some(s);
        }
    }
    let newest = newest.ok_or_else(|| Problem::InvalidKey("no valid self-signature".into()))?;
    Ok(expiry_of(pk, newest))
}

fn primary_can_sign(k: &SignedPublicKey) -> bool {
    let pk = &k.primary_key;
    let sigs: Vec<&Signature> = k
        .details
        .users
        .iter()
        .flat_map(|u| u.signatures.iter())
        .chain(k.details.direct_signatures.iter())
        .filter(|s| is_self_issued(s, pk))
        .collect();
    // Without key flags a v4 key's usage is open; with flags, it must say sign.
    sigs.iter().any(|s| s.key_flags().sign())
        || sigs.iter().all(|s| {
            s.config().is_some_and(|c| {
                !c.hashed_subpackets
                    .iter()
                    .any(|p| matches!(p.data, pgp::packet::SubpacketData::KeyFlags(_)))
            })
        })
}

/// Check a subkey's binding (with its back-signature for signing keys) and
/// revocations. Returns its expiry and whether it may sign.
fn subkey_validity(
    k: &SignedPublicKey,
    s: &SignedPublicSubKey,
) -> Result<(Option<i64>, bool), Problem> {
    let pk = &k.primary_key;
    let mut newest: Option<&Signature> = None;
    for sig in &s.signatures {
        match sig.typ() {
            Some(SignatureType::SubkeyRevocation)
                if sig.verify_subkey_binding(pk, &s.key).is_ok()
                    || sig.verify_key_third_party(&s.key, pk).is_ok() =>
            {
                return Err(Problem::Revoked);
            }
            Some(SignatureType::SubkeyBinding) => {
                if sig.verify_subkey_binding(pk, &s.key).is_err() {
                    continue;
                }
                if sig.key_flags().sign() {
                    let back_ok = sig
                        .embedded_signature()
                        .is_some_and(|b| b.verify_primary_key_binding(&s.key, pk).is_ok());
                    if !back_ok {
                        continue;
                    }
                }
                if newest.is_none_or(|n| created_secs(sig) > created_secs(n)) {
                    newest = Some(sig);
                }
            }
            _ => {}
        }
    }
    let newest = newest
        .ok_or_else(|| Problem::InvalidKey("subkey has no valid binding signature".into()))?;
    Ok((expiry_of(&s.key, newest), newest.key_flags().sign()))
}

/// Refuse RSA, DSA and ElGamal keys under 2048 bits.
fn strong_enough(key: &impl KeyDetails) -> Result<(), Problem> {
    let alg = key.algorithm();
    let modulus_bits = |p: &PublicParams| -> Option<u32> {
        // The first MPI (RSA n, DSA p, ElGamal p) starts with its bit count.
        let bytes = p.to_bytes().ok()?;
        Some(u16::from_be_bytes([*bytes.first()?, *bytes.get(1)?]) as u32)
    };
    match alg {
        PublicKeyAlgorithm::RSA
        | PublicKeyAlgorithm::RSASign
        | PublicKeyAlgorithm::RSAEncrypt
        | PublicKeyAlgorithm::DSA
        | PublicKeyAlgorithm::Elgamal
        | PublicKeyAlgorithm::ElgamalEncrypt => match modulus_bits(key.public_params()) {
            Some(bits) if bits >= 2048 => Ok(()),
            Some(bits) => Err(Problem::Weak(format!("{alg:?} key of {bits} bits"))),
            None => Err(Problem::Weak(format!("{alg:?} key of unknown size"))),
        },
        _ => Ok(()),
    }
}

impl Verifier for PgpVerifier {
    fn verify_clearsigned(&self, document: &str) -> Result<(Verified, String), VerifyError> {
        let parts = clearsign::split(document).map_err(VerifyError::NotClearSigned)?;
        let sigs = parse_signatures(parts.signature.as_bytes())?;
        let v = self.check_all(&sigs, &parts.signed_data())?;
        Ok((v, parts.text.into_owned()))
    }

    fn verify_detached(&self, data: &[u8], signature: &[u8]) -> Result<Verified, VerifyError> {
        let sigs = parse_signatures(signature)?;
        // Text-mode signatures are over CR LF line ends; binary ones over
        // the bytes as they are.
        let text_mode = sigs.iter().any(|s| s.typ() == Some(SignatureType::Text));
        if text_mode {
            let canon = canonical_text(data);
            let (text, bin): (Vec<_>, Vec<_>) = sigs
                .into_iter()
                .partition(|s| s.typ() == Some(SignatureType::Text));
            return self.check_all(&text, &canon).or_else(|e| {
                if bin.is_empty() {
                    Err(e)
                } else {
                    self.check_all(&bin, data)
                }
            });
        }
        self.check_all(&sigs, data)
    }
}

fn canonical_text(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() + data.len() / 32);
    for (i, line) in data.split(|&b| b == b'\n').enumerate() {
        if i > 0 {
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(line.strip_suffix(b"\r").unwrap_or(line));
    }
    out
}

/// Parse an armored or binary signature block into its signatures.
fn parse_signatures(block: &[u8]) -> Result<Vec<Signature>, VerifyError> {
    let unreadable = |e: pgp::errors::Error| {
        VerifyError::NoValidSignature(vec![Rejected {
            issuer: "an unknown key".into(),
            problem: Problem::Unreadable(e.to_string()),
        }])
    };
    let armored = block
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .is_some_and(|i| block[i..].starts_with(b"-----BEGIN PGP"));
    let sigs: Vec<DetachedSignature> = if armored {
        let (it, _) = DetachedSignature::from_armor_many(block).map_err(unreadable)?;
        it.collect::<Result<_, _>>().map_err(unreadable)?
    } else {
        DetachedSignature::from_bytes_many(block)
            .map_err(unreadable)?
            .collect::<Result<_, _>>()
            .map_err(unreadable)?
    };
    Ok(sigs.into_iter().map(|d| d.signature).collect())
}
